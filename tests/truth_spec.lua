-- The kernel's product Gauss rule (pf.poisson.kernel_rule in the C core), checked against
-- moments of the truncated Gaussian computed here by series, not by the rule.
local pf = require "phaseflow"

local T = 2                          -- the kernel's truncation (|u| <= 2)
local H = {0.5, 0.5, 0.2}            -- its scale lengths, kpc

-- M_n = int_0^T r^n exp(-r^2/2) dr from the Taylor series of exp (alternating, exact
-- to ~1e-15 relative for T = 2 and the n used here).
local function M(n)
  local s, term, m = 0, 1, 0
  repeat
    local t = term * T ^ (n + 2 * m + 1) / (n + 2 * m + 1)
    s = s + t
    m = m + 1
    term = term * (-0.5) / m
  until math.abs(t) < 1e-18 * math.abs(s) and m > 5
  return s
end

-- <u_i^2> under the kernel (one component; the 3-D radius shares it equally)
local function m2() return M(4) / (3 * M(2)) end

local function rel(a, b) return math.abs(a / b - 1) end

describe("pf.poisson.kernel_rule (C: pf_kernel_rule)", function()
  it("places the nodes of a 1 x 2 x 2 rule where Gauss-Legendre and the trapezoid put them", function()
    local r = pf.poisson.kernel_rule{radial = 1, polar = 2, azimuthal = 2}
    assert.are.same({4, 3}, {r.offset:shape()})
    -- r = T/2 = 1; cos(theta) = -+1/sqrt(3); phi = pi/2, 3pi/2
    local st, ct = math.sqrt(2 / 3), 1 / math.sqrt(3)
    local want = {{0, H[2] * st, -H[3] * ct}, {0, -H[2] * st, -H[3] * ct},
                  {0, H[2] * st, H[3] * ct}, {0, -H[2] * st, H[3] * ct}}
    for j = 1, 4 do
      for c = 1, 3 do assert.are.near(want[j][c], r.offset:get(j, c), 1e-15) end
      assert.are.near(0.25, r.weight:get(j), 1e-15)
    end
    -- raw mass: 2 (GL weight) * 1 * e^{-1/2} * 2 (sum of cos weights) * 2 pi, over 4 pi M_2
    assert.are.near(2 * math.exp(-0.5) / M(2), r.mass, 1e-14)
    assert.are.same({1, 2, 2}, {r.radial, r.polar, r.azimuthal})
  end)

  it("integrates the truncated Gaussian to rounding at the default size, antithetic", function()
    local r = pf.poisson.kernel_rule()
    assert.are.same({16, 16, 32}, {r.radial, r.polar, r.azimuthal})
    local P = (r.offset:shape())
    assert.are.equal(8192, P)
    assert.is_true(math.abs(r.mass - 1) < 1e-13)
    assert.are.near(1, r.weight:sum(), 1e-14)
    -- Z against its series form h1 h2 h3 4 pi M_2 (the C core uses erf)
    assert.is_true(rel(r.Z, H[1] * H[2] * H[3] * 4 * math.pi * M(2)) < 1e-14)
    -- second moments: sum w d_i^2 = h_i^2 <u^2>, cross moments and first moments 0
    local d = r.offset
    local w = r.weight:reshape(1, P)
    local mom = w:matmul(d * d)
    for i = 1, 3 do assert.is_true(rel(mom:get(1, i), H[i] ^ 2 * m2()) < 1e-13) end
    assert.is_true(w:matmul(d):abs():max() < 1e-16)
    -- every offset d has its mirror -d (np even): rows j and the one with phi + pi, -cos
    local s = d:sum(1)
    for c = 1, 3 do assert.is_true(math.abs(s:get(c)) < 1e-12) end
  end)

  it("names a bad size, kernel or option", function()
    assert.has_error(function() pf.poisson.kernel_rule{radial = 0} end)
    assert.has_error(function() pf.poisson.kernel_rule{polar = -3} end)
    assert.has_error(function() pf.poisson.kernel_rule{azimuthal = 2 ^ 40} end)
    assert.has_error(function() pf.poisson.kernel_rule{radial = 4096, polar = 4096, azimuthal = 4096} end)
    assert.has_error(function() pf.poisson.kernel_rule{truncate = 0} end)
    assert.has_error(function() pf.poisson.kernel_rule{h = {1, 0, 1}} end)
    assert.has_error(function() pf.poisson.kernel_rule{radail = 3} end)
  end)
end)

-- The mock's kernel-smoothed truth: the product Gauss rule (pf.poisson.kernel_rule in the
-- C core, pf.truth.kernel_rule / smooth / at on top), its convergence, and analytic checks
-- against moments of the truncated Gaussian computed here by series, not by the rule.
local pf = require "phaseflow"
local array = pf.array
local C = pf.core.constants

local T = 2                          -- the kernel's truncation (|u| <= 2)
local H = {0.5, 0.5, 0.2}            -- its scale lengths, kpc
local SUN = {math.sqrt(C.R0 ^ 2 - C.z_sun ^ 2), 0, C.z_sun}
local POINTS = {SUN, {0, -8, 0}, {SUN[1], 0, 1}}   -- the Sun, the plane at 8 kpc, z = 1 kpc

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

-- <exp(k u_z)> = int r^2 e^{-r^2/2} sinh(kr)/(kr) dr / M_2, sinh(kr)/(kr) by its series
local function exp_mean(k)
  local s, c, j = 0, 1, 0
  repeat
    local t = c * M(2 * j + 2)
    s = s + t
    j = j + 1
    c = c * k * k / ((2 * j) * (2 * j + 1))
  until t < 1e-18 * s and j > 3
  return s / M(2)
end

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

describe("pf.truth smoothing", function()
  local pot = pf.mock.truth_model("default").potential

  it("reproduces a constant and a quadratic density's closed-form kernel average", function()
    local x0 = array.from(POINTS)
    local one = pf.truth.smooth(function(x) return array.ones((x:shape())) * 3.5 end, x0)
    for i = 1, 3 do assert.are.near(3.5, one:get(i), 1e-14 * 3.5) end
    -- rho = a + b x^2 + c z^2: <x^2> = x0^2 + h1^2 <u^2>, <z^2> = z0^2 + h3^2 <u^2>
    local a, b, c = 2.0, 0.7, 5.0
    local q = pf.truth.smooth(function(x)
      local xx, zz = x:col(1), x:col(3)
      return xx * xx * b + zz * zz * c + a
    end, x0)
    for i, p in ipairs(POINTS) do
      local want = a + b * (p[1] ^ 2 + H[1] ^ 2 * m2()) + c * (p[3] ^ 2 + H[3] ^ 2 * m2())
      assert.is_true(rel(q:get(i), want) < 1e-13)
    end
  end)

  it("converges to the closed form for a steep exponential in z (not a polynomial)", function()
    -- rho = exp(z / zd) with zd = 0.1 kpc: <rho> = e^{z0/zd} <exp(k u_z)>, k = h3 / zd = 2
    local zd = 0.1
    local g = function(x) return (x:col(3) * (1 / zd)):exp() end
    local want = math.exp(SUN[3] / zd) * exp_mean(H[3] / zd)
    local got = pf.truth.smooth(g, {SUN}):get(1)
    assert.is_true(rel(got, want) < 1e-10)
    -- a coarse rule is visibly worse: the spec would catch a rule that stopped converging
    assert.is_true(rel(pf.truth.smooth(g, {SUN}, {rule = 4}):get(1), want) > 1e-6)
  end)

  it("is converged at its default size for the default mock (1e-6 against double the nodes)", function()
    local x0 = array.from(POINTS)
    local t = pf.truth.at(x0, {potential = pot})
    local fine = pf.truth.smooth(pot, x0, {rule = 2 * pf.truth.RULE})
    local qmc = pf.poisson.kernel_points(x0, {points = 3200, seed = 1})
    local old = pf.poisson.smooth(pot:density(qmc.x), qmc)
    for i = 1, 3 do
      local e = rel(t.density_smoothed:get(i), fine:get(i))
      assert.is_true(e < 1e-6, ("point %d: %.3g"):format(i, e))
    end
    -- measured: ~3e-11, 3e-10, 1e-13 (the QMC points the truth used before: 3e-4, 3e-4, 2e-7)
    assert.is_true(rel(t.density_smoothed:get(1), fine:get(1)) < 1e-9)
    assert.is_true(rel(old:get(1), fine:get(1)) > 1e-5)
    assert.are.equal(8192, t.kernel_points)
    assert.are.same({16, 16, 32}, {t.rule.radial, t.rule.polar, t.rule.azimuthal})
  end)

  it("maps a point budget to the smallest rule with that many points; rejects both", function()
    assert.are.equal(12, pf.truth.kernel_rule{points = 3200}.n)      -- 3,456 points
    assert.are.equal(12, pf.truth.kernel_rule{points = 3456}.n)
    assert.are.equal(13, pf.truth.kernel_rule{points = 3457}.n)
    assert.are.equal(2, pf.truth.kernel_rule{points = 16}.n)
    assert.are.equal(16, pf.truth.kernel_rule{seed = 7}.n)           -- seed: no effect
    assert.has_error(function() pf.truth.kernel_rule{points = 100, rule = 3} end)
    assert.has_error(function() pf.truth.kernel_rule{rule = 2.5} end)
    assert.has_error(function() pf.truth.kernel_rule{points = 0} end)
    assert.has_error(function() pf.truth.at({SUN}, {potential = pot, rule = 0}) end)
    assert.has_error(function() pf.truth.smooth(42, {SUN}) end)
    assert.has_error(function() pf.truth.smooth(function() return array.ones(3) end, {SUN}) end)
  end)

  it("gives the same numbers in chunks as one location at a time", function()
    local xs = {}
    for i = 1, 9 do xs[i] = {6 + 0.4 * i, 0.3 * i, 0.1 * (i - 5)} end
    local keep = pf.truth.CHUNK_ROWS
    pf.truth.CHUNK_ROWS = 3 * pf.truth.rule_points(pf.truth.RULE)   -- 3 locations per chunk
    local ok, chunked = pcall(pf.truth.smooth, pot, xs)
    pf.truth.CHUNK_ROWS = keep
    assert(ok, chunked)
    for i = 1, 9 do assert.are.equal(pf.truth.smooth(pot, {xs[i]}):get(1), chunked:get(i)) end
  end)

  it("records the rule in the file it writes", function()
    local f = os.tmpname()
    os.remove(f)
    f = f .. ".h5"
    local t = pf.truth.at({SUN}, {potential = pot})
    pf.truth.write(f, "/truth/points", t)
    local at = pf.h5.attrs(f, "/truth/points/density_smoothed")
    os.remove(f)
    assert.are.equal(8192, at.points)
    assert.are.same({16, 16, 32}, {at.rule_radial, at.rule_polar, at.rule_azimuthal})
    assert.is_truthy(at.rule:find("16 Gauss-Legendre radii", 1, true))
  end)
end)

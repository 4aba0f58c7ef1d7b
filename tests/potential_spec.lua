local pf = require "phaseflow"
local fix = dofile("fixtures/potential_galpy.lua")
local G = pf.units.G -- the core's G (include/phaseflow/constants.h)

local function points_array(pts)
  local rows = {}
  for i, p in ipairs(pts) do rows[i] = p.x end
  return pf.array.from(rows)
end

local function relerr(a, b) return math.abs(a - b) / math.max(math.abs(b), 1e-300) end

describe("pf.potential against galpy's MWPotential2014", function()
  local pot = pf.potential.mwpotential2014()
  local x = points_array(fix.points)
  local n = #fix.points

  it("has three components with galpy's shape parameters", function()
    assert.are.equal(3, #pot)
    local c = pot:components()
    assert.are.equal("power_cutoff", c[1].type)
    assert.are.equal(1.8, c[1].alpha)
    assert.are.equal(1.9, c[1].rc)
    assert.are.equal("miyamoto_nagai", c[2].type)
    assert.are.equal(3, c[2].a)
    assert.are.equal(0.28, c[2].b)
    assert.are.equal("nfw", c[3].type)
    assert.are.equal(16, c[3].a)
    assert.is_true(tostring(pot):find("nfw") ~= nil)
  end)

  it("matches accelerations to 1e-10 relative", function()
    local a = pot:acceleration(x)
    local worst = 0
    for i = 1, n do
      local ref = fix.points[i].acc
      local norm = math.sqrt(ref[1] ^ 2 + ref[2] ^ 2 + ref[3] ^ 2)
      for j = 1, 3 do
        worst = math.max(worst, math.abs(a:get(i, j) - ref[j]) / norm)
      end
    end
    assert.is_true(worst < 1e-10, "worst relative error " .. worst)
  end)

  it("matches densities to 1e-10 relative (after galpy's G)", function()
    local rho = pot:density(x)
    local worst = 0
    for i = 1, n do
      -- density = laplacian / (4 pi G): galpy uses its own G
      local ref = fix.points[i].rho * fix.G_galpy / G
      worst = math.max(worst, relerr(rho:get(i), ref))
    end
    assert.is_true(worst < 1e-10, "worst relative error " .. worst)
  end)

  it("matches potentials up to one constant to 1e-10 relative", function()
    local phi = pot:phi(x)
    local c0 = phi:get(1) - fix.points[1].phi
    local worst = 0
    for i = 1, n do
      worst = math.max(worst, math.abs(phi:get(i) - fix.points[i].phi - c0) / math.abs(phi:get(i)))
    end
    assert.is_true(worst < 1e-10, "worst relative error " .. worst)
    -- the constant is the cut-off bulge's central potential (galpy's zero)
    assert.is_true(c0 < -1e4 and c0 > -1e6)
  end)

  it("gives vc = 220 km/s at R0 = 8 kpc with 5/60/35 per cent of the force", function()
    assert.is_true(math.abs(pot:vcirc(8) - 220) < 1e-10)
    local parts = { 0.05, 0.60, 0.35 }
    local c = pot:components()
    for i, part in ipairs(parts) do
      local t = { type = c[i].type, amp = c[i].amp, a = c[i].a, b = c[i].b,
                  alpha = c[i].alpha, rc = c[i].rc }
      local v = pf.potential.component(t):vcirc(8)
      assert.is_true(math.abs(v * v / (220 * 220) - part) < 1e-12)
    end
  end)
end)

describe("pf.potential Poisson consistency", function()
  local function check(pot, pts, tol)
    local h = 1e-3
    for _, p in ipairs(pts) do
      local rows = {}
      for d = 1, 3 do
        for s = -1, 1, 2 do
          local q = { p[1], p[2], p[3] }
          q[d] = q[d] + s * h
          rows[#rows + 1] = q
        end
      end
      rows[#rows + 1] = p
      local phi = pot:phi(pf.array.from(rows))
      local lap = 0
      for d = 0, 2 do
        lap = lap + (phi:get(2 * d + 1) + phi:get(2 * d + 2) - 2 * phi:get(7)) / (h * h)
      end
      local rho = pot:density(pf.array.from { p }):get(1)
      local rel = math.abs(lap - 4 * math.pi * G * rho) / (4 * math.pi * G * rho)
      assert.is_true(rel < tol, ("laplacian %.8g vs 4 pi G rho %.8g at (%g,%g,%g)")
        :format(lap, 4 * math.pi * G * rho, p[1], p[2], p[3]))
    end
  end

  it("laplacian of phi equals 4 pi G rho (finite differences)", function()
    check(pf.potential.mwpotential2014(),
      { { 8.122, 0, 0.0208 }, { 3.1, -2.2, 0.45 }, { 0.7, 0.4, -0.3 }, { 12.5, 4.2, 2.35 } }, 2e-5)
  end)

  it("holds for every component type and for a sum", function()
    local pot = pf.potential.hernquist { a = 1.3, amp = 3.7e10 }
      + pf.potential.plummer { a = 0.6, amp = 1.1e9 }
      + pf.potential.nfw { a = 9.5, normalize = 0.2 }
      + pf.potential.miyamoto_nagai { a = 2.5, b = 0.3, amp = 5e10 }
      + pf.potential.power_cutoff { alpha = 1.2, rc = 2.4, amp = 3e8 }
    assert.are.equal(5, #pot)
    check(pot, { { 2.385, 1.1, 0.27 }, { 7.9, -0.5, -1.2 } }, 2e-5)
  end)
end)

describe("pf.potential sums and custom components", function()
  it("adds components additively", function()
    local a = pf.potential.hernquist { a = 1.3, amp = 3.7e10 }
    local b = pf.potential.nfw { a = 12, amp = 8e11 }
    local x = pf.array.from { { 2.385, -1.2, 0.7 }, { 9.1, 3.3, -2.2 } }
    local s = a + b
    for i = 1, 2 do
      assert.is_true(relerr(s:phi(x):get(i), a:phi(x):get(i) + b:phi(x):get(i)) < 1e-14)
      assert.is_true(relerr(s:density(x):get(i), a:density(x):get(i) + b:density(x):get(i)) < 1e-14)
    end
    -- Hernquist by hand: phi = -G M / (r + a)
    local r = math.sqrt(2.385 ^ 2 + 1.2 ^ 2 + 0.7 ^ 2)
    assert.is_true(relerr(a:phi(x):get(1), -G * 3.7e10 / (r + 1.3)) < 1e-14)
  end)

  it("accepts Lua-defined components in sums", function()
    local mw = pf.potential.mwpotential2014()
    local k = 1234.5
    local lin = pf.potential.custom {
      name = "linear",
      phi = function(x) return x:col(3) * k end,
      acceleration = function(x)
        local n = x:shape()
        local a = pf.array.zeros(n, 3)
        for i = 1, n do a:set(i, 3, -k) end
        return a
      end,
      density = function(x) return pf.array.zeros((x:shape())) end,
    }
    local s = mw + lin
    assert.are.equal(2, #s)
    assert.is_false(pf.potential.is_c(s))
    assert.is_true(pf.potential.is_potential(s))
    local x = pf.array.from { { 8.122, 0, 0.0208 } }
    assert.is_true(relerr(s:phi(x):get(1), mw:phi(x):get(1) + 0.0208 * k) < 1e-14)
    assert.is_true(relerr(s:acceleration(x):get(1, 3), mw:acceleration(x):get(1, 3) - k) < 1e-14)
    assert.is_true(tostring(s):find("linear") ~= nil)
  end)

  it("rejects bad arguments with named errors", function()
    assert.has_error(function() pf.potential.nfw { a = -1, amp = 1 } end,
      "potential.component: nfw: a must be positive, got -1")
    assert.has_error(function() pf.potential.nfw { a = 1 } end,
      "potential.component: give exactly one of 'amp' and 'normalize'")
    assert.has_error(function() pf.potential.nfw { amp = 1 } end,
      "potential.component: nfw needs 'a' (kpc)")
    assert.has_error(function() pf.potential.component { type = "kepler", amp = 1 } end)
    assert.has_error(function() pf.potential.nfw { a = 1, amp = 1, bogus = 2 } end)
    assert.has_error(function() pf.potential.power_cutoff { alpha = 3.5, rc = 1, amp = 1 } end)
    local pot = pf.potential.mwpotential2014()
    assert.has_error(function() pot:phi(pf.array.zeros(4, 2)) end)
    assert.has_error(function() pot:acceleration("x") end)
    assert.has_error(function() pot:vcirc(-1) end)
    assert.has_error(function() pot:phi(nil) end)
    assert.has_error(function()
      local big = pot
      for _ = 1, 4 do big = big + big end -- 48 components > 16
    end)
  end)
end)

-- Tests of the physics: Boltzmann accelerations, kernel densities, baryons, dark matter.
local pf = require "phaseflow"
local models = require "physics_models"

local pot = models.potential()
local df = models.isothermal(pot, 150, -25)
local sun = pf.array.from{{8.122, 0, 0.0208}}

local function relerr(a, b)
  return ((a - b):abs():max()) / b:abs():max()
end

describe("pf.cbe.acceleration", function()
  it("is exact for an exact equilibrium DF (f form and ln f form)", function()
    local x0 = pf.array.from{{8.122, 0, 0.0208}, {6.3, 2.9, 1.1}, {4.2, -3.7, -0.6}}
    local truth = pot:acceleration(x0)
    local a, info = pf.cbe.acceleration(df, x0, {nv = 2000, seed = 4})
    assert.is_true(relerr(a, truth) < 1e-8)
    assert.is_true(info.rms:max() < 1e-9)
    assert.is_true(info.cond:max() < 10 and info.cond:min() >= 1)
    local b = pf.cbe.acceleration(df, x0, {nv = 500, form = "logf"})
    assert.is_true(relerr(b, truth) < 1e-8)
  end)

  it("keeps only |v| < vmax and reports the count", function()
    local _, info = pf.cbe.acceleration(df, sun, {nv = 1000, vmax = 250})
    local _, all = pf.cbe.acceleration(df, sun, {nv = 1000, vmax = 1e9})
    assert.are.equal(1000, all.used:get(1))
    assert.is_true(info.used:get(1) < 800 and info.used:get(1) > 100)
  end)

  it("gives the least-squares answer and residual for a non-equilibrium input", function()
    -- one velocity direction only: M singular -> NaN and infinite condition number
    local n = 10
    local v = pf.array.zeros(n, 3)
    for i = 1, n do v:set(i, 1, i * 10.0) end
    local gx = pf.array.zeros(n, 3)
    local gv = v:copy()
    local a, info = pf.core.cbe.solve(v, gx, gv, nil, n, {form = "logf"})
    assert.is_true(a:isnan():all())
    assert.are.equal(math.huge, info.cond:get(1))
    -- hand-made 3 rows: a = -M^-1 b solved by hand: gv = I, b = (v.gx) e_k -> a_k = -(v.gx)_k
    local v3 = pf.array.from{{1, 2, 3}, {4, 5, 6}, {7, 8, 10}}
    local gx3 = pf.array.from{{0.5, 0, 0}, {0, 0.25, 0}, {0, 0, 0.2}}
    local a3 = pf.core.cbe.solve(v3, gx3, pf.array.eye(3), nil, 3, {form = "logf"})
    assert.are.near(-0.5, a3:get(1, 1), 1e-14)
    assert.are.near(-1.25, a3:get(1, 2), 1e-14)
    assert.are.near(-2.0, a3:get(1, 3), 1e-14)
  end)

  it("eig3 matches known eigenvalues", function()
    local lam = pf.cbe.eig3(pf.array.from{{2, 1, 0}, {1, 2, 0}, {0, 0, 5.5}})
    assert.are.near(1, lam:get(1), 1e-12)
    assert.are.near(3, lam:get(2), 1e-12)
    assert.are.near(5.5, lam:get(3), 1e-12)
  end)

  it("averages over a ball", function()
    local mean, spread, acc = pf.cbe.ball_average(df, sun, 0.1, {points = 16, nv = 300})
    local truth = pot:acceleration(pf.cbe.ball_points(sun, 0.1, 16, 7)):mean(1)
    assert.is_true(relerr(mean, truth) < 1e-8)
    assert.are.same({16, 3}, {acc:shape()})
    assert.is_true(spread:get(3) > 50)  -- a_z changes by ~5,000 (km/s)^2/kpc per kpc in z
  end)

  it("seeds position i with seed + (i - 1) * seed_stride (0: common velocities)", function()
    local seen = {}
    local rec = setmetatable({}, {__index = function(_, k)
      if k == "sample_v" then
        return function(_, x0, n, o) seen[#seen + 1] = o.seed; return df:sample_v(x0, n, o) end
      end
      return function(_, ...) return df[k](df, ...) end
    end})
    local x0 = pf.array.from{{8.1, 0, 0}, {8.2, 0, 0.1}, {8.3, 0.1, 0.2}}
    local a0 = pf.cbe.acceleration(rec, x0, {nv = 50, seed = 5, seed_stride = 0})
    assert.are.same({5, 5, 5}, seen)
    seen = {}
    pf.cbe.acceleration(rec, x0, {nv = 50, seed = 5})
    assert.are.same({5, 6, 7}, seen)
    seen = {}
    pf.cbe.acceleration(rec, x0, {nv = 50, seed = 5, seed_stride = 2, batch = 1})
    assert.are.same({5, 7, 9}, seen)
    assert.is_true(relerr(a0, pot:acceleration(x0)) < 1e-8)
    -- poisson.density passes vseed / vseed_stride on
    seen = {}
    pf.poisson.density(rec, sun, {points = 8, nv = 5, vseed = 3, vseed_stride = 0})
    assert.are.same({3, 3, 3, 3, 3, 3, 3, 3}, seen)
    assert.has_error(function() pf.cbe.acceleration(df, sun, {seed_stride = -1}) end,
      "pf.cbe.acceleration: option 'seed_stride' must be an integer >= 0")
    assert.has_error(function() pf.cbe.acceleration(df, sun, {seed_stride = 0.5}) end)
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() pf.cbe.acceleration(df, sun, {nvv = 3}) end,
      "pf.cbe.acceleration: unknown option 'nvv'")
    assert.has_error(function() pf.cbe.acceleration({}, sun) end)
    assert.has_error(function() pf.cbe.acceleration(df, pf.array.zeros(2, 2)) end)
    assert.has_error(function() pf.cbe.acceleration(df, sun, {form = "g"}) end)
    assert.has_error(function() pf.cbe.acceleration(df, sun, {nv = 2}) end)
    local nanpos = pf.array.from{{8.122, 0, 0}, {8.1, 0 / 0, 0.1}}
    assert.has_error(function() pf.cbe.acceleration(df, nanpos, {nv = 20}) end,
      ("pf.cbe.acceleration: position 2 is not finite (8.1, %g, 0.1)"):format(0 / 0))
    local v = pf.array.zeros(6, 3)
    assert.has_error(function() pf.core.cbe.solve(v, v, v, nil, 4) end)
    assert.has_error(function() pf.core.cbe.solve(v, v, v, nil, 3) end, nil) -- f form needs log f
    assert.has_error(function() pf.core.cbe.solve(v, v, pf.array.zeros(5, 3), nil, 3) end)
  end)
end)

describe("pf.equilibrium", function()
  it("residual vanishes for the true acceleration and not for a wrong one", function()
    local a_true = pot:acceleration(sun)
    local _, mu, sd = pf.equilibrium.dlnf_dt(df, sun, a_true, {n = 4000})
    assert.is_true(math.abs(mu) < 1e-12 and sd < 1e-12)
    local wrong = pf.array.from{-2.32 * pf.units.acc_1e10, 0.04 * pf.units.acc_1e10,
                                -0.14 * pf.units.acc_1e10}
    local r, mu2, sd2 = pf.equilibrium.dlnf_dt(df, sun, wrong, {n = 4000})
    assert.is_true(sd2 > 1)
    -- residual = -(a_wrong - a_true) . grad_v ln f, whose mean is 0 (E[grad_v ln p] = 0)
    assert.is_true(math.abs(mu2) < 0.1 * sd2)
    local kept = (r:shape())   -- |v| >= 600 km/s dropped (a few of 4000 here)
    assert.is_true(kept < 4000 and kept > 3800)
  end)

  it("symmetry ratios are 1 and a_phi is 0 for an axisymmetric, N-S symmetric potential", function()
    local xn = pf.array.from{{8, 0, 0.5}, {7, 1, 1}}
    local xs = pf.array.from{{8, 0, -0.5}, {7, 1, -1}}
    local rr, rt = pf.equilibrium.north_south(xn, pot:acceleration(xn), pot:acceleration(xs))
    assert.are.near(1, rr:get(1), 1e-12)
    assert.are.near(1, rt:get(2), 1e-12)
    assert.is_true(pf.equilibrium.axisymmetry(xn, pot:acceleration(xn)):abs():max() < 1e-12)
    -- a tilted acceleration shows up
    local tilt = pf.array.from{{0, 100, 0}, {0, 0, 0}} + pot:acceleration(xn)
    assert.is_true(pf.equilibrium.axisymmetry(xn, tilt):abs():max() > 0.01)
  end)
end)

describe("pf.poisson", function()
  local x0 = pf.array.from{{8.122, 0, 0.0208}, {5.743, 0, 5.743}, {0.05, 0, 8.122}}  -- Sun, polar arc
  local ref = pf.poisson.kernel_points(x0, {volume = 2 ^ 16, surface = 0, seed = 3})
  local truth = pf.poisson.smooth(pot:density(ref.x), ref)

  it("kernel normalisation: 73.85% of the Gaussian inside |u| = 2", function()
    local Z = pf.poisson.kernel_norm()
    assert.are.near(0.738536, Z / (0.05 * (2 * math.pi) ^ 1.5), 1e-6)
    local pts = pf.poisson.kernel_points(sun)
    assert.are.equal(2400, pts.nvol)
    assert.are.equal(800, pts.nsurf)
    -- surface area weights sum to the ellipsoid's area (Knud Thomsen's formula, ~1%)
    local a, b, c, p = 1.0, 1.0, 0.4, 1.6075
    local area = 4 * math.pi * ((a ^ p * b ^ p + a ^ p * c ^ p + b ^ p * c ^ p) / 3) ^ (1 / p)
    assert.are.near(area, pts.area:sum(), 0.012 * area)
    assert.are.near(1, pts.weight:sum(), 1e-12)
  end)

  it("matches the directly convolved density within 0.5% at 3,200 points", function()
    local rho = pf.poisson.density(pot, x0)
    assert.is_true(((rho - truth) / truth):abs():max() < 0.005)
  end)

  it("converges as points are added; plain QMC and no boundary term are worse", function()
    local e = {}
    for i, P in ipairs{200, 800, 3200} do
      local rho = pf.poisson.density(pot, x0, {points = P})
      e[i] = ((rho - truth) / truth):abs():max()
    end
    assert.is_true(e[3] < e[1] and e[3] < 0.001)
    local plain = pf.poisson.density(pot, x0, {points = 12800, moment_match = false})
    assert.is_true(((plain - truth) / truth):abs():max() < 0.005)
    local nob = pf.poisson.density(pot, x0, {boundary = false, points = 12800})
    local enob = ((nob - truth) / truth):abs():min()
    assert.is_true(enob > 0.3)   -- ~37-40% low: the boundary term is not negligible
  end)

  it("works with a phase-space density as the source", function()
    local rho = pf.poisson.density(df, sun, {nv = 20, points = 400})
    local rho_p = pf.poisson.density(pot, sun, {points = 400})
    assert.are.near(rho_p:get(1), rho:get(1), 1e-6 * rho_p:get(1))
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() pf.poisson.kernel_points(sun, {pionts = 3}) end)
    assert.has_error(function() pf.poisson.kernel_points(sun, {h = {1, 2}}) end)
    assert.has_error(function() pf.poisson.kernel_points(sun, {truncate = -1}) end)
    assert.has_error(function() pf.poisson.kernel_points(sun, {volume = 3, surface = 2}) end)
    assert.has_error(function() pf.poisson.density({}, sun) end)
    local pts = pf.poisson.kernel_points(sun, {points = 100})
    assert.has_error(function() pf.poisson.density_from(pf.array.zeros(7, 3), pts) end)
    assert.has_error(function() pf.poisson.density_from(pf.array.zeros(100, 3), {}) end)
  end)

end)

describe("pf.poisson on the mock's potential (MWPotential2014)", function()
  -- The issue's check: fed the exact accelerations of the mock potential, rho*K agrees with
  -- the directly convolved true density at the Sun and along the polar arc.
  local mw = pf.potential.mwpotential2014()
  local rsun = 8.122
  local pts = {{rsun, 0, 0.0208}}
  for _, s in ipairs{-1.7, -0.85, 0.85, 1.7} do
    local theta = math.pi / 2 - s / rsun
    pts[#pts + 1] = {rsun * math.sin(theta), 0, rsun * math.cos(theta)}
  end
  local x0 = pf.array.from(pts)
  local ref = pf.poisson.kernel_points(x0, {volume = 2 ^ 16, surface = 0, seed = 5})
  local truth = pf.poisson.smooth(mw:density(ref.x), ref)

  it("matches the directly convolved density within 0.5% at 3,200 points", function()
    local rho = pf.poisson.density(mw, x0)
    local err = ((rho - truth) / truth):abs():max()
    assert.is_true(err < 0.005, "max relative error " .. err)
    -- 0.0744 Msun/pc^3 at the Sun (1 Msun/pc^3 = 1e9 Msun/kpc^3)
    assert.are.near(0.0744, truth[1] / 1e9, 0.0005)
  end)

  it("converges with points; without the boundary term it is far off", function()
    local e = {}
    for i, P in ipairs{100, 400, 3200} do
      local rho = pf.poisson.density(mw, x0, {points = P, seed = 2})
      e[i] = ((rho - truth) / truth):abs():max()
    end
    assert.is_true(e[3] < e[1], ("errors %g %g %g"):format(e[1], e[2], e[3]))
    local nob = pf.poisson.density(mw, x0, {boundary = false})
    assert.is_true(((nob - truth) / truth):abs():min() > 0.2)
  end)
end)

describe("pf.baryons", function()
  it("reproduces the surface densities and the midplane density", function()
    local t = pf.baryons.totals()
    assert.are.near(47.07, t.all, 1e-9)
    assert.are.near(33.47, t.stars, 1e-9)
    -- the table's gas rows sum to 13.6 (baryons.md quotes McKee's rounded 13.7)
    assert.are.near(13.6, t.gas, 1e-9)
    local rho = pf.baryons.density(pf.array.from{{8.122, 0, 0}})
    assert.are.near(0.0839, pf.units.rho_to_msun_pc3(rho:get(1)), 0.0839 * 0.005)
  end)

  it("smoothed at the Sun: 0.0530 Msun/pc^3 with ~6% error", function()
    local pts = pf.poisson.kernel_points(sun)
    local s, e, per = pf.baryons.smoothed(pts)
    assert.are.near(0.0530, pf.units.rho_to_msun_pc3(s:get(1)), 0.0530 * 0.01)
    assert.is_true(e:get(1) / s:get(1) > 0.04 and e:get(1) / s:get(1) < 0.09)
    assert.are.near(s:get(1), per:sum(), 1e-9 * s:get(1))
    -- doubling a component's Sigma0 doubles its share
    local list = {}
    for i, q in ipairs(pf.baryons.components) do
      list[i] = setmetatable({sigma = i == 11 and 2 * q.sigma or q.sigma}, {__index = q})
    end
    local s2 = pf.baryons.smoothed(pts, list)
    assert.are.near(s:get(1) + per:get(1, 11), s2:get(1), 1e-9 * s:get(1))
  end)

  it("rejects an unknown form", function()
    assert.has_error(function()
      pf.baryons.density(sun, {{name = "x", form = "sech2", sigma = 1, h = 100, h_R = 2}})
    end)
  end)
end)

describe("pf.darkmatter and pf.units", function()
  it("subtracts with errors in quadrature", function()
    local d, e = pf.darkmatter.subtract(6.17, 0.20, 5.34, 0.42)
    assert.are.near(0.83, d, 1e-12)
    assert.are.near(math.sqrt(0.2 ^ 2 + 0.42 ^ 2), e, 1e-12)
  end)

  it("weighted mean and reduced chi^2 by hand", function()
    local m, e, chi = pf.darkmatter.weighted_mean({1.0, 2.0, 4.0}, {1.0, 1.0, 2.0})
    -- weights 1, 1, 0.25: mean = (1 + 2 + 1) / 2.25
    assert.are.near(4 / 2.25, m, 1e-12)
    assert.are.near(math.sqrt(1 / 2.25), e, 1e-12)
    local c = ((1 - m) ^ 2 + (2 - m) ^ 2 + ((4 - m) / 2) ^ 2) / 2
    assert.are.near(c, chi, 1e-12)
    assert.has_error(function() pf.darkmatter.weighted_mean({1}, {0}) end)
  end)

  it("conversions agree with FACTS.md", function()
    assert.are.near(3085.68, pf.units.acc_1e10, 0.01)
    assert.are.near(0.448, pf.units.rho_to_gev_cm3(1.18e-2 * 1e9), 0.001)
    -- G Msun / kpc / (1e3 m/km)^2 with the IAU 2015 G Msun (= CODATA 2018 G x astropy's Msun)
    assert.is_true(math.abs(pf.units.G / 4.300917270036279e-6 - 1) < 1e-15)
  end)
end)

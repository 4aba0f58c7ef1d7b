-- luacheck: no max line length
-- pf.results: DIR/results.h5, the pipeline's numbers in a self-describing HDF5 file that
-- any HDF5 reader understands without this code (docs/results.md describes every dataset).
--
--   pf.results.write(P, tables)     results.h5 of pipeline P (the report step), returns the
--                                   score of a mock run (or nil)
--   pf.results.check(path)          problems of a results file (an empty list: none)
--
-- Every dataset carries `units` (an astropy unit string; "" dimensionless; for a dataset
-- whose last axis holds different quantities, one unit per index, comma-separated) and
-- `description` (one sentence). Positions are in the paper's Galactocentric frame (kpc,
-- Sun on +x, z to Galactic North); every curve carries its points (x: N x 3) and its
-- coordinate along the curve (r, phi or s). Tables are one dataset per column plus `label`.
-- The gNFW chain is under /gnfw/mcmc in emcee's HDFBackend layout.
local core = require "phaseflow.core"
local h5 = require "phaseflow.h5"
local fs = require "phaseflow.fs"
local geometry = require "phaseflow.geometry"
local gnfw = require "phaseflow.gnfw"
local truth = require "phaseflow.truth"
local array = core.array

local results = {}

--- The version of the layout (root attribute format_version); 2 is the documented one of
--- docs/results.md, files without the attribute are of the earlier layout.
results.FORMAT_VERSION = 2

--- The unit strings (astropy's generic format) used throughout the file.
results.UNITS = {
  acc = "km2 / (s2 kpc)",          -- accelerations, (km/s)^2/kpc
  kpc = "kpc", rad = "rad", none = "",
  rho = "solMass / kpc3",          -- densities
  acc_table = "1e-10 m / s2",      -- Table I
  rho_table = "0.01 solMass / pc3", -- Table II and the gNFW rho0
  dlnf_dt = "km / (kpc s)",        -- the Boltzmann residual
}
local U = results.UNITS

--- The emcee version whose HDFBackend layout /gnfw/mcmc follows (its `version` attribute).
results.EMCEE_LAYOUT = "3.1.4"

-- the point seed of the ball averages, for the flows and for the truth
local BALL_POINT_SEED = require("phaseflow.cbe").BALL_POINT_SEED

-- 1 at the points of curve `cname` whose acceleration is a ball average, 0 elsewhere.
local function ball_flags(g, cname)
  local flag = {}
  for i = 1, (g.curves[cname].x:shape()) do flag[i] = 0 end
  if cname == "arc" then for _, i in ipairs(g.arc_ball) do flag[i] = 1 end end
  return array.from(flag)
end

local function rd(file, path) return (h5.read(file, path)) end

-- A writer of one results file: every dataset with its units and description.
local function writer(file)
  local W = {}
  function W.put(path, a, units, description, attrs)
    if type(a) == "number" then a = {a} end
    if type(a) == "table" then a = array.from(a) end
    local at = {units = units, description = description}
    for k, v in pairs(attrs or {}) do at[k] = v end
    h5.write(file, path, a, at)
  end
  function W.labels(path, list, description)
    h5.write_strings(file, path, list, {units = U.none, description = description})
  end
  function W.group(path, attrs)
    if not h5.exists(file, path) then h5.mkgroup(file, path) end
    if attrs then h5.set_attrs(file, path, attrs) end
  end
  return W
end

-- A table (rows {label, numbers...}) as one dataset per column: cols = {{name, units,
-- description}, ...} naming the numbers after the label, in order.
local function write_table(W, group, rows, cols, description)
  W.group(group, {description = description, columns = "label," .. table.concat((function()
    local n = {}
    for i, c in ipairs(cols) do n[i] = c[1] end
    return n
  end)(), ",")})
  local labels = {}
  for i, r in ipairs(rows) do labels[i] = r[1] end
  W.labels(group .. "/label", labels, "The name of each row of the table.")
  for k, c in ipairs(cols) do
    local v = {}
    for i, r in ipairs(rows) do
      local x = r[k + 1]
      v[i] = x == nil and 0 / 0 or x
    end
    W.put(group .. "/" .. c[1], v, c[2], c[3])
  end
end

-- The coordinate along a curve of the geometry: its name, values and units.
local AXIS_UNITS = {r = U.kpc, phi = U.rad, s = U.kpc}
local AXIS_TEXT = {
  r = "Galactocentric spherical radius r of each point of the curve",
  phi = "Galactocentric azimuth phi = atan2(y, x) of each point of the curve (0 at the Sun)",
  s = "arc length s = r_sun (pi/2 - theta) along the polar arc at r = r_sun of each point (theta from +z)",
}

local function spherical_s(p)
  local _, th = geometry.to_spherical(p)
  return geometry.R_SUN * (math.pi / 2 - th)
end

-- The density locations' coordinates: {name = {axis, values}} (the geometry's own).
local function density_coordinates(g)
  local c = {sun = {"s", {spherical_s(geometry.SUN)}}, gnfw = {"r", g.gnfw.r}}
  for _, n in ipairs(g.density_names) do c[n] = {"s", g.density[n].t, phi = g.density[n].phi} end
  return c
end

-- What pf.score needs to reproduce the truth of a run: the ball average at the Sun
-- (/sun), which curve points were ball-averaged (/curves/acc/NAME/ball), the density
-- locations (/curves/density/NAME/x) and kernel (attributes of /curves/density), and the
-- average at r_sun with its independent points and weights (/average).
local function write_score_inputs(P, W)
  local g, o = P.geom, P.o
  local af, avf = P:file("accelerations"), P:file("average")
  local FRAME = {frame = "Galactocentric Cartesian (x, y, z)"}
  local a, sa = P:budget(af, "sun")
  W.put("/sun/value", a:reshape(3), U.acc, "Acceleration (x, y, z) averaged over the 100 pc ball at the Sun, central value of the base ensemble.", FRAME)
  W.put("/sun/sigma", sa:reshape(3), U.acc, "Total 1-sigma error (pf.budget) of /sun/value per component.", FRAME)
  W.put("/sun/truth", rd(af, "/truth/sun"):reshape(3), U.acc, "The mock's true acceleration averaged over the same ball (NaN for real data).", FRAME)
  W.put("/sun/center", array.from(g.ball.center), U.kpc, "Centre (x, y, z) of the ball: the Sun.")
  W.put("/sun/radius", array.from{g.ball.radius}, U.kpc, "Radius of the ball at the Sun.")
  W.put("/sun/ball_points", array.from{o.ball_points}, U.none, "Number of points of pf.cbe.ball_points(center, radius, ball_points, point_seed) averaged over the ball.")
  W.put("/sun/point_seed", array.from{BALL_POINT_SEED}, U.none, "Seed of the ball's points (pf.cbe.ball_points).")
  for _, cname in ipairs(g.curve_names) do
    W.put("/curves/acc/" .. cname .. "/ball", ball_flags(g, cname), U.none,
      "1 where the point's acceleration is averaged over a ball of /sun/radius (as /sun), 0 where it is evaluated at the point.")
  end
  local _, dnames, blocks = P:density_points()
  for k, n in ipairs(dnames) do
    W.put("/curves/density/" .. n .. "/x", blocks[k], U.kpc, "Position (x, y, z) of each density location, Galactocentric frame (columns x, y, z).",
      {columns = "x,y,z"})
  end
  W.group("/curves/density", {kernel_h = geometry.KERNEL_H, kernel_truncate = geometry.KERNEL_TRUNCATE,
    kernel_points = o.kernel_points, truth_rule = o.truth_rule,
    truth_kernel_points = truth.rule_points(o.truth_rule), kernel_seed = o.seed,
    kernel = "exp(-|u|^2/2), u = (x - x0)/h (kpc), truncated at |u| = kernel_truncate, unit-normalised",
    description = "Kernel-smoothed densities rho*K at the density locations; the kernel is described by this group's attributes (h in kpc)."})
  local avg = rd(avf, "/rho_dm_rsun"):totable()
  W.put("/average/value", array.from{avg[1]}, U.rho, "Inverse-variance weighted mean dark matter density over the independent locations at r = r_sun (Table II's rho_DM(r_sun)).")
  W.put("/average/sigma", array.from{avg[2]}, U.rho, "1-sigma error of /average/value.")
  W.put("/average/chi2", array.from{avg[3]}, U.none, "Reduced chi^2 (n - 1 degrees of freedom) of the independent densities about their mean.")
  W.put("/average/truth", rd(avf, "/truth/rho_dm_rsun"), U.rho, "The mock's true kernel-smoothed dark matter density averaged the same way (NaN for real data).")
  local n = g.independent.n
  local idx = {}
  for i = 1, n do idx[i] = i end
  W.put("/average/independent", array.from(idx), U.none,
    "1-based indices into /curves/density/gnfw of the independent locations averaged.", {set = "gnfw"})
  -- the weights of the average step (pf.budget.error_floor: non-positive errors raised)
  local e = require("phaseflow.budget").error_floor(rd(P:file("darkmatter"), "/rho_dm_err/gnfw")):totable()
  W.put("/average/weights_sigma", array.from({table.unpack(e, 1, n)}), U.rho,
    "The errors behind the inverse-variance weights of the mean (pf.darkmatter.weighted_mean).")
end

-- The gNFW fit: the posterior table, the fitted points and the chain in emcee's layout.
local function write_gnfw(P, W, rows)
  local gf = P:file("gnfw")
  local punits = {rho0 = U.rho_table, rs = U.kpc, beta = U.none}
  local ptext = {rho0 = "the gNFW normalisation rho0", rs = "the gNFW scale radius rs", beta = "the gNFW inner slope beta"}
  W.group("/gnfw", {description = "The generalised NFW fit rho(r) = rho0 / ((r/rs)^beta (1 + r/rs)^(3 - beta)) to the dark matter densities of /gnfw/points by MCMC (pf.gnfw)."})
  W.group("/gnfw/posterior", {description = "One group per parameter (its own units): median, 1-sigma half-widths, best fit, truth and pull."})
  for _, r in ipairs(rows) do
    local name, u = r[1], punits[r[1]]
    local gp = "/gnfw/posterior/" .. name
    W.group(gp, {description = "Posterior of " .. ptext[name] .. "."})
    W.put(gp .. "/median", r[2], u, "Posterior median of " .. ptext[name] .. ".")
    W.put(gp .. "/minus", r[3], u, "Median minus the 16th percentile of " .. ptext[name] .. ".")
    W.put(gp .. "/plus", r[4], u, "84th percentile minus the median of " .. ptext[name] .. ".")
    W.put(gp .. "/map", r[5], u, "The chain's sample of highest posterior (best fit) of " .. ptext[name] .. ".")
    W.put(gp .. "/truth", r[6], u, "The mock's true value of " .. ptext[name] .. " (NaN: none).")
    W.put(gp .. "/pull", r[7], U.none, "(median - truth) / the posterior half-width on the truth's side.")
  end
  W.put("/gnfw/points/r", rd(gf, "/points/r"), U.kpc, "Galactocentric spherical radius of each fitted location (unmasked locations of /curves/density/gnfw).")
  W.put("/gnfw/points/rho", rd(gf, "/points/rho"), U.rho_table, "Dark matter density fitted at each location.")
  W.put("/gnfw/points/sigma", rd(gf, "/points/sigma"), U.rho_table, "1-sigma error of /gnfw/points/rho used in the Gaussian likelihood.")
  -- the chain, as emcee's HDFBackend stores it (read it with
  -- emcee.backends.HDFBackend(path, name = "gnfw/mcmc", read_only = True))
  local chain, cattrs = h5.read(gf, "/mcmc/chain")
  local logp = rd(gf, "/mcmc/log_prob")
  local acc = rd(gf, "/mcmc/acceptance")
  local R, Wk, D = chain:shape()
  local pu = {}
  for j, name in ipairs(gnfw.names) do pu[j] = punits[name] end
  local M = "/gnfw/mcmc"
  W.put(M .. "/chain", chain, table.concat(pu, ", "),
    "Positions of the walkers (iteration x walker x parameter; parameters rho0, rs, beta) after burn-in.",
    {columns = table.concat(gnfw.names, ",")})
  W.put(M .. "/log_prob", logp, U.none, "Log posterior (natural log, up to a constant) of each position of the chain.")
  W.put(M .. "/accepted", acc * R, U.none,
    "Accepted proposals per walker, scaled to the stored iterations: the fraction over the whole run (burn-in included) times iteration, so emcee's acceptance_fraction is that fraction.")
  W.group(M, {version = results.EMCEE_LAYOUT, nwalkers = math.tointeger(Wk), ndim = math.tointeger(D),
    iteration = math.tointeger(R), has_blobs = 0, steps = cattrs.steps, burn = cattrs.burn, thin = cattrs.thin,
    seed = cattrs.seed, parameters = table.concat(gnfw.names, ","),
    description = "The MCMC chain of the gNFW fit in emcee's HDFBackend layout (burn-in not stored: iteration = (steps - burn) / thin)."})
end

-- The potential's density errors with the method term. The local method measures the same
-- rho*K from the same flows with errors of another kind; the difference of the two, d =
-- |rho - lrho|, is taken as a systematic error of the potential's rho*K (in quadrature with
-- the fits' error sfit), and the same fraction d / rho of the point density rp. It is
-- conservative where the local method is noisy (far from the Sun): there the potential's
-- error grows with the local method's scatter. Subtracting the local method's own error
-- from d (the budget's excess-variance rule) was measured and calibrates worse: it gives
-- small errors to the locations where the noisy local value happens to agree, and the
-- weighted rho_DM(r_sun) follows them (docs/potential.md). Where the local method has no
-- value (NaN) the fits' errors stand alone.
local function method_error(rho, sfit, rp, spfit, lrho)
  local r, s, p, sp, l = rho:totable(), sfit:totable(), rp:totable(), spfit:totable(), lrho:totable()
  local tot, ptot, meth = {}, {}, {}
  for i = 1, #r do
    local d = math.abs(r[i] - l[i])
    if d ~= d then d = 0 end
    meth[i] = d
    tot[i] = math.sqrt(s[i] ^ 2 + d ^ 2)
    local f = r[i] ~= 0 and d / math.abs(r[i]) or 0
    ptot[i] = math.sqrt(sp[i] ^ 2 + (f * p[i]) ^ 2)
  end
  return array.from(tot), array.from(ptot), array.from(meth)
end

-- The global potential (the potential step, docs/potential.md) beside the local method:
-- its central values and error budgets in the layout of /sun and /curves, under
-- /potential, the dark matter from it, its maps; returns the table pf.score reads (its
-- truth-free part: positions, values, errors), or nil when the run fitted no potential.
local function write_potential(P, W)
  if not require("phaseflow.steps.potential").fitted(P) then return nil end
  local pf_ = P:file("potential")
  local g = P.geom
  local darkmatter = require "phaseflow.darkmatter"
  local budget = require "phaseflow.budget"
  local bf = P:file("baryons")
  -- Each variant's value is one fit: its own fit noise does not average over an
  -- ensemble's members as the flows' training noise does, so the budget counts every
  -- density as one realisation (members = 1): sigma_flow is the members' whole spread
  -- (an upper bound of the base fit's noise) and the resamples' subtractions take it once.
  local vn = {}
  for i, v in ipairs(P.variant_names) do vn[i] = {name = v.name, kind = v.kind, members = 1} end
  local function bud(path) return budget.of(pf_, path, vn) end
  local R = {path = "/potential", acc = {}, acc_names = {}, density = {}, density_names = {},
             kernel = {h = geometry.KERNEL_H, truncate = geometry.KERNEL_TRUNCATE}}
  W.group("/potential", {description = "The global potential (pf.potential_fit: one network per density fitted to the Boltzmann equation; docs/potential.md): accelerations -grad Phi and densities lap Phi / 4 pi G at the local method's points."})
  local a, sa = bud("sun")
  W.put("/potential/sun/value", a:reshape(3), U.acc, "Acceleration (x, y, z) of the potential averaged over the ball of /sun, central value of the base ensemble's fit.")
  W.put("/potential/sun/sigma", sa:reshape(3), U.acc, "Total 1-sigma error (pf.budget over the fits of every density) of /potential/sun/value.")
  R.sun = {value = a:reshape(3), sigma = sa:reshape(3), center = array.from(g.ball.center), radius = g.ball.radius,
           points = P.o.ball_points, seed = BALL_POINT_SEED}
  for _, cname in ipairs(g.curve_names) do
    local v, s = bud("acc/" .. cname)
    local gp = "/potential/curves/acc/" .. cname
    W.put(gp .. "/value", v, U.acc, "Acceleration (x, y, z) of the potential at each point of /curves/acc/" .. cname .. ", central value.", {columns = "x,y,z"})
    W.put(gp .. "/sigma", s, U.acc, "Total 1-sigma error of value per component.", {columns = "x,y,z"})
    R.acc[cname] = {x = g.curves[cname].x, value = v, sigma = s, ball = ball_flags(g, cname)}
    R.acc_names[#R.acc_names + 1] = cname
  end
  local _, dnames, blocks = P:density_points()
  local dmf = P:file("darkmatter")
  for k, n in ipairs(dnames) do
    local gp = "/potential/curves/density/" .. n
    local rho, sfit = bud("rhok/" .. n)
    local rp, spfit = bud("rho/" .. n)
    -- The fit's own bias is common to every density's fit, so their spread cannot see it
    -- (docs/potential.md); the local method's value is the check on it (method_error).
    local srho, srp, smeth = method_error(rho, sfit, rp, spfit, rd(dmf, "/rho/" .. n))
    local dm, sdm = darkmatter.subtract(rho, srho, rd(bf, "/rho_b/" .. n), rd(bf, "/err_b/" .. n))
    W.put(gp .. "/rho", rho, U.rho, "Kernel-smoothed density (lap Phi / 4 pi G) * K of the potential at the locations of /curves/density/" .. n .. ", central value (NaN: the kernel leaves the survey).")
    W.put(gp .. "/rho_err", srho, U.rho, "Total 1-sigma error of rho: the fits' budget and rho_method_err in quadrature.")
    W.put(gp .. "/rho_fit_err", sfit, U.rho, "1-sigma error of rho from the fits of every density alone (pf.budget).")
    W.put(gp .. "/rho_method_err", smeth, U.rho, "Systematic error of rho from the local method: |rho - /curves/density/NAME/rho| at the same location (0 where the local method has no value).")
    W.put(gp .. "/rho_point", rp, U.rho, "Point density lap Phi / 4 pi G of the potential at each location, central value.")
    W.put(gp .. "/rho_point_err", srp, U.rho, "Total 1-sigma error of rho_point: the fits' budget and the fraction rho_method_err / rho of it, in quadrature.")
    W.put(gp .. "/rho_dm", dm, U.rho, "Dark matter density: rho minus the baryon model (as /curves/density), central value.")
    W.put(gp .. "/rho_dm_err", sdm, U.rho, "Total 1-sigma error of rho_dm.")
    W.put(gp .. "/truth_rho_point", rd(pf_, "/truth/rho/" .. n), U.rho, "The mock's true point density at each location (NaN for real data).")
    R.density[n] = {x = blocks[k], rho = rho, rho_err = srho, rho_point = rp, rho_point_err = srp, rho_dm = dm, rho_dm_err = sdm}
    R.density_names[#R.density_names + 1] = n
  end
  -- rho_DM(r_sun): the independent points of the gNFW set, inverse-variance weighted
  local nind = g.independent.n
  local dm = R.density.gnfw.rho_dm:totable()
  local e = budget.error_floor(R.density.gnfw.rho_dm_err):totable()
  local v, ev, idx = {}, {}, {}
  for i = 1, nind do v[i], ev[i], idx[i] = dm[i], e[i], i end
  local m, em, chi2 = darkmatter.weighted_mean(v, ev)
  W.put("/potential/average/value", m, U.rho, "Inverse-variance weighted mean dark matter density of the potential over the independent locations at r = r_sun.")
  W.put("/potential/average/sigma", em, U.rho, "1-sigma error of /potential/average/value.")
  W.put("/potential/average/chi2", chi2, U.none, "Reduced chi^2 of the densities averaged about their mean.")
  R.average = {value = m, sigma = em, chi2 = chi2, independent = idx, set = "gnfw", weights_sigma = ev}
  -- maps of the base fit's point density, and the truth's on the same grids
  local mp = {xy = "in the Galactic plane z = 0 (rows x, columns y)", rz = "in the R-z plane at the Sun's azimuth (rows R, columns z)"}
  for _, k in ipairs({"xy", "rz"}) do
    W.put("/potential/maps/" .. k, rd(pf_, "/maps/" .. k), U.rho, "Point density lap Phi / 4 pi G of the base fit " .. mp[k] .. " (NaN outside the survey sphere).")
  end
  for k, t in pairs({x = "x", y = "y", R = "Galactocentric cylindrical radius R", z = "z"}) do
    W.put("/potential/maps/" .. k, rd(pf_, "/maps/" .. k), U.kpc, "The map grids' coordinate " .. t .. ".")
  end
  W.put("/potential/net/params", rd(pf_, "/base/net/params"), U.none, "The base fit's network parameters (pf.potnet.load reads the potential step's file; layout in docs/potential.md).")
  return R
end

--- Write DIR/results.h5 of pipeline P (the report step) from its step files and the
--- report's tables (rows {label, numbers...}: table1, table2, gnfw), whole: as
--- results.h5.part, renamed at the end. With a mock truth the scorer (pf.score) runs on the
--- file and its numbers go under /score (the potential's under /potential/score and in
--- score.potential); returns that score (nil for real data) and the potential's values
--- (pf.score's layout; nil when the run fitted no potential).
function results.write(P, tables)
  local af, ef, dmf = P:file("accelerations"), P:file("equilibrium"), P:file("darkmatter")
  local final = P.out .. "/results.h5"
  local res = final .. ".part"
  os.remove(res)
  local W = writer(res)
  local g = P.geom

  -- Table I and Table II, one dataset per column
  local A, R2, N = U.acc_table, U.rho_table, U.none
  write_table(W, "/table1", tables.table1, {
    {"value", A, "This run's spherical component of the acceleration at the Sun (ball average)."},
    {"sigma", A, "Total 1-sigma error of value."},
    {"truth", A, "The mock's true value (NaN for real data)."},
    {"pull", N, "(value - truth) / sigma."},
    {"quasar", A, "The Gaia EDR3 quasar value (Klioner et al. 2021, as quoted in the paper's Table I)."},
    {"quasar_sigma", A, "1-sigma error of the quasar value."},
  }, "Table I: acceleration at the Sun in spherical components (a_r, a_theta, a_phi) and magnitude |a|, 100 pc ball.")
  write_table(W, "/table2", tables.table2, {
    {"value", R2, "This run's density at the Sun (rows rho_sun, rho_b,sun, rho_DM,sun) or the mean dark matter density at r = r_sun."},
    {"sigma", R2, "Total 1-sigma error of value (0 for the mock's exact baryon model)."},
    {"truth", R2, "The mock's true kernel-smoothed value (NaN for real data)."},
    {"pull", N, "(value - truth) / sigma (NaN where sigma is 0)."},
    {"chi2_nu", N, "Reduced chi^2 of the densities averaged (row rho_DM(r_sun) only; NaN elsewhere)."},
  }, "Table II: kernel-smoothed densities at the Sun and the dark matter density averaged at r = r_sun.")
  write_gnfw(P, W, tables.gnfw)

  -- every curve: its points, its coordinate, central value, error and truth
  W.group("/curves", {description = "Accelerations (acc) and kernel-smoothed densities (density) along the paper's curves (Figs. 8, 10, 12)."})
  W.group("/curves/acc", {description = "Accelerations along the curves of Fig. 8, one group per curve."})
  for _, cname in ipairs(g.curve_names) do
    local c = g.curves[cname]
    local gp = "/curves/acc/" .. cname
    local v, s = P:budget(af, cname)
    W.group(gp, {description = "Acceleration along the " .. c.label .. ".", coordinate = c.axis})
    W.put(gp .. "/x", c.x, U.kpc, "Position (x, y, z) of each point of the curve, Galactocentric frame (columns x, y, z).", {columns = "x,y,z"})
    W.put(gp .. "/" .. c.axis, c.t, AXIS_UNITS[c.axis], AXIS_TEXT[c.axis] .. ".")
    W.put(gp .. "/value", v, U.acc, "Acceleration (x, y, z) at each point, central value of the base ensemble.", {columns = "x,y,z"})
    W.put(gp .. "/sigma", s, U.acc, "Total 1-sigma error (pf.budget) of value per component.", {columns = "x,y,z"})
    W.put(gp .. "/truth", rd(af, "/truth/" .. cname), U.acc, "The mock's true acceleration at each point (NaN for real data).", {columns = "x,y,z"})
  end
  local DQ = {
    {"rho", "rho", "Total mass density rho*K (the flows' Poisson estimate), central value."},
    {"rho_err", "rho_err", "Total 1-sigma error of rho."},
    {"rho_dm", "rho_dm", "Dark matter density: rho minus the baryon model, central value."},
    {"rho_dm_err", "rho_dm_err", "Total 1-sigma error of rho_dm."},
    {"truth_rho", "truth/rho", "The mock's true kernel-smoothed total density (NaN for real data)."},
    {"truth_rho_dm", "truth/rho_dm", "The mock's true kernel-smoothed dark matter density (NaN for real data)."},
  }
  local coords = density_coordinates(g)
  local _, dnames = P:density_points()
  for _, n in ipairs(dnames) do
    local gp = "/curves/density/" .. n
    local c = coords[n]
    W.group(gp, {description = ("Kernel-smoothed densities at the locations '%s' (NaN: the kernel leaves the survey)."):format(n),
      coordinate = c[1], phi = c.phi})
    W.put(gp .. "/" .. c[1], c[2], AXIS_UNITS[c[1]], AXIS_TEXT[c[1]]:gsub("of the curve", "of the set") .. ".")
    for _, q in ipairs(DQ) do W.put(gp .. "/" .. q[1], rd(dmf, "/" .. q[2] .. "/" .. n), U.rho, q[3]) end
  end
  write_score_inputs(P, W)
  local potR = write_potential(P, W)
  W.put("/equilibrium/dlnf_dt", rd(ef, "/dlnf_dt/flows"), U.dlnf_dt,
    "The Boltzmann residual d ln f / dt at the Sun for velocities drawn from the flows' p(v|x), with the measured acceleration (Fig. 9).")
  W.put("/equilibrium/dlnf_dt_truth", rd(ef, "/dlnf_dt/truth"), U.dlnf_dt,
    "The same residual of the mock's exact distribution function with its true acceleration (NaN for real data).")
  h5.provenance(res, "/", {preset = P.o, step_times = P.times, format = "phaseflow results",
    format_version = results.FORMAT_VERSION, format_doc = "docs/results.md",
    frame = "Galactocentric Cartesian, kpc: Sun on +x at (sqrt(R0^2 - z_sun^2), 0, z_sun), z to Galactic North; phi = atan2(y, x), theta from +z"})

  -- with a truth: the scorer (pf.score) on the file just written, its numbers under /score;
  -- its truth has the densities step's rule (pf.truth maps the scorer's point budget
  -- rule_points(n) back to the rule of size n)
  local scored
  if P:is_mock() then
    local score = require "phaseflow.score"
    scored = score.run(res, results.truth_model(P), {kernel_points = truth.rule_points(P.o.truth_rule), seed = P.o.seed})
    score.write(res, scored, "/score")
    if potR then
      scored.potential = score.run(potR, results.truth_model(P), {kernel_points = truth.rule_points(P.o.truth_rule), seed = P.o.seed})
      score.write(res, scored.potential, "/potential/score")
    end
  end
  fs.commit(res, final)
  return scored, potR
end

--- The truth of a mock run (the pipeline's galaxy, pf.mock.truth_model) as pf.score takes it.
function results.truth_model(P)
  local m = P:truth_model()
  return {name = ("mock galaxy '%s'"):format(tostring(m.name or "?")), potential = m.potential, dm = m.dm,
          baryons = m.baryons}
end

-- ---- checking a file ---------------------------------------------------------------------

-- Every dataset under `group`: calls fn(path) for each.
local function walk(file, group, fn)
  for _, e in ipairs(h5.list(file, group)) do
    local p = (group == "/" and "" or group) .. "/" .. e.name
    if e.kind == "group" then walk(file, p, fn) elseif e.kind == "dataset" then fn(p) end
  end
end

--- Every dataset path of an HDF5 file, in order.
function results.datasets(file)
  local out = {}
  walk(file, "/", function(p) out[#out + 1] = p end)
  return out
end

-- The shape of a dataset (numbers or strings) as a list, its values (array or list of strings).
local function shape_of(file, p)
  local ok, a = pcall(h5.read, file, p)
  if ok then return {a:shape()}, a end
  local s = h5.read_strings(file, p)
  return {#s}, s
end

--- The problems of a results file (a list of sentences; empty when it is sound): every
--- dataset has a string `units` (one unit, or one per index of the last axis, comma-
--- separated) and a non-empty `description`; every curve's coordinate agrees with its
--- points; the columns of each table have one length; /gnfw/mcmc's attributes agree with
--- its chain. `tol` (1e-9) bounds the coordinates' disagreement.
function results.check(file, tol)
  tol = tol or 1e-9
  local bad = {}
  local function say(fmt, ...) bad[#bad + 1] = fmt:format(...) end
  local shapes = {}
  walk(file, "/", function(p)
    local at = h5.attrs(file, p)
    if type(at.units) ~= "string" then say("%s has no units attribute", p) end
    if type(at.description) ~= "string" or not at.description:find("%S") then say("%s has no description", p) end
    local okr, shp, vals = pcall(shape_of, file, p)
    if not okr then say("%s does not read: %s", p, tostring(shp)) return end
    shapes[p] = {shape = shp, values = vals}
    if type(at.units) == "string" and at.units:find(",", 1, true) then
      local n = select(2, at.units:gsub(",", ",")) + 1
      if n ~= shp[#shp] then say("%s: %d units for a last axis of %d", p, n, shp[#shp]) end
    end
  end)
  -- curves: the coordinate agrees with the points
  local function coord(axis, p)
    if axis == "r" then return math.sqrt(p[1] ^ 2 + p[2] ^ 2 + p[3] ^ 2) end
    if axis == "phi" then return math.atan(p[2], p[1]) end
    if axis == "s" then return spherical_s(p) end
  end
  for _, kind in ipairs({"acc", "density"}) do
    local top = "/curves/" .. kind
    if h5.exists(file, top) then
      for _, e in ipairs(h5.list(file, top)) do
        if e.kind == "group" then
          local gp = top .. "/" .. e.name
          local axis = h5.attrs(file, gp).coordinate
          local x, t = shapes[gp .. "/x"], axis and shapes[gp .. "/" .. axis]
          if not (x and t and coord(axis, {0, 1, 1})) then
            say("%s lacks its points (x) or its coordinate (%s)", gp, tostring(axis))
          else
            local xs, ts = x.values:totable(), t.values:totable()
            if type(xs[1]) ~= "table" then xs = {xs} end
            if #xs ~= #ts then say("%s: %d points but %d values of %s", gp, #xs, #ts, axis) end
            for i = 1, math.min(#xs, #ts) do
              -- luacheck: ignore 581 (false for NaN too)
              if not (math.abs(coord(axis, xs[i]) - ts[i]) <= tol * math.max(1, math.abs(ts[i]))) then
                say("%s: point %d is at %s = %.12g, its %s says %.12g", gp, i, axis, coord(axis, xs[i]), axis, ts[i])
                break
              end
            end
          end
        end
      end
    end
  end
  -- tables: columns of one length (the label's)
  for _, tname in ipairs({"/table1", "/table2"}) do
    local lab = shapes[tname .. "/label"]
    if not lab then
      say("%s has no label column", tname)
    else
      for _, e in ipairs(h5.list(file, tname)) do
        local s = shapes[tname .. "/" .. e.name]
        if s and (#s.shape ~= 1 or s.shape[1] ~= lab.shape[1]) then
          say("%s/%s has %d rows, its label %d", tname, e.name, s.shape[1], lab.shape[1])
        end
      end
    end
  end
  -- the chain in emcee's layout
  local M = "/gnfw/mcmc"
  local ch, lp, ac = shapes[M .. "/chain"], shapes[M .. "/log_prob"], shapes[M .. "/accepted"]
  if not (ch and lp and ac) then
    say("%s lacks chain, log_prob or accepted", M)
  else
    local at = h5.attrs(file, M)
    local R, Wk, D = table.unpack(ch.shape)
    for k, want in pairs({iteration = R, nwalkers = Wk, ndim = D}) do
      if at[k] ~= want then
        say("%s: attribute %s is %s, the chain says %s", M, k, tostring(at[k]), tostring(want))
      end
    end
    if at.has_blobs ~= 0 then say("%s: has_blobs must be 0 (false)", M) end
    if type(at.version) ~= "string" then say("%s has no version attribute", M) end
    if #ch.shape ~= 3 then say("%s/chain has %d axes, 3 expected", M, #ch.shape) end
    if lp.shape[1] ~= R or lp.shape[2] ~= Wk then say("%s/log_prob is not iteration x nwalkers", M) end
    if #ac.shape ~= 1 or ac.shape[1] ~= Wk then say("%s/accepted is not one number per walker", M) end
  end
  return bad
end

return results

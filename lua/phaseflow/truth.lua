-- pf.truth: the exact answers of a mock galaxy at any points.
--
--   local t = pf.truth.at(points, {potential = pot, mock = mock})   -- points: N x 3 (kpc)
--   t.acceleration (N x 3, (km/s)^2/kpc), t.density (N, Msun/kpc^3),
--   t.density_smoothed (N, Msun/kpc^3: the total density convolved with the paper's
--   kernel), t.tracer_density (N: mock:df():n_x, stars per kpc^3 when normalised)
--   pf.truth.write("mock.h5", "/truth/points", t)
--   local r = pf.truth.kernel_rule()                 -- the quadrature, once
--   local rho_dm = pf.truth.smooth(dm_potential, points, r)   -- any density, same rule
--
-- The kernel is the paper's (pf.poisson): exp(-|u|^2/2), u = (x - x0)/h,
-- h = (0.5, 0.5, 0.2) kpc, truncated at |u| = 2, normalised over the truncated ellipsoid.
-- The convolution is a deterministic product Gauss rule in u-space (pf.poisson.kernel_rule,
-- include/phaseflow/poisson.h): n Gauss-Legendre radii on [0, 2] x n Gauss-Legendre
-- nodes in cos(theta) x 2n equal steps in phi, n = 16 by default (8,192 points per
-- location). It converges exponentially for a smooth density: for the default mock at
-- the Sun the default rule agrees with the 32 x 32 x 64 rule to ~1e-11 (tests/truth_spec.lua);
-- the QMC kernel points the pipeline's own estimator uses (pf.poisson.kernel_points) were
-- ~3e-4 off at 3,200 points. The estimator keeps its QMC points: only the truth is exact.
local core = require "phaseflow.core"
local strict = require "phaseflow.strict"

local array = core.array
local truth = {}

--- Default rule size n: n radial x n polar x 2n azimuthal nodes.
truth.RULE = 16
--- Rows of positions evaluated at once by truth.smooth (bounds the memory, not the result).
truth.CHUNK_ROWS = 2 ^ 18

local RULE_OPTS = { h = true, truncate = true, rule = true, points = true, seed = true }
local KNOWN = { potential = true, mock = true, df = true, h = true, truncate = true,
  rule = true, points = true, seed = true }

--- Points per location of the rule of size n.
function truth.rule_points(n) return 2 * n * n * n end

--- The size n of the smallest rule with at least `points` points.
function truth.rule_for(points)
  local n = 1
  while truth.rule_points(n) < points do n = n + 1 end
  return n
end

local function rule_size(opts, fname)
  local n, p = opts.rule, opts.points
  if n ~= nil and p ~= nil then
    error(("%s: give 'rule' (nodes per radius) or 'points' (a point budget), not both"):format(fname), 3)
  end
  if n ~= nil then
    if math.type(n) ~= "integer" or n < 1 or n > 1000 then
      error(("%s: option 'rule' must be an integer in [1, 1000] (nodes per radius), got %s")
        :format(fname, tostring(n)), 3)
    end
    return n
  end
  if p ~= nil then
    if math.type(p) ~= "integer" or p < 1 or p > truth.rule_points(1000) then
      error(("%s: option 'points' must be an integer in [1, %d], got %s")
        :format(fname, truth.rule_points(1000), tostring(p)), 3)
    end
    return truth.rule_for(p)
  end
  return truth.RULE
end

--- The kernel's product Gauss rule: {offset (P x 3, kpc), weight (P, summing to 1), n,
--- points = P, radial, polar, azimuthal, name, mass, Z, h, truncate}. Options: h,
--- truncate; rule = n (default truth.RULE) or points = a budget (the smallest rule with at
--- least that many points: what callers sized for QMC points ask for); seed is accepted
--- and has no effect (the rule is deterministic).
function truth.kernel_rule(opts)
  opts = opts or {}
  strict.options(opts, RULE_OPTS, "pf.truth.kernel_rule")
  local n = rule_size(opts, "pf.truth.kernel_rule")
  local r = core.poisson.kernel_rule{ h = opts.h, truncate = opts.truncate, radial = n, polar = n,
    azimuthal = 2 * n }
  r.n, r.points = n, truth.rule_points(n)
  r.name = ("product Gauss rule in u = (x - x0)/h: %d Gauss-Legendre radii on [0, %g] x %d "
    .. "Gauss-Legendre cos(theta) x %d trapezoid phi"):format(n, r.truncate, n, 2 * n)
  return r
end

local function evaluator(source, fname)
  if type(source) == "function" then return source end
  local ok = (type(source) == "table" or type(source) == "userdata") and source.density
  if not ok then
    error(("%s: a density (function of N x 3 positions, or an object with :density) expected")
      :format(fname), 3)
  end
  return function(x) return source:density(x) end
end

--- (g * K)(x0) at every row of x0 (N x 3 array or list of {x, y, z}) for a density g:
--- a function of an M x 3 array returning M values, or an object with :density (a
--- potential). `rule` is a table from truth.kernel_rule, or the options it takes.
function truth.smooth(source, x0, rule)
  local eval = evaluator(source, "pf.truth.smooth")
  local x = array.is_array(x0) and x0 or array.from(x0)
  if x:ndim() ~= 2 or select(2, x:shape()) ~= 3 then
    error("pf.truth.smooth: positions must be an N x 3 array (kpc)", 2)
  end
  if not (type(rule) == "table" and rule.offset and rule.weight) then
    rule = truth.kernel_rule(rule)
  end
  local n0 = (x:shape())
  local P = rule.points or (rule.offset:shape())
  local out = array.zeros(n0)
  local per = math.max(1, math.floor(truth.CHUNK_ROWS / P))
  local ones, w = array.ones(P, 1), rule.weight:reshape(P, 1)
  for i0 = 1, n0, per do
    local i1 = math.min(n0, i0 + per - 1)
    local xs = {}
    for i = i0, i1 do xs[#xs + 1] = rule.offset + ones:matmul(x:rows(i, i)) end
    local v = eval(#xs == 1 and xs[1] or array.vstack(xs))
    local m = i1 - i0 + 1
    if not array.is_array(v) or v:size() ~= m * P then
      error(("pf.truth.smooth: the density gave %s values for %d positions")
        :format(array.is_array(v) and tostring(v:size()) or type(v), m * P), 2)
    end
    local s = v:reshape(m, P):matmul(w)
    for i = i0, i1 do out:set(i, s:get(i - i0 + 1, 1)) end
  end
  return out
end

--- Exact truth at `points` (N x 3 array or a list of {x, y, z}). Options: potential
--- (required: anything with acceleration and density), mock (its df gives the tracer
--- density) or df (an object with n_x), h, truncate, rule or points (the kernel rule's
--- size, see truth.kernel_rule), seed (no effect).
function truth.at(points, opts)
  opts = opts or {}
  strict.options(opts, KNOWN, "pf.truth.at")
  local pot = opts.potential or (opts.mock and opts.mock.potential)
  if not pot then error("pf.truth.at: option 'potential' (or a mock with one) is required", 2) end
  local x = array.is_array(points) and points or array.from(points)
  if x:ndim() ~= 2 or select(2, x:shape()) ~= 3 then
    error("pf.truth.at: points must be an N x 3 array (kpc)", 2)
  end
  local rule = truth.kernel_rule{ h = opts.h, truncate = opts.truncate, rule = opts.rule,
    points = opts.points }
  local t = { x = x }
  t.acceleration = pot:acceleration(x)
  t.density = pot:density(x)
  t.density_smoothed = truth.smooth(pot, x, rule)
  t.h = rule.h
  t.truncate = rule.truncate
  t.kernel_points = rule.points
  t.rule = { radial = rule.radial, polar = rule.polar, azimuthal = rule.azimuthal, name = rule.name }
  local df = opts.df or (opts.mock and opts.mock:df())
  if df then t.tracer_density = df:n_x(x) end
  return t
end

--- Store a truth table under `group` of an HDF5 file, with units and the kernel.
function truth.write(file, group, t)
  local h5 = require "phaseflow.h5"
  h5.write(file, group .. "/x", t.x, { unit = "kpc" })
  h5.write(file, group .. "/acceleration", t.acceleration, { unit = "(km/s)^2/kpc" })
  h5.write(file, group .. "/density", t.density, { unit = "Msun/kpc^3" })
  local r = t.rule or {}
  h5.write(file, group .. "/density_smoothed", t.density_smoothed, { unit = "Msun/kpc^3",
    kernel = "exp(-|u|^2/2), u = (x - x0)/h, truncated at |u| = truncate, unit-normalised",
    h = table.concat(t.h, ","), truncate = t.truncate, points = t.kernel_points,
    rule = r.name, rule_radial = r.radial, rule_polar = r.polar, rule_azimuthal = r.azimuthal })
  if t.tracer_density then
    h5.write(file, group .. "/tracer_density", t.tracer_density, { unit = "stars/kpc^3",
      source = "mock:df():n_x" })
  end
end

return truth

-- pf.score: one pipeline run (DIR/results.h5, written by pf.report) scored against an exact
-- truth, the same way for every run, so that runs and versions compare by numbers.
--
--   local T = pf.score.truth("mwpotential2014")        -- or "mock.h5", "model.lua", a table
--   local s = pf.score.run("out/test/results.h5", T, {kernel_points = 3200})
--   print(pf.score.format(s))
--   pf.score.write("score.h5", s)                       -- every number; group "/" or opts.group
--
-- What is scored (units inside: (km/s)^2/kpc, Msun/kpc^3; the table prints 1e-10 m/s^2 and
-- 1e-2 Msun/pc^3):
--   a_sun        |a - a_true| / |a_true| of the ball-averaged acceleration at the Sun (the
--                truth averaged over the same ball points, pf.cbe.ball_points with the run's
--                centre, radius, count and seed) and the pull (a - a_true) / sigma per
--                Cartesian component
--   acc          every acceleration curve (/curves/acc/*): | |a| - |a_true| | / |a_true| at each
--                point (points the run ball-averaged get the ball-averaged truth), median and
--                90th percentile per family and over all; beside it the same of |a - a_true| /
--                |a_true|
--   north_south  along the r-lines (and the phi-curves): median |a_r(N)/a_r(S) - 1| and
--                median |a_theta(N) + a_theta(S)| / |a| (|a| = mean of N and S), for the run
--                and for the truth (0 for a mirror-symmetric truth)
--   density      rho*K at the Sun and along each density curve against the total density
--                smoothed by the same kernel with a fixed, large number of kernel points
--                (opts.kernel_points, 3200): relative error, median and 90th percentile, and
--                how many locations the run left NaN
--   rho_dm_rsun  the run's weighted average of rho_DM*K over its independent points against
--                the truth's dark matter smoothed and averaged with the same weights (only
--                when the truth has `dm`)
--   calibration  fraction of values with |rec - true| <= sigma and RMS of (rec - true)/sigma
--                for the acceleration curves (every Cartesian component), the density
--                locations (non-NaN) and both; sigma = 0 or NaN (or a NaN acceleration)
--                counts as not covered and is counted apart
-- Percentiles interpolate linearly between order statistics (array:quantile, numpy's
-- default) over the finite values.
--
-- Mistakes a user can fix (a missing or old results file, a bad truth) raise a score error:
-- a table with `message` and __tostring; pf.score.is_error(e) tells it from a bug.
local core = require "phaseflow.core"
require "phaseflow.array" -- array:quantile
local h5 = require "phaseflow.h5"
local cbe = require "phaseflow.cbe"
local equilibrium = require "phaseflow.equilibrium"
local truthmod = require "phaseflow.truth"
local poisson = require "phaseflow.poisson"
local darkmatter = require "phaseflow.darkmatter"
local units = require "phaseflow.units"
local array = core.array

local score = {}

score.KERNEL_POINTS = 3200
-- the order of the tables; names results.h5 holds beyond these follow alphabetically
score.ACC_ORDER = {"r_north", "r_south", "phi_north", "phi_south", "arc"}
score.DENSITY_ORDER = {"sun", "phi0", "phi_plus", "phi_minus", "gnfw"}

local ScoreError = {}
ScoreError.__index = ScoreError
ScoreError.__tostring = function(e) return e.message end

local function fail(fmt, ...)
  error(setmetatable({message = fmt:format(...)}, ScoreError), 0)
end

--- True when `e` is an error raised for a mistake in the inputs (not a bug).
function score.is_error(e) return getmetatable(e) == ScoreError end

local NAN = 0 / 0

local function finite(x) return x == x and x > -math.huge and x < math.huge end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- truth models ------------------------------------------------------------------------

local SUN = array.from{require("phaseflow.geometry").SUN}

-- A potential-like object: `what` names it in the message. Evaluated once at the Sun so
-- that a broken model fails here, with its name, rather than deep inside a score.
local function check_potential(spec, p, what, need_acc)
  local t = type(p)
  local ok, dens = pcall(function() return p.density end)
  if (t ~= "table" and t ~= "userdata") or not ok or dens == nil then
    fail("TRUTH %s: '%s' must be a potential object (with :density%s), got %s", spec, what,
      need_acc and " and :acceleration" or "", t)
  end
  local okd, d = pcall(p.density, p, SUN)
  if not okd or not array.is_array(d) or d:size() ~= 1 or not finite(d:get(1)) then
    fail("TRUTH %s: %s:density at the Sun does not give one finite number (got %s)", spec, what, tostring(d))
  end
  if need_acc then
    local oka, a = pcall(function() return p:acceleration(SUN) end)
    if not oka or not array.is_array(a) or a:size() ~= 3 or a:isfinite():min() < 1 then
      fail("TRUTH %s: %s:acceleration at the Sun does not give 3 finite numbers (got %s)", spec, what,
        tostring(a))
    end
  end
end

local function check_model(spec, m)
  if type(m) ~= "table" then
    fail("TRUTH %s: a table {potential = ..., dm = ..., baryons = ...} expected, got %s", spec, type(m))
  end
  if m.potential == nil then fail("TRUTH %s: the table has no 'potential'", spec) end
  check_potential(spec, m.potential, "potential", true)
  if m.dm ~= nil then check_potential(spec, m.dm, "dm") end
  if m.baryons ~= nil then check_potential(spec, m.baryons, "baryons") end
  return m
end

--- MWPotential2014 split as the pipeline splits it (the default mock galaxy,
--- pf.mock.truth_model): dark matter = the NFW halo, baryons = the bulge + the disk.
function score.mwpotential2014()
  local m = require("phaseflow.mock").truth_model("default")
  return {name = "MWPotential2014", potential = m.potential, dm = m.dm, baryons = m.baryons}
end

--- The truth a run is scored against: {name, potential, dm (or nil), baryons (or nil),
--- note (or nil)}. `spec`: a table {potential = P, dm = Pdm, baryons = Pb, name = "..."}
--- (returned checked), the word "mwpotential2014", a mock galaxy's name (pf.mock.VARIANTS:
--- default, hot, heavy), a Lua file returning such a table, or a mock's truth file
--- (mock.h5, whose recorded galaxy pf.mock.truth_model rebuilds).
function score.truth(spec)
  if type(spec) == "table" then
    local m = check_model("(table)", spec)
    return {name = m.name or "the given model", potential = m.potential, dm = m.dm,
            baryons = m.baryons, note = m.note}
  end
  if type(spec) ~= "string" or spec == "" then
    fail("TRUTH: a mock truth file, 'mwpotential2014' or a Lua file expected, got %s", type(spec))
  end
  if spec:lower() == "mwpotential2014" then return score.mwpotential2014() end
  local mock = require "phaseflow.mock"
  if mock.VARIANTS[spec] then
    local m = mock.truth_model(spec)
    return {name = ("mock galaxy '%s'"):format(spec), potential = m.potential, dm = m.dm, baryons = m.baryons}
  end
  local q = ("'%s'"):format(spec)
  if not file_exists(spec) then
    fail("TRUTH %s: no such file (and not a built-in model: mwpotential2014, %s)", q,
      table.concat(mock.variant_names, ", "))
  end
  if spec:match("%.lua$") then
    local chunk, err = loadfile(spec, "t")
    if not chunk then fail("TRUTH %s: %s", q, tostring(err)) end
    local ok, m = pcall(chunk)
    if not ok then fail("TRUTH %s: running it failed: %s", q, tostring(m)) end
    m = check_model(q, m)
    return {name = m.name or spec, potential = m.potential, dm = m.dm, baryons = m.baryons, note = m.note}
  end
  local okh, has = pcall(h5.exists, spec, "/truth")
  if not okh then fail("TRUTH %s: neither a Lua file nor a readable HDF5 file", q) end
  if not has then fail("TRUTH %s: not a mock truth file (no /truth group; made by scripts/make-mock.lua?)", q) end
  local ok, m = pcall(mock.truth_model, spec)
  if not ok then fail("TRUTH %s: %s", q, tostring(m)) end
  m = check_model(q, m)
  return {name = ("mock galaxy '%s' (%s)"):format(tostring(m.name or "?"), spec), potential = m.potential, dm = m.dm,
          baryons = m.baryons, note = m.note}
end

-- reading results.h5 ------------------------------------------------------------------

local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end

local function ordered(names, order)
  local rank = {}
  for i, n in ipairs(order) do rank[n] = i end
  table.sort(names, function(a, b)
    local ra, rb = rank[a] or math.huge, rank[b] or math.huge
    if ra ~= rb then return ra < rb end
    return a < b
  end)
  return names
end

local function groups_in(file, path)
  local out = {}
  for _, e in ipairs(h5.list(file, path)) do
    if e.kind == "group" then out[#out + 1] = e.name end
  end
  return out
end

--- Read what the scorer needs from a results file; a missing file, a file that is not
--- HDF5 or a dataset an older build did not write is a score error naming it.
function score.read(path)
  if type(path) ~= "string" or not file_exists(path) then
    fail("RESULTS %s: no such file", ("'%s'"):format(tostring(path)))
  end
  local okh, root = pcall(h5.attrs, path, "/")
  if not okh then fail("RESULTS '%s': not a readable HDF5 file", path) end
  local made = root.git_commit and (" (git " .. tostring(root.git_commit) .. ")") or ""
  local function old(what)
    fail("RESULTS '%s' lacks %s: it was made by an older build of phaseflow%s or is not a pipeline "
      .. "results file; re-make it with `phaseflow scripts/paper.lua --out %s --only report --force`",
      path, what, made, dirname(path))
  end
  local function exists(p)
    local ok, has = pcall(h5.exists, path, p)
    if not (ok and has) then old(p) end
  end
  local function need(ds)
    exists(ds)
    local okr, a, attrs = pcall(h5.read, path, ds)
    if not okr then fail("RESULTS '%s': %s does not read (%s)", path, ds, tostring(a)) end
    return a, attrs
  end
  -- a dataset of n (x d) numbers, as an n (x d) array
  local function shaped(ds, n, d)
    local a = need(ds)
    if a:size() ~= n * (d or 1) then
      fail("RESULTS '%s': %s holds %d numbers, %d expected", path, ds, a:size(), n * (d or 1))
    end
    return d and a:reshape(n, d) or a:reshape(n)
  end
  local function num(ds) return shaped(ds, 1):get(1) end
  local function int(ds)
    local v = math.tointeger(num(ds))
    if not v or v < 1 then fail("RESULTS '%s': %s must be a positive integer", path, ds) end
    return v
  end
  local R = {path = path, git = root.git_commit}
  R.sun = {value = shaped("/sun/value", 3), sigma = shaped("/sun/sigma", 3), center = shaped("/sun/center", 3),
           radius = num("/sun/radius"), points = int("/sun/ball_points"), seed = int("/sun/point_seed")}
  exists("/curves/acc")
  R.acc, R.acc_names = {}, ordered(groups_in(path, "/curves/acc"), score.ACC_ORDER)
  for _, n in ipairs(R.acc_names) do
    local g = "/curves/acc/" .. n
    local m = need(g .. "/x"):size() // 3
    R.acc[n] = {x = shaped(g .. "/x", m, 3), value = shaped(g .. "/value", m, 3),
                sigma = shaped(g .. "/sigma", m, 3), ball = shaped(g .. "/ball", m)}
  end
  exists("/curves/density")
  local dattrs = h5.attrs(path, "/curves/density")
  if type(dattrs.kernel_h) ~= "table" or #dattrs.kernel_h ~= 3 or type(dattrs.kernel_truncate) ~= "number" then
    old("the attributes kernel_h and kernel_truncate of /curves/density")
  end
  R.kernel = {h = dattrs.kernel_h, truncate = dattrs.kernel_truncate}
  R.density, R.density_names = {}, ordered(groups_in(path, "/curves/density"), score.DENSITY_ORDER)
  for _, n in ipairs(R.density_names) do
    local g = "/curves/density/" .. n
    local m = need(g .. "/x"):size() // 3
    R.density[n] = {x = shaped(g .. "/x", m, 3), rho = shaped(g .. "/rho", m), rho_err = shaped(g .. "/rho_err", m)}
  end
  local ind, iattrs = need("/average/independent")
  local set = iattrs.set or "gnfw"
  if not R.density[set] then exists("/curves/density/" .. set) end
  local nset = (R.density[set].x:shape())
  local idx = ind:totable()
  for i, k in ipairs(idx) do
    idx[i] = math.tointeger(k)
    if not idx[i] or idx[i] < 1 or idx[i] > nset then
      fail("RESULTS '%s': /average/independent: %g is not a location of /curves/density/%s (1..%d)", path,
        k, set, nset)
    end
  end
  R.average = {value = num("/average/value"), sigma = num("/average/sigma"), chi2 = num("/average/chi2"),
               independent = idx, set = set, weights_sigma = shaped("/average/weights_sigma", #idx):totable()}
  return R
end

-- small numerics ------------------------------------------------------------------------

-- median and 90th percentile of the finite values of a list (NaN when there are none)
local function pct(list)
  local f = {}
  for _, v in ipairs(list) do if finite(v) then f[#f + 1] = v end end
  if #f == 0 then return NAN, NAN, 0 end
  local q = array.from(f):quantile{0.5, 0.9}
  return q[1], q[2], #f
end

local function norm3(t) return math.sqrt(t[1] ^ 2 + t[2] ^ 2 + t[3] ^ 2) end

-- the truth's acceleration at the rows of x; rows flagged in `ball` averaged over the run's
-- ball points around them (as the pipeline's accelerations step does)
local function acc_truth(pot, x, ball, sun)
  local t = pot:acceleration(x)
  local flags = ball:totable()
  for i, f in ipairs(flags) do
    if f ~= 0 then
      local m = pot:acceleration(cbe.ball_points(x:rows(i, i):copy(), sun.radius, sun.points, sun.seed)):mean(1)
      for j = 1, 3 do t:set(i, j, m:get(j)) end
    end
  end
  return t
end

-- a calibration tally: n values, covered, bad (sigma not > 0 or not finite, or no value),
-- sum of z^2 over the good ones
local function tally() return {n = 0, covered = 0, bad = 0, good = 0, z2 = 0} end

local function count(c, rec, tr, s)
  c.n = c.n + 1
  if not (s > 0 and s < math.huge) or not finite(rec) then c.bad = c.bad + 1 return end
  local z = (rec - tr) / s
  c.good, c.z2 = c.good + 1, c.z2 + z * z
  if math.abs(rec - tr) <= s then c.covered = c.covered + 1 end
end

local function close(c)
  c.fraction = c.n > 0 and c.covered / c.n or NAN
  c.rms = c.good > 0 and math.sqrt(c.z2 / c.good) or NAN
  return c
end

-- North-South along a pair of curves: medians of |a_r(N)/a_r(S) - 1| and
-- |a_theta(N) + a_theta(S)| / |a| (|a| = mean of the two magnitudes); nil when the curves are
-- not each other's mirror images.
local function north_south(xn, xs, an, as)
  local nn, ns = (xn:shape()), (xs:shape())
  if nn ~= ns then return nil end
  local tn, ts = xn:totable(), xs:totable()
  for i = 1, nn do
    if math.abs(tn[i][1] - ts[i][1]) > 1e-9 or math.abs(tn[i][2] - ts[i][2]) > 1e-9
      or math.abs(tn[i][3] + ts[i][3]) > 1e-9 then return nil end
  end
  local arn, athn = equilibrium.spherical(xn, an)
  local ars, aths = equilibrium.spherical(xs, as)
  local mn, ms = an:norm_rows():totable(), as:norm_rows():totable()
  local ratio, theta = {}, {}
  for i = 1, nn do
    ratio[i] = math.abs(arn:get(i) / ars:get(i) - 1)
    theta[i] = math.abs(athn:get(i) + aths:get(i)) / ((mn[i] + ms[i]) / 2)
  end
  local r, t = pct(ratio), pct(theta)
  return {n = nn, ratio = r, theta = t, ratio_points = ratio, theta_points = theta}
end

-- scoring -----------------------------------------------------------------------------

--- Score results file `path` (or a table from pf.score.read) against truth `T` (from
--- pf.score.truth, or anything it takes). opts: kernel_points (3200: the truth's kernel
--- points, independent of the run), seed (1: of those points). Returns a table of every
--- number (see pf.score.format and pf.score.write).
function score.run(path, T, opts)
  opts = opts or {}
  local K = opts.kernel_points or score.KERNEL_POINTS
  if math.type(K) ~= "integer" or K < 4 then
    fail("--kernel-points must be an integer >= 4, got %s", tostring(K))
  end
  local R = type(path) == "table" and path or score.read(path)
  T = score.truth(T)
  local pot = T.potential
  local S = {results = R.path, truth = T.name, note = T.note, kernel_points = K, seed = opts.seed or 1}

  -- 1. the Sun: truth over the same ball points
  local sun = R.sun
  local bp = cbe.ball_points(sun.center:reshape(1, 3), sun.radius, sun.points, sun.seed)
  local ta = pot:acceleration(bp):mean(1)
  local v, s, t = sun.value:totable(), sun.sigma:totable(), ta:totable()
  local pull, diff = {}, {}
  for j = 1, 3 do
    diff[j] = v[j] - t[j]
    pull[j] = s[j] > 0 and diff[j] / s[j] or NAN
  end
  S.a_sun = {value = v, sigma = s, truth = t, pull = pull, rel_err = norm3(diff) / norm3(t),
             radius = sun.radius, points = sun.points, seed = sun.seed}

  -- 2. acceleration curves, and 6a. their calibration
  S.acc = {names = R.acc_names, rows = {}}
  local cal_acc = tally()
  local all_mag, all_vec = {}, {}
  for _, n in ipairs(R.acc_names) do
    local c = R.acc[n]
    local tr = acc_truth(pot, c.x, c.ball, sun)
    local vt, st, tt = c.value:totable(), c.sigma:totable(), tr:totable()
    local mag, vec = {}, {}
    for i = 1, #vt do
      local tm = norm3(tt[i])
      mag[i] = math.abs(norm3(vt[i]) - tm) / tm
      vec[i] = norm3({vt[i][1] - tt[i][1], vt[i][2] - tt[i][2], vt[i][3] - tt[i][3]}) / tm
      all_mag[#all_mag + 1], all_vec[#all_vec + 1] = mag[i], vec[i]
      for j = 1, 3 do count(cal_acc, vt[i][j], tt[i][j], st[i][j]) end
    end
    local m50, m90 = pct(mag)
    local v50, v90 = pct(vec)
    S.acc[n] = {truth = tr, rel_err = mag, rel_err_vec = vec, ball = c.ball:totable()}
    S.acc.rows[#S.acc.rows + 1] = {n, #vt, m50, m90, v50, v90}
  end
  do
    local m50, m90 = pct(all_mag)
    local v50, v90 = pct(all_vec)
    S.acc.rows[#S.acc.rows + 1] = {"all", #all_mag, m50, m90, v50, v90}
  end

  -- 3. North-South: the run's and the truth's, along the r-lines and the phi-curves
  S.north_south = {rows = {}}
  for _, ax in ipairs({"r", "phi"}) do
    local N, So = R.acc[ax .. "_north"], R.acc[ax .. "_south"]
    if N and So then
      local run = north_south(N.x, So.x, N.value, So.value)
      local tru = run and north_south(N.x, So.x, S.acc[ax .. "_north"].truth, S.acc[ax .. "_south"].truth)
      if run then
        S.north_south[ax] = {run = run, truth = tru}
        S.north_south.rows[#S.north_south.rows + 1] = {ax, run.n, run.ratio, run.theta, tru.ratio, tru.theta}
      end
    end
  end

  -- 4. rho*K against the kernel-smoothed truth, and 6b. its calibration
  local kopts = {potential = pot, points = K, seed = S.seed, h = R.kernel.h, truncate = R.kernel.truncate}
  S.density = {names = R.density_names, rows = {}}
  local cal_rho = tally()
  local all_rel = {}
  for _, n in ipairs(R.density_names) do
    local d = R.density[n]
    local tr = truthmod.at(d.x, kopts).density_smoothed
    local rt, et, tt = d.rho:totable(), d.rho_err:totable(), tr:totable()
    local rel, nan = {}, 0
    for i = 1, #rt do
      if rt[i] ~= rt[i] then
        nan, rel[i] = nan + 1, NAN
      else
        rel[i] = math.abs(rt[i] - tt[i]) / math.abs(tt[i])
        count(cal_rho, rt[i], tt[i], et[i])
        if n ~= "sun" then all_rel[#all_rel + 1] = rel[i] end
      end
    end
    S.density[n] = {truth = tr, rel_err = rel, n_nan = nan}
    if n == "sun" then
      S.rho_sun = {value = rt[1], sigma = et[1], truth = tt[1], rel_err = rel[1],
                   pull = et[1] > 0 and (rt[1] - tt[1]) / et[1] or NAN}
    else
      local m50, m90 = pct(rel)
      S.density.rows[#S.density.rows + 1] = {n, #rt, nan, m50, m90}
    end
  end
  do
    local m50, m90 = pct(all_rel)
    local n, nan = 0, 0
    for _, r in ipairs(S.density.rows) do n, nan = n + r[2], nan + r[3] end
    S.density.rows[#S.density.rows + 1] = {"all", n, nan, m50, m90}
  end

  -- 5. rho_DM(r_sun): the truth's dark matter, smoothed, averaged with the run's weights
  local av = R.average
  S.rho_dm_rsun = {value = av.value, sigma = av.sigma, chi2 = av.chi2, n = #av.independent}
  if T.dm then
    local x = R.density[av.set].x
    local xi = x:take(array.from(av.independent))
    local pts = poisson.kernel_points(xi, {points = K, seed = S.seed, h = R.kernel.h, truncate = R.kernel.truncate})
    local tdm = poisson.smooth(T.dm:density(pts.x), pts)
    local ok, m = pcall(darkmatter.weighted_mean, tdm, av.weights_sigma)
    if not ok then fail("RESULTS '%s': /average/weights_sigma: %s", tostring(R.path), tostring(m)) end
    local r = S.rho_dm_rsun
    r.truth, r.truth_points = m, tdm:totable()
    r.rel_err = math.abs(av.value - m) / math.abs(m)
    r.pull = av.sigma > 0 and (av.value - m) / av.sigma or NAN
  end

  -- 6. calibration
  local both = tally()
  for _, c in ipairs({cal_acc, cal_rho}) do
    for k in pairs(both) do both[k] = both[k] + c[k] end
  end
  S.calibration = {acc = close(cal_acc), density = close(cal_rho), all = close(both)}
  return S
end

-- output --------------------------------------------------------------------------------

local function pc(x) return x == x and ("%.2f%%"):format(100 * x) or "-" end
local function f3(x) return x == x and ("%.3f"):format(x) or "-" end
local function f2(x) return x == x and ("%.2f"):format(x) or "-" end

--- The scorer's table as text (a few short sections; units in the labels).
function score.format(S)
  local L = {}
  local function p(fmt, ...) L[#L + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end
  local A, Rh = units.acc_to_1e10, units.rho_to_1e2
  p("Score of %s against %s (truth kernel points %d)", S.results or "(results)", S.truth, S.kernel_points)
  if S.note then p("Note: %s", S.note) end
  p("")
  local a = S.a_sun
  p("1. Acceleration at the Sun (ball %.3f kpc, %d points, seed %d), 1e-10 m/s^2", a.radius, a.points, a.seed)
  p("   %-9s %9s %9s %9s %7s", "component", "run", "sigma", "truth", "pull")
  for j, c in ipairs({"a_x", "a_y", "a_z"}) do
    p("   %-9s %9s %9s %9s %7s", c, f3(A(a.value[j])), f3(A(a.sigma[j])), f3(A(a.truth[j])), f2(a.pull[j]))
  end
  p("   |a_sun - a_true| / |a_true| = %s", pc(a.rel_err))
  p("")
  p("2. Acceleration curves: relative error of |a| (and of the vector a)")
  p("   %-10s %6s %9s %9s %11s %11s", "family", "points", "median", "p90", "median vec", "p90 vec")
  for _, r in ipairs(S.acc.rows) do
    p("   %-10s %6d %9s %9s %11s %11s", r[1], r[2], pc(r[3]), pc(r[4]), pc(r[5]), pc(r[6]))
  end
  p("")
  p("3. North-South (medians over the pairs)       %8s %8s %8s", "pairs", "run", "truth")
  if #S.north_south.rows == 0 then p("   no mirrored North/South curves in the results") end
  for _, r in ipairs(S.north_south.rows) do
    local label = r[1] == "r" and "r-lines" or "phi-curves"
    p("   %-10s |a_r(N)/a_r(S) - 1|              %8d %8s %8s", label, r[2], pc(r[3]), pc(r[5]))
    p("   %-10s |a_theta(N) + a_theta(S)| / |a|  %8d %8s %8s", label, r[2], pc(r[4]), pc(r[6]))
  end
  p("")
  p("4. Kernel-smoothed density rho*K, 1e-2 Msun/pc^3")
  local rs = S.rho_sun
  if rs then
    p("   at the Sun: run %s ± %s, truth %s: error %s, pull %s", f3(Rh(rs.value)), f3(Rh(rs.sigma)),
      f3(Rh(rs.truth)), pc(rs.rel_err), f2(rs.pull))
  end
  p("   %-10s %9s %9s %9s %9s", "curve", "locations", "NaN", "median", "p90")
  for _, r in ipairs(S.density.rows) do
    p("   %-10s %9d %9s %9s %9s", r[1], r[2], ("%d/%d"):format(r[3], r[2]), pc(r[4]), pc(r[5]))
  end
  p("")
  local d = S.rho_dm_rsun
  p("5. rho_DM(r_sun), 1e-2 Msun/pc^3 (inverse-variance mean over %d independent points)", d.n)
  if d.truth then
    p("   run %s ± %s (chi2_nu %s), truth %s (same weights): error %s, pull %s", f3(Rh(d.value)),
      f3(Rh(d.sigma)), f2(d.chi2), f3(Rh(d.truth)), pc(d.rel_err), f2(d.pull))
  else
    p("   run %s ± %s (chi2_nu %s); not scored: the truth has no dark matter (dm)", f3(Rh(d.value)),
      f3(Rh(d.sigma)), f2(d.chi2))
  end
  p("")
  p("6. Calibration: |rec - true| <= 1 sigma")
  p("   %-13s %7s %8s %9s %17s %12s", "values", "n", "covered", "fraction", "RMS (rec-true)/s", "sigma 0/NaN")
  for _, k in ipairs({"acc", "density", "all"}) do
    local c = S.calibration[k]
    local label = k == "acc" and "acc. curves" or k == "density" and "density" or "both"
    p("   %-13s %7d %8d %9s %17s %12d", label, c.n, c.covered, pc(c.fraction), f3(c.rms), c.bad)
  end
  return table.concat(L, "\n")
end

local function matrix(rows, first)
  local m, labels = {}, {}
  for i, r in ipairs(rows) do
    labels[i] = r[1]
    local nums = {}
    for k = first, #r do nums[#nums + 1] = r[k] end
    m[i] = nums
  end
  return array.from(m), table.concat(labels, ",")
end

--- Write every number of a score into HDF5 `file` under `group` ("/" by default; the
--- report uses "/score" of results.h5). Layout: a_sun/{value,sigma,truth,pull,rel_err},
--- acc/NAME/{truth,rel_err,rel_err_vec}, acc/summary, north_south/summary and
--- north_south/AXIS/{ratio,theta}, density/NAME/{truth,rel_err}, density/summary,
--- rho_sun, rho_dm_rsun, calibration (tables: attributes rows and columns).
function score.write(file, S, group)
  local g = (group or "/"):gsub("/$", "")
  local function w(path, a, attrs)
    if type(a) == "number" then a = {a} end
    if type(a) == "table" then a = array.from(a) end
    h5.write(file, g .. path, a, attrs)
  end
  local ACC, RHO = {unit = "(km/s)^2/kpc"}, {unit = "Msun/kpc^3"}
  local a = S.a_sun
  w("/a_sun/value", a.value, ACC); w("/a_sun/sigma", a.sigma, ACC); w("/a_sun/truth", a.truth, ACC)
  w("/a_sun/pull", a.pull); w("/a_sun/rel_err", a.rel_err)
  for _, n in ipairs(S.acc.names) do
    w("/acc/" .. n .. "/truth", S.acc[n].truth, ACC)
    w("/acc/" .. n .. "/rel_err", S.acc[n].rel_err, {quantity = "| |a| - |a_true| | / |a_true|"})
    w("/acc/" .. n .. "/rel_err_vec", S.acc[n].rel_err_vec, {quantity = "|a - a_true| / |a_true|"})
  end
  local m, rows = matrix(S.acc.rows, 2)
  w("/acc/summary", m, {rows = rows, columns = "points,median,p90,median_vec,p90_vec"})
  if #S.north_south.rows > 0 then
    m, rows = matrix(S.north_south.rows, 2)
    w("/north_south/summary", m, {rows = rows,
      columns = "pairs,ratio_run,theta_run,ratio_truth,theta_truth",
      quantity = "medians of |a_r(N)/a_r(S) - 1| and |a_theta(N) + a_theta(S)| / |a|"})
    for _, r in ipairs(S.north_south.rows) do
      local ns = S.north_south[r[1]]
      w("/north_south/" .. r[1] .. "/ratio", ns.run.ratio_points)
      w("/north_south/" .. r[1] .. "/theta", ns.run.theta_points)
    end
  end
  for _, n in ipairs(S.density.names) do
    w("/density/" .. n .. "/truth", S.density[n].truth, RHO)
    w("/density/" .. n .. "/rel_err", S.density[n].rel_err)
  end
  m, rows = matrix(S.density.rows, 2)
  w("/density/summary", m, {rows = rows, columns = "locations,nan,median,p90"})
  if S.rho_sun then
    local r = S.rho_sun
    w("/rho_sun", {r.value, r.sigma, r.truth, r.rel_err, r.pull},
      {columns = "value,sigma,truth,rel_err,pull", unit = "Msun/kpc^3 (value, sigma, truth)"})
  end
  local d = S.rho_dm_rsun
  w("/rho_dm_rsun", {d.value, d.sigma, d.truth or NAN, d.rel_err or NAN, d.pull or NAN, d.chi2, d.n},
    {columns = "value,sigma,truth,rel_err,pull,chi2_nu,points", unit = "Msun/kpc^3 (value, sigma, truth)"})
  local c = {}
  for i, k in ipairs({"acc", "density", "all"}) do
    local t = S.calibration[k]
    c[i] = {k, t.n, t.covered, t.fraction, t.rms, t.bad}
  end
  m, rows = matrix(c, 2)
  w("/calibration", m, {rows = rows, columns = "n,covered,fraction,rms_z,sigma_zero_or_nan"})
  local top = g == "" and "/" or g
  h5.set_attrs(file, top, {score_truth = S.truth, score_kernel_points = S.kernel_points,
    score_kernel_seed = S.seed, score_results = S.results or "", score_note = S.note or ""})
end

--- Write a score to `file` through a temporary name renamed at the end (no half-written
--- file under the final name).
function score.save(file, S)
  local tmp = file .. ".part"
  os.remove(tmp)
  local ok, err = pcall(score.write, tmp, S, "/")
  if not ok then
    os.remove(tmp)
    fail("--out '%s': writing failed: %s", file, tostring(err))
  end
  local okr, rerr = os.rename(tmp, file)
  if not okr then
    os.remove(tmp)
    fail("--out '%s': %s", file, tostring(rerr))
  end
end

return score

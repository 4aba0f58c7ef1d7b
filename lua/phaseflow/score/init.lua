-- pf.score: one pipeline run (DIR/results.h5, written by pf.results) scored against an exact
-- truth, the same way for every run, so that runs and versions compare by numbers.
--
--   local T = pf.score.truth("mwpotential2014")        -- or "mock.h5", "model.lua", a table
--   local s = pf.score.run("out/test/results.h5", T, {kernel_points = 8192})
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
--                smoothed by the same kernel with pf.truth's product Gauss rule (the smallest
--                rule with at least opts.kernel_points points, default the 16 x 16 x 32 rule,
--                8,192 points, converged to ~1e-10): relative error, median and p90, and
--                how many locations the run left NaN
--   rho_dm_rsun  the run's weighted average of rho_DM*K over its independent points against
--                the truth's dark matter smoothed by the same rule and averaged with the same weights (only
--                when the truth has `dm`)
--   calibration  fraction of values with |rec - true| <= sigma and RMS of (rec - true)/sigma
--                for the acceleration curves (every Cartesian component), the density
--                locations (non-NaN) and both; sigma = 0 or NaN (or a NaN acceleration)
--                counts as not covered and is counted apart
-- Percentiles interpolate linearly between order statistics (array:quantile, numpy's
-- default) over the finite values.
--
-- The parts: score/truth.lua (truth models), score/results.lua (reading results.h5),
-- score/output.lua (text and HDF5), score/errors.lua (the user-error type); this file scores.
local core = require "phaseflow.core"
require "phaseflow.array" -- array:quantile
local cbe = require "phaseflow.cbe"
local equilibrium = require "phaseflow.equilibrium"
local truthmod = require "phaseflow.truth"
local darkmatter = require "phaseflow.darkmatter"
local errors = require "phaseflow.score.errors"
local models = require "phaseflow.score.truth"
local results = require "phaseflow.score.results"
local output = require "phaseflow.score.output"
local array = core.array

local score = {}

-- the truth's kernel quadrature: pf.truth's default product Gauss rule (16 x 16 x 32)
score.KERNEL_POINTS = truthmod.rule_points(truthmod.RULE)
score.ACC_ORDER, score.DENSITY_ORDER = results.ACC_ORDER, results.DENSITY_ORDER
score.is_error = errors.is_error
score.truth, score.mwpotential2014 = models.truth, models.mwpotential2014
score.read = results.read
score.format, score.write, score.save = output.format, output.write, output.save

local fail, finite = errors.fail, errors.finite
local NAN = 0 / 0

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
--- pf.score.truth, or anything it takes). opts: kernel_points (score.KERNEL_POINTS: a
--- point budget for the truth's kernel rule, pf.truth.kernel_rule; independent of the run),
--- seed (recorded; the rule is deterministic). Returns a table of every number (see
--- pf.score.format and pf.score.write).
function score.run(path, T, opts)
  opts = opts or {}
  local K = opts.kernel_points or score.KERNEL_POINTS
  if math.type(K) ~= "integer" or K < 4 then
    fail("--kernel-points must be an integer >= 4, got %s", tostring(K))
  end
  local R = type(path) == "table" and path or score.read(path)
  T = score.truth(T)
  local pot = T.potential
  -- the rule's own point count (K is a budget: the smallest rule with at least K points)
  local S = {results = R.path, truth = T.name, note = T.note, seed = opts.seed or 1,
             kernel_points = truthmod.rule_points(truthmod.rule_for(K))}

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
    local tdm = truthmod.smooth(T.dm, xi, {points = K, h = R.kernel.h, truncate = R.kernel.truncate})
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

return score

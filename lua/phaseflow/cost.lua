-- pf.cost: what a pipeline run (pf.pipeline) of a preset costs, projected from per-unit
-- costs measured on the machine at hand (scripts/cost.lua prints the table).
--
--   local o = pf.presets.get("quick")
--   local counts = pf.cost.counts(o)                 -- pure: jobs, positions, kernel points
--   local rates = pf.cost.calibrate(o)               -- timing: a few seconds per kind of work
--   local rows, total = pf.cost.project(counts, rates, {threads = 8})
--
-- Three parts, kept apart so that the counting can be tested exactly:
--   counting    pure functions of a preset (and of the number of selected stars): the
--               resamples, flow jobs, phase-space densities evaluated, acceleration
--               positions and density kernel points, mirroring pf.pipeline's P:variants(),
--               P:densities_f() and P:density_points() (tests/cost_spec.lua checks them
--               against a pipeline object);
--   calibration short timings of the pipeline's own code on synthetic inputs (flows of the
--               preset's architecture, 1-3 epochs; accelerations at the preset's nv; a small
--               mock through the catalogue step; a short MCMC);
--   projection  counts x per-unit costs: linear in every count.
-- Seconds are wall seconds with the calibration's thread count; another thread count T
-- scales them by threads / T (perfect scaling assumed), and core-hours are seconds x
-- threads / 3600 whatever T is.
local core = require "phaseflow.core"
local geometry = require "phaseflow.geometry"
local poisson = require "phaseflow.poisson"

local cost = {}

-- Stars within 4 kpc per mock star (mock radius 10 kpc, the paper's cuts): the quick
-- preset's mock in README.md / docs/pipeline.md, 73,221 of 1,000,000.
cost.SELECTED_FRACTION = 0.0732
-- The 10 kpc sample (cut flow up to the speed cut, the stars the smeared resamples redraw)
-- per mock star: 60,981 of 200,000 for pf.mock.make_files{stars = 200000, seed = 1}.
cost.SAMPLE10_FRACTION = 0.305

-- Steps too small to model (seconds at every preset: not measured, not in the total). A
-- step of pf.pipeline.steps neither modelled by cost.seconds nor listed here gets a row
-- saying it is not modelled.
cost.SMALL = {
  baryons = "the baryon model smoothed at the density locations (analytic, >= 400 kernel points each)",
  darkmatter = "subtractions and error budgets over the density locations",
  average = "a weighted mean over the independent points",
  report = "tables, results.h5 and the figures (gnuplot)",
}

local function copy(t)
  local o = {}
  for k, v in pairs(t) do o[k] = type(v) == "table" and copy(v) or v end
  return o
end

-- counting --------------------------------------------------------------------------

--- The resamples a run trains (as P:variants()): {kind, index, members, name, alt, o}, with
-- o the preset as the flows step sees it for that variant (a systematic's settings
-- replaced, shallowly, as in the flows step).
function cost.variants(o)
  local out = {{kind = "base", index = 0, members = o.members}}
  for b = 1, o.bootstraps or 0 do out[#out + 1] = {kind = "boot", index = b, members = o.resample_members} end
  for s = 1, o.smears or 0 do out[#out + 1] = {kind = "smear", index = s, members = o.resample_members} end
  for s, alt in ipairs(o.systematics or {}) do
    out[#out + 1] = {kind = "syst", index = s, members = 1, alt = alt}
  end
  for _, vt in ipairs(out) do
    vt.name = vt.kind == "base" and "base" or ("%s_%03d"):format(vt.kind, vt.index)
    local eo = o
    if vt.alt then
      eo = {}
      for k, v in pairs(o) do eo[k] = v end
      for k, v in pairs(vt.alt) do eo[k] = v end
    end
    vt.o = eo
  end
  return out
end

--- The phase-space densities the accelerations and densities steps evaluate (as
-- P:densities_f()): one per variant (an ensemble of its members) and, when the base
-- ensemble has several members, each base member alone. Returns the list {name, kind,
-- members}, its length and the sum of members (flow pairs evaluated per point).
function cost.densities(o)
  local out, pairs_ = {}, 0
  for _, vt in ipairs(cost.variants(o)) do
    out[#out + 1] = {name = vt.name, kind = vt.kind, members = vt.members}
    if vt.kind == "base" and vt.members > 1 then
      for k = 1, vt.members do out[#out + 1] = {name = ("member_%03d"):format(k), kind = "member", members = 1} end
    end
  end
  for _, d in ipairs(out) do pairs_ = pairs_ + d.members end
  return out, #out, pairs_
end

--- Stars within the survey sphere (the selected sample): opts.selected if given, else the
-- mock's expected count, mock.stars x SELECTED_FRACTION. Returns the count and where it
-- comes from.
function cost.selected_stars(o, opts)
  opts = opts or {}
  if opts.selected then return opts.selected, opts.selected_source or "given" end
  local n = math.floor(o.mock.stars * cost.SELECTED_FRACTION + 0.5)
  local src = ("expected for the mock: %d stars x %.4f (the quick mock's 73,221 of 1,000,000 within 4 kpc, "
    .. "README.md; for a 10 kpc mock and the paper's cuts)"):format(o.mock.stars, cost.SELECTED_FRACTION)
  if o.radius ~= 4 or o.mock.radius ~= 10 then
    src = src .. (" -- NOT measured for this preset's radius %g kpc and mock radius %g kpc: give --stars or --from")
      :format(o.radius, o.mock.radius)
  end
  return n, src
end

--- Stars each flow is trained on: n_train, or all N selected stars for n_train = 0 (at
-- most N: the base sample subsamples without replacement, bootstraps draw min(n_train, N)).
function cost.train_stars(o, n)
  local nt = o.n_train or 0
  return nt > 0 and math.min(nt, n) or n
end

--- The epoch bound of one flow: max_epochs + finetune epochs (early stopping may end
-- sooner), or `epochs` when the caller knows better.
function cost.epochs(o, epochs)
  if epochs then return epochs end
  return (o.train.max_epochs or 1000) + (o.finetune and o.finetune.epochs or 0)
end

-- the calibration key of a flow architecture (a systematic may change it, or the batch)
function cost.arch_key(o)
  local f = o.flow
  local family = f.layers or (f.transform == "spline" and ("spline%d/"):format(f.bins or 8)) or ""
  local own = ""
  for _, which in ipairs{"n_x", "p_v"} do
    if f[which] then own = own .. " " .. which .. "=" .. require("phaseflow.serialize").dump(f[which]) end
  end
  return ("%s%dx%dx%d/b%d%s"):format(family, f.transforms, f.hidden, f.blocks, o.train.batch or 1024, own)
end

--- Flow jobs: one per (variant, member, flow) with flow n_x or p_v, grouped by
-- architecture. opts: selected (stars in the survey sphere), epochs (expected epochs per
-- flow). Returns groups {key, flow, batch, jobs (per flow kind: n_x and p_v each), stars,
-- epochs, star_epochs (per flow kind)}, sorted by key, and the number of jobs (both kinds).
function cost.flow_jobs(o, opts)
  opts = opts or {}
  local n = cost.selected_stars(o, opts)
  local groups, list, jobs = {}, {}, 0
  for _, vt in ipairs(cost.variants(o)) do
    local eo = vt.o
    local key = cost.arch_key(eo)
    local g = groups[key]
    if not g then
      g = {key = key, flow = eo.flow, batch = eo.train.batch or 1024, train = eo.train, jobs = 0,
           star_epochs = 0, stars_once = 0}
      groups[key] = g
      list[#list + 1] = g
    end
    local stars, ep = cost.train_stars(eo, n), cost.epochs(eo, opts.epochs)
    g.jobs = g.jobs + vt.members
    g.star_epochs = g.star_epochs + vt.members * stars * ep
    g.stars_once = g.stars_once + vt.members * stars
    g.stars, g.epochs = stars, ep
    jobs = jobs + 2 * vt.members
  end
  table.sort(list, function(a, b) return a.key < b.key end)
  return list, jobs
end

--- Acceleration positions per phase-space density (the accelerations step): the Sun's
-- ball points, every point of the five curves, and the ball points again for each arc
-- point within 150 pc of the Sun (those are ball-averaged as well). Returns the total and
-- the parts {ball, curves, arc_ball}.
function cost.acceleration_positions(o)
  local g = geometry.paper(o.geometry)
  local curves = 0
  for _, name in ipairs(g.curve_names) do curves = curves + g.curves[name].n end
  local parts = {ball = o.ball_points, curves = curves, arc_ball = #g.arc_ball * o.ball_points}
  return parts.ball + parts.curves + parts.arc_ball, parts
end

--- Kernel points per density location for a `points` option (pf.poisson.kernel_points:
-- volume and surface sets, each rounded to an even count).
function cost.kernel_points(points)
  local pts = poisson.kernel_points(core.array.from{geometry.SUN}, {points = points})
  return pts.nvol + pts.nsurf, pts.nvol, pts.nsurf
end

--- Density locations (P:density_points()): the Sun, the density curves, the gNFW set.
-- Returns the count and the parts {sun, curves, gnfw}.
function cost.density_locations(o)
  local g = geometry.paper(o.geometry)
  local curves = 0
  for _, name in ipairs(g.density_names) do curves = curves + g.density[name].n end
  local parts = {sun = 1, curves = curves, gnfw = g.gnfw.n}
  return parts.sun + parts.curves + parts.gnfw, parts
end

--- Every count of a run, keyed by step. opts: selected (stars in the survey sphere),
-- sample10 (stars of the 10 kpc sample), epochs (expected epochs per flow), is_mock
-- (default true: the catalogue is the embedded mock).
function cost.counts(o, opts)
  opts = opts or {}
  local c = {preset = o.name}
  local selected, source = cost.selected_stars(o, opts)
  c.selected, c.selected_source = selected, source
  c.sample10 = opts.sample10 or math.floor(o.mock.stars * cost.SAMPLE10_FRACTION + 0.5)
  c.sample10_source = opts.sample10_source or ("expected for the mock: %d stars x %.3f"):format(
    o.mock.stars, cost.SAMPLE10_FRACTION)
  c.is_mock = opts.is_mock ~= false
  c.catalogue = {mock_stars = o.mock.stars, normalize = o.mock.normalize ~= false}
  c.selection = {smears = o.smears or 0, sample10 = c.sample10, bootstraps = o.bootstraps or 0,
                 units = (o.smears or 0) * c.sample10}
  local groups, jobs = cost.flow_jobs(o, opts)
  local se, so = 0, 0
  for _, g in ipairs(groups) do se, so = se + 2 * g.star_epochs, so + 2 * g.stars_once end
  c.flows = {groups = groups, jobs = jobs, star_epochs = se, stars_once = so,
             stars = cost.train_stars(o, selected), epochs = cost.epochs(o, opts.epochs),
             epochs_given = opts.epochs ~= nil}
  local dens, nd, npairs = cost.densities(o)
  c.densities_list = dens
  local npos, parts = cost.acceleration_positions(o)
  c.accelerations = {positions = npos, parts = parts, nv = o.nv, densities = nd, pairs = npairs,
                     units = npos * o.nv * npairs}
  local base = o.members
  c.equilibrium = {n = o.dlnf_n, members = base, units = o.dlnf_n * base, truth = c.is_mock}
  local nloc, lparts = cost.density_locations(o)
  local k, kv, ks = cost.kernel_points(o.kernel_points)
  c.densities = {locations = nloc, parts = lparts, kernel = k, nvol = kv, nsurf = ks,
                 positions = nloc * k, nv = o.nv_density, densities = nd, pairs = npairs,
                 units = nloc * k * o.nv_density * npairs}
  c.gnfw = {steps = o.mcmc.steps, walkers = o.mcmc.walkers, units = o.mcmc.steps * o.mcmc.walkers}
  return c
end

-- projection -------------------------------------------------------------------------

-- Cost per (position x velocity) of a phase-space density of M flow pairs: a + b M
-- (sampling is shared by the members, each member's gradients are not).
local function per_pv(r, m) return r.a + r.b * m end

-- seconds of one density kind over the densities evaluated: sum_d (a + b M_d) x rows
local function over_densities(rows, list, r)
  local s = 0
  for _, d in ipairs(list) do s = s + rows * per_pv(r, d.members) end
  return s
end

--- Projected seconds of every step (with the calibration's threads). rates: from
-- cost.calibrate (or made by hand: tests). Returns rows {step, units, seconds, small,
-- modelled} in pf.pipeline's step order, and the total seconds. opts.steps: the step list
-- (default pf.pipeline.steps).
function cost.seconds(c, rates, opts)
  opts = opts or {}
  local steps = opts.steps or require("phaseflow.pipeline").steps
  local out, total = {}, 0
  for _, step in ipairs(steps) do
    local s, row = nil, {step = step, modelled = true}
    if step == "catalogue" then
      local cc = c.catalogue
      s = cc.mock_stars * rates.mock_star + (rates.catalogue_fixed or 0) + (cc.normalize and rates.normalisation or 0)
      if not c.is_mock then s = 0 / 0 end
    elseif step == "selection" then
      s = c.selection.units * rates.smear_star + c.selection.smears * (rates.smear_fixed or 0)
    elseif step == "flows" then
      s = 0
      for _, g in ipairs(c.flows.groups) do
        local r = rates.flows[g.key]
        if not r then error(("pf.cost: no calibration for the flow architecture %s"):format(g.key), 2) end
        for _, which in ipairs{"n_x", "p_v"} do
          s = s + g.star_epochs * r[which].star_epoch + g.stars_once * r[which].star_once
        end
      end
    elseif step == "accelerations" then
      local a = c.accelerations
      s = over_densities(a.positions * a.nv, c.densities_list, rates.accel)
    elseif step == "equilibrium" then
      local e = c.equilibrium
      s = e.n * per_pv(rates.equilibrium, e.members)
      if e.truth then
        s = s + e.n * rates.equilibrium.truth + (c.catalogue.normalize and rates.normalisation or 0)
      end
    elseif step == "densities" then
      local d = c.densities
      s = over_densities(d.positions * d.nv, c.densities_list, rates.density)
    elseif step == "gnfw" then
      s = c.gnfw.units * rates.mcmc
    elseif cost.SMALL[step] then
      row.small = cost.SMALL[step]
    else
      row.modelled = false
    end
    row.seconds = s
    if s and s == s then total = total + s end
    out[#out + 1] = row
  end
  return out, total
end

--- Projection for `threads` (default: the calibration's): each row gains wall (seconds on
-- that many threads, assuming perfect scaling from the calibration's thread count) and
-- core_hours (seconds x calibration threads / 3600). Returns rows and the totals
-- {seconds, wall, core_hours}.
function cost.project(c, rates, opts)
  opts = opts or {}
  local t0 = rates.threads or 1
  local T = opts.threads or t0
  local rows, total = cost.seconds(c, rates, opts)
  for _, r in ipairs(rows) do
    if r.seconds then
      r.wall = r.seconds * t0 / T
      r.core_hours = r.seconds * t0 / 3600
    end
  end
  return rows, {seconds = total, wall = total * t0 / T, core_hours = total * t0 / 3600, threads = T,
                measured_threads = t0}
end

-- calibration -------------------------------------------------------------------------

local function wtime() return core.config.wtime() end

-- Synthetic stars: positions normal around the Sun (1.2 kpc), inside 0.95 of the survey
-- radius; velocities of a disk near the Sun (km/s).
local function synthetic_stars(n, radius, seed)
  local rng = core.rng.new(seed)
  local x = core.array.zeros(n, 3)
  rng:fill_normal(x, 0, 1.2)
  local t = x:totable()
  local sun = geometry.SUN
  for i = 1, n do
    local r = math.sqrt(t[i][1] ^ 2 + t[i][2] ^ 2 + t[i][3] ^ 2)
    local s = r > 0.95 * radius and 0.95 * radius / r or 1
    for j = 1, 3 do t[i][j] = sun[j] + t[i][j] * s end
  end
  local v = core.array.zeros(n, 3)
  rng:fill_normal(v, 0, 35)
  local vt = v:totable()
  for i = 1, n do vt[i][1], vt[i][2], vt[i][3] = vt[i][1] - 11, vt[i][2] + 245, vt[i][3] + 7 end
  return core.array.from(t), core.array.from(vt)
end

-- positions near the Sun, inside the survey sphere
local function positions(n)
  local p, sun = {}, geometry.SUN
  for i = 1, n do
    local k = (i - 1) % 17
    p[i] = {sun[1] + 0.05 * k - 0.4, sun[2] + 0.03 * ((i - 1) % 11) - 0.15, sun[3] + 0.02 * ((i - 1) % 7)}
  end
  return core.array.from(p)
end

local function timed(f, ...)
  local t = wtime()
  local a, b = f(...)
  return wtime() - t, a, b
end

-- The least time of several runs (the machine may be shared: other jobs only ever add
-- time, and a short OpenMP region can wait a whole time slice for a descheduled thread):
-- at least `reps` runs, more while they add up to less than `budget` seconds (at most 25),
-- fewer (but one) once they add up to `most` seconds. Returns the time and the results of
-- the last run.
local function best_of(L, f, ...)
  local best, spent, r = math.huge, 0, 0
  local a, b
  repeat
    local t
    t, a, b = timed(f, ...)
    best, spent, r = math.min(best, t), spent + t, r + 1
  until r >= 25 or (r >= L.reps and spent >= L.budget) or spent >= L.most
  return best, a, b
end

-- a + b M from the costs of one pair (c1) and of ensembles of two (c2); noise that makes
-- c2 < c1 or c2 > 2 c1 is clamped (members cost between 0 and a whole pair each)
local function linear_in_members(c1, c2)
  local b = math.min(math.max(c2 - c1, 0), c1)
  return {a = c1 - b, b = b, c1 = c1, c2 = c2}
end

cost.LEVELS = {
  full = {flow_rows = 4000, flow_rows_max = 20000, epochs = 3, rows = 20000, mock_stars = 20000,
          mcmc_steps = 200, reps = 3, budget = 0.4, most = 1.5},
  quick = {flow_rows = 1000, flow_rows_max = 1000, epochs = 2, rows = 2000, mock_stars = 5000,
           mcmc_steps = 40, reps = 2, budget = 0.1, most = 0.3},
}

--- Measure the per-unit costs of preset o on this machine (wall seconds on the current
-- threads). opts: level ("full", the default, about 15-25 s; or "quick": tiny sizes, for
-- tests), log (function(fmt, ...)), tmp (a scratch folder; default a fresh temporary one,
-- removed after). Returns rates {threads, level, seconds (the calibration's),
--   mock_star, catalogue_fixed, normalisation (0 when the mock is not normalised),
--   smear_star, smear_fixed (per smeared resample),
--   flows[arch key] = {n_x = {star_epoch, star_once, rows, t1, tE}, p_v = {...}},
--   accel, density, equilibrium = {a, b, c1, c2} (per position x velocity: a + b M for M
--   flow pairs; equilibrium also truth: the exact df per velocity), mcmc (per step x walker),
--   measured = {mock_stars, sample10, selected} (the calibration mock's counts)}.
function cost.calibrate(o, opts)
  opts = opts or {}
  local L = cost.LEVELS[opts.level or "full"]
  if not L then error(("pf.cost.calibrate: level must be full or quick, got '%s'"):format(tostring(opts.level)), 2) end
  local log = opts.log or function() end
  local pipeline = require "phaseflow.pipeline"
  local train_flow = require("phaseflow.steps.flows").train_flow
  local df = require "phaseflow.df"
  local flowmod = require "phaseflow.flow"
  local cbe = require "phaseflow.cbe"
  local equilibrium = require "phaseflow.equilibrium"
  local gnfw = require "phaseflow.gnfw"
  local gaia = require "phaseflow.gaia"
  local select = require "phaseflow.select"
  local h5 = require "phaseflow.h5"
  local t_all = wtime()
  local rates = {threads = core.config.config().threads, flows = {}, measured = {}, level = opts.level or "full"}

  -- flows: every architecture the run trains, n(x) and p(v|x), 1 epoch and E epochs on the
  -- same rows: per epoch = the difference / (E - 1), the rest a one-off per-star cost
  -- (the sphere moments, the data check, the split)
  local kept
  local seen = {}
  for _, vt in ipairs(cost.variants(o)) do
    local eo = vt.o
    local key = cost.arch_key(eo)
    if not seen[key] then
      seen[key] = true
      local batch = eo.train.batch or 1024
      local n = math.min(L.flow_rows_max, math.max(L.flow_rows, math.ceil(1.25 * batch)))
      local x, v = synthetic_stars(n, eo.radius, 11)
      local r, flows = {}, {}
      for _, which in ipairs{"n_x", "p_v"} do
        local t = {}
        for i, E in ipairs{1, L.epochs} do
          local to = copy(eo)
          to.train.max_epochs, to.train.patience, to.finetune = E, 1e9, nil
          local f
          t[i], f = best_of(L, train_flow, which, x, v, to, 7, i)
          flows[#flows + 1] = f
        end
        local per_epoch = (t[2] - t[1]) / (L.epochs - 1)
        -- noise (or NaN): all of it per epoch
        if not (per_epoch > 0) then per_epoch = t[2] / L.epochs end -- luacheck: ignore 581
        r[which] = {star_epoch = per_epoch / n, star_once = math.max(t[1] - per_epoch, 0) / n,
                    rows = n, t1 = t[1], tE = t[2]}
        log("flows %s %s: %d rows, 1 epoch %.3f s, %d epochs %.3f s", key, which, n, t[1], L.epochs, t[2])
      end
      rates.flows[key] = r
      if key == cost.arch_key(o) then kept = flows end
    end
  end

  -- accelerations and densities: one flow pair, and ensembles of two, of the preset's
  -- architecture (the flows just trained) at the preset's nv, about L.rows rows
  local f1 = df.flows(kept[1], kept[3])
  local f2 = df.flows(flowmod.ensemble{members = {kept[1], kept[2]}}, flowmod.ensemble{members = {kept[3], kept[4]}})
  local function pv_rate(nv, stride)
    local batch = math.max(1, math.min(200, 200000 // nv))
    local npos = math.max(2, math.ceil(L.rows / nv))
    if npos > batch then npos = math.floor(npos / batch + 0.5) * batch end -- whole gradient calls
    local x0 = positions(npos)
    local c = {}
    for i, f in ipairs{f1, f2} do
      c[i] = best_of(L, cbe.acceleration, f, x0, {nv = nv, seed = 1, seed_stride = stride}) / (npos * nv)
    end
    log("accelerations at nv = %d: %d positions, %.3g s per position x velocity (one pair), %.3g (two)",
      nv, npos, c[1], c[2])
    return linear_in_members(c[1], c[2])
  end
  rates.accel = pv_rate(o.nv, 1)
  rates.density = o.nv_density == o.nv and rates.accel or pv_rate(o.nv_density, 0)

  -- equilibrium: d ln f/dt over velocities at the Sun (n(x) evaluated per row)
  local sun = core.array.from{geometry.SUN}
  local acc = core.array.from{{-1.9e3, 0, -1e2}}
  local ce = {}
  for i, f in ipairs{f1, f2} do
    ce[i] = best_of(L, equilibrium.dlnf_dt, f, sun, acc, {n = L.rows, seed = 1}) / L.rows
  end
  rates.equilibrium = linear_in_members(ce[1], ce[2])
  log("equilibrium: %.3g s per velocity (one pair), %.3g (two)", ce[1], ce[2])

  -- catalogue: the pipeline's own step on two small mocks (without the normalisation,
  -- timed on its own below): per star = the difference / the difference of stars, the rest
  -- fixed; then one smeared resample of the larger mock's 10 kpc sample
  local tmp = opts.tmp
  local own_tmp = tmp == nil
  if own_tmp then
    tmp = os.tmpname()
    os.remove(tmp)
  end
  local ok, err = pcall(function()
    local P, tc, ns = nil, {}, {L.mock_stars // 4, L.mock_stars}
    for i, n in ipairs(ns) do
      local co = copy(o)
      co.mock.stars, co.mock.normalize = n, false
      P = pipeline.new{out = ("%s/run%d"):format(tmp, i), preset = co, quiet = true, mock_cache = tmp .. "/mock"}
      tc[i] = timed(P.run, P, {only = "catalogue"})
    end
    local per = (tc[2] - tc[1]) / (ns[2] - ns[1])
    if not (per > 0) then per = tc[2] / ns[2] end -- luacheck: ignore 581 (noise: all of it per star)
    rates.mock_star, rates.catalogue_fixed = per, math.max(tc[1] - per * ns[1], 0)
    local cf = P:file("catalogue")
    local n4 = (h5.read(cf, "/stars/x"):shape())
    local s10 = P:sample10()
    rates.measured.mock_stars, rates.measured.selected, rates.measured.sample10 = ns[2], n4, s10.n
    log("catalogue: %d mock stars %.3f s, %d stars %.3f s (%d in the 10 kpc sample, %d within %g kpc)",
      ns[1], tc[1], ns[2], tc[2], s10.n, n4, o.radius)
    -- a smeared resample of the 10 kpc sample and of a quarter of it: per star and fixed
    local quarter = {n = s10.n // 4}
    local idx = {}
    for k = 1, quarter.n do idx[k] = 4 * k end
    idx = core.array.from(idx)
    for k, col in pairs(s10) do
      if core.array.is_array(col) then quarter[k] = col:take(idx) end
    end
    local ts = {}
    for k, cat in ipairs{quarter, s10} do
      ts[k] = best_of(L, function()
        local sm = gaia.smear(cat, {rng = core.rng.new(3)})
        return select.run(sm, {cov = false})
      end)
    end
    local sper = (ts[2] - ts[1]) / (s10.n - quarter.n)
    if not (sper > 0) then sper = ts[2] / s10.n end -- luacheck: ignore 581 (noise: all per star)
    rates.smear_star, rates.smear_fixed = sper, math.max(ts[1] - sper * quarter.n, 0)
    log("selection: a smeared resample of %d stars %.3f s, of %d stars %.3f s", quarter.n, ts[1], s10.n, ts[2])
    -- the exact df of the mock (the equilibrium step's truth), per velocity
    local exact = P:exact_df()
    local tt = best_of(L, equilibrium.dlnf_dt, exact, sun, acc, {n = L.rows, seed = 1})
    rates.equilibrium.truth = tt / L.rows
    log("equilibrium (truth, exact df): %.3g s per velocity", tt / L.rows)
  end)
  if own_tmp then os.execute(("rm -rf '%s'"):format(tmp:gsub("'", "'\\''"))) end
  if not ok then error(err, 0) end
  rates.normalisation = 0
  if o.mock.normalize ~= false then
    local mockmod = require "phaseflow.mock"
    rates.normalisation = timed(mockmod.galaxy, {radius = o.mock.radius, seed = o.mock.seed or 1,
      normalize = true, galaxy = o.mock.galaxy})
    log("mock normalisation: %.2f s", rates.normalisation)
  end

  -- MCMC: the gNFW fit on synthetic points at the gNFW set's radii
  local g = geometry.paper(o.geometry)
  local r = core.array.from(g.gnfw.r)
  local rho = gnfw.density(r, 0.85, 16, 1)
  local pts = {r = r, rho = rho, sigma = rho * 0.2 + 0.05}
  local W = o.mcmc.walkers
  local tm = best_of(L, gnfw.fit, pts, {walkers = W, steps = L.mcmc_steps, seed = 1})
  rates.mcmc = tm / (W * L.mcmc_steps)
  log("gnfw: %d steps x %d walkers %.3f s", L.mcmc_steps, W, tm)
  rates.seconds = wtime() - t_all
  return rates
end

-- the machine -------------------------------------------------------------------------

--- The CPU model and logical CPUs (/proc/cpuinfo), OpenBLAS's core type and the threads
-- (pf.config()): {cpu, cpus, blas_core, threads, threads_source}.
function cost.machine()
  local cfg = core.config.config()
  local m = {cpu = "unknown CPU", cpus = 0, blas_core = cfg.blas_core, threads = cfg.threads}
  local f = io.open("/proc/cpuinfo")
  if f then
    for line in f:lines() do
      local name = line:match("^model name%s*:%s*(.-)%s*$")
      if name then m.cpu = m.cpu == "unknown CPU" and name or m.cpu; m.cpus = m.cpus + 1 end
    end
    f:close()
  end
  m.threads_source = os.getenv("OMP_NUM_THREADS") and "OMP_NUM_THREADS" or "pf.config(), OpenMP's default"
  return m
end

-- a short canonical text of a count (for tables): 1234567 -> "1,234,567", big -> "1.23e+09"
function cost.count_text(n)
  if n >= 1e9 then return ("%.3g"):format(n) end
  local s = ("%d"):format(math.floor(n + 0.5))
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

--- Seconds in words: the progress bars' format (pf.progress.format_duration: "12.3s",
--- "3m05s", "5h12m", "12.4 days", "3.1 years"); "-" for NaN.
function cost.duration_text(s)
  if s ~= s then return "-" end
  return core.progress.format_duration(s)
end

return cost

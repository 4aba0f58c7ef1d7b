-- pf.cost's calibration: short timings of the pipeline's own code on synthetic inputs
-- (flows of the preset's architecture, 1-3 epochs; accelerations at the preset's nv; a
-- small mock through the catalogue step; a short MCMC), and the machine they ran on.
local core = require "phaseflow.core"
local geometry = require "phaseflow.geometry"
local counts = require "phaseflow.cost.counts"

local cost = {}

local function copy(t)
  local o = {}
  for k, v in pairs(t) do o[k] = type(v) == "table" and copy(v) or v end
  return o
end

local function wtime() return core.config.wtime() end

--- Synthetic stars: positions normal around the Sun (1.2 kpc), inside 0.95 of the survey
--- radius; velocities of a disk near the Sun (km/s). Returns x, v (n x 3 each).
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

--- n positions near the Sun, inside the survey sphere (n x 3, kpc).
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

cost.synthetic_stars, cost.positions = synthetic_stars, positions

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
--   potential = {star_epoch, star_once, draw = {a, b, c1, c2}} (a fit per star-epoch, per
--   star once, and drawing a star with its gradients from M flow pairs; absent when the
--   preset fits no potential),
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
  for _, vt in ipairs(counts.variants(o)) do
    local eo = vt.o
    local key = counts.arch_key(eo)
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
      if key == counts.arch_key(o) then kept = flows end
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

  -- the global potential: a fit of the preset's network, 1 and E epochs on the same
  -- synthetic samples (the preset's ratio of penalty points to stars): per star-epoch =
  -- the difference / (E - 1); and the stars it draws from a density with their gradients
  -- of ln f, per star for one pair and for ensembles of two
  local po = o.potential
  local potential_step = require "phaseflow.steps.potential"
  if potential_step.fits(o) then
    local potfit = require "phaseflow.potfit"
    local n = math.min(L.flow_rows, po.stars)
    local x, v = synthetic_stars(n, o.radius, 13)
    local gx, gv = x * 0 - 1e-3, v * (-1 / 35 ^ 2)
    local y = x:rows(1, math.max(2, math.min(n, math.floor(n * po.points / po.stars + 0.5)))):copy()
    local t = {}
    for i, E in ipairs{1, L.epochs} do
      local fo = potential_step.fit_options(po, 1)
      fo.samples, fo.y = {x = x, v = v, gx = gx, gv = gv}, y
      fo.train.max_epochs, fo.train.patience = E, 1e9
      t[i] = best_of(L, potfit.fit, fo)
    end
    local per_epoch = (t[2] - t[1]) / (L.epochs - 1)
    if not (per_epoch > 0) then per_epoch = t[2] / L.epochs end -- luacheck: ignore 581
    local draw = {}
    for i, f in ipairs{f1, f2} do
      draw[i] = best_of(L, function()
        local xs = f.nx:sample(n, {seed = 3, log_prob = false})
        local vs = f.pv:sample(n, xs, {seed = 4, log_prob = false})
        return f:grad_log_f(xs, vs)
      end) / n
    end
    rates.potential = {star_epoch = per_epoch / n, star_once = math.max(t[1] - per_epoch, 0) / n,
                       draw = linear_in_members(draw[1], draw[2])}
    log("potential: %d stars, 1 epoch %.3f s, %d epochs %.3f s; drawing %.3g s per star (one pair)",
      n, t[1], L.epochs, t[2], draw[1])
  end
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

return cost

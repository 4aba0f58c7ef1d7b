-- pf.cost's projection against jobs measured at a preset's full size (the distributed-runs
-- issue: the paper preset's projection checked against real jobs of each kind):
--
--   build/phaseflow bench/cost_check.lua [preset=paper] [epochs=2] [members=100] [locations=1]
--
-- Calibrates pf.cost (full level) on this machine, then times, at the preset's sizes:
--   flows          the base n(x) and p(v|x) jobs on the preset's star count (synthetic stars),
--                  `epochs` epochs each (the projection is per star-epoch: a job's epochs
--                  are a count, early stopping decides them);
--   accelerations  the "sun" job (the ball's points x nv) of one flow pair and of the
--                  base ensemble (`members` pairs: one trained pair repeated, which costs
--                  what distinct members cost);
--   densities      `locations` of a job's 8 density locations of one flow pair (kernel
--                  points x nv_density each; a whole job is 8 of them);
--   potential      one fit of a one-pair density at the preset's star count, `epochs` epochs.
-- and prints each job's projected and measured seconds and their ratio, with the CPU.
local pf = require "phaseflow"
local cost = pf.cost

local name = arg[1] or "paper"
local epochs = math.tointeger(tonumber(arg[2] or "2"))
local members = math.tointeger(tonumber(arg[3] or "100"))
local nloc = math.tointeger(tonumber(arg[4] or "1"))
if not (epochs and members and nloc and epochs > 0 and members > 0 and nloc > 0) then
  io.stderr:write("usage: build/phaseflow bench/cost_check.lua [preset] [epochs>0] [members>0] [locations>0]\n")
  os.exit(2)
end
local o = pf.presets.resolve(name)
local machine = cost.machine()
local function log(fmt, ...) io.stderr:write(("[cost_check] " .. fmt .. "\n"):format(...)) end
log("calibrating pf.cost (full) for preset %s on %d threads ...", o.name, machine.threads)
local rates = cost.calibrate(o, {level = "full", log = log})
local jobs = cost.jobs(o)
local wtime = pf.wtime

local rows = {}
local function row(what, predicted, measured)
  rows[#rows + 1] = {what, predicted, measured}
  log("%s: projected %.1f s, measured %.1f s", what, predicted, measured)
end

-- flows: the first base job of each kind, `epochs` epochs, the preset's star count
local stars = jobs.flows[1].stars
local x, v = cost.synthetic_stars(stars, o.radius, 11)
local ot = {}
for k, val in pairs(o) do ot[k] = val end
ot.train = {}
for k, val in pairs(o.train) do ot.train[k] = val end
ot.train.max_epochs, ot.train.patience, ot.finetune = epochs, epochs + 1, nil
local train_flow = require("phaseflow.steps.flows").train_flow
local trained = {}
for i, which in ipairs({"n_x", "p_v"}) do
  local j = jobs.flows[i]
  local r = rates.flows[j.key][which]
  local t0 = wtime()
  trained[which] = train_flow(which, x, v, ot, 7, 1)
  row(("flows: base %s, %s stars x %d epochs"):format(which, cost.count_text(stars), epochs),
      stars * epochs * r.star_epoch + stars * r.star_once, wtime() - t0)
end

-- accelerations: the "sun" job of one pair and of an ensemble of `members` pairs
local cbe = require "phaseflow.cbe"
local geometry = require "phaseflow.geometry"
local g = geometry.paper(o.geometry)
local pair = pf.df.flows(trained.n_x, trained.p_v)
local function ens(f, m)
  local t = {}
  for k = 1, m do t[k] = f end
  return pf.flow.ensemble{members = t}
end
local big = pf.df.flows(ens(trained.n_x, members), ens(trained.p_v, members))
for _, case in ipairs({{pair, 1}, {big, members}}) do
  local t0 = wtime()
  cbe.ball_average(case[1], pf.core.array.from{g.ball.center}, g.ball.radius,
    {points = o.ball_points, nv = o.nv, seed = o.seed})
  row(("accelerations: sun job, %d pair(s), %d points x %s v"):format(case[2], o.ball_points, cost.count_text(o.nv)),
      o.ball_points * o.nv * (rates.accel.a + rates.accel.b * case[2]), wtime() - t0)
end

-- densities: `nloc` locations of one pair's job at the preset's kernel points and nv
local poisson = require "phaseflow.poisson"
local x0 = {}
for i = 1, nloc do x0[i] = {geometry.SUN[1] + 0.1 * (i - 1), geometry.SUN[2], geometry.SUN[3]} end
local pts = poisson.kernel_points(pf.core.array.from(x0), {points = o.kernel_points, seed = o.seed})
local t0 = wtime()
cbe.acceleration(pair, pts.x, {nv = o.nv_density, seed = o.seed, seed_stride = 0})
local k = pts.nvol + pts.nsurf
row(("densities: %d of a job's 8 locations, 1 pair, %s kernel points x %s v"):format(nloc, cost.count_text(k),
    cost.count_text(o.nv_density)), nloc * k * o.nv_density * (rates.density.a + rates.density.b), wtime() - t0)

-- potential: one fit of a 1-pair density at the preset's star count, `epochs` epochs (the
-- projection is per star-epoch, as for the flows), the stars drawn with their gradients
local po = o.potential
if rates.potential then
  local potfit = require "phaseflow.potfit"
  local n = po.stars
  local t1 = wtime()
  local xs = pair.nx:sample(n, {seed = 3, log_prob = false})
  local vs = pair.pv:sample(n, xs, {seed = 4, log_prob = false})
  local gx, gv = pair:grad_log_f(xs, vs)
  local ok = gx:isfinite():min(2):land(gv:isfinite():min(2))
  xs, vs, gx, gv = xs:select(ok), vs:select(ok), gx:select(ok), gv:select(ok)
  local y = cbe.ball_points(pf.core.array.from{geometry.SUN}, o.radius, po.points, 5)
  local fo = pf.steps.potential.fit_options(po, 1)
  fo.samples, fo.y = {x = xs, v = vs, gx = gx, gv = gv}, y
  fo.train.max_epochs, fo.train.patience = epochs, epochs + 1
  potfit.fit(fo)
  local r = rates.potential
  row(("potential: a fit of 1 pair's density, %s stars x %d epochs"):format(cost.count_text(n), epochs),
      n * epochs * r.star_epoch + n * r.star_once + n * (r.draw.a + r.draw.b), wtime() - t1)
end

print(("pf.cost's projection against jobs measured at preset %s's sizes"):format(o.name))
print(("CPU: %s, %d logical CPUs, %d threads; OpenBLAS kernel %s; phaseflow %s (git %s)"):format(machine.cpu,
  machine.cpus, machine.threads, machine.blas_core, pf.version, pf.config().git))
print()
print("| job | projected | measured | measured / projected |")
print("|---|---|---|---|")
for _, r in ipairs(rows) do
  print(("| %s | %.1f s | %.1f s | %.2f |"):format(r[1], r[2], r[3], r[3] / r[2]))
end

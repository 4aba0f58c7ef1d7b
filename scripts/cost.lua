-- What a run of the paper's pipeline costs, step by step, on this machine:
--   phaseflow scripts/cost.lua --preset NAME [--threads T] [--ranks R] [--epochs E]
--                              [--stars N | --from DIR] [--calibrate full|quick] [--quiet]
-- A short calibration (seconds; pf.cost.calibrate) times the pipeline's own code at the
-- preset's sizes -- flows of its architecture for 1 and 3 epochs, accelerations at its nv,
-- a small mock through the catalogue step, a short MCMC -- and pf.cost projects every step
-- (pf.cost.counts: jobs, positions, kernel points) to a wall time and core-hours.
-- --ranks R projects a cluster run (mpirun -np R, or a job array of R tasks) with T
-- threads per rank: the jobs of the flows, accelerations and densities steps handed out
-- in order to whichever rank is free (pf.cost.schedule), the other steps on one rank.
-- Nothing is written; the calibration's scratch files go to a temporary folder.
local pf = require "phaseflow"
local cost = pf.cost

local USAGE = [[
usage: phaseflow scripts/cost.lua [--preset NAME] [--threads T] [--ranks R] [--epochs E]
                                  [--stars N | --from DIR] [--calibrate full|quick] [--quiet]
  --preset NAME       the preset to project (default quick): ]] .. table.concat(pf.presets.names, ", ") .. [[
                      or a preset file (FILE.lua: pf.presets.load)

  --threads T         project the wall time for T threads (default: the calibration's threads)
  --ranks R           project a cluster run: R ranks (mpirun -np R, or R array tasks) of T threads
  --epochs E          expected epochs per flow, both stages (default: the bound max_epochs + finetune)
  --stars N           stars within the survey sphere (default: the mock's expected count)
  --from DIR          read that count from a run: DIR/steps/selection.h5 (/selected/x)
  --calibrate LEVEL   full (default, seconds per kind of work) or quick (tiny sizes: tests);
                      also the environment variable PHASEFLOW_COST_CALIBRATE
  --quiet             no calibration log on stderr]]

local cli = require "phaseflow.cli"
local SPEC = {script = "cost.lua", usage = USAGE, positionals = false,
              defaults = {preset = "quick", calibrate = os.getenv("PHASEFLOW_COST_CALIBRATE") or "full"},
              options = {preset = "value", threads = {"integer", min = 1}, ranks = {"integer", min = 1},
                         epochs = {"integer", min = 1},
                         stars = {"integer", min = 1}, from = "value", calibrate = "value", quiet = "flag"}}

local opts = cli.parse(arg, SPEC)
if not cost.LEVELS[opts.calibrate] then
  cli.fail(SPEC, ("--calibrate must be full or quick, got '%s'"):format(opts.calibrate))
end
local threads, epochs, stars = opts.threads, opts.epochs, opts.stars
if stars and opts.from then cli.fail(SPEC, "--stars and --from both give the star count: use one") end

local okp, o = pcall(pf.presets.resolve, opts.preset)
if not okp then cli.fail(SPEC, (tostring(o):gsub("^pf%.presets: ", ""))) end
local copts = {epochs = epochs, selected = stars, selected_source = stars and "--stars"}
if opts.from then
  local from, err = cost.run_counts(opts.from)
  if not from then cli.fail(SPEC, "--from: " .. err) end
  for k, v in pairs(from) do copts[k] = v end
end

-- counts first: a preset the counting cannot handle fails before the calibration
local counts = cost.counts(o, copts)
local machine = cost.machine()
local function log(fmt, ...)
  if not opts.quiet then io.stderr:write(("[cost] " .. fmt .. "\n"):format(...)) end
end
log("calibrating (%s) for preset %s on %d threads ...", opts.calibrate, o.name, machine.threads)
local rates = cost.calibrate(o, {level = opts.calibrate, log = log})
local load = io.open("/proc/loadavg")
local loadavg = load and load:read("l"):match("^(%S+)") or "?"
if load then load:close() end
local rows, total = cost.project(counts, rates, {threads = threads})
local T, T0 = total.threads, total.measured_threads

-- text helpers
local N = cost.count_text
local function per(s)
  if s ~= s then return "-" end
  if s < 1e-6 then return ("%.3g ns"):format(s * 1e9) end
  if s < 1e-3 then return ("%.3g us"):format(s * 1e6) end
  if s < 1 then return ("%.3g ms"):format(s * 1e3) end
  return ("%.3g s"):format(s)
end
local function ch(x) return x == x and ("%.3g"):format(x) or "-" end

local c = counts
local e, f = c.equilibrium, c.flows
local function pair_cost(r) return ("%s (one pair) + %s per extra member"):format(per(r.a + r.b), per(r.b)) end
local unit_cost = {}
local units = cost.units_text(counts)
unit_cost.catalogue = ("%s + %s once%s"):format(per(rates.mock_star), per(rates.catalogue_fixed),
  c.catalogue.normalize and (" + %s normalisation"):format(per(rates.normalisation)) or "")
unit_cost.selection = ("%s + %s per resample"):format(per(rates.smear_star), per(rates.smear_fixed))
local fr = rates.flows[cost.arch_key(o)]
unit_cost.flows = ("%s n(x), %s p(v|x) per star-epoch"):format(per(fr.n_x.star_epoch), per(fr.p_v.star_epoch))
unit_cost.accelerations = pair_cost(rates.accel) .. " per position-velocity"
unit_cost.equilibrium = pair_cost(rates.equilibrium) .. " per velocity" .. (e.truth and
  ("; exact df %s%s"):format(per(rates.equilibrium.truth),
    c.catalogue.normalize and (" + %s normalisation"):format(per(rates.normalisation)) or "") or "")
unit_cost.densities = pair_cost(rates.density) .. " per position-velocity"
unit_cost.gnfw = per(rates.mcmc) .. " per log-posterior (MCMC in C)"
if rates.potential then
  unit_cost.potential = ("%s per star-epoch + drawing %s per star"):format(per(rates.potential.star_epoch),
    pair_cost(rates.potential.draw))
end

print(("Projected cost of scripts/paper.lua --preset %s (pf.cost)"):format(o.name))
print(("CPU: %s, %d logical CPUs; OpenBLAS kernel %s; phaseflow %s (git %s)"):format(machine.cpu,
  machine.cpus, machine.blas_core, pf.version, pf.config().git))
print(("Calibration: %s, %.1f s on %d threads (%s); load average %s at its end"):format(rates.level,
  rates.seconds, T0, machine.threads_source, loadavg))
print(("Projection for %d thread%s%s."):format(T, T == 1 and "" or "s",
  T ~= T0 and (" (measured on %d, scaled by %d/%d)"):format(T0, T0, T) or ""))
print()
print(("| step | units | per-unit cost | wall (%d threads) | core-hours |"):format(T))
print("|---|---|---|---|---|")
for _, r in ipairs(rows) do
  if r.small then
    print(("| %s | small: %s | not measured | seconds | - |"):format(r.step, r.small))
  elseif not r.modelled then
    print(("| %s | not modelled by pf.cost | - | - | - |"):format(r.step))
  else
    print(("| %s | %s | %s | %s | %s |"):format(r.step, units[r.step] or "", unit_cost[r.step] or "",
      cost.duration_text(r.wall), ch(r.core_hours)))
  end
end
print(("| total | | | %s | %s |"):format(cost.duration_text(total.wall), ch(total.core_hours)))

if opts.ranks then
  local R = opts.ranks
  local crow, ctot = cost.project_cluster(counts, rates, cost.jobs(o, copts), {ranks = R, threads = T})
  print()
  print(("On %d rank%s x %d thread%s (%d cores): the jobs of flows, accelerations and densities go to whichever "
    .. "rank is free; the other steps run on one rank."):format(R, R == 1 and "" or "s", T, T == 1 and "" or "s",
    R * T))
  print()
  print("| step | jobs | longest job | wall | core-hours reserved |")
  print("|---|---|---|---|---|")
  for _, r in ipairs(crow) do
    if r.wall then
      print(("| %s | %s | %s | %s | %s |"):format(r.step, r.jobs and N(r.jobs) or "1 (one rank)",
        r.longest and cost.duration_text(r.longest) or "-", cost.duration_text(r.wall), ch(r.core_hours)))
    end
  end
  print(("| total | | | %s | %s |"):format(cost.duration_text(ctot.wall), ch(ctot.core_hours)))
end

print()
print("Flows by architecture (transforms x hidden x blocks / batch; a pair = an n(x) and a p(v|x) job):")
for _, g in ipairs(f.groups) do
  local r = rates.flows[g.key]
  print(("  %s: %d pair(s) x %s stars x %d epochs; n(x) %s per star-epoch + %s per star once, p(v|x) %s + %s "
    .. "(calibrated on %d synthetic stars, 1 and %d epochs)"):format(g.key, g.jobs, N(g.stars), g.epochs,
    per(r.n_x.star_epoch), per(r.n_x.star_once), per(r.p_v.star_epoch), per(r.p_v.star_once), r.n_x.rows,
    cost.LEVELS[rates.level].epochs))
end

print()
print("Assumptions:")
local ft = o.finetune and o.finetune.epochs or 0
local notes = {
  ("stars per flow: %s (%s); stars within %g kpc: %s, %s."):format(N(f.stars),
    (o.n_train or 0) > 0 and ("n_train = %d"):format(o.n_train) or "n_train = 0: all of them", o.radius,
    N(c.selected), c.selected_source),
  f.epochs_given and ("epochs: %d per flow (--epochs)."):format(f.epochs) or
    ("epochs: every flow runs max_epochs %d + finetune %d = %d epochs, an upper bound (early stopping, "
      .. "patience %d, usually ends sooner; --epochs E gives the expected count)."):format(o.train.max_epochs,
      ft, f.epochs, o.train.patience or 50),
  ("threads: the calibration ran on %d threads (%s); the wall time for T threads is the measured time x %d/T "
    .. "(perfect scaling: the Lua parts do not scale, so more threads gain less); core-hours = time x %d / 3600.")
    :format(T0, machine.threads_source, T0, T0),
  "per-unit costs: the least time of repeated runs on synthetic inputs (the machine may be shared; a loaded "
    .. "machine makes them, and the projection, larger).",
  "ensembles: a density of M flow pairs costs (one pair) + (M - 1) x (per extra member) per point: the "
    .. "velocity sampling is shared by the members, the gradients are not; measured on one pair and on "
    .. "ensembles of two.",
  ("calibration mock: %s stars -> %s in the 10 kpc sample (%.3f, %.3f assumed), %s within %g kpc (%.4f, %.4f "
    .. "assumed)."):format(N(rates.measured.mock_stars), N(rates.measured.sample10),
    rates.measured.sample10 / rates.measured.mock_stars, cost.SAMPLE10_FRACTION, N(rates.measured.selected), o.radius,
    rates.measured.selected / rates.measured.mock_stars, cost.SELECTED_FRACTION),
  ("the smeared resamples redraw the 10 kpc sample: %s stars (%s)."):format(N(c.sample10), c.sample10_source),
  "small steps (baryons, darkmatter, average, report) are not measured and not in the total: seconds at every "
    .. "preset (report: figures by gnuplot). Left out likewise: bootstrap resamples, HDF5 reads and writes, the "
    .. "truth columns of the accelerations and densities steps (the mock's potential at a few thousand points).",
  c.is_mock and "catalogue: the embedded mock (pf.mock.make_files + the cut flow); real Gaia files are not modelled."
    or "catalogue: real Gaia files are not modelled (-).",
}
for _, n in ipairs(notes) do print("- " .. n) end

-- The paper's analysis end to end (Lim et al. 2023):
--   phaseflow scripts/paper.lua --preset test|quick|science|paper|FILE.lua --out DIR [--only STEP]
--                               [--from STEP] [--until STEP] [--force] [--quiet] [--galaxy default|hot|heavy]
--                               [--task I/N | --merge]
--                               [--set KEY=VALUE ...] [--mock-cache DIR] [--dry-run] [--debug] [inputs...]
-- --set changes one preset setting (dotted keys: --set n_train=0 --set flow.hidden=64
-- --set mock.stars=3000000); --preset FILE.lua starts from a user's preset file
-- (pf.presets.load: `return {base = "quick", members = 4}`); the report lists every setting
-- that differs from the paper. --dry-run prints the plan -- each step run or reused and
-- why, its work and its projected time (pf.cost, a few seconds' calibration) -- and
-- writes nothing. --mock-cache DIR keeps
-- the generated mocks in DIR (default OUT/mock), so runs into several folders share them.
-- Without inputs the embedded mock is generated (and truth columns are reported).
-- On a cluster (docs/cluster.md): `mpirun -np N phaseflow scripts/paper.lua ...` spreads
-- the jobs of the flows, accelerations and densities steps over the ranks; --task I/N
-- does share I of N of the next step's jobs (a job array's task) and --merge gathers the
-- shares and runs on until the next step with jobs. --until STEP stops after STEP.
-- Writes DIR/report.md, DIR/results.h5, the figures (PNG and PDF) and DIR/steps/*.h5.
-- Edit lua/phaseflow/geometry.lua, presets.lua or the steps in pipeline.lua and run again:
-- only the steps whose inputs or options changed are redone.
-- An error of the run (a bad input file, no star passing the cuts, ...) ends with its message
-- alone on stderr and exit status 1; --debug adds the Lua traceback.
local pf = require "phaseflow"

local USAGE = [[
usage: phaseflow scripts/paper.lua [--preset test|quick|science|paper|FILE.lua] [--out DIR] [--only STEP]
                                   [--from STEP] [--until STEP] [--force] [--quiet] [--galaxy NAME]
                                   [--task I/N | --merge]
                                   [--set KEY=VALUE ...] [--mock-cache DIR] [--dry-run] [--debug] [inputs...]
inputs: Gaia archive files, directories or globs (CSV, ECSV, gzip, FITS); none: the mock
--preset FILE.lua: a preset file, e.g. return {base = "quick", members = 4, flow = {hidden = 64}}
--set KEY=VALUE: one setting (--set members=4 --set flow.hidden=64 --set systematics=none)
--dry-run: the plan (steps run or reused, their work, projected time); nothing is written
--debug: an error of the run with its Lua call stack (default: the message alone)
--task I/N: do share I of N of the next step's jobs (a job array, e.g. Slurm's) and stop
--merge: gather the shares, run on up to the next step whose jobs have not started
under mpirun the ranks share every step's jobs (docs/cluster.md)
galaxy: the mock galaxy (no inputs): ]] .. table.concat(pf.mock.variant_names, ", ") .. [[ (default: the preset's)
steps: ]] .. table.concat(pf.pipeline.steps, ", ")

local cli = require "phaseflow.cli"
local SPEC = {script = "paper.lua", usage = USAGE, defaults = {preset = "quick"},
              options = {preset = "value", out = "value", only = "value", from = "value", ["until"] = "value",
                         galaxy = "value", task = "value", merge = "flag",
                         ["mock-cache"] = "value", set = "pairs", force = "flag", quiet = "flag",
                         debug = "flag", ["dry-run"] = "flag"}}

local opts, inputs = cli.parse(arg, SPEC)
for _, o in ipairs{"only", "from", "until"} do
  local ok = opts[o] == nil
  for _, st in ipairs(pf.pipeline.steps) do ok = ok or st == opts[o] end
  if not ok then cli.fail(SPEC, ("--%s: no step '%s'"):format(o, opts[o])) end
end
if opts.galaxy and not pf.mock.VARIANTS[opts.galaxy] then
  cli.fail(SPEC, ("--galaxy: no galaxy '%s' (have: %s)"):format(opts.galaxy, table.concat(pf.mock.variant_names, ", ")))
end
if opts.task then
  local ti, tn = pf.dist.parse_task(opts.task)
  if not ti then cli.fail(SPEC, "--task: " .. tn) end
end
if opts.task and opts.merge then cli.fail(SPEC, "--task and --merge exclude each other") end
if opts.galaxy and #inputs > 0 then cli.fail(SPEC, "--galaxy chooses the mock: it takes no input files") end
-- a preset's name or a user's preset file (an error there names the file and line)
local preset = cli.preset(SPEC, opts.preset, opts.set, function(p)
  if opts.galaxy then p.mock.galaxy = opts.galaxy end
end)
local out = opts.out or ("out/" .. preset.name)
local made, P = pcall(pf.pipeline.new, {out = out, preset = preset, inputs = inputs, quiet = opts.quiet,
                                       mock_cache = opts.mock_cache, plan_only = opts.dry_run,
                                       task = opts.task, merge = opts.merge})
if not made then cli.fail("paper.lua", (tostring(P):gsub("^pf%.pipeline: ", ""))) end
if opts.dry_run then
  require("phaseflow.plan").print(P, {only = opts.only, from = opts.from, upto = opts["until"], force = opts.force,
                                      quiet = opts.quiet})
  os.exit(0)
end
local t0 = pf.wtime()
local ran, steps = xpcall(P.run, function(e)
  return opts.debug and type(e) == "string" and debug.traceback(e, 2) or e
end, P, {only = opts.only, from = opts.from, upto = opts["until"], force = opts.force})
-- another run holds the output folder: exit status 2, naming it
if not ran and type(steps) == "table" and steps.busy then cli.fail("paper.lua", steps.message) end
if not ran then
  -- --only / --from on a folder that lacks an earlier step: the user's mistake, said plainly
  local step, why = tostring(steps):match("pf%.pipeline: step '(.-)' must be run first %((.-)%)")
  if step then
    cli.fail("paper.lua", ("--%s %s: step '%s' must be run first in %s (%s); run without --only/--from"):format(
      opts.only and "only" or "from", opts.only or opts.from, step, out, why))
  end
  if opts.debug then io.stderr:write("paper.lua: ", tostring(steps), "\n"); os.exit(1) end
  -- the message without the Lua places it passed through (lua/phaseflow/gaia.lua:121: ...)
  local msg = tostring(steps)
  repeat
    local rest = msg:match("^[^\n]-%.lua:%d+: (.*)$")
    msg = rest or msg
  until not rest
  -- a Lua runtime error is a bug, not the input's fault: say where more is to be had
  local bug = msg:find("attempt to ", 1, true) or msg:find("bad argument #", 1, true)
  io.stderr:write("paper.lua: ", msg, "\n", bug and "(a bug: --debug shows its Lua traceback)\n" or "")
  os.exit(1)
end
-- under mpirun, rank 0 speaks for the run
if not P.dist.root then return end
for _, s in ipairs(steps) do
  print(("%-14s %-13s %8.1f s"):format(s.step, s.status, s.seconds))
end
print(("total %.1f s"):format(pf.wtime() - t0))
-- a share of a job array, or a merge that stopped at a step whose jobs are still to run
local last = steps[#steps]
if last and (last.status == "share done" or last.status == "waiting") then
  print(last.status == "waiting" and ("next: the job array of step %s (--task I/N), then --merge"):format(last.step)
        or ("next: the other shares, then --merge (step %s)"):format(last.step))
  return
end
print("report:  " .. out .. "/report.md")
print("results: " .. out .. "/results.h5")
print("figures: " .. out .. "/fig*.png (and .pdf)")

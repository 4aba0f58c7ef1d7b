-- pf.plan: what a pipeline run would do, said before it does it (scripts/paper.lua
-- --dry-run): each step run or reused and why (pf.pipeline's own decision, P:plan), the
-- work of the steps to run (pf.cost's counts) and their projected time on this machine
-- (pf.cost's calibration: a few seconds of the pipeline's own code at the preset's sizes).
--
--   local P = pf.pipeline.new{out = "out/q", preset = pf.presets.get("quick"), plan_only = true}
--   pf.plan.print(P, {from = "densities"})
local cost = require "phaseflow.cost"

local plan = {}

--- The plan of run P (made with pf.pipeline.new{..., plan_only = true}) for the run
--- options opts = {only, from, force}: a list of rows {step, action ("run", "reuse",
--- "not selected", "missing"), why, work (text), seconds (projected, steps to run)}, and
--- {seconds (their sum), counts, rates (nil when no step that pf.cost models is to
--- run)}. opts.calibrate: "full" (default; also
--- PHASEFLOW_COST_CALIBRATE) or "quick"; opts.log(fmt, ...) hears the calibration.
--- Star counts come from an earlier run in P.out when it has a selection step, else
--- from the mock's expected count (counts.selected_source says which).
function plan.rows(P, opts)
  opts = opts or {}
  local steps = P:plan(opts)
  local copts = cost.run_counts(P.out) or {}
  if copts.is_mock == nil then copts.is_mock = #P.inputs == 0 end
  local counts = cost.counts(P.o, copts)
  -- the calibration (seconds) only when a step pf.cost models is to run
  -- (the steps it models are those whose work it can say)
  local work = cost.units_text(counts)
  local rates
  for _, s in ipairs(steps) do
    if s.action == "run" and work[s.step] and not rates then
      local level = opts.calibrate or os.getenv("PHASEFLOW_COST_CALIBRATE") or "full"
      if opts.log then opts.log("calibrating pf.cost (%s) on this machine for the projected times ...", level) end
      rates = cost.calibrate(P.o, {level = level})
    end
  end
  local projected = {}
  if rates then
    for _, r in ipairs((cost.project(counts, rates))) do projected[r.step] = r end
  end
  local total = 0
  for _, s in ipairs(steps) do
    local r = projected[s.step] or {}
    s.work = work[s.step] or r.small or ""
    if s.action == "run" then
      s.seconds = r.wall  -- nil: a small step (seconds) or one pf.cost does not model
      if s.seconds and s.seconds == s.seconds then total = total + s.seconds end
    end
  end
  return steps, {seconds = total, counts = counts, rates = rates}
end

--- Print the plan of run P (plan.rows) as a table on stdout: the preset, the folder, each
--- step with what the run would do and why, its work and projected time, and the total.
function plan.print(P, opts)
  opts = opts or {}
  local log = not opts.quiet and function(fmt, ...)
    io.stderr:write(("[plan] " .. fmt .. "\n"):format(...))
  end or nil
  local rows, sum = plan.rows(P, {only = opts.only, from = opts.from, upto = opts.upto, force = opts.force,
                                  calibrate = opts.calibrate, log = log})
  local m = cost.machine()
  print(("Plan of scripts/paper.lua --preset %s into %s (nothing was run or written)"):format(P.o.name, P.out))
  print(("Input: %s"):format(#P.inputs == 0 and "the embedded mock" or table.concat(P.inputs, ", ")))
  if sum.rates then
    print(("Projected on %s, %d threads, OpenBLAS kernel %s (pf.cost, %s calibration, %.1f s)"):format(
      m.cpu, sum.rates.threads or 1, m.blas_core, sum.rates.level, sum.rates.seconds or 0))
  else
    print("Every modelled step is up to date: nothing to project.")
  end
  print()
  print("| step | action | why | work | projected |")
  print("|---|---|---|---|---|")
  for _, r in ipairs(rows) do
    local t = r.action ~= "run" and "-" or (r.seconds == nil and "seconds") or
              (r.seconds ~= r.seconds and "not modelled") or cost.duration_text(r.seconds)
    print(("| %s | %s | %s | %s | %s |"):format(r.step, r.action, r.why or "", r.work, t))
  end
  print(("| total | | | | %s |"):format(cost.duration_text(sum.seconds)))
  print()
  print(("Stars per flow: %s (%s)."):format(cost.count_text(sum.counts.flows.stars), sum.counts.selected_source))
  for _, r in ipairs(rows) do
    if r.action == "missing" then
      print(("Step %s is missing (%s): --only/--from would stop there; run without them."):format(r.step, r.why))
    end
  end
  return rows, sum
end

return plan

-- Held-out NLL of one flow family against another (the spline issue's quality target):
-- trains one n(x) or p(v|x) flow the way the pipeline does (steps.flows.train_flow: the
-- preset's map, standardisation, Adam, early stopping and fine-tuning) on a run's selected
-- stars, and scores it on a test set it never saw (neither for training nor for early
-- stopping): the mean -ln p of the test stars (nats), the parameter count and the training
-- wall time.
--
--   build/phaseflow scripts/flow-nll.lua RUN_DIR n_x|p_v [--preset P] [--test 0.2] [--seed S]
--                                      [--set KEY=VALUE ...]
--
-- RUN_DIR is a pipeline folder whose selection step has run; --set takes the settings of
-- the preset that the flow reads (flow.*, train.*, finetune.*), e.g.
--   --set flow.n_x.transform=spline --set flow.n_x.layers=sssa
-- The test stars are a fixed random share of the base training sample (seed 1: the same
-- stars for every setting compared).
local pf = require "phaseflow"
local presets = require "phaseflow.presets"
local flows = require "phaseflow.steps.flows"
local h5 = require "phaseflow.h5"

local SPEC = {script = "flow-nll.lua",
  options = {preset = "value", test = "number", seed = "integer", set = "pairs", members = "integer"},
  usage = "usage: phaseflow scripts/flow-nll.lua RUN_DIR n_x|p_v [--preset P] [--test 0.2] "
    .. "[--seed S] [--members M] [--set KEY=VALUE ...]"}
local opts, args = pf.cli.parse(arg, SPEC)
if #args ~= 2 or (args[2] ~= "n_x" and args[2] ~= "p_v") then pf.cli.fail(SPEC, "RUN_DIR and n_x or p_v expected") end
local dir, which = args[1], args[2]
local o = pf.cli.preset(SPEC, opts.preset or "quick", opts.set)
local frac = opts.test or 0.2
if not (frac > 0 and frac < 0.9) then pf.cli.fail(SPEC, "--test must be in (0, 0.9)") end

local sf = dir .. "/steps/selection.h5"
if not pf.fs.exists(sf) then
  pf.cli.fail(SPEC, ("no selection step in %s (scripts/paper.lua --out %s --until selection makes one)"):format(
    dir, dir))
end
local x, v = h5.read(sf, "/train/base/x"), h5.read(sf, "/train/base/v")
local n = x:shape()
local b = pf.core.train.batcher(n, 1)
b:shuffle()
local nt = math.floor(n * frac)
local xt, vt = b:gather(x, 1, nt), b:gather(v, 1, nt)
local xr, vr = b:gather(x, nt + 1, n), b:gather(v, nt + 1, n)

local spec = presets.flow_of(o, which)
print(("%s: %s %d x %d, blocks %d, bins %s, bound %s, layers %s; train %d stars, test %d"):format(
  which, spec.transform, spec.transforms, spec.hidden, spec.blocks, tostring(spec.bins),
  tostring(spec.bound), tostring(spec.layers), n - nt, nt))
for k = 1, opts.members or 1 do
  local t0 = pf.wtime()
  local f, hist = flows.train_flow(which, xr, vr, o, opts.seed or 1, k)
  local secs = pf.wtime() - t0
  local lp = which == "n_x" and f:log_prob(xt) or f:log_prob(vt, xt)
  local fin = lp:isfinite()
  local nll = -(lp * fin):sum() / fin:sum()
  print(("member %d: params %d  epochs %d+%d  val %.4f  test NLL %.4f (%d non-finite)  %.1f s"):format(
    k, f:nparams(), hist.epochs or 0, hist.finetune_epochs or 0, hist.best_val, nll,
    nt - math.floor(fin:sum()), secs))
end

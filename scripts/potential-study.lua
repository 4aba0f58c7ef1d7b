-- What limits the global potential's density? (issue 17's study; docs/potential.md)
-- One fit of the potential step (pf.potential_fit with the preset's settings) to the base
-- density of a run, or to stars of the mock's exact distribution function with its exact
-- gradients, scored against the mock's truth: the acceleration at the Sun (100 pc ball),
-- rho*K and the point density at the Sun, the point density's error along z at the Sun's
-- R, the validation loss and the epochs.
--
--   build/phaseflow scripts/potential-study.lua RUN_DIR [--galaxy G] [--data flows|exact]
--       [--seed S] [--weights default|fform] [--fform-power K] [--preset P] [--set KEY=VALUE ...]
--   (--data also exact-flows, flows-gx, flows-gv, noise: below)
--
-- RUN_DIR: a run on a mock whose flows step has run, made with the same --preset, --galaxy
-- and --set options as given here (e.g. --set members=2 --set bootstraps=0); --set takes any
-- preset setting (potential.patience=300, potential.zscale=0.5, ...).
-- --data exact: the stars are drawn from the mock galaxy of the run (within the survey
--   sphere) and grad ln f is the mock's own: what the fit does with perfect data.
-- --data exact-flows | flows-gx | flows-gv | noise: the flows' stars with the mock's exact
--   gradients (exact-flows), the flows' grad_x ln f and the exact grad_v ln f (flows-gx), the
--   reverse (flows-gv), or the exact ones plus the flows' errors shuffled across the stars
--   (noise: errors of the same size, unrelated to position). Which error sets the density's.
-- --weights fform: the default residual weights times (p(v|x) / exp(<ln p>))^K (K = 2: the
--   f form's squared weights; <ln p> the mean over the stars): the velocity core counts more,
--   as in the local method's f form (flows data only).
local pf = require "phaseflow"
local pipeline = require "phaseflow.pipeline"
local potential = require "phaseflow.steps.potential"
local potfit = require "phaseflow.potfit"
local truth = require "phaseflow.truth"
local array = pf.array

local SPEC = {script = "potential-study.lua",
  options = {data = "value", seed = "integer", weights = "value", ["fform-power"] = "number",
             set = "pairs", preset = "value", galaxy = "value"},
  defaults = {data = "flows", seed = 77, weights = "default", fform_power = 2, preset = "quick"},
  usage = "usage: phaseflow scripts/potential-study.lua RUN_DIR [--galaxy G] "
    .. "[--data flows|exact|exact-flows|flows-gx|flows-gv|noise] [--seed S] [--weights default|fform] "
    .. "[--fform-power K] [--preset P] [--set KEY=VALUE ...]"}
local opts, args = pf.cli.parse(arg, SPEC)
if #args ~= 1 then pf.cli.fail(SPEC, "RUN_DIR expected") end
local DATA = {flows = true, exact = true, ["exact-flows"] = true, ["flows-gx"] = true,
  ["flows-gv"] = true, noise = true}
if not DATA[opts.data] then
  pf.cli.fail(SPEC, "--data must be flows, exact, exact-flows, flows-gx, flows-gv or noise")
end
if opts.weights ~= "default" and opts.weights ~= "fform" then
  pf.cli.fail(SPEC, "--weights must be default or fform")
end
if opts.weights == "fform" and opts.data ~= "flows" then pf.cli.fail(SPEC, "--weights fform needs --data flows") end
if opts.galaxy and not pf.mock.VARIANTS[opts.galaxy] then
  pf.cli.fail(SPEC, ("--galaxy: no galaxy '%s' (have: %s)"):format(opts.galaxy,
    table.concat(pf.mock.variant_names, ", ")))
end
local dir = args[1]
if not pf.fs.exists(dir .. "/steps/flows.h5") then
  pf.cli.fail(SPEC, ("no flows step in %s (scripts/paper.lua --out %s --until flows makes one)"):format(dir, dir))
end
local o = pf.cli.preset(SPEC, opts.preset, opts.set, function(p)
  if opts.galaxy then p.mock.galaxy = opts.galaxy end
end)

local run = pipeline.new{out = dir, preset = o, quiet = true}
if not run:is_mock() then pf.cli.fail(SPEC, dir .. " is not a mock run: there is no truth to score against") end
local f = run:density_of("base")

-- The flows' stars with the exact gradients for one or both factors of the residual, or the
-- exact ones plus the flows' errors shuffled across the stars (noise of the same size and
-- no relation to position). Stars where the exact gradient is over 20 times its median size
-- (the distribution function's edges, where ln f falls steeply) are dropped.
local function mixed_gradients(s, mode)
  local gx, gv = run:exact_df():grad_log_f(s.x, s.v)
  local ngx, ngv = gx:norm_rows(), gv:norm_rows()
  local keep = ngx:lt(20 * ngx:median()):land(ngv:lt(20 * ngv:median()))
    :land(gx:isfinite():min(2)):land(gv:isfinite():min(2))
  local t = {x = s.x:select(keep), v = s.v:select(keep), gx = s.gx:select(keep), gv = s.gv:select(keep)}
  gx, gv = gx:select(keep), gv:select(keep)
  local n = (t.x:shape())
  local dx, dv = t.gx - gx, t.gv - gv
  local function rms(a) return math.sqrt((a:square():sum()) / a:size()) end
  local function mrel(d, g) return (d:norm_rows() / g:norm_rows()):median() end
  print(("%d of %d stars kept; the flows' error relative to the exact gradient: grad_v ln f "
    .. "median %.3f, rms ratio %.3f; grad_x ln f median %.3f, rms ratio %.3f; slope of the "
    .. "flows' on the exact: %.3f (v), %.3f (x)"):format(n, (s.x:shape()), mrel(dv, gv),
    rms(dv) / rms(gv), mrel(dx, gx), rms(dx) / rms(gx), (t.gv * gv):sum() / (gv:square():sum()),
    (t.gx * gx):sum() / (gx:square():sum())))
  if mode == "flows-gx" then t.gv = gv
  elseif mode == "flows-gv" then t.gx = gx
  elseif mode == "exact-flows" then t.gx, t.gv = gx, gv
  else -- noise
    local b = pf.core.train.batcher(n, opts.seed)
    b:shuffle()
    t.gx, t.gv = gx + b:gather(dx, 1, n), gv + b:gather(dv, 1, n)
  end
  return t
end

-- the data and weights of the fit, by wrapping pf.potential_fit as the step calls it
local fit0 = potfit.fit
potfit.fit = function(fo)
  local s = fo.samples
  if opts.data == "exact" then
    local df = run:exact_df()
    local n = (s.x:shape())
    local m = pf.mock.galaxy{galaxy = run:truth_model().galaxy, radius = o.radius, seed = 1}
    local x, v = m:sample(n, {seed = opts.seed})
    local gx, gv = df:grad_log_f(x, v)
    s = {x = x, v = v, gx = gx, gv = gv}
    fo.samples = s
  elseif opts.data ~= "flows" then
    s = mixed_gradients(s, opts.data)
    fo.samples = s
  end
  if opts.weights == "fform" then
    local w, a = potfit.default_weights(s.v, s.gx, s.gv)
    local lp = f.pv:log_prob(s.v, s.x)
    fo.weights, fo.a_scale = w * ((lp - lp:mean()) * opts.fform_power):exp(), a
  end
  return fit0(fo)
end

local t0 = pf.wtime()
local net, hist = potential.fit_density(run, f, opts.seed)
potfit.fit = fit0
local secs = pf.wtime() - t0
local pot = run.potential
local SUN = pf.geometry.SUN
local x0 = array.from{SUN}
local rule = truth.kernel_rule{rule = o.truth_rule}
local rk, tk = truth.smooth(net, x0, rule):get(1), truth.smooth(pot, x0, rule):get(1)
local r, tr = net:density(x0):get(1), pot:density(x0):get(1)
local a = run:sun_acceleration(function(x) return net:acceleration(x) end):reshape(3)
local ta = run:sun_acceleration(function(x) return pot:acceleration(x) end):reshape(3)
local ea = math.sqrt(((a - ta):square():sum())) / math.sqrt((ta:square():sum()))
local zs = {}
for _, z in ipairs{-1, -0.5, -0.25, 0, 0.25, 0.5, 1} do
  local p = array.from{{SUN[1], SUN[2], z}}
  zs[#zs + 1] = ("%+.2f %+.0f%%"):format(z, 100 * (net:density(p):get(1) / pot:density(p):get(1) - 1))
end
print(("data %s, weights %s, seed %d: a_sun %.2f%%  rho*K_sun %+.1f%%  rho_sun %+.1f%%  "
  .. "val %.5f (epoch %d of %d)  %.0f s"):format(opts.data, opts.weights, opts.seed, 100 * ea,
  100 * (rk / tk - 1), 100 * (r / tr - 1), hist.best_val, hist.best_epoch, hist.epochs, secs))
print("point density error along z (kpc) at the Sun's R: " .. table.concat(zs, ", "))

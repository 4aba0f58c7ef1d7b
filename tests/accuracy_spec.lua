-- Issue 6, learned density (#slow: ~15-30 minutes on 2 cores): flows trained on a mock of
-- ~200,000 stars give the acceleration at the Sun within 5% of the truth.
-- STATUS: FAILS (the issue's criterion is kept as the assertion). Measured on 2 shared cores:
--   one n(x)/p(v|x) pair, patience 5 + <= 15 fine-tuning epochs: 8.8% (a_r 7.3% low,
--   a_phi -0.086e-10 m/s^2 spurious), 240 s;
--   ensembles of 2 (this file): 8.0% (a = (-1.787, -0.057, -0.018) vs (-1.927, 0.002,
--   -0.043)), 599 s.
-- The learned grad ln n at the Sun is biased low by the flow (15% at 12,000 stars, 12% at
-- 40,000, 7% at 200,000; docs/accuracy.md), not by the velocities or the solver.
--
-- The mock is the pipeline's stand-in (pf.isomock: isothermal tracer, sigma = 150 km/s, in
-- MWPotential2014), 200,000 stars within the 4 kpc survey sphere around the Sun. n(x) and
-- p(v|x) are ensembles of 2 MAFs each, trained as the pipeline trains them (pf.pipeline.train_flow:
-- survey-sphere map with standardisation, Adam, then a fine-tuning stage at lr / 10). The
-- acceleration is the mean over the 100 pc ball at the Sun (8 QMC points, 2,000 velocities
-- each, the paper's f form). Measured numbers are printed.
local pf = require "phaseflow"

local function wt() return pf.wtime and pf.wtime() or os.clock() end

describe("learned accelerations (issue 6)", function()
  it("#slow flows trained on 200,000 mock stars give a at the Sun within 5% of the truth", function()
    local mock = pf.isomock.new{sigma = 150}
    local sun = pf.array.from{pf.geometry.SUN}
    local t0 = wt()
    local x, v = mock:sample(200000, 4, 2024)
    local o = pf.presets.get("quick")
    o.train = {batch = 2048, lr = 3e-3, patience = 8, max_epochs = 30}
    o.finetune = {epochs = 10, lr_factor = 0.1, patience = 4}
    local M = 2
    local nx, pv, log = {}, {}, {}
    for k = 1, M do
      local h1, h2
      nx[k], h1 = pf.pipeline.train_flow("n_x", x, v, o, 7, k)
      pv[k], h2 = pf.pipeline.train_flow("p_v", x, v, o, 7, k)
      log[#log + 1] = ("member %d: n_x %d+%d epochs, p_v %d+%d epochs"):format(k, h1.epochs,
        h1.finetune_epochs or 0, h2.epochs, h2.finetune_epochs or 0)
    end
    local t1 = wt()
    local f = pf.df.flows(pf.flow.ensemble{members = nx}, pf.flow.ensemble{members = pv})
    local mean = pf.cbe.ball_average(f, sun, 0.1, {points = 8, nv = 2000})
    local truth = mock.potential:acceleration(pf.cbe.ball_points(sun, 0.1, 8, 7)):mean(1)
    local A = pf.units.acc_1e10
    local d, t2 = (mean - truth):square():sum(), truth:square():sum()
    local err = math.sqrt(d / t2)
    local ar = mean:get(1) / A
    print("\n[accuracy_spec] " .. table.concat(log, "; "))
    print(("[accuracy_spec] 200,000 stars, ensembles of %d, %d transforms x %d hidden: a = (%.4f, %.4f, %.4f), "
      .. "truth (%.4f, %.4f, %.4f) 1e-10 m/s^2; |a - a_true|/|a_true| = %.2f%%; training %.0f s, "
      .. "total %.0f s"):format(M, o.flow.transforms, o.flow.hidden, ar, mean:get(2) / A,
      mean:get(3) / A, truth:get(1) / A, truth:get(2) / A, truth:get(3) / A, 100 * err,
      t1 - t0, wt() - t0))
    assert.is_true(err < 0.05, ("relative error %.3f"):format(err))
  end)
end)

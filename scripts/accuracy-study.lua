-- luacheck: no max line length
-- Accuracy study (issue 6 / issue 8 quick preset): how close the learned acceleration and
-- density at the Sun come to the truth on the stand-in isothermal mock (pf.isomock), and
-- which knob limits them.
--
--   build/phaseflow scripts/accuracy-study.lua exact            -- exact df: the method's floor
--   build/phaseflow scripts/accuracy-study.lua learned N T H E M [cache]
--       N stars within 4 kpc, T transforms, H hidden, E max epochs, M members
--   build/phaseflow scripts/accuracy-study.lua maprad R         -- n(x) input-map sensitivity
--
-- Flows are cached in CACHE.h5 (default /tmp/pf-accuracy-N-T-H-E-M.h5) so the evaluation
-- knobs (velocities, kernel points, seeds, form) can be varied without retraining.
local pf = require "phaseflow"
local array = pf.array

local SPEC = {script = "accuracy-study.lua", options = {},
  usage = "usage: phaseflow scripts/accuracy-study.lua [exact | learned N T H E M [CACHE] | maprad R]\n"
    .. "  exact: the exact df (the method's floor); learned: N stars, T transforms, H hidden,\n"
    .. "  E max epochs, M members (flows cached in CACHE.h5); maprad: n(x) input-map radius R (kpc)"}
local _, args = pf.cli.parse(arg, SPEC)
local MODES = {exact = 0, learned = 7, maprad = 1}
if args[1] and not MODES[args[1]] then pf.cli.fail(SPEC, ("no mode '%s' (exact, learned, maprad)"):format(args[1])) end
if #args > 1 + MODES[args[1] or "exact"] then pf.cli.fail(SPEC, "too many arguments") end
arg = args -- luacheck: ignore 121

local SUN = pf.geometry.SUN
local mock = pf.isomock.new{sigma = 150}
local pot = mock.potential
local A = pf.units.acc_1e10
local sun = array.from{SUN}

local function wt() return pf.wtime and pf.wtime() or os.clock() end
local function pct(x, t) return 100 * (x - t) / math.abs(t) end
local truth_a = pot:acceleration(sun):reshape(3):totable()
local truth_rho = pf.poisson.density(pot, sun, {points = 3200}):get(1)

local function exact_study()
  print("== exact df (pf.isomock): acceleration floor and the kernel convolution alone")
  local f = mock:df()
  for _, nv in ipairs({8, 48, 400}) do
    local a = pf.cbe.acceleration(f, sun, {nv = nv})
    print(("nv=%4d  a_x %.6f (truth %.6f) x1e-10 m/s^2  rel err %.1e"):format(nv, a:get(1, 1) / A, truth_a[1] / A,
      math.abs(a:get(1, 1) - truth_a[1]) / math.abs(truth_a[1])))
  end
  print(("truth rho_sun (3200 kernel points) = %.4f 1e-2 Msun/pc^3"):format(pf.units.rho_to_1e2(truth_rho)))
  for _, kp in ipairs({16, 48, 100, 200, 400, 800}) do
    local r = pf.poisson.density(pot, sun, {points = kp}):get(1)
    local r2 = pf.poisson.density(f, sun, {points = kp, nv = 8}):get(1)
    print(("kernel points %4d: potential source %+.3f%%  exact df (nv=8) %+.3f%%"):format(kp, pct(r, truth_rho), pct(r2, truth_rho)))
  end
end

-- train (or load) an n_x / p_v pair of ensembles on N stars within 4 kpc
local FT = tonumber(os.getenv("PF_FINETUNE") or "0") -- epochs of a second stage at lr / 10
local LR = tonumber(os.getenv("PF_LR") or "3e-3")
local BATCH = math.tointeger(tonumber(os.getenv("PF_BATCH") or "1024"))
local PATIENCE = math.tointeger(tonumber(os.getenv("PF_PATIENCE") or "5"))
local function flows(N, T, H, E, M, cache, seed)
  seed = seed or 1
  local nx, pv = {}, {}
  local have = io.open(cache, "rb")
  if have then have:close() end
  local x, v
  for k = 1, M do
    for _, which in ipairs({"n_x", "p_v"}) do
      local g = ("/%s/member_%04d"):format(which, k)
      local f
      if have and pf.h5.exists(cache, g) == true then
        f = pf.flow.load(cache, g)
      else
        if not x then
          x, v = mock:sample(N, 4, seed)
        end
        local fo = {dim = 3, transforms = T, hidden = H, blocks = 1}
        if which == "n_x" then
          fo.preprocess = {input = {sphere = true, centre = SUN, radius = 4 * 1.0001}}
          if os.getenv("PF_STD") == "1" then
            local m, sd = pf.steps.flows.sphere_moments(x, SUN, 4 * 1.0001)
            fo.preprocess.input.mean, fo.preprocess.input.std = m, sd
          end
        else
          fo.context = 3
          fo.preprocess = {input = {mean = v:mean(1):totable(), std = v:std(1, 1):totable()},
                           context = {sphere = true, centre = SUN, radius = 4 * 1.0001}}
        end
        local t0 = wt()
        local hist
        f, hist = pf.flow.train_member{member = k, seed = seed, x = which == "n_x" and x or v,
          context = which == "p_v" and x or nil, flow = fo,
          train = {batch = BATCH, lr = LR, patience = PATIENCE, max_epochs = E}}
        if FT > 0 then
          local h2 = pf.train(f, which == "n_x" and x or v, {context = which == "p_v" and x or nil,
            seed = pf.rng.derive_seed(seed, k), batch = BATCH, lr = LR / 10, patience = 5, max_epochs = FT})
          io.stderr:write(("  fine-tune at lr/10: %d epochs, best val %.4f -> %.4f\n"):format(h2.epochs, hist.best_val, h2.best_val))
        end
        f:save(cache, g)
        io.stderr:write(("trained %s member %d: %d epochs, best val %.4f, %.0f s\n"):format(
          which, k, hist.epochs, hist.best_val, wt() - t0))
      end
      if which == "n_x" then nx[k] = f else pv[k] = f end
    end
  end
  local function ens(t) return #t == 1 and t[1] or pf.flow.ensemble{members = t} end
  return pf.df.flows(ens(nx), ens(pv)), nx, pv
end

local function evaluate(f, label)
  print("== " .. label)
  -- gradient of ln n at the Sun vs truth (a / sigma^2), and the context gradient of ln p
  local s2 = mock.sigma ^ 2
  local gn = f.nx:grad_log_prob(sun):totable()[1]
  print(("grad ln n at Sun: (%.4f %.4f %.4f) truth (%.4f %.4f %.4f) 1/kpc"):format(
    gn[1], gn[2], gn[3], truth_a[1] / s2, truth_a[2] / s2, truth_a[3] / s2))
  local ones = array.ones(2000, 1)
  local vv = f:sample_v(SUN, 2000, {qmc = true, seed = 3})
  local _, gc = f.pv:grad_log_prob(vv, ones:matmul(sun))
  local m = gc:mean(1):totable()
  local sd = gc:std(1, 1):totable()
  print(("grad_x ln p(v|x) at Sun over v ~ p: mean (%.4f %.4f %.4f) rms-spread (%.4f %.4f %.4f) 1/kpc (truth 0)"):format(
    m[1], m[2], m[3], sd[1], sd[2], sd[3]))
  for _, form in ipairs({"f", "logf"}) do
    for _, nv in ipairs({400}) do
      local t0 = wt()
      local a, info = pf.cbe.acceleration(f, sun, {nv = nv, form = form})
      print(("a at Sun  form=%-4s nv=%5d: a_x %.4f (truth %.4f) err %+.1f%%  a_z %.4f (truth %.4f)  rms %.3g cond %.3g  %.1fs"):format(
        form, nv, a:get(1, 1) / A, truth_a[1] / A, pct(a:get(1, 1), truth_a[1]), a:get(1, 3) / A, truth_a[3] / A,
        info.rms:get(1), info.cond:get(1), wt() - t0))
    end
  end
  local mean = pf.cbe.ball_average(f, sun, 0.1, {points = 8, nv = 400})
  print(("ball (8 pts, nv 400): a_x %.4f err %+.1f%%"):format(mean:get(1) / A, pct(mean:get(1), truth_a[1])))
  -- densities: kernel points x velocities, per-point seeds vs one seed for all points
  print(("truth rho_sun = %.3f 1e-2 Msun/pc^3"):format(pf.units.rho_to_1e2(truth_rho)))
  for _, cfg in ipairs({{48, 48}, {200, 100}}) do
    for _, stride in ipairs({1, 0}) do
      for _, form in ipairs({"f"}) do
        local t0 = wt()
        local rho = pf.poisson.density(f, sun, {points = cfg[1], nv = cfg[2], form = form, vseed_stride = stride}):get(1)
        print(("rho kp=%4d nv=%4d seeds=%-9s form=%-4s: %7.3f (truth %.3f) err %+6.1f%%  %.1fs"):format(
          cfg[1], cfg[2], stride == 0 and "common" or "per-point", form, pf.units.rho_to_1e2(rho),
          pf.units.rho_to_1e2(truth_rho), pct(rho, truth_rho), wt() - t0))
      end
    end
  end
end

local mode = arg[1] or "exact"
if mode == "exact" then
  exact_study()
elseif mode == "learned" then
  local N, T, H, E, M = tonumber(arg[2] or 12000), tonumber(arg[3] or 4), tonumber(arg[4] or 32),
    tonumber(arg[5] or 25), tonumber(arg[6] or 1)
  N, T, H, E, M = math.tointeger(N), math.tointeger(T), math.tointeger(H), math.tointeger(E), math.tointeger(M)
  local cache = arg[7] or ("/tmp/pf-accuracy-%d-%d-%d-%d-%d-ft%d-lr%g-b%d-p%d-s%s.h5"):format(N, T, H, E, M, FT, LR, BATCH, PATIENCE, os.getenv("PF_STD") or "0")
  local t0 = wt()
  local f = flows(N, T, H, E, M, cache)
  print(("flows ready (%.0f s): N=%d stars, %d transforms x %d hidden, <= %d epochs, %d members"):format(
    wt() - t0, N, T, H, E, M))
  evaluate(f, ("learned N=%d T=%d H=%d E=%d M=%d"):format(N, T, H, E, M))
elseif mode == "maprad" then
  -- sensitivity of the learned grad ln n at the Sun to the n(x) flow's input map: the
  -- survey-sphere map at radius R (kpc; the data fill 4 kpc), or none (R = 0: plain
  -- standardisation, a hard edge at 4 kpc)
  local Rm = tonumber(arg[2] or 4.0004)
  local x = mock:sample(40000, 4, 1)
  local pre
  if Rm > 0 then
    local m, sd = pf.steps.flows.sphere_moments(x, SUN, Rm)
    pre = {input = {sphere = true, centre = SUN, radius = Rm, mean = m, std = sd}}
  else
    pre = {input = {mean = x:mean(1):totable(), std = x:std(1, 1):totable()}}
  end
  local f, h = pf.flow.train_member{member = 1, seed = 1, x = x, flow = {dim = 3, transforms = 4, hidden = 32,
    blocks = 1, preprocess = pre}, train = {batch = 1024, lr = 3e-3, patience = 10, max_epochs = 60}}
  pf.train(f, x, {seed = pf.rng.derive_seed(1, 1), batch = 1024, lr = 3e-4, patience = 5, max_epochs = 20})
  local g = f:grad_log_prob(sun):totable()[1]
  print(("map radius %g: %d epochs, grad ln n at Sun (%.4f %.4f %.4f), truth (%.4f %.4f %.4f) 1/kpc; mean NLL %.5f"):format(
    Rm, h.epochs, g[1], g[2], g[3], truth_a[1] / mock.sigma ^ 2, truth_a[2] / mock.sigma ^ 2,
    truth_a[3] / mock.sigma ^ 2, -f:log_prob(x):mean()))
end

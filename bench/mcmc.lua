-- Benchmark: pf.mcmc against emcee (bench/mcmc_emcee.py) on the identical gNFW posterior.
--
--   phaseflow bench/mcmc.lua [steps=40000] [walkers=32]
--
-- Reports samples/s (walker steps per second) and effective samples/s (samples / tau_max
-- per second, tau from the second three quarters of the chain) for phaseflow's C model
-- path, its Lua-callback path (one Lua call per half-ensemble) and emcee (per-walker
-- log_prob, and vectorize=True). Run side by side in one process tree; repeat = 3, medians.
-- The Lua path and emcee run steps/20 steps (rates do not depend on the length).
local pf = require "phaseflow"

local steps, W = 40000, 32
for i = 1, #arg do
  local k, v = arg[i]:match("^(%w+)=(%d+)$")
  if k == "steps" then steps = tonumber(v) elseif k == "walkers" then W = tonumber(v)
  else error("bench/mcmc.lua: unknown argument " .. arg[i]) end
end
steps, W = math.tointeger(steps), math.tointeger(W)

-- synthetic data: the paper-like profile at 15 radii, 10% errors, seeded noise
local r = pf.array.linspace(1.0, 8.0, 15)
local rho = pf.gnfw.density(r, 30, 3.5, 1.0)
local sigma = rho * 0.1
local pts = {r = r, rho = rho + sigma * pf.rng.new(17):normal(15), sigma = sigma}
local csv = os.tmpname() .. ".csv"
local f = assert(io.open(csv, "w"))
f:write("r_kpc,rho,sigma\n")
for i = 1, 15 do f:write(("%.17g,%.17g,%.17g\n"):format(r:get(i), pts.rho:get(i), sigma:get(i))) end
f:close()

local function p0(seed)
  local g = pf.rng.new(seed)
  local x = pf.array.zeros(W, 3)
  local c = {30, 4, 1}
  for w = 1, W do for j = 1, 3 do x:set(w, j, c[j] * (1 + 0.01 * g:normal())) end end
  return x
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local function run(logpost, n, seed)
  local t = pf.wtime()
  local res = pf.mcmc.sample(logpost, p0(seed), {steps = n, seed = seed})
  local dt = pf.wtime() - t
  local tau = res:tau{quiet = true}
  local flat_tau = pf.mcmc.autocorr_time(pf.mcmc.flat(res.chain, n // 4):reshape(n - n // 4, W, 3))
  return dt, flat_tau:max(), res.acceptance_mean, tau
end

local rows = {}
local function report(name, n, dts, tau, acc)
  local dt = median(dts)
  local sps = n * W / dt
  rows[#rows + 1] = {name = name, sps = sps, ess = sps / tau, tau = tau}
  print(("%-22s %8d steps  %8.3f s  %12.0f samples/s  tau %7.1f  %10.1f eff/s  acc %.3f")
    :format(name, n, dt, sps, tau, sps / tau, acc))
end

print(("gNFW posterior, 15 points, %d walkers, stretch move a = 2"):format(W))
local model = pf.gnfw.model(pts)
local dts, tau, acc = {}, nil, nil
for rep = 1, 3 do
  local dt, t, a = run(model, steps, rep)
  dts[rep] = dt; tau = tau or t; acc = acc or a
end
report("phaseflow C model", steps, dts, tau, acc)
local lua_steps = steps // 20
local lp = pf.gnfw.logpost_lua(pts)
dts = {}
local tau_l, acc_l
for rep = 1, 3 do
  local dt, t, a = run(lp, lua_steps, rep)
  dts[rep] = dt; tau_l = tau_l or t; acc_l = acc_l or a
end
-- tau is a property of the posterior and the move, not of the code path: use the long
-- C chain's estimate for both (the short Lua chain's own estimate is printed beside)
report("phaseflow Lua callback", lua_steps, dts, tau, acc_l)
print(("  (Lua-path chain's own tau estimate %.1f from %d steps)"):format(tau_l, lua_steps))

local py = "/usr/bin/python3"
local cmd = ("%s bench/mcmc_emcee.py %s %d %d %d 2>&1"):format(py, csv, W, steps // 20, 1)
local peers = {}
for _ = 1, 3 do
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  for mode, n, dt, _, a in out:gmatch("emcee (%S+) (%d+) (%S+) (%S+) (%S+)") do
    peers[mode] = peers[mode] or {n = tonumber(n), dts = {}, acc = tonumber(a)}
    table.insert(peers[mode].dts, tonumber(dt))
  end
  if not next(peers) then print("emcee run failed:\n" .. out); os.remove(csv); return end
end
for _, mode in ipairs{"per-walker", "vectorized"} do
  local pm = peers[mode]
  report("emcee " .. mode, pm.n, pm.dts, tau, pm.acc)
end
os.remove(csv)

local best = rows[1]
print()
for i = 2, #rows do
  print(("phaseflow C model / %-22s %7.1fx samples/s   %7.1fx effective samples/s"):format(
    rows[i].name, best.sps / rows[i].sps, best.ess / rows[i].ess))
end
print("(target: >= 5x emcee; the effective-sample ratio uses one tau for all, as the " ..
  "algorithm and posterior are identical)")

-- Boltzmann-solver and density costs with flows as the phase-space density (issue 6):
-- accelerations per second at 10,000 velocities for one flow pair and for ensembles of 10;
-- seconds per density point at 3,200 kernel points; the projected cost of the paper's
-- measurement set at paper settings. Flows are untrained (the cost of an evaluation does
-- not depend on the weights); the architecture is the default (8 transforms, 64 hidden,
-- 2 blocks), with the survey-sphere map on n(x).
--
--   build/phaseflow bench/physics_flows.lua [positions=2]
local pf = require "phaseflow"

local npos = tonumber(arg and arg[1]) or 2
local sun = {8.122, 0, 0.0208}

local function pair(seed)
  local n_x = pf.flow.maf{dim = 3, seed = seed,
    preprocess = {input = {sphere = true, centre = sun, radius = 4}}}
  -- standardised velocities and contexts, as a trained p(v|x) has them
  local p_v = pf.flow.maf{dim = 3, context = 3, seed = seed + 1000,
    preprocess = {input = {mean = {0, -200, 0}, std = {60, 60, 60}},
                  context = {mean = sun, std = {2, 2, 1}}}}
  -- Untrained weights, shrunk so each flow is near the identity map: random full-size
  -- weights can send tail samples to 1e20 and overflow (a trained flow does not).
  n_x:set_params(n_x:params() * 0.1)
  p_v:set_params(p_v:params() * 0.1)
  return n_x, p_v
end

local function ensemble_pair(m)
  local nx, pv = {}, {}
  for k = 1, m do nx[k], pv[k] = pair(k) end
  return pf.flow.ensemble{members = nx}, pf.flow.ensemble{members = pv}
end

local x0 = pf.array.zeros(npos, 3)
for i = 1, npos do
  x0:set(i, 1, sun[1] + 0.05 * i); x0:set(i, 2, 0.03 * i); x0:set(i, 3, sun[3] - 0.02 * i)
end

local function rate(f, nv)
  local t = pf.wtime()
  pf.cbe.acceleration(f, x0, {nv = nv, seed = 1})
  return npos / (pf.wtime() - t)
end

print(("phaseflow %s, %d threads, BLAS kernel %s"):format(pf.version, pf.config().threads,
  pf.config().blas_core))
local f1 = pf.df.flows(pair(1))
local r1 = rate(f1, 10000)
print(("accelerations at 10,000 velocities, one flow pair:      %8.2f per s"):format(r1))
local f10 = pf.df.flows(ensemble_pair(10))
local r10 = rate(f10, 10000)
print(("accelerations at 10,000 velocities, ensembles of 10:    %8.2f per s"):format(r10))

-- One density point: 3,200 kernel points, accelerations at each from the flow pair with
-- a smaller velocity count (the pipeline's option), timed at nv = 200 and scaled.
local nv_k = 200
local t = pf.wtime()
pf.poisson.density(f1, pf.array.from{sun}, {points = 3200, nv = nv_k, seed = 1})
local per_point = pf.wtime() - t
print(("one density point, 3,200 kernel points x %d velocities, one pair: %.1f s"):format(nv_k, per_point))

-- The paper's set: ~200 accelerations along lines and arcs and 15 independent density
-- points (plus the density curves, ~60 points), with 100-flow ensembles, 10,000
-- velocities everywhere. Cost scales with members x velocities.
local per_acc_paper = 10 / r10            -- 100 members: 10x the ensemble-of-10 cost
local per_density_paper = per_point * 100 * (10000 / nv_k)
print(("projected, paper settings (100-flow ensembles, 10,000 velocities):"))
print(("  200 accelerations                  %10.0f s"):format(200 * per_acc_paper))
print(("  75 density points x 3,200 points   %10.0f s (%.1f days)"):format(75 * per_density_paper,
  75 * per_density_paper / 86400))

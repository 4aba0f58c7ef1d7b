-- bench/physics.lua: speed of the physics solvers (run: build/phaseflow bench/physics.lua).
-- Source: the exact rotating-isothermal test DF written in Lua (tests/physics_models.lua);
-- flows plug in later through the same interface. Reported separately: the whole call
-- (dominated by the Lua test DF) and the C least-squares solve alone on the same arrays.
local dir = (arg and arg[0] or ""):match("^(.*)/bench/[^/]*$") or "."
package.path = dir .. "/tests/?.lua;" .. package.path
local pf = require "phaseflow"
local models = require "physics_models"

local pot = models.potential()
local df = models.isothermal(pot, 150, -25)
local function median(t) table.sort(t); return t[(#t + 1) // 2] end

local nv, npos = 10000, 8
local x0 = pf.cbe.ball_points(pf.array.from{8.122, 0, 0.0208}, 0.5, npos, 3)
local tw = {}
for r = 1, 3 do
  local t = pf.wtime(); pf.cbe.acceleration(df, x0, {nv = nv, seed = r}); tw[r] = pf.wtime() - t
end
-- the C solve alone
local xs, vs = {}, {}
for i = 1, npos do
  local row = x0:rows(i, i):copy()
  vs[i] = df:sample_v(row, nv, {seed = i}); xs[i] = pf.array.ones(nv, 1):matmul(row)
end
local X, V = pf.array.vstack(xs), pf.array.vstack(vs)
local gx, gv = df:grad_log_f(X, V)
local lf = df:log_f(X, V)
local ts = {}
for r = 1, 5 do
  local t = pf.wtime(); pf.core.cbe.solve(V, gx, gv, lf, nv, {vmax = 600}); ts[r] = pf.wtime() - t
end
local tws, tss = median(tw), median(ts)
print(("accelerations at %d velocities: %.1f /s whole call (Lua test DF), %.0f /s C solve alone"
  .. " (ratio %.0fx)"):format(nv, npos / tws, npos / tss, tws / tss))

local P = 3200
local x1 = pf.array.from{{8.122, 0, 0.0208}}
local tk, td = {}, {}
for r = 1, 5 do
  local t = pf.wtime()
  local pts = pf.poisson.kernel_points(x1, {points = P, seed = r})
  tk[r] = pf.wtime() - t
  local acc = pot:acceleration(pts.x)
  t = pf.wtime(); pf.poisson.density_from(acc, pts); td[r] = pf.wtime() - t
end
print(("density point at %d kernel points: %.2e s kernel points + %.2e s density_from (C);"
  .. " accelerations at the points from a DF at nv = 10000 would cost %.0f s at the rate above")
  :format(P, median(tk), median(td), P * tws / npos))
print(("paper's full set (~15 density points + ~200 line/arc accelerations): %.0f s at the C"
  .. " solve rate, excluding the cost of evaluating the density's gradients"):format(
  (15 * P + 200) * tss / npos))

-- bench/potnet.lua: speed of the potential network (run: build/phaseflow bench/potnet.lua).
-- Evaluating phi, grad Phi and lap Phi (a and rho) at 1e5 points (the issue's target:
-- <= 1 s on 2 cores), and one loss-and-gradient step on a batch, for two sizes, on 1 and
-- on 2 threads (median of 5 runs).
local pf = require "phaseflow"

local function median(t) table.sort(t); return t[(#t + 1) // 2] end
local before = pf.config().threads
local n = 100000
local x = pf.array.zeros(n, 3)
pf.rng.new(1):fill_normal(x, 0, 1.5)
x:col(1):assign(x:col(1) + pf.geometry.SUN[1])
local batch = 1024
local o = {x = x:rows(1, batch):copy(), v = x:rows(2, batch + 1):copy(), gx = x:rows(3, batch + 2):copy(),
           gv = x:rows(4, batch + 3):copy(), y = x:rows(5, 516):copy(), lambda = 1, tau = 50}
for _, arch in ipairs{{hidden = 64, layers = 3}, {hidden = 32, layers = 2}} do
  local net = pf.potnet.new{hidden = arch.hidden, layers = arch.layers, centre = pf.geometry.SUN,
                            scale = 3, phi_scale = 2e4}
  for _, th in ipairs{1, 2} do
    pf.config{threads = th}
    local te, tl = {}, {}
    for r = 1, 5 do
      local t = pf.wtime(); net:eval(x); te[r] = pf.wtime() - t
      t = pf.wtime(); net:loss_grad(o); tl[r] = pf.wtime() - t
    end
    print(("potnet hidden %d, layers %d (%d parameters), %d thread(s): eval (phi, a, lap) at 1e5 "
      .. "points %.3f s; loss_grad on %d samples + %d points %.2f ms"):format(arch.hidden, arch.layers,
      net:nparams(), th, median(te), batch, 512, 1e3 * median(tl)))
  end
end
pf.config{threads = before}

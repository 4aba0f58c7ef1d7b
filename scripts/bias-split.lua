-- luacheck: no max line length
-- Which flow carries a run's error at the Sun? (issue 13's accuracy study)
--
--   build/phaseflow scripts/bias-split.lua RUN_DIR [nv=400] [kernel_points=200] [nv_density=100]
--
-- RUN_DIR is a finished pipeline run on a mock (scripts/paper.lua --out RUN_DIR). The
-- phase-space density f = n(x) p(v|x) is rebuilt four ways, each factor either the run's
-- base ensemble or the mock's exact one, and the acceleration at the Sun (the 100 pc ball)
-- and the kernel-smoothed density at the Sun are computed from each:
--   flows n, flows p   the run's own numbers
--   exact n, flows p   the error of p(v|x) alone
--   flows n, exact p   the error of n(x) alone
--   exact n, exact p   the method's floor (kernel and velocity sampling)
-- The exact n(x) is the mock's quadrature (pf.mock df:n_x); its gradient is a central
-- difference with a 1e-3 kpc step (the quadrature's 1e-9 relative accuracy makes that
-- good to ~1e-6 /kpc); the exact p(v|x) is f / n with velocities drawn from the mock.
local pf = require "phaseflow"
local array = pf.array

local cli = require "phaseflow.cli"
local SPEC = {script = "bias-split.lua", keyvalues = true,
              usage = "usage: phaseflow scripts/bias-split.lua RUN_DIR [nv=400] [kernel_points=200] [nv_density=100]",
              options = {nv = {"integer", min = 0}, kernel_points = {"integer", min = 0},
                         nv_density = {"integer", min = 0}},
              defaults = {nv = 400, kernel_points = 200, nv_density = 100}}
local opt, pos = cli.parse(arg, SPEC)
if #pos ~= 1 then cli.fail(SPEC, ("RUN_DIR expected, got %d argument(s)"):format(#pos)) end
local dir = pos[1]

local cat, flows = dir .. "/steps/catalogue.h5", dir .. "/steps/flows.h5"
local ok, cinfo = pcall(pf.h5.attrs, cat, "/")
if not ok or not cinfo.mockdir then cli.fail(SPEC, ("'%s' is not a finished run on a mock (no %s with a mock folder)"):format(dir, cat)) end
local preset_ok, fi = pcall(pf.h5.attrs, flows, "/")
if not preset_ok then cli.fail(SPEC, ("no flows in '%s'"):format(flows)) end

-- the run's base ensembles
local function ensemble(which)
  local list, k = {}, 1
  while pf.h5.exists(flows, ("/base/%s/member_%04d"):format(which, k)) == true do
    list[k] = pf.flow.load(flows, ("/base/%s/member_%04d"):format(which, k))
    k = k + 1
  end
  if #list == 0 then cli.fail(SPEC, "no base ensemble in " .. flows) end
  return #list == 1 and list[1] or pf.flow.ensemble{members = list}
end
local nx, pv = ensemble("n_x"), ensemble("p_v")

-- the mock's exact df (the galaxy the run's mock file records; the sphere it was made in)
local mockfile = cinfo.mockdir .. "/mock.h5"
local tinfo = pf.h5.attrs(mockfile, "/truth")
local truth = pf.mock.truth_model(mockfile)
local exact = pf.mock.galaxy{galaxy = truth.galaxy, radius = tinfo.radius, seed = tinfo.seed or 1}:df()
io.write(("run %s: mock galaxy '%s' (%s), flows: %s\n"):format(dir, truth.name, mockfile, fi.options or "?"))

-- ln n and grad ln n of the exact density at the rows of x (N x 3)
local H = 1e-3
local function exact_n(x)
  local t = x:totable()
  local pts = {}
  for _, p in ipairs(t) do
    pts[#pts + 1] = p
    for j = 1, 3 do
      for _, s in ipairs{1, -1} do
        local q = {p[1], p[2], p[3]}
        q[j] = q[j] + s * H
        pts[#pts + 1] = q
      end
    end
  end
  local n = exact:n_x(array.from(pts)):log():totable()
  local g, l = {}, {}
  for i = 1, #t do
    local b = (i - 1) * 7
    l[i] = n[b + 1]
    g[i] = {(n[b + 2] - n[b + 3]) / (2 * H), (n[b + 4] - n[b + 5]) / (2 * H), (n[b + 6] - n[b + 7]) / (2 * H)}
  end
  return array.from(g), array.from(l)
end

-- ln n and its gradient at the rows of x, evaluated once per run of `block` rows (x is
-- constant over each run: the solver's layout) by the exact density or the flows
local function n_parts(kind, x, block)
  local N = (x:shape())
  local step = (block and block > 1 and N % block == 0) and block or 1
  local rows, expand = {}, {}
  for i = 1, N, step do rows[#rows + 1] = i end
  for r = 1, #rows do for _ = 1, step do expand[#expand + 1] = r end end
  local xu = x:take(array.from(rows))
  local g, l
  if kind == "exact" then g, l = exact_n(xu) else
    local _
    g, _, l = nx:grad_log_prob(xu)
  end
  local e = array.from(expand)
  return g:take(e), l:reshape(#rows, 1):take(e):reshape(N)
end

-- f = n p with each factor "flow" or "exact"; the df interface pf.cbe takes
local function hybrid(nkind, pkind)
  local d = {}
  function d.grad_log_f(_, x, v, block)
    local gn, ln = n_parts(nkind, x, block)
    if pkind == "flow" then
      local gv, gc, lp = pv:grad_log_prob(v, x)
      return gn + gc, gv, ln + lp
    end
    -- exact p = f / n_exact: grad_x ln p = grad_x ln f - grad ln n_exact
    local gxf, gvf, lf = exact:grad_log_f(x, v)
    local gne, lne = gn, ln
    if nkind ~= "exact" then gne, lne = n_parts("exact", x, block) end
    return gn + (gxf - gne), gvf, ln + (lf - lne)
  end
  function d.log_f(self, x, v)
    local _, _, l = self:grad_log_f(x, v)
    return l
  end
  function d.sample_v(_, x0, n, o)
    if pkind == "flow" then
      local c0 = array.is_array(x0) and x0:copy():reshape(3):totable() or x0
      local oo = {log_prob = false}
      for k, val in pairs(o or {}) do oo[k] = val end
      return (pv:sample(n, c0, oo))
    end
    return (exact:sample_v(x0, n, {seed = (o and o.seed) or 1}))
  end
  return d
end

local geometry = pf.geometry
local sun = array.from{geometry.SUN}
local A = pf.units.acc_1e10
local bp = pf.cbe.ball_points(sun, 0.1, 8, 7)
local a_true = truth.potential:acceleration(bp):mean(1):totable()
local amag = math.sqrt(a_true[1] ^ 2 + a_true[2] ^ 2 + a_true[3] ^ 2)
local pts = pf.poisson.kernel_points(sun, {points = opt.kernel_points, seed = 1})
local rho_true = pf.truth.at(sun, {potential = truth.potential}).density_smoothed:get(1)

io.write(("%-18s %28s %8s %12s %8s %7s\n"):format("f = n p", "a at the Sun (1e-10 m/s^2)", "|da|/|a|",
  "rho*K (1e-2)", "error", "time"))
io.write(("%-18s (%8.4f %8.4f %8.4f) %8s %12.3f\n"):format("truth", a_true[1] / A, a_true[2] / A, a_true[3] / A, "",
  pf.units.rho_to_1e2(rho_true)))
for _, c in ipairs{{"flow", "flow"}, {"exact", "flow"}, {"flow", "exact"}, {"exact", "exact"}} do
  local t0 = pf.wtime()
  local f = hybrid(c[1], c[2])
  local a = pf.cbe.ball_average(f, sun, 0.1, {points = 8, nv = opt.nv, seed = 1}):totable()
  local da = math.sqrt((a[1] - a_true[1]) ^ 2 + (a[2] - a_true[2]) ^ 2 + (a[3] - a_true[3]) ^ 2) / amag
  local acc = pf.cbe.acceleration(f, pts.x, {nv = opt.nv_density, seed = 1, seed_stride = 0})
  local rho = pf.poisson.density_from(acc, pts):get(1)
  io.write(("%-18s (%8.4f %8.4f %8.4f) %7.2f%% %12.3f %+7.1f%% %6.1fs\n"):format(
    ("%s n, %s p"):format(c[1] == "flow" and "flows" or "exact", c[2] == "flow" and "flows" or "exact"),
    a[1] / A, a[2] / A, a[3] / A, 100 * da, pf.units.rho_to_1e2(rho), 100 * (rho / rho_true - 1), pf.wtime() - t0))
end

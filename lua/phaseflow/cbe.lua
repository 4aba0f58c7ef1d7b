-- phaseflow.cbe: gravitational accelerations from a phase-space density through the
-- collisionless Boltzmann equation (the paper's Eq. 8), and averages over a ball.
--
-- A phase-space density `f` is any object with
--   f:grad_log_f(x, v) -> gx, gv   (N x 3 each: grad_x ln f in 1/kpc, grad_v ln f in s/km)
--   f:log_f(x, v)      -> N-vector (only for the f form, the default)
--   f:sample_v(x0, n, {qmc = true, seed = s}) -> n x 3 velocities from p(v|x0), km/s
-- (flows, flow ensembles, the mock's exact density, the analytic models of the tests).
local core = require "phaseflow.core"
local strict = require "phaseflow.strict"
local array = core.array

local cbe = {}
for k, v in pairs(core.cbe) do cbe[k] = v end

--- x (an N x 3 array, or a 3-vector: one row) as an N x 3 array; else an error naming
--- `name` (the caller).
local function as_rows(x, name)
  if not array.is_array(x) then
    error(("%s: array of shape Nx3 (or 3) expected, got %s"):format(name, type(x)), 3)
  end
  local s = {x:shape()}
  if #s == 1 and s[1] == 3 then return x:copy():reshape(1, 3) end
  if #s ~= 2 or s[2] ~= 3 then
    error(("%s: array of shape Nx3 (or 3) expected, got %s"):format(name, table.concat(s, "x")), 3)
  end
  if s[1] > 0 and x:isfinite():min() < 1 then
    local ok = x:isfinite():min(2)
    for i = 1, s[1] do
      if ok:get(i) < 1 then
        error(("%s: position %d is not finite (%g, %g, %g)"):format(name, i, x:get(i, 1),
          x:get(i, 2), x:get(i, 3)), 3)
      end
    end
  end
  return x
end
cbe.as_rows = as_rows

local function check_f(f, need_logf)
  local ok = type(f) == "table" or type(f) == "userdata"
  if not ok or type(f.grad_log_f) ~= "function" and not getmetatable(f) or
     f.grad_log_f == nil or f.sample_v == nil or (need_logf and f.log_f == nil) then
    error("pf.cbe.acceleration: phase-space density expected (methods grad_log_f, sample_v"
          .. (need_logf and ", log_f" or "") .. ")", 3)
  end
end

local known = {nv = true, vmax = true, seed = true, form = true, qmc = true, batch = true,
               seed_stride = true}

-- acceleration(f, x0 [, opts]) -> acc (N x 3, (km/s)^2/kpc), info {cond, rms, used}
-- opts: nv = 10000 velocities per position, vmax = 600 km/s, seed = 1 (position i uses
-- seed + (i - 1) * seed_stride: seed_stride = 1 (default) gives every position its own
-- scramble; seed_stride = 0 gives every position the same base points (common random
-- numbers: the velocity noise is then smooth in x, which differences of accelerations --
-- the density -- need), form = "f" (the paper's) or "logf", qmc = true, batch =
-- positions per gradient call (default: ~200,000 rows).
function cbe.acceleration(f, x0, opts)
  opts = opts or {}
  strict.options(opts, known, "pf.cbe.acceleration")
  local form = opts.form or "f"
  if form ~= "f" and form ~= "logf" then
    error("pf.cbe.acceleration: option 'form' must be \"f\" or \"logf\"", 2)
  end
  check_f(f, form == "f")
  x0 = as_rows(x0, "pf.cbe.acceleration")
  local nv = opts.nv or 10000
  if math.type(nv) ~= "integer" or nv < 3 then
    error("pf.cbe.acceleration: option 'nv' must be an integer >= 3", 2)
  end
  local vmax = opts.vmax or 600
  local seed = opts.seed or 1
  local stride = opts.seed_stride or 1
  if math.type(stride) ~= "integer" or stride < 0 then
    error("pf.cbe.acceleration: option 'seed_stride' must be an integer >= 0", 2)
  end
  local npos = (x0:shape())
  local batch = opts.batch or math.max(1, math.min(200, 200000 // nv))
  local ones = array.ones(nv, 1)
  local accs, conds, rmss, useds = {}, {}, {}, {}
  for i0 = 1, npos, batch do
    local i1 = math.min(npos, i0 + batch - 1)
    local xs, vs = {}, {}
    for i = i0, i1 do
      local row = x0:rows(i, i):copy()
      local v = f:sample_v(row, nv, {qmc = opts.qmc ~= false, seed = seed + (i - 1) * stride})
      local vsh = {v:shape()}
      if vsh[1] ~= nv or vsh[2] ~= 3 then
        error(("pf.cbe.acceleration: sample_v returned %s, expected %dx3"):format(
          table.concat(vsh, "x"), nv), 2)
      end
      xs[#xs + 1] = ones:matmul(row)
      vs[#vs + 1] = v
    end
    local X, V = array.vstack(xs), array.vstack(vs)
    -- Densities that return log f with the gradients save an evaluation; the block
    -- hint says x is constant over each run of nv rows.
    local gx, gv, lf = f:grad_log_f(X, V, nv)
    if form ~= "f" then
      lf = nil
    elseif lf == nil then
      lf = f:log_f(X, V)
    end
    local a, info = core.cbe.solve(V, gx, gv, lf, nv, {vmax = vmax, form = form})
    accs[#accs + 1], conds[#conds + 1] = a, info.cond
    rmss[#rmss + 1], useds[#useds + 1] = info.rms, info.used
  end
  local function cat(t) return #t == 1 and t[1] or array.concat(t) end
  return cat(accs), {cond = cat(conds), rms = cat(rmss), used = cat(useds)}
end

-- Points in a ball: n QMC points (Sobol, uniform in volume) around `center`.
function cbe.ball_points(center, radius, n, seed)
  local c = as_rows(center, "pf.cbe.ball_points"):totable()[1]
  local u = core.qmc.sobol(n, 3, {seed = seed or 1}):totable()
  local out = {}
  for i = 1, n do
    local q = u[i]
    local r = radius * q[1] ^ (1 / 3)
    local ct = 1 - 2 * q[2]
    local st = math.sqrt(math.max(0, 1 - ct * ct))
    local ph = 2 * math.pi * q[3]
    out[i] = {c[1] + r * st * math.cos(ph), c[2] + r * st * math.sin(ph), c[3] + r * ct}
  end
  return array.from(out)
end

--- The default seed of a ball's points (pf.cbe.ball_average's point_seed): the seed the
--- pipeline's ball averages use, for the flows and for the truth alike.
cbe.BALL_POINT_SEED = 7

-- ball_average(f, center, radius_kpc [, opts]) -> mean (3), spread (3: standard deviation
-- over the points), acc (P x 3), points (P x 3), info. opts: points = 64, point_seed = 7
-- and everything pf.cbe.acceleration takes. The paper: 100 pc ball at the Sun.
function cbe.ball_average(f, center, radius, opts)
  opts = opts or {}
  if type(radius) ~= "number" or not (radius > 0) then  -- luacheck: ignore 581 (NaN must fail)
    error("pf.cbe.ball_average: radius (kpc) must be a positive number", 2)
  end
  local P = opts.points or 64
  local pts = cbe.ball_points(center, radius, P, opts.point_seed or cbe.BALL_POINT_SEED)
  local o = {}
  for k, v in pairs(opts) do
    if k ~= "points" and k ~= "point_seed" then o[k] = v end
  end
  local acc, info = cbe.acceleration(f, pts, o)
  return acc:mean(1), acc:std(1, 1), acc, pts, info
end

return cbe

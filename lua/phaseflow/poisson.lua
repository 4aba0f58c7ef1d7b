-- phaseflow.poisson: the mass density smoothed by the paper's kernel, from
-- accelerations only (integration by parts; see include/phaseflow/poisson.h).
--
--   local pts = pf.poisson.kernel_points(x0, {points = 3200})   -- the points, once
--   local acc = source:acceleration(pts.x)                       -- any way you like
--   local rho = pf.poisson.density_from(acc, pts)                -- Msun/kpc^3
--   local rho_b = pf.poisson.smooth(baryon_density_at(pts.x), pts)
--
-- Default split of the 3,200 points: 3/4 in the volume, 1/4 on the boundary surface
-- (option surface_fraction). Both sets are antithetic (d and -d), so the large
-- constant part of the acceleration cancels exactly; what remains in the surface term
-- is a smooth function on a sphere, which QMC integrates with little error, while the
-- volume integrand has the radial structure of the Gaussian: it gets more points.
local core = require "phaseflow.core"
local strict = require "phaseflow.strict"
local units = require "phaseflow.units"
local cbe = require "phaseflow.cbe"
local array = core.array

local poisson = {}
for k, v in pairs(core.poisson) do poisson[k] = v end

local known_pts = {h = true, truncate = true, points = true, surface_fraction = true,
                   volume = true, surface = true, seed = true, moment_match = true}

local function even(n) return 2 * math.max(1, math.floor(n / 2 + 0.5)) end

-- kernel_points(x0 [, opts]) -> pts with pts.x ((N*P) x 3 absolute positions, point j
-- of x0 row i at row (i-1)*P + j), pts.offset, coef, weight (P), normal, area, nvol,
-- nsurf, n0, Z, Kb, h, truncate. opts: h = {0.5, 0.5, 0.2}, truncate = 2, points =
-- 3200, surface_fraction = 0.25 (or volume = , surface = explicitly), seed = 1.
function poisson.kernel_points(x0, opts)
  opts = opts or {}
  strict.options(opts, known_pts, "pf.poisson.kernel_points")
  x0 = cbe.as_rows(x0, "pf.poisson.kernel_points")
  local P = opts.points or 3200
  local fs = opts.surface_fraction or 0.25
  if not (fs >= 0 and fs < 1) then
    error("pf.poisson.kernel_points: surface_fraction must be in [0, 1)", 2)
  end
  local ns = opts.surface or (fs == 0 and 0 or even(P * fs))
  local nv = opts.volume or even(P - ns)
  local pts = core.poisson.kernel_points{h = opts.h, truncate = opts.truncate, volume = nv,
                                         surface = ns, seed = opts.seed or 1,
                                         moment_match = opts.moment_match}
  local n0 = (x0:shape())
  local Pt = nv + ns
  local xs = {}
  local ones = array.ones(Pt, 1)
  for i = 1, n0 do
    xs[i] = pts.offset + ones:matmul(x0:rows(i, i))
  end
  pts.x = n0 == 1 and xs[1] or array.vstack(xs)
  pts.n0 = n0
  pts.x0 = x0
  return pts
end

-- density_from(acc, pts [, {boundary = true}]) -> rho (N, Msun/kpc^3), info {vol, surf}
function poisson.density_from(acc, pts, opts)
  if type(pts) ~= "table" or not pts.coef then
    error("pf.poisson.density_from: kernel points (from pf.poisson.kernel_points) expected", 2)
  end
  local rho, vol, surf = core.poisson.density_from(acc, pts.coef, pts.nvol, units.G, opts)
  return rho, {vol = vol, surf = surf}
end

-- smooth(values, pts) -> (g*K) at each x0: values are g at pts.x ((N*P) vector).
function poisson.smooth(values, pts)
  local P = pts.nvol + pts.nsurf
  local n = (values:shape())
  if n ~= P * pts.n0 then
    error(("pf.poisson.smooth: %d values expected (points x positions), got %d"):format(P * pts.n0, n), 2)
  end
  return values:reshape(pts.n0, P):matmul(pts.weight:reshape(P, 1)):reshape(pts.n0)
end

local known_density = {h = true, truncate = true, points = true, surface_fraction = true,
                       volume = true, surface = true, seed = true, boundary = true,
                       moment_match = true, nv = true, vmax = true, form = true, vseed = true,
                       vseed_stride = true}

-- density(source, x0 [, opts]) -> rho (N, Msun/kpc^3), info {vol, surf, pts, acc}
-- source: a potential (source:acceleration(x) -> N x 3) or a phase-space density
-- (accelerations by pf.cbe.acceleration with nv = 2000 velocities per point unless
-- opts.nv says otherwise; opts.vmax, form, vseed pass on).
function poisson.density(source, x0, opts)
  opts = opts or {}
  strict.options(opts, known_density, "pf.poisson.density")
  local popts = {}
  for k in pairs(known_pts) do popts[k] = opts[k] end
  local pts = poisson.kernel_points(x0, popts)
  local acc
  if type(source) == "table" and source.grad_log_f then
    acc = cbe.acceleration(source, pts.x, {nv = opts.nv or 2000, vmax = opts.vmax,
                                           form = opts.form, seed = opts.vseed,
                                           seed_stride = opts.vseed_stride})
  elseif (type(source) == "table" or type(source) == "userdata") and source.acceleration then
    acc = source:acceleration(pts.x)
  else
    error("pf.poisson.density: source must be a potential (acceleration) or a phase-space "
          .. "density (grad_log_f, sample_v)", 2)
  end
  local rho, info = poisson.density_from(acc, pts, {boundary = opts.boundary ~= false})
  info.pts, info.acc = pts, acc
  return rho, info
end

return poisson

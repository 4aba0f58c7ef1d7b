-- pf.truth: the exact answers of a mock galaxy at any points.
--
--   local t = pf.truth.at(points, {potential = pot, mock = mock})   -- points: N x 3 (kpc)
--   t.acceleration (N x 3, (km/s)^2/kpc), t.density (N, Msun/kpc^3),
--   t.density_smoothed (N, Msun/kpc^3: the total density convolved with the paper's
--   kernel), t.tracer_density (N: mock:df():n_x, stars per kpc^3 when normalised)
--   pf.truth.write("mock.h5", "/truth/points", t)
--
-- The kernel is the paper's (pf.poisson): exp(-|u|^2/2), u = (x - x0)/h,
-- h = (0.5, 0.5, 0.2) kpc, truncated at |u| = 2, normalised over the truncated ellipsoid;
-- the convolution uses pf.poisson.kernel_points (3,200 QMC points by default).
local core = require "phaseflow.core"
local strict = require "phaseflow.strict"
local poisson = require "phaseflow.poisson"

local array = core.array
local truth = {}

local KNOWN = { potential = true, mock = true, df = true, h = true, truncate = true,
  points = true, seed = true }

--- Exact truth at `points` (N x 3 array or a list of {x, y, z}). Options: potential
--- (required: anything with acceleration and density), mock (its df gives the tracer
--- density) or df (an object with n_x), h, truncate, points (kernel points), seed.
function truth.at(points, opts)
  opts = opts or {}
  strict.options(opts, KNOWN, "pf.truth.at")
  local pot = opts.potential or (opts.mock and opts.mock.potential)
  if not pot then error("pf.truth.at: option 'potential' (or a mock with one) is required", 2) end
  local x = array.is_array(points) and points or array.from(points)
  if x:ndim() ~= 2 or select(2, x:shape()) ~= 3 then
    error("pf.truth.at: points must be an N x 3 array (kpc)", 2)
  end
  local t = { x = x }
  t.acceleration = pot:acceleration(x)
  t.density = pot:density(x)
  local pts = poisson.kernel_points(x, { h = opts.h, truncate = opts.truncate,
    points = opts.points, seed = opts.seed })
  t.density_smoothed = poisson.smooth(pot:density(pts.x), pts)
  t.h = pts.h or opts.h or { 0.5, 0.5, 0.2 }
  t.truncate = pts.truncate or opts.truncate or 2
  t.kernel_points = pts.nvol + pts.nsurf
  local df = opts.df or (opts.mock and opts.mock:df())
  if df then t.tracer_density = df:n_x(x) end
  return t
end

--- Store a truth table under `group` of an HDF5 file, with units and the kernel.
function truth.write(file, group, t)
  local h5 = require "phaseflow.h5"
  h5.write(file, group .. "/x", t.x, { unit = "kpc" })
  h5.write(file, group .. "/acceleration", t.acceleration, { unit = "(km/s)^2/kpc" })
  h5.write(file, group .. "/density", t.density, { unit = "Msun/kpc^3" })
  h5.write(file, group .. "/density_smoothed", t.density_smoothed, { unit = "Msun/kpc^3",
    kernel = "exp(-|u|^2/2), u = (x - x0)/h, truncated at |u| = truncate, unit-normalised",
    h = table.concat(t.h, ","), truncate = t.truncate, points = t.kernel_points })
  if t.tracer_density then
    h5.write(file, group .. "/tracer_density", t.tracer_density, { unit = "stars/kpc^3",
      source = "mock:df():n_x" })
  end
end

return truth

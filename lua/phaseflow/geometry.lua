-- luacheck: no max line length
-- pf.geometry: where the paper measures (Lim et al. 2023, Sec. IV and Figs. 1, 8, 10, 12).
-- Edit freely: every function returns plain Lua data and pf.arrays, and the pipeline
-- reads nothing else. Frame: Galactocentric Cartesian, Sun on +x, z to Galactic North;
-- spherical (r, theta from +z, phi = atan2(y, x), phi = 0 at the Sun). Units kpc, rad.
--
--   local g = pf.geometry.paper{n_line = 13, ...}
--   g.ball           {center = {3}, radius = 0.1}            Table I, 100 pc ball at the Sun
--   g.curves[name]   {x = N x 3, t = {...}, label, axis}     accelerations (Fig. 8):
--                    r_north, r_south (lines in r through (8.122, 0, +-1.5)),
--                    phi_north, phi_south (r = r_sun, through (7.982, 0, +-1.5)),
--                    arc (polar arc s = r_sun (pi/2 - theta) through the Sun, phi = 0)
--   g.arc_ball       indices into g.curves.arc.t of points within 150 pc of the Sun:
--                    those are ball-averaged, the others evaluated at the point
--   g.density[name]  {x, t, phi}: density curves along s at phi = 0, +0.209, -0.209 (Fig. 10)
--   g.independent    {x, s, phi, r}: points with non-overlapping kernels at r = r_sun
--                    (the weighted average, Table II)
--   g.gnfw           {x, r}: the independent set plus non-overlapping points on the r-lines
--                    (the gNFW fit, Fig. 12)
local core = require "phaseflow.core"
local array = core.array
local constants = core.constants        -- include/phaseflow/constants.h

local geometry = {}

geometry.R0 = constants.R0              -- Sun - Galactic centre distance, kpc
geometry.Z_SUN = constants.z_sun        -- kpc
geometry.SUN = {math.sqrt(geometry.R0 ^ 2 - geometry.Z_SUN ^ 2), 0, geometry.Z_SUN}
geometry.R_SUN = geometry.R0            -- spherical radius of the Sun, kpc
geometry.OFFSET_Z = 1.5                 -- the North/South offsets of the r and phi curves, kpc
geometry.PHI_SIDE = 0.209               -- the side planes of Fig. 10, rad
geometry.KERNEL_H = {0.5, 0.5, 0.2}     -- kpc (pf.poisson's kernel)
geometry.KERNEL_TRUNCATE = 2

--- n evenly spaced numbers from a to b (both included; the midpoint for n = 1).
local function linspace(a, b, n)
  if n == 1 then return {(a + b) / 2} end
  local t = {}
  for i = 1, n do t[i] = a + (b - a) * (i - 1) / (n - 1) end
  return t
end
geometry.linspace = linspace

--- Cartesian point of spherical (r, theta, phi).
function geometry.from_spherical(r, theta, phi)
  return {r * math.sin(theta) * math.cos(phi), r * math.sin(theta) * math.sin(phi), r * math.cos(theta)}
end

--- Spherical (r, theta, phi) of a Cartesian point {x, y, z}.
function geometry.to_spherical(p)
  local r = math.sqrt(p[1] ^ 2 + p[2] ^ 2 + p[3] ^ 2)
  return r, math.acos(p[3] / r), math.atan(p[2], p[1])
end

--- Point on the polar arc of arclength s (kpc) at azimuth phi (rad), radius r_sun.
function geometry.arc_point(s, phi)
  return geometry.from_spherical(geometry.R_SUN, math.pi / 2 - s / geometry.R_SUN, phi or 0)
end

--- The Euclidean distance between two points {x, y, z}.
local function dist(a, b)
  return math.sqrt((a[1] - b[1]) ^ 2 + (a[2] - b[2]) ^ 2 + (a[3] - b[3]) ^ 2)
end
geometry.distance = dist

-- opts (all optional): n_line (points on each r line, 13), n_phi (13), n_arc (25),
-- n_density (points on each density curve, 13), line_half (kpc either side, 3),
-- phi_half (rad, 0.37), s_max (kpc, 3), ball_radius (0.1), arc_ball_within (0.15),
-- independent_s (the s of the independent points), gnfw_x (x of the extra r-line points).
function geometry.paper(opts)
  opts = opts or {}
  local g = {sun = geometry.SUN, r_sun = geometry.R_SUN}
  g.ball = {center = geometry.SUN, radius = opts.ball_radius or 0.1}
  local zo = geometry.OFFSET_Z
  local curves = {}
  local function curve(name, pts, t, label, axis)
    curves[name] = {x = array.from(pts), t = t, label = label, axis = axis, n = #pts}
  end
  local lh = opts.line_half or 3
  for _, side in ipairs({{"north", zo}, {"south", -zo}}) do
    local xs = linspace(geometry.R0 - lh, geometry.R0 + lh, opts.n_line or 13)
    local pts, rs = {}, {}
    for i, x in ipairs(xs) do
      pts[i] = {x, 0, side[2]}
      rs[i] = math.sqrt(x * x + side[2] ^ 2)
    end
    curve("r_" .. side[1], pts, rs, ("line in r through (%.3f, 0, %+.1f) kpc"):format(geometry.R0, side[2]), "r")
    -- r = r_sun along the curve: cylindrical R = sqrt(r_sun^2 - z^2) = 7.982 kpc
    local R = math.sqrt(geometry.R_SUN ^ 2 - zo ^ 2)
    local ph = linspace(-(opts.phi_half or 0.37), opts.phi_half or 0.37, opts.n_phi or 13)
    pts = {}
    for i, p in ipairs(ph) do pts[i] = {R * math.cos(p), R * math.sin(p), side[2]} end
    curve("phi_" .. side[1], pts, ph, ("curve in phi at r = r_sun through (%.3f, 0, %+.1f) kpc"):format(R, side[2]), "phi")
  end
  local smax = opts.s_max or 3
  local ss = linspace(-smax, smax, opts.n_arc or 25)
  local pts = {}
  g.arc_ball = {}
  local within = opts.arc_ball_within or 0.15
  for i, s in ipairs(ss) do
    pts[i] = geometry.arc_point(s, 0)
    if dist(pts[i], geometry.SUN) < within then g.arc_ball[#g.arc_ball + 1] = i end
  end
  curve("arc", pts, ss, "polar arc s = r_sun (pi/2 - theta) through the Sun", "s")
  g.curves = curves
  g.curve_names = {"r_north", "r_south", "phi_north", "phi_south", "arc"}

  -- density curves along s at three azimuths
  g.density = {}
  g.density_names = {"phi0", "phi_plus", "phi_minus"}
  local nd = opts.n_density or 13
  for k, phi in ipairs({0, geometry.PHI_SIDE, -geometry.PHI_SIDE}) do
    local sd = linspace(-smax, smax, nd)
    local p = {}
    for i, s in ipairs(sd) do p[i] = geometry.arc_point(s, phi) end
    g.density[g.density_names[k]] = {x = array.from(p), t = sd, phi = phi, n = nd}
  end

  -- independent points: kernels truncated at |u| = 2 reach 2 h_z = 0.4 kpc vertically, so
  -- points 0.85 kpc apart in s (0.8 plus the arc's curvature) do not overlap; 5 per azimuth, 3 azimuths -> 15 (the paper's count)
  local ind_s = opts.independent_s or {-1.7, -0.85, 0, 0.85, 1.7}
  local ip, is, iphi, ir = {}, {}, {}, {}
  for _, phi in ipairs({0, geometry.PHI_SIDE, -geometry.PHI_SIDE}) do
    for _, s in ipairs(ind_s) do
      ip[#ip + 1] = geometry.arc_point(s, phi)
      is[#is + 1], iphi[#iphi + 1], ir[#ir + 1] = s, phi, geometry.R_SUN
    end
  end
  g.independent = {x = array.from(ip), s = is, phi = iphi, r = ir, n = #ip}

  -- gNFW: the independent set plus r-line points whose kernels (2 h_x = 1 kpc wide) do not
  -- overlap those at r_sun: x = r0 -+ 2 kpc at z = +-1.5
  local gp, gr = {}, {}
  for i = 1, #ip do gp[i], gr[i] = ip[i], ir[i] end
  for _, x in ipairs(opts.gnfw_x or {geometry.R0 - 2, geometry.R0 + 2}) do
    for _, z in ipairs({zo, -zo}) do
      gp[#gp + 1] = {x, 0, z}
      gr[#gr + 1] = math.sqrt(x * x + z * z)
    end
  end
  g.gnfw = {x = array.from(gp), r = gr, n = #gp}
  return g
end

--- True when the truncated kernels at a and b (points {x, y, z}) cannot overlap: the
-- ellipsoids |u| <= T of half-axes T h do not intersect if the scaled distance between
-- centres (in units of h) is at least 2T. The paper counts its 15 points at r_sun as
-- independent; in this exact sense the phi = +-0.209 planes overlap the phi = 0 plane.
function geometry.kernels_disjoint(a, b, h, T)
  h, T = h or geometry.KERNEL_H, T or geometry.KERNEL_TRUNCATE
  local d2 = 0
  for i = 1, 3 do d2 = d2 + ((a[i] - b[i]) / (2 * T * h[i])) ^ 2 end
  return d2 >= 1 - 1e-9
end

return geometry

-- phaseflow.equilibrium: is the phase-space density in equilibrium?
--  * dlnf_dt(f, x0, a, opts): the Boltzmann residual d ln f/dt = -v.grad_x ln f -
--    a.grad_v ln f over N velocities from p(v|x0) for a given acceleration (e.g. the
--    Gaia EDR3 quasar value); zero for every velocity in exact equilibrium.
--  * spherical / north_south / axisymmetry: symmetry checks of measured accelerations.
local core = require "phaseflow.core"
local cbe = require "phaseflow.cbe"
local array = core.array

local eq = {}

-- dlnf_dt(f, x0 (3), a (3, (km/s)^2/kpc) [, {n = 1e6, vmax = 600, seed = 1, batch}])
-- -> values (km/s/kpc, the velocities with |v| < vmax), mean, standard deviation
function eq.dlnf_dt(f, x0, a, opts)
  opts = opts or {}
  x0 = cbe.as_rows(x0, "pf.equilibrium.dlnf_dt")
  a = cbe.as_rows(a, "pf.equilibrium.dlnf_dt")
  local n = opts.n or 1000000
  local vmax = opts.vmax or 600
  local v = f:sample_v(x0, n, {qmc = true, seed = opts.seed or 1})
  local keep = {}
  local speed = v:square():sum(2):sqrt():totable()
  for i = 1, n do
    if speed[i] < vmax then keep[#keep + 1] = i end
  end
  v = v:take(array.from(keep))
  local m = (v:shape())
  local X = array.ones(m, 1):matmul(x0)
  local gx, gv = f:grad_log_f(X, v)
  local r = core.cbe.dlnf_dt(v, gx, gv, a)
  return r, r:mean(), r:std(nil, 1)
end

-- Spherical components (r, theta from +z, phi toward +y) of accelerations a (N x 3)
-- at positions x (N x 3) -> a_r, a_theta, a_phi (N each).
function eq.spherical(x, a)
  local xt, at = x:totable(), a:totable()
  local ar, ath, aph = {}, {}, {}
  for i = 1, #xt do
    local p, q = xt[i], at[i]
    local R = math.sqrt(p[1] ^ 2 + p[2] ^ 2)
    local r = math.sqrt(R * R + p[3] ^ 2)
    local cp, sp = R > 0 and p[1] / R or 1, R > 0 and p[2] / R or 0
    local ct, st = p[3] / r, R / r
    ar[i] = st * cp * q[1] + st * sp * q[2] + ct * q[3]
    ath[i] = ct * cp * q[1] + ct * sp * q[2] - st * q[3]
    aph[i] = -sp * q[1] + cp * q[2]
  end
  return array.from(ar), array.from(ath), array.from(aph)
end

-- North-South symmetry: positions xn above the plane, their mirrors (z -> -z) with
-- accelerations a_south. Returns a_r(N)/a_r(S) and a_theta(N)/(-a_theta(S)) (both 1 for a
-- symmetric Galaxy; a_theta changes sign under the mirror).
function eq.north_south(xn, a_north, a_south)
  local xs = xn:copy()
  local t = xs:totable()
  for i = 1, #t do t[i][3] = -t[i][3] end
  xs = array.from(t)
  local arn, athn = eq.spherical(xn, a_north)
  local ars, aths = eq.spherical(xs, a_south)
  return arn / ars, athn / aths:neg()
end

-- Axisymmetry: a_phi / |a| at each point.
function eq.axisymmetry(x, a)
  local _, _, aph = eq.spherical(x, a)
  return aph / a:square():sum(2):sqrt()
end

return eq

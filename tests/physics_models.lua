-- Exact analytic models for the physics tests and benchmarks (not part of the library):
--  * a potential: Miyamoto-Nagai disk + two Plummer spheres, with exact accelerations
--    and densities (pot:acceleration(x), pot:density(x), pot:phi(x));
--  * an exact equilibrium phase-space density in that potential: the rotating
--    isothermal f(E, L_z) = exp(-(E - Omega L_z)/sigma^2), a function of integrals of
--    motion, so the Boltzmann residual vanishes for every velocity. Its velocity
--    distribution at x is Gaussian, N(Omega (-y, x, 0), sigma^2 I).
local pf = require "phaseflow"

local G = pf.units.G
local sqrt, log, pi = math.sqrt, math.log, math.pi

local M = {}

function M.potential(p)
  p = p or {}
  local pot = {
    disk = p.disk or {M = 6.0e10, a = 3.0, b = 0.28},
    plummers = p.plummers or {{M = 1.0e10, b = 0.5}, {M = 8.0e11, b = 25.0}},
  }
  -- phi, acceleration and density at one point (numbers).
  function pot.phi1(x, y, z)
    local d = pot.disk
    local zeta = sqrt(z * z + d.b * d.b)
    local s = -G * d.M / sqrt(x * x + y * y + (d.a + zeta) ^ 2)
    for _, q in ipairs(pot.plummers) do
      s = s - G * q.M / sqrt(x * x + y * y + z * z + q.b * q.b)
    end
    return s
  end
  function pot.acc1(x, y, z)
    local d = pot.disk
    local zeta = sqrt(z * z + d.b * d.b)
    local D = x * x + y * y + (d.a + zeta) ^ 2
    local c = -G * d.M / (D * sqrt(D))
    local ax, ay, az = c * x, c * y, c * z * (d.a + zeta) / zeta
    for _, q in ipairs(pot.plummers) do
      local r2 = x * x + y * y + z * z + q.b * q.b
      local cq = -G * q.M / (r2 * sqrt(r2))
      ax, ay, az = ax + cq * x, ay + cq * y, az + cq * z
    end
    return ax, ay, az
  end
  function pot.rho1(x, y, z)
    local d = pot.disk
    local R2 = x * x + y * y
    local zeta = sqrt(z * z + d.b * d.b)
    local D = R2 + (d.a + zeta) ^ 2
    local s = d.b * d.b * d.M / (4 * pi) * (d.a * R2 + (d.a + 3 * zeta) * (d.a + zeta) ^ 2)
              / (D ^ 2.5 * zeta ^ 3)
    for _, q in ipairs(pot.plummers) do
      s = s + 3 * q.M / (4 * pi * q.b ^ 3) * (1 + (x * x + y * y + z * z) / (q.b * q.b)) ^ -2.5
    end
    return s
  end
  local function map3(x, fn)
    local t = x:totable()
    local out = {}
    for i = 1, #t do
      local r = t[i]
      out[i] = {fn(r[1], r[2], r[3])}
    end
    return pf.array.from(out)
  end
  local function map1(x, fn)
    local t = x:totable()
    local out = {}
    for i = 1, #t do
      local r = t[i]
      out[i] = fn(r[1], r[2], r[3])
    end
    return pf.array.from(out)
  end
  function pot:acceleration(x) return map3(x, self.acc1) end
  function pot:density(x) return map1(x, self.rho1) end
  function pot:phi(x) return map1(x, self.phi1) end
  return pot
end

-- Rotating isothermal DF in `pot` (sigma km/s, omega km/s/kpc; omega < 0 rotates
-- toward -y as the Milky Way's disk does in the paper's frame).
function M.isothermal(pot, sigma, omega)
  local s2 = sigma * sigma
  local df = {pot = pot, sigma = sigma, omega = omega}
  local lognorm = -1.5 * log(2 * pi * s2)
  function df.log_f(_, x, v)
    local xt, vt = x:totable(), v:totable()
    local out = {}
    for i = 1, #xt do
      local p, w = xt[i], vt[i]
      local lz = p[1] * w[2] - p[2] * w[1]
      local e = pot.phi1(p[1], p[2], p[3]) + 0.5 * (w[1] ^ 2 + w[2] ^ 2 + w[3] ^ 2)
      out[i] = lognorm - (e - omega * lz) / s2
    end
    return pf.array.from(out)
  end
  function df.grad_log_f(_, x, v)
    local xt, vt = x:totable(), v:totable()
    local gx, gv = {}, {}
    for i = 1, #xt do
      local p, w = xt[i], vt[i]
      local ax, ay, az = pot.acc1(p[1], p[2], p[3])
      gx[i] = {(ax + omega * w[2]) / s2, (ay - omega * w[1]) / s2, az / s2}
      gv[i] = {(-w[1] - omega * p[2]) / s2, (-w[2] + omega * p[1]) / s2, -w[3] / s2}
    end
    return pf.array.from(gx), pf.array.from(gv)
  end
  -- Gaussian velocities by Box-Muller on 4-D Sobol points (two pairs -> 3 normals).
  function df.sample_v(_, x0, n, o)
    o = o or {}
    local p = x0:copy():reshape(3):totable()
    local ux, uy = -omega * p[2], omega * p[1]
    local u = pf.qmc.sobol(n, 4, {seed = o.seed or 1}):totable()
    local out = {}
    for i = 1, n do
      local q = u[i]
      local r1, r2 = sqrt(-2 * log(q[1])), sqrt(-2 * log(q[3]))
      out[i] = {ux + sigma * r1 * math.cos(2 * pi * q[2]), uy + sigma * r1 * math.sin(2 * pi * q[2]),
                sigma * r2 * math.cos(2 * pi * q[4])}
    end
    return pf.array.from(out)
  end
  return df
end

return M

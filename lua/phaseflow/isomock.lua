-- pf.isomock: a stand-in mock until pf.mock.galaxy lands: an isothermal tracer population
-- f(x, v) ∝ exp(-(|v|^2/2 + Phi(x)) / sigma^2) in MWPotential2014 (pf.potential). f is a
-- function of the energy alone, so it is an exact equilibrium (Jeans) in any static
-- potential, and the Boltzmann equation gives back a = -grad Phi exactly. Velocities are
-- isotropic Gaussians (sigma km/s, no rotation); n(x) ∝ exp(-Phi/sigma^2).
--
--   local m = pf.isomock.new{sigma = 150}
--   local x, v = m:sample(n, radius_kpc, seed)     -- stars within radius of the Sun
--   local f = m:df()                               -- exact log_f, grad_log_f, sample_v
--   m.potential:acceleration(x), m.potential:density(x)
local core = require "phaseflow.core"
local potential = require "phaseflow.potential"
local geometry = require "phaseflow.geometry"
local array = core.array

local isomock = {}
local Mock = {}
Mock.__index = Mock

--- new{sigma = 150 (km/s), potential = MWPotential2014} -> the isothermal mock.
function isomock.new(opts)
  opts = opts or {}
  local sigma = opts.sigma or 150
  if type(sigma) ~= "number" or not (sigma > 0) then -- luacheck: ignore 581
    error("pf.isomock.new: sigma (km/s) must be positive", 2)
  end
  return setmetatable({sigma = sigma, potential = opts.potential or potential.mwpotential2014(),
                       sun = geometry.SUN}, Mock)
end

-- Rejection sampling in the ball of `radius` around the Sun: Phi is smallest at the ball's
-- point nearest the Galactic centre, which bounds the acceptance ratio.
function Mock:sample(n, radius, seed)
  local rng = core.rng.new(seed or 1)
  local s2 = self.sigma ^ 2
  local sun = self.sun
  local pmin = self.potential:phi(array.from{{sun[1] - radius, 0, 0}}):get(1)
  local xs = {}
  local batch = math.max(1000, 2 * n)
  while #xs < n do
    local cand = {}
    for i = 1, batch do
      local p
      repeat
        p = {rng:uniform() * 2 - 1, rng:uniform() * 2 - 1, rng:uniform() * 2 - 1}
      until p[1] ^ 2 + p[2] ^ 2 + p[3] ^ 2 <= 1
      cand[i] = {sun[1] + radius * p[1], sun[2] + radius * p[2], sun[3] + radius * p[3]}
    end
    local phi = self.potential:phi(array.from(cand)):totable()
    for i = 1, batch do
      local ratio = math.exp(-(phi[i] - pmin) / s2)
      if ratio > 1 + 1e-9 then error("pf.isomock: potential bound violated", 2) end
      if rng:uniform() < ratio and #xs < n then xs[#xs + 1] = cand[i] end
    end
  end
  local x = array.from(xs)
  local v = array.zeros(n, 3)
  for i = 1, n do for j = 1, 3 do v:set(i, j, self.sigma * rng:normal()) end end
  return x, v
end

local DF = {}
DF.__index = DF

--- The exact phase-space density (unnormalised: the Boltzmann equation needs only ratios).
function Mock:df()
  return setmetatable({mock = self, s2 = self.sigma ^ 2}, DF)
end

--- log_f(x, v) -> N: -(|v|^2/2 + Phi(x)) / sigma^2 (unnormalised).
function DF:log_f(x, v)
  local phi = self.mock.potential:phi(x)
  return (v:square():sum(2) * 0.5 + phi) * (-1 / self.s2)
end

--- grad_log_f(x, v) -> gx, gv: a(x) / sigma^2 and -v / sigma^2.
function DF:grad_log_f(x, v)
  local a = self.mock.potential:acceleration(x)
  return a * (1 / self.s2), v * (-1 / self.s2)
end

--- sample_v(x0, n, {qmc = true, seed = 1} or {qmc = false, rng/seed}) -> n x 3 isotropic
--- Gaussian velocities of dispersion sigma (the same at every x0).
function DF:sample_v(_, n, opts)
  opts = opts or {}
  local z
  if opts.qmc ~= false then
    z = core.qmc.normal(n, 3, {seed = opts.seed or 1})
  else
    local rng = core.rng.from_opts(opts)
    z = array.zeros(n, 3)
    for i = 1, n do for j = 1, 3 do z:set(i, j, rng:normal()) end end
  end
  return z * self.mock.sigma
end

return isomock

-- pf.potential: analytic axisymmetric potentials (C core) and their sums.
--
--   local pot = pf.potential.mwpotential2014()
--   pot = pot + pf.potential.nfw{a = 10, normalize = 0.1}          -- still all C
--   pot = pot + pf.potential.custom{phi = f1, acceleration = f2, density = f3}
--   pot:phi(x)  pot:acceleration(x)  pot:density(x)   -- x: N x 3 kpc
--
-- Components given by `normalize` are scaled as galpy does: the component alone gives
-- the fraction `normalize` of v0^2/r0 as radial force at (R = r0, z = 0); defaults
-- r0 = 8 kpc, v0 = 220 km/s. Otherwise give `amp` (mass in Msun; for power_cutoff the
-- density at r = 1 kpc without the cut-off, Msun/kpc^3).
--
-- A custom component is a table of Lua functions on N x 3 arrays; sums that contain
-- one are evaluated term by term in Lua. The mock galaxy's distribution functions
-- need the potential in C, so they accept only all-C potentials.
local core = require "phaseflow.core"
local C = core.potential

local M = {}

M.component = C.component
M.mwpotential2014 = C.mwpotential2014

local function ctor(kind)
  return function(opts)
    if type(opts) ~= "table" then
      error(("potential.%s: option table expected"):format(kind), 2)
    end
    local t = { type = kind }
    for k, v in pairs(opts) do t[k] = v end
    return C.component(t)
  end
end

--- power_cutoff{...}: a power-law density with an exponential cut-off (a C component).
M.power_cutoff = ctor("power_cutoff")
--- miyamoto_nagai{...}: a Miyamoto-Nagai disk (a C component).
M.miyamoto_nagai = ctor("miyamoto_nagai")
--- nfw{...}: a Navarro-Frenk-White halo (a C component).
M.nfw = ctor("nfw")
--- hernquist{...}: a Hernquist sphere (a C component).
M.hernquist = ctor("hernquist")
--- plummer{...}: a Plummer sphere (a C component).
M.plummer = ctor("plummer")

-- Sums with Lua-defined terms.
local Sum = {}
Sum.__index = Sum

local function is_sum(p) return getmetatable(p) == Sum end

local function terms_of(p)
  if is_sum(p) then return p.terms end
  if C.is_potential(p) then return { p } end
  error("potential expected in a sum, got " .. type(p), 3)
end

local cmeta = getmetatable(C.mwpotential2014())
local c_add = cmeta.__add

local function add(a, b)
  if C.is_potential(a) and C.is_potential(b) then return c_add(a, b) end
  local terms = {}
  for _, t in ipairs(terms_of(a)) do terms[#terms + 1] = t end
  for _, t in ipairs(terms_of(b)) do terms[#terms + 1] = t end
  return setmetatable({ terms = terms }, Sum)
end

cmeta.__add = add
Sum.__add = add
Sum.__len = function(s) return #s.terms end
Sum.__tostring = function(s)
  local parts = {}
  for i, t in ipairs(s.terms) do parts[i] = tostring(t) end
  return table.concat(parts, " + ")
end

local function sum_method(name)
  return function(self, x)
    local total
    for _, t in ipairs(self.terms) do
      local v = t[name](t, x)
      total = total and total + v or v
    end
    return total
  end
end
Sum.phi = sum_method("phi")
Sum.acceleration = sum_method("acceleration")
Sum.density = sum_method("density")

-- custom{phi = f, acceleration = f, density = f, name = "..."}: each f(x) maps an
-- N x 3 array (kpc) to N values ((km/s)^2, Msun/kpc^3) or N x 3 ((km/s)^2/kpc).
function M.custom(opts)
  if type(opts) ~= "table" then error("potential.custom: option table expected", 2) end
  for _, k in ipairs { "phi", "acceleration", "density" } do
    if type(opts[k]) ~= "function" then
      error(("potential.custom: field '%s' must be a function"):format(k), 2)
    end
  end
  local term = setmetatable({
    name = opts.name or "custom",
    phi = function(_, x) return opts.phi(x) end,
    acceleration = function(_, x) return opts.acceleration(x) end,
    density = function(_, x) return opts.density(x) end,
  }, { __tostring = function(t) return t.name end })
  return setmetatable({ terms = { term } }, Sum)
end

-- True for a potential of C components only (usable by the mock's DFs).
function M.is_c(p) return C.is_potential(p) end

--- True for a potential: C components or a sum with Lua-defined terms.
function M.is_potential(p) return C.is_potential(p) or is_sum(p) end

return M

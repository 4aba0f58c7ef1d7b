-- phaseflow: learn the phase-space density of stars with normalizing flows and turn it
-- into the Galaxy's acceleration, mass density and dark matter.
--
--   local pf = require "phaseflow"
--
-- The C core (phaseflow.core) holds the primitives; the modules of this folder hold
-- the science in Lua. A name pf.X is looked up, on first use, as the Lua module
-- phaseflow.X if there is one (it may extend the C part), else as core.X; a few names
-- are functions of a module (pf.potential_fit is phaseflow.potfit's fit).

-- OpenBLAS must be told its CPU kernel before it loads (see src/cpu.c), so the tiny
-- phaseflow.cpu module comes first.
require "phaseflow.cpu"
local core = require "phaseflow.core"

local pf = {
  core = core,
  version = core.config.version,
  config = core.config.config,
  wtime = core.config.wtime,
}

-- Names of pf that are a function of a module rather than a module: pf.NAME is field
-- `fn` of the Lua module `mod`, loaded on first use like the modules.
local FUNCTIONS = {
  potential_fit = {mod = "phaseflow.potfit", fn = "fit"},
}

local function has_lua_module(name)
  return package.searchpath(name, package.path) ~= nil
end

setmetatable(pf, {
  __index = function(t, key)
    if type(key) ~= "string" then return nil end
    local value
    if FUNCTIONS[key] then
      value = require(FUNCTIONS[key].mod)[FUNCTIONS[key].fn]
    elseif has_lua_module("phaseflow." .. key) then
      value = require("phaseflow." .. key)
    else
      value = core[key]
    end
    if value == nil then
      error(("phaseflow has no module '%s'"):format(key), 2)
    end
    rawset(t, key, value)
    return value
  end,
})

return pf

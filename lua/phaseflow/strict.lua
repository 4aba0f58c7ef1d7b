-- Strict globals for user scripts: reading a global that was never assigned is an
-- error (a misspelt name fails loudly instead of giving nil). Assigning a new global
-- works at a script's top level; inside functions use `local`, or declare it with
-- strict.declare(name).
local strict = {}

function strict.enable(env)
  env = env or _G
  local mt = getmetatable(env) or {}
  local declared = mt.__declared or {}
  mt.__declared = declared
  mt.__newindex = function(t, name, value)
    local info = debug.getinfo(2, "S")
    if not declared[name] and info and info.what ~= "main" and info.what ~= "C" then
      error(("assignment to undeclared global '%s' inside a function (use local)"):format(
        tostring(name)), 2)
    end
    declared[name] = true
    rawset(t, name, value)
  end
  mt.__index = function(_, name)
    if declared[name] then return nil end
    error(("undefined global '%s'"):format(tostring(name)), 2)
  end
  setmetatable(env, mt)
  return env
end

function strict.declare(name, env)
  local mt = getmetatable(env or _G)
  if mt and mt.__declared then mt.__declared[name] = true end
end

return strict

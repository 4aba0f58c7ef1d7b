-- Strict globals for user scripts: reading a global that was never assigned is an
-- error (a misspelt name fails loudly instead of giving nil). Assigning a new global
-- works at a script's top level; inside functions use `local`, or declare it with
-- strict.declare(name). strict.options does the same for the option tables that
-- library functions take (the C bindings have pf_lua_checkopts).
local strict = {}

--- Raise "<fname>: unknown option '<key>'" for the first key of the table `opts` (nil
--- passes) that `known` lacks. `known` is a set {name = true}, or a list of names: then
--- the message ends with " (known: a, b, ...)" in its order. `level` is the level the
--- caller would give error() itself (default 2: the caller's caller is blamed).
function strict.options(opts, known, fname, level)
  if opts == nil then return end
  local list = known[1] ~= nil
  local set = known
  if list then
    set = {}
    for _, n in ipairs(known) do set[n] = true end
  end
  for k in pairs(opts) do
    if not set[k] then
      local msg = ("%s: unknown option '%s'"):format(fname, tostring(k))
      if list then msg = msg .. " (known: " .. table.concat(known, ", ") .. ")" end
      error(msg, (level or 2) + 1)
    end
  end
end

--- Make `env` (default _G) strict: reading an unassigned global is an error, and so is
--- assigning a new one inside a function. Returns env.
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

--- Declare the global `name` of a strict env (default _G): it may be assigned anywhere and
--- read as nil.
function strict.declare(name, env)
  local mt = getmetatable(env or _G)
  if mt and mt.__declared then mt.__declared[name] = true end
end

return strict

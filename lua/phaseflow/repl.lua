-- pf.repl: what the REPL does for its user. How it shows values: arrays and other objects
-- through their __tostring, tables as a short, sorted listing (nested tables one level
-- deep), everything else as print would. help(x): the doc of a function, module or object
-- (pf.doc reads it from the source). complete(text): the Tab completions of a name.
--
--   help(pf.flow.maf)   help "flow"   help(pf.flow)   help(f)   help "pf.flow.maf"
local repl = {}

local MAX_ITEMS = 20

local function short(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" and not getmetatable(v) then return "{...}" end
  local s = tostring(v)
  return (s:gsub("\n.*", " ..."))
end

--- A one-screen description of a table.
function repl.describe_table(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  local parts = {}
  for i, k in ipairs(keys) do
    if i > MAX_ITEMS then
      parts[#parts + 1] = ("... (%d entries)"):format(#keys)
      break
    end
    local v = t[k]
    local vs = type(v) == "table" and not getmetatable(v) and repl.inline(v) or short(v)
    parts[#parts + 1] = (type(k) == "string" and k or "[" .. tostring(k) .. "]") .. " = " .. vs
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

--- A nested table on one line, its entries shown shortly.
function repl.inline(t)
  local parts, n = {}, 0
  for k, v in pairs(t) do
    n = n + 1
    if n > 6 then parts[#parts + 1] = "..."; break end
    parts[#parts + 1] = (type(k) == "string" and (k .. " = ") or "") .. short(v)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

--- Print the values an expression gave, one per line.
function repl.show(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "table" and not (getmetatable(v) and getmetatable(v).__tostring) then
      print(repl.describe_table(v))
    else
      print(tostring(v))
    end
  end
end

-- ---- help -------------------------------------------------------------------------

local function lazy(name) return function() return require(name) end end
local doc_module, core_module, cdoc_module = lazy("phaseflow.doc"), lazy("phaseflow.core"), lazy("phaseflow.cdoc")

-- The C classes: {name = "rng", index = methods table} from the registry's metatables
-- ("phaseflow.rng" -> "rng").
local function c_classes()
  local out = {}
  for k, mt in pairs(debug.getregistry()) do
    if type(k) == "string" and type(mt) == "table" and k:sub(1, 10) == "phaseflow." then
      local index = mt.__index
      if type(index) ~= "table" and k == "phaseflow.array" then index = core_module().array.methods end
      if type(index) == "table" then out[#out + 1] = {name = k:sub(11), index = index} end
    end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

-- The name of a C function ("rng.new", "rng:uniform"), nil if it is none of ours.
local function c_name(fn)
  for m, t in pairs(core_module()) do
    if type(t) == "table" then
      for k, v in pairs(t) do if v == fn then return m .. "." .. k end end
    end
  end
  for _, c in ipairs(c_classes()) do
    for k, v in pairs(c.index) do if v == fn then return c.name .. ":" .. k end end
  end
  return nil
end

-- The doc of one function as lines; `short` gives the one-line summary alone.
local function function_doc(fn, brief)
  local doc = doc_module()
  local d, why = doc.of(fn)
  if d then
    if brief then return doc.summary(d.doc) or "(no doc comment)" end
    return ("%s\n\n%s\n\n(%s:%d)"):format(d.signature, d.doc or "(no doc comment)", d.file, d.line)
  end
  if why == "C function" then
    local name = c_name(fn)
    local text = name and cdoc_module()[name]
    if brief then return text and doc.summary(text) or "(C function)" end
    if text then return text .. "\n\n(C function " .. name .. ")" end
    return ("a C function%s: no doc text (the Lua module that exposes it describes it; see docs/api.md)")
      :format(name and " (" .. name .. ", src/lua/l_" .. name:match("^[%w_]+") .. ".c)" or "")
  end
  return "a function without a source file (" .. tostring(why) .. ")"
end

-- "  name   summary" lines of a table's functions, sorted by name.
local function listing(t, prefix, sep, skip)
  local names = {}
  for k, v in pairs(t) do
    if type(k) == "string" and type(v) == "function" and k:sub(1, 1) ~= "_" and not (skip and skip[k]) then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  local out = {}
  for _, k in ipairs(names) do
    out[#out + 1] = ("  %-28s %s"):format(prefix .. sep .. k, function_doc(t[k], true))
  end
  return out
end

-- The help of a Lua module: its opening comment, its public functions (in the order of the
-- file) and the C functions its table carries.
local function module_help(name)
  local doc = doc_module()
  local d = assert(doc.module(name))
  local out = {("pf.%s (%s)"):format(name, d.file), "", d.doc or "(no module comment)", "", "Functions:"}
  local seen = {}
  for _, f in ipairs(d.functions) do
    seen[f.name:match("[%w_]+$")] = true
    out[#out + 1] = ("  %-28s %s"):format(f.signature, doc.summary(f.doc) or "(no doc comment)")
  end
  local mod = require("phaseflow." .. name)
  if type(mod) == "table" then
    for _, l in ipairs(listing(mod, name:match("[%w_]+$"), ".", seen)) do out[#out + 1] = l end
  end
  return table.concat(out, "\n")
end

-- The help of a C module exposed as pf.NAME: its functions, and its objects' methods.
local function c_module_help(name, t)
  local out = {("pf.%s: the C module phaseflow.core.%s (src/lua/l_%s.c)"):format(name, name, name), "", "Functions:"}
  for _, l in ipairs(listing(t, name, ".")) do out[#out + 1] = l end
  for _, c in ipairs(c_classes()) do
    if c.name == name then
      out[#out + 1] = ""
      out[#out + 1] = "Methods of its objects:"
      for _, l in ipairs(listing(c.index, name, ":")) do out[#out + 1] = l end
    end
  end
  return table.concat(out, "\n")
end

local function is_lua_module(name)
  return type(name) == "string" and name:match("^[%w_%.]+$") and package.searchpath("phaseflow." .. name, package.path)
end

-- The value at a dotted name under pf ("flow.maf"), nil if there is none.
local function lookup(path)
  local v = require("phaseflow")
  for part in path:gmatch("[^%.:]+") do
    if type(v) ~= "table" then return nil end
    local ok, w = pcall(function() return v[part] end)
    if not ok then return nil end
    v = w
  end
  return v
end

local HELP = [[
help(x) shows the doc of x:
  help(pf.flow.maf)     a function: its signature and doc comment
  help(pf.flow)         a module: its description and its functions, one line each
  help "flow"           the same, by name ("cost.calibrate", "pf.flow.maf" work too)
  help(f)               an object: the methods of its kind
  help(pf)              the list of modules
The whole API is in docs/api.md. Tab completes names: pf.fl<Tab>, f:<Tab>.]]

--- The text help(x) prints (see repl.help).
function repl.help_text(x)
  local pf = require("phaseflow")
  if x == nil then return HELP end
  if x == pf then
    local out = {"pf: the phaseflow library. Modules (help \"NAME\" for one):"}
    local doc = doc_module()
    for _, m in ipairs(doc.modules()) do
      out[#out + 1] = ("  %-22s %s"):format(m, doc.module(m).summary or "")
    end
    return table.concat(out, "\n")
  end
  local tx = type(x)
  if tx == "string" then
    local name = x:gsub("^pf%.", "")
    if x == "pf" then return repl.help_text(pf) end
    if is_lua_module(name) then return module_help(name) end
    local core = core_module()
    if type(core[name]) == "table" then return c_module_help(name, core[name]) end
    local v = name:match("^[%w_][%w_%.:]*$") and lookup(name)
    if v ~= nil and type(v) ~= "string" then return repl.help_text(v) end
    return ("help: no module or function named '%s' (help(pf) lists the modules)"):format(x)
  elseif tx == "function" then
    return function_doc(x)
  elseif tx == "table" and not getmetatable(x) or tx == "table" and getmetatable(x) == getmetatable(pf) then
    for k, v in pairs(package.loaded) do
      if v == x and type(k) == "string" and k:sub(1, 10) == "phaseflow." and is_lua_module(k:sub(11)) then
        return module_help(k:sub(11))
      end
    end
    for k, v in pairs(core_module()) do
      if v == x then return c_module_help(k, v) end
    end
  end
  -- an object: the methods of its kind
  local mt = getmetatable(x)
  local index = type(mt) == "table" and mt.__index
  if type(index) ~= "table" and type(mt) == "table" and mt.__name == "phaseflow.array" then
    index = core_module().array.methods
  end
  if type(index) == "table" then
    local kind = type(mt) == "table" and mt.__name or tx
    local out = {("a %s; its methods:"):format(kind)}
    for _, l in ipairs(listing(index, "", ":")) do out[#out + 1] = l end
    if tx == "table" then
      for _, l in ipairs(listing(x, "", ".")) do out[#out + 1] = l end
    end
    return table.concat(out, "\n")
  end
  return ("a %s value: no doc (help() says what help shows)"):format(tx)
end

--- help(x): print the doc of a function, a module (a table or its name) or an object's
--- methods; help() says how.
function repl.help(x)
  print(repl.help_text(x))
end

-- ---- completion ---------------------------------------------------------------------

local KEYWORDS = {"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto",
  "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"}

-- The identifier keys of a table, of its __index tables (three levels) and, for pf, the
-- names of the modules it loads on first use.
local function fields(v, methods_only)
  local names, seen = {}, {}
  local function add(k, val)
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and not seen[k]
       and (not methods_only or type(val) == "function") then
      seen[k] = true
      names[#names + 1] = k
    end
  end
  local t, depth = v, 0
  while t ~= nil and depth < 4 do
    if type(t) == "table" then
      for k, val in next, t do add(k, val) end
    end
    local mt = getmetatable(t)
    local index = type(mt) == "table" and rawget(mt, "__index") or nil
    if type(index) ~= "table" and type(mt) == "table" and rawget(mt, "__name") == "phaseflow.array" then
      index = core_module().array.methods
    end
    t, depth = type(index) == "table" and index or nil, depth + 1
  end
  local ok, pf = pcall(require, "phaseflow")
  if ok and v == pf then
    for _, m in ipairs(doc_module().modules()) do add(m:match("^[%w_]+"), true) end
    for k in pairs(core_module()) do add(k, true) end
  end
  return names
end

--- The completions of `text`, the name before the cursor: "pf.fl" -> {"pf.flow"},
--- "pf.flow." -> the fields of pf.flow, "f:" -> the methods of f, "pr" -> globals and
--- keywords. Sorted; empty for anything it cannot complete. Never raises.
function repl.complete(text)
  local ok, out = pcall(function()
    if type(text) ~= "string" then return {} end
    local base, sep, partial = text:match("^([%a_][%w_%.:]-)([%.:])([%w_]*)$")
    local candidates, prefix
    if base then
      if base:find(":", 1, true) or base:find("..", 1, true) or base:find("%.$") then return {} end
      local v = _G
      for part in base:gmatch("[^%.]+") do
        if part == "" or (type(v) ~= "table" and type(v) ~= "userdata") then return {} end
        local got, w = pcall(function() return v[part] end)
        if not got or w == nil then return {} end
        v = w
      end
      if type(v) ~= "table" and type(v) ~= "userdata" then return {} end
      candidates, prefix = fields(v, sep == ":"), base .. sep
    else
      partial = text:match("^([%a_][%w_]*)$") or (text == "" and "")
      if not partial then return {} end
      candidates, prefix = fields(_G), ""
      for _, k in ipairs(KEYWORDS) do candidates[#candidates + 1] = k end
    end
    local out = {}
    for _, k in ipairs(candidates) do
      if k:sub(1, #partial) == partial then out[#out + 1] = prefix .. k end
    end
    table.sort(out)
    return out
  end)
  return ok and out or {}
end

return repl

-- pf.doc: the documentation read from the source. A function's doc comment is the block of
-- comment lines right above its definition (`---` by convention, `--` accepted); a module's
-- doc is the comment block that opens its file. Nothing here is kept by hand: a Lua
-- function is found through debug.getinfo (its file and first line), a module's public
-- functions by its table and its file.
--
--   pf.doc.of(pf.flow.maf)      -> {doc = "...", signature = "flow.maf(opts)", file = ..., line = ...}
--   pf.doc.module("flow")       -> {name, file, doc, summary, functions = {{name, signature, doc, line}, ...}}
--   pf.doc.modules()            -> the names of every module under lua/phaseflow/, sorted
--   pf.doc.markdown()           -> the text of docs/api.md (scripts/api-doc.lua writes it)
--
-- The C functions (the bindings) have no Lua source; their doc text is in
-- phaseflow.cdoc, beside init.lua, which exposes the C modules as pf.NAME.
local doc = {}

local lines_cache = {}

-- The lines of a file (cached), or nil if it cannot be read.
local function file_lines(path)
  local cached = lines_cache[path]
  if cached ~= nil then return cached or nil end
  local f = io.open(path, "r")
  if not f then
    lines_cache[path] = false
    return nil
  end
  local lines = {}
  for l in f:lines() do lines[#lines + 1] = l end
  f:close()
  lines_cache[path] = lines
  return lines
end

-- The text of a comment line (its dashes and one space removed); nil if the line is not a
-- doc comment line (code, blank, a luacheck directive, a section rule).
local function comment_text(line)
  local body = line:match("^%s*%-%-%-?(.*)$")
  if not body or line:match("^%s*%-%-%[") then return nil end
  if body:match("^%s*luacheck:") then return nil end
  return (body:gsub("^ ", ""))
end

--- The doc comment above line `n` of `lines`: the comment lines directly above it, joined
--- with newlines; nil if there are none.
function doc.comment_above(lines, n)
  local first = n
  while first > 1 and comment_text(lines[first - 1]) do first = first - 1 end
  if first == n then return nil end
  local out = {}
  for i = first, n - 1 do out[#out + 1] = comment_text(lines[i]) end
  return table.concat(out, "\n")
end

--- The opening comment of a file's lines (its module doc), nil if it has none.
function doc.opening_comment(lines)
  local out, i = {}, 1
  while lines[i] and lines[i]:match("^%-%-") and not lines[i]:match("^%-%-%[") do
    local t = comment_text(lines[i])
    if t then out[#out + 1] = t end
    i = i + 1
  end
  if #out == 0 then return nil end
  return table.concat(out, "\n")
end

-- The file a function's chunk came from, or nil (C function, string chunk).
local function source_file(fn)
  local info = debug.getinfo(fn, "S")
  if info.what == "C" or info.source:sub(1, 1) ~= "@" then return nil, info end
  return info.source:sub(2), info
end

-- The part of a path from lua/phaseflow/ on (no machine paths in what is shown or written).
local function short_path(path)
  local rel = path:match("(phaseflow/.*)$")
  return rel and "lua/" .. rel or path
end
doc.short_path = short_path

-- The signature of the definition on `line` with the name `shown`: "shown(params)".
local function signature(line, shown)
  local params = line:match("function[^(]*(%b())") or "(...)"
  return shown .. params
end

--- The doc of a Lua function: {doc = text or nil, signature, file, line}; nil and a reason
--- for a C function or a function without a source file.
function doc.of(fn)
  if type(fn) ~= "function" then return nil, "not a function" end
  local path, info = source_file(fn)
  if not path then return nil, info.what == "C" and "C function" or "no source file" end
  local lines = file_lines(path)
  if not lines or not lines[info.linedefined] then return nil, "cannot read " .. short_path(path) end
  local def = lines[info.linedefined]
  local name = def:match("function%s+([%w_%.:]+)%s*%(") or "function"
  return {doc = doc.comment_above(lines, info.linedefined), signature = signature(def, name),
          file = short_path(path), line = info.linedefined}
end

-- The folder holding phaseflow/init.lua, from package.path.
local function lua_root()
  local init = package.searchpath("phaseflow", package.path)
  if not init then error("pf.doc: the phaseflow modules are not on package.path", 2) end
  return (init:gsub("phaseflow/init%.lua$", ""))
end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

--- The names of the modules under lua/phaseflow/ ("flow", "cost", "cost.calibrate", ...),
--- sorted; init.lua names its folder (the top one is left out: it is pf itself).
function doc.modules()
  local names = {}
  local p = io.popen("cd " .. quote(lua_root() .. "phaseflow") .. " && find . -name '*.lua' | sort")
  for f in p:lines() do
    local name = f:gsub("^%./", ""):gsub("%.lua$", ""):gsub("/", "."):gsub("%.init$", "")
    if name ~= "init" then names[#names + 1] = name end
  end
  p:close()
  table.sort(names)
  return names
end

local function is_public(name)
  return name:sub(1, 1) ~= "_"
end

--- A module's doc: {name, file, doc, summary, functions}. functions lists its public
--- functions in the order of the file, each {name, signature, doc, line}: the functions of
--- its table defined in its file, and the methods (`function Class:name`) and module
--- functions (`function T.name`) written at the file's top level. Metamethods and names
--- starting with "_" are left out.
function doc.module(name)
  local modname = "phaseflow." .. name
  local path = package.searchpath(modname, package.path)
  if not path then return nil, ("pf.doc: no Lua module '%s'"):format(name) end
  local lines = file_lines(path) or {}
  local mod = require(modname)
  local by_name = {}
  -- what the file defines at its top level
  for i, l in ipairs(lines) do
    local owner, sep, fname = l:match("^function%s+([%w_]+)([%.:])([%w_]+)%s*%(")
    if owner and is_public(fname) then
      local shown = owner .. sep .. fname
      by_name[shown] = {name = shown, signature = signature(l, shown), doc = doc.comment_above(lines, i), line = i}
    end
  end
  -- functions of the module's table defined in this file: an exported `local function` is
  -- documented where it is defined; a function made by a factory or in a table constructor
  -- where the file assigns it (`T.name = ...`) if it does, else where it is defined
  local defined = {}
  for _, f in pairs(by_name) do defined[f.line] = true end
  if type(mod) == "table" then
    for k, v in pairs(mod) do
      if type(k) == "string" and is_public(k) and type(v) == "function" then
        local p, info = source_file(v)
        if p and p == path and not defined[info.linedefined] then
          local shown = name:match("[%w_]+$") .. "." .. k
          local i = info.linedefined
          if not (lines[i] or ""):match("^local%s+function%s") then
            for j, l in ipairs(lines) do
              if l:match("^[%w_]+%." .. k .. "%s*=") then i = j; break end
            end
          end
          by_name[shown] = {name = shown, signature = signature(lines[info.linedefined] or "", shown),
                            doc = doc.comment_above(lines, i), line = i}
        end
      end
    end
  end
  local functions = {}
  for _, f in pairs(by_name) do functions[#functions + 1] = f end
  table.sort(functions, function(a, b)
    if a.line ~= b.line then return a.line < b.line end
    return a.name < b.name
  end)
  local text = doc.opening_comment(lines)
  return {name = name, file = short_path(path), doc = text, functions = functions,
          summary = doc.summary(text)}
end

--- The first sentence of a doc text's first paragraph (which ends at a blank, indented or
--- listed line), on one line, without a leading "pf.NAME:"; nil for nil.
function doc.summary(text)
  if not text then return nil end
  local para = {}
  for l in (text .. "\n"):gmatch("(.-)\n") do
    if l:match("^%s*$") or l:match("^%s") or l:match("^[%*%-] ") then break end
    para[#para + 1] = l
  end
  local flat = table.concat(para, " ")
  flat = flat:gsub("^[%w_%./]*phaseflow[%w_%./]*:%s+", ""):gsub("^pf[%w_%.]*:%s+", "")
  -- a sentence ends at ". " before a capital, not after an abbreviation (Sec. IV, Eq. 8)
  local from = 1
  while true do
    local stop = flat:find("%.%s+[%u`]", from)
    if not stop then return flat end
    local word = flat:sub(1, stop):match("(%a+)%.$")
    if word ~= "Sec" and word ~= "Eq" and word ~= "al" and word ~= "Fig" then return flat:sub(1, stop) end
    from = stop + 1
  end
end

--- The public functions without a doc comment, over every module: a list of
--- "module: Name.fn (file:line)" strings, sorted.
function doc.undocumented(modules)
  local out = {}
  for _, m in ipairs(modules or doc.modules()) do
    local d = assert(doc.module(m))
    for _, f in ipairs(d.functions) do
      if not f.doc then out[#out + 1] = ("%s: %s (%s:%d)"):format(m, f.name, d.file, f.line) end
    end
  end
  table.sort(out)
  return out
end

--- The methods of the C objects: a list of {class = "maf", name = "log_prob", fn = the
--- function, key = "maf:log_prob", doc = its text or nil}, sorted by key, over every class
--- in the registry ("phaseflow.NAME" metatables; arrays keep their methods in
--- pf.core.array.methods). The text is the method's doc comment if it is a Lua function
--- (flow.lua's sample and save), else phaseflow.cdoc's entry.
function doc.c_methods()
  local core, cdoc = require "phaseflow.core", require "phaseflow.cdoc"
  local out = {}
  for k, mt in pairs(debug.getregistry()) do
    if type(k) == "string" and k:sub(1, 10) == "phaseflow." and type(mt) == "table" then
      local index = mt.__index
      if type(index) ~= "table" and k == "phaseflow.array" then index = core.array.methods end
      if type(index) == "table" then
        local class = k:sub(11)
        for name, fn in pairs(index) do
          if type(name) == "string" and is_public(name) and type(fn) == "function" then
            local d = doc.of(fn)
            local key = class .. ":" .. name
            out[#out + 1] = {class = class, name = name, fn = fn, key = key,
                             doc = d and d.doc or cdoc[key]}
          end
        end
      end
    end
  end
  table.sort(out, function(a, b) return a.key < b.key end)
  return out
end

--- The text of docs/api.md: every module's opening comment, then each public function's
--- signature and doc comment, then the C functions and the methods of the C objects.
function doc.markdown()
  local out = {"# phaseflow API", "",
    "Generated from the doc comments in lua/phaseflow/ by `make api-doc`",
    "(`phaseflow scripts/api-doc.lua`): do not edit by hand. In the REPL, `help(pf.NAME)` and",
    "`help(pf.NAME.fn)` show the same text.", ""}
  local mods = doc.modules()
  out[#out + 1] = "## Modules"
  out[#out + 1] = ""
  for _, m in ipairs(mods) do
    local d = assert(doc.module(m))
    out[#out + 1] = ("- [pf.%s](#pf%s): %s"):format(m, m:gsub("%.", ""), d.summary or "")
  end
  for _, m in ipairs(mods) do
    local d = assert(doc.module(m))
    out[#out + 1] = ""
    out[#out + 1] = ("## pf.%s"):format(m)
    out[#out + 1] = ""
    out[#out + 1] = ("`%s`"):format(d.file)
    if d.doc then
      out[#out + 1] = ""
      out[#out + 1] = "```text"
      out[#out + 1] = d.doc
      out[#out + 1] = "```"
    end
    for _, f in ipairs(d.functions) do
      out[#out + 1] = ""
      out[#out + 1] = ("### `%s`"):format(f.signature)
      out[#out + 1] = ""
      out[#out + 1] = f.doc or "(no doc comment)"
    end
  end
  -- the C functions exposed as pf.NAME.fn, and the methods of the C objects
  out[#out + 1] = ""
  out[#out + 1] = "## C functions and the methods of C objects"
  out[#out + 1] = ""
  out[#out + 1] = "Doc text kept in lua/phaseflow/cdoc.lua (the C sources are in src/lua/l_NAME.c);"
  out[#out + 1] = "`help(f.log_prob)` or `help(f)` for an object `f` shows the same."
  local entries = {}
  for key, text in pairs(require "phaseflow.cdoc") do
    if key:find(".", 1, true) and not key:find(":", 1, true) then entries[#entries + 1] = {key = key, doc = text} end
  end
  table.sort(entries, function(a, b) return a.key < b.key end)
  for _, m in ipairs(doc.c_methods()) do entries[#entries + 1] = m end
  local group
  for _, e in ipairs(entries) do
    local g = e.key:match("^(.-)[%.:][%w_]+$")
    if g ~= group then
      group = g
      out[#out + 1] = ""
      out[#out + 1] = e.key:find(":", 1, true) and ("### Methods of %s objects"):format(g)
        or ("### pf.%s"):format(g)
      out[#out + 1] = ""
    end
    out[#out + 1] = ("- `%s`: %s"):format(e.key, (e.doc or "(no doc text)"):gsub("\n", " "))
  end
  out[#out + 1] = ""
  return table.concat(out, "\n")
end

return doc

-- Every Lua module under lua/phaseflow/ loads on its own, in a fresh interpreter, and
-- the modules do not require each other in a cycle. A wrapped `require` records the
-- graph as the modules load; a source scan checks the requires that only run later
-- (inside functions, under pcall) name modules that exist.
local support = require "support"

local LUA = os.getenv("LUA") or "lua5.4"

-- Run in a fresh interpreter as `lua checker.lua MODULE PREFIX`: loads MODULE with
-- `require` wrapped, prints "edge A B" for each require of a PREFIX module made while A
-- loads, "cycle A -> B -> A" (and exits 3) when one is required again while it loads.
local CHECKER = [=[
local target, prefix = arg[1], arg[2]
local function ours(name)
  return type(name) == "string" and (name == prefix or name:sub(1, #prefix + 1) == prefix .. ".")
end
local stack, real = {}, require
function require(name)  -- luacheck: ignore
  if ours(name) and package.loaded[name] == nil then
    for i, m in ipairs(stack) do
      if m == name then
        io.write("cycle ", table.concat(stack, " -> ", i), " -> ", name, "\n")
        os.exit(3)
      end
    end
    if #stack > 0 then io.write("edge ", stack[#stack], " ", name, "\n") end
  end
  stack[#stack + 1] = name
  local ok, a, b = pcall(real, name)
  stack[#stack] = nil
  if not ok then error(a, 0) end
  return a, b
end
require(target)
io.write("loaded ", target, "\n")
]=]

local checker = support.tempfile(CHECKER, ".lua")

-- Run the checker on `name`; returns its output and exit code.
local function load_alone(name, prefix, path)
  local env = ("LUA_PATH=%s LUA_CPATH=%s "):format(support.quote(path or package.path),
    support.quote(package.cpath))
  return support.run(env .. LUA .. " " .. support.quote(checker) .. " " .. support.quote(name)
    .. " " .. support.quote(prefix or "phaseflow"))
end

-- The module names of the .lua files below `dir` (init.lua names its folder).
local function modules_in(dir, prefix)
  local names = {}
  local p = io.popen("cd " .. support.quote(dir) .. " && find . -name '*.lua' | sort")
  for f in p:lines() do
    local name = prefix .. "." .. f:gsub("^%./", ""):gsub("%.lua$", ""):gsub("/", ".")
    names[#names + 1] = name:gsub("%.init$", "")
  end
  p:close()
  return names
end

-- A cycle in the graph {from = {to = true}}, as a list A, B, ..., A; nil if none.
local function find_cycle(graph)
  local state, path = {}, {}
  local function visit(m)
    state[m] = "open"
    path[#path + 1] = m
    for n in pairs(graph[m] or {}) do
      if state[n] == "open" then
        local cyc, on = {}, false
        for _, x in ipairs(path) do
          on = on or x == n
          if on then cyc[#cyc + 1] = x end
        end
        cyc[#cyc + 1] = n
        return cyc
      elseif not state[n] then
        local c = visit(n)
        if c then return c end
      end
    end
    path[#path] = nil
    state[m] = "done"
  end
  local names = {}
  for m in pairs(graph) do names[#names + 1] = m end
  table.sort(names)
  for _, m in ipairs(names) do
    if not state[m] then
      local c = visit(m)
      if c then return c end
    end
  end
end

local dir = assert(package.searchpath("phaseflow", package.path), "phaseflow not on LUA_PATH")
  :gsub("/init%.lua$", "")
local modules = modules_in(dir, "phaseflow")

describe("the Lua modules", function()
  it("are all found", function()
    assert.is_true(#modules >= 30, #modules .. " modules under " .. dir)
    for _, m in ipairs{"phaseflow", "phaseflow.flow", "phaseflow.strict"} do
      assert.is_truthy(table.concat(modules, " "):find(m, 1, true), m)
    end
  end)

  it("each load on their own in a fresh interpreter, with no require cycle", function()
    local graph = {}
    for _, m in ipairs(modules) do
      local out, rc = load_alone(m)
      assert.are.equal(0, rc, m .. ":\n" .. out)
      assert.is_truthy(out:find("loaded " .. m .. "\n", 1, true), out)
      for a, b in out:gmatch("edge (%S+) (%S+)") do
        graph[a] = graph[a] or {}
        graph[a][b] = true
      end
    end
    -- the union of what each load saw: a cycle that no single load would close
    local c = find_cycle(graph)
    assert.is_nil(c, c and "require cycle: " .. table.concat(c, " -> "))
  end)

  it("require only modules that exist, also where they require late", function()
    for _, m in ipairs(modules) do
      local file = assert(package.searchpath(m, package.path))
      local f = assert(io.open(file))
      local src = f:read("a")
      f:close()
      for name in src:gmatch("require%s*[%(,]?%s*[\"']([%w_%.]+)[\"']") do
        if name == "phaseflow" or name:match("^phaseflow%.") then
          local found = package.searchpath(name, package.path) or package.searchpath(name, package.cpath)
          assert.is_truthy(found, ("%s requires %s, which does not exist"):format(m, name))
        end
      end
    end
  end)
end)

describe("the require checker", function()
  -- a throw-away package `cyc` whose modules a and b require each other
  local root = os.tmpname()
  os.remove(root)
  assert(os.execute("mkdir -p " .. support.quote(root .. "/cyc")))
  local function write(name, text)
    local f = assert(io.open(root .. "/cyc/" .. name .. ".lua", "w"))
    f:write(text)
    f:close()
  end
  write("a", 'require "cyc.c"\nreturn require "cyc.b"\n')
  write("b", 'return {a = require "cyc.a"}\n')
  write("c", 'return {}\n')
  write("d", 'return require "cyc.missing"\n')
  local path = root .. "/?.lua;" .. package.path

  it("reports a cycle with the modules on it", function()
    local out, rc = load_alone("cyc.a", "cyc", path)
    assert.are.equal(3, rc, out)
    assert.is_truthy(out:find("cycle cyc.a -> cyc.b -> cyc.a", 1, true), out)
    assert.is_truthy(out:find("edge cyc.a cyc.c", 1, true), out)
    local c = find_cycle{["cyc.a"] = {["cyc.b"] = true}, ["cyc.b"] = {["cyc.a"] = true}}
    assert.are.same({"cyc.a", "cyc.b", "cyc.a"}, c)
    assert.is_nil(find_cycle{["cyc.a"] = {["cyc.b"] = true, ["cyc.c"] = true}, ["cyc.b"] = {["cyc.c"] = true}})
  end)

  it("fails a module whose require names nothing", function()
    local out, rc = load_alone("cyc.d", "cyc", path)
    assert.are_not.equal(0, rc)
    assert.is_truthy(out:find("module 'cyc.missing' not found", 1, true), out)
  end)

  teardown(function() os.execute("rm -rf " .. support.quote(root)) end)
end)

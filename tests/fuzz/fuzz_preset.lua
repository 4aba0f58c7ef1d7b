-- The Lua side of the preset-file fuzzer: returns the function run on each input, whose
-- bytes are a preset file (pf.presets.load, scripts/paper.lua --preset FILE.lua). A preset
-- file is the user's own Lua, so what is checked is what phaseflow does with it: the load
-- must give a preset that the pipeline's readers accept (pf.presets.diff, describe_flow,
-- flow_of) or an error that names the file -- "fuzz.lua:LINE: ..." or "fuzz.lua: ..." --
-- never a fault of presets.lua itself (an "attempt to ..." from our code, a message
-- without the file). Anything else is raised here, and the harness aborts.
--
-- The file runs in a sandbox for the fuzzer's sake only: no os.exit, no files, no loading
-- of other code, strings of at most a megabyte, and an instruction budget (a file that
-- loops forever would hang the user's run too; that is their code, not ours).
local presets = require "phaseflow.presets"

local NAME = "fuzz.lua"
local BUDGET = 2000000  -- Lua instructions per input

local real = {os = os, io = io, require = require, dofile = dofile, loadfile = loadfile, load = load,
              rep = string.rep, collectgarbage = collectgarbage}
local safe_os = {time = os.time, clock = os.clock, date = os.date, getenv = os.getenv}
local function small_rep(s, n, sep)
  if type(n) == "number" and n * (#tostring(s) + #tostring(sep or "")) > 1e6 then
    error("string.rep: more than a megabyte (fuzzer's sandbox)", 2)
  end
  return real.rep(s, n, sep)
end

-- (rawset: the phaseflow executable's strict mode refuses new globals by assignment)
local function sandbox(on)
  rawset(_G, "os", on and safe_os or real.os)
  for _, k in ipairs{"io", "require", "dofile", "loadfile", "collectgarbage"} do
    rawset(_G, k, (not on) and real[k] or nil)
  end
  rawset(string, "rep", on and small_rep or real.rep)
end

-- a clean refusal names the file first
local function clean(msg)
  return type(msg) == "string" and (msg:sub(1, #NAME + 1) == NAME .. ":")
end

return function(bytes)
  local steps = 0
  debug.sethook(function()
    steps = steps + 1000
    if steps > BUDGET then error(NAME .. ": instruction budget spent (fuzzer's sandbox)", 0) end
  end, "", 1000)
  sandbox(true)
  local ok, p = pcall(presets.load, NAME, bytes)
  sandbox(false)
  debug.sethook()
  if not ok then
    if not clean(p) then error("not a clean refusal: " .. tostring(p), 0) end
    return
  end
  -- a preset that loads is one the pipeline can read
  if type(p) ~= "table" or type(p.name) ~= "string" or type(p.flow) ~= "table" then
    error("load gave no usable preset", 0)
  end
  local dok, err = pcall(function()
    presets.diff(p)
    for _, which in ipairs{"n_x", "p_v"} do presets.describe_flow(presets.flow_of(p, which)) end
  end)
  if not dok then error("a loaded preset breaks its readers: " .. tostring(err), 0) end
end

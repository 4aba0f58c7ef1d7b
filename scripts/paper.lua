-- The paper's analysis end to end (Lim et al. 2023):
--   phaseflow scripts/paper.lua --preset test|quick|science|paper --out DIR [--only STEP] [--from STEP]
--                               [--force] [--quiet] [--galaxy default|hot|heavy]
--                               [--set KEY=VALUE ...] [--mock-cache DIR] [inputs...]
-- --set changes one preset setting (dotted keys: --set n_train=0 --set flow.hidden=64
-- --set mock.stars=3000000); the report lists every setting of the run. --mock-cache DIR keeps
-- the generated mocks in DIR (default OUT/mock), so runs into several folders share them.
-- Without inputs the embedded mock is generated (and truth columns are reported).
-- Writes DIR/report.md, DIR/results.h5, the figures (PNG and PDF) and DIR/steps/*.h5.
-- Edit lua/phaseflow/geometry.lua, presets.lua or the steps in pipeline.lua and run again:
-- only the steps whose inputs or options changed are redone.
local pf = require "phaseflow"

local USAGE = [[
usage: phaseflow scripts/paper.lua [--preset test|quick|science|paper] [--out DIR] [--only STEP]
                                   [--from STEP] [--force] [--quiet] [--galaxy NAME]
                                   [--set KEY=VALUE ...] [--mock-cache DIR] [inputs...]
inputs: Gaia archive files, directories or globs (CSV, ECSV, gzip, FITS); none: the mock
galaxy: the mock galaxy (no inputs): ]] .. table.concat(pf.mock.variant_names, ", ") .. [[ (default: the preset's)
steps: ]] .. table.concat(pf.pipeline.steps, ", ")

-- A mistake on the command line: the reason and the usage, exit status 2 (no traceback).
local function usage_error(msg)
  io.stderr:write("paper.lua: ", msg, "\n", USAGE, "\n")
  os.exit(2)
end

local opts = {preset = "quick", out = nil, inputs = {}, set = {}}
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--preset" or a == "--out" or a == "--only" or a == "--from" or a == "--galaxy"
     or a == "--mock-cache" then
    opts[a:sub(3):gsub("-", "_")] = arg[i + 1]
    if arg[i + 1] == nil then usage_error(a .. " needs a value") end
    i = i + 2
  elseif a == "--set" then
    local kv = arg[i + 1]
    if kv == nil or not kv:find("=", 1, true) then usage_error("--set needs KEY=VALUE") end
    opts.set[#opts.set + 1] = kv
    i = i + 2
  elseif a == "--force" or a == "--quiet" then
    opts[a:sub(3)] = true
    i = i + 1
  elseif a == "--help" or a == "-h" then
    print(USAGE)
    os.exit(0)
  elseif a:sub(1, 2) == "--" then
    usage_error("unknown option " .. a)
  else
    opts.inputs[#opts.inputs + 1] = a
    i = i + 1
  end
end
local known = {}
for _, name in ipairs(pf.presets.names) do known[name] = true end
if not known[opts.preset] then
  usage_error(("no preset '%s' (have: %s)"):format(opts.preset, table.concat(pf.presets.names, ", ")))
end
for _, o in ipairs{"only", "from"} do
  local ok = opts[o] == nil
  for _, st in ipairs(pf.pipeline.steps) do ok = ok or st == opts[o] end
  if not ok then usage_error(("--%s: no step '%s'"):format(o, opts[o])) end
end
if opts.galaxy and not pf.mock.VARIANTS[opts.galaxy] then
  usage_error(("--galaxy: no galaxy '%s' (have: %s)"):format(opts.galaxy, table.concat(pf.mock.variant_names, ", ")))
end
if opts.galaxy and #opts.inputs > 0 then usage_error("--galaxy chooses the mock: it takes no input files") end
local preset = pf.presets.get(opts.preset)
if opts.galaxy then preset.mock.galaxy = opts.galaxy end
for _, kv in ipairs(opts.set) do
  local k, v = kv:match("^([^=]+)=(.*)$")
  local ok, err = pcall(pf.presets.set, preset, k, v)
  if not ok then usage_error("--set " .. kv .. ": " .. tostring(err):gsub("^pf%.presets%.set: ", "")) end
end
local out = opts.out or ("out/" .. preset.name)
local P = pf.pipeline.new{out = out, preset = preset, inputs = opts.inputs, quiet = opts.quiet,
                          mock_cache = opts.mock_cache}
local t0 = pf.wtime()
local steps = P:run{only = opts.only, from = opts.from, force = opts.force}
for _, s in ipairs(steps) do
  print(("%-14s %-13s %8.1f s"):format(s.step, s.status, s.seconds))
end
print(("total %.1f s"):format(pf.wtime() - t0))
print("report:  " .. out .. "/report.md")
print("results: " .. out .. "/results.h5")
print("figures: " .. out .. "/fig*.png (and .pdf)")

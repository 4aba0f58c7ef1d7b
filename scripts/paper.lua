-- The paper's analysis end to end (Lim et al. 2023):
--   phaseflow scripts/paper.lua --preset quick|test|paper --out DIR [--only STEP] [--from STEP]
--                               [--force] [--quiet] [inputs...]
-- Without inputs the embedded mock is generated (and truth columns are reported).
-- Writes DIR/report.md, DIR/results.h5, the figures (PNG and PDF) and DIR/steps/*.h5.
-- Edit lua/phaseflow/geometry.lua, presets.lua or the steps in pipeline.lua and run again:
-- only the steps whose inputs or options changed are redone.
local pf = require "phaseflow"

local opts = {preset = "quick", out = nil, inputs = {}}
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--preset" or a == "--out" or a == "--only" or a == "--from" then
    opts[a:sub(3)] = arg[i + 1]
    if arg[i + 1] == nil then error("paper.lua: " .. a .. " needs a value", 0) end
    i = i + 2
  elseif a == "--force" or a == "--quiet" then
    opts[a:sub(3)] = true
    i = i + 1
  elseif a:sub(1, 2) == "--" then
    error("paper.lua: unknown option " .. a, 0)
  else
    opts.inputs[#opts.inputs + 1] = a
    i = i + 1
  end
end
local preset = pf.presets.get(opts.preset)
local out = opts.out or ("out/" .. preset.name)
local P = pf.pipeline.new{out = out, preset = preset, inputs = opts.inputs, quiet = opts.quiet}
local t0 = pf.wtime()
local steps = P:run{only = opts.only, from = opts.from, force = opts.force}
for _, s in ipairs(steps) do
  print(("%-14s %-13s %8.1f s"):format(s.step, s.status, s.seconds))
end
print(("total %.1f s"):format(pf.wtime() - t0))
print("report:  " .. out .. "/report.md")
print("results: " .. out .. "/results.h5")
print("figures: " .. out .. "/fig*.png (and .pdf)")

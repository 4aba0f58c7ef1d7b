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

local cli = require "phaseflow.cli"
local SPEC = {script = "paper.lua", usage = USAGE, defaults = {preset = "quick"},
              options = {preset = "value", out = "value", only = "value", from = "value", galaxy = "value",
                         ["mock-cache"] = "value", set = "pairs", force = "flag", quiet = "flag"}}

local opts, inputs = cli.parse(arg, SPEC)
local known = {}
for _, name in ipairs(pf.presets.names) do known[name] = true end
if not known[opts.preset] then
  cli.fail(SPEC, ("no preset '%s' (have: %s)"):format(opts.preset, table.concat(pf.presets.names, ", ")))
end
for _, o in ipairs{"only", "from"} do
  local ok = opts[o] == nil
  for _, st in ipairs(pf.pipeline.steps) do ok = ok or st == opts[o] end
  if not ok then cli.fail(SPEC, ("--%s: no step '%s'"):format(o, opts[o])) end
end
if opts.galaxy and not pf.mock.VARIANTS[opts.galaxy] then
  cli.fail(SPEC, ("--galaxy: no galaxy '%s' (have: %s)"):format(opts.galaxy, table.concat(pf.mock.variant_names, ", ")))
end
if opts.galaxy and #inputs > 0 then cli.fail(SPEC, "--galaxy chooses the mock: it takes no input files") end
local preset = pf.presets.get(opts.preset)
if opts.galaxy then preset.mock.galaxy = opts.galaxy end
for _, kv in ipairs(opts.set) do
  local k, v = kv:match("^([^=]+)=(.*)$")
  local ok, err = pcall(pf.presets.set, preset, k, v)
  if not ok then cli.fail(SPEC, "--set " .. kv .. ": " .. tostring(err):gsub("^pf%.presets%.set: ", "")) end
end
local out = opts.out or ("out/" .. preset.name)
local made, P = pcall(pf.pipeline.new, {out = out, preset = preset, inputs = inputs, quiet = opts.quiet,
                                       mock_cache = opts.mock_cache})
if not made then cli.fail("paper.lua", (tostring(P):gsub("^pf%.pipeline: ", ""))) end
local t0 = pf.wtime()
-- --only / --from on a folder that lacks an earlier step: the user's mistake, said plainly
local ran, steps = pcall(P.run, P, {only = opts.only, from = opts.from, force = opts.force})
if not ran and type(steps) == "table" and steps.busy then cli.fail("paper.lua", steps.message) end
if not ran then
  local step, why = tostring(steps):match("pf%.pipeline: step '(.-)' must be run first %((.-)%)")
  if not step then error(steps, 0) end
  cli.fail("paper.lua", ("--%s %s: step '%s' must be run first in %s (%s); run without --only/--from"):format(
    opts.only and "only" or "from", opts.only or opts.from, step, out, why))
end
for _, s in ipairs(steps) do
  print(("%-14s %-13s %8.1f s"):format(s.step, s.status, s.seconds))
end
print(("total %.1f s"):format(pf.wtime() - t0))
print("report:  " .. out .. "/report.md")
print("results: " .. out .. "/results.h5")
print("figures: " .. out .. "/fig*.png (and .pdf)")

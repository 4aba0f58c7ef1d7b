-- Score one pipeline run against an exact truth (pf.score; issue 13):
--   phaseflow scripts/score.lua RESULTS.h5 TRUTH [--kernel-points K] [--out FILE.h5]
-- RESULTS.h5: DIR/results.h5 of scripts/paper.lua. TRUTH: a mock's truth file (mock.h5 of
-- scripts/make-mock.lua, or DIR/mock/KEY/mock.h5 of a pipeline run), the word
-- mwpotential2014, or a Lua file returning {potential = P, dm = Pdm, baryons = Pb} (dm
-- optional: without it rho_DM is not scored). Prints the scores; --out also writes every
-- number to FILE.h5 (through a temporary name). Exit status 2 for a mistake in the inputs.
local pf = require "phaseflow"

local USAGE = [[
usage: phaseflow scripts/score.lua RESULTS.h5 TRUTH [--kernel-points K] [--out FILE.h5]
  RESULTS.h5         DIR/results.h5 of a pipeline run (scripts/paper.lua)
  TRUTH              a mock truth file (mock.h5), the word mwpotential2014, or a Lua file
                     returning {potential = P, dm = Pdm, baryons = Pb}
  --kernel-points K  points of the truth's kernel rule (pf.truth: the smallest product
                     Gauss rule with at least K; default 8192, the 16 x 16 x 32 rule)
  --out FILE.h5      also write every number to FILE.h5]]

local cli = require "phaseflow.cli"
local SPEC = {script = "score.lua", usage = USAGE, defaults = {kernel_points = pf.score.KERNEL_POINTS},
              options = {out = "value", ["kernel-points"] = {"integer", min = 4,
                                                              message = "%s must be an integer >= 4, got %s"}}}

local opts, pos = cli.parse(arg, SPEC)
if #pos ~= 2 then cli.fail(SPEC, ("RESULTS.h5 and TRUTH expected, got %d argument(s)"):format(#pos)) end

-- A mistake in the inputs (pf.score's errors) ends with its message and status 2; anything
-- else is a bug and keeps its traceback.
local ok, err = xpcall(function()
  local R = pf.score.read(pos[1])
  local S = pf.score.run(R, pf.score.truth(pos[2]), {kernel_points = opts.kernel_points})
  print(pf.score.format(S))
  if opts.out then
    pf.score.save(opts.out, S)
    print("scores written to " .. opts.out)
  end
end, function(e)
  if pf.score.is_error(e) then return e end
  return debug.traceback(tostring(e), 2)
end)
if not ok then
  if pf.score.is_error(err) then cli.fail(SPEC.script, tostring(err)) end  -- the reason alone, no usage
  error(err, 0)
end

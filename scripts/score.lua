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
  --kernel-points K  kernel points of the smoothed truth densities (default 3200)
  --out FILE.h5      also write every number to FILE.h5]]

local function usage_error(msg)
  io.stderr:write("score.lua: ", msg, "\n", USAGE, "\n")
  os.exit(2)
end

local opts = {kernel_points = pf.score.KERNEL_POINTS}
local pos = {}
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--kernel-points" or a == "--out" then
    local v = arg[i + 1]
    if v == nil then usage_error(a .. " needs a value") end
    if a == "--out" then
      opts.out = v
    else
      opts.kernel_points = math.tointeger(tonumber(v))
      if not opts.kernel_points or opts.kernel_points < 4 then
        usage_error("--kernel-points must be an integer >= 4, got " .. v)
      end
    end
    i = i + 2
  elseif a == "--help" or a == "-h" then
    print(USAGE)
    os.exit(0)
  elseif a:sub(1, 2) == "--" then
    usage_error("unknown option " .. a)
  else
    pos[#pos + 1] = a
    i = i + 1
  end
end
if #pos ~= 2 then usage_error(("RESULTS.h5 and TRUTH expected, got %d argument(s)"):format(#pos)) end

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
  if pf.score.is_error(err) then
    io.stderr:write("score.lua: ", tostring(err), "\n")
    os.exit(2)
  end
  error(err, 0)
end

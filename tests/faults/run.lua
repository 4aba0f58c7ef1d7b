-- make faults: kill training, MCMC and the pipeline at random moments (SIGKILL, through
-- coreutils' timeout), resume each, and check that it ends with the same bits as an
-- uninterrupted run and that no file is poisoned.
--   build/phaseflow tests/faults/run.lua [KILLS per kind, default 20] [kind ...]
local pf = require "phaseflow"

local kills = tonumber(arg[1]) or 20
local kinds = {}
for i = 2, #arg do kinds[#kinds + 1] = arg[i] end
if #kinds == 0 then kinds = {"train", "mcmc", "pipeline"} end

local exe = os.getenv("PHASEFLOW_EXE") or "build/phaseflow"
local root = os.tmpname()
os.remove(root)
pf.fs.mkdirs(root)

-- the job's result: a digest of every dataset it wrote (values, not file layout)
local digest_h5 = pf.h5.digest

local function job(kind, dir)
  if kind == "pipeline" then return {"tests/faults/child.lua", "pipeline", dir}, dir .. "/results.h5" end
  return {"tests/faults/child.lua", kind, dir .. "/checkpoint.h5", dir .. "/out.h5"}, dir .. "/out.h5"
end

local function run(argv, seconds)
  local cmd = {}
  if seconds then cmd = {"timeout", "-s", "KILL", ("%.3f"):format(seconds)} end
  cmd[#cmd + 1] = exe
  for _, a in ipairs(argv) do cmd[#cmd + 1] = a end
  return pf.fs.run(cmd, {log = root .. "/last.log"})
end

local rng = pf.rng.new(20261205)
local failed = 0
for _, kind in ipairs(kinds) do
  local ref = ("%s/%s-ref"):format(root, kind)
  pf.fs.mkdirs(ref)
  local argv, out = job(kind, ref)
  local t0 = pf.wtime()
  assert(run(argv) == 0, kind .. ": the uninterrupted run failed (see " .. root .. "/last.log)")
  local full = pf.wtime() - t0
  local want = digest_h5(out)
  local good, killed = 0, 0
  for i = 1, kills do
    local dir = ("%s/%s-%02d"):format(root, kind, i)
    pf.fs.mkdirs(dir)
    local a, o = job(kind, dir)
    -- one or two kills at random moments, then a resume to the end
    local nk = 1 + math.floor(rng:uniform() * 2)
    for _ = 1, nk do
      if run(a, 0.05 + rng:uniform() * full) == 128 + 9 then killed = killed + 1 end
    end
    local rc = run(a)
    local ok = rc == 0 and digest_h5(o) == want
    if ok then good = good + 1 else
      failed = failed + 1
      io.stderr:write(("%s %d: resume %s (exit %d)\n"):format(kind, i, rc == 0 and "differs" or "failed", rc))
    end
    pf.fs.run({"rm", "-rf", dir})
  end
  print(("%-9s %2d of %2d resumed to the same bits (%d SIGKILLs landed; uninterrupted run %.1f s)"):format(
    kind, good, kills, killed, full))
end
pf.fs.run({"rm", "-rf", root})
os.exit(failed == 0 and 0 or 1)

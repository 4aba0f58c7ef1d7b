-- make faults: kill training, MCMC and the pipeline at random moments (SIGKILL, through
-- coreutils' timeout), resume each, and check that it ends with the same bits as an
-- uninterrupted run and that no file is poisoned. Kind "mpi" (when mpirun is there): the
-- pipeline on 2 ranks, one rank killed at a random moment (mpirun then ends the other),
-- resumed on 2 ranks: the same bits, and every job file written before the kill is kept
-- as it was (same inode: not redone).
--   build/phaseflow tests/faults/run.lua [KILLS per kind, default 20] [kind ...]
local pf = require "phaseflow"

local kills = tonumber(arg[1]) or 20
local kinds = {}
for i = 2, #arg do kinds[#kinds + 1] = arg[i] end
local has_mpi = pf.core.mpi and pf.core.mpi.built() and os.execute("command -v mpirun > /dev/null")
if #kinds == 0 then kinds = {"train", "mcmc", "pipeline", has_mpi and "mpi" or nil} end

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

-- the pipeline under mpirun -np 2 (one thread per rank); with `seconds`, one of the two
-- ranks (not mpirun) is sent SIGKILL after that long. Returns whether a rank was killed.
local MPIRUN = "OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
  .. "mpirun -np 2 --oversubscribe "
local function run_mpi(dir, seconds)
  local rank_cmd = ("%s tests/faults/child.lua pipeline %s"):format(exe, dir)
  local script = MPIRUN .. rank_cmd .. " > " .. root .. "/last.log 2>&1"
  if seconds then
    script = ("%s & m=$!; sleep %.3f; p=$(pgrep -f '^%s$' | shuf -n 1); "
      .. "if [ -n \"$p\" ]; then kill -KILL $p; echo killed; fi; wait $m; exit 0"):format(script, seconds, rank_cmd)
  end
  local h = io.popen(script)
  local out = h:read("a")
  local ok = h:close()
  return out:find("killed", 1, true) ~= nil, ok
end

-- the job files of a pipeline folder: name -> inode
local function job_files(dir)
  local h = io.popen(("stat -c '%%i %%n' %s/steps/*.jobs/*.h5 2>/dev/null"):format(dir))
  local t = {}
  for line in h:lines() do
    local ino, name = line:match("^(%d+) (.*)$")
    if ino then t[name] = ino end
  end
  h:close()
  return t
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

-- kind "mpi": kill one rank, resume on 2 ranks; same bits, finished jobs untouched
local function mpi_faults()
  local ref = root .. "/mpi-ref"
  pf.fs.mkdirs(ref)
  local t0 = pf.wtime()
  local _, ok = run_mpi(ref)
  assert(ok, "mpi: the uninterrupted run failed (see " .. root .. "/last.log)")
  local full = pf.wtime() - t0
  local want = digest_h5(ref .. "/results.h5")
  local good, killed, kept = 0, 0, 0
  for i = 1, kills do
    local dir = ("%s/mpi-%02d"):format(root, i)
    pf.fs.mkdirs(dir)
    if run_mpi(dir, 0.3 + rng:uniform() * full) then killed = killed + 1 end
    local before = job_files(dir)
    local _, rok = run_mpi(dir)
    local after = job_files(dir)
    local same = true
    for name, ino in pairs(before) do
      if after[name] ~= ino then same = false end
      kept = kept + 1
    end
    local pass = rok and same and pf.fs.exists(dir .. "/results.h5") and digest_h5(dir .. "/results.h5") == want
    if pass then good = good + 1 else
      failed = failed + 1
      io.stderr:write(("mpi %d: resume %s\n"):format(i, not rok and "failed" or not same and "redid a finished job"
        or "differs"))
    end
    pf.fs.run({"rm", "-rf", dir})
  end
  print(("%-9s %2d of %2d resumed to the same bits (%d ranks killed; %d job files kept untouched; "
    .. "uninterrupted run %.1f s)"):format("mpi", good, kills, killed, kept, full))
end

for _, kind in ipairs(kinds) do
  if kind == "mpi" then mpi_faults() goto continue end
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
  ::continue::
end
pf.fs.run({"rm", "-rf", root})
os.exit(failed == 0 and 0 or 1)

-- pf.dist and the pipeline's jobs spread over processes: the shares of a job array
-- (--task I/N, --merge), the Slurm chain of scripts/slurm-array.sh (with a stand-in
-- sbatch that runs each job at once) and MPI ranks (mpirun, when this build has MPI) all
-- give the serial run's results bit for bit.
local pf = require "phaseflow"
local support = require "support"
local dist = require "phaseflow.dist"

local quote = support.quote
local exe = support.exe

-- the executable's folder's parent is the repository (scripts/ lives there)
local root = exe:match("^(.*)/build[^/]*/phaseflow$") or ".."

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  pf.fs.mkdirs(d)
  return d
end

local base = tmpdir()
local mock = base .. "/mock"
-- the test preset with a refit systematic: the flows step then has two phases (the refits
-- are trained on draws from the base ensemble)
local preset = support.tempfile('return {base = "test", systematics = {{refit = true}, {map_radius = 4.4}}}', ".lua")
-- one thread per process: a flow's training is bit-identical only at equal thread counts
local ENV = "OMP_NUM_THREADS=1"

local function paper(out, ...)
  local args = {root .. "/scripts/paper.lua", "--preset", preset, "--out", out, "--mock-cache", mock, "--quiet"}
  for _, a in ipairs({...}) do args[#args + 1] = a end
  return support.phaseflow(args, ENV)
end

-- digests of what a run made: results.h5 and every step file a later step reads
local FILES = {"results.h5", "steps/flows.h5", "steps/accelerations.h5", "steps/densities.h5",
               "steps/darkmatter.h5", "steps/gnfw.h5"}
local function digests(dir)
  local t = {}
  for _, f in ipairs(FILES) do t[f] = pf.h5.digest(dir .. "/" .. f) end
  return t
end

local serial
local function serial_digests()
  if not serial then
    local out, rc = paper(base .. "/serial")
    assert(rc == 0, out)
    serial = digests(base .. "/serial")
  end
  return serial
end

describe("pf.dist", function()
  it("parses I/N and refuses what is not a share", function()
    assert.same({2, 5}, {dist.parse_task("2/5")})
    assert.same({1, 1}, {dist.parse_task(" 1 / 1 ")})
    for _, bad in ipairs({"0/3", "4/3", "3", "a/b", "1/0", "-1/2"}) do
      local i, msg = dist.parse_task(bad)
      assert.is_nil(i)
      assert.is_string(msg)
    end
    assert.has_error(function() dist.new{task = "5/4"} end, "pf.dist: task '5/4': need 1 <= I <= N")
  end)

  it("gives task I of N the jobs I, I+N, ... of the whole list; serial does all in order", function()
    local list = {"a", "b", "c", "d", "e", "f", "g"}
    assert.same({"b", "e"}, dist.new{task = "2/3"}:share(list))
    assert.same({"c", "f"}, dist.new{task = "3/3"}:share(list))
    assert.same({"a", "d", "g"}, dist.new{task = "1/3"}:share(list))
    local s = dist.new{}
    assert.equal("serial", s.mode)
    assert.is_true(s.root)
    local seen = {}
    assert.equal(7, s:each(s:share(list), function(job, i, n) seen[#seen + 1] = job .. i .. n end))
    assert.same({"a17", "b27", "c37", "d47", "e57", "f67", "g77"}, seen)
    assert.same({"b", "d"}, s:pending({"a", "b", "c", "d"}, function(j) return j == "a" or j == "c" end))
    assert.equal("", s:label())
    assert.equal("task 2 of 3", dist.new{task = "2/3"}:label())
  end)
end)

describe("the pipeline's jobs over processes", function()
  it("--task shares merged with --merge give the serial run's bits", function()
    local want = serial_digests()
    local out = base .. "/tasks"
    local o, rc = paper(out, "--merge")
    assert.equal(0, rc, o)
    assert.truthy(o:find("next: the job array of step flows", 1, true), o)
    -- five rounds: flows (base, then refits), accelerations, densities, potential
    for _ = 1, 5 do
      for i = 1, 3 do
        o, rc = paper(out, "--task", i .. "/3")
        assert.equal(0, rc, o)
      end
      o, rc = paper(out, "--merge")
      assert.equal(0, rc, o)
    end
    assert.truthy(o:find("report:", 1, true), o)
    assert.same(want, digests(out))
  end)

  it("--merge names the jobs a failed share left undone; bad --task values exit 2", function()
    local out = base .. "/partial"
    assert.equal(0, select(2, paper(out, "--merge")))
    assert.equal(0, select(2, paper(out, "--task", "1/2")))
    local o, rc = paper(out, "--merge")
    assert.equal(1, rc, o)
    assert.truthy(o:find("--merge: step 'flows' misses 7 of its 14 jobs (base-p_v-0001", 1, true), o)
    assert.truthy(o:find("did a task of the array fail?", 1, true), o)
    for _, bad in ipairs({"0/2", "3/2", "x"}) do
      o, rc = paper(out, "--task", bad)
      assert.equal(2, rc, o)
      assert.truthy(o:find("--task", 1, true), o)
    end
    o, rc = paper(out, "--task", "1/2", "--merge")
    assert.equal(2, rc, o)
  end)

  it("scripts/slurm-array.sh's chain of arrays and merges gives the serial run's bits", function()
    local want = serial_digests()
    local bin = tmpdir()
    -- a stand-in sbatch: runs the --wrap command at once (an array: each task in turn)
    -- and prints a job id, as `sbatch --parsable` does
    local f = assert(io.open(bin .. "/sbatch", "w"))
    f:write([[#!/usr/bin/env bash
array="" wrap=""
while [ $# -gt 0 ]; do
  case $1 in --array=*) array=${1#--array=} ;; --wrap) wrap=$2; shift ;; esac
  shift
done
if [ -n "$array" ]; then
  for i in $(seq "${array%-*}" "${array#*-}"); do
    SLURM_ARRAY_TASK_ID=$i bash -c "$wrap" >> "$SBATCH_LOG" 2>&1 || exit 1
  done
else
  bash -c "$wrap" >> "$SBATCH_LOG" 2>&1 || exit 1
fi
echo $RANDOM
]])
    f:close()
    os.execute("chmod +x " .. quote(bin .. "/sbatch"))
    local out = base .. "/slurm"
    local log = base .. "/sbatch.log"
    local o, rc = support.run(("cd %s && PATH=%s:$PATH SBATCH_LOG=%s PHASEFLOW=%s OMP_NUM_THREADS=1 "
      .. "bash scripts/slurm-array.sh %s %s 2 -- --cpus-per-task=1"):format(quote(root), quote(bin), quote(log),
      quote(exe), quote(preset), quote(out)))
    assert.equal(0, rc, o)
    assert.truthy(o:find("round 5: array", 1, true), o)
    assert.same(want, digests(out))
    o, rc = support.run("bash " .. quote(root .. "/scripts/slurm-array.sh") .. " test x")
    assert.equal(2, rc, o)
  end)

  local core = require "phaseflow.core"
  local has_mpirun = select(2, support.run("command -v mpirun")) == 0
  local mpi_ok = core.mpi and core.mpi.built() and has_mpirun
  local mpi_it = mpi_ok and it or pending
  mpi_it("mpirun -np 2 gives the serial run's bits (pending without MPI)", function()
    local want = serial_digests()
    local out = base .. "/mpi2"
    local args = {root .. "/scripts/paper.lua", "--preset", preset, "--out", out, "--mock-cache", mock, "--quiet"}
    for i, a in ipairs(args) do args[i] = quote(a) end
    local o, rc = support.run(("OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
      .. "timeout 300 mpirun -np 2 --oversubscribe %s %s"):format(quote(exe), table.concat(args, " ")))
    assert.equal(0, rc, o)
    assert.same(want, digests(out))
  end)
end)

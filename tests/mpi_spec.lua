-- pf.mpi: the one-rank world in this process (what every plain run sees), then real runs
-- of the executable under mpirun on 2 and 3 ranks: every job done once, both ranks
-- working, bcast bit-identical, allreduce, and an error on rank 1 ending the run quickly.
local pf = require "phaseflow"
local support = require "support"

local mpi = pf.mpi

-- The bits of every element of an array, as one string (bit-identity, NaN-safe).
local function bits(a)
  local out = {}
  local flat = a:copy():reshape(a:size())
  for i = 1, a:size() do out[i] = string.pack("<d", flat[i]) end
  return table.concat(out)
end

describe("pf.mpi in a one-rank world", function()
  it("is rank 0 of 1, not active outside a launcher", function()
    assert.are.equal("boolean", type(mpi.built()))
    assert.is_false(mpi.active())
    assert.are.equal(0, mpi.rank())
    assert.are.equal(1, mpi.size())
    mpi.barrier()
  end)

  it("bcast returns its value: a string, a 2-D array bit-equal, a strided view", function()
    assert.are.equal("2.385 kpc\0binary", mpi.bcast("2.385 kpc\0binary"))
    assert.are.equal("", mpi.bcast("", 0))
    local a = support.filled(7, 3, 2385, 2.385)
    a[2][3] = 0 / 0
    a[4][1] = -0.0
    local b = mpi.bcast(a)
    assert.are.same({7, 3}, {b:shape()})
    assert.are.equal(bits(a), bits(b))
    local col = a:col(2)
    assert.are.equal(bits(col), bits(mpi.bcast(col)))
  end)

  it("gather returns the list of this rank's string; allreduce_sum the number", function()
    assert.are.same({"rank 0: 2.385"}, mpi.gather("rank 0: 2.385"))
    assert.are.same({""}, mpi.gather("", 0))
    assert.are.equal(2.385, mpi.allreduce_sum(2.385))
  end)

  it("jobs(n, fn) calls fn(1..n) in order and returns n", function()
    local seen = {}
    assert.are.equal(5, mpi.jobs(5, function(i) seen[#seen + 1] = i end))
    assert.are.same({1, 2, 3, 4, 5}, seen)
    assert.are.equal(0, mpi.jobs(0, function() error("never called") end))
  end)

  it("an error in a job propagates as usual and stops the loop", function()
    local seen = {}
    local ok, err = pcall(mpi.jobs, 6, function(i)
      seen[#seen + 1] = i
      if i == 3 then error("job 3 failed at 2.385 kpc") end
    end)
    assert.is_false(ok)
    assert.matches("job 3 failed at 2.385 kpc", err)
    assert.are.same({1, 2, 3}, seen)
    -- the module is usable again afterwards
    assert.are.equal(2, mpi.jobs(2, function() end))
  end)

  it("bad arguments are errors naming pf.mpi.NAME and the argument", function()
    local function fails(pattern, f, ...)
      local ok, err = pcall(f, ...)
      assert.is_false(ok)
      assert.matches(pattern, err)
    end
    fails("pf%.mpi%.jobs: argument #1 %(n%) must be an integer, got string", mpi.jobs, "x", print)
    fails("pf%.mpi%.jobs: argument #1 %(n%) must be an integer, got number", mpi.jobs, 2.5, print)
    fails("pf%.mpi%.jobs: argument #1 %(n%) must be in 0%.%.%d+, got %-1", mpi.jobs, -1, print)
    fails("pf%.mpi%.jobs: argument #2 %(fn%) must be a function, got number", mpi.jobs, 3, 4)
    fails("pf%.mpi%.bcast: argument #1 %(value%) must be a string or a pf array on the root, got boolean",
      mpi.bcast, true)
    fails("pf%.mpi%.bcast: argument #1 %(value%) must be a string or a pf array on the root, got nil",
      mpi.bcast, nil)
    fails("pf%.mpi%.bcast: argument #2 %(root%) must be a rank in 0%.%.0, got 1", mpi.bcast, "x", 1)
    fails("pf%.mpi%.bcast: argument #2 %(root%) must be an integer rank, got string", mpi.bcast, "x", "r")
    fails("pf%.mpi%.gather: argument #1 %(s%) must be a string, got number", mpi.gather, 2.385)
    fails("pf%.mpi%.gather: argument #2 %(root%) must be a rank in 0%.%.0, got %-1", mpi.gather, "x", -1)
    fails("pf%.mpi%.allreduce_sum: argument #1 %(x%) must be a number, got string", mpi.allreduce_sum, "2")
  end)

  it("--version names the MPI library, or says the build is serial", function()
    local out, rc = support.phaseflow{"--version"}
    assert.are.equal(0, rc)
    if mpi.built() then
      assert.matches("\nMPI: [^\n]*%d+%.%d+", out)
    else
      assert.matches("\nMPI: none %(serial build%)\n", out)
    end
  end)
end)

-- ---- real runs under mpirun ------------------------------------------------------------

local function have_mpirun()
  local p = io.popen("command -v mpirun 2>/dev/null")
  local path = p:read("a")
  p:close()
  return path:match("%S") ~= nil
end

local MPIRUN_ENV = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"

-- Run `script` (Lua text) on np ranks; returns the combined output, the exit code and the
-- wall time in seconds. `timeout 60` turns a hang into a failure instead of a stuck suite.
local function mpirun(np, script)
  local file = support.tempfile(script, ".lua")
  local t0 = pf.wtime()
  local out, rc = support.run(("%s timeout 60 mpirun -np %d --oversubscribe %s %s"):format(
    MPIRUN_ENV, np, support.quote(support.exe), support.quote(file)))
  local dt = pf.wtime() - t0
  os.remove(file)
  return out, rc, dt
end

-- Each rank takes jobs of uneven lengths (0..6 ms), records its indices, checks a
-- broadcast 2x3x4 array against its own copy of the same draws bit for bit, and sends a
-- line to rank 0 through gather; rank 0 prints them and a checksum of the squares.
local JOBS_SCRIPT = [[
local pf = require "phaseflow"
local mpi = pf.mpi
local rank = mpi.rank()
local mine, squares = {}, 0
mpi.barrier()
local done = mpi.jobs(40, function(i)
  local t = pf.wtime() + 0.001 * ((i * 7919) % 7)
  while pf.wtime() < t do end
  mine[#mine + 1] = i
  squares = squares + i * i
end)
local expect = pf.rng.new(2385):normal{2, 3, 4} * 2.385
local got = mpi.bcast(rank == 0 and expect or nil)
local function bits(a)
  local flat, out = a:reshape(a:size()), {}
  for i = 1, a:size() do out[i] = string.pack("<d", flat[i]) end
  return table.concat(out)
end
local same = table.concat({got:shape()}, "x") == "2x3x4" and bits(got) == bits(expect)
local text = mpi.bcast(rank == 0 and "from rank 0" or nil)
local sum = mpi.allreduce_sum(rank + 0.25)
local total = mpi.allreduce_sum(squares)
local lines = mpi.gather(("RANK %d size %d done %d bcast %s %s sum %.17g jobs %s"):format(
  rank, mpi.size(), done, tostring(same), text:gsub(" ", "_"), sum, table.concat(mine, ",")))
if rank == 0 then
  for _, l in ipairs(lines) do print(l) end
  print(("CHECKSUM %.17g"):format(total))
end
]]

local function check_jobs_run(np)
  local out, rc = mpirun(np, JOBS_SCRIPT)
  assert.are.equal(0, rc, out)
  local count, ranks = {}, {}
  for r, size, done, same, text, sum, list in
      out:gmatch("RANK (%d+) size (%d+) done (%d+) bcast (%a+) (%S+) sum (%S+) jobs ([%d,]*)") do
    r = tonumber(r)
    ranks[#ranks + 1] = r
    assert.are.equal(np, tonumber(size))
    assert.are.equal("true", same, "bcast array differs on rank " .. r)
    assert.are.equal("from_rank_0", text)
    assert.are.equal(np * (np - 1) / 2 + 0.25 * np, tonumber(sum))
    local n, last = 0, 0
    for i in list:gmatch("%d+") do
      i = tonumber(i)
      assert.is_true(i > last, "rank " .. r .. " got its indices out of order: " .. list)
      last = i
      count[i] = (count[i] or 0) + 1
      n = n + 1
    end
    assert.are.equal(n, tonumber(done))
    assert.is_true(n > 0, ("rank %d did no job:\n%s"):format(r, out))
  end
  table.sort(ranks)
  local want = {}
  for r = 0, np - 1 do want[#want + 1] = r end
  assert.are.same(want, ranks, out)
  for i = 1, 40 do assert.are.equal(1, count[i], ("job %d done %s times"):format(i, count[i])) end
  assert.are.equal(22140, tonumber(out:match("CHECKSUM (%S+)")))  -- 1^2 + ... + 40^2
end

describe("pf.mpi under mpirun", function()
  local why
  if not mpi.built() then
    why = "serial build (make MPI=0): no MPI runs"
  elseif not have_mpirun() then
    why = "mpirun not found (install openmpi-bin)"
  end
  if why then
    it("runs on several ranks", function() pending(why) end)
    return
  end

  it("spreads 40 jobs over 2 ranks: each done once, both ranks working", function()
    check_jobs_run(2)
  end)

  it("spreads 40 jobs over 3 ranks", function()
    check_jobs_run(3)
  end)

  it("an error in a job on rank 1 ends every rank quickly, naming the rank", function()
    local out, rc, dt = mpirun(2, [[
      local pf = require "phaseflow"
      pf.mpi.barrier()
      pf.mpi.jobs(50, function(i)
        local t = pf.wtime() + 0.02
        while pf.wtime() < t do end
        if pf.mpi.rank() == 1 then error("job " .. i .. " failed at 2.385 kpc") end
      end)
      pf.mpi.barrier()
      print("NOT REACHED")
    ]])
    assert.are_not.equal(0, rc)
    assert.are_not.equal(124, rc, "mpirun hung (timeout):\n" .. out)
    assert.matches("phaseflow: rank 1: [^\n]*job %d+ failed at 2%.385 kpc", out)
    assert.is_nil(out:find("NOT REACHED", 1, true))
    assert.is_true(dt < 30, ("took %.1f s"):format(dt))
  end)

  it("a script error on rank 1 outside the jobs aborts rank 0 waiting in a barrier", function()
    local out, rc, dt = mpirun(2, [[
      local pf = require "phaseflow"
      if pf.mpi.rank() == 1 then error("pf.demo: rank 1 gives up at 2.385") end
      pf.mpi.barrier()
      print("NOT REACHED")
    ]])
    assert.are_not.equal(0, rc)
    assert.are_not.equal(124, rc, "mpirun hung (timeout):\n" .. out)
    assert.matches("phaseflow: rank 1: [^\n]*pf%.demo: rank 1 gives up at 2%.385", out)
    assert.is_nil(out:find("NOT REACHED", 1, true))
    assert.is_true(dt < 30, ("took %.1f s"):format(dt))
  end)
end)

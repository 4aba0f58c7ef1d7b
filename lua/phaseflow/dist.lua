-- pf.dist: where a run's jobs go. One object per run says how the process takes part:
--
--   serial   one process does every job (the default)
--   mpi      started by mpirun/srun with more than one rank (pf.mpi): every rank runs
--            the same script; rank 0 decides, writes the step files and the others wait;
--            a step's jobs are handed out one at a time to whichever rank is free
--   task     one share of a job array (--task I/N, e.g. a Slurm array task): jobs
--            I, I+N, I+2N, ... of the list, written as job files; no step file is written
--
-- A job's result does not depend on where it runs (its seed is its own, and a row's
-- result does not depend on its batch), so every mode gives the serial run's bits at the
-- same threads per process.
local core = require "phaseflow.core"

local dist = {}
local D = {}
D.__index = D

-- The MPI binding when this build has it and a launcher started the process.
local function mpi_world()
  local mpi = core.mpi
  if mpi and mpi.active() and mpi.size() > 1 then return mpi end
  return nil
end

--- parse_task("I/N") -> I, N (1 <= I <= N), or nil and a message.
function dist.parse_task(s)
  local i, n = tostring(s):match("^%s*(%d+)%s*/%s*(%d+)%s*$")
  i, n = tonumber(i), tonumber(n)
  if not i then return nil, ("'%s' is not I/N (e.g. 3/8)"):format(tostring(s)) end
  if n < 1 or i < 1 or i > n then return nil, ("'%s': need 1 <= I <= N"):format(tostring(s)) end
  return i, n
end

--- new{task = "I/N" | nil} -> how this process takes part in a run (see the top).
function dist.new(opts)
  opts = opts or {}
  local self = setmetatable({mode = "serial", rank = 0, size = 1, root = true}, D)
  if opts.task then
    local i, n = dist.parse_task(opts.task)
    if not i then error("pf.dist: task " .. n, 2) end
    if mpi_world() then error("pf.dist: --task shares a job array; under mpirun the ranks share the jobs", 2) end
    self.mode, self.task, self.ntasks = "task", i, n
  else
    local mpi = mpi_world()
    if mpi then
      self.mode, self.mpi, self.rank, self.size = "mpi", mpi, mpi.rank(), mpi.size()
      self.root = self.rank == 0
    end
  end
  return self
end

--- "rank 2 of 4", "task 3 of 8" or "" (serial): for log lines.
function D:label()
  if self.mode == "mpi" then return ("rank %d of %d"):format(self.rank, self.size) end
  if self.mode == "task" then return ("task %d of %d"):format(self.task, self.ntasks) end
  return ""
end

--- Wait for every rank (MPI); nothing otherwise.
function D:barrier()
  if self.mpi then self.mpi.barrier() end
end

--- The root's string on every rank (MPI); s itself otherwise.
function D:bcast(s)
  if self.mpi then return self.mpi.bcast(self.root and s or nil, 0) end
  return s
end

-- A list of integers as a string and back (what the root broadcasts).
local function ints_dump(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = tostring(v) end
  return table.concat(s, ",")
end
local function ints_load(s)
  local t = {}
  for v in s:gmatch("%d+") do t[#t + 1] = tonumber(v) end
  return t
end

--- share(list) -> the entries of a job list that are this process' to do: I, I+N, ...
--- of the whole list for task I of N (the same share whatever the others have done),
--- the list itself otherwise.
function D:share(list)
  if self.mode ~= "task" then return list end
  local out = {}
  for i = self.task, #list, self.ntasks do out[#out + 1] = list[i] end
  return out
end

--- each(list, fn): fn(list[i], i, #list) for the entries this process does: all of them
--- (serial, task: give it the share), or those handed to this rank (mpi: one at a time,
--- in increasing i, to whichever rank asks first; all ranks must call each with the same
--- list). Returns how many ran here.
function D:each(list, fn)
  local n = #list
  if self.mode == "mpi" then
    return self.mpi.jobs(n, function(i) fn(list[i], i, n) end)
  end
  for i, job in ipairs(list) do fn(job, i, n) end
  return n
end

--- pending(jobs, is_done) -> the jobs not done yet, the same list on every rank (the
--- root looks at the files and says which).
function D:pending(jobs, is_done)
  local idx = {}
  if self.root then
    for i, j in ipairs(jobs) do if not is_done(j) then idx[#idx + 1] = i end end
  end
  idx = self.mpi and ints_load(self:bcast(ints_dump(idx))) or idx
  local out = {}
  for k, i in ipairs(idx) do out[k] = jobs[i] end
  return out
end

return dist

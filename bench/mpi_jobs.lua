-- Benchmark: the cost of pf.mpi.jobs per job, over however many ranks run it.
--
--   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
--     mpirun -np 2 --oversubscribe build/phaseflow bench/mpi_jobs.lua [n=2000] [w_us=0]
--
-- n jobs, each a busy wait of w microseconds. Rank 0 prints the jobs each rank did, the
-- wall time, the ideal time n w / np and the overhead per job, (wall np / n - w), where
-- wall is the mean over the ranks. Without mpirun it runs as one rank.
local pf = require "phaseflow"

local n = tonumber(arg and arg[1]) or 2000
local w = (tonumber(arg and arg[2]) or 0) * 1e-6
pf.mpi.barrier()
local t0 = pf.wtime()
local done = pf.mpi.jobs(n, function()
  if w > 0 then
    local t = pf.wtime() + w
    while pf.wtime() < t do end
  end
end)
local t = pf.wtime() - t0
local counts = pf.mpi.gather(("%d"):format(done))
local np = pf.mpi.size()
local mean = pf.mpi.allreduce_sum(t) / np
if counts then
  print(("np %d, n %d, w %.0f us: jobs per rank %s; wall %.4f s (ideal %.4f s); overhead %.2f us/job")
    :format(np, n, w * 1e6, table.concat(counts, "/"), t, n * w / np, (mean * np / n - w) * 1e6))
end

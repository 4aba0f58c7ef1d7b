-- bench/gaia.lua: read, convert and cut a gzip ECSV file with the paper's columns
-- (build/phaseflow bench/gaia.lua [rows] [chunk]).
--
-- Peer: the issue's target, the paper's 31.5 M rows in under 2 minutes on 2 cores
-- (>= 250,000 rows/s per core). Three stages, each in a fresh process of its own so
-- that its time and peak memory are its own:
--   read       inflate the file and count its lines (pf.gaia.scan): the floor
--   convert    read + parse the 26 columns into chunks (pf.gaia.stream)
--   cut        read + convert + the paper's cut flow + covariances of the kept stars
--              (pf.gaia.select_files)
-- Reported per stage: wall seconds and rows/s; CPU seconds of all the process's threads
-- and rows/s per core (rows / CPU seconds: the reader inflates, parses ahead and
-- cuts in three threads, so CPU time, not wall time, is what a core costs); peak
-- resident memory (VmHWM). The input is generated once, by bench/gaia_gen.lua in a
-- separate process. On a machine shared with other jobs the wall times mean little:
-- the load average is printed beside them.
local pf = require "phaseflow"

local exe = arg and arg[-1] or "build/phaseflow"
local here = arg and arg[0] or "bench/gaia.lua"
local rows = tonumber(arg and arg[1]) or 1000000
local chunk = tonumber(arg and arg[2]) or 100000
local stage = arg and arg[3]
local path = ("build/bench-gaia-%d.csv.gz"):format(rows)

local want = { "source_id", "ra", "dec", "parallax", "parallax_error", "pmra", "pmdec",
  "radial_velocity", "phot_g_mean_mag", "grvs_mag", "bp_rp", "ra_error", "dec_error",
  "pmra_error", "pmdec_error", "radial_velocity_error", "ra_dec_corr", "ra_parallax_corr",
  "ra_pmra_corr", "ra_pmdec_corr", "dec_parallax_corr", "dec_pmra_corr", "dec_pmdec_corr",
  "parallax_pmra_corr", "parallax_pmdec_corr", "pmra_pmdec_corr" }

local function vmhwm_mb()
  local f = io.open("/proc/self/status")
  if not f then return 0 / 0 end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)")) / 1024
end

local function loadavg()
  local f = io.open("/proc/loadavg")
  if not f then return "?" end
  local s = f:read("l")
  f:close()
  return s:match("^(%S+)")
end

-- child: run one stage, print "wall cpu vmhwm n kept"
if stage then
  local t0, c0 = pf.wtime(), os.clock()
  local n, kept, flow = 0, 0, nil
  if stage == "read" then
    local _, lines = pf.gaia.scan(path)
    n = lines - 4 -- three ECSV header lines and the column names
  elseif stage == "convert" then
    for c in pf.gaia.stream(path, { columns = want, chunk = chunk }) do n = n + c.n end
  else
    local sample
    sample, flow = pf.gaia.select_files(path, { columns = want, chunk = chunk, print = false })
    n, kept = flow[1].before, sample.n
  end
  io.write(("%.6f %.6f %.1f %d %d\n"):format(pf.wtime() - t0, os.clock() - c0, vmhwm_mb(), n, kept))
  if flow then io.write(pf.select.format(flow)) end
  return
end

local f = io.open(path, "rb")
if f then
  f:close()
else
  local t0 = pf.wtime()
  assert(os.execute(("'%s' bench/gaia_gen.lua '%s' %d"):format(exe, path, rows)), "generator failed")
  print(("(generated %s in %.1f s by bench/gaia_gen.lua)"):format(path, pf.wtime() - t0))
end

local target = 250000
print(("gaia reader benchmark: %d rows, 28 columns in the file, %d read, chunk %d"):format(
  rows, #want, chunk))
print(("%-46s %7s %9s %7s %13s %6s %8s %5s"):format("stage", "wall s", "rows/s", "CPU s",
  "rows/s/core", "target", "VmHWM MB", "load"))
local labels = { read = "read only (inflate, count lines)", convert = "read + convert (26 columns)",
  cut = "read + convert + cuts + cov of kept stars" }
local result = {}
for _, st in ipairs { "read", "convert", "cut" } do
  local load = loadavg()
  local p = assert(io.popen(("'%s' '%s' %d %d %s"):format(exe, here, rows, chunk, st)))
  local out = p:read("a")
  assert(p:close(), "stage " .. st .. " failed:\n" .. out)
  local wall, cpu, mem, n, kept = out:match("^(%S+) (%S+) (%S+) (%d+) (%d+)\n")
  wall, cpu, mem, n, kept = tonumber(wall), tonumber(cpu), tonumber(mem), tonumber(n), tonumber(kept)
  assert(n == rows, ("stage %s saw %s rows"):format(st, tostring(n)))
  result[st] = { wall = wall, cpu = cpu, kept = kept, table = out:match("\n(.*)$") }
  print(("%-46s %7.2f %9.0f %7.2f %13.0f %5.2fx %8.0f %5s"):format(labels[st], wall, rows / wall, cpu,
    rows / cpu, rows / cpu / target, mem, load))
end
local cut = result.cut
local per_row = cut.cpu / rows
print(("projected for the paper's 31.5 M rows on 2 cores: %.0f s from CPU time (both cores busy; "
  .. "target 120 s); %.0f s at this run's wall rate"):format(31.5e6 * per_row / 2, 31.5e6 * cut.wall / rows))
print(("selected %d stars; the cut flow:"):format(cut.kept))
io.write(cut.table)

-- bench/gaia.lua: read + convert + cut a gzip CSV of 1,000,000 rows with the paper's
-- columns (build/phaseflow bench/gaia.lua [rows] [chunk]).
--
-- Peer: the issue's target, the paper's 31.5 M rows in under 2 minutes on 2 cores,
-- i.e. >= 250,000 rows/s per core. Reported: rows/s for the read alone (parse +
-- convert) and for read + Galactocentric transform + the full cut flow, on one core,
-- and the peak resident memory (VmHWM of /proc/self/status), which must stay bounded
-- by the chunk size, not by the file.
local pf = require "phaseflow"

local rows = tonumber(arg and arg[1]) or 1000000
local chunk = tonumber(arg and arg[2]) or 100000
local path = ("build/bench-gaia-%d.csv.gz"):format(rows)

local function vmhwm_mb()
  local f = io.open("/proc/self/status")
  if not f then return 0 / 0 end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)")) / 1024
end

local cols = { "solution_id", "source_id", "ra", "ra_error", "dec", "dec_error", "parallax",
  "parallax_error", "parallax_over_error", "pmra", "pmra_error", "pmdec", "pmdec_error",
  "ra_dec_corr", "ra_parallax_corr", "ra_pmra_corr", "ra_pmdec_corr", "dec_parallax_corr",
  "dec_pmra_corr", "dec_pmdec_corr", "parallax_pmra_corr", "parallax_pmdec_corr", "pmra_pmdec_corr",
  "phot_g_mean_mag", "bp_rp", "radial_velocity", "radial_velocity_error", "grvs_mag" }

-- Generate once (archive-like text: float64 columns at 16 digits, float32 at 8),
-- then gzip -1 with the system tool (the benchmark times reading, not writing).
local function generate()
  local f = io.open(path, "rb")
  if f then f:close(); return end
  local plain = path:gsub("%.gz$", "")
  local out = assert(io.open(plain, "w"))
  out:write("# %ECSV 1.0\n# ---\n# delimiter: ','\n", table.concat(cols, ","), "\n")
  local r = pf.rng.new(2023)
  local buf, fmt = {}, "1636148068921376768,%d,%.16g,%.8g,%.16g,%.8g,%.16g,%.8g,%.8g,%.16g,%.8g,"
    .. "%.16g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%s,%s,%s\n"
  local B = 10000
  for i0 = 1, rows, B do
    local nb = math.min(B, rows - i0 + 1)
    local u = r:uniform(nb * 6):totable()
    local g = r:normal(nb * 12):totable()
    for k = 1, nb do
      local plx = 0.1 + 4 * u[6 * k - 5]
      local pe = 0.02 + 0.1 * u[6 * k - 4]
      local corr = {}
      for c = 1, 10 do corr[c] = 0.3 * g[12 * k - 12 + c] / 3 end
      local mag = 8 + 8 * u[6 * k - 3]
      local rv = k % 7 == 0 and "null" or ("%.8g"):format(40 * g[12 * k - 1])
      local grvs = k % 5 == 0 and "null" or ("%.8g"):format(mag - 4)
      buf[#buf + 1] = fmt:format(4295806720 + 1000003 * (i0 + k), 360 * u[6 * k - 2], 0.05,
        -90 + 180 * u[6 * k - 1], 0.05, plx, pe, plx / pe, 30 * g[12 * k], 0.03, 30 * g[12 * k - 11], 0.03,
        corr[1], corr[2], corr[3], corr[4], corr[5], corr[6], corr[7], corr[8], corr[9], corr[10],
        mag, 1.2 * u[6 * k], rv, rv == "null" and "null" or "1.5", grvs)
    end
    out:write(table.concat(buf))
    buf = {}
  end
  out:close()
  assert(os.execute(("gzip -1 -f '%s'"):format(plain)), "gzip failed")
end

local t0 = pf.wtime()
generate()
local tgen = pf.wtime() - t0

local want = { "source_id", "ra", "dec", "parallax", "parallax_error", "pmra", "pmdec",
  "radial_velocity", "phot_g_mean_mag", "grvs_mag", "bp_rp", "ra_error", "dec_error",
  "pmra_error", "pmdec_error", "radial_velocity_error", "ra_dec_corr", "ra_parallax_corr",
  "ra_pmra_corr", "ra_pmdec_corr", "dec_parallax_corr", "dec_pmra_corr", "dec_pmdec_corr",
  "parallax_pmra_corr", "parallax_pmdec_corr", "pmra_pmdec_corr" }

-- 1) read + convert only
t0 = pf.wtime()
local n = 0
for c in pf.gaia.stream(path, { columns = want, chunk = chunk }) do n = n + c.n end
local tread = pf.wtime() - t0
assert(n == rows, "row count")

-- 2) read + convert + Galactocentric (with covariances) + the paper's cut flow
t0 = pf.wtime()
local sample, flow = pf.gaia.select_files(path, { columns = want, chunk = chunk, print = false })
local tall = pf.wtime() - t0

local target = 250000
print(("gaia reader benchmark: %d rows, %d columns in the file, %d read, chunk %d, 1 core"):format(
  rows, #cols, #want, chunk))
print(("  (file generated in %.1f s: %s)"):format(tgen, path))
print(("%-44s %12s %14s %10s"):format("stage", "seconds", "rows/s", "vs target"))
print(("%-44s %12.2f %14.0f %9.2fx"):format("read + convert (gzip ECSV)", tread, rows / tread,
  rows / tread / target))
print(("%-44s %12.2f %14.0f %9.2fx"):format("read + convert + galactocentric/cov + cuts", tall,
  rows / tall, rows / tall / target))
print(("peak resident memory (VmHWM): %.0f MB; selected %d stars"):format(vmhwm_mb(), sample.n))
io.write(pf.select.format(flow))

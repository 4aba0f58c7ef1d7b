-- bench/gaia_gen.lua: write a synthetic GaiaSource-like ECSV file, gzip -1 compressed
-- (build/phaseflow bench/gaia_gen.lua OUT.csv.gz ROWS [SEED]). Run in a process of its
-- own, so that the benchmarks that read the file do not count its memory or time.
--
-- Archive-like text: float64 columns at 16 significant digits, float32 at 8, the
-- paper's columns plus solution_id and parallax_over_error; every 7th star has no
-- radial velocity and every 5th no G_RVS (null), as in the bulk files.
local pf = require "phaseflow"

local path = assert(arg and arg[1], "usage: gaia_gen.lua OUT.csv.gz ROWS [SEED]")
local rows = assert(tonumber(arg[2]), "usage: gaia_gen.lua OUT.csv.gz ROWS [SEED]")
local seed = tonumber(arg[3]) or 2023
assert(path:match("%.gz$"), "the output name must end in .gz")

local cols = { "solution_id", "source_id", "ra", "ra_error", "dec", "dec_error", "parallax",
  "parallax_error", "parallax_over_error", "pmra", "pmra_error", "pmdec", "pmdec_error",
  "ra_dec_corr", "ra_parallax_corr", "ra_pmra_corr", "ra_pmdec_corr", "dec_parallax_corr",
  "dec_pmra_corr", "dec_pmdec_corr", "parallax_pmra_corr", "parallax_pmdec_corr", "pmra_pmdec_corr",
  "phot_g_mean_mag", "bp_rp", "radial_velocity", "radial_velocity_error", "grvs_mag" }

local plain = path:gsub("%.gz$", "")
local out = assert(io.open(plain, "w"))
out:write("# %ECSV 1.0\n# ---\n# delimiter: ','\n", table.concat(cols, ","), "\n")
local r = pf.rng.new(seed)
local fmt = "1636148068921376768,%d,%.16g,%.8g,%.16g,%.8g,%.16g,%.8g,%.8g,%.16g,%.8g,"
  .. "%.16g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%.8g,%s,%s,%s\n"
local B = 10000
for i0 = 1, rows, B do
  local nb = math.min(B, rows - i0 + 1)
  local u = r:uniform(nb * 6):totable()
  local g = r:normal(nb * 12):totable()
  local buf = {}
  for k = 1, nb do
    local plx = 0.1 + 4 * u[6 * k - 5]
    local pe = 0.02 + 0.1 * u[6 * k - 4]
    local corr = {}
    for c = 1, 10 do corr[c] = 0.1 * g[12 * k - 12 + c] end
    local mag = 8 + 8 * u[6 * k - 3]
    local rv = k % 7 == 0 and "null" or ("%.8g"):format(40 * g[12 * k - 1])
    local grvs = k % 5 == 0 and "null" or ("%.8g"):format(mag - 4)
    buf[k] = fmt:format(4295806720 + 1000003 * (seed * 100000000 + i0 + k), 360 * u[6 * k - 2],
      0.05, -90 + 180 * u[6 * k - 1], 0.05, plx, pe, plx / pe, 30 * g[12 * k], 0.03,
      30 * g[12 * k - 11], 0.03, corr[1], corr[2], corr[3], corr[4], corr[5], corr[6], corr[7],
      corr[8], corr[9], corr[10], mag, 1.2 * u[6 * k], rv, rv == "null" and "null" or "1.5", grvs)
  end
  out:write(table.concat(buf))
end
out:close()
assert(os.execute(("gzip -1 -f '%s'"):format(plain)), "gzip failed")

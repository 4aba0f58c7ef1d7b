-- Benchmark: ICRS observables -> Galactocentric (x, v, cylindrical and spherical
-- components), with and without the 6x6 covariance propagation, and one error
-- smear, at 1e6 stars; side by side with astropy's transform (bench/coords_astropy.py,
-- Debian python3-astropy). Run: build/phaseflow bench/coords.lua [n] [repeats]
-- Times are medians of `repeats` runs; the machine is shared, so read the ratios.
local pf = require "phaseflow"
local A = pf.array

local n = tonumber(arg and arg[1]) or 1000000
local repeats = tonumber(arg and arg[2]) or 5

local r = pf.rng.new(1)
local function uniform(lo, hi)
  local a = A.zeros(n)
  r:fill_uniform(a, lo, hi)
  return a
end
local function normal(mu, sigma)
  local a = A.zeros(n)
  r:fill_normal(a, mu, sigma)
  return a
end

local cat = {
  ra = uniform(0, 360), dec = (uniform(-1, 1)):asin() * (180 / math.pi),
  parallax = uniform(0.25, 5), pmra = normal(0, 30), pmdec = normal(0, 30),
  radial_velocity = normal(0, 80),
  ra_error = uniform(0.01, 0.03), dec_error = uniform(0.01, 0.03),
  parallax_error = uniform(0.01, 0.03), pmra_error = uniform(0.01, 0.04),
  pmdec_error = uniform(0.01, 0.04), radial_velocity_error = uniform(0.5, 6),
  ra_dec_corr = uniform(-0.3, 0.3), parallax_pmra_corr = uniform(-0.3, 0.3),
  pmra_pmdec_corr = uniform(-0.3, 0.3),
}

local function median_time(f)
  local t = {}
  for i = 1, repeats do
    collectgarbage()
    local t0 = pf.wtime()
    f()
    t[i] = pf.wtime() - t0
  end
  table.sort(t)
  return t[(repeats + 1) // 2]
end

local t_conv = median_time(function() pf.coords.galactocentric(cat, {cov = false}) end)
local t_cov = median_time(function() pf.coords.galactocentric(cat) end)
local t_smear = median_time(function() pf.coords.smear(cat, {seed = 1}) end)

local t_astropy
local p = io.popen(("/usr/bin/python3 bench/coords_astropy.py %d 3 2>&1"):format(n))
if p then
  local out = p:read("a")
  p:close()
  local secs = out:match("astropy %d+ ([%d%.eE%-]+)")
  t_astropy = tonumber(secs)
  if not t_astropy then io.write("astropy peer failed:\n", out, "\n") end
end

local threads = os.getenv("OMP_NUM_THREADS") or "default"
print(("coords benchmark: %d stars, median of %d runs, OMP_NUM_THREADS=%s"):format(n, repeats, threads))
local function row(name, t)
  local ratio = t_astropy and ("%8.1fx astropy"):format(t_astropy / t) or ""
  print(("  %-38s %8.3f s  %12.0f stars/s  %s"):format(name, t, n / t, ratio))
end
row("phaseflow x, v + cyl/sph", t_conv)
row("phaseflow x, v + cyl/sph + cov 6x6", t_cov)
row("phaseflow smear (draw + Cholesky)", t_smear)
if t_astropy then
  print(("  %-38s %8.3f s  %12.0f stars/s"):format("astropy x, v (transform_to)", t_astropy, n / t_astropy))
end

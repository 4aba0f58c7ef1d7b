-- scripts/make-mock.lua: the embedded default data of phaseflow. A mock galaxy with exact
-- truth (pf.mock), observed the way Gaia DR3 would observe it (pf.observe), written in the
-- archive's bulk format, and run through the paper's cuts by the real-data path.
--
--   build/phaseflow scripts/make-mock.lua                       -- the default (1e6 stars)
--   build/phaseflow scripts/make-mock.lua stars=20000 out=out/small
--   (also --stars 20000 --out out/small)
--
-- Options (key=value):
--   stars = 1000000   stars sampled within `radius` of the Sun
--   radius = 10       kpc
--   seed = 1          one seed for everything (sampler, magnitudes, errors)
--   out = out/mock    folder: gaia/GaiaSource_*.csv.gz, mock.h5 (truth), sample.h5 (cuts)
--   rows = 250000     rows per GaiaSource file
--   errors = true     perturb the observables by their errors (false: exact values)
--   dust = false      the toy dust screen of pf.observe.DEFAULT_CLOUDS
--   normalize = true  normalise each population over the sphere, so the exact f is a
--                     density in physical units (false: faster; the sampler still treats
--                     the weights as the populations' fractions of stars, only log f is
--                     then unnormalised)
--   galaxy = default  the galaxy: default (MWPotential2014, a disk and a stellar halo),
--                     hot (a hotter, thicker disk plus a thick disk) or heavy (a heavier
--                     dark halo plus a flattened dark component); see pf.mock.VARIANTS
--   Galaxy knobs (change the chosen galaxy; pf.mock.KNOBS says what each does):
--     rd, sigma0, rsigma     the disk: radial scale (kpc), dispersion at the Sun (km/s:
--                            sets the thickness), its e-folding radius (kpc)
--     thick_weight, thick_sigma0   a second, thicker disk: fraction of stars, km/s
--     halo_sigma, halo_weight      the stellar halo: km/s, fraction of stars
--     halo_mass, dark_disk   the dark matter: factor on the NFW halo's mass; a flattened
--                            dark Miyamoto-Nagai component's share of the force at r0
--
-- Writes and prints: the stars passing each cut, the red-clump fraction after the
-- completeness cut (and after d < 4 kpc), the exact acceleration and kernel-smoothed
-- density at the Sun, and the time each stage took.
local pf = require "phaseflow"

local cli = require "phaseflow.cli"
local SPEC = {script = "make-mock.lua", keyvalues = true, positionals = false,
  usage = "usage: phaseflow scripts/make-mock.lua [key=value ...] (see the header of the script)",
  options = { stars = {"integer", min = 0}, seed = {"integer", min = 0}, rows = {"integer", min = 0},
    radius = {"number", above = 0, message = "%s must be a positive number (kpc)"}, out = "value",
    errors = "boolean", dust = "boolean", normalize = "boolean", galaxy = "value" },
  defaults = { stars = 1000000, radius = 10, seed = 1, out = "out/mock", rows = 250000, errors = true,
    dust = false, normalize = true, galaxy = "default" } }
-- the galaxy knobs: unset, the chosen galaxy's own values
for k in pairs(pf.mock.KNOBS) do SPEC.options[k] = {"number", min = 0} end
local opt = cli.parse(arg, SPEC)
local nstars, seed, rows, radius = opt.stars, opt.seed, opt.rows, opt.radius
local knobs = { variant = opt.galaxy }
for k in pairs(pf.mock.KNOBS) do knobs[k] = opt[k] end
if not pf.mock.VARIANTS[opt.galaxy] then
  cli.fail(SPEC, ("no galaxy '%s' (have: %s)"):format(opt.galaxy, table.concat(pf.mock.variant_names, ", ")))
end
local galaxy = pf.mock.galaxy_spec(knobs)
local out = opt.out
os.execute(("mkdir -p '%s'"):format(out:gsub("'", "'\\''")))
local h5file = out .. "/mock.h5"
os.remove(h5file)
os.remove(out .. "/sample.h5")
local gaiadir = out .. "/gaia"
os.execute(("rm -f '%s'/GaiaSource_*.csv.gz"):format(gaiadir:gsub("'", "'\\''")))

local T = {}
local t_all = pf.wtime()
local function stage(name, f)
  local t0 = pf.wtime()
  local a, b, c, d = f()
  T[#T + 1] = { name, pf.wtime() - t0 }
  io.write(("  %-34s %8.2f s\n"):format(name, T[#T][2]))
  io.flush()
  return a, b, c, d
end

print(("make-mock: galaxy %s, %d stars within %g kpc of the Sun, seed %d -> %s"):format(
  pf.serialize.dump(galaxy.knobs), nstars, radius, seed, out))
local mock = stage("mock galaxy (normalisation)", function()
  return pf.mock.galaxy{ galaxy = galaxy, radius = radius, seed = seed, normalize = opt.normalize }
end)
local x, v, labels, info = stage("sampling x, v", function() return mock:sample(nstars, { seed = seed }) end)
local cat, tr = stage("observation (magnitudes, errors)", function()
  return pf.observe.observe(x, v, { seed = seed, errors = opt.errors, dust = opt.dust })
end)
local files = stage("writing GaiaSource_*.csv.gz", function()
  return pf.observe.write_gaia(gaiadir, cat, { rows_per_file = math.max(1, rows) })
end)
stage("writing truth (mock.h5)", function()
  pf.observe.write_truth(h5file, tr, { x = x, v = v, labels = labels, info = {
    stars = nstars, radius = radius, seed = seed, sampler_violations = info and info.violations or -1,
    script = "scripts/make-mock.lua", observed = cat.n, galaxy = galaxy } })
end)

-- truth at the Sun and on a small (R, z) grid in the plane y = 0
-- (R0, 0, z_sun): the point the C core centres the mock on, not geometry.SUN
local sun = { pf.geometry.R0, 0, pf.geometry.Z_SUN }
local pts = { sun }
for _, z in ipairs { 0, 0.5, 1.0 } do
  for R = 6, 10 do pts[#pts + 1] = { R, 0, z } end
end
local t = stage("truth at points (mock.h5)", function()
  local tt = pf.truth.at(pts, { mock = mock })
  pf.truth.write(h5file, "/truth/points", tt)
  return tt
end)

-- the cut flow on the written files, recording the red-clump fraction after the
-- completeness cut by wrapping that step (no extra row in the table)
local steps = pf.select.paper_steps()
local after_completeness = {}
for _, s in ipairs(steps) do
  if s.name == "completeness" then
    local keep = s.keep
    s.keep = function(c, ctx)
      local m = keep(c, ctx)
      local mt = m:totable()
      for j = 1, c.n do
        if mt[j] ~= 0 then after_completeness[#after_completeness + 1] = c.source_id[j] end
      end
      return m
    end
  end
end
print("\nCut flow (pf.gaia.select_files on the written files):")
local sample = stage("cuts (pf.gaia.select_files)", function()
  return pf.gaia.select_files(files, { steps = steps, out = out .. "/sample.h5" })
end)
local total = pf.wtime() - t_all

local u = pf.units
local a = t.acceleration
print("\nResults")
print(("  stars sampled %d, observed (3 <= G_RVS <= 14) %d, in the final sample %d"):format(
  nstars, cat.n, sample.n))
print(("  red-clump fraction after the completeness cut: %.4f (%d stars); after d < 4 kpc: %.4f"):format(
  pf.observe.red_clump_fraction(after_completeness, tr), #after_completeness,
  pf.observe.red_clump_fraction(sample.source_id, tr)))
print(("  exact acceleration at the Sun (%.3f, 0, %.4f): (%.6g, %.6g, %.6g) (km/s)^2/kpc"):format(
  sun[1], sun[3], a:get(1, 1), a:get(1, 2), a:get(1, 3)))
print(("    = (%.4f, %.4f, %.4f) x 1e-10 m/s^2"):format(a:get(1, 1) / u.acc_1e10,
  a:get(1, 2) / u.acc_1e10, a:get(1, 3) / u.acc_1e10))
print(("  total density at the Sun %.6g Msun/kpc^3; kernel-smoothed %.6g Msun/kpc^3 = %.5f Msun/pc^3"):format(
  t.density:get(1), t.density_smoothed:get(1), t.density_smoothed:get(1) * 1e-9))
print(("  tracer density n(x) at the Sun (mock:df():n_x): %.6g"):format(t.tracer_density:get(1)))
print(("  generation time (mock + sampling): %.1f s; total %.1f s"):format(T[1][2] + T[2][2], total))
print(("  files: %s/GaiaSource_*.csv.gz (%d), %s, %s/sample.h5"):format(gaiadir, #files, h5file, out))

local pf = require "phaseflow"

local array = pf.array
local SUN = { 8.122, 0, 0.0208 }

-- n stars uniform in a ball of `radius` kpc around the Sun with disk-like velocities
-- (the observation does not care where stars come from; the mock sampler is tested in
-- mock_spec.lua)
local function ball(n, radius, seed)
  local rng = pf.rng.new(seed)
  local u = rng:fill_uniform(array.zeros(3 * n, 3), -1, 1)
  local x = u:select(u:square():sum(2):le(1)):rows(1, n) * radius
  local sun = pf.coords.sun()
  x = x + array.ones(n, 1):matmul(sun:reshape(1, 3))
  local v = rng:fill_normal(array.zeros(n, 3), 0, 40) + array.ones(n, 1):matmul(array.from { { 0, -220, 0 } })
  return x, v
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  os.execute("mkdir -p " .. d)
  return d
end

local function max_rel(a, b)
  local d = (a - b):square():sum(2):sqrt()
  local s = b:square():sum(2):sqrt()
  return (d / s):max()
end

describe("pf.observe number formatting", function()
  it("writes 17 significant digits that read back to the same bits", function()
    local r = pf.rng.new(11)
    for _ = 1, 20000 do
      local x = (r:uniform() - 0.5) * 10 ^ math.floor(r:uniform() * 80 - 40)
      assert.are.equal(x, tonumber(pf.observe.format_double(x)))
    end
    assert.are.equal("246.03035136345898", pf.observe.format_double(246.03035136345898))
    assert.are.equal("-2.5", pf.observe.format_double(-2.5))
    assert.are.equal("", pf.observe.format_double(0 / 0))
    assert.are.equal(5e-324, tonumber(pf.observe.format_double(5e-324)))
  end)
end)

describe("pf.observe error model", function()
  it("gives the DR3 medians of Katz et al. (2023) and Lindegren et al. (2021)", function()
    local e = pf.observe.errors(array.from { 10, 15, 17, 13.5 }, array.from { 12, 14, 5, 3 })
    assert.is_true(math.abs(e.radial_velocity_error:get(1) - 1.3) < 1e-12)
    assert.is_true(math.abs(e.radial_velocity_error:get(2) - 6.4) < 1e-12)
    local bright = e.radial_velocity_error:get(4)
    assert.is_true(bright > 0.9 and bright < 0.95)
    local p15 = math.sqrt(0.02 ^ 2 + 3.22e-4 + 6.2e-5)
    assert.is_true(math.abs(e.parallax_error:get(2) - p15) < 1e-15)
    assert.is_true(e.parallax_error:get(1) > 0.02 and e.parallax_error:get(1) < 0.0201)
    assert.is_true(math.abs(e.parallax_error:get(3) - 0.0706) < 0.001)
    assert.is_true(math.abs(e.ra_error:get(2) - 0.8 * p15) < 1e-15)
    assert.is_true(math.abs(e.pmdec_error:get(2) - 0.9 * p15) < 1e-15)
  end)

  it("uses G - G_RVS = 0.05 + 0.62 bp_rp", function()
    local d = pf.observe.g_minus_grvs(array.from { 1.2, 0.0, -1, 5 })
    assert.is_true(math.abs(d:get(1) - 0.794) < 1e-12)
    assert.are.equal(0.05, d:get(2))
    assert.are.equal(0.05, d:get(3))
    assert.is_true(math.abs(d:get(4) - (0.05 + 0.62 * 3)) < 1e-12)
  end)
end)

describe("pf.observe luminosity function", function()
  it("draws the three kinds with their weights and the red clump at 0.5 +- 0.2", function()
    local n = 40000
    local mg, c, kind = pf.observe.draw_lf(n, { seed = 3 })
    local rc = kind:eq(0)
    local frac = { rc:count() / n, kind:eq(1):count() / n, kind:eq(2):count() / n }
    local w = pf.observe.lf_default().weights
    for k = 1, 3 do assert.is_true(math.abs(frac[k] - w[k]) < 0.01) end
    local m = mg:select(rc)
    assert.is_true(math.abs(m:mean() - 0.5) < 0.01)
    assert.is_true(math.abs(m:std() - 0.2) < 0.01)
    assert.is_true(math.abs(c:select(rc):mean() - 1.2) < 0.005)
    local g = mg:select(kind:eq(1))
    assert.is_true(g:min() >= -3 and g:max() <= 3.5)
  end)

  it("rejects bad luminosity functions", function()
    assert.has_error(function() pf.observe.draw_lf(10, { lf = { weights = { -1, 1, 1 } } }) end)
    assert.has_error(function() pf.observe.draw_lf(10, { lf = { rgb_min = 4 } }) end)
    assert.has_error(function() pf.observe.draw_lf(10, { lf = { rc_mag = 4 } }) end)
    assert.has_error(function() pf.observe.draw_lf(-1) end)
  end)
end)

describe("pf.observe dust", function()
  it("dims by a_max behind a cloud's centre, by the chord fraction inside, not beside", function()
    local sun = pf.coords.sun():totable()
    local x = array.from { { sun[1] + 2, sun[2], sun[3] }, { sun[1] + 1, sun[2], sun[3] },
      { sun[1] + 2, sun[2] + 1, sun[3] } }
    local a = pf.observe.extinction(x, { { c = { sun[1] + 1, sun[2], sun[3] }, r = 0.2, a = 1.5 } }, sun)
    assert.is_true(math.abs(a:get(1) - 1.5) < 1e-12)
    assert.is_true(math.abs(a:get(2) - 0.75) < 1e-12)
    assert.are.equal(0, a:get(3))
    assert.has_error(function() pf.observe.extinction(x, { { c = { 0, 0, 0 }, r = -1, a = 1 } }, sun) end)
  end)

  it("makes stars fainter in observe() with dust = clouds", function()
    local x, v = ball(2000, 3, 5)
    local clouds = { { c = { 8.6, 0.5, 0 }, r = 0.5, a = 2 } }
    local _, t0 = pf.observe.observe(x, v, { seed = 2 })
    local _, t1 = pf.observe.observe(x, v, { seed = 2, dust = clouds })
    local dg = t1.phot_g_mean_mag - t0.phot_g_mean_mag
    assert.is_true((dg - t1.A_G):abs():max() < 1e-12)
    assert.is_true(t1.A_G:gt(0):count() > 10)
    assert.are.equal(0, t0.A_G:max())
  end)
end)

describe("pf.observe catalogue and files", function()
  it("round-trips x, v exactly through GaiaSource csv.gz, pf.gaia.read and pf.coords", function()
    local x, v = ball(3000, 6, 7)
    local cat, truth = pf.observe.observe(x, v, { seed = 4, errors = false })
    assert.is_true(cat.n > 500)
    -- observed means 3 <= G_RVS <= 14, and only those
    assert.is_true(cat.grvs_mag:min() >= 3 and cat.grvs_mag:max() <= 14)
    local out = truth.grvs_mag:select(truth.observed:eq(0))
    assert.are.equal(0, (out:ge(3)):land(out:le(14)):count())
    local dir = tmpdir()
    local files = pf.observe.write_gaia(dir, cat, { rows_per_file = 400 })
    assert.are.equal((cat.n + 399) // 400, #files)
    assert.truthy(files[1]:match("/GaiaSource_000000%-000399%.csv%.gz$"))
    local back = pf.gaia.read(dir)
    assert.are.equal(cat.n, back.n)
    for i = 1, cat.n, 97 do assert.are.equal(cat.source_id[i], back.source_id[i]) end
    assert.is_true(math.type(back.source_id[1]) == "integer" and back.source_id[1] > 1e18)
    for _, k in ipairs { "parallax", "pmra", "radial_velocity_error", "ra_dec_corr", "grvs_mag" } do
      assert.are.equal(0, (back[k] - cat[k]):abs():max())
    end
    local g = pf.coords.galactocentric(back)
    local seen = truth.observed
    assert.is_true(max_rel(g.x, x:select(seen)) < 1e-9)
    assert.is_true(max_rel(g.v, v:select(seen)) < 1e-9)
    os.execute("rm -rf " .. dir)
  end)

  it("perturbs the observables by the errors with a seed", function()
    local x, v = ball(3000, 4, 8)
    local c0 = pf.observe.observe(x, v, { seed = 4, errors = false })
    local c1 = pf.observe.observe(x, v, { seed = 4 })
    local c2 = pf.observe.observe(x, v, { seed = 4 })
    assert.are.equal(0, (c1.parallax - c2.parallax):abs():max())
    local z = (c1.parallax - c0.parallax) / c0.parallax_error
    assert.is_true(math.abs(z:mean()) < 0.1)
    assert.is_true(math.abs(z:std() - 1) < 0.05)
    local zr = (c1.radial_velocity - c0.radial_velocity) / c0.radial_velocity_error
    assert.is_true(math.abs(zr:std() - 1) < 0.05)
    assert.is_true(c1.ra_dec_corr:abs():max() <= pf.observe.CORR_MAX)
  end)

  it("has ~70% red clump after the paper's completeness cut", function()
    local x, v = ball(40000, 4, 9)
    local cat, truth = pf.observe.observe(x, v, { seed = 6 })
    local sample = pf.select.run(cat)
    assert.is_true(sample.n > 15000)
    local f = pf.observe.red_clump_fraction(sample.source_id, truth)
    assert.is_true(math.abs(f - 0.70) < 0.02, "red-clump fraction " .. f)
  end)

  it("passes through pf.gaia.select_files like the in-memory cuts", function()
    local x, v = ball(4000, 8, 10)
    local cat = pf.observe.observe(x, v, { seed = 12 })
    local dir = tmpdir()
    local files = pf.observe.write_gaia(dir, cat, { rows_per_file = 500 })
    local mem, mflow = pf.select.run(cat)
    local sample, flow = pf.gaia.select_files(dir, { print = false, out = dir .. "/sample.h5" })
    assert.are.equal(#mflow, #flow)
    assert.are.equal(cat.n, flow[1].before)
    for i = 1, #flow do assert.are.equal(mflow[i].after, flow[i].after) end
    assert.are.equal(mem.n, sample.n)
    assert.is_true(flow[#flow].after > 100 and flow[#flow].after < flow[6].after)
    local xs = pf.h5.read(dir .. "/sample.h5", "/stars/x")
    assert.are.equal(sample.n, (xs:shape()))
    assert.is_true(#files > 1)
    os.execute("rm -rf " .. dir)
  end)

  it("writes the truth to HDF5", function()
    local x, v = ball(500, 5, 13)
    local cat, truth = pf.observe.observe(x, v, { seed = 1 })
    local f = os.tmpname() .. ".h5"
    pf.observe.write_truth(f, truth, { x = x, v = v, labels = array.ones(500), info = { script = "spec" } })
    assert.are.equal(0, (pf.h5.read(f, "/truth/x") - x):abs():max())
    assert.are.equal(cat.n, pf.h5.read(f, "/truth/observed"):sum())
    assert.are.equal(0, (pf.h5.read(f, "/truth/M_G") - truth.M_G):abs():max())
    os.remove(f)
  end)

  it("rejects bad options and unwritable places", function()
    local x, v = ball(100, 3, 1)
    assert.has_error(function() pf.observe.observe(x, v, { sede = 1 }) end)
    assert.has_error(function() pf.observe.observe(x, v, { seed = -1 }) end)
    local cat = pf.observe.observe(x, v)
    assert.has_error(function() pf.observe.write_gaia("/proc/nonexistent/dir", cat) end)
    cat.bp_rp = nil
    assert.has_error(function() pf.observe.write_gaia(tmpdir(), cat) end)
    assert.has_error(function() pf.observe.write_gaia(tmpdir(), cat, { rows_per_file = 0 }) end)
  end)
end)

describe("pf.truth", function()
  it("gives the exact acceleration, densities and tracer density at the Sun", function()
    local pot = pf.potential.mwpotential2014()
    local mock = pf.mock.galaxy { potential = pot, radius = 4, seed = 1, normalize = false }
    local t = pf.truth.at({ SUN }, { mock = mock })
    local xs = array.from { SUN }
    assert.are.equal(0, (t.acceleration - pot:acceleration(xs)):abs():max())
    assert.are.equal(pot:density(xs):get(1), t.density:get(1))
    assert.are.equal(mock:df():n_x(xs):get(1), t.tracer_density:get(1))
    -- the smoothed density against Poisson's equation through the accelerations
    local rho = pf.poisson.density(pot, xs):get(1)
    assert.is_true(math.abs(t.density_smoothed:get(1) / rho - 1) < 2e-3)
    -- the kernel averages: below the midplane peak, above zero
    assert.is_true(t.density_smoothed:get(1) < t.density:get(1))
    assert.is_true(math.abs(t.acceleration:get(1, 1) / pf.units.acc_1e10 + 1.925) < 0.01)
    assert.has_error(function() pf.truth.at({ SUN }, {}) end)
    assert.has_error(function() pf.truth.at({ { 1, 2 } }, { potential = pot }) end)
  end)
end)

-- pf.select: the paper's cut flow as named, reorderable steps; pf.gaia.select_files.
local pf = require "phaseflow"
local A = pf.array.from

-- A stand-in Galactocentric transform for these tests: the speed cut's input is the
-- column test_speed, so each star's fate is known in advance. (pf.coords is tested
-- in its own spec.)
local function frame(c)
  local v = pf.array.zeros(c.n, 3)
  local x = pf.array.zeros(c.n, 3)
  for i = 1, c.n do
    v:set(i, 1, c.test_speed:get(i) * 0.6)
    v:set(i, 2, c.test_speed:get(i) * 0.8)
  end
  return { x = x, v = v }
end

-- ten stars, each built to fall at one step (d = 1/parallax, parallax in mas)
local nan = 0 / 0
local function catalogue()
  local plx = { 1.0, nan, -0.5, 0.5, 1.0, 0.09, 1.0, 0.5, 0.2, 0.5 }
  local err = { 0.1, 0.1, 0.1, 0.1, 0.5, 0.01, 0.1, 0.1, 0.01, 0.1 }
  local g = { 12, 12, 12, nan, 12, 12, 12, 12, 12, 12 }
  -- M_G = grvs - 5 log10(d) - 10 < 0.9897: star 8 (d = 2) fails with grvs 15
  local grvs = { 10.5, 11, 11, 11, 11, 11, 11, 15, 11, 11 }
  local speed = { 300, 300, 300, 300, 300, 300, 1200, 300, 300, 300 }
  local n = #plx
  return {
    n = n, source_id = { 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 },
    ra = A { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, dec = pf.array.full(n, 2.385),
    pmra = pf.array.full(n, 1), pmdec = pf.array.full(n, 1), radial_velocity = pf.array.full(n, 1),
    parallax = A(plx), parallax_error = A(err), phot_g_mean_mag = A(g), grvs_mag = A(grvs),
    test_speed = A(speed),
  }
end
-- fates: 1 kept (d = 1); 2 NaN parallax, 3 negative: six_d; 4: magnitudes; 5 (snr 2):
-- parallax_snr; 6 (d = 11.1): d10; 7: speed; 8: completeness; 9 (d = 5, M_G = -2.5):
-- d4; 10 kept (d = 2)

describe("pf.select", function()
  it("has the paper's completeness limit", function()
    assert.is_near(0.98970004336, pf.select.M_G_LIMIT, 1e-10)
  end)

  it("counts stars before and after every step", function()
    local sel, flow = pf.select.run(catalogue(), { frame = frame })
    local names, before, after = {}, {}, {}
    for i, s in ipairs(flow) do names[i], before[i], after[i] = s.name, s.before, s.after end
    assert.are.same({ "six_d", "magnitudes", "parallax_snr", "d10", "speed", "completeness", "d4" },
      names)
    assert.are.same({ 10, 8, 7, 6, 5, 4, 3 }, before)
    assert.are.same({ 8, 7, 6, 5, 4, 3, 2 }, after)
    assert.are.equal(2, sel.n)
    assert.are.same({ 11, 20 }, sel.source_id)
    assert.are.same({ 1, 10 }, sel.ra:totable())
    -- x, v of the transform are carried into the sample
    assert.are.same({ 2, 3 }, { sel.v:shape() })
    assert.are.equal(300 * 0.8, sel.v:get(2, 2))
  end)

  it("steps are reorderable and removable", function()
    local steps = pf.select.paper_steps()
    local d4 = table.remove(steps, 7)
    table.insert(steps, 1, d4)
    table.remove(steps, 7) -- completeness
    local sel, flow = pf.select.run(catalogue(), { frame = frame, steps = steps })
    assert.are.equal("d4", flow[1].name)
    -- d < 4 first: NaN, 6 (d = 11) and 9 (d = 5) go; the negative parallax (d < 0
    -- passes "< 4") stays until six_d
    assert.are.equal(10, flow[1].before)
    assert.are.equal(7, flow[1].after)
    assert.are.equal(6, flow[2].after) -- six_d then removes NaN and negative parallax
    assert.are.same({ 11, 18, 20 }, sel.source_id)
  end)

  it("formats the flow as a table and adds flows of chunks", function()
    local _, f1 = pf.select.run(catalogue(), { frame = frame })
    local _, f2 = pf.select.run(catalogue(), { frame = frame })
    local sum = pf.select.add_flow(pf.select.add_flow(nil, f1), f2)
    assert.are.equal(20, sum[1].before)
    assert.are.equal(4, sum[7].after)
    assert.are.equal(10, f1[1].before) -- add_flow copied, did not alias
    local text = pf.select.format(sum)
    assert.truthy(text:find("parallax_over_error > 3%s+14%s+12%s+2"), text)
    assert.truthy(text:find("d < 4 kpc%s+6%s+4%s+2"), text)
  end)

  it("rejects a bad step and names a missing column", function()
    local ok, e = pcall(pf.select.run, catalogue(), { steps = { { name = "bad", keep = function()
      return A { 1, 0 } end } } })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("step 'bad' must return a mask of 10 elements", 1, true))
    local c = catalogue()
    c.grvs_mag = nil
    ok, e = pcall(pf.select.run, c, { frame = frame })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("step 'magnitudes' needs column 'grvs_mag'", 1, true), e)
  end)
end)

describe("pf.gaia.select_files", function()
  it("streams files through the cuts and writes the sample to HDF5", function()
    local out = os.tmpname() .. ".h5"
    local function zero_frame(c)
      return { x = pf.array.zeros(c.n, 3), v = pf.array.zeros(c.n, 3) }
    end
    local files = { "fixtures/GaiaSource_000000-000012.csv.gz", "fixtures/GaiaSource_000000-000012.csv.gz" }
    local sample, flow = pf.gaia.select_files(files, { out = out, frame = zero_frame, chunk = 5,
      print = false })
    -- the reference: the whole two files read at once and cut in one go
    local cat = pf.gaia.read(files)
    local ref, rflow = pf.select.run(cat, { frame = zero_frame })
    for i = 1, #flow do
      assert.are.equal(rflow[i].before, flow[i].before)
      assert.are.equal(rflow[i].after, flow[i].after)
    end
    assert.are.equal(24, flow[1].before)
    assert.is_true(sample.n > 0 and sample.n < 24)
    assert.are.same(ref.source_id, sample.source_id)
    assert.are.same(sample.source_id, pf.h5.read_int64(out, "/stars/source_id"))
    local counts = pf.h5.read(out, "/stars/cut_flow")
    assert.are.equal(24, counts:get(1, 1))
    assert.are.equal(sample.n, counts:get(#flow, 2))
    local g = pf.h5.read(out, "/stars/grvs_mag")
    assert.are.same(sample.grvs_mag:totable(), g:totable())
    assert.is_true(pf.h5.exists(out, "/stars/x"))
    os.remove(out)
  end)
end)

describe("pf.gaia.select_files with each", function()
  it("hands every chunk's selected stars over and keeps none", function()
    local files = { "fixtures/GaiaSource_000000-000012.csv.gz", "fixtures/GaiaSource_000000-000012.csv.gz" }
    local ref, rflow = pf.gaia.select_files(files, { chunk = 5, print = false })
    local ids, chunks = {}, 0
    local none, flow = pf.gaia.select_files(files, { chunk = 5, print = false, each = function(sel)
      chunks = chunks + 1
      for _, id in ipairs(sel.source_id) do ids[#ids + 1] = id end
      if sel.n > 0 then assert.are.same({ sel.n, 21 }, { sel.cov:shape() }) end
    end })
    assert.is_nil(none)
    assert.are.equal(6, chunks) -- 12 rows a file in chunks of 5: 5, 5, 2, twice
    assert.are.same(ref.source_id, ids)
    for i = 1, #flow do assert.are.equal(rflow[i].after, flow[i].after) end
    assert.has_error(function() pf.gaia.select_files(files, { each = 1 }) end,
      "pf.gaia.select_files: option 'each' must be a function")
    assert.has_error(function() pf.gaia.select_files(files, { each = print, out = "x.h5" }) end)
  end)
end)

describe("pf.select with pf.coords", function()
  it("runs the paper's flow with the real Galactocentric transform", function()
    local cat = pf.gaia.read("fixtures/GaiaSource_000000-000012.csv.gz")
    local sel, flow = pf.select.run(cat)
    assert.are.equal(flow[5].before, flow[5].after) -- no invented star is faster than 1000 km/s
    assert.are.equal(2, sel.n)
    assert.are.same({ 2, 3 }, { sel.x:shape() })
    -- |x - x_sun| = d = 1/parallax for every selected star
    for i = 1, sel.n do
      local dx = sel.x:get(i, 1) - 8.122 * math.cos(math.asin(0.0208 / 8.122))
      local dz = sel.x:get(i, 3) - 0.0208
      local d = math.sqrt(dx * dx + sel.x:get(i, 2) ^ 2 + dz * dz)
      assert.is_near(1 / sel.parallax:get(i), d, 1e-9)
    end
  end)
end)

-- equal element by element, NaN equal to NaN
local function same_values(a, b, what)
  local ta, tb = a:totable(), b:totable()
  assert.are.equal(#ta, #tb, what)
  for i = 1, #ta do
    for k = 1, #ta[i] do
      local x, y = ta[i][k], tb[i][k]
      assert.is_true(x == y or (x ~= x and y ~= y), ("%s: row %d, column %d"):format(what, i, k))
    end
  end
end

describe("pf.select covariances of the selected stars", function()
  it("equal the full transform's, computed for the kept rows only", function()
    local cat = pf.gaia.read("fixtures/GaiaSource_000000-000012.csv.gz")
    local sel = pf.select.run(cat)
    assert.is_true(sel.n > 0)
    -- correlation columns the file lacks (no source) are left out, i.e. zero
    local known, nabsent = {}, 0
    for k, v in pairs(sel) do
      if tostring(k):find("_corr$") and sel.source[k] == nil then nabsent = nabsent + 1
      else known[k] = v end
    end
    assert.is_true(nabsent > 0)
    local g = pf.coords.galactocentric(known)
    assert.are.same({ sel.n, 21 }, { sel.cov:shape() })
    same_values(g.cov, sel.cov, "cov") -- bit for bit
    same_values(g.x, sel.x, "x")
    -- with every correlation known, every kept star has a finite covariance
    local full = {}
    for k, v in pairs(cat) do full[k] = v end
    full.source = {}
    for k, v in pairs(cat.source) do full.source[k] = v end
    for k in pairs(cat) do
      if tostring(k):find("_corr$") then
        full[k] = pf.array.full(cat.n, 0.125)
        full.source[k] = k
      end
    end
    local sel2 = pf.select.run(full)
    assert.are.equal(sel.n, sel2.n)
    assert.are.equal(21 * sel2.n, sel2.cov:isfinite():count())
    same_values(pf.coords.galactocentric(sel2).cov, sel2.cov, "cov, all correlations")
    -- a correlation column absent from the file (no source) counts as zero
    local absent = {}
    for k, v in pairs(full) do absent[k] = v end
    absent.source = {}
    for k, v in pairs(full.source) do absent.source[k] = v end
    absent.ra_dec_corr = pf.array.full(cat.n, 0 / 0)
    absent.source.ra_dec_corr = nil
    local sel3 = pf.select.run(absent)
    local zero = {}
    for k, v in pairs(sel3) do zero[k] = v end
    zero.ra_dec_corr = pf.array.zeros(sel3.n)
    same_values(pf.coords.galactocentric(zero).cov, sel3.cov, "cov, absent ra_dec_corr")
    -- fused covariance = obs_cov then propagation, on every star of the file
    local all = pf.coords.galactocentric(cat)
    local fused = pf.coords.covariance(cat) -- NaN correlations here: NaN where errors meet
    local a, b = all.cov:totable(), fused:totable()
    for i = 1, cat.n do
      for k = 1, 21 do
        local x, y = a[i][k], b[i][k]
        assert.is_true(x == y or (x ~= x and y ~= y), ("star %d slot %d"):format(i, k))
      end
    end
    local nocov = pf.select.run(cat, { cov = false })
    assert.is_nil(nocov.cov)
    -- without error columns there is nothing to propagate
    local bare = pf.gaia.read("fixtures/GaiaSource_000000-000012.csv.gz",
      { columns = { "ra", "dec", "parallax", "pmra", "pmdec", "radial_velocity" } })
    assert.is_nil(pf.coords.covariance(bare))
    assert.is_nil(pf.select.covariance(bare))
  end)

  it("the speed step's transform leaves out the components", function()
    local cat = pf.gaia.read("fixtures/GaiaSource_000000-000012.csv.gz")
    local g = pf.coords.galactocentric(cat, { cov = false, components = false })
    local full = pf.coords.galactocentric(cat)
    assert.is_nil(g.R)
    assert.is_nil(g.cov)
    assert.is_not_nil(full.R)
    local a, b = full.v:totable(), g.v:totable()
    for i = 1, cat.n do
      for k = 1, 3 do
        assert.is_true(a[i][k] == b[i][k] or (a[i][k] ~= a[i][k] and b[i][k] ~= b[i][k]))
      end
    end
  end)
end)

-- luacheck: no max line length
-- The paper's pipeline end to end on the test preset (seconds), and the geometry.
local pf = require "phaseflow"

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  os.execute("mkdir -p '" .. d .. "'")
  return d
end

local function size(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local n = f:seek("end")
  f:close()
  return n
end

local function status(steps)
  local s = {}
  for _, r in ipairs(steps) do s[r.step] = r.status end
  return s
end

describe("pf.geometry", function()
  local g = pf.geometry.paper()
  it("puts the paper's curves where the paper does", function()
    local r = g.curves.r_north.x
    assert.are.equal(1.5, r:get(1, 3))
    assert.are.equal(0, r:get(1, 2))
    local ph = g.curves.phi_south.x
    for i = 1, g.curves.phi_south.n do
      local rr = math.sqrt(ph:get(i, 1) ^ 2 + ph:get(i, 2) ^ 2 + ph:get(i, 3) ^ 2)
      assert.is_true(math.abs(rr - 8.122) < 1e-12)
      assert.are.equal(-1.5, ph:get(i, 3))
    end
    -- the phi curve passes through (7.982, 0, -1.5) at phi = 0 (the middle point)
    assert.is_true(math.abs(ph:get(7, 1) - 7.982) < 1e-3)
    -- polar arc: s = r_sun (pi/2 - theta); s = 0 is the midplane point under the Sun
    local a = g.curves.arc
    local _, th = pf.geometry.to_spherical({a.x:get(13, 1), a.x:get(13, 2), a.x:get(13, 3)})
    assert.is_true(math.abs(8.122 * (math.pi / 2 - th) - a.t[13]) < 1e-12)
    assert.are.equal(0, a.t[13])
    assert.are.same({13}, g.arc_ball) -- only s = 0 lies within 150 pc of the Sun at 0.25 kpc spacing
  end)
  it("has 15 independent points whose kernels along s do not overlap", function()
    assert.are.equal(15, g.independent.n)
    local x = g.independent.x:totable()
    for i = 1, 4 do
      assert.is_true(pf.geometry.kernels_disjoint(x[i], x[i + 1]))
    end
    assert.is_false(pf.geometry.kernels_disjoint({8, 0, 0}, {8, 0, 0.79}))
    assert.are.equal(19, g.gnfw.n)
  end)
end)

-- A table of results.h5 (one dataset per column) as rows of the named columns.
local function table_rows(file, group, cols)
  local n = #pf.h5.read_strings(file, group .. "/label")
  local rows = {}
  for i = 1, n do rows[i] = {} end
  for k, c in ipairs(cols) do
    local v = pf.h5.read(file, group .. "/" .. c):totable()
    for i = 1, n do rows[i][k] = v[i] end
  end
  return rows
end

describe("pf.pipeline on the test preset", function()
  local dir = tmpdir()
  local function fresh() return pf.pipeline.new{out = dir, preset = pf.presets.get("test"), quiet = true} end
  local first = fresh():run()

  it("runs every step and writes finite tables", function()
    for _, s in ipairs(first) do assert.are.equal("ran", s.status, s.step) end
    local res = dir .. "/results.h5"
    local t1 = table_rows(res, "/table1", {"value", "sigma", "truth", "pull"})
    assert.are.same({"a_r", "a_theta", "a_phi", "|a|"}, (pf.h5.read_strings(res, "/table1/label")))
    assert.are.equal(4, #t1)
    for _, r in ipairs(t1) do for k = 1, 4 do assert.is_true(r[k] == r[k] and math.abs(r[k]) < math.huge) end end
    assert.is_true(t1[1][3] < 0) -- the truth a_r points to the centre
    local t2 = table_rows(res, "/table2", {"value", "sigma", "truth", "pull", "chi2_nu"})
    assert.are.equal(4, #t2)
    for i, r in ipairs(t2) do
      -- value, sigma, truth (and the pull, except for the exact baryon model: sigma 0)
      for k = 1, i == 2 and 3 or 4 do assert.is_true(r[k] == r[k] and math.abs(r[k]) < math.huge, i .. "," .. k) end
    end
    -- truth from MWPotential2014's parts: total > baryons > dark matter > 0 at the Sun
    assert.is_true(t2[1][3] > t2[2][3] and t2[2][3] > t2[3][3] and t2[3][3] > 0.5 and t2[3][3] < 1.0)
    assert.are.near(t2[3][3], t2[4][3], 0.05) -- the DM truth along r = r_sun is the Sun's (spherical halo)
    assert.is_true(t2[4][5] == t2[4][5]) -- chi2_nu of the average
    local g = {}
    for i, name in ipairs(pf.gnfw.names) do
      g[i] = {}
      for k, c in ipairs({"median", "minus", "plus", "map", "truth", "pull"}) do
        g[i][k] = pf.h5.read(res, "/gnfw/posterior/" .. name .. "/" .. c):get(1)
      end
    end
    for _, r in ipairs(g) do for k = 1, 6 do assert.is_true(r[k] == r[k], k) end end
    -- the gNFW truth: the NFW halo (beta 1, rs 16 kpc, rho0 = amp / (4 pi a^3) in 1e-2 Msun/pc^3)
    assert.are.equal(1, g[3][5]); assert.are.equal(16, g[2][5])
    local nfw = pf.potential.nfw{a = 16, amp = pf.potential.mwpotential2014():components()[3].amp}
    local r = 8.122
    local direct = pf.units.rho_to_1e2(nfw:density(pf.array.from{{r, 0, 0}}):get(1))
    assert.are.near(direct, g[1][5] / ((r / 16) * (1 + r / 16) ^ 2), 1e-9 * direct)
    local rep = assert(io.open(dir .. "/report.md")):read("a")
    assert.truthy(rep:find("Table I", 1, true))
    assert.truthy(rep:find("rho_DM(r_sun)", 1, true))
    assert.truthy(rep:find("-2.32", 1, true)) -- the quasar value beside ours
    assert.truthy(rep:find("| 7 | d < 4 kpc |", 1, true)) -- the paper's cut table
    assert.truthy(rep:find("mock's own baryon model", 1, true))
  end)

  it("writes every figure, PNG and PDF, non-empty", function()
    for _, n in ipairs({"fig7_histograms", "fig8_acc_r", "fig8_acc_phi", "fig8_acc_s", "fig9_dlnf_dt",
                        "fig10_density_s", "fig12_gnfw", "fig13_corner"}) do
      assert.is_true(size(dir .. "/" .. n .. ".png") > 1000, n)
      assert.is_true(size(dir .. "/" .. n .. ".pdf") > 1000, n)
    end
  end)

  it("labels every axis of every figure with its unit and draws the mock's truth", function()
    for _, n in ipairs({"fig7_histograms", "fig8_acc_r", "fig8_acc_phi", "fig8_acc_s", "fig9_dlnf_dt",
                        "fig10_density_s", "fig12_gnfw", "fig13_corner"}) do
      local gp = assert(io.open(dir .. "/figdata/" .. n .. ".gp")):read("a")
      gp = gp:sub(1, (gp:find("set terminal pdfcairo", 1, true)))   -- the PNG half
      local count = 0
      for axis in ("xy"):gmatch(".") do
        for l in gp:gmatch("set " .. axis .. "label '([^']*)'") do
          -- a label is a quantity and its unit in brackets ('' in the corner plot's inner panels)
          assert.is_true(l == "" or l:find("^%S.* %[[^%]]+%]$") ~= nil, n .. ": " .. l)
          if l ~= "" then count = count + 1 end
        end
      end
      assert.is_true(count >= 2, n)
      if n ~= "fig7_histograms" then assert.truthy(gp:find("truth", 1, true), n) end
    end
  end)

  it("leaves out density locations whose kernel leaves the survey sphere (NaN), keeps the rest", function()
    local f = dir .. "/steps/densities.h5"
    local reach, attrs = pf.h5.read(f, "/kernel_reach")
    assert.are.near(3.6, attrs.edge, 1e-12)   -- 0.9 x the 4 kpc survey radius
    local P = pf.pipeline.new{out = dir, preset = pf.presets.get("test"), quiet = true}
    local _, names, blocks = P:density_points()
    local vals = {}
    for k, n in ipairs(names) do
      local b = pf.h5.read(f, "/base/" .. n)
      assert.are.equal((blocks[k]:shape()), b:size())
      for i = 1, b:size() do vals[#vals + 1] = b:get(i) end
    end
    local nan, fin = 0, 0
    for i, r in ipairs(reach:totable()) do
      if r > attrs.edge then
        assert.is_true(vals[i] ~= vals[i], "location " .. i); nan = nan + 1
      else
        assert.is_true(vals[i] == vals[i] and math.abs(vals[i]) < math.huge, "location " .. i); fin = fin + 1
      end
    end
    assert.is_true(nan >= 2 and fin >= 10)     -- s = +-3 kpc at phi = +-0.209 reach ~4.3 kpc
    -- the reach itself: a location at the Sun reaches at most 2 h_x = 1 kpc
    local pts = pf.poisson.kernel_points(pf.array.from{pf.geometry.SUN, {8.122, 3, 0}}, {points = 64})
    local r = pf.steps.densities.kernel_reach(pts)
    assert.is_true(r[1] <= 1 + 1e-9 and r[1] > 0.9)
    assert.is_true(r[2] > 3.9 and r[2] <= 4 + 1e-9)
  end)

  it("records the curves and provenance in results.h5", function()
    local a = pf.h5.read(dir .. "/results.h5", "/curves/acc/arc/truth")
    assert.are.equal(5, (a:shape()))
    -- the systematic term: two extra flow pairs (map radius 4.4 kpc, 3 transforms), RMS
    -- deviation from the central value, part of the total in quadrature
    local f = dir .. "/steps/darkmatter.h5"
    local sy, fl = pf.h5.read(f, "/rho_err_syst/sun"):get(1), pf.h5.read(f, "/rho_err_flow/sun"):get(1)
    local st, me = pf.h5.read(f, "/rho_err_stat/sun"):get(1), pf.h5.read(f, "/rho_err_meas/sun"):get(1)
    local tot = pf.h5.read(f, "/rho_err/sun"):get(1)
    assert.is_true(sy > 0)
    assert.are.near(tot, math.sqrt(sy ^ 2 + fl ^ 2 + st ^ 2 + me ^ 2), 1e-9 * tot)
    assert.is_true(pf.h5.exists(dir .. "/steps/flows.h5", "/syst_002/n_x/member_0001"))
    local attrs = pf.h5.attrs(dir .. "/results.h5", "/")
    assert.truthy(attrs.git_commit)
    assert.truthy(attrs.preset:find("test", 1, true))
  end)

  it("fits a global potential per density and reports it beside the local method", function()
    local step = pf.steps.potential
    local P = fresh()
    P:plan()
    -- the step's measurements of the mock's exact potential are the other steps' truths:
    -- the same ball points, curve points and arc balls, the same kernel rule
    local m = step.measure(P, P.potential)
    local af, dfile = dir .. "/steps/accelerations.h5", dir .. "/steps/densities.h5"
    assert.are.same(pf.h5.read(af, "/truth/sun"):totable(), m.sun:totable())
    for _, name in ipairs(P.geom.curve_names) do
      assert.are.same(pf.h5.read(af, "/truth/" .. name):totable(), m["acc_" .. name]:totable(), name)
    end
    local tk = pf.h5.read(dfile, "/truth/sun"):get(1)
    assert.are.near(tk, m.rhok:get(1), 1e-12 * tk)
    -- the point density: lap Phi / 4 pi G of the exact potential
    assert.are.equal(P.potential:density(pf.array.from{pf.geometry.SUN}):get(1), m.rho:get(1))
    -- one fit per density of the budget; the base network saved, reloaded to the same numbers
    local pfile = dir .. "/steps/potential.h5"
    assert.are.equal(1, pf.h5.read(pfile, "/fitted"):get(1))
    for _, v in ipairs(P:density_list()) do assert.is_true(pf.h5.exists(pfile, "/" .. v.name .. "/sun"), v.name) end
    local net = pf.potnet.load(pfile, "/base/net")
    assert.are.same(pf.h5.read(pfile, "/base/sun"):totable(), step.measure(P, net).sun:totable())
    -- results.h5: values, budgets, dark matter, the scorer's numbers; report and figure
    local res = dir .. "/results.h5"
    local v, s = pf.h5.read(res, "/potential/sun/value"), pf.h5.read(res, "/potential/sun/sigma")
    assert.are.same(pf.h5.read(pfile, "/base/sun"):totable(), v:totable())
    assert.is_true(s:min() > 0)
    -- every fit one realisation: sigma_flow is the members' whole spread, not / sqrt(M)
    P:load_variant_names()
    local one = {}
    for i, d in ipairs(P.variant_names) do one[i] = {name = d.name, kind = d.kind, members = 1} end
    local _, s1, parts = pf.budget.of(pfile, "sun", one)
    assert.are.same(s1:totable(), s:totable())
    local _, _, partsM = pf.budget.of(pfile, "sun", P.variant_names)
    assert.are.near(partsM.flow:get(1) * math.sqrt(P.o.members), parts.flow:get(1), 1e-12 * parts.flow:get(1))
    local rho = pf.h5.read(res, "/potential/curves/density/sun/rho"):get(1)
    local dm = pf.h5.read(res, "/potential/curves/density/sun/rho_dm"):get(1)
    local rb = pf.h5.read(dir .. "/steps/baryons.h5", "/rho_b/sun"):get(1)
    assert.are.near(rho - rb, dm, 1e-12 * math.abs(rho))
    -- the density's error: the fits' budget and the difference from the local method
    local gp = "/potential/curves/density/gnfw/"
    local r, e = pf.h5.read(res, gp .. "rho"):totable(), pf.h5.read(res, gp .. "rho_err"):totable()
    local ef, em = pf.h5.read(res, gp .. "rho_fit_err"):totable(), pf.h5.read(res, gp .. "rho_method_err"):totable()
    local loc = pf.h5.read(res, "/curves/density/gnfw/rho"):totable()
    local _, sfit = pf.budget.of(pfile, "rhok/gnfw", one)
    local checked = 0
    for i = 1, #r do
      if r[i] == r[i] and loc[i] == loc[i] then
        checked = checked + 1
        assert.are.near(math.abs(r[i] - loc[i]), em[i], 1e-12 * math.abs(r[i]))
        assert.are.equal(sfit:get(i), ef[i])
        assert.are.near(math.sqrt(ef[i] ^ 2 + em[i] ^ 2), e[i], 1e-12 * e[i])
        assert.is_true(e[i] >= ef[i] and e[i] >= em[i])
      end
    end
    assert.is_true(checked >= 2, "locations checked: " .. checked)
    assert.is_true(pf.h5.exists(res, "/potential/score"))
    assert.are.same({}, pf.results.check(res))
    local rep = assert(io.open(dir .. "/report.md")):read("a")
    assert.truthy(rep:find("global potential beside the local method", 1, true))
    assert.truthy(rep:find("| a_sun relative error |", 1, true))
    assert.is_true(pf.fs.exists(dir .. "/fig_potential_maps.png"))
  end)

  it("fits no potential when the preset says potential.fit = false", function()
    local d2 = tmpdir()
    local o = pf.presets.get("test")
    o.potential.fit = false
    pf.pipeline.new{out = d2, preset = o, quiet = true}:run()
    assert.are.equal(0, pf.h5.read(d2 .. "/steps/potential.h5", "/fitted"):get(1))
    assert.is_false(pf.h5.exists(d2 .. "/results.h5", "/potential"))
    assert.is_false(pf.fs.exists(d2 .. "/fig_potential_maps.png"))
  end)

  it("writes results.h5 self-describing (docs/results.md), and pf.results.check finds what is missing", function()
    local res = dir .. "/results.h5"
    -- every dataset: a units attribute (a string, "" dimensionless) and a description
    local names = pf.results.datasets(res)
    assert.is_true(#names > 100, #names)
    for _, p in ipairs(names) do
      local at = pf.h5.attrs(res, p)
      assert.are.equal("string", type(at.units), p)
      assert.is_truthy(type(at.description) == "string" and at.description:find("%a"), p)
    end
    assert.are.equal("km2 / (s2 kpc)", pf.h5.attrs(res, "/curves/acc/arc/value").units)
    assert.are.equal("1e-10 m / s2", pf.h5.attrs(res, "/table1/value").units)
    assert.are.equal("solMass / kpc3", pf.h5.attrs(res, "/score/density/gnfw/truth").units)
    -- a curve's points and its coordinate: r along the r-lines, phi along the phi curves, s on the arc
    local g = pf.geometry.paper(pf.presets.get("test").geometry)
    for _, n in ipairs({"r_north", "phi_south", "arc"}) do
      local x = pf.h5.read(res, "/curves/acc/" .. n .. "/x"):totable()
      local axis = pf.h5.attrs(res, "/curves/acc/" .. n).coordinate
      local t = pf.h5.read(res, "/curves/acc/" .. n .. "/" .. axis):totable()
      assert.are.equal(#x, #t)
      for i, p in ipairs(x) do
        local r, th, ph = pf.geometry.to_spherical(p)
        local want = ({r = r, phi = ph, s = pf.geometry.R_SUN * (math.pi / 2 - th)})[axis]
        assert.are.near(want, t[i], 1e-12, n .. " " .. i)
      end
      assert.are.equal(g.curves[n].axis, axis)
    end
    -- table columns: one length, the label's
    for _, tb in ipairs({"/table1", "/table2"}) do
      local n = #pf.h5.read_strings(res, tb .. "/label")
      for _, e in ipairs(pf.h5.list(res, tb)) do
        if e.name ~= "label" then assert.are.equal(n, pf.h5.read(res, tb .. "/" .. e.name):size(), tb .. "/" .. e.name) end
      end
    end
    -- the chain in emcee's layout: integer attributes that agree with its shape
    local chain = pf.h5.read(res, "/gnfw/mcmc/chain")
    local at = pf.h5.attrs(res, "/gnfw/mcmc")
    local p = pf.presets.get("test").mcmc
    assert.are.same({p.steps - p.steps // 4, p.walkers, 3}, {chain:shape()})
    assert.are.same({at.iteration, at.nwalkers, at.ndim}, {chain:shape()})
    assert.are.equal(0, at.has_blobs)
    assert.are.same({at.iteration, at.nwalkers}, {pf.h5.read(res, "/gnfw/mcmc/log_prob"):shape()})
    assert.are.equal(at.nwalkers, pf.h5.read(res, "/gnfw/mcmc/accepted"):size())
    assert.are.same({}, pf.results.check(res))

    -- the check fails on each kind of fault, naming it
    local function broken(fn, want)
      local f = os.tmpname()
      os.execute(("cp '%s' '%s'"):format(res, f))
      fn(f)
      local bad = table.concat(pf.results.check(f), "\n")
      os.remove(f)
      assert.is_truthy(bad:find(want, 1, true), "wanted: " .. want .. "\ngot: " .. bad)
    end
    broken(function(f) pf.h5.set_attrs(f, "/average/chi2", {units = 1}) end, "/average/chi2 has no units attribute")
    broken(function(f) pf.h5.set_attrs(f, "/sun/radius", {description = " "}) end, "/sun/radius has no description")
    broken(function(f)
      pf.h5.write(f, "/curves/acc/r_north/r", pf.h5.read(f, "/curves/acc/r_north/r") + 0.01, {units = "kpc", description = "r"})
    end, "/curves/acc/r_north: point 1 is at r = ")
    broken(function(f) pf.h5.delete(f, "/curves/density/phi0/s") end, "/curves/density/phi0 lacks its points (x) or its coordinate (s)")
    broken(function(f) pf.h5.write(f, "/table2/pull", pf.array.zeros(3), {units = "", description = "d"}) end,
      "/table2/pull has 3 rows, its label 4")
    broken(function(f) pf.h5.set_attrs(f, "/gnfw/mcmc", {iteration = 7}) end,
      "/gnfw/mcmc: attribute iteration is 7, the chain says " .. chain:size(1))
    broken(function(f) pf.h5.set_attrs(f, "/gnfw/mcmc", {ndim = 2}) end, "/gnfw/mcmc: attribute ndim is 2, the chain says 3")
    broken(function(f) pf.h5.set_attrs(f, "/gnfw/mcmc/chain", {units = "kpc, kpc"}) end, "/gnfw/mcmc/chain: 2 units for a last axis of 3")
  end)

  it("skips finished steps on a re-run", function()
    local s = status(fresh():run())
    for _, name in ipairs(pf.pipeline.steps) do assert.are.equal("skipped", s[name], name) end
  end)

  it("detects a truncated intermediate file and rebuilds it", function()
    local f = dir .. "/steps/densities.h5"
    local n = size(f)
    local h = assert(io.open(f, "rb")); local bytes = h:read(n // 2); h:close()
    h = assert(io.open(f, "wb")); h:write(bytes); h:close()
    local s = status(fresh():run())
    assert.are.equal("ran", s.densities)
    assert.are.equal("skipped", s.flows)
    assert.are.equal("skipped", s.darkmatter) -- same key: inputs and options unchanged
    assert.is_true(size(f) > n // 2)
  end)

  it("reruns a step whose options changed, and --only / --force", function()
    local p = pf.presets.get("test")
    p.mcmc.steps = 240
    local s = status(pf.pipeline.new{out = dir, preset = p, quiet = true}:run())
    assert.are.equal("ran", s.gnfw)
    assert.are.equal("skipped", s.densities)
    s = status(pf.pipeline.new{out = dir, preset = p, quiet = true}:run{only = "baryons", force = true})
    assert.are.equal("ran", s.baryons)
    assert.are.equal("skipped", s.gnfw)
  end)

  it("says which reused steps another build made (their provenance names its commit)", function()
    local f = dir .. "/steps/equilibrium.h5"
    local was = pf.h5.attrs(f, "/").git_commit
    assert.are.equal(pf.config().git, was)
    pf.h5.set_attrs(f, "/", {git_commit = "0123abc"})
    local by = {}
    for _, e in ipairs(pf.pipeline.new{out = dir, preset = pf.presets.get("test"), quiet = true}:run()) do
      by[e.step] = e
    end
    assert.are.equal("skipped", by.equilibrium.status)
    assert.are.equal("0123abc", by.equilibrium.made_by)
    assert.is_nil(by.densities.made_by)
    pf.h5.set_attrs(f, "/", {git_commit = was})
  end)

  it("made the mock once, in a folder keyed by its options, and reads it through pf.gaia", function()
    local c = pf.h5.read(dir .. "/steps/catalogue.h5", "/cutflow/counts"):totable()
    assert.are.equal(7, #c)
    local x = pf.h5.read(dir .. "/steps/catalogue.h5", "/stars/x")
    assert.are.equal(c[7][2], (x:shape()))
    for i = 2, 7 do assert.are.equal(c[i - 1][2], c[i][1]) end
    assert.is_true(c[7][2] > 1000 and c[7][2] < c[6][2])
    local s10 = pf.h5.read(dir .. "/steps/catalogue.h5", "/sample10/parallax")
    assert.are.equal(c[5][2], s10:size(1))
    local rc = pf.h5.read(dir .. "/steps/catalogue.h5", "/stars/red_clump_fraction"):get(1)
    assert.is_true(rc > 0.6 and rc < 0.8)
    local attrs = pf.h5.attrs(dir .. "/steps/catalogue.h5", "/")
    assert.truthy(attrs.mockdir:find(dir .. "/mock/", 1, true))
    assert.is_true(size(attrs.mockdir .. "/DONE") > 0)
  end)

  it("rejects an unknown step and an unknown preset", function()
    assert.has_error(function() fresh():run{only = "nope"} end)
    assert.has_error(function() pf.presets.get("huge") end, "pf.presets: no preset 'huge' (have: test, quick, science, paper)")
  end)
end)

describe("pf.pipeline on Gaia files given as inputs", function()
  local fixture = "fixtures/GaiaSource_000000-000012.csv.gz"
  it("runs the catalogue step on an archive file: the paper's cut table, no truth", function()
    local dir = tmpdir()
    local P = pf.pipeline.new{out = dir, preset = pf.presets.get("test"), inputs = {fixture}, quiet = true}
    assert.are.equal("ran", status(P:run{only = "catalogue"}).catalogue)
    local c = pf.h5.read(dir .. "/steps/catalogue.h5", "/cutflow/counts"):totable()
    -- the same counts as pf.gaia.select_files on the file
    local _, flow = pf.gaia.select_files(fixture, {cov = false, print = false})
    assert.are.equal(7, #c)
    for i, f in ipairs(flow) do assert.are.same({f.before, f.after}, c[i]) end
    assert.are.same({12, 8}, c[1])
    assert.is_false(P:is_mock())
    local attrs = pf.h5.attrs(dir .. "/steps/catalogue.h5", "/")
    assert.truthy(attrs.source:find("Gaia archive files (1)", 1, true))
    assert.is_nil(attrs.mockdir)
    assert.is_falsy(os.execute("test -d '" .. dir .. "/mock'")) -- no mock was made
  end)

  it("keys the catalogue by the input's content: a renamed copy reuses it, changed data redoes it", function()
    local dir, src = tmpdir(), tmpdir()
    local copy = src .. "/renamed.csv.gz"
    os.execute(("cp '%s' '%s'"):format(fixture, copy))
    local function run(input)
      local log = {}
      local P = pf.pipeline.new{out = dir, preset = pf.presets.get("test"), inputs = {input}, quiet = true}
      P.log = function(_, fmt, ...) log[#log + 1] = fmt:format(...) end
      return status(P:run{only = "catalogue"}).catalogue, table.concat(log, "\n")
    end
    assert.are.equal("ran", (run(fixture)))
    assert.are.equal("skipped", (run(copy)))
    -- other data under the same name: 11 of the 12 rows
    os.execute(("zcat '%s' | head -n -1 | gzip > '%s'"):format(fixture, copy))
    local st, log = run(copy)
    assert.are.equal("ran", st)
    assert.truthy(log:find("catalogue: running (its options or input data changed)", 1, true), log)
    assert.are.equal(11, pf.h5.read(dir .. "/steps/catalogue.h5", "/cutflow/counts"):totable()[1][1])
    os.execute(("rm -rf '%s' '%s'"):format(dir, src))
  end)

  it("runs catalogue and selection on a folder of mock files (as real data): smeared resamples re-cut", function()
    local mdir, dir = tmpdir(), tmpdir()
    pf.mock.make_files{out = mdir, stars = 6000, normalize = false, seed = 3}
    local P = pf.pipeline.new{out = dir, preset = pf.presets.get("test"), inputs = {mdir .. "/gaia"}, quiet = true}
    local s = status(P:run{only = "catalogue"})
    assert.are.equal("ran", s.catalogue)
    s = status(P:run{only = "selection"})
    assert.are.equal("ran", s.selection)
    assert.are.equal("skipped", s.catalogue)
    local c = pf.h5.read(dir .. "/steps/catalogue.h5", "/cutflow/counts"):totable()
    local _, flow = pf.gaia.select_files(mdir .. "/gaia", {cov = false, print = false})
    for i, f in ipairs(flow) do assert.are.same({f.before, f.after}, c[i]) end
    assert.is_false(P:is_mock())
    local n4 = c[7][2]
    assert.is_true(n4 > 200)
    assert.are.equal(math.min(n4, 1000), (pf.h5.read(dir .. "/steps/selection.h5", "/train/base/x"):shape()))
    -- a smeared resample: every 10 kpc star redrawn from its errors, then the cuts again:
    -- about as many stars, not the same positions
    local x0 = pf.h5.read(dir .. "/steps/catalogue.h5", "/stars/x")
    local sm = pf.h5.read(dir .. "/steps/selection.h5", "/train/smear_001/x")
    local ns = (sm:shape())
    assert.is_true(math.abs(ns - math.min(n4, 1000)) < 0.2 * n4)
    assert.is_true(math.abs(sm:get(1, 1) - x0:get(1, 1)) > 0 or math.abs(sm:get(1, 3) - x0:get(1, 3)) > 0)
    local d = pf.array.from{pf.geometry.SUN}
    local r = (sm - pf.array.ones(ns, 1):matmul(d)):square():sum(2):sqrt()
    assert.is_true(r:max() < 4)
  end)

  it("names a missing input", function()
    local dir = tmpdir()
    local P = pf.pipeline.new{out = dir, preset = pf.presets.get("test"), inputs = {dir .. "/nope.csv.gz"}, quiet = true}
    assert.has_error(function() P:run{only = "catalogue"} end)
  end)
end)

describe("pf.pipeline systematic variants", function()
  local dir = tmpdir()
  local p = pf.presets.get("test")
  p.systematics = {{refit = true}}
  p.flow.context_std = true
  local P = pf.pipeline.new{out = dir, preset = p, quiet = true, mock_cache = dir .. "/mock"}
  P:run{}
  local ff = P:file("flows")

  it("refit: stars drawn from the base ensembles, as many as the base sample, inside the map's sphere, reproducible", function()
    local n = (pf.h5.read(P:file("selection"), "/train/base/x"):shape())
    local x, v = P:refit_sample(ff, n, 1)
    assert.are.equal(n, (x:shape()))
    assert.are.equal(n, (v:shape()))
    local d = (x - pf.array.ones(n, 1):matmul(pf.array.from{pf.geometry.SUN})):square():sum(2):sqrt()
    assert.is_true(d:max() <= p.radius * 1.0001)
    local x2, v2 = P:refit_sample(ff, n, 1)
    assert.are.equal(0, (x - x2):abs():max())
    assert.are.equal(0, (v - v2):abs():max())
    local x3 = P:refit_sample(ff, n, 2)
    assert.is_true((x - x3):abs():max() > 0)
    -- the paper's speed cut holds for the drawn velocities as for the stars
    assert.is_true(v:square():sum(2):sqrt():max() < pf.select.MAX_SPEED)
    assert.are.equal(1, v:isfinite():min())
    -- the draws need no log-densities: a far-tail draw (cut afterwards) can be NaN in
    -- another member, and an ensemble's log-density refuses NaN (the science preset's
    -- refit died on one)
    local Ens = getmetatable(pf.flow.ensemble{members = {pf.flow.maf{dim = 1, transforms = 1, hidden = 2}}}).__index
    local log_prob = Ens.log_prob
    Ens.log_prob = function() error("log_prob called") end
    local ok, x4 = pcall(P.refit_sample, P, ff, n, 1)
    Ens.log_prob = log_prob
    assert.is_true(ok, x4)
    assert.are.equal(0, (x - x4):abs():max())
  end)

  it("sigma_syst of one variant is its deviation from the central value less the training noise", function()
    local af = P:file("accelerations")
    local central, _, parts = P:budget(af, "sun")
    local refit = pf.h5.read(af, "/syst_001/sun")
    local M, r = p.members, p.resample_members
    for j = 1, 3 do
      local d2 = (refit:get(j) - central:get(j)) ^ 2 - parts.train:get(j) ^ 2 * (1 / r + 1 / M)
      assert.are.near(math.sqrt(math.max(d2, 0)), parts.syst:get(j), 1e-12 * math.abs(central:get(j)))
    end
    assert.is_true(parts.train:max() > 0)
  end)

  it("context_std: p(v|x)'s context is standardised by the sphere-mapped stars' moments", function()
    local f = pf.flow.load(ff, "/base/p_v/member_0001")
    local prep = f:get_prep("context")
    local x = pf.h5.read(P:file("selection"), "/train/base/x")
    local m, sd = pf.steps.flows.sphere_moments(x, pf.geometry.SUN, p.radius * 1.0001)
    for j = 1, 3 do
      assert.are.near(m[j], prep.mean[j], 1e-12)
      assert.are.near(sd[j], prep.std[j], 1e-12)
    end
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)

describe("pf.pipeline as an engine for any set of steps", function()
  -- a two-step analysis: steps are data, and the engine knows nothing of the science
  local calls
  local function analysis(scale)
    return {
      order = {"make", "double"},
      methods = {made = function(self) return self:file("make") end},
      make = {inputs = {}, options = function(self) return {n = self.o.n, scale = scale} end,
              run = function(self, w)
                calls.make = calls.make + 1
                local t = {}
                for i = 1, self.o.n do t[i] = i * scale end
                w.put("/values", t)
              end},
      double = {inputs = {"make"}, options = function() return {} end,
                run = function(self, w)
                  calls.double = calls.double + 1
                  w.put("/values", pf.h5.read(self:made(), "/values") * 2)
                  return {note = "doubled"}
                end},
    }
  end

  it("runs, caches by key, redoes what a changed option reaches, and records provenance", function()
    local dir = tmpdir()
    calls = {make = 0, double = 0}
    local a = analysis(1)
    local function run(an, n) return status(pf.pipeline.new{out = dir, preset = {n = n}, quiet = true, analysis = an}:run()) end
    assert.are.same({make = "ran", double = "ran"}, run(a, 3))
    assert.are.same({2, 4, 6}, pf.h5.read(dir .. "/steps/double.h5", "/values"):totable())
    assert.are.same({make = "skipped", double = "skipped"}, run(a, 3))
    assert.are.same({make = 1, double = 1}, calls)
    -- an option of the first step changes its key and so the second's
    assert.are.same({make = "ran", double = "ran"}, run(analysis(10), 3))
    assert.are.same({20, 40, 60}, pf.h5.read(dir .. "/steps/double.h5", "/values"):totable())
    local at = pf.h5.attrs(dir .. "/steps/double.h5", "/")
    assert.are.equal("doubled", at.note)
    assert.are.equal("double", at.step)
    local P = pf.pipeline.new{out = dir, preset = {n = 3}, quiet = true, analysis = a}
    assert.has_error(function() P:run{only = "treble"} end,
      "pf.pipeline: no step 'treble' (steps: make, double)")
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("plans what run then does, without running or writing anything", function()
    local dir = tmpdir()
    calls = {make = 0, double = 0}
    local function plan(an, n, opts)
      local out = {}
      local P = pf.pipeline.new{out = dir, preset = {n = n}, quiet = true, analysis = an, plan_only = true}
      for _, r in ipairs(P:plan(opts)) do out[r.step] = r.action .. (r.why and (": " .. r.why) or "") end
      return out
    end
    os.execute("rm -rf '" .. dir .. "'")
    assert.are.same({make = "run: absent", double = "run: absent"}, plan(analysis(1), 3))
    assert.is_nil(io.open(dir .. "/steps"))  -- a plan makes no folder
    assert.are.same({make = "missing: absent", double = "run: absent"}, plan(analysis(1), 3, {only = "double"}))
    status(pf.pipeline.new{out = dir, preset = {n = 3}, quiet = true, analysis = analysis(1)}:run())
    assert.are.same({make = "reuse", double = "reuse"}, plan(analysis(1), 3))
    assert.are.same({make = "run: its options or input data changed", double = "run: a step it reads was redone"},
      plan(analysis(2), 3))
    assert.are.same({make = "reuse", double = "run: forced"}, plan(analysis(1), 3, {only = "double", force = true}))
    assert.are.same({make = "missing: stale", double = "run: forced"},
      plan(analysis(2), 3, {only = "double", force = true}))
    assert.are.same({make = 1, double = 1}, calls)  -- only the one run ran anything
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)

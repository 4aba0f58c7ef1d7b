-- luacheck: no max line length
-- Mock galaxies beside the default (pf.mock.VARIANTS, knobs), their exact truth
-- (pf.mock.truth_model), the galaxy recorded in a mock's truth file, and preset settings
-- changed from text (pf.presets.set, paper.lua --set).
local pf = require "phaseflow"
local support = require "support"

local SUN = {{8.122, 0, 0.0208}}

describe("pf.mock galaxies", function()
  it("the default galaxy is MWPotential2014: same acceleration and density to 1e-12", function()
    local t = pf.mock.truth_model("default")
    local mw = pf.potential.mwpotential2014()
    local x = pf.array.from{{8.122, 0, 0.0208}, {6, 1, 0.7}, {10, -2, -1.1}}
    local a, b = t.potential:acceleration(x), mw:acceleration(x)
    assert.is_true(((a - b):abs():max()) <= 1e-12 * b:abs():max())
    local d, e = t.potential:density(x), mw:density(x)
    assert.is_true(((d - e):abs():max()) <= 1e-12 * e:abs():max())
    -- baryons + dark matter = the whole, and the dark matter is one NFW (gNFW truth exists)
    local s = t.baryons:density(x) + t.dm:density(x)
    assert.is_true(((s - e):abs():max()) <= 1e-12 * e:abs():max())
    assert.are.equal("nfw", t.nfw.type)
    assert.are.equal(16, t.nfw.a)
  end)

  it("heavy: the halo mass factor and the flattened dark component enter the dark matter only", function()
    local def, heavy = pf.mock.truth_model("default"), pf.mock.truth_model("heavy")
    local x = pf.array.from(SUN)
    -- baryons unchanged
    assert.are.near(def.baryons:density(x):get(1), heavy.baryons:density(x):get(1), 1e-6)
    -- the NFW part alone is 1.5 x heavier: compare on the axis far out, where the MN
    -- dark disk (a = 3, b = 1 kpc) is negligible against the 1.5 x NFW
    local nfw_only = pf.mock.truth_model{variant = "default", halo_mass = 1.5}
    local far = pf.array.from{{0, 0, 60}}
    assert.are.near(1.5, nfw_only.dm:density(far):get(1) / def.dm:density(far):get(1), 1e-12)
    -- not one NFW: no gNFW truth; flattened: denser in the plane than above it at the same r
    assert.is_nil(heavy.nfw)
    local inplane = heavy.dm:density(pf.array.from{{8, 0, 0}}):get(1)
    local above = heavy.dm:density(pf.array.from{{0, 0, 8}}):get(1)
    local inplane0 = def.dm:density(pf.array.from{{8, 0, 0}}):get(1)
    local above0 = def.dm:density(pf.array.from{{0, 0, 8}}):get(1)
    assert.are.near(1, inplane0 / above0, 1e-12)     -- NFW: spherical
    assert.is_true(inplane / above > 1.3)
  end)

  it("hot: a thicker disk (larger rms height within 4 kpc) and a second disk population", function()
    local g = pf.mock.galaxy_spec("hot")
    assert.are.equal(3, #g.populations)
    assert.are.equal("disk", g.populations[3].type)
    local function rms_z(name)
      local m = pf.mock.galaxy{galaxy = name, radius = 4, normalize = false, seed = 3}
      local x = m:sample(20000)
      local z = x:col(3) - 0.0208
      return math.sqrt(z:square():mean())
    end
    assert.is_true(rms_z("hot") > 1.3 * rms_z("default"))
  end)

  it("knobs: unknown names and bad values are errors naming them", function()
    local ok, err = pcall(pf.mock.galaxy_spec, {halo_mas = 2})
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("unknown galaxy knob 'halo_mas'", 1, true), err)
    ok, err = pcall(pf.mock.galaxy_spec, {sigma0 = -3})
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("'sigma0' must be a number >= 0", 1, true), err)
    ok, err = pcall(pf.mock.galaxy_spec, "cold")
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("no galaxy 'cold' (have: default, hot, heavy)", 1, true), err)
  end)

  it("make-mock.lua records the galaxy in mock.h5; truth_model(file) rebuilds its potential", function()
    local dir = os.tmpname()
    os.remove(dir)
    local out, rc = support.phaseflow({"../scripts/make-mock.lua", "stars=3000", "galaxy=heavy",
      "sigma0=26", "out=" .. dir})
    assert.are.equal(0, rc, out)
    local g = pf.mock.read_galaxy(dir .. "/mock.h5")
    assert.are.equal("heavy", g.name)
    assert.are.equal(26, g.knobs.sigma0)
    local tf, tn = pf.mock.truth_model(dir .. "/mock.h5"), pf.mock.truth_model{variant = "heavy", sigma0 = 26}
    local x = pf.array.from(SUN)
    assert.are.equal(tn.potential:acceleration(x):get(1, 1), tf.potential:acceleration(x):get(1, 1))
    -- the acceleration the script printed is that galaxy's (heavier than MWPotential2014's -1.925)
    assert.is_truthy(out:find("= (-2.4578,", 1, true), out)
    os.execute("rm -rf '" .. dir .. "'")
    local bad, rc2 = support.phaseflow({"../scripts/make-mock.lua", "galaxy=cold"})
    assert.are.equal(2, rc2)
    assert.is_truthy(bad:find("no galaxy 'cold' (have: default, hot, heavy)", 1, true), bad)
  end)
end)

describe("pf.presets.set", function()
  it("sets nested settings from text with the preset's types", function()
    local p = pf.presets.get("quick")
    pf.presets.set(p, "flow.hidden", "64")
    pf.presets.set(p, "n_train", "0")
    pf.presets.set(p, "mock.galaxy", "hot")
    pf.presets.set(p, "train.lr", "1e-3")
    assert.are.equal(64, p.flow.hidden)
    assert.are.equal(math.type(64), math.type(p.flow.hidden))
    assert.are.equal(0, p.n_train)
    assert.are.equal("hot", p.mock.galaxy)
    assert.are.equal(1e-3, p.train.lr)
    pf.presets.set(p, "systematics", "none")
    assert.are.same({}, p.systematics)
    assert.are.equal(48, pf.presets.get("quick").flow.hidden) -- the preset itself is untouched
  end)

  it("a typo or a wrong type is an error naming the setting", function()
    local p = pf.presets.get("quick")
    local ok, err = pcall(pf.presets.set, p, "flow.hiden", "3")
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("no setting 'flow.hiden' (have: bins, blocks, bound, context_std, hidden, n_x, transform, transforms)", 1, true), err)
    ok, err = pcall(pf.presets.set, p, "members", "many")
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("'members' must be a number, got 'many'", 1, true), err)
    ok, err = pcall(pf.presets.set, p, "members", "1e999")
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("'members' must be a finite number, got inf", 1, true), err)
    ok, err = pcall(pf.presets.set, p, "mcmc.steps", "-5")
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("'mcmc.steps' must be a whole number >= 0, got -5", 1, true), err)
    pf.presets.set(p, "members", "4.0")
    assert.are.equal("integer", math.type(p.members))
    -- quantities take any finite number, even where the preset writes a whole one
    for _, name in ipairs(pf.presets.names) do
      local q = pf.presets.get(name)
      for key, text in pairs{radius = "3.5", ["mock.radius"] = "7.5", ["flow.bound"] = "5.5",
                             ["potential.scale"] = "1.5", ["potential.zscale"] = "0.3",
                             ["potential.lambda"] = "0.5"} do
        pf.presets.set(q, key, text)
      end
      assert.are.same({3.5, 7.5, 5.5, 1.5, 0.3, 0.5}, {q.radius, q.mock.radius, q.flow.bound,
        q.potential.scale, q.potential.zscale, q.potential.lambda})
    end
    ok, err = pcall(pf.presets.set, p, "flow.p_v", "3")
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("'flow.p_v' is a group of settings", 1, true), err)
    ok, err = pcall(pf.presets.set, p, "flow", "3")
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("'flow' is a group of settings", 1, true), err)
  end)
end)

describe("pf.presets.load (a user's preset file) and pf.presets.diff", function()
  it("starts from the named preset, changes groups key by key and lists whole", function()
    local p = pf.presets.load("my.lua", [[
      return {base = "quick", members = 4, flow = {hidden = 64, n_x = {bins = 12}},
              mock = {galaxy = "hot"}, systematics = {{refit = true}}}]])
    local q = pf.presets.get("quick")
    assert.are.equal("my", p.name)
    assert.are.equal("quick", p.base)
    assert.are.equal(4, p.members)
    assert.are.equal(64, p.flow.hidden)
    assert.are.equal(q.flow.transforms, p.flow.transforms)          -- the group's other keys stay
    assert.are.equal(12, p.flow.n_x.bins)
    assert.are.equal(q.flow.n_x.transform, p.flow.n_x.transform)
    assert.are.equal("hot", p.mock.galaxy)
    assert.are.same({{refit = true}}, p.systematics)                -- a list is replaced whole
    -- resolve: a name is a preset, a .lua name a file
    local file = support.tempfile("return {base = 'quick', members = 4}", ".lua")
    local r = pf.presets.resolve(file)
    os.remove(file)
    assert.are.equal(4, r.members)
    assert.are.equal("quick", r.base)
    assert.are.same(pf.presets.get("quick"), pf.presets.resolve("quick"))
  end)

  it("names the file and the line of a mistake", function()
    for _, case in ipairs{
      {"return {base = 'quick',\n  train = {\n    lr = 'fast'}}", "my.lua:3: 'train.lr' must be a number, got 'fast'"},
      {"return {base = 'quick', flow = {context_std = 1}}", "my.lua:1: 'flow.context_std' must be true or false"},
      {"return {base = 'quick', flow = 3}", "my.lua:1: 'flow' is a group of settings; set one of its keys"},
      {"return {base = 'quick', systematics = 3}", "my.lua:1: 'systematics' is a list"},
      {"return {base = 'fast'}", "my.lua:1: 'base' names the preset to start from (have: test, quick, "
        .. "science, paper), got 'fast'"},
      {"return 5", "my.lua: a preset file returns a table"},
      {"error('no')", "my.lua:1: no"},
      {"error('no place', 0)", "my.lua: no place"},
      {"return {base = 'quick',\n flow = {hidden = 64, {transform = 'spline'}}}", "my.lua:2: a setting's name must be a word, got 1"},
      {"return {base = 'quick', flow = {n_x = {hiden = 3}}}", "my.lua:1: no setting 'flow.n_x.hiden'"},
      {"return {base = 'quick', flow = {p_v = {transforms = 'six'}}}",
       "my.lua:1: 'flow.p_v.transforms' must be a number, got 'six'"},
      {"error({})", "my.lua: raised a table, not a message"},
      {"\27", "my.lua: attempt to load a binary chunk"},  -- the fuzzer's first find
      {"return {base = 'quick', name = 'a b'}", "my.lua:1: 'name' must be a word"},
      {"return {base = 'quick', members = 2.5}", "my.lua:1: 'members' must be a whole number >= 0, got 2.5"},
      {"return {base = 'quick', nv = -4}", "my.lua:1: 'nv' must be a whole number >= 0, got -4"},
      {"return {base = 'quick', train = {lr = 0/0}}", "my.lua:1: 'train.lr' must be a finite number"},
    } do
      local ok, err = pcall(pf.presets.load, "my.lua", case[1])
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(case[2], 1, true), err)
    end
  end)

  it("diff lists exactly the settings that differ, with the paper's value beside", function()
    assert.are.same({}, pf.presets.diff(pf.presets.get("paper")))
    local p = pf.presets.get("paper")
    p.members = 4
    p.flow.hidden = 32
    p.systematics = {{map_radius = 4.8}}
    p.flow.n_x = {transform = "spline"}
    assert.are.same({
      {setting = "flow.hidden", value = "32", other = "64"},
      {setting = "flow.n_x", value = '{transform = "spline"}', other = "-"},
      {setting = "members", value = "4", other = "100"},
      {setting = "systematics", value = "{{map_radius = 4.8}}", other = "{}"},
    }, pf.presets.diff(p))
  end)
end)

describe("the preset-file fuzzer's check (tests/fuzz/fuzz_preset.lua)", function()
  local one = dofile("fuzz/fuzz_preset.lua")
  it("passes the seed files and clean refusals, and raises on a fault of ours", function()
    for _, seed in ipairs{"wider", "hot", "computed"} do
      local f = assert(io.open("fuzz/corpus_preset/" .. seed .. ".lua"))
      local text = f:read("a")
      f:close()
      one(text)
      assert.is_truthy(pf.presets.load("fuzz.lua", text).flow)
    end
    one("return {base = 'quick', flow = {hiden = 1}}")   -- a clean refusal
    one("while true do end")                              -- the sandbox's budget
    assert.are.equal(os.exit, _G.os.exit)                 -- the sandbox is lifted after each input
    local describe_flow = pf.presets.describe_flow
    pf.presets.describe_flow = function() error("a fault of ours") end
    local ok, err = pcall(one, "return {base = 'quick'}")
    pf.presets.describe_flow = describe_flow
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("a loaded preset breaks its readers", 1, true), err)
  end)
end)

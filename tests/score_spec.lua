-- luacheck: no max line length
-- pf.score and scripts/score.lua: a results file made by hand from the exact MWPotential2014
-- truth scores 0 (and 100% coverage), known perturbations give exactly the known scores, and
-- a test-preset run scores end to end; bad inputs exit with status 2 and the reason.
local pf = require "phaseflow"
local support = require "support"

local A = pf.array
local K = 64          -- truth kernel points of the synthetic files (the scorer gets the same)
local MW = pf.potential.mwpotential2014()

local function tmpname(suffix)
  local n = os.tmpname()
  os.remove(n)
  return n .. (suffix or "")
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- the exact truth of MWPotential2014 at the synthetic file's places, computed here the way
-- the pipeline does (ball averages with pf.cbe.ball_points, pf.truth.at's smoothed density)
local SUN = pf.geometry.SUN
local BALL = {radius = 0.1, points = 4, seed = 7}
local function ball_truth(c)
  return MW:acceleration(pf.cbe.ball_points(A.from{c}, BALL.radius, BALL.points, BALL.seed)):mean(1)
end

local function places()
  local north = {{6.5, 0, 1.5}, {8.122, 0, 1.5}, {9.7, 0, 1.5}}
  local south = {}
  for i, p in ipairs(north) do south[i] = {p[1], p[2], -p[3]} end
  local arc = {pf.geometry.arc_point(-1.5), pf.geometry.arc_point(0), pf.geometry.arc_point(1.5)}
  return {
    acc = {r_north = {x = north, ball = {0, 0, 0}}, r_south = {x = south, ball = {0, 0, 0}},
           arc = {x = arc, ball = {0, 1, 0}}},
    density = {sun = {SUN}, phi0 = {pf.geometry.arc_point(-1), pf.geometry.arc_point(0), pf.geometry.arc_point(1)},
               gnfw = {pf.geometry.arc_point(-0.85), pf.geometry.arc_point(0), pf.geometry.arc_point(0.85),
                       {6.122, 0, 1.5}, {10.122, 0, -1.5}}},
  }
end

local function acc_truth(c)
  local t = MW:acceleration(A.from(c.x))
  for i, f in ipairs(c.ball) do
    if f == 1 then
      local m = ball_truth(c.x[i])
      for j = 1, 3 do t:set(i, j, m:get(j)) end
    end
  end
  return t
end

local function rho_truth(x) return pf.truth.at(A.from(x), {potential = MW, points = K}).density_smoothed end

local function dm_truth(x)
  local parts = {}
  for _, t in ipairs(MW:components()) do parts[t.type] = pf.potential.component(t) end
  return pf.truth.smooth(parts.nfw, A.from(x), {points = K})
end

local WEIGHTS = {2.385e6, 3.1e6, 4.7e6}

-- A results file by hand. `edit` may change the exact values before they are written:
-- edit(d) with d.sun = {value, sigma}, d.acc[name] = {value, sigma} (tables N x 3),
-- d.density[name] = {rho, rho_err}, d.average = {value, sigma, chi2}.
local function synthetic(edit, opts)
  opts = opts or {}
  local file = tmpname(".h5")
  local pl = places()
  local d = {sun = {value = ball_truth(SUN):totable(), sigma = {120, 80, 95}}, acc = {}, density = {}}
  for name, c in pairs(pl.acc) do
    local t = acc_truth(c):totable()
    local s = {}
    for i = 1, #t do s[i] = {50, 50, 50} end
    d.acc[name] = {value = t, sigma = s}
  end
  for name, x in pairs(pl.density) do
    local t = rho_truth(x):totable()
    local e = {}
    for i, v in ipairs(t) do e[i] = 0.1 * v end
    d.density[name] = {rho = t, rho_err = e}
  end
  local tdm = dm_truth({table.unpack(pl.density.gnfw, 1, 3)})
  local m = pf.darkmatter.weighted_mean(tdm, WEIGHTS)
  d.average = {value = m, sigma = 1.5e6, chi2 = 0.7}
  if edit then edit(d) end
  local h5 = pf.h5
  if not opts.no_sun then
    h5.write(file, "/sun/value", A.from(d.sun.value))
    h5.write(file, "/sun/sigma", A.from(d.sun.sigma))
  end
  h5.write(file, "/sun/center", A.from(SUN))
  h5.write(file, "/sun/radius", A.from{BALL.radius})
  h5.write(file, "/sun/ball_points", A.from{BALL.points})
  h5.write(file, "/sun/point_seed", A.from{BALL.seed})
  for name, c in pairs(pl.acc) do
    local g = "/curves/acc/" .. name
    h5.write(file, g .. "/x", A.from(c.x))
    h5.write(file, g .. "/ball", A.from(c.ball))
    h5.write(file, g .. "/value", A.from(d.acc[name].value))
    h5.write(file, g .. "/sigma", A.from(d.acc[name].sigma))
  end
  for name, x in pairs(pl.density) do
    local g = "/curves/density/" .. name
    h5.write(file, g .. "/x", A.from(x))
    h5.write(file, g .. "/rho", A.from(d.density[name].rho))
    h5.write(file, g .. "/rho_err", A.from(d.density[name].rho_err))
  end
  if not opts.no_kernel then
    h5.set_attrs(file, "/curves/density", {kernel_h = {0.5, 0.5, 0.2}, kernel_truncate = 2})
  end
  h5.write(file, "/average/value", A.from{d.average.value})
  h5.write(file, "/average/sigma", A.from{d.average.sigma})
  h5.write(file, "/average/chi2", A.from{d.average.chi2})
  h5.write(file, "/average/independent", A.from(opts.independent or {1, 2, 3}), {set = "gnfw"})
  h5.write(file, "/average/weights_sigma", A.from(WEIGHTS))
  return file
end

local function scored(edit, truth)
  local file = synthetic(edit)
  local s = pf.score.run(file, truth or "mwpotential2014", {kernel_points = K})
  os.remove(file)
  return s
end

local function row(rows, name)
  for _, r in ipairs(rows) do if r[1] == name then return r end end
end

local function scale(t, f)
  for _, r in ipairs(t) do
    if type(r) == "table" then for j = 1, #r do r[j] = r[j] * f end end
  end
end

describe("pf.score on a results file made from the exact truth", function()
  local s = scored()

  it("scores 0 everywhere", function()
    assert.is_true(s.a_sun.rel_err < 1e-14)
    for j = 1, 3 do assert.is_true(math.abs(s.a_sun.pull[j]) < 1e-12) end
    assert.are.same({"r_north", "r_south", "arc", "all"}, {s.acc.rows[1][1], s.acc.rows[2][1], s.acc.rows[3][1], s.acc.rows[4][1]})
    for _, r in ipairs(s.acc.rows) do
      for k = 3, 6 do assert.is_true(r[k] < 1e-14, r[1] .. " " .. k) end
    end
    assert.are.equal(9, row(s.acc.rows, "all")[2])
    -- the ball-averaged arc point got the ball-averaged truth (else its error would be ~1e-4)
    assert.are.equal(0, s.acc.arc.rel_err[2])
    local ns = s.north_south.r
    assert.are.equal(3, ns.run.n)
    assert.is_true(ns.run.ratio < 1e-14 and ns.run.theta < 1e-14)
    assert.is_true(ns.truth.ratio < 1e-14 and ns.truth.theta < 1e-14) -- MWPotential2014 is mirror-symmetric
    assert.is_nil(s.north_south.phi)
    assert.is_true(s.rho_sun.rel_err < 1e-13 and math.abs(s.rho_sun.pull) < 1e-12)
    for _, r in ipairs(s.density.rows) do
      assert.are.equal(0, r[3])
      assert.is_true(r[4] < 1e-13 and r[5] < 1e-13, r[1])
    end
    assert.are.same({"phi0", 3}, {s.density.rows[1][1], s.density.rows[1][2]})
    assert.are.same({"all", 8}, {s.density.rows[3][1], s.density.rows[3][2]})
    assert.is_true(s.rho_dm_rsun.rel_err < 1e-13)
    assert.are.equal(0.7, s.rho_dm_rsun.chi2)
  end)

  it("covers every value: 100% within 1 sigma, RMS 0", function()
    local c = s.calibration
    assert.are.same({27, 27, 0}, {c.acc.n, c.acc.covered, c.acc.bad})
    assert.are.same({9, 9, 0}, {c.density.n, c.density.covered, c.density.bad})
    assert.are.same({36, 36, 0}, {c.all.n, c.all.covered, c.all.bad})
    assert.are.equal(1, c.all.fraction)
    assert.is_true(c.all.rms < 1e-12)
  end)

  it("prints every section with units in the labels", function()
    local text = pf.score.format(s)
    for _, l in ipairs{"against MWPotential2014 (truth kernel rule of 128 points)", "1. Acceleration at the Sun", "1e-10 m/s^2",
                       "2. Acceleration curves", "3. North-South", "|a_r(N)/a_r(S) - 1|", "4. Kernel-smoothed density rho*K, 1e-2 Msun/pc^3",
                       "5. rho_DM(r_sun)", "6. Calibration", "100.00%"} do
      assert.is_truthy(text:find(l, 1, true), l)
    end
  end)
end)

describe("pf.score on known perturbations", function()
  it("every acceleration x 1.1: 10% on every curve and at the Sun; North-South still 0", function()
    local s = scored(function(d)
      scale({d.sun.value}, 1.1)
      for _, c in pairs(d.acc) do scale(c.value, 1.1) end
    end)
    assert.are.near(0.1, s.a_sun.rel_err, 1e-13)
    for _, r in ipairs(s.acc.rows) do
      for k = 3, 6 do assert.are.near(0.1, r[k], 1e-13) end
    end
    assert.is_true(s.north_south.r.run.ratio < 1e-13)
  end)

  it("the North side x 1.1: |a_r(N)/a_r(S) - 1| = 10%, a_theta(N) + a_theta(S) = 0.1 a_theta(N)", function()
    local s = scored(function(d) scale(d.acc.r_north.value, 1.1) end)
    assert.are.near(0.1, s.north_south.r.run.ratio, 1e-13)
    -- by hand at each point: |0.1 a_theta| / ((1.1 + 1)/2 |a|), median over the 3 points
    local x = A.from(places().acc.r_north.x)
    local a = MW:acceleration(x)
    local _, th = pf.equilibrium.spherical(x, a)
    local mag = a:norm_rows()
    local v = {}
    for i = 1, 3 do v[i] = math.abs(0.1 * th:get(i)) / (1.05 * mag:get(i)) end
    table.sort(v)
    assert.are.near(v[2], s.north_south.r.run.theta, 1e-13)
    assert.is_true(v[2] > 1e-3)
  end)

  it("a pull of 2.385 at the Sun", function()
    local s = scored(function(d) d.sun.value[1] = d.sun.value[1] + 2.385 * d.sun.sigma[1] end)
    assert.are.near(2.385, s.a_sun.pull[1], 1e-10)
    assert.is_true(math.abs(s.a_sun.pull[2]) < 1e-12)
    local t = ball_truth(SUN):totable()
    assert.are.near(2.385 * 120 / math.sqrt(t[1] ^ 2 + t[2] ^ 2 + t[3] ^ 2), s.a_sun.rel_err, 1e-12)
  end)

  it("sigma set so that exactly 18 of 27 components cover (z = 0.795 and 1.084); sigma 0 or NaN counts as not covered", function()
    local s = scored(function(d)
      for name, c in pairs(d.acc) do
        for i, r in ipairs(c.value) do
          for j = 1, 3 do
            r[j] = r[j] + 2.385
            c.sigma[i][j] = name == "arc" and 2.2 or 3
          end
        end
      end
    end)
    local c = s.calibration.acc
    assert.are.same({27, 18, 0}, {c.n, c.covered, c.bad})
    assert.are.near(2 / 3, c.fraction, 1e-15)
    assert.are.near(math.sqrt((18 * (2.385 / 3) ^ 2 + 9 * (2.385 / 2.2) ^ 2) / 27), c.rms, 1e-12)
    s = scored(function(d)
      for name, cc in pairs(d.acc) do
        for i, r in ipairs(cc.value) do
          for j = 1, 3 do
            r[j] = r[j] + 2.385
            cc.sigma[i][j] = name == "arc" and 2.2 or 3
          end
        end
      end
      d.acc.r_north.sigma[1] = {0, 0 / 0, 3}   -- two components without a sigma
      d.acc.arc.value[3][2] = 0 / 0            -- a NaN value
    end)
    c = s.calibration.acc
    assert.are.same({27, 16, 3}, {c.n, c.covered, c.bad})
    assert.are.near(math.sqrt((16 * (2.385 / 3) ^ 2 + 8 * (2.385 / 2.2) ^ 2) / 24), c.rms, 1e-12)
    assert.are.same({36, 25, 3}, {s.calibration.all.n, s.calibration.all.covered, s.calibration.all.bad})
  end)

  it("every density x 1.1 with sigmas 0.2 and 0.08 of the truth: 10% everywhere, 4 of 9 covered; NaN counted", function()
    local s = scored(function(d)
      for name, c in pairs(d.density) do
        for i, v in ipairs(c.rho) do
          c.rho[i] = 1.1 * v
          c.rho_err[i] = (name == "gnfw" and 0.08 or 0.2) * v
        end
      end
    end)
    assert.are.near(0.1, s.rho_sun.rel_err, 1e-12)
    assert.are.near(0.5, s.rho_sun.pull, 1e-12)
    for _, r in ipairs(s.density.rows) do
      assert.are.near(0.1, r[4], 1e-12); assert.are.near(0.1, r[5], 1e-12)
    end
    local c = s.calibration.density
    assert.are.same({9, 4, 0}, {c.n, c.covered, c.bad})
    assert.are.near(math.sqrt((4 * 0.5 ^ 2 + 5 * 1.25 ^ 2) / 9), c.rms, 1e-10)
    s = scored(function(d) d.density.gnfw.rho[4] = 0 / 0; d.density.gnfw.rho[5] = 0 / 0 end)
    assert.are.same({"gnfw", 5, 2}, {s.density.rows[2][1], s.density.rows[2][2], s.density.rows[2][3]})
    assert.are.same({"all", 8, 2}, {s.density.rows[3][1], s.density.rows[3][2], s.density.rows[3][3]})
    assert.are.equal(7, s.calibration.density.n)
    assert.is_truthy(pf.score.format(s):find("gnfw               5       2/5", 1, true))
  end)

  it("rho_DM(r_sun) 20% high: error 20%, pull against the run's sigma", function()
    local m
    local s = scored(function(d) m = d.average.value; d.average.value = 1.2 * m end)
    assert.are.near(0.2, s.rho_dm_rsun.rel_err, 1e-12)
    assert.are.near(0.2 * m / 1.5e6, s.rho_dm_rsun.pull, 1e-10)
    assert.are.near(m, s.rho_dm_rsun.truth, 1e-12 * m)
  end)

  it("a truth without dark matter leaves rho_DM unscored", function()
    local s = scored(nil, {potential = MW, name = "MW, no dm"})
    assert.is_nil(s.rho_dm_rsun.truth)
    assert.is_true(s.a_sun.rel_err < 1e-14)
    assert.is_truthy(pf.score.format(s):find("not scored: the truth has no dark matter", 1, true))
  end)

  it("writes every number (through a temporary name)", function()
    local s = scored(function(d) for _, c in pairs(d.acc) do scale(c.value, 1.1) end end)
    local out = tmpname(".h5")
    pf.score.save(out, s)
    assert.is_false(exists(out .. ".part"))
    local m, attrs = pf.h5.read(out, "/acc/summary")
    assert.are.equal("r_north,r_south,arc,all", attrs.rows)
    assert.are.equal(9, m:get(4, 1))
    assert.are.near(0.1, m:get(4, 2), 1e-13)
    local cal = pf.h5.read(out, "/calibration"):totable()
    local c = s.calibration.all
    assert.are.same({36, c.covered, c.bad}, {cal[3][1], cal[3][2], cal[3][5]})
    assert.are.near(c.rms, cal[3][4], 1e-15 * c.rms)
    -- the 10% errors leave covered only the components whose truth is 0 (y) or small, and the densities
    assert.is_true(c.covered >= 9 and c.covered < 27)
    assert.are.equal(3, (pf.h5.read(out, "/acc/arc/truth"):shape()))
    assert.are.equal("MWPotential2014", pf.h5.attrs(out, "/").score_truth)
    os.remove(out)
    local ok, e = pcall(pf.score.save, "/nonexistent-dir/x.h5", s)
    assert.is_false(ok)
    assert.is_true(pf.score.is_error(e))
    assert.is_truthy(tostring(e):find("--out '/nonexistent-dir/x.h5'", 1, true))
  end)
end)

describe("pf.score.truth and pf.score.read refuse bad inputs with the reason", function()
  local function err_of(f, ...)
    local ok, e = pcall(f, ...)
    assert.is_false(ok)
    assert.is_true(pf.score.is_error(e), tostring(e))
    return tostring(e)
  end

  it("resolves the built-in model and Lua files", function()
    local m = pf.score.truth("MWPotential2014")
    assert.are.equal("MWPotential2014", m.name)
    local x = A.from{{8, 0.5, 0.3}}
    assert.are.near(MW:density(x):get(1), (m.dm:density(x) + m.baryons:density(x)):get(1), 1e-9 * MW:density(x):get(1))
    local f = support.tempfile("local pf = require 'phaseflow'\nreturn {name = 'mine', potential = pf.potential.mwpotential2014()}\n", ".lua")
    local t = pf.score.truth(f)
    assert.are.equal("mine", t.name)
    assert.is_nil(t.dm)
    os.remove(f)
  end)

  it("reads a mock truth file through pf.mock.truth_model, and takes galaxy names", function()
    local f = tmpname(".h5")
    pf.h5.write(f, "/truth/x", A.from{{8, 0, 0}})
    -- a file without a recorded galaxy is the default galaxy: MWPotential2014
    local t = pf.score.truth(f)
    assert.is_truthy(t.name:find(f, 1, true))
    local x = A.from{{7.5, 0.4, 0.9}}
    assert.are.near(MW:density(x):get(1), t.potential:density(x):get(1), 1e-12 * MW:density(x):get(1))
    os.remove(f)
    local h = pf.score.truth("heavy")
    assert.are.equal("mock galaxy 'heavy'", h.name)
    local hm = pf.mock.truth_model("heavy")
    assert.are.equal(hm.dm:density(x):get(1), h.dm:density(x):get(1))
  end)

  it("names the problem with TRUTH", function()
    assert.is_truthy(err_of(pf.score.truth, "/no/such/mock.h5"):find("TRUTH '/no/such/mock.h5': no such file", 1, true))
    local f = support.tempfile("return 42\n", ".lua")
    assert.is_truthy(err_of(pf.score.truth, f):find("a table {potential = ..., dm = ..., baryons = ...} expected, got number", 1, true))
    os.remove(f)
    f = support.tempfile("return {potential = \n", ".lua")
    assert.is_truthy(err_of(pf.score.truth, f):find("unexpected symbol", 1, true))
    os.remove(f)
    f = support.tempfile("error('no model here')\n", ".lua")
    assert.is_truthy(err_of(pf.score.truth, f):find("running it failed: .*no model here"))
    os.remove(f)
    assert.is_truthy(err_of(pf.score.truth, {dm = MW}):find("the table has no 'potential'", 1, true))
    local nan = pf.potential.custom{phi = function(x) return x:col(1) * 0 end,
      acceleration = function(x) return x * (0 / 0) end, density = function(x) return x:col(1) * 0 + 1 end}
    assert.is_truthy(err_of(pf.score.truth, {potential = nan}):find("acceleration at the Sun does not give 3 finite numbers", 1, true))
    f = support.tempfile("plain text\n", ".h5")
    assert.is_truthy(err_of(pf.score.truth, f):find("neither a Lua file nor a readable HDF5 file", 1, true))
    os.remove(f)
  end)

  it("names the problem with RESULTS", function()
    assert.is_truthy(err_of(pf.score.read, "/no/results.h5"):find("RESULTS '/no/results.h5': no such file", 1, true))
    local f = support.tempfile("plain text\n", ".h5")
    assert.is_truthy(err_of(pf.score.read, f):find("not a readable HDF5 file", 1, true))
    os.remove(f)
    f = synthetic(nil, {no_sun = true})
    local e = err_of(pf.score.read, f)
    assert.is_truthy(e:find("lacks /sun/value: it was made by an older build of phaseflow", 1, true), e)
    assert.is_truthy(e:find("--only report --force", 1, true), e)
    os.remove(f)
    f = synthetic(nil, {no_kernel = true})
    assert.is_truthy(err_of(pf.score.read, f):find("lacks the attributes kernel_h and kernel_truncate", 1, true))
    os.remove(f)
    f = synthetic(nil, {independent = {1, 2, 9}})
    assert.is_truthy(err_of(pf.score.read, f):find("/average/independent: 9 is not a location of /curves/density/gnfw (1..5)", 1, true))
    os.remove(f)
    f = synthetic()
    assert.is_truthy(err_of(pf.score.run, f, "mwpotential2014", {kernel_points = 2.5}):find("--kernel-points must be an integer >= 4", 1, true))
    os.remove(f)
  end)
end)

describe("scripts/score.lua on a test-preset run", function()
  local dir = tmpname()
  local ran, runout
  local function run()
    if not ran then
      runout, ran = support.phaseflow({"../scripts/paper.lua", "--preset", "test", "--out", dir, "--quiet"})
    end
    assert.are.equal(0, ran, runout)
    return dir .. "/results.h5"
  end

  local SECTIONS = {"1. Acceleration at the Sun", "2. Acceleration curves", "3. North-South", "r-lines",
                    "4. Kernel-smoothed density rho*K", "5. rho_DM(r_sun)", "6. Calibration"}

  it("scores the run against mwpotential2014 (exit 0, every section) and writes --out", function()
    local res = run()
    local out = tmpname(".h5")
    local text, rc = support.phaseflow({"../scripts/score.lua", res, "mwpotential2014", "--out", out})
    assert.are.equal(0, rc, text)
    for _, l in ipairs(SECTIONS) do assert.is_truthy(text:find(l, 1, true), l .. "\n" .. text) end
    for _, fam in ipairs{"r_north", "r_south", "phi_north", "phi_south", "arc", "phi0", "phi_plus", "phi_minus", "gnfw"} do
      assert.is_truthy(text:find("\n   " .. fam .. " ", 1, true), fam)
    end
    assert.is_truthy(text:find("truth kernel rule of 8192 points", 1, true))
    assert.is_truthy(pf.h5.exists(out, "/calibration"))
    assert.is_false(exists(out .. ".part"))
    os.remove(out)
  end)

  it("the report scored the run into results.h5 (/score) with the pipeline's own truth", function()
    local res = run()
    -- the scorer reproduces the pipeline's truths from what results.h5 carries: ball-averaged
    -- points, the Sun's ball, and (with the run's truth rule) the densities
    for _, n in ipairs{"r_north", "r_south", "phi_north", "phi_south", "arc"} do
      local a, b = pf.h5.read(res, "/curves/acc/" .. n .. "/truth"), pf.h5.read(res, "/score/acc/" .. n .. "/truth")
      assert.is_true((a - b):abs():max() <= 1e-12 * a:abs():max(), n)
    end
    assert.are.same(pf.h5.read(res, "/sun/truth"):totable(), pf.h5.read(res, "/score/a_sun/truth"):totable())
    for _, n in ipairs{"sun", "phi0", "phi_plus", "phi_minus", "gnfw"} do
      local a, b = pf.h5.read(res, "/curves/density/" .. n .. "/truth_rho"), pf.h5.read(res, "/score/density/" .. n .. "/truth")
      assert.is_true((a - b):abs():max() <= 1e-12 * a:abs():max(), n)
    end
    -- rho_DM(r_sun): the pipeline's truth and the scorer's, both pf.truth's Gauss rule
    local avg = pf.h5.read(res, "/average/truth"):get(1)
    assert.are.near(avg, pf.h5.read(res, "/score/rho_dm_rsun"):get(3), 1e-12 * avg)
    -- the report hands the scorer the points of the run's truth rule (test preset: 4 x 4 x 8)
    assert.are.equal(128, pf.h5.attrs(res, "/score").score_kernel_points)
    -- the independent points: the first 9 of the 13 gNFW locations (test geometry), weights positive
    assert.are.same({1, 2, 3, 4, 5, 6, 7, 8, 9}, pf.h5.read(res, "/average/independent"):totable())
    assert.is_true(pf.h5.read(res, "/average/weights_sigma"):min() > 0)
    assert.are.same({0, 0, 1, 0, 0}, pf.h5.read(res, "/curves/acc/arc/ball"):totable()) -- s = 0, 21 pc from the Sun
    local rep = assert(io.open(dir .. "/report.md")):read("a")
    assert.is_truthy(rep:find("## Scored against the truth", 1, true))
    for _, l in ipairs(SECTIONS) do assert.is_truthy(rep:find(l, 1, true), l) end
  end)

  it("takes the run's mock truth file as TRUTH", function()
    local res = run()
    local mockdir = pf.h5.attrs(dir .. "/steps/catalogue.h5", "/").mockdir
    local text, rc = support.phaseflow({"../scripts/score.lua", res, mockdir .. "/mock.h5", "--kernel-points", "64"})
    assert.are.equal(0, rc, text)
    assert.is_truthy(text:find("mock.h5) (truth kernel rule of 128 points)", 1, true), text)
    assert.is_truthy(text:find("6. Calibration", 1, true))
  end)

  it("exits with status 2 and the reason for bad inputs, without a traceback", function()
    local res = run()
    local old = tmpname(".h5")
    os.execute(("cp %s %s"):format(support.quote(res), support.quote(old)))
    pf.h5.delete(old, "/curves/density/phi0/x")
    local badlua = support.tempfile("return {potential = 'none'}\n", ".lua")
    for _, case in ipairs{
      {{dir .. "/nope.h5", "mwpotential2014"}, "RESULTS '" .. dir .. "/nope.h5': no such file"},
      {{old, "mwpotential2014"}, "RESULTS '" .. old .. "' lacks /curves/density/phi0/x: it was made by an older build"},
      {{res, "nfw2014"}, "TRUTH 'nfw2014': no such file (and not a built-in model: mwpotential2014, default, hot, heavy)"},
      {{res, badlua}, "TRUTH '" .. badlua .. "': 'potential' must be a potential object"},
      {{res, res}, "TRUTH '" .. res .. "': not a mock truth file (no /truth group"},
      {{res}, "RESULTS.h5 and TRUTH expected, got 1 argument(s)"},
      {{res, "mwpotential2014", "--kernel-points", "many"}, "--kernel-points must be an integer >= 4, got many"},
      {{res, "mwpotential2014", "--colour"}, "unknown option --colour"},
    } do
      local args = {"../scripts/score.lua"}
      for _, a in ipairs(case[1]) do args[#args + 1] = a end
      local out, rc = support.phaseflow(args)
      assert.are.equal(2, rc, out)
      assert.is_truthy(out:find("score.lua: " .. case[2], 1, true), out)
      assert.is_falsy(out:find("traceback", 1, true), out)
    end
    os.remove(old); os.remove(badlua)
    os.execute("rm -rf " .. support.quote(dir))
  end)
end)

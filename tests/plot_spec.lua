-- pf.plotkit's numbers (axis ranges, ticks, bins, contour levels) and what pf.plot writes
-- for gnuplot: labels with units, y ranges from the central values, truth drawn only
-- when there is one, corner-plot contours at the 1 and 2 sigma levels.
local pf = require "phaseflow"
local support = require "support"
local plotkit = require "phaseflow.plotkit"
local plot = require "phaseflow.plot"

-- n pairs of independent standard normal draws (seeded)
local function gaussian2(n, seed)
  local a = support.filled(n, 2, seed):totable()
  local xs, ys = {}, {}
  for i, r in ipairs(a) do xs[i], ys[i] = r[1], r[2] end
  return xs, ys
end

local function tempdir()
  local d = os.tmpname()
  os.remove(d)
  pf.fs.mkdirs(d)
  return d
end

local function read(path)
  local f = assert(io.open(path, "r"))
  local s = f:read("a")
  f:close()
  return s
end

-- every `set xlabel '...'` / `set ylabel '...'` of a gnuplot script (single-quoted), of
-- its PNG half (the PDF half repeats the body)
local function labels(gp, axis)
  local out = {}
  gp = gp:sub(1, (gp:find("set terminal pdfcairo", 1, true)))
  for l in gp:gmatch("set " .. axis .. "label '([^']*)'") do out[#out + 1] = l end
  return out
end

-- the number of ticks of a `set xtics first, step, last` command
local function ntics(cmd)
  local a, s, b = cmd:match("tics ([-%d.e+]+), ([-%d.e+]+), ([-%d.e+]+)")
  a, s, b = tonumber(a), tonumber(s), tonumber(b)
  return math.floor((b - a) / s + 1e-9) + 1, s
end

describe("pf.plotkit", function()
  it("chooses tick steps of 1, 2, 2.5, 5 x 10^k that keep the tick count within the limit", function()
    assert.are.equal(50, plotkit.nice_step(210, 5))     -- 0 50 100 150 200, not every 20
    assert.are.equal(2, plotkit.nice_step(7.3, 4))      -- 0 2 4 6
    assert.are.equal(2.5, plotkit.nice_step(11, 5))     -- 0 2.5 5 7.5 10, not every 2 (6 ticks)
    assert.are.equal(0.2, plotkit.nice_step(0.93, 6))
    for _, span in ipairs({0.0137, 0.93, 2.385, 7.3, 19.9, 210, 4371, 1.7e6}) do
      for _, m in ipairs({3, 4, 5, 7, 9}) do
        local cmd, step = plotkit.tics("x", -0.31 * span, 0.69 * span, m)
        local n = ntics(cmd)
        assert.is_true(n <= m, ("%g %d: %d ticks"):format(span, m, n))
        assert.is_true(n >= math.min(m, 3) - 1, ("%g %d: only %d ticks"):format(span, m, n))
        local mant = step / 10 ^ math.floor(math.log(step, 10) + 1e-9)
        local ok = false
        for _, q in ipairs({1, 2, 2.5, 5}) do ok = ok or math.abs(mant - q) < 1e-9 end
        assert.is_true(ok, "step " .. step)
      end
    end
  end)

  it("sets a y range from the central values and truth, not from the error bands", function()
    -- a curve near 1 whose ends have huge errors (one end off at 40): the range holds the
    -- central values, the truth and the better half's 1 sigma, with an 8% margin
    local c = {40, 1.10, 1.20, 1.15, 1.05, 0.95, -3}
    local s = {30, 0.05, 0.04, 0.05, 0.06, 0.05, 9}
    local t = {1.0, 1.02, 1.04, 1.06, 1.08, 1.10, 1.12}
    local lo, hi = plotkit.yrange{values = c, sigmas = s, truth = t}
    -- from 0.95 - 0.05 = 0.90 to 1.20 + 0.04 = 1.24, +-8% of 0.34
    assert.are.near(0.90 - 0.08 * 0.34, lo, 1e-12)
    assert.are.near(1.24 + 0.08 * 0.34, hi, 1e-12)
    -- the band ends and off-scale values are listed for marking, on the side they leave
    local x = {1, 2, 3, 4, 5, 6, 7}
    local arrows, off = plotkit.clip_marks(x, c, s, lo, hi, 2)
    assert.are.equal(2, #off)
    assert.are.same({1, "above"}, {off[1][1], off[1][5]})
    assert.are.same({7, "below"}, {off[2][1], off[2][5]})
    assert.are.equal(40, off[1][3])
    -- 2 sigma of points 2..6 stay inside except points 3 (1.20 + 0.08 > hi) and 6
    local up, down = {}, {}
    for _, a in ipairs(arrows) do
      if a[4] > 0 then up[#up + 1] = a[1] else down[#down + 1] = a[1] end
      assert.is_true(a[2] >= lo and a[2] <= hi)
    end
    assert.are.same({1, 3}, up)
    assert.are.same({6, 7}, down)                -- 0.95 - 2 x 0.05 < lo
    -- without truth or sigmas: only the central values
    local lo2, hi2 = plotkit.yrange{values = {2, 3, 6}}
    assert.are.near(2 - 0.32, lo2, 1e-12); assert.are.near(6 + 0.32, hi2, 1e-12)
  end)

  it("clips a band to the y range exactly: the visible area of a band that leaves it", function()
    -- one end far above the range (4371 +- 3472, as at the end of a density curve)
    local x = {-3, -2.25, -1.5, -0.75}
    local a = {899, -42.1, 2.0, -0.9}
    local b = {7843, 61.9, 6.7, 2.4}
    local lo, hi = -1.7, 9.2
    local rows = plotkit.clip_band(x, a, b, lo, hi)
    local area = 0
    for i = 2, #rows do
      assert.is_true(rows[i][1] >= rows[i - 1][1])
      for k = 2, 3 do assert.is_true(rows[i][k] >= lo and rows[i][k] <= hi) end
      local w0, w1 = rows[i - 1][3] - rows[i - 1][2], rows[i][3] - rows[i][2]
      area = area + 0.5 * (w0 + w1) * (rows[i][1] - rows[i - 1][1])
    end
    -- the same area by brute force: the linear edges clamped on a fine grid
    local exact, n = 0, 200000
    for j = 0, n - 1 do
      local u = x[1] + (x[#x] - x[1]) * (j + 0.5) / n
      local i = math.min(#x - 1, math.floor((u - x[1]) / 0.75) + 1)
      local t = (u - x[i]) / (x[i + 1] - x[i])
      local ea = math.max(lo, math.min(hi, a[i] + t * (a[i + 1] - a[i])))
      local eb = math.max(lo, math.min(hi, b[i] + t * (b[i + 1] - b[i])))
      exact = exact + (eb - ea) * (x[#x] - x[1]) / n
    end
    assert.are.near(exact, area, 1e-3 * exact)
    -- clamping the points alone would fill the whole first interval: 0.75 x 10.9 / 2 more
    assert.is_true(#rows > #x)
  end)

  it("bins Fig. 9 on equal bins, an odd number, one centred on 0, normalised to unit area", function()
    local xs = gaussian2(20000, 11)
    for i = 1, #xs do xs[i] = 3 * xs[i] - 4.6 end
    local e = plotkit.centred_edges(xs)
    local nb = #e - 1
    assert.are.equal(1, nb % 2)
    local mid = (nb + 1) // 2
    assert.are.near(0, (e[mid] + e[mid + 1]) / 2, 1e-12)
    for i = 2, nb do assert.are.near(e[2] - e[1], e[i + 1] - e[i], 1e-9) end
    local rows, out = plotkit.histogram(xs, e)
    local area = 0
    for _, r in ipairs(rows) do area = area + r[2] * (e[2] - e[1]) end
    assert.are.near(1 - out, area, 1e-9)
    assert.is_true(out > 0.005 and out < 0.03) -- the 1-99% quantiles set the range
  end)

  it("puts the 1 and 2 sigma contours of a 2-D Gaussian sample at r = 1 and 2 (39.3%, 86.5%)", function()
    local xs, ys = gaussian2(60000, 5)
    local g = plotkit.hist2d(xs, ys, -5, 5, -5, 5, 50, 50)
    local lv = plotkit.hpd_levels(g, {0.393, 0.865})
    assert.is_true(lv[1] > lv[2])
    -- the fraction of the samples in the cells at or above each level
    local n = #xs
    for k, want in ipairs({0.393, 0.865}) do
      local inside = 0
      for _, row in ipairs(g) do for _, v in ipairs(row) do if v >= lv[k] then inside = inside + v end end end
      assert.are.near(want, inside / n, 0.01)
    end
    -- the contour lines of the smoothed histogram lie on circles of radius 1 and 2
    local gs, geos = plotkit.hist2d(xs, ys, -5, 5, -5, 5, 50, 50, true)
    local ls = plotkit.hpd_levels(gs, {0.393, 0.865})
    for k, radius in ipairs({1, 2}) do
      local segs = plotkit.contour(gs, geos, ls[k])
      assert.is_true(#segs > 20)
      local sum, worst = 0, 0
      for _, sg in ipairs(segs) do
        local r = math.sqrt(sg[1][1] ^ 2 + sg[1][2] ^ 2)
        sum = sum + r
        worst = math.max(worst, math.abs(r - radius))
      end
      assert.are.near(radius, sum / #segs, 0.05 * radius)
      assert.is_true(worst < 0.25 * radius, "worst " .. worst)
    end
  end)

  it("spreads points that share an abscissa, leaves lone points in place", function()
    local off = plot.spread({8.122, 6.3, 8.122, 8.122, 10.2}, 0.05, 0.3, 0.07)
    assert.are.same({-0.07, 0, 0, 0.07, 0}, {off[1], off[2], off[3], off[4], off[5]})
    local many = {}
    for i = 1, 15 do many[i] = 8.122 end
    off = plot.spread(many, 0.05, 0.3, 0.07)
    assert.are.near(-0.3, off[1], 1e-12); assert.are.near(0.3, off[15], 1e-12)
  end)
end)

describe("pf.plot writes", function()
  local x = {5, 6, 7, 8, 9, 10, 11}
  local c = {-2.9, -2.4, -2.1, -1.8, -1.6, -1.45, 0.7}
  local s = {0.8, 0.12, 0.1, 0.08, 0.09, 0.11, 5}
  local t = {-2.85, -2.45, -2.15, -1.85, -1.62, -1.47, -1.35}

  local function panel_figure(truth)
    local dir = tempdir()
    local text, data, lo, hi = plot.band_panel("a", {xlabel = "r [kpc]", ylabel = "a_r [" .. plot.UNITS.acc .. "]",
      series = {{name = "North", color = "#d08c00", x = x, c = c, s = s, truth = truth}}})
    local fig = plot.figure{dir = dir, name = "panel", title = "test", body = text, data = data, size = "600,400"}
    return dir, read(dir .. "/figdata/panel.gp"), lo, hi, fig
  end

  it("a curve panel: labels with units, the y range from central values and truth, marks, truth dashed", function()
    local dir, gp, lo, hi, fig = panel_figure(t)
    assert.is_true(io.open(fig.png) ~= nil and io.open(fig.pdf) ~= nil)
    assert.are.same({"r [kpc]"}, labels(gp, "x"))
    assert.are.same({"a_r [10^{-10} m s^{-2}]"}, labels(gp, "y"))
    local ylo, yhi = gp:match("set yrange %[([-%d.e]+):([-%d.e]+)%]")
    assert.are.near(lo, tonumber(ylo), 1e-9); assert.are.near(hi, tonumber(yhi), 1e-9)
    -- from the truth's -2.85 and the central -1.45 (the last point, 0.7 +- 5, is off scale)
    assert.is_true(lo < -2.85 and lo > -3.3 and hi > -1.35 and hi < -1.0, lo .. " " .. hi)
    -- the bands reach -4.5 (first point, 2 sigma) and 10.7: not the range
    assert.is_true(lo > -2.9 - 2 * 0.8 and hi < 0.7)
    assert.truthy(gp:find("u 1:4 w l dt 2", 1, true))             -- the truth, dashed
    assert.truthy(gp:find("t 'North, truth'", 1, true))
    assert.truthy(gp:find("w vectors", 1, true))                 -- band ends marked
    assert.truthy(gp:find("set label '0.7 ± 5'", 1, true))       -- the off-scale value written
    local marks = read(dir .. "/figdata/panel_a_clip.dat")
    assert.truthy(marks:find("^5 "))                              -- the first point's band leaves
    assert.truthy(marks:find("\n11 "))
  end)

  it("a curve panel without truth draws none", function()
    local _, gp = panel_figure(nil)
    assert.is_nil(gp:find("truth", 1, true))
    assert.is_nil(gp:find("dt 2", 1, true))
  end)

  it("a corner plot: 1 and 2 sigma contours, truth and median lines, few ticks, labels with units", function()
    local xs, ys = gaussian2(20000, 9)
    local samples = {}
    for i = 1, #xs do samples[i] = {40 + 30 * xs[i], 3.5 + 1.2 * ys[i], 1 + 0.5 * xs[i] + 0.3 * ys[i]} end
    local dir = tempdir()
    local spec = {dir = dir, name = "corner", title = "test corner", samples = samples,
      labels = {"ρ_0 [" .. plot.UNITS.rho .. "]", "r_s [kpc]", "β [dimensionless]"}, short = {"ρ_0", "r_s", "β"},
      truth = {45, 3.3, 1.1}}
    local res = plot.corner(spec)
    local gp = read(dir .. "/figdata/corner.gp")
    -- axis labels: the bottom row and the left column, with units
    local xl = {}
    for _, l in ipairs(labels(gp, "x")) do if l ~= "" then xl[#xl + 1] = l end end
    assert.are.same({"ρ_0 [10^{-2} M_⊙ pc^{-3}]", "r_s [kpc]", "β [dimensionless]"}, xl)
    -- at most 5 ticks on every axis
    for cmd in gp:gmatch("set [xy]tics [^\n]+") do
      if cmd:find("^set [xy]tics [-%d]") then assert.is_true(ntics(cmd) <= 5, cmd) end
    end
    -- the truth lines (black, dashed) at the truth, and the median lines
    for _, v in ipairs({45, 3.3, 1.1}) do
      local line = ("first %.10g, graph 0 to first %.10g, graph 1 nohead lc rgb '#000000' dt 2"):format(v, v)
      assert.truthy(gp:find(line, 1, true), v)
    end
    assert.truthy(gp:find("truth of the mock", 1, true))
    -- 3 off-diagonal panels, two contour files each, whose levels hold 39.3% and 86.5%
    local nlev = 0
    for key, lv in pairs(res.levels) do
      nlev = nlev + 1
      assert.is_true(lv[1] > lv[2], key)
      for k = 1, 2 do
        local rows = read(dir .. ("/figdata/corner_c%s%s_%d.dat"):format(key:sub(1, 1), key:sub(3, 3), k))
        assert.is_true(#rows > 200, key)
      end
    end
    assert.are.equal(3, nlev)
    -- without truth: no truth lines, no truth in the legend
    local dir2 = tempdir()
    spec.dir, spec.truth = dir2, nil
    plot.corner(spec)
    local gp2 = read(dir2 .. "/figdata/corner.gp")
    assert.is_nil(gp2:find("#000000' dt 2", 1, true))
    assert.is_nil(gp2:find("truth", 1, true))
  end)
end)

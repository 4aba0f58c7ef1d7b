-- luacheck: no max line length
-- pf.plot: figures through gnuplot (Debian gnuplot-nox has the pngcairo and pdfcairo
-- terminals). Why gnuplot: one small Debian package, no Python, vector PDF and PNG from
-- the same script, and the scripts it leaves beside each figure (NAME.gp + NAME_*.dat)
-- can be edited and re-run by hand. A C plotting library would have to be built and bound.
--
--   pf.plot.figure{name = "fig", dir = "out", title = ..., body = gnuplot text, data = {tag = rows}}
--
-- What every figure keeps to (the numbers come from pf.plotkit, tested there):
--   * every axis has a label with its unit (gnuplot's enhanced text: a_r, 10^{-10});
--   * a curve panel's y range comes from its central values and its truth with a margin,
--     never from its error bands; where a band or a central value leaves the range, an
--     arrow at the edge marks it (and an off-scale central value is written beside it);
--   * with a mock input (a truth), the truth is drawn, dashed, with its own legend entry;
--     without one, nothing stands for it;
--   * ticks at 1, 2, 2.5 or 5 times a power of ten, few enough not to overlap.
local core = require "phaseflow.core"
local h5 = require "phaseflow.h5"
local units = require "phaseflow.units"
local equilibrium = require "phaseflow.equilibrium"
local gnfw = require "phaseflow.gnfw"
local geometry = require "phaseflow.geometry"
local plotkit = require "phaseflow.plotkit"
local array = core.array
local fs = require "phaseflow.fs"

local plot = {}

-- units of the axes (gnuplot enhanced text)
plot.UNITS = {
  kpc = "kpc", rad = "rad", acc = "10^{-10} m s^{-2}", rho = "10^{-2} M_⊙ pc^{-3}",
  vel = "km s^{-1}", dlnf = "km s^{-1} kpc^{-1}",
}

local TRUTH_COLOR = "#000000"

local function write_dat(path, rows)
  local out = {}
  for k, r in ipairs(rows) do
    local s = {}
    for i, v in ipairs(r) do s[i] = v ~= v and "NaN" or ("%.8g"):format(v) end
    out[k] = table.concat(s, " ") .. "\n"
  end
  fs.write(path, table.concat(out))
end

--- Writes DIR/NAME.png and DIR/NAME.pdf. `body` refers to data files as '<tag>'
--- (replaced by the quoted file name). Returns {png, pdf, title}.
--- gnuplot runs in DIR without a shell, and the script names its files relative to DIR,
--- so any DIR works (spaces, quotes, non-ASCII); each figure is written as .part and
--- renamed, like every file of a run. Text is gnuplot's enhanced text in UTF-8 (a_r is
--- a subscript r, 10^{-2} a power), so a plain underscore in a label must be escaped.
function plot.figure(fig)
  local dir, name = fig.dir, fig.name
  local body = fig.body
  fs.mkdirs(dir .. "/figdata")
  for tag, rows in pairs(fig.data or {}) do
    local rel = ("figdata/%s_%s.dat"):format(name, tag)
    write_dat(dir .. "/" .. rel, rows)
    body = body:gsub("<" .. tag .. ">", "'" .. rel .. "'")
  end
  local size = fig.size or "900,650"
  local w, h = size:match("(%d+),(%d+)")
  local gp = ("%s/figdata/%s.gp"):format(dir, name)
  fs.write(gp, table.concat{
    "set encoding utf8\n",
    ("set terminal pngcairo enhanced size %s font 'sans,10'\nset output '%s.png.part'\n"):format(size, name),
    body, "\nunset multiplot\n",
    ("set terminal pdfcairo enhanced size %gin,%gin font 'sans,7'\nset output '%s.pdf.part'\n"):format(
      tonumber(w) / 100, tonumber(h) / 100, name),
    body, "\nunset multiplot\nset output\n"})
  local ok, status = pcall(fs.run, {"gnuplot", ("figdata/%s.gp"):format(name)},
                           {cwd = dir, log = ("figdata/%s.log"):format(name)})
  if not ok or status ~= 0 then
    error(("pf.plot: gnuplot failed on %s (see %s/figdata/%s.log; is gnuplot-nox installed?)"):format(gp, dir, name), 2)
  end
  local png, pdf = ("%s/%s.png"):format(dir, name), ("%s/%s.pdf"):format(dir, name)
  fs.commit(png .. ".part", png)
  fs.commit(pdf .. ".part", pdf)
  return {png = png, pdf = pdf, title = fig.title}
end

local function finite(v) return v == v and v > -math.huge and v < math.huge end

local function any_finite(t)
  for _, v in ipairs(t or {}) do if finite(v) then return true end end
  return false
end

-- a number for a label: 3 significant digits, no exponent between 1e-3 and 1e5
local function num(x)
  local a = math.abs(x)
  if a >= 1e5 or (a < 1e-3 and a > 0) then return ("%.2e"):format(x) end
  if a >= 100 then return ("%.0f"):format(x) end
  return ("%.3g"):format(x)
end

-- "3.2 ± 1.1"
local function pm(c, s)
  if not finite(s) or s <= 0 then return num(c) end
  return num(c) .. " ± " .. num(s)
end

--- One curve panel (Figs. 8 and 10): its gnuplot commands and data. spec: xlabel, ylabel
--- (with units), series = list of {name, color, x, c (central), s (1 sigma, optional),
--- truth (optional: drawn dashed when it has a finite value), bands (default {1, 2})},
--- points = list of {name, color, pt, x, c, s} (error bars), key (true: legend), xrange
--- {lo, hi} (default the series' x), include (values the y range must hold), extra (list
--- of gnuplot plot clauses).
--- The y range is pf.plotkit.yrange of the central values (and points) and truths; band
--- ends and central values beyond it are marked with arrows (pf.plotkit.clip_marks).
--- `prefix` names the data tags. Returns the text (a `set ...` block and one `plot`
--- line, labels and ranges unset after it), the data {tag = rows}, and the y range.
function plot.band_panel(prefix, spec)
  local data, clauses, pre = {}, {}, {}
  local vals, sigs, tru = {}, {}, {}
  local xlo, xhi = math.huge, -math.huge
  for _, se in ipairs(spec.series) do
    for i = 1, #se.x do
      vals[#vals + 1], sigs[#sigs + 1] = se.c[i], se.s and se.s[i] or 0
      if se.truth then tru[#tru + 1] = se.truth[i] end
      xlo, xhi = math.min(xlo, se.x[i]), math.max(xhi, se.x[i])
    end
  end
  for _, p in ipairs(spec.points or {}) do
    for i = 1, #p.x do vals[#vals + 1], sigs[#sigs + 1] = p.c[i], p.s and p.s[i] or 0 end
  end
  local lo, hi = plotkit.yrange{values = vals, sigmas = sigs, truth = tru, include = spec.include}
  if spec.xrange then xlo, xhi = spec.xrange[1], spec.xrange[2] end
  local arrows, offs = {}, {}
  for k, se in ipairs(spec.series) do
    local tag = ("%s_s%d"):format(prefix, k)
    local bands = se.bands or {1, 2}
    local rows = {}
    for i = 1, #se.x do
      rows[i] = {se.x[i], se.c[i], se.s and se.s[i] or 0, se.truth and se.truth[i] or 0 / 0}
    end
    data[tag] = rows
    if se.s then
      -- each band clipped to the y range (pf.plotkit.clip_band), in its own file
      for b = #bands, 1, -1 do
        local n, ea, eb = bands[b], {}, {}
        for i = 1, #se.x do ea[i], eb[i] = se.c[i] - n * se.s[i], se.c[i] + n * se.s[i] end
        data[("%s_b%d"):format(tag, b)] = plotkit.clip_band(se.x, ea, eb, lo, hi)
        clauses[#clauses + 1] = ("<%s_b%d> u 1:2:3 w filledcurves fs transparent solid %.2f noborder lc rgb '%s' notitle"):format(
          tag, b, b == 1 and 0.35 or 0.15, se.color)
      end
      local a, o = plotkit.clip_marks(se.x, se.c, se.s, lo, hi, bands[#bands])
      for _, r in ipairs(a) do arrows[#arrows + 1] = r end
      for _, r in ipairs(o) do offs[#offs + 1] = r end
    end
    clauses[#clauses + 1] = ("<%s> u 1:2 w l lw 2 lc rgb '%s' t '%s'"):format(tag, se.color, se.name)
    if se.truth and any_finite(se.truth) then
      clauses[#clauses + 1] = ("<%s> u 1:4 w l dt 2 lw 2 lc rgb '%s' t '%s'"):format(tag, se.color,
        se.truth_name or (se.name .. ", truth"))
    end
  end
  for k, p in ipairs(spec.points or {}) do
    local tag = ("%s_p%d"):format(prefix, k)
    local rows = {}
    for i = 1, #p.x do rows[i] = {p.x[i], p.c[i], p.s and p.s[i] or 0} end
    data[tag] = rows
    clauses[#clauses + 1] = ("<%s> u 1:2:3 w yerrorbars pt %d ps 1.1 lc rgb '%s' t '%s'"):format(tag, p.pt or 7, p.color, p.name)
    local a, o = plotkit.clip_marks(p.x, p.c, p.s, lo, hi, 1)
    for _, r in ipairs(a) do arrows[#arrows + 1] = r end
    for _, r in ipairs(o) do offs[#offs + 1] = r end
  end
  for _, c in ipairs(spec.extra or {}) do clauses[#clauses + 1] = c end
  if #arrows > 0 then
    local tag = prefix .. "_clip"
    data[tag] = arrows
    clauses[#clauses + 1] = ("<%s> u 1:2:3:4 w vectors head filled size screen 0.008,30 lw 1.5 lc rgb '#555555' t 'beyond the axis'"):format(tag)
  end
  for _, o in ipairs(offs) do
    -- upright beside its arrow, running into the panel from the edge
    local right = (o[1] - xlo) > 0.5 * (xhi - xlo)
    pre[#pre + 1] = ("set label '%s' at %.8g, %.8g rotate by 90 %s offset %s,0 font ',8' tc rgb '#555555' front"):format(
      pm(o[3], o[4]), o[1], o[5] == "above" and hi or lo, o[5] == "above" and "right" or "left", right and "-0.9" or "0.9")
  end
  -- the legend where it hides the fewest central values and truths
  local kx, ky = {}, {}
  for _, se in ipairs(spec.series) do
    for i = 1, #se.x do
      kx[#kx + 1], ky[#ky + 1] = se.x[i], se.c[i]
      if se.truth then kx[#kx + 1], ky[#ky + 1] = se.x[i], se.truth[i] end
    end
  end
  for _, p in ipairs(spec.points or {}) do
    for i = 1, #p.x do kx[#kx + 1], ky[#ky + 1] = p.x[i], p.c[i] end
  end
  -- an off-scale value's label runs a third of the way in from the edge
  for _, o in ipairs(offs) do
    for f = 0.05, 0.35, 0.1 do
      kx[#kx + 1], ky[#ky + 1] = o[1], o[5] == "above" and hi - f * (hi - lo) or lo + f * (hi - lo)
    end
  end
  local corner = plotkit.key_corner(kx, ky, xlo, xhi, lo, hi)
  local text = table.concat{
    ("set xlabel '%s'; set ylabel '%s'\n"):format(spec.xlabel, spec.ylabel),
    ("set xrange [%.10g:%.10g]; set yrange [%.10g:%.10g]\n"):format(xlo, xhi, lo, hi),
    plotkit.tics("x", xlo, xhi, spec.xticks or 7), "\n", plotkit.tics("y", lo, hi, 7), "\n",
    spec.key == false and "set key off\n" or ("set key on %s opaque box lc rgb '#bbbbbb' samplen 2.5 font ',8'\n"):format(corner),
    #pre > 0 and table.concat(pre, "\n") .. "\n" or "",
    "plot ", table.concat(clauses, ", \\\n  "), "\n",
    "unset label; set autoscale; set xtics autofreq; set ytics autofreq; set key default\n"}
  return text, data, lo, hi
end

local function rd(file, path) return (h5.read(file, path)) end

local function merge(into, from) for k, v in pairs(from) do into[k] = v end end

-- Fig. 7: 1-D histograms of the training data (points, Poisson errors) and flow samples (line).
local function fig7(P, dir)
  local sf = P:file("selection")
  local x = rd(sf, "/train/base/x")
  local v = rd(sf, "/train/base/v")
  local f = P:densities_f()[1].f
  local n = math.min(20000, (x:shape()))
  local xs = f.nx:sample(n, nil, {seed = 5, log_prob = false})  -- positions only
  local vs = f:sample_v(P.geom.sun, n, {qmc = false, seed = 6})
  -- data velocities near the Sun to compare with p(v | x_sun)
  local near = {}
  local xt, vt = x:totable(), v:totable()
  for i = 1, #xt do
    local d = math.sqrt((xt[i][1] - P.geom.sun[1]) ^ 2 + xt[i][2] ^ 2 + (xt[i][3] - P.geom.sun[3]) ^ 2)
    if d < 1 then near[#near + 1] = vt[i] end
  end
  local U = plot.UNITS
  local names = {{"x", U.kpc}, {"y", U.kpc}, {"z", U.kpc}, {"v_x", U.vel}, {"v_y", U.vel}, {"v_z", U.vel}}
  local xst, vst = xs:totable(), vs:totable()
  local data = {}
  local body = {"set multiplot layout 2,3 title \"Fig. 7 analogue: training stars (points, Poisson errors) and flow samples (line)\\n{/*0.85 velocities: stars within 1 kpc of the Sun against the flow p(v | x_⊙)}\""}
  for j = 1, 6 do
    local dv, fv = {}, {}
    local src, fsrc = j <= 3 and xt or near, j <= 3 and xst or vst
    local k = (j - 1) % 3 + 1
    for i, r in ipairs(src) do dv[i] = r[k] end
    for i, r in ipairs(fsrc) do fv[i] = r[k] end
    local s = plotkit.sorted(dv)
    local lo, hi = plotkit.quantile(s, 0.005), plotkit.quantile(s, 0.995)
    if not (hi > lo) then lo, hi = -1, 1 end -- luacheck: ignore 581
    local e = plotkit.edges(lo, hi, 30)
    data["d" .. j], data["f" .. j] = plotkit.histogram(dv, e), plotkit.histogram(fv, e)
    local ymax = 0
    for _, t in ipairs({data["d" .. j], data["f" .. j]}) do
      for _, r in ipairs(t) do ymax = math.max(ymax, r[2] + r[3]) end
    end
    local unit = names[j][2]
    local ylab = j <= 3 and ("p(%s) [kpc^{-1}]"):format(names[j][1]) or ("p(%s) [(km s^{-1})^{-1}]"):format(names[j][1])
    body[#body + 1] = table.concat{
      ("set xlabel '%s [%s]'; set ylabel '%s'; set xrange [%.10g:%.10g]; set yrange [0:%.10g]\n"):format(names[j][1], unit, ylab, lo, hi,
        ymax > 0 and 1.08 * ymax or 1),
      plotkit.tics("x", lo, hi, 6), "\n", j == 1 and "set key top right\n" or "set key off\n",
      ("plot <d%d> u 1:2:3 w yerrorbars pt 7 ps 0.5 lc rgb 'black' t 'data', <f%d> u 1:2 w histeps lw 2 lc rgb '#c0392b' t 'flows'\n"):format(j, j),
      "set xtics autofreq; set autoscale"}
  end
  return plot.figure{dir = dir, name = "fig7_histograms", title = "Fig. 7 data vs flow samples",
                     body = table.concat(body, "\n"), data = data, size = "1100,650"}
end

-- Fig. 8: a_r, a_theta, a_phi along r, phi, s with 1/2 sigma bands, truth, and the
-- symmetry measures of the paper's subpanels: (a_r^N - a_r^S)/|a^N|, (a_theta^N + a_theta^S)/|a^N|,
-- a_phi/|a|.
local COLORS = {north = "#d08c00", south = "#6a3d9a", arc = "#2c3e50"}
local function fig8(P, dir)
  local af = P:file("accelerations")
  local mock = P:is_mock()
  local U = plot.UNITS
  local figs = {}
  for _, ax in ipairs({{"r", {"r_north", "r_south"}, "r [kpc]"}, {"phi", {"phi_north", "phi_south"}, "φ [rad]"},
                       {"s", {"arc"}, "s [kpc]"}}) do
    local per = {}
    for ci, cname in ipairs(ax[2]) do
      local c = P.geom.curves[cname]
      local v, s = P:budget(af, cname)
      local t = rd(af, "/truth/" .. cname)
      local vr, vth, vph = equilibrium.spherical(c.x, v)
      local tr, tth, tph = equilibrium.spherical(c.x, t)
      local vsd = {equilibrium.spherical(c.x, v + s)}
      local comp = {{}, {}, {}}
      for k = 1, 3 do comp[k] = {x = {}, c = {}, s = {}, t = {}} end
      local mag, tmag = {}, {}
      for i = 1, c.n do
        for k, q in ipairs({{vr, tr}, {vth, tth}, {vph, tph}}) do
          -- sigma of a spherical component from the Cartesian sigmas (rotation: |R s| bound)
          local sig = math.abs(vsd[k]:get(i) - q[1]:get(i))
          local sc = math.sqrt(s:get(i, 1) ^ 2 + s:get(i, 2) ^ 2 + s:get(i, 3) ^ 2)
          sig = math.max(sig, sc / math.sqrt(3))
          comp[k].x[i], comp[k].c[i] = c.t[i], units.acc_to_1e10(q[1]:get(i))
          comp[k].s[i], comp[k].t[i] = units.acc_to_1e10(sig), units.acc_to_1e10(q[2]:get(i))
        end
        mag[i] = math.sqrt(comp[1].c[i] ^ 2 + comp[2].c[i] ^ 2 + comp[3].c[i] ^ 2)
        tmag[i] = math.sqrt(comp[1].t[i] ^ 2 + comp[2].t[i] ^ 2 + comp[3].t[i] ^ 2)
      end
      local side = cname:match("north") and "north" or cname:match("south") and "south" or "arc"
      per[ci] = {comp = comp, mag = mag, tmag = tmag, side = side,
                 name = side == "north" and "North (z = +1.5 kpc)" or side == "south" and "South (z = -1.5 kpc)" or "polar arc (φ = 0)"}
    end
    local data = {}
    local body = {("set multiplot layout 2,2 title \"Fig. 8 analogue: accelerations along %s\\n{/*0.85 bands 1σ (dark) and 2σ (light)%s; arrows: a band or value beyond the axis}\""):format(
      ax[1] == "phi" and "φ (r = r_⊙)" or ax[1], mock and "; dashed: truth of the mock" or "")}
    local lab = {"a_r", "a_θ", "a_φ"}
    for k = 1, 3 do
      local series = {}
      for ci, p in ipairs(per) do
        series[ci] = {name = p.name, color = COLORS[p.side], x = p.comp[k].x, c = p.comp[k].c, s = p.comp[k].s,
                      truth = mock and p.comp[k].t or nil, truth_name = #per == 1 and "truth" or p.name:match("^%S+") .. ", truth"}
      end
      local text, d = plot.band_panel(("%s_k%d"):format(ax[1], k), {xlabel = ax[3], ylabel = ("%s [%s]"):format(lab[k], U.acc),
        series = series, key = k == 1})
      body[#body + 1] = text
      merge(data, d)
    end
    -- the symmetry panel
    local rows, clauses = {}, {}
    local n = #per[1].comp[1].x
    for i = 1, n do
      local N = per[1]
      local row = {N.comp[1].x[i], N.comp[3].c[i] / N.mag[i], N.comp[3].t[i] / N.tmag[i]}
      if #per == 2 then
        local S = per[2]
        row[#row + 1] = (N.comp[1].c[i] - S.comp[1].c[i]) / N.mag[i]
        row[#row + 1] = (N.comp[2].c[i] + S.comp[2].c[i]) / N.mag[i]
        row[#row + 1] = S.comp[3].c[i] / S.mag[i]
        row[#row + 1] = (N.comp[1].t[i] - S.comp[1].t[i]) / N.tmag[i]
        row[#row + 1] = (N.comp[2].t[i] + S.comp[2].t[i]) / N.tmag[i]
        row[#row + 1] = S.comp[3].t[i] / S.tmag[i]
      end
      rows[i] = row
    end
    data[ax[1] .. "_sym"] = rows
    local vals = {}
    for _, r in ipairs(rows) do
      vals[#vals + 1] = r[2]
      for j = 4, math.min(6, #r) do vals[#vals + 1] = r[j] end
      if mock then vals[#vals + 1] = r[3]; for j = 7, #r do vals[#vals + 1] = r[j] end end
    end
    local lo, hi = plotkit.yrange{values = vals, include = {0}}
    local kx, ky = {}, {}
    for _, r in ipairs(rows) do for j = 2, #r do kx[#kx + 1], ky[#ky + 1] = r[1], r[j] end end
    local tag = "<" .. ax[1] .. "_sym>"
    if #per == 2 then
      clauses[#clauses + 1] = tag .. " u 1:4 w lp pt 7 ps 0.6 lw 2 lc rgb '#c0392b' t '(a@_r^N - a@_r^S)/|a^N|'"
      clauses[#clauses + 1] = tag .. " u 1:5 w lp pt 5 ps 0.6 lw 2 lc rgb '#2980b9' t '(a@_θ^N + a@_θ^S)/|a^N|'"
      clauses[#clauses + 1] = tag .. " u 1:2 w lp pt 9 ps 0.7 lw 2 lc rgb '" .. COLORS.north .. "' t 'a_φ/|a|, North'"
      clauses[#clauses + 1] = tag .. " u 1:6 w lp pt 11 ps 0.7 lw 2 lc rgb '" .. COLORS.south .. "' t 'a_φ/|a|, South'"
      if mock then
        clauses[#clauses + 1] = tag .. " u 1:7 w l dt 2 lw 1.5 lc rgb '#c0392b' t 'truth'"
        clauses[#clauses + 1] = tag .. " u 1:8 w l dt 2 lw 1.5 lc rgb '#2980b9' notitle"
        clauses[#clauses + 1] = tag .. " u 1:9 w l dt 2 lw 1.5 lc rgb '" .. COLORS.south .. "' notitle"
      end
    else
      clauses[#clauses + 1] = tag .. " u 1:2 w lp pt 9 ps 0.7 lw 2 lc rgb '" .. COLORS.arc .. "' t 'a_φ/|a|'"
    end
    if mock then clauses[#clauses + 1] = tag .. " u 1:3 w l dt 2 lw 1.5 lc rgb '" .. COLORS[per[1].side] .. "' t 'a_φ/|a|, truth'" end
    clauses[#clauses + 1] = "0 dt 3 lc rgb 'black' notitle"
    local xs = per[1].comp[1].x
    body[#body + 1] = table.concat{
      ("set xlabel '%s'; set ylabel '%s [dimensionless]'\n"):format(ax[3], #per == 2 and "N-S asymmetry and a_φ/|a|" or "a_φ/|a|"),
      ("set xrange [%.10g:%.10g]; set yrange [%.10g:%.10g]\n"):format(xs[1], xs[#xs], lo, hi),
      plotkit.tics("x", xs[1], xs[#xs], 7), "\n", plotkit.tics("y", lo, hi, 7), "\n",
      ("set key on %s opaque box lc rgb '#bbbbbb' font ',8' samplen 2.5\nplot "):format(plotkit.key_corner(kx, ky, xs[1], xs[#xs], lo, hi)),
      table.concat(clauses, ", \\\n  "), "\nset autoscale; set key default"}
    figs[#figs + 1] = plot.figure{dir = dir, name = "fig8_acc_" .. ax[1], title = "Fig. 8 accelerations along " .. ax[1],
                                  body = table.concat(body, "\n"), data = data, size = "1100,800"}
  end
  return figs
end

-- Fig. 9: d ln f / dt at the Sun over velocities drawn from the flows, with the
-- flows' own acceleration; both distributions (flows, and the exact mock f with the true
-- acceleration) on one set of bins, equal widths, one bin centred on 0 (pf.plotkit.centred_edges).
local function fig9(P, dir)
  local ef = P:file("equilibrium")
  local a, t = rd(ef, "/dlnf_dt/flows"):totable(), rd(ef, "/dlnf_dt/truth"):totable()
  local edges = plotkit.centred_edges(a)
  local hf, out = plotkit.histogram(a, edges)
  local width = edges[2] - edges[1]
  local s = plotkit.sorted(a)
  local mean, var = 0, 0
  for _, v in ipairs(s) do mean = mean + v end
  mean = mean / math.max(1, #s)
  for _, v in ipairs(s) do var = var + (v - mean) ^ 2 end
  local sem = math.sqrt(var / math.max(1, #s - 1) / math.max(1, #s))
  local ymax = 0
  for _, r in ipairs(hf) do ymax = math.max(ymax, r[2]) end
  ymax = ymax > 0 and 1.15 * ymax or 1
  local data = {f = hf, m = {{mean, 0}, {mean, ymax}}}
  local clauses = {("<f> u 1:2 w histeps lw 2 lc rgb '#2980b9' t 'flows (their acceleration at the Sun)'"),
                   ("<m> u 1:2 w l dt 4 lw 1.5 lc rgb '#2980b9' t 'flows: mean %s'"):format(pm(mean, sem))}
  local ts = plotkit.sorted(t)
  local note = ""
  if #ts > 0 then
    local tlo, thi = ts[1], ts[#ts]
    if thi - tlo < width / 10 then
      -- the exact f is in equilibrium: its d ln f/dt is 0 to rounding, a line, not a histogram
      data.t = {{(tlo + thi) / 2, 0}, {(tlo + thi) / 2, ymax}}
      clauses[#clauses + 1] = ("<t> u 1:2 w l dt 2 lw 2 lc rgb '%s' t 'truth: exact mock f, true acceleration (all within %.1e of 0)'"):format(
        TRUTH_COLOR, math.max(math.abs(tlo), math.abs(thi)))
    else
      data.t = plotkit.histogram(t, edges)
      clauses[#clauses + 1] = ("<t> u 1:2 w histeps dt 2 lw 2 lc rgb '%s' t 'truth: exact mock f, true acceleration'"):format(TRUTH_COLOR)
    end
  end
  if out > 0 then note = ("set label '%.1f%% of the flows'' values lie beyond the axis' at graph 0.02, graph 0.70 font ',9'\n"):format(100 * out) end
  local lo, hi = edges[1], edges[#edges]
  local body = table.concat{
    "set title 'Fig. 9 analogue: ∂ ln f/∂t at the Sun over velocities drawn from p(v | x_⊙)'\n",
    ("set xlabel '∂ ln f/∂t [%s]'; set ylabel 'probability density [(%s)^{-1}]'\n"):format(plot.UNITS.dlnf, plot.UNITS.dlnf),
    ("set xrange [%.10g:%.10g]; set yrange [0:%.10g]\n"):format(lo, hi, ymax),
    plotkit.tics("x", lo, hi, 9), "\n", note,
    ("set label 'bins: %d of width %.3g, one centred on 0' at graph 0.02, graph 0.65 font ',9'\n"):format(#edges - 1, width),
    "set key top right font ',9' opaque box lc rgb '#bbbbbb'\nplot ", table.concat(clauses, ", "), "\n"}
  return plot.figure{dir = dir, name = "fig9_dlnf_dt", title = "Fig. 9 d ln f / dt at the Sun", body = body, data = data}
end

-- Fig. 10: rho (total), rho_b and rho_DM along s at phi = 0, with the independent points
-- at r = r_sun (phi = 0, +0.209, -0.209; the side planes offset in s for visibility).
local function fig10(P, dir)
  local dmf, bf = P:file("darkmatter"), P:file("baryons")
  local mock = P:is_mock()
  local d = P.geom.density.phi0
  local c = units.rho_to_1e2
  local function col(a) local t = {}; for i = 1, d.n do t[i] = c(a:get(i)) end; return t end
  local rho, srho = col(rd(dmf, "/rho/phi0")), col(rd(dmf, "/rho_err/phi0"))
  local dm, sdm = col(rd(dmf, "/rho_dm/phi0")), col(rd(dmf, "/rho_dm_err/phi0"))
  local rb, sb = col(rd(bf, "/rho_b/phi0")), col(rd(bf, "/err_b/phi0"))
  local tr, tdm = col(rd(dmf, "/truth/rho/phi0")), col(rd(dmf, "/truth/rho_dm/phi0"))
  local x = d.t
  local g = P.geom.independent
  local tot, stot = rd(dmf, "/rho/gnfw"), rd(dmf, "/rho_err/gnfw")
  local idm, isd = rd(dmf, "/rho_dm/gnfw"), rd(dmf, "/rho_err/gnfw")
  local side = geometry.PHI_SIDE
  local groups = {{0, "independent points, φ = 0", "#000000", 7}, {side, ("φ = +%g"):format(side), "#2166ac", 9},
                  {-side, ("φ = -%g"):format(side), "#b2182b", 5}}
  local ptot, pdm = {}, {}
  for k, gr in ipairs(groups) do
    ptot[k] = {name = gr[2], color = gr[3], pt = gr[4], x = {}, c = {}, s = {}}
    pdm[k] = {name = gr[2], color = gr[3], pt = gr[4], x = {}, c = {}, s = {}}
    for i = 1, g.n do
      if math.abs(g.phi[i] - gr[1]) < 1e-6 then
        local off = 0.06 * (gr[1] > 0 and 1 or gr[1] < 0 and -1 or 0)
        local pt, pd = ptot[k], pdm[k]
        pt.x[#pt.x + 1], pt.c[#pt.c + 1], pt.s[#pt.s + 1] = g.s[i] + off, c(tot:get(i)), c(stot:get(i))
        pd.x[#pd.x + 1], pd.c[#pd.c + 1], pd.s[#pd.s + 1] = g.s[i] + off, c(idm:get(i)), c(isd:get(i))
      end
    end
  end
  local U = plot.UNITS
  local top, d1 = plot.band_panel("top", {xlabel = "s [kpc]", ylabel = "ρ [" .. U.rho .. "]", xrange = {x[1], x[#x]},
    series = {{name = "ρ (total)", color = "#2c3e50", x = x, c = rho, s = srho, truth = mock and tr or nil},
              {name = "ρ_b (baryon model)", color = "#27ae60", x = x, c = rb, s = sb, bands = {1}}},
    points = ptot})
  local bottom, d2 = plot.band_panel("bot", {xlabel = "s [kpc]", ylabel = "ρ_{DM} [" .. U.rho .. "]", xrange = {x[1], x[#x]},
    series = {{name = "ρ_{DM} = ρ - ρ_b", color = "#c0392b", x = x, c = dm, s = sdm, truth = mock and tdm or nil}},
    points = pdm})
  local data = {}
  merge(data, d1); merge(data, d2)
  local body = ("set multiplot layout 2,1 title \"Fig. 10 analogue: densities along the polar arc s at φ = 0\\n{/*0.85 bands 1σ, 2σ (ρ_b: 1σ); points at r = r_⊙ with 1σ, the φ = ±0.209 planes offset ±0.06 kpc in s%s}\"\nset key font ',8'\n%s\n%s"):format(
    mock and "; dashed: truth" or "", top, bottom)
  return plot.figure{dir = dir, name = "fig10_density_s", title = "Fig. 10 rho, rho_b, rho_DM along s",
                     body = body, data = data, size = "900,900"}
end

--- Horizontal offsets that spread points sharing an abscissa: points whose x lie within
--- `tol` of each other form a group; a group of n points is spread evenly over +-`half`
--- (at most `step` apart) in the order given. Returns the list of offsets.
function plot.spread(x, tol, half, step)
  tol, half, step = tol or 0.05, half or 0.3, step or 0.06
  local off, seen = {}, {}
  for i = 1, #x do
    if not seen[i] then
      local grp = {i}
      for j = i + 1, #x do if not seen[j] and math.abs(x[j] - x[i]) <= tol then grp[#grp + 1] = j end end
      local n = #grp
      local gap = n > 1 and math.min(step, 2 * half / (n - 1)) or 0
      for k, j in ipairs(grp) do
        seen[j] = true
        off[j] = (k - 1 - (n - 1) / 2) * gap
      end
    end
  end
  return off
end

-- the gNFW density (1e-2 Msun/pc^3) at r (kpc) for parameters {rho0, rs, beta}
local function gnfw_at(r, p) return gnfw.density(array.from{r}, p[1], p[2], p[3]):get(1) end

--- The posterior band of a profile: for each r of `rs`, the quantiles `qs` (default
--- {0.16, 0.5, 0.84}) over the parameter rows `samples` of f(r, row). Returns rows
--- {r, q1, q2, ...}.
function plot.posterior_band(rs, samples, f, qs)
  qs = qs or {0.16, 0.5, 0.84}
  local rows = {}
  for i, r in ipairs(rs) do
    local v = {}
    for k, p in ipairs(samples) do v[k] = f(r, p) end
    local s = plotkit.sorted(v)
    local row = {r}
    for _, q in ipairs(qs) do row[#row + 1] = plotkit.quantile(s, q) end
    rows[i] = row
  end
  return rows
end

-- a thinned copy of the sample rows (at most n)
local function thin(s, n)
  local step = math.max(1, #s // n)
  local out = {}
  for i = 1, #s, step do out[#out + 1] = s[i] end
  return out
end

-- The gNFW truth {rho0, rs, beta} (1e-2 Msun/pc^3, kpc, -) of a mock run, or nil.
local function gnfw_truth(P)
  if not P:is_mock() then return nil end
  local t = P:gnfw_truth()
  if not (t.rho0 and t.rs and t.beta) then return nil end
  return {t.rho0, t.rs, t.beta}
end

-- Fig. 12: rho_DM against r at the gNFW set, the posterior band and median of rho_DM(r),
-- the best fit, and with a mock the truth (points and the true profile).
local function fig12(P, dir)
  local gf, dmf = P:file("gnfw"), P:file("darkmatter")
  local r, rho, sig = rd(gf, "/points/r"):totable(), rd(gf, "/points/rho"):totable(), rd(gf, "/points/sigma"):totable()
  local mock = P:is_mock()
  -- the points the fit kept (the gnfw step drops NaN ones) and their place: r = r_sun (by phi) or the r-lines (by z)
  local all = rd(dmf, "/rho_dm/gnfw"):totable()
  local allerr = rd(dmf, "/rho_dm_err/gnfw"):totable()
  local truth_all = rd(dmf, "/truth/rho_dm/gnfw"):totable()
  local gx = P.geom.gnfw.x:totable()
  local kept = {}
  for i = 1, #all do if all[i] == all[i] and allerr[i] == allerr[i] then kept[#kept + 1] = i end end
  if #kept ~= #r then kept = {} end
  local off = plot.spread(r, 0.05, 0.3, 0.07)
  local classes = {{"r = r_⊙, φ = 0", "#000000", 7}, {"r = r_⊙, φ = +0.209", "#2166ac", 9}, {"r = r_⊙, φ = -0.209", "#b2182b", 5},
                   {"r-lines, z = +1.5 kpc", COLORS.north, 13}, {"r-lines, z = -1.5 kpc", COLORS.south, 11}}
  local rows = {}
  for k = 1, #classes do rows[k] = {} end
  local tp, vals, sigs = {}, {}, {}
  for i = 1, #r do
    local k = 1
    local gi = kept[i]
    if gi then
      local p = gx[gi]
      local phi = math.atan(p[2], p[1])
      if math.abs(r[i] - P.geom.r_sun) > 0.05 then k = p[3] > 0 and 4 or 5
      elseif phi > 1e-6 then k = 2 elseif phi < -1e-6 then k = 3 end
    end
    local t = gi and units.rho_to_1e2(truth_all[gi]) or 0 / 0
    rows[k][#rows[k] + 1] = {r[i] + off[i], rho[i], sig[i]}
    tp[#tp + 1] = {r[i] + off[i], t}
    vals[#vals + 1], sigs[#sigs + 1] = rho[i], sig[i]
  end
  local samples = thin(rd(gf, "/samples"):totable(), 3000)
  local rmin, rmax = math.huge, -math.huge
  for _, v in ipairs(r) do rmin, rmax = math.min(rmin, v), math.max(rmax, v) end
  rmin, rmax = math.max(0.5, rmin - 0.8), rmax + 0.8
  local grid = {}
  for i = 1, 60 do grid[i] = rmin + (rmax - rmin) * (i - 1) / 59 end
  local band = plot.posterior_band(grid, samples, gnfw_at, {0.16, 0.5, 0.84})
  local map = rd(gf, "/summary/map"):totable()
  local tg = mock and gnfw_truth(P) or nil
  local curve = {}
  for i, rr in ipairs(grid) do curve[i] = {rr, gnfw_at(rr, map), tg and gnfw_at(rr, tg) or 0 / 0} end
  local tv = {}
  for _, b in ipairs(band) do tv[#tv + 1] = b[3] end
  if mock then
    for _, t in ipairs(tp) do tv[#tv + 1] = t[2] end
    if tg then for _, cr in ipairs(curve) do tv[#tv + 1] = cr[3] end end
  end
  local lo, hi = plotkit.yrange{values = vals, sigmas = sigs, truth = tv}
  -- the 16-84% band clipped to the y range (pf.plotkit.clip_band)
  local bx, ba, bb = {}, {}, {}
  for i, b in ipairs(band) do bx[i], ba[i], bb[i] = b[1], b[2], b[4] end
  local data = {band = band, bandclip = plotkit.clip_band(bx, ba, bb, lo, hi), curve = curve, truth = tp}
  local clauses = {"<bandclip> u 1:2:3 w filledcurves fs transparent solid 0.3 noborder lc rgb '#3498db' t 'gNFW posterior 16-84%'",
                   "<band> u 1:3 w l lw 2 lc rgb '#1f618d' t 'posterior median ρ_{DM}(r)'",
                   "<curve> u 1:2 w l dt 4 lw 1.5 lc rgb '#1f618d' t 'best fit'"}
  if tg then clauses[#clauses + 1] = ("<curve> u 1:3 w l dt 2 lw 2 lc rgb '%s' t 'truth: the mock''s NFW halo'"):format(TRUTH_COLOR) end
  local arrows = {}
  for k, cl in ipairs(classes) do
    if #rows[k] > 0 then
      data["p" .. k] = rows[k]
      clauses[#clauses + 1] = ("<p%d> u 1:2:3 w yerrorbars pt %d ps 1 lw 1.2 lc rgb '%s' t '%s'"):format(k, cl[3], cl[2], cl[1])
      local xs, cs, ss = {}, {}, {}
      for i, rw in ipairs(rows[k]) do xs[i], cs[i], ss[i] = rw[1], rw[2], rw[3] end
      local a = plotkit.clip_marks(xs, cs, ss, lo, hi, 1)
      for _, rw in ipairs(a) do arrows[#arrows + 1] = rw end
    end
  end
  if mock then clauses[#clauses + 1] = ("<truth> u 1:2 w p pt 6 ps 1.2 lw 1.5 lc rgb '%s' t 'truth at each point (kernel-smoothed)'"):format(TRUTH_COLOR) end
  if #arrows > 0 then
    data.clip = arrows
    clauses[#clauses + 1] = "<clip> u 1:2:3:4 w vectors head filled size screen 0.008,30 lw 1.5 lc rgb '#555555' t 'error bar beyond the axis'"
  end
  local body = table.concat{
    "set title \"Fig. 12 analogue: ρ_{DM} against r with the gNFW fit\\n{/*0.85 error bars 1σ; points sharing an r spread by up to ±0.3 kpc for visibility}\"\n",
    ("set xlabel 'r [kpc]'; set ylabel 'ρ_{DM} [%s]'\n"):format(plot.UNITS.rho),
    ("set xrange [%.10g:%.10g]; set yrange [%.10g:%.10g]\n"):format(rmin, rmax, lo, hi),
    plotkit.tics("x", rmin, rmax, 9), "\n", plotkit.tics("y", lo, hi, 8), "\n",
    "set key outside right top font ',8' samplen 2.5\nplot ", table.concat(clauses, ", \\\n  "), "\n"}
  return plot.figure{dir = dir, name = "fig12_gnfw", title = "Fig. 12 rho_DM vs r with gNFW", body = body, data = data,
                     size = "1100,650"}
end

--- A corner plot (Fig. 13): spec = {dir, name, title, samples (rows of parameters),
--- labels (axis labels with units), short (names for the panel titles), truth (list, or
--- nil: no truth lines), bins (2-D, default sqrt(n)/3 within 12..36), levels (HPD fractions, default {0.393,
--- 0.865}: the 1 and 2 sigma of a 2-D Gaussian)}. Panels below the diagonal: the
--- contours of pf.plotkit.hpd_levels on the smoothed 2-D histogram over the thinned
--- samples; the diagonal: marginal histograms with the median and 16-84% lines; medians
--- (and truth, black) as lines in every panel. Axis ranges: the 0.5-99.5% quantiles of the
--- samples, widened to the truth. Returns plot.figure's result plus `levels` (per panel
--- "i,j") and `ranges`.
function plot.corner(spec)
  local s = spec.samples
  local np = #spec.labels
  -- bins for the sample size: coarse enough that the contours of a short chain are not noise
  local nb = spec.bins or math.max(12, math.min(36, math.floor(math.sqrt(#s) / 3)))
  local nh = math.max(15, math.min(40, math.floor(math.sqrt(#s) / 2)))
  local fr = spec.levels or {0.393, 0.865}
  local truth = spec.truth
  local cols, ranges, med, q16, q84 = {}, {}, {}, {}, {}
  for j = 1, np do
    local c = {}
    for k, row in ipairs(s) do c[k] = row[j] end
    cols[j] = c
    local srt = plotkit.sorted(c)
    local lo, hi = plotkit.quantile(srt, 0.005), plotkit.quantile(srt, 0.995)
    med[j], q16[j], q84[j] = plotkit.quantile(srt, 0.5), plotkit.quantile(srt, 0.16), plotkit.quantile(srt, 0.84)
    if truth and finite(truth[j]) then lo, hi = math.min(lo, truth[j]), math.max(hi, truth[j]) end
    if not (hi > lo) then lo, hi = lo - 1, hi + 1 end -- luacheck: ignore 581
    local m = 0.04 * (hi - lo)
    ranges[j] = {lo - m, hi + m}
  end
  local L, R, B, T, gap = 0.11, 0.97, 0.08, 0.91, 0.012
  local w = (R - L - (np - 1) * gap) / np
  local h = (T - B - (np - 1) * gap) / np
  local data, body, levels = {}, {}, {}
  body[#body + 1] = ("set multiplot title '%s'\nset key off\nset tics font ',8'\nset xtics rotate by 35 right offset 0,0.3"):format(spec.title)
  local function lines(j, axis)
    local out = {}
    local function add(v, color, dt, lw)
      if finite(v) then
        if axis == "x" then
          out[#out + 1] = ("set arrow from first %.10g, graph 0 to first %.10g, graph 1 nohead lc rgb '%s' dt %d lw %g front"):format(v, v, color, dt, lw)
        else
          out[#out + 1] = ("set arrow from graph 0, first %.10g to graph 1, first %.10g nohead lc rgb '%s' dt %d lw %g front"):format(v, v, color, dt, lw)
        end
      end
    end
    add(med[j], "#c0392b", 1, 1.2)
    if truth then add(truth[j], TRUTH_COLOR, 2, 1.8) end
    return out
  end
  for i = 1, np do
    for j = 1, i do
      local left = L + (j - 1) * (w + gap)
      local top = T - (i - 1) * (h + gap)
      local cmd = {("set lmargin at screen %.4f; set rmargin at screen %.4f; set tmargin at screen %.4f; set bmargin at screen %.4f"):format(
        left, left + w, top, top - h)}
      local xr = ranges[j]
      cmd[#cmd + 1] = ("set xrange [%.10g:%.10g]"):format(xr[1], xr[2])
      cmd[#cmd + 1] = plotkit.tics("x", xr[1], xr[2], 5)
      cmd[#cmd + 1] = i == np and ("set format x '%%g'; set xlabel '%s'"):format(spec.labels[j]) or "set format x ''; set xlabel ''"
      for _, a in ipairs(lines(j, "x")) do cmd[#cmd + 1] = a end
      if i == j then
        local e = plotkit.edges(xr[1], xr[2], nh)
        local hrows = plotkit.histogram(cols[j], e)
        local ymax = 0
        for _, r in ipairs(hrows) do ymax = math.max(ymax, r[2]) end
        data["h" .. j] = hrows
        local q = {q16[j], q84[j]}
        for _, v in ipairs(q) do
          cmd[#cmd + 1] = ("set arrow from first %.10g, graph 0 to first %.10g, graph 1 nohead lc rgb '#c0392b' dt 3 lw 1"):format(v, v)
        end
        cmd[#cmd + 1] = ("set yrange [0:%.10g]; unset ytics; set ylabel ''"):format(ymax > 0 and 1.1 * ymax or 1)
        cmd[#cmd + 1] = ("set title '%s = %s@_{-%s}^{+%s}%s' font ',9' offset 0,-0.6"):format(spec.short[j], num(med[j]),
          num(med[j] - q16[j]), num(q84[j] - med[j]), truth and finite(truth[j]) and ("   (truth %s)"):format(num(truth[j])) or "")
        cmd[#cmd + 1] = ("plot <h%d> u 1:2 w histeps lw 1.5 lc rgb '#2c3e50' notitle"):format(j)
        cmd[#cmd + 1] = "unset title; unset arrow; set ytics"
      else
        local yr = ranges[i]
        local g, geo = plotkit.hist2d(cols[j], cols[i], xr[1], xr[2], yr[1], yr[2], nb, nb, spec.smooth or 2)
        local lv = plotkit.hpd_levels(g, fr)
        levels[i .. "," .. j] = lv
        for k, l in ipairs(lv) do
          data[("c%d%d_%d"):format(i, j, k)] = plotkit.segment_rows(plotkit.contour(g, geo, l))
        end
        local pts = {}
        for k, row in ipairs(thin(s, 4000)) do pts[k] = {row[j], row[i]} end
        data[("s%d%d"):format(i, j)] = pts
        cmd[#cmd + 1] = ("set yrange [%.10g:%.10g]"):format(yr[1], yr[2])
        cmd[#cmd + 1] = plotkit.tics("y", yr[1], yr[2], 5)
        cmd[#cmd + 1] = j == 1 and ("set format y '%%g'; set ylabel '%s'"):format(spec.labels[i]) or "set format y ''; set ylabel ''"
        for _, a in ipairs(lines(i, "y")) do cmd[#cmd + 1] = a end
        cmd[#cmd + 1] = ("plot <s%d%d> u 1:2 w dots lc rgb '#b0b7c0' notitle, <c%d%d_2> u 1:2 w l lw 1.5 lc rgb '#2c3e50' notitle, <c%d%d_1> u 1:2 w l lw 2 lc rgb '#2c3e50' notitle"):format(
          i, j, i, j, i, j)
        cmd[#cmd + 1] = "unset arrow"
      end
      body[#body + 1] = table.concat(cmd, "\n")
    end
  end
  -- the legend, in the empty upper right
  local kl = L + (np - 1) * (w + gap)
  local legend = {("set lmargin at screen %.4f; set rmargin at screen %.4f; set tmargin at screen %.4f; set bmargin at screen %.4f"):format(
    kl, R, T, T - h), "unset border; unset xtics; unset ytics; set xlabel ''; set ylabel ''; set xrange [0:1]; set yrange [0:1]",
    "set key at graph 1, graph 1 right top font ',9' spacing 1.3",
    "plot 2 w l lw 2 lc rgb '#2c3e50' t '1σ, 2σ contours (39.3%, 86.5% HPD)', 2 w l lw 1.2 lc rgb '#c0392b' t 'posterior median', 2 w l dt 3 lc rgb '#c0392b' t '16th, 84th percentiles'"
      .. (truth and ", 2 w l dt 2 lw 1.8 lc rgb '#000000' t 'truth of the mock'" or ""),
    "set border; set xtics; set ytics"}
  body[#body + 1] = table.concat(legend, "\n")
  local res = plot.figure{dir = spec.dir, name = spec.name, title = spec.title, body = table.concat(body, "\n"),
                          data = data, size = spec.size or "900,900"}
  res.levels, res.ranges = levels, ranges
  return res
end

local function fig13(P, dir)
  local s = rd(P:file("gnfw"), "/samples"):totable()
  local U = plot.UNITS
  return plot.corner{dir = dir, name = "fig13_corner", title = "Fig. 13 analogue: gNFW posterior", samples = s,
    labels = {"ρ_0 [" .. U.rho .. "]", "r_s [kpc]", "β [dimensionless]"}, short = {"ρ_0", "r_s", "β"}, truth = gnfw_truth(P)}
end

-- The global potential's density maps (the potential step): rho = lap Phi / 4 pi G of the
-- base fit in the Galactic plane and in the R-z plane at the Sun's azimuth, and with a
-- truth the relative error (rho - rho_true) / rho_true on the same grids.
local function fig_potential_maps(P, dir)
  local pf_ = P:file("potential")
  local mock = P:is_mock()
  local c = units.rho_to_1e2
  local U = plot.UNITS
  local data, panels = {}, {}
  local function grid(tag, map, a1, a2, fn)
    local m, u, v = rd(pf_, map):totable(), rd(pf_, a1):totable(), rd(pf_, a2):totable()
    local t = mock and rd(pf_, "/truth" .. map):totable()
    local rows = {}
    for i = 1, #u do
      for j = 1, #v do rows[#rows + 1] = {u[i], v[j], fn(m[i][j], t and t[i][j])} end
      rows[#rows + 1] = {}
    end
    data[tag] = rows
  end
  local function relerr(x, t) return (x - t) / t end
  local maps = {{"xy", "/maps/xy", "/maps/x", "/maps/y", "x [kpc]", "y [kpc]", "z = 0"},
                {"rz", "/maps/rz", "/maps/R", "/maps/z", "R [kpc]", "z [kpc]", "φ = 0"}}
  for _, m in ipairs(maps) do
    grid(m[1], m[2], m[3], m[4], c)
    panels[#panels + 1] = ("set title 'ρ = ∇^2Φ/4πG, %s'\nset xlabel '%s'\nset ylabel '%s'\nset cblabel 'ρ [%s]'\nplot <%s> using 1:2:3 with image notitle"):format(
      m[7], m[5], m[6], U.rho, m[1])
    if mock then
      grid(m[1] .. "_err", m[2], m[3], m[4], relerr)
      panels[#panels + 1] = ("set title '(ρ - ρ_{true}) / ρ_{true}, %s'\nset xlabel '%s'\nset ylabel '%s'\nset cblabel 'relative error'\nset cbrange [-0.5:0.5]\nset palette defined (-1 '#b2182b', 0 '#f7f7f7', 1 '#2166ac')\nplot <%s_err> using 1:2:3 with image notitle\nset autoscale cb\nset palette defined (0 '#f7fbff', 1 '#6baed6', 2 '#08306b')"):format(
        m[7], m[5], m[6], m[1])
    end
  end
  local body = ("set multiplot layout %d,2 title \"The global potential's density maps (base fit)\"\nset size ratio -1\nset palette defined (0 '#f7fbff', 1 '#6baed6', 2 '#08306b')\n%s"):format(
    mock and 2 or 1, table.concat(panels, "\n"))
  return plot.figure{dir = dir, name = "fig_potential_maps", title = "Density maps of the global potential",
                     body = body, data = data, size = mock and "1000,900" or "1000,450"}
end

--- All the paper's figure analogues into P.out; returns a list of {png, pdf, title}.
function plot.paper_figures(P)
  local dir = P.out
  local figs = {fig7(P, dir)}
  for _, f in ipairs(fig8(P, dir)) do figs[#figs + 1] = f end
  figs[#figs + 1] = fig9(P, dir)
  figs[#figs + 1] = fig10(P, dir)
  figs[#figs + 1] = fig12(P, dir)
  figs[#figs + 1] = fig13(P, dir)
  if require("phaseflow.steps.potential").fitted(P) then figs[#figs + 1] = fig_potential_maps(P, dir) end
  return figs
end

return plot

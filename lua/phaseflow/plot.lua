-- luacheck: no max line length
-- pf.plot: figures through gnuplot (Debian gnuplot-nox has the pngcairo and pdfcairo
-- terminals). Why gnuplot: one small Debian package, no Python, vector PDF and PNG from
-- the same script, and the scripts it leaves beside each figure (NAME.gp + NAME_*.dat)
-- can be edited and re-run by hand. A C plotting library would have to be built and bound.
--
--   pf.plot.figure{name = "fig", dir = "out", title = ..., body = gnuplot text, data = {tag = rows}}
local core = require "phaseflow.core"
local h5 = require "phaseflow.h5"
local units = require "phaseflow.units"
local equilibrium = require "phaseflow.equilibrium"
local gnfw = require "phaseflow.gnfw"
local array = core.array
local fs = require "phaseflow.fs"

local plot = {}

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
--- renamed, like every file of a run.
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
    ("set terminal pngcairo noenhanced size %s font 'sans,10'\nset output '%s.png.part'\n"):format(size, name),
    body, "\nunset multiplot\n",
    ("set terminal pdfcairo noenhanced size %gin,%gin font 'sans,7'\nset output '%s.pdf.part'\n"):format(
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

local function hist(values, lo, hi, nb)
  local c = {}
  for i = 1, nb do c[i] = 0 end
  local n = 0
  for _, v in ipairs(values) do
    if v >= lo and v < hi then
      local b = math.floor((v - lo) / (hi - lo) * nb) + 1
      c[b] = c[b] + 1
      n = n + 1
    end
  end
  local rows, wd = {}, (hi - lo) / nb
  for i = 1, nb do rows[i] = {lo + (i - 0.5) * wd, n > 0 and c[i] / (n * wd) or 0} end
  return rows
end

local function range(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  return s[math.max(1, math.floor(0.005 * n))], s[math.max(1, math.ceil(0.995 * n))]
end

local function rd(file, path) return (h5.read(file, path)) end

-- Fig. 7: 1-D histograms of the training data and flow samples.
local function fig7(P, dir)
  local sf = P:file("selection")
  local x = rd(sf, "/train/base/x")
  local v = rd(sf, "/train/base/v")
  local f = P:densities_f()[1].f
  local n = math.min(20000, (x:shape()))
  local xs = f.nx:sample(n, nil, {seed = 5})
  local vs = f:sample_v(P.geom.sun, n, {qmc = false, seed = 6})
  -- data velocities near the Sun to compare with p(v | x_sun)
  local near = {}
  local xt, vt = x:totable(), v:totable()
  for i = 1, #xt do
    local d = math.sqrt((xt[i][1] - P.geom.sun[1]) ^ 2 + xt[i][2] ^ 2 + (xt[i][3] - P.geom.sun[3]) ^ 2)
    if d < 1 then near[#near + 1] = vt[i] end
  end
  local data, names = {}, {"x (kpc)", "y (kpc)", "z (kpc)", "v_x (km/s), |x - x_sun| < 1 kpc",
                            "v_y (km/s)", "v_z (km/s)"}
  local xst, vst = xs:totable(), vs:totable()
  local body = {"set multiplot layout 2,3 title 'Fig. 7 analogue: data (boxes) vs flow samples (line)'"}
  for j = 1, 6 do
    local dv, fv = {}, {}
    local src, fsrc = j <= 3 and xt or near, j <= 3 and xst or vst
    local k = (j - 1) % 3 + 1
    for i, r in ipairs(src) do dv[i] = r[k] end
    for i, r in ipairs(fsrc) do fv[i] = r[k] end
    local lo, hi = range(dv)
    if lo == nil or hi == nil or not (hi > lo) then lo, hi = -1, 1 end -- luacheck: ignore 581
    data["d" .. j], data["f" .. j] = hist(dv, lo, hi, 30), hist(fv, lo, hi, 30)
    body[#body + 1] = ("set xlabel '%s'; plot <d%d> u 1:2 w boxes lc rgb '#999999' t 'data', <f%d> u 1:2 w l lw 2 lc rgb '#c0392b' t 'flows'"):format(names[j], j, j)
  end
  return plot.figure{dir = dir, name = "fig7_histograms", title = "Fig. 7 data vs flow samples",
                     body = table.concat(body, "\n"), data = data, size = "1100,650"}
end

-- Fig. 8: a_r, a_theta, a_phi along r, phi, s with 1/2 sigma bands, truth, N-S ratios.
local function fig8(P, dir)
  local af = P:file("accelerations")
  local figs = {}
  for _, ax in ipairs({{"r", {"r_north", "r_south"}, "r (kpc)"}, {"phi", {"phi_north", "phi_south"}, "phi (rad)"},
                       {"s", {"arc"}, "s (kpc)"}}) do
    local data = {}
    local body = {("set multiplot layout 2,2 title 'Fig. 8 analogue: accelerations along %s (1e-10 m/s^2; bands 1 and 2 sigma; dashed: truth)'"):format(ax[1])}

    for ci, cname in ipairs(ax[2]) do
      local c = P.geom.curves[cname]
      local v, s = P:budget(af, cname)
      local t = rd(af, "/truth/" .. cname)
      local vr, vth, vph = equilibrium.spherical(c.x, v)
      local tr, tth, tph = equilibrium.spherical(c.x, t)
      local vsd = {equilibrium.spherical(c.x, v + s)}

      local rows = {}
      for i = 1, c.n do
        local row = {c.t[i]}
        for k, q in ipairs({{vr, tr}, {vth, tth}, {vph, tph}}) do
          -- sigma of a spherical component from the Cartesian sigmas (rotation: |R s| bound)
          local sig = math.abs(vsd[k]:get(i) - q[1]:get(i))
          local sc = math.sqrt(s:get(i, 1) ^ 2 + s:get(i, 2) ^ 2 + s:get(i, 3) ^ 2)
          sig = math.max(sig, sc / math.sqrt(3))
          row[#row + 1] = units.acc_to_1e10(q[1]:get(i))
          row[#row + 1] = units.acc_to_1e10(sig)
          row[#row + 1] = units.acc_to_1e10(q[2]:get(i))
        end
        rows[i] = row
      end
      data["c" .. ci] = rows
    end
    local lab = {"a_r", "a_theta", "a_phi"}
    local col = {"#2c3e50", "#c0392b"}
    for k = 1, 3 do
      local parts = {}
      for ci, cname in ipairs(ax[2]) do
        local b = 3 * (k - 1) + 2
        parts[#parts + 1] = ("<c%d> u 1:($%d-2*$%d):($%d+2*$%d) w filledcurves fs transparent solid 0.15 lc rgb '%s' notitle"):format(ci, b, b + 1, b, b + 1, col[ci])
        parts[#parts + 1] = ("<c%d> u 1:($%d-$%d):($%d+$%d) w filledcurves fs transparent solid 0.3 lc rgb '%s' notitle"):format(ci, b, b + 1, b, b + 1, col[ci])
        parts[#parts + 1] = ("<c%d> u 1:%d w l lw 2 lc rgb '%s' t '%s'"):format(ci, b, col[ci], cname:gsub("_", " "))
        parts[#parts + 1] = ("<c%d> u 1:%d w l dt 2 lw 1.5 lc rgb '%s' t 'truth'"):format(ci, b + 2, col[ci])
      end
      body[#body + 1] = ("set xlabel '%s'; set ylabel '%s'; plot %s"):format(ax[3], lab[k], table.concat(parts, ", "))
    end
    if #ax[2] == 2 then
      local ar, ath = equilibrium.north_south(P.geom.curves[ax[2][1]].x, P:budget(af, ax[2][1]), (P:budget(af, ax[2][2])))
      local rows = {}
      for i = 1, P.geom.curves[ax[2][1]].n do rows[i] = {P.geom.curves[ax[2][1]].t[i], ar:get(i), ath:get(i)} end
      data.ns = rows
      body[#body + 1] = ("set xlabel '%s'; set ylabel 'North/South'; plot <ns> u 1:2 w lp t 'a_r N/S', <ns> u 1:3 w lp t 'a_theta N/(-S)', 1 dt 3 lc rgb 'black' notitle"):format(ax[3])
    end
    figs[#figs + 1] = plot.figure{dir = dir, name = "fig8_acc_" .. ax[1], title = "Fig. 8 accelerations along " .. ax[1],
                                  body = table.concat(body, "\n"), data = data, size = "1100,800"}
  end
  return figs
end

local function fig9(P, dir)
  local ef = P:file("equilibrium")
  local a, t = rd(ef, "/dlnf_dt/flows"):totable(), rd(ef, "/dlnf_dt/truth"):totable()
  local lo, hi = range(a)
  local tlo, thi = range(t)
  lo, hi = math.min(lo, tlo), math.max(hi, thi)
  if not (hi > lo) then lo, hi = lo - 1, hi + 1 end -- luacheck: ignore 581
  return plot.figure{dir = dir, name = "fig9_dlnf_dt", title = "Fig. 9 d ln f / dt at the Sun",
    body = "set title 'Fig. 9 analogue: d ln f/dt at the Sun (km/s/kpc)'; set xlabel 'd ln f/dt'; set ylabel 'density'\n"
      .. "plot <f> u 1:2 w boxes lc rgb '#2980b9' t 'flows', <t> u 1:2 w l lw 2 lc rgb 'black' t 'exact mock f'",
    data = {f = hist(a, lo, hi, 40), t = hist(t, lo, hi, 40)}}
end

local function fig10(P, dir)
  local dmf, bf = P:file("darkmatter"), P:file("baryons")
  local d = P.geom.density.phi0
  local c = units.rho_to_1e2
  local rho, srho = rd(dmf, "/rho/phi0"), rd(dmf, "/rho_err/phi0")
  local dm, sdm = rd(dmf, "/rho_dm/phi0"), rd(dmf, "/rho_dm_err/phi0")
  local rb, sb = rd(bf, "/rho_b/phi0"), rd(bf, "/err_b/phi0")
  local tr, tdm = rd(dmf, "/truth/rho/phi0"), rd(dmf, "/truth/rho_dm/phi0")
  local rows = {}
  for i = 1, d.n do
    rows[i] = {d.t[i], c(rho:get(i)), c(srho:get(i)), c(rb:get(i)), c(sb:get(i)), c(dm:get(i)), c(sdm:get(i)),
               c(tr:get(i)), c(tdm:get(i))}
  end
  local ind = {}
  local g = P.geom.independent
  local idm, isd = rd(dmf, "/rho/gnfw"), rd(dmf, "/rho_err/gnfw")
  for i = 1, g.n do ind[i] = {g.s[i] + 0.05 * (g.phi[i] > 0 and 1 or g.phi[i] < 0 and -1 or 0), c(idm:get(i)), c(isd:get(i)), g.phi[i]} end
  local body = [[set multiplot layout 2,1 title 'Fig. 10 analogue: densities along s at phi = 0 (1e-2 Msun/pc^3; bands 1, 2 sigma; dashed truth)'
set xlabel 's (kpc)'; set ylabel 'rho'
plot <c> u 1:($2-2*$3):($2+2*$3) w filledcurves fs transparent solid 0.15 lc rgb '#2c3e50' notitle, <c> u 1:($2-$3):($2+$3) w filledcurves fs transparent solid 0.3 lc rgb '#2c3e50' notitle, <c> u 1:2 w l lw 2 lc rgb '#2c3e50' t 'rho total', <c> u 1:8 w l dt 2 lc rgb '#2c3e50' t 'truth', <c> u 1:($4-$5):($4+$5) w filledcurves fs transparent solid 0.3 lc rgb '#27ae60' notitle, <c> u 1:4 w l lw 2 lc rgb '#27ae60' t 'rho_b (model)', <i> u 1:2:3 w yerrorbars pt 7 lc rgb '#8e44ad' t 'independent points'
set ylabel 'rho_DM'
plot <c> u 1:($6-2*$7):($6+2*$7) w filledcurves fs transparent solid 0.15 lc rgb '#c0392b' notitle, <c> u 1:($6-$7):($6+$7) w filledcurves fs transparent solid 0.3 lc rgb '#c0392b' notitle, <c> u 1:6 w l lw 2 lc rgb '#c0392b' t 'rho_DM', <c> u 1:9 w l dt 2 lc rgb 'black' t 'truth']]
  return plot.figure{dir = dir, name = "fig10_density_s", title = "Fig. 10 rho, rho_b, rho_DM along s",
                     body = body, data = {c = rows, i = ind}, size = "900,900"}
end

local function fig12(P, dir)
  local gf, dmf = P:file("gnfw"), P:file("darkmatter")
  local r, rho, sig = rd(gf, "/points/r"):totable(), rd(gf, "/points/rho"):totable(), rd(gf, "/points/sigma"):totable()
  local truth = rd(dmf, "/truth/rho_dm/gnfw"):totable()
  local pts = {}
  for i = 1, #r do pts[i] = {r[i], rho[i], sig[i], units.rho_to_1e2(truth[i])} end
  local med = rd(gf, "/summary/median"):totable()
  local curve = {}
  for i = 1, 60 do
    local rr = 5 + 7 * (i - 1) / 59
    curve[i] = {rr, gnfw.density(array.from{rr}, med[1], med[2], med[3]):get(1)}
  end
  local body = "set title 'Fig. 12 analogue: rho_DM vs r with the gNFW fit (posterior median)'\n"
    .. "set xlabel 'r (kpc)'; set ylabel 'rho_DM (1e-2 Msun/pc^3)'\n"
    .. "plot <p> u 1:2:3 w yerrorbars pt 7 t 'measured', <p> u 1:4 w p pt 6 ps 1.5 lc rgb 'black' t 'truth', <c> u 1:2 w l lw 2 t 'gNFW'"
  return plot.figure{dir = dir, name = "fig12_gnfw", title = "Fig. 12 rho_DM vs r with gNFW",
                     body = body, data = {p = pts, c = curve}}
end

local function fig13(P, dir)
  local s = rd(P:file("gnfw"), "/samples"):totable()
  local n = #s
  local step = math.max(1, n // 3000)
  local sub = {}
  for i = 1, n, step do sub[#sub + 1] = s[i] end
  local data = {s = sub}
  local names = {"rho0", "r_s", "beta"}
  local body = {"set multiplot layout 3,3 title 'Fig. 13 analogue: gNFW posterior'"}
  for i = 1, 3 do
    for j = 1, 3 do
      if j > i then
        body[#body + 1] = "set multiplot next"
      elseif i == j then
        local col = {}
        for k, r in ipairs(s) do col[k] = r[i] end
        local lo, hi = range(col)
        if not (hi > lo) then lo, hi = lo - 1, hi + 1 end -- luacheck: ignore 581
        data["h" .. i] = hist(col, lo, hi, 30)
        body[#body + 1] = ("set xlabel '%s'; set ylabel ''; plot <h%d> u 1:2 w steps lw 2 notitle"):format(names[i], i)
      else
        body[#body + 1] = ("set xlabel '%s'; set ylabel '%s'; plot <s> u %d:%d w d lc rgb '#2c3e50' notitle"):format(names[j], names[i], j, i)
      end
    end
  end
  return plot.figure{dir = dir, name = "fig13_corner", title = "Fig. 13 gNFW corner plot",
                     body = table.concat(body, "\n"), data = data, size = "900,900"}
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
  return figs
end

return plot

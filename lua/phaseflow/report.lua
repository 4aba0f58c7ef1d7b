-- luacheck: no max line length
-- pf.report: the pipeline's report (DIR/report.md) and figures; its results.h5 is written by
-- pf.results (lua/phaseflow/results.lua, docs/results.md).
-- Tables follow the paper: Table I (acceleration at the Sun, quasar value beside it),
-- Table II (densities at the Sun and the dark matter average at r_sun with chi^2_nu), the
-- gNFW posterior; with the mock, a truth column and the pull (recovered - true) / sigma.
local core = require "phaseflow.core"
local h5 = require "phaseflow.h5"
local units = require "phaseflow.units"
local equilibrium = require "phaseflow.equilibrium"
local gnfw = require "phaseflow.gnfw"
local array = core.array
local wtime = core.config.wtime  -- wall seconds, as the engine times its steps
local fs = require "phaseflow.fs"
local truth = require "phaseflow.truth"
local results = require "phaseflow.results"

local report = {}

local function rd(file, path) return (h5.read(file, path)) end

local function pull(v, t, s)
  if not (s > 0) then return 0 / 0 end -- luacheck: ignore 581
  return (v - t) / s
end

-- Gaia EDR3 quasars (Klioner et al. 2021, as quoted in the paper's Table I), 1e-10 m/s^2
report.QUASAR = {{-2.32, 0.16}, {0.04, 0.16}, {-0.14, 0.19}, {2.32, 0.16}}

local function fmt(x, d)
  if x ~= x then return "-" end
  return (("%." .. (d or 3) .. "f"):format(x))
end

--- The truth of a mock run as pf.score takes it (pf.results.truth_model).
function report.truth_model(P) return results.truth_model(P) end

-- |a| and its 1-sigma error (propagated from the components' sigmas) of a 3-vector.
local function magnitude(a, sa)
  local mag = math.sqrt(a:square():sum())
  return mag, math.sqrt(((a * sa):square():sum())) / mag
end

-- A table's rows {label, numbers...} as a matrix of the numbers (NaN-padded to 6 columns),
-- as the report step's own file keeps Tables I and II.
local function matrix(rows)
  local m = {}
  for i, r in ipairs(rows) do
    local nums = {}
    for k = 2, #r do nums[k - 1] = r[k] end
    while #nums < 6 do nums[#nums + 1] = 0 / 0 end
    m[i] = nums
  end
  return array.from(m)
end

--- The global potential beside the local method (docs/potential.md): values with their
--- errors, and with a truth the scorer's numbers of both; p writes a line.
function report.potential_section(P, p, R, scored, tables)
  local c, A = units.rho_to_1e2, units.acc_to_1e10
  local pot = P:file("potential")
  p("")
  p("## The global potential beside the local method (pf.potential_fit, docs/potential.md)")
  p(("One network Phi(x) per density (%d stars drawn from it, %d x %d SiLU), fitted to the"):format(
    P.o.potential.stars, P.o.potential.layers, P.o.potential.hidden))
  p("Boltzmann equation; a = -grad Phi, rho = lap Phi / 4 pi G; errors from the same budget over")
  p("the fits of every density, and for the densities a method term, |rho*K - the local method's|,")
  p("in quadrature (the fit's own bias is common to every fit; docs/potential.md).")
  p("")
  local a = R.sun.value
  local mag, smag = magnitude(a, R.sun.sigma)
  local t1 = tables.table1[4]
  local dsun = R.density.sun
  local t2 = tables.table2
  local tpoint = rd(pot, "/truth/rho/sun"):get(1)
  local function pm(v, s) return fmt(v) .. " ± " .. fmt(s) end
  p("| quantity | local method | potential | truth |"); p("|---|---|---|---|")
  p(("| \\|a\\| at the Sun, 1e-10 m/s^2 | %s | %s | %s |"):format(pm(t1[2], t1[3]), pm(A(mag), A(smag)), fmt(t1[4])))
  p(("| rho_sun (kernel-smoothed), 1e-2 Msun/pc^3 | %s | %s | %s |"):format(pm(t2[1][2], t2[1][3]),
    pm(c(dsun.rho:get(1)), c(dsun.rho_err:get(1))), fmt(t2[1][4])))
  p(("| rho_sun (point), 1e-2 Msun/pc^3 | - | %s | %s |"):format(pm(c(dsun.rho_point:get(1)), c(dsun.rho_point_err:get(1))),
    fmt(c(tpoint))))
  p(("| rho_DM,sun, 1e-2 Msun/pc^3 | %s | %s | %s |"):format(pm(t2[3][2], t2[3][3]),
    pm(c(dsun.rho_dm:get(1)), c(dsun.rho_dm_err:get(1))), fmt(t2[3][4])))
  p(("| rho_DM(r_sun), 1e-2 Msun/pc^3 | %s | %s | %s |"):format(pm(t2[4][2], t2[4][3]),
    pm(c(R.average.value), c(R.average.sigma)), fmt(t2[4][4])))
  local neg = rd(pot, "/base/negative_fraction"):get(1)
  p("")
  p(("lap Phi < 0 (negative density) on %.2f%% of the base fit's points uniform in the %.2f kpc ball"):format(100 * neg,
    require("phaseflow.steps.densities").edge(P.o)))
  p("where densities are reported. Maps of rho: results.h5 /potential/maps and the figure below.")
  if scored and scored.potential then
    local L, S = scored, scored.potential
    local function pc(x) return x == x and ("%.2f%%"):format(100 * x) or "-" end
    local function all(rows) return rows[#rows] end
    p("")
    p("| scored against the truth (pf.score) | local method | potential |"); p("|---|---|---|")
    p(("| a_sun relative error | %s | %s |"):format(pc(L.a_sun.rel_err), pc(S.a_sun.rel_err)))
    p(("| \\|a\\| along the curves, median / p90 | %s / %s | %s / %s |"):format(pc(all(L.acc.rows)[3]),
      pc(all(L.acc.rows)[4]), pc(all(S.acc.rows)[3]), pc(all(S.acc.rows)[4])))
    p(("| rho_sun*K relative error (pull) | %s (%s) | %s (%s) |"):format(pc(L.rho_sun.rel_err), fmt(L.rho_sun.pull, 2),
      pc(S.rho_sun.rel_err), fmt(S.rho_sun.pull, 2)))
    p(("| rho*K along the density curves, median / p90 | %s / %s | %s / %s |"):format(pc(all(L.density.rows)[4]),
      pc(all(L.density.rows)[5]), pc(all(S.density.rows)[4]), pc(all(S.density.rows)[5])))
    local lr, sr = L.rho_dm_rsun, S.rho_dm_rsun
    p(("| rho_DM(r_sun) relative error (pull) | %s (%s) | %s (%s) |"):format(pc(lr.rel_err or 0 / 0), fmt(lr.pull or 0 / 0, 2),
      pc(sr.rel_err or 0 / 0), fmt(sr.pull or 0 / 0, 2)))
    p(("| 1-sigma coverage (all points) / RMS pull | %s / %s | %s / %s |"):format(pc(L.calibration.all.fraction),
      fmt(L.calibration.all.rms, 2), pc(S.calibration.all.fraction), fmt(S.calibration.all.rms, 2)))
    local tp = dsun.rho_point:get(1)
    p(("| rho_sun point density relative error | - | %s |"):format(pc(math.abs(tp - tpoint) / math.abs(tpoint))))
  end
end

--- Builds every table as rows {label, value, sigma, truth, pull, ...} (numbers), writes
--- results.h5 (pf.results), report.md and the figures. Returns the tables.
function report.write(P, w)
  local out = P.out
  local af, dmf = P:file("accelerations"), P:file("darkmatter")
  local avf, gf, sf = P:file("average"), P:file("gnfw"), P:file("selection")
  local tables = {}

  -- Table I: spherical components at the Sun (ball average), 1e-10 m/s^2
  local sun = array.from{P.geom.sun}
  local a, sa = P:budget(af, "sun")
  local ta = rd(af, "/truth/sun")
  local function sph(v) return equilibrium.spherical(sun, v:reshape(1, 3)) end
  local ar, ath, aph = sph(a)
  local tr, tth, tph = sph(ta)
  -- errors: the spherical basis at the Sun is (x, -z, y) to 3e-3 rad: use the Cartesian sigmas
  local comps = {{"a_r", ar:get(1), sa:get(1), tr:get(1)}, {"a_theta", ath:get(1), sa:get(3), tth:get(1)},
                 {"a_phi", aph:get(1), sa:get(2), tph:get(1)}}
  local mag, smag = magnitude(a, sa)
  local tmag = math.sqrt(ta:square():sum())
  comps[4] = {"|a|", mag, smag, tmag}
  tables.table1 = {}
  for i, c in ipairs(comps) do
    local v, s, t = units.acc_to_1e10(c[2]), units.acc_to_1e10(c[3]), units.acc_to_1e10(c[4])
    tables.table1[i] = {c[1], v, s, t, pull(v, t, s), report.QUASAR[i][1], report.QUASAR[i][2]}
  end

  -- Table II: densities, 1e-2 Msun/pc^3
  local rho = rd(dmf, "/rho/sun"):get(1)
  local srho = rd(dmf, "/rho_err/sun"):get(1)
  local trho = rd(dmf, "/truth/rho/sun"):get(1)
  local rb = rd(P:file("baryons"), "/rho_b/sun"):get(1)
  local trb = rd(P:file("densities"), "/truth_baryons/sun"):get(1)
  local sb = rd(P:file("baryons"), "/err_b/sun"):get(1)
  local dm = rd(dmf, "/rho_dm/sun"):get(1)
  local sdm = rd(dmf, "/rho_dm_err/sun"):get(1)
  local tdm = rd(dmf, "/truth/rho_dm/sun"):get(1)
  local avg = rd(avf, "/rho_dm_rsun"):totable()
  local tavg = rd(avf, "/truth/rho_dm_rsun"):get(1)
  local c = units.rho_to_1e2
  tables.table2 = {
    {"rho_sun", c(rho), c(srho), c(trho), pull(rho, trho, srho)},
    {"rho_b,sun", c(rb), c(sb), c(trb), sb > 0 and pull(rb, trb, sb) or 0 / 0},
    {"rho_DM,sun", c(dm), c(sdm), c(tdm), pull(dm, tdm, sdm)},
    {"rho_DM(r_sun)", c(avg[1]), c(avg[2]), c(tavg), pull(avg[1], tavg, avg[2]), avg[3]},
  }

  -- gNFW
  local med, lo, hi, map = rd(gf, "/summary/median"):totable(), rd(gf, "/summary/p16"):totable(),
    rd(gf, "/summary/p84"):totable(), rd(gf, "/summary/map"):totable()
  tables.gnfw = {}
  local gt = P:is_mock() and P:gnfw_truth() or {}
  for j, name in ipairs(gnfw.names) do
    local t = gt[name] or 0 / 0
    local s = t > med[j] and hi[j] - med[j] or med[j] - lo[j]
    tables.gnfw[j] = {name, med[j], med[j] - lo[j], hi[j] - med[j], map[j], t, pull(med[j], t, s)}
  end

  -- results.h5 (pf.results, docs/results.md), scored against the truth of a mock run
  local scored, potR = results.write(P, tables)

  -- figures
  local plot = require "phaseflow.plot"
  local figs = plot.paper_figures(P, tables)

  -- report.md
  local L = {}
  local function p(s) L[#L + 1] = s end
  p("# phaseflow report: " .. P.o.name .. " preset")
  p("")
  local cinfo = h5.attrs(P:file("catalogue"), "/")
  p(("Input: %s. Preset `%s`."):format(cinfo.source or table.concat(P.inputs, ", "), P.o.name))
  p("")
  p("## Scale of this run (paper in brackets)")
  local pp = require("phaseflow.presets").paper
  local function row(label, k, sub)
    local v, q = P.o[k], pp[k]
    if sub then v, q = v[sub], q[sub] end
    p(("| %s | %s | %s |"):format(label, tostring(v), tostring(q)))
  end
  p("| setting | this run | paper |"); p("|---|---|---|")
  if P:is_mock() then row("mock stars sampled (within 10 kpc)", "mock", "stars") end
  row("training stars per flow (0 = all)", "n_train")
  row("flows per ensemble", "members"); row("flows per resample", "resample_members")
  row("bootstrap resamples", "bootstraps"); row("smeared resamples", "smears")
  -- each flow's architecture: the shared settings with its own (flow.n_x / flow.p_v) over them
  local presets = require "phaseflow.presets"
  local function arch(which) return presets.describe_flow(presets.flow_of(P.o, which)) end
  p(("| n(x) flow (transform, transforms x hidden x blocks) | %s | affine %d x %d x %d |"):format(
    arch("n_x"), pp.flow.transforms, pp.flow.hidden, pp.flow.blocks))
  p(("| p(v\\|x) flow | %s | affine %d x %d x %d |"):format(arch("p_v"), pp.flow.transforms, pp.flow.hidden,
    pp.flow.blocks))
  row("max epochs", "train", "max_epochs"); row("patience", "train", "patience")
  row("batch", "train", "batch"); row("learning rate", "train", "lr")
  if P.o.finetune then row("fine-tuning epochs at lr x 0.1", "finetune", "epochs") end
  p(("| density locations kept (kernel within, kpc of the Sun) | %.2f | - |"):format(
    require("phaseflow.steps.densities").edge(P.o)))
  row("velocities per acceleration point", "nv"); row("velocities per kernel point", "nv_density")
  row("kernel points", "kernel_points"); row("points in the 100 pc ball", "ball_points")
  row("MCMC steps", "mcmc", "steps")
  p("")
  -- every setting of the run that is not the paper's (pf.presets.diff), whatever its source:
  -- a named preset, a preset file (--preset FILE.lua) or --set
  local diff = presets.diff(P.o)
  p(("## Settings that differ from the paper (%d; preset `%s`%s)"):format(#diff, P.o.name,
    P.o.base and (", a preset file based on `" .. P.o.base .. "`") or ""))
  p("")
  p("| setting | this run | paper |"); p("|---|---|---|")
  for _, d in ipairs(diff) do
    p(("| %s | %s | %s |"):format(d.setting, (d.value:gsub("|", "\\|")), (d.other:gsub("|", "\\|"))))
  end
  p("")
  local cff = P:file("catalogue")
  local cf = rd(cff, "/cutflow/counts"):totable()
  local labels = {}
  for l in (h5.attrs(cff, "/cutflow/counts").labels or ""):gmatch("[^|]+") do labels[#labels + 1] = l end
  p("## The paper's cut flow (pf.gaia.select_files, lua/phaseflow/select.lua)")
  p("| # | cut | before | after | removed |"); p("|---|---|---|---|---|")
  for i, r in ipairs(cf) do
    p(("| %d | %s | %d | %d | %d |"):format(i, labels[i] or "?", r[1], r[2], r[1] - r[2]))
  end
  if cinfo.red_clump then p(("\nRed-clump fraction of the final sample (mock truth): %.3f."):format(cinfo.red_clump)) end
  local nsel = (rd(sf, "/selected/x"):shape())
  p(("Training sample: %d stars within %g kpc of the Sun."):format(nsel, P.o.radius))
  p("")
  p("## Table I: acceleration at the Sun (100 pc ball), 1e-10 m/s^2")
  p("| component | this work | truth | pull | Gaia EDR3 quasars |"); p("|---|---|---|---|---|")
  for _, r in ipairs(tables.table1) do
    p(("| %s | %s ± %s | %s | %s | %s ± %s |"):format(r[1], fmt(r[2]), fmt(r[3]), fmt(r[4]), fmt(r[5], 2), fmt(r[6], 2), fmt(r[7], 2)))
  end
  p("")
  p("## Table II: densities, 1e-2 Msun/pc^3 (GeV/cm^3)")
  p("| density | this work | GeV/cm^3 | truth | pull | chi2_nu |"); p("|---|---|---|---|---|---|")
  -- a value without error (the mock's exact baryons) says so instead of "± 0.000"
  local function pm(x, sx) return sx == 0 and (fmt(x) .. " (exact)") or (fmt(x) .. " ± " .. fmt(sx)) end
  local gev = units.gev_cm3_per_msun_pc3 / 100
  for _, r in ipairs(tables.table2) do
    p(("| %s | %s | %s | %s | %s | %s |"):format(r[1], pm(r[2], r[3]), pm(r[2] * gev, r[3] * gev),
      fmt(r[4]), fmt(r[5], 2), r[6] and fmt(r[6], 2) or ""))
  end
  p("")
  if P:baryon_model() == "mock" then
    p("Baryons subtracted: the mock's own baryon model (its bulge + Miyamoto-Nagai disk,")
    p("exact, smoothed with the same kernel points; no error). The McKee et al. (2015) model")
    p("(pf.baryons) is the option `baryons = \"mckee\"` of the preset (used for real data).")
  else
    p("Baryons subtracted: the McKee et al. (2015) model (pf.baryons) smoothed with the same kernel")
    p("points, with its component errors.")
  end
  if P:is_mock() then
    local tm = P:truth_model()
    p(("Truth (mock galaxy '%s', knobs %s): rho = its exact density smoothed by the kernel"):format(
      tm.name, require("phaseflow.serialize").dump(tm.galaxy.knobs)))
    p("(pf.truth); rho_DM = its dark components (NFW halo and any dark disk) smoothed by the")
    p("kernel; rho_b = its baryons (bulge + stellar disk) smoothed.")
  end
  p("")
  p("## gNFW posterior (rho0 in 1e-2 Msun/pc^3, rs in kpc)")
  p("| parameter | median | -1σ | +1σ | best fit | truth | pull |"); p("|---|---|---|---|---|---|---|")
  for _, r in ipairs(tables.gnfw) do
    p(("| %s | %s | %s | %s | %s | %s | %s |"):format(r[1], fmt(r[2], 2), fmt(r[3], 2), fmt(r[4], 2), fmt(r[5], 2),
      fmt(r[6], 2), fmt(r[7], 2)))
  end
  if P:is_mock() then
    p("")
    if P:components().nfw then
      p(("gNFW truth: the mock's dark matter is one NFW halo: beta = 1, rs = %g kpc,"):format(P:components().nfw.a))
      p("rho0 = amp / (4 pi rs^3) (pull: (median - truth) / the posterior half-width on the truth's side).")
    else
      p("gNFW truth: none (the mock's dark matter is not one NFW halo).")
    end
  end
  if scored then
    p("")
    p("## Scored against the truth (pf.score)")
    local n = P.o.truth_rule
    p(("With the run's truth rule (pf.truth: %d x %d x %d = %d points per location); every number is in")
      :format(n, n, 2 * n, truth.rule_points(n)))
    p("results.h5 under /score. With the scorer's defaults:")
    p(("`phaseflow scripts/score.lua %s/results.h5 %s`."):format(out,
      cinfo.mockdir and cinfo.mockdir .. "/mock.h5" or "mwpotential2014"))
    p("```")
    p(require("phaseflow.score").format(scored))
    p("```")
  end
  if potR then report.potential_section(P, p, potR, scored, tables) end
  p("")
  p("## Error budget")
  p("sigma = sqrt(sigma_flow^2 + sigma_stat^2 + sigma_meas^2 + sigma_syst^2), each source counted once")
  p("(pf.budget). Training is itself random: s_train, the spread over the base ensemble's M members, is")
  p("one flow's training noise, and an ensemble of m flows carries s_train^2/m of it. sigma_flow =")
  p("s_train/sqrt(M), the central value's training noise; sigma_stat and sigma_meas are the spreads over")
  p("bootstrap and error-smeared resamples less the training noise their r-flow ensembles carry")
  p("(s_train^2/r); sigma_syst is the RMS deviation from the central value of ensembles trained with")
  p("other settings, less the training noise of both (s_train^2 (1/r + 1/M)), for the flows' own bias,")
  p("common to every member and resample (estimated without the truth). A variance that the training")
  p("noise exceeds counts 0. This run's systematic variants:")
  local sy = P.o.systematics or {}
  if #sy == 0 then p("none (sigma_syst = 0).") end
  for i, alt in ipairs(sy) do
    if alt.refit then
      p(("%d. refit: a pair trained on as many stars drawn from the base ensembles (a parametric"):format(i))
      p("   bootstrap: its truth is the base ensemble, so its deviation measures the fitting's bias);")
    else
      p(("%d. %s;"):format(i, require("phaseflow.serialize").dump(alt)))
    end
  end
  p("Bands in the figures are 1 and 2 sigma.")
  local _, _, parts = P:budget(af, "sun")
  local A = units.acc_to_1e10
  p("")
  p("| a_r at the Sun, 1e-10 m/s^2 | flow | stat | meas | syst |"); p("|---|---|---|---|---|")
  p(("| sigma | %s | %s | %s | %s |"):format(fmt(A(parts.flow:get(1))), fmt(A(parts.stat:get(1))),
    fmt(A(parts.meas:get(1))), fmt(A(parts.syst:get(1)))))
  local c2 = units.rho_to_1e2
  local function g1(name) return rd(dmf, "/" .. name .. "/sun"):get(1) end
  p(("| rho_sun sigma, 1e-2 Msun/pc^3 | %s | %s | %s | %s |"):format(fmt(c2(g1("rho_err_flow"))),
    fmt(c2(g1("rho_err_stat"))), fmt(c2(g1("rho_err_meas"))), fmt(c2(g1("rho_err_syst")))))
  p("")
  p("## Time per step (seconds; 0 = up to date, skipped)")
  p("| step | seconds |"); p("|---|---|")
  for _, s in ipairs(P.step_names) do
    -- this step has not ended while it writes: its time so far (the figures are drawn)
    local running = P.started and P.started[s] and not P.times[s]
    p(("| %s | %.1f%s |"):format(s, running and (wtime() - P.started[s]) or P.times[s] or 0,
      running and " (this step, up to this table)" or ""))
  end
  p("")
  p("## Figures")
  for _, f in ipairs(figs) do p(("- %s: `%s`"):format(f.title, f.png)) end
  fs.write(out .. "/report.md", table.concat(L, "\n") .. "\n")
  w.put("/table1", matrix(tables.table1))
  w.put("/table2", matrix(tables.table2))
  return tables
end

return report

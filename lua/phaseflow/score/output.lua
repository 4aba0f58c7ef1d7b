-- luacheck: no max line length
-- pf.score's output: a score as a text table (units in the labels) and every number of it
-- in HDF5, through a temporary name (pf.fs.replace) when written as a file of its own.
local core = require "phaseflow.core"
local h5 = require "phaseflow.h5"
local fs = require "phaseflow.fs"
local units = require "phaseflow.units"
local errors = require "phaseflow.score.errors"

local array = core.array
local fail = errors.fail
local NAN = 0 / 0
local output = {}

local function pc(x) return x == x and ("%.2f%%"):format(100 * x) or "-" end
local function f3(x) return x == x and ("%.3f"):format(x) or "-" end
local function f2(x) return x == x and ("%.2f"):format(x) or "-" end

--- The scorer's table as text (a few short sections; units in the labels).
function output.format(S)
  local L = {}
  local function p(fmt, ...) L[#L + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end
  local A, Rh = units.acc_to_1e10, units.rho_to_1e2
  p("Score of %s against %s (truth kernel rule of %d points)", S.results or "(results)", S.truth, S.kernel_points)
  if S.note then p("Note: %s", S.note) end
  p("")
  local a = S.a_sun
  p("1. Acceleration at the Sun (ball %.3f kpc, %d points, seed %d), 1e-10 m/s^2", a.radius, a.points, a.seed)
  p("   %-9s %9s %9s %9s %7s", "component", "run", "sigma", "truth", "pull")
  for j, c in ipairs({"a_x", "a_y", "a_z"}) do
    p("   %-9s %9s %9s %9s %7s", c, f3(A(a.value[j])), f3(A(a.sigma[j])), f3(A(a.truth[j])), f2(a.pull[j]))
  end
  p("   |a_sun - a_true| / |a_true| = %s", pc(a.rel_err))
  p("")
  p("2. Acceleration curves: relative error of |a| (and of the vector a)")
  p("   %-10s %6s %9s %9s %11s %11s", "family", "points", "median", "p90", "median vec", "p90 vec")
  for _, r in ipairs(S.acc.rows) do
    p("   %-10s %6d %9s %9s %11s %11s", r[1], r[2], pc(r[3]), pc(r[4]), pc(r[5]), pc(r[6]))
  end
  p("")
  p("3. North-South (medians over the pairs)       %8s %8s %8s", "pairs", "run", "truth")
  if #S.north_south.rows == 0 then p("   no mirrored North/South curves in the results") end
  for _, r in ipairs(S.north_south.rows) do
    local label = r[1] == "r" and "r-lines" or "phi-curves"
    p("   %-10s |a_r(N)/a_r(S) - 1|              %8d %8s %8s", label, r[2], pc(r[3]), pc(r[5]))
    p("   %-10s |a_theta(N) + a_theta(S)| / |a|  %8d %8s %8s", label, r[2], pc(r[4]), pc(r[6]))
  end
  p("")
  p("4. Kernel-smoothed density rho*K, 1e-2 Msun/pc^3")
  local rs = S.rho_sun
  if rs then
    p("   at the Sun: run %s ± %s, truth %s: error %s, pull %s", f3(Rh(rs.value)), f3(Rh(rs.sigma)),
      f3(Rh(rs.truth)), pc(rs.rel_err), f2(rs.pull))
  end
  p("   %-10s %9s %9s %9s %9s", "curve", "locations", "NaN", "median", "p90")
  for _, r in ipairs(S.density.rows) do
    p("   %-10s %9d %9s %9s %9s", r[1], r[2], ("%d/%d"):format(r[3], r[2]), pc(r[4]), pc(r[5]))
  end
  p("")
  local d = S.rho_dm_rsun
  p("5. rho_DM(r_sun), 1e-2 Msun/pc^3 (inverse-variance mean over %d independent points)", d.n)
  if d.truth then
    p("   run %s ± %s (chi2_nu %s), truth %s (same weights): error %s, pull %s", f3(Rh(d.value)),
      f3(Rh(d.sigma)), f2(d.chi2), f3(Rh(d.truth)), pc(d.rel_err), f2(d.pull))
  else
    p("   run %s ± %s (chi2_nu %s); not scored: the truth has no dark matter (dm)", f3(Rh(d.value)),
      f3(Rh(d.sigma)), f2(d.chi2))
  end
  p("")
  p("6. Calibration: |rec - true| <= 1 sigma")
  p("   %-13s %7s %8s %9s %17s %12s", "values", "n", "covered", "fraction", "RMS (rec-true)/s", "sigma 0/NaN")
  for _, k in ipairs({"acc", "density", "all"}) do
    local c = S.calibration[k]
    local label = k == "acc" and "acc. curves" or k == "density" and "density" or "both"
    p("   %-13s %7d %8d %9s %17s %12d", label, c.n, c.covered, pc(c.fraction), f3(c.rms), c.bad)
  end
  return table.concat(L, "\n")
end

local function matrix(rows, first)
  local m, labels = {}, {}
  for i, r in ipairs(rows) do
    labels[i] = r[1]
    local nums = {}
    for k = first, #r do nums[#nums + 1] = r[k] end
    m[i] = nums
  end
  return array.from(m), table.concat(labels, ",")
end

--- Write every number of a score into HDF5 `file` under `group` ("/" by default; the
--- report uses "/score" of results.h5). Layout: a_sun/{value,sigma,truth,pull,rel_err},
--- acc/NAME/{truth,rel_err,rel_err_vec}, acc/summary, north_south/summary and
--- north_south/AXIS/{ratio,theta}, density/NAME/{truth,rel_err}, density/summary,
--- rho_sun, rho_dm_rsun, calibration (tables: attributes rows and columns). Every dataset
--- has the attributes units (astropy's unit strings, "" dimensionless, one per column
--- where the columns differ) and description, as every dataset of results.h5.
function output.write(file, S, group)
  local g = (group or "/"):gsub("/$", "")
  local function w(path, a, unit_text, description, attrs)
    if type(a) == "number" then a = {a} end
    if type(a) == "table" then a = array.from(a) end
    local at = {units = unit_text, description = description}
    for k, v in pairs(attrs or {}) do at[k] = v end
    h5.write(file, g .. path, a, at)
  end
  local ACC, RHO, NONE = "km2 / (s2 kpc)", "solMass / kpc3", ""
  local a = S.a_sun
  w("/a_sun/value", a.value, ACC, "The run's acceleration (x, y, z) at the Sun (ball average).")
  w("/a_sun/sigma", a.sigma, ACC, "The run's 1-sigma error of a_sun/value.")
  w("/a_sun/truth", a.truth, ACC, "The scorer's true acceleration averaged over the same ball.")
  w("/a_sun/pull", a.pull, NONE, "(value - truth) / sigma per component.")
  w("/a_sun/rel_err", a.rel_err, NONE, "|value - truth| / |truth|.")
  for _, n in ipairs(S.acc.names) do
    w("/acc/" .. n .. "/truth", S.acc[n].truth, ACC, "The scorer's true acceleration (x, y, z) at each point of the curve.")
    w("/acc/" .. n .. "/rel_err", S.acc[n].rel_err, NONE, "Relative error of the magnitude at each point: | |a| - |a_true| | / |a_true|.",
      {quantity = "| |a| - |a_true| | / |a_true|"})
    w("/acc/" .. n .. "/rel_err_vec", S.acc[n].rel_err_vec, NONE, "Relative error of the vector at each point: |a - a_true| / |a_true|.",
      {quantity = "|a - a_true| / |a_true|"})
  end
  local m, rows = matrix(S.acc.rows, 2)
  w("/acc/summary", m, NONE, "Per curve (rows): points and the median and 90th percentile of rel_err and rel_err_vec.",
    {rows = rows, columns = "points,median,p90,median_vec,p90_vec"})
  if #S.north_south.rows > 0 then
    m, rows = matrix(S.north_south.rows, 2)
    w("/north_south/summary", m, NONE, "Per axis (rows): pairs and the medians of the North-South asymmetries of the run and of the truth.",
      {rows = rows, columns = "pairs,ratio_run,theta_run,ratio_truth,theta_truth",
       quantity = "medians of |a_r(N)/a_r(S) - 1| and |a_theta(N) + a_theta(S)| / |a|"})
    for _, r in ipairs(S.north_south.rows) do
      local ns = S.north_south[r[1]]
      w("/north_south/" .. r[1] .. "/ratio", ns.run.ratio_points, NONE, "|a_r(N)/a_r(S) - 1| of the run at each pair of points.")
      w("/north_south/" .. r[1] .. "/theta", ns.run.theta_points, NONE, "|a_theta(N) + a_theta(S)| / |a| of the run at each pair of points.")
    end
  end
  for _, n in ipairs(S.density.names) do
    w("/density/" .. n .. "/truth", S.density[n].truth, RHO, "The scorer's true kernel-smoothed density at each location.")
    w("/density/" .. n .. "/rel_err", S.density[n].rel_err, NONE, "|rho - rho_true| / rho_true at each location.")
  end
  m, rows = matrix(S.density.rows, 2)
  w("/density/summary", m, NONE, "Per set of locations (rows): locations, NaN count, median and 90th percentile of rel_err.",
    {rows = rows, columns = "locations,nan,median,p90"})
  if S.rho_sun then
    local r = S.rho_sun
    w("/rho_sun", {r.value, r.sigma, r.truth, r.rel_err, r.pull}, table.concat({RHO, RHO, RHO, NONE, NONE}, ", "),
      "The total density at the Sun: value, sigma, truth, relative error and pull.",
      {columns = "value,sigma,truth,rel_err,pull"})
  end
  local d = S.rho_dm_rsun
  w("/rho_dm_rsun", {d.value, d.sigma, d.truth or NAN, d.rel_err or NAN, d.pull or NAN, d.chi2, d.n},
    table.concat({RHO, RHO, RHO, NONE, NONE, NONE, NONE}, ", "),
    "The mean dark matter density at r = r_sun: value, sigma, truth, relative error, pull, reduced chi^2 and points.",
    {columns = "value,sigma,truth,rel_err,pull,chi2_nu,points"})
  local c = {}
  for i, k in ipairs({"acc", "density", "all"}) do
    local t = S.calibration[k]
    c[i] = {k, t.n, t.covered, t.fraction, t.rms, t.bad}
  end
  m, rows = matrix(c, 2)
  w("/calibration", m, NONE, "Coverage of the 1-sigma errors (rows acc, density, all): numbers, covered, fraction, RMS of z = (value - truth)/sigma, sigma zero or NaN.",
    {rows = rows, columns = "n,covered,fraction,rms_z,sigma_zero_or_nan"})
  local top = g == "" and "/" or g
  h5.set_attrs(file, top, {score_truth = S.truth, score_kernel_points = S.kernel_points,
    score_kernel_seed = S.seed, score_results = S.results or "", score_note = S.note or ""})
end

--- Write a score to `file` whole: a temporary name, renamed at the end (pf.fs.replace), so
--- no half-written file is left under the final name.
function output.save(file, S)
  local ok, err = pcall(fs.replace, file, function(part) output.write(part, S, "/") end)
  if not ok then
    os.remove(file .. ".part")
    fail("--out '%s': writing failed: %s", file, tostring(err))
  end
end

return output

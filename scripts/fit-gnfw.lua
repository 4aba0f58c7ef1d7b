-- Fit the paper's generalized NFW profile to dark-matter density points by MCMC.
--
--   phaseflow scripts/fit-gnfw.lua POINTS [OUT.h5] [steps=20000] [walkers=32] [seed=1]
--
-- POINTS: a CSV with columns r_kpc, rho, sigma (rho and sigma in the units of rho0,
-- the paper's 1e-2 Msun/pc^3), or an HDF5 file with datasets r_kpc, rho, sigma
-- (POINTS may be file.h5:/group). Prints posterior medians with 16th/84th
-- percentiles and the maximum-posterior point; writes the flattened samples and the
-- log-posteriors (the data of a corner plot) and the summary to OUT.h5
-- (default gnfw_fit.h5) under /gnfw. Edit the priors below (pf.gnfw.priors or any
-- pf.priors product) to change them.
local pf = require "phaseflow"

local cli = require "phaseflow.cli"
local SPEC = {script = "fit-gnfw.lua", keyvalues = true,
              usage = "usage: phaseflow scripts/fit-gnfw.lua POINTS [OUT.h5] [steps=20000] [walkers=32] [seed=1]",
              options = {steps = {"integer", min = 1}, walkers = {"integer", min = 1},
                         seed = {"integer", min = 0}},
              defaults = {steps = 20000, walkers = 32, seed = 1}}
local opts, pos = cli.parse(arg, SPEC)
if #pos < 1 or #pos > 2 then
  cli.fail(SPEC, ("POINTS and optionally OUT.h5 expected, got %d argument(s)"):format(#pos))
end
local points, out = pos[1], pos[2] or "gnfw_fit.h5"

local file, group = points:match("^(.-%.h5):(.*)$")
local pts = pf.gnfw.read_points(file or points, group)

-- The paper's priors (FACTS.md): the C path. To use other prior families, pass
-- prior = pf.priors.product(...) instead (the Lua path).
local fit = pf.gnfw.fit(pts, {walkers = opts.walkers, steps = opts.steps, seed = opts.seed,
  progress = true, prior_settings = nil})

local res = fit.result
local tau = res:tau()
print(("gNFW fit of %d points: %d walkers x %d steps (burn %d), acceptance %.3f")
  :format(pts.r:size(), res.walkers, res.steps, res.burn, res.acceptance_mean))
print(("autocorrelation time (steps): %.1f %.1f %.1f"):format(tau:get(1), tau:get(2), tau:get(3)))
local units = {rho0 = "1e-2 Msun/pc^3", rs = "kpc", beta = ""}
for _, n in ipairs(pf.gnfw.names) do
  print(("%-5s = %8.3f  +%.3f -%.3f  (16th-84th)   MAP %8.3f  %s"):format(n, fit.median[n],
    fit.p84[n] - fit.median[n], fit.median[n] - fit.p16[n], fit.map[n], units[n]))
end

local flat = res:flat()
local lp = res.log_prob:reshape(res.log_prob:size())
local summary = pf.array.zeros(4, 3)
for j, n in ipairs(pf.gnfw.names) do
  summary:set(1, j, fit.median[n]); summary:set(2, j, fit.p16[n])
  summary:set(3, j, fit.p84[n]); summary:set(4, j, fit.map[n])
end
-- written whole: a temporary name, renamed once every dataset is in (pf.fs.replace)
pf.fs.replace(out, function(part)
  pf.h5.write(part, "/gnfw/samples", flat, {columns = "rho0, rs, beta", units = "1e-2 Msun/pc^3, kpc, 1"})
  pf.h5.write(part, "/gnfw/log_post", lp)
  pf.h5.write(part, "/gnfw/summary", summary, {rows = "median, p16, p84, map", columns = "rho0, rs, beta"})
  pf.h5.provenance(part, "/gnfw", {points = points, steps = opts.steps, walkers = opts.walkers,
    seed = opts.seed, burn = res.burn})
end)
print("corner-plot data written to " .. out .. ":/gnfw")

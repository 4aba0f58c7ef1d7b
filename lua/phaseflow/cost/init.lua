-- pf.cost: what a pipeline run (pf.pipeline) of a preset costs, projected from per-unit
-- costs measured on the machine at hand (scripts/cost.lua prints the table).
--
--   local o = pf.presets.get("quick")
--   local counts = pf.cost.counts(o)                 -- pure: jobs, positions, kernel points
--   local rates = pf.cost.calibrate(o)               -- timing: a few seconds per kind of work
--   local rows, total = pf.cost.project(counts, rates, {threads = 8})
--
-- Three parts, kept apart so that the counting can be tested exactly:
--   counting    pure functions of a preset (and of the number of selected stars): the
--               resamples, flow jobs, phase-space densities evaluated, acceleration
--               positions and density kernel points, mirroring pf.pipeline's P:variants(),
--               P:densities_f() and P:density_points() (tests/cost_spec.lua checks them
--               against a pipeline object);
--   calibration short timings of the pipeline's own code on synthetic inputs (flows of the
--               preset's architecture, 1-3 epochs; accelerations at the preset's nv; a small
--               mock through the catalogue step; a short MCMC);
--   projection  counts x per-unit costs: linear in every count.
-- Seconds are wall seconds with the calibration's thread count; another thread count T
-- scales them by threads / T (perfect scaling assumed), and core-hours are seconds x
-- threads / 3600 whatever T is.
--
-- The parts: cost/counts.lua (counting), cost/calibrate.lua (calibration and the machine);
-- this file projects.
local core = require "phaseflow.core"
local counts = require "phaseflow.cost.counts"
local calibrate = require "phaseflow.cost.calibrate"

local cost = {}
for k, v in pairs(counts) do cost[k] = v end
for k, v in pairs(calibrate) do cost[k] = v end

-- Steps too small to model (seconds at every preset: not measured, not in the total). A
-- step of pf.pipeline.steps neither modelled by cost.seconds nor listed here gets a row
-- saying it is not modelled.
cost.SMALL = {
  baryons = "the baryon model smoothed at the density locations (analytic, >= 400 kernel points each)",
  darkmatter = "subtractions and error budgets over the density locations",
  average = "a weighted mean over the independent points",
  report = "tables, results.h5 and the figures (gnuplot)",
}

-- projection -------------------------------------------------------------------------

-- Cost per (position x velocity) of a phase-space density of M flow pairs: a + b M
-- (sampling is shared by the members, each member's gradients are not).
local function per_pv(r, m) return r.a + r.b * m end

-- Seconds of one fit of the global potential: its epochs over the stars, and drawing the
-- stars with their gradients from a density of M flow pairs (an epoch bound, like the
-- flows': early stopping decides the real count).
local function pot_fit(r, stars, epochs, m)
  return stars * epochs * r.star_epoch + stars * r.star_once + stars * per_pv(r.draw, m)
end

-- seconds of one density kind over the densities evaluated: sum_d (a + b M_d) x rows
local function over_densities(rows, list, r)
  local s = 0
  for _, d in ipairs(list) do s = s + rows * per_pv(r, d.members) end
  return s
end

--- Projected seconds of every step (with the calibration's threads). rates: from
-- cost.calibrate (or made by hand: tests). Returns rows {step, units, seconds, small,
-- modelled} in pf.pipeline's step order, and the total seconds. opts.steps: the step list
-- (default pf.pipeline.steps).
function cost.seconds(c, rates, opts)
  opts = opts or {}
  local steps = opts.steps or require("phaseflow.pipeline").steps
  local out, total = {}, 0
  for _, step in ipairs(steps) do
    local s, row = nil, {step = step, modelled = true}
    if step == "catalogue" then
      local cc = c.catalogue
      s = cc.mock_stars * rates.mock_star + (rates.catalogue_fixed or 0) + (cc.normalize and rates.normalisation or 0)
      if not c.is_mock then s = 0 / 0 end
    elseif step == "selection" then
      s = c.selection.units * rates.smear_star + c.selection.smears * (rates.smear_fixed or 0)
    elseif step == "flows" then
      s = 0
      for _, g in ipairs(c.flows.groups) do
        local r = rates.flows[g.key]
        if not r then error(("pf.cost: no calibration for the flow architecture %s"):format(g.key), 2) end
        for _, which in ipairs{"n_x", "p_v"} do
          s = s + g.star_epochs * r[which].star_epoch + g.stars_once * r[which].star_once
        end
      end
    elseif step == "accelerations" then
      local a = c.accelerations
      s = over_densities(a.positions * a.nv, c.densities_list, rates.accel)
    elseif step == "equilibrium" then
      local e = c.equilibrium
      s = e.n * per_pv(rates.equilibrium, e.members)
      if e.truth then
        s = s + e.n * rates.equilibrium.truth + (c.catalogue.normalize and rates.normalisation or 0)
      end
    elseif step == "densities" then
      local d = c.densities
      s = over_densities(d.positions * d.nv, c.densities_list, rates.density)
    elseif step == "potential" then
      local pc, r = c.potential, rates.potential
      s = 0
      if pc.fits > 0 then
        if not r then error("pf.cost: no calibration for the potential step", 2) end
        for _, d in ipairs(c.densities_list) do s = s + pot_fit(r, pc.stars, pc.epochs, d.members) end
      end
    elseif step == "gnfw" then
      s = c.gnfw.units * rates.mcmc
    elseif cost.SMALL[step] then
      row.small = cost.SMALL[step]
    else
      row.modelled = false
    end
    row.seconds = s
    if s and s == s then total = total + s end
    out[#out + 1] = row
  end
  return out, total
end

--- Projection for `threads` (default: the calibration's): each row gains wall (seconds on
-- that many threads, assuming perfect scaling from the calibration's thread count) and
-- core_hours (seconds x calibration threads / 3600). Returns rows and the totals
-- {seconds, wall, core_hours}.
function cost.project(c, rates, opts)
  opts = opts or {}
  local t0 = rates.threads or 1
  local T = opts.threads or t0
  local rows, total = cost.seconds(c, rates, opts)
  for _, r in ipairs(rows) do
    if r.seconds then
      r.wall = r.seconds * t0 / T
      r.core_hours = r.seconds * t0 / 3600
    end
  end
  return rows, {seconds = total, wall = total * t0 / T, core_hours = total * t0 / 3600, threads = T,
                measured_threads = t0}
end

--- Seconds of each job of cost.jobs(o) (with the calibration's threads), per step:
--- {flows = {{seconds, phase}, ...}, accelerations = ..., densities = ..., potential = ...}. c: the counts
--- of the same preset (cost.counts: kernel points, velocities).
function cost.job_seconds(jobs, c, rates)
  local out = {flows = {}, accelerations = {}, densities = {}, potential = {}}
  for i, j in ipairs(jobs.potential or {}) do
    if not rates.potential then error("pf.cost: no calibration for the potential step", 2) end
    out.potential[i] = {seconds = pot_fit(rates.potential, j.stars, j.epochs, j.members), phase = 1}
  end
  for i, j in ipairs(jobs.flows) do
    local r = rates.flows[j.key]
    if not r then error(("pf.cost: no calibration for the flow architecture %s"):format(j.key), 2) end
    local w = r[j.which]
    out.flows[i] = {seconds = j.stars * j.epochs * w.star_epoch + j.stars * w.star_once, phase = j.phase}
  end
  for i, j in ipairs(jobs.accelerations) do
    out.accelerations[i] = {seconds = j.positions * c.accelerations.nv * per_pv(rates.accel, j.members), phase = 1}
  end
  for i, j in ipairs(jobs.densities) do
    out.densities[i] = {seconds = j.locations * c.densities.kernel * c.densities.nv * per_pv(rates.density, j.members),
                        phase = 1}
  end
  return out
end

--- The wall time of jobs handed out in order, one at a time, to whichever of `ranks`
--- processes is free first (pf.mpi's dispatcher; a job array's tasks take I, I+N, ...,
--- close to it when jobs are many), phase after phase; each job's seconds times `scale`.
--- Returns the wall seconds and the longest job's.
function cost.schedule(list, ranks, scale)
  local phases, order = {}, {}
  for _, j in ipairs(list) do
    if not phases[j.phase] then phases[j.phase] = {}; order[#order + 1] = j.phase end
    table.insert(phases[j.phase], j.seconds * scale)
  end
  table.sort(order)
  local wall, longest = 0, 0
  for _, p in ipairs(order) do
    local free = {}
    for r = 1, ranks do free[r] = 0 end
    for _, t in ipairs(phases[p]) do
      local best = 1
      for r = 2, ranks do if free[r] < free[best] then best = r end end
      free[best] = free[best] + t
      if t > longest then longest = t end
    end
    local m = 0
    for r = 1, ranks do if free[r] > m then m = free[r] end end
    wall = wall + m
  end
  return wall, longest
end

--- Projection for `ranks` processes of `threads` threads each (a cluster run: mpirun or a
--- job array): the steps with jobs (flows, accelerations, densities, potential) spread their jobs
--- (cost.schedule), the others run in one process. rows as cost.project's, each with
--- wall and core_hours (reserved: wall x ranks x threads / 3600) and, for job steps, jobs
--- and longest (the longest job's wall: no number of ranks goes below it).
function cost.project_cluster(c, rates, jobs, opts)
  local t0 = rates.threads or 1
  local R, T = opts.ranks or 1, opts.threads or t0
  local rows = cost.seconds(c, rates)
  local js = cost.job_seconds(jobs, c, rates)
  local total = 0
  for _, r in ipairs(rows) do
    if r.seconds then
      if js[r.step] then
        r.wall, r.longest = cost.schedule(js[r.step], R, t0 / T)
        r.jobs = #js[r.step]
      else
        r.wall = r.seconds * t0 / T
      end
      r.core_hours = r.wall * R * T / 3600
      if r.wall == r.wall then total = total + r.wall end
    end
  end
  return rows, {wall = total, core_hours = total * R * T / 3600, ranks = R, threads = T, measured_threads = t0}
end

--- What each modelled step of counts `c` (cost.counts) does, in words, for tables:
--- {catalogue = "3,000,000 mock stars (mock + cut flow)", flows = "16 jobs ...", ...}.
function cost.units_text(c)
  local N = cost.count_text
  local a, d, e, f = c.accelerations, c.densities, c.equilibrium, c.flows
  return {
    catalogue = ("%s mock stars (mock + cut flow)"):format(N(c.catalogue.mock_stars)),
    selection = ("%d smeared resamples x %s stars (10 kpc sample)"):format(c.selection.smears, N(c.sample10)),
    flows = ("%s jobs (n(x) + p(v|x)) x %s stars x %s%d epochs = %s star-epochs"):format(N(f.jobs),
      N(f.stars), f.epochs_given and "" or "<= ", f.epochs, N(f.star_epochs)),
    accelerations = ("%s positions x %s v x %s densities (%s flow pairs)"):format(N(a.positions), N(a.nv),
      N(a.densities), N(a.pairs)),
    equilibrium = ("%s v x %d-pair base%s"):format(N(e.n), e.members,
      e.truth and " + the mock's exact df" or ""),
    densities = ("%s locations x %s kernel points x %s v x %s densities (%s flow pairs)"):format(
      N(d.locations), N(d.kernel), N(d.nv), N(d.densities), N(d.pairs)),
    gnfw = ("%s steps x %d walkers"):format(N(c.gnfw.steps), c.gnfw.walkers),
    potential = c.potential.fits > 0 and ("%s fits x %s stars x <= %s epochs"):format(N(c.potential.fits),
      N(c.potential.stars), N(c.potential.epochs)) or "no fit (potential.fit = false)",
  }
end

--- The star counts of an earlier run in folder `dir`, as options for cost.counts:
--- {selected, selected_source, sample10, sample10_source, is_mock}; nil and a reason
--- when DIR/steps/selection.h5 cannot be read.
function cost.run_counts(dir)
  local h5 = require "phaseflow.h5"
  local sel = dir .. "/steps/selection.h5"
  local ok, x = pcall(h5.read, sel, "/selected/x")
  if not ok then return nil, ("cannot read %s:/selected/x (%s)"):format(sel, tostring(x)) end
  local out = {selected = (x:shape()), selected_source = sel .. " (/selected/x)"}
  local cat = dir .. "/steps/catalogue.h5"
  local ok10, s10 = pcall(h5.read, cat, "/sample10/x")
  if ok10 then out.sample10, out.sample10_source = (s10:shape()), cat .. " (/sample10/x)" end
  local okm, m = pcall(h5.read, cat, "/info/is_mock")
  if okm then out.is_mock = m:get(1) == 1 end
  return out
end

-- a short canonical text of a count (for tables): 1234567 -> "1,234,567", big -> "1.23e+09"
function cost.count_text(n)
  if n >= 1e9 then return ("%.3g"):format(n) end
  local s = ("%d"):format(math.floor(n + 0.5))
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

--- Seconds in words: the progress bars' format (pf.progress.format_duration: "12.3s",
--- "3m05s", "5h12m", "12.4 days", "3.1 years"); "-" for NaN.
function cost.duration_text(s)
  if s ~= s then return "-" end
  return core.progress.format_duration(s)
end

return cost

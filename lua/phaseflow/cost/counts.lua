-- pf.cost's counting: pure functions of a preset (and of the number of selected stars):
-- the resamples, flow jobs, phase-space densities evaluated, acceleration positions and
-- density kernel points, mirroring the pipeline's P:variants(), P:densities_f() and
-- P:density_points() (tests/cost_spec.lua checks them against a pipeline object).
local core = require "phaseflow.core"
local geometry = require "phaseflow.geometry"
local poisson = require "phaseflow.poisson"

local cost = {}

-- Whether preset o fits the global potential (the potential step's own test).
local function fits_potential(o) return require("phaseflow.steps.potential").fits(o) end

-- Stars within 4 kpc per mock star (mock radius 10 kpc, the paper's cuts): the quick
-- preset's mock in README.md / docs/pipeline.md, 73,221 of 1,000,000.
cost.SELECTED_FRACTION = 0.0732
-- The 10 kpc sample (cut flow up to the speed cut, the stars the smeared resamples redraw)
-- per mock star: 60,981 of 200,000 for pf.mock.make_files{stars = 200000, seed = 1}.
cost.SAMPLE10_FRACTION = 0.305

--- The resamples a run trains (as P:variants()): {kind, index, members, name, alt, o}, with
-- o the preset as the flows step sees it for that variant (a systematic's settings
-- replaced, shallowly, as in the flows step).
function cost.variants(o)
  local out = {{kind = "base", index = 0, members = o.members}}
  for b = 1, o.bootstraps or 0 do out[#out + 1] = {kind = "boot", index = b, members = o.resample_members} end
  for s = 1, o.smears or 0 do out[#out + 1] = {kind = "smear", index = s, members = o.resample_members} end
  for s, alt in ipairs(o.systematics or {}) do
    out[#out + 1] = {kind = "syst", index = s, members = 1, alt = alt}
  end
  for _, vt in ipairs(out) do
    vt.name = vt.kind == "base" and "base" or ("%s_%03d"):format(vt.kind, vt.index)
    local eo = o
    if vt.alt then
      eo = {}
      for k, v in pairs(o) do eo[k] = v end
      for k, v in pairs(vt.alt) do eo[k] = v end
    end
    vt.o = eo
  end
  return out
end

--- The phase-space densities the accelerations and densities steps evaluate (as
-- P:densities_f()): one per variant (an ensemble of its members) and, when the base
-- ensemble has several members, each base member alone. Returns the list {name, kind,
-- members}, its length and the sum of members (flow pairs evaluated per point).
function cost.densities(o)
  local out, pairs_ = {}, 0
  for _, vt in ipairs(cost.variants(o)) do
    out[#out + 1] = {name = vt.name, kind = vt.kind, members = vt.members}
    if vt.kind == "base" and vt.members > 1 then
      for k = 1, vt.members do out[#out + 1] = {name = ("member_%03d"):format(k), kind = "member", members = 1} end
    end
  end
  for _, d in ipairs(out) do pairs_ = pairs_ + d.members end
  return out, #out, pairs_
end

--- Stars within the survey sphere (the selected sample): opts.selected if given, else the
-- mock's expected count, mock.stars x SELECTED_FRACTION. Returns the count and where it
-- comes from.
function cost.selected_stars(o, opts)
  opts = opts or {}
  if opts.selected then return opts.selected, opts.selected_source or "given" end
  local n = math.floor(o.mock.stars * cost.SELECTED_FRACTION + 0.5)
  local src = ("expected for the mock: %d stars x %.4f (the quick mock's 73,221 of 1,000,000 within 4 kpc, "
    .. "README.md; for a 10 kpc mock and the paper's cuts)"):format(o.mock.stars, cost.SELECTED_FRACTION)
  if o.radius ~= 4 or o.mock.radius ~= 10 then
    src = src .. (" -- NOT measured for this preset's radius %g kpc and mock radius %g kpc: give --stars or --from")
      :format(o.radius, o.mock.radius)
  end
  return n, src
end

--- Stars each flow is trained on: n_train, or all N selected stars for n_train = 0 (at
-- most N: the base sample subsamples without replacement, bootstraps draw min(n_train, N)).
function cost.train_stars(o, n)
  local nt = o.n_train or 0
  return nt > 0 and math.min(nt, n) or n
end

--- The epoch bound of one flow: max_epochs + finetune epochs (early stopping may end
-- sooner), or `epochs` when the caller knows better.
function cost.epochs(o, epochs)
  if epochs then return epochs end
  return (o.train.max_epochs or 1000) + (o.finetune and o.finetune.epochs or 0)
end

-- the calibration key of a flow architecture (a systematic may change it, or the batch)
function cost.arch_key(o)
  local f = o.flow
  local family = f.layers or (f.transform == "spline" and ("spline%d/"):format(f.bins or 8)) or ""
  local own = ""
  for _, which in ipairs{"n_x", "p_v"} do
    if f[which] then own = own .. " " .. which .. "=" .. require("phaseflow.serialize").dump(f[which]) end
  end
  return ("%s%dx%dx%d/b%d%s"):format(family, f.transforms, f.hidden, f.blocks, o.train.batch or 1024, own)
end

--- Flow jobs: one per (variant, member, flow) with flow n_x or p_v, grouped by
-- architecture. opts: selected (stars in the survey sphere), epochs (expected epochs per
-- flow). Returns groups {key, flow, batch, jobs (per flow kind: n_x and p_v each), stars,
-- epochs, star_epochs (per flow kind)}, sorted by key, and the number of jobs (both kinds).
function cost.flow_jobs(o, opts)
  opts = opts or {}
  local n = cost.selected_stars(o, opts)
  local groups, list, jobs = {}, {}, 0
  for _, vt in ipairs(cost.variants(o)) do
    local eo = vt.o
    local key = cost.arch_key(eo)
    local g = groups[key]
    if not g then
      g = {key = key, flow = eo.flow, batch = eo.train.batch or 1024, train = eo.train, jobs = 0,
           star_epochs = 0, stars_once = 0}
      groups[key] = g
      list[#list + 1] = g
    end
    local stars, ep = cost.train_stars(eo, n), cost.epochs(eo, opts.epochs)
    g.jobs = g.jobs + vt.members
    g.star_epochs = g.star_epochs + vt.members * stars * ep
    g.stars_once = g.stars_once + vt.members * stars
    g.stars, g.epochs = stars, ep
    jobs = jobs + 2 * vt.members
  end
  table.sort(list, function(a, b) return a.key < b.key end)
  return list, jobs
end

--- Acceleration positions per phase-space density (the accelerations step): the Sun's
-- ball points, every point of the five curves, and the ball points again for each arc
-- point within 150 pc of the Sun (those are ball-averaged as well). Returns the total and
-- the parts {ball, curves, arc_ball}.
function cost.acceleration_positions(o)
  local g = geometry.paper(o.geometry)
  local curves = 0
  for _, name in ipairs(g.curve_names) do curves = curves + g.curves[name].n end
  local parts = {ball = o.ball_points, curves = curves, arc_ball = #g.arc_ball * o.ball_points}
  return parts.ball + parts.curves + parts.arc_ball, parts
end

--- Kernel points per density location for a `points` option (pf.poisson.kernel_points:
-- volume and surface sets, each rounded to an even count).
function cost.kernel_points(points)
  local pts = poisson.kernel_points(core.array.from{geometry.SUN}, {points = points})
  return pts.nvol + pts.nsurf, pts.nvol, pts.nsurf
end

--- Density locations (P:density_points()): the Sun, the density curves, the gNFW set.
-- Returns the count and the parts {sun, curves, gnfw}.
function cost.density_locations(o)
  local g = geometry.paper(o.geometry)
  local curves = 0
  for _, name in ipairs(g.density_names) do curves = curves + g.density[name].n end
  local parts = {sun = 1, curves = curves, gnfw = g.gnfw.n}
  return parts.sun + parts.curves + parts.gnfw, parts
end

--- The jobs of the steps the pipeline spreads over processes (pf.pipeline's spec.jobs, in
-- the same order): flows {which, key (architecture), stars, epochs, phase}, accelerations
-- {density, part, members, positions}, densities {density, members, locations}. opts as
-- for cost.counts. Job sizes, not times: cost.job_seconds prices them.
function cost.jobs(o, opts)
  opts = opts or {}
  local n = cost.selected_stars(o, opts)
  local out = {flows = {}, accelerations = {}, densities = {}, potential = {}}
  for _, vt in ipairs(cost.variants(o)) do
    local eo = vt.o
    for _ = 1, vt.members do
      for _, which in ipairs{"n_x", "p_v"} do
        out.flows[#out.flows + 1] = {which = which, key = cost.arch_key(eo), stars = cost.train_stars(eo, n),
                                     epochs = cost.epochs(eo, opts.epochs), phase = vt.alt and vt.alt.refit and 2 or 1}
      end
    end
  end
  local g = geometry.paper(o.geometry)
  local per = require("phaseflow.steps.densities").LOCATIONS_PER_JOB
  local nloc = cost.density_locations(o)
  local arc_ball = #g.arc_ball * o.ball_points
  for _, d in ipairs((cost.densities(o))) do
    local acc = out.accelerations
    acc[#acc + 1] = {density = d.name, part = "sun", members = d.members, positions = o.ball_points}
    for _, name in ipairs(g.curve_names) do
      acc[#acc + 1] = {density = d.name, part = name, members = d.members,
                       positions = g.curves[name].n + (name == "arc" and arc_ball or 0)}
    end
    for first = 1, nloc, per do
      out.densities[#out.densities + 1] = {density = d.name, members = d.members,
                                           locations = math.min(nloc, first + per - 1) - first + 1}
    end
    if fits_potential(o) then
      out.potential[#out.potential + 1] = {density = d.name, members = d.members, stars = o.potential.stars,
                                           epochs = o.potential.max_epochs}
    end
  end
  return out
end


--- Every count of a run, keyed by step. opts: selected (stars in the survey sphere),
-- sample10 (stars of the 10 kpc sample), epochs (expected epochs per flow), is_mock
-- (default true: the catalogue is the embedded mock).
function cost.counts(o, opts)
  opts = opts or {}
  local c = {preset = o.name}
  local selected, source = cost.selected_stars(o, opts)
  c.selected, c.selected_source = selected, source
  c.sample10 = opts.sample10 or math.floor(o.mock.stars * cost.SAMPLE10_FRACTION + 0.5)
  c.sample10_source = opts.sample10_source or ("expected for the mock: %d stars x %.3f"):format(
    o.mock.stars, cost.SAMPLE10_FRACTION)
  c.is_mock = opts.is_mock ~= false
  c.catalogue = {mock_stars = o.mock.stars, normalize = o.mock.normalize ~= false}
  c.selection = {smears = o.smears or 0, sample10 = c.sample10, bootstraps = o.bootstraps or 0,
                 units = (o.smears or 0) * c.sample10}
  local groups, jobs = cost.flow_jobs(o, opts)
  local se, so = 0, 0
  for _, g in ipairs(groups) do se, so = se + 2 * g.star_epochs, so + 2 * g.stars_once end
  c.flows = {groups = groups, jobs = jobs, star_epochs = se, stars_once = so,
             stars = cost.train_stars(o, selected), epochs = cost.epochs(o, opts.epochs),
             epochs_given = opts.epochs ~= nil}
  local dens, nd, npairs = cost.densities(o)
  c.densities_list = dens
  local npos, parts = cost.acceleration_positions(o)
  c.accelerations = {positions = npos, parts = parts, nv = o.nv, densities = nd, pairs = npairs,
                     units = npos * o.nv * npairs}
  local base = o.members
  c.equilibrium = {n = o.dlnf_n, members = base, units = o.dlnf_n * base, truth = c.is_mock}
  local nloc, lparts = cost.density_locations(o)
  local k, kv, ks = cost.kernel_points(o.kernel_points)
  c.densities = {locations = nloc, parts = lparts, kernel = k, nvol = kv, nsurf = ks,
                 positions = nloc * k, nv = o.nv_density, densities = nd, pairs = npairs,
                 units = nloc * k * o.nv_density * npairs}
  c.gnfw = {steps = o.mcmc.steps, walkers = o.mcmc.walkers, units = o.mcmc.steps * o.mcmc.walkers}
  local po = o.potential
  c.potential = fits_potential(o) and {fits = nd, stars = po.stars, epochs = po.max_epochs, pairs = npairs,
                                            units = nd * po.stars * po.max_epochs} or {fits = 0, units = 0}
  return c
end

return cost

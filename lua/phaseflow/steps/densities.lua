-- The densities step: the mass density from Poisson's equation, as the kernel-smoothed
-- divergence of the accelerations (pf.poisson), at the Sun, along the density curves and
-- at the gNFW points, for every variant; and the mock's kernel-smoothed truth (total,
-- dark matter, baryons).
--
-- The kernel of a location must lie inside the survey sphere with a margin (density_edge,
-- kpc; default 0.9 radius): beyond the sphere the flows are undefined (NaN accelerations),
-- and near its edge the sphere map's Jacobian dominates the learned n(x), so such
-- locations come out as NaN rather than as a wrong number. Every kernel point uses the
-- same QMC velocity base points (seed_stride = 0): the velocity noise of neighbouring
-- points is then correlated and largely cancels in the divergence.
local cbe = require "phaseflow.cbe"
local poisson = require "phaseflow.poisson"
local common = require "phaseflow.steps.common"
local serialize = require "phaseflow.serialize"
local array = require("phaseflow.core").array

local densities = {name = "densities", inputs = {"flows", "catalogue"}}

-- The farthest kernel point of each density location from the Sun (kpc): n0 values.
function densities.kernel_reach(pts)
  local np = pts.nvol + pts.nsurf
  local d = common.dist_sun(pts.x):totable()
  local out = {}
  for i = 1, pts.n0 do
    local m = 0
    for j = (i - 1) * np + 1, i * np do if d[j] > m then m = d[j] end end
    out[i] = m
  end
  return out
end

--- The options that make up the step's key (a change to them redoes the step).
function densities.options(self)
  return {kp = self.o.kernel_points, nv = self.o.nv_density, g = self.o.geometry,
          tr = self.o.truth_rule, seed = self.o.seed, edge = self.o.density_edge, cs = 0}
end

-- Density locations per job: a job holds the kernel points of this many locations.
densities.LOCATIONS_PER_JOB = 8

-- The kernel points of the run's density locations (the same on every rank: seeded).
local function kernel_points(self)
  local x0, names, blocks = self:density_points()
  return poisson.kernel_points(x0, {points = self.o.kernel_points, seed = self.o.seed}), x0, names, blocks
end

--- The jobs: one per (density, block of LOCATIONS_PER_JOB locations): the accelerations at
--- their kernel points, a file each.
function densities.jobs(self)
  self._density = nil
  local pts = kernel_points(self)
  local np, per = pts.nvol + pts.nsurf, densities.LOCATIONS_PER_JOB
  local list = {}
  for _, d in ipairs(self:density_list()) do
    for first = 1, pts.n0, per do
      local last = math.min(pts.n0, first + per - 1)
      local id = ("%s-%04d"):format(d.name, first)
      list[#list + 1] = {id = id, density = d.name, rows = {(first - 1) * np + 1, last * np},
                         file = common.job_file(self, "densities", id),
                         key = serialize.hash{step = self.keys.densities, id = id, last = last},
                         label = ("%s locations %d-%d"):format(d.name, first, last)}
    end
  end
  return list
end

--- Whether the job's file holds its result, made with its key.
function densities.job_done(_, job) return common.read_job(job.file, job.key) ~= nil end

--- The accelerations at one job's kernel points (every kernel point uses the same QMC
--- velocity points, seed_stride = 0, so a point's value does not depend on its job).
function densities.do_job(self, job)
  local pts = self._kernel_points
  if not pts or pts.key ~= self.keys.densities then
    pts = kernel_points(self)
    pts.key = self.keys.densities
    self._kernel_points = pts
  end
  local x = pts.x:rows(job.rows[1], job.rows[2]):copy()
  local acc = cbe.acceleration(self:density_of(job.density), x,
                               {nv = self.o.nv_density, seed = self.o.seed, seed_stride = 0})
  common.write_job(job.file, job.key, {a = acc})
end

--- The margin (kpc from the Sun) a location's kernel must stay within for its density to
--- be reported: preset.density_edge, by default 0.9 of the survey radius.
function densities.edge(o) return o.density_edge or 0.9 * o.radius end

--- Which density locations are reported (their kernel points within densities.edge), the
--- kernels' reach (kpc) and the number left out. pts: the run's kernel points (by default
--- those of its density locations).
function densities.inside(self, pts)
  pts = pts or kernel_points(self)
  local edge = densities.edge(self.o)
  local reach = densities.kernel_reach(pts)
  local inside, nout = {}, 0
  for i, r in ipairs(reach) do
    inside[i] = r <= edge
    if not inside[i] then nout = nout + 1 end
  end
  return inside, reach, nout
end

--- Run the step (see the opening comment): the jobs' accelerations gathered into each
--- density's Poisson estimate; w.put(path, value) fills its file.
function densities.run(self, w)
  local pts, x0, names, blocks = kernel_points(self)
  local edge = densities.edge(self.o)
  local inside, reach, nout = densities.inside(self, pts)
  if nout > 0 then
    self:log("densities: %d of %d locations have kernels reaching beyond %.2f kpc of the Sun: NaN", nout, #reach, edge)
  end
  w.put("/kernel_reach", reach, {unit = "kpc", edge = edge})
  local function mask(rho)
    for i = 1, #inside do if not inside[i] then rho:set(i, 0 / 0) end end
    return rho
  end
  local by_density, order = {}, {}
  for _, job in ipairs(densities.jobs(self)) do
    local r = common.read_job(job.file, job.key)
    if not r then error(("pf.pipeline: densities: job %s has no result (%s)"):format(job.id, job.file), 0) end
    if not by_density[job.density] then by_density[job.density] = {}; order[#order + 1] = job.density end
    table.insert(by_density[job.density], r.a)
  end
  for _, name in ipairs(order) do
    local parts = by_density[name]
    local acc = #parts == 1 and parts[1] or array.vstack(parts)
    local rho = mask(poisson.density_from(acc, pts))
    for k, part in ipairs(common.split(rho, blocks)) do w.put(("/%s/%s"):format(name, names[k]), part) end
  end
  -- truth (mock): the kernel-smoothed total density of the galaxy (pf.truth, its product
  -- Gauss rule) and its components: dark matter (e.g. the NFW halo) and baryons (e.g.
  -- bulge + disk)
  local t = self:truth_densities(x0, self.o.truth_rule)
  local nan = not self:is_mock() and (0 / 0) or 1
  for _, q in ipairs({"total", "dm", "baryons"}) do
    for k, part in ipairs(common.split(t[q] * nan, blocks)) do
      w.put((q == "total" and "/truth/" or "/truth_" .. q .. "/") .. names[k], part)
    end
  end
end

return densities

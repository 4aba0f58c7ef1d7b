-- The accelerations step: a = -grad Phi from the collisionless Boltzmann equation
-- (pf.cbe) at every curve of the paper's geometry and averaged over the ball at the Sun,
-- for every variant's density; and the mock potential's exact accelerations at the same
-- points (NaN for real data).
local core = require "phaseflow.core"
local cbe = require "phaseflow.cbe"

local array = core.array

local common = require "phaseflow.steps.common"
local serialize = require "phaseflow.serialize"

-- The acceleration of density f at one part of the geometry: "sun" (the ball at the Sun)
-- or a curve (the arc's points near the Sun averaged over the ball too).
local function accel_part(self, f, part, seed)
  local o, g = self.o, self.geom
  if part == "sun" then
    return cbe.ball_average(f, array.from{g.ball.center}, g.ball.radius,
      {points = o.ball_points, nv = o.nv, seed = seed})
  end
  local c = g.curves[part]
  local acc = cbe.acceleration(f, c.x, {nv = o.nv, seed = seed})
  if part == "arc" then
    for _, i in ipairs(g.arc_ball) do
      local m = cbe.ball_average(f, c.x:rows(i, i):copy(), g.ball.radius,
        {points = o.ball_points, nv = o.nv, seed = seed})
      for j = 1, 3 do acc:set(i, j, m:get(j)) end
    end
  end
  return acc
end

local function parts(self)
  local out = {"sun"}
  for _, name in ipairs(self.geom.curve_names) do out[#out + 1] = name end
  return out
end

local step
step = {
  name = "accelerations",
  inputs = {"flows"},
  --- The options that make up the step's key (a change to them redoes the step).
  options = function(self)
    return {nv = self.o.nv, bp = self.o.ball_points, g = self.o.geometry, seed = self.o.seed}
  end,
  --- The jobs: one per (density, part of the geometry), each a file of its own.
  jobs = function(self)
    self._density = nil
    local list = {}
    for _, d in ipairs(self:density_list()) do
      for _, part in ipairs(parts(self)) do
        local id = d.name .. "-" .. part
        list[#list + 1] = {id = id, density = d.name, part = part, file = common.job_file(self, "accelerations", id),
                           key = serialize.hash{step = self.keys.accelerations, id = id}}
      end
    end
    return list
  end,
  --- Whether the job's file holds its result, made with its key.
  job_done = function(_, job) return common.read_job(job.file, job.key) ~= nil end,
  --- Compute one job's accelerations and write its file.
  do_job = function(self, job)
    common.write_job(job.file, job.key, {a = accel_part(self, self:density_of(job.density), job.part, self.o.seed)})
  end,
  --- Run the step (see the opening comment): the jobs' accelerations gathered as
  --- /DENSITY/PART, and the truth; w.put(path, value) fills its file.
  run = function(self, w)
    for _, job in ipairs(step.jobs(self)) do
      local r = common.read_job(job.file, job.key)
      if not r then error(("pf.pipeline: accelerations: job %s has no result (%s)"):format(job.id, job.file), 0) end
      w.put(("/%s/%s"):format(job.density, job.part), r.a)
    end
    -- truth: the mock potential's exact accelerations (NaN for real data); the Sun's is
    -- averaged over the same ball points as the flows'
    local mock = self:is_mock()
    local function tr(x) local a = self.potential:acceleration(x) return mock and a or a * (0 / 0) end
    w.put("/truth/sun", self:sun_acceleration(tr))
    for _, name in ipairs(self.geom.curve_names) do w.put("/truth/" .. name, self:curve_acceleration(name, tr)) end
  end,
}

return step

-- The accelerations step: a = -grad Phi from the collisionless Boltzmann equation
-- (pf.cbe) at every curve of the paper's geometry and averaged over the ball at the Sun,
-- for every variant's density; and the mock potential's exact accelerations at the same
-- points (NaN for real data).
local core = require "phaseflow.core"
local cbe = require "phaseflow.cbe"

local array = core.array

-- accelerations at every curve and the Sun ball for the density f
local function accel_set(self, f, seed)
  local o, g = self.o, self.geom
  local res = {}
  local mean = cbe.ball_average(f, array.from{g.ball.center}, g.ball.radius,
    {points = o.ball_points, nv = o.nv, seed = seed})
  res.sun = mean
  for _, name in ipairs(g.curve_names) do
    local c = g.curves[name]
    local acc = cbe.acceleration(f, c.x, {nv = o.nv, seed = seed})
    if name == "arc" then
      for _, i in ipairs(g.arc_ball) do
        local m = cbe.ball_average(f, c.x:rows(i, i):copy(), g.ball.radius,
          {points = o.ball_points, nv = o.nv, seed = seed})
        for j = 1, 3 do acc:set(i, j, m:get(j)) end
      end
    end
    res[name] = acc
  end
  return res
end

return {
  name = "accelerations",
  inputs = {"flows"},
  --- The options that make up the step's key (a change to them redoes the step).
  options = function(self)
    return {nv = self.o.nv, bp = self.o.ball_points, g = self.o.geometry, seed = self.o.seed}
  end,
  --- Run the step (see the opening comment); w.put(path, value) fills its file.
  run = function(self, w)
    for _, d in ipairs(self:densities_f()) do
      local t0 = os.time()
      for name, a in pairs(accel_set(self, d.f, self.o.seed)) do w.put(("/%s/%s"):format(d.name, name), a) end
      self:log("accelerations: %s (%d s)", d.name, os.time() - t0)
    end
    -- truth: the mock potential's exact accelerations (NaN for real data); the Sun's is
    -- averaged over the same ball points as the flows'
    local g = self.geom
    local mock = self:is_mock()
    local function tr(x) local a = self.potential:acceleration(x) return mock and a or a * (0 / 0) end
    local bp = cbe.ball_points(array.from{g.ball.center}, g.ball.radius, self.o.ball_points, 7)
    w.put("/truth/sun", tr(bp):mean(1):reshape(3))
    for _, name in ipairs(g.curve_names) do
      local t = tr(g.curves[name].x)
      if name == "arc" then
        for _, i in ipairs(g.arc_ball) do
          local ball = cbe.ball_points(g.curves[name].x:rows(i, i):copy(), g.ball.radius, self.o.ball_points, 7)
          local m = tr(ball):mean(1)
          for j = 1, 3 do t:set(i, j, m:get(j)) end
        end
      end
      w.put("/truth/" .. name, t)
    end
  end,
}

-- The baryons step: the baryon density to subtract at every density location, smoothed
-- with the kernel -- the mock's own baryons by default, the McKee et al. (2015) model
-- for real data (see the baryon_model method in pf.steps.common).
local poisson = require "phaseflow.poisson"
local baryons = require "phaseflow.baryons"
local common = require "phaseflow.steps.common"

return {
  name = "baryons",
  inputs = {"catalogue"},
  --- The options that make up the step's key (a change to them redoes the step).
  options = function(self) return {kp = self.o.kernel_points, g = self.o.geometry, seed = self.o.seed,
                                    comps = baryons.components, model = self.o.baryons or "mock"} end,
  --- Run the step (see the opening comment); w.put(path, value) fills its file.
  run = function(self, w)
    local x0, names, blocks = self:density_points()
    local pts = poisson.kernel_points(x0, {points = math.max(self.o.kernel_points, 400), seed = self.o.seed})
    local model = self:baryon_model()
    local rho, err
    if model == "mock" then
      -- the densities step's kernel points: their QMC error cancels in rho - rho_b
      local dpts = poisson.kernel_points(x0, {points = self.o.kernel_points, seed = self.o.seed})
      rho = poisson.smooth(self:components().baryons:density(dpts.x), dpts)
      err = rho * 0
    else
      rho, err = baryons.smoothed(pts)
    end
    local pr, pe = common.split(rho, blocks), common.split(err, blocks)
    for k, n in ipairs(names) do
      w.put("/rho_b/" .. n, pr[k])
      w.put("/err_b/" .. n, pe[k])
    end
    return {model = model}
  end,
}

-- The equilibrium step: the test of the steady-state assumption -- d ln f / dt at the Sun
-- for the base ensemble (and the mock's exact density), and the North-South ratios of
-- the accelerations along r and phi.
local core = require "phaseflow.core"
local geometry = require "phaseflow.geometry"
local equilibrium = require "phaseflow.equilibrium"
local common = require "phaseflow.steps.common"

local rd = common.rd
local array = core.array

return {
  name = "equilibrium",
  inputs = {"accelerations"},
  --- The options that make up the step's key (a change to them redoes the step).
  options = function(self) return {n = self.o.dlnf_n, seed = self.o.seed} end,
  --- Run the step (see the opening comment); w.put(path, value) fills its file.
  run = function(self, w)
    local af = self:file("accelerations")
    local base = self:densities_f()[1].f
    local x0 = array.from{geometry.SUN}
    local a = rd(af, "/base/sun"):reshape(1, 3)
    local vals = equilibrium.dlnf_dt(base, x0, a, {n = self.o.dlnf_n, seed = self.o.seed})
    w.put("/dlnf_dt/flows", vals)
    if self:is_mock() then
      local tv = equilibrium.dlnf_dt(self:exact_df(), x0, self.potential:acceleration(x0),
                                     {n = self.o.dlnf_n, seed = self.o.seed})
      w.put("/dlnf_dt/truth", tv)
    else
      w.put("/dlnf_dt/truth", vals * (0 / 0))
    end
    -- North-South ratios along r and phi (base ensemble)
    for _, ax in ipairs({"r", "phi"}) do
      local xn = self.geom.curves[ax .. "_north"].x
      local ar, ath = equilibrium.north_south(xn, rd(af, "/base/" .. ax .. "_north"),
                                              rd(af, "/base/" .. ax .. "_south"))
      w.put("/north_south/" .. ax .. "/a_r", ar)
      w.put("/north_south/" .. ax .. "/a_theta", ath)
    end
  end,
}

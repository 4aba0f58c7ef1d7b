-- The darkmatter step: at every density location the total density with its error
-- budget (pf.budget), the baryons subtracted (pf.darkmatter), and the truth beside them.
local darkmatter = require "phaseflow.darkmatter"
local budget = require "phaseflow.budget"
local common = require "phaseflow.steps.common"

local rd = common.rd

return {
  name = "darkmatter",
  inputs = {"densities", "baryons"},
  --- The options that make up the step's key (a change to them redoes the step).
  options = function() return {budget = budget.VERSION} end,
  --- Run the step (see the opening comment); w.put(path, value) fills its file.
  run = function(self, w)
    local df_, bf = self:file("densities"), self:file("baryons")
    local _, names = self:density_points()
    for _, n in ipairs(names) do
      local rho, sig, parts = self:budget(df_, n)
      local rb, eb = rd(bf, "/rho_b/" .. n), rd(bf, "/err_b/" .. n)
      local dm, edm = darkmatter.subtract(rho, sig, rb, eb)
      w.put("/rho/" .. n, rho); w.put("/rho_err/" .. n, sig)
      w.put("/rho_err_flow/" .. n, parts.flow); w.put("/rho_err_stat/" .. n, parts.stat)
      w.put("/rho_err_meas/" .. n, parts.meas); w.put("/rho_err_syst/" .. n, parts.syst)
      w.put("/rho_dm/" .. n, dm); w.put("/rho_dm_err/" .. n, edm)
      w.put("/truth/rho/" .. n, rd(df_, "/truth/" .. n))
      w.put("/truth/rho_dm/" .. n, rd(df_, "/truth_dm/" .. n))
    end
  end,
}

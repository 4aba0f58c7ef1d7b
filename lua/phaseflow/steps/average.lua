-- The average step: the dark matter density at r = r_sun, the inverse-variance weighted
-- mean over the independent points of the gNFW set (with its chi^2 per degree of freedom).
local darkmatter = require "phaseflow.darkmatter"
local budget = require "phaseflow.budget"
local common = require "phaseflow.steps.common"

local rd = common.rd

return {
  name = "average",
  inputs = {"darkmatter"},
  --- The options that make up the step's key (a change to them redoes the step).
  options = function(self) return {n = self.geom.independent.n} end,
  --- Run the step (see the opening comment); w.put(path, value) fills its file.
  run = function(self, w)
    local f = self:file("darkmatter")
    local n = self.geom.independent.n
    local dm = rd(f, "/rho_dm/gnfw"):totable()
    local e = budget.error_floor(rd(f, "/rho_dm_err/gnfw")):totable()
    local tdm = rd(f, "/truth/rho_dm/gnfw"):totable()
    local v, ev, tv = {}, {}, {}
    for i = 1, n do v[i], ev[i], tv[i] = dm[i], e[i], tdm[i] end
    local m, em, chi2 = darkmatter.weighted_mean(v, ev)
    local tm = darkmatter.weighted_mean(tv, ev)
    w.put("/rho_dm_rsun", {m, em, chi2})
    w.put("/truth/rho_dm_rsun", {tm})
  end,
}

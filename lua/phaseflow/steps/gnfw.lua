-- The gnfw step: the generalised NFW profile fitted by MCMC (pf.gnfw) to the dark matter
-- densities of the gNFW set; locations masked by the densities step are left out. Its
-- file: /summary (median, p16, p84, map), /samples (flat chain), /points (the data fitted)
-- and /mcmc (chain R x W x 3, log_prob R x W, acceptance W: the run without its burn-in).
local core = require "phaseflow.core"
local units = require "phaseflow.units"
local gnfw = require "phaseflow.gnfw"
local budget = require "phaseflow.budget"
local common = require "phaseflow.steps.common"

local rd = common.rd
local array = core.array

return {
  name = "gnfw",
  inputs = {"darkmatter"},
  --- The options that make up the step's key (a change to them redoes the step). `kept`
  --- names what the file holds beyond the summary, so a file of an earlier layout (without
  --- the chain under /mcmc) is redone rather than reused.
  options = function(self)
    return {mcmc = self.o.mcmc, seed = self.o.seed, kept = "samples, points, mcmc chain, log_prob, acceptance"}
  end,
  --- Run the step (see the opening comment); w.put(path, value) fills its file.
  run = function(self, w)
    local f = self:file("darkmatter")
    local rho = units.rho_to_1e2(rd(f, "/rho_dm/gnfw"))
    local sig = units.rho_to_1e2(budget.error_floor(rd(f, "/rho_dm_err/gnfw")))
    local r = array.from(self.geom.gnfw.r)
    -- locations masked by the densities step (kernel beyond the survey edge) are left out
    local keep = {}
    local rt, st = rho:totable(), sig:totable()
    for i = 1, #rt do keep[i] = rt[i] == rt[i] and st[i] == st[i] end
    local function pick(a)
      local t, o = a:totable(), {}
      for i = 1, #t do if keep[i] then o[#o + 1] = t[i] end end
      return array.from(o)
    end
    rho, sig, r = pick(rho), pick(sig), pick(r)
    local steps = self.o.mcmc.steps
    local res = gnfw.fit({r = r, rho = rho, sigma = sig}, {walkers = self.o.mcmc.walkers, steps = steps,
      burn = steps // 4, seed = self.o.seed})
    local med, lo, hi, map = {}, {}, {}, {}
    for j, name in ipairs(gnfw.names) do
      med[j], lo[j], hi[j], map[j] = res.median[name], res.p16[name], res.p84[name], res.map[name]
    end
    w.put("/summary/median", med); w.put("/summary/p16", lo); w.put("/summary/p84", hi)
    w.put("/summary/map", map)
    w.put("/samples", res.result:flat{burn = 0})
    -- the whole stored chain (burn-in dropped), for results.h5's /gnfw/mcmc (emcee's layout)
    local m = res.result
    local info = {steps = m.steps, burn = m.burn, thin = m.thin, walkers = m.walkers, seed = m.seed}
    w.put("/mcmc/chain", m.chain, info); w.put("/mcmc/log_prob", m.log_prob, info)
    w.put("/mcmc/acceptance", m.acceptance, info)
    w.put("/points/r", r); w.put("/points/rho", rho); w.put("/points/sigma", sig)
  end,
}

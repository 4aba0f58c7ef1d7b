-- The report step: report.md, results.h5 and the figures (pf.report).
local report = require "phaseflow.report"

return {
  name = "report",
  inputs = {"accelerations", "equilibrium", "darkmatter", "average", "gnfw", "selection"},
  options = function(self) return {preset = self.o} end,
  run = function(self, w) report.write(self, w) end,
}

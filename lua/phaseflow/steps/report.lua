-- The report step: report.md, results.h5 and the figures (pf.report).
local report = require "phaseflow.report"

return {
  name = "report",
  inputs = {"accelerations", "equilibrium", "darkmatter", "average", "gnfw", "selection", "potential"},
  --- The options that make up the step's key (a change to them redoes the step).
  options = function(self) return {preset = self.o} end,
  --- Run the step (see the opening comment); w.put(path, value) fills its file.
  run = function(self, w) report.write(self, w) end,
}

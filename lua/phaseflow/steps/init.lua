-- pf.steps: the paper's analysis as steps for pf.pipeline, one file per step in this
-- folder. A step is data: {name, inputs = {steps it reads}, options = function(run) ->
-- table (what its key hashes besides its inputs' keys), run = function(run, w) -> info}
-- (w.put writes a dataset into its file; info goes into the file's provenance).
-- Adding a step is one file here and one line in `order`.
local steps = {}

steps.order = {"catalogue", "selection", "flows", "accelerations", "equilibrium",
               "densities", "potential", "baryons", "darkmatter", "average", "gnfw", "report"}

for _, name in ipairs(steps.order) do steps[name] = require("phaseflow.steps." .. name) end

-- what several steps share: methods of the run, and the run's set-up
local common = require "phaseflow.steps.common"
steps.methods = common.methods
steps.setup = common.setup

return steps

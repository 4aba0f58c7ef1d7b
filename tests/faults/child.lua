-- A job the fault suite kills and resumes: `train FILE OUT`, `mcmc FILE OUT` or
-- `pipeline OUTDIR` (the test preset through scripts/paper.lua). Each ends by writing OUT
-- whole; its digest is what a resumed run must reproduce.
local pf = require "phaseflow"
local kind = arg[1]

if kind == "train" then
  local ck, out = arg[2], arg[3]
  local x = pf.array.zeros(2000, 2)
  pf.rng.new(5):fill_normal(x, 0, 1)
  x = x:square() -- a skewed density: training has something to learn
  local f = pf.flow.maf{dim = 2, transforms = 3, hidden = 16, seed = 3}
  pf.train.train(f, x, {max_epochs = 40, patience = 1000, batch = 128, seed = 9,
                        checkpoint = ck, checkpoint_every = 1})
  pf.fs.replace(out, function(part) f:save(part, "/flow") end)
elseif kind == "mcmc" then
  local ck, out = arg[2], arg[3]
  local function logpost(walkers) -- one log density per row
    local lp = {}
    for k, p in ipairs(walkers:totable()) do lp[k] = -0.5 * (p[1] ^ 2 + (p[2] - 1) ^ 2 / 4) end
    return pf.array.from(lp)
  end
  local p0 = pf.array.zeros(16, 2)
  pf.rng.new(2):fill_normal(p0, 0, 0.1)
  local r = pf.mcmc.sample(logpost, p0, {steps = 4000, seed = 4, checkpoint = ck, checkpoint_every = 50})
  pf.fs.replace(out, function(part) r:save(part, "/mcmc") end)
elseif kind == "pipeline" then
  arg = {[0] = "scripts/paper.lua", "--preset", "test", "--out", arg[2], "--quiet"} -- luacheck: ignore 121
  dofile("scripts/paper.lua")
else
  error("child.lua: train, mcmc or pipeline expected", 0)
end

-- The selection step: the training sets of every resample -- the base sample (all 4 kpc
-- stars or n_train of them), bootstrap resamples of it, and error-smeared resamples (every
-- star of the 10 kpc sample redrawn from its errors and correlations, pf.gaia.smear, then
-- the paper's whole cut flow applied again).
local core = require "phaseflow.core"
local gaia = require "phaseflow.gaia"
local select = require "phaseflow.select"
local common = require "phaseflow.steps.common"

local rd = common.rd
local array = core.array

-- n rows of (x, v): drawn with replacement (n <= 0: as many as there are), or without
-- (a partial Fisher-Yates shuffle; n <= 0 or n >= N: all rows, in order).
local function subsample(x, v, n, rng, replace)
  local N = (x:shape())
  local idx = {}
  if replace then
    for i = 1, (n > 0 and n or N) do idx[i] = 1 + math.floor(rng:uniform() * N) end
  else
    if n <= 0 or n >= N then return x, v end
    local perm = {}
    for i = 1, N do perm[i] = i end
    for i = 1, n do
      local j = i + math.floor(rng:uniform() * (N - i + 1))
      perm[i], perm[j] = perm[j], perm[i]
      idx[i] = perm[i]
    end
  end
  local ia = array.from(idx)
  return x:take(ia), v:take(ia)
end

return {
  name = "selection",
  inputs = {"catalogue"},
  --- The options that make up the step's key (a change to them redoes the step).
  options = function(self) return {n_train = self.o.n_train, seed = self.o.seed,
                                    b = self.o.bootstraps, s = self.o.smears} end,
  --- Run the step (see the opening comment); w.put(path, value) fills its file.
  run = function(self, w)
    local cf = self:file("catalogue")
    local xs, vs = rd(cf, "/stars/x"), rd(cf, "/stars/v")
    local n1 = (xs:shape())
    w.put("/selected/x", xs)
    w.put("/selected/v", vs)
    local s10
    for _, vt in ipairs(self:variants()) do
      local stream = 100 + (vt.kind == "boot" and 1000 or vt.kind == "smear" and 2000 or 0) + vt.index
      local rng = core.rng.new(core.rng.derive_seed(self.o.seed, stream))
      local tx, tv
      if vt.kind == "syst" then
        tx = nil -- trained on the base sample
      elseif vt.kind == "base" then
        tx, tv = subsample(xs, vs, self.o.n_train, rng, false)
      elseif vt.kind == "boot" then
        tx, tv = subsample(xs, vs, math.min(self.o.n_train > 0 and self.o.n_train or n1, n1), rng, true)
      else
        s10 = s10 or self:sample10()
        local sm = gaia.smear(s10, {rng = rng})
        local sel = select.run(sm, {cov = false})
        if sel.n == 0 then error(("pf.pipeline: smeared resample %d: no star passes the cuts"):format(vt.index), 0) end
        tx, tv = subsample(sel.x, sel.v, self.o.n_train, rng, false)
        collectgarbage()
      end
      if tx then
        w.put("/train/" .. vt.name .. "/x", tx)
        w.put("/train/" .. vt.name .. "/v", tv)
      end
    end
  end,
}

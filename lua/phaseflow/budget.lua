-- pf.budget: the error budget of a quantity from the densities of a run's variants.
--
-- Every quantity Q is computed from several phase-space densities (pf.steps.common's
-- variants):
--   base       the ensemble of `members` flows trained on the selected sample (central value)
--   member_k   each member alone: sigma_flow = standard deviation over members
--   boot_k     ensembles trained on bootstrap resamples: sigma_stat = std over resamples
--   smear_k    ensembles trained on error-smeared resamples: sigma_meas = std over resamples
--   syst_k     the base sample trained with other settings: sigma_syst = RMS deviation
-- sigma = sqrt(sigma_flow^2 + sigma_stat^2 + sigma_meas^2 + sigma_syst^2) (independent
-- sources); bands are Q +- sigma and Q +- 2 sigma.
local h5 = require "phaseflow.h5"
local array = require("phaseflow.core").array

local budget = {}

local function rd(file, path) return (h5.read(file, path)) end

-- of(file, path, variants) -> central, sigma, {flow =, stat =, meas =, syst =}: the
-- quantity stored under /VARIANT/path in `file`; `variants` lists {name, kind}.
function budget.of(file, path, variants)
  local central = rd(file, "/base/" .. path)
  local groups = {flow = {}, stat = {}, meas = {}}
  local syst = {}
  for _, d in ipairs(variants or {}) do
    local g = d.kind == "member" and groups.flow or d.kind == "boot" and groups.stat
              or d.kind == "smear" and groups.meas or d.kind == "syst" and syst or nil
    if g then g[#g + 1] = rd(file, "/" .. d.name .. "/" .. path) end
  end
  local sig = {}
  local total = central * 0
  -- a fixed order: the sum of squares must not depend on the hash order of pairs()
  for _, kind in ipairs({"flow", "stat", "meas"}) do
    local list = groups[kind]
    local s = central * 0
    if #list >= 2 then
      local mean = central * 0
      for _, a in ipairs(list) do mean = mean + a end
      mean = mean * (1 / #list)
      for _, a in ipairs(list) do s = s + (a - mean):square() end
      s = (s * (1 / (#list - 1))):sqrt()
    end
    sig[kind] = s
    total = total + s:square()
  end
  -- systematic: RMS deviation from the central value of the ensembles trained on the same
  -- stars with other settings (preset.systematics: architectures, sphere-map radii)
  local ss = central * 0
  if #syst > 0 then
    for _, a in ipairs(syst) do ss = ss + (a - central):square() end
    ss = ss * (1 / #syst)
    total = total + ss
    ss = ss:sqrt()
  end
  sig.syst = ss
  return central, total:sqrt(), sig
end

-- Errors for inverse-variance weights: non-positive or NaN ones raised to the smallest
-- positive one (an array in, an array out).
function budget.error_floor(e)
  local t = e:totable()
  local pos = {}
  for _, v in ipairs(t) do if v > 0 then pos[#pos + 1] = v end end
  table.sort(pos)
  local fl = pos[1] or 1
  for i, v in ipairs(t) do if not (v > 0) then t[i] = fl end end -- luacheck: ignore 581
  return array.from(t)
end

return budget

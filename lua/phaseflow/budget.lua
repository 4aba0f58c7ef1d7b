-- pf.budget: the error budget of a quantity from the densities of a run's variants.
--
-- Every quantity Q is computed from several phase-space densities (pf.steps.common's
-- variants):
--   base       the ensemble of M = `members` flows trained on the selected sample (the
--              central value)
--   member_k   each base member alone
--   boot_k     ensembles of r flows trained on bootstrap resamples
--   smear_k    ensembles of r flows trained on error-smeared resamples
--   syst_k     the base sample trained with other settings (architecture, sphere-map
--              radius, a refit on stars drawn from the base ensembles)
--
-- Each source of error is counted once. Training a flow is itself random: s_train, the
-- standard deviation over the base members, is the spread of one flow's Q, and every
-- ensemble of m flows carries s_train^2 / m of it. So:
--   sigma_flow^2 = s_train^2 / M                          the central value's training noise
--   sigma_stat^2 = var(boot)  - s_train^2 / r             sampling noise (floored at 0)
--   sigma_meas^2 = var(smear) - s_train^2 / r             measurement errors (floored at 0)
--   sigma_syst^2 = mean_k (Q_k - Q)^2 - s_train^2 (1/r_k + 1/M)   the flows' own bias, seen
--                                                          as the settings change (floored at 0)
-- (a variance over fewer than 2 realisations is 0), and
-- sigma = sqrt(sigma_flow^2 + sigma_stat^2 + sigma_meas^2 + sigma_syst^2). Without the
-- subtractions the training noise would be counted up to four times over: each resample and
-- each variant is a fresh training.
local h5 = require "phaseflow.h5"
local array = require("phaseflow.core").array

local budget = {}

-- The budget's version, in the keys of the steps that apply it: a run made with another
-- budget redoes those steps (1: every variance added as measured; 2: the training noise
-- counted once).
budget.VERSION = 2

local function rd(file, path) return (h5.read(file, path)) end

-- sample variance over a list of arrays (elementwise; zero for fewer than two)
local function variance(list, zero)
  if #list < 2 then return zero end
  local mean = zero
  for _, a in ipairs(list) do mean = mean + a end
  mean = mean * (1 / #list)
  local s = zero
  for _, a in ipairs(list) do s = s + (a - mean):square() end
  return s * (1 / (#list - 1))
end

-- elementwise max(a, 0); NaN stays NaN
local function floor0(a) return a:maximum(0) end

-- of(file, path, variants) -> central, sigma, {flow =, stat =, meas =, syst =, train =}:
-- the quantity stored under /VARIANT/path in `file`; `variants` lists {name, kind,
-- members} (members: flows in that variant's ensemble, 1 when absent). `train` is
-- s_train, the spread of a single flow's value.
function budget.of(file, path, variants)
  local central = rd(file, "/base/" .. path)
  local zero = central * 0
  local groups = {member = {}, boot = {}, smear = {}}
  local r = {boot = 1, smear = 1}
  local syst, M = {}, 1
  for _, d in ipairs(variants or {}) do
    if d.kind == "base" then M = d.members or 1 end
    if groups[d.kind] then
      local g = groups[d.kind]
      g[#g + 1] = rd(file, "/" .. d.name .. "/" .. path)
      if r[d.kind] then r[d.kind] = d.members or 1 end
    elseif d.kind == "syst" then
      syst[#syst + 1] = {value = rd(file, "/" .. d.name .. "/" .. path), members = d.members or 1}
    end
  end
  local train2 = variance(groups.member, zero)
  local sig = {train = train2:sqrt()}
  -- a fixed order: the sum of squares must not depend on the hash order of pairs()
  local var = {flow = train2 * (1 / M),
               stat = floor0(variance(groups.boot, zero) - train2 * (1 / r.boot)),
               meas = floor0(variance(groups.smear, zero) - train2 * (1 / r.smear))}
  if #groups.boot < 2 then var.stat = zero end
  if #groups.smear < 2 then var.meas = zero end
  local ss = zero
  if #syst > 0 then
    for _, v in ipairs(syst) do
      ss = ss + (v.value - central):square() - train2 * (1 / v.members + 1 / M)
    end
    ss = floor0(ss * (1 / #syst))
  end
  var.syst = ss
  local total = zero
  for _, kind in ipairs({"flow", "stat", "meas", "syst"}) do
    total = total + var[kind]
    sig[kind] = var[kind]:sqrt()
  end
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

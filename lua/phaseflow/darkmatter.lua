-- phaseflow.darkmatter: rho_DM*K = rho*K - rho_b*K with errors, and the weighted
-- average of independent points (non-overlapping kernels) with its reduced chi^2.
local core = require "phaseflow.core"
local array = core.array

local dm = {}

local function tab(a)
  if type(a) == "number" then return {a} end
  if type(a) == "table" then return a end
  return a:totable()
end

-- subtract(rho, rho_err, rho_b, rho_b_err) -> rho_dm, err (arrays or numbers alike;
-- errors independent, added in quadrature).
function dm.subtract(rho, rho_err, rho_b, rho_b_err)
  local r, re, b, be = tab(rho), tab(rho_err), tab(rho_b), tab(rho_b_err)
  if #r ~= #re or #r ~= #b or #r ~= #be then
    error("pf.darkmatter.subtract: inputs of equal length expected", 2)
  end
  local d, e = {}, {}
  for i = 1, #r do
    d[i] = r[i] - b[i]
    e[i] = math.sqrt(re[i] ^ 2 + be[i] ^ 2)
  end
  if type(rho) == "number" then return d[1], e[1] end
  return array.from(d), array.from(e)
end

-- weighted_mean(values, errors) -> mean, error of the mean, reduced chi^2 (n - 1 dof).
function dm.weighted_mean(values, errors)
  local v, e = tab(values), tab(errors)
  if #v ~= #e or #v < 1 then
    error("pf.darkmatter.weighted_mean: values and errors of equal, non-zero length expected", 2)
  end
  local sw, swx = 0, 0
  for i = 1, #v do
    if not (e[i] > 0) then  -- luacheck: ignore 581 (NaN must fail)
      error(("pf.darkmatter.weighted_mean: error %d must be positive"):format(i), 2)
    end
    local w = 1 / e[i] ^ 2
    sw, swx = sw + w, swx + w * v[i]
  end
  local m = swx / sw
  local chi2 = 0
  for i = 1, #v do chi2 = chi2 + ((v[i] - m) / e[i]) ^ 2 end
  return m, math.sqrt(1 / sw), #v > 1 and chi2 / (#v - 1) or 0 / 0
end

return dm

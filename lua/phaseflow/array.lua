-- pf.array: the C arrays (phaseflow.core.array) plus conveniences written in Lua.
local core = require "phaseflow.core"

local array = core.array
local methods = array.methods

--- The q-quantile (0 <= q <= 1) of a 1-D array by linear interpolation between order
--- statistics (numpy's default); q may be a list, giving a list.
function methods.quantile(a, q)
  local s = a:sort()
  local n = #s
  if n == 0 then error("array:quantile: empty array", 2) end
  local function one(p)
    if type(p) ~= "number" or p < 0 or p > 1 then
      error("array:quantile: q must be in [0, 1], got " .. tostring(p), 3)
    end
    local h = (n - 1) * p + 1
    local lo = math.floor(h)
    local hi = math.min(lo + 1, n)
    return s[lo] + (h - lo) * (s[hi] - s[lo])
  end
  if type(q) == "table" then
    local out = {}
    for i, p in ipairs(q) do out[i] = one(p) end
    return out
  end
  return one(q)
end

--- Median of a 1-D array.
function methods.median(a) return a:quantile(0.5) end

--- Euclidean norm of each row of an N x D array (an N array).
function methods.norm_rows(a)
  return (a * a):sum(2):sqrt()
end

return array

-- How the REPL shows values: arrays and other objects through their __tostring,
-- tables as a short, sorted listing (nested tables one level deep), everything else
-- as print would.
local repl = {}

local MAX_ITEMS = 20

local function short(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "table" and not getmetatable(v) then return "{...}" end
  local s = tostring(v)
  return (s:gsub("\n.*", " ..."))
end

--- A one-screen description of a table.
function repl.describe_table(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  local parts = {}
  for i, k in ipairs(keys) do
    if i > MAX_ITEMS then
      parts[#parts + 1] = ("... (%d entries)"):format(#keys)
      break
    end
    local v = t[k]
    local vs = type(v) == "table" and not getmetatable(v) and repl.inline(v) or short(v)
    parts[#parts + 1] = (type(k) == "string" and k or "[" .. tostring(k) .. "]") .. " = " .. vs
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

--- A nested table on one line, its entries shown shortly.
function repl.inline(t)
  local parts, n = {}, 0
  for k, v in pairs(t) do
    n = n + 1
    if n > 6 then parts[#parts + 1] = "..."; break end
    parts[#parts + 1] = (type(k) == "string" and (k .. " = ") or "") .. short(v)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

--- Print the values an expression gave, one per line.
function repl.show(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "table" and not (getmetatable(v) and getmetatable(v).__tostring) then
      print(repl.describe_table(v))
    else
      print(tostring(v))
    end
  end
end

return repl

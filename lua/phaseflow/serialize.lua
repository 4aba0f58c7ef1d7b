-- Canonical text of Lua values: tables with sorted keys, numbers with round-trip
-- precision. Used to record options in files (provenance) and to key pipeline steps
-- (same options, same text, same hash).
local serialize = {}

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
end

local function number_text(x)
  if math.type(x) == "integer" then return tostring(x) end
  if x ~= x then return "0/0" end
  if x == math.huge then return "math.huge" end
  if x == -math.huge then return "-math.huge" end
  return string.format("%.17g", x)
end

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function write(v, out, seen)
  local t = type(v)
  if t == "number" then
    out[#out + 1] = number_text(v)
  elseif t == "string" then
    out[#out + 1] = string.format("%q", v)
  elseif t == "boolean" or t == "nil" then
    out[#out + 1] = tostring(v)
  elseif t == "table" then
    if seen[v] then error("serialize: table contains a cycle", 0) end
    seen[v] = true
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, key_less)
    out[#out + 1] = "{"
    local n = #v
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = ", " end
      local positional = math.type(k) == "integer" and k >= 1 and k <= n
      if positional then
        out[#out + 1] = ""
      elseif is_identifier(k) then
        out[#out + 1] = k .. " = "
      else
        out[#out + 1] = "["
        write(k, out, seen)
        out[#out + 1] = "] = "
      end
      write(v[k], out, seen)
    end
    out[#out + 1] = "}"
    seen[v] = nil
  else
    -- functions, arrays and other userdata are recorded by description only
    local ok, s = pcall(tostring, v)
    out[#out + 1] = string.format("%q", "<" .. t .. (ok and (": " .. s:gsub("\n.*", "")) or "") .. ">")
  end
end

--- Canonical text of `v`.
function serialize.dump(v)
  local out = {}
  write(v, out, {})
  return table.concat(out)
end

--- A short, stable hexadecimal digest of `v`'s canonical text (FNV-1a, 64 bits).
function serialize.hash(v)
  local s = type(v) == "string" and v or serialize.dump(v)
  local h = 0xcbf29ce484222325
  for i = 1, #s do
    h = h ~ s:byte(i)
    h = h * 0x100000001b3
  end
  return string.format("%016x", h)
end

return serialize

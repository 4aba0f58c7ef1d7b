-- What the Lua fuzz checks over HDF5 files share (fuzz_flow.lua, fuzz_ckpt.lua): a scratch
-- file name, a file read into a store of its objects, the decoder that turns the fuzzer's
-- bytes into values, and the rules by which pf.h5 gives attributes back.
local pf = require "phaseflow"

local M = {}

--- A scratch HDF5 name for fuzzer `kind` that no other process has (fuzzers may run side
--- by side): in PF_FUZZ_DIR, else /dev/shm when writable, else the temporary folder.
function M.scratch_path(kind)
  local dir = os.getenv("PF_FUZZ_DIR")
  if not dir then
    local shm = io.open("/dev/shm/.pf-fuzz-probe", "w")
    if shm then shm:close(); os.remove("/dev/shm/.pf-fuzz-probe"); dir = "/dev/shm" end
  end
  local unique = os.tmpname()
  os.remove(unique)
  return (dir and (dir .. "/pf-fuzz-" .. kind .. "-" .. unique:match("[^/]+$")) or unique) .. ".h5"
end

--- The objects of `file` (removed afterwards): path -> {dataset = array (flat copy), shape
--- = {...}, attrs}, {bytes = string, attrs} where is_bytes(path) says so, or {group = true,
--- attrs}.
function M.store_of(file, is_bytes)
  local st = {}
  local function walk(g)
    for _, e in ipairs(pf.h5.list(file, g)) do
      local q = (g == "/" and "" or g) .. "/" .. e.name
      if e.kind == "group" then
        st[q] = {group = true, attrs = pf.h5.attrs(file, q)}
        walk(q)
      elseif is_bytes and is_bytes(q) then
        st[q] = {bytes = pf.h5.read_bytes(file, q), attrs = pf.h5.attrs(file, q)}
      else
        local a, at = pf.h5.read(file, q)
        st[q] = {dataset = a:copy():reshape(a:size()), shape = {a:shape()}, attrs = at}
      end
    end
  end
  walk("/")
  os.remove(file)
  return st
end

local INTS = {0, 1, -1, 2, 3, 4, 8, 64, 255, 256, 65536, 2147483647, 2147483648, -2147483648,
  4294967304, math.maxinteger, math.mininteger}

--- A decoder of fuzzer input: d.feed(input) starts an input; d.byte() (0 past its end),
--- d.int() (edge integers or 8 raw bytes), d.num() (NaN, infinities, integers, small steps
--- or 8 raw bytes), d.str() (one of `strings` or raw bytes), d.value() (any of these, a
--- boolean or a short list of numbers).
function M.decoder(strings)
  local data, pos = "", 0
  local d = {}
  function d.feed(input) data, pos = input, 0 end
  function d.byte()
    pos = pos + 1
    return data:byte(pos) or 0
  end
  local byte = d.byte
  function d.int()
    local k = byte()
    if k < 200 then return INTS[k % #INTS + 1] end
    local v = 0
    for _ = 1, 8 do v = (v << 8) | byte() end
    return v
  end
  function d.num()
    local k = byte() % 8
    if k == 0 then return 0 / 0
    elseif k == 1 then return math.huge
    elseif k == 2 then return -math.huge
    elseif k == 3 then return d.int() + 0.0
    elseif k == 4 then return (byte() - 128) / 16
    end
    local b = {}
    for i = 1, 8 do b[i] = string.char(byte()) end
    return (string.unpack("<d", table.concat(b)))
  end
  function d.str()
    local k = byte()
    if k < 220 then return strings[k % #strings + 1] end
    local n = byte() % 24
    local b = {}
    for i = 1, n do b[i] = string.char(byte()) end
    return table.concat(b)
  end
  function d.value()
    local k = byte() % 6
    if k == 0 then return d.int()
    elseif k == 1 then return d.num()
    elseif k == 2 then return d.str()
    elseif k == 3 then return byte() % 2 == 0
    end
    local t = {}
    for i = 1, 1 + byte() % 4 do t[i] = d.num() end
    return t
  end
  return d
end

--- An attribute value as pf.h5 reads it back: booleans as 0/1, strings cut at a NUL,
--- whole numbers as integers, one-element lists as their element.
function M.as_read(v)
  if type(v) == "boolean" then return v and 1 or 0 end
  if type(v) == "string" then return v:match("^[^%z]*") end
  local function back(x)
    x = x + 0.0
    if x == math.floor(x) and math.abs(x) < 2 ^ 53 then return math.tointeger(x) end
    return x
  end
  if type(v) == "table" then
    if #v == 1 then return back(v[1]) end
    local t = {}
    for i, x in ipairs(v) do t[i] = back(x) end
    return t
  end
  return back(v)
end

--- A shallow copy of an attribute table (nil: an empty one).
function M.copy_attrs(a)
  local t = {}
  for k, v in pairs(a or {}) do t[k] = v end
  return t
end

--- Whether every group above object `q` is in `store`.
function M.parents_exist(store, q)
  for i = 2, #q do
    if q:sub(i, i) == "/" and not store[q:sub(1, i - 1)] then return false end
  end
  return true
end

return M

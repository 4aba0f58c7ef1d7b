-- The Lua side of tests/fuzz/fuzz_flow.c: returns the function run on each fuzzer input.
-- Valid flow files are saved once (an affine flow with a context, a spline flow, an
-- ensemble) and read into a store of their objects; each input picks one, and its bytes
-- say how to rewrite its datasets and attributes (family, version, sizes, shapes, types,
-- NaN/Inf values, missing objects) before pf.flow.load reads it. The load must give a
-- flow that works or a clean error naming the file; anything else is raised here, and
-- the harness aborts.
--
-- Speed: a real HDF5 file costs a dozen file opens per load (milliseconds), so the loader
-- reads the store through a stand-in for the three pf.h5 functions it calls (exists,
-- read, attrs), which gives what pf.h5 gives -- float64 arrays of the stored shape,
-- attributes as pf.h5 reads them back (booleans as 0/1, one-element lists as numbers,
-- whole numbers as integers, strings cut at a NUL) and the same errors. One input in 64
-- (by a hash of its bytes) is also written to a real file and loaded from it.
local pf = require "phaseflow"

local fuzz = require "fuzz_store"
local path = fuzz.scratch_path("flow")

local store_of = fuzz.store_of

local templates = {}
do
  local f = pf.flow.maf{dim = 2, context = 1, transforms = 2, hidden = 4, blocks = 1, seed = 3}
  f:set_prep("input", {mean = {0.5, -1}, std = {2, 0.5}, centre = {0, 0, 0}})
  f:set_prep("context", {mean = {1}, std = {3}, centre = {0, 0, 0}})
  f:save(path, "/flow")
  templates[1] = store_of(path)
  local s = pf.flow.maf{dim = 2, transforms = 2, hidden = 4, blocks = 1, seed = 4,
    transform = "spline", bins = 4, bound = 3}
  s:save(path, "/flow")
  templates[2] = store_of(path)
  local e = pf.flow.ensemble{members = {
    pf.flow.maf{dim = 2, transforms = 1, hidden = 3, blocks = 1, seed = 5},
    pf.flow.maf{dim = 2, transforms = 1, hidden = 3, blocks = 1, seed = 6}}}
  e:save(path, "/flow")
  templates[3] = store_of(path)
  for _, t in ipairs(templates) do
    t.objects = {}
    for q in pairs(t) do if q ~= "objects" and q ~= "/flow/history" then t.objects[#t.objects + 1] = q end end
    table.sort(t.objects)
  end
end

local ATTRS = {"format", "version", "dim", "context", "transforms", "hidden", "blocks",
  "transform", "layers", "bins", "bound", "sphere", "radius", "members", "seed"}
local STRINGS = {"phaseflow.maf", "phaseflow.ensemble", "affine", "spline", "mixed", "",
  "as", "sa", "aa", "ss", "sas"}
local D = fuzz.decoder(STRINGS)
local byte, num, value = D.byte, D.num, D.value

local as_read, copy_attrs = fuzz.as_read, fuzz.copy_attrs

-- rewrite one object of the store `st` (a copy of a template) as the input says
local function rewrite(st, objects)
  local obj = objects[byte() % #objects + 1]
  local e = st[obj]
  if not e then return end
  local op = byte() % 8
  if op <= 1 or e.group then                      -- an attribute: any name, any value
    local a = copy_attrs(e.attrs)
    a[ATTRS[byte() % #ATTRS + 1]] = as_read(value())
    st[obj] = {group = e.group, dataset = e.dataset, shape = e.shape, attrs = a}
    return
  end
  local x = e.dataset
  local keep = byte() % 4 ~= 0 and e.attrs or {}
  if op == 2 then                                 -- one value changed
    local y = x:copy()
    if y:size() > 0 then y:set(byte() % y:size() + 1, num()) end
    st[obj] = {dataset = y, shape = e.shape, attrs = keep}
  elseif op == 3 then                             -- another length or shape
    local n = math.max(0, x:size() + (byte() % 9) - 4)
    if byte() % 4 == 0 then n = byte() % 70 end
    local y = pf.array.zeros(n)
    for i = 1, n do y:set(i, x:size() > 0 and x:get((i - 1) % x:size() + 1) or num()) end
    local shape = {n}
    if byte() % 3 == 0 and n % 2 == 0 and n > 0 then shape = {2, n // 2} end
    st[obj] = {dataset = y, shape = shape, attrs = keep}
  elseif op == 4 then                             -- gone
    st[obj] = nil
  elseif op == 5 then                             -- integers or bytes instead of float64
    local y = x:copy()
    local bytes = byte() % 2 == 1
    for i = 1, y:size() do
      local v = y:get(i)
      y:set(i, bytes and 1 or (v == v and math.abs(v) < 2 ^ 62 and math.floor(v) or 0))
    end
    st[obj] = {dataset = y, shape = {y:size()}, attrs = keep, int = not bytes, bytes = bytes}
  elseif op == 6 then                             -- a group instead of a dataset
    st[obj] = {group = true, attrs = {}}
  else                                            -- every value NaN or infinite
    st[obj] = {dataset = pf.array.full({x:size()}, num()), shape = e.shape, attrs = keep}
  end
end

-- the three pf.h5 functions pf.flow.load calls, over the store
local real = {exists = pf.h5.exists, read = pf.h5.read, attrs = pf.h5.attrs}
local store
local function parents_exist(q) return fuzz.parents_exist(store, q) end
local function fake_exists(file, q)
  assert(file == path)
  return (q == "/" or store[q] ~= nil) and parents_exist(q)
end
local function fake_read(file, q)
  local e = parents_exist(q) and store[q]
  if not e then error(("pf.h5.read: %s: no object '%s'"):format(file, q), 2) end
  if e.group then error(("pf.h5.read: %s: '%s' is a group, not a dataset"):format(file, q), 2) end
  local a = e.dataset:copy()
  if #e.shape == 2 then a = a:reshape(e.shape[1], e.shape[2]) end
  return a, copy_attrs(e.attrs)
end
local function fake_attrs(file, q)
  local e = parents_exist(q) and store[q]
  if not e then error(("pf.h5.attrs: %s: no object '%s'"):format(file, q), 2) end
  return copy_attrs(e.attrs)
end

-- write the store as a real file
local function materialize(st)
  os.remove(path)
  local paths = {}
  for q in pairs(st) do paths[#paths + 1] = q end
  table.sort(paths)
  for _, q in ipairs(paths) do
    local e = st[q]
    if parents_exist(q) then
      if e.group then
        if not real.exists(path, q) then pf.h5.mkgroup(path, q) end
      elseif e.int or e.bytes then
        local t = {}
        for i = 1, e.dataset:size() do t[i] = math.tointeger(e.dataset:get(i)) end
        if e.int then pf.h5.write_int64(path, q, t) else pf.h5.write_bytes(path, q, ("\1"):rep(#t)) end
      else
        local a = e.dataset
        if #e.shape == 2 then a = a:reshape(e.shape[1], e.shape[2]) end
        pf.h5.write(path, q, a)
      end
      local ok = pcall(pf.h5.set_attrs, path, q, e.attrs)
      if not ok then
        for k, v in pairs(e.attrs) do pcall(pf.h5.set_attrs, path, q, {[k] = v}) end
      end
    end
  end
end

-- a clean error names the loader (or the HDF5 layer, for an unreadable object) and the
-- file, and is not a Lua runtime error from inside the library
local function clean(err)
  if type(err) ~= "string" then return false end
  if err:find("attempt to", 1, true) or err:find("'for' ", 1, true)
    or err:find("number has no integer representation", 1, true) then return false end
  return (err:find("pf.flow.load: ", 1, true) or err:find("pf.h5.", 1, true))
    and err:find(path, 1, true) ~= nil
end

local function check_load(ok, flow)
  if not ok then
    if not clean(flow) then error("unclean error from pf.flow.load: " .. tostring(flow), 0) end
    return
  end
  -- a flow that loads must work: densities of a few points (a numerical failure of a
  -- flow with finite but absurd parameters is a clean error of its own)
  local cfg = flow:config()
  if cfg.dim > 64 or (cfg.context or 0) > 64 then return end
  local x = pf.array.full({3, cfg.dim}, 0.25)
  x:set(2, 1, -1.5)
  local c = (cfg.context or 0) > 0 and pf.array.full({3, cfg.context}, 0.5) or nil
  local lok, lp = pcall(flow.log_prob, flow, x, c)
  if not lok then
    if type(lp) ~= "string" or lp:find("attempt to", 1, true) or not lp:find("pf.flow.mix: ", 1, true) then
      error("unclean error from a loaded flow: " .. tostring(lp), 0)
    end
  elseif lp:size() ~= 3 then
    error("log_prob gave " .. lp:size() .. " values for 3 points", 0)
  end
end

return function(input)
  D.feed(input)
  local first = byte()
  local t = templates[first % #templates + 1]
  store = {}
  for q, e in pairs(t) do if q ~= "objects" then store[q] = e end end
  for _ = 1, 1 + byte() % 4 do rewrite(store, t.objects) end
  pf.h5.exists, pf.h5.read, pf.h5.attrs = fake_exists, fake_read, fake_attrs
  local ok, flow = pcall(pf.flow.load, path, "/flow")
  pf.h5.exists, pf.h5.read, pf.h5.attrs = real.exists, real.read, real.attrs
  check_load(ok, flow)
  local h = 0
  for i = 1, #input do h = (h * 31 + input:byte(i)) & 0xffffffff end
  if h % 64 == 0 then
    materialize(store)
    check_load(pcall(pf.flow.load, path, "/flow"))
  end
end

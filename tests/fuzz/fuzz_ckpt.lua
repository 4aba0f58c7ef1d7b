-- The Lua side of fuzz_ckpt (tests/fuzz/fuzz_flow.c built with FUZZ_NAME "ckpt"): returns
-- the function run on each fuzzer input. Valid training checkpoints are written once by
-- pf.train (an affine flow stopped after 2 epochs, a conditional spline flow after 1) and
-- read into a store of their objects; each input picks one, and its bytes say how to
-- rewrite its datasets and attributes (epoch, best_epoch, best_val, step; parameters, Adam
-- moments, loss histories and the generator state: values, lengths, shapes, types, NaN/Inf,
-- missing objects) before pf.train resumes from it. The run must end in a flow with finite
-- parameters or in a clean error naming the file; anything else is raised here, and the
-- harness aborts.
--
-- Speed: as in fuzz_flow.lua, pf.train reads the store through a stand-in for the pf.h5
-- functions it calls (exists, read, read_bytes), which gives what pf.h5 gives; one input
-- in 64 (by a hash of its bytes) is also written to a real file and resumed from it.
local pf = require "phaseflow"

local fuzz = require "fuzz_store"
local path = fuzz.scratch_path("ckpt")

local function store_of(file) return fuzz.store_of(file, function(q) return q:match("/rng$") end) end

local function data(n, d, seed)
  local x = pf.array.zeros(n, d)
  pf.rng.new(seed):fill_normal(x)
  return x
end

-- each template: the checkpoint's store, a flow to resume into (its first parameters kept
-- to start every input from) and the run's data and options
local templates = {}
do
  local opts = {batch = 16, max_epochs = 3, patience = 100, seed = 1}
  local function make(flow, x, c, stop)
    local p0 = flow:params()
    local o = {checkpoint = path, checkpoint_every = 1, stop_after = stop, context = c}
    for k, v in pairs(opts) do o[k] = v end
    pf.train(flow, x, o)
    local t = {store = store_of(path), flow = flow, p0 = p0, x = x, c = c, objects = {}}
    for q in pairs(t.store) do t.objects[#t.objects + 1] = q end
    table.sort(t.objects)
    templates[#templates + 1] = t
  end
  make(pf.flow.maf{dim = 2, transforms = 2, hidden = 4, blocks = 1, seed = 3}, data(40, 2, 1), nil, 2)
  make(pf.flow.maf{dim = 1, context = 1, transforms = 1, hidden = 3, blocks = 1, seed = 4,
    transform = "spline", bins = 3, bound = 4}, data(30, 1, 2), data(30, 1, 3), 1)
  for _, t in ipairs(templates) do
    t.opts = {context = t.c, checkpoint = path}
    for k, v in pairs(opts) do t.opts[k] = v end
  end
end

local ATTRS = {"epoch", "best_epoch", "best_val", "step", "format", "version"}
local STRINGS = {"", "2", "epoch", "1e308", "nan"}
local D = fuzz.decoder(STRINGS)
local byte, int, num, value = D.byte, D.int, D.num, D.value

local as_read, copy_attrs = fuzz.as_read, fuzz.copy_attrs

-- the generator state rewritten: a byte anywhere, one of its last 8 (MT19937's position
-- in its table, and padding), a 64-bit word of the table, or another length
local function rewrite_bytes(s)
  local k = byte() % 5
  local n = #s
  if n == 0 then return ("\0"):rep(byte()) end
  if k == 0 then
    local i = ((byte() << 8) | byte()) % n + 1
    return s:sub(1, i - 1) .. string.char(byte()) .. s:sub(i + 1)
  elseif k == 1 then
    local i = math.max(1, n - 8 + byte() % 8 + 1)
    return s:sub(1, i - 1) .. string.char(byte()) .. s:sub(i + 1)
  elseif k == 2 and n >= 8 then
    local w = ((byte() << 8) | byte()) % (n // 8)
    return s:sub(1, 8 * w) .. string.pack("<i8", int()) .. s:sub(8 * w + 9)
  elseif k == 3 then
    return s:sub(1, math.max(0, n - 1 - byte() * 8))
  end
  return s .. ("\0"):rep(1 + byte() % 16)
end

-- rewrite one object of the store `st` (a copy of a template's) as the input says
local function rewrite(st, objects)
  local obj = objects[byte() % #objects + 1]
  local e = st[obj]
  if not e then return end
  local op = byte() % 8
  if op <= 1 or e.group then                      -- an attribute: any name, any value
    local a = copy_attrs(e.attrs)
    a[ATTRS[byte() % #ATTRS + 1]] = as_read(value())
    local c = {}
    for k, v in pairs(e) do c[k] = v end
    c.attrs = a
    st[obj] = c
    return
  end
  local keep = byte() % 4 ~= 0 and e.attrs or {}
  if op == 4 then                                 -- gone
    st[obj] = nil
    return
  elseif op == 6 then                             -- a group instead of a dataset
    st[obj] = {group = true, attrs = {}}
    return
  elseif e.bytes then
    if op == 5 then                               -- float64 values instead of bytes
      local y = pf.array.zeros(#e.bytes)
      for i = 1, #e.bytes do y:set(i, e.bytes:byte(i)) end
      st[obj] = {dataset = y, shape = {#e.bytes}, attrs = keep}
    else
      st[obj] = {bytes = rewrite_bytes(e.bytes), attrs = keep}
    end
    return
  end
  local x = e.dataset
  if op == 2 then                                 -- one value changed
    local y = x:copy()
    if y:size() > 0 then y:set(byte() % y:size() + 1, num()) end
    st[obj] = {dataset = y, shape = e.shape, attrs = keep}
  elseif op == 3 then                             -- another length or shape
    local n = math.max(0, x:size() + (byte() % 9) - 4)
    if byte() % 4 == 0 then n = byte() % 90 end
    local y = pf.array.zeros(n)
    for i = 1, n do y:set(i, x:size() > 0 and x:get((i - 1) % x:size() + 1) or num()) end
    local shape = {n}
    if byte() % 3 == 0 and n % 2 == 0 and n > 0 then shape = {2, n // 2} end
    if byte() % 5 == 0 and n > 0 then shape = {1, n} end
    st[obj] = {dataset = y, shape = shape, attrs = keep}
  elseif op == 5 then                             -- integers or bytes instead of float64
    local y = x:copy()
    local bytes = byte() % 2 == 1
    for i = 1, y:size() do
      local v = y:get(i)
      y:set(i, bytes and 1 or (v == v and math.abs(v) < 2 ^ 62 and math.floor(v) or 0))
    end
    if bytes then
      st[obj] = {bytes = ("\1"):rep(y:size()), attrs = keep}
    else
      st[obj] = {dataset = y, shape = {y:size()}, attrs = keep, int = true}
    end
  else                                            -- every value NaN, infinite or negative
    st[obj] = {dataset = pf.array.full({x:size()}, num()), shape = e.shape, attrs = keep}
  end
end

-- the pf.h5 functions pf.train calls, over the store
local real = {exists = pf.h5.exists, read = pf.h5.read, read_bytes = pf.h5.read_bytes}
local store
local function parents_exist(q) return fuzz.parents_exist(store, q) end
local function fake_exists(file, q)
  assert(file == path)
  return (q == "/" or store[q] ~= nil) and parents_exist(q)
end
local function object(fn, file, q)
  local e = parents_exist(q) and store[q]
  if not e then error(("%s: %s: no object '%s'"):format(fn, file, q), 3) end
  if e.group then error(("%s: %s: '%s' is a group, not a dataset"):format(fn, file, q), 3) end
  return e
end
local function fake_read(file, q)
  local e = object("pf.h5.read", file, q)
  local a
  if e.bytes then
    a = pf.array.zeros(#e.bytes)
    for i = 1, #e.bytes do a:set(i, e.bytes:byte(i)) end
  else
    a = e.dataset:copy()
    if #e.shape == 2 then a = a:reshape(e.shape[1], e.shape[2]) end
  end
  return a, copy_attrs(e.attrs)
end
local function fake_read_bytes(file, q)
  local e = object("pf.h5.read_bytes", file, q)
  if e.bytes then return e.bytes end
  if #e.shape ~= 1 then
    error(("pf.h5.read_bytes: %s: '%s' is not a 1-D byte dataset"):format(file, q), 2)
  end
  -- HDF5 converts to unsigned char with clamping
  local b = {}
  for i = 1, e.dataset:size() do
    local v = e.dataset:get(i)
    b[i] = string.char(v ~= v and 0 or math.floor(math.max(0, math.min(255, v))))
  end
  return table.concat(b)
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
      elseif e.bytes then
        pf.h5.write_bytes(path, q, e.bytes)
      elseif e.int then
        local t = {}
        for i = 1, e.dataset:size() do t[i] = math.tointeger(e.dataset:get(i)) end
        pf.h5.write_int64(path, q, t)
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

-- Does the store hold what no run writes, which the loader must refuse: non-finite
-- parameters, moments or losses, or a negative second moment?
local function damaged(st)
  for _, name in ipairs{"params", "best", "m", "v", "train", "val"} do
    local e = st["/checkpoint/" .. name]
    if e and e.dataset then
      local x = e.dataset
      for i = 1, x:size() do
        local v = x:get(i)
        if v ~= v or math.abs(v) == math.huge or (name == "v" and v < 0) then return true end
      end
    end
  end
  return false
end

-- a clean error names pf.train (or the HDF5 layer) and the file, and is not a Lua runtime
-- error or an argument error from inside the library
local function clean(err)
  if type(err) ~= "string" then return false end
  for _, bad in ipairs{"attempt to", "'for' ", "number has no integer representation",
    "bad argument", "stack traceback"} do
    if err:find(bad, 1, true) then return false end
  end
  return (err:find("pf.train: ", 1, true) or err:find("pf.h5.", 1, true))
    and err:find(path, 1, true) ~= nil
end

local function check(t, bad, ok, hist)
  if not ok then
    -- finite but absurd parameters may make the loss diverge: a clean error of its own
    if not bad and type(hist) == "string" and hist:find("^pf%.train: the loss became") then return end
    if not clean(hist) then error("unclean error from pf.train resuming: " .. tostring(hist), 0) end
    return
  end
  if bad then error("pf.train resumed from a checkpoint with non-finite values", 0) end
  local p = t.flow:params()
  if p:isfinite():min() < 1 then error("pf.train ended with non-finite parameters", 0) end
  if #hist.train ~= hist.epochs or #hist.val ~= hist.epochs then
    error(("history of %d/%d losses for %s epochs"):format(#hist.train, #hist.val,
      tostring(hist.epochs)), 0)
  end
end

return function(input)
  D.feed(input)
  local t = templates[byte() % #templates + 1]
  store = {}
  for q, e in pairs(t.store) do store[q] = e end
  for _ = 1, 1 + byte() % 4 do rewrite(store, t.objects) end
  local bad = damaged(store)
  t.flow:set_params(t.p0)
  pf.h5.exists, pf.h5.read, pf.h5.read_bytes = fake_exists, fake_read, fake_read_bytes
  local ok, hist = pcall(pf.train, t.flow, t.x, t.opts)
  pf.h5.exists, pf.h5.read, pf.h5.read_bytes = real.exists, real.read, real.read_bytes
  check(t, bad, ok, hist)
  local h = 0
  for i = 1, #input do h = (h * 31 + input:byte(i)) & 0xffffffff end
  if h % 64 == 0 then
    materialize(store)
    t.flow:set_params(t.p0)
    local rok, rhist = pcall(pf.train, t.flow, t.x, t.opts)
    check(t, bad, rok, rhist)
    os.remove(path)
  end
end

-- pf.mcmc: the affine-invariant ensemble sampler (stretch move, as emcee) driven from Lua.
--
--   local res = pf.mcmc.sample(logpost, p0, {walkers = 32, steps = 5000, seed = 1})
--   res.chain (R x W x P)  res.log_prob (R x W)  res:flat{burn = b, thin = t} (N x P)
--   res.acceptance (W)  res.acceptance_mean  res:tau()  res:save(file, group)
--
-- `logpost` is a Lua function receiving a K x P array (one half-ensemble) and
-- returning K log-posteriors (a table or an array; -math.huge outside the support), or
-- a C model from pf.gnfw.model / core.mcmc.gnfw_model (the whole run then stays in C).
-- The C core is phaseflow.core.mcmc (src/lua/l_mcmc.c); this file adds the run loop,
-- recording, checkpoints and the result object.
local core = require "phaseflow.core"
local strict = require "phaseflow.strict"
local h5 = require "phaseflow.h5"
local C = core.mcmc

local M = {}
for k, v in pairs(C) do M[k] = v end

local function is_cmodel(f)
  return type(f) == "userdata" and getmetatable(f) and type(f.logpost) == "function"
end

local function is_array(x) return core.array.is_array(x) end

-- Evaluate logpost on K x P positions; returns what the core accepts (array or table)
-- after checking the count.
local function evaluate(logpost, x)
  if is_cmodel(logpost) then return logpost:logpost(x) end
  local lp = logpost(x)
  local k = x:shape()
  local n
  if is_array(lp) then n = lp:size()
  elseif type(lp) == "table" then n = #lp
  else
    error(("pf.mcmc: logpost must return a table or an array of %d numbers, got %s")
      :format(k, type(lp)), 3)
  end
  if n ~= k then
    error(("pf.mcmc: logpost returned %d values for %d walkers"):format(n, k), 3)
  end
  return lp
end

-- ---- steppable sampler ----------------------------------------------------------

local Sampler = {}
Sampler.__index = Sampler

--- pf.mcmc.sampler{logpost = f, p0 = W x P array, seed = 1, a = 2}
-- A steppable sampler: s:step() runs one full step (two half-ensemble calls of
-- logpost), s:positions(), s:log_probs(), s:acceptance(), s:iterations(),
-- s:state()/s:set_state(str) (bit-identical resume).
function M.sampler(opts)
  if type(opts) ~= "table" then error("pf.mcmc.sampler: option table expected", 2) end
  strict.options(opts, {logpost = true, p0 = true, seed = true, a = true}, "pf.mcmc.sampler")
  local logpost, p0 = opts.logpost, opts.p0
  if type(logpost) ~= "function" and not is_cmodel(logpost) then
    error("pf.mcmc.sampler: logpost must be a function or a C model", 2)
  end
  if not is_array(p0) or p0:ndim() ~= 2 then
    error("pf.mcmc.sampler: p0 must be a walkers x P array", 2)
  end
  local W, P = p0:shape()
  local s = C.sampler(W, P, {seed = opts.seed or 1, a = opts.a or 2})
  local lp0 = evaluate(logpost, p0)
  local lpa = is_array(lp0) and lp0 or core.array.from(lp0)
  for w = 1, W do
    local v = lpa:get(w)
    if v ~= v or v == math.huge or v == -math.huge then
      local coords = {}
      for d = 1, P do coords[d] = ("%.6g"):format(p0:get(w, d)) end
      error(("pf.mcmc: walker %d starts outside the support (log-posterior %s at %s)")
        :format(w, tostring(v), table.concat(coords, ", ")), 2)
    end
  end
  s:init(p0, lpa)
  return setmetatable({core = s, logpost = logpost, walkers = W, dim = P}, Sampler)
end

--- One step of the stretch move: each half of the walkers proposed against the other
--- half and accepted or not (Goodman & Weare). Returns the sampler.
function Sampler:step()
  local s, f = self.core, self.logpost
  for h = 1, 2 do
    local y = s:propose(h)
    s:accept(h, evaluate(f, y))
  end
  return self
end

--- The walkers' current positions (W x P array).
function Sampler:positions() return self.core:positions() end
--- The walkers' current log-posteriors (W array).
function Sampler:log_probs() return self.core:log_probs() end
--- Steps taken so far.
function Sampler:iterations() return self.core:iterations() end
--- The whole state (positions, log-posteriors, counts, generator) as a string, for checkpoints.
function Sampler:state() return self.core:state() end
--- Restore a state from Sampler:state(); returns the sampler.
function Sampler:set_state(str) self.core:set_state(str); return self end

--- Fraction of proposals accepted per walker (W array) and its mean.
function Sampler:acceptance()
  local n = self.core:iterations()
  local acc = self.core:accepted()
  if n == 0 then return acc, 0 end
  local frac = acc / n
  return frac, frac:mean()
end

-- ---- result -------------------------------------------------------------------

local Result = {}
Result.__index = Result

--- res:flat{burn = 0, thin = 1}: rows of the stored chain after dropping `burn`
-- stored rows and keeping every `thin`-th, walkers flattened: N x P.
function Result:flat(o)
  o = o or {}
  return C.flat(self.chain, o.burn or 0, o.thin or 1)
end

--- res:tau{c = 5, quiet = false}: integrated autocorrelation time per parameter (in
-- stored rows; multiply by thin for steps), a P array, and whether the chain is longer
-- than 50 tau. Warns on stderr when it is not (unless quiet).
function Result:tau(o)
  o = o or {}
  local tau, reliable = C.autocorr_time(self.chain, o.c or 5)
  if not reliable and not o.quiet then
    io.stderr:write(("pf.mcmc: warning: the chain (%d rows) is shorter than 50 tau " ..
      "(tau max %.1f); the estimate is unreliable, run longer\n"):format(
      self.chain:shape(), tau:max()))
  end
  return tau, reliable
end

--- res:save(file, group): chain, log_prob, acceptance and the run's options as HDF5.
function Result:save(file, group)
  group = group or "/mcmc"
  local attrs = {walkers = self.walkers, steps = self.steps, seed = self.seed, a = self.a,
                 burn = self.burn, thin = self.thin, acceptance_mean = self.acceptance_mean}
  h5.write(file, group .. "/chain", self.chain, attrs)
  h5.write(file, group .. "/log_prob", self.log_prob, attrs)
  h5.write(file, group .. "/acceptance", self.acceptance, attrs)
  return self
end

-- ---- checkpoints -------------------------------------------------------------------

-- The checkpoint file, under /mcmc_checkpoint: chain (R x W x P) and log_prob (R x W), fixed
-- datasets whose storage is allocated when the file is made (pf.h5.create_fixed), and
-- commit, two slots of bytes. The file is made whole (FILE.part, renamed); after that every
-- checkpoint only writes into it in place -- the rows recorded since the last checkpoint,
-- then a commit record in the older slot -- so a checkpoint costs the new rows, not the
-- whole chain, and changes no HDF5 metadata: a kill at any moment leaves a readable file.
-- A commit record (sequence number, steps done, rows recorded, W, P, R, the run's
-- options, the sampler's state) is valid when its checksum matches; the resume takes the
-- valid one with the higher sequence number and ignores rows past its count (a kill
-- during the rows or the record leaves the previous record whole in the other slot).
local CK = "/mcmc_checkpoint"
local MAGIC = "pfmcmc-1"
local fs = require "phaseflow.fs"
local serialize = require "phaseflow.serialize"

local function record(seq, done, rows, W, P, R, inputs, state)
  local body = string.pack("<c8i8i8i8i8i8i8s4s4", MAGIC, seq, done, rows, W, P, R, inputs, state)
  return string.pack("<s4", body) .. serialize.hash(body)
end

-- The valid record of slot `k` (0 or 1) of the commit bytes, or nil.
local function parse_slot(bytes, k, S)
  local slot = bytes:sub(k * S + 1, (k + 1) * S)
  if #slot < 4 then return nil end
  local n = string.unpack("<I4", slot)
  if n < 8 or n + 20 > #slot then return nil end
  local body = slot:sub(5, 4 + n)
  if slot:sub(5 + n, 20 + n) ~= serialize.hash(body) or body:sub(1, 8) ~= MAGIC then return nil end
  local ok, _, seq, done, rows, W, P, R, inputs, state =
    pcall(string.unpack, "<c8i8i8i8i8i8i8s4s4", body)
  if not ok or type(state) ~= "string" then return nil end
  return {seq = seq, done = done, rows = rows, W = W, P = P, R = R, inputs = inputs, state = state}
end

-- Make the checkpoint file (empty: no valid record) for this run's shapes.
local function create_checkpoint(file, ck)
  fs.replace(file, function(part)
    h5.create_fixed(part, CK .. "/chain", {ck.R, ck.W, ck.P})
    h5.create_fixed(part, CK .. "/log_prob", {ck.R, ck.W})
    h5.create_fixed(part, CK .. "/commit", {2 * ck.slot}, "uint8")
    h5.set_attrs(part, CK, {layout = MAGIC})
  end)
  ck.seq, ck.rows = 0, 0
end

-- Write the rows recorded since the last checkpoint, then the commit record.
local function write_checkpoint(file, ck, s, chain, logp, done, rows)
  if rows > ck.rows then
    h5.write_rows(file, CK .. "/chain", ck.rows + 1, chain:rows(ck.rows + 1, rows))
    h5.write_rows(file, CK .. "/log_prob", ck.rows + 1, logp:rows(ck.rows + 1, rows))
  end
  local seq = ck.seq + 1
  local rec = record(seq, done, rows, ck.W, ck.P, ck.R, ck.inputs, s:state())
  assert(#rec <= ck.slot, "pf.mcmc: commit record larger than its slot")
  h5.write_rows(file, CK .. "/commit", (seq % 2) * ck.slot + 1, rec .. ("\0"):rep(ck.slot - #rec))
  ck.seq, ck.rows = seq, rows
end

local function mismatch(file, W, P, R, ck)
  error(("pf.mcmc: checkpoint %s is for %d walkers x %d parameters x %d rows, " ..
    "this run has %d x %d x %d"):format(file, W, P, R, ck.W, ck.P, ck.R), 4)
end

-- A checkpoint of the earlier layout (the whole chain rewritten each time): its rows and
-- state, read as before, then carried into the new layout.
local function read_whole_checkpoint(file, ck, s, chain, logp)
  local prog = h5.read(file, CK .. "/progress")
  if prog:get(3) ~= ck.W or prog:get(4) ~= ck.P or prog:get(5) ~= ck.R then
    mismatch(file, prog:get(3), prog:get(4), prog:get(5), ck)
  end
  s:set_state(h5.read_bytes(file, CK .. "/state"))
  chain:assign(h5.read(file, CK .. "/chain"))
  logp:assign(h5.read(file, CK .. "/log_prob"))
  return math.tointeger(prog:get(1)), math.tointeger(prog:get(2))
end

-- The last valid commit record of an append checkpoint (nil if none), or nil and why
-- the commit area cannot be read; and the slot size.
local function last_commit(file)
  local ok, bytes = pcall(h5.read_bytes, file, CK .. "/commit")
  if not ok then return nil, tostring(bytes) end
  if #bytes % 2 ~= 0 then return nil, "a commit area of odd size" end
  local S, best = #bytes // 2, nil
  for k = 0, 1 do
    local r = parse_slot(bytes, k, S)
    if r and (not best or r.seq > best.seq) then best = r end
  end
  return best, nil, S
end

-- Open the checkpoint of this run (ck: W, P, R, inputs, slot): resume the sampler and
-- the rows from its last commit and return steps done and rows recorded (0, 0 for a new
-- one). A file of another run's shapes or options is refused; an unreadable one (not
-- HDF5, truncated, not a checkpoint) is reported on stderr and started again.
local function open_checkpoint(file, ck, s, chain, logp)
  if not fs.exists(file) then
    create_checkpoint(file, ck)
    return 0, 0
  end
  local ok, layout = pcall(function()
    if h5.exists(file, CK .. "/commit") then return "append" end
    if h5.exists(file, CK .. "/state") then return "whole" end
    return nil
  end)
  if ok and layout == "whole" then
    local done, rows = read_whole_checkpoint(file, ck, s, chain, logp)
    create_checkpoint(file, ck)
    write_checkpoint(file, ck, s, chain, logp, done, rows)
    return done, rows
  end
  local best, why, S
  if not ok then
    why = tostring(layout):gsub("^[^:]*:%d+: ", "")
  elseif not layout then
    why = "no MCMC checkpoint in it"
  else
    best, why, S = last_commit(file)
  end
  if best then
    if best.W ~= ck.W or best.P ~= ck.P or best.R ~= ck.R then
      mismatch(file, best.W, best.P, best.R, ck)
    end
    if best.inputs ~= ck.inputs then
      error(("pf.mcmc: checkpoint %s is of a run with %s, this run has %s")
        :format(file, best.inputs, ck.inputs), 3)
    end
    local cok, c = pcall(h5.read, file, CK .. "/chain")
    local lok, l = pcall(h5.read, file, CK .. "/log_prob")
    if cok and lok and c:size() == chain:size() and l:size() == logp:size() and
      S == ck.slot and best.rows <= ck.R and best.done >= 0 then
      s:set_state(best.state)
      chain:assign(c)
      logp:assign(l)
      if best.rows < ck.R then -- rows past the commit: left by a killed append, unused
        chain:rows(best.rows + 1, ck.R):fill(0)
        logp:rows(best.rows + 1, ck.R):fill(0)
      end
      ck.seq, ck.rows = best.seq, best.rows
      return best.done, best.rows
    end
    why = not cok and c or not lok and l or "a commit that does not fit its datasets"
  end
  if why then
    io.stderr:write(("pf.mcmc: warning: checkpoint %s is unusable (%s); the chain starts again\n")
      :format(file, why))
  end
  create_checkpoint(file, ck)
  return 0, 0
end

--- pf.mcmc.checkpoint_info(file) -> {done =, rows =, seq =, walkers =, dim =, total_rows =,
-- inputs =} of the last commit of a checkpoint file, or nil and why there is none.
function M.checkpoint_info(file)
  local ok, has = pcall(h5.exists, file, CK .. "/commit")
  if not ok then return nil, has end
  if not has then return nil, "no MCMC checkpoint of the append layout in " .. file end
  local r, why = last_commit(file)
  if not r then return nil, why or "no valid commit record" end
  return {done = r.done, rows = r.rows, seq = r.seq, walkers = r.W, dim = r.P, total_rows = r.R,
          inputs = r.inputs}
end

-- ---- sample ----------------------------------------------------------------------

local SAMPLE_OPTS = {walkers = true, steps = true, seed = true, thin = true, burn = true, a = true,
  checkpoint = true, checkpoint_every = true, progress = true}

--- pf.mcmc.sample(logpost, p0, opts) -> result
-- opts: walkers (default p0's rows; must match), steps (required), seed (1), a (2),
-- burn (0: steps 1..burn are not stored), thin (1: store every thin-th step after
-- burn), checkpoint (HDF5 file; an existing checkpoint there is resumed),
-- checkpoint_every (steps, default 1000), progress (true: pf.progress when present).
function M.sample(logpost, p0, opts)
  opts = opts or {}
  strict.options(opts, SAMPLE_OPTS, "pf.mcmc.sample")
  if not is_array(p0) or p0:ndim() ~= 2 then
    error("pf.mcmc.sample: p0 must be a walkers x P array", 2)
  end
  local W, P = p0:shape()
  if opts.walkers and opts.walkers ~= W then
    error(("pf.mcmc.sample: walkers = %d but p0 has %d rows"):format(opts.walkers, W), 2)
  end
  local steps = opts.steps
  if math.type(steps) ~= "integer" or steps < 1 then
    error("pf.mcmc.sample: steps must be a positive integer", 2)
  end
  local burn, thin = opts.burn or 0, opts.thin or 1
  if math.type(burn) ~= "integer" or burn < 0 or burn >= steps then
    error("pf.mcmc.sample: burn must be an integer in [0, steps)", 2)
  end
  if math.type(thin) ~= "integer" or thin < 1 then
    error("pf.mcmc.sample: thin must be a positive integer", 2)
  end
  local every = opts.checkpoint_every or 1000
  if math.type(every) ~= "integer" or every < 1 then
    error("pf.mcmc.sample: checkpoint_every must be a positive integer", 2)
  end
  local seed, a = opts.seed or 1, opts.a or 2

  local sm = M.sampler{logpost = logpost, p0 = p0, seed = seed, a = a}
  local s = sm.core
  local R = (steps - burn) // thin
  local chain = core.array.zeros(R, W, P)
  local logp = core.array.zeros(R, W)
  local done, rows = 0, 0
  local ck
  if opts.checkpoint then
    -- what the resume checks besides the shapes: the options that change the chain
    ck = {W = W, P = P, R = R, inputs = ("burn %d, thin %d, seed %s, a %s")
      :format(burn, thin, tostring(seed), ("%.17g"):format(a))}
    ck.slot = #record(0, 0, 0, W, P, R, ck.inputs, s:state()) + 64
    done, rows = open_checkpoint(opts.checkpoint, ck, s, chain, logp)
  end

  local prog
  if opts.progress then
    prog = core.progress.new{total = steps, label = "mcmc"}
  end

  local cmodel = is_cmodel(logpost)
  while done < steps do
    -- run up to the next checkpoint (or the end) in one piece
    local target = steps
    if opts.checkpoint then target = math.min(steps, (done // every + 1) * every) end
    if cmodel then
      -- in chunks so that progress is reported
      while done < target do
        local n = math.min(target - done, 1000)
        rows = rows + s:run(logpost, n, chain, logp, burn, thin)
        done = done + n
        if prog then prog:update(done) end
      end
    else
      while done < target do
        sm:step()
        done = done + 1
        if done > burn and (done - burn) % thin == 0 then
          rows = rows + 1
          s:record(chain, logp, rows)
        end
        if prog and done % 100 == 0 then prog:update(done) end
      end
    end
    if ck then write_checkpoint(opts.checkpoint, ck, s, chain, logp, done, rows) end
  end
  if prog then
    local _, mean = sm:acceptance()
    prog:finish(("acceptance %.3f"):format(mean))
  end

  local frac, mean = sm:acceptance()
  return setmetatable({chain = chain, log_prob = logp, acceptance = frac, acceptance_mean = mean,
    walkers = W, dim = P, steps = steps, burn = burn, thin = thin, seed = seed, a = a,
    sampler = sm}, Result)
end

return M

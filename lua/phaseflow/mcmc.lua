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

function Sampler:step()
  local s, f = self.core, self.logpost
  for h = 1, 2 do
    local y = s:propose(h)
    s:accept(h, evaluate(f, y))
  end
  return self
end

function Sampler:positions() return self.core:positions() end
function Sampler:log_probs() return self.core:log_probs() end
function Sampler:iterations() return self.core:iterations() end
function Sampler:state() return self.core:state() end
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

-- Layout in the checkpoint file, under /mcmc_checkpoint: state (bytes), chain, log_prob
-- (all rows so far), progress = {steps done, rows recorded, W, P, total rows}.
local CK = "/mcmc_checkpoint"

-- The checkpoint file is the checkpoint's own: written whole as FILE.part and renamed, so
-- a kill during the write leaves the previous checkpoint. (It rewrites every row so far:
-- the cost of all checkpoints grows with the square of the steps.)
local function write_checkpoint(file, s, chain, logp, done, rows)
  local W, P = s:walkers(), s:dim()
  require("phaseflow.fs").replace(file, function(part)
    h5.write(part, CK .. "/chain", chain)
    h5.write(part, CK .. "/log_prob", logp)
    h5.write(part, CK .. "/progress", core.array.from{done, rows, W, P, chain:shape()})
    h5.write_bytes(part, CK .. "/state", s:state())
  end)
end

local function read_checkpoint(file, s, chain, logp)
  if not h5.exists(file, CK .. "/state") then return nil end
  local prog = h5.read(file, CK .. "/progress")
  local W, P, R = s:walkers(), s:dim(), chain:shape()
  if prog:get(3) ~= W or prog:get(4) ~= P or prog:get(5) ~= R then
    error(("pf.mcmc: checkpoint %s is for %d walkers x %d parameters x %d rows, " ..
      "this run has %d x %d x %d"):format(file, prog:get(3), prog:get(4), prog:get(5), W, P, R), 3)
  end
  s:set_state(h5.read_bytes(file, CK .. "/state"))
  chain:assign(h5.read(file, CK .. "/chain"))
  logp:assign(h5.read(file, CK .. "/log_prob"))
  return math.tointeger(prog:get(1)), math.tointeger(prog:get(2))
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
  if opts.checkpoint then
    local d, r = read_checkpoint(opts.checkpoint, s, chain, logp)
    if d then done, rows = d, r end
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
    if opts.checkpoint then write_checkpoint(opts.checkpoint, s, chain, logp, done, rows) end
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

-- pf.flow: Masked Autoregressive Flows (C core: include/phaseflow/maf.h) with sampling,
-- files and ensembles.
--
--   local f = pf.flow.maf{dim = 3, context = 0, transforms = 8, hidden = 64, blocks = 2,
--                         seed = 1, transform = "affine" | "spline", bins = 8, bound = 3,
--                         layers = "sasa..." (per transform, overrides transform),
--                         preprocess = {input = {sphere = true, centre = {...},
--                         radius = 3.5, mean = {...}, std = {...}}, context = {...}}}
-- transform = "spline": rational-quadratic spline transforms (bins K on [-bound, bound]
-- after preprocessing, identity outside; include/phaseflow/spline.h) instead of affine.
--   f:log_prob(x [, ctx])  f:grad_log_prob(x [, ctx]) -> gx, gc, logp
--   f:sample(n, ctx0, {qmc = true, seed = s})  f:forward(x)  f:inverse(z)
--   f:save(file, group)    pf.flow.load(file, group)
local core = require "phaseflow.core"
local strict = require "phaseflow.strict"
local rng = core.rng
local qmc = core.qmc
local array = core.array
local h5 = require "phaseflow.h5"

local flow = {}
local methods = core.flow.methods
local FORMAT_VERSION = 1

--- A new Masked Autoregressive Flow (the core's pf.flow.maf) from the options in the
--- module comment; `preprocess` = {input = ..., context = ...} sets its input maps.
function flow.maf(opts)
  if type(opts) ~= "table" then error("pf.flow.maf: option table expected", 2) end
  local pre = opts.preprocess
  local o = {}
  for k, v in pairs(opts) do if k ~= "preprocess" then o[k] = v end end
  local f = core.flow.maf(o)
  if pre ~= nil then
    if type(pre) ~= "table" then error("pf.flow.maf: 'preprocess' must be a table", 2) end
    for k, v in pairs(pre) do
      if k ~= "input" and k ~= "context" then
        error(("pf.flow.maf: preprocess key '%s' (input or context expected)"):format(k), 2)
      end
      f:set_prep(k, v)
    end
  end
  return f
end

-- Base points for sampling: n x d standard normals, quasi-random or pseudo-random.
local function base_points(n, d, opts)
  opts = opts or {}
  local seed = opts.seed or 1
  if opts.qmc then
    return qmc.normal(n, d, {seed = seed, skip = opts.skip or 0})
  end
  local z = array.zeros(n, d)
  rng.from_opts(opts):fill_normal(z)
  return z
end
flow.base_points = base_points

-- Replicate one context (table or 1-D array of C numbers) into n rows.
local function replicate(ctx0, n, C)
  local c = array.zeros(n, C)
  local get = type(ctx0) == "table" and function(j) return ctx0[j] end
    or function(j) return ctx0:get(j) end
  for j = 1, C do
    local v = get(j)
    if type(v) ~= "number" then error("flow:sample: context must hold " .. C .. " numbers", 3) end
    c:col(j):fill(v)
  end
  return c
end

-- sample(n [, ctx0], opts) -> n x D samples, log p of each
function methods:sample(n, ctx0, opts)
  local cfg = self:config()
  if cfg.context == 0 and type(ctx0) == "table" and opts == nil and not array.is_array(ctx0) then
    opts, ctx0 = ctx0, nil
  end
  if type(n) ~= "number" or n < 1 or n % 1 ~= 0 then
    error("flow:sample: number of samples must be a positive integer", 2)
  end
  local c
  if cfg.context > 0 then
    if ctx0 == nil then error("flow:sample: the flow needs a context", 2) end
    if array.is_array(ctx0) and ctx0:ndim() == 2 and #ctx0 == n and n > 1 then
      c = ctx0                                      -- one context per sample
    else                                            -- one context for all: a row or a list
      local row = array.is_array(ctx0) and ctx0:ndim() == 2 and ctx0:row(1) or ctx0
      c = replicate(row, n, cfg.context)
    end
  end
  local z = base_points(n, cfg.dim, opts)
  local x, ld = self:inverse(z, c)
  -- log p(x) = log N(z) - log|det dx/dz|
  local lp = z:square():sum(2):mul(-0.5):sub(0.5 * cfg.dim * math.log(2 * math.pi)):sub(ld)
  return x, lp
end

local function prep_arrays(p)
  return array.from(p.mean), array.from(p.std), array.from(p.centre)
end

-- save(file, group): architecture, preprocessing, parameters (and history if given)
function methods:save(file, group, extra)
  local cfg = self:config()
  local attrs = {format = "phaseflow.maf", version = FORMAT_VERSION}
  for k, v in pairs(cfg) do attrs[k] = v end
  h5.write(file, group .. "/params", self:params(), attrs)
  for _, which in ipairs{"input", "context"} do
    local p = self:get_prep(which)
    if which == "input" or cfg.context > 0 then
      local m, s, c = prep_arrays(p)
      h5.write(file, group .. "/prep_" .. which .. "/mean", m)
      h5.write(file, group .. "/prep_" .. which .. "/std", s)
      h5.write(file, group .. "/prep_" .. which .. "/centre", c,
        {sphere = p.sphere and 1 or 0, radius = p.radius})
    end
  end
  if extra and extra.history then
    local hist = extra.history
    if #hist.train > 0 then
      h5.write(file, group .. "/history/train", array.from(hist.train))
      h5.write(file, group .. "/history/val", array.from(hist.val), {best_epoch = hist.best_epoch})
    end
  end
end


-- ---- ensembles ---------------------------------------------------------------------
-- An ensemble of M flows of the same dimensions: density = mean of the members'
-- probabilities, log_prob = log-mean-exp (stable), gradient = log-sum-exp weights times
-- member gradients (core.flow.mix).
local Ensemble = {}
Ensemble.__index = Ensemble
local ENS_FORMAT_VERSION = 1

--- True for an ensemble made by pf.flow.ensemble or loaded by pf.flow.load.
local function is_ensemble(e) return getmetatable(e) == Ensemble end
flow.is_ensemble = is_ensemble

--- ensemble{members = {f1, f2, ...}}: the equal-weight mixture of flows of the same dim
--- and context; it has the flow interface (log_prob, grad_log_prob, sample, save).
function flow.ensemble(opts)
  if type(opts) ~= "table" or type(opts.members) ~= "table" then
    error("pf.flow.ensemble: option table with 'members' (a list of flows) expected", 2)
  end
  strict.options(opts, {members = true}, "pf.flow.ensemble")
  local m = opts.members
  if #m < 1 then error("pf.flow.ensemble: at least one member expected", 2) end
  local cfg0
  for k, f in ipairs(m) do
    if not core.flow.is_maf(f) then
      error(("pf.flow.ensemble: member %d is not a flow"):format(k), 2)
    end
    local cfg = f:config()
    cfg0 = cfg0 or cfg
    if cfg.dim ~= cfg0.dim or cfg.context ~= cfg0.context then
      error(("pf.flow.ensemble: member %d has dim %d, context %d; member 1 has %d, %d"):format(
        k, cfg.dim, cfg.context, cfg0.dim, cfg0.context), 2)
    end
  end
  local list = {}
  for k, f in ipairs(m) do list[k] = f end
  return setmetatable({members = list, dim = cfg0.dim, context = cfg0.context}, Ensemble)
end

--- The number of members.
function Ensemble:size() return #self.members end
--- Member k (a flow); an error outside 1..size().
function Ensemble:member(k)
  local f = self.members[k]
  if f == nil then
    error(("ensemble:member: index %s outside 1..%d"):format(tostring(k), #self.members), 2)
  end
  return f
end
--- Member 1's config() with `members` = the number of members.
function Ensemble:config()
  local c = self.members[1]:config()
  c.members = #self.members
  return c
end

--- log_prob(x [, c]) -> N: the log of the members' mean density (log-sum-exp).
function Ensemble:log_prob(x, c)
  local lps = {}
  for k, f in ipairs(self.members) do lps[k] = f:log_prob(x, c) end
  return (core.flow.mix(lps))
end

-- grad_log_prob(x [, c]) -> gx (N x D), gc (N x C or nil), log_prob (N)
function Ensemble:grad_log_prob(x, c)
  local lps, gxs, gcs = {}, {}, {}
  for k, f in ipairs(self.members) do
    gxs[k], gcs[k], lps[k] = f:grad_log_prob(x, c)
  end
  local lp, gx, gc = core.flow.mix(lps, gxs, self.context > 0 and gcs or nil)
  return gx, gc, lp
end

-- sample(n [, ctx0], {qmc, seed, log_prob}) -> n x D samples from the mixture, their log p
-- (log_prob = false: samples only, skipping the M member evaluations of the mixture density).
-- Pseudo-random: each sample picks its member with a generator seeded from
-- derive_seed(seed, 0); base points come from `seed`. QMC: the first n points of one
-- scrambled Sobol stream are cut into M consecutive runs (member k gets
-- floor(n/M) points, plus one for k <= n mod M), each run itself well spread.
function Ensemble:sample(n, ctx0, opts)
  if self.context == 0 and type(ctx0) == "table" and opts == nil and not array.is_array(ctx0) then
    opts, ctx0 = ctx0, nil
  end
  if type(n) ~= "number" or n < 1 or n % 1 ~= 0 then
    error("ensemble:sample: number of samples must be a positive integer", 2)
  end
  opts = opts or {}
  local M = #self.members
  local c
  if self.context > 0 then
    if ctx0 == nil then error("ensemble:sample: the flows need a context", 2) end
    if array.is_array(ctx0) and ctx0:ndim() == 2 and #ctx0 == n and n > 1 then
      c = ctx0
    else
      local row = array.is_array(ctx0) and ctx0:ndim() == 2 and ctx0:row(1) or ctx0
      c = replicate(row, n, self.context)
    end
  end
  local z = base_points(n, self.dim, opts)
  local parts, order = {}, {}
  if opts.qmc then
    local q, r = n // M, n % M
    local i0 = 1
    for k = 1, M do
      local nk = q + (k <= r and 1 or 0)
      if nk > 0 then
        local i1 = i0 + nk - 1
        parts[#parts + 1] = (self.members[k]:inverse(z:rows(i0, i1):copy(),
          c and c:rows(i0, i1):copy() or nil))
        i0 = i1 + 1
      end
    end
    local x = #parts == 1 and parts[1] or array.vstack(parts)
    if opts.log_prob == false then return x end
    return x, self:log_prob(x, c)
  end
  local pick = rng.new(rng.derive_seed(opts.seed or 1, 0))
  local idx = {}
  for k = 1, M do idx[k] = {} end
  for i = 1, n do
    local k = math.min(M, 1 + math.floor(pick:uniform() * M))
    local t = idx[k]
    t[#t + 1] = i
  end
  for k = 1, M do
    if #idx[k] > 0 then
      local sel = idx[k]
      parts[#parts + 1] = (self.members[k]:inverse(z:take(sel), c and c:take(sel) or nil))
      for _, i in ipairs(sel) do order[#order + 1] = i end
    end
  end
  local xs = #parts == 1 and parts[1] or array.vstack(parts)
  local inv = {}
  for j, i in ipairs(order) do inv[i] = j end
  local x = xs:take(inv)
  if opts.log_prob == false then return x end
  return x, self:log_prob(x, c)
end

-- save(file, group [, extra]): members in subgroups member_0001..., attributes
-- format/version/members on the group, provenance (extra.provenance: a table of info),
-- each member's training history when extra.histories[k] is given.
function Ensemble:save(file, group, extra)
  extra = extra or {}
  for k, f in ipairs(self.members) do
    f:save(file, ("%s/member_%04d"):format(group, k),
      {history = extra.histories and extra.histories[k] or nil})
  end
  local info = {}
  for k, v in pairs(extra.provenance or {}) do info[k] = v end
  h5.provenance(file, group, info)
  h5.set_attrs(file, group, {format = "phaseflow.ensemble", version = ENS_FORMAT_VERSION,
    members = #self.members})
end

local function load_ensemble(file, group)
  local a = h5.attrs(file, group)
  if a.format ~= "phaseflow.ensemble" then
    error(("pf.flow.load: '%s' in %s holds neither a flow nor an ensemble"):format(group, file), 3)
  end
  if a.version ~= ENS_FORMAT_VERSION then
    error(("pf.flow.load: ensemble '%s' in %s has format version %s, this build reads %d"):format(
      group, file, tostring(a.version), ENS_FORMAT_VERSION), 3)
  end
  if math.type(a.members) ~= "integer" or a.members < 1 or a.members > 100000 then
    error(("pf.flow.load: ensemble '%s' in %s: attribute 'members' is %s, not an integer >= 1")
      :format(group, file, tostring(a.members)), 3)
  end
  local m = {}
  for k = 1, a.members do
    local g = ("%s/member_%04d"):format(group, k)
    if h5.exists(file, g .. "/params") ~= true then
      error(("pf.flow.load: ensemble '%s' in %s lacks member %d of %d (truncated file?)"):format(
        group, file, k, a.members), 3)
    end
    m[k] = flow.load(file, g)
  end
  return flow.ensemble{members = m}
end

-- ---- training ensembles (Monte-Carlo cross-validation) --------------------------------
local train_mod

-- train_member(job) -> flow, history. job = {member = k, seed = s, x = ..., context = ...,
-- flow = {pf.flow.maf options} or make_flow = function(k, member_seed) -> flow,
-- train = {pf.train options}}. The member's seed is derive_seed(s, k): it seeds the
-- flow's initialisation (when `flow` options are given), its own train/validation
-- split and its batches. Independent of every other member: farm jobs out freely.
function flow.train_member(job)
  if type(job) ~= "table" or math.type(job.member) ~= "integer" or job.member < 1 then
    error("pf.flow.train_member: job with an integer 'member' >= 1 expected", 2)
  end
  if job.x == nil then error("pf.flow.train_member: job needs 'x'", 2) end
  train_mod = train_mod or require "phaseflow.train"
  local ms = rng.derive_seed(job.seed or 1, job.member)
  local f
  if job.make_flow then
    f = job.make_flow(job.member, ms)
  elseif type(job.flow) == "table" then
    local o = {}
    for k, v in pairs(job.flow) do o[k] = v end
    o.seed = ms
    f = flow.maf(o)
  else
    error("pf.flow.train_member: job needs 'flow' (options) or 'make_flow' (function)", 2)
  end
  local topts = {}
  for k, v in pairs(job.train or {}) do topts[k] = v end
  topts.seed = ms
  topts.context = job.context
  local hist = train_mod.train(f, job.x, topts)
  hist.member, hist.seed, hist.member_seed = job.member, job.seed or 1, ms
  return f, hist
end

-- train_ensemble(make_flow, x, {members = M, seed = s, context = c, val_fraction = 0.2,
-- ...pf.train options}) -> ensemble, histories. make_flow is a function(k, member_seed)
-- or a table of pf.flow.maf options.
function flow.train_ensemble(make_flow, x, opts)
  opts = opts or {}
  local M = opts.members
  if math.type(M) ~= "integer" or M < 1 then
    error("pf.flow.train_ensemble: option 'members' must be an integer >= 1", 2)
  end
  if opts.x_val ~= nil then
    error("pf.flow.train_ensemble: each member draws its own validation split; no 'x_val'", 2)
  end
  local topts = {}
  for k, v in pairs(opts) do
    if k ~= "members" and k ~= "seed" and k ~= "context" then topts[k] = v end
  end
  local members, hists = {}, {}
  for k = 1, M do
    local job = {member = k, seed = opts.seed or 1, x = x, context = opts.context, train = topts}
    if type(make_flow) == "function" then job.make_flow = make_flow else job.flow = make_flow end
    members[k], hists[k] = flow.train_member(job)
  end
  return flow.ensemble{members = members}, hists
end

-- Limits of what a flow file may ask for before anything is allocated: far beyond any
-- flow this workbench trains, small enough that a damaged file cannot make the loader
-- allocate without bound.
local LOAD_LIMITS = {dim = {1, 4096}, context = {0, 4096}, transforms = {1, 4096},
  hidden = {1, 1 << 16}, blocks = {0, 256}, bins = {2, 1 << 16}}

local function load_fail(file, group, fmt, ...)
  error(("pf.flow.load: '%s' in %s: " .. fmt):format(group, file, ...), 3)
end

-- The architecture stored with a flow's parameters, checked: integers in range, a known
-- family, and at least as many stored parameters as the architecture's first layers need
-- (so that a damaged size is refused before the flow is built).
local function load_config(file, group, a, nstored)
  local cfg = {}
  for k, lim in pairs(LOAD_LIMITS) do
    local v = a[k]
    if v == nil and (k == "bins") then v = 8 end
    if math.type(v) ~= "integer" or v < lim[1] or v > lim[2] then
      load_fail(file, group, "attribute '%s' is %s, not an integer in %d..%d", k,
        v == nil and "missing" or tostring(v), lim[1], lim[2])
    end
    cfg[k] = v
  end
  local t = a.transform
  if t ~= nil and t ~= "affine" and t ~= "spline" and t ~= "mixed" then
    load_fail(file, group, "attribute 'transform' is %s, not affine, spline or mixed", tostring(t))
  end
  if t == "mixed" and (type(a.layers) ~= "string" or #a.layers ~= cfg.transforms) then
    load_fail(file, group, "attribute 'layers' must be a string of %d letters for a mixed flow",
      cfg.transforms)
  end
  local bound = a.bound
  if bound == nil then bound = 3 end
  if type(bound) ~= "number" or not (bound > 0 and bound < math.huge) then
    load_fail(file, group, "attribute 'bound' is %s, not a positive finite number", tostring(bound))
  end
  local h, d, c = cfg.hidden, cfg.dim, cfg.context
  local least = cfg.transforms * (h * (d + c) + cfg.blocks * h * h + 2 * h * d)
  if least > nstored then
    load_fail(file, group, "holds %d parameters, its architecture needs more than %d", nstored, least)
  end
  -- files written before the spline family have no 'transform' attribute: affine
  return {dim = d, context = c, transforms = cfg.transforms, hidden = h, blocks = cfg.blocks,
    transform = t == "spline" and "spline" or nil, layers = t == "mixed" and a.layers or nil,
    bins = cfg.bins, bound = bound}
end

-- A preprocessing group: mean and std of n entries (std positive), a centre of 3, all
-- finite; the sphere flag and radius of the centre's attributes.
local function load_prep(file, group, base, n)
  local function vec(name, len)
    local x = h5.read(file, base .. "/" .. name)
    if x:size() ~= len then
      load_fail(file, group, "'%s/%s' holds %d values, expected %d", base, name, x:size(), len)
    end
    local t = x:reshape(len):totable()
    for i = 1, len do
      if t[i] ~= t[i] or t[i] == math.huge or t[i] == -math.huge then
        load_fail(file, group, "'%s/%s' holds a value that is not finite", base, name)
      end
    end
    return t
  end
  local mean, std, centre = vec("mean", n), vec("std", n), vec("centre", 3)
  for i = 1, n do
    if std[i] <= 0 then load_fail(file, group, "'%s/std' holds a value <= 0", base) end
  end
  local ca = h5.attrs(file, base .. "/centre")
  local radius = ca.radius
  if radius ~= nil and (type(radius) ~= "number" or not (radius >= 0 and radius < math.huge)) then
    load_fail(file, group, "'%s/centre' has radius %s, not a finite number >= 0", base, tostring(radius))
  end
  return {mean = mean, std = std, centre = centre, sphere = ca.sphere == 1, radius = radius}
end

--- load(file, group) -> a flow or an ensemble saved by :save at the absolute path `group`,
--- its architecture read from the file; an error for a missing, old-format, wrong-size or
--- non-finite one.
function flow.load(file, group)
  if type(group) ~= "string" or group:sub(1, 1) ~= "/" then
    error(("pf.flow.load: group path must be absolute (start with '/'), got %s"):format(
      type(group) == "string" and ("'" .. group .. "'") or type(group)), 2)
  end
  if h5.exists(file, group .. "/params") ~= true then
    if h5.exists(file, group) == true then return load_ensemble(file, group) end
    error(("pf.flow.load: no flow at '%s' in %s"):format(group, file), 2)
  end
  local p, a = h5.read(file, group .. "/params")
  if a.format ~= "phaseflow.maf" then
    error(("pf.flow.load: '%s' in %s is not a phaseflow.maf group"):format(group, file), 2)
  end
  if a.version ~= FORMAT_VERSION then
    error(("pf.flow.load: '%s' in %s has format version %s, this build reads %d"):format(
      group, file, tostring(a.version), FORMAT_VERSION), 2)
  end
  local ok, f = pcall(core.flow.maf, load_config(file, group, a, p:size()))
  if not ok then
    error(("pf.flow.load: '%s' in %s: its architecture is refused (%s)"):format(group, file,
      tostring(f):gsub("^[^:]*:%d+: ", "")), 2)
  end
  if p:size() ~= f:nparams() then
    error(("pf.flow.load: '%s' in %s holds %d parameters, its architecture needs %d"):format(
      group, file, p:size(), f:nparams()), 2)
  end
  -- a flow with NaN or infinite parameters gives NaN densities everywhere: refuse it here
  local finite = p:reshape(p:size()):isfinite():sum()
  if finite < p:size() then
    error(("pf.flow.load: '%s' in %s: %d of its %d parameters are not finite"):format(
      group, file, p:size() - finite, p:size()), 2)
  end
  f:set_params(p:reshape(p:size()))
  local cfg = f:config()
  for _, which in ipairs{"input", "context"} do
    local base = group .. "/prep_" .. which
    if h5.exists(file, base .. "/mean") == true then
      local ok2, err = pcall(f.set_prep, f, which,
        load_prep(file, group, base, which == "input" and cfg.dim or cfg.context))
      if not ok2 then
        error(("pf.flow.load: '%s' in %s: its %s preprocessing is refused (%s)"):format(group, file,
          which, tostring(err):gsub("^[^:]*:%d+: ", "")), 2)
      end
    end
  end
  return f
end

return flow

-- pf.flow: Masked Autoregressive Flows (C core: include/phaseflow/maf.h) with sampling,
-- files and ensembles.
--
--   local f = pf.flow.maf{dim = 3, context = 0, transforms = 8, hidden = 64, blocks = 2,
--                         seed = 1, preprocess = {input = {sphere = true, centre = {...},
--                         radius = 3.5, mean = {...}, std = {...}}, context = {...}}}
--   f:log_prob(x [, ctx])  f:grad_log_prob(x [, ctx]) -> gx, gc, logp
--   f:sample(n, ctx0, {qmc = true, seed = s})  f:forward(x)  f:inverse(z)
--   f:save(file, group)    pf.flow.load(file, group)
local core = require "phaseflow.core"
local rng = core.rng
local qmc = core.qmc
local array = core.array
local h5 = require "phaseflow.h5"

local flow = {}
local methods = core.flow.methods
local FORMAT_VERSION = 1

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
  rng.new(seed):fill_normal(z)
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
    c = array.is_array(ctx0) and ctx0:ndim() == 2 and ctx0 or replicate(ctx0, n, cfg.context)
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

function flow.load(file, group)
  if h5.exists(file, group .. "/params") ~= true then
    error(("pf.flow.load: no flow at '%s' in %s"):format(group, file), 2)
  end
  local p, a = h5.read(file, group .. "/params")
  if a.format ~= "phaseflow.maf" then
    error(("pf.flow.load: '%s' in %s is not a phaseflow.maf group"):format(group, file), 2)
  end
  if a.version ~= FORMAT_VERSION then
    error(("pf.flow.load: '%s' has format version %s, this build reads %d"):format(
      group, tostring(a.version), FORMAT_VERSION), 2)
  end
  local f = core.flow.maf{dim = a.dim, context = a.context, transforms = a.transforms,
                          hidden = a.hidden, blocks = a.blocks}
  if p:size() ~= f:nparams() then
    error(("pf.flow.load: '%s' holds %d parameters, its architecture needs %d"):format(
      group, p:size(), f:nparams()), 2)
  end
  f:set_params(p)
  for _, which in ipairs{"input", "context"} do
    local base = group .. "/prep_" .. which
    if h5.exists(file, base .. "/mean") == true then
      local c, ca = h5.read(file, base .. "/centre")
      f:set_prep(which, {mean = h5.read(file, base .. "/mean"):totable(),
                         std = h5.read(file, base .. "/std"):totable(),
                         centre = c:totable(), sphere = ca.sphere == 1, radius = ca.radius})
    end
  end
  return f
end

return flow

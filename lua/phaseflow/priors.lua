-- luacheck: ignore 581 (the "not (a < b)" forms are deliberate: they are false for NaN)
-- pf.priors: prior distributions as editable Lua.
--
--   local P = pf.priors
--   local prior = P.product({"rho0", "rs", "beta"}, {
--     rho0 = P.truncnormal(40, 80, 0, 200),
--     rs   = P.uniform(0, 20),
--     beta = P.truncnormal(2, 2, 0, math.huge),
--   })
--   prior:logpdf(X)          -- X: K x P array -> K array (-math.huge outside the support)
--   prior:sample(n, {seed = 1})  -- n x P array of draws (initial walkers)
--   prior:check(X)           -- error naming the first walker outside the support
--   prior:index("rs")        -- 2; an unknown name is an error listing the known ones
--
-- One-dimensional priors have :logpdf(x), :contains(x), :sample(rng) and a name.
-- Log-densities are normalised (truncation included).
local core = require "phaseflow.core"

local M = {}

local LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
local INF = math.huge

local function erf(x)
  return core.array.from{x}:erf():get(1)
end

-- Standard normal CDF.
local function Phi(x)
  if x == INF then return 1 end
  if x == -INF then return 0 end
  return 0.5 * (1 + erf(x / math.sqrt(2)))
end

local function num(x, what, fname)
  if type(x) ~= "number" or x ~= x then
    error(("pf.priors.%s: %s must be a number, got %s"):format(fname, what, tostring(x)), 3)
  end
  return x
end

local Prior = {}
Prior.__index = Prior

--- True if x is in the prior's support [lo, hi].
function Prior:contains(x) return x >= self.lo and x <= self.hi end
function Prior:__tostring() return self.text end

local function new(t) return setmetatable(t, Prior) end

--- Uniform on [lo, hi] (finite, lo < hi).
function M.uniform(lo, hi)
  num(lo, "lo", "uniform"); num(hi, "hi", "uniform")
  if not (lo < hi) or lo == -INF or hi == INF then
    error(("pf.priors.uniform: need finite lo < hi, got [%g, %g]"):format(lo, hi), 2)
  end
  local c = -math.log(hi - lo)
  return new{kind = "uniform", lo = lo, hi = hi, text = ("U[%g, %g]"):format(lo, hi),
    logpdf = function(_, x) if x >= lo and x <= hi then return c end return -INF end,
    sample = function(_, r) return lo + (hi - lo) * r:uniform() end}
end

--- Normal N(mu, sd) on the whole line.
function M.normal(mu, sd)
  num(mu, "mu", "normal"); num(sd, "sd", "normal")
  if not (sd > 0) then error(("pf.priors.normal: sd must be > 0, got %g"):format(sd), 2) end
  local c = -math.log(sd) - LOG_SQRT_2PI
  return new{kind = "normal", mu = mu, sd = sd, lo = -INF, hi = INF,
    text = ("N(%g, %g)"):format(mu, sd),
    logpdf = function(_, x) local z = (x - mu) / sd; return c - 0.5 * z * z end,
    sample = function(_, r) return mu + sd * r:normal() end}
end

--- Normal N(mu, sd) truncated to [lo, hi] (either may be infinite).
function M.truncnormal(mu, sd, lo, hi)
  num(mu, "mu", "truncnormal"); num(sd, "sd", "truncnormal")
  lo, hi = lo or -INF, hi or INF
  num(lo, "lo", "truncnormal"); num(hi, "hi", "truncnormal")
  if not (sd > 0) then error(("pf.priors.truncnormal: sd must be > 0, got %g"):format(sd), 2) end
  if not (lo < hi) then error(("pf.priors.truncnormal: need lo < hi, got [%g, %g]"):format(lo, hi), 2) end
  local mass = Phi((hi - mu) / sd) - Phi((lo - mu) / sd)
  if not (mass > 1e-12) then
    error(("pf.priors.truncnormal: [%g, %g] holds no mass of N(%g, %g)"):format(lo, hi, mu, sd), 2)
  end
  local c = -math.log(sd) - LOG_SQRT_2PI - math.log(mass)
  return new{kind = "truncnormal", mu = mu, sd = sd, lo = lo, hi = hi, mass = mass,
    text = ("N(%g, %g) on [%g, %g]"):format(mu, sd, lo, hi),
    logpdf = function(_, x)
      if x < lo or x > hi then return -INF end
      local z = (x - mu) / sd
      return c - 0.5 * z * z
    end,
    -- rejection from the untruncated normal; the mass is checked above, so for the
    -- priors this is meant for (mass >~ 1e-3) it ends quickly
    sample = function(_, r)
      for _ = 1, 100000 do
        local x = mu + sd * r:normal()
        if x >= lo and x <= hi then return x end
      end
      error("pf.priors.truncnormal: rejection sampling failed (mass too small)")
    end}
end

--- Log-uniform on [lo, hi], 0 < lo < hi: density 1 / (x ln(hi/lo)).
function M.loguniform(lo, hi)
  num(lo, "lo", "loguniform"); num(hi, "hi", "loguniform")
  if not (lo > 0 and lo < hi and hi < INF) then
    error(("pf.priors.loguniform: need 0 < lo < hi < inf, got [%g, %g]"):format(lo, hi), 2)
  end
  local c = -math.log(math.log(hi / lo))
  return new{kind = "loguniform", lo = lo, hi = hi, text = ("logU[%g, %g]"):format(lo, hi),
    logpdf = function(_, x) if x >= lo and x <= hi then return c - math.log(x) end return -INF end,
    sample = function(_, r) return lo * math.exp(r:uniform() * math.log(hi / lo)) end}
end

-- ---- products over named parameters --------------------------------------------

local Product = {}
Product.__index = Product

--- pf.priors.product(names, priors): `names` lists the parameters in column order;
-- `priors` maps every name to a 1-D prior. A name in one but not the other is an error.
function M.product(names, priors)
  if type(names) ~= "table" or #names == 0 then
    error("pf.priors.product: a list of parameter names expected as argument 1", 2)
  end
  if type(priors) ~= "table" then
    error("pf.priors.product: a table name -> prior expected as argument 2", 2)
  end
  local index, list = {}, {}
  for i, n in ipairs(names) do
    if type(n) ~= "string" then error(("pf.priors.product: name %d is not a string"):format(i), 2) end
    if index[n] then error(("pf.priors.product: parameter '%s' listed twice"):format(n), 2) end
    index[n] = i
  end
  local known = table.concat(names, ", ")
  for k, p in pairs(priors) do
    if not index[k] then
      error(("pf.priors.product: unknown parameter '%s' (parameters: %s)"):format(tostring(k), known), 2)
    end
    if getmetatable(p) ~= Prior then
      error(("pf.priors.product: the prior of '%s' is not a pf.priors distribution"):format(k), 2)
    end
  end
  for i, n in ipairs(names) do
    list[i] = priors[n]
    if not list[i] then error(("pf.priors.product: no prior for parameter '%s'"):format(n), 2) end
  end
  local nm = {}
  for i, n in ipairs(names) do nm[i] = n end
  return setmetatable({names = nm, priors = list, index_of = index, dim = #nm}, Product)
end

--- Column of a named parameter; an unknown name is an error listing the known ones.
function Product:index(name)
  local i = self.index_of[name]
  if not i then
    error(("pf.priors: unknown parameter '%s' (parameters: %s)"):format(tostring(name),
      table.concat(self.names, ", ")), 2)
  end
  return i
end

--- The prior of a named parameter.
function Product:get(name) return self.priors[self:index(name)] end

local function check_x(self, x, fname)
  if not core.array.is_array(x) or x:ndim() ~= 2 then
    error(("pf.priors:%s: a K x %d array expected"):format(fname, self.dim), 3)
  end
  local _, p = x:shape()
  if p ~= self.dim then
    error(("pf.priors:%s: array of K x %d expected (parameters %s), got %d columns")
      :format(fname, self.dim, table.concat(self.names, ", "), p), 3)
  end
end

--- Log-density of one point given as a Lua table of P numbers.
function Product:logpdf1(theta)
  local s = 0
  for i, p in ipairs(self.priors) do
    local v = p:logpdf(theta[i])
    if v == -INF then return -INF end
    s = s + v
  end
  return s
end

--- Log-density of each row of X (K x P) -> K array.
function Product:logpdf(x)
  check_x(self, x, "logpdf")
  local k = x:shape()
  local out = core.array.zeros(k)
  local rows = x:totable()
  for i = 1, k do out:set(i, self:logpdf1(rows[i])) end
  return out
end

--- n x P draws (opts: seed or rng).
function Product:sample(n, opts)
  if math.type(n) ~= "integer" or n < 1 then
    error("pf.priors:sample: a positive number of draws expected", 2)
  end
  local r = core.rng.from_opts(opts)
  local x = core.array.zeros(n, self.dim)
  for i = 1, n do
    for j, p in ipairs(self.priors) do x:set(i, j, p:sample(r)) end
  end
  return x
end

--- Raise an error naming the first row (walker) of X outside the support.
function Product:check(x)
  check_x(self, x, "check")
  local rows = x:totable()
  for i, row in ipairs(rows) do
    for j, p in ipairs(self.priors) do
      local v = row[j]
      if v ~= v or not p:contains(v) or p:logpdf(v) == -INF then
        error(("pf.priors: walker %d starts outside the prior support: %s = %g, prior %s")
          :format(i, self.names[j], v, tostring(p)), 2)
      end
    end
  end
  return true
end

--- A log-posterior for pf.mcmc from a per-point log-likelihood loglike(theta) (theta a
-- Lua table of P numbers): K x P array -> table of K values; the likelihood is not
-- evaluated outside the prior's support.
function Product:posterior(loglike)
  return function(x)
    local rows = x:totable()
    local out = {}
    for i, th in ipairs(rows) do
      local lp = self:logpdf1(th)
      if lp > -INF then lp = lp + loglike(th) end
      out[i] = lp
    end
    return out
  end
end

function Product:__tostring()
  local parts = {}
  for i, n in ipairs(self.names) do parts[i] = n .. " ~ " .. tostring(self.priors[i]) end
  return "prior{" .. table.concat(parts, ", ") .. "}"
end

return M

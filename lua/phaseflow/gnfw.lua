-- luacheck: ignore 581 (the "not (a < b)" forms are deliberate: they are false for NaN)
-- pf.gnfw: the paper's generalized NFW fit of dark-matter densities.
--
--   rho(r) = rho0 / ((r/rs)^beta (1 + r/rs)^(3 - beta))
--
-- theta = (rho0, rs, beta): rho0 in the units of the data's densities (the paper uses
-- 1e-2 Msun/pc^3), rs in kpc, beta dimensionless. Data: points (r_kpc, rho, sigma) with a
-- Gaussian likelihood. Paper priors (Lim et al., Sec. IV): rho0 ~ N(40, 80) truncated
-- to [0, 200], rs ~ U[0, 20] kpc, beta ~ N(2, 2) truncated to beta >= 0.
--
--   local pts = pf.gnfw.read_points("rho_dm.csv")      -- or an HDF5 file
--   local fit = pf.gnfw.fit(pts, {walkers = 32, steps = 20000, burn = 5000, seed = 1})
--   fit.median, fit.p16, fit.p84, fit.map               -- tables keyed rho0, rs, beta
local core = require "phaseflow.core"
local priors = require "phaseflow.priors"
local mcmc = require "phaseflow.mcmc"
local h5 = require "phaseflow.h5"

local M = {}

M.names = {"rho0", "rs", "beta"}

--- The profile: r a number or an array (kpc).
M.density = core.mcmc.gnfw_density

-- The paper's priors, as plain numbers (the C model takes these).
M.paper = {rho0_mu = 40, rho0_sd = 80, rho0_lo = 0, rho0_hi = 200, rs_lo = 0, rs_hi = 20,
  beta_mu = 2, beta_sd = 2, beta_lo = 0, beta_hi = math.huge}

--- The paper's priors as a pf.priors product (edit freely; `over` replaces any of the
-- numbers of M.paper, an unknown key is an error).
function M.priors(over)
  local p = {}
  for k, v in pairs(M.paper) do p[k] = v end
  for k, v in pairs(over or {}) do
    if M.paper[k] == nil then
      error(("pf.gnfw.priors: unknown prior setting '%s'"):format(tostring(k)), 2)
    end
    p[k] = v
  end
  return priors.product(M.names, {
    rho0 = priors.truncnormal(p.rho0_mu, p.rho0_sd, p.rho0_lo, p.rho0_hi),
    rs = priors.uniform(p.rs_lo, p.rs_hi),
    beta = priors.truncnormal(p.beta_mu, p.beta_sd, p.beta_lo, p.beta_hi),
  }), p
end

local function check_points(pts, fname)
  if type(pts) ~= "table" or not (core.array.is_array(pts.r) and core.array.is_array(pts.rho)
      and core.array.is_array(pts.sigma)) then
    error(("pf.gnfw.%s: points {r = array, rho = array, sigma = array} expected"):format(fname), 3)
  end
end

--- The C model of the posterior (whole MCMC runs in C); `over` as in M.priors.
function M.model(pts, over)
  check_points(pts, "model")
  local _, p = M.priors(over)
  return core.mcmc.gnfw_model(pts.r, pts.rho, pts.sigma, p)
end

--- The same posterior in Lua (K x 3 array -> table of K), from any pf.priors product
-- over rho0, rs, beta: the path for priors the C model does not know.
function M.logpost_lua(pts, prior)
  check_points(pts, "logpost_lua")
  prior = prior or M.priors()
  local r, rho, sig = pts.r:totable(), pts.rho:totable(), pts.sigma:totable()
  local n = #r
  local log, log1p_ = math.log, function(x) return math.log(1 + x) end
  local function loglike(th)
    local rho0, rs, beta = th[1], th[2], th[3]
    if not (rs > 0) then return -math.huge end
    local chi2 = 0
    for i = 1, n do
      local x = r[i] / rs
      local m = rho0 * math.exp(-beta * log(x) - (3 - beta) * log1p_(x))
      local e = (rho[i] - m) / sig[i]
      chi2 = chi2 + e * e
    end
    return -0.5 * chi2
  end
  return prior:posterior(loglike)
end

--- Read points from a CSV (columns r_kpc, rho, sigma; header line required) or an
-- HDF5 file (datasets <group>/r_kpc, <group>/rho, <group>/sigma; group default "/").
function M.read_points(file, group)
  if file:match("%.h5$") or file:match("%.hdf5$") then
    group = (group or ""):gsub("/$", "")
    local r = h5.read(file, group .. "/r_kpc")
    return {r = r, rho = h5.read(file, group .. "/rho"), sigma = h5.read(file, group .. "/sigma")}
  end
  local f, err = io.open(file, "r")
  if not f then error(("pf.gnfw.read_points: %s"):format(err), 2) end
  local header = f:read("l")
  if not header then f:close(); error(("pf.gnfw.read_points: %s is empty"):format(file), 2) end
  local cols = {}
  local i = 0
  for name in (header .. ","):gmatch("%s*([^,]-)%s*,") do i = i + 1; cols[name] = i end
  for _, need in ipairs{"r_kpc", "rho", "sigma"} do
    if not cols[need] then
      f:close()
      error(("pf.gnfw.read_points: %s has no column '%s' (header: %s)"):format(file, need, header), 2)
    end
  end
  local r, rho, sig = {}, {}, {}
  local line_no = 1
  for line in f:lines() do
    line_no = line_no + 1
    if line:match("%S") and not line:match("^%s*#") then
      local v = {}
      for field in (line .. ","):gmatch("%s*([^,]-)%s*,") do v[#v + 1] = tonumber(field) or field end
      local a, b, c = v[cols.r_kpc], v[cols.rho], v[cols.sigma]
      if type(a) ~= "number" or type(b) ~= "number" or type(c) ~= "number" then
        f:close()
        error(("pf.gnfw.read_points: %s line %d: r_kpc, rho, sigma must be numbers"):format(file, line_no), 2)
      end
      r[#r + 1], rho[#rho + 1], sig[#sig + 1] = a, b, c
    end
  end
  f:close()
  if #r == 0 then error(("pf.gnfw.read_points: %s has no data rows"):format(file), 2) end
  return {r = core.array.from(r), rho = core.array.from(rho), sigma = core.array.from(sig)}
end

--- Quantile q in [0, 1] of a sorted Lua list (linear interpolation, as numpy's default).
local function quantile(sorted, q)
  local n = #sorted
  local h = (n - 1) * q + 1
  local lo = math.floor(h)
  local hi = math.min(lo + 1, n)
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo])
end
M.quantile = quantile

--- Summaries of an MCMC result: medians, 16th/84th percentiles, and the sample of
-- highest posterior (MAP) over the stored chain after `burn` stored rows.
function M.summarize(res, burn)
  burn = burn or 0
  local flat = res:flat{burn = burn}
  local cols = flat:T():totable()
  local out = {median = {}, p16 = {}, p84 = {}, map = {}, names = M.names}
  for j, name in ipairs(M.names) do
    local c = cols[j]
    table.sort(c)
    out.median[name] = quantile(c, 0.5)
    out.p16[name] = quantile(c, 0.16)
    out.p84[name] = quantile(c, 0.84)
  end
  local best, bi, bw = -math.huge, 1, 1
  local R, W = res.log_prob:shape()
  for i = burn + 1, R do
    for w = 1, W do
      local v = res.log_prob:get(i, w)
      if v > best then best, bi, bw = v, i, w end
    end
  end
  for j, name in ipairs(M.names) do out.map[name] = res.chain:get(bi, bw, j) end
  out.map_log_post = best
  return out
end

--- Fit: opts walkers (32), steps (20000), burn (steps // 4, in steps), thin (1),
-- seed (1), prior (a pf.priors product: use the Lua path) or prior_settings (numbers
-- of M.paper to change; the C path), checkpoint, progress.
function M.fit(pts, opts)
  check_points(pts, "fit")
  opts = opts or {}
  local W, steps = opts.walkers or 32, opts.steps or 20000
  local burn = opts.burn or steps // 4
  local seed = opts.seed or 1
  local prior, logpost
  if opts.prior then
    prior = opts.prior
    logpost = M.logpost_lua(pts, prior)
  else
    prior = M.priors(opts.prior_settings)
    logpost = M.model(pts, opts.prior_settings)
  end
  -- initial walkers: a small ball around a point of high prior mass that fits the data's
  -- normalisation, drawn from the prior and kept inside its support
  local rng = core.rng.new(core.rng.derive_seed(seed, 1))
  local p0 = opts.p0
  if not p0 then
    local start = opts.start or {30, 4, 1}
    p0 = core.array.zeros(W, 3)
    for w = 1, W do
      for j = 1, 3 do
        p0:set(w, j, start[j] * (1 + 0.01 * rng:normal()))
      end
    end
  end
  prior:check(p0)
  local res = mcmc.sample(logpost, p0, {walkers = W, steps = steps, burn = burn,
    thin = opts.thin or 1, seed = seed, checkpoint = opts.checkpoint, progress = opts.progress})
  local s = M.summarize(res, 0)
  s.result = res
  return s
end

return M

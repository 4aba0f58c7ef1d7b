-- pf.potnet: a smooth neural potential Phi_theta(x) (C core: include/phaseflow/potnet.h)
-- with exact gradient and Laplacian, the steady-state Boltzmann loss with its exact
-- parameter gradient, and files. docs/potential.md has the method.
--
--   local net = pf.potnet.new{hidden = 64, layers = 3, centre = {8.1, 0, 0.02}, scale = 3,
--                             zscale = 0.5, phi_scale = 1e4, activation = "silu" | "tanh",
--                             seed = 1}
--   local phi, grad, lap = net:eval(x)     -- x: N x 3 kpc; (km/s)^2, (km/s)^2/kpc, (km/s)^2/kpc^2
--   net:phi(x)  net:acceleration(x)  net:density(x)    -- the interface of pf.potential
--   local loss = net:loss_grad{x =, v =, gx =, gv =, w =, gphi_ext =, y =, lap_ext =,
--                              lambda =, tau =}        -- gradient in net:grad()
--   net:params()  net:set_params(p)  net:grad()        -- as a flow's, for Adam
--   net:save(file, group)  pf.potnet.load(file, group)
--
-- Units: a = -grad Phi in (km/s)^2/kpc; rho = lap Phi / (4 pi G) in Msun/kpc^3 with G of
-- pf.units (include/phaseflow/constants.h); reports convert with pf.units.rho_to_msun_pc3.
local core = require "phaseflow.core"
local h5 = require "phaseflow.h5"
local units = require "phaseflow.units"

local C = core.potnet
local methods = C.methods
local potnet = {}

local FORMAT = "phaseflow.potnet"
local FORMAT_VERSION = 1

--- new{hidden = 64, layers = 3, centre = {0, 0, 0}, scale = 1, zscale = scale,
--- phi_scale = 1e4, activation = "silu", seed = 1} -> a network of `layers` hidden layers
--- of width `hidden` on y = (x - centre)/scale (kpc; the third coordinate in units of
--- zscale), Phi = phi_scale * output ((km/s)^2), initialised as PyTorch's Linear from
--- `seed`. An error "pf.potnet.new: ..." names a bad option.
function potnet.new(opts)
  return C.new(opts)
end

--- True for a potential network (made by pf.potnet.new or pf.potnet.load).
function potnet.is_potnet(v)
  return C.is_potnet(v)
end

--- activation(name, a) -> sigma(a), sigma'(a), sigma''(a), sigma'''(a) for "silu" or "tanh"
--- (the kernels the network uses; for tests).
function potnet.activation(name, a)
  return C.activation(name, a)
end

--- net:phi(x) -> the potential ((km/s)^2) at the rows of x (N x 3, kpc), an N-array.
function methods:phi(x)
  return (self:eval(x))
end

--- net:acceleration(x) -> a = -grad Phi ((km/s)^2/kpc) at the rows of x (N x 3, kpc).
function methods:acceleration(x)
  local _, g = self:eval(x)
  return -g
end

--- net:density(x) -> rho = lap Phi / (4 pi G) (Msun/kpc^3; G of pf.units) at the rows of x
--- (N x 3, kpc). pf.units.rho_to_msun_pc3 converts for reports.
function methods:density(x)
  local _, _, lap = self:eval(x)
  return lap / (4 * math.pi * units.G)
end

local function check_group(fname, group, level)
  if type(group) ~= "string" or group:sub(1, 1) ~= "/" then
    error(("%s: group path must be absolute (start with '/'), got %s"):format(fname,
      type(group) == "string" and ("'" .. group .. "'") or type(group)), level + 1)
  end
end

--- net:save(file, group [, {history = h, provenance = {...}}]): the parameters as
--- group/params with the configuration as attributes (format "phaseflow.potnet", version,
--- hidden, layers, activation, centre, scale, phi_scale, seed, nparams), the group stamped
--- with pf.h5.provenance (and extra.provenance), and a fit's history (train and val losses
--- per epoch, best_epoch) when given.
function methods:save(file, group, extra)
  if type(file) ~= "string" then error("pf.potnet.save: file name (a string) expected", 2) end
  check_group("pf.potnet.save", group, 2)
  extra = extra or {}
  local cfg = self:config()
  local attrs = {format = FORMAT, version = FORMAT_VERSION, nparams = self:nparams()}
  for k, v in pairs(cfg) do attrs[k] = v end
  h5.write(file, group .. "/params", self:params(), attrs)
  local hist = extra.history
  if hist and hist.train and #hist.train > 0 then
    h5.write(file, group .. "/history/train", core.array.from(hist.train))
    h5.write(file, group .. "/history/val", core.array.from(hist.val),
      {best_epoch = hist.best_epoch})
  end
  local info = {}
  for k, v in pairs(extra.provenance or {}) do info[k] = v end
  h5.provenance(file, group, info)
  h5.set_attrs(file, group, {format = FORMAT, version = FORMAT_VERSION})
end

local LIMITS = {hidden = 4096, layers = 64}

--- load(file, group) -> the network saved by net:save at the absolute path `group`; an
--- error "pf.potnet.load: ..." for a missing group, another format or version, a bad
--- configuration, a wrong number of parameters or non-finite ones.
function potnet.load(file, group)
  if type(file) ~= "string" then error("pf.potnet.load: file name (a string) expected", 2) end
  check_group("pf.potnet.load", group, 2)
  local function fail(fmt, ...)
    error(("pf.potnet.load: '%s' in %s: " .. fmt):format(group, file, ...), 3)
  end
  if h5.exists(file, group .. "/params") ~= true then
    error(("pf.potnet.load: no potential network at '%s' in %s"):format(group, file), 2)
  end
  local p, a = h5.read(file, group .. "/params")
  if a.format ~= FORMAT then fail("holds '%s', not a %s", tostring(a.format), FORMAT) end
  if a.version ~= FORMAT_VERSION then
    fail("format version %s, this build reads %d", tostring(a.version), FORMAT_VERSION)
  end
  for k, hi in pairs(LIMITS) do
    if math.type(a[k]) ~= "integer" or a[k] < 1 or a[k] > hi then
      fail("attribute '%s' is %s, not an integer in 1..%d", k, tostring(a[k]), hi)
    end
  end
  -- (files from before zscale existed hold an isotropic network: zscale = scale)
  local cfg = {hidden = a.hidden, layers = a.layers, activation = a.activation, scale = a.scale,
    zscale = a.zscale, phi_scale = a.phi_scale, seed = math.type(a.seed) == "integer" and a.seed or nil}
  if type(a.centre) ~= "table" or #a.centre ~= 3 then fail("attribute 'centre' is not 3 numbers") end
  cfg.centre = a.centre
  local ok, net = pcall(C.new, cfg)
  if not ok then
    fail("its configuration is refused (%s)", tostring(net):gsub("^[^:]*:%d+: ", ""))
  end
  if p:ndim() ~= 1 or p:size() ~= net:nparams() then
    fail("holds %d parameters, its configuration needs %d", p:size(), net:nparams())
  end
  local finite = p:isfinite():sum()
  if finite < p:size() then fail("%d of its %d parameters are not finite", p:size() - finite, p:size()) end
  net:set_params(p)
  return net
end

return potnet

-- pf.potfit: one smooth potential fitted to the steady-state Boltzmann equation over all
-- samples at once (pf.potential_fit). docs/potential.md has the method.
--
--   local net, hist = pf.potential_fit{
--     samples = {x = x, v = v, gx = gx, gv = gv},   -- N x 3 each; gx, gv: grad ln f (flows)
--     y = points,                  -- M x 3 kpc where negative density is penalised (optional)
--     net = {hidden = 64, layers = 3, ...},          -- pf.potnet.new options
--     train = {lr = 1e-3, batch = 512, max_epochs = 500, patience = 40, val_fraction = 0.2,
--              seed = 1, lr_decay = 1, progress = false},
--     lambda = 1, tau = nil, a_scale = nil, weights = nil, gphi_ext = nil, lap_ext = nil}
--
-- The loss minimised (pf.potnet's, with lambda_C = lambda / tau so that it is dimensionless):
--   (1/n) sum_i w_i R_i^2 + lambda (1/m) sum_j softplus(-lap Phi(y_j) / tau),
--   R_i = -v_i . gx_i + (grad Phi(x_i) + gphi_ext_i) . gv_i.
-- Weights: w_i = 1 / (|v_i| |gx_i| + |gv_i| a_scale)^2, the inverse square of the size the
-- two terms of R_i have when the acceleration has the magnitude a_scale: each star's
-- residual is measured relative to its own scale (a fast star or one in a steep part of the
-- density does not dominate), and w R^2 is about the squared relative acceleration error
-- along the star's velocity. a_scale defaults to median(|v||gx|) / median(|gv|), which is
-- |grad Phi| for an isothermal-like f (gx = -grad Phi / s^2, gv = -v / s^2). `weights`
-- (an N-array) replaces them.
-- tau ((km/s)^2/kpc^2) is the width of the soft step of the penalty: by default 4 pi G times
-- 1e-3 Msun/pc^3, far below the densities near the Sun, so a correct positive density is
-- not pushed. Defaults of the net: centre = the mean of samples.x, scale = the largest
-- distance of a sample from it, phi_scale = a_scale * scale (grad Phi = a_scale at unit
-- output slope), seed = train.seed.
-- Training: Adam (core.train.adam) on shuffled mini-batches (core.train.batcher); the
-- samples and the points y are split into training and validation parts (val_fraction);
-- each epoch visits every training sample once and every training point y once, spread
-- over its steps; the validation loss (the same loss on the held-out parts) decides early
-- stopping (patience epochs without a better one) and the parameters kept (the best).
-- lr_decay multiplies the step size after every epoch. Deterministic for a seed.
-- history = {train = {...}, val = {...}, best_epoch, best_val, epochs, stopped_early,
--            a_scale, tau, lambda, n_train, n_val, m_train, m_val}
local core = require "phaseflow.core"
local strict = require "phaseflow.strict"
local units = require "phaseflow.units"
local potnet = require "phaseflow.potnet"
local array = core.array

local potfit = {}

local KNOWN = {samples = true, y = true, net = true, train = true, lambda = true, tau = true,
  a_scale = true, weights = true, gphi_ext = true, lap_ext = true}
local KNOWN_TRAIN = {lr = true, batch = true, max_epochs = true, patience = true,
  val_fraction = true, seed = true, lr_decay = true, progress = true}

local F = "pf.potential_fit"

local function fail(fmt, ...) error((F .. ": " .. fmt):format(...), 3) end

local function rows3(a, name, n)
  if not array.is_array(a) or a:ndim() ~= 2 or select(2, a:shape()) ~= 3
    or (n and a:shape() ~= n) then
    fail("%s must be an array of shape %sx3", name, n and tostring(n) or "N")
  end
  if a:isfinite():min() < 1 then fail("%s has a non-finite value", name) end
  return a:shape()
end

local function median(a)
  local s = a:sort()
  local n = s:size()
  return n % 2 == 1 and s:get((n + 1) // 2) or 0.5 * (s:get(n // 2) + s:get(n // 2 + 1))
end

--- default_weights(v, gx, gv [, a_scale]) -> w (N), a_scale: the residual weights of the
--- module comment, w = 1 / (|v||gx| + |gv| a_scale)^2, and the a_scale used
--- ((km/s)^2/kpc; by default median(|v||gx|) / median(|gv|)).
function potfit.default_weights(v, gx, gv, a_scale)
  local nv, ngx, ngv = v:square():sum(2):sqrt(), gx:square():sum(2):sqrt(), gv:square():sum(2):sqrt()
  local vgx = nv * ngx
  if a_scale == nil then
    local mg = median(ngv)
    a_scale = mg > 0 and median(vgx) / mg or 1
    if not (a_scale > 0 and a_scale < math.huge) then a_scale = 1 end
  end
  local den = vgx + ngv * a_scale
  local pos = den:gt(0)
  return pos / (den:square() + pos:lnot()), a_scale
end

-- Gather rows [i0, i1] of the current permutation of b from each array of t (1-D arrays
-- as columns).
local function gather(b, t, i0, i1)
  local out = {}
  for k, a in pairs(t) do
    if a:ndim() == 1 then
      out[k] = b:gather(a:reshape(a:size(), 1), i0, i1):reshape(i1 - i0 + 1)
    else
      out[k] = b:gather(a, i0, i1)
    end
  end
  return out
end

--- fit(opts) -> net, history: the fit of the module comment (also pf.potential_fit(opts)).
function potfit.fit(opts)
  if type(opts) ~= "table" then error(F .. ": option table expected", 2) end
  strict.options(opts, KNOWN, F)
  local s = opts.samples
  if type(s) ~= "table" then error(F .. ": option 'samples' = {x, v, gx, gv} expected", 2) end
  strict.options(s, {x = true, v = true, gx = true, gv = true}, F .. " samples")
  local n = rows3(s.x, "samples.x")
  for _, k in ipairs{"v", "gx", "gv"} do rows3(s[k], "samples." .. k, n) end
  if opts.gphi_ext ~= nil then rows3(opts.gphi_ext, "gphi_ext", n) end
  local m = 0
  if opts.y ~= nil then m = rows3(opts.y, "y") end
  if opts.lap_ext ~= nil then
    if opts.y == nil then error(F .. ": option 'lap_ext' given without 'y'", 2) end
    if not array.is_array(opts.lap_ext) or opts.lap_ext:ndim() ~= 1 or opts.lap_ext:size() ~= m then
      error((F .. ": lap_ext must be a 1-D array of %d values"):format(m), 2)
    end
  end
  local t = opts.train or {}
  strict.options(t, KNOWN_TRAIN, F .. " train")
  local seed = t.seed or 1
  local lr, bs = t.lr or 1e-3, t.batch or 512
  local max_epochs, patience = t.max_epochs or 500, t.patience or 40
  local frac, decay = t.val_fraction or 0.2, t.lr_decay or 1
  if not (frac > 0 and frac < 1) then error(F .. ": train.val_fraction must be in (0, 1)", 2) end
  if math.type(bs) ~= "integer" or bs < 1 then error(F .. ": train.batch must be an integer >= 1", 2) end
  if not (decay > 0 and decay <= 1) then error(F .. ": train.lr_decay must be in (0, 1]", 2) end
  local lambda = opts.lambda or 1
  local tau = opts.tau or 4 * math.pi * units.G * units.rho_from_msun_pc3(1e-3)
  if lambda ~= lambda or lambda < 0 then error(F .. ": lambda must be >= 0", 2) end
  if tau ~= tau or tau <= 0 then error(F .. ": tau must be > 0", 2) end

  local w, a_scale
  if opts.weights ~= nil then
    w = opts.weights
    if not array.is_array(w) or w:ndim() ~= 1 or w:size() ~= n or w:isfinite():min() < 1 or w:min() < 0 then
      error((F .. ": weights must be a 1-D array of %d finite values >= 0"):format(n), 2)
    end
    a_scale = opts.a_scale
  else
    w, a_scale = potfit.default_weights(s.v, s.gx, s.gv, opts.a_scale)
  end

  -- the network
  local nopts = {}
  for k, v in pairs(opts.net or {}) do nopts[k] = v end
  if nopts.centre == nil then nopts.centre = s.x:mean(1):totable() end
  local c = nopts.centre
  if nopts.scale == nil then
    local c3 = array.from{{c[1], c[2], c[3]}}
    nopts.scale = (s.x - array.ones(n, 1):matmul(c3)):square():sum(2):sqrt():max()
    if nopts.scale <= 0 then nopts.scale = 1 end
  end
  if nopts.phi_scale == nil then nopts.phi_scale = (a_scale or 1) * nopts.scale end
  if nopts.seed == nil then nopts.seed = seed end
  local net = potnet.new(nopts)

  -- training / validation split of the samples and of the points y
  local data = {x = s.x, v = s.v, gx = s.gx, gv = s.gv, w = w, gphi_ext = opts.gphi_ext}
  local nval = math.floor(n * frac)
  if nval < 1 or nval >= n then error(F .. ": too few samples for a validation split", 2) end
  local split = core.train.batcher(n, core.rng.derive_seed(seed, 0))
  split:shuffle()
  local val, tr = gather(split, data, 1, nval), gather(split, data, nval + 1, n)
  local ntr = n - nval
  local ytr, yval, mtr = nil, nil, 0
  if m > 0 then
    local ydata = {y = opts.y, lap_ext = opts.lap_ext}
    local mval = math.floor(m * frac)
    if m >= 2 and mval < 1 then mval = 1 end
    local ysplit = core.train.batcher(m, core.rng.derive_seed(seed, 2))
    ysplit:shuffle()
    if mval >= 1 and mval < m then
      yval, ytr = gather(ysplit, ydata, 1, mval), gather(ysplit, ydata, mval + 1, m)
    else
      yval, ytr = ydata, ydata
    end
    mtr = ytr.y:shape()
  end
  local lam_c = lambda / tau
  local function loss_of(d, yd)
    return net:loss_grad{x = d.x, v = d.v, gx = d.gx, gv = d.gv, w = d.w, gphi_ext = d.gphi_ext,
      y = yd and yd.y, lap_ext = yd and yd.lap_ext, lambda = lam_c, tau = tau}
  end

  local adam = core.train.adam(net:nparams(), {lr = lr})
  local batcher = core.train.batcher(ntr, core.rng.derive_seed(seed, 1))
  local ybatcher = mtr > 0 and core.train.batcher(mtr, core.rng.derive_seed(seed, 3)) or nil
  local p = net:params()
  local best = p:copy()
  local hist = {train = {}, val = {}, best_epoch = 0, best_val = math.huge, epochs = 0,
    a_scale = a_scale, tau = tau, lambda = lambda, n_train = ntr, n_val = nval, m_train = mtr,
    m_val = yval and yval.y:shape() or 0}
  local bar = t.progress and core.progress.new{total = max_epochs, label = "potential"} or nil
  local steps = (ntr + bs - 1) // bs
  local yb = mtr > 0 and (mtr + steps - 1) // steps or 0
  local epoch, stopped = 0, false
  while epoch < max_epochs and not stopped do
    epoch = epoch + 1
    batcher:shuffle()
    if ybatcher then ybatcher:shuffle() end
    local tot = 0
    for k = 1, steps do
      local i0, i1 = (k - 1) * bs + 1, math.min(k * bs, ntr)
      local yd
      if ybatcher then
        local j0, j1 = (k - 1) * yb + 1, math.min(k * yb, mtr)
        if j0 <= j1 then yd = gather(ybatcher, ytr, j0, j1) end
      end
      local loss = loss_of(gather(batcher, tr, i0, i1), yd)
      tot = tot + loss * (i1 - i0 + 1)
      adam:step(p, net:grad())
      net:set_params(p)
    end
    local vl = loss_of(val, yval)
    hist.train[epoch], hist.val[epoch] = tot / ntr, vl
    if not (vl == vl and math.abs(vl) < math.huge and tot == tot and math.abs(tot) < math.huge) then
      net:set_params(best)
      if bar then bar:finish("diverged") end
      error(("%s: the loss became %s (train) / %s (validation) at epoch %d; the network keeps "
        .. "the best parameters so far (epoch %d). A smaller lr may help."):format(F,
        tostring(tot / ntr), tostring(vl), epoch, hist.best_epoch), 2)
    end
    if vl < hist.best_val then
      hist.best_val, hist.best_epoch = vl, epoch
      best = p:copy()
    end
    if bar then
      bar:update(epoch, ("loss %.3g  val %.3g  best %.3g @%d"):format(hist.train[epoch], vl,
        hist.best_val, hist.best_epoch))
    end
    if epoch - hist.best_epoch >= patience then stopped = true end
    if decay < 1 then
      lr = lr * decay
      local m1, v1, st = adam:state()
      adam:free()
      adam = core.train.adam(net:nparams(), {lr = lr})
      adam:set_state(m1, v1, st)
    end
  end
  if bar then bar:finish(("best val %.3g @%d"):format(hist.best_val, hist.best_epoch)) end
  hist.epochs, hist.stopped_early = epoch, stopped
  net:set_params(best)
  return net, hist
end

return potfit

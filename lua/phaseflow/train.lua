-- pf.train(flow, x, opts) -> history: Adam on the flow's flat parameter vector with
-- seeded shuffled mini-batches (shuffle and gather in C), a validation set, early
-- stopping that keeps the best-validation parameters, and resumable checkpoints.
--
-- Data are checked first (shapes, finite values, nonzero density under the flow's
-- preprocessing: an error names the row); a run whose loss stops being finite ends with an
-- error and the best parameters so far in the flow.
--
-- opts: context, x_val, context_val, val_fraction (0.2), batch (1024), lr (1e-3),
--       beta1, beta2, eps, weight_decay, patience (50), max_epochs (1000), seed (1),
--       progress (false), checkpoint (file), checkpoint_every (K epochs)
-- history = {train = {...}, val = {...}, best_epoch = e, best_val = v, epochs = n}
local core = require "phaseflow.core"
local strict = require "phaseflow.strict"
local h5 = require "phaseflow.h5"
local fs = require "phaseflow.fs"
local serialize = require "phaseflow.serialize"
local array = core.array

local ALLOWED = {context = 1, x_val = 1, context_val = 1, val_fraction = 1, batch = 1, lr = 1,
  beta1 = 1, beta2 = 1, eps = 1, weight_decay = 1, patience = 1, max_epochs = 1, seed = 1,
  progress = 1, checkpoint = 1, checkpoint_every = 1, stop_after = 1}

--- mean_nll(flow, x [, c]) -> the mean negative log-likelihood of the rows of x.
local function mean_nll(flow, x, c)
  local lp = flow:log_prob(x, c)
  return -lp:sum() / lp:size()
end

-- The first row of a (N x d) for which ok (an N-vector of 0/1) is 0.
local function first_bad(ok)
  for i = 1, ok:size() do
    if ok:get(i) < 1 then return i end
  end
end

-- Data the flow cannot learn from fail here, naming the row, instead of turning the loss
-- into NaN or infinity: non-finite values, wrong shapes, and rows the flow gives zero
-- density (outside the survey sphere of its preprocessing).
local function check_data(flow, name, a, cname, c, dim, cdim)
  if a == nil then return end
  if a:ndim() ~= 2 or select(2, a:shape()) ~= dim then
    error(("pf.train: %s must be an N x %d array, got %s"):format(name, dim,
      table.concat({a:shape()}, " x ")), 4)
  end
  local n = a:shape()
  if c ~= nil and (c:ndim() ~= 2 or c:shape() ~= n or select(2, c:shape()) ~= cdim) then
    error(("pf.train: %s must be a %d x %d array, got %s"):format(cname, n, cdim,
      table.concat({c:shape()}, " x ")), 4)
  end
  for _, t in ipairs{{name, a}, {cname, c}} do
    if t[2] ~= nil and t[2]:isfinite():min() < 1 then
      local i = first_bad(t[2]:isfinite():min(2))
      local row = {}
      for j = 1, select(2, t[2]:shape()) do row[j] = ("%g"):format(t[2]:get(i, j)) end
      error(("pf.train: row %d of %s is not finite (%s)"):format(i, t[1], table.concat(row, ", ")), 4)
    end
  end
  local lp = flow:log_prob(a, c)
  if lp:min() == -math.huge then
    local i = first_bad(lp:isfinite())
    error(("pf.train: row %d of %s has zero density under the flow's preprocessing "
      .. "(outside its survey sphere?)"):format(i, name), 4)
  end
end

-- The checkpoint file is the checkpoint's own: written whole as FILE.part and renamed, so
-- a kill during the write leaves the previous checkpoint, never half of one.
local function write_checkpoint(file, st)
  local g = "/checkpoint"
  fs.replace(file, function(part)
    h5.write(part, g .. "/params", st.params, {epoch = st.epoch, best_epoch = st.best_epoch,
      best_val = st.best_val, step = st.step, run_key = st.run_key})
    h5.write(part, g .. "/best", st.best)
    h5.write(part, g .. "/m", st.m)
    h5.write(part, g .. "/v", st.v)
    h5.write_bytes(part, g .. "/rng", st.rng)
    if #st.train > 0 then
      h5.write(part, g .. "/train", array.from(st.train))
      h5.write(part, g .. "/val", array.from(st.val))
    end
  end)
end

-- Read and check the checkpoint in `file` for a flow of np parameters, and set the
-- generator state of `batcher` from it (which checks that state). A kill cannot leave half
-- a checkpoint (see above), so anything that does not fit -- a missing object, another
-- flow's shapes, non-finite values, counts that disagree -- is damage or another run's
-- file: refused with an error naming the file, never resumed from (NaN parameters would
-- train on silently to a NaN loss).
local function read_checkpoint(file, np, batcher, run_key)
  local g = "/checkpoint"
  local function refuse(fmt, ...)
    error(("pf.train: checkpoint %s: " .. fmt .. " (not this run's checkpoint, or damaged; "
      .. "remove it to start again)"):format(file, ...), 0)
  end
  local function dataset(name)
    if h5.exists(file, g .. "/" .. name) ~= true then refuse("no dataset %s/%s", g, name) end
    return h5.read(file, g .. "/" .. name)
  end
  -- a 1-D float64 vector of n finite values
  local function vector(name, n)
    local a, attrs = dataset(name)
    local shape = table.concat({a:shape()}, " x ")
    if a:ndim() ~= 1 or a:size() ~= n then refuse("%s has shape %s, expected %d", name, shape, n) end
    if a:size() > 0 and a:isfinite():min() < 1 then
      local i = first_bad(a:isfinite())
      refuse("%s[%d] is %s", name, i, tostring(a:get(i)))
    end
    return a, attrs
  end
  local p, a = vector("params", np)
  -- made by this run: the same options and data (max_epochs and patience may change)
  if a.run_key ~= run_key then
    refuse("it was made by a run with other options or data (its key %s, this run's %s)",
      tostring(a.run_key), run_key)
  end
  local function count(key, min)
    local v = a[key]
    if math.type(v) ~= "integer" or v < min then
      refuse("attribute %s of %s/params is %s, expected an integer >= %d", key, g,
        type(v) == "string" and ("'" .. v .. "'") or tostring(v), min)
    end
    return v
  end
  local epoch, step = count("epoch", 0), count("step", 0)
  local best_epoch = count("best_epoch", epoch > 0 and 1 or 0)
  if best_epoch > epoch then refuse("best_epoch %d is after epoch %d", best_epoch, epoch) end
  local best_val = a.best_val
  if math.type(best_val) == "integer" then best_val = best_val + 0.0 end
  -- before the first epoch there is no best loss (math.huge), after it a finite one
  local finite = math.type(best_val) == "float" and math.abs(best_val) < math.huge
  if math.type(best_val) ~= "float" or (epoch > 0 and not finite)
    or (epoch == 0 and best_val ~= math.huge) then
    refuse("attribute best_val of %s/params is %s, expected %s", g,
      type(best_val) == "string" and ("'" .. best_val .. "'") or tostring(best_val),
      epoch > 0 and "a finite number" or "inf before the first epoch")
  end
  local st = {params = p, epoch = epoch, best_epoch = best_epoch, best_val = best_val,
    step = step, best = vector("best", np), m = vector("m", np), v = vector("v", np),
    train = {}, val = {}}
  if st.v:min() < 0 then
    local i = first_bad(st.v:ge(0))
    refuse("v[%d] (Adam's second moment) is negative: %s", i, tostring(st.v:get(i)))
  end
  if h5.exists(file, g .. "/rng") ~= true then refuse("no dataset %s/rng", g) end
  st.rng = h5.read_bytes(file, g .. "/rng")
  local rng_size = #batcher:rng_state()
  if #st.rng ~= rng_size then
    refuse("the generator state has %d bytes, expected %d", #st.rng, rng_size)
  end
  local ok, why = pcall(batcher.set_rng_state, batcher, st.rng)
  if not ok then refuse("%s", tostring(why):match("%((.*)%)$") or tostring(why)) end
  if epoch > 0 then
    -- the losses of every epoch so far, the best one among them
    st.train = vector("train", epoch):totable()
    st.val = vector("val", epoch):totable()
    if st.val[best_epoch] ~= best_val then
      refuse("best_val %s is not the validation loss of best_epoch %d (%s)", tostring(best_val),
        best_epoch, tostring(st.val[best_epoch]))
    end
  elseif h5.exists(file, g .. "/train") or h5.exists(file, g .. "/val") then
    refuse("loss histories at epoch 0")
  end
  return st
end

--- train(flow, x, opts) -> history: the training of the module comment (also pf.train(...)).
local function train(flow, x, opts)
  opts = opts or {}
  strict.options(opts, ALLOWED, "pf.train")
  local cfg = flow:config()
  local c = opts.context
  if cfg.context > 0 and c == nil then error("pf.train: the flow needs option 'context'", 2) end
  if cfg.context == 0 and c ~= nil then error("pf.train: the flow takes no context", 2) end
  check_data(flow, "x", x, "context", c, cfg.dim, cfg.context)
  if opts.x_val ~= nil then
    if cfg.context > 0 and opts.context_val == nil then
      error("pf.train: x_val needs context_val", 2)
    end
    check_data(flow, "x_val", opts.x_val, "context_val", opts.context_val, cfg.dim, cfg.context)
  end
  local n = x:shape()
  local seed = opts.seed or 1
  local xtr, ctr, xval, cval = x, c, opts.x_val, opts.context_val
  if xval == nil then
    local frac = opts.val_fraction or 0.2
    if not (frac > 0 and frac < 1) then error("pf.train: val_fraction must be in (0, 1)", 2) end
    local nval = math.floor(n * frac)
    if nval < 1 or nval >= n then error("pf.train: too few rows for a validation split", 2) end
    local split = core.train.batcher(n, core.rng.derive_seed(seed, 0))
    split:shuffle()
    xval, xtr = split:gather(x, 1, nval), split:gather(x, nval + 1, n)
    if c then cval, ctr = split:gather(c, 1, nval), split:gather(c, nval + 1, n) end
  end
  local ntr = xtr:shape()
  local bs = opts.batch or 1024
  local patience = opts.patience or 50
  local max_epochs = opts.max_epochs or 1000
  local adam = core.train.adam(flow:nparams(), {lr = opts.lr or 1e-3, beta1 = opts.beta1,
    beta2 = opts.beta2, eps = opts.eps, weight_decay = opts.weight_decay})
  local batcher = core.train.batcher(ntr, core.rng.derive_seed(seed, 1))
  local p = flow:params()
  local hist = {train = {}, val = {}, best_epoch = 0, best_val = math.huge, epochs = 0}
  local best = p:copy()
  local epoch0 = 0
  local ck = opts.checkpoint
  -- what a checkpoint must have been made by: this flow's architecture, the options that
  -- shape the training, and the data (row counts and sums: any changed value moves them)
  local function sums(a) return a and ("%d %a %a"):format((a:shape()), a:sum(), a:square():sum()) or "-" end
  local run_key = ck and serialize.hash{flow = cfg, seed = seed, batch = bs, lr = opts.lr, beta1 = opts.beta1,
    beta2 = opts.beta2, eps = opts.eps, weight_decay = opts.weight_decay, val_fraction = opts.val_fraction,
    x = sums(xtr), c = sums(ctr), x_val = sums(xval), c_val = sums(cval)}
  -- a file without the group is no checkpoint yet; one with it must be whole
  if ck and h5.exists(ck, "/checkpoint") == true then
    local st = read_checkpoint(ck, flow:nparams(), batcher, run_key)
    p = st.params
    flow:set_params(p)
    best = st.best
    adam:set_state(st.m, st.v, st.step)
    hist.train, hist.val = st.train, st.val
    hist.best_epoch, hist.best_val = st.best_epoch, st.best_val
    epoch0 = st.epoch
  end
  local bar = opts.progress and core.progress and core.progress.new and
    core.progress.new{total = max_epochs, label = "train"} or nil
  local stopped = false
  local epoch = epoch0
  while epoch < max_epochs and not stopped do
    epoch = epoch + 1
    batcher:shuffle()
    local tot = 0
    for i0 = 1, ntr, bs do
      local i1 = math.min(i0 + bs - 1, ntr)
      local xb = batcher:gather(xtr, i0, i1)
      local cb = ctr and batcher:gather(ctr, i0, i1) or nil
      local loss = flow:nll_grad(xb, cb)
      tot = tot + loss * (i1 - i0 + 1)
      adam:step(p, flow:grad())
      flow:set_params(p)
    end
    local vl = mean_nll(flow, xval, cval)
    hist.train[epoch] = tot / ntr
    hist.val[epoch] = vl
    if not (tot == tot and vl == vl and math.abs(tot) < math.huge and math.abs(vl) < math.huge) then
      -- diverged (the data were checked): keep what was learned, and say so
      flow:set_params(best)
      if bar then bar:finish("diverged") end
      error(("pf.train: the loss became %s (train) / %s (validation) at epoch %d; the flow "
        .. "keeps the best parameters so far (epoch %d). A smaller lr may help."):format(
        tostring(tot / ntr), tostring(vl), epoch, hist.best_epoch), 2)
    end
    if vl < hist.best_val then
      hist.best_val, hist.best_epoch = vl, epoch
      best = p:copy()
    end
    if bar then
      bar:update(epoch, ("loss %.4f  val %.4f  best %.4f @%d"):format(hist.train[epoch], vl,
        hist.best_val, hist.best_epoch))
    end
    if epoch - hist.best_epoch >= patience then stopped = true end
    if ck and opts.checkpoint_every and epoch % opts.checkpoint_every == 0 then
      local m, v, step = adam:state()
      write_checkpoint(ck, {params = p, epoch = epoch, best_epoch = hist.best_epoch,
        best_val = hist.best_val, step = step, best = best, m = m, v = v,
        rng = batcher:rng_state(), train = hist.train, val = hist.val, run_key = run_key})
    end
    if opts.stop_after and epoch >= opts.stop_after then break end
  end
  if bar then
    bar:finish(("best val %.4f @%d%s"):format(hist.best_val, hist.best_epoch,
      stopped and ", stopped early" or ""))
  end
  hist.epochs = epoch
  hist.stopped_early = stopped
  flow:set_params(best)
  return hist
end

return setmetatable({train = train, mean_nll = mean_nll}, {
  __call = function(_, ...) return train(...) end})

local pf = require "phaseflow"
local core = pf.core

describe("pf.train", function()
  it("Adam: one step equals a hand computation", function()
    local opt = core.train.adam(2, {lr = 0.01, beta1 = 0.8, beta2 = 0.95, eps = 1e-6,
                                    weight_decay = 0.1})
    local p = pf.array.from{2.385, -1.5}
    local g = pf.array.from{0.3, -0.7}
    opt:step(p, g)
    for k, p0 in ipairs{2.385, -1.5} do
      local gk = g:get(k) + 0.1 * p0
      local m = 0.2 * gk / (1 - 0.8)
      local v = 0.05 * gk * gk / (1 - 0.95)
      assert.is_true(math.abs(p:get(k) - (p0 - 0.01 * m / (math.sqrt(v) + 1e-6))) < 1e-15)
    end
    local m, v, step = opt:state()
    assert.are.equal(1, step)
    assert.is_true(math.abs(m:get(1) - 0.2 * (0.3 + 0.2385)) < 1e-15)
    assert.is_true(v:get(2) > 0)
    assert.has_error(function() core.train.adam(2, {lr = -1}) end)
    assert.has_error(function() opt:step(pf.array.zeros(3), g) end)
  end)

  local function data(n, seed)
    local x = pf.array.zeros(n, 2)
    pf.rng.new(seed):fill_normal(x)
    x:col(2):assign(x:col(2):mul(0.5):add(x:col(1):square():mul(0.5)))
    return x
  end

  it("stops patience epochs after the best epoch and keeps the best parameters", function()
    local f = pf.flow.maf{dim = 2, transforms = 2, hidden = 8, blocks = 1, seed = 1}
    local x = data(600, 2)
    local h = pf.train(f, x, {batch = 64, lr = 0.03, patience = 3, max_epochs = 200, seed = 2})
    assert.is_true(h.stopped_early)
    assert.are.equal(h.best_epoch + 3, h.epochs)
    assert.are.equal(h.epochs, #h.val)
    for e = 1, h.epochs do assert.is_true(h.val[e] >= h.best_val) end
    -- the flow holds the best parameters: recompute the validation loss the same way
    local split = core.train.batcher(600, pf.rng.derive_seed(2, 0))
    split:shuffle()
    local xval = split:gather(x, 1, 120)
    assert.is_true(math.abs(-f:log_prob(xval):mean() - h.best_val) < 1e-12)
    assert.is_true(h.best_val < h.val[1])
  end)

  it("progress = true reports epochs, losses and the best epoch", function()
    local support = require "support"
    local script = [[
      local pf = require "phaseflow"
      local f = pf.flow.maf{dim = 2, transforms = 1, hidden = 4, blocks = 0, seed = 1}
      local x = pf.array.zeros(200, 2); pf.rng.new(1):fill_normal(x)
      local h = pf.train(f, x, {max_epochs = 3, batch = 50, progress = true, seed = 1})
      print(("best %.4f @%d"):format(h.best_val, h.best_epoch))
    ]]
    local out, rc = support.phaseflow({"-e", script})
    assert.are.equal(0, rc, out)
    local best, at = out:match("best (%S+) @(%d+)\n")
    assert.is_truthy(best, out)
    assert.is_truthy(out:find("train  3/3 100%", 1, true), out)
    assert.is_truthy(out:find(("best val %s @%s"):format(best, at), 1, true), out)
  end)

  it("refuses data it cannot learn from, naming the row, and stops a diverging run", function()
    local f = pf.flow.maf{dim = 3, seed = 1, transforms = 1, hidden = 4, blocks = 0,
                          preprocess = {input = {sphere = true, centre = {0, 0, 0}, radius = 3}}}
    local x = pf.array.zeros(300, 3)
    pf.rng.new(1):fill_normal(x, 0, 0.5)
    local bad = x:copy()
    bad:set(20, 2, 0 / 0)
    assert.has_error(function() pf.train(f, bad, {max_epochs = 2}) end,
                     "pf.train: row 20 of x is not finite (" .. ("%g"):format(x:get(20, 1))
                     .. ", " .. ("%g"):format(0 / 0) .. ", " .. ("%g"):format(x:get(20, 3)) .. ")")
    local out = x:copy()
    out:set(7, 1, 3.5) -- outside the 3 kpc sphere: zero density
    assert.has_error(function() pf.train(f, out, {max_epochs = 2}) end,
      "pf.train: row 7 of x has zero density under the flow's preprocessing (outside its survey sphere?)")
    assert.has_error(function() pf.train(f, pf.array.zeros(300, 2), {max_epochs = 2}) end,
                     "pf.train: x must be an N x 3 array, got 300 x 2")
    assert.has_error(function() pf.train(f, x, {context = x, max_epochs = 2}) end,
                     "pf.train: the flow takes no context")
    local c = pf.flow.maf{dim = 3, context = 2, seed = 1, transforms = 1, hidden = 4, blocks = 0}
    assert.has_error(function() pf.train(c, x, {context = pf.array.zeros(299, 2)}) end,
                     "pf.train: context must be a 300 x 2 array, got 299 x 2")
    -- divergence: the error says where, and the flow keeps its best (here: initial) parameters
    local g = pf.flow.maf{dim = 3, seed = 1}
    local p0 = g:params()
    local ok, msg = pcall(pf.train, g, x, {max_epochs = 20, lr = 1e3, batch = 100})
    assert.is_false(ok)
    assert.is_truthy(msg:find("pf.train: the loss became", 1, true), msg)
    assert.is_truthy(msg:find("keeps the best parameters so far (epoch 0)", 1, true), msg)
    assert.are.equal(0, (g:params() - p0):abs():max())
  end)

  it("same seed gives bit-identical parameters", function()
    local x = data(500, 3)
    local a = pf.flow.maf{dim = 2, transforms = 2, hidden = 8, seed = 4}
    local b = pf.flow.maf{dim = 2, transforms = 2, hidden = 8, seed = 4}
    pf.train(a, x, {batch = 100, max_epochs = 3, seed = 9})
    pf.train(b, x, {batch = 100, max_epochs = 3, seed = 9})
    assert.are.equal(0, (a:params() - b:params()):abs():max())
  end)

  it("a run resumed from a checkpoint ends with the same parameters", function()
    local x = data(500, 5)
    local file = os.tmpname() .. ".h5"
    local opts = {batch = 100, max_epochs = 6, patience = 100, seed = 3, lr = 0.01}
    local a = pf.flow.maf{dim = 2, transforms = 2, hidden = 8, seed = 4}
    local ha = pf.train(a, x, opts)
    local b = pf.flow.maf{dim = 2, transforms = 2, hidden = 8, seed = 4}
    local o2 = {checkpoint = file, checkpoint_every = 1, stop_after = 3}
    for k, v in pairs(opts) do o2[k] = v end
    pf.train(b, x, o2)  -- "killed" after epoch 3
    local c = pf.flow.maf{dim = 2, transforms = 2, hidden = 8, seed = 77}
    o2.stop_after = nil
    local hc = pf.train(c, x, o2)
    assert.are.equal(0, (a:params() - c:params()):abs():max())
    assert.are.equal(ha.val[6], hc.val[6])
    os.remove(file)
  end)

  it("conditional flows train and reject a missing context", function()
    local f = pf.flow.maf{dim = 1, context = 1, transforms = 2, hidden = 8, seed = 1}
    assert.has_error(function() pf.train(f, pf.array.zeros(10, 1), {}) end)
    assert.has_error(function() pf.train(f, pf.array.zeros(10, 1), {bacth = 3}) end)
  end)

  it("learns a conditional Gaussian v ~ N(A x + b, Sigma(x)) to within 0.05 nats #long", function()
    -- Sigma(x) = L L^T with L = [[s1, 0, 0], [0.3 s2, s2, 0], [0, 0.25, s3]], s_j = exp(0.3 x_j)
    local A = {{0.8, -0.3, 0.1}, {0.2, 0.5, -0.4}, {-0.6, 0.1, 0.3}}
    local b = {1.5, -0.7, 0.25}
    local rng = pf.rng.new(21)
    local function draw(m)
      local x = pf.array.zeros(m, 3); rng:fill_normal(x)
      local z = pf.array.zeros(m, 3); rng:fill_normal(z)
      local v = pf.array.zeros(m, 3)
      local lp = pf.array.zeros(m)
      for i = 1, m do
        local xi = {x:get(i, 1), x:get(i, 2), x:get(i, 3)}
        local s = {math.exp(0.3 * xi[1]), math.exp(0.3 * xi[2]), math.exp(0.3 * xi[3])}
        local mu = {}
        for r = 1, 3 do
          mu[r] = b[r] + A[r][1] * xi[1] + A[r][2] * xi[2] + A[r][3] * xi[3]
        end
        local z1, z2, z3 = z:get(i, 1), z:get(i, 2), z:get(i, 3)
        v:set(i, 1, mu[1] + s[1] * z1)
        v:set(i, 2, mu[2] + 0.3 * s[2] * z1 + s[2] * z2)
        v:set(i, 3, mu[3] + 0.25 * z2 + s[3] * z3)
        lp:set(i, -0.5 * (z1 * z1 + z2 * z2 + z3 * z3) - math.log(s[1] * s[2] * s[3])
          - 1.5 * math.log(2 * math.pi))
      end
      return x, v, lp
    end
    local x, v = draw(50000)
    local xt, vt, lpt = draw(20000)
    local f = pf.flow.maf{dim = 3, context = 3, transforms = 5, hidden = 32, blocks = 2, seed = 2}
    pf.train(f, v, {context = x, batch = 512, lr = 2e-3, patience = 10, max_epochs = 60,
      seed = 2})
    local gap = -f:log_prob(vt, xt):mean() + lpt:mean()
    print(("conditional gap %.4f nats"):format(gap))
    assert.is_true(gap < 0.05 and gap > -0.02)
  end)

  it("learns a correlated 3-D Gaussian mixture to within 0.05 nats #long", function()
    local n = 50000
    local rng = pf.rng.new(11)
    local function draw(m)
      local z = pf.array.zeros(m, 3); rng:fill_normal(z)
      local x = pf.array.zeros(m, 3)
      local lp = pf.array.zeros(m)
      for i = 1, m do
        local k = (i % 2 == 0) and 1 or -1
        local a, b, c = z:get(i, 1), z:get(i, 2), z:get(i, 3)
        x:set(i, 1, 1.5 * k + a); x:set(i, 2, 0.8 * a + 0.6 * b); x:set(i, 3, 0.5 * c - k)
      end
      -- true log density of the equal mixture
      local L = {{1, 0, 0}, {0.8, 0.6, 0}, {0, 0, 0.5}}
      local logdet = math.log(1 * 0.6 * 0.5)
      for i = 1, m do
        local s = 0
        for _, k in ipairs{1, -1} do
          local d1 = x:get(i, 1) - 1.5 * k
          local d2 = x:get(i, 2)
          local d3 = x:get(i, 3) + k
          local u1 = d1 / L[1][1]
          local u2 = (d2 - L[2][1] * u1) / L[2][2]
          local u3 = d3 / L[3][3]
          s = s + 0.5 * math.exp(-0.5 * (u1 * u1 + u2 * u2 + u3 * u3) - logdet - 1.5 * math.log(2 * math.pi))
        end
        lp:set(i, math.log(s))
      end
      return x, lp
    end
    local x = draw(n)
    local xt, lpt = draw(20000)
    local f = pf.flow.maf{dim = 3, transforms = 5, hidden = 32, blocks = 2, seed = 1}
    pf.train(f, x, {batch = 512, lr = 2e-3, patience = 10, max_epochs = 60, seed = 1})
    local gap = -f:log_prob(xt):mean() + lpt:mean()
    print(("mixture gap %.4f nats"):format(gap))
    assert.is_true(gap < 0.05 and gap > -0.02)
  end)
end)

-- The checkpoint loader (read_checkpoint in train.lua) against what tests/fuzz/fuzz_ckpt.lua
-- found: each damaged or foreign checkpoint is refused with an error naming the file and
-- the problem, never resumed from and never a Lua runtime or argument error.
describe("pf.train checkpoints, damaged or another run's", function()
  local CK = "/checkpoint"
  local function data(n, seed)
    local x = pf.array.zeros(n, 2)
    pf.rng.new(seed):fill_normal(x)
    return x
  end
  local x = data(60, 1)
  local opts = {batch = 16, max_epochs = 4, patience = 100, seed = 1}
  local function flow() return pf.flow.maf{dim = 2, transforms = 1, hidden = 4, blocks = 1, seed = 2} end
  local function run(file, o)
    local t = {checkpoint = file}
    for k, v in pairs(opts) do t[k] = v end
    for k, v in pairs(o or {}) do t[k] = v end
    return pf.train(flow(), x, t)
  end
  -- a valid checkpoint after 2 epochs
  local function checkpoint()
    local file = os.tmpname() .. ".h5"
    run(file, {checkpoint_every = 1, stop_after = 2})
    return file
  end
  -- resuming from `file` fails with an error that names it and matches `why`
  local function refused(file, why)
    local ok, err = pcall(run, file)
    os.remove(file)
    assert.is_false(ok, "resumed from a damaged checkpoint")
    assert.is_string(err)
    assert.is_truthy(err:find("pf.train: checkpoint " .. file .. ": ", 1, true), err)
    assert.matches(why, err)
    assert.is_falsy(err:find("attempt to", 1, true), err)
    assert.is_falsy(err:find("bad argument", 1, true), err)
  end
  local function rewrite(name, fn)
    local file = checkpoint()
    local a, attrs = pf.h5.read(file, CK .. "/" .. name)
    local b = fn(a:copy(), attrs)
    pf.h5.write(file, CK .. "/" .. name, b)
    pf.h5.set_attrs(file, CK .. "/" .. name, attrs)
    return file
  end

  it("resumes from an undamaged one", function()
    local file = checkpoint()
    local h = run(file)
    os.remove(file)
    assert.are.equal(4, h.epochs)
  end)

  it("refuses a missing or non-integer attribute (epoch, step, best_epoch, best_val)", function()
    for _, case in ipairs{{"epoch", nil, "attribute epoch of /checkpoint/params is nil"},
      {"epoch", {1, 2}, "attribute epoch .* is table"},
      {"epoch", -1, "attribute epoch .* is %-1, expected an integer >= 0"},
      {"step", "4", "attribute step .* is '4'"},
      {"step", 2.5, "attribute step .* is 2.5"},
      {"best_epoch", 0, "attribute best_epoch .* is 0, expected an integer >= 1"},
      {"best_val", "x", "attribute best_val .* is 'x'"},
      {"best_val", 0 / 0, "attribute best_val .* expected a finite number"}} do
      local file = checkpoint()
      if case[2] == nil then
        -- no attribute: write params again with the others only
        local p, attrs = pf.h5.read(file, CK .. "/params")
        attrs[case[1]] = nil
        pf.h5.write(file, CK .. "/params", p, attrs)
      else
        pf.h5.set_attrs(file, CK .. "/params", {[case[1]] = case[2]})
      end
      refused(file, case[3])
    end
  end)

  it("refuses NaN or infinite parameters, moments and losses", function()
    for _, name in ipairs{"params", "best", "m", "v", "train", "val"} do
      refused(rewrite(name, function(a) a:set(2, name == "v" and math.huge or 0 / 0); return a end),
        name .. "%[2%] is %-?[ni][an][nf]")
    end
  end)

  it("refuses a negative second moment (its square root would be NaN)", function()
    refused(rewrite("v", function(a) a:set(3, -1e-3); return a end),
      "v%[3%] %(Adam's second moment%) is negative")
  end)

  it("refuses another flow's shapes: a longer, shorter, 2-D or empty vector", function()
    refused(rewrite("params", function(a) return pf.array.zeros(a:size() + 1) end),
      "params has shape %d+, expected %d+")
    refused(rewrite("m", function() return pf.array.zeros(0) end), "m has shape 0, expected")
    refused(rewrite("best", function(a) return a:reshape(1, a:size()) end), "best has shape 1 x ")
    refused(rewrite("train", function() return pf.array.zeros(1) end),
      "train has shape 1, expected 2")
  end)

  it("refuses counts that disagree: best_epoch after epoch, best_val not the best epoch's", function()
    local file = checkpoint()
    pf.h5.set_attrs(file, CK .. "/params", {best_epoch = 3})
    refused(file, "best_epoch 3 is after epoch 2")
    file = checkpoint()
    pf.h5.set_attrs(file, CK .. "/params", {best_val = 12.5})
    refused(file, "best_val 12.5 is not the validation loss of best_epoch")
    file = checkpoint()
    pf.h5.set_attrs(file, CK .. "/params", {epoch = 3})
    refused(file, "train has shape 2, expected 3")
    file = checkpoint()
    pf.h5.set_attrs(file, CK .. "/params", {epoch = 0, best_epoch = 0, best_val = math.huge})
    refused(file, "loss histories at epoch 0")
  end)

  it("refuses a checkpoint of a run with other options or data; max_epochs and patience may change", function()
    local function refused_by(o, xs)
      local file = checkpoint()
      local t = {checkpoint = file}
      for k, v in pairs(opts) do t[k] = v end
      for k, v in pairs(o) do t[k] = v end
      local ok, err = pcall(pf.train, flow(), xs or x, t)
      os.remove(file)
      assert.is_false(ok, "resumed from another run's checkpoint")
      assert.is_truthy(tostring(err):find("pf.train: checkpoint " .. file .. ": it was made by a run with "
        .. "other options or data", 1, true), err)
    end
    refused_by({lr = 3e-3})
    refused_by({seed = 2})
    refused_by({batch = 32})
    local x2 = x:copy()
    x2:set(17, 2, x2:get(17, 2) + 1e-9)  -- one star moved
    refused_by({}, x2)
    -- a longer run of the same training resumes
    local file = checkpoint()
    local h = run(file, {max_epochs = 6, patience = 50})
    os.remove(file)
    assert.are.equal(6, h.epochs)
    -- a checkpoint without the key (another run's, or an older phaseflow's)
    file = checkpoint()
    local p, attrs = pf.h5.read(file, CK .. "/params")
    attrs.run_key = nil
    pf.h5.write(file, CK .. "/params", p, attrs)
    refused(file, "it was made by a run with other options or data %(its key nil")
  end)

  it("refuses a checkpoint group without its parameters instead of starting again", function()
    local file = checkpoint()
    pf.h5.delete(file, CK .. "/params")
    refused(file, "no dataset /checkpoint/params")
    file = checkpoint()
    pf.h5.delete(file, CK .. "/rng")
    refused(file, "no dataset /checkpoint/rng")
  end)

  it("refuses a generator state of the wrong size or that is not MT19937's", function()
    local file = checkpoint()
    local s = pf.h5.read_bytes(file, CK .. "/rng")
    pf.h5.write_bytes(file, CK .. "/rng", s:sub(1, -2))
    refused(file, "the generator state has 4999 bytes, expected 5000")
    -- the position in the table (an int after 624 64-bit words): negative, or past it
    for _, pos in ipairs{-1000, 625} do
      file = checkpoint()
      pf.h5.write_bytes(file, CK .. "/rng", s:sub(1, 4992) .. string.pack("<i4", pos) .. s:sub(4997))
      local shown = tostring(pos):gsub("%-", "%%-")
      refused(file, "generator state with position " .. shown .. " outside 0%.%.624 is not MT19937")
    end
    file = checkpoint()
    pf.h5.write_bytes(file, CK .. "/rng", s:sub(1, 8) .. string.pack("<i8", -1) .. s:sub(17))
    refused(file, "generator state with word 2 above 32 bits is not MT19937")
    file = checkpoint()
    pf.h5.write_bytes(file, CK .. "/rng", ("\0"):rep(4992) .. s:sub(4993))
    refused(file, "generator state all zero is not MT19937")
  end)
end)

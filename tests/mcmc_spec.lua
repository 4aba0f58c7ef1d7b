-- pf.mcmc: the stretch-move ensemble sampler, autocorrelation time, checkpoints.
local pf = require "phaseflow"
local support = require "support"

-- Inverse of a small symmetric positive-definite matrix (Gauss-Jordan), for the target.
local function inverse(a)
  local n = #a
  local m = {}
  for i = 1, n do
    m[i] = {}
    for j = 1, n do m[i][j] = a[i][j] end
    for j = 1, n do m[i][n + j] = (i == j) and 1 or 0 end
  end
  for c = 1, n do
    local p = m[c][c]
    for j = 1, 2 * n do m[c][j] = m[c][j] / p end
    for i = 1, n do
      if i ~= c then
        local f = m[i][c]
        for j = 1, 2 * n do m[i][j] = m[i][j] - f * m[c][j] end
      end
    end
  end
  local inv = {}
  for i = 1, n do
    inv[i] = {}
    for j = 1, n do inv[i][j] = m[i][n + j] end
  end
  return inv
end

-- 5-D correlated Gaussian: sd_i and correlation 0.6^|i-j|.
local MU = {1.5, -2.0, 0.25, 3.0, -0.7}
local SD = {1.0, 2.0, 0.5, 3.0, 1.5}
local COV = {}
for i = 1, 5 do
  COV[i] = {}
  for j = 1, 5 do COV[i][j] = SD[i] * SD[j] * 0.6 ^ math.abs(i - j) end
end
local PREC = inverse(COV)

local function gauss_logpost(x)
  local rows = x:totable()
  local out = {}
  for k, th in ipairs(rows) do
    local d = {}
    for i = 1, 5 do d[i] = th[i] - MU[i] end
    local q = 0
    for i = 1, 5 do
      local s = 0
      for j = 1, 5 do s = s + PREC[i][j] * d[j] end
      q = q + d[i] * s
    end
    out[k] = -0.5 * q
  end
  return out
end

local function gauss_p0(W, seed)
  local r = pf.rng.new(seed)
  local p0 = pf.array.zeros(W, 5)
  for w = 1, W do
    for i = 1, 5 do p0:set(w, i, MU[i] + 0.1 * SD[i] * r:normal()) end
  end
  return p0
end

describe("pf.mcmc on a 5-D correlated Gaussian", function()
  local W, S, B = 32, 3000, 500
  local res = pf.mcmc.sample(gauss_logpost, gauss_p0(W, 7), {walkers = W, steps = S, seed = 11})

  it("stores steps x walkers x P and steps x walkers", function()
    assert.same({S, W, 5}, {res.chain:shape()})
    assert.same({S, W}, {res.log_prob:shape()})
    assert.same({(S - B) * W, 5}, {res:flat{burn = B}:shape()})
    assert.same({((S - B) // 10) * W, 5}, {res:flat{burn = B, thin = 10}:shape()})
  end)

  it("has an acceptance fraction in the stretch move's usual range", function()
    assert.is_true(res.acceptance_mean > 0.2 and res.acceptance_mean < 0.6)
    assert.same({W}, {res.acceptance:shape()})
    assert.near(res.acceptance_mean, res.acceptance:mean(), 1e-14)
  end)

  it("log_prob is the target at the stored positions", function()
    local x = res.chain:get(S, 3, 1)
    assert.equal(x, res.chain:get(S, 3, 1))
    local row = {}
    for j = 1, 5 do row[j] = res.chain:get(1234, 17, j) end
    local lp = gauss_logpost(pf.array.from{row})[1]
    assert.near(lp, res.log_prob:get(1234, 17), 1e-12)
  end)

  it("recovers mean and covariance within bounds set by the effective sample size", function()
    local tau = res:tau{quiet = true}
    local flat = res:flat{burn = B}
    local n = flat:shape()
    local cols = flat:T():totable()
    local mean = {}
    for i = 1, 5 do
      local s = 0
      for k = 1, n do s = s + cols[i][k] end
      mean[i] = s / n
    end
    for i = 1, 5 do
      local ess = n / tau:get(i)
      assert.is_true(ess > 500, "ESS too small: " .. ess)
      -- 4 standard errors of the mean
      assert.is_true(math.abs(mean[i] - MU[i]) < 4 * SD[i] / math.sqrt(ess),
        ("mean %d: %g vs %g (ess %g)"):format(i, mean[i], MU[i], ess))
      for j = i, 5 do
        local c = 0
        for k = 1, n do c = c + (cols[i][k] - mean[i]) * (cols[j][k] - mean[j]) end
        c = c / (n - 1)
        -- standard error of a sample covariance: sqrt((S_ii S_jj + S_ij^2) / ess)
        local ess2 = n / math.max(tau:get(i), tau:get(j))
        local se = math.sqrt((COV[i][i] * COV[j][j] + COV[i][j] ^ 2) / ess2)
        assert.is_true(math.abs(c - COV[i][j]) < 5 * se,
          ("cov %d,%d: %g vs %g (se %g)"):format(i, j, c, COV[i][j], se))
      end
    end
  end)

  it("has an autocorrelation time typical of the stretch move in 5-D", function()
    local tau, reliable = res:tau{quiet = true}
    for i = 1, 5 do assert.is_true(tau:get(i) > 5 and tau:get(i) < 150) end
    assert.is_true(reliable)
  end)
end)

describe("pf.mcmc determinism and state", function()
  local function small(seed)
    return pf.mcmc.sample(gauss_logpost, gauss_p0(12, 3), {steps = 50, seed = seed})
  end

  it("same seed, same bits; another seed, another chain", function()
    local a, b, c = small(5), small(5), small(6)
    local same, differ = true, false
    for i = 1, 50 do
      for w = 1, 12 do
        if a.log_prob:get(i, w) ~= b.log_prob:get(i, w) then same = false end
        if a.log_prob:get(i, w) ~= c.log_prob:get(i, w) then differ = true end
      end
    end
    assert.is_true(same)
    assert.is_true(differ)
  end)

  it("a sampler restored from its state continues bit-identically", function()
    local s = pf.mcmc.sampler{logpost = gauss_logpost, p0 = gauss_p0(10, 4), seed = 9}
    for _ = 1, 20 do s:step() end
    local st = s:state()
    for _ = 1, 15 do s:step() end
    local t = pf.mcmc.sampler{logpost = gauss_logpost, p0 = gauss_p0(10, 99), seed = 1}
    t:set_state(st)
    assert.equal(20, t:iterations())
    for _ = 1, 15 do t:step() end
    assert.equal(35, t:iterations())
    local a, b = s:positions():totable(), t:positions():totable()
    assert.same(a, b)
    local fa, ma = s:acceptance()
    local fb, mb = t:acceptance()
    assert.same(fa:totable(), fb:totable())
    assert.equal(ma, mb)
  end)

  it("propose/accept are stepped half by half and checked", function()
    local c = pf.core.mcmc.sampler(6, 2, {seed = 2})
    assert.has_error(function() c:propose(1) end, "sampler:propose: mcmc: propose before init")
    c:init(pf.array.from{{0, 0}, {1, 0}, {0, 1}, {1, 1}, {0.5, 0.2}, {0.1, 0.9}},
      {-1, -1.5, -1.5, -2, -1.2, -1.3})
    assert.has_error(function() c:accept(1, {0, 0, 0}) end)
    local y = c:propose(1)
    assert.same({3, 2}, {y:shape()})
    assert.has_error(function() c:propose(2) end)
    assert.has_error(function() c:accept(1, {0, 0}) end,
      "sampler:accept (log-posteriors): 3 values expected, got a table of 2")
    assert.has_error(function() c:accept(1, {0, 0 / 0, 0}) end)
    -- all proposals at -inf: nobody moves
    c:accept(1, {-math.huge, -math.huge, -math.huge})
    assert.same({0, 0, 0, 0, 0, 0}, c:accepted():totable())
    assert.has_error(function() c:propose(3) end)
    c:free()
    assert.has_error(function() c:propose(2) end)
  end)

  it("rejects bad sizes, options and starting points with clear errors", function()
    assert.has_error(function() pf.core.mcmc.sampler(7, 2) end)
    assert.has_error(function() pf.core.mcmc.sampler(4, 3) end,
      "pf.mcmc.sampler: mcmc: walkers must be even and >= 6 (>= 2 x dimension 3), got 4")
    assert.has_error(function() pf.core.mcmc.sampler(8, 2, {a = 1}) end)
    assert.has_error(function() pf.core.mcmc.sampler(8, 2, {seeed = 1}) end)
    assert.has_error(function() pf.mcmc.sample(gauss_logpost, gauss_p0(8, 1), {steps = 5, bunr = 1}) end,
      "pf.mcmc.sample: unknown option 'bunr'")
    assert.has_error(function() pf.mcmc.sample(gauss_logpost, gauss_p0(8, 1), {steps = 5, walkers = 10}) end,
      "pf.mcmc.sample: walkers = 10 but p0 has 8 rows")
    local p0 = gauss_p0(12, 1)
    local function outside(x)
      local lp = gauss_logpost(x)
      if x:shape() == 12 then lp[4] = -math.huge end
      return lp
    end
    local ok, err = pcall(pf.mcmc.sample, outside, p0, {steps = 5})
    assert.is_false(ok)
    assert.matches("walker 4 starts outside the support", err)
    assert.has_error(function() pf.mcmc.sample(function() return {1} end, p0, {steps = 5}) end,
      "pf.mcmc: logpost returned 1 values for 12 walkers")
    local s = pf.mcmc.sampler{logpost = gauss_logpost, p0 = p0}
    assert.has_error(function() s:set_state("nonsense") end)
  end)
end)

describe("pf.mcmc autocorrelation", function()
  it("FFT autocorrelation equals the direct sum", function()
    local x = {2.385, -1.2, 0.7, 3.1, -0.4, 1.9, 0.05}
    local acf = pf.mcmc.acf(pf.array.from(x))
    local m = 0
    for _, v in ipairs(x) do m = m + v / #x end
    local c0 = 0
    for _, v in ipairs(x) do c0 = c0 + (v - m) ^ 2 end
    for t = 0, #x - 1 do
      local c = 0
      for i = 1, #x - t do c = c + (x[i] - m) * (x[i + t] - m) end
      assert.near(c / c0, acf:get(t + 1), 1e-13)
    end
    assert.has_error(function() pf.mcmc.acf(pf.array.full(5, 2.0)) end)
  end)

  it("matches the exact tau = (1 + phi) / (1 - phi) of AR(1)", function()
    local phi, S, W = 0.8, 20000, 8
    local r = pf.rng.new(21)
    local chain = pf.array.zeros(S, W, 1)
    local e = r:normal(S * W)
    local k = 0
    for w = 1, W do
      local x = 0
      for i = 1, S do
        k = k + 1
        x = phi * x + math.sqrt(1 - phi * phi) * e:get(k)
        chain:set(i, w, 1, x)
      end
    end
    local tau, reliable = pf.mcmc.autocorr_time(chain)
    local exact = (1 + phi) / (1 - phi)
    assert.near(exact, tau:get(1), 0.08 * exact)
    assert.is_true(reliable)
    -- a chain shorter than 50 tau is flagged (and res:tau warns)
    local short = pf.array.zeros(200, W, 1)
    for i = 1, 200 do for w = 1, W do short:set(i, w, 1, chain:get(i, w, 1)) end end
    local _, rel2 = pf.mcmc.autocorr_time(short)
    assert.is_false(rel2)
  end)
end)

describe("pf.mcmc checkpoints", function()
  local script = [[
local pf = require "phaseflow"
local file, kill = arg[1], tonumber(arg[2])
local calls = 0
local function lp(x)
  calls = calls + 1
  if kill > 0 and calls > kill then os.exit(3) end
  local out = {}
  for k, th in ipairs(x:totable()) do out[k] = -0.5 * (th[1] ^ 2 + (th[2] - th[1]) ^ 2 / 0.25) end
  return out
end
local p0 = pf.array.zeros(8, 2)
for w = 1, 8 do p0:set(w, 1, 0.1 * w); p0:set(w, 2, -0.05 * w) end
local res = pf.mcmc.sample(lp, p0, {steps = 100, burn = 10, thin = 3, seed = 4,
  checkpoint = file, checkpoint_every = 25})
res:save(file, "/out")
]]

  it("a killed and resumed run equals an uninterrupted one", function()
    local sfile = support.tempfile(script, ".lua")
    local a, b = os.tmpname() .. ".h5", os.tmpname() .. ".h5"
    local out, rc = support.phaseflow({sfile, a, "0"})
    assert.equal(0, rc, out)
    -- killed during step 60 (2 calls per step + 1 initial): last checkpoint at 50
    out, rc = support.phaseflow({sfile, b, "120"})
    assert.equal(3, rc, out)
    assert.is_false(pf.h5.exists(b, "/out/chain"))
    assert.equal(50, pf.mcmc.checkpoint_info(b).done)
    out, rc = support.phaseflow({sfile, b, "0"})
    assert.equal(0, rc, out)
    for _, name in ipairs{"/out/chain", "/out/log_prob", "/out/acceptance"} do
      assert.same(pf.h5.read(a, name):totable(), pf.h5.read(b, name):totable())
    end
    local c = pf.h5.read(a, "/out/chain")
    assert.same({30, 8, 2}, {c:shape()})
    os.remove(sfile); os.remove(a); os.remove(b)
  end)

  -- the uninterrupted run's results, once
  local ref
  local function reference(sfile)
    if not ref then
      ref = os.tmpname() .. ".h5"
      local out, rc = support.phaseflow({sfile, ref, "0"})
      assert.equal(0, rc, out)
    end
    return ref
  end
  local function same_as_reference(sfile, b)
    local a = reference(sfile)
    for _, name in ipairs{"/out/chain", "/out/log_prob", "/out/acceptance"} do
      assert.same(pf.h5.read(a, name):totable(), pf.h5.read(b, name):totable())
    end
  end

  it("a kill in the middle of an append (stray rows, a torn commit record) resumes to the same bits",
    function()
    local sfile = support.tempfile(script, ".lua")
    local b = os.tmpname() .. ".h5"
    local out, rc = support.phaseflow({sfile, b, "120"})
    assert.equal(3, rc, out)
    local info = pf.mcmc.checkpoint_info(b)
    assert.same({50, 13, 2}, {info.done, info.rows, info.seq})
    -- what a kill during the next checkpoint can leave: its rows half written (here NaN
    -- garbage) and its commit record torn, in the slot the next record goes to
    local CK = "/mcmc_checkpoint"
    pf.h5.write_rows(b, CK .. "/chain", 14, pf.array.full({6, 8, 2}, 0 / 0))
    pf.h5.write_rows(b, CK .. "/log_prob", 14, pf.array.full({6, 8}, 0 / 0))
    local bytes = pf.h5.read_bytes(b, CK .. "/commit")
    local S = #bytes // 2
    local next_slot = (info.seq + 1) % 2
    local torn = bytes:sub((1 - next_slot) * S + 1, (1 - next_slot) * S + S // 2) -- a record's head
    pf.h5.write_rows(b, CK .. "/commit", next_slot * S + 1, torn)
    -- and the superblock's "open for writing" flag that HDF5 sets while the file is open
    local h = assert(io.open(b, "r+b"))
    h:seek("set", 20)
    h:write("\1")
    h:close()
    assert.equal(50, pf.mcmc.checkpoint_info(b).done)
    out, rc = support.phaseflow({sfile, b, "0"})
    assert.equal(0, rc, out)
    assert.equal("", out)
    same_as_reference(sfile, b)
    assert.equal(100, pf.mcmc.checkpoint_info(b).done)
    os.remove(sfile); os.remove(b)
  end)

  it("a truncated checkpoint file is reported and the chain started again, to the same bits",
    function()
    local sfile = support.tempfile(script, ".lua")
    local b = os.tmpname() .. ".h5"
    local out, rc = support.phaseflow({sfile, b, "120"})
    assert.equal(3, rc, out)
    local f = assert(io.open(b, "rb"))
    local bytes = f:read("a")
    f:close()
    f = assert(io.open(b, "wb"))
    f:write(bytes:sub(1, #bytes // 2))
    f:close()
    out, rc = support.phaseflow({sfile, b, "0"})
    assert.equal(0, rc, out)
    assert.matches("checkpoint .* is unusable %(.*%); the chain starts again", out)
    same_as_reference(sfile, b)
    os.remove(sfile); os.remove(b)
  end)

  it("resumes a checkpoint of the earlier layout (whole chain) and carries it over", function()
    local f = os.tmpname() .. ".h5"
    local o = {burn = 10, thin = 3, seed = 4}
    local function run(steps, ck)
      return pf.mcmc.sample(gauss_logpost, gauss_p0(10, 2), {steps = steps, burn = o.burn,
        thin = o.thin, seed = o.seed, checkpoint = ck, checkpoint_every = 25})
    end
    local half, full = run(50), run(100)
    -- the earlier layout, as written at step 50 of the 100-step run
    local chain, logp = pf.array.zeros(30, 10, 5), pf.array.zeros(30, 10)
    chain:rows(1, 13):assign(half.chain)
    logp:rows(1, 13):assign(half.log_prob)
    local CK = "/mcmc_checkpoint"
    pf.h5.write(f, CK .. "/chain", chain)
    pf.h5.write(f, CK .. "/log_prob", logp)
    pf.h5.write(f, CK .. "/progress", pf.array.from{50, 13, 10, 5, 30})
    pf.h5.write_bytes(f, CK .. "/state", half.sampler:state())
    local resumed = run(100, f)
    assert.same(full.chain:totable(), resumed.chain:totable())
    assert.same(full.log_prob:totable(), resumed.log_prob:totable())
    assert.equal(100, pf.mcmc.checkpoint_info(f).done)
    os.remove(f)
  end)

  it("refuses a checkpoint of a run with other options (seed, burn, thin, a)", function()
    local f = os.tmpname() .. ".h5"
    pf.mcmc.sample(gauss_logpost, gauss_p0(10, 1), {steps = 4, seed = 1, checkpoint = f,
      checkpoint_every = 2})
    local ok, err = pcall(pf.mcmc.sample, gauss_logpost, gauss_p0(10, 1),
      {steps = 4, seed = 2, checkpoint = f})
    assert.is_false(ok)
    assert.matches("checkpoint .* is of a run with burn 0, thin 1, seed 1, a 2, this run has " ..
      "burn 0, thin 1, seed 2, a 2", err)
    os.remove(f)
  end)

  it("a checkpoint costs the rows since the last one, not the whole chain", function()
    local io_file = io.open("/proc/self/io", "r")
    if not io_file then pending("no /proc/self/io here") return end
    io_file:close()
    local function written()
      local h = io.open("/proc/self/io", "r")
      local t = h:read("a")
      h:close()
      return tonumber(t:match("wchar:%s*(%d+)"))
    end
    local function cost(steps)
      local f = os.tmpname() .. ".h5"
      local w0 = written()
      pf.mcmc.sample(gauss_logpost, gauss_p0(10, 1), {steps = steps, seed = 1, checkpoint = f,
        checkpoint_every = 5})
      local w = written() - w0
      local size = pf.fs.exists(f) and io.open(f, "rb"):seek("end")
      os.remove(f)
      return w, size
    end
    -- 4 times the steps: 4 times the checkpoints and the rows. Rewriting the whole chain
    -- each time (the earlier layout) wrote 16 times the bytes; appending writes about 4.
    local w1, s1 = cost(200)
    local w4, s4 = cost(800)
    assert.is_true(w4 / w1 < 4.5, ("bytes written: %d for 200 steps, %d for 800"):format(w1, w4))
    assert.is_true(w4 / w1 > 3, ("bytes written: %d for 200 steps, %d for 800"):format(w1, w4))
    -- the file holds the chain once: its size grows linearly with the rows
    local row = 10 * 5 * 8 + 10 * 8
    assert.near(600 * row, s4 - s1, 0.01 * 600 * row)
  end)

  it("refuses a checkpoint of another run's shape", function()
    local f = os.tmpname() .. ".h5"
    pf.mcmc.sample(gauss_logpost, gauss_p0(10, 1), {steps = 4, checkpoint = f, checkpoint_every = 2})
    local ok, err = pcall(pf.mcmc.sample, gauss_logpost, gauss_p0(12, 1),
      {steps = 4, checkpoint = f})
    assert.is_false(ok)
    assert.matches("checkpoint .* is for 10 walkers x 5 parameters", err)
    os.remove(f)
  end)
end)

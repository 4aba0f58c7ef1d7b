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
    assert.equal(50, pf.h5.read(b, "/mcmc_checkpoint/progress"):get(1))
    out, rc = support.phaseflow({sfile, b, "0"})
    assert.equal(0, rc, out)
    for _, name in ipairs{"/out/chain", "/out/log_prob", "/out/acceptance"} do
      assert.same(pf.h5.read(a, name):totable(), pf.h5.read(b, name):totable())
    end
    local c = pf.h5.read(a, "/out/chain")
    assert.same({30, 8, 2}, {c:shape()})
    os.remove(sfile); os.remove(a); os.remove(b)
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

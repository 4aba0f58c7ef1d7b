-- pf.priors: densities, samplers, products over named parameters, their errors.
local pf = require "phaseflow"
local P = pf.priors

describe("pf.priors one-dimensional", function()
  it("uniform: density 1/(hi-lo) inside, -inf outside", function()
    local u = P.uniform(-1.5, 2.385)
    assert.near(-math.log(3.885), u:logpdf(0.3), 1e-14)
    assert.equal(-math.huge, u:logpdf(2.4))
    assert.has_error(function() P.uniform(2, 1) end, "pf.priors.uniform: need finite lo < hi, got [2, 1]")
  end)

  it("normal: the Gaussian log-density", function()
    local n = P.normal(2, 0.5)
    assert.near(-math.log(0.5) - 0.5 * math.log(2 * math.pi) - 0.5 * (0.7 / 0.5) ^ 2, n:logpdf(2.7), 1e-14)
    assert.has_error(function() P.normal(0, -1) end)
  end)

  it("truncated normal: normalised over its interval", function()
    -- the paper's beta prior: N(2, 2) on [0, inf); mass = Phi(1) = 0.841344746068543
    local t = P.truncnormal(2, 2, 0, math.huge)
    assert.near(0.841344746068543, t.mass, 1e-12)
    assert.near(-math.log(2) - 0.5 * math.log(2 * math.pi) - math.log(0.841344746068543) - 0.5 * 0.25,
      t:logpdf(3), 1e-12)
    assert.equal(-math.huge, t:logpdf(-0.01))
    -- integrates to one (trapezoid on [0, 40])
    local s, h = 0, 0.001
    for i = 0, 40000 do
      local w = (i == 0 or i == 40000) and 0.5 or 1
      s = s + w * math.exp(t:logpdf(i * h))
    end
    assert.near(1, s * h, 1e-6)
    assert.has_error(function() P.truncnormal(0, 1, 50, 60) end)
  end)

  it("log-uniform: density 1/(x ln(hi/lo))", function()
    local l = P.loguniform(0.1, 10)
    assert.near(-math.log(2.385) - math.log(math.log(100)), l:logpdf(2.385), 1e-14)
    assert.equal(-math.huge, l:logpdf(11))
    assert.has_error(function() P.loguniform(0, 1) end)
  end)

  it("samplers reproduce the moments", function()
    local r = pf.rng.new(3)
    local t = P.truncnormal(2, 2, 0, math.huge)
    local l = P.loguniform(0.1, 10)
    local n, st, sl = 40000, 0, 0
    for _ = 1, n do
      local x = t:sample(r)
      assert.is_true(x >= 0)
      st = st + x
      sl = sl + math.log(l:sample(r))
    end
    -- mean of N(2,2) truncated at 0: 2 + 2 phi(1)/Phi(1)
    local phi1 = math.exp(-0.5) / math.sqrt(2 * math.pi)
    assert.near(2 + 2 * phi1 / 0.841344746068543, st / n, 0.03)
    -- log of a log-uniform is uniform on [ln 0.1, ln 10]: mean 0
    assert.near(0, sl / n, 0.03)
  end)
end)

describe("pf.priors.product", function()
  local prior = P.product({"rho0", "rs", "beta"}, {
    rho0 = P.truncnormal(40, 80, 0, 200), rs = P.uniform(0, 20), beta = P.truncnormal(2, 2, 0, math.huge)})

  it("sums the log-densities of the named parameters", function()
    local lp = prior:logpdf(pf.array.from{{30, 3.5, 1.0}, {30, 25, 1.0}})
    local want = prior:get("rho0"):logpdf(30) + prior:get("rs"):logpdf(3.5) + prior:get("beta"):logpdf(1)
    assert.near(want, lp:get(1), 1e-14)
    assert.equal(-math.huge, lp:get(2))
    assert.equal(2, prior:index("rs"))
  end)

  it("draws initial walkers inside the support, reproducibly", function()
    local a = prior:sample(200, {seed = 5})
    local b = prior:sample(200, {seed = 5})
    assert.same(a:totable(), b:totable())
    assert.is_true(prior:check(a))
    assert.same({200, 3}, {a:shape()})
  end)

  it("names the walker and parameter that start outside the support", function()
    local x = pf.array.from{{30, 3.5, 1.0}, {30, 3.5, 1.0}, {30, -1, 1.0}}
    local ok, err = pcall(prior.check, prior, x)
    assert.is_false(ok)
    assert.matches("walker 3 starts outside the prior support: rs = %-1, prior U%[0, 20%]", err)
  end)

  it("a typo in a parameter name is a clear error", function()
    local ok, err = pcall(P.product, {"rho0", "rs", "beta"},
      {rho0 = P.uniform(0, 1), r_s = P.uniform(0, 20), beta = P.uniform(0, 3)})
    assert.is_false(ok)
    assert.matches("unknown parameter 'r_s' %(parameters: rho0, rs, beta%)", err)
    ok, err = pcall(P.product, {"rho0", "rs"}, {rho0 = P.uniform(0, 1)})
    assert.is_false(ok)
    assert.matches("no prior for parameter 'rs'", err)
    ok, err = pcall(prior.index, prior, "bta")
    assert.is_false(ok)
    assert.matches("unknown parameter 'bta'", err)
    assert.has_error(function() prior:logpdf(pf.array.zeros(3, 2)) end)
  end)

  it("posterior() adds a likelihood only inside the support", function()
    local calls = 0
    local post = prior:posterior(function(th) calls = calls + 1; return -th[2] end)
    local v = post(pf.array.from{{30, 3.5, 1.0}, {-1, 3.5, 1.0}})
    assert.equal(1, calls)
    assert.near(prior:logpdf(pf.array.from{{30, 3.5, 1.0}}):get(1) - 3.5, v[1], 1e-14)
    assert.equal(-math.huge, v[2])
  end)
end)

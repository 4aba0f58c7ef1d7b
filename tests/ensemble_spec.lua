local pf = require "phaseflow"

local support = require "support"
local filled, check_gradient = support.filled, support.check_gradient

local function members(ctx, shifts)
  local m = {}
  for k, sh in ipairs(shifts) do
    m[k] = pf.flow.maf{dim = 3, context = ctx, transforms = 2, hidden = 7, blocks = 1,
      seed = 30 + k, preprocess = {input = {mean = {sh, -0.3 * sh, 0.2}, std = {1.2, 0.8, 1.1}}}}
  end
  return m
end

describe("pf.flow.ensemble", function()
  it("log_prob is the log of the mean of the members' probabilities", function()
    local m = members(2, {-0.7, 0.4, 1.9})
    local e = pf.flow.ensemble{members = m}
    local x, c = filled(9, 3, 1, 1.5), filled(9, 2, 2)
    local lp = e:log_prob(x, c)
    for i = 1, 9 do
      local s = 0
      for k = 1, 3 do s = s + math.exp(m[k]:log_prob(x, c):get(i)) end
      assert.is_true(math.abs(lp:get(i) - math.log(s / 3)) < 1e-12)
    end
    -- far in one member's tail: still finite and equal to that member's share
    local far = pf.array.from{{40, 0, 0}}
    local cf = pf.array.from{{0.1, 0.2}}
    local l1 = {}
    for k = 1, 3 do l1[k] = m[k]:log_prob(far, cf):get(1) end
    local mx = math.max(l1[1], l1[2], l1[3])
    local want = mx + math.log((math.exp(l1[1] - mx) + math.exp(l1[2] - mx)
      + math.exp(l1[3] - mx)) / 3)
    assert.is_true(l1[1] < -600)  -- exp() of it underflows: the naive mean would fail
    assert.is_true(math.abs(e:log_prob(far, cf):get(1) - want) < 1e-9)
    assert.are.equal(3, e:size())
    assert.are.equal(m[2], e:member(2))
    assert.has_error(function() e:member(4) end)
  end)

  it("input and context gradients match finite differences", function()
    local e = pf.flow.ensemble{members = members(2, {-0.9, 0.5, 1.3})}
    local x, c = filled(4, 3, 5, 1.2), filled(4, 2, 6)
    local gx, gc, lp = e:grad_log_prob(x, c)
    assert.is_true((lp - e:log_prob(x, c)):abs():max() < 1e-12)
    local function log_prob() return e:log_prob(x, c) end
    assert.is_true(check_gradient(log_prob, x, gx, 1e-5) < 1e-6)
    assert.is_true(check_gradient(log_prob, c, gc, 1e-5) < 1e-6)
  end)

  it("samples from the mixture with the right member frequencies", function()
    -- members centred at x1 = -30, 0, +30 (std 1.2): the member of a sample is plain
    local e = pf.flow.ensemble{members = members(0, {-30, 0, 30})}
    local n = 6000
    local x, lp = e:sample(n, {seed = 8})
    assert.is_true((lp - e:log_prob(x)):abs():max() < 1e-9)
    local x1 = x:col(1)
    local lo = x1:lt(-15):sum() / n
    local hi = x1:gt(15):sum() / n
    local sd = math.sqrt(1 / 3 * 2 / 3 / n)
    assert.is_true(math.abs(lo - 1 / 3) < 4 * sd)
    assert.is_true(math.abs(hi - 1 / 3) < 4 * sd)
    assert.is_true(lo ~= 1 / 3 or hi ~= 1 / 3)  -- pseudo-random: not an exact split
    -- same seed reproduces, another differs
    assert.are.equal(0, (e:sample(n, {seed = 8}) - x):abs():max())
    assert.is_true((e:sample(n, {seed = 9}) - x):abs():max() > 0.1)
    -- QMC: consecutive runs of one Sobol stream, 4 + 3 + 3 points for n = 10
    local q = e:sample(10, {qmc = true, seed = 2})
    local k = {}
    for i = 1, 10 do k[i] = q:get(i, 1) < -15 and 1 or (q:get(i, 1) > 15 and 3 or 2) end
    assert.are.same({1, 1, 1, 1, 2, 2, 2, 3, 3, 3}, k)
    local z = pf.flow.base_points(10, 3, {qmc = true, seed = 2})
    local x2 = e:member(2):inverse(z:rows(5, 7):copy())
    assert.are.equal(0, (q:rows(5, 7):copy() - x2):abs():max())
  end)

  it("conditional mixture sampling uses the context", function()
    local e = pf.flow.ensemble{members = members(2, {-1, 1})}
    local x = e:sample(20, {0.5, -0.25}, {qmc = true, seed = 3})
    local c = pf.array.zeros(20, 2); c:col(1):fill(0.5); c:col(2):fill(-0.25)
    assert.are.same({20, 3}, {x:shape()})
    assert.is_true(e:log_prob(x, c):isfinite():all())
    assert.has_error(function() e:sample(20) end)
  end)

  it("save/load round trip is bit-identical, with provenance; truncation is caught", function()
    local file = os.tmpname() .. ".h5"
    local e = pf.flow.ensemble{members = members(2, {-0.4, 0.8, 0.1})}
    e:save(file, "/ens/p_v", {provenance = {purpose = "spec"}})
    local g = pf.flow.load(file, "/ens/p_v")
    assert.is_true(pf.flow.is_ensemble(g))
    local x, c = filled(25, 3, 3, 1.3), filled(25, 2, 4)
    assert.are.equal(0, (e:log_prob(x, c) - g:log_prob(x, c)):abs():max())
    local gx1 = e:grad_log_prob(x, c)
    local gx2 = g:grad_log_prob(x, c)
    assert.are.equal(0, (gx1 - gx2):abs():max())
    local a = pf.h5.attrs(file, "/ens/p_v")
    assert.are.equal("phaseflow.ensemble", a.format)
    assert.are.equal(3, a.members)
    assert.are.equal("spec", a.purpose)
    assert.is_string(a.phaseflow_version)
    pf.h5.delete(file, "/ens/p_v/member_0002")
    assert.has_error(function() pf.flow.load(file, "/ens/p_v") end, nil)
    os.remove(file)
  end)

  it("rejects bad members", function()
    local a = pf.flow.maf{dim = 3, transforms = 1, hidden = 4}
    local b = pf.flow.maf{dim = 2, transforms = 1, hidden = 4}
    assert.has_error(function() pf.flow.ensemble{members = {a, b}} end)
    assert.has_error(function() pf.flow.ensemble{members = {}} end)
    assert.has_error(function() pf.flow.ensemble{members = {a, 3}} end)
    assert.has_error(function() pf.flow.ensemble{members = {a}, extra = 1} end)
  end)

  it("mixes a member's NaN into a NaN row, the other rows exact (as a single flow passes it on)", function()
    local mix = require("phaseflow.core").flow.mix
    local lp = mix({pf.array.from{1, 0 / 0, -math.huge}, pf.array.from{2, 3, -math.huge}})
    assert.is_true(math.abs(lp:get(1) - math.log((math.exp(1) + math.exp(2)) / 2)) < 1e-15)
    assert.is_true(lp:get(2) ~= lp:get(2))
    assert.are.equal(-math.huge, lp:get(3))
    -- the gradient's weights: NaN on that row only
    local g1, g2 = pf.array.from{{1, 1}, {1, 1}, {1, 1}}, pf.array.from{{3, 3}, {3, 3}, {3, 3}}
    local _, g = mix({pf.array.from{1, 0 / 0, 0}, pf.array.from{1, 3, 0}}, {g1, g2})
    assert.are.equal(2, g:get(1, 1))
    assert.is_true(g:get(2, 1) ~= g:get(2, 1))
    assert.are.equal(2, g:get(3, 2))
  end)

  it("trains members on their own splits and seeds; a job reproduces its member", function()
    local x = filled(400, 2, 12)
    x:col(2):assign(x:col(2):mul(0.5):add(x:col(1):square():mul(0.3)))
    local arch = {dim = 2, transforms = 2, hidden = 8, blocks = 1}
    local topts = {members = 2, seed = 5, batch = 100, max_epochs = 4, lr = 0.01}
    local e, hists = pf.flow.train_ensemble(arch, x, topts)
    assert.are.equal(2, e:size())
    assert.are.equal(pf.rng.derive_seed(5, 2), hists[2].member_seed)
    assert.are.equal(4, #hists[1].val)
    assert.is_true(hists[1].val[1] ~= hists[2].val[1])
    local f2 = pf.flow.train_member{member = 2, seed = 5, x = x, flow = arch,
      train = {batch = 100, max_epochs = 4, lr = 0.01}}
    assert.are.equal(0, (f2:params() - e:member(2):params()):abs():max())
    assert.is_true((e:member(1):params() - f2:params()):abs():max() > 0)
    -- a make_flow function receives (member, member_seed)
    local seen = {}
    pf.flow.train_ensemble(function(k, s)
      seen[k] = s
      return pf.flow.maf{dim = 2, transforms = 1, hidden = 4, seed = s}
    end, x, {members = 2, seed = 5, max_epochs = 1})
    assert.are.equal(pf.rng.derive_seed(5, 1), seen[1])
    assert.has_error(function() pf.flow.train_ensemble(arch, x, {}) end)
    assert.has_error(function() pf.flow.train_member{member = 0, x = x, flow = arch} end)
  end)
end)

describe("pf.df.flows", function()
  local function pair()
    local nx = pf.flow.maf{dim = 3, transforms = 2, hidden = 6, blocks = 1, seed = 3}
    local pv = pf.flow.ensemble{members = members(3, {0.2, -0.6})}
    return nx, pv
  end

  it("log_f = log n(x) + log p(v|x) and its gradients match finite differences", function()
    local nx, pv = pair()
    local f = pf.df.flows(nx, pv)
    local x, v = filled(3, 3, 7, 0.8), filled(3, 3, 8, 1.1)
    local lf = f:log_f(x, v)
    assert.is_true((lf - nx:log_prob(x) - pv:log_prob(v, x)):abs():max() < 1e-12)
    assert.is_true((f:n_x(x) - nx:log_prob(x):exp()):abs():max() < 1e-15)
    local gx, gv = f:grad_log_f(x, v)
    local function logf() return f:log_f(x, v) end
    assert.is_true(check_gradient(logf, x, gx, 1e-5) < 1e-6)
    assert.is_true(check_gradient(logf, v, gv, 1e-5) < 1e-6)
    local s = f:sample_v(pf.array.from{0.3, 0.1, -0.2}, 16, {qmc = true, seed = 4})
    local s2 = f:sample_v({0.3, 0.1, -0.2}, 16, {qmc = true, seed = 4})
    assert.are.same({16, 3}, {s:shape()})
    assert.are.equal(0, (s - s2):abs():max())
    assert.has_error(function() pf.df.flows(pv, nx) end)
    assert.has_error(function() f:log_f(x, pf.array.zeros(2, 3)) end)
    assert.has_error(function() f:sample_v({1, 2}, 4) end)
  end)

  it("drives pf.cbe.acceleration: a trained pair recovers a harmonic potential", function()
    -- f = exp(-|x|^2/2 s^2 - |v|^2/2 sig^2) is a function of E = v^2/2 + sig^2 x^2/(2 s^2):
    -- in equilibrium in Phi = sig^2 |x|^2 / (2 s^2), so a = -sig^2 x / s^2.
    local s, sig, n = 1.0, 1.5, 6000
    local x, v = filled(n, 3, 21, s), filled(n, 3, 22, sig)
    local nx = pf.flow.maf{dim = 3, transforms = 2, hidden = 16, blocks = 1, seed = 1}
    local pv = pf.flow.maf{dim = 3, context = 3, transforms = 2, hidden = 16, blocks = 1,
      seed = 2, preprocess = {input = {std = {sig, sig, sig}}}}
    pf.train(nx, x, {batch = 256, lr = 5e-3, max_epochs = 15, patience = 5, seed = 3})
    pf.train(pv, v, {context = x, batch = 256, lr = 5e-3, max_epochs = 15, patience = 5,
      seed = 4})
    local f = pf.df.flows(nx, pv)
    local x0 = pf.array.from{{0.8, 0, 0}, {0, -0.6, 0.3}}
    local acc = pf.cbe.acceleration(f, x0, {nv = 2000, vmax = 6, seed = 1})
    for i = 1, 2 do
      for j = 1, 3 do
        local want = -sig * sig * x0:get(i, j) / (s * s)
        assert.is_true(math.abs(acc:get(i, j) - want) < 0.3, ("a[%d][%d] = %g, want %g"):format(
          i, j, acc:get(i, j), want))
      end
    end
  end)
end)

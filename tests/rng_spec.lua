-- pf.rng: reproducible generators.
local pf = require "phaseflow"

describe("pf.rng", function()
  it("MT19937 with seed 42 gives the reference first output", function()
    -- The first 32-bit output of MT19937 seeded with 42 is 1608637542 in every
    -- implementation (GSL, numpy's RandomState, C++ std::mt19937).
    local r = pf.rng.new(42)
    assert.are.equal(1608637542 / 2 ^ 32, r:uniform())
  end)

  it("same seed gives the same numbers, another seed others", function()
    local a = pf.rng.new(7):normal(1000)
    local b = pf.rng.new(7):normal(1000)
    local c = pf.rng.new(8):normal(1000)
    assert.are.equal(0, (a - b):abs():max())
    assert.is_true((a - c):abs():max() > 0.1)
  end)

  it("normal and uniform fills have the right moments", function()
    local r = pf.rng.new(2024)
    local n = 200000
    local x = r:normal(n)
    -- 5-sigma bounds: mean ~ 1/sqrt(n), std ~ 1/sqrt(2n)
    assert.is_true(math.abs(x:mean()) < 5 / math.sqrt(n))
    assert.is_true(math.abs(x:std() - 1) < 5 / math.sqrt(2 * n))
    local u = pf.array.zeros(n)
    r:fill_uniform(u, -1, 2.385)
    assert.is_true(u:min() >= -1 and u:max() < 2.385)
    assert.is_true(math.abs(u:mean() - (2.385 - 1) / 2) < 5 * 3.385 / math.sqrt(12 * n))
    local g = pf.array.zeros(n)
    r:fill_normal(g, 8.122, 0.5)
    assert.is_true(math.abs(g:mean() - 8.122) < 5 * 0.5 / math.sqrt(n))
  end)

  it("fills strided views in place", function()
    local a = pf.array.zeros(1000, 2)
    pf.rng.new(1):fill_normal(a:col(2))
    assert.are.equal(0, a:col(1):abs():max())
    assert.is_true(a:col(2):std() > 0.9)
  end)

  it("saved state restores the exact stream", function()
    local r = pf.rng.new(99)
    r:normal(17)
    local s = r:state()
    local first = r:uniform(5)
    r:set_state(s)
    assert.are.same(first:totable(), r:uniform(5):totable())
    assert.matches("state of %d+ bytes expected, got 3", select(2, pcall(r.set_state, r, "abc")))
  end)

  it("permutation holds every index once", function()
    local p = pf.rng.new(3):permutation(1000):sort()
    assert.are.same(pf.array.arange(1, 1001):totable(), p:totable())
    local k = pf.rng.new(3):integer(6)
    assert.is_true(k >= 1 and k <= 6)
  end)

  it("derived seeds are reproducible and distinct", function()
    local seen = {}
    for k = 0, 99 do
      local s = pf.rng.derive_seed(1, k)
      assert.is_nil(seen[s])
      seen[s] = true
      assert.are.equal(s, pf.rng.derive_seed(1, k))
    end
  end)

  it("from_opts: opts.rng itself, else a generator seeded with opts.seed or the default", function()
    local r = pf.rng.new(3)
    assert.are.equal(r, pf.rng.from_opts{rng = r, seed = 9})
    assert.are.equal(pf.rng.new(9):uniform(), pf.rng.from_opts{seed = 9}:uniform())
    assert.are.equal(pf.rng.new(1):uniform(), pf.rng.from_opts():uniform())
    assert.are.equal(pf.rng.new(5):uniform(), pf.rng.from_opts({}, 5):uniform())
    assert.matches("pf.rng object expected", select(2, pcall(pf.rng.from_opts, {rng = {}})))
  end)

  it("a freed generator is rejected cleanly", function()
    local r = pf.rng.new(1)
    r:free()
    r:free() -- idempotent
    assert.matches("freed", select(2, pcall(r.uniform, r)))
  end)

  it("every C object (flow, optimiser, sampler) frees once, idempotently, and is refused after", function()
    local core = require "phaseflow.core"
    local f = core.flow.maf{dim = 2, transforms = 1, hidden = 4, blocks = 1}
    local adam = core.train.adam(f:nparams(), {lr = 1e-3})
    local s = core.mcmc.sampler(6, 3, {seed = 1})
    for _, case in ipairs{{f, "nparams", "flow has been freed"}, {adam, "step", "optimiser has been freed"},
                          {s, "walkers", "sampler has been freed"}} do
      local obj, method, message = case[1], case[2], case[3]
      obj:free()
      obj:free()
      local ok, err = pcall(obj[method], obj)
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(message, 1, true), tostring(err))
    end
    assert.matches("freed", tostring(f))
  end)
end)

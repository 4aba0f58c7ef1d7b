local pf = require "phaseflow"

describe("pf.qmc", function()
  it("gives GSL's unscrambled Sobol points (known values)", function()
    local a = pf.qmc.sobol(6, 2, {scramble = false})
    local want = {{0.5, 0.5}, {0.75, 0.25}, {0.25, 0.75}, {0.375, 0.375}, {0.875, 0.875},
                  {0.625, 0.125}}
    for i = 1, 6 do
      assert.are.equal(want[i][1], a:get(i, 1))
      assert.are.equal(want[i][2], a:get(i, 2))
    end
    local s = pf.qmc.sobol(2, 2, {scramble = false, skip = 4})
    assert.are.equal(0.875, s:get(1, 1))
    assert.are.equal(0.125, s:get(2, 2))
  end)

  it("scrambled points are uniform: each of 2^m cells per axis holds 2^(k-m) points", function()
    local n = 1024
    local a = pf.qmc.sobol(n - 1, 3, {seed = 7, skip = 0})
    -- n-1 points after GSL's first: add the skipped origin image by counting 16 bins
    local counts = {}
    for j = 1, 3 do
      counts[j] = {}
      for b = 1, 16 do counts[j][b] = 0 end
      for i = 1, n - 1 do
        local u = a:get(i, j)
        assert.is_true(u > 0 and u < 1)
        local b = math.floor(u * 16) + 1
        counts[j][b] = counts[j][b] + 1
      end
      local lo, hi = math.huge, -math.huge
      for b = 1, 16 do lo = math.min(lo, counts[j][b]); hi = math.max(hi, counts[j][b]) end
      assert.is_true(lo >= 63 and hi <= 64)
    end
  end)

  it("different seeds scramble differently, same seed identically", function()
    local a = pf.qmc.sobol(8, 2, {seed = 3})
    local b = pf.qmc.sobol(8, 2, {seed = 3})
    local c = pf.qmc.sobol(8, 2, {seed = 4})
    assert.are.equal(a:get(5, 2), b:get(5, 2))
    assert.are_not.equal(a:get(5, 2), c:get(5, 2))
  end)

  it("normal points have mean 0 and variance 1 to QMC accuracy", function()
    local n = 4096
    local z = pf.qmc.normal(n, 2, {seed = 11})
    for j = 1, 2 do
      local s, s2 = 0, 0
      for i = 1, n do
        local v = z:get(i, j); s = s + v; s2 = s2 + v * v
      end
      assert.is_true(math.abs(s / n) < 2e-3)
      assert.is_true(math.abs(s2 / n - 1) < 1e-2)
    end
    -- unscrambled: (k + 1/2)/2^30 of u = 1/2 maps to a tiny positive normal
    local p = pf.qmc.normal(1, 1, {scramble = false})
    assert.is_true(p:get(1, 1) > 0 and p:get(1, 1) < 1e-8)
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() pf.qmc.sobol(10, 41) end)
    assert.has_error(function() pf.qmc.sobol(10, 0) end)
    assert.has_error(function() pf.qmc.sobol(-1, 2) end)
    assert.has_error(function() pf.qmc.normal(10, 2, {sede = 1}) end)
    assert.has_error(function() pf.qmc.sobol(10, 2, {skip = -1}) end)
  end)
end)

local pf = require "phaseflow"
local support = require "support"

-- A plain triple loop in Lua: the reference the packed product must reproduce.
local function reference(A, B, C0, transposed)
  local n, K = A:shape()
  local N = transposed and select(1, B:shape()) or select(2, B:shape())
  local C = pf.array.zeros(n, N)
  for i = 1, n do
    for j = 1, N do
      local s = C0 and C0:get(i, j) or 0
      for k = 1, K do
        s = s + A:get(i, k) * (transposed and B:get(j, k) or B:get(k, j))
      end
      C:set(i, j, s)
    end
  end
  return C
end

local function maxrel(X, Y)
  local d = (X - Y):abs():max()
  return d / math.max(1, Y:abs():max())
end

describe("pf.core.panel.gemm", function()
  it("matches a plain product on every tail of rows (4-row tiles) and columns (8-wide panels)", function()
    local worst, cases = 0, 0
    for _, path in ipairs{"avx2", "portable"} do
      for _, n in ipairs{1, 3, 4, 5, 9} do
        for _, N in ipairs{1, 3, 4, 7, 8, 9, 16, 17} do
          for _, K in ipairs{1, 2, 13} do
            local A = support.filled(n, K, 100 * n + K)
            local B = support.filled(K, N, 7 * N + K)
            local C = pf.core.panel.gemm(A, B, {path = path})
            worst = math.max(worst, maxrel(C, reference(A, B)))
            cases = cases + 1
          end
        end
      end
    end
    assert.are.equal(2 * 5 * 8 * 3, cases)
    assert.is_true(worst < 1e-14)
  end)

  it("adds into C in place, never writes past N, and multiplies by a transpose", function()
    local A = support.filled(6, 5, 1)
    local Bt = support.filled(11, 5, 2) -- N x K: used transposed
    local C = support.filled(6, 11, 3)
    local want = reference(A, Bt, C, true)
    local got, path = pf.core.panel.gemm(A, Bt, {C = C, transposed = true})
    assert.is_true(got == C) -- the same array, updated
    assert.is_true(path == "avx2" or path == "portable")
    assert.is_true(maxrel(C, want) < 1e-14)
    -- a K = 0 product is an empty sum: C is left as it was (acc) or zero
    local E = pf.core.panel.gemm(pf.array.zeros(3, 0), pf.array.zeros(0, 5))
    assert.are.equal(0, E:abs():max())
    assert.has_error(function() pf.core.panel.gemm(A, support.filled(4, 3, 1)) end,
                     "pf.core.panel.gemm: A has 5 columns but B has 4 rows")
    assert.has_error(function() pf.core.panel.gemm(A, Bt, {paht = "avx2"}) end)
  end)

  it("starts from a bias row, or from C plus a bias row", function()
    local A, B = support.filled(7, 9, 11), support.filled(9, 13, 12)
    local bias = support.filled(13, 1, 13):reshape(13)
    local C0 = support.filled(7, 13, 14)
    local plain = reference(A, B)
    local got = pf.core.panel.gemm(A, B, {bias = bias})
    local C = C0:copy()
    pf.core.panel.gemm(A, B, {C = C, bias = bias})
    local worst = 0
    for i = 1, 7 do
      for j = 1, 13 do
        local b = bias:get(j)
        worst = math.max(worst, math.abs(got:get(i, j) - (plain:get(i, j) + b)),
                         math.abs(C:get(i, j) - (plain:get(i, j) + C0:get(i, j) + b)))
      end
    end
    assert.is_true(worst < 1e-13)
  end)

  it("gemm_tn adds X^T Y in place on every tail (the weight-gradient product)", function()
    local worst = 0
    for _, path in ipairs{"avx2", "portable"} do
      for _, n in ipairs{1, 5, 64} do
        for _, M in ipairs{1, 3, 4, 6} do
          for _, N in ipairs{1, 7, 8, 12} do
            local X, Y = support.filled(n, M, n + M), support.filled(n, N, 3 * n + N)
            local C0 = support.filled(M, N, M * N)
            local C = C0:copy()
            local _, used = pf.core.panel.gemm_tn(X, Y, C, {path = path})
            assert.is_true(used == path or used == "portable")
            local want = reference(X:T():copy(), Y, C0)
            worst = math.max(worst, maxrel(C, want))
          end
        end
      end
    end
    assert.is_true(worst < 1e-14)
    assert.has_error(function()
      pf.core.panel.gemm_tn(support.filled(3, 2, 1), support.filled(4, 2, 1), pf.array.zeros(2, 2))
    end, "pf.core.panel.gemm_tn: X has 3 rows but Y has 4")
  end)

  it("gives the same bits whatever the row count (a row's result is independent of its tile)", function()
    local A = support.filled(13, 37, 5)
    local B = support.filled(37, 19, 6)
    local all = pf.core.panel.gemm(A, B)
    for i = 1, 13 do
      local one = pf.core.panel.gemm(A:row(i):reshape(1, 37), B)
      for j = 1, 19 do assert.are.equal(all:get(i, j), one:get(1, j)) end
    end
  end)
end)

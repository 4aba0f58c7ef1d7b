-- The rational-quadratic spline transforms (include/phaseflow/spline.h): the map itself
-- through one-dimensional flows (a 1-D MADE's outputs are its biases, so the parameter
-- vector sets the spline's raw values directly), then whole spline flows. Gradients
-- against finite differences are in flow_spec.lua (its spline architectures).
local pf = require "phaseflow"

local support = require "support"
local filled = support.filled

-- a 1-D flow of one spline transform whose raw values are `raw` (P = 3K - 1 numbers, or a
-- scale for random ones drawn with `seed`)
local function spline1d(bins, bound, raw, seed)
  local f = pf.flow.maf{dim = 1, transforms = 1, hidden = 2, blocks = 0, transform = "spline",
                        bins = bins, bound = bound}
  local P = 3 * bins - 1
  local p = f:params()
  p:fill(0)
  local n = p:size()
  local r = raw
  if type(raw) == "number" then
    r = filled(1, P, seed or 1, raw):reshape(-1):totable()
  end
  for j = 1, P do p:set(n - P + j, r[j]) end -- the output biases are the vector's last P
  f:set_params(p)
  return f
end

local function column(t) return pf.array.from(t):reshape(#t, 1) end

describe("spline transforms", function()
  it("raw values 0 give the identity map exactly (ln g' = 0)", function()
    local f = spline1d(8, 3, 0)
    local xs = {-5, -3, -2.999, -1.2345, 0, 0.7, 2.5, 3, 7}
    local z, ld = f:forward(column(xs))
    for i, x in ipairs(xs) do
      assert.is_true(math.abs(z:get(i, 1) - x) < 1e-14)
      assert.is_true(math.abs(ld:get(i)) < 1e-14)
    end
  end)

  it("is strictly increasing and C1 across bin edges, identity in the tails", function()
    local m, K, B = 1e-3, 6, 2.0
    for seed = 1, 3 do
      -- extreme raw values: bins from the minimum width to most of the interval
      local scale = seed == 1 and 1.5 or 4.0
      local raw = filled(1, 3 * K - 1, seed, scale):reshape(-1):totable()
      local f = spline1d(K, B, raw)
      local n = 40001
      local h = (2 * B + 1) / (n - 1)
      local xs = {}
      for i = 1, n do xs[i] = -B - 0.5 + (i - 1) * h end
      local z, ld = f:forward(column(xs))
      for i = 2, n do assert.is_true(z:get(i, 1) > z:get(i - 1, 1)) end
      for i, x in ipairs(xs) do
        if math.abs(x) >= B then
          assert.are.equal(x, z:get(i, 1))
          assert.are.equal(0, ld:get(i))
        end
      end
      -- the knots, from the raw widths as spline.h defines them: the map and its slope
      -- agree on both sides of each (and the slope is the map's derivative there)
      local e, sum = {}, 0
      for j = 1, K do e[j] = math.exp(raw[j]); sum = sum + e[j] end
      local knot = -B
      for j = 1, K - 1 do
        knot = knot + 2 * B * (m + (1 - m * K) * e[j] / sum)
        -- (tolerances allow for the curvature of bins 0.004 wide; a wrong knot slope or
        -- position gives jumps of order 1)
        local eps = 1e-9
        local zz, ll = f:forward(column{knot - eps, knot + eps, knot - 1e-8, knot + 1e-8})
        local s = math.exp(ll:get(1))
        assert.is_true(math.abs(zz:get(2, 1) - zz:get(1, 1)) <= 2 * eps * s * 1.01 + 1e-15)
        assert.is_true(math.abs(math.exp(ll:get(2)) - s) <= 1e-3 * s)
        local fd = (zz:get(4, 1) - zz:get(3, 1)) / 2e-8
        assert.is_true(math.abs(fd - s) <= 1e-3 * s + 1e-7)
      end
      -- the ends map to the ends
      local ze = f:forward(column{-B, B})
      assert.is_true(math.abs(ze:get(1, 1) + B) < 1e-14 and math.abs(ze:get(2, 1) - B) < 1e-14)
    end
  end)

  it("matches the rational-quadratic formula at a hand-made spline (K = 2)", function()
    -- widths from softmax(ln 1, ln 3) = (1/4, 3/4), heights (1/2, 1/2), interior slope 2,
    -- on [-1, 1]: knots x = -1, -1 + 2(m + (1 - 2m)/4), 1 and y = -1, 0, 1 (m = 1e-3)
    local m = 1e-3
    local s0 = math.log(math.exp(1 - m) - 1)
    local d1 = 2.0
    local raw = {0, math.log(3), 0, 0, math.log(math.exp(d1 - m) - 1) - s0}
    local f = spline1d(2, 1.0, raw)
    local xk = -1 + 2 * (m + (1 - 2 * m) / 4)
    local x = -0.9
    local w, hgt = xk + 1, 1.0
    local s, xi = hgt / w, (x + 1) / w
    local expect = -1 + hgt * (s * xi ^ 2 + 1 * xi * (1 - xi)) / (s + (1 + d1 - 2 * s) * xi * (1 - xi))
    local slope = s ^ 2 * (d1 * xi ^ 2 + 2 * s * xi * (1 - xi) + (1 - xi) ^ 2) /
      (s + (1 + d1 - 2 * s) * xi * (1 - xi)) ^ 2
    local z, ld = f:forward(column{x})
    assert.is_true(math.abs(z:get(1, 1) - expect) < 1e-14)
    assert.is_true(math.abs(ld:get(1) - math.log(slope)) < 1e-13)
  end)

  it("inverse(forward(x)) = x to 1e-12, inside the interval and in the tails", function()
    local f = pf.flow.maf{dim = 3, context = 2, transforms = 4, hidden = 16, blocks = 2, seed = 3,
                          transform = "spline", bins = 8, bound = 2}
    local x = filled(2000, 3, 5, 2.0) -- ~1/3 of the coordinates beyond |x| = 2
    local c = filled(2000, 2, 6)
    local z, ld = f:forward(x, c)
    local xb, ldi = f:inverse(z, c)
    -- relative to the size of x and of ln|det|, and to the map's conditioning: where the
    -- flow contracts by e^ld (ld reaches -11 here), z's last bit is worth e^-ld of x
    for i = 1, 2000 do
      local cond = math.max(1, 1e-3 * math.exp(-ld:get(i)))
      for j = 1, 3 do
        local tol = 1e-12 * (1 + math.abs(x:get(i, j))) * cond
        assert.is_true(math.abs(xb:get(i, j) - x:get(i, j)) <= tol)
      end
      assert.is_true(math.abs(ld:get(i) + ldi:get(i)) <= 1e-12 * (1 + math.abs(ld:get(i))) * cond)
    end
    -- one spline alone, strongly shaped, the same way
    for seed = 1, 3 do
      local g = spline1d(8, 2, 3.0, seed)
      local xs = pf.qmc.sobol(5000, 1, {seed = seed}):mul(6):sub(3)
      local zs, l1 = g:forward(xs)
      local back, l2 = g:inverse(zs)
      for i = 1, 5000 do
        local cond = math.max(1, 1e-3 * math.exp(-l1:get(i)))
        assert.is_true(math.abs(back:get(i, 1) - xs:get(i, 1)) <= 1e-12 * (1 + math.abs(xs:get(i, 1))) * cond)
      end
      -- ln g' changes by up to ~1e3 per unit x in the narrowest bins, so the inverse's
      -- ln|det| is compared with the forward one at the point it returned
      local _, l3 = g:forward(back)
      assert.is_true((l3 + l2):abs():max() <= 1e-12 * (1 + l3:abs():max()))
    end
    local tails = 0
    for i = 1, 2000 do if math.abs(x:get(i, 1)) > 2 then tails = tails + 1 end end
    assert.is_true(tails > 200)
  end)

  it("the density integrates to 1 within 1e-3 (QMC over a box holding all but 1e-6)", function()
    -- 1-D, a strongly shaped spline (bins from the minimum width up): identity tails beyond
    -- |y| = 2 and a standard normal base, so [-7, 7] misses ~3e-12 of the mass
    for seed = 1, 3 do
      local g = spline1d(8, 2, 4.0, seed)
      local n = 2 ^ 16
      local y = pf.qmc.sobol(n, 1, {seed = 1}):mul(14):sub(7)
      local integral = g:log_prob(y):exp():sum() / n * 14
      assert.is_true(math.abs(integral - 1) < 1e-3)
    end
    -- 2-D with a context, as initialised; [-8, 8]^2 misses ~1e-15 of the base's mass
    local f = pf.flow.maf{dim = 2, context = 1, transforms = 2, hidden = 8, blocks = 1, seed = 2,
                          transform = "spline", bins = 8, bound = 3}
    local L, n = 8, 2 ^ 20
    local u = pf.qmc.sobol(n, 2, {seed = 3})
    local y = u:mul(2 * L):sub(L)
    for _, c0 in ipairs{-0.7, 0.4} do
      local c = pf.array.zeros(n, 1):fill(c0)
      local integral = f:log_prob(y, c):exp():sum() / n * (2 * L) ^ 2
      assert.is_true(math.abs(integral - 1) < 1e-3)
    end
  end)

  it("samples have the log density log_prob gives them", function()
    local f = pf.flow.maf{dim = 3, context = 3, transforms = 3, hidden = 12, blocks = 1, seed = 4,
                          transform = "spline"}
    local x, lp = f:sample(200, {0.3, -0.2, 0.5}, {qmc = true, seed = 7})
    local c = pf.array.zeros(200, 3)
    for j, v in ipairs{0.3, -0.2, 0.5} do c:col(j):fill(v) end
    assert.is_true((f:log_prob(x, c) - lp):abs():max() < 1e-10)
  end)

  it("learns: training a spline flow lowers the validation NLL below the untrained one", function()
    local x = filled(3000, 2, 9, 1.0)
    -- a curved, bimodal target: (u, u^2 + noise) with u from two bumps
    for i = 1, 3000 do
      local u = x:get(i, 1) * 0.4 + (i % 2 == 0 and 1.2 or -1.2)
      x:set(i, 1, u)
      x:set(i, 2, u * u - 1 + 0.2 * x:get(i, 2))
    end
    local f = pf.flow.maf{dim = 2, transforms = 2, hidden = 16, blocks = 1, seed = 1,
                          transform = "spline"}
    local before = -f:log_prob(x):mean()
    local hist = pf.train(f, x, {max_epochs = 30, batch = 256, lr = 5e-3, seed = 1, patience = 30})
    assert.is_true(hist.best_val < before - 0.5)
  end)
end)

describe("spline transforms in the pipeline", function()
  it("flow.n_x / flow.p_v give one flow its own settings (a spline n(x), an affine p(v|x))", function()
    local o = pf.presets.get("test")
    pf.presets.set(o, "flow.n_x.transform", "spline")
    pf.presets.set(o, "flow.n_x.bins", "6")
    assert.are.same({transform = "spline", bins = 6}, o.flow.n_x)
    o.train.max_epochs = 1
    local sun = pf.geometry.SUN
    local x, v = filled(400, 3, 1, 0.8), filled(400, 3, 2, 30)
    for j = 1, 3 do x:col(j):assign(x:col(j):add(sun[j])) end
    local fn = pf.steps.flows.train_flow("n_x", x, v, o, 1, 1)
    local fp = pf.steps.flows.train_flow("p_v", x, v, o, 1, 1)
    assert.are.equal("spline", fn:config().transform)
    assert.are.equal(6, fn:config().bins)
    assert.are.equal("affine", fp:config().transform)
    assert.are.equal(o.flow.transforms, fn:config().transforms)
    -- a key outside the preset is still an error, inside the open group it is not
    assert.has_error(function() pf.presets.set(o, "flow.transfrom", "spline") end)
  end)
end)

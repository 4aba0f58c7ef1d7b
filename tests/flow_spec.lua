local pf = require "phaseflow"

local support = require "support"
local filled, relerr, check_gradient = support.filled, support.relerr, support.check_gradient

local archs = {
  {dim = 3, context = 0, transforms = 2, hidden = 6, blocks = 2, seed = 4},
  {dim = 3, context = 2, transforms = 3, hidden = 5, blocks = 1, seed = 5,
   preprocess = {input = {sphere = true, centre = {0.3, -0.2, 0.1}, radius = 4.0,
                          mean = {0.1, -0.2, 0.3}, std = {1.3, 0.7, 1.1}},
                 context = {mean = {0.5, -0.5}, std = {2.0, 0.5}}}},
  {dim = 2, context = 1, transforms = 2, hidden = 4, blocks = 0, seed = 6},
  {dim = 4, context = 3, transforms = 2, hidden = 7, blocks = 2, seed = 7,
   preprocess = {context = {sphere = true, centre = {1, 0, 0}, radius = 5}}},
  -- spline transforms, with a bound that leaves some of the test points in the tails
  {dim = 3, context = 2, transforms = 2, hidden = 6, blocks = 1, seed = 8,
   transform = "spline", bins = 5, bound = 1.2},
  {dim = 3, context = 2, transforms = 3, hidden = 5, blocks = 2, seed = 9, layers = "sas",
   bins = 4, bound = 2.5,
   preprocess = {input = {sphere = true, centre = {0.3, -0.2, 0.1}, radius = 4.0}}},
}

describe("pf.flow.maf", function()
  for ia, arch in ipairs(archs) do
    it("input, context and parameter gradients match finite differences (arch " .. ia .. ")", function()
      local f = pf.flow.maf(arch)
      local n = 4
      local x = filled(n, arch.dim, 10 + ia, 0.8)
      local c = arch.context > 0 and filled(n, arch.context, 20 + ia, 0.8) or nil
      local gx, gc = f:grad_log_prob(x, c)
      local h = 1e-5
      local function lp() return f:log_prob(x, c) end
      assert.is_true(check_gradient(lp, x, gx, h) < 1e-6)
      if c then assert.is_true(check_gradient(lp, c, gc, h) < 1e-6) end
      -- every parameter: gradient of the mean NLL
      f:nll_grad(x, c)
      local g = f:grad()
      local p = f:params()
      local mask = f:mask()
      for k = 1, p:size() do
        if mask:get(k) == 0 then assert.are.equal(0, g:get(k)) end
      end
      local function nll(q) f:set_params(q); return -f:log_prob(x, c):mean() end
      local worst = check_gradient(nll, p, g, h, {keep = function(k) return mask:get(k) ~= 0 end})
      f:set_params(p)
      assert.is_true(worst < 1e-6)
    end)
  end

  it("inverse(forward(x)) = x and log-dets cancel", function()
    for _, a in ipairs{archs[2], archs[5], archs[6]} do
      local f = pf.flow.maf(a)
      local x = filled(300, 3, 3, 0.9)
      local c = filled(300, 2, 4)
      local z, ld = f:forward(x, c)
      local xb, ldi = f:inverse(z, c)
      assert.is_true((xb - x):abs():max() < 1e-10)
      assert.is_true((ld + ldi):abs():max() < 1e-10)
    end
  end)

  it("inverse through the degree-truncated sub-networks matches forward (D = 1, 3, 5)", function()
    for _, d in ipairs{1, 3, 5} do
      local f = pf.flow.maf{dim = d, context = 2, transforms = 3, hidden = 16, blocks = 2,
                            seed = 30 + d}
      local x = filled(300, d, 40 + d, 0.9)
      local c = filled(300, 2, 50 + d)
      local z, ld = f:forward(x, c)
      local xb, ldi = f:inverse(z, c)
      assert.is_true((xb - x):abs():max() < 1e-10)
      assert.is_true((ld + ldi):abs():max() < 1e-10)
    end
  end)

  it("GELU: the vector and scalar kernels agree bit for bit and match known values", function()
    local n = 1003 -- not a multiple of the vector block: exercises the tail
    local h = pf.array.zeros(n)
    pf.rng.new(77):fill_normal(h, 0, 6)
    h:set(1, 0); h:set(2, -0.0); h:set(3, 37.0); h:set(4, -37.0); h:set(5, -38.5)
    h:set(6, 1.0); h:set(7, -1.0)
    -- beyond |h| = 8 the full Mills polynomial replaces the short one, lane by lane
    h:set(8, -9.0); h:set(9, -8.5); h:set(10, 8.25); h:set(11, 7.9); h:set(12, -8.0)
    local a1, d1, p1 = pf.core.flow.gelu(h, {path = "scalar"})
    local a2, d2, p2 = pf.core.flow.gelu(h, {path = "avx2"})
    local a0 = pf.core.flow.gelu(h)
    assert.are.equal("scalar", p1)
    assert.is_true(p2 == "avx2" or p2 == "scalar")
    for i = 1, n do
      assert.are.equal(a1:get(i), a2:get(i))
      assert.are.equal(d1:get(i), d2:get(i))
      assert.are.equal(a1:get(i), a0:get(i))
    end
    -- gelu(1) = Phi(1), gelu'(1) = Phi(1) + phi(1); 40-digit values
    local Phi1, phi1 = 0.8413447460685429486, 0.2419707245191433498
    assert.is_true(math.abs(a1:get(6) - Phi1) <= 1e-15 * Phi1)
    assert.is_true(math.abs(d1:get(6) - (Phi1 + phi1)) <= 1e-15 * (Phi1 + phi1))
    -- gelu(-1) = -(1 - Phi(1)) = -0.158655..., relative error ~1e-15
    assert.is_true(math.abs(a1:get(7) + 0.1586552539314570514) <= 1e-15 * 0.1587)
    assert.are.equal(0, a1:get(1)); assert.is_true(math.abs(d1:get(1) - 0.5) <= 1e-15)
    assert.are.equal(37.0, a1:get(3)); assert.are.equal(0, a1:get(5))
    -- tails (40-digit values): gelu(-9), gelu'(-9), gelu(-8.5), gelu'(-8.5), gelu(8.25)
    assert.is_true(math.abs(a1:get(8) + 1.015729565358456583e-18) <= 2e-15 * 1.0157e-18)
    assert.is_true(math.abs(d1:get(8) + 9.138937373906639251e-18) <= 2e-15 * 9.139e-18)
    assert.is_true(math.abs(a1:get(9) + 8.057604598872820601e-17) <= 2e-15 * 8.058e-17)
    assert.is_true(math.abs(d1:get(9) + 6.84650493869708435e-16) <= 2e-15 * 6.847e-16)
    assert.is_true(math.abs(a1:get(10) - 8.2499999999999993466) <= 1e-15 * 8.25)
    -- the core polynomials (|h| <= 3) and the general formula meet at |h| = 3 without a
    -- step: 40-digit gelu and gelu' on both sides of +-3, and inside the core
    local pts = {
      {2.9999999999999996, 2.995950305905109267, 1.0119456472041839408},
      {3.0000000000000004, 2.9959503059051101658, 1.0119456472041839132},
      {-2.9999999999999996, -0.0040496940948902888849, -0.011945647204183940777},
      {-3.0000000000000004, -0.004049694094890278275, -0.011945647204183913223},
      {0.3, 0.18537342665668578306, 0.7323277668271098549},
      {-2.5, -0.015524163314440337917, -0.037611085908145208238},
      {1.7, 1.6242387133104767833, 1.1153179687821647336},
    }
    local hp = pf.array.zeros(#pts)
    for i, q in ipairs(pts) do hp:set(i, q[1]) end
    for _, path in ipairs{"scalar", "avx2"} do
      local ap, dp = pf.core.flow.gelu(hp, {path = path})
      for i, q in ipairs(pts) do
        -- absolute errors on the scale max(1, |h|): what the next layer's sum sees
        assert.is_true(math.abs(ap:get(i) - q[2]) <= 5e-16 * math.max(1, math.abs(q[1])))
        assert.is_true(math.abs(dp:get(i) - q[3]) <= 5e-16)
      end
    end
    assert.has_error(function() pf.core.flow.gelu(h, {path = "sse"}) end)
    assert.has_error(function() pf.core.flow.gelu(h, {paht = "avx2"}) end)
  end)

  it("log-determinant equals a brute-force Jacobian determinant", function()
   for _, a in ipairs{archs[2], archs[6]} do
    local f = pf.flow.maf(a)
    local x = filled(1, 3, 9, 0.7)
    local c = filled(1, 2, 8)
    local _, ld = f:forward(x, c)
    local cols = support.fd_gradient(function() return (f:forward(x, c)) end, x, 1e-6)
    local J = {}
    for i = 1, 3 do J[i] = {cols[1]:get(1, i), cols[2]:get(1, i), cols[3]:get(1, i)} end
    local det = J[1][1] * (J[2][2] * J[3][3] - J[2][3] * J[3][2])
      - J[1][2] * (J[2][1] * J[3][3] - J[2][3] * J[3][1])
      + J[1][3] * (J[2][1] * J[3][2] - J[2][2] * J[3][1])
    assert.is_true(math.abs(math.log(math.abs(det)) - ld:get(1)) < 1e-7)
   end
  end)

  it("a MADE is autoregressive: input i changes only outputs > i", function()
    local f = pf.flow.maf{dim = 4, context = 2, transforms = 1, hidden = 9, blocks = 2, seed = 2}
    local x = filled(1, 4, 1)
    local c = filled(1, 2, 2)
    local o = f:made(1, x, c)
    for i = 1, 4 do
      local x2 = x:copy()
      x2:set(1, i, x:get(1, i) + 0.731)
      local o2 = f:made(1, x2, c)
      for d = 1, 4 do
        for _, col in ipairs{d, d + 4} do
          local changed = o2:get(1, col) ~= o:get(1, col)
          assert.are.equal(d > i, changed)
        end
      end
    end
  end)

  it("the density with the sphere map integrates to 1 over the ball (QMC)", function()
    local R = 2.5
    local f = pf.flow.maf{dim = 3, transforms = 2, hidden = 8, seed = 3,
      preprocess = {input = {sphere = true, centre = {8, 0, 0}, radius = R,
                             mean = {0.1, 0, -0.1}, std = {0.9, 1.1, 1.0}}}}
    -- sample uniformly in the cube around the ball, importance = volume
    local n = 262144
    local u = pf.qmc.sobol(n, 3, {seed = 5})
    local x = u:mul(2 * R):sub(R)
    x:col(1):assign(x:col(1):add(8))
    local p = f:log_prob(x):exp()
    local integral = p:sum() / n * (2 * R) ^ 3
    assert.is_true(math.abs(integral - 1) < 0.01)
    -- outside the ball: log p = -inf
    local out = pf.array.from{{8 + R * 1.01, 0, 0}}
    assert.are.equal(-math.huge, f:log_prob(out):get(1))
  end)

  it("p(v|x) integrates to 1 over v at several x", function()
    local f = pf.flow.maf{dim = 3, context = 3, transforms = 2, hidden = 8, seed = 8}
    local L = 9
    local n = 32768
    local u = pf.qmc.sobol(n, 3, {seed = 2})
    local v = u:mul(2 * L):sub(L)
    for _, x0 in ipairs{{0.2, -0.4, 0.9}, {1.5, 0.3, -0.7}} do
      local c = pf.array.zeros(n, 3)
      for j = 1, 3 do c:col(j):fill(x0[j]) end
      local integral = f:log_prob(v, c):exp():sum() / n * (2 * L) ^ 3
      assert.is_true(math.abs(integral - 1) < 0.01)
    end
  end)

  it("samples: log p returned equals log_prob; QMC seeds reproduce", function()
    local f = pf.flow.maf{dim = 3, context = 2, transforms = 2, hidden = 8, seed = 1}
    local x, lp = f:sample(50, {0.5, -1.5}, {qmc = true, seed = 4})
    local c = pf.array.zeros(50, 2); c:col(1):fill(0.5); c:col(2):fill(-1.5)
    assert.is_true((f:log_prob(x, c) - lp):abs():max() < 1e-10)
    local x2 = f:sample(50, {0.5, -1.5}, {qmc = true, seed = 4})
    assert.are.equal(0, (x - x2):abs():max())
    local x3 = f:sample(50, {0.5, -1.5}, {seed = 4})
    assert.is_true((x - x3):abs():max() > 0.01)
  end)

  it("one context shared by every row gives what per-row contexts give", function()
    -- a block whose context rows are all equal folds the context into the biases once;
    -- appending one row with another context forces the per-row path for the same rows
    for _, arch in ipairs{archs[2], archs[4], archs[5],
                          {dim = 3, context = 3, transforms = 2, hidden = 64, blocks = 2, seed = 9}} do
      local f = pf.flow.maf(arch)
      local n, C = 6, arch.context
      local x = filled(n + 1, arch.dim, 31, 0.5)
      local c = pf.array.zeros(n + 1, C)
      for j = 1, C do c:col(j):fill(0.1 * j - 0.15) end
      c:set(n + 1, 1, 0.9)
      local lp_mixed = f:log_prob(x, c)
      local gx_mixed, gc_mixed = f:grad_log_prob(x, c)
      local z = filled(n + 1, arch.dim, 32)
      local xs_mixed = f:inverse(z, c)
      local xs, cs, zs = pf.array.zeros(n, arch.dim), pf.array.zeros(n, C), pf.array.zeros(n, arch.dim)
      for i = 1, n do
        for j = 1, arch.dim do xs:set(i, j, x:get(i, j)); zs:set(i, j, z:get(i, j)) end
        for j = 1, C do cs:set(i, j, c:get(i, j)) end
      end
      local lp = f:log_prob(xs, cs)
      local gx, gc = f:grad_log_prob(xs, cs)
      local xi = f:inverse(zs, cs)
      for i = 1, n do
        assert.is_true(math.abs(lp:get(i) - lp_mixed:get(i)) <= 1e-13 * (1 + math.abs(lp:get(i))))
        for j = 1, arch.dim do
          assert.is_true(math.abs(gx:get(i, j) - gx_mixed:get(i, j)) <= 1e-12)
          assert.is_true(math.abs(xi:get(i, j) - xs_mixed:get(i, j)) <= 1e-12)
        end
        for j = 1, C do assert.is_true(math.abs(gc:get(i, j) - gc_mixed:get(i, j)) <= 1e-12) end
      end
      -- and the shared-context path itself matches finite differences in the context
      -- (a shift of context column j moves every row: the context stays shared)
      local function lp_shifted(d)
        local cd = pf.array.zeros(n, C)
        for i = 1, n do
          for k = 1, C do cd:set(i, k, cs:get(i, k) + d[k]) end
        end
        return f:log_prob(xs, cd)
      end
      local zero = {}
      for k = 1, C do zero[k] = 0 end
      local fd = support.fd_gradient(lp_shifted, zero, 1e-5)
      for j = 1, C do
        for i = 1, n do assert.is_true(relerr(fd[j]:get(i), gc:get(i, j)) < 1e-6) end
      end
    end
  end)

  it("the packed-kernel and OpenBLAS paths (PHASEFLOW_MAF_GEMM=blas) give the same numbers", function()
    -- log p, its input and context gradients, samples and a training gradient, printed
    -- to 17 digits by two processes that differ only in the environment variable
    local script = [[
      local pf = require "phaseflow"
      local out = {}
      for _, kind in ipairs{"affine", "spline"} do
        local f = pf.flow.maf{dim = 3, context = 2, transforms = 3, hidden = 24, blocks = 2, seed = 4,
                              transform = kind}
        local x, c = pf.array.zeros(37, 3), pf.array.zeros(37, 2)
        pf.rng.new(1):fill_normal(x); pf.rng.new(2):fill_normal(c)
        local gx, gc = f:grad_log_prob(x, c)
        for _, a in ipairs{f:log_prob(x, c), gx, gc, f:inverse(x, c), f:nll_grad(x, c) and f:grad()} do
          for _, v in ipairs(a:reshape(-1):totable()) do out[#out + 1] = ("%.17g"):format(v) end
        end
      end
      print(table.concat(out, " "))
    ]]
    local function run(env)
      local out, rc = support.phaseflow({"-e", script}, env)
      assert.are.equal(0, rc, out)
      local v = {}
      for w in out:gmatch("%S+") do v[#v + 1] = tonumber(w) end
      return v
    end
    local a, b = run(""), run("PHASEFLOW_MAF_GEMM=blas")
    assert.are.equal(#a, #b)
    assert.is_true(#a > 1000)
    local worst = 0
    for i = 1, #a do worst = math.max(worst, math.abs(a[i] - b[i]) / math.max(1, math.abs(b[i]))) end
    assert.is_true(worst < 1e-12)
  end)

  it("log p, its gradients and samples are bit-identical for 1, 2 and 3 threads", function()
    -- rows are independent of the block they fall in, and blocks of 300 rows split
    -- differently over 1, 2 and 3 threads (256 + 44, 152 + 148, 100 x 3)
    local script = [[
      local pf = require "phaseflow"
      local out = {}
      for _, kind in ipairs{"affine", "spline"} do
        local f = pf.flow.maf{dim = 3, context = 3, transforms = 3, hidden = 24, blocks = 2, seed = 4,
                              transform = kind}
        local x, c = pf.array.zeros(300, 3), pf.array.zeros(300, 3)
        pf.rng.new(1):fill_normal(x); pf.rng.new(2):fill_normal(c)
        local c1 = pf.array.zeros(300, 3)
        for j = 1, 3 do c1:col(j):fill(c:get(1, j)) end
        local gx, gc = f:grad_log_prob(x, c)
        for _, a in ipairs{f:log_prob(x, c), gx, gc, f:inverse(x, c), f:inverse(x, c1)} do
          for _, v in ipairs(a:reshape(-1):totable()) do out[#out + 1] = ("%a"):format(v) end
        end
      end
      print(table.concat(out, " "))
    ]]
    local outs = {}
    for t = 1, 3 do
      local out, rc = support.phaseflow({"-e", script}, "OMP_NUM_THREADS=" .. t)
      assert.are.equal(0, rc, out)
      outs[t] = out
    end
    assert.is_true(#outs[1] > 10000)
    assert.are.equal(outs[1], outs[2])
    assert.are.equal(outs[1], outs[3])
  end)

  it("a non-finite input or context is an argument error naming the row, not a NaN result", function()
    local f = pf.flow.maf{dim = 3, context = 2, transforms = 1, hidden = 4, blocks = 0, seed = 1}
    local x, c = filled(5, 3, 1), filled(5, 2, 2)
    local bx = x:copy()
    bx:set(4, 2, 0 / 0)
    assert.has_error(function() f:log_prob(bx, c) end,
      ("bad argument #1 to 'log_prob' (row 4 has a non-finite value (%g in column 2))"):format(0 / 0))
    local bc = c:copy()
    bc:set(2, 1, math.huge)
    assert.has_error(function() f:grad_log_prob(x, bc) end,
      "bad argument #2 to 'grad_log_prob' (row 2 has a non-finite value (inf in column 1))")
    assert.has_error(function() f:inverse(bx, c) end)
  end)

  it("save/load round trip is bit-identical (affine, spline and mixed stacks)", function()
    local file = os.tmpname() .. ".h5"
    local x = filled(20, 3, 1, 0.5)
    local c = filled(20, 2, 2)
    for i, a in ipairs{archs[5], archs[6], archs[2]} do
      local f = pf.flow.maf(a)
      f:save(file, "/flows/f" .. i)
      local g = pf.flow.load(file, "/flows/f" .. i)
      assert.are.equal(0, (f:log_prob(x, c) - g:log_prob(x, c)):abs():max())
      assert.are.same(f:config(), g:config())
      -- the file says which family it holds
      local _, attrs = pf.h5.read(file, "/flows/f" .. i .. "/params")
      assert.are.equal(({"spline", "mixed", "affine"})[i], attrs.transform)
    end
    local f = pf.flow.maf(archs[2])
    f:save(file, "/flows/p_v")
    assert.has_error(function() pf.flow.load(file, "/flows/missing") end)
    assert.has_error(function() pf.flow.load(file, "flows/p_v") end,
                     "pf.flow.load: group path must be absolute (start with '/'), got 'flows/p_v'")
    assert.has_error(function() pf.flow.load(file .. ".none", "/flows/p_v") end)
    os.remove(file)
  end)

  it("a damaged flow file is a clean error naming the file, never a crash or a Lua error", function()
    -- cases the flow-loader fuzzer (tests/fuzz/fuzz_flow.c) met: architecture attributes
    -- out of range or of the wrong type, preprocessing of the wrong size or not finite,
    -- an ensemble whose member count is not a number
    local file = os.tmpname() .. ".h5"
    local function fresh()
      os.remove(file)
      local f = pf.flow.maf{dim = 2, context = 1, transforms = 2, hidden = 4, blocks = 1, seed = 3}
      f:save(file, "/f")
    end
    local cases = {
      {"/f/params", {dim = -1}, "attribute 'dim' is -1, not an integer in 1..4096"},
      {"/f/params", {hidden = 4294967304}, "attribute 'hidden' is 4294967304, not an integer in 1..65536"},
      {"/f/params", {blocks = 2.5}, "attribute 'blocks' is 2.5, not an integer in 0..256"},
      {"/f/params", {transforms = "two"}, "attribute 'transforms' is two, not an integer"},
      {"/f/params", {hidden = 60000}, "holds 160 parameters, its architecture needs more than 7200840000"},
      {"/f/params", {transform = "cubic"}, "attribute 'transform' is cubic, not affine, spline or mixed"},
      {"/f/params", {transform = "mixed", layers = "a"}, "attribute 'layers' must be a string of 2 letters"},
      {"/f/params", {transform = "mixed", layers = "xy"}, "its architecture is refused (pf.flow.maf: maf: layers"},
      {"/f/params", {bound = -1, transform = "spline"}, "attribute 'bound' is -1, not a positive finite number"},
      {"/f/params", {blocks = 0}, "holds 160 parameters, its architecture needs 72"},
    }
    for _, c in ipairs(cases) do
      fresh()
      pf.h5.set_attrs(file, c[1], c[2])
      local ok, err = pcall(pf.flow.load, file, "/f")
      assert.is_false(ok)
      assert.matches("pf.flow.load: '/f' in " .. file, err, 1, true)
      assert.matches(c[3], err, 1, true)
    end
    local prep = {
      {"mean", pf.array.from{1, 2, 3}, "'/f/prep_input/mean' holds 3 values, expected 2"},
      {"std", pf.array.from{1, 0 / 0}, "'/f/prep_input/std' holds a value that is not finite"},
      {"std", pf.array.from{1, 0}, "'/f/prep_input/std' holds a value <= 0"},
      {"centre", pf.array.from{0, math.huge, 0}, "'/f/prep_input/centre' holds a value that is not finite"},
    }
    for _, c in ipairs(prep) do
      fresh()
      pf.h5.write(file, "/f/prep_input/" .. c[1], c[2])
      local ok, err = pcall(pf.flow.load, file, "/f")
      assert.is_false(ok)
      assert.matches(c[3], err, 1, true)
      assert.matches(file, err, 1, true)
    end
    fresh()
    pf.h5.set_attrs(file, "/f/prep_input/centre", {sphere = 1}) -- a 2-D flow: no sphere map
    assert.matches("its input preprocessing is refused (flow:set_prep: maf: the sphere map needs",
      select(2, pcall(pf.flow.load, file, "/f")), 1, true)
    fresh()
    pf.h5.set_attrs(file, "/f/prep_input/centre", {radius = -1})
    assert.matches("radius %-1, not a finite number >= 0", select(2, pcall(pf.flow.load, file, "/f")))
    os.remove(file)
    local e = pf.flow.ensemble{members = {pf.flow.maf{dim = 2, transforms = 1, hidden = 3, seed = 5}}}
    e:save(file, "/e")
    pf.h5.set_attrs(file, "/e", {members = "x"})
    assert.matches("ensemble '/e' in " .. file .. ": attribute 'members' is x, not an integer >= 1",
      select(2, pcall(pf.flow.load, file, "/e")), 1, true)
    pf.h5.set_attrs(file, "/e", {members = 2})
    assert.matches("ensemble '/e' in " .. file .. " lacks member 2 of 2",
      select(2, pcall(pf.flow.load, file, "/e")), 1, true)
    os.remove(file)
  end)

  it("same seed gives the same parameters; different seeds differ", function()
    local a = pf.flow.maf{dim = 3, seed = 5}:params()
    local b = pf.flow.maf{dim = 3, seed = 5}:params()
    local c = pf.flow.maf{dim = 3, seed = 6}:params()
    assert.are.equal(0, (a - b):abs():max())
    assert.is_true((a - c):abs():max() > 0)
  end)

  it("rejects bad arguments", function()
    local f = pf.flow.maf{dim = 3, context = 2, transforms = 1, hidden = 4}
    assert.has_error(function() f:log_prob(pf.array.zeros(3, 2), pf.array.zeros(3, 2)) end)
    assert.has_error(function() f:log_prob(pf.array.zeros(3, 3)) end)
    assert.has_error(function() f:log_prob(pf.array.zeros(3, 3), pf.array.zeros(2, 2)) end)
    assert.has_error(function() pf.flow.maf{dim = 0} end)
    assert.has_error(function() pf.flow.maf{dim = 3, hiden = 3} end)
    -- an integer beyond the C int range is refused, not wrapped (2^32 + 8 would give 8)
    local ok, err = pcall(pf.flow.maf, {dim = 3, hidden = 4294967304})
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("option 'hidden': 4294967304 is out of range", 1, true), err)
    assert.has_error(function() pf.flow.maf{dim = 3, transform = "rqs"} end,
                     "pf.flow.maf: transform 'rqs' (affine or spline expected)")
    assert.has_error(function() pf.flow.maf{dim = 3, transforms = 2, layers = "sx"} end)
    assert.has_error(function() pf.flow.maf{dim = 3, transforms = 2, layers = "sas"} end)
    assert.has_error(function() pf.flow.maf{dim = 3, transform = "spline", bins = 1} end)
    assert.has_error(function() pf.flow.maf{dim = 3, transform = "spline", bound = -1} end)
    assert.has_error(function() f:set_prep("input", {sphere = true, radius = -1}) end)
    assert.has_error(function() f:set_prep("input", {std = {1, 0, 1}}) end)
    assert.has_error(function() f:set_params(pf.array.zeros(3)) end)
    local g = pf.flow.maf{dim = 3, transforms = 1, hidden = 4}
    assert.has_error(function() g:log_prob(pf.array.zeros(3, 3), pf.array.zeros(3, 1)) end)
    f:free()
    assert.has_error(function() f:log_prob(pf.array.zeros(3, 3), pf.array.zeros(3, 2)) end)
  end)
end)

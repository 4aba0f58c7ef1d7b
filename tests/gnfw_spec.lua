-- pf.gnfw: the profile, the C and Lua posteriors, the fit on synthetic data.
local pf = require "phaseflow"
local support = require "support"
local g = pf.gnfw

describe("pf.gnfw", function()
  it("evaluates the generalized NFW profile", function()
    -- x = r/rs = 2.385/3.5; rho0 x^-beta (1+x)^(beta-3)
    local x = 2.385 / 3.5
    assert.near(30 * x ^ -1.2 * (1 + x) ^ (1.2 - 3), g.density(2.385, 30, 3.5, 1.2), 1e-12)
    -- beta = 1 is NFW
    local r = pf.array.from{1, 8}
    local d = g.density(r, 10, 2, 1)
    assert.near(10 / (0.5 * 1.5 ^ 2), d:get(1), 1e-12)
    assert.near(10 / (4 * 5 ^ 2), d:get(2), 1e-12)
  end)

  local r = pf.array.linspace(1.0, 8.0, 15)
  local truth = {30, 3.5, 1.0}
  local rho = g.density(r, truth[1], truth[2], truth[3])
  local sigma = rho * 0.1
  -- noisy synthetic data, seeded
  local noise = pf.rng.new(17):normal(15)
  local obs = rho + sigma * noise
  local pts = {r = r, rho = obs, sigma = sigma}

  it("C posterior and Lua posterior agree up to the priors' constants", function()
    local m = g.model(pts)
    local f = g.logpost_lua(pts)
    local x = pf.array.from{{30, 3.5, 1.0}, {12.5, 7.1, 0.3}, {80, 1.2, 2.2}, {30, 3.5, -0.1},
      {250, 3, 1}, {30, 0, 1}}
    local c, l = m:logpost(x), f(x)
    local k = l[1] - c:get(1)
    for i = 2, 3 do assert.near(k, l[i] - c:get(i), 1e-9) end
    for i = 4, 6 do
      assert.equal(-math.huge, c:get(i))
      assert.equal(-math.huge, l[i])
    end
    -- the Gaussian likelihood by hand at the truth (C drops no data constant)
    local chi2 = 0
    for i = 1, 15 do chi2 = chi2 + noise:get(i) ^ 2 end
    local prior_c = -0.5 * ((30 - 40) / 80) ^ 2 - 0.5 * ((1 - 2) / 2) ^ 2
    assert.near(prior_c - 0.5 * chi2, c:get(1), 1e-9)
  end)

  it("the posterior covers the input parameters (C path)", function()
    local fit = g.fit(pts, {walkers = 32, steps = 6000, burn = 1500, seed = 3})
    for j, name in ipairs(g.names) do
      -- inside a generous 3-sigma band built from the 16/84 percentiles
      local lo = fit.median[name] - 3 * (fit.median[name] - fit.p16[name])
      local hi = fit.median[name] + 3 * (fit.p84[name] - fit.median[name])
      assert.is_true(truth[j] > lo and truth[j] < hi,
        ("%s: truth %g outside [%g, %g]"):format(name, truth[j], lo, hi))
      assert.is_true(fit.p16[name] < fit.median[name] and fit.median[name] < fit.p84[name])
    end
    -- the MAP point has the highest stored log-posterior, and it fits the data
    local m = g.model(pts)
    local lp = m:logpost(pf.array.from{{fit.map.rho0, fit.map.rs, fit.map.beta}}):get(1)
    assert.near(fit.map_log_post, lp, 1e-9)
    assert.is_true(lp > m:logpost(pf.array.from{truth}):get(1) - 1e-9)
  end)

  it("the Lua path with the same priors samples the same posterior", function()
    local fc = g.fit(pts, {steps = 1500, burn = 300, seed = 8})
    local fl = g.fit(pts, {steps = 1500, burn = 300, seed = 8, prior = g.priors()})
    -- same seed, same start, log-posteriors differing by a constant: the same chain
    local a, b = fc.result.chain, fl.result.chain
    local n = 0
    for i = 1, 1200, 97 do
      for w = 1, 32, 5 do
        for j = 1, 3 do
          n = n + 1
          assert.near(a:get(i, w, j), b:get(i, w, j), 1e-8 * math.abs(a:get(i, w, j)) + 1e-12)
        end
      end
    end
    assert.is_true(n > 100)
  end)

  it("reads points from CSV and HDF5, with clear errors", function()
    local csv = support.tempfile("r_kpc, rho, sigma\n# a comment\n1.0, 2.5, 0.3\n2.0,1.5,0.2\n", ".csv")
    local p = g.read_points(csv)
    assert.same({1.0, 2.0}, p.r:totable())
    assert.same({0.3, 0.2}, p.sigma:totable())
    local bad = support.tempfile("r, rho, sigma\n1, 2, 3\n", ".csv")
    local ok, err = pcall(g.read_points, bad)
    assert.is_false(ok)
    assert.matches("has no column 'r_kpc'", err)
    local h = os.tmpname() .. ".h5"
    pf.h5.write(h, "/dm/r_kpc", p.r)
    pf.h5.write(h, "/dm/rho", p.rho)
    pf.h5.write(h, "/dm/sigma", p.sigma)
    local q = g.read_points(h, "/dm")
    assert.same(p.rho:totable(), q.rho:totable())
    assert.has_error(function() g.priors{rho_mu = 3} end, "pf.gnfw.priors: unknown prior setting 'rho_mu'")
    os.remove(csv); os.remove(bad); os.remove(h)
  end)
end)

describe("scripts/fit-gnfw.lua", function()
  local csv = support.tempfile("r_kpc,rho,sigma\n6,1.2,0.2\n8,0.9,0.15\n10,0.6,0.1\n", ".csv")
  teardown(function() os.remove(csv) end)

  it("fits, prints the posterior and writes the corner-plot data whole", function()
    local out = os.tmpname() .. ".h5"
    local text, rc = support.phaseflow({"../scripts/fit-gnfw.lua", csv, out, "steps=300", "walkers=8", "seed=3"})
    assert.are.equal(0, rc, text)
    assert.matches("gNFW fit of 3 points: 8 walkers x 300 steps", text)
    local s = pf.h5.read(out, "/gnfw/samples")
    assert.are.equal(3, select(2, s:shape()))
    assert.is_true(s:isfinite():min() == 1)
    assert.is_nil(io.open(out .. ".part"))
    assert.are.equal(3, pf.h5.attrs(out, "/gnfw").seed)
    os.remove(out)
  end)

  it("a command-line mistake exits with status 2 and the usage; a bad walker count names the rule", function()
    for _, case in ipairs{
      {{}, "POINTS and optionally OUT.h5 expected, got 0 argument(s)", 2},
      {{csv, "x.h5", "walker=8"}, "unknown option 'walker' (known: seed, steps, walkers)", 2},
      {{csv, "x.h5", "steps=0"}, "steps must be a positive integer", 2},
      {{csv, "x.h5", "walkers=5", "steps=10"}, "pf.mcmc.sampler: mcmc: walkers must be even and >= 6", 1},
    } do
      local args = {"../scripts/fit-gnfw.lua"}
      for _, a in ipairs(case[1]) do args[#args + 1] = a end
      local text, rc = support.phaseflow(args)
      assert.are.equal(case[3], rc, text)
      assert.is_truthy(text:find(case[2], 1, true), text)
      assert.is_falsy(text:find("traceback", 1, true), text)
    end
  end)
end)

-- pf.coords: Gaia observables <-> the paper's Galactocentric frame, covariances and
-- smearing. Reference values come from astropy (fixtures/make_coords.py).
local pf = require "phaseflow"
local support = require "support"
local A = pf.array
local fx = dofile("fixtures/coords_astropy.lua")

local OBS = {"ra", "dec", "parallax", "pmra", "pmdec", "radial_velocity"}

local function cat_of(t)
  local c = {}
  for k, v in pairs(t) do
    if type(v) == "table" then c[k] = A.from(v) else c[k] = v end
  end
  return c
end

-- largest |a - b| / scale over a list of values (a: pf.array, b: Lua list)
local function worst(a, b, scale)
  local w = 0
  local flat = a:reshape(a:size())
  for i = 1, #b do
    local s = scale and scale(i) or math.max(math.abs(b[i]), 1e-300)
    w = math.max(w, math.abs(flat:get(i) - b[i]) / s)
  end
  return w
end

-- scale of row i of a flat N x 3 list: the norm of the 3-vector
local function rownorm(list)
  return function(i)
    local r = (i - 1) // 3
    local s = 0
    for k = 1, 3 do s = s + list[3 * r + k] ^ 2 end
    return math.sqrt(s)
  end
end

local function tri(i, j) -- 1-based slot of (i, j), i <= j, in the 21 packing
  if i > j then i, j = j, i end
  i, j = i - 1, j - 1
  return i * 6 - i * (i - 1) // 2 + j - i + 1
end

describe("pf.coords against astropy", function()
  local f = fx.forward
  local g = pf.coords.galactocentric(cat_of{ra = f.ra, dec = f.dec, parallax = f.parallax,
    pmra = f.pmra, pmdec = f.pmdec, radial_velocity = f.radial_velocity})

  it("gives astropy's positions and velocities to 1e-9 (poles and RA 0/360 included)", function()
    assert.are.same({#f.ra, 3}, {g.x:shape()})
    assert.is_true(worst(g.x, f.x, rownorm(f.x)) < 1e-9)
    assert.is_true(worst(g.v, f.v, rownorm(f.v)) < 1e-9)
  end)

  it("gives astropy's cylindrical and spherical components", function()
    for _, k in ipairs{"R", "z", "r"} do
      assert.is_true(worst(g[k], f[k], function(i) return f.r[i] end) < 1e-9, k)
    end
    for _, k in ipairs{"phi", "theta"} do
      assert.is_true(worst(g[k], f[k], function() return math.pi end) < 1e-9, k)
    end
    local speed = function(i)
      local s = 0
      for c = 1, 3 do s = s + f.v[3 * (i - 1) + c] ^ 2 end
      return math.sqrt(s)
    end
    for _, k in ipairs{"v_R", "v_phi", "v_z", "v_r", "v_theta"} do
      assert.is_true(worst(g[k], f[k], speed) < 1e-9, k)
    end
  end)

  it("inverts astropy's Galactocentric points to its observables", function()
    local t = fx.inverse
    local n = #t.x // 3
    local o = pf.coords.observables(A.from(t.x):reshape(n, 3), A.from(t.v):reshape(n, 3))
    local dra = 0
    for i = 1, n do
      local d = math.abs(o.ra:get(i) - t.ra[i])
      dra = math.max(dra, math.min(d, 360 - d))
      assert.is_true(o.ra:get(i) >= 0 and o.ra:get(i) < 360)
    end
    assert.is_true(dra < 360 * 1e-9)
    assert.is_true(worst(o.dec, t.dec, function() return 90 end) < 1e-9)
    assert.is_true(worst(o.parallax, t.parallax) < 1e-9)
    local pm = function(i) return math.sqrt(t.pmra[i] ^ 2 + t.pmdec[i] ^ 2) end
    assert.is_true(worst(o.pmra, t.pmra, pm) < 1e-9)
    assert.is_true(worst(o.pmdec, t.pmdec, pm) < 1e-9)
    assert.is_true(worst(o.radial_velocity, t.radial_velocity,
      function(i) return math.abs(t.radial_velocity[i]) + 1 end) < 1e-9)
  end)
end)

describe("pf.coords frame", function()
  it("puts the Sun where the paper does", function()
    local x, v = pf.coords.sun()
    assert.is_true(math.abs(x:get(1) - math.sqrt(8.122 ^ 2 - 0.0208 ^ 2)) < 1e-14)
    assert.is_true(math.abs(x:get(2)) < 1e-15)
    assert.is_true(math.abs(x:get(3) - 0.0208) < 1e-15)
    assert.are.same({-12.9, -245.6, 7.78}, {v:get(1), v:get(2), v:get(3)})
    local x2, v2 = pf.coords.sun{galcen_distance = 8.275, z_sun = 0.0, galcen_v_sun = {11.1, 232.24, 7.25}}
    assert.is_true(math.abs(x2:get(1) - 8.275) < 1e-14 and math.abs(x2:get(3)) < 1e-15)
    assert.are.same({-11.1, -232.24, 7.25}, {v2:get(1), v2:get(2), v2:get(3)})
  end)

  it("sees the Galactic centre at its ICRS position, moving with the Sun's reflex", function()
    local o = pf.coords.observables(A.zeros(1, 3), A.zeros(1, 3))
    assert.is_true(math.abs(o.ra:get(1) - 266.4051) < 1e-10)
    assert.is_true(math.abs(o.dec:get(1) + 28.936175) < 1e-10)
    assert.is_true(math.abs(o.parallax:get(1) - 1 / 8.122) < 1e-14)
    -- reflex: the line-of-sight velocity is minus the Sun's along the line of sight, and
    -- the proper motion's size is the Sun's transverse speed / (K d)
    local xs, vs = pf.coords.sun()
    local los, v2 = 0, 0
    for k = 1, 3 do
      los = los + (-xs:get(k)) / 8.122 * vs:get(k)
      v2 = v2 + vs:get(k) ^ 2
    end
    assert.is_true(math.abs(o.radial_velocity:get(1) + los) < 1e-10)
    local pm = math.sqrt(o.pmra:get(1) ^ 2 + o.pmdec:get(1) ^ 2)
    assert.is_true(math.abs(pm - math.sqrt(v2 - los ^ 2) / (pf.coords.K * 8.122)) < 1e-10)
  end)

  it("inverse(forward) is the identity to 1e-10", function()
    local rng = {}
    local n = 500
    local c = {}
    for _, k in ipairs(OBS) do c[k] = A.zeros(n) end
    local s = 12345
    local function u() s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 end
    for i = 1, n do
      c.ra:set(i, 360 * u()); c.dec:set(i, math.deg(math.asin(2 * u() - 1)))
      c.parallax:set(i, 0.05 + 5 * u()); c.pmra:set(i, 80 * u() - 40)
      c.pmdec:set(i, 80 * u() - 40); c.radial_velocity:set(i, 400 * u() - 200)
    end
    c.ra:set(1, 0); c.dec:set(2, 89.9); c.dec:set(3, -89.9)
    local opts = {galcen_distance = 8.3, z_sun = 0.025, roll = 0.3, galcen_v_sun = {11, 240, 7}}
    local g = pf.coords.galactocentric(c, opts)
    local o = pf.coords.observables(g.x, g.v, opts)
    for _, k in ipairs(OBS) do
      local scale = ({ra = 360, dec = 90, pmra = 40, pmdec = 40, radial_velocity = 200})[k]
      local w = 0
      for i = 1, n do
        local d = math.abs(o[k]:get(i) - c[k]:get(i))
        if k == "ra" then d = math.min(d, 360 - d) end
        w = math.max(w, d / (scale or c[k]:get(i)))
      end
      assert.is_true(w < 1e-10, k .. " " .. w)
    end
    assert.is_nil(rng.x)
  end)

  it("turns NaN and non-positive parallaxes into NaN, not errors", function()
    local c = cat_of{ra = {10, 20, 30, 40}, dec = {5, 0 / 0, 7, 8}, parallax = {1.5, 1, 0, -0.3},
      pmra = {1, 1, 1, 1}, pmdec = {2, 2, 2, 2}, radial_velocity = {3, 3, 3, 3}}
    local g = pf.coords.galactocentric(c)
    assert.is_true(g.x:get(1, 1) == g.x:get(1, 1))
    for i = 2, 4 do
      for k = 1, 3 do
        assert.is_true(g.x:get(i, k) ~= g.x:get(i, k))
        assert.is_true(g.v:get(i, k) ~= g.v:get(i, k))
      end
      assert.is_true(g.R:get(i) ~= g.R:get(i))
    end
  end)

  it("names missing columns, bad shapes and bad options", function()
    local good = cat_of{ra = {1}, dec = {2}, parallax = {3}, pmra = {4}, pmdec = {5},
      radial_velocity = {6}}
    local c = cat_of{ra = {1}, dec = {2}, parallax = {3}, pmra = {4}, pmdec = {5}}
    assert.has_error(function() pf.coords.galactocentric(c) end,
      "galactocentric: catalogue has no column 'radial_velocity'")
    c.radial_velocity = A.from{1, 2}
    assert.has_error(function() pf.coords.galactocentric(c) end,
      "galactocentric: column 'radial_velocity' has 2 rows, expected 1 like 'ra'")
    c.radial_velocity = A.zeros(1, 1)
    assert.has_error(function() pf.coords.galactocentric(c) end,
      "galactocentric: column 'radial_velocity' must be 1-D, got 2 dimensions")
    c.radial_velocity = {6}
    assert.has_error(function() pf.coords.galactocentric(c) end,
      "galactocentric: column 'radial_velocity' must be a pf.array, got table")
    good.parallax_error = A.from{0.1}
    assert.has_error(function() pf.coords.galactocentric(good) end,
      "galactocentric: catalogue has some error columns but no 'ra_error'")
    assert.has_error(function() pf.coords.galactocentric(good, {cov = false, bogus = 1}) end)
    assert.has_error(function() pf.coords.galactocentric(good, {galcen_distance = -1, cov = false}) end,
      "galactocentric: galcen_distance must be > 0 kpc, got -1")
    assert.has_error(function() pf.coords.sun{galcen_v_sun = {1, 2}} end,
      "sun: option galcen_v_sun must be a table of 3 numbers (km/s)")
    assert.has_error(function() pf.coords.observables(A.zeros(2, 3), A.zeros(3, 3)) end)
    assert.has_error(function() pf.coords.observables(A.zeros(2, 2), A.zeros(2, 2)) end)
    assert.has_error(function() pf.coords.smear(good, {}) end,
      "smear: option seed (an integer) or rng (a pf.rng) is required")
    good.parallax_error = nil
    assert.has_error(function() pf.coords.smear(good, {seed = 1}) end,
      "smear: catalogue has no error columns ('ra_error', ...)")
  end)
end)

-- Stars with errors and correlations (parallax_over_error >= 40 so that the linear
-- propagation holds to well under the Monte Carlo's noise).
local function error_cat(n_copies, only)
  local base = {
    ra = {45.3, 266.0, 181.7}, dec = {20.2, -29.5, 72.4}, parallax = {2.385, 0.62, 1.17},
    pmra = {12.4, -3.1, -25.8}, pmdec = {-8.7, -5.4, 14.2}, radial_velocity = {35.2, -110.6, 7.9},
    ra_error = {0.021, 0.013, 0.030}, dec_error = {0.018, 0.011, 0.026},
    parallax_error = {0.024, 0.015, 0.029}, pmra_error = {0.028, 0.017, 0.034},
    pmdec_error = {0.025, 0.019, 0.031}, radial_velocity_error = {1.3, 2.7, 6.4},
    ra_dec_corr = {0.12, -0.31, 0.05}, ra_parallax_corr = {-0.21, 0.08, 0.33},
    ra_pmra_corr = {0.17, -0.05, -0.22}, ra_pmdec_corr = {0.04, 0.19, 0.11},
    dec_parallax_corr = {0.09, -0.27, 0.02}, dec_pmra_corr = {-0.13, 0.06, 0.18},
    dec_pmdec_corr = {0.24, -0.12, -0.07}, parallax_pmra_corr = {-0.18, 0.21, 0.15},
    parallax_pmdec_corr = {0.07, -0.09, -0.26}, pmra_pmdec_corr = {0.29, 0.14, -0.19},
  }
  local c = {}
  for k, list in pairs(base) do
    local parts = {}
    for s = 1, #list do
      if not only or s == only then parts[#parts + 1] = A.full(n_copies, list[s]) end
    end
    c[k] = A.concat(parts)
  end
  return c, #base.ra
end

describe("pf.coords covariances", function()
  it("builds the observables' covariance from errors and correlations", function()
    local c = error_cat(1)
    local g = pf.coords.galactocentric(c)
    assert.are.same({3, 21}, {g.cov_obs:shape()})
    local co = g.cov_obs
    assert.is_true(math.abs(co:get(1, tri(1, 1)) - 0.021 ^ 2) < 1e-18)
    assert.is_true(math.abs(co:get(2, tri(1, 3)) - 0.08 * 0.013 * 0.015) < 1e-18)
    assert.is_true(math.abs(co:get(3, tri(4, 5)) + 0.19 * 0.034 * 0.031) < 1e-18)
    assert.are.equal(6.4 ^ 2, co:get(3, tri(6, 6)))
    assert.are.equal(0, co:get(1, tri(3, 6)))
    -- absent correlation columns mean zero correlation
    c.pmra_pmdec_corr = nil
    assert.are.equal(0, pf.coords.galactocentric(c).cov_obs:get(1, tri(4, 5)))
    assert.is_nil(pf.coords.galactocentric(c, {cov = false}).cov)
  end)

  it("has the Jacobian of the forward map (central finite differences)", function()
    local c = error_cat(1)
    local jac = pf.coords.jacobian(c)
    local mas = 1 / 3.6e6
    -- steps: 1e-3 mas on the sky; relative 1e-6 on the others
    for s = 1, 3 do
      local dec = math.rad(c.dec:get(s))
      -- star s's x and v with its six observables moved by d (ra and dec in mas on the sky)
      local function galactocentric(d)
        local cc = {}
        for k, a in pairs(c) do cc[k] = a:copy() end
        cc.ra:set(s, c.ra:get(s) + d[1] * mas / math.cos(dec))
        cc.dec:set(s, c.dec:get(s) + d[2] * mas)
        for col = 3, 6 do cc[OBS[col]]:set(s, c[OBS[col]]:get(s) + d[col]) end
        local g = pf.coords.galactocentric(cc, {cov = false})
        return {g.x:get(s, 1), g.x:get(s, 2), g.x:get(s, 3), g.v:get(s, 1), g.v:get(s, 2), g.v:get(s, 3)}
      end
      local function step(col) return col <= 2 and 1e-3 or 1e-6 * math.abs(c[OBS[col]]:get(s)) end
      local fd = support.fd_gradient(galactocentric, {0, 0, 0, 0, 0, 0}, step)
      for col = 1, 6 do
        for row = 1, 6 do
          local an = jac:get(s, row, col)
          assert.is_true(math.abs(fd[col][row] - an) <= 1e-6 * math.abs(an) + 1e-9,
            ("star %d d%d/d%d: %g vs %g"):format(s, row, col, fd[col][row], an))
        end
      end
    end
  end)

  it("matches a Monte Carlo of 1e5 smeared draws per star", function()
    local m = 100000
    local c, ns = error_cat(m)
    local g = pf.coords.galactocentric(c)
    local sm, nbad = pf.coords.smear(c, {seed = 2385})
    assert.are.equal(0, nbad)
    local gs = pf.coords.galactocentric(sm, {cov = false})
    local y = A.hstack({gs.x, gs.v})
    for s = 1, ns do
      local block = y:rows((s - 1) * m + 1, s * m)
      local mean = block:mean(1)
      local d = block - A.ones(m, 1):matmul(mean:reshape(1, 6))
      local emp = d:T():matmul(d) / (m - 1)
      for i = 1, 6 do
        for j = i, 6 do
          local an = g.cov:get((s - 1) * m + 1, tri(i, j))
          local row = (s - 1) * m + 1
          local sii, sjj = g.cov:get(row, tri(i, i)), g.cov:get(row, tri(j, j))
          local se = math.sqrt((sii * sjj + an ^ 2) / m) -- standard error of a sample covariance
          assert.is_true(math.abs(emp:get(i, j) - an) < 5 * se,
            ("star %d cov(%d,%d): MC %g vs propagated %g (se %g)"):format(
              s, i, j, emp:get(i, j), an, se))
        end
      end
    end
  end)
end)

describe("pf.coords.smear", function()
  it("draws each star from its Gaussian: mean and covariance of many smears", function()
    local m = 100000
    local c = error_cat(m, 3)
    local sm = pf.coords.smear(c, {seed = 77})
    -- star 3 (dec 72.4): tangent-plane offsets in mas
    local s0 = 0
    local dec0, ra0 = math.rad(72.4), 181.7
    local function part(key, centre, scale)
      return ((sm[key]:rows(s0 + 1, s0 + m) - centre) * scale):copy():reshape(m, 1)
    end
    local off = A.hstack{part("ra", ra0, math.cos(dec0) * 3.6e6), part("dec", 72.4, 3.6e6),
      part("parallax", 1.17, 1), part("pmra", -25.8, 1), part("pmdec", 14.2, 1),
      part("radial_velocity", 7.9, 1)}
    local cov_obs = pf.coords.galactocentric(c).cov_obs
    local mean = off:mean(1)
    local emp = off:T():matmul(off) / m
    for i = 1, 6 do
      local sii = cov_obs:get(s0 + 1, tri(i, i))
      assert.is_true(math.abs(mean:get(i)) < 5 * math.sqrt(sii / m), "mean " .. i)
      for j = i, 6 do
        local an, sjj = cov_obs:get(s0 + 1, tri(i, j)), cov_obs:get(s0 + 1, tri(j, j))
        assert.is_true(math.abs(emp:get(i, j) - an) < 5 * math.sqrt((sii * sjj + an ^ 2) / m),
          ("cov(%d,%d) %g vs %g"):format(i, j, emp:get(i, j), an))
      end
    end
    -- other columns are carried over; the same seed gives the same bits
    assert.are.equal(c.ra_error, sm.ra_error)
    local again = pf.coords.smear(c, {seed = 77})
    assert.are.equal(sm.pmra:get(s0 + 17), again.pmra:get(s0 + 17))
    assert.are_not.equal(sm.pmra:get(17), pf.coords.smear(c, {seed = 78}).pmra:get(17))
    -- an rng object advances: two calls differ, and a fresh rng of the seed repeats
    local r = pf.rng.new(77)
    local a1 = pf.coords.smear(c, {rng = r}).pmra:get(5)
    assert.are.equal(sm.pmra:get(5), a1)
    assert.are_not.equal(a1, pf.coords.smear(c, {rng = r}).pmra:get(5))
  end)

  it("keeps negative parallax draws, wraps RA, survives the poles, flags bad stars", function()
    local c = cat_of{ra = {359.9999999999, 10, 0.0, 5}, dec = {0, 90, -90, 1},
      parallax = {0.01, 1, 1, 1}, pmra = {1, 1, 1, 1}, pmdec = {1, 1, 1, 1},
      radial_velocity = {1, 1, 1, 1}, ra_error = {0.5, 0.5, 0.5, 0.5},
      dec_error = {0.5, 0.5, 0.5, 0.5}, parallax_error = {0.5, 0.1, 0.1, 0.1},
      pmra_error = {0.1, 0.1, 0.1, 0.1}, pmdec_error = {0.1, 0.1, 0.1, 0 / 0},
      radial_velocity_error = {1, 1, 1, 1}, ra_dec_corr = {0, 0, 0, 0}}
    local neg, bad = 0, nil
    for seed = 1, 40 do
      local sm
      sm, bad = pf.coords.smear(c, {seed = seed})
      if sm.parallax:get(1) < 0 then neg = neg + 1 end
      for i = 1, 3 do
        assert.is_true(sm.ra:get(i) >= 0 and sm.ra:get(i) < 360)
        assert.is_true(math.abs(sm.dec:get(i)) <= 90)
      end
      assert.is_true(sm.ra:get(4) ~= sm.ra:get(4)) -- NaN error -> NaN draw
    end
    assert.are.equal(1, bad)
    assert.is_true(neg > 5) -- parallax 0.01 +- 0.5 goes negative about half the time
    -- a correlation of 1.5 is not a covariance: that star is flagged, not an error
    c.ra_dec_corr = A.from{1.5, 0, 0, 0}
    local sm, nbad = pf.coords.smear(c, {seed = 3})
    assert.are.equal(2, nbad)
    assert.is_true(sm.ra:get(1) ~= sm.ra:get(1))
  end)
end)

describe("pf.gaia.smear", function()
  it("is pf.coords.smear", function()
    assert.are.equal(pf.coords.smear, pf.gaia.smear)
  end)
end)

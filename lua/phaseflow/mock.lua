-- pf.mock: a mock galaxy whose phase-space density is known exactly.
--
--   local mock = pf.mock.galaxy{potential = pf.potential.mwpotential2014(),
--                               populations = {{type = "disk", weight = 0.85},
--                                              {type = "halo", weight = 0.15}},
--                               center = {8.122, 0, 0.0208}, radius = 4, seed = 1}
--   local x, v, pop, info = mock:sample(10000)   -- seeded by `seed` unless given
--                             -- info.violations (0: exact sampler), info.proposals
--   local df = mock:df()      -- df:log_f(x, v), df:grad_log_f(x, v), df:n_x(x),
--                             -- df:sample_v(x0, n, {seed = s, qmc = b}) (qmc accepted,
--                             -- draws pseudo-random), df:v_moments{x, y, z}
--   mock:slab(k, z0, z1 [, R0, R1]) -- exact (unnormalised) stars of population k in a bin
--
-- Population parameters (see include/phaseflow/mock.h): disk {rd, sigma0, r0, rsigma, l0},
-- halo {sigma, beta, lh, et}; `weight` is the fraction of stars in the sphere.
local core = require "phaseflow.core"
local strict = require "phaseflow.strict"
local geometry = require "phaseflow.geometry"
local potential = require "phaseflow.potential"

local M = {}

M.default_populations = {
  { type = "disk", weight = 0.85, rd = 2.6, sigma0 = 20, r0 = geometry.R0, rsigma = 9, l0 = 200 },
  { type = "halo", weight = 0.15, sigma = 170, beta = 0.2, lh = 500, et = 0 },
}

-- Galaxies: plain data {name, potential = {component tables with role = "baryons" | "dm"},
-- populations = {...}}, so a mock's truth file can carry its galaxy and anything can
-- rebuild the exact potential, its dark matter and its baryons from it. The variants test
-- the method on galaxies nothing was sized on; their numbers are round physical choices,
-- not fitted to any result.
local function mw2014_components()
  local roles = { power_cutoff = "baryons", miyamoto_nagai = "baryons", nfw = "dm" }
  local out = {}
  for i, c in ipairs(potential.mwpotential2014():components()) do
    c.role = roles[c.type]
    out[i] = c
  end
  return out
end

local function deep_copy(t)
  if type(t) ~= "table" then return t end
  local o = {}
  for k, v in pairs(t) do o[k] = deep_copy(v) end
  return o
end

-- The knobs of scripts/make-mock.lua and the pipeline's preset.mock.galaxy, applied to a
-- galaxy table (in place): disk rd (kpc, radial scale), sigma0 (km/s: the vertical and
-- radial dispersion at the Sun, hence the disk's thickness), rsigma (kpc), halo_sigma
-- (km/s), halo_weight (fraction of stars in the stellar halo), thick_weight and
-- thick_sigma0 (a second, thicker disk population), halo_mass (factor on the dark halo's
-- mass), dark_disk (a flattened dark component, a Miyamoto-Nagai a = 3, b = 1 kpc, giving
-- this fraction of v0^2/r0 as radial force at r0 = 8 kpc, v0 = 220 km/s, galpy's units).
M.KNOBS = { rd = "disk", sigma0 = "disk", rsigma = "disk", halo_sigma = "halo",
  halo_weight = "halo", thick_weight = "thick", thick_sigma0 = "thick", halo_mass = "potential",
  dark_disk = "potential" }

local function pop_of(g, kind)
  for _, p in ipairs(g.populations) do if p.type == kind then return p end end
end

--- Change the galaxy spec `g` in place by the knobs `k` (names of M.KNOBS, numbers >= 0):
--- the disk's rd, sigma0, rsigma; the halo's sigma and weight; a thick disk; the dark
--- halo's mass and a dark disk. An unknown knob or a bad value is an error.
function M.apply_knobs(g, k)
  for name, val in pairs(k) do
    if not M.KNOBS[name] then
      local known = {}
      for n in pairs(M.KNOBS) do known[#known + 1] = n end
      table.sort(known)
      error(("pf.mock: unknown galaxy knob '%s' (known: %s)"):format(tostring(name),
        table.concat(known, ", ")), 3)
    end
    if type(val) ~= "number" or val ~= val or val < 0 then
      error(("pf.mock: galaxy knob '%s' must be a number >= 0"):format(name), 3)
    end
  end
  local disk, halo = pop_of(g, "disk"), pop_of(g, "halo")
  for _, n in ipairs { "rd", "sigma0", "rsigma" } do
    if k[n] then disk[n] = k[n] end
  end
  if k.halo_sigma then halo.sigma = k.halo_sigma end
  if k.halo_weight then halo.weight = k.halo_weight end
  if (k.thick_weight or 0) > 0 then
    local thick = deep_copy(disk)
    thick.weight, thick.sigma0, thick.rd = k.thick_weight, k.thick_sigma0 or 45, 2.0
    g.populations[#g.populations + 1] = thick
  end
  if k.halo_mass then
    for _, c in ipairs(g.potential) do
      if c.type == "nfw" and c.role == "dm" then c.amp = c.amp * k.halo_mass end
    end
  end
  if (k.dark_disk or 0) > 0 then
    local c = potential.component { type = "miyamoto_nagai", a = 3, b = 1, normalize = k.dark_disk }
    local t = c:components()[1]
    t.role = "dm"
    g.potential[#g.potential + 1] = t
  end
  g.knobs = deep_copy(k)
  return g
end

-- The named galaxies: MWPotential2014 with the default populations; "hot": a hotter,
-- thicker disk (sigma0 32 km/s, rd 3.2 kpc) with a second, thick disk (30% of the stars,
-- 50 km/s) and a cooler stellar halo; "heavy": a dark halo 1.5 times heavier plus a
-- flattened dark component (10% of the radial force at r0), so the dark matter is not
-- spherical and is denser near the plane.
M.VARIANTS = {
  default = {},
  hot = { sigma0 = 32, rd = 3.2, thick_weight = 0.3, thick_sigma0 = 50, halo_sigma = 140 },
  heavy = { halo_mass = 1.5, dark_disk = 0.1, sigma0 = 24 },
}
M.variant_names = { "default", "hot", "heavy" }

--- A galaxy table: `spec` is a variant name (default "default"), a galaxy table (returned
--- as a copy), or a table of knobs with an optional `variant` name to start from.
function M.galaxy_spec(spec)
  if type(spec) == "table" and spec.potential and spec.populations then return deep_copy(spec) end
  local name, knobs = "default", {}
  if type(spec) == "string" then
    name = spec
  elseif type(spec) == "table" then
    for k, v in pairs(spec) do
      if k == "variant" then name = v else knobs[k] = v end
    end
  elseif spec ~= nil then
    error("pf.mock.galaxy_spec: a variant name or a table of knobs expected", 2)
  end
  local base = M.VARIANTS[name]
  if not base then
    error(("pf.mock: no galaxy '%s' (have: %s)"):format(tostring(name),
      table.concat(M.variant_names, ", ")), 2)
  end
  local k = deep_copy(base)
  for n, v in pairs(knobs) do k[n] = v end
  local g = { name = name, potential = mw2014_components(), populations = deep_copy(M.default_populations) }
  return M.apply_knobs(g, k)
end

local function build_potential(list)
  local out
  for _, t in ipairs(list) do
    local c = {}
    for key, val in pairs(t) do if key ~= "role" then c[key] = val end end
    local p = potential.component(c)
    out = out and out + p or p
  end
  return out
end

--- The truth of a galaxy (a spec as galaxy_spec takes, or a mock truth file mock.h5):
--- {name, galaxy, potential, baryons, dm (potentials), nfw (the dark halo's NFW component
--- table when the dark matter is exactly one NFW, else nil)}.
function M.truth_model(spec)
  if type(spec) == "string" and not M.VARIANTS[spec] then spec = M.read_galaxy(spec) end
  local g = M.galaxy_spec(spec)
  local parts = { baryons = {}, dm = {} }
  for _, c in ipairs(g.potential) do
    local role = parts[c.role] and c.role or "baryons"
    parts[role][#parts[role] + 1] = c
  end
  local nfw = #parts.dm == 1 and parts.dm[1].type == "nfw" and deep_copy(parts.dm[1]) or nil
  return { name = g.name, galaxy = g, potential = build_potential(g.potential),
    baryons = #parts.baryons > 0 and build_potential(parts.baryons) or nil,
    dm = #parts.dm > 0 and build_potential(parts.dm) or nil, nfw = nfw }
end

--- The galaxy recorded in a mock truth file (attribute `galaxy` of /truth); files made
--- before galaxies were recorded are the default galaxy.
function M.read_galaxy(file)
  local h5 = require "phaseflow.h5"
  local ok, attrs = pcall(h5.attrs, file, "/truth")
  if not ok then
    error(("pf.mock: cannot read the mock truth file '%s' (%s)"):format(file, tostring(attrs)), 0)
  end
  if attrs.galaxy == nil then return M.galaxy_spec("default") end
  local chunk = load("return " .. attrs.galaxy, "galaxy", "t", { math = { huge = math.huge } })
  local okc, g = pcall(chunk or error)
  if not chunk or not okc or type(g) ~= "table" then
    error(("pf.mock: the galaxy recorded in '%s' does not read"):format(file), 0)
  end
  return g
end


local Mock = {}
Mock.__index = Mock

--- galaxy{potential, populations, galaxy = name or spec, seed = 1, center, radius,
--- normalize} -> a mock galaxy: exact f(x, v), its sampler and truth (C potential only).
function M.galaxy(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("mock.galaxy: option table expected", 2) end
  strict.options(opts, { potential = true, populations = true, seed = true, center = true,
    radius = true, normalize = true, galaxy = true }, "mock.galaxy")
  local g = opts.galaxy and M.galaxy_spec(opts.galaxy)
  local pot = opts.potential or (g and M.truth_model(g).potential) or potential.mwpotential2014()
  if not potential.is_c(pot) then
    error("mock.galaxy: the potential must be made of C components (no custom Lua terms)", 2)
  end
  local c = core.mock.galaxy(pot, {
    populations = opts.populations or (g and g.populations) or M.default_populations,
    center = opts.center, radius = opts.radius, normalize = opts.normalize,
  })
  return setmetatable({ c = c, seed = opts.seed or 1, potential = pot, galaxy = g }, Mock)
end

--- sample(n [, {seed = s}]) -> x, v: n stars (N x 3 kpc, km/s), seeded by s or the galaxy's seed.
function Mock:sample(n, o)
  return self.c:sample(n, { seed = (o and o.seed) or self.seed })
end

--- The C sampler's description of the galaxy (populations, normalisations).
function Mock:info() return self.c:info() end

-- Exact unnormalised integral of population k's n(x) over the sphere's part with
-- z0 <= z <= z1 (and R0 <= R <= R1); divide by slab(k, -math.huge, math.huge).
function Mock:slab(k, z0, z1, r0, r1) return self.c:slab(k, z0, z1, r0, r1) end

-- The exact phase-space density: the C object already has the df interface.
function Mock:df() return self.c end

--- Make the embedded default data in folder `out` (scripts/make-mock.lua and the
--- pipeline's catalogue step): a mock galaxy (default populations, MWPotential2014 unless
--- `potential` is given), `stars` stars within `radius` kpc of the Sun, observed Gaia-like
--- (pf.observe) and written as out/gaia/GaiaSource_*.csv.gz plus the truth out/mock.h5.
--- Options: stars (1e6), radius (10), seed (1), rows (250000 per file), errors (true),
--- dust (false), normalize (true), galaxy (a variant name, knobs or galaxy table: see
--- galaxy_spec; recorded in mock.h5 so the truth can be rebuilt from the file), stage
--- (function(name, f) -> f(): timing hook). Returns {mock, files, catalogue, truth, x, v,
--- labels, info, h5, galaxy}.
function M.make_files(o)
  o = o or {}
  local observe = require "phaseflow.observe"
  local out = assert(o.out, "pf.mock.make_files: option 'out' (a folder) is required")
  local stage = o.stage or function(_, f) return f() end
  local q = out:gsub("'", "'\\''")
  os.execute(("mkdir -p '%s/gaia'"):format(q))
  os.execute(("rm -f '%s'/gaia/GaiaSource_*.csv.gz '%s/mock.h5'"):format(q, q))
  local nstars, radius, seed = o.stars or 1000000, o.radius or 10, o.seed or 1
  local g = M.galaxy_spec(o.galaxy)
  local mock = stage("mock galaxy (normalisation)", function()
    return M.galaxy{ galaxy = g, radius = radius, seed = seed, normalize = o.normalize ~= false }
  end)
  local x, v, labels, info = stage("sampling x, v", function() return mock:sample(nstars, { seed = seed }) end)
  local cat, tr = stage("observation (magnitudes, errors)", function()
    return observe.observe(x, v, { seed = seed, errors = o.errors ~= false, dust = o.dust == true })
  end)
  local files = stage("writing GaiaSource_*.csv.gz", function()
    return observe.write_gaia(out .. "/gaia", cat, { rows_per_file = math.max(1, o.rows or 250000) })
  end)
  local h5file = out .. "/mock.h5"
  stage("writing truth (mock.h5)", function()
    observe.write_truth(h5file, tr, { x = x, v = v, labels = labels, info = {
      stars = nstars, radius = radius, seed = seed, sampler_violations = info and info.violations or -1,
      script = o.script or "pf.mock.make_files", observed = cat.n, galaxy = g } })
  end)
  return { mock = mock, files = files, catalogue = cat, truth = tr, x = x, v = v, labels = labels,
           info = info, h5 = h5file, galaxy = g }
end

return M

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
local potential = require "phaseflow.potential"

local M = {}

M.default_populations = {
  { type = "disk", weight = 0.85, rd = 2.6, sigma0 = 20, r0 = 8.122, rsigma = 9, l0 = 200 },
  { type = "halo", weight = 0.15, sigma = 170, beta = 0.2, lh = 500, et = 0 },
}


local Mock = {}
Mock.__index = Mock

function M.galaxy(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("mock.galaxy: option table expected", 2) end
  for k in pairs(opts) do
    if k ~= "potential" and k ~= "populations" and k ~= "seed" and k ~= "center"
      and k ~= "radius" and k ~= "normalize" then
      error(("mock.galaxy: unknown option '%s'"):format(tostring(k)), 2)
    end
  end
  local pot = opts.potential or potential.mwpotential2014()
  if not potential.is_c(pot) then
    error("mock.galaxy: the potential must be made of C components (no custom Lua terms)", 2)
  end
  local c = core.mock.galaxy(pot, {
    populations = opts.populations or M.default_populations,
    center = opts.center, radius = opts.radius, normalize = opts.normalize,
  })
  return setmetatable({ c = c, seed = opts.seed or 1, potential = pot }, Mock)
end

function Mock:sample(n, o)
  return self.c:sample(n, { seed = (o and o.seed) or self.seed })
end

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
--- dust (false), normalize (true), potential, stage (function(name, f) -> f(): timing
--- hook). Returns {mock, files, catalogue, truth, x, v, labels, info, h5}.
function M.make_files(o)
  o = o or {}
  local observe = require "phaseflow.observe"
  local out = assert(o.out, "pf.mock.make_files: option 'out' (a folder) is required")
  local stage = o.stage or function(_, f) return f() end
  local q = out:gsub("'", "'\\''")
  os.execute(("mkdir -p '%s/gaia'"):format(q))
  os.execute(("rm -f '%s'/gaia/GaiaSource_*.csv.gz '%s/mock.h5'"):format(q, q))
  local nstars, radius, seed = o.stars or 1000000, o.radius or 10, o.seed or 1
  local mock = stage("mock galaxy (normalisation)", function()
    return M.galaxy{ potential = o.potential or potential.mwpotential2014(), radius = radius,
      seed = seed, normalize = o.normalize ~= false }
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
      script = o.script or "pf.mock.make_files", observed = cat.n } })
  end)
  return { mock = mock, files = files, catalogue = cat, truth = tr, x = x, v = v, labels = labels,
           info = info, h5 = h5file }
end

return M

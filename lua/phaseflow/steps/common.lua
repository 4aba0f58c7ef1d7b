-- pf.steps.common: what several steps of the paper's analysis share -- the run's galaxy
-- and its truth, the resamples a run trains (variants), the trained densities, the
-- density locations, the error budget -- as methods of the run (pf.pipeline mixes
-- `methods` into its run objects), and a few plain helpers.
local core = require "phaseflow.core"
local h5 = require "phaseflow.h5"
local serialize = require "phaseflow.serialize"
local geometry = require "phaseflow.geometry"
local mockmod = require "phaseflow.mock"
local select = require "phaseflow.select"
local truth = require "phaseflow.truth"
local flowmod = require "phaseflow.flow"
local df = require "phaseflow.df"
local units = require "phaseflow.units"
local budget = require "phaseflow.budget"
local cbe = require "phaseflow.cbe"
local array = core.array

local common = {}
local M = {}
common.methods = M

-- wall-clock seconds (the step times of the report; os.clock would sum the CPU time of
-- every thread)
common.wtime = core.config and core.config.wtime or os.clock

--- The dataset `path` of an HDF5 file (its value alone).
function common.rd(file, path) return (h5.read(file, path)) end
local rd = common.rd

local fs = require "phaseflow.fs"
common.file_exists = fs.exists

-- Distance from the Sun (n) and offset (n x 3) of the rows of x (kpc).
function common.dist_sun(x)
  local d = x - array.ones((x:shape()), 1):matmul(array.from{geometry.SUN})
  return d:square():sum(2):sqrt(), d
end

-- The 1-D array a cut into consecutive parts as long as the blocks' rows.
function common.split(a, blocks)
  local out, i = {}, 1
  for k, b in ipairs(blocks) do
    local n = (b:shape())
    out[k] = array.from({table.unpack(a:totable(), i, i + n - 1)})
    i = i + n
  end
  return out
end

-- Job files of a step (the engine's jobs, see pf.pipeline): DIR/steps/STEP.jobs/ID.h5,
-- holding named arrays under the root and the job's key as the root's `job_key`.
function common.job_file(run, step, id)
  return ("%s/%s.h5"):format(run:file(step):gsub("%.h5$", ".jobs"), id)
end

-- Write arrays (name -> array) as a job's file, whole or not at all.
function common.write_job(file, key, arrays)
  fs.mkdirs((file:match("^(.*)/[^/]*$")))
  fs.replace(file, function(part)
    local names = {}
    for name in pairs(arrays) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do h5.write(part, "/" .. name, arrays[name]) end
    h5.set_attrs(part, "/", {job_key = key, arrays = table.concat(names, ",")})
  end)
end

-- A job file's arrays (name -> array) if it was made with this key and reads whole; else nil.
function common.read_job(file, key)
  if not fs.exists(file) then return nil end
  local ok, a = pcall(h5.attrs, file, "/")
  if not (ok and a.job_key == key and type(a.arrays) == "string") then return nil end
  local out = {}
  for name in a.arrays:gmatch("[^,]+") do
    local rok, v = pcall(h5.read, file, "/" .. name)
    if not rok then return nil end
    out[name] = v
  end
  return out
end

-- The columns of the 10 kpc sample kept by the catalogue step (for the smeared resamples).
common.SAMPLE10_COLUMNS = {"ra", "dec", "parallax", "pmra", "pmdec", "radial_velocity",
  "ra_error", "dec_error", "parallax_error", "pmra_error", "pmdec_error", "radial_velocity_error",
  "ra_dec_corr", "ra_parallax_corr", "ra_pmra_corr", "ra_pmdec_corr", "dec_parallax_corr",
  "dec_pmra_corr", "dec_pmdec_corr", "parallax_pmra_corr", "parallax_pmdec_corr", "pmra_pmdec_corr",
  "phot_g_mean_mag", "grvs_mag", "parallax_over_error"}

-- What a run of this analysis holds besides the engine's fields: the geometry of the
-- measurements, the mock's cache folder and the galaxy's exact truth.
function common.setup(run, opts)
  run.geom = geometry.paper(run.o.geometry)
  run.mock_cache = opts.mock_cache or (run.out .. "/mock")
  -- the mock's galaxy (preset.mock.galaxy: a variant name, knobs or a galaxy table; see
  -- pf.mock.galaxy_spec) and its exact truth: potential, baryons, dark matter
  run.truth = mockmod.truth_model((run.o.mock or {}).galaxy)
  run.potential = run.truth.potential
end

-- The mock's folder: made when absent (a DONE file is written last).
function M:mock_files()
  local mo = self.o.mock
  local dir = ("%s/%s"):format(self.mock_cache, serialize.hash{mo = mo}:sub(1, 16))
  local done = dir .. "/DONE"
  if not common.file_exists(done) then
    self:log("catalogue: making the mock (%d stars within %g kpc) in %s", mo.stars, mo.radius, dir)
    mockmod.make_files{out = dir, stars = mo.stars, radius = mo.radius, seed = mo.seed or self.o.seed,
      errors = mo.errors, normalize = mo.normalize, rows = mo.rows, script = "pf.pipeline (catalogue)",
      galaxy = mo.galaxy, stage = function(name, f)
        local t0 = common.wtime()
        local a, b, c, d = f()
        self:log("catalogue: mock: %s %.1f s", name, common.wtime() - t0)
        return a, b, c, d
      end}
    local fh = assert(io.open(done, "w"))
    fh:write(serialize.dump(mo), "\n")
    fh:close()
  end
  return dir
end

-- the 10 kpc sample as a catalogue (for smearing)
function M:sample10()
  local cf = self:file("catalogue")
  local c = {}
  for _, name in ipairs(common.SAMPLE10_COLUMNS) do
    local ok, a = pcall(rd, cf, "/sample10/" .. name)
    if ok then c[name] = a end
  end
  c.n = c.ra:size(1)
  return c
end

-- The mock galaxy's exact truth (pf.mock.truth_model): {name, galaxy, potential,
-- baryons, dm, nfw}. For MWPotential2014: baryons = bulge + disk, dm = the NFW halo.
function M:truth_model() return self.truth end

-- The galaxy's parts: baryons and dark matter (potentials), nfw (the halo's NFW
-- component when the dark matter is exactly one NFW, else nil)
function M:components()
  return {baryons = self.truth.baryons, dm = self.truth.dm, nfw = self.truth.nfw}
end

-- Truth densities at x0 (n0 x 3): the kernel-smoothed total density (as pf.truth.at
-- gives it), dark matter and baryons, all with the same product Gauss rule of size `rule`
-- (pf.truth.kernel_rule: rule x rule x 2 rule points per location).
function M:truth_densities(x0, rule)
  local r = truth.kernel_rule{rule = rule}
  local c = self:components()
  return {total = truth.smooth(self.potential, x0, r), dm = truth.smooth(c.dm, x0, r),
          baryons = truth.smooth(c.baryons, x0, r)}
end

-- The gNFW truth of the mock: its NFW halo is gNFW with beta = 1, rs = a, and
-- rho0 = amp / (4 pi a^3) (galpy's normalisation; checked against its density).
function M:gnfw_truth()
  local nfw = self:components().nfw
  if not nfw then return {} end -- the dark matter is not one NFW halo: no gNFW truth
  local a = nfw.a
  local rho0 = nfw.amp / (4 * math.pi * a ^ 3)
  return {rho0 = units.rho_to_1e2(rho0), rs = a, beta = 1}
end

-- The mock's exact phase-space density (built on demand: the normalisation takes seconds).
function M:exact_df()
  if not self._mock then
    local mo = self.o.mock
    self._mock = mockmod.galaxy{galaxy = self.truth.galaxy, radius = mo.radius, seed = mo.seed or self.o.seed,
                                normalize = mo.normalize ~= false}
  end
  return self._mock:df()
end

--- True if the run's catalogue came from a mock (/info/is_mock of the catalogue step).
function M:is_mock()
  return rd(self:file("catalogue"), "/info/is_mock"):get(1) == 1
end

-- the resamples a run trains: kind, index, members
function M:variants()
  local o = self.o
  local out = {{kind = "base", index = 0, members = o.members}}
  for b = 1, o.bootstraps do out[#out + 1] = {kind = "boot", index = b, members = o.resample_members} end
  for s = 1, o.smears do out[#out + 1] = {kind = "smear", index = s, members = o.resample_members} end
  for s, alt in ipairs(o.systematics or {}) do
    out[#out + 1] = {kind = "syst", index = s, members = 1, alt = alt}
  end
  for _, vt in ipairs(out) do vt.name = vt.kind == "base" and "base" or ("%s_%03d"):format(vt.kind, vt.index) end
  return out
end

-- The variants' names and kinds, each base member a variant of its own (kind "member"):
-- what the error budget sums over.
function M:load_variant_names()
  local vs = {}
  for _, vt in ipairs(self:variants()) do
    vs[#vs + 1] = {name = vt.name, kind = vt.kind, members = vt.members}
    if vt.kind == "base" and vt.members > 1 then
      for k = 1, vt.members do vs[#vs + 1] = {name = ("member_%03d"):format(k), kind = "member", members = 1} end
    end
  end
  self.variant_names = vs
end

-- The phase-space densities a run measures, in order (base ensemble, each base member,
-- resamples): {name, kind, load = function() -> f}, the flows read from the flows step.
function M:density_list()
  local ff = self:file("flows")
  local out = {}
  local function member(vt, which, k) return flowmod.load(ff, ("/%s/%s/member_%04d"):format(vt.name, which, k)) end
  for _, vt in ipairs(self:variants()) do
    out[#out + 1] = {name = vt.name, kind = vt.kind, load = function()
      local nx, pv = {}, {}
      for k = 1, vt.members do nx[k], pv[k] = member(vt, "n_x", k), member(vt, "p_v", k) end
      local function ens(t) return #t == 1 and t[1] or flowmod.ensemble{members = t} end
      return df.flows(ens(nx), ens(pv))
    end}
    if vt.kind == "base" and vt.members > 1 then
      for k = 1, vt.members do
        out[#out + 1] = {name = ("member_%03d"):format(k), kind = "member",
                         load = function() return df.flows(member(vt, "n_x", k), member(vt, "p_v", k)) end}
      end
    end
  end
  return out
end

-- the phase-space densities of every variant, loaded: {name, kind, f}
function M:densities_f()
  local out = {}
  for i, d in ipairs(self:density_list()) do out[i] = {name = d.name, kind = d.kind, f = d.load()} end
  return out
end

-- The density named `name` (a job's: the last one asked for is kept, as a rank's jobs
-- often follow each other on one density).
function M:density_of(name)
  local c = self._density
  if c and c.name == name then return c.f end
  for _, d in ipairs(self:density_list()) do
    if d.name == name then
      self._density = {name = name, f = d.load()}
      return self._density.f
    end
  end
  error(("pf.pipeline: no density '%s'"):format(tostring(name)), 0)
end

-- A parametric bootstrap of the flows' own bias: n stars drawn from the base ensembles
-- (x from n(x), then v from p(v|x) at each x). Flows refitted on them see a galaxy whose
-- truth is the base ensemble itself, so refit - base estimates the bias the fitting adds
-- (the smoothing of n(x)'s curvature, common to every member and resample), without any
-- truth: a systematic variant like the others (preset.systematics = {{refit = true}}).
-- `from`: a flows file holding /base/WHICH/member_K, or a function (which, k) -> the base
-- member's flow, nil past the last.
function M:refit_sample(from, n, index)
  local member = from
  if type(from) ~= "function" then
    member = function(which, k)
      local g = ("/base/%s/member_%04d"):format(which, k)
      return h5.exists(from, g) == true and flowmod.load(from, g) or nil
    end
  end
  local base = {}
  for _, which in ipairs({"n_x", "p_v"}) do
    local list, k = {}, 1
    while true do
      local f = member(which, k)
      if not f then break end
      list[k] = f
      k = k + 1
    end
    base[which] = #list == 1 and list[1] or flowmod.ensemble{members = list}
  end
  -- the survey's own cut (d < radius): a draw from the sphere map's far tail can land on
  -- its edge (tanh rounds to 1), where the map is singular; such draws are replaced
  local seed = core.rng.derive_seed(self.o.seed, 5000 + index)
  local got, round = 0, 0
  local parts = {}
  while got < n do
    round = round + 1
    -- (no log-densities: a far-tail draw, cut below, can be NaN or infinite in another member)
    local xs = base.n_x:sample(math.ceil((n - got) * 1.02) + 16,
                               {seed = core.rng.derive_seed(seed, 100 + round), log_prob = false})
    local keep = common.dist_sun(xs):lt(self.o.radius)
    local xk = xs:select(keep)
    parts[#parts + 1] = xk
    got = got + (xk:shape())
    if round > 20 then error("pf.pipeline: the refit's n(x) draws keep leaving the survey sphere", 0) end
  end
  local x = (#parts == 1 and parts[1] or array.vstack(parts)):rows(1, n):copy()
  -- velocities: the paper's speed cut (|v| < 1000 km/s) applies to the draws as to the
  -- stars; an affine flow's far tail can return absurd speeds, which are drawn again
  local v = base.p_v:sample(n, x, {seed = core.rng.derive_seed(seed, 1), log_prob = false})
  for r = 2, 21 do
    local speed = v:square():sum(2):sqrt()
    local bad = {}
    for i, s in ipairs(speed:totable()) do
      if not (s < select.MAX_SPEED) then bad[#bad + 1] = i end -- luacheck: ignore 581 (NaN too)
    end
    if #bad == 0 then return x, v end
    if r == 21 then error("pf.pipeline: the refit's p(v|x) draws keep exceeding the speed cut", 0) end
    local idx = array.from(bad)
    local xb = x:take(idx)
    local vb = base.p_v:sample(#bad, #bad > 1 and xb or xb:row(1),
                               {seed = core.rng.derive_seed(seed, r), log_prob = false})
    for k, i in ipairs(bad) do
      for j = 1, 3 do v:set(i, j, vb:get(k, j)) end
    end
  end
end

-- The acceleration (3) of acc(x) -> a (N x 3 from N x 3 positions) averaged over the ball
-- at the Sun, the pipeline's ball points (as pf.cbe.ball_average places them).
function M:sun_acceleration(acc)
  local g = self.geom
  local bp = cbe.ball_points(array.from{g.ball.center}, g.ball.radius, self.o.ball_points, cbe.BALL_POINT_SEED)
  return acc(bp):mean(1):reshape(3)
end

-- acc(x) along the curve `name` of the geometry, the arc's points near the Sun averaged
-- over a ball as the accelerations step averages the flows' there.
function M:curve_acceleration(name, acc)
  local g = self.geom
  local c = g.curves[name]
  local a = acc(c.x)
  if name == "arc" then
    for _, i in ipairs(g.arc_ball) do
      local ball = cbe.ball_points(c.x:rows(i, i):copy(), g.ball.radius, self.o.ball_points, cbe.BALL_POINT_SEED)
      local m = acc(ball):mean(1)
      for j = 1, 3 do a:set(i, j, m:get(j)) end
    end
  end
  return a
end

-- density locations: the Sun, the three density curves along s, the gNFW set (which holds
-- the independent points first)
function M:density_points()
  local g = self.geom
  local blocks, names = {array.from{geometry.SUN}}, {"sun"}
  for _, n in ipairs(g.density_names) do blocks[#blocks + 1] = g.density[n].x; names[#names + 1] = n end
  blocks[#blocks + 1] = g.gnfw.x
  names[#names + 1] = "gnfw"
  return array.vstack(blocks), names, blocks
end

-- Baryons subtracted: for real data the McKee et al. (2015) model (pf.baryons); for the
-- mock by default its own baryons (MWPotential2014's bulge + Miyamoto-Nagai disk, exact, no
-- error) smoothed with the same kernel points -- the mock's "baryon model". The preset's
-- baryons = "mckee" subtracts the McKee model from the mock too.
function M:baryon_model()
  if self:is_mock() and (self.o.baryons or "mock") == "mock" then return "mock" end
  return "mckee"
end

-- central value and error budget (pf.budget) of one quantity stored under /VARIANT/path
function M:budget(file, path)
  return budget.of(file, path, self.variant_names)
end

return common

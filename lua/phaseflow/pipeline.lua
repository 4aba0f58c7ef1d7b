-- luacheck: no max line length
-- pf.pipeline: the paper's analysis as small steps. Each step reads the HDF5 files of the
-- steps before it and writes one file DIR/steps/NAME.h5 whose root attribute `step_key` is
-- a hash of (its inputs' keys, its options). A re-run skips a step whose key matches and
-- whose file verifies (every expected dataset present and readable); anything else -- a
-- missing, truncated or corrupted file, a changed option -- is rebuilt.
--
--   local P = pf.pipeline.new{out = "out/quick", preset = pf.presets.get("quick"), inputs = {}}
--   P:run{only = "flows"} / P:run{from = "densities"} / P:run{force = true} / P:run()
--
-- Error budget: every quantity Q is computed from several phase-space densities:
--   base       the ensemble of `members` flows trained on the selected sample (central value)
--   member_k   each member alone: sigma_flow = standard deviation over members
--   boot_k     ensembles trained on bootstrap resamples: sigma_stat = std over resamples
--   smear_k    ensembles trained on error-smeared resamples (smearing applied to the
--              gen_radius sample, then re-selected): sigma_meas = std over resamples
-- sigma = sqrt(sigma_flow^2 + sigma_stat^2 + sigma_meas^2) (independent sources);
-- bands are Q +- sigma and Q +- 2 sigma. Baryon model errors are added in quadrature
-- where baryons are subtracted.
local core = require "phaseflow.core"
local h5 = require "phaseflow.h5"
local serialize = require "phaseflow.serialize"
local geometry = require "phaseflow.geometry"
local mockmod = require "phaseflow.mock"
local gaia = require "phaseflow.gaia"
local select = require "phaseflow.select"
local observe = require "phaseflow.observe"
local truth = require "phaseflow.truth"
local flowmod = require "phaseflow.flow"
local trainmod = require "phaseflow.train"
local df = require "phaseflow.df"
local cbe = require "phaseflow.cbe"
local equilibrium = require "phaseflow.equilibrium"
local poisson = require "phaseflow.poisson"
local baryons = require "phaseflow.baryons"
local darkmatter = require "phaseflow.darkmatter"
local gnfw = require "phaseflow.gnfw"
local units = require "phaseflow.units"
local array = core.array

local pipeline = {}
local P = {}
-- wall-clock seconds (the step times of the report; os.clock would sum the CPU time of
-- every thread)
local wtime = core.config and core.config.wtime or os.clock
P.__index = P

pipeline.steps = {"catalogue", "selection", "flows", "accelerations", "equilibrium",
                  "densities", "baryons", "darkmatter", "average", "gnfw", "report"}

local function log(self, fmt, ...)
  if not self.quiet then io.stderr:write(("[pipeline] " .. fmt .. "\n"):format(...)) end
end

function pipeline.new(opts)
  if type(opts) ~= "table" or type(opts.out) ~= "string" or type(opts.preset) ~= "table" then
    error("pf.pipeline.new: {out = dir, preset = table} expected", 2)
  end
  local self = setmetatable({out = opts.out, o = opts.preset, inputs = opts.inputs or {},
                             quiet = opts.quiet, times = {}, ran = {}, keys = {}}, P)
  os.execute(("mkdir -p '%s/steps'"):format(self.out))
  self.geom = geometry.paper(self.o.geometry)
  self.mock_cache = opts.mock_cache or (self.out .. "/mock")
  -- the mock's galaxy (preset.mock.galaxy: a variant name, knobs or a galaxy table; see
  -- pf.mock.galaxy_spec) and its exact truth: potential, baryons, dark matter
  self.truth = mockmod.truth_model((self.o.mock or {}).galaxy)
  self.potential = self.truth.potential
  return self
end

function P:file(step) return ("%s/steps/%s.h5"):format(self.out, step) end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- Verify: key attribute matches, every listed dataset reads.
function P:verify(step, key, datasets)
  local file = self:file(step)
  if not file_exists(file) then return false, "absent" end
  local ok, attrs = pcall(h5.attrs, file, "/")
  if not ok then return false, "unreadable" end
  if attrs.step_key ~= key then return false, "stale" end
  local names = attrs.datasets
  if type(names) ~= "string" then return false, "no dataset list" end
  for name in names:gmatch("[^,]+") do
    local rok = pcall(h5.read, file, name)
    if not rok then return false, "dataset " .. name .. " unreadable" end
  end
  for _, name in ipairs(datasets or {}) do
    if not pcall(h5.read, file, name) then return false, "missing " .. name end
  end
  return true, nil, attrs
end

-- A writer collecting dataset names, sealed with the key last (a crash before the seal
-- leaves a file that does not verify).
local function writer(file, keep)
  if not keep then os.remove(file) end
  local w = {file = file, names = {}}
  function w.put(path, a, attrs)
    if type(a) == "table" then a = array.from(a) end
    h5.write(file, path, a, attrs)
    w.names[#w.names + 1] = path
  end
  function w.seal(key, info)
    local attrs = {step_key = key, datasets = table.concat(w.names, ",")}
    for k, v in pairs(info or {}) do attrs[k] = v end
    h5.provenance(file, "/", attrs)
  end
  return w
end

local function rd(file, path) return (h5.read(file, path)) end

-- the steps ---------------------------------------------------------------------------

local S = {}
pipeline.step_functions = S

-- catalogue: Gaia archive files through the real-data path (pf.gaia.select_files with the
-- paper's cut flow, lua/phaseflow/select.lua). Without inputs the files are the embedded
-- mock (pf.mock.make_files with the preset's `mock` options), made once into a cache folder
-- keyed by those options (default DIR/mock/KEY, or opts.mock_cache/KEY). The cut flow runs
-- in two parts: up to the speed cut (the 10 kpc sample, kept with its observables and
-- errors for the error-smeared resamples), then the completeness and d < 4 kpc cuts.
local SAMPLE10_COLUMNS = {"ra", "dec", "parallax", "pmra", "pmdec", "radial_velocity",
  "ra_error", "dec_error", "parallax_error", "pmra_error", "pmdec_error", "radial_velocity_error",
  "ra_dec_corr", "ra_parallax_corr", "ra_pmra_corr", "ra_pmdec_corr", "dec_parallax_corr",
  "dec_pmra_corr", "dec_pmdec_corr", "parallax_pmra_corr", "parallax_pmdec_corr", "pmra_pmdec_corr",
  "phot_g_mean_mag", "grvs_mag", "parallax_over_error"}

local function split_steps()
  local all = select.paper_steps()
  local first, second = {}, {}
  for _, st in ipairs(all) do
    if st.name == "completeness" or st.name == "d4" then second[#second + 1] = st else first[#first + 1] = st end
  end
  return first, second, all
end

-- The mock's folder: made when absent (a DONE file is written last).
function P:mock_files()
  local mo = self.o.mock
  local dir = ("%s/%s"):format(self.mock_cache, serialize.hash{mo = mo}:sub(1, 16))
  local done = dir .. "/DONE"
  if not file_exists(done) then
    log(self, "catalogue: making the mock (%d stars within %g kpc) in %s", mo.stars, mo.radius, dir)
    mockmod.make_files{out = dir, stars = mo.stars, radius = mo.radius, seed = mo.seed or self.o.seed,
      errors = mo.errors, normalize = mo.normalize, rows = mo.rows, script = "pf.pipeline (catalogue)",
      galaxy = mo.galaxy, stage = function(name, f)
        local t0 = wtime()
        local a, b, c, d = f()
        log(self, "catalogue: mock: %s %.1f s", name, wtime() - t0)
        return a, b, c, d
      end}
    local fh = assert(io.open(done, "w"))
    fh:write(serialize.dump(mo), "\n")
    fh:close()
  end
  return dir
end

S.catalogue = {
  options = function(self)
    local ins = {}
    for i, f in ipairs(self.inputs) do ins[i] = f end
    return {inputs = ins, mock = #ins == 0 and self.o.mock or nil}
  end,
  run = function(self, w)
    local files, source
    if #self.inputs > 0 then
      files = gaia.expand(self.inputs)
      source = ("Gaia archive files (%d): %s"):format(#files, table.concat(self.inputs, ", "))
    else
      local dir = self:mock_files()
      files = gaia.expand(dir .. "/gaia")
      w.mockdir = dir
      local mo = self.o.mock
      source = ("the embedded mock (pf.mock galaxy '%s' %s: tracer populations in equilibrium, %d stars "
        .. "within %g kpc of the Sun, seed %d, observed Gaia-like by pf.observe) in %s"):format(
        self.truth.name, serialize.dump(self.truth.galaxy.knobs), mo.stars, mo.radius, mo.seed or self.o.seed, dir)
    end
    local s1, s2 = split_steps()
    local s10, f1 = gaia.select_files(files, {steps = s1, cov = false, print = false})
    local s4, f2 = select.run(s10, {steps = s2, cov = false})
    local flow = {}
    for _, f in ipairs(f1) do flow[#flow + 1] = f end
    for _, f in ipairs(f2) do flow[#flow + 1] = f end
    if not self.quiet then io.stderr:write(select.format(flow)) end
    local counts, labels = {}, {}
    for i, f in ipairs(flow) do counts[i] = {f.before, f.after}; labels[i] = f.label end
    w.put("/cutflow/counts", counts)
    h5.set_attrs(w.file, "/cutflow/counts", {labels = table.concat(labels, "|")})
    if s4.n == 0 then error("pf.pipeline: no star passes the paper's cuts within 4 kpc", 0) end
    w.put("/stars/x", s4.x, {unit = "kpc"})
    w.put("/stars/v", s4.v, {unit = "km/s"})
    w.put("/sample10/x", s10.x, {unit = "kpc"})
    for _, c in ipairs(SAMPLE10_COLUMNS) do
      if s10[c] then w.put("/sample10/" .. c, s10[c]) end
    end
    local info = {source = source, files = #files, is_mock = #self.inputs == 0 and 1 or 0}
    if #self.inputs == 0 then
      info.mockdir = w.mockdir
      -- red-clump fraction of the final sample (source_id = 1e18 + truth index)
      local kind = rd(w.mockdir .. "/mock.h5", "/truth/kind")
      local rc = 0
      for _, id in ipairs(s4.source_id) do
        if kind:get(id - observe.SOURCE_ID_BASE + 1) == 0 then rc = rc + 1 end
      end
      info.red_clump = rc / #s4.source_id
      w.put("/stars/red_clump_fraction", {info.red_clump})
    end
    w.put("/info/is_mock", {info.is_mock})
    return info
  end,
}

-- the 10 kpc sample as a catalogue (for smearing)
function P:sample10()
  local cf = self:file("catalogue")
  local c = {}
  for _, name in ipairs(SAMPLE10_COLUMNS) do
    local ok, a = pcall(rd, cf, "/sample10/" .. name)
    if ok then c[name] = a end
  end
  c.n = c.ra:size(1)
  return c
end

-- The mock galaxy's exact truth (pf.mock.truth_model): {name, galaxy, potential,
-- baryons, dm, nfw}. For MWPotential2014: baryons = bulge + disk, dm = the NFW halo.
function P:truth_model() return self.truth end

-- The galaxy's parts: baryons and dark matter (potentials), nfw (the halo's NFW
-- component when the dark matter is exactly one NFW, else nil)
function P:components()
  return {baryons = self.truth.baryons, dm = self.truth.dm, nfw = self.truth.nfw}
end

-- Truth densities at x0 (n0 x 3): kernel-smoothed total (pf.truth.at), dark matter and
-- baryons, all with the same kernel points.
function P:truth_densities(x0, points)
  local t = truth.at(x0, {potential = self.potential, points = points, seed = self.o.seed})
  local pts = poisson.kernel_points(x0, {points = points, seed = self.o.seed})
  local c = self:components()
  return {total = t.density_smoothed, dm = poisson.smooth(c.dm:density(pts.x), pts),
          baryons = poisson.smooth(c.baryons:density(pts.x), pts)}
end

-- The gNFW truth of the mock: its NFW halo is gNFW with beta = 1, rs = a, and
-- rho0 = amp / (4 pi a^3) (galpy's normalisation; checked against its density).
function P:gnfw_truth()
  local nfw = self:components().nfw
  if not nfw then return {} end -- the dark matter is not one NFW halo: no gNFW truth
  local a = nfw.a
  local rho0 = nfw.amp / (4 * math.pi * a ^ 3)
  return {rho0 = units.rho_to_1e2(rho0), rs = a, beta = 1}
end

-- The mock's exact phase-space density (built on demand: the normalisation takes seconds).
function P:exact_df()
  if not self._mock then
    local mo = self.o.mock
    self._mock = mockmod.galaxy{galaxy = self.truth.galaxy, radius = mo.radius, seed = mo.seed or self.o.seed,
                                normalize = mo.normalize ~= false}
  end
  return self._mock:df()
end

function P:is_mock()
  return rd(self:file("catalogue"), "/info/is_mock"):get(1) == 1
end

local function dist_sun(x)
  local d = x - array.ones((x:shape()), 1):matmul(array.from{geometry.SUN})
  return d:square():sum(2):sqrt(), d
end

-- Mean and standard deviation (3 each) of the survey-sphere map w = artanh(|u|) u/|u|,
-- u = (x - centre)/radius, of the rows of x: the standardisation of the n(x) flow's input.
function pipeline.sphere_moments(x, centre, radius)
  local t = x:totable()
  local n = #t
  local s, s2 = {0, 0, 0}, {0, 0, 0}
  for i = 1, n do
    local u = {(t[i][1] - centre[1]) / radius, (t[i][2] - centre[2]) / radius, (t[i][3] - centre[3]) / radius}
    local r = math.sqrt(u[1] ^ 2 + u[2] ^ 2 + u[3] ^ 2)
    local k = r > 1e-12 and 0.5 * math.log((1 + r) / (1 - r)) / r or 1
    for j = 1, 3 do
      local w = u[j] * k
      s[j], s2[j] = s[j] + w, s2[j] + w * w
    end
  end
  local m, sd = {}, {}
  for j = 1, 3 do
    m[j] = s[j] / n
    sd[j] = math.sqrt(math.max(s2[j] / n - m[j] ^ 2, 1e-300) * n / math.max(n - 1, 1))
  end
  return m, sd
end

local function subsample(x, v, n, rng, replace)
  local N = (x:shape())
  local idx = {}
  if replace then
    for i = 1, (n > 0 and n or N) do idx[i] = 1 + math.floor(rng:uniform() * N) end
  else
    if n <= 0 or n >= N then return x, v end
    local perm = {}
    for i = 1, N do perm[i] = i end
    for i = 1, n do
      local j = i + math.floor(rng:uniform() * (N - i + 1))
      perm[i], perm[j] = perm[j], perm[i]
      idx[i] = perm[i]
    end
  end
  local ia = array.from(idx)
  return x:take(ia), v:take(ia)
end

-- the resamples a run trains: kind, index, members
function P:variants()
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

-- selection: the training sets of every resample: the base sample (all 4 kpc stars or
-- n_train of them), bootstrap resamples of it, and error-smeared resamples (every star of
-- the 10 kpc sample redrawn from its errors and correlations, pf.gaia.smear, then the
-- paper's whole cut flow applied again).
S.selection = {
  inputs = {"catalogue"},
  options = function(self) return {n_train = self.o.n_train, seed = self.o.seed,
                                    b = self.o.bootstraps, s = self.o.smears} end,
  run = function(self, w)
    local cf = self:file("catalogue")
    local xs, vs = rd(cf, "/stars/x"), rd(cf, "/stars/v")
    local n1 = (xs:shape())
    w.put("/selected/x", xs)
    w.put("/selected/v", vs)
    local s10
    for _, vt in ipairs(self:variants()) do
      local rng = core.rng.new(core.rng.derive_seed(self.o.seed, 100 + (vt.kind == "boot" and 1000 or vt.kind == "smear" and 2000 or 0) + vt.index))
      local tx, tv
      if vt.kind == "syst" then
        tx = nil -- trained on the base sample
      elseif vt.kind == "base" then
        tx, tv = subsample(xs, vs, self.o.n_train, rng, false)
      elseif vt.kind == "boot" then
        tx, tv = subsample(xs, vs, math.min(self.o.n_train > 0 and self.o.n_train or n1, n1), rng, true)
      else
        s10 = s10 or self:sample10()
        local sm = gaia.smear(s10, {rng = rng})
        local sel = select.run(sm, {cov = false})
        if sel.n == 0 then error(("pf.pipeline: smeared resample %d: no star passes the cuts"):format(vt.index), 0) end
        tx, tv = subsample(sel.x, sel.v, self.o.n_train, rng, false)
        collectgarbage()
      end
      if tx then
        w.put("/train/" .. vt.name .. "/x", tx)
        w.put("/train/" .. vt.name .. "/v", tv)
      end
    end
  end,
}

-- flows: one job per (kind, index, member, seed) and per flow (n_x, p_v); each writes its
-- own group /KIND_IDX/n_x/member_K with the job's key, and a finished job is not redone.
local function job_key(vt, which, k, seed, o, skey)
  -- a refit is trained on draws from the base ensembles: it depends on their members too
  local t = {vt.kind, vt.index, which, k, seed, o.flow, o.train, o.finetune, skey, o.map_radius}
  -- (refit_draws: the version of P:refit_sample's procedure, so a change to it retrains)
  if vt.alt and vt.alt.refit then t.refit_of_members, t.refit_draws = o.members, 2 end
  return serialize.hash(t)
end

-- train_flow(which, x, v, o, seed, k) -> flow, history: member k of the n(x) ("n_x") or
-- p(v|x) ("p_v") ensemble on stars x, v with the preset's o.flow, o.train and o.radius.
-- n(x): survey-sphere map standardised by the mapped stars' mean and std; p(v|x):
-- velocities standardised, context through the sphere map. o.finetune = {epochs = E,
-- lr_factor = 0.1, patience = 5} adds a second Adam stage at the reduced rate, started
-- from the best parameters of the first (the same member seed, hence the same validation
-- split): the learned ln n needs ~1e-3-nat accuracy for its gradient (accuracy study).
function pipeline.train_flow(which, x, v, o, seed, k)
  local radius = o.radius
  local mr = o.map_radius or radius * 1.0001
  -- o.flow.n_x / o.flow.p_v: settings for that flow alone (e.g. n_x = {transform = "spline"})
  local spec = require("phaseflow.presets").flow_of(o, which)
  local fo = {dim = 3, transforms = spec.transforms, hidden = spec.hidden, blocks = spec.blocks,
              transform = spec.transform, bins = spec.bins, bound = spec.bound, layers = spec.layers}
  local m, sd = pipeline.sphere_moments(x, geometry.SUN, mr)
  if which == "n_x" then
    fo.preprocess = {input = {sphere = true, centre = geometry.SUN, radius = mr, mean = m, std = sd}}
  else
    fo.context = 3
    -- flow.context_std: the context standardised like n(x)'s input (the disk's thin
    -- z-spread then spans the network's range instead of ~0.1 of it; bias-split.lua
    -- showed p(v|x) carrying the acceleration's error without it)
    local ctx = {sphere = true, centre = geometry.SUN, radius = mr}
    if spec.context_std then ctx.mean, ctx.std = m, sd end
    fo.preprocess = {input = {mean = v:mean(1):totable(), std = v:std(1, 1):totable()}, context = ctx}
  end
  local data, ctx = which == "n_x" and x or v, which == "p_v" and x or nil
  local f, hist = flowmod.train_member{member = k, seed = seed, x = data, context = ctx, flow = fo, train = o.train}
  local ft = o.finetune
  if ft and (ft.epochs or 0) > 0 then
    local t = {}
    for key, val in pairs(o.train) do t[key] = val end
    t.lr = (o.train.lr or 1e-3) * (ft.lr_factor or 0.1)
    t.max_epochs, t.patience = ft.epochs, ft.patience or t.patience
    t.seed, t.context = core.rng.derive_seed(seed, k), ctx
    local h2 = trainmod.train(f, data, t)
    hist.finetune_epochs, hist.best_val = h2.epochs, math.min(hist.best_val, h2.best_val)
  end
  return f, hist
end

S.flows = {
  inputs = {"selection"},
  options = function(self) return {flow = self.o.flow, train = self.o.train, ft = self.o.finetune, seed = self.o.seed,
                                    m = self.o.members, rm = self.o.resample_members, sy = self.o.systematics} end,
  keep_file = true, -- jobs inside are reused when their own keys match
  run = function(self, w)
    local sf = self:file("selection")
    local skey = self.keys.selection
    -- jobs in all, and the time of those trained in this run, for the ETA in the log
    local njobs, ijob, trained, spent = 0, 0, 0, 0
    for _, vt in ipairs(self:variants()) do njobs = njobs + 2 * vt.members end
    for _, vt in ipairs(self:variants()) do
      local tname = vt.kind == "syst" and "base" or vt.name
      local x = rd(sf, "/train/" .. tname .. "/x")
      local v = rd(sf, "/train/" .. tname .. "/v")
      -- a systematic variant: the base sample trained with another setting (alt: flow, map_radius),
      -- or (alt.refit) flows trained on stars drawn from the base ensemble itself
      local o = self.o
      if vt.alt then
        o = {}
        for key, val in pairs(self.o) do o[key] = val end
        for key, val in pairs(vt.alt) do if key ~= "refit" then o[key] = val end end
        if vt.alt.refit then x, v = self:refit_sample(w.file, (x:shape()), vt.index) end
      end
      for k = 1, vt.members do
        for _, which in ipairs({"n_x", "p_v"}) do
          local seed = core.rng.derive_seed(self.o.seed, vt.kind == "base" and 0
            or (vt.kind == "boot" and 1 or vt.kind == "smear" and 2 or 3) * 1000 + vt.index)
          local key = job_key(vt, which, k, seed, o, skey)
          local group = ("/%s/%s/member_%04d"):format(vt.name, which, k)
          local done = false
          ijob = ijob + 1
          if h5.exists(w.file, group) == true then
            local ok, a = pcall(h5.attrs, w.file, group)
            done = ok and a.job_key == key and pcall(flowmod.load, w.file, group)
          end
          if not done then
            if h5.exists(w.file, group) == true then h5.delete(w.file, group) end
            local t0 = wtime()
            local f, hist = pipeline.train_flow(which, x, v, o, seed, k)
            f:save(w.file, group)
            h5.set_attrs(w.file, group, {job_key = key, kind = vt.kind, index = vt.index, member = k,
              seed = seed, best_val = hist.best_val or 0/0, epochs = hist.epochs or #(hist.val or {})})
            local dt = wtime() - t0
            trained, spent = trained + 1, spent + dt
            local eta = core.progress.format_duration(spent / trained * (njobs - ijob))
            log(self, "flows: %s %s member %d trained (%.1f s) [job %d of %d, ETA %s]", vt.name,
                which, k, dt, ijob, njobs, eta)
          end
          w.names[#w.names + 1] = group .. "/params"
        end
      end
    end
  end,
}

-- A parametric bootstrap of the flows' own bias: n stars drawn from the base ensembles
-- (x from n(x), then v from p(v|x) at each x). Flows refitted on them see a galaxy whose
-- truth is the base ensemble itself, so refit - base estimates the bias the fitting adds
-- (the smoothing of n(x)'s curvature, common to every member and resample), without any
-- truth: a systematic variant like the others (preset.systematics = {{refit = true}}).
function P:refit_sample(file, n, index)
  local base = {}
  for _, which in ipairs({"n_x", "p_v"}) do
    local list, k = {}, 1
    while h5.exists(file, ("/base/%s/member_%04d"):format(which, k)) == true do
      list[k] = flowmod.load(file, ("/base/%s/member_%04d"):format(which, k))
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
    local xs = base.n_x:sample(math.ceil((n - got) * 1.02) + 16, {seed = core.rng.derive_seed(seed, 100 + round)})
    local keep = dist_sun(xs):lt(self.o.radius)
    local xk = xs:select(keep)
    parts[#parts + 1] = xk
    got = got + (xk:shape())
    if round > 20 then error("pf.pipeline: the refit's n(x) draws keep leaving the survey sphere", 0) end
  end
  local x = (#parts == 1 and parts[1] or array.vstack(parts)):rows(1, n):copy()
  -- velocities: the paper's speed cut (|v| < 1000 km/s) applies to the draws as to the
  -- stars; an affine flow's far tail can return absurd speeds, which are drawn again
  local v = base.p_v:sample(n, x, {seed = core.rng.derive_seed(seed, 1)})
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
    local vb = base.p_v:sample(#bad, #bad > 1 and xb or xb:row(1), {seed = core.rng.derive_seed(seed, r)})
    for k, i in ipairs(bad) do
      for j = 1, 3 do v:set(i, j, vb:get(k, j)) end
    end
  end
end

-- the phase-space densities of every variant (base ensemble, each base member, resamples)
function P:densities_f()
  local ff = self:file("flows")
  local out = {}
  for _, vt in ipairs(self:variants()) do
    local nx, pv = {}, {}
    for k = 1, vt.members do
      nx[k] = flowmod.load(ff, ("/%s/n_x/member_%04d"):format(vt.name, k))
      pv[k] = flowmod.load(ff, ("/%s/p_v/member_%04d"):format(vt.name, k))
    end
    local function ens(t) return #t == 1 and t[1] or flowmod.ensemble{members = t} end
    out[#out + 1] = {name = vt.name, kind = vt.kind, f = df.flows(ens(nx), ens(pv))}
    if vt.kind == "base" and vt.members > 1 then
      for k = 1, vt.members do
        out[#out + 1] = {name = ("member_%03d"):format(k), kind = "member", f = df.flows(nx[k], pv[k])}
      end
    end
  end
  return out
end

-- accelerations at every curve and the Sun ball, for every variant and the truth
local function accel_set(self, f, seed)
  local o, g = self.o, self.geom
  local res = {}
  local mean = cbe.ball_average(f, array.from{g.ball.center}, g.ball.radius,
    {points = o.ball_points, nv = o.nv, seed = seed})
  res.sun = mean
  for _, name in ipairs(g.curve_names) do
    local c = g.curves[name]
    local acc = cbe.acceleration(f, c.x, {nv = o.nv, seed = seed})
    if name == "arc" then
      for _, i in ipairs(g.arc_ball) do
        local m = cbe.ball_average(f, c.x:rows(i, i):copy(), g.ball.radius,
          {points = o.ball_points, nv = o.nv, seed = seed})
        for j = 1, 3 do acc:set(i, j, m:get(j)) end
      end
    end
    res[name] = acc
  end
  return res
end

S.accelerations = {
  inputs = {"flows"},
  options = function(self) return {nv = self.o.nv, bp = self.o.ball_points, g = self.o.geometry, seed = self.o.seed} end,
  run = function(self, w)
    for _, d in ipairs(self:densities_f()) do
      local t0 = os.time()
      for name, a in pairs(accel_set(self, d.f, self.o.seed)) do w.put(("/%s/%s"):format(d.name, name), a) end
      log(self, "accelerations: %s (%d s)", d.name, os.time() - t0)
    end
    -- truth: the mock potential's exact accelerations (NaN for real data); the Sun's is
    -- averaged over the same ball points as the flows'
    local g = self.geom
    local mock = self:is_mock()
    local function tr(x) local a = self.potential:acceleration(x) return mock and a or a * (0 / 0) end
    local bp = cbe.ball_points(array.from{g.ball.center}, g.ball.radius, self.o.ball_points, 7)
    w.put("/truth/sun", tr(bp):mean(1):reshape(3))
    for _, name in ipairs(g.curve_names) do
      local t = tr(g.curves[name].x)
      if name == "arc" then
        for _, i in ipairs(g.arc_ball) do
          local m = tr(cbe.ball_points(g.curves[name].x:rows(i, i):copy(), g.ball.radius, self.o.ball_points, 7)):mean(1)
          for j = 1, 3 do t:set(i, j, m:get(j)) end
        end
      end
      w.put("/truth/" .. name, t)
    end
  end,
}

S.equilibrium = {
  inputs = {"accelerations"},
  options = function(self) return {n = self.o.dlnf_n, seed = self.o.seed} end,
  run = function(self, w)
    local af = self:file("accelerations")
    local base = self:densities_f()[1].f
    local x0 = array.from{geometry.SUN}
    local a = rd(af, "/base/sun"):reshape(1, 3)
    local vals = equilibrium.dlnf_dt(base, x0, a, {n = self.o.dlnf_n, seed = self.o.seed})
    w.put("/dlnf_dt/flows", vals)
    if self:is_mock() then
      local tv = equilibrium.dlnf_dt(self:exact_df(), x0, self.potential:acceleration(x0), {n = self.o.dlnf_n, seed = self.o.seed})
      w.put("/dlnf_dt/truth", tv)
    else
      w.put("/dlnf_dt/truth", vals * (0 / 0))
    end
    -- North-South ratios along r and phi (base ensemble)
    for _, ax in ipairs({"r", "phi"}) do
      local xn = self.geom.curves[ax .. "_north"].x
      local ar, ath = equilibrium.north_south(xn, rd(af, "/base/" .. ax .. "_north"), rd(af, "/base/" .. ax .. "_south"))
      w.put("/north_south/" .. ax .. "/a_r", ar)
      w.put("/north_south/" .. ax .. "/a_theta", ath)
    end
  end,
}

-- density locations: the Sun, the three density curves along s, the gNFW set (which holds
-- the independent points first)
function P:density_points()
  local g = self.geom
  local blocks, names = {array.from{geometry.SUN}}, {"sun"}
  for _, n in ipairs(g.density_names) do blocks[#blocks + 1] = g.density[n].x; names[#names + 1] = n end
  blocks[#blocks + 1] = g.gnfw.x
  names[#names + 1] = "gnfw"
  return array.vstack(blocks), names, blocks
end

local function split(a, blocks)
  local out, i = {}, 1
  for k, b in ipairs(blocks) do
    local n = (b:shape())
    out[k] = array.from({table.unpack(a:totable(), i, i + n - 1)})
    i = i + n
  end
  return out
end

-- The farthest kernel point of each density location from the Sun (kpc): n0 values.
local function kernel_reach(pts)
  local np = pts.nvol + pts.nsurf
  local d = dist_sun(pts.x):totable()
  local out = {}
  for i = 1, pts.n0 do
    local m = 0
    for j = (i - 1) * np + 1, i * np do if d[j] > m then m = d[j] end end
    out[i] = m
  end
  return out
end
pipeline.kernel_reach = kernel_reach

-- Densities: the kernel of a location must lie inside the survey sphere with a margin
-- (density_edge, kpc; default 0.9 radius): beyond the sphere the flows are undefined
-- (NaN accelerations), and near its edge the sphere map's Jacobian dominates the learned
-- n(x), so such locations come out as NaN rather than as a wrong number. Every kernel
-- point uses the same QMC velocity base points (seed_stride = 0): the velocity noise of
-- neighbouring points is then correlated and largely cancels in the divergence.
S.densities = {
  inputs = {"flows", "catalogue"},
  options = function(self) return {kp = self.o.kernel_points, nv = self.o.nv_density, g = self.o.geometry,
                                    tk = self.o.truth_kernel_points, seed = self.o.seed,
                                    edge = self.o.density_edge, cs = 0} end,
  run = function(self, w)
    local x0, names, blocks = self:density_points()
    local pts = poisson.kernel_points(x0, {points = self.o.kernel_points, seed = self.o.seed})
    local edge = self.o.density_edge or 0.9 * self.o.radius
    local reach = kernel_reach(pts)
    local inside = {}
    local nout = 0
    for i, r in ipairs(reach) do
      inside[i] = r <= edge
      if not inside[i] then nout = nout + 1 end
    end
    if nout > 0 then
      log(self, "densities: %d of %d locations have kernels reaching beyond %.2f kpc of the Sun: NaN", nout, #reach, edge)
    end
    w.put("/kernel_reach", reach, {unit = "kpc", edge = edge})
    local function mask(rho)
      for i = 1, #inside do if not inside[i] then rho:set(i, 0 / 0) end end
      return rho
    end
    for _, d in ipairs(self:densities_f()) do
      local t0 = os.time()
      local acc = cbe.acceleration(d.f, pts.x, {nv = self.o.nv_density, seed = self.o.seed, seed_stride = 0})
      local rho = mask(poisson.density_from(acc, pts))
      for k, part in ipairs(split(rho, blocks)) do w.put(("/%s/%s"):format(d.name, names[k]), part) end
      log(self, "densities: %s (%d s)", d.name, os.time() - t0)
    end
    -- truth (mock): the kernel-smoothed total density of MWPotential2014 (pf.truth) and its
    -- components: dark matter = the NFW halo, baryons = bulge + Miyamoto-Nagai disk
    local t = self:truth_densities(x0, self.o.truth_kernel_points)
    local nan = not self:is_mock() and (0 / 0) or 1
    for _, q in ipairs({"total", "dm", "baryons"}) do
      for k, part in ipairs(split(t[q] * nan, blocks)) do
        w.put((q == "total" and "/truth/" or "/truth_" .. q .. "/") .. names[k], part)
      end
    end
  end,
}

-- Baryons subtracted: for real data the McKee et al. (2015) model (pf.baryons); for the
-- mock by default its own baryons (MWPotential2014's bulge + Miyamoto-Nagai disk, exact, no
-- error) smoothed with the same kernel points -- the mock's "baryon model". The preset's
-- baryons = "mckee" subtracts the McKee model from the mock too.
function P:baryon_model()
  if self:is_mock() and (self.o.baryons or "mock") == "mock" then return "mock" end
  return "mckee"
end

S.baryons = {
  inputs = {"catalogue"},
  options = function(self) return {kp = self.o.kernel_points, g = self.o.geometry, seed = self.o.seed,
                                    comps = baryons.components, model = self.o.baryons or "mock"} end,
  run = function(self, w)
    local x0, names, blocks = self:density_points()
    local pts = poisson.kernel_points(x0, {points = math.max(self.o.kernel_points, 400), seed = self.o.seed})
    local model = self:baryon_model()
    local rho, err
    if model == "mock" then
      -- the densities step's kernel points: their QMC error cancels in rho - rho_b
      local dpts = poisson.kernel_points(x0, {points = self.o.kernel_points, seed = self.o.seed})
      rho = poisson.smooth(self:components().baryons:density(dpts.x), dpts)
      err = rho * 0
    else
      rho, err = baryons.smoothed(pts)
    end
    local pr, pe = split(rho, blocks), split(err, blocks)
    for k, n in ipairs(names) do
      w.put("/rho_b/" .. n, pr[k])
      w.put("/err_b/" .. n, pe[k])
    end
    return {model = model}
  end,
}

-- central value and error budget of one quantity stored under /VARIANT/path in `file`
function P:budget(file, path)
  local central = rd(file, "/base/" .. path)
  local groups = {flow = {}, stat = {}, meas = {}}
  local syst = {}
  for _, d in ipairs(self.variant_names or {}) do
    local g = d.kind == "member" and groups.flow or d.kind == "boot" and groups.stat
              or d.kind == "smear" and groups.meas or d.kind == "syst" and syst or nil
    if g then g[#g + 1] = rd(file, "/" .. d.name .. "/" .. path) end
  end
  local sig = {}
  local total = central * 0
  -- a fixed order: the sum of squares must not depend on the hash order of pairs()
  for _, kind in ipairs({"flow", "stat", "meas"}) do
    local list = groups[kind]
    local s = central * 0
    if #list >= 2 then
      local mean = central * 0
      for _, a in ipairs(list) do mean = mean + a end
      mean = mean * (1 / #list)
      for _, a in ipairs(list) do s = s + (a - mean):square() end
      s = (s * (1 / (#list - 1))):sqrt()
    end
    sig[kind] = s
    total = total + s:square()
  end
  -- systematic: RMS deviation from the central value of the ensembles trained on the same
  -- stars with other settings (preset.systematics: architectures, sphere-map radii)
  local ss = central * 0
  if #syst > 0 then
    for _, a in ipairs(syst) do ss = ss + (a - central):square() end
    ss = ss * (1 / #syst)
    total = total + ss
    ss = ss:sqrt()
  end
  sig.syst = ss
  return central, total:sqrt(), sig
end

function P:load_variant_names()
  local vs = {}
  for _, vt in ipairs(self:variants()) do
    vs[#vs + 1] = {name = vt.name, kind = vt.kind}
    if vt.kind == "base" and vt.members > 1 then
      for k = 1, vt.members do vs[#vs + 1] = {name = ("member_%03d"):format(k), kind = "member"} end
    end
  end
  self.variant_names = vs
end

S.darkmatter = {
  inputs = {"densities", "baryons"},
  options = function() return {} end,
  run = function(self, w)
    local df_, bf = self:file("densities"), self:file("baryons")
    local _, names = self:density_points()
    for _, n in ipairs(names) do
      local rho, sig, parts = self:budget(df_, n)
      local rb, eb = rd(bf, "/rho_b/" .. n), rd(bf, "/err_b/" .. n)
      local dm, edm = darkmatter.subtract(rho, sig, rb, eb)
      w.put("/rho/" .. n, rho); w.put("/rho_err/" .. n, sig)
      w.put("/rho_err_flow/" .. n, parts.flow); w.put("/rho_err_stat/" .. n, parts.stat)
      w.put("/rho_err_meas/" .. n, parts.meas); w.put("/rho_err_syst/" .. n, parts.syst)
      w.put("/rho_dm/" .. n, dm); w.put("/rho_dm_err/" .. n, edm)
      w.put("/truth/rho/" .. n, rd(df_, "/truth/" .. n))
      w.put("/truth/rho_dm/" .. n, rd(df_, "/truth_dm/" .. n))
    end
  end,
}

-- Errors for inverse-variance weights: non-positive or NaN ones raised to the smallest
-- positive one (an array in, an array out).
local function error_floor(e)
  local t = e:totable()
  local pos = {}
  for _, v in ipairs(t) do if v > 0 then pos[#pos + 1] = v end end
  table.sort(pos)
  local fl = pos[1] or 1
  for i, v in ipairs(t) do if not (v > 0) then t[i] = fl end end -- luacheck: ignore 581
  return array.from(t)
end
pipeline.error_floor = error_floor

S.average = {
  inputs = {"darkmatter"},
  options = function(self) return {n = self.geom.independent.n} end,
  run = function(self, w)
    local f = self:file("darkmatter")
    local n = self.geom.independent.n
    local dm = rd(f, "/rho_dm/gnfw"):totable()
    local e = error_floor(rd(f, "/rho_dm_err/gnfw")):totable()
    local tdm = rd(f, "/truth/rho_dm/gnfw"):totable()
    local v, ev, tv = {}, {}, {}
    for i = 1, n do v[i], ev[i], tv[i] = dm[i], e[i], tdm[i] end
    local m, em, chi2 = darkmatter.weighted_mean(v, ev)
    local tm = darkmatter.weighted_mean(tv, ev)
    w.put("/rho_dm_rsun", {m, em, chi2})
    w.put("/truth/rho_dm_rsun", {tm})
  end,
}

S.gnfw = {
  inputs = {"darkmatter"},
  options = function(self) return {mcmc = self.o.mcmc, seed = self.o.seed} end,
  run = function(self, w)
    local f = self:file("darkmatter")
    local rho = units.rho_to_1e2(rd(f, "/rho_dm/gnfw"))
    local sig = units.rho_to_1e2(error_floor(rd(f, "/rho_dm_err/gnfw")))
    local r = array.from(self.geom.gnfw.r)
    -- locations masked by the densities step (kernel beyond the survey edge) are left out
    local keep = {}
    local rt, st = rho:totable(), sig:totable()
    for i = 1, #rt do keep[i] = rt[i] == rt[i] and st[i] == st[i] end
    local function pick(a)
      local t, o = a:totable(), {}
      for i = 1, #t do if keep[i] then o[#o + 1] = t[i] end end
      return array.from(o)
    end
    rho, sig, r = pick(rho), pick(sig), pick(r)
    local steps = self.o.mcmc.steps
    local res = gnfw.fit({r = r, rho = rho, sigma = sig}, {walkers = self.o.mcmc.walkers, steps = steps,
      burn = steps // 4, seed = self.o.seed})
    local med, lo, hi, map = {}, {}, {}, {}
    for j, name in ipairs(gnfw.names) do
      med[j], lo[j], hi[j], map[j] = res.median[name], res.p16[name], res.p84[name], res.map[name]
    end
    w.put("/summary/median", med); w.put("/summary/p16", lo); w.put("/summary/p84", hi)
    w.put("/summary/map", map)
    w.put("/samples", res.result:flat{burn = 0})
    w.put("/points/r", r); w.put("/points/rho", rho); w.put("/points/sigma", sig)
  end,
}

S.report = {
  inputs = {"accelerations", "equilibrium", "darkmatter", "average", "gnfw", "selection"},
  options = function(self) return {preset = self.o} end,
  run = function(self, w)
    local report = require "phaseflow.report"
    report.write(self, w)
  end,
}

-- running --------------------------------------------------------------------------

local function index_of(name)
  for i, n in ipairs(pipeline.steps) do if n == name then return i end end
  error(("pf.pipeline: no step '%s' (steps: %s)"):format(tostring(name), table.concat(pipeline.steps, ", ")), 3)
end

function P:key(step)
  local spec = S[step]
  local ins = {}
  for _, i in ipairs(spec.inputs or {}) do ins[#ins + 1] = self.keys[i] or "?" end
  return serialize.hash{step = step, inputs = ins, options = spec.options(self)}
end

--- run{only = name, from = name, force = bool}: returns the list of {step, status, seconds}.
function P:run(opts)
  opts = opts or {}
  local first = opts.from and index_of(opts.from) or 1
  local only = opts.only and index_of(opts.only)
  self:load_variant_names()
  local wt = wtime
  local done = {}
  for i, step in ipairs(pipeline.steps) do
    local key = self:key(step)
    self.keys[step] = key
    local selected = (only == nil or only == i) and i >= first
    local ok, why, attrs = self:verify(step, key)
    if selected and (opts.force or not ok) then
      log(self, "%s: running (%s)", step, opts.force and "forced" or why)
      local t0 = wt()
      local file = self:file(step)
      local keep = S[step].keep_file and file_exists(file) and pcall(h5.attrs, file, "/")
      if keep then h5.set_attrs(file, "/", {step_key = "in progress"}) end
      local w = writer(file, keep)
      local info = S[step].run(self, w) or {}
      info.step = step
      info.options = serialize.dump(S[step].options(self))
      w.seal(key, info)
      local dt = wt() - t0
      self.times[step] = dt
      done[#done + 1] = {step = step, status = "ran", seconds = dt}
      log(self, "%s: done in %.1f s", step, dt)
    elseif not ok and (only ~= nil or i < first) and i <= (only or first) then
      error(("pf.pipeline: step '%s' must be run first (%s)"):format(step, why), 2)
    else
      local entry = {step = step, status = ok and "skipped" or "not selected", seconds = 0}
      done[#done + 1] = entry
      -- Keys hold inputs and options, not the code: a result made by another build is
      -- reused, and said so (its provenance names the commit).
      local made, this = ok and attrs.git_commit, core.config.config().git
      if ok and made ~= nil and made ~= this then
        entry.made_by = made
        log(self, "%s: up to date, made by git %s (this build: git %s; --force redoes it)",
          step, tostring(made), tostring(this))
      elseif ok then
        log(self, "%s: up to date", step)
      end
    end
  end
  self.ran = done
  return done
end

return pipeline

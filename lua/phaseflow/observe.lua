-- pf.observe: a Gaia-like observation of a mock galaxy, written in the archive's format.
--
--   local cat, truth = pf.observe.observe(x, v, {seed = 1})   -- x, v: N x 3 (kpc, km/s)
--   local files = pf.observe.write_gaia("out/gaia", cat)     -- GaiaSource_*.csv.gz
--   pf.observe.write_truth("out/mock.h5", truth, {labels = labels})
--
-- Every star gets an absolute magnitude M_G and a colour bp_rp from a luminosity function
-- (red clump, giant branch, dwarfs), apparent G from its true distance (plus toy dust when
-- asked for), G_RVS = G - (0.05 + 0.62 bp_rp). Only stars with saturation <= G_RVS <= limit
-- (3 and 14 by default) are observed: they form the catalogue, with DR3-like errors and
-- correlations, and observables perturbed by them (errors = false keeps the exact ones).
-- See docs/observe.md.
local core = require "phaseflow.core"
local strict = require "phaseflow.strict"

local array = core.array
local observe = {}
for k, v in pairs(core.observe) do observe[k] = v end

observe.KINDS = { [0] = "red clump", "giant branch", "dwarf" }

--- source_id = SOURCE_ID_BASE + the star's 0-based index in the truth arrays (19 digits,
--- like DR3's, so the int64 path of readers is exercised; the truth is one subtraction away).
observe.SOURCE_ID_BASE = 1000000000000000000

observe.OBS = { "ra", "dec", "parallax", "pmra", "pmdec", "radial_velocity" }
observe.ERRORS = { "ra_error", "dec_error", "parallax_error", "pmra_error", "pmdec_error",
  "radial_velocity_error" }
observe.CORR = { "ra_dec_corr", "ra_parallax_corr", "ra_pmra_corr", "ra_pmdec_corr",
  "dec_parallax_corr", "dec_pmra_corr", "dec_pmdec_corr", "parallax_pmra_corr",
  "parallax_pmdec_corr", "pmra_pmdec_corr" }

--- Archive column order of the written files (after solution_id, designation, source_id,
--- random_index, ref_epoch) and their units.
observe.COLUMNS = {
  { "ra", "deg" }, { "ra_error", "mas" }, { "dec", "deg" }, { "dec_error", "mas" },
  { "parallax", "mas" }, { "parallax_error", "mas" }, { "parallax_over_error", "" },
  { "pmra", "mas.yr**-1" }, { "pmra_error", "mas.yr**-1" }, { "pmdec", "mas.yr**-1" },
  { "pmdec_error", "mas.yr**-1" },
  { "ra_dec_corr", "" }, { "ra_parallax_corr", "" }, { "ra_pmra_corr", "" },
  { "ra_pmdec_corr", "" }, { "dec_parallax_corr", "" }, { "dec_pmra_corr", "" },
  { "dec_pmdec_corr", "" }, { "parallax_pmra_corr", "" }, { "parallax_pmdec_corr", "" },
  { "pmra_pmdec_corr", "" },
  { "phot_g_mean_mag", "mag" }, { "bp_rp", "mag" }, { "radial_velocity", "km.s**-1" },
  { "radial_velocity_error", "km.s**-1" }, { "grvs_mag", "mag" },
}

--- The toy dust screen used by `dust = true`: three clouds in the disk within 2 kpc of
--- the Sun (kpc, kpc, mag of A_G behind each centre).
observe.DEFAULT_CLOUDS = {
  { c = { 7.5, 0.6, 0.0 }, r = 0.25, a = 1.5 },
  { c = { 8.9, -1.2, 0.02 }, r = 0.4, a = 2.5 },
  { c = { 8.3, 1.5, -0.05 }, r = 0.3, a = 1.0 },
}

-- largest |corr| drawn: with |rho| <= 0.15 every 5 x 5 astrometric correlation matrix is
-- strictly diagonally dominant (4 x 0.15 < 1), hence positive definite.
observe.CORR_MAX = 0.15

local KNOWN = { seed = true, errors = true, lf = true, dust = true, saturation = true,
  limit = true, frame = true }

local function check_opts(opts, fname, known)
  opts = opts or {}
  if type(opts) ~= "table" then error(fname .. ": options must be a table", 3) end
  strict.options(opts, known, fname, 3)
  return opts
end

--- Observe N stars at x, v (N x 3, kpc and km/s, the paper's Galactocentric frame).
--- Options: seed (1), errors (true), lf (overrides of pf.observe.lf_default()), dust
--- (false | true | list of clouds {c = {x, y, z}, r = kpc, a = mag}), saturation (3),
--- limit (14), frame (pf.coords frame options). Returns
---   cat: the observed stars as a catalogue (1-D arrays by archive name, cat.n,
---        cat.source_id (Lua integers), cat.index (0-based truth index));
---   truth: for all N stars M_G, bp_rp, kind (0 RC, 1 RGB, 2 dwarf), A_G,
---        phot_g_mean_mag, grvs_mag, observed (0/1), the exact observables, n.
function observe.observe(x, v, opts)
  opts = check_opts(opts, "pf.observe.observe", KNOWN)
  local coords = core.coords
  local seed = opts.seed or 1
  if math.type(seed) ~= "integer" or seed < 0 then
    error("pf.observe.observe: seed must be an integer >= 0", 2)
  end
  local sat, lim = opts.saturation or 3, opts.limit or 14
  local n = (x:shape())
  local exact = coords.observables(x, v, opts.frame)
  local mg, bprp, kind = core.observe.draw_lf(n, { lf = opts.lf, seed = core.rng.derive_seed(seed, 1) })
  local a_g = array.zeros(n)
  if opts.dust then
    local clouds = opts.dust == true and observe.DEFAULT_CLOUDS or opts.dust
    local sun = coords.sun(opts.frame):totable()
    a_g = core.observe.extinction(x, clouds, sun)
  end
  -- distance modulus with d in kpc: 5 log10(1000 d) - 5
  local dm = exact.parallax:pow(-1):log10() * 5 + 10
  local g = mg + dm + a_g
  local grvs = g - core.observe.g_minus_grvs(bprp)
  local seen = grvs:ge(sat):land(grvs:le(lim))
  local truth = { n = n, M_G = mg, bp_rp = bprp, kind = kind, A_G = a_g, phot_g_mean_mag = g,
    grvs_mag = grvs, observed = seen, saturation = sat, limit = lim, seed = seed,
    errors = opts.errors ~= false, dust = opts.dust and true or false }
  for _, k in ipairs(observe.OBS) do truth[k] = exact[k] end

  local cat = { missing = {}, source = {} }
  local idx = array.arange(0, n):select(seen)
  cat.n = (idx:shape())
  cat.index = idx
  for _, k in ipairs(observe.OBS) do cat[k] = exact[k]:select(seen) end
  cat.phot_g_mean_mag = g:select(seen)
  cat.grvs_mag = grvs:select(seen)
  cat.bp_rp = bprp:select(seen)
  local err = core.observe.errors(cat.phot_g_mean_mag, cat.grvs_mag)
  for _, k in ipairs(observe.ERRORS) do cat[k] = err[k] end
  local rng = core.rng.new(core.rng.derive_seed(seed, 2))
  for _, k in ipairs(observe.CORR) do
    cat[k] = rng:fill_uniform(array.zeros(cat.n), -observe.CORR_MAX, observe.CORR_MAX)
  end
  if truth.errors and cat.n > 0 then
    local s, nbad = coords.smear(cat, { seed = core.rng.derive_seed(seed, 3) })
    if nbad > 0 then error(("pf.observe.observe: %d stars could not be perturbed"):format(nbad), 2) end
    for _, k in ipairs(observe.OBS) do cat[k] = s[k] end
  end
  cat.parallax_over_error = cat.parallax / cat.parallax_error
  local ids, base = {}, observe.SOURCE_ID_BASE
  local it = idx:totable()
  for i = 1, cat.n do ids[i] = base + math.tointeger(it[i]) end
  cat.source_id = ids
  return cat, truth
end

--- Write a catalogue from observe() as Gaia bulk files in `dir` (created if needed):
--- GaiaSource_FFFFFF-LLLLLL.csv.gz with FFFFFF and LLLLLL the first and last row of the
--- file. Options: rows_per_file (250000), level (zlib, 1). Returns the list of paths.
function observe.write_gaia(dir, cat, opts)
  opts = check_opts(opts, "pf.observe.write_gaia", { rows_per_file = true, level = true })
  if type(dir) ~= "string" then error("pf.observe.write_gaia: directory name expected", 2) end
  local per = opts.rows_per_file or 250000
  if math.type(per) ~= "integer" or per < 1 then
    error("pf.observe.write_gaia: rows_per_file must be an integer >= 1", 2)
  end
  os.execute(("mkdir -p '%s' 2>/dev/null"):format(dir:gsub("'", "'\\''")))
  local names, units, cols = {}, {}, {}
  for j, c in ipairs(observe.COLUMNS) do
    names[j], units[j] = c[1], c[2]
    cols[j] = cat[c[1]]
    if not array.is_array(cols[j]) then
      error(("pf.observe.write_gaia: catalogue has no column '%s'"):format(c[1]), 2)
    end
  end
  local paths, starts = {}, { 0 }
  local nf = math.max(1, (cat.n + per - 1) // per)
  for k = 1, nf do
    local first, last = (k - 1) * per, math.min(k * per, cat.n)
    paths[k] = ("%s/GaiaSource_%06d-%06d.csv.gz"):format(dir, first, math.max(last - 1, first))
    starts[k + 1] = last
  end
  core.observe.write_files(paths, starts, { names = names, units = units, columns = cols,
    index = cat.index, source_id_base = observe.SOURCE_ID_BASE }, { level = opts.level })
  return paths
end

--- Write the truth of an observation (all stars, observed or not) under `group`
--- (default "/truth") of an HDF5 file: x, v (when given in extra), labels, M_G, bp_rp,
--- kind, A_G, G, G_RVS, observed, the exact observables, and provenance.
function observe.write_truth(file, truth, extra, opts)
  local h5 = require "phaseflow.h5"
  extra = extra or {}
  local g = (opts and opts.group) or "/truth"
  if extra.x then h5.write(file, g .. "/x", extra.x, { unit = "kpc", frame = "paper Galactocentric" }) end
  if extra.v then h5.write(file, g .. "/v", extra.v, { unit = "km/s" }) end
  if extra.labels then h5.write(file, g .. "/labels", extra.labels, { meaning = "population index (1-based)" }) end
  h5.write(file, g .. "/M_G", truth.M_G, { unit = "mag" })
  h5.write(file, g .. "/bp_rp", truth.bp_rp, { unit = "mag" })
  h5.write(file, g .. "/kind", truth.kind, { meaning = "0 red clump, 1 giant branch, 2 dwarf" })
  h5.write(file, g .. "/A_G", truth.A_G, { unit = "mag" })
  h5.write(file, g .. "/phot_g_mean_mag", truth.phot_g_mean_mag, { unit = "mag" })
  h5.write(file, g .. "/grvs_mag", truth.grvs_mag, { unit = "mag" })
  h5.write(file, g .. "/observed", truth.observed, { meaning = "1 if saturation <= G_RVS <= limit" })
  local units = { ra = "deg", dec = "deg", parallax = "mas", pmra = "mas/yr", pmdec = "mas/yr",
    radial_velocity = "km/s" }
  for _, k in ipairs(observe.OBS) do h5.write(file, g .. "/" .. k, truth[k], { unit = units[k] }) end
  local info = { n = truth.n, seed = truth.seed, errors = tostring(truth.errors),
    dust = tostring(truth.dust), saturation = truth.saturation, limit = truth.limit,
    source_id = ("source_id = %d + 0-based index"):format(observe.SOURCE_ID_BASE) }
  for k, val in pairs(extra.info or {}) do info[k] = val end
  h5.provenance(file, g, info)
end

--- Fraction of red-clump stars among a selection: source_ids of the selected stars and
--- the truth's kind array.
function observe.red_clump_fraction(source_id, truth)
  if #source_id == 0 then return 0 / 0 end
  local kind, rc = truth.kind, 0
  for _, id in ipairs(source_id) do
    if kind:get(id - observe.SOURCE_ID_BASE + 1) == 0 then rc = rc + 1 end
  end
  return rc / #source_id
end

return observe

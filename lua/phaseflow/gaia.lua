-- pf.gaia: Gaia archive tables (CSV/ECSV, plain or gzip, and FITS) as catalogues.
--
--   local cat = pf.gaia.read("GaiaSource_000000-003111.csv.gz", {columns = {...}})
--   for chunk in pf.gaia.stream("bulk/", {columns = {...}, chunk = 100000}) do ... end
--   local sample, flow = pf.gaia.select_files("bulk/*.csv.gz", {out = "sample.h5"})
--
-- A catalogue is a table of 1-D pf.arrays keyed by archive column names (NaN where a
-- value is missing), with cat.n rows, cat.missing[name] counts, and cat.source_id as
-- a Lua table of integers (a double cannot hold a 19-digit source_id).
local core = require "phaseflow.core"
local strict = require "phaseflow.strict"
local select = require "phaseflow.select"

local array = core.array
local gaia = {}
for k, v in pairs(core.gaia) do gaia[k] = v end

--- The 6-D observables a catalogue needs for Galactocentric phase space.
gaia.astrometry = { "ra", "dec", "parallax", "pmra", "pmdec", "radial_velocity" }

--- Everything else the paper's pipeline uses; read when present.
gaia.extras = {
  "source_id", "ra_error", "dec_error", "parallax_error", "pmra_error", "pmdec_error",
  "radial_velocity_error", "ra_dec_corr", "ra_parallax_corr", "ra_pmra_corr", "ra_pmdec_corr",
  "dec_parallax_corr", "dec_pmra_corr", "dec_pmdec_corr", "parallax_pmra_corr",
  "parallax_pmdec_corr", "pmra_pmdec_corr", "phot_g_mean_mag", "grvs_mag", "bp_rp",
}

--- The astrometric correlations. A file without them (a plain archive query) is read as
--- uncorrelated: an absent correlation column is all zeros, not missing (its source stays
--- nil), so that covariances, smearing and the samples the pipeline stores agree.
gaia.correlations = {
  "ra_dec_corr", "ra_parallax_corr", "ra_pmra_corr", "ra_pmdec_corr", "dec_parallax_corr",
  "dec_pmra_corr", "dec_pmdec_corr", "parallax_pmra_corr", "parallax_pmdec_corr", "pmra_pmdec_corr",
}

-- Absent correlation columns of a chunk as zero correlation (see gaia.correlations).
local function zero_absent_correlations(c)
  for _, name in ipairs(gaia.correlations) do
    if c[name] and c.source[name] == nil then
      c[name] = array.zeros(c.n)
      c.missing[name] = 0
    end
  end
  return c
end

-- Files a directory contributes: the archive's table formats, compressed or not.
local EXTENSIONS = { "csv", "csv.gz", "ecsv", "ecsv.gz", "fits", "fits.gz", "fit", "fits.fz" }

local function ends_with(s, suffix)
  return s:sub(-#suffix) == suffix
end

--- Turn a path, a directory, a glob pattern or a list of these into a sorted list of
--- files. A pattern or directory matching nothing is an error naming it.
function gaia.expand(inputs)
  local out = {}
  local function add(x)
    if type(x) == "table" then
      for _, y in ipairs(x) do add(y) end
      return
    end
    if type(x) ~= "string" then
      error(("pf.gaia: input must be a path, a glob or a list of them, got %s"):format(type(x)), 3)
    end
    if core.gaia.isdir(x) then
      local found = {}
      for _, f in ipairs(core.gaia.glob(x .. "/*")) do
        for _, e in ipairs(EXTENSIONS) do
          if ends_with(f, "." .. e) then found[#found + 1] = f; break end
        end
      end
      if #found == 0 then error(("pf.gaia: directory '%s' holds no Gaia table files"):format(x), 3) end
      table.sort(found)
      for _, f in ipairs(found) do out[#out + 1] = f end
    elseif x:find("[%*%?%[]") then
      local found = core.gaia.glob(x)
      if #found == 0 then error(("pf.gaia: no file matches '%s'"):format(x), 3) end
      for _, f in ipairs(found) do out[#out + 1] = f end
    else
      out[#out + 1] = x
    end
  end
  add(inputs)
  if #out == 0 then error("pf.gaia: no input files", 2) end
  return out
end

-- Reader options from user options: default columns are the paper's, with the 6-D
-- observables required and the rest optional.
local function reader_opts(opts, fname)
  opts = opts or {}
  if type(opts) ~= "table" then error(fname .. ": options must be a table", 3) end
  strict.options(opts, { "columns", "optional", "chunk" }, fname, 3)
  if opts.columns == nil then
    return { columns = gaia.astrometry, optional = opts.optional or gaia.extras, chunk = opts.chunk }
  end
  if type(opts.columns) ~= "table" or #opts.columns == 0 then
    error(fname .. ": option 'columns' must be a non-empty list of column names", 3)
  end
  return { columns = opts.columns, optional = opts.optional, chunk = opts.chunk }
end

--- Iterate over the chunks of one or more files (path, directory, glob or list):
--- `for c in pf.gaia.stream(inputs, opts) do ... end`. Each chunk is a catalogue of
--- at most opts.chunk rows (default 100000); one file is open at a time.
function gaia.stream(inputs, opts)
  local ropts = reader_opts(opts, "pf.gaia.stream")
  local files = gaia.expand(inputs)
  local i, reader = 0, nil
  return function()
    while true do
      if not reader then
        i = i + 1
        if i > #files then return nil end
        reader = core.gaia.open(files[i], ropts)
      end
      local c = reader:next()
      if c then return zero_absent_correlations(c) end
      reader:close()
      reader = nil
    end
  end
end

local function is_list(v)
  return type(v) == "table" and not array.is_array(v)
end

--- Join catalogues (same columns) into one.
function gaia.concat(cats)
  local out = { n = 0, missing = {}, source = {} }
  if #cats == 0 then return out end
  for name, v in pairs(cats[1]) do
    if array.is_array(v) then
      local parts = {}
      for _, c in ipairs(cats) do parts[#parts + 1] = c[name] end
      out[name] = #parts == 1 and parts[1] or array.concat(parts)
    elseif is_list(v) and name ~= "missing" and name ~= "source" then
      local t, k = {}, 0
      for _, c in ipairs(cats) do
        for _, x in ipairs(c[name]) do k = k + 1; t[k] = x end
      end
      out[name] = t
    end
  end
  for _, c in ipairs(cats) do
    out.n = out.n + c.n
    for name, m in pairs(c.missing or {}) do out.missing[name] = (out.missing[name] or 0) + m end
    for name, s in pairs(c.source or {}) do out.source[name] = s end
  end
  return out
end

--- Read whole files into one catalogue (see gaia.stream for the inputs and options).
function gaia.read(inputs, opts)
  local ropts = reader_opts(opts, "pf.gaia.read")
  local parts, files = {}, gaia.expand(inputs)
  for c in gaia.stream(files, ropts) do parts[#parts + 1] = c end
  if #parts == 0 then
    -- no rows at all: empty arrays for every requested column
    local cat = { n = 0, missing = {}, source = {} }
    for _, list in ipairs { ropts.columns, ropts.optional or {} } do
      for _, name in ipairs(list) do
        cat[name] = name == "source_id" and {} or array.zeros(0)
        cat.missing[name] = 0
      end
    end
    cat.files = files
    return cat
  end
  local cat = gaia.concat(parts)
  cat.files = files
  return cat
end

-- Magnitude columns stored beside the sample when they were read.
local MAGNITUDES = { "phot_g_mean_mag", "grvs_mag", "bp_rp" }

--- Stream files through the cut flow in bounded memory (one chunk at a time), keep
--- the selected stars, print the cut-flow table, and write the sample to opts.out
--- (HDF5) when given. Options: out, columns, optional, chunk, steps, frame (the
--- Galactocentric transform, default pf.coords.galactocentric), cov (false: no
--- covariances), print (default true), group (default "/stars"), each. With
--- each = function(selected_chunk) the selected stars of every chunk are handed to it
--- and not kept (memory then stays that of one chunk, whatever the input size);
--- select_files returns nil and the flow. Otherwise it returns the sample catalogue
--- (the kept stars of every chunk joined) and the flow.
function gaia.select_files(inputs, opts)
  opts = opts or {}
  local ropts = reader_opts({ columns = opts.columns, optional = opts.optional, chunk = opts.chunk },
    "pf.gaia.select_files")
  if opts.each ~= nil and type(opts.each) ~= "function" then
    error("pf.gaia.select_files: option 'each' must be a function", 2)
  end
  if opts.each and opts.out then
    error("pf.gaia.select_files: options 'each' and 'out' exclude each other (each keeps no sample)", 2)
  end
  local files = gaia.expand(inputs)
  local flow, kept = nil, {}
  local function one_chunk(c)
    local sel, f = select.run(c, { steps = opts.steps, frame = opts.frame, cov = opts.cov })
    flow = select.add_flow(flow, f)
    if opts.each then
      opts.each(sel)
    elseif sel.n > 0 then
      kept[#kept + 1] = sel
    end
  end
  local next_chunk = gaia.stream(files, ropts)
  while true do
    local c = next_chunk()
    if not c then break end
    one_chunk(c)
    -- The chunk and the steps' temporaries are garbage now: collect them before the
    -- next chunk, so the peak is one chunk's worth and not what the collector's
    -- pacing lets pile up (a full cycle costs well under 1% of a chunk's time).
    c = nil -- luacheck: ignore 311
    collectgarbage()
  end
  flow = flow or select.empty_flow(opts.steps)
  if opts.print ~= false then io.write(select.format(flow)) end
  if opts.each then return nil, flow end
  local sample = gaia.concat(kept)
  if opts.out then gaia.write_sample(opts.out, sample, flow, files, opts) end
  return sample, flow
end

--- Write a selected sample: x, v (N x 3), cov (N x 21) when present, source_id,
--- magnitudes, and the cut flow, with provenance on the group.
function gaia.write_sample(file, sample, flow, files, opts)
  local h5 = require "phaseflow.h5"
  local g = (opts and opts.group) or "/stars"
  if sample.n == 0 then
    h5.mkgroup(file, g)
  else
    if sample.x then h5.write(file, g .. "/x", sample.x, { unit = "kpc" }) end
    if sample.v then h5.write(file, g .. "/v", sample.v, { unit = "km/s" }) end
    if sample.cov then h5.write(file, g .. "/cov", sample.cov, { layout = "upper triangle of the "
      .. "6x6 covariance of (x, v), row-major", unit = "kpc, km/s" }) end
    if sample.source_id then h5.write_int64(file, g .. "/source_id", sample.source_id) end
    for _, m in ipairs(MAGNITUDES) do
      if sample[m] then h5.write(file, g .. "/" .. m, sample[m], { unit = "mag" }) end
    end
  end
  local counts = array.zeros(#flow, 2)
  local names = {}
  for i, s in ipairs(flow) do
    counts:set(i, 1, s.before); counts:set(i, 2, s.after); names[i] = s.name
  end
  h5.write(file, g .. "/cut_flow", counts, { steps = table.concat(names, ","),
    columns = "before,after" })
  h5.provenance(file, g, { inputs = files, n = sample.n, cut_flow = select.format(flow),
    chunk = opts and opts.chunk or 100000 })
end

--- One error-smeared resample of a catalogue (pf.coords.smear): every star's six
--- observables redrawn from its Gaussian (errors and correlations); other columns are
--- carried over. Returns the new catalogue and the number of stars that could not be
--- drawn. Negative parallax draws stay negative; re-apply the selection afterwards.
gaia.smear = core.coords.smear

return gaia

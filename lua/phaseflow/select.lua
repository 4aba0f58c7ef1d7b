-- pf.select: the paper's quality cuts and completeness selection as a list of named,
-- reorderable steps (Lim et al. 2023, Sec. II). Edit, drop, reorder or add steps:
--
--   local steps = pf.select.paper_steps()
--   table.remove(steps, 6)                                   -- no completeness cut
--   table.insert(steps, 2, {name = "bright", label = "G < 15",
--                           keep = function(c) return c.phot_g_mean_mag:lt(15) end})
--   local sample, flow = pf.select.run(cat, {steps = steps})
--   print(pf.select.format(flow))
--
-- A step's keep(cat, ctx) returns a 1-D mask array (non-zero = keep) over all rows of
-- the catalogue (a whole chunk: array operations, no Lua loop per star). The masks
-- are combined in order, so a step's "before" and "after" counts are those of the
-- stars that passed every earlier step, and the rows are selected once, at the end.
-- NaN compares false, so a missing value fails every "<" or ">" cut and is counted
-- as removed by the first step that needs it. Distances are d = 1/parallax (kpc for
-- parallax in mas), as in the paper.
local core = require "phaseflow.core"

local array = core.array
local select = {}

--- Completeness limit on the absolute RVS magnitude: a star of G_RVS = 14 (the
--- faint limit of the RVS sample) is seen out to 4 kpc.
select.M_G_LIMIT = 14 - (5 * math.log(4, 10) + 10)
select.MAX_SPEED = 1000  -- km/s: the Galactic rest-frame speed cut

-- helpers -----------------------------------------------------------------------

local function need(cat, name, step)
  local a = cat[name]
  if a == nil then
    error(("pf.select: step '%s' needs column '%s', which the catalogue does not have")
      :format(step, name), 3)
  end
  return a
end

--- The rows passing every clause, in one pass over the chunk (C): clauses are
--- {column, op [, value]} with column a name or an array of cat.n rows (an N x 3
--- array is compared by the length of its rows) and op "finite", "<", "<=", ">",
--- ">=". A missing column is an error naming the step.
function select.where(cat, step, clauses)
  for _, c in ipairs(clauses) do
    if type(c[1]) == "string" then need(cat, c[1], step) end
  end
  return core.gaia.where(cat, clauses)
end
local where = select.where

-- d = 1/parallax (kpc), computed once per catalogue and shared by the steps.
local function distance(cat, ctx)
  if ctx.distance_of ~= cat then
    ctx.distance_of, ctx.distance = cat, 1 / need(cat, "parallax", "distance")
  end
  return ctx.distance
end

-- The Galactocentric transform of the speed step: x and v only (the covariances are
-- computed later, for the selected stars alone).
local function frame_of(ctx)
  if ctx.frame then return ctx.frame end
  return function(c) return core.coords.galactocentric(c, { cov = false, components = false }) end
end

local ERROR_COLUMNS = { "ra_error", "dec_error", "parallax_error", "pmra_error", "pmdec_error",
  "radial_velocity_error" }

local OBSERVABLES = { "ra", "dec", "parallax", "pmra", "pmdec", "radial_velocity" }
local CORR_COLUMNS = { "ra_dec_corr", "ra_parallax_corr", "ra_pmra_corr", "ra_pmdec_corr",
  "dec_parallax_corr", "dec_pmra_corr", "dec_pmdec_corr", "parallax_pmra_corr",
  "parallax_pmdec_corr", "pmra_pmdec_corr" }

--- Covariances of the selected stars (N x 21, Galactocentric x and v; see
--- pf.coords.covariance), or nil when the catalogue lacks any of the six error columns
--- or a file lacked one (pf.gaia gives an absent optional column as all missing, with
--- no source). A correlation column absent from the file counts as zero correlation.
function select.covariance(sample)
  local src = sample.source or {}
  local t = {}
  for _, name in ipairs(OBSERVABLES) do t[name] = sample[name] end
  for _, name in ipairs(ERROR_COLUMNS) do
    if sample[name] == nil or (sample.source and src[name] == nil) then return nil end
    t[name] = sample[name]
  end
  for _, name in ipairs(CORR_COLUMNS) do
    if not sample.source or src[name] ~= nil then t[name] = sample[name] end
  end
  return core.coords.covariance(t)
end

-- The paper's steps -----------------------------------------------------------

--- A fresh list of the paper's steps, in the paper's order (a new table each call,
--- so callers may edit it).
function select.paper_steps()
  return {
    { name = "six_d", label = "6-D observables present, parallax > 0",
      keep = function(c)
        return where(c, "six_d", { { "ra", "finite" }, { "dec", "finite" }, { "pmra", "finite" },
          { "pmdec", "finite" }, { "radial_velocity", "finite" }, { "parallax", ">", 0 } })
      end },
    { name = "magnitudes", label = "G and G_RVS magnitudes present",
      keep = function(c)
        return where(c, "magnitudes", { { "phot_g_mean_mag", "finite" }, { "grvs_mag", "finite" } })
      end },
    { name = "parallax_snr", label = "parallax_over_error > 3",
      keep = function(c)
        local poe = c.parallax_over_error
        if not poe or (c.missing and c.missing.parallax_over_error == c.n and c.n > 0) then
          poe = need(c, "parallax", "parallax_snr") / need(c, "parallax_error", "parallax_snr")
        end
        return where(c, "parallax_snr", { { poe, ">", 3 } })
      end },
    { name = "d10", label = "d = 1/parallax < 10 kpc",
      keep = function(c, ctx) return where(c, "d10", { { distance(c, ctx), "<", 10 } }) end },
    { name = "speed", label = "Galactic rest-frame speed < 1000 km/s",
      keep = function(c, ctx)
        local g = frame_of(ctx)(c)
        c.x, c.v = g.x, g.v -- selected with the other columns at the end
        return where(c, "speed", { { g.v, "<", select.MAX_SPEED } }) -- |v|: the length of each row
      end },
    { name = "completeness", label = "M_G = G_RVS - 5 log10(d/kpc) - 10 < 0.98970",
      keep = function(c, ctx)
        local mg = need(c, "grvs_mag", "completeness") - distance(c, ctx):log10() * 5 - 10
        return where(c, "completeness", { { mg, "<", select.M_G_LIMIT } })
      end },
    { name = "d4", label = "d < 4 kpc",
      keep = function(c, ctx) return where(c, "d4", { { distance(c, ctx), "<", 4 } }) end },
  }
end

-- Running the steps ---------------------------------------------------------------

--- Rows of a catalogue where mask is non-zero: arrays (1-D or N x k) and integer
--- lists (source_id) by pf.gaia.pick. Other fields are copied.
function select.subset(cat, mask)
  local out = { n = mask:count(), missing = cat.missing, source = cat.source, file = cat.file }
  for name, v in pairs(cat) do
    if array.is_array(v) and v:size(1) == cat.n then
      out[name] = core.gaia.pick(v, mask)
    elseif type(v) == "table" and #v == cat.n and name ~= "missing" and name ~= "source" then
      out[name] = core.gaia.pick(v, mask)
    elseif out[name] == nil then
      out[name] = v
    end
  end
  return out
end

--- Apply `opts.steps` (default the paper's) in order to every row of `cat`: each
--- step's mask is combined with those before it (so each step counts only the stars
--- still in), the rows are selected once at the end, and then, unless opts.cov is
--- false, the Galactocentric covariances of the selected stars are added as
--- sample.cov (opts.covariance(sample) -> N x 21 or nil; default select.covariance).
--- Returns the selected catalogue and the flow: a list of {name, label, before, after}.
function select.run(cat, opts)
  opts = opts or {}
  local steps = opts.steps or select.paper_steps()
  local ctx = { frame = opts.frame }
  local flow = {}
  local n = cat.n
  local keep, left = nil, n -- keep: the combined mask (nil = all rows)
  for i, step in ipairs(steps) do
    if type(step.keep) ~= "function" or type(step.name) ~= "string" then
      error(("pf.select.run: step %d needs a name and a keep function"):format(i), 2)
    end
    local before = left
    if before > 0 then
      local mask = step.keep(cat, ctx)
      if not array.is_array(mask) or mask:ndim() ~= 1 or mask:size(1) ~= n then
        error(("pf.select.run: step '%s' must return a mask of %d elements"):format(step.name, n), 2)
      end
      keep = keep and keep:land(mask) or mask:ne(0)
      left = keep:count()
    end
    flow[i] = { name = step.name, label = step.label or step.name, before = before, after = left }
  end
  local sel = keep and select.subset(cat, keep) or select.subset(cat, array.ones(n))
  if opts.cov ~= false and sel.n > 0 and sel.cov == nil then
    sel.cov = (opts.covariance or select.covariance)(sel)
  end
  return sel, flow
end

--- The flow of `steps` over no stars (all counts 0).
function select.empty_flow(steps)
  local flow = {}
  for i, s in ipairs(steps or select.paper_steps()) do
    flow[i] = { name = s.name, label = s.label or s.name, before = 0, after = 0 }
  end
  return flow
end

--- Add the counts of flow b to flow a (chunks of one stream); a may be nil.
function select.add_flow(a, b)
  if a == nil then
    local c = {}
    for i, s in ipairs(b) do c[i] = { name = s.name, label = s.label, before = s.before, after = s.after } end
    return c
  end
  for i, s in ipairs(b) do
    if a[i].name ~= s.name then error("pf.select.add_flow: flows of different steps", 2) end
    a[i].before = a[i].before + s.before
    a[i].after = a[i].after + s.after
  end
  return a
end

--- The flow as a text table like the paper's: stars before and after each step.
function select.format(flow)
  local lines = { ("%-3s %-48s %12s %12s %12s"):format("#", "step", "before", "after", "removed") }
  for i, s in ipairs(flow) do
    lines[#lines + 1] = ("%-3d %-48s %12d %12d %12d"):format(i, s.label, s.before, s.after,
      s.before - s.after)
  end
  return table.concat(lines, "\n") .. "\n"
end

return select

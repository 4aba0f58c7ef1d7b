-- pf.score's truth models: what a run is scored against (a potential with its dark matter
-- and baryons), from a name, a Lua file, a mock's truth file or a table, each checked once
-- at the Sun so that a broken model fails with its name rather than deep inside a score.
local core = require "phaseflow.core"
local h5 = require "phaseflow.h5"
local fs = require "phaseflow.fs"
local errors = require "phaseflow.score.errors"

local array = core.array
local fail, finite = errors.fail, errors.finite
local models = {}

local SUN = array.from{require("phaseflow.geometry").SUN}

-- A potential-like object: `what` names it in the message. Evaluated once at the Sun so
-- that a broken model fails here, with its name, rather than deep inside a score.
local function check_potential(spec, p, what, need_acc)
  local t = type(p)
  local ok, dens = pcall(function() return p.density end)
  if (t ~= "table" and t ~= "userdata") or not ok or dens == nil then
    fail("TRUTH %s: '%s' must be a potential object (with :density%s), got %s", spec, what,
      need_acc and " and :acceleration" or "", t)
  end
  local okd, d = pcall(p.density, p, SUN)
  if not okd or not array.is_array(d) or d:size() ~= 1 or not finite(d:get(1)) then
    fail("TRUTH %s: %s:density at the Sun does not give one finite number (got %s)", spec, what, tostring(d))
  end
  if need_acc then
    local oka, a = pcall(function() return p:acceleration(SUN) end)
    if not oka or not array.is_array(a) or a:size() ~= 3 or a:isfinite():min() < 1 then
      fail("TRUTH %s: %s:acceleration at the Sun does not give 3 finite numbers (got %s)", spec, what,
        tostring(a))
    end
  end
end

local function check_model(spec, m)
  if type(m) ~= "table" then
    fail("TRUTH %s: a table {potential = ..., dm = ..., baryons = ...} expected, got %s", spec, type(m))
  end
  if m.potential == nil then fail("TRUTH %s: the table has no 'potential'", spec) end
  check_potential(spec, m.potential, "potential", true)
  if m.dm ~= nil then check_potential(spec, m.dm, "dm") end
  if m.baryons ~= nil then check_potential(spec, m.baryons, "baryons") end
  return m
end

--- MWPotential2014 split as the pipeline splits it (the default mock galaxy,
--- pf.mock.truth_model): dark matter = the NFW halo, baryons = the bulge + the disk.
function models.mwpotential2014()
  local m = require("phaseflow.mock").truth_model("default")
  return {name = "MWPotential2014", potential = m.potential, dm = m.dm, baryons = m.baryons}
end

--- The truth a run is scored against: {name, potential, dm (or nil), baryons (or nil),
--- note (or nil)}. `spec`: a table {potential = P, dm = Pdm, baryons = Pb, name = "..."}
--- (returned checked), the word "mwpotential2014", a mock galaxy's name (pf.mock.VARIANTS:
--- default, hot, heavy), a Lua file returning such a table, or a mock's truth file
--- (mock.h5, whose recorded galaxy pf.mock.truth_model rebuilds).
function models.truth(spec)
  if type(spec) == "table" then
    local m = check_model("(table)", spec)
    return {name = m.name or "the given model", potential = m.potential, dm = m.dm,
            baryons = m.baryons, note = m.note}
  end
  if type(spec) ~= "string" or spec == "" then
    fail("TRUTH: a mock truth file, 'mwpotential2014' or a Lua file expected, got %s", type(spec))
  end
  if spec:lower() == "mwpotential2014" then return models.mwpotential2014() end
  local mock = require "phaseflow.mock"
  if mock.VARIANTS[spec] then
    local m = mock.truth_model(spec)
    return {name = ("mock galaxy '%s'"):format(spec), potential = m.potential, dm = m.dm, baryons = m.baryons}
  end
  local q = ("'%s'"):format(spec)
  if not fs.exists(spec) then
    fail("TRUTH %s: no such file (and not a built-in model: mwpotential2014, %s)", q,
      table.concat(mock.variant_names, ", "))
  end
  if spec:match("%.lua$") then
    local chunk, err = loadfile(spec, "t")
    if not chunk then fail("TRUTH %s: %s", q, tostring(err)) end
    local ok, m = pcall(chunk)
    if not ok then fail("TRUTH %s: running it failed: %s", q, tostring(m)) end
    m = check_model(q, m)
    return {name = m.name or spec, potential = m.potential, dm = m.dm, baryons = m.baryons, note = m.note}
  end
  local okh, has = pcall(h5.exists, spec, "/truth")
  if not okh then fail("TRUTH %s: neither a Lua file nor a readable HDF5 file", q) end
  if not has then fail("TRUTH %s: not a mock truth file (no /truth group; made by scripts/make-mock.lua?)", q) end
  local ok, m = pcall(mock.truth_model, spec)
  if not ok then fail("TRUTH %s: %s", q, tostring(m)) end
  m = check_model(q, m)
  return {name = ("mock galaxy '%s' (%s)"):format(tostring(m.name or "?"), spec), potential = m.potential, dm = m.dm,
          baryons = m.baryons, note = m.note}
end

return models

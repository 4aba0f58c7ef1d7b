-- pf.score's reader: what the scorer needs from a run's results.h5 (the Sun's ball, the
-- acceleration and density curves with their positions, the kernel, the average's points
-- and weights), each dataset checked for its size; an older file is named with the command
-- that re-makes it.
local h5 = require "phaseflow.h5"
local fs = require "phaseflow.fs"
local errors = require "phaseflow.score.errors"

local fail = errors.fail
local results = {}

-- the order of the tables; names results.h5 holds beyond these follow alphabetically
results.ACC_ORDER = {"r_north", "r_south", "phi_north", "phi_south", "arc"}
results.DENSITY_ORDER = {"sun", "phi0", "phi_plus", "phi_minus", "gnfw"}

local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end

local function ordered(names, order)
  local rank = {}
  for i, n in ipairs(order) do rank[n] = i end
  table.sort(names, function(a, b)
    local ra, rb = rank[a] or math.huge, rank[b] or math.huge
    if ra ~= rb then return ra < rb end
    return a < b
  end)
  return names
end

local function groups_in(file, path)
  local out = {}
  for _, e in ipairs(h5.list(file, path)) do
    if e.kind == "group" then out[#out + 1] = e.name end
  end
  return out
end

--- Read what the scorer needs from a results file; a missing file, a file that is not
--- HDF5 or a dataset an older build did not write is a score error naming it.
function results.read(path)
  if type(path) ~= "string" or not fs.exists(path) then
    fail("RESULTS %s: no such file", ("'%s'"):format(tostring(path)))
  end
  local okh, root = pcall(h5.attrs, path, "/")
  if not okh then fail("RESULTS '%s': not a readable HDF5 file", path) end
  local made = root.git_commit and (" (git " .. tostring(root.git_commit) .. ")") or ""
  local function old(what)
    fail("RESULTS '%s' lacks %s: it was made by an older build of phaseflow%s or is not a pipeline "
      .. "results file; re-make it with `phaseflow scripts/paper.lua --out %s --only report --force`",
      path, what, made, dirname(path))
  end
  local function exists(p)
    local ok, has = pcall(h5.exists, path, p)
    if not (ok and has) then old(p) end
  end
  local function need(ds)
    exists(ds)
    local okr, a, attrs = pcall(h5.read, path, ds)
    if not okr then fail("RESULTS '%s': %s does not read (%s)", path, ds, tostring(a)) end
    return a, attrs
  end
  -- a dataset of n (x d) numbers, as an n (x d) array
  local function shaped(ds, n, d)
    local a = need(ds)
    if a:size() ~= n * (d or 1) then
      fail("RESULTS '%s': %s holds %d numbers, %d expected", path, ds, a:size(), n * (d or 1))
    end
    return d and a:reshape(n, d) or a:reshape(n)
  end
  local function num(ds) return shaped(ds, 1):get(1) end
  local function int(ds)
    local v = math.tointeger(num(ds))
    if not v or v < 1 then fail("RESULTS '%s': %s must be a positive integer", path, ds) end
    return v
  end
  local R = {path = path, git = root.git_commit}
  R.sun = {value = shaped("/sun/value", 3), sigma = shaped("/sun/sigma", 3), center = shaped("/sun/center", 3),
           radius = num("/sun/radius"), points = int("/sun/ball_points"), seed = int("/sun/point_seed")}
  exists("/curves/acc")
  R.acc, R.acc_names = {}, ordered(groups_in(path, "/curves/acc"), results.ACC_ORDER)
  for _, n in ipairs(R.acc_names) do
    local g = "/curves/acc/" .. n
    local m = need(g .. "/x"):size() // 3
    R.acc[n] = {x = shaped(g .. "/x", m, 3), value = shaped(g .. "/value", m, 3),
                sigma = shaped(g .. "/sigma", m, 3), ball = shaped(g .. "/ball", m)}
  end
  exists("/curves/density")
  local dattrs = h5.attrs(path, "/curves/density")
  if type(dattrs.kernel_h) ~= "table" or #dattrs.kernel_h ~= 3 or type(dattrs.kernel_truncate) ~= "number" then
    old("the attributes kernel_h and kernel_truncate of /curves/density")
  end
  R.kernel = {h = dattrs.kernel_h, truncate = dattrs.kernel_truncate}
  R.density, R.density_names = {}, ordered(groups_in(path, "/curves/density"), results.DENSITY_ORDER)
  for _, n in ipairs(R.density_names) do
    local g = "/curves/density/" .. n
    local m = need(g .. "/x"):size() // 3
    R.density[n] = {x = shaped(g .. "/x", m, 3), rho = shaped(g .. "/rho", m), rho_err = shaped(g .. "/rho_err", m)}
  end
  local ind, iattrs = need("/average/independent")
  local set = iattrs.set or "gnfw"
  if not R.density[set] then exists("/curves/density/" .. set) end
  local nset = (R.density[set].x:shape())
  local idx = ind:totable()
  for i, k in ipairs(idx) do
    idx[i] = math.tointeger(k)
    if not idx[i] or idx[i] < 1 or idx[i] > nset then
      fail("RESULTS '%s': /average/independent: %g is not a location of /curves/density/%s (1..%d)", path,
        k, set, nset)
    end
  end
  R.average = {value = num("/average/value"), sigma = num("/average/sigma"), chi2 = num("/average/chi2"),
               independent = idx, set = set, weights_sigma = shaped("/average/weights_sigma", #idx):totable()}
  return R
end

return results

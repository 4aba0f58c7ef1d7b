-- pf.presets: the sizes of a pipeline run. Copy one and change it:
--   local o = pf.presets.get("quick"); o.members = 4
-- Every number that differs from the paper is listed in the report.
local presets = {}

local function copy(t)
  local o = {}
  for k, v in pairs(t) do o[k] = type(v) == "table" and copy(v) or v end
  return o
end

-- The paper's settings (Lim et al. 2023) for big machines.
presets.paper = {
  name = "paper",
  -- the embedded mock (pf.mock.make_files): stars sampled within `radius` kpc of the Sun
  -- (~7% pass the paper's cuts within 4 kpc); smearing is applied to the 10 kpc sample
  mock = {stars = 6000000, radius = 10, seed = 1},
  radius = 4,               -- kpc: the survey sphere the flows are trained in (the d4 cut)
  n_train = 0,              -- 0: all selected stars
  members = 100,            -- flows per ensemble (flow-fit error)
  resample_members = 100,   -- flows per bootstrap / smeared resample
  bootstraps = 10,          -- statistical error
  smears = 10,              -- measurement error
  -- systematic error: one flow pair per entry, trained on the same stars with these settings
  -- replaced (sigma_syst = RMS deviation from the central value); the paper has none
  systematics = {},
  flow = {transforms = 8, hidden = 64, blocks = 2, context_std = false,
          transform = "affine", bins = 8, bound = 3},
  train = {batch = 10000, lr = 1e-3, patience = 50, max_epochs = 1000},
  finetune = {epochs = 0},  -- the paper trains in one stage
  nv = 10000,               -- velocities per acceleration point
  nv_density = 10000,       -- velocities per kernel point
  kernel_points = 3200,
  ball_points = 64,
  dlnf_n = 1000000,         -- velocities of the df/dt histogram
  geometry = {n_line = 25, n_phi = 25, n_arc = 61, n_density = 31},
  mcmc = {walkers = 32, steps = 20000},
  -- the mock's kernel-smoothed truth: pf.truth's product Gauss rule, n x n x 2n points per
  -- location (16: converged to ~1e-10 on the mock galaxies; tests/truth_spec.lua)
  truth_rule = 16,
  -- the global potential (not in the paper; docs/potential.md): one network per density,
  -- fitted to `stars` drawn from it, `points` where negative density is penalised; scale
  -- (kpc) the network's unit of input length, zscale its vertical one (a finer one did not
  -- lower the validation loss); lr, lr_decay and patience chosen by the validation loss
  -- (docs/potential.md), not by any truth
  potential = {fit = true, stars = 200000, points = 20000, hidden = 64, layers = 3, activation = "silu",
               scale = 1.0, zscale = 1.0, lr = 1e-2, batch = 1024, max_epochs = 1000, patience = 100,
               val_fraction = 0.2, lr_decay = 0.995, lambda = 1},
}

-- make run: the whole analysis on the embedded mock in about 10-17 minutes on 2 cores (by CPU).
-- Sized by the scorer on three mock galaxies (docs/accuracy.md): stars are the first lever
-- for the accelerations, so the mock has 3 million stars and every one of the ~220,000
-- within the survey sphere trains every flow; n(x) a 4 x 32 spline flow (bound 5: the
-- density's error at the Sun sat in the affine n(x)'s curvature, -21% on the hot galaxy,
-- -5% with the spline), p(v|x) a 6 x 48 affine MAF with its context standardised (the
-- acceleration's error sat in p(v|x); splines did worse there); 200 kernel points x 100
-- velocities (converged); 2-flow ensembles, 2 bootstrap and 2 error-smeared resamples
-- (every term of the paper's error budget), and two systematic variants for the flows'
-- own bias: a refit on stars drawn from the base ensembles and another sphere-map radius.
presets.quick = {
  name = "quick",
  mock = {stars = 3000000, radius = 10, seed = 1},
  radius = 4, n_train = 0,
  members = 2, resample_members = 1, bootstraps = 2, smears = 2,
  systematics = {{refit = true}, {map_radius = 4.8}},
  flow = {transforms = 6, hidden = 48, blocks = 1, context_std = true,
          transform = "affine", bins = 8, bound = 3,
          n_x = {transform = "spline", transforms = 4, hidden = 32, bound = 5}},
  train = {batch = 1024, lr = 3e-3, patience = 8, max_epochs = 30},
  finetune = {epochs = 8, lr_factor = 0.1, patience = 4},
  nv = 400, nv_density = 100, kernel_points = 200, ball_points = 8, dlnf_n = 20000,
  geometry = {n_line = 9, n_phi = 9, n_arc = 13, n_density = 9},
  mcmc = {walkers = 32, steps = 3000},
  truth_rule = 16,
  potential = {fit = true, stars = 20000, points = 4000, hidden = 32, layers = 3, activation = "silu",
               scale = 1.0, zscale = 1.0, lr = 1e-2, batch = 512, max_epochs = 1000, patience = 100, val_fraction = 0.2,
               lr_decay = 0.995, lambda = 1},
}

-- science: the numbers to quote from a workstation, in under an hour on 2 cores. Every
-- star of a 3-million-star mock within the survey sphere (~220,000), the paper's flow
-- architecture for p(v|x) and a 6 x 48 spline flow for n(x), ensembles of 3, 2 bootstrap
-- and 2 error-smeared resamples, and three systematic variants for the flows' own bias
-- (docs/accuracy.md: a refit on stars drawn from the base ensembles, another sphere-map
-- radius, the quick preset's smaller flows). Kernel
-- points and velocities at their convergence (200 x 100; 1,000 per acceleration point).
presets.science = {
  name = "science",
  mock = {stars = 3000000, radius = 10, seed = 1},
  radius = 4, n_train = 0,
  members = 3, resample_members = 1, bootstraps = 2, smears = 2,
  systematics = {{refit = true}, {map_radius = 4.8},
                 {flow = {transforms = 6, hidden = 48, blocks = 1, context_std = true,
                          n_x = {transform = "spline", transforms = 4, hidden = 32, bound = 5}}}},
  flow = {transforms = 8, hidden = 64, blocks = 2, context_std = true,
          transform = "affine", bins = 8, bound = 3,
          n_x = {transform = "spline", transforms = 6, hidden = 48, bound = 5}},
  train = {batch = 1024, lr = 3e-3, patience = 8, max_epochs = 40},
  finetune = {epochs = 10, lr_factor = 0.1, patience = 4},
  nv = 1000, nv_density = 100, kernel_points = 200, ball_points = 16, dlnf_n = 100000,
  geometry = {n_line = 13, n_phi = 13, n_arc = 25, n_density = 13},
  mcmc = {walkers = 32, steps = 5000},
  truth_rule = 16,
  potential = {fit = true, stars = 50000, points = 10000, hidden = 32, layers = 3, activation = "silu",
               -- batch: the quick preset's 31 Adam steps per epoch at 2.5 times its stars
               scale = 1.0, zscale = 1.0, lr = 1e-2, batch = 1280, max_epochs = 1000, patience = 100,
               val_fraction = 0.2, lr_decay = 0.995, lambda = 1},
}

-- The test suite: seconds. Numbers are meaningless; every code path runs.
presets.test = {
  name = "test",
  mock = {stars = 20000, radius = 10, seed = 1, normalize = false},
  radius = 4, n_train = 1000,
  members = 2, resample_members = 1, bootstraps = 2, smears = 2,
  flow = {transforms = 2, hidden = 8, blocks = 1, context_std = false,
          transform = "affine", bins = 8, bound = 3},
  train = {batch = 512, lr = 3e-3, patience = 2, max_epochs = 2},
  systematics = {{map_radius = 4.4}, {flow = {transforms = 3, hidden = 8, blocks = 1}}},
  nv = 24, nv_density = 6, kernel_points = 8, ball_points = 2, dlnf_n = 500,
  geometry = {n_line = 3, n_phi = 3, n_arc = 5, n_density = 3, independent_s = {-0.85, 0, 0.85}},
  mcmc = {walkers = 8, steps = 200},
  truth_rule = 4,
  potential = {fit = true, stars = 400, points = 100, hidden = 8, layers = 1, activation = "silu",
               scale = 1.0, zscale = 1.0, lr = 3e-3, batch = 128, max_epochs = 3, patience = 2, val_fraction = 0.2,
               lr_decay = 1, lambda = 1},
}

presets.names = {"test", "quick", "science", "paper"}

-- Groups a preset may lack (made when first set) and top-level settings a preset may
-- leave out (their defaults live in the steps).
local OPEN_GROUPS = {galaxy = true, finetune = true, n_x = true, p_v = true}
local OPTIONAL = {density_edge = true, map_radius = true, baryons = true, eval_radius = true}

local function is_list(v) return type(v) == "table" and v[1] ~= nil end

-- Settings that are quantities, not counts, even where a preset writes them as whole
-- numbers (radius = 4 kpc): any finite number is taken (radius=3.5, flow.bound=5.5).
local QUANTITIES = {radius = true, bound = true, scale = true, zscale = true, lambda = true,
  lr = true, lr_decay = true, lr_factor = true, map_radius = true, density_edge = true,
  eval_radius = true}

-- The table holding setting `path` ("flow.hidden") of preset p, and its last key; a group
-- that may be absent is made on the way. Errors are plain messages (no place).
local function slot(p, path)
  local t, keys = p, {}
  for k in path:gmatch("[^.]+") do keys[#keys + 1] = k end
  if #keys == 0 then error("empty setting name", 0) end
  for i = 1, #keys - 1 do
    local k = keys[i]
    if type(t[k]) ~= "table" then
      if t[k] == nil and OPEN_GROUPS[k] then t[k] = {} else
        error(("'%s' is not a group of settings"):format(table.concat(keys, ".", 1, i)), 0)
      end
    end
    t = t[k]
  end
  local last = keys[#keys]
  -- open groups: galaxy knobs, fine-tuning, one flow's own settings (flow.n_x.transform)
  local open = (keys[1] == "mock" or keys[1] == "finetune" or
                (keys[1] == "flow" and (keys[2] == "n_x" or keys[2] == "p_v") and #keys == 3)) and #keys >= 2
  -- one flow's own settings (flow.n_x.hidden) are the shared flow settings' names
  if open and keys[1] == "flow" and p.flow[last] == nil and last ~= "layers" then open = false end
  if t[last] == nil and not open and not OPEN_GROUPS[last] and not (#keys == 1 and OPTIONAL[last]) then
    local have = {}
    for k in pairs(t) do if type(k) == "string" then have[#have + 1] = k end end
    table.sort(have)
    error(("no setting '%s' (have: %s)"):format(path, table.concat(have, ", ")), 0)
  end
  return t, last
end

-- Give setting `path` the value v, of the type the preset has there: a number stays a
-- number, a list (systematics) is replaced whole, a group is set key by key.
local function assign(p, path, v)
  local t, last = slot(p, path)
  local old = t[last]
  -- a flow's own setting takes the shared one's type (flow.n_x.hidden as flow.hidden)
  if old == nil and path:match("^flow%.[np]_[xv]%.") then old = p.flow[last] end
  if old == nil and OPEN_GROUPS[last] and last ~= "galaxy" and type(v) ~= "table" then
    error(("'%s' is a group of settings; set one of its keys"):format(path), 0)
  end
  if last == "layers" and type(v) ~= "string" then
    error(("'%s' must be a word of a and s (one letter per transform), got '%s'"):format(path, tostring(v)), 0)
  end
  if type(old) == "table" and type(v) ~= "table" then
    error((is_list(old) and "'%s' is a list; 'none' empties it, a preset file gives it whole"
           or "'%s' is a group of settings; set one of its keys"):format(path), 0)
  end
  if type(old) == "number" and type(v) ~= "number" then
    error(("'%s' must be a number, got '%s'"):format(path, tostring(v)), 0)
  end
  if type(old) == "boolean" and type(v) ~= "boolean" then
    error(("'%s' must be true or false, got '%s'"):format(path, tostring(v)), 0)
  end
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error(("'%s' must be a finite number, got %s"):format(path, tostring(v)), 0)
    end
    -- a count stays a whole number >= 0 (members, epochs, points, seeds)
    if math.type(old) == "integer" and not QUANTITIES[last] then
      local n = math.tointeger(v)
      if not n or n < 0 then error(("'%s' must be a whole number >= 0, got %s"):format(path, tostring(v)), 0) end
      v = n
    end
  end
  t[last] = v
end

--- Change one setting of preset table `p` from text, as the command line gives it:
--- `path` is a dotted key ("n_train", "flow.hidden", "mock.stars"), `text` a number,
--- true/false or a word; "none" empties a list (systematics=none). The key must exist in
--- the preset (a typo is an error naming the keys that do exist), except inside `mock`
--- (galaxy knobs), `finetune` and `flow.n_x` / `flow.p_v` (one flow's own settings).
function presets.set(p, path, text)
  local ok, err = pcall(function()
    local t, last = slot(p, path)
    if is_list(t[last]) and text == "none" then
      t[last] = {}  -- an empty list (e.g. systematics=none: no systematic variants)
      return
    end
    local v
    if text == "true" then v = true elseif text == "false" then v = false
    else v = math.tointeger(tonumber(text)) or tonumber(text) or text end
    assign(p, path, v)  -- which checks v against the preset's type there
  end)
  if not ok then error("pf.presets.set: " .. tostring(err), 2) end
  return p
end

-- The line of `text` where setting `key` (its last name) is first given, for errors.
local function line_of(text, key)
  local at = text:find("%f[%w_]" .. key:gsub("%p", "%%%0") .. "%f[^%w_]%s*=")
  if not at then return nil end
  local _, n = text:sub(1, at):gsub("\n", "")
  return n + 1
end

-- Apply table `u` (a user's preset file) to preset p under `prefix`: groups key by key,
-- values and lists whole. `where(path)` says where in the file a setting is.
local function apply(p, u, prefix, where)
  local names = {}
  for k in pairs(u) do
    if type(k) ~= "string" then error(where(prefix) .. ("a setting's name must be a word, got %s"):format(
      tostring(k)), 0) end
    names[#names + 1] = k
  end
  table.sort(names)  -- one order, so the first error is always the same one
  for _, k in ipairs(names) do
    local path, v = prefix == "" and k or (prefix .. "." .. k), u[k]
    if not (prefix == "" and (k == "base" or k == "name")) then
      local ok, t, last = pcall(slot, p, path)
      if not ok then error(where(path) .. t, 0) end
      local old = t[last]
      local group = (type(old) == "table" and not is_list(old)) or (old == nil and OPEN_GROUPS[k])
      if type(v) == "table" and group then
        apply(p, v, path, where)  -- its settings by name, each checked
      else
        local aok, err = pcall(assign, p, path, v)
        if not aok then error(where(path) .. err, 0) end
      end
    end
  end
end

--- A preset from a user's file: Lua that returns a table naming the preset it starts
--- from and the settings it changes, e.g.
---   return {base = "quick", members = 4, flow = {hidden = 64}, mock = {galaxy = "hot"}}
--- Groups are changed key by key; lists (systematics) are replaced whole. Optional `name`
--- (default: the file's name without .lua). An error names the file and, where it can,
--- the line. `text` (optional) is the file's content, for tests.
function presets.load(path, text)
  if type(path) ~= "string" then error("pf.presets.load: a file name expected", 2) end
  if not text then
    local f, err = io.open(path, "rb")
    if not f then error(("%s: cannot read the preset file (%s)"):format(path, tostring(err):gsub("^.-: ", "")), 0) end
    text = f:read("a")
    f:close()
  end
  -- the file is the user's own Lua: it sees the standard library, and writes to a
  -- table of its own
  -- the file's own errors: Lua puts the file and line first, except for a binary chunk
  -- refused, a raised value that is not a string, or a message without its place
  local function refuse(e)
    local msg = type(e) == "string" and e or ("raised a %s, not a message"):format(type(e))
    if msg:sub(1, #path + 1) ~= path .. ":" then msg = path .. ": " .. msg end
    error(msg, 0)
  end
  local chunk, err = load(text, "@" .. path, "t", setmetatable({}, {__index = _G}))
  if not chunk then refuse(err) end
  local ok, u = pcall(chunk)
  if not ok then refuse(u) end
  if type(u) ~= "table" then
    error(("%s: a preset file returns a table ({base = \"quick\", ...}), got %s"):format(path, type(u)), 0)
  end
  local function where(setting)
    local line = line_of(text, setting:match("[^.]*$"))
    return line and ("%s:%d: "):format(path, line) or (path .. ": ")
  end
  if type(u.base) ~= "string" or type(presets[u.base]) ~= "table" or u.base == "names" then
    error(where("base") .. ("'base' names the preset to start from (have: %s), got %s"):format(
      table.concat(presets.names, ", "), u.base == nil and "none" or ("'" .. tostring(u.base) .. "'")), 0)
  end
  if u.name ~= nil and (type(u.name) ~= "string" or not u.name:match("^[%w_.-]+$")) then
    error(where("name") .. "'name' must be a word (letters, digits, _ . -)", 0)
  end
  local p = presets.get(u.base)
  apply(p, u, "", where)
  p.name = u.name or path:match("([^/]*)$"):gsub("%.lua$", "")
  p.base = u.base
  return p
end

-- a setting's value in a table of differences: numbers as %g, lists and groups as Lua
local function shown(v)
  if type(v) == "table" then
    local parts, keys = {}, {}
    for k in pairs(v) do if math.type(k) ~= "integer" then keys[#keys + 1] = k end end
    table.sort(keys, function(m, n) return tostring(m) < tostring(n) end)
    for _, x in ipairs(v) do parts[#parts + 1] = shown(x) end
    for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. " = " .. shown(v[k]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  if type(v) == "string" then return ("%q"):format(v) end
  if math.type(v) == "integer" then return ("%d"):format(v) end
  if type(v) == "number" then return ("%.6g"):format(v) end
  return tostring(v)
end

--- The settings of preset `a` that differ from preset `b` (default: the paper's), as a
--- sorted list of {setting = "flow.hidden", value = "48", other = "64"} (values as text;
--- "-" where one of them has no such setting). Names are left out (name, base).
function presets.diff(a, b)
  b = b or presets.get("paper")
  local out = {}
  local function walk(x, y, prefix)
    local keys, seen = {}, {}
    -- the names (name, base) say which preset, not how it differs
    if prefix == "" then seen.name, seen.base = true, true end
    for k in pairs(x or {}) do if not seen[k] then seen[k] = true; keys[#keys + 1] = k end end
    for k in pairs(y or {}) do if not seen[k] then seen[k] = true; keys[#keys + 1] = k end end
    table.sort(keys, function(m, n) return tostring(m) < tostring(n) end)
    for _, k in ipairs(keys) do
      local path = prefix == "" and tostring(k) or (prefix .. "." .. tostring(k))
      local u, v = x and x[k], y and y[k]
      if type(u) == "table" and not is_list(u) and type(v) == "table" and not is_list(v) then
        walk(u, v, path)
      elseif shown(u) ~= shown(v) then
        out[#out + 1] = {setting = path, value = u == nil and "-" or shown(u), other = v == nil and "-" or shown(v)}
      end
    end
  end
  walk(a, b, "")
  return out
end

--- The settings of one flow, `which` = "n_x" or "p_v": the preset's shared `flow` settings
--- with that flow's own (`flow.n_x`, `flow.p_v`) over them.
function presets.flow_of(o, which)
  local f = {}
  for k, v in pairs(o.flow) do if k ~= "n_x" and k ~= "p_v" then f[k] = v end end
  for k, v in pairs(o.flow[which] or {}) do f[k] = v end
  return f
end

--- One flow's architecture in words, from presets.flow_of: "affine 6 x 48 x 1",
--- "spline 4 x 32 x 1, 8 bins on [-5, 5]", "mixed asas 4 x 32 x 1, ...".
function presets.describe_flow(f)
  local kind = f.layers and ("mixed " .. f.layers) or f.transform or "affine"
  local extra = kind ~= "affine" and (", %d bins on [-%g, %g]"):format(f.bins or 8, f.bound or 3, f.bound or 3) or ""
  return ("%s %d x %d x %d%s"):format(kind, f.transforms, f.hidden, f.blocks, extra)
end

--- The preset a command line names: a preset's name ("quick") or a user's preset file
--- (a name ending in .lua or holding a /: presets.load). Errors as presets.get / load.
function presets.resolve(name)
  if type(name) == "string" and (name:match("%.lua$") or name:find("/", 1, true)) then
    return presets.load(name)
  end
  return presets.get(name)
end

--- A fresh copy of preset `name` (an error names the presets that exist).
function presets.get(name)
  local p = presets[name]
  if type(p) ~= "table" or name == "names" then
    error(("pf.presets: no preset '%s' (have: %s)"):format(tostring(name), table.concat(presets.names, ", ")), 2)
  end
  local o = copy(p)
  o.seed = o.seed or 1
  return o
end

return presets

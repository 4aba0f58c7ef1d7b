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
}

-- make run: the whole analysis on the embedded mock in under 10 minutes on 2 cores.
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
}

presets.names = {"test", "quick", "science", "paper"}

--- Change one setting of preset table `p` from text, as the command line gives it:
--- `path` is a dotted key ("n_train", "flow.hidden", "mock.stars"), `text` a number,
--- true/false or a word; "none" empties a list (systematics=none). The key must exist in
--- the preset (a typo is an error naming the keys that do exist), except inside `mock`
--- (galaxy knobs), `finetune` and `flow.n_x` / `flow.p_v` (one flow's own settings).
function presets.set(p, path, text)
  local t, keys = p, {}
  for k in path:gmatch("[^.]+") do keys[#keys + 1] = k end
  if #keys == 0 then error("pf.presets.set: empty setting name", 2) end
  for i = 1, #keys - 1 do
    local k = keys[i]
    if type(t[k]) ~= "table" then
      if t[k] == nil and (k == "galaxy" or k == "finetune" or k == "n_x" or k == "p_v") then t[k] = {} else
        error(("pf.presets.set: '%s' is not a group of settings"):format(table.concat(keys, ".", 1, i)), 2)
      end
    end
    t = t[k]
  end
  local last = keys[#keys]
  -- open groups: galaxy knobs, fine-tuning, one flow's own settings (flow.n_x.transform)
  local open = (keys[1] == "mock" or keys[1] == "finetune" or
                (keys[1] == "flow" and (keys[2] == "n_x" or keys[2] == "p_v") and #keys == 3)) and #keys >= 2
  local optional = {density_edge = true, map_radius = true, baryons = true, eval_radius = true}
  if t[last] == nil and not open and not (#keys == 1 and optional[last]) then
    local have = {}
    for k in pairs(t) do if type(k) == "string" then have[#have + 1] = k end end
    table.sort(have)
    error(("pf.presets.set: no setting '%s' (have: %s)"):format(path, table.concat(have, ", ")), 2)
  end
  if type(t[last]) == "table" and text == "none" and t[last][1] ~= nil then
    t[last] = {}  -- an empty list (e.g. systematics=none: no systematic variants)
    return p
  end
  if type(t[last]) == "table" then
    error(("pf.presets.set: '%s' is a group of settings; set one of its keys"):format(path), 2)
  end
  local v
  if text == "true" then v = true elseif text == "false" then v = false
  else v = math.tointeger(tonumber(text)) or tonumber(text) or text end
  if type(t[last]) == "number" and type(v) ~= "number" then
    error(("pf.presets.set: '%s' must be a number, got '%s'"):format(path, text), 2)
  end
  t[last] = v
  return p
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

-- The flows step: one job per (kind, index, member, seed) and per flow (n_x, p_v); each
-- writes its own file with the job's key, and a finished job is not redone; the step's
-- file gathers them as /KIND_IDX/WHICH/member_K. Also the training of one member
-- (train_flow) and the standardisation of the n(x) flow's input (sphere_moments), which
-- the studies in scripts/ use on their own.
local core = require "phaseflow.core"
local h5 = require "phaseflow.h5"
local serialize = require "phaseflow.serialize"
local geometry = require "phaseflow.geometry"
local flowmod = require "phaseflow.flow"
local trainmod = require "phaseflow.train"
local presets = require "phaseflow.presets"
local common = require "phaseflow.steps.common"

local fs = require "phaseflow.fs"

local rd = common.rd
local flows = {name = "flows", inputs = {"selection"}}

-- Mean and standard deviation (3 each) of the survey-sphere map w = artanh(|u|) u/|u|,
-- u = (x - centre)/radius, of the rows of x: the standardisation of the n(x) flow's input.
function flows.sphere_moments(x, centre, radius)
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

-- train_flow(which, x, v, o, seed, k) -> flow, history: member k of the n(x) ("n_x") or
-- p(v|x) ("p_v") ensemble on stars x, v with the preset's o.flow, o.train and o.radius.
-- n(x): survey-sphere map standardised by the mapped stars' mean and std; p(v|x):
-- velocities standardised, context through the sphere map. o.finetune = {epochs = E,
-- lr_factor = 0.1, patience = 5} adds a second Adam stage at the reduced rate, started
-- from the best parameters of the first (the same member seed, hence the same validation
-- split): the learned ln n needs ~1e-3-nat accuracy for its gradient (accuracy study).
function flows.train_flow(which, x, v, o, seed, k)
  local radius = o.radius
  local mr = o.map_radius or radius * 1.0001
  -- o.flow.n_x / o.flow.p_v: settings for that flow alone (e.g. n_x = {transform = "spline"})
  local spec = presets.flow_of(o, which)
  local fo = {dim = 3, transforms = spec.transforms, hidden = spec.hidden, blocks = spec.blocks,
              transform = spec.transform, bins = spec.bins, bound = spec.bound, layers = spec.layers}
  local m, sd = flows.sphere_moments(x, geometry.SUN, mr)
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

local function job_key(vt, which, k, seed, o, skey)
  -- a refit is trained on draws from the base ensembles: it depends on their members too
  local t = {vt.kind, vt.index, which, k, seed, o.flow, o.train, o.finetune, skey, o.map_radius}
  -- (refit_draws: the version of the refit_sample method's procedure, so a change to it retrains)
  if vt.alt and vt.alt.refit then t.refit_of_members, t.refit_draws = o.members, 2 end
  return serialize.hash(t)
end

--- The options that make up the step's key (a change to them redoes the step; each job has
--- its own key as well, so only the jobs whose key changed are retrained).
function flows.options(self)
  return {flow = self.o.flow, train = self.o.train, ft = self.o.finetune, seed = self.o.seed,
          m = self.o.members, rm = self.o.resample_members, sy = self.o.systematics}
end

-- A finished job's flow, if `file` holds one at `group` made with this key (else nil).
local function finished(file, group, key)
  if not common.file_exists(file) or h5.exists(file, group) ~= true then return nil end
  local ok, a = pcall(h5.attrs, file, group)
  if not (ok and a.job_key == key) then return nil end
  local lok, f = pcall(flowmod.load, file, group)
  if lok then return f, a end
  return nil
end

-- The preset a variant trains with: the run's, with a systematic variant's own settings.
local function options_of(self, vt)
  if not vt.alt then return self.o end
  local o = {}
  for key, val in pairs(self.o) do o[key] = val end
  for key, val in pairs(vt.alt) do if key ~= "refit" then o[key] = val end end
  return o
end

--- The step's jobs: one per (variant, member, flow), each with its own file
--- DIR/steps/flows.jobs/NAME-WHICH-K.h5 (written as .part and renamed, so a run killed
--- during training keeps every job it finished). The refits (systematics {refit = true})
--- are trained on draws from the base ensemble: they are phase 2.
function flows.jobs(self)
  local dir = self:file("flows"):gsub("%.h5$", ".jobs")
  local skey = self.keys.selection
  local list = {}
  for _, vt in ipairs(self:variants()) do
    local o = options_of(self, vt)
    local seed = core.rng.derive_seed(self.o.seed, vt.kind == "base" and 0
      or (vt.kind == "boot" and 1 or vt.kind == "smear" and 2 or 3) * 1000 + vt.index)
    for k = 1, vt.members do
      for _, which in ipairs({"n_x", "p_v"}) do
        local id = ("%s-%s-%04d"):format(vt.name, which, k)
        list[#list + 1] = {id = id, vt = vt, which = which, k = k, seed = seed, o = o,
          key = job_key(vt, which, k, seed, o, skey), file = ("%s/%s.h5"):format(dir, id),
          group = ("/%s/%s/member_%04d"):format(vt.name, which, k),
          phase = vt.alt and vt.alt.refit and 2 or 1,
          label = ("%s %s member %d trained"):format(vt.name, which, k)}
      end
    end
  end
  return list
end

-- A job's flow and attributes: from its job file, or from the step's file of a folder
-- made before the job files; nil when neither holds it.
local function job_flow(self, job)
  local f, attrs = finished(job.file, "/flow", job.key)
  if not f then f, attrs = finished(self:file("flows"), job.group, job.key) end
  return f, attrs
end

--- Whether the job's flow is there (and loads).
function flows.job_done(self, job) return job_flow(self, job) ~= nil end

-- The stars a variant trains on (kept while one variant's jobs follow each other).
local function training_stars(self, job)
  local vt = job.vt
  local cache = self._flows_stars
  if cache and cache.name == vt.name then return cache.x, cache.v end
  local sf = self:file("selection")
  local tname = vt.kind == "syst" and "base" or vt.name
  local x, v = rd(sf, "/train/" .. tname .. "/x"), rd(sf, "/train/" .. tname .. "/v")
  if vt.alt and vt.alt.refit then
    -- the base ensemble's members, from their jobs (phase 1 has finished)
    local base = {}
    for _, j in ipairs(flows.jobs(self)) do
      if j.vt.kind == "base" then base[j.which .. j.k] = j end
    end
    local function member(which, k)
      local j = base[which .. k]
      return j and (job_flow(self, j))
    end
    x, v = self:refit_sample(member, (x:shape()), vt.index)
  end
  self._flows_stars = {name = vt.name, x = x, v = v}
  return x, v
end

--- Train one job's flow and write its file.
function flows.do_job(self, job)
  local x, v = training_stars(self, job)
  local f, hist = flows.train_flow(job.which, x, v, job.o, job.seed, job.k)
  local vt = job.vt
  local attrs = {job_key = job.key, kind = vt.kind, index = vt.index, member = job.k, seed = job.seed,
                 best_val = hist.best_val or 0/0, epochs = hist.epochs or #(hist.val or {})}
  fs.mkdirs((job.file:match("^(.*)/[^/]*$")))
  local part = job.file .. ".part"
  os.remove(part)
  f:save(part, "/flow")
  h5.set_attrs(part, "/flow", attrs)
  fs.commit(part, job.file)
end

--- Gather every job's flow into the step's file, /NAME/WHICH/member_K.
function flows.run(self, w)
  self._flows_stars = nil
  for _, job in ipairs(flows.jobs(self)) do
    local f, attrs = job_flow(self, job)
    if not f then error(("pf.pipeline: flows: job %s has no flow (its file %s)"):format(job.id, job.file), 0) end
    f:save(w.file, job.group)
    h5.set_attrs(w.file, job.group, {job_key = attrs.job_key, kind = attrs.kind, index = attrs.index,
      member = attrs.member, seed = attrs.seed, best_val = attrs.best_val, epochs = attrs.epochs})
    w.names[#w.names + 1] = job.group .. "/params"
  end
end

return flows

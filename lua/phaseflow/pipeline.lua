-- pf.pipeline: the engine that runs an analysis as steps. Each step reads the HDF5 files
-- of the steps before it and writes one file DIR/steps/NAME.h5 whose root attribute
-- `step_key` is a hash of (its inputs' keys, its options). A re-run skips a step whose key
-- matches and whose file verifies (every expected dataset present and readable); anything
-- else -- a missing, truncated or corrupted file, a changed option -- is rebuilt.
-- Nothing is written in place: a step fills NAME.h5.part and renames it when sealed, so a
-- run killed at any moment leaves every finished step whole. A lock (DIR/LOCK) keeps a
-- second run out of the same folder while the first is running.
--
--   local P = pf.pipeline.new{out = "out/quick", preset = pf.presets.get("quick"), inputs = {}}
--   P:run{only = "flows"} / P:run{from = "densities"} / P:run{force = true} / P:run()
--
-- The science is in the steps (lua/phaseflow/steps/, pf.steps: the paper's analysis, the
-- default); new{analysis = ...} runs another set of steps with the same engine.
--
-- A step with many independent pieces of work (training a flow, accelerations along a
-- curve, a block of kernel points) lists them as jobs: spec.jobs(run) -> {{id, key,
-- phase}, ...}, spec.job_done(run, job), spec.do_job(run, job) writing the job's own file,
-- and spec.run assembling the step's file from the job files. The engine spreads the
-- jobs (pf.dist): all in this process, over MPI ranks (mpirun), or one share of a job
-- array (new{task = "I/N"}); a finished job is never redone, so a killed run keeps them.
-- new{merge = true} assembles what a job array made and stops before a step whose jobs
-- have not started.
local core = require "phaseflow.core"
local h5 = require "phaseflow.h5"
local dist = require "phaseflow.dist"
local serialize = require "phaseflow.serialize"
local paper = require "phaseflow.steps"

local array = core.array
local fs = require "phaseflow.fs"

local pipeline = {}
local Engine = {}

-- the paper's steps, in the order they run
pipeline.steps = paper.order

-- wall-clock seconds (the step times of the report; os.clock would sum the CPU time of
-- every thread)
local wtime = core.config and core.config.wtime or os.clock

--- Write "[pipeline] " .. fmt:format(...) to stderr unless the run is quiet (under MPI,
--- rank 0 alone speaks; see job_log).
function Engine:log(fmt, ...)
  if not self.quiet and self.dist.root then io.stderr:write(("[pipeline] " .. fmt .. "\n"):format(...)) end
end

--- The log line of a job: from every rank, naming it ("[pipeline rank 1 of 2] ...").
function Engine:job_log(fmt, ...)
  if self.quiet then return end
  local who = self.dist:label()
  io.stderr:write(("[pipeline%s] " .. fmt .. "\n"):format(who ~= "" and " " .. who or "", ...))
end

-- the class of a run of `analysis`: the engine's methods over the analysis' own
local classes = setmetatable({}, {__mode = "k"})
local function class_of(analysis)
  local c = classes[analysis]
  if not c then
    c = {}
    for k, f in pairs(analysis.methods or {}) do c[k] = f end
    for k, f in pairs(Engine) do c[k] = f end
    c.__index = c
    classes[analysis] = c
  end
  return c
end

--- new{out = DIR, preset = table, inputs = {...}, analysis = steps (default: the paper's),
--- quiet, plan_only, task = "I/N", merge} -> a run; DIR must be writable (checked now),
--- unless plan_only (a run that only plans: nothing is made or written). task: this
--- process does share I of N of the next step's jobs and stops (a job array); merge:
--- assemble the shares, and stop before a step none of whose jobs has run.
function pipeline.new(opts)
  if type(opts) ~= "table" or type(opts.out) ~= "string" or type(opts.preset) ~= "table" then
    error("pf.pipeline.new: {out = dir, preset = table} expected", 2)
  end
  local analysis = opts.analysis or paper
  if opts.task and opts.merge then error("pf.pipeline.new: task and merge exclude each other", 2) end
  local okd, d = pcall(dist.new, {task = opts.task})
  if not okd then error((tostring(d):gsub("^pf%.dist: ", "pf.pipeline.new: ")), 2) end
  local self = setmetatable({out = opts.out, o = opts.preset, inputs = opts.inputs or {},
                             quiet = opts.quiet, times = {}, started = {}, ran = {}, keys = {},
                             analysis = analysis, step_names = analysis.order, dist = d,
                             merge = opts.merge}, class_of(analysis))
  if analysis.setup then analysis.setup(self, opts) end
  if opts.plan_only or not d.root then return self end  -- plan(): nothing is written; rank 0 checks
  -- the folder is checked here, before any step: an unwritable --out fails now, not later
  local ok, err = pcall(fs.mkdirs, self.out .. "/steps")
  local probe = self.out .. "/steps/.writable"
  local f = ok and io.open(probe, "w")
  if not f then
    error(("pf.pipeline: cannot write into the output folder %s (%s)"):format(self.out,
      ok and "permission denied?" or tostring(err):gsub("^pf%.fs%.mkdirs: ", "")), 2)
  end
  f:close()
  os.remove(probe)
  return self
end

--- The file of a step: DIR/steps/STEP.h5.
function Engine:file(step) return ("%s/steps/%s.h5"):format(self.out, step) end

local file_exists = fs.exists

-- Verify: key attribute matches, every listed dataset reads.
function Engine:verify(step, key, datasets)
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

-- A writer collecting dataset names into FILE.part, sealed with the key and renamed to
-- FILE last: a crash before the rename leaves the old file (or none) and a stray .part.
local function writer(file)
  local part = file .. ".part"
  os.remove(part)
  local w = {file = part, final = file, names = {}}
  function w.put(path, a, attrs)
    if type(a) == "table" then a = array.from(a) end
    h5.write(part, path, a, attrs)
    w.names[#w.names + 1] = path
  end
  function w.seal(key, info)
    local attrs = {step_key = key, datasets = table.concat(w.names, ",")}
    for k, v in pairs(info or {}) do attrs[k] = v end
    h5.provenance(part, "/", attrs)
    fs.commit(part, file)
  end
  return w
end

-- Why a step's file does not verify, in words: "absent", "its options changed", ...
local function reason(self, step, why)
  if why ~= "stale" then return why end
  local ok, attrs = pcall(h5.attrs, self:file(step), "/")
  local now = serialize.dump(self.analysis[step].options(self))
  if ok and type(attrs.options) == "string" and attrs.options ~= now then
    return "its options or input data changed"
  end
  return "a step it reads was redone"
end

-- The output folder's lock: "pid N" of the run holding it, for the one refused.
local function take_lock(self)
  local holder = ("pid %d, started %s"):format(fs.pid(), os.date("!%Y-%m-%dT%H:%M:%SZ"))
  -- the tasks of a job array share the folder (each writes job files of its own)
  local d = self.dist
  local name = d.mode == "task" and ("/LOCK.task-%d"):format(d.task) or "/LOCK"
  local lock, held_by = fs.lock(self.out .. name, holder)
  if not lock then
    local e = {message = ("pf.pipeline: %s is in use by another run (%s); wait for it or use another --out")
                 :format(self.out, held_by), busy = true}
    setmetatable(e, {__tostring = function(t) return t.message end})
    error(e, 0)
  end
  return lock
end

--- The position of step `name` in the analysis' order; an error naming the steps if none.
function Engine:index_of(name)
  for i, n in ipairs(self.step_names) do if n == name then return i end end
  error(("pf.pipeline: no step '%s' (steps: %s)"):format(tostring(name), table.concat(self.step_names, ", ")), 3)
end

-- The step's key: a hash of its name, its inputs' keys and its options.
function Engine:key(step)
  local spec = self.analysis[step]
  local ins = {}
  for _, i in ipairs(spec.inputs or {}) do ins[#ins + 1] = self.keys[i] or "?" end
  return serialize.hash{step = step, inputs = ins, options = spec.options(self)}
end

-- What run{only, from, upto, force} does with step i (its key is computed and kept): "run"
-- and why, "reuse" (up to date), "not selected", or "missing" and why when --only/--from
-- skip an earlier step that is not there.
local function decide(self, i, step, sel)
  local key = self:key(step)
  self.keys[step] = key
  local selected = (sel.only == nil or sel.only == i) and i >= sel.first and i <= sel.last
  local ok, why, attrs = self:verify(step, key)
  if selected and (sel.force or not ok) then
    return "run", sel.force and "forced" or reason(self, step, why), key
  elseif not ok and (sel.only ~= nil or i < sel.first) and i <= (sel.only or sel.first) then
    return "missing", why, key
  end
  return ok and "reuse" or "not selected", nil, key, attrs
end

local function selection(self, opts)
  opts = opts or {}
  return {first = opts.from and self:index_of(opts.from) or 1, only = opts.only and self:index_of(opts.only),
          last = opts.upto and self:index_of(opts.upto) or #self.step_names, force = opts.force}
end

--- plan{only = name, from = name, upto = name, force = bool} -> what run would do, without
--- doing it: a list of {step, action = "run" | "reuse" | "not selected" | "missing", why}.
--- Nothing is read but the step files' keys, nothing is written, no lock is taken.
function Engine:plan(opts)
  local sel = selection(self, opts)
  if self.load_variant_names then self:load_variant_names() end
  local out = {}
  for i, step in ipairs(self.step_names) do
    local action, why = decide(self, i, step, sel)
    out[#out + 1] = {step = step, action = action, why = why}
  end
  return out
end

-- The jobs of a step by phase (a phase's jobs read what the phases before it made).
local function phases_of(jobs)
  local ph, order = {}, {}
  for _, j in ipairs(jobs) do
    local p = j.phase or 1
    if not ph[p] then ph[p] = {}; order[#order + 1] = p end
    table.insert(ph[p], j)
  end
  table.sort(order)
  local out = {}
  for k, p in ipairs(order) do out[k] = ph[p] end
  return out
end

--- The jobs of `step` that this process does, phase by phase. Returns "complete" when
--- every job is done (the step's file can be assembled), "task" when a share of a job
--- array ends here, "waiting" when --merge finds a phase none of whose jobs has run.
function Engine:run_jobs(step, spec)
  local d = self.dist
  local phases = phases_of(spec.jobs(self))
  local here = 0
  local function is_done(j) return spec.job_done(self, j) end
  for p, list in ipairs(phases) do
    -- a share of a job array works on the first phase not finished (a later phase reads
    -- what all the shares of this one make)
    if d.mode == "task" and #d:pending(list, is_done) == 0 and p < #phases then goto next_phase end
    local pending = d:pending(d:share(list), is_done)
    if #pending > 0 and self.merge then
      if #pending == #list then
        self:log("%s: %d jobs to do%s: run the job array (--task I/N), then --merge again", step, #list,
          #phases > 1 and (" (phase %d of %d)"):format(p, #phases) or "")
        return "waiting"
      end
      local ids = {}
      for k = 1, math.min(3, #pending) do ids[k] = pending[k].id end
      error(("pf.pipeline: --merge: step '%s' misses %d of its %d jobs (%s%s): did a task of the array fail? "
             .. "Run the array again, or run without --merge to do them here"):format(step, #pending, #list,
             table.concat(ids, ", "), #pending > 3 and ", ..." or ""), 0)
    end
    if #pending > 0 then
      local t0, this_phase = wtime(), 0
      d:each(pending, function(job, k, n)
        local tj = wtime()
        spec.do_job(self, job)
        here, this_phase = here + 1, this_phase + 1
        local dt = wtime() - tj
        -- ETA: this process' mean job time over the jobs not yet handed out (shared by
        -- all ranks under MPI)
        local left = (n - k) / (d.mode == "mpi" and d.size or 1)
        self:job_log("%s: %s (%.1f s) [job %d of %d, ETA %s]", step, job.label or job.id, dt, k, n,
          core.progress.format_duration((wtime() - t0) / this_phase * left))
      end)
      d:barrier()
    end
    -- a share of a job array ends with its part of that phase; --merge gathers the
    -- step's file (two tasks must not write it at once)
    if d.mode == "task" then
      self:job_log("%s: %d jobs done here (share %d of %d%s)", step, here, d.task, d.ntasks,
        #phases > 1 and (", phase %d of %d"):format(p, #phases) or "")
      return "task"
    end
    ::next_phase::
  end
  return "complete"
end

--- run{only = name, from = name, upto = name, force = bool}: returns the list of {step,
--- status, seconds}. Under MPI every rank calls it: rank 0 decides and writes the step
--- files, every rank takes jobs.
function Engine:run(opts)
  local sel = selection(self, opts)
  local d = self.dist
  local lock <close> = d.root and take_lock(self) or nil -- luacheck: ignore 211 (held until run returns)
  if self.load_variant_names then self:load_variant_names() end
  local done = {}
  for i, step in ipairs(self.step_names) do
    local spec = self.analysis[step]
    local action, why, key, attrs
    if d.root then
      action, why, key, attrs = decide(self, i, step, sel)
    else
      key = self:key(step)
      self.keys[step] = key
    end
    action = d:bcast(action)
    if action == "run" then
      self:log("%s: running (%s)", step, why)
      local t0 = wtime()
      self.started[step] = t0
      local state = "complete"
      if spec.jobs then
        state = self:run_jobs(step, spec)
      elseif d.mode == "task" then
        error(("pf.pipeline: --task: step '%s' (one piece of work, no jobs) must be run first: "
               .. "run --merge (or without --task)"):format(step), 0)
      end
      if state ~= "complete" then
        done[#done + 1] = {step = step, status = state == "task" and "share done" or "waiting", seconds = wtime() - t0}
        break
      end
      if d.root then
        local w = writer(self:file(step))
        local info = spec.run(self, w) or {}
        info.step = step
        info.options = serialize.dump(spec.options(self))
        w.seal(key, info)
      end
      d:barrier()
      local dt = wtime() - t0
      self.times[step] = dt
      done[#done + 1] = {step = step, status = "ran", seconds = dt}
      self:log("%s: done in %.1f s", step, dt)
    elseif action == "missing" then
      error(("pf.pipeline: step '%s' must be run first (%s)"):format(step, why), 2)
    else
      local entry = {step = step, status = action == "reuse" and "skipped" or "not selected", seconds = 0}
      done[#done + 1] = entry
      -- Keys hold inputs and options, not the code: a result made by another build is
      -- reused, and said so (its provenance names the commit).
      local made, this = attrs and attrs.git_commit, core.config.config().git
      if action == "reuse" and made ~= nil and made ~= this then
        entry.made_by = made
        self:log("%s: up to date, made by git %s (this build: git %s; --force redoes it)",
          step, tostring(made), tostring(this))
      elseif action == "reuse" then
        self:log("%s: up to date", step)
      end
    end
  end
  self.ran = done
  return done
end

return pipeline

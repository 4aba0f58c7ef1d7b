-- pf.cost (the counting, exact, against hand counts and against a pipeline object; the
-- projection, linear) and scripts/cost.lua (runs on the test preset with the tiny
-- calibration, prints every step; command-line mistakes exit 2).
local pf = require "phaseflow"
local support = require "support"

local cost = pf.cost

describe("pf.cost counting", function()
  it("counts the test preset's work by hand", function()
    local o = pf.presets.get("test")
    -- resamples: base (2 members), 2 bootstraps and 2 smears of 1 member, 2 systematics
    local vs = cost.variants(o)
    assert.are.equal(7, #vs)
    assert.are.same({"base", "boot_001", "boot_002", "smear_001", "smear_002", "syst_001", "syst_002"},
      (function() local t = {} for i, v in ipairs(vs) do t[i] = v.name end return t end)())
    -- 8 flow pairs = 16 jobs; the second systematic has its own architecture (3 x 8 x 1)
    local groups, jobs = cost.flow_jobs(o)
    assert.are.equal(16, jobs)
    assert.are.equal(2, #groups)
    assert.are.equal("2x8x1/b512", groups[1].key)
    assert.are.equal(7, groups[1].jobs)
    assert.are.equal("3x8x1/b512", groups[2].key)
    assert.are.equal(1, groups[2].jobs)
    -- stars: 20,000 mock stars x 0.0732 = 1,464 selected; n_train = 1,000 per flow; 2 epochs
    local c = cost.counts(o)
    assert.are.equal(1464, c.selected)
    assert.are.equal(1000, c.flows.stars)
    assert.are.equal(2, c.flows.epochs)
    assert.are.equal(16 * 1000 * 2, c.flows.star_epochs)
    -- densities evaluated: 7 variants + the 2 base members alone = 9, holding 10 flow pairs
    local list, nd, npairs = cost.densities(o)
    assert.are.equal(9, nd)
    assert.are.equal(10, npairs)
    assert.are.equal("member_002", list[3].name)
    -- accelerations: Sun ball 2 + curves 3 + 3 + 3 + 3 + 5 + the arc point at s = 0 (the
    -- only one within 150 pc of the Sun) ball-averaged again (2) = 21, at 24 velocities
    local npos, parts = cost.acceleration_positions(o)
    assert.are.equal(21, npos)
    assert.are.same({ball = 2, curves = 17, arc_ball = 2}, parts)
    assert.are.equal(21 * 24 * 10, c.accelerations.units)
    -- densities: Sun 1 + 3 curves x 3 + gNFW set (3 s x 3 phi + 4 r-line points) = 23
    -- locations x 8 kernel points (6 volume + 2 surface) x 6 velocities x 10 pairs
    local nloc = cost.density_locations(o)
    assert.are.equal(23, nloc)
    assert.are.same({8, 6, 2}, {cost.kernel_points(8)})
    assert.are.equal(23 * 8, c.densities.positions)
    assert.are.equal(23 * 8 * 6 * 10, c.densities.units)
    -- equilibrium 500 velocities x the 2-member base; MCMC 200 steps x 8 walkers
    assert.are.equal(1000, c.equilibrium.units)
    assert.are.equal(1600, c.gnfw.units)
    -- selection: 2 smears of the 10 kpc sample (20,000 x 0.305 = 6,100 stars)
    assert.are.equal(2 * 6100, c.selection.units)
  end)

  it("counts the paper preset: 4,200 flow jobs, 417 positions, 113 locations x 3,200 points", function()
    local c = cost.counts(pf.presets.get("paper"))
    assert.are.equal((100 + 10 * 100 + 10 * 100) * 2, c.flows.jobs)
    assert.are.equal(439200, c.flows.stars)          -- n_train = 0: every selected star
    assert.are.equal(4200 * 439200 * 1000, c.flows.star_epochs)
    -- 64 ball points + 25 x 4 + 61 curve points + 3 arc points within 150 pc x 64
    assert.are.equal(64 + 161 + 3 * 64, c.accelerations.positions)
    assert.are.equal(121, c.accelerations.densities)  -- base, 100 members, 10 + 10 resamples
    assert.are.equal(2200, c.accelerations.pairs)
    assert.are.equal(1 + 3 * 31 + 19, c.densities.locations)
    assert.are.equal(3200, c.densities.kernel)
  end)

  it("agrees with a pipeline object's variants, densities and density points", function()
    local dir = os.tmpname()
    os.remove(dir)
    for _, name in ipairs(pf.presets.names) do
      local o = pf.presets.get(name)
      local P = pf.pipeline.new{out = dir, preset = o, quiet = true}
      local pv, cv = P:variants(), cost.variants(o)
      assert.are.equal(#pv, #cv, name)
      for i, v in ipairs(pv) do
        assert.are.same({v.name, v.kind, v.members}, {cv[i].name, cv[i].kind, cv[i].members})
      end
      P:load_variant_names()
      local list = cost.densities(o)
      assert.are.equal(#P.variant_names, #list, name)
      for i, v in ipairs(P.variant_names) do assert.are.same({v.name, v.kind}, {list[i].name, list[i].kind}) end
      local x0 = P:density_points()
      assert.are.equal((x0:shape()), (cost.density_locations(o)), name)
      -- the job lists the pipeline spreads over processes, job for job
      P:plan()
      local cj = cost.jobs(o)
      for _, step in ipairs({"flows", "accelerations", "densities", "potential"}) do
        local pj = pf.steps[step].jobs(P)
        assert.are.equal(#pj, #cj[step], name .. " " .. step)
        for i, j in ipairs(pj) do
          if step == "flows" then
            assert.are.same({j.which, j.phase}, {cj.flows[i].which, cj.flows[i].phase})
          else
            assert.are.equal(j.density, cj[step][i].density)
          end
          if step == "accelerations" then assert.are.equal(j.part, cj[step][i].part) end
          if step == "potential" then assert.are.equal(o.potential.stars, cj[step][i].stars) end
          if step == "densities" then
            local np = (j.rows[2] - j.rows[1] + 1) / cost.kernel_points(o.kernel_points)
            assert.are.equal(np, cj[step][i].locations)
          end
        end
      end
    end
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("schedules jobs in order on the first free rank, phase after phase", function()
    local function J(t, p) return {seconds = t, phase = p or 1} end
    assert.are.same({4, 2}, {cost.schedule({J(2), J(2), J(2), J(2)}, 2, 1)})
    assert.are.same({8, 2}, {cost.schedule({J(2), J(2), J(2), J(2)}, 1, 1)})
    -- a long job first: the others fill the second rank
    assert.are.same({6, 6}, {cost.schedule({J(6), J(1), J(2), J(3)}, 2, 1)})
    -- phase 2 starts when phase 1 has ended everywhere; scale applies to every job
    assert.are.same({(3 + 1) * 0.5, 1.5}, {cost.schedule({J(3), J(1), J(1, 2)}, 4, 0.5)})
  end)

  it("takes the star count and the epochs from the caller", function()
    local o = pf.presets.get("paper")
    local c = cost.counts(o, {selected = 12345, epochs = 80})
    assert.are.equal(12345, c.flows.stars)
    assert.are.equal(4200 * 12345 * 80, c.flows.star_epochs)
    o = pf.presets.get("test")
    assert.are.equal(700, cost.counts(o, {selected = 700}).flows.stars)  -- fewer than n_train
  end)
end)

describe("pf.cost projection", function()
  -- per-unit costs made by hand (seconds, as measured on 2 threads)
  local function rates()
    local fl = {n_x = {star_epoch = 2e-6, star_once = 5e-6}, p_v = {star_epoch = 3e-6, star_once = 1e-6}}
    return {threads = 2, mock_star = 1e-5, catalogue_fixed = 0.25, normalisation = 0, smear_star = 1e-6,
            smear_fixed = 0.01, flows = {["2x8x1/b512"] = fl, ["3x8x1/b512"] = fl},
            accel = {a = 2e-6, b = 3e-6}, density = {a = 4e-6, b = 1e-6},
            equilibrium = {a = 1e-6, b = 2e-6, truth = 5e-7}, mcmc = 1e-6,
            potential = {star_epoch = 2e-5, star_once = 1e-5, draw = {a = 3e-6, b = 2e-6}}}
  end
  local function row(rows, step)
    for _, r in ipairs(rows) do if r.step == step then return r end end
  end

  it("multiplies the test preset's counts by the per-unit costs", function()
    local rows, total = cost.project(cost.counts(pf.presets.get("test")), rates())
    assert.are.equal(12, #rows)
    assert.near(20000 * 1e-5 + 0.25, row(rows, "catalogue").seconds, 1e-12)
    assert.near(2 * 6100 * 1e-6 + 2 * 0.01, row(rows, "selection").seconds, 1e-12)
    -- 16,000 star-epochs and 8,000 stars per flow kind
    assert.near(16000 * 5e-6 + 8000 * 6e-6, row(rows, "flows").seconds, 1e-12)
    -- 504 position-velocities x (9 densities x a + 10 pairs x b)
    assert.near(504 * (9 * 2e-6 + 10 * 3e-6), row(rows, "accelerations").seconds, 1e-12)
    assert.near(500 * (1e-6 + 2 * 2e-6) + 500 * 5e-7, row(rows, "equilibrium").seconds, 1e-12)
    assert.near(1104 * (9 * 4e-6 + 10 * 1e-6), row(rows, "densities").seconds, 1e-12)
    assert.near(1600 * 1e-6, row(rows, "gnfw").seconds, 1e-12)
    -- 9 fits of 400 stars x 3 epochs, the stars drawn from 9 densities of 10 pairs in all
    assert.near(9 * (400 * 3 * 2e-5 + 400 * 1e-5) + 400 * (9 * 3e-6 + 10 * 2e-6), row(rows, "potential").seconds, 1e-12)
    assert.is_truthy(row(rows, "report").small)
    local sum = 0
    for _, r in ipairs(rows) do sum = sum + (r.seconds or 0) end
    assert.near(sum, total.seconds, 1e-12)
    assert.near(total.seconds * 2 / 3600, total.core_hours, 1e-15)
  end)

  it("is linear: twice the stars, twice the flows; 4 threads halve the wall, not the core-hours", function()
    local o = pf.presets.get("paper")
    o.systematics = {{flow = {transforms = 2, hidden = 8, blocks = 1}, train = {batch = 512}}}
    o.flow, o.train.batch = {transforms = 3, hidden = 8, blocks = 1}, 512
    local r = rates()
    local a = row(cost.project(cost.counts(o, {selected = 40000}), r), "flows")
    local b = row(cost.project(cost.counts(o, {selected = 80000}), r), "flows")
    assert.is_true(a.seconds > 0)
    assert.near(2 * a.seconds, b.seconds, 1e-9 * b.seconds)
    local c = cost.counts(pf.presets.get("test"))
    local _, t2 = cost.project(c, r)
    local _, t4 = cost.project(c, r, {threads = 4})
    assert.near(t2.wall / 2, t4.wall, 1e-12)
    assert.near(t2.core_hours, t4.core_hours, 1e-15)
  end)
end)

describe("scripts/cost.lua", function()
  it("projects the test preset with the tiny calibration: every step, the CPU, a total", function()
    local out, rc = support.phaseflow({"../scripts/cost.lua", "--preset", "test", "--calibrate", "quick",
                                       "--threads", "4", "--ranks", "3", "--quiet"})
    assert.are.equal(0, rc, out)
    -- the cluster table: job steps with their job counts
    assert.is_truthy(out:find("On 3 ranks x 4 threads (12 cores)", 1, true), out)
    assert.is_truthy(out:find("\n| flows | 16 | ", 1, true), out)
    assert.is_truthy(out:find("\n| densities | 27 | ", 1, true), out)
    for _, step in ipairs(pf.pipeline.steps) do
      assert.is_truthy(out:find("\n| " .. step .. " |", 1, true), step .. "\n" .. out)
    end
    assert.is_truthy(out:find("\n| total |", 1, true), out)
    assert.is_truthy(out:find("wall (4 threads)", 1, true), out)
    assert.is_truthy(out:find("\nCPU: ", 1, true), out)
    assert.is_truthy(out:find("OpenBLAS kernel " .. pf.config().blas_core, 1, true), out)
    assert.is_truthy(out:find("16 jobs", 1, true), out)
    assert.is_falsy(out:find("[cost]", 1, true), out)  -- --quiet
  end)

  it("a command-line mistake exits with status 2, the reason and the usage", function()
    for _, case in ipairs{
      {{"--preset", "fast"}, "no preset 'fast' (have: " .. table.concat(pf.presets.names, ", ") .. ")"},
      {{"--threads", "0"}, "--threads must be a positive integer, got '0'"},
      {{"--ranks", "-2"}, "--ranks must be a positive integer, got '-2'"},
      {{"--calibrate", "slow"}, "--calibrate must be full or quick, got 'slow'"},
      {{"--stars", "10", "--from", "x"}, "--stars and --from both give the star count"},
      {{"--from", "/nonexistent/run"}, "--from: cannot read /nonexistent/run/steps/selection.h5"},
      {{"--bogus"}, "unknown option --bogus"},
      {{"--epochs"}, "--epochs needs a value"},
      {{"--preset", "no/such/preset.lua"}, "no/such/preset.lua: cannot read the preset file"},
    } do
      local args = {"../scripts/cost.lua"}
      for _, a in ipairs(case[1]) do args[#args + 1] = a end
      local out, rc = support.phaseflow(args)
      assert.are.equal(2, rc, out)
      assert.is_truthy(out:find(case[2], 1, true), out)
      assert.is_truthy(out:find("usage: phaseflow scripts/cost.lua", 1, true), out)
      assert.is_falsy(out:find("traceback", 1, true), out)
    end
  end)
end)

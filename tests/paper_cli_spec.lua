-- scripts/paper.lua (the main job) and scripts/make-mock.lua from the command line: a run
-- at the test preset, a re-run that skips every step, and command-line mistakes (exit
-- status 2 with the reason).
local support = require "support"

describe("scripts/paper.lua", function()
  -- an output folder whose name needs quoting in a shell: every path must still work
  local dir = os.tmpname()
  os.remove(dir)
  dir = dir .. " it's ü"

  it("runs the test preset end to end, logging each flow job with an ETA", function()
    local out, rc = support.phaseflow({"../scripts/paper.lua", "--preset", "test", "--out", dir})
    assert.are.equal(0, rc, out)
    assert.is_truthy(out:find("[job 1 of 16, ETA", 1, true), out)
    assert.is_truthy(out:find("report:  " .. dir .. "/report.md", 1, true), out)
    local f = io.open(dir .. "/report.md")
    assert.is_truthy(f)
    local text = f:read("a")
    f:close()
    assert.is_truthy(text:find("a_r", 1, true))
  end)

  it("re-run: every step is up to date and skipped", function()
    local out, rc = support.phaseflow({"../scripts/paper.lua", "--preset", "test", "--out", dir})
    assert.are.equal(0, rc, out)
    local skipped = 0
    for _ in out:gmatch("\n%a+%s+skipped%s") do skipped = skipped + 1 end
    assert.are.equal(12, skipped, out)
  end)

  -- every file under the run's folder with its size and modification time, as one text
  local function listing()
    local p = io.popen("find " .. support.quote(dir) .. " -type f -printf '%p %s %T@\\n' | sort")
    local text = p:read("a")
    p:close()
    return text
  end

  it("--dry-run plans without writing: reused steps, then the steps a changed setting redoes, timed", function()
    local before = listing()
    local out, rc = support.phaseflow({"../scripts/paper.lua", "--preset", "test", "--out", dir, "--dry-run"},
                                      "PHASEFLOW_COST_CALIBRATE=quick")
    assert.are.equal(0, rc, out)
    local reused = 0
    for _ in out:gmatch("\n| %a+ | reuse |") do reused = reused + 1 end
    assert.are.equal(12, reused, out)
    assert.is_truthy(out:find("Every modelled step is up to date: nothing to project.", 1, true), out)
    -- a changed setting: the steps after it run, with the work and a projected time
    out, rc = support.phaseflow({"../scripts/paper.lua", "--preset", "test", "--out", dir, "--dry-run",
                                 "--set", "nv=30"}, "PHASEFLOW_COST_CALIBRATE=quick")
    assert.are.equal(0, rc, out)
    assert.is_truthy(out:find("| flows | reuse |", 1, true), out)
    local work, t = out:match("| accelerations | run | its options or input data changed | ([^|]+) | ([^|]+) |")
    assert.is_truthy(work and work:find("21 positions x 30 v", 1, true), out)
    assert.is_truthy(t and t:match("%d+%.%ds"), out)
    assert.is_truthy(out:find("| equilibrium | run | a step it reads was redone |", 1, true), out)
    assert.is_truthy(out:find("| gnfw | reuse |", 1, true), out)  -- the densities, which it reads, stand
    assert.are.equal(before, listing())
    -- into a folder that does not exist: every step runs, and the folder is not made
    local fresh = os.tmpname()
    os.remove(fresh)
    out, rc = support.phaseflow({"../scripts/paper.lua", "--preset", "test", "--out", fresh, "--dry-run", "--quiet"},
                                "PHASEFLOW_COST_CALIBRATE=quick")
    assert.are.equal(0, rc, out)
    assert.is_truthy(out:find("| catalogue | run | absent |", 1, true), out)
    assert.is_nil(io.open(fresh))
  end)

  it("a run into a folder in use exits with status 2 naming the holder; a dead one's lock is taken", function()
    local pf = require "phaseflow"
    local lock = pf.fs.lock(dir .. "/LOCK", "pid 4242, the spec's hold")
    local out, rc = support.phaseflow({"../scripts/paper.lua", "--preset", "test", "--out", dir})
    assert.are.equal(2, rc, out)
    assert.is_truthy(out:find("is in use by another run (pid 4242, the spec's hold)", 1, true), out)
    assert.is_falsy(out:find("traceback", 1, true), out)
    lock:release() -- as if the holder died: its text stays in the file, the kernel lock is gone
    out, rc = support.phaseflow({"../scripts/paper.lua", "--preset", "test", "--out", dir})
    assert.are.equal(0, rc, out)
    -- every file the run wrote is whole: no .part left behind
    local p = io.popen("find " .. support.quote(dir) .. " -name '*.part' | wc -l")
    assert.are.equal("0", p:read("a"):match("%d+"))
    p:close()
    os.execute("rm -rf " .. support.quote(dir))
  end)

  it("an output folder that cannot be made fails before any step, exit status 2", function()
    local out, rc = support.phaseflow({"../scripts/paper.lua", "--preset", "test", "--out", "/etc/passwd/run"})
    assert.are.equal(2, rc, out)
    assert.is_truthy(out:find("paper.lua: cannot write into the output folder /etc/passwd/run", 1, true), out)
    assert.is_falsy(out:find("catalogue", 1, true), out)
    assert.is_falsy(out:find("traceback", 1, true), out)
  end)

  it("a command-line mistake exits with status 2, the reason and the usage", function()
    for _, case in ipairs{
      {{"--bogus"}, "unknown option --bogus"},
      {{"--preset", "fast"}, "no preset 'fast' (have: test, quick, science, paper)"},
      {{"--only", "flow"}, "--only: no step 'flow'"},
      {{"--out"}, "--out needs a value"},
    } do
      local args = {"../scripts/paper.lua"}
      for _, a in ipairs(case[1]) do args[#args + 1] = a end
      local out, rc = support.phaseflow(args)
      assert.are.equal(2, rc, out)
      assert.is_truthy(out:find("paper.lua: " .. case[2], 1, true), out)
      assert.is_truthy(out:find("usage: phaseflow scripts/paper.lua", 1, true), out)
      assert.is_falsy(out:find("traceback", 1, true), out)
    end
  end)

  it("--preset FILE.lua: a user's preset runs; the report lists every setting that differs from the paper", function()
    local preset = support.tempfile('-- the test preset, three members\nreturn {base = "test", members = 3}\n', ".lua")
    local run = os.tmpname()
    os.remove(run)
    local out, rc = support.phaseflow({"../scripts/paper.lua", "--preset", preset, "--out", run, "--quiet",
                                       "--set", "flow.hidden=12"})
    assert.are.equal(0, rc, out)
    local f = assert(io.open(run .. "/report.md"))
    local text = f:read("a")
    f:close()
    assert.is_truthy(text:find("a preset file based on `test`", 1, true), text)
    assert.is_truthy(text:find("| members | 3 | 100 |", 1, true), text)
    assert.is_truthy(text:find("| flow.hidden | 12 | 64 |", 1, true), text)
    assert.is_truthy(text:find("| mcmc.steps | 200 | 20000 |", 1, true), text)
    assert.is_falsy(text:find("| radius |", 1, true), text)  -- the paper's own value: not listed
    -- the mock's baryons have no error: said, not "± 0.000"; the report step's own time so far
    assert.is_truthy(text:find("| rho_b,sun | %d+%.%d+ %(exact%) |"), text)
    assert.is_falsy(text:find("± 0.000", 1, true), text)
    local t = tonumber(text:match("| report | (%d+%.%d) %(this step, up to this table%) |"))
    assert.is_true(t ~= nil and t > 0, text)
    os.execute("rm -rf " .. support.quote(run) .. " " .. support.quote(preset))
  end)

  it("a mistake in a preset file: exit status 2 naming the file and line, no traceback", function()
    for _, case in ipairs{
      {'return {base = "test",\n  flow = {hiden = 3}}\n', ":2: no setting 'flow.hiden' (have: bins, blocks"},
      {'return {base = "test", members = "many"}\n', ":1: 'members' must be a number, got 'many'"},
      {'return {members = 4}\n', ": 'base' names the preset to start from (have: test, quick, science, paper)"},
      {'return {base = "test",\n\n  members = }\n', ":3: unexpected symbol near '}'"},
    } do
      local preset = support.tempfile(case[1], ".lua")
      local out, rc = support.phaseflow({"../scripts/paper.lua", "--preset", preset, "--dry-run"})
      assert.are.equal(2, rc, out)
      assert.is_truthy(out:find("paper.lua: " .. preset .. case[2], 1, true), out)
      assert.is_falsy(out:find("traceback", 1, true), out)
      os.remove(preset)
    end
    local out, rc = support.phaseflow({"../scripts/paper.lua", "--preset", "no/such/preset.lua"})
    assert.are.equal(2, rc, out)
    assert.is_truthy(out:find("paper.lua: no/such/preset.lua: cannot read the preset file", 1, true), out)
  end)

  it("--only a step whose inputs were never made: exit status 2, the step named, no traceback", function()
    local empty = os.tmpname()
    os.remove(empty)
    local out, rc = support.phaseflow({"../scripts/paper.lua", "--preset", "test", "--out", empty,
                                       "--only", "flows"})
    assert.are.equal(2, rc, out)
    assert.is_truthy(out:find("paper.lua: --only flows: step 'catalogue' must be run first", 1, true), out)
    assert.is_falsy(out:find("traceback", 1, true), out)
    os.execute("rm -rf '" .. empty .. "'")
  end)
end)

describe("scripts/make-mock.lua", function()
  it("a command-line mistake exits with status 2 and the reason, no traceback", function()
    for _, case in ipairs{
      {"stars=abc", "stars must be an integer >= 0"},
      {"radius=-1", "radius must be a positive number (kpc)"},
      {"colour=red", "unknown option 'colour' (known: dark_disk, dust, errors, galaxy, halo_mass, "
        .. "halo_sigma, halo_weight, normalize, out, radius, rd, rows, rsigma, seed, sigma0, stars, "
        .. "thick_sigma0, thick_weight)"},
      {"errors=maybe", "errors must be true or false"},
    } do
      local out, rc = support.phaseflow({"../scripts/make-mock.lua", case[1]})
      assert.are.equal(2, rc, out)
      assert.is_truthy(out:find("make-mock.lua: " .. case[2], 1, true), out)
      assert.is_falsy(out:find("traceback", 1, true), out)
    end
  end)
end)

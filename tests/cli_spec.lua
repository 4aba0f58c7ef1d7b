-- phaseflow.cli: the command line of the scripts. Parsing is checked in this process; the
-- usage errors (exit status 2) and --help (exit status 0) through a driver script run by
-- the executable.
local cli = require "phaseflow.cli"
local support = require "support"

-- The specs of the checks, shared by this file and the driver script.
local SPECS = [[
return {
  -- --name VALUE options, flags, a repeatable KEY=VALUE option; positionals collected
  opt = {script = "demo.lua", usage = "usage: demo.lua [--out DIR] [--kernel-points K] ... [inputs...]",
         defaults = {out = "here", level = 3},
         options = {out = "value", ["kernel-points"] = {"integer", min = 4}, ratio = {"number", above = 0},
                    level = "integer", on = "boolean", quiet = "flag", set = "pairs",
                    k = {"integer", min = 4, message = "%s must be an integer >= 4, got %s"}}},
  -- no positionals
  strict = {script = "strict.lua", usage = "usage: strict.lua [--out DIR]", positionals = false,
            options = {out = "value", threads = {"integer", min = 1}}},
  -- KEY=VALUE options
  kv = {script = "kv.lua", usage = "usage: kv.lua [key=value ...]", keyvalues = true, positionals = false,
        defaults = {stars = 10, dust = false},
        options = {stars = {"integer", min = 0}, out = "value", dust = "boolean", halo = {"number", min = 0},
                   radius = {"number", above = 0, message = "%s must be a positive number (kpc)"}}},
  -- KEY=VALUE options and positionals
  kvpos = {script = "kvpos.lua", usage = "usage: kvpos.lua DIR [nv=N]", keyvalues = true,
           options = {nv = {"integer", min = 0}}},
}
]]
local specs = assert(load(SPECS))()

-- The driver: `driver.lua SPEC args...` parses the args by specs[SPEC] and prints opts (sorted
-- key=value lines) and the positionals; `driver.lua fail SCRIPT MSG` calls cli.fail(SCRIPT, MSG).
local DRIVER = [[
local cli = require "phaseflow.cli"
local specs = assert(load(]] .. ("%q"):format(SPECS) .. [[))()
local which, rest = arg[1], {table.unpack(arg, 2)}
if which == "fail" then cli.fail(rest[1], rest[2]) end
local opts, pos = cli.parse(rest, specs[which])
local keys = {}
for k in pairs(opts) do keys[#keys + 1] = k end
table.sort(keys)
for _, k in ipairs(keys) do
  local v = opts[k]
  print(("%s=%s"):format(k, type(v) == "table" and "{" .. table.concat(v, ",") .. "}" or tostring(v)))
end
print("positionals: " .. table.concat(pos, ","))
]]

describe("phaseflow.cli", function()
  local driver
  setup(function() driver = support.tempfile(DRIVER, ".lua") end)
  teardown(function() os.remove(driver) end)

  local function run(which, args, stderr)
    local q = {support.quote(support.exe), support.quote(driver), support.quote(which)}
    for _, a in ipairs(args) do q[#q + 1] = support.quote(a) end
    return support.run(table.concat(q, " ") .. (stderr == false and " 2>/dev/null" or ""))
  end

  it("is pf.cli", function()
    assert.are.equal(cli, require("phaseflow").cli)
  end)

  it("parses --name VALUE, flags, KEY=VALUE lists, positionals; dashes become underscores", function()
    local opts, pos = cli.parse({"in1", "--kernel-points", "64", "--quiet", "--set", "a=1", "-x",
                                 "--set", "b.c=x=y", "--ratio", "0.5", "--on", "false", "in2", "--out", "--quiet"},
                                specs.opt)
    assert.are.same({"in1", "-x", "in2"}, pos)
    assert.are.equal(64, opts.kernel_points)
    assert.are.equal("integer", math.type(opts.kernel_points))
    assert.is_nil(opts["kernel-points"])
    assert.is_true(opts.quiet)
    assert.are.same({"a=1", "b.c=x=y"}, opts.set)
    assert.are.equal(0.5, opts.ratio)
    assert.is_false(opts.on)
    assert.are.equal("--quiet", opts.out)  -- the value after --out is taken as it is
    assert.are.equal(3, opts.level)        -- a default, kept
  end)

  it("starts from a copy of the defaults; a repeatable option starts empty", function()
    local opts, pos = cli.parse({}, specs.opt)
    assert.are.same({out = "here", level = 3, set = {}}, opts)
    assert.are.same({}, pos)
    opts.out = "there"
    assert.are.equal("here", specs.opt.defaults.out)
    opts = cli.parse({"--out", "x"}, specs.opt)
    assert.are.equal("x", opts.out)
    assert.are.same({}, cli.parse(nil, {options = {}}))
  end)

  it("parses KEY=VALUE, -KEY=VALUE, --KEY=VALUE and --KEY VALUE options", function()
    local opts = cli.parse({"stars=1e3", "-radius=2.5", "--out=a=b", "--dust", "true"}, specs.kv)
    assert.are.equal(1000, opts.stars)
    assert.are.equal("integer", math.type(opts.stars))
    assert.are.equal(2.5, opts.radius)
    assert.are.equal("a=b", opts.out)
    assert.is_true(opts.dust)
  end)

  it("keyvalues with positionals: the other arguments are collected", function()
    local opts, pos = cli.parse({"run", "nv=7", "other"}, specs.kvpos)
    assert.are.equal(7, opts.nv)
    assert.are.same({"run", "other"}, pos)
  end)

  it("the validators convert and return the value", function()
    assert.are.equal(12, cli.integer("x.lua", "n", "12", {min = 4}))
    assert.are.equal("integer", math.type(cli.integer("x.lua", "n", "1.2e1")))
    assert.are.equal(-3, cli.integer("x.lua", "n", "-3"))
    assert.are.equal(0.25, cli.number("x.lua", "r", "0.25", {above = 0}))
    assert.are.equal(0, cli.number("x.lua", "r", "0", {min = 0}))
    assert.is_true(cli.boolean("x.lua", "b", "true"))
    assert.is_false(cli.boolean("x.lua", "b", "false"))
  end)

  it("an option of no known kind is a programming error (raised, not a usage error)", function()
    local ok, err = pcall(cli.parse, {"--x", "1"}, {script = "s.lua", options = {x = "wat"}})
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("cli.parse: option 'x' has no kind 'wat'", 1, true), err)
  end)

  it("a run without mistakes exits with status 0 (the driver works)", function()
    local out, rc = run("opt", {"--kernel-points", "8", "a"})
    assert.are.equal(0, rc, out)
    assert.are.equal("kernel_points=8\nlevel=3\nout=here\nset={}\npositionals: a\n", out)
    out, rc = run("kv", {"stars=5", "--out", "d"})
    assert.are.equal(0, rc, out)
    assert.are.equal("dust=false\nout=d\nstars=5\npositionals: \n", out)
  end)

  it("each mistake exits with status 2: '<script>: <reason>', the usage, no traceback", function()
    for _, case in ipairs{
      {"opt", {"--bogus"}, "demo.lua: unknown option --bogus"},
      {"opt", {"--out=x"}, "demo.lua: unknown option --out=x"},
      {"opt", {"--out"}, "demo.lua: --out needs a value"},
      {"opt", {"a", "--kernel-points"}, "demo.lua: --kernel-points needs a value"},
      {"opt", {"--set"}, "demo.lua: --set needs KEY=VALUE"},
      {"opt", {"--set", "novalue"}, "demo.lua: --set needs KEY=VALUE"},
      {"opt", {"--kernel-points", "3"}, "demo.lua: --kernel-points must be an integer >= 4, got '3'"},
      {"opt", {"--kernel-points", "4.5"}, "demo.lua: --kernel-points must be an integer >= 4, got '4.5'"},
      {"opt", {"--k", "many"}, "demo.lua: --k must be an integer >= 4, got many"},
      {"opt", {"--level", "x"}, "demo.lua: --level must be an integer, got 'x'"},
      {"opt", {"--ratio", "0"}, "demo.lua: --ratio must be a positive number, got '0'"},
      {"opt", {"--ratio", "abc"}, "demo.lua: --ratio must be a positive number, got 'abc'"},
      {"opt", {"--on", "yes"}, "demo.lua: --on must be true or false"},
      {"strict", {"extra"}, "strict.lua: unexpected argument 'extra'"},
      {"strict", {"-x"}, "strict.lua: unknown option -x"},
      {"strict", {"--threads", "0"}, "strict.lua: --threads must be a positive integer, got '0'"},
      {"kv", {"colour=red"}, "kv.lua: unknown option 'colour' (known: dust, halo, out, radius, stars)"},
      {"kv", {"stars"}, "kv.lua: arguments are key=value, got 'stars'"},
      {"kv", {"--stars"}, "kv.lua: arguments are key=value, got '--stars'"},
      {"kv", {"stars=abc"}, "kv.lua: stars must be an integer >= 0, got 'abc'"},
      {"kv", {"stars=-1"}, "kv.lua: stars must be an integer >= 0, got '-1'"},
      {"kv", {"radius=0"}, "kv.lua: radius must be a positive number (kpc)"},
      {"kv", {"halo=-0.5"}, "kv.lua: halo must be a number >= 0, got '-0.5'"},
      {"kv", {"halo="}, "kv.lua: halo must be a number >= 0, got ''"},
      {"kv", {"dust=maybe"}, "kv.lua: dust must be true or false"},
      {"kvpos", {"run", "nv=1.5"}, "kvpos.lua: nv must be an integer >= 0, got '1.5'"},
    } do
      local out, rc = run(case[1], case[2])
      local what = case[1] .. " " .. table.concat(case[2], " ") .. "\n" .. out
      assert.are.equal(2, rc, what)
      assert.are.equal(case[3] .. "\n" .. specs[case[1]].usage .. "\n", out)  -- nothing else: no traceback
      -- all of it on stderr
      local stdout = run(case[1], case[2], false)
      assert.are.equal("", stdout, what)
    end
  end)

  it("cli.fail with a script's name alone: the reason, no usage, exit status 2", function()
    local out, rc = run("fail", {"alone.lua", "RESULTS 'x.h5': no such file"})
    assert.are.equal(2, rc, out)
    assert.are.equal("alone.lua: RESULTS 'x.h5': no such file\n", out)
  end)

  it("--help and -h print the usage on stdout and exit with status 0, wherever they are", function()
    for _, case in ipairs{{"opt", {"--help"}}, {"opt", {"a", "-h", "--bogus"}}, {"strict", {"-h"}},
                          {"kv", {"stars=1", "--help"}}, {"kvpos", {"--help"}}} do
      local out, rc = run(case[1], case[2], false)
      assert.are.equal(0, rc, out)
      assert.are.equal(specs[case[1]].usage .. "\n", out)
    end
  end)
end)

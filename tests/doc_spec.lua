-- pf.doc, help() and Tab completion: every public function of every module under
-- lua/phaseflow/ has a doc comment, docs/api.md is what the generator writes, help shows a
-- function's doc and a module's listing, and complete() finds names and never raises.
local pf = require "phaseflow"
local doc = require "phaseflow.doc"
local repl = require "phaseflow.repl"
local support = require "support"

local NOT_YET = {}  -- files allowed to lack doc comments: none

describe("pf.doc", function()
  it("finds every public function's doc comment (none missing outside the exception list)", function()
    local missing = {}
    for _, line in ipairs(doc.undocumented()) do
      local file = line:match("%((lua/phaseflow/[^:]+):%d+%)$")
      if not NOT_YET[file] then missing[#missing + 1] = line end
    end
    assert.are.same({}, missing)
  end)

  it("docs/api.md is the generator's output (make api-doc rewrites it)", function()
    local f = assert(io.open("../docs/api.md", "r"))
    local old = f:read("a")
    f:close()
    assert.is_true(old == doc.markdown(), "docs/api.md is stale: run make api-doc")
  end)

  it("reads a function's doc comment, signature and place through debug.getinfo", function()
    local d = assert(doc.of(pf.flow.train_member))
    assert.are.equal("flow.train_member(job)", d.signature)
    assert.are.equal("lua/phaseflow/flow.lua", d.file)
    assert.truthy(d.doc:find("flow, history", 1, true))
    local _, why = doc.of(pf.rng.new)
    assert.are.equal("C function", why)
  end)

  it("lists the modules and a module's functions in file order", function()
    local mods = doc.modules()
    local set = {}
    for _, m in ipairs(mods) do set[m] = true end
    assert.is_true(set.flow and set["cost.calibrate"] and set["steps.flows"] and set.doc)
    assert.is_nil(set.init)
    local m = assert(doc.module("cli"))
    assert.are.equal("the command line of the scripts in scripts/ -- options, their values and the usage "
      .. "error (the reason and the usage on stderr, exit status 2, no traceback).", m.summary)
    local names = {}
    for _, f in ipairs(m.functions) do names[#names + 1] = f.name end
    assert.are.same({"cli.fail", "cli.integer", "cli.number", "cli.boolean", "cli.parse", "cli.preset"}, names)
  end)

  it("takes the first sentence as the summary, not an abbreviation", function()
    assert.are.equal("Where it is (Lim et al. 2023, Sec. IV).",
      doc.summary("Where it is (Lim et al. 2023,\nSec. IV). More."))
    assert.are.equal("Lists:", doc.summary("pf.x: Lists:\n  a\n  b"))
    assert.is_nil(doc.summary(nil))
  end)

  it("keeps the C doc table honest: every key names a C function that exists", function()
    local cdoc = require "phaseflow.cdoc"
    for key in pairs(cdoc) do
      -- "module.fn", or "class:method" where the class may be dotted ("gaia.reader:next")
      local class, method = key:match("^([%w_%.]+):([%w_]+)$")
      local t, fn
      if class then
        local mt = debug.getregistry()["phaseflow." .. class]
        assert.are.equal("table", type(mt), key)
        t, fn = class == "array" and pf.core.array.methods or mt.__index, method
      else
        local m
        m, fn = key:match("^([%w_]+)%.([%w_]+)$")
        assert.truthy(m, key)
        t = pf.core[m]
      end
      assert.are.equal("function", type(t[fn]), key)
    end
  end)

  it("gives every method of a C object (flows, arrays, ...) doc text that help() shows", function()
    local methods = doc.c_methods()
    local classes, missing = {}, {}
    for _, m in ipairs(methods) do
      classes[m.class] = (classes[m.class] or 0) + 1
      if not m.doc then
        missing[#missing + 1] = m.key
      else
        -- help on the method itself finds the same text
        local text = repl.help_text(m.fn)
        assert.truthy(text:find(m.doc, 1, true), m.key .. ": " .. text)
      end
    end
    -- the check covers the flows' and the arrays' methods (it cannot pass by finding none)
    assert.is_true(classes.maf >= 15 and classes.array >= 70, "flow or array methods not found")
    assert.are.same({}, missing)
    local f = pf.flow.maf{dim = 2, transforms = 1, hidden = 4, seed = 1}
    assert.truthy(repl.help_text(f.log_prob):find("f:log_prob(x [, ctx])", 1, true))
    assert.truthy(repl.help_text(pf.array.zeros(2).reshape):find("a:reshape(n, m, ...)", 1, true))
    assert.is_falsy(repl.help_text(f):find("(C function)", 1, true))
    assert.is_falsy(repl.help_text(pf.array.zeros(2)):find("(C function)", 1, true))
  end)
end)

describe("help", function()
  it("shows a function's signature and doc comment", function()
    local text = repl.help_text(pf.cli.parse)
    assert.truthy(text:find("^cli%.parse%(args, spec%)"))
    assert.truthy(text:find("--help and -h print the usage", 1, true))
  end)

  it("shows a module's comment and its functions, by value or by name", function()
    local text = repl.help_text(pf.cli)
    assert.truthy(text:find("pf.cli (lua/phaseflow/cli.lua)", 1, true))
    assert.truthy(text:find("cli.parse(args, spec)", 1, true))
    assert.are.equal(text, repl.help_text("cli"))
    assert.are.equal(text, repl.help_text("pf.cli"))
    assert.truthy(repl.help_text("cost.calibrate"):find("pf.cost.calibrate", 1, true))
    assert.are.equal(repl.help_text(pf.cli.parse), repl.help_text("pf.cli.parse"))
  end)

  it("gives C functions and C modules their doc text", function()
    assert.truthy(repl.help_text(pf.rng.new):find("pf.rng.new([seed = 1])", 1, true))
    local text = repl.help_text("rng")
    assert.truthy(text:find("rng.derive_seed", 1, true) and text:find("rng:uniform", 1, true))
    assert.truthy(repl.help_text(pf.rng.new(1)):find(":permutation", 1, true))
    assert.truthy(repl.help_text(pf.fs.commit):find("C function", 1, true))
  end)

  it("says what it can do, and what it cannot find", function()
    assert.truthy(repl.help_text():find("help(pf.flow.maf)", 1, true))
    assert.truthy(repl.help_text("nosuch"):find("no module or function named 'nosuch'", 1, true))
    assert.truthy(repl.help_text(42):find("number", 1, true))
    assert.truthy(repl.help_text(pf):find("flow", 1, true))
  end)

  it("is a global of the executable, in scripts too", function()
    local script = support.tempfile("help(require('phaseflow').cli.fail)\n", ".lua")
    local out, rc = support.phaseflow({script})
    os.remove(script)
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("cli.fail(spec, msg)", 1, true), out)
  end)
end)

describe("repl.complete", function()
  before_each(function() _G.pf = pf end)
  after_each(function() _G.pf = nil; _G.obj = nil end)

  it("completes module names under pf, loaded or not", function()
    assert.are.same({"pf.flow"}, repl.complete("pf.fl"))
    local c = repl.complete("pf.")
    local set = {}
    for _, n in ipairs(c) do set[n] = true end
    assert.is_true(set["pf.gnfw"] and set["pf.rng"] and set["pf.doc"] and set["pf.core"])
  end)

  it("completes a table's fields and an object's methods", function()
    local c = repl.complete("pf.flow.ma")
    assert.are.same({"pf.flow.maf"}, c)
    _G.obj = pf.rng.new(1)
    assert.are.same({"obj:fill_normal", "obj:fill_uniform"}, repl.complete("obj:fill"))
    _G.obj = pf.array.zeros(2)
    local m = repl.complete("obj:su")
    assert.truthy(#m > 0 and m[1]:find("^obj:su"))
  end)

  it("completes globals and keywords, and returns nothing for odd input without raising", function()
    local c = repl.complete("whil")
    assert.are.same({"while"}, c)
    for _, odd in ipairs({"", "(", "pf..fl", "pf.flow.maf.x.", "1.2.", "pf:", ":", ".", "nosuch.x", "pf.fl:x.",
                          "string.rep:", ("a."):rep(200), "\0", "pf.flow.\255"}) do
      local ok, r = pcall(repl.complete, odd)
      assert.is_true(ok, odd)
      assert.are.equal("table", type(r), odd)
    end
    assert.are.same({}, repl.complete(nil))
  end)
end)

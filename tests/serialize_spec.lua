-- Canonical serialisation (provenance, step keys) and strict globals.
local serialize = require "phaseflow.serialize"

describe("phaseflow.serialize", function()
  it("writes tables with sorted keys and exact numbers", function()
    assert.are.equal('{1, 2, a = 0.5, b = {c = "x"}, ["not id"] = true}',
      serialize.dump{1, 2, b = {c = "x"}, a = 0.5, ["not id"] = true})
    assert.are.equal("0.10000000000000001", serialize.dump(0.1))
    assert.are.equal(0.1, load("return " .. serialize.dump(0.1))())
  end)
  it("hashes equal tables equally and different ones differently", function()
    assert.are.equal(serialize.hash{a = 1, b = 2}, serialize.hash{b = 2, a = 1})
    assert.are_not.equal(serialize.hash{a = 1}, serialize.hash{a = 2})
    -- FNV-1a 64 of the empty string is its offset basis.
    assert.are.equal("cbf29ce484222325", serialize.hash(""))
  end)
  it("refuses cycles", function()
    local t = {}
    t.self = t
    assert.matches("cycle", select(2, pcall(serialize.dump, t)))
  end)
end)

describe("phaseflow.strict", function()
  it("makes reading an undefined global an error", function()
    local strict = require "phaseflow.strict"
    local env = setmetatable({}, {})
    strict.enable(env)
    local chunk = load("y = 2\nreturn y + (zz or 0)", "=t", "t", env)
    local ok, err = pcall(chunk)
    assert.is_false(ok)
    assert.matches("undefined global 'zz'", err)
  end)

  it("options: an unknown key is an error naming it, blamed on the caller's caller", function()
    local strict = require "phaseflow.strict"
    local function api(opts) strict.options(opts, {seed = true, n = true}, "pf.api") end
    api(nil)
    api{seed = 1, n = 2}
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, err = pcall(function() api{sed = 1} end)
    assert.is_false(ok)
    assert.matches("serialize_spec%.lua:" .. line .. ": pf%.api: unknown option 'sed'$", err)
    assert.has_error(function() strict.options({x = 1}, {"seed", "n"}, "pf.api") end,
      "pf.api: unknown option 'x' (known: seed, n)")
  end)
end)

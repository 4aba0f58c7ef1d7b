-- Every script in scripts/ answers --help (its usage on stdout, exit status 0, nothing run)
-- and refuses an unknown option (exit status 2, the option named).
local support = require "support"

local function scripts()
  local list = {}
  local p = io.popen("cd ../scripts && ls *.lua")
  for name in p:lines() do list[#list + 1] = name end
  p:close()
  return list
end

describe("scripts' command lines", function()
  local list = scripts()

  it("finds the scripts", function()
    assert.is_true(#list >= 10)
  end)

  for _, name in ipairs(list) do
    it(name .. " --help prints its usage and exits 0", function()
      local out, rc = support.phaseflow({"../scripts/" .. name, "--help"})
      assert.are.equal(0, rc, out)
      assert.truthy(out:find("usage: ", 1, true), out)
    end)

    it(name .. " refuses an unknown option with exit status 2, naming it", function()
      local out, rc = support.phaseflow({"../scripts/" .. name, "--no-such-option"})
      assert.are.equal(2, rc, out)
      assert.truthy(out:find("no-such-option", 1, true), out)
    end)
  end

  it("example.lua takes key=value options (stars=5000 is not ignored)", function()
    local out, rc = support.phaseflow({"../scripts/example.lua", "stars=abc"})
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("stars must be", 1, true), out)
    out, rc = support.phaseflow({"../scripts/example.lua", "5000"})
    assert.are.equal(2, rc, out)
    assert.truthy(out:find("key=value", 1, true), out)
  end)
end)

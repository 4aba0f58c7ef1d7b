-- pf.progress: count, rate and ETA lines; plain lines when not on a terminal.
local pf = require "phaseflow"
local support = require "support"

describe("pf.progress", function()
  it("prints count, percentage, ETA and a final line (plain mode)", function()
    local out, rc = support.phaseflow({"-e", [[
      local p = pf.progress.new{total = 4, label = "epochs", interval = 0}
      for i = 1, 4 do p:update(i, "loss " .. (5 - i)) end
      p:finish("done")
    ]]}, "PHASEFLOW_PROGRESS=1")
    assert.are.equal(0, rc)
    assert.matches("epochs  2/4  50%%[^\n]*ETA [%d.]+s  loss 3\n", out)
    assert.matches("epochs  4/4 100%%[^\n]* in [%d.]+s  done\n$", out)
    assert.is_nil(out:find("\r", 1, true))
  end)

  it("is silenced by PHASEFLOW_PROGRESS=0", function()
    local out = support.phaseflow({"-e", [[
      local p = pf.progress.new{total = 2, interval = 0}; p:update(1); p:finish()
    ]]}, "PHASEFLOW_PROGRESS=0")
    assert.are.equal("", out)
  end)

  it("formats durations", function()
    assert.are.equal("12.3s", pf.progress.format_duration(12.34))
    assert.are.equal("3m05s", pf.progress.format_duration(185))
    assert.are.equal("1h02m", pf.progress.format_duration(3725))
    assert.are.equal("12.5 days", pf.progress.format_duration(12.5 * 86400))
    assert.are.equal("5.76 years", pf.progress.format_duration(5.76 * 365.25 * 86400))
    assert.are.equal("?", pf.progress.format_duration(0 / 0))
  end)

  it("rejects bad options by name", function()
    assert.matches("unknown option 'totl'", select(2, pcall(pf.progress.new, {totl = 3})))
    assert.matches("'total' must be >= 0", select(2, pcall(pf.progress.new, {total = -1})))
  end)
end)

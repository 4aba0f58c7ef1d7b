-- scripts/example.lua, the README's first script, runs end to end (at a toy size) and
-- writes flows that load back.
local pf = require "phaseflow"
local support = require "support"

describe("scripts/example.lua", function()
  it("trains n(x) and p(v|x), prints the acceleration beside the exact one, saves both flows", function()
    local out = os.tmpname() .. ".h5"
    local text, rc = support.phaseflow({"../scripts/example.lua", "stars=3000", "max_epochs=2", "out=" .. out},
                                       "PHASEFLOW_PROGRESS=0")
    assert.are.equal(0, rc, text)
    local ar, exact = text:match("learned %((%S+), %S+, %S+%), exact %((%S+),")
    assert.is_truthy(ar, text)
    assert.are.equal("-1.927", exact)          -- MWPotential2014 at the Sun, 100 pc ball
    assert.is_true(math.abs(tonumber(ar)) < 10) -- a number, not NaN (toy size: not accurate)
    local n_x = pf.flow.load(out, "/n_x")
    local p_v = pf.flow.load(out, "/p_v_given_x")
    local x = pf.array.from{pf.geometry.SUN}
    assert.is_true(n_x:log_prob(x):get(1) > -math.huge)
    assert.is_true(p_v:log_prob(pf.array.from{{0, 230, 0}}, x):get(1) > -math.huge)
    os.remove(out)
  end)
end)

-- pf.df.flows: the solver's fast paths give the same numbers as the plain ones.
local pf = require "phaseflow"

describe("pf.df.flows", function()
  local sun = {8.122, 0, 0.0208}
  local n_x = pf.flow.maf{dim = 3, transforms = 2, hidden = 8, blocks = 1, seed = 3,
    preprocess = {input = {sphere = true, centre = sun, radius = 4}}}
  local p_v = pf.flow.maf{dim = 3, context = 3, transforms = 2, hidden = 8, blocks = 1, seed = 4,
    preprocess = {input = {mean = {0, -200, 0}, std = {60, 60, 60}}, context = {mean = sun, std = {2, 2, 1}}}}
  local f = pf.df.flows(n_x, p_v)

  it("grad_log_f with a block hint equals the row-by-row evaluation, with log f", function()
    local B, P = 5, 3
    local rows, vrows = {}, {}
    local r = pf.rng.new(9)
    for p = 1, P do
      local x = {sun[1] + 0.3 * p, 0.2 * p, sun[3] - 0.1 * p}
      for _ = 1, B do
        rows[#rows + 1] = x
        vrows[#vrows + 1] = {30 * r:normal(), -200 + 40 * r:normal(), 25 * r:normal()}
      end
    end
    local X, V = pf.array.from(rows), pf.array.from(vrows)
    local gx1, gv1, lf1 = f:grad_log_f(X, V)
    local gx2, gv2, lf2 = f:grad_log_f(X, V, B)
    assert.is_true((gx1 - gx2):abs():max() < 1e-12)
    assert.are.equal(0, (gv1 - gv2):abs():max())
    assert.is_true((lf1 - lf2):abs():max() < 1e-12)
    assert.is_true((lf1 - f:log_f(X, V)):abs():max() < 1e-12)
  end)

  it("sample_v gives samples only, from p(v|x0), reproducibly", function()
    local a = f:sample_v(pf.array.from{sun}, 64, {qmc = true, seed = 2})
    local b = f:sample_v(sun, 64, {qmc = true, seed = 2})
    assert.are.same({64, 3}, {a:shape()})
    assert.are.equal(0, (a - b):abs():max())
  end)
end)

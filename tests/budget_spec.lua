-- pf.budget: each source of error counted once (the training noise of every resample and
-- variant subtracted), checked on hand-made values with the variances worked out here.
local pf = require "phaseflow"
local budget = require "phaseflow.budget"

local function file_with(values)
  local f = os.tmpname() .. ".h5"
  for name, v in pairs(values) do pf.h5.write(f, "/" .. name .. "/q", pf.array.from(v)) end
  return f
end

-- sample variance of a list of numbers
local function var(t)
  local m = 0
  for _, x in ipairs(t) do m = m + x end
  m = m / #t
  local s = 0
  for _, x in ipairs(t) do s = s + (x - m) ^ 2 end
  return s / (#t - 1)
end

describe("pf.budget.of", function()
  -- one quantity of two elements; M = 3 base members, resamples and variants of r = 1 or 2
  local members = {{1.0, 10.0}, {1.4, 10.2}, {0.9, 9.9}}
  local boots = {{1.1, 10.0}, {2.0, 11.5}, {0.5, 9.0}}
  local smears = {{0.7, 10.1}, {1.5, 10.1}}
  local values = {base = {1.1, 10.0}, boot_001 = boots[1], boot_002 = boots[2], boot_003 = boots[3],
                  smear_001 = smears[1], smear_002 = smears[2], syst_001 = {1.9, 10.05},
                  syst_002 = {0.8, 10.0}}
  for k, m in ipairs(members) do values[("member_%03d"):format(k)] = m end
  local file = file_with(values)
  local variants = {{name = "base", kind = "base", members = 3}}
  for k = 1, 3 do variants[#variants + 1] = {name = ("member_%03d"):format(k), kind = "member", members = 1} end
  for k = 1, 3 do variants[#variants + 1] = {name = ("boot_%03d"):format(k), kind = "boot", members = 1} end
  for k = 1, 2 do variants[#variants + 1] = {name = ("smear_%03d"):format(k), kind = "smear", members = 1} end
  variants[#variants + 1] = {name = "syst_001", kind = "syst", members = 1}
  variants[#variants + 1] = {name = "syst_002", kind = "syst", members = 2}
  teardown(function() os.remove(file) end)

  it("sigma_flow is the central value's training noise; the rest have it subtracted, floored at 0", function()
    local central, sigma, parts = budget.of(file, "q", variants)
    for j = 1, 2 do
      local col = function(list) local t = {} for i, v in ipairs(list) do t[i] = v[j] end return t end
      local train2 = var(col(members))
      local flow2 = train2 / 3
      local stat2 = math.max(0, var(col(boots)) - train2)
      local meas2 = math.max(0, var(col(smears)) - train2)
      local s1 = (values.syst_001[j] - values.base[j]) ^ 2 - train2 * (1 / 1 + 1 / 3)
      local s2 = (values.syst_002[j] - values.base[j]) ^ 2 - train2 * (1 / 2 + 1 / 3)
      local syst2 = math.max(0, (s1 + s2) / 2)
      assert.are.equal(values.base[j], central:get(j))
      assert.are.near(math.sqrt(train2), parts.train:get(j), 1e-14)
      assert.are.near(math.sqrt(flow2), parts.flow:get(j), 1e-14)
      assert.are.near(math.sqrt(stat2), parts.stat:get(j), 1e-14)
      assert.are.near(math.sqrt(meas2), parts.meas:get(j), 1e-14)
      assert.are.near(math.sqrt(syst2), parts.syst:get(j), 1e-14)
      assert.are.near(math.sqrt(flow2 + stat2 + meas2 + syst2), sigma:get(j), 1e-14)
    end
    -- the cases the numbers were chosen for: element 1 keeps every term, element 2's
    -- smeared resamples agree to better than the training noise (meas floored at 0)
    assert.is_true(parts.stat:get(1) > 0 and parts.meas:get(1) > 0 and parts.syst:get(1) > 0)
    assert.are.equal(0, parts.meas:get(2))
  end)

  it("fewer than two realisations give 0; without members nothing is subtracted", function()
    local _, sigma, parts = budget.of(file, "q", {{name = "base", kind = "base", members = 1},
      {name = "boot_001", kind = "boot"}, {name = "syst_001", kind = "syst"}})
    assert.are.equal(0, parts.flow:get(1))
    assert.are.equal(0, parts.stat:get(1))
    assert.are.near(math.abs(values.syst_001[1] - values.base[1]), parts.syst:get(1), 1e-14)
    assert.are.near(parts.syst:get(2), sigma:get(2), 1e-14)
  end)

  it("a NaN value stays NaN in sigma (a location the run could not measure)", function()
    local f = file_with{base = {1, 0 / 0}, member_001 = {1, 2}, member_002 = {1.2, 2}}
    local _, sigma = budget.of(f, "q", {{name = "base", kind = "base", members = 2},
      {name = "member_001", kind = "member"}, {name = "member_002", kind = "member"},
      {name = "base", kind = "syst"}})
    assert.is_true(sigma:get(1) > 0)
    assert.is_true(sigma:get(2) ~= sigma:get(2))
    os.remove(f)
  end)
end)

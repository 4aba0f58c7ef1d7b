-- How well is the mock's kernel-smoothed truth converged? (issue 18's target: 1e-6)
--
--   build/phaseflow scripts/truth-convergence.lua [galaxy=default]
--
-- The galaxy's density smoothed by the paper's kernel at the Sun, in the plane at R = 8 kpc
-- elsewhere and at z = 1 kpc above the Sun, with pf.truth's product Gauss rule of size n
-- (n x n x 2n points per location) for several n, and with the QMC kernel points of
-- pf.poisson (3,200, seed 1: what the truth used before), each as the relative difference
-- from the rule of twice the default size in every direction; then the cost per location.
local pf = require "phaseflow"
local cli = require "phaseflow.cli"

local SPEC = {script = "truth-convergence.lua", keyvalues = true,
              usage = "usage: phaseflow scripts/truth-convergence.lua [galaxy=default]",
              options = {galaxy = "value"}, defaults = {galaxy = "default"}}
local opt, pos = cli.parse(arg, SPEC)
if #pos > 0 then cli.fail(SPEC, "no positional arguments expected") end
if not pf.mock.VARIANTS[opt.galaxy] then
  cli.fail(SPEC, ("no galaxy '%s' (have: %s)"):format(opt.galaxy, table.concat(pf.mock.variant_names, ", ")))
end

local C = pf.core.constants
local sun = {math.sqrt(C.R0 ^ 2 - C.z_sun ^ 2), 0, C.z_sun}
local names = {"Sun", "R=8,z=0", "z=1 kpc"}
local x0 = pf.array.from{sun, {0, -8, 0}, {sun[1], 0, 1}}
local pot = pf.mock.truth_model(opt.galaxy).potential
local N = pf.truth.RULE

local ref = pf.truth.smooth(pot, x0, {rule = 2 * N})
local function row(label, v)
  local s = ("%-24s"):format(label)
  for i = 1, #names do s = s .. ("  %10.2e"):format(math.abs(v:get(i) / ref:get(i) - 1)) end
  print(s)
end

print(("galaxy %s: relative difference from the %d x %d x %d rule"):format(opt.galaxy, 2 * N, 2 * N, 4 * N))
local head = ("%-24s"):format("")
for _, n in ipairs(names) do head = head .. ("  %10s"):format(n) end
print(head)
for _, n in ipairs{8, 10, 12, 14, N, 20} do
  row(("rule %d (%d points)%s"):format(n, pf.truth.rule_points(n), n == N and " *" or ""),
      pf.truth.smooth(pot, x0, {rule = n}))
end
local q = pf.poisson.kernel_points(x0, {points = 3200, seed = 1})
row("QMC 3200 (before)", pf.poisson.smooth(pot:density(q.x), q))

-- cost at the default: wall time per location over 400 locations
local many = {}
for i = 1, 400 do many[i] = {6 + 0.01 * i, 0.5, 0.05 * (i % 20) - 0.5} end
local t0 = pf.core.config.wtime()
pf.truth.smooth(pot, many)
local dt = pf.core.config.wtime() - t0
print(("* the default (rule %d): %d density evaluations per location, %.2f ms per location")
  :format(N, pf.truth.rule_points(N), 1e3 * dt / #many))

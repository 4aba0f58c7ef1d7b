-- scripts/example.lua: the paper's method on one page, on the embedded mock galaxy.
--   build/phaseflow scripts/example.lua [stars=40000] [max_epochs=30] [out=example.h5] (--help)
-- Draws stars of the mock (disk + halo in MWPotential2014) within 4 kpc of the Sun, learns
-- their phase-space density f(x, v) = n(x) p(v|x) with two Masked Autoregressive Flows, and
-- gets the acceleration at the Sun from the equilibrium collisionless Boltzmann equation
-- with quasi-random velocities; prints it beside the exact value and saves both flows.
-- Every line is a building block a notebook would have; scripts/paper.lua runs the whole
-- analysis (ensembles, resamples, densities, dark matter, the gNFW fit).
local pf = require "phaseflow"

local SPEC = {script = "example.lua", keyvalues = true, positionals = false,
  usage = "usage: phaseflow scripts/example.lua [stars=40000] [max_epochs=30] [out=example.h5]\n"
    .. "  (also --stars 40000 ...): the paper's method on one page, on the embedded mock galaxy",
  options = {stars = {"integer", min = 100}, max_epochs = {"integer", min = 1}, out = "value"},
  defaults = {stars = 40000, max_epochs = 30, out = "example.h5"}}
local opts = pf.cli.parse(arg, SPEC)
local stars, max_epochs, out = opts.stars, opts.max_epochs, opts.out
local SUN = pf.geometry.SUN -- kpc, Galactocentric (x, y, z)
local R = 4                 -- kpc: the survey sphere around the Sun

-- Stars: positions (kpc) and velocities (km/s), drawn exactly from the mock's f(E, L_z).
local potential = pf.potential.mwpotential2014()
local galaxy = pf.mock.galaxy{potential = potential, radius = R, seed = 1}
local x, v = galaxy:sample(stars, {seed = 1})

-- n(x): the survey-sphere map sends the sphere's hard edge to infinity, so the flow does
-- not have to model a cliff; its log-Jacobian keeps n(x) a density in kpc^-3.
local n_x = pf.flow.maf{dim = 3, transforms = 4, hidden = 32, blocks = 1, seed = 1,
  preprocess = {input = {sphere = true, centre = SUN, radius = R * 1.0001}}}
-- p(v|x): standardised velocities, conditioned on the position.
local p_v_given_x = pf.flow.maf{dim = 3, context = 3, transforms = 4, hidden = 32, blocks = 1,
  seed = 2, preprocess = {input = {mean = v:mean(1):totable(), std = v:std(1, 1):totable()},
                          context = {sphere = true, centre = SUN, radius = R * 1.0001}}}

-- Adam with a held-out 20% and early stopping; the best-validation parameters are kept.
local function options(extra)
  local o = {batch = 1024, lr = 3e-3, patience = 5, max_epochs = max_epochs, seed = 1,
             progress = true}
  for k, val in pairs(extra or {}) do o[k] = val end
  return o
end
local h_n = pf.train(n_x, x, options())
local h_p = pf.train(p_v_given_x, v, options{context = x})
print(("n(x): %d epochs, best validation NLL %.4f; p(v|x): %d epochs, %.4f"):format(
  h_n.epochs, h_n.best_val, h_p.epochs, h_p.best_val))

-- Accelerations from the Boltzmann equation (paper Eq. 8), averaged over a 100 pc ball
-- at the Sun: 8 quasi-random points, 2,000 quasi-random velocities drawn from p(v|x) each.
local f = pf.df.flows(n_x, p_v_given_x)
local sun = pf.array.from{SUN}
local a = pf.cbe.ball_average(f, sun, 0.1, {points = 8, nv = 2000})  -- (km/s)^2 / kpc
local exact = potential:acceleration(pf.cbe.ball_points(sun, 0.1, 8, 7)):mean(1)
local A = pf.units.acc_1e10                                            -- 1e-10 m/s^2
local err = math.sqrt((a - exact):square():sum() / exact:square():sum())
print(("a at the Sun, 1e-10 m/s^2: learned (%.3f, %.3f, %.3f), exact (%.3f, %.3f, %.3f): %.1f%%")
  :format(a:get(1) / A, a:get(2) / A, a:get(3) / A, exact:get(1) / A, exact:get(2) / A,
          exact:get(3) / A, 100 * err))

-- Both flows in one HDF5 file, with their training histories and provenance;
-- pf.flow.load(out, "/n_x") brings one back with no architecture restated.
os.remove(out)
n_x:save(out, "/n_x", h_n)
p_v_given_x:save(out, "/p_v_given_x", h_p)
print("flows saved to " .. out)

-- phaseflow.baryons: the Solar-neighbourhood baryon model (McKee, Parravano &
-- Hollenbach 2015, as used in the paper's Appendix A), an editable table.
--
-- Forms (R, z in kpc; r_sun = 8.122 kpc):
--   gauss: rho = Sigma0 / (sqrt(pi) h) exp(-z^2/h^2)  exp(-(R - r_sun)/h_R)
--   exp:   rho = Sigma0 / (2 h)        exp(-|z|/h)    exp(-(R - r_sun)/h_R)
-- Both integrate over z to Sigma0 (the paper's printed Eq. A1 has Sigma0/h for the
-- exponential, which is twice McKee's convention and does not reproduce the paper's
-- own smoothed number). Table units: Sigma0 and err in Msun/pc^2, h in pc, h_R in kpc.
-- To use another model, edit or replace `baryons.components` (or pass your own list).
local core = require "phaseflow.core"
local geometry = require "phaseflow.geometry"
local array = core.array

local baryons = {r_sun = geometry.R_SUN, default_rel_err = 0.10}

local function c(name, form, sigma, err, h, hR, kind)
  return {name = name, form = form, sigma = sigma, err = err, h = h, h_R = hR, kind = kind}
end

baryons.components = {
  c("H2", "gauss", 1.0, 0.3, 105, 2.57, "gas"),
  c("HI CNM", "gauss", 6.2, 0.9, 127, 18.24, "gas"),
  c("HI WNM,1", "gauss", 2.5, 0.4, 318, 18.24, "gas"),
  c("HI WNM,2", "exp", 2.1, 0.3, 403, 18.24, "gas"),
  c("HII", "exp", 1.8, 0.2, 1590, 2.5, "gas"),
  c("giants", "exp", 0.39, 0.04, 323, 2.35, "stars"),
  c("main sequence M_V < 3", "exp", 0.51, 0.05, 141, 2.35, "stars"),
  c("main sequence 3 < M_V < 4", "exp", 0.86, 0.09, 239, 2.35, "stars"),
  c("main sequence 4 < M_V < 5", "exp", 2.25, 0.23, 388, 2.35, "stars"),
  c("main sequence 5 < M_V < 8", "exp", 5.76, 0.58, 400, 2.35, "stars"),
  c("M dwarfs", "exp", 17.3, 2.3, 400, 2.35, "stars"),
  c("brown dwarfs", "exp", 1.2, 0.12, 400, 2.35, "stars"),
  c("white dwarfs", "exp", 4.9, 0.6, 437, 2.35, "stars"),
  c("neutron stars", "exp", 0.2, 0.02, 1000, 2.35, "stars"),
  c("black holes", "exp", 0.1, 0.01, 1000, 2.35, "stars"),
}

local function comps(list) return list or baryons.components end

-- Surface densities (Msun/pc^2): total, gas, stars (and remnants).
function baryons.totals(list)
  local t = {all = 0, gas = 0, stars = 0}
  for _, q in ipairs(comps(list)) do
    t.all = t.all + q.sigma
    t[q.kind] = (t[q.kind] or 0) + q.sigma
  end
  return t
end

-- Density of one component at (R, z) kpc, in Msun/kpc^3.
function baryons.component_rho(q, R, z)
  local h = q.h / 1000
  local s = q.sigma * 1e6 * math.exp(-(R - baryons.r_sun) / q.h_R)
  if q.form == "gauss" then
    return s / (math.sqrt(math.pi) * h) * math.exp(-(z / h) ^ 2)
  elseif q.form == "exp" then
    return s / (2 * h) * math.exp(-math.abs(z) / h)
  end
  error(("pf.baryons: component '%s' has unknown form '%s' (gauss or exp)"):format(
    tostring(q.name), tostring(q.form)), 3)
end

-- density(x [, list]) -> rho (N, Msun/kpc^3), per (N x ncomp) at the rows of x (N x 3).
function baryons.density(x, list)
  list = comps(list)
  local t = x:totable()
  local tot, per = {}, {}
  for i = 1, #t do
    local p = t[i]
    local R = math.sqrt(p[1] ^ 2 + p[2] ^ 2)
    local s, row = 0, {}
    for k, q in ipairs(list) do
      row[k] = baryons.component_rho(q, R, p[3])
      s = s + row[k]
    end
    tot[i], per[i] = s, row
  end
  return array.from(tot), array.from(per)
end

-- smoothed(pts [, list]) -> rho_b*K (n0, Msun/kpc^3), err (n0), per-component (n0 x
-- ncomp), with pts from pf.poisson.kernel_points (the same points as the total
-- density). Errors: components independent, each scaled by its err/sigma (10% where
-- err is missing).
function baryons.smoothed(pts, list)
  list = comps(list)
  local _, per = baryons.density(pts.x, list)
  local P = pts.nvol + pts.nsurf
  local w = pts.weight:reshape(1, P)
  local out, errs, percomp = {}, {}, {}
  for i = 1, pts.n0 do
    local block = per:rows((i - 1) * P + 1, i * P)
    local sm = w:matmul(block):totable()[1]
    local s, e2 = 0, 0
    for k, q in ipairs(list) do
      s = s + sm[k]
      local rel = q.err and q.err / q.sigma or baryons.default_rel_err
      e2 = e2 + (rel * sm[k]) ^ 2
    end
    out[i], errs[i], percomp[i] = s, math.sqrt(e2), sm
  end
  return array.from(out), array.from(errs), array.from(percomp)
end

return baryons

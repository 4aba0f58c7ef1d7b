-- The potential step: one smooth potential Phi(x) per phase-space density (base ensemble,
-- each base member, every resample: the densities the error budget sums over), fitted to
-- the steady-state Boltzmann equation over stars drawn from that density (pf.potential_fit,
-- docs/potential.md). From each: the acceleration -grad Phi at the Sun (ball average) and
-- along every curve of the geometry, as the accelerations step measures them; the point
-- density lap Phi / 4 pi G and the kernel-smoothed density (lap Phi / 4 pi G) * K at every
-- density location (the kernel by the truth's product Gauss rule: exact for the network);
-- for the base ensemble the network itself and maps of rho in the Galactic plane and in
-- the R-z plane at the Sun's azimuth.
--
-- Units: kpc, km/s, accelerations (km/s)^2/kpc, densities Msun/kpc^3.
local core = require "phaseflow.core"
local potfit = require "phaseflow.potfit"
local potnet = require "phaseflow.potnet"
local truth = require "phaseflow.truth"
local cbe = require "phaseflow.cbe"
local select = require "phaseflow.select"
local geometry = require "phaseflow.geometry"
local serialize = require "phaseflow.serialize"
local common = require "phaseflow.steps.common"
local densities = require "phaseflow.steps.densities"
local array = core.array

local potential = {name = "potential", inputs = {"flows", "catalogue"}}

-- Map grids: points per side (over the survey sphere's width).
potential.MAP_POINTS = 41
-- Points uniform in the ball where densities are reported, counted for lap Phi < 0.
potential.NEGATIVE_POINTS = 20000

--- The options that make up the step's key (a change to them redoes the step).
function potential.options(self)
  local o = self.o
  return {p = o.potential, g = o.geometry, seed = o.seed, r = o.radius, bp = o.ball_points,
          tr = o.truth_rule, kp = o.kernel_points, edge = o.density_edge, v = 1}
end

--- Whether preset o fits potentials (preset.potential, its fit not false).
function potential.fits(o) return o.potential ~= nil and o.potential.fit ~= false end

--- Whether the run fits potentials.
function potential.enabled(self) return potential.fits(self.o) end

--- Whether the run's potential step file holds fitted potentials.
function potential.fitted(self)
  local f = self:file("potential")
  return common.file_exists(f) and common.rd(f, "/fitted"):get(1) == 1
end

-- n stars drawn from density f inside the survey sphere: positions from n(x), velocities
-- from p(v|x) under the speed cut; non-finite draws are drawn again.
local function draw_stars(self, f, n, seed)
  local radius = self.o.radius
  local xs, vs, got = {}, {}, 0
  for round = 1, 40 do
    local m = math.ceil((n - got) * 1.05) + 16
    local x = f.nx:sample(m, {seed = core.rng.derive_seed(seed, 2 * round), log_prob = false})
    local keep = common.dist_sun(x):lt(radius * (1 - 1e-9))
    x = x:select(keep)
    if (x:shape()) > 0 then
      local v = f.pv:sample((x:shape()), x, {seed = core.rng.derive_seed(seed, 2 * round + 1), log_prob = false})
      local ok = v:square():sum(2):sqrt():lt(select.MAX_SPEED):land(v:isfinite():min(2):gt(0))
      local k = (ok:sum())
      if k > 0 then
        xs[#xs + 1], vs[#vs + 1] = x:select(ok), v:select(ok)
        got = got + k
      end
    end
    if got >= n then
      local X = #xs == 1 and xs[1] or array.vstack(xs)
      local V = #vs == 1 and vs[1] or array.vstack(vs)
      return X:rows(1, n):copy(), V:rows(1, n):copy()
    end
  end
  error("pf.pipeline: potential: the flows' draws keep leaving the survey sphere or the speed cut", 0)
end

--- The options of pf.potential_fit from preset.potential and a seed (without the samples).
function potential.fit_options(po, seed)
  return {net = {hidden = po.hidden, layers = po.layers, activation = po.activation, scale = po.scale,
                 zscale = po.zscale},
          train = {lr = po.lr, batch = po.batch, max_epochs = po.max_epochs, patience = po.patience,
                   val_fraction = po.val_fraction, lr_decay = po.lr_decay, seed = seed},
          lambda = po.lambda}
end

-- The stars of one fit with the flows' gradients of ln f; rows with a non-finite gradient
-- (a flow's far tail) are dropped.
local function fit_samples(self, f, seed)
  local po = self.o.potential
  local x, v = draw_stars(self, f, po.stars, seed)
  local gx, gv = f:grad_log_f(x, v)
  local ok = gx:isfinite():min(2):land(gv:isfinite():min(2))
  if (ok:sum()) < (x:shape()) then
    x, v, gx, gv = x:select(ok), v:select(ok), gx:select(ok), gv:select(ok)
  end
  return {x = x, v = v, gx = gx, gv = gv}
end

--- Everything measured from one network (or potential): a_sun (ball average), each
--- curve's accelerations (acc_CURVE), and the point and kernel-smoothed densities (rho,
--- rhok) at the density locations (NaN outside the margin).
function potential.measure(self, net)
  local function acc(x) return net:acceleration(x) end
  local out = {sun = self:sun_acceleration(acc)}
  for _, name in ipairs(self.geom.curve_names) do out["acc_" .. name] = self:curve_acceleration(name, acc) end
  local x0 = self:density_points()
  local rho = net:density(x0)
  local rhok = truth.smooth(net, x0, truth.kernel_rule{rule = self.o.truth_rule})
  for i, ok in ipairs((densities.inside(self))) do
    if not ok then rho:set(i, 0 / 0); rhok:set(i, 0 / 0) end
  end
  out.rho, out.rhok = rho, rhok
  return out
end

--- The jobs: one fit per phase-space density (pf.steps.common's density_list), a file each.
function potential.jobs(self)
  self._density = nil
  if not potential.enabled(self) then return {} end
  local list = {}
  for i, d in ipairs(self:density_list()) do
    list[#list + 1] = {id = d.name, density = d.name, index = i, file = common.job_file(self, "potential", d.name),
                       key = serialize.hash{step = self.keys.potential, id = d.name},
                       label = d.name .. " fitted"}
  end
  return list
end

--- Whether the job's file holds its result, made with its key.
function potential.job_done(_, job) return common.read_job(job.file, job.key) ~= nil end

--- fit_density(run, f, seed) -> net, history: the potential of density f fitted to stars
--- drawn from it (preset.potential: stars, points, network and training settings).
function potential.fit_density(self, f, seed)
  local samples = fit_samples(self, f, seed)
  local y = cbe.ball_points(array.from{geometry.SUN}, self.o.radius, self.o.potential.points,
                            core.rng.derive_seed(seed, 1))
  local opts = potential.fit_options(self.o.potential, seed)
  opts.samples, opts.y = samples, y
  return potfit.fit(opts)
end

--- Fit one density's potential and write its network and measurements as the job's file.
function potential.do_job(self, job)
  local seed = core.rng.derive_seed(self.o.seed, 7000 + job.index)
  local net, hist = potential.fit_density(self, self:density_of(job.density), seed)
  local c = net:config()
  local out = potential.measure(self, net)
  out.params = net:params():copy()
  out.frame = array.from{c.centre[1], c.centre[2], c.centre[3], c.scale, c.phi_scale, c.zscale}
  out.history = array.from{hist.best_epoch, hist.epochs, hist.best_val, hist.a_scale, hist.n_train, hist.n_val}
  common.write_job(job.file, job.key, out)
end

-- The network of a job's arrays (its parameters and frame: centre, scale, phi_scale and,
-- in files since the vertical unit, zscale).
local function network(self, r)
  local po, f = self.o.potential, r.frame:totable()
  local net = potnet.new{hidden = po.hidden, layers = po.layers, activation = po.activation,
                         centre = {f[1], f[2], f[3]}, scale = f[4], phi_scale = f[5], zscale = f[6]}
  net:set_params(r.params)
  return net
end

--- Maps of the density (Msun/kpc^3) of a network (lap Phi / 4 pi G) or a potential: in the Galactic plane
--- (z = 0; x, y around the Sun) and in the R-z plane at the Sun's azimuth, each
--- MAP_POINTS x MAP_POINTS over the survey sphere's width (NaN outside the sphere).
function potential.maps(net, radius)
  local n = potential.MAP_POINTS
  local sun = geometry.SUN
  local function grid(fn)
    local pts, axis = {}, {}
    for i = 1, n do axis[i] = -radius + 2 * radius * (i - 1) / (n - 1) end
    for i = 1, n do for j = 1, n do pts[#pts + 1] = fn(axis[i], axis[j]) end end
    local x = array.from(pts)
    local rho = net:density(x)
    local d = common.dist_sun(x):totable()
    for k = 1, #d do if d[k] > radius then rho:set(k, 0 / 0) end end
    return rho:reshape(n, n), array.from(axis)
  end
  local xy, a1 = grid(function(u, w) return {sun[1] + u, sun[2] + w, 0} end)
  local r_sun = math.sqrt(sun[1] ^ 2 + sun[2] ^ 2)
  local rz, a2 = grid(function(u, w) return {r_sun + u, 0, sun[3] + w} end)
  return {xy = xy, x = a1 + sun[1], y = a1 + sun[2], rz = rz, R = a2 + r_sun, z = a2 + sun[3]}
end

--- Run the step (see the opening comment): each density's measurements under /DENSITY/...
--- (sun, acc/CURVE, rho/LOCATIONS, rhok/LOCATIONS), the base network under /base/net and
--- its maps under /maps; w.put(path, value) fills its file.
function potential.run(self, w)
  if not potential.enabled(self) then
    w.put("/fitted", array.from{0})
    return {fitted = false}
  end
  local g = self.geom
  local x0, names, blocks = self:density_points()
  local base
  for _, job in ipairs(potential.jobs(self)) do
    local r = common.read_job(job.file, job.key)
    if not r then error(("pf.pipeline: potential: job %s has no result (%s)"):format(job.id, job.file), 0) end
    local d = job.density
    w.put(("/%s/sun"):format(d), r.sun)
    for _, name in ipairs(g.curve_names) do w.put(("/%s/acc/%s"):format(d, name), r["acc_" .. name]) end
    local pr, pk = common.split(r.rho, blocks), common.split(r.rhok, blocks)
    for k, n in ipairs(names) do
      w.put(("/%s/rho/%s"):format(d, n), pr[k])
      w.put(("/%s/rhok/%s"):format(d, n), pk[k])
    end
    w.put(("/%s/history"):format(d), r.history)
    if d == "base" then base = r end
  end
  w.put("/fitted", array.from{1})
  local net = network(self, base)
  local h = base.history:totable()
  net:save(w.file, "/base/net", {provenance = {preset = self.o.potential, density = "base",
    best_epoch = h[1], epochs = h[2], best_val = h[3], a_scale = h[4]}})
  local m = potential.maps(net, self.o.radius)
  for _, k in ipairs({"xy", "x", "y", "rz", "R", "z"}) do w.put("/maps/" .. k, m[k]) end
  -- where lap Phi < 0: the fraction of points uniform in the ball where densities are reported
  local edge = densities.edge(self.o)
  local nneg = potential.NEGATIVE_POINTS
  local u = cbe.ball_points(array.from{geometry.SUN}, edge, nneg, core.rng.derive_seed(self.o.seed, 7999))
  w.put("/base/negative_fraction", array.from{(net:density(u):lt(0):sum()) / nneg}, {radius = edge})
  -- the truth's point densities at the locations and on the maps (NaN for real data)
  local nan = not self:is_mock() and (0 / 0) or 1
  local tm = potential.maps(self.potential, self.o.radius)
  w.put("/truth/maps/xy", tm.xy * nan)
  w.put("/truth/maps/rz", tm.rz * nan)
  local tp = self.potential:density(x0) * nan
  for k, part in ipairs(common.split(tp, blocks)) do w.put("/truth/rho/" .. names[k], part) end
  return {fitted = true}
end

return potential

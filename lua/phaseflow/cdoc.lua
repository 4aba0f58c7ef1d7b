-- pf.cdoc: the doc text of the C functions that init.lua exposes directly as pf.NAME (the
-- C modules without a Lua module of their own: rng, qmc, coords, progress, config, panel;
-- and mpi, whose Lua module only returns the C one),
-- and of the methods of the C objects (flows, arrays, potentials, potential networks, mocks,
-- readers, ...).
-- A C function has no Lua source for pf.doc to read, so its doc is kept here, keyed
-- "module.function" (or "module:method" for a method of the module's objects: the module
-- is the class's registry name without "phaseflow.", so a flow's methods are "maf:NAME"),
-- next to the facade that exposes it. tests/doc_spec.lua checks that every key names a C
-- function that exists and that every method of a C object has its text. The C functions
-- that a Lua module wraps are documented by that module.
local M = {
  ["rng.new"] = "pf.rng.new([seed = 1]) -> a random generator (GSL mt19937) seeded with `seed`.",
  ["rng.from_opts"] = "pf.rng.from_opts(opts [, default_seed = 1]) -> opts.rng itself, else a new generator\n"
    .. "seeded with opts.seed or the default: the rule of every function that draws.",
  ["rng.derive_seed"] = "pf.rng.derive_seed(seed, k) -> a reproducible seed for sub-stream k of `seed`.",
  ["rng:uniform"] = "r:uniform() -> a number in [0, 1); r:uniform(n [, m]) or r:uniform{shape} -> an array.",
  ["rng:normal"] = "r:normal() -> a standard normal number; r:normal(n [, m]) or r:normal{shape} -> an array.",
  ["rng:fill_uniform"] = "r:fill_uniform(a [, lo = 0, hi = 1]): fill the array `a` in place with uniform draws.",
  ["rng:fill_normal"] = "r:fill_normal(a [, mu = 0, sigma = 1]): fill the array `a` in place with normal draws.",
  ["rng:integer"] = "r:integer(n) -> an integer in 1..n.",
  ["rng:permutation"] = "r:permutation(n) -> an array holding 1..n in random order (Fisher-Yates).",
  ["rng:state"] = "r:state() -> the generator's state as a binary string (r:set_state(s) restores it).",
  ["rng:set_state"] = "r:set_state(s): restore a state saved by r:state().",
  ["rng:seed"] = "r:seed(s) -> r: start the generator again from seed `s`.",
  ["rng:free"] = "r:free(): release the generator now (a second free does nothing).",
  ["rng:clone"] = "r:clone() -> an independent generator in the same state.",
  ["qmc.sobol"] = "pf.qmc.sobol(n, dim [, {seed = 1, scramble = true, skip = 0}]) -> an n x dim array of\n"
    .. "scrambled Sobol points in [0, 1).",
  ["qmc.normal"] = "pf.qmc.normal(n, dim [, {seed = 1, scramble = true, skip = 0}]) -> an n x dim array of\n"
    .. "quasi-random standard normals (Sobol points through the normal quantile).",
  ["coords.galactocentric"] = "pf.coords.galactocentric(cat [, opts]) -> g: Galactocentric positions x (kpc) and\n"
    .. "velocities v (km/s) of a catalogue's (ra, dec, parallax, pmra, pmdec, radial_velocity);\n"
    .. "opts may change the Sun's frame (galcen_distance, z_sun, galcen_v_sun, roll, ...).",
  ["coords.covariance"] = "pf.coords.covariance(cat [, opts]) -> an N x 21 array of the Galactocentric covariances\n"
    .. "of (x, v), or nil when the catalogue has no error columns. Frame options as galactocentric.",
  ["coords.observables"] = "pf.coords.observables(x, v [, opts]) -> a catalogue with ra, dec, parallax, pmra,\n"
    .. "pmdec, radial_velocity: the inverse of galactocentric.",
  ["coords.sun"] = "pf.coords.sun([opts]) -> the Sun's Galactocentric position x (3, kpc) and velocity v (3, km/s).",
  ["coords.jacobian"] = "pf.coords.jacobian(cat [, opts]) -> an N x 6 x 6 array: d(x, v)/d(observables) per star.",
  ["coords.smear"] = "pf.coords.smear(cat, {seed = s} or {rng = r}) -> a new catalogue with every star redrawn from\n"
    .. "its errors and correlations, and the number of stars that could not be drawn.",
  ["progress.new"] = "pf.progress.new{total = n, label = \"training\", interval = 10, enabled = true} -> p: a\n"
    .. "progress report on stderr; p:update(i [, text]), p:finish([text]), p:elapsed().\n"
    .. "PHASEFLOW_PROGRESS=0 silences it.",
  ["progress.format_duration"] = "pf.progress.format_duration(seconds) -> \"1h02m\", \"3m05s\" or \"12.3s\".",
  ["config.config"] = "pf.config([{threads = n}]) -> {version, git, blas, blas_core, threads}; sets the threads.",
  ["config.wtime"] = "pf.wtime() -> monotonic wall-clock seconds.",
  ["mpi.built"] = "pf.mpi.built() -> true when phaseflow was compiled with MPI (make MPI=auto found mpicc).",
  ["mpi.active"] = "pf.mpi.active() -> true when this process was started by mpirun (or another launcher)\n"
    .. "and MPI is initialised; false in a plain run.",
  ["mpi.rank"] = "pf.mpi.rank() -> this process's rank, 0..size()-1 (0 when not under MPI).",
  ["mpi.size"] = "pf.mpi.size() -> the number of ranks (1 when not under MPI).",
  ["mpi.barrier"] = "pf.mpi.barrier(): wait until every rank has reached it.",
  ["mpi.bcast"] = "pf.mpi.bcast(value [, root = 0]) -> the root's value on every rank: a string or a pf\n"
    .. "array of any shape (bit-identical copy). The other ranks may pass nil; the root gets its value back.",
  ["mpi.gather"] = "pf.mpi.gather(s [, root = 0]) -> on the root, the list of the strings of ranks 0..size()-1;\n"
    .. "nil on the other ranks. Every rank must call it.",
  ["mpi.allreduce_sum"] = "pf.mpi.allreduce_sum(x) -> the sum of the number x over every rank, on every rank.",
  ["mpi.jobs"] = "pf.mpi.jobs(n, fn) -> the number of jobs done by this rank: the indices 1..n handed out\n"
    .. "dynamically over every rank (rank 0 included), fn(i) called for each on the rank that got it.\n"
    .. "An error in fn on several ranks prints \"rank R: ...\" and aborts them all.",
  ["panel.gemm"] = "pf.panel.gemm(A (n x K), B (K x N) [, {path, C, bias, transposed}]) -> C, the path used:\n"
    .. "the flows' matrix product (added to C in place when C is given).",
  ["panel.gemm_tn"] = "pf.panel.gemm_tn(X (n x M), Y (n x N), C (M x N) [, {path}]) -> C, the path used:\n"
    .. "C += X^T Y in place.",
}

-- ---- flows (pf.flow.maf; flow.lua adds sample and save) -----------------------------
local flow = {
  log_prob = "f:log_prob(x [, ctx]) -> the log density of each row of x (N x D; ctx N x C for a\n"
    .. "conditional flow), an N-array. Rows with NaN or infinity are an error naming the row.",
  grad_log_prob = "f:grad_log_prob(x [, ctx]) -> gx (N x D), gc (N x C, nil without a context), log p (N):\n"
    .. "the gradient of log p with respect to the data and the context.",
  nll_grad = "f:nll_grad(x [, ctx]) -> the mean negative log-likelihood of the rows; its gradient with\n"
    .. "respect to the parameters stays in the flow (f:grad()). One training step's work.",
  forward = "f:forward(x [, ctx]) -> z, logdet: the rows of x mapped to the base (normal) space, and the\n"
    .. "log-determinant of each row's Jacobian.",
  inverse = "f:inverse(z [, ctx]) -> x, logdet: base-space rows mapped back to data space (f:forward's inverse).",
  made = "f:made(t, x [, ctx]) -> the raw outputs (N x outputs) of transform t's MADE network for the\n"
    .. "rows x: a diagnostic of the network, before they become the transform's parameters.",
  params = "f:params() -> a copy of the flow's flat parameter vector (f:nparams() values).",
  set_params = "f:set_params(p): replace the parameters by the 1-D array p of f:nparams() values (copied).",
  grad = "f:grad() -> a copy of the parameter gradient the last f:nll_grad left in the flow.",
  mask = "f:mask() -> a 0/1 vector over the parameters: 1 for an entry the flow uses, 0 for one the MADE\n"
    .. "masks or the transform leaves unused.",
  nparams = "f:nparams() -> the length of the flat parameter vector.",
  config = "f:config() -> {dim, context, transforms, hidden, blocks, transform (\"affine\", \"spline\" or\n"
    .. "\"mixed\"), and bins, bound, layers for spline flows}: what pf.flow.maf was given.",
  set_prep = "f:set_prep(which, {mean, std, sphere, centre, radius}): the fixed preprocessing of the \"input\"\n"
    .. "or the \"context\" (standardisation, and the survey sphere outside which the density is zero).",
  get_prep = "f:get_prep(which) -> the preprocessing of \"input\" or \"context\", as f:set_prep takes it.",
  free = "f:free(): release the flow's memory now (also when collected; a freed flow raises when used).",
}
for k, v in pairs(flow) do M["maf:" .. k] = v end

-- ---- potential networks (pf.potnet; potnet.lua adds phi, acceleration, density, save) --
local potnet = {
  eval = "net:eval(x) -> phi (N, (km/s)^2), grad (N x 3, (km/s)^2/kpc), lap (N, (km/s)^2/kpc^2): the\n"
    .. "potential, its exact gradient and Laplacian at the rows of x (N x 3, kpc).",
  loss_grad = "net:loss_grad{x, v, gx, gv [, w, gphi_ext], y [, lap_ext], lambda = 1, tau = 1} -> loss,\n"
    .. "residual term, penalty term: (1/n) sum w R^2 + lambda (1/m) sum tau softplus(-lap/tau) with\n"
    .. "R = -v.gx + (grad Phi + gphi_ext).gv; its parameter gradient stays in the net (net:grad()).",
  params = "net:params() -> a copy of the flat parameter vector (net:nparams() values).",
  set_params = "net:set_params(p): replace the parameters by the 1-D array p of net:nparams() values (copied).",
  grad = "net:grad() -> a copy of the parameter gradient the last net:loss_grad left in the net.",
  nparams = "net:nparams() -> the length of the flat parameter vector.",
  config = "net:config() -> {hidden, layers, activation, centre, scale, phi_scale, seed}: what\n"
    .. "pf.potnet.new was given.",
  free = "net:free(): release the network's memory now (also when collected; a freed one raises when used).",
}
for k, v in pairs(potnet) do M["potnet:" .. k] = v end

-- ---- arrays (pf.array; array.lua adds median, quantile, norm_rows) ------------------
local array = {
  shape = "a:shape() -> the extents, one value per dimension (n, m = a:shape()).",
  ndim = "a:ndim() -> the number of dimensions (1 to 4).",
  size = "a:size() -> the number of elements.",
  get = "a:get(i [, j, ...]) -> the element at the 1-based indices (one per dimension).",
  set = "a:set(i [, j, ...], v): set the element at the 1-based indices to v.",
  row = "a:row(i) -> row i of an N-D array (N >= 2) as a view: writing to it writes to a.",
  col = "a:col(j) -> column j of a 2-D array as a view.",
  rows = "a:rows(i0 [, i1 = N]) -> rows i0..i1 (inclusive) as a view.",
  T = "a:T() -> the transpose of a 2-D array, as a view.",
  reshape = "a:reshape(n, m, ...) or a:reshape{n, m, ...} -> a view of a contiguous array with another\n"
    .. "shape of the same size; one extent may be -1 (inferred).",
  copy = "a:copy() -> a new contiguous array with a's values (views become arrays of their own).",
  fill = "a:fill(v) -> a: every element set to v, in place.",
  assign = "a:assign(b) -> a: b's elements copied into a (same shape; a may be a view), in place.",
  totable = "a:totable() -> the values as nested Lua tables (a list for a 1-D array).",
  tostring = "a:tostring() -> the text print shows: the values of a small array, a summary of a large one.",
  matmul = "a:matmul(b) -> the matrix product of 2-D arrays (n x k times k x m), by BLAS.",
  select = "a:select(mask) -> the rows where mask is true: an array of N numbers (non-zero keeps) or a\n"
    .. "table of N booleans.",
  take = "a:take(idx) -> the rows at the 1-based indices idx (an array or a table of integers), in order.",
  nonzero = "a:nonzero() -> the 1-based indices of the non-zero elements of a 1-D array.",
  sort = "a:sort() -> a sorted copy of a 1-D array (NaNs last).",
  count = "a:count() -> the number of non-zero elements.",
  any = "a:any() -> true if any element is non-zero.",
  all = "a:all() -> true if every element is non-zero.",
  neg = "a:neg() -> -a, elementwise (the unary - operator).",
  lnot = "a:lnot() -> 1 where an element is zero, else 0.",
  isfinite = "a:isfinite() -> 1 where an element is finite, 0 where it is NaN or infinite.",
  isnan = "a:isnan() -> 1 where an element is NaN, else 0.",
}
-- elementwise arithmetic: b an array of a's shape or a number
for name, op in pairs{add = "a + b (the + operator)", sub = "a - b (the - operator)",
  mul = "a * b (the * operator)", div = "a / b (the / operator)", pow = "a ^ b (the ^ operator)",
  minimum = "the smaller of a and b",
  maximum = "the larger of a and b", atan2 = "atan2(a, b), the angle of (b, a)",
  lt = "1 where a < b, else 0", le = "1 where a <= b, else 0", gt = "1 where a > b, else 0",
  ge = "1 where a >= b, else 0", eq = "1 where a == b, else 0", ne = "1 where a ~= b, else 0",
  land = "1 where a and b are both non-zero, else 0", lor = "1 where a or b is non-zero, else 0"} do
  array[name] = ("a:%s(b) -> %s, elementwise; b an array of a's shape or a number."):format(name, op)
end
for name, what in pairs{abs = "|x|", sqrt = "sqrt(x)", exp = "exp(x)", log = "the natural log",
  log10 = "log10(x)", log1p = "log(1 + x), exact for small x", expm1 = "exp(x) - 1, exact for small x",
  sin = "sin(x)", cos = "cos(x)", tan = "tan(x)", asin = "asin(x)", acos = "acos(x)", atan = "atan(x)",
  sinh = "sinh(x)", cosh = "cosh(x)", tanh = "tanh(x)", atanh = "atanh(x)", floor = "floor(x)",
  ceil = "ceil(x)", square = "x * x", erf = "the error function erf(x)"} do
  array[name] = ("a:%s() -> a new array of %s for each element x."):format(name, what)
end
for name, what in pairs{sum = "sum", mean = "mean", min = "smallest value", max = "largest value",
  prod = "product"} do
  array[name] = ("a:%s([axis]) -> the %s of all elements (a number), or along dimension axis\n"
    .. "(1-based): an array without that dimension."):format(name, what)
end
for name, what in pairs{std = "standard deviation", var = "variance"} do
  array[name] = ("a:%s([axis [, ddof = 0]]) -> the %s of all elements, or along dimension axis\n"
    .. "(1-based); divides by n - ddof."):format(name, what)
end
for k, v in pairs(array) do M["array:" .. k] = v end

-- ---- the other C objects --------------------------------------------------------------
local others = {
  ["potential:phi"] = "pot:phi(x) -> the potential (km^2/s^2) at the rows of x (N x 3, kpc), an N-array.",
  ["potential:acceleration"] = "pot:acceleration(x) -> the acceleration (N x 3) at the rows of x (N x 3, kpc).",
  ["potential:density"] = "pot:density(x) -> the mass density (Msun/kpc^3) at the rows of x (N x 3, kpc).",
  ["potential:vcirc"] = "pot:vcirc(R) -> the circular speed (km/s) at radius R (kpc) in the plane: a number,\n"
    .. "or an array for an array of radii.",
  ["potential:components"] = "pot:components() -> a list of the components' parameters, {type =, amp =, a =, ...}.",
  ["mock:log_f"] = "df:log_f(x, v) -> the log of the exact phase-space density at the rows of x and v (N x 3).",
  ["mock:grad_log_f"] = "df:grad_log_f(x, v) -> gx (N x 3), gv (N x 3), log f (N): log f and its gradients.",
  ["mock:n_x"] = "df:n_x(x) -> the tracers' number density at the positions x (N x 3), an N-array.",
  ["mock:sample"] = "mock:sample(n, {seed = s}) -> x (n x 3), v (n x 3), pop (the population of each star,\n"
    .. "1-based), info: n stars drawn from the mock galaxy.",
  ["mock:sample_v"] = "df:sample_v(x0, n, {seed = s}) -> v (n x 3), info: n velocities drawn at the position x0\n"
    .. "(a 1 x 3 array or {x, y, z}).",
  ["mock:n_x_population"] = "mock:n_x_population(k, R, z) -> the unnormalised density of population k at (R, z)\n"
    .. "(for tests).",
  ["mock:info"] = "mock:info() -> {radius, center, populations, ...}: how the mock galaxy was made.",
  ["mock:v_moments"] = "df:v_moments({x, y, z}) -> {n, mean_vphi, vphi2, vphi3, vR2}: velocity moments at a\n"
    .. "position, by quadrature.",
  ["mock:slab"] = "mock:slab(k, z0, z1 [, R0, R1]) -> the unnormalised integral of population k's density over\n"
    .. "the part of the sphere with z0 < z < z1 (and R0 < R < R1).",
  ["progress:update"] = "p:update(i [, text]): report step i of the total (and text); raises \"interrupted\"\n"
    .. "after Ctrl-C in the phaseflow executable.",
  ["progress:finish"] = "p:finish([text]): the final line of the report.",
  ["progress:elapsed"] = "p:elapsed() -> the seconds since the report began.",
  ["gaia.reader:next"] = "r:next() -> the next chunk of the table ({column = array, ..., n, missing, source,\n"
    .. "first_row, file}), or nil at the end of the file.",
  ["gaia.reader:nrows"] = "r:nrows() -> the rows of a FITS table, or nil for a text file (not known in advance).",
  ["gaia.reader:close"] = "r:close(): close the file now (also when collected; a second close does nothing).",
  ["fs.lock:release"] = "lock:release(): give up the output-folder lock of pf.fs.lock (also when collected).",
  ["batcher:shuffle"] = "b:shuffle(): draw a new permutation of the rows (from the identity each time).",
  ["batcher:gather"] = "b:gather(x, i0, i1) -> the rows perm[i0..i1] of x as a new array: one mini-batch.",
  ["batcher:perm"] = "b:perm() -> the current permutation (1-based row numbers).",
  ["batcher:rng_state"] = "b:rng_state() -> the generator's state as a string (for checkpoints).",
  ["batcher:set_rng_state"] = "b:set_rng_state(s): restore a state from b:rng_state(); refuses one of the wrong\n"
    .. "size or that is not MT19937's.",
  ["batcher:free"] = "b:free(): release the batcher now (also when collected).",
  ["adam:step"] = "opt:step(p, g): one Adam step on the parameter vector p (in place) from the gradient g.",
  ["adam:state"] = "opt:state() -> m, v (the moment vectors), step: for checkpoints.",
  ["adam:set_state"] = "opt:set_state(m, v, step): restore what opt:state() returned.",
  ["adam:free"] = "opt:free(): release the optimiser now (also when collected).",
  ["mcmc.sampler:init"] = "s:init(p0, lp0): the walkers' first positions (W x P) and their log-posteriors (W).",
  ["mcmc.sampler:propose"] = "s:propose(h) -> the stretch-move proposals (K x P) for half-ensemble h (1 or 2).",
  ["mcmc.sampler:accept"] = "s:accept(h, lp): accept or reject half h's proposals given their log-posteriors\n"
    .. "(-math.huge outside the support).",
  ["mcmc.sampler:run"] = "s:run(model, n, chain, logp, burn, thin): n steps with a C model (gnfw_model),\n"
    .. "recording the steps after burn, every thin-th, into chain (R x W x P) and logp (R x W).",
  ["mcmc.sampler:record"] = "s:record(chain, logp, row): copy the current state into row `row`.",
  ["mcmc.sampler:positions"] = "s:positions() -> the walkers' positions (W x P).",
  ["mcmc.sampler:log_probs"] = "s:log_probs() -> the walkers' log-posteriors (W).",
  ["mcmc.sampler:accepted"] = "s:accepted() -> the number of accepted moves of each walker so far (W).",
  ["mcmc.sampler:iterations"] = "s:iterations() -> the number of steps taken so far.",
  ["mcmc.sampler:walkers"] = "s:walkers() -> the number of walkers W.",
  ["mcmc.sampler:dim"] = "s:dim() -> the number of parameters P.",
  ["mcmc.sampler:state"] = "s:state() -> the whole state (positions, log-posteriors, counts, generator) as a string.",
  ["mcmc.sampler:set_state"] = "s:set_state(s): restore a state from s:state().",
  ["mcmc.sampler:free"] = "s:free(): release the sampler now (also when collected).",
  ["mcmc.gnfw_model:logpost"] = "model:logpost(X) -> the log-posteriors of the gNFW parameters in the rows of X\n"
    .. "(K x 3); -math.huge outside the support.",
  ["mcmc.gnfw_model:n"] = "model:n() -> the number of radii the model fits.",
}
for k, v in pairs(others) do M[k] = v end

return M

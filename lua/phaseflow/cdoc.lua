-- pf.cdoc: the doc text of the C functions that init.lua exposes directly as pf.NAME (the
-- C modules without a Lua module of their own: rng, qmc, coords, progress, config, panel).
-- A C function has no Lua source for pf.doc to read, so its doc is kept here, keyed
-- "module.function" (or "module:method" for a method of the module's objects), next to
-- the facade that exposes it. tests/doc_spec.lua checks that every key names a C function
-- that exists. The C functions that a Lua module wraps are documented by that module.
return {
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
  ["panel.gemm"] = "pf.panel.gemm(A (n x K), B (K x N) [, {path, C, bias, transposed}]) -> C, the path used:\n"
    .. "the flows' matrix product (added to C in place when C is given).",
  ["panel.gemm_tn"] = "pf.panel.gemm_tn(X (n x M), Y (n x N), C (M x N) [, {path}]) -> C, the path used:\n"
    .. "C += X^T Y in place.",
}

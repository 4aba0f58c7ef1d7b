"""emcee on the gNFW posterior of bench/mcmc.lua (the peer of phaseflow's sampler).

usage: python3 bench/mcmc_emcee.py POINTS.csv WALKERS STEPS SEED
Prints one line per mode: "emcee MODE seconds tau_max" where MODE is "per-walker"
(the usual emcee log_prob of one point) or "vectorized" (vectorize=True: one numpy call
per half-ensemble, emcee's fastest use).
"""
import sys
import time

import numpy as np
import emcee

points, W, S, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
d = np.genfromtxt(points, delimiter=",", names=True)
r, rho, sig = d["r_kpc"], d["rho"], d["sigma"]

# paper priors, constants dropped exactly as in the C model (src/core/mcmc.c)
def log_post(th):
    rho0, rs, beta = th
    if not (0 <= rho0 <= 200 and 0 < rs <= 20 and beta >= 0):
        return -np.inf
    x = r / rs
    m = rho0 * np.exp(-beta * np.log(x) - (3 - beta) * np.log1p(x))
    return -0.5 * (((rho0 - 40) / 80) ** 2 + ((beta - 2) / 2) ** 2) - 0.5 * np.sum(((rho - m) / sig) ** 2)

def log_post_vec(th):
    rho0, rs, beta = th[:, 0:1], th[:, 1:2], th[:, 2:3]
    ok = ((rho0 >= 0) & (rho0 <= 200) & (rs > 0) & (rs <= 20) & (beta >= 0))[:, 0]
    rs_safe = np.where(rs > 0, rs, 1.0)
    x = r[None, :] / rs_safe
    m = rho0 * np.exp(-beta * np.log(x) - (3 - beta) * np.log1p(x))
    lp = -0.5 * (((rho0[:, 0] - 40) / 80) ** 2 + ((beta[:, 0] - 2) / 2) ** 2) \
        - 0.5 * np.sum(((rho[None, :] - m) / sig[None, :]) ** 2, axis=1)
    return np.where(ok, lp, -np.inf)

rng = np.random.default_rng(seed)
p0 = np.array([30.0, 4.0, 1.0]) * (1 + 0.01 * rng.standard_normal((W, 3)))
for mode, vec, steps in (("per-walker", False, S), ("vectorized", True, S)):
    np.random.seed(seed)
    s = emcee.EnsembleSampler(W, 3, log_post_vec if vec else log_post, vectorize=vec)
    t = time.perf_counter()
    s.run_mcmc(p0, steps, progress=False)
    dt = time.perf_counter() - t
    tau = np.max(s.get_autocorr_time(quiet=True, discard=steps // 4))
    print(f"emcee {mode} {steps} {dt:.6f} {tau:.3f} {np.mean(s.acceptance_fraction):.4f}", flush=True)

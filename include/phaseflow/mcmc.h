/*
 * phaseflow/mcmc.h -- affine-invariant ensemble sampler (Goodman & Weare 2010 stretch
 * move, the algorithm of emcee), its integrated autocorrelation time, and the
 * generalized-NFW posterior of the paper as a built-in C model.
 *
 * The sampler is steppable and never calls back into a scripting language: a step is
 * two half-steps, and each half-step is
 *
 *     pf_mcmc_propose(s, half, prop)     -> K proposals (K x P, row-major)
 *     (caller evaluates K log-posteriors of prop, in one batch)
 *     pf_mcmc_accept(s, half, prop, lp)  -> Metropolis decision for the K walkers
 *
 * with half = 0 (walkers 0 .. W/2-1) then half = 1 (walkers W/2 .. W-1). Walkers of
 * one half move with partners drawn from the other half's current positions, so a
 * half's K proposals are independent and one batched evaluation serves them all.
 * pf_mcmc_step_fn does both halves with a C log-posterior.
 *
 * Randomness: the sampler owns an MT19937 generator (seeded with the seed given to
 * pf_mcmc_alloc). Per half-step it draws, in this order: for each walker of the half
 * one uniform for z and one uniform integer for the partner (propose), then one
 * uniform per walker (accept). The whole state (positions, log-probabilities,
 * acceptance counts, step count, generator state) serialises to bytes, so a run
 * restored from a checkpoint continues bit-identically.
 *
 * Log-probabilities are natural logs; -INFINITY marks a point outside the support
 * (always rejected). NaN log-posteriors are an error (PF_EINVAL).
 */
#ifndef PHASEFLOW_MCMC_H
#define PHASEFLOW_MCMC_H

#include <stddef.h>
#include <stdint.h>
#include "phaseflow/common.h"

typedef struct pf_mcmc pf_mcmc;

/* A C log-posterior: theta has p doubles; returns ln p(theta) or -INFINITY. */
typedef double (*pf_mcmc_logpost_fn)(const double *theta, size_t p, void *ctx);

/* A sampler of `walkers` walkers in `dim` >= 1 dimensions with stretch scale `a`
 * (> 1; emcee's default 2). walkers must be even and >= max(4, 2 dim) (as emcee asks:
 * fewer walkers cannot span the space). NULL with `err` filled on bad arguments or
 * no memory. */
pf_mcmc *pf_mcmc_alloc(size_t walkers, size_t dim, double a, uint64_t seed, pf_err *err);
void pf_mcmc_free(pf_mcmc *s);

size_t pf_mcmc_walkers(const pf_mcmc *s);
size_t pf_mcmc_dim(const pf_mcmc *s);
/* Number of walkers of half 0 or 1 (W/2 each). */
size_t pf_mcmc_half_size(const pf_mcmc *s, int half);

/* Set the walkers' positions p0 (W x P) and their log-posteriors lp0 (W). Every lp0
 * must be finite: a walker starting outside the support is PF_EINVAL naming it. */
int pf_mcmc_init(pf_mcmc *s, const double *p0, const double *lp0, pf_err *err);

/* Write the K = W/2 proposals of `half` to prop (K x P). PF_ESTATE before init or
 * when the previous half-step was not accepted; PF_EINVAL when half is not the next
 * one (0 then 1). */
int pf_mcmc_propose(pf_mcmc *s, int half, double *prop, pf_err *err);

/* Accept or reject the proposals of `half` given their log-posteriors lp (K). The
 * proposals are the sampler's own copy made by propose (prop is not read again). */
int pf_mcmc_accept(pf_mcmc *s, int half, const double *lp, pf_err *err);

/* One full step (both halves) with a C log-posterior. */
int pf_mcmc_step_fn(pf_mcmc *s, pf_mcmc_logpost_fn f, void *ctx, pf_err *err);

/* Current positions (W x P), log-posteriors (W), per-walker accepted-move counts (W),
 * and completed steps. Pointers into the sampler: valid until it is freed. */
const double *pf_mcmc_positions(const pf_mcmc *s);
const double *pf_mcmc_log_probs(const pf_mcmc *s);
const uint64_t *pf_mcmc_accepted(const pf_mcmc *s);
uint64_t pf_mcmc_iterations(const pf_mcmc *s);

/* Serialise the complete state (bytes: a small header, positions, log-probs, counts,
 * generator state). set_state checks the header (walkers, dim, a) and the size:
 * PF_EFORMAT when they do not match this sampler. */
size_t pf_mcmc_state_size(const pf_mcmc *s);
void pf_mcmc_get_state(const pf_mcmc *s, void *buf);
int pf_mcmc_set_state(pf_mcmc *s, const void *buf, size_t n, pf_err *err);

/* ---- autocorrelation -------------------------------------------------------- */

/* Normalised autocorrelation function of the series x[0], x[stride], ...,
 * x[(n-1)*stride] (n >= 2) into acf (n doubles; acf[0] = 1), by FFT (GSL radix-2,
 * zero-padded to twice the next power of two). `work` needs pf_mcmc_acf_work_size(n)
 * doubles. A constant series gives PF_ENUM. */
size_t pf_mcmc_acf_work_size(size_t n);
int pf_mcmc_acf(const double *x, size_t n, ptrdiff_t stride, double *acf, double *work,
                pf_err *err);

/* Integrated autocorrelation time of each of the P parameters of a chain stored
 * steps x walkers x P (row-major), as emcee estimates it: the ACF averaged over
 * walkers, tau(M) = 1 + 2 sum_{t=1..M} acf(t), the window M the smallest with
 * M >= c tau(M) (Sokal; c = 5 in emcee). tau receives P values. *reliable is set to 1
 * when steps >= 50 tau for every parameter, else 0 (the caller warns). */
int pf_mcmc_autocorr_time(const double *chain, size_t steps, size_t walkers, size_t dim,
                          double c, double *tau, int *reliable, pf_err *err);

/* ---- the generalized NFW posterior (paper, Sec. IV) -------------------------- */

/* rho(r) = rho0 / ((r/rs)^beta (1 + r/rs)^(3 - beta)); theta = (rho0, rs, beta). The
 * data are n points (r_i, rho_i, sigma_i) with r in kpc and rho, sigma in the units of
 * rho0 (the paper: 1e-2 Msun/pc^3). Priors (the paper's defaults from
 * pf_gnfw_default_priors): rho0 ~ N(rho0_mu, rho0_sd) truncated to [rho0_lo, rho0_hi],
 * rs ~ U[rs_lo, rs_hi], beta ~ N(beta_mu, beta_sd) truncated to [beta_lo, beta_hi]
 * (beta_hi may be INFINITY). The log-posterior is the Gaussian log-likelihood
 * -1/2 sum ((rho_i - model)/sigma_i)^2 (constant terms dropped) plus the log-priors
 * (normalising constants dropped); -INFINITY outside the support (rs <= rs_lo too,
 * where the profile is undefined). The pointers are borrowed. */
typedef struct pf_gnfw_model {
    const double *r, *rho, *sigma;
    size_t n;
    double rho0_mu, rho0_sd, rho0_lo, rho0_hi;
    double rs_lo, rs_hi;
    double beta_mu, beta_sd, beta_lo, beta_hi;
} pf_gnfw_model;

/* Fill the priors of `m` with the paper's: rho0 N(40, 80) on [0, 200], rs U[0, 20],
 * beta N(2, 2) on [0, inf). */
void pf_gnfw_default_priors(pf_gnfw_model *m);

/* The profile at radius r (kpc). */
double pf_gnfw_density(double r, double rho0, double rs, double beta);

/* A pf_mcmc_logpost_fn: ctx is a pf_gnfw_model *, p must be 3. */
double pf_gnfw_logpost(const double *theta, size_t p, void *ctx);

#endif

/*
 * mcmc.c -- the stretch-move ensemble sampler, emcee's autocorrelation time and the
 * gNFW posterior. Contracts in include/phaseflow/mcmc.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_fft_halfcomplex.h>
#include <gsl/gsl_fft_real.h>
#include <gsl/gsl_rng.h>
#include "phaseflow/mcmc.h"
#include "phaseflow/rng.h"

/* Where the sampler is in its step: a half must be proposed, then accepted, half 0
 * before half 1. */
enum { PH_NOINIT = -1, PH_PROPOSE0 = 0, PH_ACCEPT0, PH_PROPOSE1, PH_ACCEPT1 };

struct pf_mcmc {
    size_t W, P, K;         /* walkers, dimension, walkers per half */
    double a;               /* stretch scale */
    int phase;
    uint64_t iter;          /* completed steps */
    double *x;              /* W x P positions */
    double *lp;             /* W log-posteriors */
    uint64_t *acc;          /* W accepted-move counts */
    double *prop;           /* K x P pending proposals */
    double *logz;           /* K: (P - 1) ln z of each pending proposal */
    double *lpbuf;          /* K: scratch for step_fn */
    gsl_rng *rng;
};

pf_mcmc *pf_mcmc_alloc(size_t walkers, size_t dim, double a, uint64_t seed, pf_err *err)
{
    if (dim < 1) {
        pf_err_set(err, PF_EINVAL, "mcmc: dimension must be >= 1, got %zu", dim);
        return NULL;
    }
    size_t wmin = 2 * dim < 4 ? 4 : 2 * dim;
    if (walkers % 2 || walkers < wmin) {
        pf_err_set(err, PF_EINVAL,
                   "mcmc: walkers must be even and >= %zu (>= 2 x dimension %zu), got %zu",
                   wmin, dim, walkers);
        return NULL;
    }
    if (!(a > 1.0) || !isfinite(a)) {
        pf_err_set(err, PF_EINVAL, "mcmc: stretch scale a must be finite and > 1, got %g", a);
        return NULL;
    }
    pf_mcmc *s = calloc(1, sizeof *s);
    if (!s) {
        pf_err_set(err, PF_ENOMEM, "mcmc: out of memory");
        return NULL;
    }
    s->W = walkers;
    s->P = dim;
    s->K = walkers / 2;
    s->a = a;
    s->phase = PH_NOINIT;
    s->x = calloc(walkers * dim, sizeof(double));
    s->lp = calloc(walkers, sizeof(double));
    s->acc = calloc(walkers, sizeof(uint64_t));
    s->prop = calloc(s->K * dim, sizeof(double));
    s->logz = calloc(s->K, sizeof(double));
    s->lpbuf = calloc(s->K, sizeof(double));
    s->rng = pf_rng_alloc(seed);
    if (!s->x || !s->lp || !s->acc || !s->prop || !s->logz || !s->lpbuf || !s->rng) {
        pf_mcmc_free(s);
        pf_err_set(err, PF_ENOMEM, "mcmc: out of memory for %zu walkers x %zu", walkers, dim);
        return NULL;
    }
    return s;
}

void pf_mcmc_free(pf_mcmc *s)
{
    if (!s)
        return;
    free(s->x);
    free(s->lp);
    free(s->acc);
    free(s->prop);
    free(s->logz);
    free(s->lpbuf);
    if (s->rng)
        gsl_rng_free(s->rng);
    free(s);
}

size_t pf_mcmc_walkers(const pf_mcmc *s) { return s->W; }
size_t pf_mcmc_dim(const pf_mcmc *s) { return s->P; }
size_t pf_mcmc_half_size(const pf_mcmc *s, int half) { (void)half; return s->K; }
const double *pf_mcmc_positions(const pf_mcmc *s) { return s->x; }
const double *pf_mcmc_log_probs(const pf_mcmc *s) { return s->lp; }
const uint64_t *pf_mcmc_accepted(const pf_mcmc *s) { return s->acc; }
uint64_t pf_mcmc_iterations(const pf_mcmc *s) { return s->iter; }

int pf_mcmc_init(pf_mcmc *s, const double *p0, const double *lp0, pf_err *err)
{
    for (size_t w = 0; w < s->W; w++) {
        for (size_t d = 0; d < s->P; d++)
            if (!isfinite(p0[w * s->P + d]))
                return pf_err_set(err, PF_EINVAL,
                                  "mcmc: walker %zu has a non-finite coordinate %zu", w + 1,
                                  d + 1);
        if (!isfinite(lp0[w]))
            return pf_err_set(err, PF_EINVAL,
                              "mcmc: walker %zu starts outside the support (log-posterior %g)",
                              w + 1, lp0[w]);
    }
    memcpy(s->x, p0, s->W * s->P * sizeof(double));
    memcpy(s->lp, lp0, s->W * sizeof(double));
    memset(s->acc, 0, s->W * sizeof(uint64_t));
    s->iter = 0;
    s->phase = PH_PROPOSE0;
    return PF_OK;
}

static int check_phase(const pf_mcmc *s, int half, int want, const char *what, pf_err *err)
{
    if (s->phase == PH_NOINIT)
        return pf_err_set(err, PF_ESTATE, "mcmc: %s before init", what);
    if (half != 0 && half != 1)
        return pf_err_set(err, PF_EINVAL, "mcmc: half must be 0 or 1, got %d", half);
    int ph = want + 2 * half;
    if (s->phase != ph) {
        int next_half = s->phase >= PH_PROPOSE1;
        int next_is_accept = s->phase == PH_ACCEPT0 || s->phase == PH_ACCEPT1;
        return pf_err_set(err, PF_ESTATE, "mcmc: %s of half %d out of order (next: %s of half %d)",
                          what, half, next_is_accept ? "accept" : "propose", next_half);
    }
    return PF_OK;
}

/* The stretch move: walker k of this half moves along the line through a partner j
 * of the other half, Y = X_j + z (X_k - X_j), z drawn from g(z) ∝ 1/sqrt(z) on
 * [1/a, a] by inverting its CDF: z = ((a - 1) u + 1)^2 / a. */
int pf_mcmc_propose(pf_mcmc *s, int half, double *prop, pf_err *err)
{
    int st = check_phase(s, half, PH_PROPOSE0, "propose", err);
    if (st)
        return st;
    const size_t K = s->K, P = s->P;
    const double *self = s->x + (size_t)half * K * P;
    const double *other = s->x + (size_t)(1 - half) * K * P;
    for (size_t k = 0; k < K; k++) {
        double u = gsl_rng_uniform(s->rng);
        double t = (s->a - 1.0) * u + 1.0;
        double z = t * t / s->a;
        size_t j = (size_t)gsl_rng_uniform_int(s->rng, (unsigned long)K);
        const double *xk = self + k * P, *xj = other + j * P;
        double *y = s->prop + k * P;
        for (size_t d = 0; d < P; d++)
            y[d] = xj[d] + z * (xk[d] - xj[d]);
        s->logz[k] = (double)(P - 1) * log(z);
    }
    if (prop)
        memcpy(prop, s->prop, K * P * sizeof(double));
    s->phase++;
    return PF_OK;
}

int pf_mcmc_accept(pf_mcmc *s, int half, const double *lp, pf_err *err)
{
    int st = check_phase(s, half, PH_ACCEPT0, "accept", err);
    if (st)
        return st;
    const size_t K = s->K, P = s->P;
    for (size_t k = 0; k < K; k++)
        if (isnan(lp[k]) || lp[k] == INFINITY)
            return pf_err_set(err, PF_EINVAL,
                              "mcmc: log-posterior of proposal %zu of half %d is %g "
                              "(expected a finite number or -inf)",
                              k + 1, half, lp[k]);
    for (size_t k = 0; k < K; k++) {
        size_t w = (size_t)half * K + k;
        double lnq = s->logz[k] + lp[k] - s->lp[w];
        double u = gsl_rng_uniform(s->rng);
        if (log(u) < lnq) {
            memcpy(s->x + w * P, s->prop + k * P, P * sizeof(double));
            s->lp[w] = lp[k];
            s->acc[w]++;
        }
    }
    if (half == 1) {
        s->phase = PH_PROPOSE0;
        s->iter++;
    } else {
        s->phase = PH_PROPOSE1;
    }
    return PF_OK;
}

int pf_mcmc_step_fn(pf_mcmc *s, pf_mcmc_logpost_fn f, void *ctx, pf_err *err)
{
    for (int half = 0; half < 2; half++) {
        int st = pf_mcmc_propose(s, half, NULL, err);
        if (st)
            return st;
        for (size_t k = 0; k < s->K; k++)
            s->lpbuf[k] = f(s->prop + k * s->P, s->P, ctx);
        st = pf_mcmc_accept(s, half, s->lpbuf, err);
        if (st)
            return st;
    }
    return PF_OK;
}

/* ---- state ------------------------------------------------------------------ */

/* Layout: magic[8], W, P (uint64), a (double), iter (uint64), phase (int64), then
 * x (W P), lp (W), acc (W), prop (K P), logz (K), generator state. Native byte
 * order: checkpoints are for resuming on the same kind of machine. */
static const char MAGIC[8] = "PFMCMC1";
#define HDR_SIZE (8 + 8 + 8 + 8 + 8 + 8)

size_t pf_mcmc_state_size(const pf_mcmc *s)
{
    return HDR_SIZE + (s->W * s->P + s->W + s->K * s->P + s->K) * sizeof(double) +
           s->W * sizeof(uint64_t) + pf_rng_state_size(s->rng);
}

static unsigned char *put(unsigned char *p, const void *v, size_t n)
{
    memcpy(p, v, n);
    return p + n;
}

static const unsigned char *get(const unsigned char *p, void *v, size_t n)
{
    memcpy(v, p, n);
    return p + n;
}

void pf_mcmc_get_state(const pf_mcmc *s, void *buf)
{
    unsigned char *p = buf;
    uint64_t W = s->W, P = s->P;
    int64_t phase = s->phase;
    p = put(p, MAGIC, 8);
    p = put(p, &W, 8);
    p = put(p, &P, 8);
    p = put(p, &s->a, 8);
    p = put(p, &s->iter, 8);
    p = put(p, &phase, 8);
    p = put(p, s->x, s->W * s->P * sizeof(double));
    p = put(p, s->lp, s->W * sizeof(double));
    p = put(p, s->acc, s->W * sizeof(uint64_t));
    p = put(p, s->prop, s->K * s->P * sizeof(double));
    p = put(p, s->logz, s->K * sizeof(double));
    pf_rng_get_state(s->rng, p);
}

int pf_mcmc_set_state(pf_mcmc *s, const void *buf, size_t n, pf_err *err)
{
    if (n != pf_mcmc_state_size(s) || n < HDR_SIZE)
        return pf_err_set(err, PF_EFORMAT,
                          "mcmc: state of %zu bytes does not fit this sampler (%zu expected)",
                          n, pf_mcmc_state_size(s));
    const unsigned char *p = buf;
    char magic[8];
    uint64_t W, P, iter;
    int64_t phase;
    double a;
    p = get(p, magic, 8);
    p = get(p, &W, 8);
    p = get(p, &P, 8);
    p = get(p, &a, 8);
    p = get(p, &iter, 8);
    p = get(p, &phase, 8);
    if (memcmp(magic, MAGIC, 8) != 0)
        return pf_err_set(err, PF_EFORMAT, "mcmc: not a sampler state (bad magic)");
    if (W != s->W || P != s->P || a != s->a)
        return pf_err_set(err, PF_EFORMAT,
                          "mcmc: state is for %llu walkers x %llu dims, a = %g; "
                          "this sampler has %zu x %zu, a = %g",
                          (unsigned long long)W, (unsigned long long)P, a, s->W, s->P, s->a);
    if (phase < PH_NOINIT || phase > PH_ACCEPT1)
        return pf_err_set(err, PF_EFORMAT, "mcmc: state has an invalid phase %lld",
                          (long long)phase);
    p = get(p, s->x, s->W * s->P * sizeof(double));
    p = get(p, s->lp, s->W * sizeof(double));
    p = get(p, s->acc, s->W * sizeof(uint64_t));
    p = get(p, s->prop, s->K * s->P * sizeof(double));
    p = get(p, s->logz, s->K * sizeof(double));
    int st = pf_rng_set_state(s->rng, p, pf_rng_state_size(s->rng));
    if (st)
        return pf_err_set(err, st, "mcmc: generator state does not fit");
    s->iter = iter;
    s->phase = (int)phase;
    return PF_OK;
}

/* ---- autocorrelation ---------------------------------------------------------- */

static size_t next_pow2(size_t n)
{
    size_t m = 1;
    while (m < n)
        m <<= 1;
    return m;
}

size_t pf_mcmc_acf_work_size(size_t n)
{
    return 2 * next_pow2(n);
}

/* The autocovariance is the inverse transform of the power spectrum; padding to
 * twice the length turns the FFT's circular correlation into the linear one. GSL's
 * radix-2 real transform stores the spectrum in "half-complex" order: element k is
 * Re F_k for k <= m/2 and element m - k is Im F_k. */
int pf_mcmc_acf(const double *x, size_t n, ptrdiff_t stride, double *acf, double *work,
                pf_err *err)
{
    if (n < 2)
        return pf_err_set(err, PF_EINVAL, "mcmc: autocorrelation needs >= 2 samples, got %zu", n);
    size_t m = pf_mcmc_acf_work_size(n);
    double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += x[(ptrdiff_t)i * stride];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        work[i] = x[(ptrdiff_t)i * stride] - mean;
    memset(work + n, 0, (m - n) * sizeof(double));
    if (gsl_fft_real_radix2_transform(work, 1, m) != 0)
        return pf_err_set(err, PF_ENUM, "mcmc: FFT failed");
    work[0] = work[0] * work[0];
    for (size_t k = 1; k < m / 2; k++) {
        double re = work[k], im = work[m - k];
        work[k] = re * re + im * im;
        work[m - k] = 0;
    }
    work[m / 2] = work[m / 2] * work[m / 2];
    if (gsl_fft_halfcomplex_radix2_inverse(work, 1, m) != 0)
        return pf_err_set(err, PF_ENUM, "mcmc: inverse FFT failed");
    if (!(work[0] > 0))
        return pf_err_set(err, PF_ENUM, "mcmc: constant series has no autocorrelation");
    for (size_t i = 0; i < n; i++)
        acf[i] = work[i] / work[0];
    return PF_OK;
}

int pf_mcmc_autocorr_time(const double *chain, size_t steps, size_t walkers, size_t dim,
                          double c, double *tau, int *reliable, pf_err *err)
{
    if (steps < 2 || walkers < 1 || dim < 1)
        return pf_err_set(err, PF_EINVAL,
                          "mcmc: autocorrelation needs >= 2 steps (got %zu steps, %zu walkers, "
                          "%zu dims)", steps, walkers, dim);
    if (!(c > 0))
        return pf_err_set(err, PF_EINVAL, "mcmc: window constant c must be > 0, got %g", c);
    double *f = malloc(steps * sizeof(double));
    double *acf = malloc(steps * sizeof(double));
    double *work = malloc(pf_mcmc_acf_work_size(steps) * sizeof(double));
    int st = PF_OK;
    if (!f || !acf || !work) {
        st = pf_err_set(err, PF_ENOMEM, "mcmc: out of memory for autocorrelation");
        goto done;
    }
    int ok = 1;
    for (size_t d = 0; d < dim; d++) {
        memset(f, 0, steps * sizeof(double));
        size_t used = 0;
        for (size_t w = 0; w < walkers; w++) {
            /* A walker that never moved has no ACF; leave it out of the average. */
            pf_err e2;
            if (pf_mcmc_acf(chain + w * dim + d, steps, (ptrdiff_t)(walkers * dim), acf, work,
                            &e2) != PF_OK)
                continue;
            for (size_t t = 0; t < steps; t++)
                f[t] += acf[t];
            used++;
        }
        if (!used) {
            st = pf_err_set(err, PF_ENUM, "mcmc: parameter %zu never changed in any walker",
                            d + 1);
            goto done;
        }
        /* tau(M) = 2 sum_{t=0..M} f(t) - 1; stop at the first M >= c tau(M). */
        double cum = 0, t_est = 0;
        size_t M;
        for (M = 0; M < steps; M++) {
            cum += f[M] / (double)used;
            t_est = 2 * cum - 1;
            if ((double)M >= c * t_est)
                break;
        }
        tau[d] = t_est;
        if ((double)steps < 50 * t_est)
            ok = 0;
    }
    if (reliable)
        *reliable = ok;
done:
    free(f);
    free(acf);
    free(work);
    return st;
}

/* ---- gNFW -------------------------------------------------------------------- */

void pf_gnfw_default_priors(pf_gnfw_model *m)
{
    m->rho0_mu = 40;
    m->rho0_sd = 80;
    m->rho0_lo = 0;
    m->rho0_hi = 200;
    m->rs_lo = 0;
    m->rs_hi = 20;
    m->beta_mu = 2;
    m->beta_sd = 2;
    m->beta_lo = 0;
    m->beta_hi = INFINITY;
}

double pf_gnfw_density(double r, double rho0, double rs, double beta)
{
    double x = r / rs;
    return rho0 * exp(-beta * log(x) - (3.0 - beta) * log1p(x));
}

double pf_gnfw_logpost(const double *theta, size_t p, void *ctx)
{
    const pf_gnfw_model *m = ctx;
    if (p != 3)
        return NAN;
    double rho0 = theta[0], rs = theta[1], beta = theta[2];
    if (!(rho0 >= m->rho0_lo && rho0 <= m->rho0_hi && rs > m->rs_lo && rs > 0 &&
          rs <= m->rs_hi && beta >= m->beta_lo && beta <= m->beta_hi))
        return -INFINITY;
    double u = (rho0 - m->rho0_mu) / m->rho0_sd, v = (beta - m->beta_mu) / m->beta_sd;
    double lp = -0.5 * (u * u + v * v);
    double chi2 = 0;
    for (size_t i = 0; i < m->n; i++) {
        double e = (m->rho[i] - pf_gnfw_density(m->r[i], rho0, rs, beta)) / m->sigma[i];
        chi2 += e * e;
    }
    return lp - 0.5 * chi2;
}

/* rng.c -- MT19937 generators with saved/restored state and derived seeds. */
#include <string.h>
#include <gsl/gsl_randist.h>
#include "phaseflow/common.h"
#include "phaseflow/rng.h"

gsl_rng *pf_rng_alloc(uint64_t seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (r)
        gsl_rng_set(r, (unsigned long)seed);
    return r;
}

double pf_rng_uniform(gsl_rng *r) { return gsl_rng_uniform(r); }
double pf_rng_normal(gsl_rng *r) { return gsl_ran_gaussian_ziggurat(r, 1.0); }

void pf_rng_fill_uniform(gsl_rng *r, double *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * gsl_rng_uniform(r);
}

void pf_rng_fill_normal(gsl_rng *r, double *x, size_t n, double mu, double sigma)
{
    for (size_t i = 0; i < n; i++)
        x[i] = mu + sigma * gsl_ran_gaussian_ziggurat(r, 1.0);
}

size_t pf_rng_state_size(const gsl_rng *r) { return gsl_rng_size(r); }

void pf_rng_get_state(const gsl_rng *r, void *buf)
{
    memcpy(buf, gsl_rng_state(r), gsl_rng_size(r));
}

int pf_rng_set_state(gsl_rng *r, const void *buf, size_t n)
{
    if (n != gsl_rng_size(r))
        return PF_EINVAL;
    memcpy(gsl_rng_state(r), buf, n);
    return PF_OK;
}

/* SplitMix64 finaliser over seed and stream index: nearby (seed, k) pairs give
 * unrelated seeds, so streams of ensemble members do not overlap in practice. */
uint64_t pf_rng_derive_seed(uint64_t seed, uint64_t k)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (k + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

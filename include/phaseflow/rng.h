/*
 * phaseflow/rng.h -- seedable random generators.
 *
 * phaseflow uses GSL's generators directly (gsl_rng *): no wrapper type, so every GSL
 * distribution (gsl_ran_*) works on them. These helpers fix the choices: the
 * generator type is MT19937 (same seed, same numbers on every machine), normals use
 * the ziggurat method, and a generator's state can be saved to bytes and restored
 * (for checkpoints that must resume bit-identically).
 */
#ifndef PHASEFLOW_RNG_H
#define PHASEFLOW_RNG_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>

/* A new MT19937 generator seeded with `seed`; NULL if out of memory. Free with
 * gsl_rng_free. */
gsl_rng *pf_rng_alloc(uint64_t seed);

/* Uniform on [0, 1) and standard normal draws. */
double pf_rng_uniform(gsl_rng *r);
double pf_rng_normal(gsl_rng *r);

/* Fill n doubles: uniform on [lo, hi), or normal with mean mu and deviation sigma. */
void pf_rng_fill_uniform(gsl_rng *r, double *x, size_t n, double lo, double hi);
void pf_rng_fill_normal(gsl_rng *r, double *x, size_t n, double mu, double sigma);

/* Size in bytes of the generator state, and copying it out / in. set_state returns
 * PF_EINVAL when `n` does not match the generator's state size. */
size_t pf_rng_state_size(const gsl_rng *r);
void pf_rng_get_state(const gsl_rng *r, void *buf);
int pf_rng_set_state(gsl_rng *r, const void *buf, size_t n);

/* A seed for stream `k` derived from `seed` (SplitMix64): independent, reproducible
 * sub-streams for ensemble members, walkers, jobs. */
uint64_t pf_rng_derive_seed(uint64_t seed, uint64_t k);

#endif

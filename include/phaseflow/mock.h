/*
 * phaseflow/mock.h -- tracer populations in exact equilibrium in an axisymmetric
 * potential: distribution functions f(E, L) of the energy and the z angular momentum,
 * so the collisionless Boltzmann equation holds exactly.
 *
 * Conventions (the paper's frame, Galactic centre at the origin, the disk rotating
 * toward -y at +x): E = |v|^2/2 + Phi(x) in (km/s)^2, L = y vx - x vy in kpc km/s
 * (positive for disk rotation). Positions kpc, velocities km/s.
 *
 * A population k has an unnormalised DF f_k(E, L) = A_k(L) H_k(E, L) with
 *   H = exp(-(E - Eref(L))/s(L)) - exp(-(Et - Eref(L))/s(L))  for E < Et, else 0.
 * Disk ("warm rotating", Shu-like on circular orbits): Rg(L) the guiding radius of |L|,
 *   Eref = Ec(L) = Phi(Rg, 0) + L^2/(2 Rg^2), s = sigma(Rg)^2,
 *   sigma(Rg) = sigma0 exp(-(Rg - r0)/rsigma), Et = +inf,
 *   ln A = ln sigmoid(L/l0) - Rg/rd - 3 ln sigma(Rg).
 * Halo ("hot, slowly rotating"): Eref = 0, s = sigma^2, truncated at Et (zero or
 *   negative: bound stars only), A = 1 + beta tanh(L/lh), |beta| < 1.
 * The mixture f = sum_k w_k f_k / Z_k, Z_k = integral of f_k over the sampling sphere
 * and all velocities, so w_k is the fraction of stars of population k in the sphere
 * and f integrates to 1 over the sphere: f is a probability density in (x, v).
 */
#ifndef PHASEFLOW_MOCK_H
#define PHASEFLOW_MOCK_H

#include <stddef.h>
#include <gsl/gsl_rng.h>
#include "phaseflow/common.h"
#include "phaseflow/potential.h"

#define PF_MOCK_MAXPOP 8

enum pf_pop_type { PF_POP_DISK = 1, PF_POP_HALO = 2 };

typedef struct pf_population {
    int type;        /* enum pf_pop_type */
    double weight;   /* fraction of stars in the sphere (normalised over populations) */
    /* disk */
    double rd;       /* kpc: radial scale of A(L) */
    double sigma0;   /* km/s: dispersion at guiding radius r0 */
    double r0;       /* kpc */
    double rsigma;   /* kpc: e-folding of sigma(Rg) */
    double l0;       /* kpc km/s: width of the counter-rotation cut-off */
    /* halo */
    double sigma;    /* km/s */
    double beta;     /* rotation strength, |beta| < 1 */
    double lh;       /* kpc km/s */
    double et;       /* truncation energy (km/s)^2; <= 0 */
    /* filled by pf_mock_prepare */
    double lognorm;  /* ln(w_k / Z_k) */
} pf_population;

typedef struct pf_mock {
    pf_potential pot;
    int npop;
    pf_population pop[PF_MOCK_MAXPOP];
    double center[3];  /* sampling sphere (kpc) */
    double radius;
    int prepared;
} pf_mock;

/* Defaults for one population type (weight 1). */
void pf_population_default(pf_population *p, int type);

/* An empty mock on potential `pot` with sampling sphere (center, radius). */
int pf_mock_init(pf_mock *m, const pf_potential *pot, const double center[3], double radius,
                 pf_err *err);
/* Append a population (checked). */
int pf_mock_add(pf_mock *m, const pf_population *p, pf_err *err);
/* Normalise: weights to sum 1; Z_k by nested adaptive GSL quadrature (relative
 * tolerance 1e-6). Must be called before the functions below (PF_ESTATE otherwise). */
int pf_mock_prepare(pf_mock *m, pf_err *err);

/* ln f at one point; gx, gv (3 each) receive grad_x ln f and grad_v ln f when not
 * NULL. -inf (and zero gradients) where f = 0. */
double pf_mock_logf(const pf_mock *m, const double x[3], const double v[3], double *gx,
                    double *gv);

/* Batched: n points, x and v row-major n x 3; logf n values; gx, gv n x 3 or NULL. */
int pf_mock_logf_n(const pf_mock *m, size_t n, const double *x, const double *v, double *logf,
                   double *gx, double *gv, pf_err *err);

/* Tracer number density n(x) = integral of f over velocities (normalised so that it
 * integrates to 1 over the sphere), by GSL quadrature to 1e-9 relative. Also
 * per population (unnormalised, pop index k) for tests. */
int pf_mock_nx(const pf_mock *m, size_t n, const double *x, double *out, pf_err *err);
double pf_mock_nx_pop(const pf_mock *m, int k, double R, double z);

/* Sample n stars (positions inside the sphere, velocities) from f by rejection:
 * proposals are mixtures (uniform sphere, disk slab, Galactic-centre Gaussian;
 * rotating and broad Gaussian velocities) and the envelope constant is 2 x the largest
 * f/q of a pilot run of 20000 proposals per population. `violations` counts proposals
 * with f/q above the envelope (the sampler is exact when it is 0). Seeded by `seed`
 * (reproducible for a given thread count). x, v: n x 3; pop: n ints (population index
 * of each star) or NULL. */
int pf_mock_sample(const pf_mock *m, uint64_t seed, size_t n, double *x, double *v, int *pop,
                   size_t *violations, pf_err *err);

/* Sample n velocities from p(v | x0) = f(x0, v) / n(x0), by the same rejection
 * scheme in velocity alone. */
int pf_mock_sample_v(const pf_mock *m, const double x0[3], uint64_t seed, size_t n, double *v,
                     size_t *violations, pf_err *err);

#endif

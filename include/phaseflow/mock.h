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
#define PF_MOCK_NTAB 512

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
    /* guiding-radius table (Newton starting points): ln Lc at ln R nodes; 0 = none */
    int ntab;
    double tab_lnr[PF_MOCK_NTAB], tab_lnl[PF_MOCK_NTAB], tab_dlr[PF_MOCK_NTAB];
} pf_mock;

/* Defaults for one population type (weight 1). */
void pf_population_default(pf_population *p, int type);

/* An empty mock on potential `pot` with sampling sphere (center, radius). */
int pf_mock_init(pf_mock *m, const pf_potential *pot, const double center[3], double radius,
                 pf_err *err);
/* Append a population (checked). */
int pf_mock_add(pf_mock *m, const pf_population *p, pf_err *err);
/* Normalise: weights to sum 1; Z_k = integral of n_k over the sphere by quadrature in
 * (z, R) (adaptive in z with breakpoints near the plane and where the sphere's section
 * starts to contain the axis; Gauss-Legendre in R with the azimuthal extent as weight,
 * its square-root ends removed by a cosine substitution; n_k by adaptive quadrature in
 * v_phi to 1e-9). Must be called before the functions below (PF_ESTATE otherwise). */
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

/* Unnormalised integral of n_k over the part of the sphere with z0 <= z <= z1 (z0, z1 may
 * be infinite); pf_mock_prepare uses the whole range. k is 0-based. */
int pf_mock_slab(const pf_mock *m, int k, double z0, double z1, double *out, pf_err *err);
/* The same over the part with z0 <= z <= z1 and r0 <= R <= r1 (cylindrical R, kpc;
 * r1 may be infinite): the exact expected fraction of a population's stars in a bin is
 * region / slab(-inf, inf). */
int pf_mock_region(const pf_mock *m, int k, double z0, double z1, double r0, double r1,
                   double *out, pf_err *err);

/* Velocity moments of the mixture at x0 by quadrature (relative 1e-10): out[0] = n(x0)
 * (as pf_mock_nx), out[1..3] = <v_phi>, <v_phi^2>, <v_phi^3> with v_phi = L / R (positive
 * for the disk's rotation), out[4] = <v_R^2> (= <v_z^2>). */
int pf_mock_vmoments(const pf_mock *m, const double x0[3], double out[5], pf_err *err);

/* Sample n stars (positions inside the sphere, velocities) from f, exactly, by
 * rejection from a certified envelope (the derivation is in mock_sample.c): population k
 * with probability w_k; for a disk, a cell of an (R, z) grid and a bin of L (3 kpc km/s)
 * with probability proportional to an analytic upper bound of the density of
 * (R, z, phi, L) over that cell and bin, (R, z, phi) uniform in the cell's part of the
 * sphere, L uniform in the bin, accepted with density / bound <= 1, then (v_R, v_z)
 * from their Gaussian law given L; for the halo, x uniform in the cell's volume and
 * v ~ N(0, sigma^2 I), accepted with f / bound <= 1. The bounds hold for potentials whose
 * components all have positive mass (PF_EINVAL otherwise). `violations` counts
 * proposals above the bound (0 by construction; kept as a guard), `proposals` the
 * number of proposals (either may be NULL). Stars come in blocks of 4096, each block
 * seeded by pf_rng_derive_seed(seed, block): the result does not depend on the number
 * of threads. x, v: n x 3; pop: n ints (0-based) or NULL. */
int pf_mock_sample(const pf_mock *m, uint64_t seed, size_t n, double *x, double *v, int *pop,
                   size_t *violations, size_t *proposals, pf_err *err);

/* Sample n velocities from p(v | x0) = f(x0, v) / n(x0), exactly: population by
 * n_k(x0) (quadrature), then the same bounds as pf_mock_sample on a cell shrunk to
 * the point (disk: L by bins, accepted with density / bound; halo: Gaussian v
 * accepted with f / bound). Pseudo-random draws (no QMC: rejection would break the
 * low-discrepancy structure). x0 must be off the z axis (R >= 1e-6 kpc). */
int pf_mock_sample_v(const pf_mock *m, const double x0[3], uint64_t seed, size_t n, double *v,
                     size_t *violations, pf_err *err);

#endif

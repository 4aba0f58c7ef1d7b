/*
 * phaseflow/poisson.h -- mass density from accelerations by kernel convolution.
 *
 * Poisson's equation smoothed with a kernel K (the paper's Eq. 9):
 *   4 pi G (rho * K)(x0) = (lap Phi * K)(x0) = (1/Z) int_V K lap Phi d^3x
 * K(x) = exp(-|u|^2/2), u = (x - x0)/h (componentwise), truncated at |u| = T,
 * Z = int_V K d^3x (unit-normalised over the truncated ellipsoid V). By parts, with
 * a = -grad Phi and K = K_b = exp(-T^2/2) constant on the boundary:
 *   int_V K lap Phi = -K_b oint_dV a . n dS + int_V a . grad K d^3x,
 *   grad K = -K (x - x0)_i / h_i^2,
 * so only accelerations are needed, never second derivatives.
 *
 * Both integrals are estimated with scrambled (digitally shifted) Sobol points:
 *  - volume: points drawn from the truncated Gaussian K/Z itself (radius by inverse
 *    CDF of the truncated chi_3 distribution, direction by an area-preserving map of
 *    two more coordinates), so the volume term is the plain mean of a . grad K / K;
 *  - surface: points on the unit sphere (area-preserving map), mapped onto the
 *    ellipsoid |u| = T; the vector area element n dS of the ellipsoid x = T h o s is
 *    T^2 h1 h2 h3 (s_i / h_i) dOmega.
 * Each point set is antithetic (every point d comes with -d): a constant acceleration
 * then contributes exactly zero to both terms, as it must.
 *
 * Result of the point generation: for every point j an offset d_j from x0 and a
 * coefficient vector c_j (1/kpc^2 per (km/s)^2/kpc of acceleration) with
 *   4 pi G (rho * K)(x0) = sum_j c_j . a(x0 + d_j),
 * and a weight w_j (1/N_vol on volume points, 0 on surface points) with
 *   (g * K)(x0) = sum_j w_j g(x0 + d_j)   for any function g (e.g. the baryons).
 *
 * Units: kpc, (km/s)^2/kpc, G in kpc (km/s)^2/Msun -> Msun/kpc^3.
 */
#ifndef PHASEFLOW_POISSON_H
#define PHASEFLOW_POISSON_H

#include <stddef.h>
#include <stdint.h>
#include "phaseflow/common.h"

typedef struct pf_kernel {
    double h[3];     /* scale lengths, kpc (paper: 0.5, 0.5, 0.2) */
    double truncate; /* truncation radius T in units of |u| (paper: 2) */
} pf_kernel;

/* Z = int_V K d^3x = h1 h2 h3 (2 pi)^{3/2} P(chi_3 <= T), kpc^3. */
double pf_kernel_norm(const pf_kernel *k);

/* Kernel points. nvol and nsurf must be even (antithetic pairs); nvol >= 2, nsurf
 * >= 0 (0 drops the boundary term: for demonstrating that it is needed).
 * Outputs, caller-owned, P = nvol + nsurf rows, volume points first:
 *   offset P x 3 (kpc), coef P x 3 (1/kpc^2), weight P;
 *   normal, area: nsurf x 3 and nsurf (outward unit normals and area weights, kpc^2;
 *   may be NULL).
 * moment_match != 0: the coefficients of each set are mapped by a 3x3 matrix so that
 * their second moments sum_j c_j d_j^T are exact; with the antithetic pairs the
 * result is then exact for potentials up to cubic order (recommended; 0 gives the
 * plain QMC estimate). */
int pf_poisson_kernel_points(const pf_kernel *k, size_t nvol, size_t nsurf, uint64_t seed,
                             int moment_match, double *offset, double *coef, double *weight, double *normal,
                             double *area, pf_err *err);

/* A deterministic product Gauss rule for kernel averages (the mock's exact truth):
 *   (g * K)(x0) = sum_j w_j g(x0 + d_j),  j = 1 .. nr * nt * np,
 * in u = d / h (componentwise) with spherical coordinates u = r (sin t cos p,
 * sin t sin p, cos t): r by nr-point Gauss-Legendre on [0, T] (the integrand carries
 * r^2 exp(-r^2/2)), cos t by nt-point Gauss-Legendre on [-1, 1], p by the np-point
 * trapezoid rule p_k = 2 pi (k + 1/2) / np (spectrally accurate for periodic
 * integrands). Every factor of the integrand is smooth, so the rule converges
 * exponentially in each of nr, nt, np for analytic g. Nodes and weights of the
 * Gauss-Legendre rules come from GSL (gsl_integration_glfixed).
 * Outputs, caller-owned: offset P x 3 (kpc), weight P (summing to 1, so a constant is
 * reproduced exactly); `mass` (may be NULL) receives the rule's raw integral of
 * exp(-|u|^2/2) over |u| <= T divided by its closed form (2 pi)^{3/2} P(chi_3 <= T),
 * which is 1 to rounding for any nr >= 8. Row order: p fastest, then t, then r.
 * With np even the rule is antithetic (every d comes with -d). */
int pf_kernel_rule(const pf_kernel *k, size_t nr, size_t nt, size_t np, double *offset,
                   double *weight, double *mass, pf_err *err);

/* Densities from accelerations at the kernel points: acc is (n0 * P) x 3, rows
 * i*P .. i*P+P-1 at x0_i + offset_j. rho (n0), Msun/kpc^3; vol and surf (n0, may be
 * NULL) are the two terms separately, also divided by 4 pi G. With `boundary` = 0
 * the surface points are ignored (rho = vol): wrong on purpose, for tests. */
int pf_poisson_density_from(size_t n0, size_t npts, size_t nvol, const double *acc,
                            const double *coef, double G, int boundary, double *rho,
                            double *vol, double *surf, pf_err *err);

#endif

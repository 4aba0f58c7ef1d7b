/*
 * phaseflow/cbe.h -- accelerations from the collisionless Boltzmann equation.
 *
 * In a steady state, df/dt = -v . grad_x f - a . grad_v f = 0 at every velocity. At a
 * fixed position x the acceleration a (3 numbers) is over-determined by the many
 * velocities v_k drawn from p(v|x); it is found by least squares (the paper's Eq. 8):
 *
 *   minimise  sum_k (v_k . grad_x f_k + a . grad_v f_k)^2
 *   =>  a = -M^{-1} b,  M = sum_k g_k g_k^T,  b = sum_k (v_k . grad_x f_k) g_k,
 *       g_k = grad_v f_k.
 *
 * The caller supplies the gradients of ln f (what flows and analytic models give);
 * the "f form" (the paper's) multiplies each term by f_k = exp(log f_k), the "ln f
 * form" uses the ln-gradients as they are (every velocity weighted equally). In the f
 * form the factors are rescaled by exp(-max_k log f_k) at each position: a is
 * unchanged by a common factor of M and b, and nothing underflows.
 *
 * Units: v in km/s, grad_x ln f in 1/kpc, grad_v ln f in s/km, a in (km/s)^2/kpc.
 * Arrays are row-major doubles owned by the caller.
 */
#ifndef PHASEFLOW_CBE_H
#define PHASEFLOW_CBE_H

#include <stddef.h>
#include "phaseflow/common.h"

enum pf_cbe_form {
    PF_CBE_F = 0,    /* the paper's f form: terms weighted by f_k (needs log f) */
    PF_CBE_LOGF = 1  /* ln f form: ln-gradients, equal weights */
};

/* Solve Eq. 8 at `npos` positions with `nv` velocities each.
 *
 * v, gx, gv:  (npos*nv) x 3; rows i*nv .. i*nv+nv-1 belong to position i.
 *             gx = grad_x ln f, gv = grad_v ln f at (x_i, v_k).
 * logf:       npos*nv values of ln f (required for PF_CBE_F, ignored otherwise; may be
 *             NULL for PF_CBE_LOGF).
 * vmax:       only velocities with |v| < vmax (km/s) are used; vmax <= 0 uses all.
 *             Rows with a non-finite entry are skipped too.
 * Outputs (all npos long, caller-owned; cond, rms, used may be NULL):
 *   acc   npos x 3 accelerations, (km/s)^2/kpc; NaN where fewer than 3 velocities
 *         were usable or M is singular.
 *   cond  2-norm condition number of M (lambda_max / lambda_min; Inf if singular).
 *   rms   RMS over the used velocities of the residual d ln f/dt =
 *         -(v . grad_x ln f + a . grad_v ln f), in km/s/kpc (0 for an exact
 *         equilibrium).
 *   used  number of velocities used (stored as double so it fits an array).
 * Threaded over positions (OpenMP). Returns PF_OK, or PF_EINVAL (nv == 0, NULL
 * inputs, f form without logf). */
int pf_cbe_solve(size_t npos, size_t nv, const double *v, const double *gx,
                 const double *gv, const double *logf, double vmax, int form,
                 double *acc, double *cond, double *rms, double *used, pf_err *err);

/* The Boltzmann residual d ln f/dt = -(v . gx + a . gv) for n rows (v, gx, gv: n x 3).
 * `a` is one 3-vector used for every row (a_stride = 0) or n x 3 (a_stride = 3).
 * out: n values, in km/s/kpc. */
int pf_cbe_dlnf_dt(size_t n, const double *v, const double *gx, const double *gv,
                   const double *a, size_t a_stride, double *out, pf_err *err);

/* Eigenvalues (ascending) of a symmetric 3x3 matrix m (row-major; only the upper
 * triangle is read). Closed form (trigonometric), accurate to ~1e-12 relative to the
 * largest eigenvalue. */
void pf_cbe_eig3(const double m[9], double lam[3]);

#endif

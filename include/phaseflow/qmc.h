/*
 * phaseflow/qmc.h -- quasi-random (Sobol) points, optionally scrambled, and their
 * image under the inverse normal CDF (quasi-random standard-normal base points).
 *
 * Points come from GSL's gsl_qrng_sobol (dimensions 1..40, 30-bit integers). The
 * scramble is a seeded *random digital shift*: every coordinate's 30-bit integer is
 * XORed with one random 30-bit word per dimension (drawn from MT19937 seeded with
 * `seed`). This is not Owen's nested scramble; it keeps the net structure of every
 * 2^m block and makes each point uniform on [0,1)^d, so QMC averages become unbiased
 * estimates (repeat with other seeds for an error bar).
 */
#ifndef PHASEFLOW_QMC_H
#define PHASEFLOW_QMC_H

#include <stddef.h>
#include <stdint.h>
#include "phaseflow/common.h"

#define PF_QMC_MAXDIM 40

/* Fill out (n x dim, row-major) with the first n Sobol points after skipping `skip`.
 * scramble = 0: GSL's points exactly (GSL starts at (1/2, ..., 1/2), not the origin). scramble = 1: the
 * digital shift described above, and each integer k maps to (k + 0.5) / 2^30, so no
 * coordinate is 0 or 1. Returns PF_EINVAL if dim is outside 1..40, PF_ENOMEM. */
int pf_qmc_sobol(size_t n, int dim, uint64_t seed, int scramble, size_t skip, double *out,
                 pf_err *err);

/* Standard-normal quasi-random points: scrambled (scramble = 1) or plain Sobol
 * uniforms, always mapped through (k + 0.5) / 2^30 to stay inside (0, 1), then through
 * the inverse normal CDF (gsl_cdf_ugaussian_Pinv). out is n x dim row-major. */
int pf_qmc_normal(size_t n, int dim, uint64_t seed, int scramble, size_t skip, double *out,
                  pf_err *err);

#endif

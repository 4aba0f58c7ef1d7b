/* qmc.c -- scrambled Sobol points and normal base points (see phaseflow/qmc.h). */
#include <math.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_qrng.h>
#include <gsl/gsl_rng.h>
#include "phaseflow/qmc.h"

#define SOBOL_BITS 30
#define SOBOL_SCALE 1073741824.0 /* 2^30 */

/* Shared walker: mode 0 = GSL values exactly, 1 = midpoint of the (shifted) cell. */
static int sobol_fill(size_t n, int dim, uint64_t seed, int scramble, int midpoint,
                      size_t skip, double *out, pf_err *err)
{
    if (dim < 1 || dim > PF_QMC_MAXDIM)
        return pf_err_set(err, PF_EINVAL, "qmc: dimension %d outside 1..%d", dim,
                          PF_QMC_MAXDIM);
    gsl_qrng *q = gsl_qrng_alloc(gsl_qrng_sobol, (unsigned)dim);
    if (!q)
        return pf_err_set(err, PF_ENOMEM, "qmc: out of memory");
    uint32_t shift[PF_QMC_MAXDIM] = {0};
    if (scramble) {
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        if (!r) {
            gsl_qrng_free(q);
            return pf_err_set(err, PF_ENOMEM, "qmc: out of memory");
        }
        /* MT19937 takes an unsigned long seed; fold the high word in. */
        gsl_rng_set(r, (unsigned long)(seed ^ (seed >> 32)));
        for (int j = 0; j < dim; j++)
            shift[j] = (uint32_t)(gsl_rng_get(r) & ((1u << SOBOL_BITS) - 1u));
        gsl_rng_free(r);
    }
    double v[PF_QMC_MAXDIM];
    for (size_t i = 0; i < skip; i++)
        gsl_qrng_get(q, v);
    for (size_t i = 0; i < n; i++) {
        gsl_qrng_get(q, v);
        for (int j = 0; j < dim; j++) {
            if (!scramble && !midpoint) {
                out[i * (size_t)dim + (size_t)j] = v[j];
                continue;
            }
            /* GSL's values are k / 2^30 exactly, so the integer is recovered exactly. */
            uint32_t k = (uint32_t)(v[j] * SOBOL_SCALE) ^ shift[j];
            out[i * (size_t)dim + (size_t)j] = ((double)k + 0.5) / SOBOL_SCALE;
        }
    }
    gsl_qrng_free(q);
    return PF_OK;
}

int pf_qmc_sobol(size_t n, int dim, uint64_t seed, int scramble, size_t skip, double *out,
                 pf_err *err)
{
    return sobol_fill(n, dim, seed, scramble, 0, skip, out, err);
}

int pf_qmc_normal(size_t n, int dim, uint64_t seed, int scramble, size_t skip, double *out,
                  pf_err *err)
{
    int st = sobol_fill(n, dim, seed, scramble, 1, skip, out, err);
    if (st != PF_OK)
        return st;
    size_t m = n * (size_t)dim;
    for (size_t i = 0; i < m; i++)
        out[i] = gsl_cdf_ugaussian_Pinv(out[i]);
    return PF_OK;
}

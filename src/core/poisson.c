/*
 * poisson.c -- kernel points and densities by parts (see poisson.h).
 */
#include <math.h>
#include <stdlib.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_qrng.h>
#include "phaseflow/poisson.h"
#include "phaseflow/qmc.h"

/* P(chi_3 <= r): the mass of a unit 3-D Gaussian inside radius r. */
static double chi3_cdf(double r)
{
    return erf(r / M_SQRT2) - sqrt(2.0 / M_PI) * r * exp(-0.5 * r * r);
}

static double chi3_pdf(double r)
{
    return sqrt(2.0 / M_PI) * r * r * exp(-0.5 * r * r);
}

double pf_kernel_norm(const pf_kernel *k)
{
    return k->h[0] * k->h[1] * k->h[2] * pow(2.0 * M_PI, 1.5) * chi3_cdf(k->truncate);
}

/* Inverse CDF of chi_3 truncated to [0, T] at probability q in (0, 1): safeguarded
 * Newton (bisection whenever a step leaves the bracket). */
static double chi3_trunc_quantile(double q, double T, double PT)
{
    double target = q * PT, lo = 0, hi = T, r = T * cbrt(q);
    for (int it = 0; it < 100; it++) {
        double g = chi3_cdf(r) - target;
        if (g > 0)
            hi = r;
        else
            lo = r;
        double d = chi3_pdf(r);
        double rn = d > 0 ? r - g / d : 0.5 * (lo + hi);
        if (!(rn > lo && rn < hi))
            rn = 0.5 * (lo + hi);
        if (fabs(rn - r) < 1e-15 * T) {
            r = rn;
            break;
        }
        r = rn;
    }
    return r;
}

static void unit_sphere(double u1, double u2, double s[3])
{
    double ct = 1.0 - 2.0 * u1, st = sqrt(fmax(0.0, 1.0 - ct * ct)), ph = 2.0 * M_PI * u2;
    s[0] = st * cos(ph);
    s[1] = st * sin(ph);
    s[2] = ct;
}

/* Why moment matching: for a linear acceleration field a = a0 + J d the two terms
 * must give -tr(J) exactly; they do when the points' second moments sum_j c_j d_j^T
 * equal their exact values (-m2 I for the volume, -K_b V_ell / Z I for the surface).
 * A 3x3 map T applied to the coefficient vectors enforces that. Together with the
 * antithetic pairs (odd terms vanish) the estimate is then exact for any potential up
 * to cubic order, and the QMC error comes only from higher orders. */
static int match_moments(size_t n, const double *offset, double *coef, double target)
{
    double S[9] = {0};
    for (size_t j = 0; j < n; j++)
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++)
                S[3 * i + k] += coef[3 * j + i] * offset[3 * j + k];
    double det = S[0] * (S[4] * S[8] - S[5] * S[7]) - S[1] * (S[3] * S[8] - S[5] * S[6]) +
                 S[2] * (S[3] * S[7] - S[4] * S[6]);
    if (!(fabs(det) > 0) || !isfinite(det))
        return -1;
    double inv[9] = {(S[4] * S[8] - S[5] * S[7]) / det, (S[2] * S[7] - S[1] * S[8]) / det,
                     (S[1] * S[5] - S[2] * S[4]) / det, (S[5] * S[6] - S[3] * S[8]) / det,
                     (S[0] * S[8] - S[2] * S[6]) / det, (S[2] * S[3] - S[0] * S[5]) / det,
                     (S[3] * S[7] - S[4] * S[6]) / det, (S[1] * S[6] - S[0] * S[7]) / det,
                     (S[0] * S[4] - S[1] * S[3]) / det};
    /* c_j <- target * S^{-1} c_j  (then sum_j c_j d_j^T = target * I) */
    for (size_t j = 0; j < n; j++) {
        double c[3] = {coef[3 * j], coef[3 * j + 1], coef[3 * j + 2]};
        for (int i = 0; i < 3; i++)
            coef[3 * j + i] = target * (inv[3 * i] * c[0] + inv[3 * i + 1] * c[1] +
                                        inv[3 * i + 2] * c[2]);
    }
    return 0;
}

/* The kernel's scales and truncation: positive and finite, or PF_EINVAL naming which. */
static int check_kernel(const pf_kernel *k, pf_err *err)
{
    for (int i = 0; i < 3; i++)
        if (!(k->h[i] > 0) || !isfinite(k->h[i]))
            return pf_err_set(err, PF_EINVAL, "kernel scale h[%d] = %g must be positive", i + 1,
                              k->h[i]);
    if (!(k->truncate > 0) || !isfinite(k->truncate))
        return pf_err_set(err, PF_EINVAL, "truncation %g must be positive and finite", k->truncate);
    return PF_OK;
}

int pf_poisson_kernel_points(const pf_kernel *k, size_t nvol, size_t nsurf, uint64_t seed,
                             int moment_match, double *offset, double *coef, double *weight,
                             double *normal, double *area, pf_err *err)
{
    int bad = check_kernel(k, err);
    if (bad)
        return bad;
    double T = k->truncate;
    if (nvol < 2 || nvol % 2 || nsurf % 2)
        return pf_err_set(err, PF_EINVAL,
                          "point counts must be even (antithetic pairs), volume >= 2: got %zu "
                          "volume, %zu surface", nvol, nsurf);
    if (!offset || !coef || !weight)
        return pf_err_set(err, PF_EINVAL, "NULL output");
    size_t hv = nvol / 2, hs = nsurf / 2;
    size_t nq = hv > hs ? hv : hs;
    double *u = malloc(sizeof(double) * 3 * (nq ? nq : 1));
    if (!u)
        return pf_err_set(err, PF_ENOMEM, "out of memory for %zu QMC points", nq);
    const double *h = k->h;
    double PT = chi3_cdf(T), Z = pf_kernel_norm(k), Kb = exp(-0.5 * T * T);

    /* Volume: Sobol (3-D) -> radius by inverse CDF, direction by the sphere map. */
    int st = pf_qmc_sobol(hv, 3, seed, 1, 0, u, err);
    if (st) {
        free(u);
        return st;
    }
    for (size_t i = 0; i < hv; i++) {
        double s[3], r = chi3_trunc_quantile(u[3 * i], T, PT);
        unit_sphere(u[3 * i + 1], u[3 * i + 2], s);
        for (int sign = 0; sign < 2; sign++) {
            size_t j = 2 * i + (size_t)sign;
            double sg = sign ? -1.0 : 1.0;
            for (int c = 0; c < 3; c++) {
                double d = sg * h[c] * r * s[c];
                offset[3 * j + c] = d;
                coef[3 * j + c] = -d / (h[c] * h[c]) / (double)nvol;
            }
            weight[j] = 1.0 / (double)nvol;
        }
    }
    /* Surface: Sobol (2-D, its own stream) -> unit sphere -> ellipsoid |u| = T. */
    if (hs) {
        st = pf_qmc_sobol(hs, 2, seed ^ 0x5DEECE66DULL, 1, 0, u, err);
        if (st) {
            free(u);
            return st;
        }
    }
    double h123 = h[0] * h[1] * h[2], dOmega = 4.0 * M_PI / (double)(nsurf ? nsurf : 1);
    for (size_t i = 0; i < hs; i++) {
        double s[3];
        unit_sphere(u[2 * i], u[2 * i + 1], s);
        for (int sign = 0; sign < 2; sign++) {
            size_t j = nvol + 2 * i + (size_t)sign, js = 2 * i + (size_t)sign;
            double sg = sign ? -1.0 : 1.0, dS[3], len = 0;
            for (int c = 0; c < 3; c++) {
                offset[3 * j + c] = sg * T * h[c] * s[c];
                dS[c] = sg * T * T * h123 * s[c] / h[c] * dOmega;
                len += dS[c] * dS[c];
            }
            len = sqrt(len);
            for (int c = 0; c < 3; c++) {
                coef[3 * j + c] = -Kb / Z * dS[c];
                if (normal)
                    normal[3 * js + c] = dS[c] / len;
            }
            if (area)
                area[js] = len;
            weight[j] = 0.0;
        }
    }
    free(u);
    if (moment_match) {
        /* exact second moment of one component of u under the truncated Gaussian */
        double m2 = 1.0 - sqrt(2.0 / M_PI) * T * T * T * Kb / (3.0 * PT);
        double vell = 4.0 * M_PI / 3.0 * T * T * T * h123;
        if (match_moments(nvol, offset, coef, -m2) ||
            (nsurf && match_moments(nsurf, offset + 3 * nvol, coef + 3 * nvol, -Kb / Z * vell)))
            return pf_err_set(err, PF_ENUM, "kernel points too few to match moments");
    }
    return PF_OK;
}

int pf_poisson_density_from(size_t n0, size_t npts, size_t nvol, const double *acc,
                            const double *coef, double G, int boundary, double *rho,
                            double *vol, double *surf, pf_err *err)
{
    if (!acc || !coef || !rho)
        return pf_err_set(err, PF_EINVAL, "NULL input or output");
    if (nvol > npts)
        return pf_err_set(err, PF_EINVAL, "%zu volume points but only %zu points", nvol, npts);
    if (!(G > 0))
        return pf_err_set(err, PF_EINVAL, "G must be positive, got %g", G);
    double f = 1.0 / (4.0 * M_PI * G);
    for (size_t i = 0; i < n0; i++) {
        const double *a = acc + 3 * i * npts;
        double sv = 0, ss = 0;
        for (size_t j = 0; j < npts; j++) {
            double t = coef[3 * j] * a[3 * j] + coef[3 * j + 1] * a[3 * j + 1] +
                       coef[3 * j + 2] * a[3 * j + 2];
            if (j < nvol)
                sv += t;
            else
                ss += t;
        }
        if (!boundary)
            ss = 0;
        rho[i] = (sv + ss) * f;
        if (vol)
            vol[i] = sv * f;
        if (surf)
            surf[i] = ss * f;
    }
    return PF_OK;
}

int pf_kernel_rule(const pf_kernel *k, size_t nr, size_t nt, size_t np, double *offset,
                   double *weight, double *mass, pf_err *err)
{
    int bad = check_kernel(k, err);
    if (bad)
        return bad;
    double T = k->truncate;
    if (nr < 1 || nt < 1 || np < 1)
        return pf_err_set(err, PF_EINVAL,
                          "rule sizes must be >= 1: got %zu radial, %zu polar, %zu azimuthal",
                          nr, nt, np);
    if (!offset || !weight)
        return pf_err_set(err, PF_EINVAL, "NULL output");
    gsl_integration_glfixed_table *gr = gsl_integration_glfixed_table_alloc(nr);
    gsl_integration_glfixed_table *gt = gsl_integration_glfixed_table_alloc(nt);
    double *cp = malloc(sizeof(double) * 2 * np);
    if (!gr || !gt || !cp) {
        if (gr)
            gsl_integration_glfixed_table_free(gr);
        if (gt)
            gsl_integration_glfixed_table_free(gt);
        free(cp);
        return pf_err_set(err, PF_ENOMEM, "out of memory for a %zu x %zu x %zu kernel rule", nr,
                          nt, np);
    }
    for (size_t m = 0; m < np; m++) {
        double p = 2.0 * M_PI * ((double)m + 0.5) / (double)np;
        cp[2 * m] = cos(p);
        cp[2 * m + 1] = sin(p);
    }
    const double *h = k->h;
    double dp = 2.0 * M_PI / (double)np, sum;
    size_t j = 0;
    for (size_t a = 0; a < nr; a++) {
        double r, wr;
        gsl_integration_glfixed_point(0.0, T, a, &r, &wr, gr);
        wr *= r * r * exp(-0.5 * r * r);
        for (size_t b = 0; b < nt; b++) {
            double ct, wt;
            gsl_integration_glfixed_point(-1.0, 1.0, b, &ct, &wt, gt);
            double st = sqrt(fmax(0.0, 1.0 - ct * ct)), w = wr * wt * dp;
            for (size_t m = 0; m < np; m++, j++) {
                offset[3 * j] = h[0] * r * st * cp[2 * m];
                offset[3 * j + 1] = h[1] * r * st * cp[2 * m + 1];
                offset[3 * j + 2] = h[2] * r * ct;
                weight[j] = w;
            }
        }
    }
    gsl_integration_glfixed_table_free(gr);
    gsl_integration_glfixed_table_free(gt);
    free(cp);
    /* the normalising sum, compensated (Neumaier), so that the weights sum to 1 to the
     * last bits rather than to ~sqrt(P) roundings */
    double comp = 0;
    sum = 0;
    for (size_t i = 0; i < j; i++) {
        double t = sum + weight[i];
        comp += fabs(sum) >= fabs(weight[i]) ? (sum - t) + weight[i] : (weight[i] - t) + sum;
        sum = t;
    }
    sum += comp;
    for (size_t i = 0; i < j; i++)
        weight[i] /= sum;
    if (mass)
        *mass = sum / (pow(2.0 * M_PI, 1.5) * chi3_cdf(T));
    return PF_OK;
}

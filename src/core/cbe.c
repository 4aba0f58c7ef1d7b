/*
 * cbe.c -- least-squares accelerations from the Boltzmann equation (see cbe.h).
 *
 * Why closed form: the objective is quadratic in the three components of a, so its
 * minimum is the solution of the 3x3 normal equations M a = -b. M is a sum of outer
 * products, symmetric positive semi-definite: a hand-written Cholesky factorisation
 * solves it, and a failed pivot means M is singular (all g_k in a plane).
 */
#include <math.h>
#include <float.h>
#include "phaseflow/cbe.h"

void pf_cbe_eig3(const double m[9], double lam[3])
{
    double a11 = m[0], a22 = m[4], a33 = m[8];
    double a12 = m[1], a13 = m[2], a23 = m[5];
    double p1 = a12 * a12 + a13 * a13 + a23 * a23;
    double q = (a11 + a22 + a33) / 3.0;
    if (p1 <= 1e-300 * (q * q + 1e-300)) {
        double d[3] = {a11, a22, a33};
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
                if (d[j] < d[i]) {
                    double t = d[i];
                    d[i] = d[j];
                    d[j] = t;
                }
        lam[0] = d[0], lam[1] = d[1], lam[2] = d[2];
        return;
    }
    double p2 = (a11 - q) * (a11 - q) + (a22 - q) * (a22 - q) + (a33 - q) * (a33 - q) + 2 * p1;
    double p = sqrt(p2 / 6.0);
    /* B = (A - qI)/p; r = det(B)/2 */
    double b11 = (a11 - q) / p, b22 = (a22 - q) / p, b33 = (a33 - q) / p;
    double b12 = a12 / p, b13 = a13 / p, b23 = a23 / p;
    double detb = b11 * (b22 * b33 - b23 * b23) - b12 * (b12 * b33 - b23 * b13) +
                  b13 * (b12 * b23 - b22 * b13);
    double r = detb / 2.0;
    double phi = r <= -1 ? M_PI / 3.0 : r >= 1 ? 0.0 : acos(r) / 3.0;
    double e1 = q + 2 * p * cos(phi);
    double e3 = q + 2 * p * cos(phi + 2.0 * M_PI / 3.0);
    lam[2] = e1;
    lam[0] = e3;
    lam[1] = 3 * q - e1 - e3;
}

/* Solve M a = rhs for symmetric positive-definite M by Cholesky. Returns 0 on
 * success, -1 if a pivot is not positive (M singular to working precision). */
static int chol3_solve(const double m[9], const double rhs[3], double a[3])
{
    double l11, l21, l31, l22, l32, l33;
    double scale = fmax(fmax(m[0], m[4]), m[8]);
    if (!(scale > 0))
        return -1;
    double tiny = scale * 1e-15;
    if (!(m[0] > tiny))
        return -1;
    l11 = sqrt(m[0]);
    l21 = m[1] / l11;
    l31 = m[2] / l11;
    double d2 = m[4] - l21 * l21;
    if (!(d2 > tiny))
        return -1;
    l22 = sqrt(d2);
    l32 = (m[5] - l31 * l21) / l22;
    double d3 = m[8] - l31 * l31 - l32 * l32;
    if (!(d3 > tiny))
        return -1;
    l33 = sqrt(d3);
    double y1 = rhs[0] / l11;
    double y2 = (rhs[1] - l21 * y1) / l22;
    double y3 = (rhs[2] - l31 * y1 - l32 * y2) / l33;
    a[2] = y3 / l33;
    a[1] = (y2 - l32 * a[2]) / l22;
    a[0] = (y1 - l21 * a[1] - l31 * a[2]) / l11;
    return 0;
}

static int row_ok(const double *v, const double *gx, const double *gv, double vmax2)
{
    for (int j = 0; j < 3; j++)
        if (!isfinite(v[j]) || !isfinite(gx[j]) || !isfinite(gv[j]))
            return 0;
    if (vmax2 > 0 && v[0] * v[0] + v[1] * v[1] + v[2] * v[2] >= vmax2)
        return 0;
    return 1;
}

/* One position: accumulate M, b over the usable rows, solve, then the residuals. */
static void solve_one(size_t nv, const double *v, const double *gx, const double *gv,
                      const double *logf, double vmax2, int form, double *acc,
                      double *cond, double *rms, double *used)
{
    double lmax = -INFINITY;
    if (form == PF_CBE_F) {
        for (size_t k = 0; k < nv; k++)
            if (row_ok(v + 3 * k, gx + 3 * k, gv + 3 * k, vmax2) && isfinite(logf[k]) &&
                logf[k] > lmax)
                lmax = logf[k];
    }
    double m[9] = {0}, b[3] = {0};
    size_t n = 0;
    for (size_t k = 0; k < nv; k++) {
        const double *vk = v + 3 * k, *xk = gx + 3 * k, *wk = gv + 3 * k;
        if (!row_ok(vk, xk, wk, vmax2))
            continue;
        double w2 = 1.0;
        if (form == PF_CBE_F) {
            if (!isfinite(logf[k]))
                continue;
            double w = exp(logf[k] - lmax);
            w2 = w * w;
        }
        double s = (vk[0] * xk[0] + vk[1] * xk[1] + vk[2] * xk[2]) * w2;
        for (int i = 0; i < 3; i++) {
            b[i] += s * wk[i];
            for (int j = i; j < 3; j++)
                m[3 * i + j] += w2 * wk[i] * wk[j];
        }
        n++;
    }
    m[3] = m[1], m[6] = m[2], m[7] = m[5];
    double a[3] = {NAN, NAN, NAN}, lam[3];
    double c = INFINITY;
    if (n >= 3) {
        pf_cbe_eig3(m, lam);
        if (lam[0] > 0)
            c = lam[2] / lam[0];
        double rhs[3] = {-b[0], -b[1], -b[2]};
        if (chol3_solve(m, rhs, a) != 0)
            a[0] = a[1] = a[2] = NAN, c = INFINITY;
    }
    double ss = 0;
    for (size_t k = 0; k < nv; k++) {
        const double *vk = v + 3 * k, *xk = gx + 3 * k, *wk = gv + 3 * k;
        if (!row_ok(vk, xk, wk, vmax2) || (form == PF_CBE_F && !isfinite(logf[k])))
            continue;
        double r = vk[0] * xk[0] + vk[1] * xk[1] + vk[2] * xk[2] + a[0] * wk[0] +
                   a[1] * wk[1] + a[2] * wk[2];
        ss += r * r;
    }
    acc[0] = a[0], acc[1] = a[1], acc[2] = a[2];
    if (cond)
        *cond = c;
    if (rms)
        *rms = n ? sqrt(ss / (double)n) : NAN;
    if (used)
        *used = (double)n;
}

int pf_cbe_solve(size_t npos, size_t nv, const double *v, const double *gx,
                 const double *gv, const double *logf, double vmax, int form,
                 double *acc, double *cond, double *rms, double *used, pf_err *err)
{
    if (nv == 0)
        return pf_err_set(err, PF_EINVAL, "no velocities per position (nv = 0)");
    if (!v || !gx || !gv || !acc)
        return pf_err_set(err, PF_EINVAL, "NULL input or output array");
    if (form != PF_CBE_F && form != PF_CBE_LOGF)
        return pf_err_set(err, PF_EINVAL, "unknown form %d", form);
    if (form == PF_CBE_F && !logf)
        return pf_err_set(err, PF_EINVAL, "the f form needs log f values");
    if (isnan(vmax))
        return pf_err_set(err, PF_EINVAL, "vmax is NaN");
    double vmax2 = vmax > 0 && isfinite(vmax) ? vmax * vmax : 0;
    long long np = (long long)npos;
#pragma omp parallel for schedule(dynamic, 1)
    for (long long i = 0; i < np; i++) {
        size_t o = (size_t)i * nv;
        solve_one(nv, v + 3 * o, gx + 3 * o, gv + 3 * o, form == PF_CBE_F ? logf + o : NULL,
                  vmax2, form, acc + 3 * (size_t)i, cond ? cond + i : NULL,
                  rms ? rms + i : NULL, used ? used + i : NULL);
    }
    return PF_OK;
}

int pf_cbe_dlnf_dt(size_t n, const double *v, const double *gx, const double *gv,
                   const double *a, size_t a_stride, double *out, pf_err *err)
{
    if (!v || !gx || !gv || !a || !out)
        return pf_err_set(err, PF_EINVAL, "NULL input or output array");
    if (a_stride != 0 && a_stride != 3)
        return pf_err_set(err, PF_EINVAL, "a_stride must be 0 or 3, got %zu", a_stride);
    for (size_t k = 0; k < n; k++) {
        const double *ak = a + a_stride * k;
        const double *vk = v + 3 * k, *xk = gx + 3 * k, *wk = gv + 3 * k;
        out[k] = -(vk[0] * xk[0] + vk[1] * xk[1] + vk[2] * xk[2] + ak[0] * wk[0] +
                   ak[1] * wk[1] + ak[2] * wk[2]);
    }
    return PF_OK;
}

/*
 * maf_prep.c -- the flows' preprocessing map (sphere to R^3, standardisation) of inputs and
 * contexts: one row, its reverse-mode and inverse (see pf_maf_set_prep in phaseflow/maf.h).
 */
#include <math.h>
#include <stdlib.h>
#include "maf_internal.h"

/* artanh(r)/r, and the log-Jacobian part L(r) = -ln(1-r^2) + 2 ln(artanh r / r), with
 * series below r = 1e-3 where the closed forms cancel. */
static void sphere_terms(double r2, double *g, double *L)
{
    if (r2 < 1e-6) {
        *g = 1.0 + r2 / 3.0 + r2 * r2 / 5.0;
        *L = 5.0 / 3.0 * r2 + 71.0 / 90.0 * r2 * r2;
    } else {
        double r = sqrt(r2);
        *g = atanh(r) / r;
        *L = -log1p(-r2) + 2.0 * log(*g);
    }
}

/* y = prep(x) for one row; returns ln|det dy/dx| (-inf outside the sphere). */
double maf_prep_row(const prep *p, int d, const double *x, double *y)
{
    double lj = p->lj_const;
    int j0 = 0;
    if (p->sphere) {
        double u[3], r2 = 0;
        for (int k = 0; k < 3; k++) {
            u[k] = (x[k] - p->centre[k]) / p->radius;
            r2 += u[k] * u[k];
        }
        if (!(r2 < 1.0)) {
            for (int j = 0; j < d; j++)
                y[j] = 0;
            return -INFINITY;
        }
        double g, L;
        sphere_terms(r2, &g, &L);
        lj += L;
        for (int k = 0; k < 3; k++)
            y[k] = (g * u[k] - p->mean[k]) / p->std[k];
        j0 = 3;
    }
    for (int j = j0; j < d; j++)
        y[j] = (x[j] - p->mean[j]) / p->std[j];
    return lj;
}

/* gx = (dy/dx)^T gy + wt * d(ln|det|)/dx for one row. */
void maf_prep_back(const prep *p, int d, const double *x, const double *gy, double wt,
                   double *gx)
{
    int j0 = 0;
    if (p->sphere) {
        double u[3], gw[3], r2 = 0, ug = 0;
        for (int k = 0; k < 3; k++) {
            u[k] = (x[k] - p->centre[k]) / p->radius;
            r2 += u[k] * u[k];
            gw[k] = gy[k] / p->std[k];
            ug += u[k] * gw[k];
        }
        if (!(r2 < 1.0)) {
            for (int j = 0; j < d; j++)
                gx[j] = 0;
            return;
        }
        double g, q, Lr;
        /* q = (1/(1-r^2) - g)/r^2 (radial minus tangential stretch), Lr = L'(r)/r */
        if (r2 < 1e-6) {
            g = 1.0 + r2 / 3.0 + r2 * r2 / 5.0;
            q = 2.0 / 3.0 + 0.8 * r2;
            Lr = 10.0 / 3.0 + 142.0 / 45.0 * r2;
        } else {
            double r = sqrt(r2), at = atanh(r), om = 1.0 - r2;
            g = at / r;
            q = (1.0 / om - g) / r2;
            Lr = 2.0 / om + 2.0 / (r * om * at) - 2.0 / r2;
        }
        for (int k = 0; k < 3; k++)
            gx[k] = (g * gw[k] + q * ug * u[k] + wt * Lr * u[k]) / p->radius;
        j0 = 3;
    }
    for (int j = j0; j < d; j++)
        gx[j] = gy[j] / p->std[j];
}

/* x = prep^-1(y) for one row. */
void maf_prep_inv_row(const prep *p, int d, const double *y, double *x)
{
    int j0 = 0;
    if (p->sphere) {
        double w[3], s2 = 0;
        for (int k = 0; k < 3; k++) {
            w[k] = y[k] * p->std[k] + p->mean[k];
            s2 += w[k] * w[k];
        }
        double s = sqrt(s2), h = s < 1e-8 ? 1.0 - s2 / 3.0 : tanh(s) / s;
        for (int k = 0; k < 3; k++)
            x[k] = p->centre[k] + p->radius * h * w[k];
        j0 = 3;
    }
    for (int j = j0; j < d; j++)
        x[j] = y[j] * p->std[j] + p->mean[j];
}

int maf_prep_init(prep *p, int d)
{
    p->sphere = 0;
    p->radius = 1;
    p->centre[0] = p->centre[1] = p->centre[2] = 0;
    p->mean = calloc((size_t)(d > 0 ? d : 1), sizeof(double));
    p->std = malloc((size_t)(d > 0 ? d : 1) * sizeof(double));
    if (!p->mean || !p->std)
        return PF_ENOMEM;
    for (int j = 0; j < d; j++)
        p->std[j] = 1;
    p->lj_const = 0;
    return PF_OK;
}

int pf_maf_set_prep(pf_maf *f, int which, const pf_maf_prep *p, pf_err *err)
{
    prep *q = which ? &f->pcx : &f->pin;
    int d = which ? f->C : f->D;
    if (which != 0 && which != 1)
        return pf_err_set(err, PF_EINVAL, "maf: prep target must be 0 (input) or 1 (context)");
    if (p->sphere && d < 3)
        return pf_err_set(err, PF_EINVAL, "maf: the sphere map needs at least 3 dimensions");
    if (p->sphere && !(p->radius > 0 && isfinite(p->radius)))
        return pf_err_set(err, PF_EINVAL, "maf: sphere radius must be positive and finite");
    for (int j = 0; j < d; j++) {
        if (p->std && !(p->std[j] > 0 && isfinite(p->std[j])))
            return pf_err_set(err, PF_EINVAL, "maf: std[%d] must be positive and finite", j);
        if (p->mean && !isfinite(p->mean[j]))
            return pf_err_set(err, PF_EINVAL, "maf: mean[%d] must be finite", j);
    }
    q->sphere = p->sphere;
    q->radius = p->sphere ? p->radius : 1.0;
    for (int k = 0; k < 3; k++)
        q->centre[k] = p->sphere ? p->centre[k] : 0.0;
    double lj = 0;
    for (int j = 0; j < d; j++) {
        q->mean[j] = p->mean ? p->mean[j] : 0.0;
        q->std[j] = p->std ? p->std[j] : 1.0;
        lj -= log(q->std[j]);
    }
    if (q->sphere)
        lj -= 3.0 * log(q->radius);
    q->lj_const = lj;
    return PF_OK;
}

void pf_maf_get_prep(const pf_maf *f, int which, int *sphere, double centre[3],
                     double *radius, double *mean, double *std)
{
    const prep *q = which ? &f->pcx : &f->pin;
    int d = which ? f->C : f->D;
    *sphere = q->sphere;
    *radius = q->radius;
    for (int k = 0; k < 3; k++)
        centre[k] = q->centre[k];
    for (int j = 0; j < d; j++) {
        mean[j] = q->mean[j];
        std[j] = q->std[j];
    }
}

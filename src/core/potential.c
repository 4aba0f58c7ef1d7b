/*
 * potential.c -- analytic axisymmetric potentials (see phaseflow/potential.h).
 *
 * Spherical components are written through three radial functions: the enclosed
 * mass M(<r), the density rho(r) and the potential phi(r); the force follows as
 * -G M(<r) / r^2 along r, which stays accurate near the centre where differencing
 * phi would not. The cut-off power law needs incomplete gamma functions (GSL's
 * _e variants, so that GSL's error handler is never reached).
 */
#include <math.h>
#include <string.h>
#include <gsl/gsl_sf_gamma.h>
#include "phaseflow/potential.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

const char *pf_potcomp_name(int type)
{
    switch (type) {
    case PF_POT_POWER_CUTOFF: return "power_cutoff";
    case PF_POT_MIYAMOTO_NAGAI: return "miyamoto_nagai";
    case PF_POT_NFW: return "nfw";
    case PF_POT_HERNQUIST: return "hernquist";
    case PF_POT_PLUMMER: return "plummer";
    default: return "unknown";
    }
}

int pf_potcomp_check(const pf_potcomp *c, pf_err *err)
{
    if (!isfinite(c->amp))
        return pf_err_set(err, PF_EINVAL, "%s: amplitude must be finite", pf_potcomp_name(c->type));
    switch (c->type) {
    case PF_POT_POWER_CUTOFF:
        if (!(c->alpha >= 0 && c->alpha < 3))
            return pf_err_set(err, PF_EINVAL, "power_cutoff: alpha must be in [0, 3), got %g", c->alpha);
        if (!(c->rc > 0 && isfinite(c->rc)))
            return pf_err_set(err, PF_EINVAL, "power_cutoff: rc must be positive, got %g", c->rc);
        return PF_OK;
    case PF_POT_MIYAMOTO_NAGAI:
        if (!(c->a >= 0 && isfinite(c->a)))
            return pf_err_set(err, PF_EINVAL, "miyamoto_nagai: a must be >= 0, got %g", c->a);
        if (!(c->b > 0 && isfinite(c->b)))
            return pf_err_set(err, PF_EINVAL, "miyamoto_nagai: b must be positive, got %g", c->b);
        return PF_OK;
    case PF_POT_NFW:
    case PF_POT_HERNQUIST:
    case PF_POT_PLUMMER:
        if (!(c->a > 0 && isfinite(c->a)))
            return pf_err_set(err, PF_EINVAL, "%s: a must be positive, got %g",
                              pf_potcomp_name(c->type), c->a);
        return PF_OK;
    default:
        return pf_err_set(err, PF_EINVAL, "unknown potential component type %d", c->type);
    }
}

/* ---- spherical components ------------------------------------------------------ */

static double gamma_upper(double s, double x)
{
    gsl_sf_result r;
    if (gsl_sf_gamma_inc_e(s, x, &r) != 0)
        return NAN;
    return r.val;
}

static double gamma_lower(double s, double x)
{
    gsl_sf_result p, g;
    if (gsl_sf_gamma_inc_P_e(s, x, &p) != 0 || gsl_sf_gamma_e(s, &g) != 0)
        return NAN;
    return p.val * g.val;
}

/* Enclosed mass (Msun) of a spherical component within r (kpc). */
static double sph_mass(const pf_potcomp *c, double r)
{
    double a = c->a, m = c->amp;
    switch (c->type) {
    case PF_POT_POWER_CUTOFF: {
        double x = (r / c->rc) * (r / c->rc);
        return 2 * M_PI * m * pow(c->rc, 3 - c->alpha) * gamma_lower(1.5 - 0.5 * c->alpha, x);
    }
    case PF_POT_NFW: {
        double s = r / a;
        /* log1p(s) - s/(1+s) loses digits for small s: use the series there. */
        if (s < 1e-3)
            return m * s * s * (0.5 - s * (2.0 / 3.0 - s * 0.75));
        return m * (log1p(s) - s / (1 + s));
    }
    case PF_POT_HERNQUIST:
        return m * r * r / ((r + a) * (r + a));
    case PF_POT_PLUMMER:
        return m * r * r * r / pow(r * r + a * a, 1.5);
    default:
        return NAN;
    }
}

static double sph_density(const pf_potcomp *c, double r)
{
    double a = c->a, m = c->amp;
    switch (c->type) {
    case PF_POT_POWER_CUTOFF:
        return m * pow(r, -c->alpha) * exp(-(r / c->rc) * (r / c->rc));
    case PF_POT_NFW: {
        double s = r / a;
        return m / (4 * M_PI * a * a * a * s * (1 + s) * (1 + s));
    }
    case PF_POT_HERNQUIST:
        return m * a / (2 * M_PI * r * pow(r + a, 3));
    case PF_POT_PLUMMER:
        return 3 * m * a * a / (4 * M_PI * pow(r * r + a * a, 2.5));
    default:
        return NAN;
    }
}

static double sph_phi(const pf_potcomp *c, double r)
{
    double a = c->a, m = c->amp;
    switch (c->type) {
    case PF_POT_POWER_CUTOFF: {
        double x = (r / c->rc) * (r / c->rc);
        double outer = 2 * M_PI * PF_G * m * pow(c->rc, 2 - c->alpha)
                       * gamma_upper(1 - 0.5 * c->alpha, x);
        if (r == 0)
            return -outer;
        return -PF_G * sph_mass(c, r) / r - outer;
    }
    case PF_POT_NFW: {
        double s = r / a;
        if (s < 1e-8)
            return -PF_G * m / a * (1 - 0.5 * s);
        return -PF_G * m * log1p(s) / r;
    }
    case PF_POT_HERNQUIST:
        return -PF_G * m / (r + a);
    case PF_POT_PLUMMER:
        return -PF_G * m / sqrt(r * r + a * a);
    default:
        return NAN;
    }
}

/* ---- one component at (R, z) ----------------------------------------------------- */

static void comp_eval(const pf_potcomp *c, double R, double z, double *phi, double *dR,
                      double *dz)
{
    if (c->type == PF_POT_MIYAMOTO_NAGAI) {
        double s = sqrt(z * z + c->b * c->b), as = c->a + s;
        double D2 = R * R + as * as, D = sqrt(D2), D3 = D2 * D;
        double gm = PF_G * c->amp;
        *phi = -gm / D;
        *dR = gm * R / D3;
        *dz = gm * as * z / (s * D3);
        return;
    }
    double r = sqrt(R * R + z * z);
    *phi = sph_phi(c, r);
    if (r == 0) {
        *dR = *dz = 0;
        return;
    }
    double g = PF_G * sph_mass(c, r) / (r * r * r);
    *dR = g * R;
    *dz = g * z;
}

static double comp_density(const pf_potcomp *c, double R, double z)
{
    if (c->type == PF_POT_MIYAMOTO_NAGAI) {
        double a = c->a, b = c->b;
        double s = sqrt(z * z + b * b), as = a + s;
        double D2 = R * R + as * as;
        return b * b * c->amp / (4 * M_PI) * (a * R * R + (a + 3 * s) * as * as)
               / (pow(D2, 2.5) * s * s * s);
    }
    double r = sqrt(R * R + z * z);
    if (r == 0 && (c->type == PF_POT_POWER_CUTOFF || c->type == PF_POT_NFW
                   || c->type == PF_POT_HERNQUIST))
        return (c->type == PF_POT_POWER_CUTOFF && c->alpha == 0) ? c->amp : INFINITY;
    return sph_density(c, r);
}

/* dPhi/dR and d2Phi/dR2 in the plane. For a spherical component
 * d2Phi/dr2 = 4 pi G rho - 2 G M / r^3. */
static void comp_planar(const pf_potcomp *c, double R, double *d1, double *d2)
{
    if (c->type == PF_POT_MIYAMOTO_NAGAI) {
        double as = c->a + c->b, D2 = R * R + as * as, D = sqrt(D2);
        double gm = PF_G * c->amp;
        *d1 = gm * R / (D2 * D);
        *d2 = gm * (1 / (D2 * D) - 3 * R * R / (D2 * D2 * D));
        return;
    }
    double gm = PF_G * sph_mass(c, R);
    *d1 = gm / (R * R);
    *d2 = 4 * M_PI * PF_G * sph_density(c, R) - 2 * gm / (R * R * R);
}

int pf_potcomp_normalize(pf_potcomp *c, double frac, double r0, double v0, pf_err *err)
{
    if (!(r0 > 0) || !isfinite(v0) || !isfinite(frac))
        return pf_err_set(err, PF_EINVAL, "normalize: need r0 > 0 and finite v0, frac");
    c->amp = 1;
    int st = pf_potcomp_check(c, err);
    if (st)
        return st;
    double d1, d2;
    comp_planar(c, r0, &d1, &d2);
    if (!(d1 > 0) || !isfinite(d1))
        return pf_err_set(err, PF_ENUM, "normalize: %s has no radial force at r0", pf_potcomp_name(c->type));
    c->amp = frac * v0 * v0 / r0 / d1;
    return PF_OK;
}

/* ---- potentials ------------------------------------------------------------------ */

void pf_potential_init(pf_potential *p)
{
    memset(p, 0, sizeof *p);
}

int pf_potential_add(pf_potential *p, const pf_potcomp *c, pf_err *err)
{
    int st = pf_potcomp_check(c, err);
    if (st)
        return st;
    if (p->n >= PF_POT_MAXCOMP)
        return pf_err_set(err, PF_EINVAL, "potential: at most %d components", PF_POT_MAXCOMP);
    p->comp[p->n++] = *c;
    return PF_OK;
}

int pf_potential_sum(pf_potential *dst, const pf_potential *a, const pf_potential *b,
                     pf_err *err)
{
    if (a->n + b->n > PF_POT_MAXCOMP)
        return pf_err_set(err, PF_EINVAL, "potential: a sum has at most %d components", PF_POT_MAXCOMP);
    pf_potential tmp = *a;
    for (int i = 0; i < b->n; i++)
        tmp.comp[tmp.n++] = b->comp[i];
    *dst = tmp;
    return PF_OK;
}

void pf_potential_mw2014(pf_potential *p)
{
    pf_potential_init(p);
    pf_potcomp bulge = {PF_POT_POWER_CUTOFF, 1, 0, 0, 1.8, 1.9};
    pf_potcomp disk = {PF_POT_MIYAMOTO_NAGAI, 1, 3.0, 0.28, 0, 0};
    pf_potcomp halo = {PF_POT_NFW, 1, 16.0, 0, 0, 0};
    pf_potcomp_normalize(&bulge, 0.05, 8.0, 220.0, NULL);
    pf_potcomp_normalize(&disk, 0.60, 8.0, 220.0, NULL);
    pf_potcomp_normalize(&halo, 0.35, 8.0, 220.0, NULL);
    pf_potential_add(p, &bulge, NULL);
    pf_potential_add(p, &disk, NULL);
    pf_potential_add(p, &halo, NULL);
}

void pf_potential_eval_rz(const pf_potential *p, double R, double z, double *phi,
                          double *dphi_dR, double *dphi_dz)
{
    double f = 0, dR = 0, dz = 0;
    for (int i = 0; i < p->n; i++) {
        double a, b, c;
        comp_eval(&p->comp[i], R, z, &a, &b, &c);
        f += a;
        dR += b;
        dz += c;
    }
    *phi = f;
    *dphi_dR = dR;
    *dphi_dz = dz;
}

double pf_potential_phi(const pf_potential *p, const double x[3])
{
    double f, dR, dz;
    pf_potential_eval_rz(p, hypot(x[0], x[1]), x[2], &f, &dR, &dz);
    return f;
}

void pf_potential_acc(const pf_potential *p, const double x[3], double acc[3])
{
    double f, dR, dz, R = hypot(x[0], x[1]);
    pf_potential_eval_rz(p, R, x[2], &f, &dR, &dz);
    if (R > 0) {
        acc[0] = -dR * x[0] / R;
        acc[1] = -dR * x[1] / R;
    } else {
        acc[0] = acc[1] = 0;
    }
    acc[2] = -dz;
}

double pf_potential_density(const pf_potential *p, const double x[3])
{
    double R = hypot(x[0], x[1]), rho = 0;
    for (int i = 0; i < p->n; i++)
        rho += comp_density(&p->comp[i], R, x[2]);
    return rho;
}

void pf_potential_planar(const pf_potential *p, double R, double *dphi_dR, double *d2phi_dR2)
{
    double d1 = 0, d2 = 0;
    for (int i = 0; i < p->n; i++) {
        double a, b;
        comp_planar(&p->comp[i], R, &a, &b);
        d1 += a;
        d2 += b;
    }
    *dphi_dR = d1;
    *d2phi_dR2 = d2;
}

double pf_potential_vcirc(const pf_potential *p, double R)
{
    double d1, d2;
    pf_potential_planar(p, R, &d1, &d2);
    return sqrt(R * d1);
}

void pf_potential_phi_n(const pf_potential *p, size_t n, const double *x, double *out)
{
#pragma omp parallel for schedule(static) if (n > 2000)
    for (size_t i = 0; i < n; i++)
        out[i] = pf_potential_phi(p, x + 3 * i);
}

void pf_potential_acc_n(const pf_potential *p, size_t n, const double *x, double *out)
{
#pragma omp parallel for schedule(static) if (n > 2000)
    for (size_t i = 0; i < n; i++)
        pf_potential_acc(p, x + 3 * i, out + 3 * i);
}

void pf_potential_density_n(const pf_potential *p, size_t n, const double *x, double *out)
{
#pragma omp parallel for schedule(static) if (n > 2000)
    for (size_t i = 0; i < n; i++)
        out[i] = pf_potential_density(p, x + 3 * i);
}

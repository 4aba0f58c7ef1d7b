/*
 * mock.c -- equilibrium tracer populations f(E, L) (see phaseflow/mock.h).
 *
 * Why (E, L) only: any function of the integrals of motion solves the collisionless
 * Boltzmann equation exactly, so the truth needs no simulation. All derivatives are
 * analytic through the chain rule; the only implicit quantity is the guiding radius
 * Rg(L), the root of Rg^3 dPhi/dR(Rg, 0) = L^2, found by safeguarded Newton to
 * machine precision, whose derivative follows from dL/dRg = Rg kappa^2 / (2 Omega).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_integration.h>
#include "phaseflow/mock.h"
#include "phaseflow/rng.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define QLIMIT 400
#define UMAX_DISK 1500.0

void pf_population_default(pf_population *p, int type)
{
    memset(p, 0, sizeof *p);
    p->type = type;
    p->weight = 1;
    p->rd = 2.6;
    p->sigma0 = 32;
    p->r0 = 8.122;
    p->rsigma = 9.0;
    p->l0 = 200;
    p->sigma = 170;
    p->beta = 0.2;
    p->lh = 500;
    p->et = 0;
}

int pf_mock_init(pf_mock *m, const pf_potential *pot, const double center[3], double radius,
                 pf_err *err)
{
    memset(m, 0, sizeof *m);
    if (pot->n < 1)
        return pf_err_set(err, PF_EINVAL, "mock: the potential has no components");
    if (!(radius > 0) || !isfinite(radius))
        return pf_err_set(err, PF_EINVAL, "mock: radius must be positive, got %g", radius);
    m->pot = *pot;
    memcpy(m->center, center, sizeof m->center);
    m->radius = radius;
    return PF_OK;
}

int pf_mock_add(pf_mock *m, const pf_population *p, pf_err *err)
{
    if (m->npop >= PF_MOCK_MAXPOP)
        return pf_err_set(err, PF_EINVAL, "mock: at most %d populations", PF_MOCK_MAXPOP);
    if (!(p->weight > 0) || !isfinite(p->weight))
        return pf_err_set(err, PF_EINVAL, "mock: population weight must be positive");
    if (p->type == PF_POP_DISK) {
        if (!(p->rd > 0 && p->sigma0 > 0 && p->rsigma > 0 && p->l0 > 0 && p->r0 > 0))
            return pf_err_set(err, PF_EINVAL, "mock: disk needs positive rd, sigma0, r0, rsigma, l0");
    } else if (p->type == PF_POP_HALO) {
        if (!(p->sigma > 0 && p->lh > 0 && fabs(p->beta) < 1 && p->et <= 0))
            return pf_err_set(err, PF_EINVAL,
                              "mock: halo needs sigma > 0, lh > 0, |beta| < 1, et <= 0");
    } else {
        return pf_err_set(err, PF_EINVAL, "mock: unknown population type %d", p->type);
    }
    m->pop[m->npop++] = *p;
    m->prepared = 0;
    return PF_OK;
}

/* ---- guiding radius ---------------------------------------------------------------- */

/* Rg with Rg^3 Phi_R(Rg) = aL^2 (aL >= 0); *dr = dRg/daL. */
static double guiding_radius(const pf_potential *pot, double aL, double *dr)
{
    if (aL < 1e-10) {
        *dr = 0;
        return 0;
    }
    double R = aL / 220.0, lo = 0, hi = INFINITY, d1, d2, Lc, dh = 1;
    for (int it = 0; it < 200; it++) {
        pf_potential_planar(pot, R, &d1, &d2);
        Lc = sqrt(R * R * R * d1);
        double h = Lc - aL;
        if (h > 0)
            hi = R;
        else
            lo = R;
        dh = (3 * R * R * d1 + R * R * R * d2) / (2 * Lc);
        double Rn = R - h / dh;
        if (!(Rn > lo && Rn < hi))
            Rn = isfinite(hi) ? 0.5 * (lo + hi) : 2 * R;
        if (fabs(Rn - R) <= 4e-16 * R) {
            R = Rn;
            break;
        }
        R = Rn;
    }
    pf_potential_planar(pot, R, &d1, &d2);
    Lc = sqrt(R * R * R * d1);
    *dr = 2 * Lc / (3 * R * R * d1 + R * R * R * d2);
    return R;
}

/* The L-dependent parts of population p: ln A, Eref, s and their L derivatives. */
typedef struct lpart {
    double lnA, dlnA, eref, deref, s, dlns;
} lpart;

static double log_sigmoid(double t)
{
    return t > 0 ? -log1p(exp(-t)) : t - log1p(exp(t));
}

static void pop_lpart(const pf_potential *pot, const pf_population *p, double L, lpart *o)
{
    if (p->type == PF_POP_HALO) {
        double th = tanh(L / p->lh);
        o->lnA = log1p(p->beta * th);
        o->dlnA = p->beta * (1 - th * th) / p->lh / (1 + p->beta * th);
        o->eref = o->deref = 0;
        o->s = p->sigma * p->sigma;
        o->dlns = 0;
        return;
    }
    double dra, aL = fabs(L);
    double Rg = guiding_radius(pot, aL, &dra);
    double drg = L < 0 ? -dra : dra;
    double phi, dR, dz;
    pf_potential_eval_rz(pot, Rg, 0, &phi, &dR, &dz);
    double t = L / p->l0;
    double lnsig = log(p->sigma0) - (Rg - p->r0) / p->rsigma;
    o->lnA = log_sigmoid(t) - Rg / p->rd - 3 * lnsig;
    o->dlnA = exp(log_sigmoid(-t)) / p->l0 + drg * (-1 / p->rd + 3 / p->rsigma);
    o->s = exp(2 * lnsig);
    o->dlns = -2 / p->rsigma * drg;
    if (Rg > 0) {
        o->eref = phi + 0.5 * L * L / (Rg * Rg);
        o->deref = L / (Rg * Rg);
    } else {
        o->eref = phi;
        o->deref = 0;
    }
}

/* ln f_p (unnormalised) and d/dE, d/dL. */
static double pop_lnf(const pf_potential *pot, const pf_population *p, double E, double L,
                      double *dE, double *dL)
{
    lpart o;
    pop_lpart(pot, p, L, &o);
    double T = (E - o.eref) / o.s;
    double dT = -o.deref / o.s - T * o.dlns;
    if (p->type == PF_POP_DISK) {
        *dE = -1 / o.s;
        *dL = o.dlnA - dT;
        return o.lnA - T;
    }
    double d = (p->et - E) / o.s;
    if (!(d > 0)) {
        *dE = *dL = 0;
        return -INFINITY;
    }
    double em = expm1(d);
    *dE = -(1 / o.s) * (1 + 1 / em);
    double dd = -d * o.dlns;
    *dL = o.dlnA - dT + dd / em;
    return o.lnA - T + log(-expm1(-d));
}

double pf_mock_logf(const pf_mock *m, const double x[3], const double v[3], double *gx,
                    double *gv)
{
    double R = hypot(x[0], x[1]), phi, dR, dz;
    pf_potential_eval_rz(&m->pot, R, x[2], &phi, &dR, &dz);
    double E = 0.5 * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) + phi;
    double L = x[1] * v[0] - x[0] * v[1];
    double lk[PF_MOCK_MAXPOP], dEk[PF_MOCK_MAXPOP], dLk[PF_MOCK_MAXPOP], mx = -INFINITY;
    for (int k = 0; k < m->npop; k++) {
        lk[k] = m->pop[k].lognorm + pop_lnf(&m->pot, &m->pop[k], E, L, &dEk[k], &dLk[k]);
        if (lk[k] > mx)
            mx = lk[k];
    }
    if (!(mx > -INFINITY)) {
        if (gx)
            gx[0] = gx[1] = gx[2] = 0;
        if (gv)
            gv[0] = gv[1] = gv[2] = 0;
        return -INFINITY;
    }
    double sum = 0, dE = 0, dL = 0;
    for (int k = 0; k < m->npop; k++) {
        double w = exp(lk[k] - mx);
        sum += w;
        if (w > 0) {
            dE += w * dEk[k];
            dL += w * dLk[k];
        }
    }
    dE /= sum;
    dL /= sum;
    if (gx) {
        double gpx = R > 0 ? dR * x[0] / R : 0, gpy = R > 0 ? dR * x[1] / R : 0;
        gx[0] = dE * gpx - dL * v[1];
        gx[1] = dE * gpy + dL * v[0];
        gx[2] = dE * dz;
    }
    if (gv) {
        gv[0] = dE * v[0] + dL * x[1];
        gv[1] = dE * v[1] - dL * x[0];
        gv[2] = dE * v[2];
    }
    return mx + log(sum);
}

int pf_mock_logf_n(const pf_mock *m, size_t n, const double *x, const double *v, double *logf,
                   double *gx, double *gv, pf_err *err)
{
    if (!m->prepared)
        return pf_err_set(err, PF_ESTATE, "mock: not prepared");
#pragma omp parallel for schedule(static) if (n > 500)
    for (size_t i = 0; i < n; i++)
        logf[i] = pf_mock_logf(m, x + 3 * i, v + 3 * i, gx ? gx + 3 * i : NULL,
                               gv ? gv + 3 * i : NULL);
    return PF_OK;
}

/* ---- number density ------------------------------------------------------------------ */

typedef struct uparams {
    const pf_potential *pot;
    const pf_population *p;
    double R, phi;
} uparams;

/* 1 - e^-d (1 + d), accurate for small d. */
static double one_minus_gamma2(double d)
{
    if (d < 1e-3)
        return d * d * (0.5 - d * (1.0 / 3.0 - d * 0.125));
    return -expm1(-d) - d * exp(-d);
}

/* Integral of f_p over vR and vz at rotation speed u: 2 pi A(L) Q. */
static double u_integrand(double u, void *vp)
{
    const uparams *q = (const uparams *)vp;
    lpart o;
    double L = q->R * u;
    pop_lpart(q->pot, q->p, L, &o);
    double B = q->phi + 0.5 * u * u - o.eref;
    if (q->p->type == PF_POP_DISK)
        return 2 * M_PI * exp(o.lnA - B / o.s + log(o.s));
    double C = q->p->et - o.eref;
    if (!(C > B))
        return 0;
    return 2 * M_PI * exp(o.lnA - B / o.s + log(o.s)) * one_minus_gamma2((C - B) / o.s);
}

static double nx_pop_ws(const pf_mock *m, int k, double R, double z, double epsrel,
                        gsl_integration_workspace *ws)
{
    const pf_population *p = &m->pop[k];
    uparams q = {&m->pot, p, R, 0};
    double dR, dz;
    pf_potential_eval_rz(&m->pot, R, z, &q.phi, &dR, &dz);
    double umax = UMAX_DISK;
    if (p->type == PF_POP_HALO) {
        if (!(p->et > q.phi))
            return 0;
        umax = sqrt(2 * (p->et - q.phi));
    }
    gsl_function F = {u_integrand, &q};
    double r1, r2, e1, e2;
    gsl_integration_qag(&F, -umax, 0, 0, epsrel, QLIMIT, GSL_INTEG_GAUSS21, ws, &r1, &e1);
    gsl_integration_qag(&F, 0, umax, 0, epsrel, QLIMIT, GSL_INTEG_GAUSS21, ws, &r2, &e2);
    return r1 + r2;
}

double pf_mock_nx_pop(const pf_mock *m, int k, double R, double z)
{
    if (k < 0 || k >= m->npop)
        return NAN;
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(QLIMIT);
    if (!ws)
        return NAN;
    double r = nx_pop_ws(m, k, R, z, 1e-10, ws);
    gsl_integration_workspace_free(ws);
    return r;
}

int pf_mock_nx(const pf_mock *m, size_t n, const double *x, double *out, pf_err *err)
{
    if (!m->prepared)
        return pf_err_set(err, PF_ESTATE, "mock: not prepared");
    int fail = 0;
#pragma omp parallel reduction(| : fail)
    {
        gsl_integration_workspace *ws = gsl_integration_workspace_alloc(QLIMIT);
        if (!ws)
            fail = 1;
#pragma omp for schedule(dynamic)
        for (size_t i = 0; i < n; i++) {
            if (!ws)
                continue;
            double R = hypot(x[3 * i], x[3 * i + 1]), s = 0;
            for (int k = 0; k < m->npop; k++)
                s += exp(m->pop[k].lognorm) * nx_pop_ws(m, k, R, x[3 * i + 2], 1e-10, ws);
            out[i] = s;
        }
        gsl_integration_workspace_free(ws);
    }
    return fail ? pf_err_set(err, PF_ENOMEM, "mock: out of memory") : PF_OK;
}

/* ---- normalisation over the sphere ----------------------------------------------------- */

typedef struct zparams {
    const pf_mock *m;
    int k;
    double z, X0;
    gsl_integration_workspace *wu, *wr;
} zparams;

/* Azimuthal angle (radians) of the circle (R, z) inside the sphere. */
static double arc_inside(double R, double X0, double rho2)
{
    if (R <= 0)
        return 2 * M_PI;
    if (X0 <= 0)
        return R * R <= rho2 ? 2 * M_PI : 0;
    double c = (R * R + X0 * X0 - rho2) / (2 * R * X0);
    if (c <= -1)
        return 2 * M_PI;
    if (c >= 1)
        return 0;
    return 2 * acos(c);
}

static double r_integrand(double R, void *vp)
{
    zparams *q = (zparams *)vp;
    double dz = q->z - q->m->center[2];
    double rho2 = q->m->radius * q->m->radius - dz * dz;
    double arc = arc_inside(R, q->X0, rho2);
    if (arc <= 0)
        return 0;
    return arc * R * nx_pop_ws(q->m, q->k, R, q->z, 1e-9, q->wu);
}

static double z_integrand(double z, void *vp)
{
    zparams *q = (zparams *)vp;
    double dz = z - q->m->center[2];
    double rho2 = q->m->radius * q->m->radius - dz * dz;
    if (rho2 <= 0)
        return 0;
    double rho = sqrt(rho2);
    double lo = fmax(0, q->X0 - rho), hi = q->X0 + rho;
    q->z = z;
    gsl_function F = {r_integrand, q};
    double r, e;
    gsl_integration_qag(&F, lo, hi, 0, 1e-8, QLIMIT, GSL_INTEG_GAUSS15, q->wr, &r, &e);
    return r;
}

#define NZPIECE 24

int pf_mock_prepare(pf_mock *m, pf_err *err)
{
    if (m->npop < 1)
        return pf_err_set(err, PF_EINVAL, "mock: no populations");
    double wsum = 0;
    for (int k = 0; k < m->npop; k++)
        wsum += m->pop[k].weight;
    double X0 = hypot(m->center[0], m->center[1]), Rs = m->radius;
    /* The z range is cut into pieces, finer near the plane, integrated in parallel. */
    double edges[NZPIECE + 1];
    for (int i = 0; i <= NZPIECE; i++) {
        double t = -1 + 2.0 * i / NZPIECE;
        edges[i] = m->center[2] + Rs * t * t * t;
    }
    double part[PF_MOCK_MAXPOP][NZPIECE];
    int fail = 0;
#pragma omp parallel reduction(| : fail)
    {
        gsl_integration_workspace *wu = gsl_integration_workspace_alloc(QLIMIT);
        gsl_integration_workspace *wr = gsl_integration_workspace_alloc(QLIMIT);
        gsl_integration_workspace *wz = gsl_integration_workspace_alloc(QLIMIT);
        if (!wu || !wr || !wz)
            fail = 1;
#pragma omp for collapse(2) schedule(dynamic)
        for (int k = 0; k < m->npop; k++)
            for (int i = 0; i < NZPIECE; i++) {
                if (!wu || !wr || !wz)
                    continue;
                zparams q = {m, k, 0, X0, wu, wr};
                gsl_function F = {z_integrand, &q};
                double r, e;
                gsl_integration_qag(&F, edges[i], edges[i + 1], 0, 1e-7, QLIMIT,
                                    GSL_INTEG_GAUSS15, wz, &r, &e);
                part[k][i] = r;
            }
        gsl_integration_workspace_free(wu);
        gsl_integration_workspace_free(wr);
        gsl_integration_workspace_free(wz);
    }
    if (fail)
        return pf_err_set(err, PF_ENOMEM, "mock: out of memory");
    for (int k = 0; k < m->npop; k++) {
        double Z = 0;
        for (int i = 0; i < NZPIECE; i++)
            Z += part[k][i];
        if (!(Z > 0) || !isfinite(Z))
            return pf_err_set(err, PF_ENUM, "mock: population %d has no stars in the sphere", k + 1);
        m->pop[k].lognorm = log(m->pop[k].weight / wsum) - log(Z);
    }
    m->prepared = 1;
    return PF_OK;
}

/* ---- sampling ------------------------------------------------------------------------ */

/* Proposal parameters of population p (positions: mixture of uniform sphere, disk
 * slab, Galactic-centre Gaussian; velocities: rotating Gaussian + broad Gaussian). */
typedef struct proposal {
    double wx[3];   /* x mixture weights */
    double hz;      /* slab scale height */
    double sg;      /* centre Gaussian width */
    double wv;      /* weight of the tuned velocity Gaussian */
    double rot;     /* fraction of vc used as the mean rotation */
    double st;      /* tuned width (km/s) (disk: times sigma(R) / sigma0) */
    double sb;      /* broad width */
    double logM;    /* envelope */
} proposal;

static void proposal_for(const pf_population *p, proposal *q)
{
    if (p->type == PF_POP_DISK) {
        q->wx[0] = 0.2; q->wx[1] = 0.6; q->wx[2] = 0.2;
        q->hz = 0.4;
        q->sg = 2.0;
        q->wv = 0.8;
        q->rot = 0.9;
        q->st = 1.5 * p->sigma0;
        q->sb = fmax(150, 1.5 * p->sigma0 * exp(p->r0 / p->rsigma));
    } else {
        q->wx[0] = 0.6; q->wx[1] = 0.0; q->wx[2] = 0.4;
        q->hz = 1;
        q->sg = 1.5;
        q->wv = 0.8;
        q->rot = 0;
        q->st = p->sigma;
        q->sb = 1.6 * p->sigma;
    }
    q->logM = 0;
}

static double tuned_sigma(const pf_population *p, const proposal *q, double R)
{
    if (p->type != PF_POP_DISK)
        return q->st;
    double s = q->st * exp(-(fmin(R, 3 * p->r0) - p->r0) / p->rsigma);
    return fmax(s, 10.0);
}

static void inside_draw(const pf_mock *m, const proposal *q, gsl_rng *r, double x[3])
{
    const double *c = m->center;
    double Rs = m->radius;
    for (;;) {
        double u = pf_rng_uniform(r);
        if (u < q->wx[0]) {
            do {
                for (int d = 0; d < 3; d++)
                    x[d] = Rs * (2 * pf_rng_uniform(r) - 1);
            } while (x[0] * x[0] + x[1] * x[1] + x[2] * x[2] > Rs * Rs);
            for (int d = 0; d < 3; d++)
                x[d] += c[d];
        } else if (u < q->wx[0] + q->wx[1]) {
            do {
                x[0] = Rs * (2 * pf_rng_uniform(r) - 1);
                x[1] = Rs * (2 * pf_rng_uniform(r) - 1);
            } while (x[0] * x[0] + x[1] * x[1] > Rs * Rs);
            x[0] += c[0];
            x[1] += c[1];
            double e = -q->hz * log(1 - pf_rng_uniform(r));
            x[2] = pf_rng_uniform(r) < 0.5 ? -e : e;
        } else {
            for (int d = 0; d < 3; d++)
                x[d] = q->sg * pf_rng_normal(r);
        }
        double dx = x[0] - c[0], dy = x[1] - c[1], dz = x[2] - c[2];
        if (dx * dx + dy * dy + dz * dz < Rs * Rs)
            return;
    }
}

static double log_qx(const pf_mock *m, const proposal *q, const double x[3])
{
    double Rs = m->radius;
    double dx = x[0] - m->center[0], dy = x[1] - m->center[1];
    double p = q->wx[0] / (4.0 / 3.0 * M_PI * Rs * Rs * Rs);
    if (q->wx[1] > 0 && dx * dx + dy * dy < Rs * Rs)
        p += q->wx[1] / (M_PI * Rs * Rs) * exp(-fabs(x[2]) / q->hz) / (2 * q->hz);
    double r2 = x[0] * x[0] + x[1] * x[1] + x[2] * x[2];
    p += q->wx[2] * exp(-0.5 * r2 / (q->sg * q->sg)) / pow(2 * M_PI * q->sg * q->sg, 1.5);
    return log(p);
}

/* Mean of the tuned velocity Gaussian at x: rotation q->rot vc(R) along (y, -x, 0)/R. */
static void v_mean(const pf_mock *m, const proposal *q, const double x[3], double mu[3])
{
    double R = hypot(x[0], x[1]);
    mu[0] = mu[1] = mu[2] = 0;
    if (q->rot <= 0 || R < 1e-3)
        return;
    double u = q->rot * pf_potential_vcirc(&m->pot, fmax(R, 0.5));
    mu[0] = u * x[1] / R;
    mu[1] = -u * x[0] / R;
}

static double log_gauss3(const double v[3], const double mu[3], double s)
{
    double d2 = 0;
    for (int i = 0; i < 3; i++)
        d2 += (v[i] - mu[i]) * (v[i] - mu[i]);
    return -0.5 * d2 / (s * s) - 1.5 * log(2 * M_PI * s * s);
}

static double log_qv(const proposal *q, const double v[3], const double mu[3], double st)
{
    static const double zero[3] = {0, 0, 0};
    double a = log(q->wv) + log_gauss3(v, mu, st);
    double b = log(1 - q->wv) + log_gauss3(v, zero, q->sb);
    double mx = fmax(a, b);
    return mx + log(exp(a - mx) + exp(b - mx));
}

static void draw_v(const proposal *q, gsl_rng *r, const double mu[3], double st, double v[3])
{
    if (pf_rng_uniform(r) < q->wv) {
        for (int i = 0; i < 3; i++)
            v[i] = mu[i] + st * pf_rng_normal(r);
    } else {
        for (int i = 0; i < 3; i++)
            v[i] = q->sb * pf_rng_normal(r);
    }
}

/* ln f_k(x, v) - ln q(x, v) for one proposal. */
static double log_ratio(const pf_mock *m, int k, const proposal *q, const double x[3],
                        const double v[3], const double mu[3], double st)
{
    double phi = pf_potential_phi(&m->pot, x);
    double E = 0.5 * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) + phi;
    double L = x[1] * v[0] - x[0] * v[1], dE, dL;
    double lf = pop_lnf(&m->pot, &m->pop[k], E, L, &dE, &dL);
    return lf - log_qx(m, q, x) - log_qv(q, v, mu, st);
}

static void propose(const pf_mock *m, int k, const proposal *q, gsl_rng *r, double x[3],
                    double v[3], double *lr)
{
    double mu[3];
    inside_draw(m, q, r, x);
    v_mean(m, q, x, mu);
    double st = tuned_sigma(&m->pop[k], q, hypot(x[0], x[1]));
    draw_v(q, r, mu, st, v);
    *lr = log_ratio(m, k, q, x, v, mu, st);
}

#define NPILOT 20000
#define CHUNK 1024

int pf_mock_sample(const pf_mock *m, uint64_t seed, size_t n, double *x, double *v, int *pop,
                   size_t *violations, pf_err *err)
{
    if (!m->prepared)
        return pf_err_set(err, PF_ESTATE, "mock: not prepared");
    proposal prop[PF_MOCK_MAXPOP];
    double cw[PF_MOCK_MAXPOP], wsum = 0;
    for (int k = 0; k < m->npop; k++) {
        proposal_for(&m->pop[k], &prop[k]);
        wsum += m->pop[k].weight;
        cw[k] = wsum;
    }
    /* pilot runs fix the envelopes */
    int fail = 0;
#pragma omp parallel for schedule(dynamic) reduction(| : fail)
    for (int k = 0; k < m->npop; k++) {
        gsl_rng *r = pf_rng_alloc(pf_rng_derive_seed(seed, 1000003u + (uint64_t)k));
        if (!r) {
            fail = 1;
            continue;
        }
        double mx = -INFINITY, xx[3], vv[3], lr;
        for (int i = 0; i < NPILOT; i++) {
            propose(m, k, &prop[k], r, xx, vv, &lr);
            if (lr > mx)
                mx = lr;
        }
        prop[k].logM = mx + log(2.0);
        gsl_rng_free(r);
    }
    if (fail)
        return pf_err_set(err, PF_ENOMEM, "mock: out of memory");
    size_t nchunk = (n + CHUNK - 1) / CHUNK, viol = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : viol) reduction(| : fail)
    for (size_t c = 0; c < nchunk; c++) {
        gsl_rng *r = pf_rng_alloc(pf_rng_derive_seed(seed, c));
        if (!r) {
            fail = 1;
            continue;
        }
        size_t end = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        for (size_t i = c * CHUNK; i < end; i++) {
            double u = pf_rng_uniform(r) * wsum;
            int k = 0;
            while (k < m->npop - 1 && u >= cw[k])
                k++;
            double lr;
            for (;;) {
                propose(m, k, &prop[k], r, x + 3 * i, v + 3 * i, &lr);
                if (lr > prop[k].logM)
                    viol++;
                if (log(pf_rng_uniform(r)) < lr - prop[k].logM)
                    break;
            }
            if (pop)
                pop[i] = k;
        }
        gsl_rng_free(r);
    }
    if (fail)
        return pf_err_set(err, PF_ENOMEM, "mock: out of memory");
    if (violations)
        *violations = viol;
    return PF_OK;
}

int pf_mock_sample_v(const pf_mock *m, const double x0[3], uint64_t seed, size_t n, double *v,
                     size_t *violations, pf_err *err)
{
    if (!m->prepared)
        return pf_err_set(err, PF_ESTATE, "mock: not prepared");
    /* one velocity proposal: a tuned Gaussian per population + a broad one */
    int K = m->npop;
    double mu[PF_MOCK_MAXPOP][3], st[PF_MOCK_MAXPOP], sb = 0;
    double R = hypot(x0[0], x0[1]);
    for (int k = 0; k < K; k++) {
        proposal q;
        proposal_for(&m->pop[k], &q);
        v_mean(m, &q, x0, mu[k]);
        st[k] = tuned_sigma(&m->pop[k], &q, R);
        sb = fmax(sb, q.sb);
    }
    static const double zero[3] = {0, 0, 0};
    double wt = 0.8 / K;
    gsl_rng *r = pf_rng_alloc(pf_rng_derive_seed(seed, 7));
    if (!r)
        return pf_err_set(err, PF_ENOMEM, "mock: out of memory");
    double logM = -INFINITY, vv[3];
    for (int pass = 0; pass < 2; pass++) {
        size_t i = 0, viol = 0;
        size_t target = pass == 0 ? NPILOT : n;
        while (i < target) {
            double u = pf_rng_uniform(r);
            if (u < 0.2) {
                for (int d = 0; d < 3; d++)
                    vv[d] = sb * pf_rng_normal(r);
            } else {
                int k = (int)((u - 0.2) / wt);
                if (k >= K)
                    k = K - 1;
                for (int d = 0; d < 3; d++)
                    vv[d] = mu[k][d] + st[k] * pf_rng_normal(r);
            }
            double qs = 0.2 * exp(log_gauss3(vv, zero, sb));
            for (int k = 0; k < K; k++)
                qs += wt * exp(log_gauss3(vv, mu[k], st[k]));
            double lr = pf_mock_logf(m, x0, vv, NULL, NULL) - log(qs);
            if (pass == 0) {
                if (lr > logM)
                    logM = lr;
                i++;
                continue;
            }
            if (lr > logM)
                viol++;
            if (log(pf_rng_uniform(r)) < lr - logM) {
                memcpy(v + 3 * i, vv, sizeof vv);
                i++;
            }
        }
        if (pass == 0)
            logM += log(2.0);
        else if (violations)
            *violations = viol;
    }
    gsl_rng_free(r);
    return PF_OK;
}

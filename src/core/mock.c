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
#include <gsl/gsl_randist.h>
#include "phaseflow/constants.h"
#include "phaseflow/mock.h"
#include "phaseflow/rng.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define QLIMIT 400
#define UMAX_DISK 1500.0

static void build_rg_table(pf_mock *m);

void pf_population_default(pf_population *p, int type)
{
    memset(p, 0, sizeof *p);
    p->type = type;
    p->weight = 1;
    p->rd = 2.6;
    p->sigma0 = 20;
    p->r0 = PF_R0;
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
    build_rg_table(m);
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

#define TAB_LNR0 (-6.907755278982137) /* ln 1e-3 kpc */
#define TAB_LNR1 (7.600902459542082)  /* ln 2000 kpc */

/* Tabulate Lc(R) = sqrt(R^3 dPhi/dR) on a log grid once, so each guiding-radius solve
 * starts from a log-log interpolant inside a known bracket (two or three Newton steps
 * instead of tens). The table is only a starting point: the root is still found to
 * machine precision. ntab = 0 (no table) when Lc is not increasing. */
static void build_rg_table(pf_mock *m)
{
    m->ntab = PF_MOCK_NTAB;
    for (int i = 0; i < PF_MOCK_NTAB; i++) {
        double lr = TAB_LNR0 + (TAB_LNR1 - TAB_LNR0) * i / (PF_MOCK_NTAB - 1);
        double R = exp(lr), d1, d2;
        pf_potential_planar(&m->pot, R, &d1, &d2);
        m->tab_lnr[i] = lr;
        m->tab_lnl[i] = 0.5 * log(R * R * R * d1);
        /* d ln R / d ln L = (L / R) dR/dL, dL/dR = (3 R^2 d1 + R^3 d2) / (2 L) */
        m->tab_dlr[i] = 2 * R * R * d1 / (3 * R * R * d1 + R * R * R * d2);
        if (!(d1 > 0) || !isfinite(m->tab_lnl[i]) || (i > 0 && !(m->tab_lnl[i] > m->tab_lnl[i - 1]))) {
            m->ntab = 0;
            return;
        }
    }
}

/* Rg with Rg^3 Phi_R(Rg) = aL^2 (aL >= 0); *dr = dRg/daL when dr is not NULL (one
 * potential evaluation more). */
static double guiding_radius(const pf_mock *m, double aL, double *dr)
{
    const pf_potential *pot = &m->pot;
    if (aL < 1e-10) {
        if (dr)
            *dr = 0;
        return 0;
    }
    double R = aL / 220.0, lo = 0, hi = INFINITY, d1, d2, Lc, dh = 1;
    int tabbed = 0;
    if (m->ntab > 1) {
        double ll = log(aL);
        const double *t = m->tab_lnl;
        if (ll > t[0] && ll < t[m->ntab - 1]) {
            int a = 0, b = m->ntab - 1;
            while (b - a > 1) {
                int c = (a + b) / 2;
                if (t[c] <= ll)
                    a = c;
                else
                    b = c;
            }
            /* cubic Hermite in (ln L, ln R): relative error ~1e-9, so one Newton step
             * reaches machine precision */
            double hl = t[b] - t[a], w = (ll - t[a]) / hl;
            double h00 = (1 + 2 * w) * (1 - w) * (1 - w), h10 = w * (1 - w) * (1 - w);
            double h01 = w * w * (3 - 2 * w), h11 = w * w * (w - 1);
            lo = exp(m->tab_lnr[a]);
            hi = exp(m->tab_lnr[b]);
            R = exp(h00 * m->tab_lnr[a] + h10 * hl * m->tab_dlr[a] + h01 * m->tab_lnr[b] +
                    h11 * hl * m->tab_dlr[b]);
            if (!(R > lo && R < hi))
                R = 0.5 * (lo + hi);
            tabbed = 1;
        }
    }
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
        /* quadratic convergence: after a step of relative size 1e-8 the error is
         * ~1e-16 (safe once the start was the accurate tabulated one) */
        if (fabs(Rn - R) <= (tabbed ? 1e-8 : 4e-16) * R) {
            R = Rn;
            break;
        }
        R = Rn;
    }
    if (!dr)
        return R;
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

/* deriv = 0: the L derivatives (dlnA, deref, dlns) are not filled (one potential
 * evaluation less: the quadratures and the sampler need values only). */
static void pop_lpart(const pf_mock *m, const pf_population *p, double L, lpart *o, int deriv)
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
    double dra = 0, aL = fabs(L);
    double Rg = guiding_radius(m, aL, deriv ? &dra : NULL);
    double drg = L < 0 ? -dra : dra;
    double phi = pf_potential_phi(&m->pot, (double[3]){Rg, 0, 0});
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
static double pop_lnf(const pf_mock *m, const pf_population *p, double E, double L,
                      double *dE, double *dL)
{
    lpart o;
    pop_lpart(m, p, L, &o, 1);
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
        lk[k] = m->pop[k].lognorm + pop_lnf(m, &m->pop[k], E, L, &dEk[k], &dLk[k]);
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

/* ---- the velocity marginal g(u) at fixed (R, z) ------------------------------------------ */

/* 1 - e^-d (1 + d), accurate for small d. */
static double one_minus_gamma2(double d)
{
    if (d < 1e-3)
        return d * d * (0.5 - d * (1.0 / 3.0 - d * 0.125));
    return -expm1(-d) - d * exp(-d);
}

/* ln g_p(u) at a point of potential phi and cylindrical radius R, where
 * g_p(u) = integral of f_p over (v_R, v_z) at v_phi = u (L = R u): the disk's f is
 * Gaussian in (v_R, v_z) with variance s(L), so g = 2 pi s A e^{-(phi + u^2/2 - Eref)/s};
 * the halo's is the same times 1 - e^-d (1 + d), d = (Et - phi - u^2/2)/s (zero
 * outside the bound region). *o receives the L parts (for drawing v_R, v_z). */
static double pop_lng(const pf_mock *m, const pf_population *p, double R, double phi, double u,
                      lpart *o)
{
    pop_lpart(m, p, R * u, o, 0);
    double B = phi + 0.5 * u * u - o->eref;
    double lg = 1.8378770664093453 + o->lnA - B / o->s + log(o->s); /* ln 2 pi */
    if (p->type == PF_POP_DISK)
        return lg;
    double C = p->et - o->eref;
    if (!(C > B))
        return -INFINITY;
    return lg + log(one_minus_gamma2((C - B) / o->s));
}

typedef struct uparams {
    const pf_mock *m;
    const pf_population *p;
    double R, phi;
    int moment; /* 0: g, 1: u g, 2: u^2 g, 3: u^3 g, 4: <v_R^2 | u> g */
} uparams;

static double halo_vr2(double s, double D)
{
    /* E[t] for t on [0, D s] with density e^{-t/s} - e^{-D}: <v_R^2> = E[t] (w^2 = 2t
     * shared by v_R, v_z). */
    double den = one_minus_gamma2(D);
    double num = D < 1e-3 ? D * D * D / 6 : 1 - exp(-D) * (1 + D) - 0.5 * D * D * exp(-D);
    return s * num / den;
}

static double u_integrand(double u, void *vp)
{
    const uparams *q = (const uparams *)vp;
    lpart o;
    double lg = pop_lng(q->m, q->p, q->R, q->phi, u, &o);
    if (!(lg > -INFINITY))
        return 0;
    double g = exp(lg);
    switch (q->moment) {
    case 1: return u * g;
    case 2: return u * u * g;
    case 3: return u * u * u * g;
    case 4:
        if (q->p->type == PF_POP_DISK)
            return o.s * g;
        return halo_vr2(o.s, (q->p->et - q->phi - 0.5 * u * u) / o.s) * g;
    default: return g;
    }
}

/* Rough centre and width of g(u) (breakpoints for the quadrature): the disk rotates
 * near vc(R) with sigma(R); the halo is centred on 0. */
static void u_guess(const pf_mock *m, const pf_population *p, double R, double phi,
                    double *mu, double *sg, double *lo, double *hi)
{
    if (p->type == PF_POP_DISK) {
        *mu = R > 1e-3 ? pf_potential_vcirc(&m->pot, R) : 0;
        *sg = p->sigma0 * exp(-(fmin(R, 3 * p->r0) - p->r0) / p->rsigma);
        *lo = -UMAX_DISK;
        *hi = UMAX_DISK;
    } else {
        double um = p->et > phi ? sqrt(2 * (p->et - phi)) : 0;
        *mu = 0;
        *sg = fmin(p->sigma, um > 0 ? um : p->sigma);
        *lo = -um;
        *hi = um;
    }
}

#define NCAND 11

static double u_quad(const pf_mock *m, const pf_population *p, double R, double phi, int moment,
                     double epsrel, gsl_integration_workspace *ws)
{
    double mu, sg, lo, hi;
    u_guess(m, p, R, phi, &mu, &sg, &lo, &hi);
    if (!(hi > lo))
        return 0;
    /* the disk's sigmoid cut-off leaves a small counter-rotating peak at -mu */
    double cand[NCAND] = {mu - 8 * sg, mu - 3 * sg, 0, mu, mu + 3 * sg, mu + 8 * sg,
                          -mu - 8 * sg, -mu - 3 * sg, -mu, -mu + 3 * sg, -mu + 8 * sg};
    double pts[NCAND + 2];
    size_t np = 0;
    pts[np++] = lo;
    for (int i = 0; i < NCAND; i++) {
        double c = cand[i];
        int dup = 0;
        for (size_t j = 0; j < np; j++)
            dup |= fabs(pts[j] - c) < 1e-6;
        if (!dup && c > lo + 1e-6 && c < hi - 1e-6) {
            /* keep sorted: insertion */
            size_t j = np++;
            while (j > 0 && pts[j - 1] > c) {
                pts[j] = pts[j - 1];
                j--;
            }
            pts[j] = c;
        }
    }
    pts[np++] = hi;
    uparams q = {m, p, R, phi, moment};
    gsl_function F = {u_integrand, &q};
    double r, e;
    gsl_integration_qagp(&F, pts, np, 0, epsrel, QLIMIT, ws, &r, &e);
    return r;
}

static double nx_pop_ws(const pf_mock *m, int k, double R, double z, double epsrel,
                        gsl_integration_workspace *ws)
{
    double phi, dR, dz;
    pf_potential_eval_rz(&m->pot, R, z, &phi, &dR, &dz);
    return u_quad(m, &m->pop[k], R, phi, 0, epsrel, ws);
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

int pf_mock_vmoments(const pf_mock *m, const double x0[3], double out[5], pf_err *err)
{
    if (!m->prepared)
        return pf_err_set(err, PF_ESTATE, "mock: not prepared");
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(QLIMIT);
    if (!ws)
        return pf_err_set(err, PF_ENOMEM, "mock: out of memory");
    double R = hypot(x0[0], x0[1]), phi, dR, dz, acc[5] = {0, 0, 0, 0, 0};
    pf_potential_eval_rz(&m->pot, R, x0[2], &phi, &dR, &dz);
    for (int k = 0; k < m->npop; k++)
        for (int j = 0; j < 5; j++)
            acc[j] += exp(m->pop[k].lognorm) * u_quad(m, &m->pop[k], R, phi, j, 1e-10, ws);
    gsl_integration_workspace_free(ws);
    out[0] = acc[0];
    for (int j = 1; j < 5; j++)
        out[j] = acc[0] > 0 ? acc[j] / acc[0] : NAN;
    return PF_OK;
}

/* ---- normalisation over the sphere ----------------------------------------------------- */

/* Azimuthal angle (radians) of the circle (R, z) inside the sphere, rho2 the squared
 * radius of the sphere's section at that z, X0 the centre's cylindrical radius. */
static double arc_inside(double R, double X0, double rho2)
{
    if (R <= 0 || X0 <= 0)
        return R * R <= rho2 ? 2 * M_PI : 0;
    double c = (R * R + X0 * X0 - rho2) / (2 * R * X0);
    if (c <= -1)
        return 2 * M_PI;
    if (c >= 1)
        return 0;
    return 2 * acos(c);
}

#define NGL_IN 20
#define NGL_OUT 40

typedef struct zparams {
    const pf_mock *m;
    int k;
    const gsl_integration_glfixed_table *gin, *gout;
    gsl_integration_workspace **wu; /* one per thread */
    double ra, rb;                  /* cylindrical R range */
} zparams;

/* Integral of n_k over the sphere's section at height z (R dR dphi). The section is a
 * disc of radius rho around (X0, 0); in R the azimuthal extent has square-root ends,
 * removed by R = mid + half cos(theta); the part R < rho - X0 (full circles) is plain
 * Gauss-Legendre. The n_k at the (up to 60) nodes are evaluated in parallel -- equal
 * work for every thread whatever z -- and summed in a fixed order, so the result does
 * not depend on the number of threads. */
static double z_integrand(double z, void *vp)
{
    zparams *q = (zparams *)vp;
    const pf_mock *m = q->m;
    double X0 = hypot(m->center[0], m->center[1]);
    double dz = z - m->center[2];
    double rho2 = m->radius * m->radius - dz * dz;
    if (rho2 <= 0)
        return 0;
    double rho = sqrt(rho2), xi, wi;
    double nr[NGL_IN + NGL_OUT], nw[NGL_IN + NGL_OUT], nv[NGL_IN + NGL_OUT];
    int nn = 0;
    double full = X0 <= 0 ? rho : fmax(0, rho - X0);
    double f0 = fmax(0, q->ra), f1 = fmin(full, q->rb);
    if (f1 > f0)
        for (size_t i = 0; i < NGL_IN; i++) {
            gsl_integration_glfixed_point(f0, f1, i, &xi, &wi, q->gin);
            nr[nn] = xi;
            nw[nn++] = wi * 2 * M_PI * xi;
        }
    if (X0 > 0) {
        double a = fabs(X0 - rho), b = X0 + rho, mid = 0.5 * (a + b), half = 0.5 * (b - a);
        /* R = mid + half cos(theta) is decreasing in theta: the R range maps to a theta range */
        double t0 = acos(fmin(1, fmax(-1, (fmin(q->rb, b) - mid) / half)));
        double t1 = acos(fmin(1, fmax(-1, (fmax(q->ra, a) - mid) / half)));
        if (q->rb > a && q->ra < b && t1 > t0)
            for (size_t i = 0; i < NGL_OUT; i++) {
                gsl_integration_glfixed_point(t0, t1, i, &xi, &wi, q->gout);
                double R = mid + half * cos(xi);
                double arc = arc_inside(R, X0, rho2);
                if (arc > 0) {
                    nr[nn] = R;
                    nw[nn++] = wi * half * sin(xi) * arc * R;
                }
            }
    }
#pragma omp parallel for schedule(dynamic) if (nn > 1)
    for (int i = 0; i < nn; i++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        nv[i] = nx_pop_ws(m, q->k, nr[i], z, 1e-8, q->wu[t]);
    }
    double sum = 0;
    for (int i = 0; i < nn; i++)
        sum += nw[i] * nv[i];
    return sum;
}

int pf_mock_slab(const pf_mock *m, int k, double z0, double z1, double *out, pf_err *err)
{
    return pf_mock_region(m, k, z0, z1, 0, INFINITY, out, err);
}

int pf_mock_region(const pf_mock *m, int k, double z0, double z1, double r0, double r1,
                   double *out, pf_err *err)
{
    if (k < 0 || k >= m->npop)
        return pf_err_set(err, PF_EINVAL, "mock: population index %d out of range", k + 1);
    double zc = m->center[2], Rs = m->radius;
    double X0 = hypot(m->center[0], m->center[1]);
    z0 = fmax(z0, zc - Rs);
    z1 = fmin(z1, zc + Rs);
    *out = 0;
    if (!(z1 > z0))
        return PF_OK;
    /* breakpoints: where the section starts to contain the axis, and near the plane */
    double cand[32];
    int nc = 0;
    cand[nc++] = z0;
    double h = Rs > X0 ? sqrt(Rs * Rs - X0 * X0) : 0;
    double extra[] = {zc - h, zc + h, -2, -1, -0.5, -0.2, 0, 0.2, 0.5, 1, 2};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (extra[i] > z0 + 1e-9 && extra[i] < z1 - 1e-9)
            cand[nc++] = extra[i];
    cand[nc++] = z1;
    for (int i = 1; i < nc; i++)
        for (int j = i; j > 0 && cand[j - 1] > cand[j]; j--) {
            double t = cand[j];
            cand[j] = cand[j - 1];
            cand[j - 1] = t;
        }
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    gsl_integration_workspace **wu =
        (gsl_integration_workspace **)calloc((size_t)nt, sizeof(gsl_integration_workspace *));
    gsl_integration_workspace *wz = gsl_integration_workspace_alloc(QLIMIT);
    gsl_integration_glfixed_table *gin = gsl_integration_glfixed_table_alloc(NGL_IN);
    gsl_integration_glfixed_table *gout = gsl_integration_glfixed_table_alloc(NGL_OUT);
    int fail = !wu || !wz || !gin || !gout;
    for (int t = 0; t < nt && !fail; t++)
        fail = !(wu[t] = gsl_integration_workspace_alloc(QLIMIT));
    /* intervals one after the other (the parallel work is inside z_integrand), nearest
     * the plane first: the far ones hold few stars and need only an absolute accuracy of
     * 1e-8 of what is already summed (to 1e-7 of their own value they cost 3/4 of the
     * time); parts summed in z order so the result does not depend on the visiting order */
    int ord[32];
    double dist[32], part[32] = {0}, s = 0;
    for (int i = 0; i < nc - 1; i++) {
        dist[i] = cand[i] > 0 ? cand[i] : (cand[i + 1] < 0 ? -cand[i + 1] : 0);
        ord[i] = i;
        for (int j = i; j > 0 && dist[ord[j - 1]] > dist[ord[j]]; j--) {
            int t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    }
    for (int n = 0; n < nc - 1 && !fail; n++) {
        int i = ord[n];
        zparams q = {m, k, gin, gout, wu, r0, r1};
        gsl_function F = {z_integrand, &q};
        double r, e;
        gsl_integration_qag(&F, cand[i], cand[i + 1], 1e-8 * s, 1e-7, QLIMIT, GSL_INTEG_GAUSS15,
                            wz, &r, &e);
        part[i] = r;
        s += fabs(r);
    }
    s = 0;
    for (int i = 0; i < nc - 1; i++)
        s += part[i];
    for (int t = 0; wu && t < nt; t++)
        gsl_integration_workspace_free(wu[t]);
    free(wu);
    gsl_integration_workspace_free(wz);
    gsl_integration_glfixed_table_free(gin);
    gsl_integration_glfixed_table_free(gout);
    if (fail)
        return pf_err_set(err, PF_ENOMEM, "mock: out of memory");
    *out = s;
    return PF_OK;
}

int pf_mock_prepare(pf_mock *m, pf_err *err)
{
    if (m->npop < 1)
        return pf_err_set(err, PF_EINVAL, "mock: no populations");
    double wsum = 0;
    for (int k = 0; k < m->npop; k++)
        wsum += m->pop[k].weight;
    for (int k = 0; k < m->npop; k++) {
        double Z;
        int st = pf_mock_slab(m, k, -INFINITY, INFINITY, &Z, err);
        if (st)
            return st;
        if (!(Z > 0) || !isfinite(Z))
            return pf_err_set(err, PF_ENUM, "mock: population %d has no stars in the sphere", k + 1);
        m->pop[k].lognorm = log(m->pop[k].weight / wsum) - log(Z);
    }
    m->prepared = 1;
    return PF_OK;
}

/* ---- sampling ------------------------------------------------------------------------ */

/*
 * Why the sampler is exact (no numerical bound anywhere).
 *
 * Disk. Integrating f over (v_R, v_z) at fixed L and writing u = L / R, the density of
 * (R, z, phi, L) with respect to dR dz dphi dL (R dR du = dR dL) is
 *   D = h(L) exp(-(V(R, z) + Phi_eff(R; L) - Ec(L)) / s(L)),
 *   h = 2 pi s A,  V = Phi(R, z) - Phi(R, 0),  Phi_eff(R; L) = Phi(R, 0) + L^2 / (2 R^2).
 * For potentials made of positive-mass Miyamoto-Nagai disks and spherical components of
 * non-increasing density (all built-in types), V >= 0 grows with |z| and does not grow
 * with R (spherical: M(r)/r^3 non-increasing; MN: by its closed form), Lc(R) grows with R
 * so Phi_eff(.; L) falls until Rg(L) and rises after it, and dEc/dL = L / Rg^2.
 * Therefore on a cell [r0, r1] x [z0, z1] and an L bin [La, Lb] (not containing 0):
 *   V >= V(r1, |z|min),  Phi_eff - Ec >= gap(L) = Phi_eff(clamp(Rg, r0, r1); L) - Ec(L),
 * gap is 0 where Rg in [r0, r1] and monotone in |L| outside, ln h is monotone in Rg
 * (linear) plus ln sigmoid(L/l0) increasing in L, s = sigma(Rg)^2 falls with Rg, and Rg
 * grows with |L|. Evaluating each factor at the right end of the bin gives a bound
 * B(cell, bin) >= D everywhere in the cell and bin. The proposal is: cell and bin with
 * probability proportional to B x measure, (R, z, phi) uniform in the cell's wedge of
 * the sphere (uniform in R: the measure is dR dz dphi dL), L uniform in the bin,
 * accepted with probability D / B <= 1. (v_R, v_z) then come exactly from their
 * Gaussian law given L. Bins whose bound is below e^-60 of the cell's largest (at
 * most ~5000 of them: less than 1e-22 of the cell's stars) and L beyond Lc(R_max + 15
 * kpc) or below -50 l0 (where the bound is below e^-50 of the peak) are left out.
 * Violations (D > B) are still counted as a guard: 0 by construction.
 *
 * Halo. Phi >= Phi(r0, |z|min) on a cell (Phi grows with R and |z|), so with
 * x uniform in the cell's volume and v ~ N(0, s I), the acceptance
 *   A(L) / (1 + |beta|) * exp(-(Phi - Phi_min) / s) * (1 - exp(-(Et - E) / s))_+ <= 1
 * samples f exactly.
 */

#define NZCELL 56
#define ZSCALE 0.3
#define DR_CELL 0.25
#define DL_BIN 3.0
#define LN_DROP 60.0
#define LN_MARGIN 1e-9
#define LN_2PI 1.8378770664093453

/* Rg, Ec and ln sigmoid(L / l0) at the nodes L_j = lo + j dl, j = 0..nb (0 is a node). */
typedef struct lgrid {
    int nb;
    double lo, dl;
    double *rg, *ec, *lsg;
} lgrid;

typedef struct cell {
    double r0, r1, z0, z1, arc; /* arc: largest azimuthal extent inside the sphere */
    double phimin;              /* halo: lower bound of Phi on the cell */
    int j0, nb;                 /* disk: first kept bin, number kept */
    double *cum, *lnb;          /* disk: cumulative relative bounds, ln bound per bin */
} cell;

typedef struct envelope {
    int nc;
    cell *c;
    double *cum; /* cumulative proposal weights of the cells */
    lgrid g;
} envelope;

static void lgrid_free(lgrid *g)
{
    free(g->rg);
    free(g->ec);
    free(g->lsg);
    g->rg = g->ec = g->lsg = NULL;
}

static int lgrid_build(const pf_mock *m, const pf_population *p, double rmax, lgrid *g)
{
    double d1, d2, R = rmax + 15;
    pf_potential_planar(&m->pot, R, &d1, &d2);
    double lp = sqrt(R * R * R * d1), ln = fmin(lp, 50 * p->l0);
    int np = (int)ceil(lp / DL_BIN), nn = (int)ceil(ln / DL_BIN);
    g->dl = DL_BIN;
    g->lo = -nn * DL_BIN;
    g->nb = np + nn;
    g->rg = (double *)malloc((size_t)(g->nb + 1) * sizeof(double));
    g->ec = (double *)malloc((size_t)(g->nb + 1) * sizeof(double));
    g->lsg = (double *)malloc((size_t)(g->nb + 1) * sizeof(double));
    if (!g->rg || !g->ec || !g->lsg) {
        lgrid_free(g);
        return PF_ENOMEM;
    }
    for (int j = 0; j <= g->nb; j++) {
        double L = g->lo + j * g->dl, dr, phi, dR, dz;
        double rg = guiding_radius(m, fabs(L), &dr);
        pf_potential_eval_rz(&m->pot, rg, 0, &phi, &dR, &dz);
        g->rg[j] = rg;
        g->ec[j] = rg > 0 ? phi + 0.5 * L * L / (rg * rg) : phi;
        g->lsg[j] = log_sigmoid(L / p->l0);
    }
    return PF_OK;
}

/* ln B for bin j of a disk on [r0, r1] (r0 = r1 for one radius), phi0 = Phi(r0, 0),
 * phi1 = Phi(r1, 0), vmin = a lower bound of V on the cell (see the comment above). */
static double disk_bin_lnb(const pf_population *p, const lgrid *g, int j, double r0, double r1,
                           double phi0, double phi1, double vmin)
{
    double La = g->lo + j * g->dl, Lb = La + g->dl;
    int imin = La >= 0 ? j : j + 1, imax = La >= 0 ? j + 1 : j; /* nodes of min / max |L| */
    double amin = fabs(g->lo + imin * g->dl), amax = fabs(g->lo + imax * g->dl);
    double rgmin = g->rg[imin], rgmax = g->rg[imax];
    double c = 1 / p->rsigma - 1 / p->rd, rgh = c > 0 ? rgmax : rgmin;
    double lnh = LN_2PI + g->lsg[j + 1] - log(p->sigma0) - rgh / p->rd + (rgh - p->r0) / p->rsigma;
    double lnsig = log(p->sigma0) - (rgmin - p->r0) / p->rsigma, smax = exp(2 * lnsig);
    double gap = 0;
    if (rgmax < r0) {
        double e = g->ec[imax];
        gap = phi0 + 0.5 * amax * amax / (r0 * r0) - e;
        gap -= 1e-13 * (fabs(phi0) + fabs(e));
    } else if (rgmin > r1) {
        double e = g->ec[imin];
        gap = phi1 + 0.5 * amin * amin / (r1 * r1) - e;
        gap -= 1e-13 * (fabs(phi1) + fabs(e));
    }
    (void)Lb;
    return lnh - (vmin + fmax(gap, 0)) / smax + LN_MARGIN;
}

/* Fill bins [0, nb) of a disk bound into lnb (scratch), keep those within LN_DROP of
 * the largest: *j0, *nk, and the cumulative relative weights; returns ln of the
 * largest (or -inf). cum and lnb_out are allocated here (caller frees). */
static double disk_cell_bins(const pf_population *p, const lgrid *g, double r0, double r1,
                             double phi0, double phi1, double vmin, double *scratch, int *j0,
                             int *nk, double **cum, double **lnb_out)
{
    double mx = -INFINITY;
    for (int j = 0; j < g->nb; j++) {
        scratch[j] = disk_bin_lnb(p, g, j, r0, r1, phi0, phi1, vmin);
        if (scratch[j] > mx)
            mx = scratch[j];
    }
    *nk = 0;
    *cum = *lnb_out = NULL;
    if (!(mx > -INFINITY) || !isfinite(mx))
        return -INFINITY;
    int a = 0, b = g->nb - 1;
    while (scratch[a] < mx - LN_DROP)
        a++;
    while (scratch[b] < mx - LN_DROP)
        b--;
    *j0 = a;
    *nk = b - a + 1;
    *cum = (double *)malloc((size_t)*nk * sizeof(double));
    *lnb_out = (double *)malloc((size_t)*nk * sizeof(double));
    if (!*cum || !*lnb_out) {
        free(*cum);
        free(*lnb_out);
        *cum = *lnb_out = NULL;
        *nk = -1;
        return -INFINITY;
    }
    double s = 0;
    for (int i = 0; i < *nk; i++) {
        (*lnb_out)[i] = scratch[a + i];
        s += exp(scratch[a + i] - mx);
        (*cum)[i] = s;
    }
    return mx;
}

/* Largest azimuthal extent of the sphere over a cell (exact): the extent grows with the
 * section radius (largest at the z nearest the centre) and, at fixed section, is
 * largest where (R^2 + X0^2 - rho^2) / (2 R X0) is smallest: R = sqrt(X0^2 - rho^2)
 * clamped to the cell. */
static double cell_arc(const pf_mock *m, const cell *c)
{
    double zc = m->center[2], X0 = hypot(m->center[0], m->center[1]);
    double dz = zc < c->z0 ? c->z0 - zc : (zc > c->z1 ? zc - c->z1 : 0);
    double rho2 = m->radius * m->radius - dz * dz;
    if (rho2 <= 0)
        return 0;
    double Rs = sqrt(fmax(X0 * X0 - rho2, 0));
    double Rm = fmin(fmax(Rs, c->r0), c->r1);
    return arc_inside(Rm, X0, rho2);
}

static void envelope_free(envelope *env)
{
    if (env->c)
        for (int i = 0; i < env->nc; i++) {
            free(env->c[i].cum);
            free(env->c[i].lnb);
        }
    free(env->c);
    free(env->cum);
    lgrid_free(&env->g);
    memset(env, 0, sizeof *env);
}

/* The built-in potentials satisfy the monotonicity the bounds rely on when every
 * component has positive mass. */
static int pot_monotone(const pf_potential *pot)
{
    for (int i = 0; i < pot->n; i++)
        if (!(pot->comp[i].amp > 0))
            return 0;
    return 1;
}

static int envelope_build(const pf_mock *m, int k, envelope *env)
{
    const pf_population *p = &m->pop[k];
    double X0 = hypot(m->center[0], m->center[1]), Rs = m->radius, zc = m->center[2];
    double rlo = fmax(0, X0 - Rs), rhi = X0 + Rs;
    int nr = (int)ceil((rhi - rlo) / DR_CELL);
    if (nr < 8)
        nr = 8;
    double t0 = asinh((zc - Rs) / ZSCALE), t1 = asinh((zc + Rs) / ZSCALE);
    memset(env, 0, sizeof *env);
    env->nc = nr * NZCELL;
    env->c = (cell *)calloc((size_t)env->nc, sizeof(cell));
    env->cum = (double *)calloc((size_t)env->nc, sizeof(double));
    if (!env->c || !env->cum)
        return PF_ENOMEM;
    if (p->type == PF_POP_DISK && lgrid_build(m, p, rhi, &env->g))
        return PF_ENOMEM;
    double *w = env->cum;
    int fail = 0;
#pragma omp parallel reduction(| : fail)
    {
        double *scratch = p->type == PF_POP_DISK
                              ? (double *)malloc((size_t)env->g.nb * sizeof(double)) : NULL;
        if (p->type == PF_POP_DISK && !scratch)
            fail = 1;
#pragma omp for schedule(dynamic)
        for (int idx = 0; idx < env->nc; idx++) {
            int i = idx / NZCELL, j = idx % NZCELL;
            cell *c = &env->c[idx];
            c->r0 = rlo + (rhi - rlo) * i / nr;
            c->r1 = rlo + (rhi - rlo) * (i + 1) / nr;
            c->z0 = ZSCALE * sinh(t0 + (t1 - t0) * j / NZCELL);
            c->z1 = ZSCALE * sinh(t0 + (t1 - t0) * (j + 1) / NZCELL);
            c->arc = cell_arc(m, c);
            w[idx] = 0;
            if (c->arc <= 0 || fail)
                continue;
            double zmin = (c->z0 <= 0 && c->z1 >= 0) ? 0 : fmin(fabs(c->z0), fabs(c->z1));
            if (p->type == PF_POP_HALO) {
                double ph = pf_potential_phi(&m->pot, (double[3]){c->r0, 0, zmin});
                c->phimin = ph - 1e-13 * fabs(ph);
                w[idx] = exp(-c->phimin / (p->sigma * p->sigma)) * 0.5 *
                         (c->r1 * c->r1 - c->r0 * c->r0) * (c->z1 - c->z0) * c->arc;
                continue;
            }
            double phi0 = pf_potential_phi(&m->pot, (double[3]){c->r0, 0, 0});
            double phi1 = pf_potential_phi(&m->pot, (double[3]){c->r1, 0, 0});
            double v1 = pf_potential_phi(&m->pot, (double[3]){c->r1, 0, zmin}) - phi1;
            double vmin = fmax(0, v1 - 1e-13 * fabs(phi1));
            double mx = disk_cell_bins(p, &env->g, c->r0, c->r1, phi0, phi1, vmin, scratch, &c->j0,
                                       &c->nb, &c->cum, &c->lnb);
            if (c->nb < 0) {
                fail = 1;
                continue;
            }
            if (c->nb > 0)
                w[idx] = exp(mx) * c->cum[c->nb - 1] * env->g.dl * (c->r1 - c->r0) *
                         (c->z1 - c->z0) * c->arc;
        }
        free(scratch);
    }
    if (fail)
        return PF_ENOMEM;
    for (int idx = 1; idx < env->nc; idx++)
        w[idx] += w[idx - 1];
    if (!(w[env->nc - 1] > 0) || !isfinite(w[env->nc - 1]))
        return PF_ENUM;
    return PF_OK;
}

static int bsearch_cum(const double *cum, int n, double y)
{
    int a = 0, b = n - 1;
    while (a < b) {
        int c = (a + b) / 2;
        if (cum[c] > y)
            b = c;
        else
            a = c + 1;
    }
    return a;
}

/* One disk star in a cell: NaN-free, returns 1 when accepted. */
static int disk_try(const pf_mock *m, const pf_population *p, const lgrid *g, const cell *c,
                    double R, const double x[3], gsl_rng *r, double v[3], size_t *viol)
{
    int b = bsearch_cum(c->cum, c->nb, pf_rng_uniform(r) * c->cum[c->nb - 1]);
    double L = g->lo + (c->j0 + b + pf_rng_uniform(r)) * g->dl;
    double phi = pf_potential_phi(&m->pot, x), u = L / R;
    lpart o;
    double lr = pop_lng(m, p, R, phi, u, &o) - c->lnb[b];
    if (lr > 0)
        (*viol)++;
    if (!(log(pf_rng_uniform(r)) < lr))
        return 0;
    double sd = sqrt(o.s), vr = sd * pf_rng_normal(r), vz = sd * pf_rng_normal(r);
    double ca = x[0] / R, sa = x[1] / R;
    /* e_R = (cos, sin, 0), e_u = (sin, -cos, 0) so that L = R u */
    v[0] = vr * ca + u * sa;
    v[1] = vr * sa - u * ca;
    v[2] = vz;
    return 1;
}

/* One halo star at x (phimin a lower bound of Phi(x)): returns 1 when accepted. */
static int halo_try(const pf_mock *m, const pf_population *p, double phimin, const double x[3],
                    gsl_rng *r, double v[3], size_t *viol)
{
    double s = p->sigma * p->sigma, sd = p->sigma;
    for (int d = 0; d < 3; d++)
        v[d] = sd * pf_rng_normal(r);
    double phi = pf_potential_phi(&m->pot, x);
    double E = 0.5 * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) + phi;
    if (!(E < p->et))
        return 0;
    double L = x[1] * v[0] - x[0] * v[1];
    double lr = log1p(p->beta * tanh(L / p->lh)) - log1p(fabs(p->beta)) - (phi - phimin) / s +
                log(-expm1(-(p->et - E) / s));
    if (lr > LN_MARGIN)
        (*viol)++;
    return log(pf_rng_uniform(r)) < lr;
}

/* One star of population k from its envelope. */
static void draw_star(const pf_mock *m, int k, const envelope *env, gsl_rng *r, double x[3],
                      double v[3], size_t *viol, size_t *tries)
{
    const pf_population *p = &m->pop[k];
    double tot = env->cum[env->nc - 1], Rs2 = m->radius * m->radius;
    double phc = atan2(m->center[1], m->center[0]);
    for (;; (*tries)++) {
        const cell *c = &env->c[bsearch_cum(env->cum, env->nc, pf_rng_uniform(r) * tot)];
        double R = p->type == PF_POP_DISK
                       ? c->r0 + pf_rng_uniform(r) * (c->r1 - c->r0)
                       : sqrt(c->r0 * c->r0 + pf_rng_uniform(r) * (c->r1 * c->r1 - c->r0 * c->r0));
        double z = c->z0 + pf_rng_uniform(r) * (c->z1 - c->z0);
        double az = c->arc >= 2 * M_PI ? 2 * M_PI * pf_rng_uniform(r)
                                        : phc + c->arc * (pf_rng_uniform(r) - 0.5);
        x[0] = R * cos(az);
        x[1] = R * sin(az);
        x[2] = z;
        double dx = x[0] - m->center[0], dy = x[1] - m->center[1], dz = z - m->center[2];
        if (!(R > 0) || dx * dx + dy * dy + dz * dz >= Rs2)
            continue;
        if (p->type == PF_POP_DISK ? disk_try(m, p, &env->g, c, R, x, r, v, viol)
                                   : halo_try(m, p, c->phimin, x, r, v, viol))
            return;
    }
}

#define BLOCK 4096

int pf_mock_sample(const pf_mock *m, uint64_t seed, size_t n, double *x, double *v, int *pop,
                   size_t *violations, size_t *proposals, pf_err *err)
{
    if (!m->prepared)
        return pf_err_set(err, PF_ESTATE, "mock: not prepared");
    if (!pot_monotone(&m->pot))
        return pf_err_set(err, PF_EINVAL, "mock: the exact sampler needs positive-mass components");
    envelope env[PF_MOCK_MAXPOP];
    memset(env, 0, sizeof env);
    double cw[PF_MOCK_MAXPOP], wsum = 0;
    int st = PF_OK;
    for (int k = 0; k < m->npop; k++) {
        wsum += m->pop[k].weight;
        cw[k] = wsum;
        if (st == PF_OK)
            st = envelope_build(m, k, &env[k]);
    }
    if (st) {
        for (int k = 0; k < m->npop; k++)
            envelope_free(&env[k]);
        return st == PF_ENOMEM ? pf_err_set(err, PF_ENOMEM, "mock: out of memory")
                               : pf_err_set(err, st, "mock: a population has no stars in the sphere");
    }
    /* blocks of stars each with their own derived seed: the same stars whatever the
     * number of threads */
    size_t nblock = (n + BLOCK - 1) / BLOCK, viol = 0, prop = 0;
    int fail = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : viol, prop) reduction(| : fail)
    for (size_t b = 0; b < nblock; b++) {
        gsl_rng *r = pf_rng_alloc(pf_rng_derive_seed(seed, b));
        if (!r) {
            fail = 1;
            continue;
        }
        size_t end = (b + 1) * BLOCK < n ? (b + 1) * BLOCK : n, vb = 0, tb = 0;
        for (size_t i = b * BLOCK; i < end; i++) {
            double u = pf_rng_uniform(r) * wsum;
            int k = 0;
            while (k < m->npop - 1 && u >= cw[k])
                k++;
            tb++;
            draw_star(m, k, &env[k], r, x + 3 * i, v + 3 * i, &vb, &tb);
            if (pop)
                pop[i] = k;
        }
        viol += vb;
        prop += tb;
        gsl_rng_free(r);
    }
    for (int k = 0; k < m->npop; k++)
        envelope_free(&env[k]);
    if (fail)
        return pf_err_set(err, PF_ENOMEM, "mock: out of memory");
    if (violations)
        *violations = viol;
    if (proposals)
        *proposals = prop;
    return PF_OK;
}

int pf_mock_sample_v(const pf_mock *m, const double x0[3], uint64_t seed, size_t n, double *v,
                     size_t *violations, pf_err *err)
{
    if (!m->prepared)
        return pf_err_set(err, PF_ESTATE, "mock: not prepared");
    if (!pot_monotone(&m->pot))
        return pf_err_set(err, PF_EINVAL, "mock: the exact sampler needs positive-mass components");
    int K = m->npop;
    double R = hypot(x0[0], x0[1]), phi = pf_potential_phi(&m->pot, x0);
    if (!(R >= 1e-6))
        return pf_err_set(err, PF_EINVAL, "mock: sample_v needs a point off the z axis (R >= 1e-6 kpc)");
    double cw[PF_MOCK_MAXPOP], tot = 0;
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(QLIMIT);
    if (!ws)
        return pf_err_set(err, PF_ENOMEM, "mock: out of memory");
    /* population k at x0 with probability proportional to its normalised n_k(x0) */
    for (int k = 0; k < K; k++) {
        double nk = exp(m->pop[k].lognorm) * u_quad(m, &m->pop[k], R, phi, 0, 1e-10, ws);
        tot += nk > 0 ? nk : 0;
        cw[k] = tot;
    }
    gsl_integration_workspace_free(ws);
    if (!(tot > 0))
        return pf_err_set(err, PF_ENUM, "mock: f vanishes at (%g, %g, %g)", x0[0], x0[1], x0[2]);
    /* disk populations: the L bounds of a cell shrunk to the point (r0 = r1 = R) */
    envelope env[PF_MOCK_MAXPOP];
    memset(env, 0, sizeof env);
    int st = PF_OK;
    double *scratch = NULL;
    double phi0 = pf_potential_phi(&m->pot, (double[3]){R, 0, 0});
    for (int k = 0; k < K && st == PF_OK; k++) {
        if (m->pop[k].type != PF_POP_DISK)
            continue;
        env[k].nc = 1;
        env[k].c = (cell *)calloc(1, sizeof(cell));
        st = env[k].c ? lgrid_build(m, &m->pop[k], R, &env[k].g) : PF_ENOMEM;
        if (st)
            break;
        free(scratch);
        scratch = (double *)malloc((size_t)env[k].g.nb * sizeof(double));
        if (!scratch) {
            st = PF_ENOMEM;
            break;
        }
        cell *c = env[k].c;
        disk_cell_bins(&m->pop[k], &env[k].g, R, R, phi0, phi0, fmax(0, phi - phi0), scratch,
                       &c->j0, &c->nb, &c->cum, &c->lnb);
        if (c->nb < 0)
            st = PF_ENOMEM;
        else if (c->nb == 0)
            st = PF_ENUM;
    }
    free(scratch);
    gsl_rng *r = st ? NULL : pf_rng_alloc(pf_rng_derive_seed(seed, 7));
    if (!r) {
        for (int k = 0; k < K; k++)
            envelope_free(&env[k]);
        return st == PF_ENUM ? pf_err_set(err, PF_ENUM, "mock: no disk bound at (%g, %g, %g)",
                                          x0[0], x0[1], x0[2])
                             : pf_err_set(err, PF_ENOMEM, "mock: out of memory");
    }
    size_t viol = 0;
    for (size_t i = 0; i < n; i++) {
        double y = pf_rng_uniform(r) * tot;
        int k = 0;
        while (k < K - 1 && y >= cw[k])
            k++;
        const pf_population *p = &m->pop[k];
        if (p->type == PF_POP_DISK)
            while (!disk_try(m, p, &env[k].g, env[k].c, R, x0, r, v + 3 * i, &viol)) {
            }
        else
            while (!halo_try(m, p, phi, x0, r, v + 3 * i, &viol)) {
            }
    }
    gsl_rng_free(r);
    for (int k = 0; k < K; k++)
        envelope_free(&env[k]);
    if (violations)
        *violations = viol;
    return PF_OK;
}

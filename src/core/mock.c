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
#include "phaseflow/mock.h"
#include "phaseflow/rng.h"

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

/* Rg with Rg^3 Phi_R(Rg) = aL^2 (aL >= 0); *dr = dRg/daL. */
static double guiding_radius(const pf_mock *m, double aL, double *dr)
{
    const pf_potential *pot = &m->pot;
    if (aL < 1e-10) {
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

static void pop_lpart(const pf_mock *m, const pf_population *p, double L, lpart *o)
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
    double Rg = guiding_radius(m, aL, &dra);
    double drg = L < 0 ? -dra : dra;
    double phi, dR, dz;
    pf_potential_eval_rz(&m->pot, Rg, 0, &phi, &dR, &dz);
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
    pop_lpart(m, p, L, &o);
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
    pop_lpart(m, p, R * u, o);
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

/* Rough centre and width of g(u) (breakpoints for quadrature, first guess for the
 * proposal): the disk rotates near vc(R) with sigma(R); the halo is centred on 0. */
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

static double u_quad(const pf_mock *m, const pf_population *p, double R, double phi, int moment,
                     double epsrel, gsl_integration_workspace *ws)
{
    double mu, sg, lo, hi;
    u_guess(m, p, R, phi, &mu, &sg, &lo, &hi);
    if (!(hi > lo))
        return 0;
    double cand[6] = {mu - 8 * sg, mu - 3 * sg, 0, mu, mu + 3 * sg, mu + 8 * sg};
    double pts[8];
    size_t np = 0;
    pts[np++] = lo;
    for (int i = 0; i < 6; i++) {
        double c = cand[i];
        if (c > pts[np - 1] + 1e-9 && c < hi - 1e-9) {
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
    gsl_integration_workspace *wu;
} zparams;

/* Integral of n_k over the sphere's section at height z (R dR dphi). The section is a
 * disc of radius rho around (X0, 0); in R the azimuthal extent has square-root ends,
 * removed by R = mid + half cos(theta); the part R < rho - X0 (full circles) is plain
 * Gauss-Legendre. */
static double z_integrand(double z, void *vp)
{
    zparams *q = (zparams *)vp;
    const pf_mock *m = q->m;
    double X0 = hypot(m->center[0], m->center[1]);
    double dz = z - m->center[2];
    double rho2 = m->radius * m->radius - dz * dz;
    if (rho2 <= 0)
        return 0;
    double rho = sqrt(rho2), sum = 0, xi, wi;
    double full = X0 <= 0 ? rho : fmax(0, rho - X0);
    if (full > 0)
        for (size_t i = 0; i < NGL_IN; i++) {
            gsl_integration_glfixed_point(0, full, i, &xi, &wi, q->gin);
            sum += wi * 2 * M_PI * xi * nx_pop_ws(m, q->k, xi, z, 1e-8, q->wu);
        }
    if (X0 > 0) {
        double a = fabs(X0 - rho), b = X0 + rho, mid = 0.5 * (a + b), half = 0.5 * (b - a);
        for (size_t i = 0; i < NGL_OUT; i++) {
            gsl_integration_glfixed_point(0, M_PI, i, &xi, &wi, q->gout);
            double R = mid + half * cos(xi);
            double arc = arc_inside(R, X0, rho2);
            if (arc > 0)
                sum += wi * half * sin(xi) * arc * R * nx_pop_ws(m, q->k, R, z, 1e-8, q->wu);
        }
    }
    return sum;
}

int pf_mock_slab(const pf_mock *m, int k, double z0, double z1, double *out, pf_err *err)
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
    double cand[16];
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
    double part[16] = {0};
    int fail = 0;
    gsl_integration_glfixed_table *gin = gsl_integration_glfixed_table_alloc(NGL_IN);
    gsl_integration_glfixed_table *gout = gsl_integration_glfixed_table_alloc(NGL_OUT);
    if (!gin || !gout)
        fail = 1;
#pragma omp parallel reduction(| : fail) if (!fail)
    {
        gsl_integration_workspace *wu = gsl_integration_workspace_alloc(QLIMIT);
        gsl_integration_workspace *wz = gsl_integration_workspace_alloc(QLIMIT);
        if (!wu || !wz)
            fail = 1;
#pragma omp for schedule(dynamic)
        for (int i = 0; i < nc - 1; i++) {
            if (!wu || !wz)
                continue;
            zparams q = {m, k, gin, gout, wu};
            gsl_function F = {z_integrand, &q};
            double r, e;
            gsl_integration_qag(&F, cand[i], cand[i + 1], 0, 1e-7, QLIMIT, GSL_INTEG_GAUSS15,
                                wz, &r, &e);
            part[i] = r;
        }
        gsl_integration_workspace_free(wu);
        gsl_integration_workspace_free(wz);
    }
    gsl_integration_glfixed_table_free(gin);
    gsl_integration_glfixed_table_free(gout);
    if (fail)
        return pf_err_set(err, PF_ENOMEM, "mock: out of memory");
    double s = 0;
    for (int i = 0; i < nc - 1; i++)
        s += part[i];
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

/* The proposal for u = v_phi at one place: a Student t with 5 degrees of freedom
 * (heavier tails than any g(u) here), location mu, scale tau; lnb bounds ln g - ln q. */
typedef struct uprop {
    double mu, tau, lnb;
} uprop;

#define TNU 5.0
#define LN_T5_NORM (-1.2874573789743883) /* ln Gamma(3) - ln Gamma(2.5) - ln(5 pi)/2 */

static double ln_t5(const uprop *q, double u)
{
    double t = (u - q->mu) / q->tau;
    return LN_T5_NORM - log(q->tau) - 3 * log1p(t * t / TNU);
}

#define NU_MOM 61
#define NU_MAX 81

/* Mean and width of g(u) from a grid; 0 if g vanishes there. */
static int u_fit(const pf_mock *m, const pf_population *p, double R, double phi, uprop *q)
{
    double mu, sg, lo, hi;
    u_guess(m, p, R, phi, &mu, &sg, &lo, &hi);
    double a = fmax(lo, mu - 12 * sg), b = fmin(hi, mu + 10 * sg);
    if (!(b > a))
        return 0;
    double lg[NU_MOM], mx = -INFINITY;
    lpart o;
    for (int i = 0; i < NU_MOM; i++) {
        double u = a + (b - a) * (i + 0.5) / NU_MOM;
        lg[i] = pop_lng(m, p, R, phi, u, &o);
        if (lg[i] > mx)
            mx = lg[i];
    }
    if (!(mx > -INFINITY))
        return 0;
    double s0 = 0, s1 = 0, s2 = 0;
    for (int i = 0; i < NU_MOM; i++) {
        double u = a + (b - a) * (i + 0.5) / NU_MOM, w = exp(lg[i] - mx);
        s0 += w;
        s1 += w * u;
        s2 += w * u * u;
    }
    q->mu = s1 / s0;
    double var = s2 / s0 - q->mu * q->mu;
    q->tau = fmax(1.2 * sqrt(fmax(var, 0)), 0.02 * (b - a));
    q->tau = fmax(q->tau, 1.0);
    return 1;
}

/* max over u of ln g(u) - ln q(u) on a grid covering mu - 14 tau .. mu + 12 tau and the
 * support; -inf if g vanishes. Between grid points (spacing tau / 6) ln g - ln q
 * changes by far less than the margins added by the callers. */
static double u_maxratio(const pf_mock *m, const pf_population *p, double R, double phi,
                         const uprop *q)
{
    double mu, sg, lo, hi;
    u_guess(m, p, R, phi, &mu, &sg, &lo, &hi);
    double a = fmax(lo, q->mu - 14 * q->tau), b = fmin(hi, q->mu + 12 * q->tau), mx = -INFINITY;
    lpart o;
    for (int i = 0; i < NU_MAX; i++) {
        double u = a + (b - a) * i / (NU_MAX - 1);
        double r = pop_lng(m, p, R, phi, u, &o) - ln_t5(q, u);
        if (r > mx)
            mx = r;
    }
    return mx;
}

/* A cell of the (R, z) envelope grid of one population. */
typedef struct cell {
    double r0, r1, z0, z1, arc; /* arc: largest azimuthal extent inside the sphere */
    uprop q;
} cell;

typedef struct envelope {
    int nc;
    cell *c;
    double *cum; /* cumulative proposal weights */
} envelope;

#define NZCELL 44
#define ZSCALE 0.3
#define DR_CELL 0.4

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

/* Envelope of population k on the (R, z) cells: in each cell, a t proposal for u fitted
 * at the cell centre and a bound on g/q from the corners and the centre, raised by a
 * Lipschitz-type margin: half the spread of the five maxima across the cell plus 0.15.
 * Exactness is checked on the fly: every proposal whose ratio exceeds the bound is
 * counted as a violation (none in the tests and the default mock). */
static int envelope_build(const pf_mock *m, int k, envelope *env)
{
    const pf_population *p = &m->pop[k];
    double X0 = hypot(m->center[0], m->center[1]), Rs = m->radius, zc = m->center[2];
    double rlo = fmax(0, X0 - Rs), rhi = X0 + Rs;
    int nr = (int)ceil((rhi - rlo) / DR_CELL);
    if (nr < 8)
        nr = 8;
    double t0 = asinh((zc - Rs) / ZSCALE), t1 = asinh((zc + Rs) / ZSCALE);
    env->nc = nr * NZCELL;
    env->c = (cell *)calloc((size_t)env->nc, sizeof(cell));
    env->cum = (double *)calloc((size_t)env->nc, sizeof(double));
    if (!env->c || !env->cum)
        return PF_ENOMEM;
    double *w = env->cum;
#pragma omp parallel for schedule(dynamic)
    for (int idx = 0; idx < env->nc; idx++) {
        int i = idx / NZCELL, j = idx % NZCELL;
        cell *c = &env->c[idx];
        c->r0 = rlo + (rhi - rlo) * i / nr;
        c->r1 = rlo + (rhi - rlo) * (i + 1) / nr;
        c->z0 = ZSCALE * sinh(t0 + (t1 - t0) * j / NZCELL);
        c->z1 = ZSCALE * sinh(t0 + (t1 - t0) * (j + 1) / NZCELL);
        c->arc = cell_arc(m, c);
        w[idx] = 0;
        if (c->arc <= 0)
            continue;
        double pr[5] = {0.5 * (c->r0 + c->r1), c->r0, c->r1, c->r0, c->r1};
        double pz[5] = {0.5 * (c->z0 + c->z1), c->z0, c->z0, c->z1, c->z1};
        double ph[5];
        for (int s = 0; s < 5; s++)
            ph[s] = pf_potential_phi(&m->pot, (double[3]){pr[s], 0, pz[s]});
        int ok = 0;
        for (int s = 0; s < 5 && !ok; s++)
            ok = u_fit(m, p, pr[s], ph[s], &c->q);
        if (!ok)
            continue;
        double hi = -INFINITY, lo = INFINITY;
        for (int s = 0; s < 5; s++) {
            double r = u_maxratio(m, p, pr[s], ph[s], &c->q);
            if (r > hi)
                hi = r;
            if (r < lo)
                lo = r;
        }
        if (!(hi > -INFINITY))
            continue;
        if (!(lo > -INFINITY))
            lo = hi - 2; /* part of the cell outside a halo's bound region */
        c->q.lnb = hi + 0.5 * (hi - lo) + 0.15;
        w[idx] = exp(c->q.lnb) * 0.5 * (c->r1 * c->r1 - c->r0 * c->r0) * (c->z1 - c->z0) * c->arc;
    }
    for (int idx = 1; idx < env->nc; idx++)
        w[idx] += w[idx - 1];
    if (!(w[env->nc - 1] > 0))
        return PF_ENUM;
    return PF_OK;
}

static void envelope_free(envelope *env)
{
    free(env->c);
    free(env->cum);
    env->c = NULL;
    env->cum = NULL;
}

/* (v_R, v_z) given u: Gaussian of variance s (disk); for the halo w^2/2 = t on
 * [0, D s] with density e^{-t/s} - e^{-D}, drawn by exact rejection (triangle
 * proposal for D < 1, truncated exponential otherwise), direction uniform. */
static void draw_vrz(const pf_population *p, const lpart *o, double phi, double u, gsl_rng *r,
                     double *vr, double *vz)
{
    double sd = sqrt(o->s);
    if (p->type == PF_POP_DISK) {
        *vr = sd * pf_rng_normal(r);
        *vz = sd * pf_rng_normal(r);
        return;
    }
    double D = (p->et - phi - 0.5 * u * u) / o->s, t;
    for (;;) {
        double a = pf_rng_uniform(r), b = pf_rng_uniform(r);
        if (D < 1) {
            t = D * (1 - sqrt(a));
            double mx = -expm1(-D) / D;
            double ratio = (D - t) > 0 ? (exp(-t) - exp(-D)) / (D - t) : mx;
            if (b * mx <= ratio)
                break;
        } else {
            t = -log1p(-a * (-expm1(-D)));
            if (b <= -expm1(-(D - t)))
                break;
        }
    }
    double w = sqrt(2 * t * o->s), ang = 2 * M_PI * pf_rng_uniform(r);
    *vr = w * cos(ang);
    *vz = w * sin(ang);
}

/* One star of population k from its envelope: returns the number of violations. */
static size_t draw_star(const pf_mock *m, int k, const envelope *env, gsl_rng *r, double x[3],
                        double v[3])
{
    const pf_population *p = &m->pop[k];
    double tot = env->cum[env->nc - 1], Rs2 = m->radius * m->radius;
    double phc = atan2(m->center[1], m->center[0]);
    size_t viol = 0;
    for (;;) {
        double y = pf_rng_uniform(r) * tot;
        int a = 0, b = env->nc - 1;
        while (a < b) {
            int c = (a + b) / 2;
            if (env->cum[c] > y)
                b = c;
            else
                a = c + 1;
        }
        const cell *c = &env->c[a];
        double R = sqrt(c->r0 * c->r0 + pf_rng_uniform(r) * (c->r1 * c->r1 - c->r0 * c->r0));
        double z = c->z0 + pf_rng_uniform(r) * (c->z1 - c->z0);
        double az = c->arc >= 2 * M_PI ? 2 * M_PI * pf_rng_uniform(r)
                                        : phc + c->arc * (pf_rng_uniform(r) - 0.5);
        double ca = cos(az), sa = sin(az);
        x[0] = R * ca;
        x[1] = R * sa;
        x[2] = z;
        double dx = x[0] - m->center[0], dy = x[1] - m->center[1], dz = z - m->center[2];
        if (dx * dx + dy * dy + dz * dz >= Rs2)
            continue;
        double u = c->q.mu + c->q.tau * gsl_ran_tdist(r, TNU);
        double phi = pf_potential_phi(&m->pot, x);
        lpart o;
        double lr = pop_lng(m, p, R, phi, u, &o) - ln_t5(&c->q, u) - c->q.lnb;
        if (lr > 0)
            viol++;
        if (!(log(pf_rng_uniform(r)) < lr))
            continue;
        double vr, vz;
        draw_vrz(p, &o, phi, u, r, &vr, &vz);
        /* e_R = (cos, sin, 0), e_u = (sin, -cos, 0) so that L = R u */
        v[0] = vr * ca + u * sa;
        v[1] = vr * sa - u * ca;
        v[2] = vz;
        return viol;
    }
}

#define BLOCK 4096

int pf_mock_sample(const pf_mock *m, uint64_t seed, size_t n, double *x, double *v, int *pop,
                   size_t *violations, pf_err *err)
{
    if (!m->prepared)
        return pf_err_set(err, PF_ESTATE, "mock: not prepared");
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
    size_t nblock = (n + BLOCK - 1) / BLOCK, viol = 0;
    int fail = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : viol) reduction(| : fail)
    for (size_t b = 0; b < nblock; b++) {
        gsl_rng *r = pf_rng_alloc(pf_rng_derive_seed(seed, b));
        if (!r) {
            fail = 1;
            continue;
        }
        size_t end = (b + 1) * BLOCK < n ? (b + 1) * BLOCK : n;
        for (size_t i = b * BLOCK; i < end; i++) {
            double u = pf_rng_uniform(r) * wsum;
            int k = 0;
            while (k < m->npop - 1 && u >= cw[k])
                k++;
            viol += draw_star(m, k, &env[k], r, x + 3 * i, v + 3 * i);
            if (pop)
                pop[i] = k;
        }
        gsl_rng_free(r);
    }
    for (int k = 0; k < m->npop; k++)
        envelope_free(&env[k]);
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
    int K = m->npop;
    double R = hypot(x0[0], x0[1]), phi = pf_potential_phi(&m->pot, x0);
    double cw[PF_MOCK_MAXPOP], tot = 0;
    uprop q[PF_MOCK_MAXPOP];
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(QLIMIT);
    if (!ws)
        return pf_err_set(err, PF_ENOMEM, "mock: out of memory");
    /* population k at x0 with probability proportional to its normalised n_k(x0) */
    for (int k = 0; k < K; k++) {
        double nk = exp(m->pop[k].lognorm) * u_quad(m, &m->pop[k], R, phi, 0, 1e-10, ws);
        int ok = nk > 0 && u_fit(m, &m->pop[k], R, phi, &q[k]);
        if (ok)
            q[k].lnb = u_maxratio(m, &m->pop[k], R, phi, &q[k]) + 0.1;
        tot += ok ? nk : 0;
        cw[k] = tot;
    }
    gsl_integration_workspace_free(ws);
    if (!(tot > 0))
        return pf_err_set(err, PF_ENUM, "mock: f vanishes at (%g, %g, %g)", x0[0], x0[1], x0[2]);
    double ca = R > 0 ? x0[0] / R : 1, sa = R > 0 ? x0[1] / R : 0;
    gsl_rng *r = pf_rng_alloc(pf_rng_derive_seed(seed, 7));
    if (!r)
        return pf_err_set(err, PF_ENOMEM, "mock: out of memory");
    size_t viol = 0;
    for (size_t i = 0; i < n; i++) {
        double y = pf_rng_uniform(r) * tot;
        int k = 0;
        while (k < K - 1 && y >= cw[k])
            k++;
        lpart o;
        double u;
        for (;;) {
            u = q[k].mu + q[k].tau * gsl_ran_tdist(r, TNU);
            double lr = pop_lng(m, &m->pop[k], R, phi, u, &o) - ln_t5(&q[k], u) - q[k].lnb;
            if (lr > 0)
                viol++;
            if (log(pf_rng_uniform(r)) < lr)
                break;
        }
        double vr, vz;
        draw_vrz(&m->pop[k], &o, phi, u, r, &vr, &vz);
        v[3 * i] = vr * ca + u * sa;
        v[3 * i + 1] = vr * sa - u * ca;
        v[3 * i + 2] = vz;
    }
    gsl_rng_free(r);
    if (violations)
        *violations = viol;
    return PF_OK;
}

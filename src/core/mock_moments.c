/*
 * mock_moments.c -- the mock's velocity marginal g(u) and what follows from it by
 * quadrature: densities n(x), velocity moments and the normalisation over the sphere.
 */
#include <math.h>
#include <stdlib.h>
#include <gsl/gsl_integration.h>
#include "mock_internal.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define UMAX_DISK 1500.0

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
double mock_pop_lng(const pf_mock *m, const pf_population *p, double R, double phi, double u,
                    lpart *o)
{
    mock_pop_lpart(m, p, R * u, o, 0);
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
    double lg = mock_pop_lng(q->m, q->p, q->R, q->phi, u, &o);
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

double mock_u_quad(const pf_mock *m, const pf_population *p, double R, double phi, int moment,
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
    return mock_u_quad(m, &m->pop[k], R, phi, 0, epsrel, ws);
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
            acc[j] += exp(m->pop[k].lognorm) * mock_u_quad(m, &m->pop[k], R, phi, j, 1e-10, ws);
    gsl_integration_workspace_free(ws);
    out[0] = acc[0];
    for (int j = 1; j < 5; j++)
        out[j] = acc[0] > 0 ? acc[j] / acc[0] : NAN;
    return PF_OK;
}

/* ---- normalisation over the sphere ----------------------------------------------------- */

/* Azimuthal angle (radians) of the circle (R, z) inside the sphere, rho2 the squared
 * radius of the sphere's section at that z, X0 the centre's cylindrical radius. */
double mock_arc_inside(double R, double X0, double rho2)
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
                double arc = mock_arc_inside(R, X0, rho2);
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

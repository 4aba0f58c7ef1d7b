/*
 * mock.c -- equilibrium tracer populations f(E, L) (see phaseflow/mock.h).
 *
 * Why (E, L) only: any function of the integrals of motion solves the collisionless
 * Boltzmann equation exactly, so the truth needs no simulation. All derivatives are
 * analytic through the chain rule; the only implicit quantity is the guiding radius
 * Rg(L), the root of Rg^3 dPhi/dR(Rg, 0) = L^2, found by safeguarded Newton to
 * machine precision, whose derivative follows from dL/dRg = Rg kappa^2 / (2 Omega).
 *
 * The module's parts: this file (setup, guiding radius, f and its gradient),
 * mock_moments.c (velocity marginal, densities, moments, normalisation) and
 * mock_sample.c (the exact sampler); mock_internal.h is what they share.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "phaseflow/constants.h"
#include "phaseflow/mock.h"
#include "mock_internal.h"

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
double mock_guiding_radius(const pf_mock *m, double aL, double *dr)
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

/* deriv = 0: the L derivatives (dlnA, deref, dlns) are not filled (one potential
 * evaluation less: the quadratures and the sampler need values only). */
void mock_pop_lpart(const pf_mock *m, const pf_population *p, double L, lpart *o, int deriv)
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
    double Rg = mock_guiding_radius(m, aL, deriv ? &dra : NULL);
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
    mock_pop_lpart(m, p, L, &o, 1);
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

/*
 * mock_sample.c -- the mock's exact sampler: stars and velocities drawn by rejection
 * from a certified envelope of f (see pf_mock_sample in phaseflow/mock.h).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include "phaseflow/rng.h"
#include "mock_internal.h"

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
        double rg = mock_guiding_radius(m, fabs(L), &dr);
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
    return mock_arc_inside(Rm, X0, rho2);
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
    double lr = mock_pop_lng(m, p, R, phi, u, &o) - c->lnb[b];
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
        double nk = exp(m->pop[k].lognorm) * mock_u_quad(m, &m->pop[k], R, phi, 0, 1e-10, ws);
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

/*
 * maf.c -- Masked Autoregressive Flows with exact gradients (see phaseflow/maf.h).
 *
 * Why this shape: every operation is a pass over a block of at most PF_MAF_ROWS rows
 * that keeps all activations of all transforms in a per-thread workspace. The forward
 * pass stores what the backward pass needs (GELU values and derivatives, scales and
 * their derivatives), so gradients with respect to input, context and parameters are
 * one analytic reverse sweep of GEMMs. Blocks are independent, so OpenMP spreads them
 * over threads; parameter gradients are summed per thread and then over threads in a
 * fixed order, so the bits depend only on the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <gsl/gsl_rng.h>
#include <omp.h>
#include "phaseflow/maf.h"
#include "phaseflow/panel.h"

#define R_ROWS PF_MAF_ROWS
#define SCALE_MIN 1e-3
#define LOG2PI 1.8378770664093454836

typedef struct prep {
    int sphere;
    double centre[3], radius;
    double *mean, *std;   /* owned, length d */
    double lj_const;      /* -sum ln std - 3 ln R (input only uses it) */
} prep;

typedef struct ws {
    double *X, *Hs, *A1, *D1, *A2, *D2, *S, *SIG;
    double *out, *gout, *cp, *gC, *ljac, *ldet, *wt;
    double *gH, *gA, *gT, *G, *G2, *grad, *cb;
    double *DZ, *DL; /* spline transforms: dz/draw and d ln g'/draw (T x R x NO) */
    int cident; /* all context rows of the current block are the same */
    int nod;    /* forward only: GELU derivatives not needed (not stored) */
} ws;

struct pf_maf {
    int D, C, T, H, B;
    int NO;               /* MADE outputs per row: 2D, or (3K - 1) D with spline layers */
    int *olen;            /* spline output row q: the hidden prefix it sees, upto[q / P] */
    int bins;             /* spline bins K and interval bound */
    double bound;
    char *layers;         /* T characters: 'a' affine, 's' spline */
    size_t W0, b0, Wc0, blk, blksz, Wo, bo, per, np;
    double *p, *g, *mask, *mp;
    prep pin, pcx;
    int nws;
    ws *w;
    double *wsmem;
    double s0;
    int *hd;              /* hidden degrees (H), in the order of the parameter vector */
    /* Inside, hidden units are sorted by degree (stable): mp holds the masked parameters
     * in that order (mp[i] = p[pidx[i]] * mask[pidx[i]]), so every masked H x H weight is
     * block lower-triangular and the units a unit of degree k sees are a prefix. Group g
     * holds the units [gbeg[g], gend[g]) of one degree; units of degree <= k are the
     * prefix [0, upto[k]). Per-thread gradients are in the sorted order too and are
     * scattered back through pidx. */
    int *hs;              /* sorted degrees (H) */
    size_t *pidx;         /* np: sorted-layout index -> parameter index */
    int ng, *gbeg, *gend; /* degree groups */
    int *upto;            /* D: units of degree <= k */
    /* Small-K weights transposed (K x H, ld H) for the vector row kernel, rebuilt with mp:
     * per transform W0^T (D x H), Wc0^T (C x H), then per block Wc^T (C x H). */
    double *mt;
    size_t mtper;
    /* The hidden H x H weights packed for pf_panel_gemm (CPUs with AVX2+FMA; others use
     * cblas_dgemm on mp), rebuilt with mp: per (transform, block, layer) and degree group
     * g, the forward block W[s:e, 0:e]^T (e x (e-s)) and the backward block W[s:H, s:e]
     * ((H-s) x (e-s)). pko[((t*B + b)*2 + layer)*2*ng + dir*ng + g] is its offset. */
    int panels;
    double *pk;
    size_t *pko;
    /* The parameters mp, mt and the panels were last built from (np doubles), and what
     * was built: a call with unchanged parameters skips the rebuild, which costs more than
     * a small batch (parameters may be written through pf_maf_params at any time, so the
     * comparison is by content). */
    double *psnap;
    int synced, synced_bwd;
};

/* offsets inside one block */
#define OW1(f) 0
#define OB1(f) ((size_t)(f)->H * (f)->H)
#define OWC(f) (OB1(f) + (size_t)(f)->H)
#define OW2(f) (OWC(f) + (size_t)(f)->H * (f)->C)
#define OB2(f) (OW2(f) + (size_t)(f)->H * (f)->H)

static inline double softplus(double a)
{
    return a > 0 ? a + log1p(exp(-a)) : log1p(exp(a));
}

static inline double sigmoid(double a)
{
    if (a >= 0)
        return 1.0 / (1.0 + exp(-a));
    double e = exp(a);
    return e / (1.0 + e);
}


/* ---- GELU on whole arrays -------------------------------------------------------------
 * Why: GELU costs as much as the GEMMs around it (on a 128-bit-FMA core a 4-double
 * vector operation is one cycle, and the general formula below takes ~60 of them), so
 * the common case gets its own short polynomial.
 *
 * Core, |a| <= 3 (h^2 <= 9: 99.4% of the activations of trained flows): with
 * t = 2 a^2/9 - 1 in [-1, 1],
 *   Phi(a) = 1/2 + a P(t),  phi(a) = G(t),
 * P of degree 16 and G of degree 17 interpolating (Phi(a) - 1/2)/a and phi(a) at
 * Chebyshev nodes (50-digit arithmetic), re-expanded in powers of t (sum of |coefficients|
 * 0.40 each, so Horner in doubles is well conditioned). Measured against 40-digit values
 * on a 1e-3 grid of [-3, 3]: |error of gelu| <= 2.6e-16 max(1, |a|), |error of gelu'|
 * <= 4.4e-16. Forward-only passes evaluate P alone: ~20 vector operations, not ~60.
 *
 * General formula (any a; used lane by lane where a^2 > 9):
 *   phi(a) = exp(-a^2/2)/sqrt(2 pi), with a^2 split exactly (FMA) so the argument of
 *   exp carries no rounding error, and exp by 2^n e^r with |r| <= ln2/2 and the Taylor
 *   polynomial of degree 13 (truncation < 1e-17);
 *   Q(t) = 1 - Phi(t) = phi(t) M(t), t = |a|, with the Mills ratio written as
 *   M(t) = g(y)/(t + 4), y = (t - 4)/(t + 4) in [-1, 1), and g a polynomial of degree 26
 *   from a Chebyshev series fitted (at 48 Chebyshev nodes, 40-digit arithmetic) for this
 *   code, evaluated by Horner's rule.
 * Measured against 40-digit values on [0, 38]: max relative error of Q 4e-16; exp
 * agrees with libm to 1 ulp. phi and Q are set to 0 beyond |a| = 37.4 (true values < 1e-304). */
#define GELU_CORE_S 9.0         /* a^2 bound of the core polynomials */
#define GELU_CORE_K (2.0 / 9.0) /* t = a^2 K - 1 */
static const double CORE_P[17] = {
    0.22771316680397166, -0.09283247990235838, 0.0459722434896897, -0.020571115580314134,
    0.008021489510844648, -0.0027291340792165225, 0.0008178788098865724,
    -0.00021822865394101673, 5.236835303004565e-05, -1.1403733638594245e-05,
    2.2711272916799614e-06, -4.165164092484012e-07, 7.075009114477624e-08,
    -1.1160413860226233e-08, 1.651938359646136e-09, -2.4636286797076634e-10,
    3.2034166374295814e-11};
static const double CORE_G[18] = {
    0.04204820699925297, -0.09460846574831894, 0.10643452396683996, -0.07982589297514187,
    0.044902064799020265, -0.020205929159392427, 0.007577223429603148,
    -0.0024355361034206725, 0.0006849945556932398, -0.00017124863542793538,
    3.8530866053507574e-05, -7.881320122410808e-06, 1.477878130853683e-06,
    -2.557794776551808e-07, 4.097817414179282e-08, -6.150796716441971e-09,
    9.339171418559353e-10, -1.2264870208869705e-10};

/* g in powers of y (its Chebyshev series re-expanded in 50-digit
 * arithmetic): Horner takes one FMA per degree where Clenshaw took two. The re-expansion
 * is well conditioned here (sum |a_k| = 5.04, g >= 0.5 on [-1, 1]): measured against the
 * Chebyshev form in exact arithmetic, Horner in doubles stays within 3.4e-16 relative. */
static const double MILLS_POLY[27] = {
    1.8932190633084852,
    -1.52377091081998297,
    9.70409554867587259e-1,
    -4.67540962998378114e-1,
    1.51391762312507036e-1,
    -1.89004508603048586e-2,
    -8.72229527565847707e-3,
    4.08785566110863753e-3,
    3.34244632214025173e-4,
    -5.79269143916400192e-4,
    -4.78337293144866135e-6,
    8.80949363205358079e-5,
    1.7968713266322371e-6,
    -1.48407095723204493e-5,
    -1.58015270382697245e-6,
    2.56317885083691808e-6,
    6.85735659885816884e-7,
    -3.92293252202929548e-7,
    -2.21547035912411213e-7,
    3.66737949934238966e-8,
    5.72357486084061895e-8,
    3.59197786373237774e-9,
    -1.14570119255199803e-8,
    -2.14229534439926336e-9,
    1.58549135757236241e-9,
    2.94648887628044113e-10,
    -1.12678072545586067e-10,
};

/* For t <= 8 (y <= 1/3; nearly every activation) a shorter fit of the same g: degree 17
 * in v = 1.5 y + 0.5 (Chebyshev fit on [-1, 1/3], 40 digits, re-expanded); Horner in
 * doubles within 3.3e-16 of g. Lanes with t > 8 use the full polynomial. */
#define MILLS_T1 8.0
static const double MILLS_SHORT[18] = {
    2.52821537572832694,
    -1.5666000577658764,
    6.86192052189379684e-1,
    -2.02166285540815489e-1,
    3.23222633421067137e-2,
    8.61976665855488385e-4,
    -1.36830185179914601e-3,
    7.159931115186979e-5,
    6.19211282298170994e-5,
    -3.75824170043012838e-6,
    -3.45262319119819018e-6,
    1.18318669617867182e-8,
    2.06609376103482781e-7,
    2.13327996453470961e-8,
    -1.06657126868129623e-8,
    -2.8716675942832626e-9,
    3.21877960767257503e-10,
    1.94979265049216955e-10,
};

static inline __attribute__((always_inline)) double exp_neg(double x)
{
    /* e^x for -745 < x <= 0 (callers clamp); exact power of two from the bits of n */
    const double L2E = 1.4426950408889634074, LN2_HI = 6.93147180369123816490e-01,
                 LN2_LO = 1.90821492927058770002e-10, SH = 6755399441055744.0; /* 1.5*2^52 */
    union { double d; long long i; } kb, sb, s;
    kb.d = fma(x, L2E, SH); /* n sits in the low mantissa bits: no float->int conversion,
                               which AVX2 lacks for packed doubles */
    sb.d = SH;
    double kn = kb.d - SH;
    double r = fma(-kn, LN2_HI, x);
    r = fma(-kn, LN2_LO, r);
    double p = 1.0 / 6227020800.0;
    p = fma(p, r, 1.0 / 479001600.0);
    p = fma(p, r, 1.0 / 39916800.0);
    p = fma(p, r, 1.0 / 3628800.0);
    p = fma(p, r, 1.0 / 362880.0);
    p = fma(p, r, 1.0 / 40320.0);
    p = fma(p, r, 1.0 / 5040.0);
    p = fma(p, r, 1.0 / 720.0);
    p = fma(p, r, 1.0 / 120.0);
    p = fma(p, r, 1.0 / 24.0);
    p = fma(p, r, 1.0 / 6.0);
    p = fma(p, r, 0.5);
    p = fma(p, r, 1.0);
    p = fma(p, r, 1.0);
    s.i = (kb.i - sb.i + 1023) << 52;
    return p * s.d;
}

/* c[deg] t^deg + ... + c[0] by Horner's rule, one FMA per degree (the vector kernel below
 * does the same operations in the same order). */
static inline double horner(double t, const double *c, int deg)
{
    double p = c[deg];
    for (int k = deg - 1; k >= 0; k--)
        p = fma(p, t, c[k]);
    return p;
}

/* Scalar GELU (portable fallback). Every step is the same IEEE operation as in the
 * vector kernel below (fma, selects written as comparisons), so both give identical bits. */
static void gelu_full_scalar(double x, double *a, double *d)
{
    {
        double t = fabs(x);
        double s = x * x, e = fma(x, x, -s);
        double arg = -0.5 * s;
        double keep = arg >= -700.0 ? 1.0 : 0.0;
        double phi = 0.39894228040143267794 * exp_neg(arg > -700.0 ? arg : -700.0) *
                     (1.0 - 0.5 * e);
        phi *= keep;
        double inv = 1.0 / (t + 4.0), y = (t - 4.0) * inv, g;
        if (t > MILLS_T1)
            g = horner(y, MILLS_POLY, 26);
        else
            g = horner(fma(y, 1.5, 0.5), MILLS_SHORT, 17);
        double q = phi * g * inv;
        double Phi = x >= 0 ? 1.0 - q : q;
        *a = x * Phi;
        if (d)
            *d = fma(x, phi, Phi);
    }
}

static void gelu_scalar(const double *h, double *a, double *d, size_t m)
{
    for (size_t i = 0; i < m; i++) {
        double x = h[i], s = x * x;
        if (s > GELU_CORE_S) {
            gelu_full_scalar(x, a + i, d ? d + i : NULL);
            continue;
        }
        double t = fma(s, GELU_CORE_K, -1.0);
        double Phi = fma(x, horner(t, CORE_P, 16), 0.5);
        a[i] = x * Phi;
        if (d)
            d[i] = fma(x, horner(t, CORE_G, 17), Phi);
    }
}

/* The same computation on 4-double vectors (GCC vector extensions; fma from the AVX2+FMA
 * intrinsic). GU vectors are processed side by side so the long FMA chains (exp
 * polynomial, Horner for g) of independent elements overlap in the pipeline. */
typedef double v4d __attribute__((vector_size(32)));
typedef long long v4i __attribute__((vector_size(32)));
#define GU 4

#define VFMA(a, b, c) ((v4d)__builtin_ia32_vfmaddpd256((a), (b), (c)))
#define VSEL(m, x, y) ((v4d)(((m) & (v4i)(x)) | (~(m) & (v4i)(y))))
#define VB(c) ((v4d){(c), (c), (c), (c)})

/* acc[u] = c[deg] t[u]^deg + ... + c[0] for nu vectors, the nu Horner chains interleaved so
 * they overlap in the pipeline (deg and nu are constants after inlining). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
horner_v(v4d *acc, const v4d *t, const double *c, const int deg, const int nu)
{
#pragma GCC unroll 4
    for (int u = 0; u < nu; u++)
        acc[u] = VB(c[deg]);
#pragma GCC unroll 26
    for (int k = deg - 1; k >= 0; k--)
#pragma GCC unroll 4
        for (int u = 0; u < nu; u++)
            acc[u] = VFMA(acc[u], t[u], VB(c[k]));
}

/* The general formula on nu (<= GU) vectors of h; nu and wd are constants after inlining. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
gelu_full_v(const double *h, double *a, double *d, const int wd, const int nu)
{
    const v4d L2E = VB(1.4426950408889634074), LN2_HI = VB(6.93147180369123816490e-01),
              LN2_LO = VB(1.90821492927058770002e-10), SH = VB(6755399441055744.0);
    static const double EC[14] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                                  1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
                                  1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
                                  1.0 / 24.0,         1.0 / 6.0,         0.5,
                                  1.0,                1.0};
    const v4i SIGN = (v4i)VB(-0.0);
    v4d x[GU], phi[GU], inv[GU], y[GU], g[GU], kb[GU], r[GU], p[GU];
    v4i keep[GU], far[GU], anyfar = {0, 0, 0, 0};
#pragma GCC unroll 4
    for (int u = 0; u < nu; u++) {
        memcpy(&x[u], h + 4 * u, sizeof(v4d));
        v4d s = x[u] * x[u], e = VFMA(x[u], x[u], -s), arg = -0.5 * s;
        keep[u] = arg >= -700.0;
        arg = (v4d)__builtin_ia32_maxpd256(arg, VB(-700.0));
        kb[u] = VFMA(arg, L2E, SH);
        v4d kn = kb[u] - SH;
        r[u] = VFMA(-kn, LN2_HI, arg);
        r[u] = VFMA(-kn, LN2_LO, r[u]);
        phi[u] = 1.0 - 0.5 * e; /* exp argument correction, applied below */
        p[u] = VB(EC[0]);
        v4d t = (v4d)((v4i)x[u] & ~SIGN);
        far[u] = t > MILLS_T1;
        anyfar |= far[u];
        inv[u] = 1.0 / (t + 4.0);
        y[u] = (t - 4.0) * inv[u];
    }
#pragma GCC unroll 13
    for (int k = 1; k < 14; k++)
#pragma GCC unroll 4
        for (int u = 0; u < nu; u++)
            p[u] = VFMA(p[u], r[u], VB(EC[k]));
    v4d v[GU];
#pragma GCC unroll 4
    for (int u = 0; u < nu; u++)
        v[u] = VFMA(y[u], VB(1.5), VB(0.5));
    horner_v(g, v, MILLS_SHORT, 17, nu);
    if (!__builtin_ia32_ptestz256(anyfar, anyfar)) { /* rare: some |h| > 8 */
        v4d gf[GU];
        horner_v(gf, y, MILLS_POLY, 26, nu);
#pragma GCC unroll 4
        for (int u = 0; u < nu; u++)
            g[u] = VSEL(far[u], gf[u], g[u]);
    }
#pragma GCC unroll 4
    for (int u = 0; u < nu; u++) {
        v4i sb = ((v4i)kb[u] - (v4i)SH + 1023) << 52;
        v4d ph = 0.39894228040143267794 * (p[u] * (v4d)sb) * phi[u];
        ph = (v4d)((v4i)ph & keep[u]); /* times keep (0 or 1); ph is finite here */
        v4d q = ph * g[u] * inv[u];
        v4d Phi = (v4d)__builtin_ia32_blendvpd256(q, 1.0 - q, (v4d)(x[u] >= 0.0));
        v4d av = x[u] * Phi;
        memcpy(a + 4 * u, &av, sizeof(v4d));
        if (wd) {
            v4d dv = VFMA(x[u], ph, Phi);
            memcpy(d + 4 * u, &dv, sizeof(v4d));
        }
    }
}

/* GU vectors: the core polynomials, then the general formula for the vectors that hold a
 * lane with a^2 > 9, blended in lane by lane (so a value's result never depends on its
 * neighbours, and equals gelu_scalar's bit for bit). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
gelu_v(const double *h, double *a, double *d, const int wd)
{
    v4d x[GU], t[GU], p[GU], g[GU], Phi[GU];
    v4i far[GU], anyfar = {0, 0, 0, 0}, allfar = ~anyfar;
#pragma GCC unroll 4
    for (int u = 0; u < GU; u++) {
        memcpy(&x[u], h + 4 * u, sizeof(v4d));
        v4d s = x[u] * x[u];
        far[u] = s > GELU_CORE_S;
        anyfar |= far[u];
        allfar &= far[u];
        t[u] = VFMA(s, VB(GELU_CORE_K), VB(-1.0));
    }
    if (__builtin_ia32_ptestc256(allfar, ~(v4i){0, 0, 0, 0})) {
        /* every lane is outside the core (large activations, e.g. an untrained flow fed
         * raw coordinates): the general formula alone */
        gelu_full_v(h, a, d, wd, GU);
        return;
    }
    horner_v(p, t, CORE_P, 16, GU);
#pragma GCC unroll 4
    for (int u = 0; u < GU; u++) {
        Phi[u] = VFMA(x[u], p[u], VB(0.5));
        v4d av = x[u] * Phi[u];
        memcpy(a + 4 * u, &av, sizeof(v4d));
    }
    if (wd) {
        horner_v(g, t, CORE_G, 17, GU);
#pragma GCC unroll 4
        for (int u = 0; u < GU; u++) {
            v4d dv = VFMA(x[u], g[u], Phi[u]);
            memcpy(d + 4 * u, &dv, sizeof(v4d));
        }
    }
    if (__builtin_ia32_ptestz256(anyfar, anyfar))
        return;
    for (int u = 0; u < GU; u++) { /* rare: some |h| > 3 */
        if (__builtin_ia32_ptestz256(far[u], far[u]))
            continue;
        v4d fa, fd, ca, cd; /* from x[u]: a may alias h, already overwritten */
        gelu_full_v((const double *)&x[u], (double *)&fa, (double *)&fd, wd, 1);
        memcpy(&ca, a + 4 * u, sizeof ca);
        ca = VSEL(far[u], fa, ca);
        memcpy(a + 4 * u, &ca, sizeof ca);
        if (wd) {
            memcpy(&cd, d + 4 * u, sizeof cd);
            cd = VSEL(far[u], fd, cd);
            memcpy(d + 4 * u, &cd, sizeof cd);
        }
    }
}

/* d may be NULL (forward-only passes: no derivative computed or stored). */
__attribute__((target("avx2,fma"))) static void gelu_avx2(const double *h, double *a,
                                                         double *d, size_t m)
{
    size_t i = 0;
    if (d)
        for (; i + 4 * GU <= m; i += 4 * GU)
            gelu_v(h + i, a + i, d + i, 1);
    else
        for (; i + 4 * GU <= m; i += 4 * GU)
            gelu_v(h + i, a + i, NULL, 0);
    if (i < m) {
        double hb[4 * GU] = {0}, ab[4 * GU], db[4 * GU];
        memcpy(hb, h + i, (m - i) * sizeof(double));
        gelu_v(hb, ab, db, 1);
        memcpy(a + i, ab, (m - i) * sizeof(double));
        if (d)
            memcpy(d + i, db, (m - i) * sizeof(double));
    }
}

/* a = gelu(h), d = gelu'(h) elementwise (a may alias h: each element is read first).
 * path: 0 = best available, 1 = scalar fallback, 2 = AVX2+FMA (falls back when absent). */
static int gelu_path(int path)
{
    int has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return path == 1 || !has ? 1 : 2;
}

static void gelu_array(const double *h, double *a, double *d, size_t m)
{
    if (gelu_path(0) == 2)
        gelu_avx2(h, a, d, m);
    else
        gelu_scalar(h, a, d, m);
}

int pf_maf_gelu(int path, size_t n, const double *h, double *a, double *d)
{
    int used = gelu_path(path);
    if (used == 2)
        gelu_avx2(h, a, d, n);
    else
        gelu_scalar(h, a, d, n);
    return used;
}

/* ---- preprocessing --------------------------------------------------------------- */

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
static double prep_row(const prep *p, int d, const double *x, double *y)
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
static void prep_back(const prep *p, int d, const double *x, const double *gy, double wt,
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
static void prep_inv_row(const prep *p, int d, const double *y, double *x)
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

static int prep_init(prep *p, int d)
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

/* ---- allocation ------------------------------------------------------------------- */

void pf_maf_free(pf_maf *f)
{
    if (!f)
        return;
    free(f->p);
    free(f->g);
    free(f->mask);
    free(f->mp);
    free(f->pin.mean);
    free(f->pin.std);
    free(f->pcx.mean);
    free(f->pcx.std);
    free(f->w);
    free(f->wsmem);
    free(f->hd);
    free(f->hs);
    free(f->pidx);
    free(f->pk);
    free(f->pko);
    free(f->psnap);
    free(f->gbeg);
    free(f->gend);
    free(f->upto);
    free(f->mt);
    free(f->layers);
    free(f->olen);
    free(f);
}

/* The degree-sorted internal order (see struct pf_maf): permutation, groups, prefix
 * counts, the index map pidx and the transposed small-K weights' buffer. */
static int sort_units(pf_maf *f)
{
    const int D = f->D, C = f->C, H = f->H, B = f->B;
    int *perm = malloc((size_t)H * sizeof(int));
    f->hs = malloc((size_t)H * sizeof(int));
    f->gbeg = malloc((size_t)H * sizeof(int));
    f->gend = malloc((size_t)H * sizeof(int));
    f->upto = malloc((size_t)D * sizeof(int));
    f->pidx = malloc(f->np * sizeof(size_t));
    f->mtper = (size_t)H * (size_t)(D + C * (B + 1));
    f->mt = malloc(f->mtper * (size_t)f->T * sizeof(double));
    if (!perm || !f->hs || !f->gbeg || !f->gend || !f->upto || !f->pidx || !f->mt) {
        free(perm);
        return PF_ENOMEM;
    }
    int m = 0;
    for (int d = 0; d < D; d++)
        for (int k = 0; k < H; k++)
            if (f->hd[k] == d)
                perm[m++] = k;
    f->ng = 0;
    for (int k = 0; k < H; k++) {
        f->hs[k] = f->hd[perm[k]];
        if (k == 0 || f->hs[k] != f->hs[k - 1]) {
            f->gbeg[f->ng] = k;
            f->ng++;
        }
        f->gend[f->ng - 1] = k + 1;
    }
    for (int d = 0; d < D; d++) {
        int c = 0;
        for (int k = 0; k < H; k++)
            c += f->hs[k] <= d;
        f->upto[d] = c;
    }
    const size_t h = (size_t)H, dd = (size_t)D, cc = (size_t)C;
    for (int t = 0; t < f->T; t++) {
        size_t base = (size_t)t * f->per, *q = f->pidx + base;
        for (size_t k = 0; k < h; k++) {
            size_t pk = (size_t)perm[k];
            for (size_t j = 0; j < dd; j++)
                q[f->W0 + k * dd + j] = base + f->W0 + pk * dd + j;
            q[f->b0 + k] = base + f->b0 + pk;
            for (size_t j = 0; j < cc; j++)
                q[f->Wc0 + k * cc + j] = base + f->Wc0 + pk * cc + j;
            for (int b = 0; b < B; b++) {
                size_t o = f->blk + (size_t)b * f->blksz;
                for (size_t j = 0; j < h; j++) {
                    size_t pj = (size_t)perm[j];
                    q[o + OW1(f) + k * h + j] = base + o + OW1(f) + pk * h + pj;
                    q[o + OW2(f) + k * h + j] = base + o + OW2(f) + pk * h + pj;
                }
                q[o + OB1(f) + k] = base + o + OB1(f) + pk;
                q[o + OB2(f) + k] = base + o + OB2(f) + pk;
                for (size_t j = 0; j < cc; j++)
                    q[o + OWC(f) + k * cc + j] = base + o + OWC(f) + pk * cc + j;
            }
            for (size_t o = 0; o < (size_t)f->NO; o++)
                q[f->Wo + o * h + k] = base + f->Wo + o * h + pk;
        }
        for (size_t o = 0; o < (size_t)f->NO; o++)
            q[f->bo + o] = base + f->bo + o;
    }
    free(perm);
    f->psnap = malloc(f->np * sizeof(double));
    if (!f->psnap)
        return PF_ENOMEM;
    /* panel offsets (see struct pf_maf) */
    size_t nslot = (size_t)f->T * (size_t)B * 4 * (size_t)f->ng, tot = 0;
    /* PHASEFLOW_MAF_GEMM=blas keeps OpenBLAS for the hidden layers (for comparison) */
    const char *gm = getenv("PHASEFLOW_MAF_GEMM");
    f->panels = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                !(gm && strcmp(gm, "blas") == 0);
    if (f->panels && nslot > 0) {
        f->pko = malloc(nslot * sizeof(size_t));
        if (!f->pko)
            return PF_ENOMEM;
        for (size_t i = 0; i < nslot; i++) {
            int g = (int)(i % (size_t)f->ng), dir = (int)(i / (size_t)f->ng % 2);
            int s = f->gbeg[g], e = f->gend[g];
            f->pko[i] = tot;
            tot += pf_panel_size(dir ? H - s : e, e - s);
        }
        f->pk = malloc((tot + 1) * sizeof(double));
        if (!f->pk)
            return PF_ENOMEM;
    } else {
        f->panels = 0;
    }
    return PF_OK;
}

static void init_uniform(gsl_rng *r, double *v, size_t n, double a)
{
    for (size_t i = 0; i < n; i++)
        v[i] = a * (2.0 * gsl_rng_uniform(r) - 1.0);
}

pf_maf *pf_maf_alloc(const pf_maf_config *cfg, pf_err *err)
{
    if (!cfg || cfg->dim < 1 || cfg->context < 0 || cfg->transforms < 1 || cfg->hidden < 1 ||
        cfg->blocks < 0 || cfg->dim > 10000 || cfg->hidden > 100000 || cfg->context > 100000 ||
        cfg->transforms > 10000) {
        pf_err_set(err, PF_EINVAL, "maf: invalid configuration (dim >= 1, context >= 0, "
                   "transforms >= 1, hidden >= 1, blocks >= 0)");
        return NULL;
    }
    if (cfg->transform != PF_MAF_AFFINE && cfg->transform != PF_MAF_SPLINE) {
        pf_err_set(err, PF_EINVAL, "maf: transform must be affine or spline");
        return NULL;
    }
    if (cfg->layers) {
        size_t len = strlen(cfg->layers);
        if (len != (size_t)cfg->transforms || strspn(cfg->layers, "as") != len) {
            pf_err_set(err, PF_EINVAL, "maf: layers must hold %d characters 'a' (affine) or "
                       "'s' (spline), one per transform", cfg->transforms);
            return NULL;
        }
    }
    int bins = cfg->bins ? cfg->bins : 8;
    double bound = cfg->bound != 0 ? cfg->bound : 3.0;
    if (bins < 2 || bins > PF_SPLINE_MAXBINS || !(bound > 0 && isfinite(bound))) {
        pf_err_set(err, PF_EINVAL, "maf: spline bins must be in 2..%d and bound positive and "
                   "finite", PF_SPLINE_MAXBINS);
        return NULL;
    }
    pf_maf *f = calloc(1, sizeof *f);
    if (!f) {
        pf_err_set(err, PF_ENOMEM, "maf: out of memory");
        return NULL;
    }
    int D = f->D = cfg->dim, C = f->C = cfg->context, H = f->H = cfg->hidden;
    f->T = cfg->transforms;
    f->B = cfg->blocks;
    f->bins = bins;
    f->bound = bound;
    f->layers = malloc((size_t)f->T + 1);
    if (!f->layers) {
        pf_maf_free(f);
        pf_err_set(err, PF_ENOMEM, "maf: out of memory");
        return NULL;
    }
    for (int t = 0; t < f->T; t++)
        f->layers[t] = cfg->layers ? cfg->layers[t] : cfg->transform == PF_MAF_SPLINE ? 's' : 'a';
    f->layers[f->T] = 0;
    f->NO = strchr(f->layers, 's') ? pf_spline_nraw(bins) * D : 2 * D;
    size_t off = 0;
    f->W0 = off; off += (size_t)H * D;
    f->b0 = off; off += (size_t)H;
    f->Wc0 = off; off += (size_t)H * C;
    f->blk = off;
    f->blksz = OB2(f) + (size_t)H;
    off += (size_t)f->B * f->blksz;
    f->Wo = off; off += (size_t)f->NO * H;
    f->bo = off; off += (size_t)f->NO;
    f->per = off;
    f->np = off * (size_t)f->T;
    f->s0 = log(expm1(1.0 - SCALE_MIN));
    f->p = malloc(f->np * sizeof(double));
    f->g = calloc(f->np, sizeof(double));
    f->mask = malloc(f->np * sizeof(double));
    f->mp = malloc(f->np * sizeof(double));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!f->p || !f->g || !f->mask || !f->mp || !r || prep_init(&f->pin, D) != PF_OK ||
        prep_init(&f->pcx, C) != PF_OK) {
        if (r)
            gsl_rng_free(r);
        pf_maf_free(f);
        pf_err_set(err, PF_ENOMEM, "maf: out of memory");
        return NULL;
    }
    gsl_rng_set(r, (unsigned long)(cfg->seed ^ (cfg->seed >> 32)));
    /* degrees: inputs 1..D, hidden sequential */
    int *hd = malloc((size_t)H * sizeof(int));
    if (!hd) {
        gsl_rng_free(r);
        pf_maf_free(f);
        pf_err_set(err, PF_ENOMEM, "maf: out of memory");
        return NULL;
    }
    int m1 = D - 1 > 1 ? D - 1 : 1, m0 = D - 1 < 1 ? D - 1 : 1;
    for (int k = 0; k < H; k++)
        hd[k] = k % m1 + m0;
    for (size_t i = 0; i < f->np; i++)
        f->mask[i] = 1.0;
    double fi_d = 1.0 / sqrt((double)D), fi_h = 1.0 / sqrt((double)H);
    double fi_c = C > 0 ? 1.0 / sqrt((double)C) : 0;
    for (int t = 0; t < f->T; t++) {
        double *P = f->p + (size_t)t * f->per, *M = f->mask + (size_t)t * f->per;
        init_uniform(r, P + f->W0, (size_t)H * D, fi_d);
        init_uniform(r, P + f->b0, (size_t)H, fi_d);
        init_uniform(r, P + f->Wc0, (size_t)H * C, fi_c);
        for (int k = 0; k < H; k++)
            for (int j = 0; j < D; j++)
                M[f->W0 + (size_t)k * D + j] = hd[k] >= j + 1;
        for (int b = 0; b < f->B; b++) {
            size_t o = f->blk + (size_t)b * f->blksz;
            init_uniform(r, P + o + OW1(f), (size_t)H * H, fi_h);
            init_uniform(r, P + o + OB1(f), (size_t)H, fi_h);
            init_uniform(r, P + o + OWC(f), (size_t)H * C, fi_c);
            init_uniform(r, P + o + OW2(f), (size_t)H * H, 1e-3);
            init_uniform(r, P + o + OB2(f), (size_t)H, 1e-3);
            for (int k = 0; k < H; k++)
                for (int j = 0; j < H; j++) {
                    double m = hd[k] >= hd[j];
                    M[o + OW1(f) + (size_t)k * H + j] = m;
                    M[o + OW2(f) + (size_t)k * H + j] = m;
                }
        }
        init_uniform(r, P + f->Wo, (size_t)f->NO * H, fi_h);
        init_uniform(r, P + f->bo, (size_t)f->NO, fi_h);
        /* an affine transform in a mixed stack leaves the rows from 2D on unused */
        /* a spline's rows are dimension-major (row i P + j: raw value j of dimension i) */
        int spl = f->layers[t] == 's', used = spl ? f->NO : 2 * D, P1 = f->NO / D;
        for (int o = 0; o < f->NO; o++) {
            int dim = spl ? o / P1 : o % D;
            for (int k = 0; k < H; k++)
                M[f->Wo + (size_t)o * H + k] = o < used && dim + 1 > hd[k];
            M[f->bo + (size_t)o] = o < used;
        }
    }
    f->hd = hd;
    gsl_rng_free(r);
    for (size_t i = 0; i < f->np; i++)
        f->p[i] *= f->mask[i];
    if (sort_units(f) != PF_OK || !(f->olen = malloc((size_t)f->NO * sizeof(int)))) {
        pf_maf_free(f);
        pf_err_set(err, PF_ENOMEM, "maf: out of memory");
        return NULL;
    }
    for (int o = 0; o < f->NO; o++)
        f->olen[o] = f->upto[o / (f->NO / D)];
    return f;
}

void pf_maf_get_config(const pf_maf *f, pf_maf_config *cfg)
{
    cfg->dim = f->D;
    cfg->context = f->C;
    cfg->transforms = f->T;
    cfg->hidden = f->H;
    cfg->blocks = f->B;
    cfg->seed = 0;
    cfg->layers = f->layers;
    cfg->transform = !strchr(f->layers, 's') ? PF_MAF_AFFINE
                     : !strchr(f->layers, 'a') ? PF_MAF_SPLINE : PF_MAF_MIXED;
    cfg->bins = f->bins;
    cfg->bound = f->bound;
}

int pf_maf_nout(const pf_maf *f) { return f->NO; }

size_t pf_maf_nparams(const pf_maf *f) { return f->np; }
double *pf_maf_params(pf_maf *f) { return f->p; }
double *pf_maf_grad(pf_maf *f) { return f->g; }
const double *pf_maf_mask(const pf_maf *f) { return f->mask; }

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

/* Workspaces for the current OpenMP thread count (re-made when it changes). */
static int ensure_ws(pf_maf *f, pf_err *err)
{
    int nt = omp_get_max_threads();
    if (nt < 1)
        nt = 1;
    if (f->w && f->nws == nt)
        return PF_OK;
    free(f->w);
    free(f->wsmem);
    f->w = NULL;
    f->wsmem = NULL;
    size_t R = R_ROWS, D = (size_t)f->D, C = (size_t)f->C, H = (size_t)f->H;
    size_t T = (size_t)f->T, B = (size_t)f->B;
    size_t NO = (size_t)f->NO, nsp = strchr(f->layers, 's') ? T * R * NO : 0;
    size_t per = (T + 1) * R * D + T * (B + 1) * R * H + 4 * T * B * R * H + 2 * T * R * D +
                 2 * R * NO + 2 * R * C + 3 * R + 3 * R * H + 2 * R * D + f->np + H + 2 * nsp;
    per = (per + 7) & ~(size_t)7;
    f->w = calloc((size_t)nt, sizeof(ws));
    f->wsmem = malloc(per * (size_t)nt * sizeof(double));
    if (!f->w || !f->wsmem) {
        free(f->w);
        free(f->wsmem);
        f->w = NULL;
        f->wsmem = NULL;
        return pf_err_set(err, PF_ENOMEM, "maf: out of memory for workspaces");
    }
    for (int i = 0; i < nt; i++) {
        double *m = f->wsmem + per * (size_t)i;
        ws *w = &f->w[i];
#define TAKE(field, cnt) do { w->field = m; m += (cnt); } while (0)
        TAKE(X, (T + 1) * R * D);
        TAKE(Hs, T * (B + 1) * R * H);
        TAKE(A1, T * B * R * H);
        TAKE(D1, T * B * R * H);
        TAKE(A2, T * B * R * H);
        TAKE(D2, T * B * R * H);
        TAKE(S, T * R * D);
        TAKE(SIG, T * R * D);
        TAKE(out, R * NO);
        TAKE(gout, R * NO);
        TAKE(cp, R * C);
        TAKE(gC, R * C);
        TAKE(ljac, R);
        TAKE(ldet, R);
        TAKE(wt, R);
        TAKE(gH, R * H);
        TAKE(gA, R * H);
        TAKE(gT, R * H);
        TAKE(G, R * D);
        TAKE(G2, R * D);
        TAKE(grad, f->np);
        TAKE(cb, H);
        TAKE(DZ, nsp);
        TAKE(DL, nsp);
#undef TAKE
    }
    f->nws = nt;
    return PF_OK;
}

/* The panel of (transform t, block b, layer 0 = W1 / 1 = W2, dir 0 = forward /
 * 1 = backward, group g). */
static inline const double *panel(const pf_maf *f, int t, int b, int layer, int dir, int g)
{
    size_t slot = (((size_t)t * (size_t)f->B + (size_t)b) * 2 + (size_t)layer) * 2 + (size_t)dir;
    return f->pk + f->pko[slot * (size_t)f->ng + (size_t)g];
}

/* Rebuild the masked sorted parameters mp, the transposed small-K weights mt, and the
 * forward (and, when bwd, backward) panels from the parameter vector. */
static void sync_masked(pf_maf *f, int bwd)
{
    const size_t D = (size_t)f->D, C = (size_t)f->C, H = (size_t)f->H;
    int same = f->synced && memcmp(f->psnap, f->p, f->np * sizeof(double)) == 0;
    if (same && (!bwd || f->synced_bwd))
        return;
    int dir0 = same ? 1 : 0; /* unchanged: only the backward panels are missing */
    if (!same) {
        for (size_t i = 0; i < f->np; i++)
            f->mp[i] = f->p[f->pidx[i]] * f->mask[f->pidx[i]];
        memcpy(f->psnap, f->p, f->np * sizeof(double));
        f->synced = 1;
    }
    f->synced_bwd = bwd;
    for (int t = 0; f->panels && t < f->T; t++)
        for (int b = 0; b < f->B; b++)
            for (int layer = 0; layer < 2; layer++) {
                const double *Wl = f->mp + (size_t)t * f->per + f->blk + (size_t)b * f->blksz +
                                   (layer ? OW2(f) : OW1(f));
                for (int dir = dir0; dir <= bwd; dir++)
                    for (int g = 0; g < f->ng; g++) {
                        size_t s = (size_t)f->gbeg[g];
                        int e = f->gend[g], w = e - (int)s;
                        double *P = (double *)panel(f, t, b, layer, dir, g);
                        if (dir == 0) /* B[k, j] = W[s + j, k], k < e */
                            pf_panel_pack(e, w, Wl + s * H, 1, H, P);
                        else /* B[k, j] = W[s + k, s + j], k < H - s */
                            pf_panel_pack((int)(H - s), w, Wl + s * H + s, H, 1, P);
                    }
            }
    if (same)
        return;
    for (int t = 0; t < f->T; t++) {
        const double *P = f->mp + (size_t)t * f->per;
        double *M = f->mt + (size_t)t * f->mtper;
        for (size_t k = 0; k < H; k++) {
            for (size_t j = 0; j < D; j++)
                M[j * H + k] = P[f->W0 + k * D + j];
            for (size_t j = 0; j < C; j++)
                M[(D + j) * H + k] = P[f->Wc0 + k * C + j];
            for (int b = 0; b < f->B; b++) {
                const double *Pb = P + f->blk + (size_t)b * f->blksz;
                double *Mb = M + D * H + (size_t)(b + 1) * C * H;
                for (size_t j = 0; j < C; j++)
                    Mb[j * H + k] = Pb[OWC(f) + k * C + j];
            }
        }
    }
}

/* ---- MADE ------------------------------------------------------------------------ */

/* dst[j] += sum_r src[r, j] (n x m) and dst = a * b or dst += a * b elementwise, in
 * 4-double vectors (same order of additions as the plain loops). */
static inline __attribute__((always_inline)) void
colsum_body(double *dst, const double *src, size_t n, size_t m)
{
    size_t j = 0;
    for (; j + 4 <= m; j += 4) {
        v4d acc, v;
        memcpy(&acc, dst + j, sizeof acc);
        for (size_t r = 0; r < n; r++) {
            memcpy(&v, src + r * m + j, sizeof v);
            acc += v;
        }
        memcpy(dst + j, &acc, sizeof acc);
    }
    for (; j < m; j++)
        for (size_t r = 0; r < n; r++)
            dst[j] += src[r * m + j];
}

static inline __attribute__((always_inline)) void
vmul_body(double *dst, const double *a, const double *b, size_t m, int acc)
{
    size_t i = 0;
    for (; i + 4 <= m; i += 4) {
        v4d x, y, z;
        memcpy(&x, a + i, sizeof x);
        memcpy(&y, b + i, sizeof y);
        if (acc) {
            memcpy(&z, dst + i, sizeof z);
            z += x * y;
        } else {
            z = x * y;
        }
        memcpy(dst + i, &z, sizeof z);
    }
    for (; i < m; i++)
        dst[i] = acc ? dst[i] + a[i] * b[i] : a[i] * b[i];
}

__attribute__((target("avx2"))) static void colsum_avx2(double *dst, const double *src,
                                                       size_t n, size_t m)
{
    colsum_body(dst, src, n, m);
}

__attribute__((target("avx2"))) static void vmul_avx2(double *dst, const double *a,
                                                     const double *b, size_t m, int acc)
{
    vmul_body(dst, a, b, m, acc);
}

static void colsum_add(double *dst, const double *src, size_t n, size_t m)
{
    if (gelu_path(0) == 2)
        colsum_avx2(dst, src, n, m);
    else
        colsum_body(dst, src, n, m);
}

static void vmul(double *dst, const double *a, const double *b, size_t m, int acc)
{
    if (gelu_path(0) == 2)
        vmul_avx2(dst, a, b, m, acc);
    else
        vmul_body(dst, a, b, m, acc);
}

/* out[r, 0:h] = bias + sum_j c[r, j] ct[j, :] + sum_j x[r, j] xt[j, :] for n rows (out ld h,
 * xt and ct ld ldt), in that order of additions (so a bias with the context terms folded
 * in first gives identical bits). The small-K products (K = D or C) as one vector pass:
 * cheaper than a K = 3 GEMM, whose packing costs more than its arithmetic. */
static inline __attribute__((always_inline)) void
rowk_body(size_t n, int h, double *out, int ldo, const double *bias, const double *x, int kx,
          const double *xt, const double *c, int kc, const double *ct, int ldt)
{
    for (size_t r = 0; r < n; r++) {
        double *o = out + r * (size_t)ldo;
        const double *xr = kx ? x + r * (size_t)kx : NULL, *cr = kc ? c + r * (size_t)kc : NULL;
        int k = 0;
        for (; k + 4 <= h; k += 4) {
            v4d acc = {0, 0, 0, 0}, wv;
            if (bias)
                memcpy(&acc, bias + k, sizeof acc);
            for (int j = 0; j < kc; j++) {
                memcpy(&wv, ct + (size_t)j * (size_t)ldt + (size_t)k, sizeof wv);
                acc += VB(cr[j]) * wv;
            }
            for (int j = 0; j < kx; j++) {
                memcpy(&wv, xt + (size_t)j * (size_t)ldt + (size_t)k, sizeof wv);
                acc += VB(xr[j]) * wv;
            }
            memcpy(o + k, &acc, sizeof acc);
        }
        for (; k < h; k++) {
            double acc = bias ? bias[k] : 0.0;
            for (int j = 0; j < kc; j++)
                acc += cr[j] * ct[(size_t)j * (size_t)ldt + (size_t)k];
            for (int j = 0; j < kx; j++)
                acc += xr[j] * xt[(size_t)j * (size_t)ldt + (size_t)k];
            o[k] = acc;
        }
    }
}

__attribute__((target("avx2"))) static void
rowk_avx2(size_t n, int h, double *out, int ldo, const double *bias, const double *x, int kx,
          const double *xt, const double *c, int kc, const double *ct, int ldt)
{
    rowk_body(n, h, out, ldo, bias, x, kx, xt, c, kc, ct, ldt);
}

static void rowk_plain(size_t n, int h, double *out, int ldo, const double *bias,
                       const double *x, int kx, const double *xt, const double *c, int kc,
                       const double *ct, int ldt)
{
    rowk_body(n, h, out, ldo, bias, x, kx, xt, c, kc, ct, ldt);
}

static void rowk(size_t n, int h, double *out, int ldo, const double *bias, const double *x,
                 int kx, const double *xt, const double *c, int kc, const double *ct, int ldt)
{
    if (gelu_path(0) == 2)
        rowk_avx2(n, h, out, ldo, bias, x, kx, xt, c, kc, ct, ldt);
    else
        rowk_plain(n, h, out, ldo, bias, x, kx, xt, c, kc, ct, ldt);
}

/* out[r, o] (ld ldo) = base[o] (or out[r, o] when base is NULL) + sum_{k < len(o)}
 * A[r, k] W[o, k] for o < no, len(o) = min(lens ? lens[o % lmod] : la, la): products
 * with few outputs (the MADE output layer, input and context gradients), where a GEMM
 * with n = 3..6 wastes most of its micro-kernel. */
static inline __attribute__((always_inline)) void
rowdot_body(size_t n, int no, const double *A, int lda, int la, const double *W, int ldw,
            const int *lens, int lmod, const double *base, double *out, int ldo)
{
    for (size_t r = 0; r < n; r++) {
        const double *a = A + r * (size_t)lda;
        double *o = out + r * (size_t)ldo;
        for (int q = 0; q < no; q++) {
            int len = lens ? lens[q % lmod] : la;
            if (len > la)
                len = la;
            const double *wq = W + (size_t)q * (size_t)ldw;
            v4d s0 = {0, 0, 0, 0}, s1 = s0, av, wv;
            int k = 0;
            for (; k + 8 <= len; k += 8) {
                memcpy(&av, a + k, sizeof av);
                memcpy(&wv, wq + k, sizeof wv);
                s0 += av * wv;
                memcpy(&av, a + k + 4, sizeof av);
                memcpy(&wv, wq + k + 4, sizeof wv);
                s1 += av * wv;
            }
            s0 += s1;
            double acc = (s0[0] + s0[2]) + (s0[1] + s0[3]);
            for (; k < len; k++)
                acc += a[k] * wq[k];
            o[q] = (base ? base[q] : o[q]) + acc;
        }
    }
}

__attribute__((target("avx2"))) static void
rowdot_avx2(size_t n, int no, const double *A, int lda, int la, const double *W, int ldw,
            const int *lens, int lmod, const double *base, double *out, int ldo)
{
    rowdot_body(n, no, A, lda, la, W, ldw, lens, lmod, base, out, ldo);
}

static void rowdot_plain(size_t n, int no, const double *A, int lda, int la, const double *W,
                         int ldw, const int *lens, int lmod, const double *base, double *out,
                         int ldo)
{
    rowdot_body(n, no, A, lda, la, W, ldw, lens, lmod, base, out, ldo);
}

static void rowdot(size_t n, int no, const double *A, int lda, int la, const double *W, int ldw,
                   const int *lens, int lmod, const double *base, double *out, int ldo)
{
    if (gelu_path(0) == 2)
        rowdot_avx2(n, no, A, lda, la, W, ldw, lens, lmod, base, out, ldo);
    else
        rowdot_plain(n, no, A, lda, la, W, ldw, lens, lmod, base, out, ldo);
}

/* Cout[:, h0:h1] += A W^T for a masked hidden weight W (all ld H) in the degree-sorted
 * order: group g's outputs see the prefix [0, gend[g]) of the inputs, so only the nonzero
 * blocks are multiplied (for D = 3: 3/4 of the dense product). [h0, h1) is a union of
 * whole groups. */
static void gemm_fwd_grp(const pf_maf *f, size_t n, int h0, int h1, const double *A,
                         const double *W, double *Cout, const double *base,
                         const double *bias, int t, int b, int layer)
{
    const int H = f->H;
    for (int g = 0; g < f->ng; g++) {
        int s = f->gbeg[g], e = f->gend[g];
        if (s < h0 || e > h1)
            continue;
        const double *bs = base ? base + s : NULL, *bb = bias ? bias + s : NULL;
        if (f->panels) {
            pf_panel_gemm(2, n, e, e - s, A, (size_t)H, panel(f, t, b, layer, 0, g), Cout + s,
                          (size_t)H, bs, (size_t)H, bb);
            continue;
        }
        for (size_t r = 0; r < n && (bs || bb); r++)
            for (int j = 0; j < e - s; j++) {
                size_t o = r * (size_t)H + (size_t)j;
                Cout[s + o] = bs && bb ? bs[o] + bb[j] : bs ? bs[o] : bb[j];
            }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, e - s, e, 1.0, A, H,
                    W + (size_t)s * (size_t)H, H, 1.0, Cout + s, H);
    }
}

/* gA (n x H) = gO (n x H) W (full width; overwrites), nonzero blocks only: the inputs of
 * group g are seen by the outputs [gbeg[g], H). */
static void gemm_bwd_grp(const pf_maf *f, size_t n, const double *gO, const double *W,
                         double *gA, int t, int b, int layer)
{
    const int H = f->H;
    for (int g = 0; g < f->ng; g++) {
        int s = f->gbeg[g], e = f->gend[g];
        if (f->panels) {
            pf_panel_gemm(2, n, H - s, e - s, gO + s, (size_t)H, panel(f, t, b, layer, 1, g),
                          gA + s, (size_t)H, NULL, 0, NULL);
            continue;
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, e - s, H - s, 1.0,
                    gO + s, H, W + (size_t)s * (size_t)H + (size_t)s, H, 0.0, gA + s, H);
    }
}

/* gW (H x H) += gO^T A over n rows, nonzero blocks only. */
static void gemm_wgt_grp(const pf_maf *f, size_t n, const double *gO, const double *A,
                         double *gW)
{
    const int H = f->H;
    for (int g = 0; g < f->ng; g++) {
        int s = f->gbeg[g], e = f->gend[g];
        if (f->panels) {
            pf_panel_gemm_tn(2, n, e - s, e, gO + s, (size_t)H, A, (size_t)H,
                             gW + (size_t)s * (size_t)H, (size_t)H);
            continue;
        }
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, e - s, e, (int)n, 1.0, gO + s, H,
                    A, H, 1.0, gW + (size_t)s * (size_t)H, H);
    }
}

/* GELU on the columns [h0, h1) of n rows of stride H (d may be NULL). */
static void gelu_cols(const double *hh, double *a, double *d, size_t n, int H, int h0, int h1)
{
    if (h0 == 0 && h1 == H) {
        gelu_array(hh, a, d, n * (size_t)H);
        return;
    }
    for (size_t r = 0; r < n; r++) {
        size_t o = r * (size_t)H + (size_t)h0;
        gelu_array(hh + o, a + o, d ? d + o : NULL, (size_t)(h1 - h0));
    }
}

/* One MADE of transform t on n rows of X (n x D) with preprocessed context cp. Hidden
 * states, activations and derivatives live in the transform's slices of w (row stride H,
 * units in degree order). Only the units [h0, h1) are computed: the units [0, h0) must
 * already hold this input's values (the inverse pass k computes only the units of degree
 * k: units of lower degree see only inputs that pass k - 1 already had). The outputs see
 * the units [0, h1) (output o its degree prefix); h1 = 0 leaves the biases. When every
 * context row of the block is the same (w->cident), the context terms are folded into
 * the biases once. */
static void made_fwd(const pf_maf *f, ws *w, int t, size_t n, const double *X,
                     const double *cp, int h0, int h1)
{
    const int D = f->D, C = f->C, H = f->H, B = f->B;
    const size_t RH = R_ROWS * (size_t)H;
    const double *P = f->mp + (size_t)t * f->per;
    const double *Mt = f->mt + (size_t)t * f->mtper;
    double *Hs = w->Hs + (size_t)t * (size_t)(B + 1) * RH;
    double *A1 = w->A1 + (size_t)t * (size_t)B * RH, *D1 = w->D1 + (size_t)t * (size_t)B * RH;
    double *A2 = w->A2 + (size_t)t * (size_t)B * RH, *D2 = w->D2 + (size_t)t * (size_t)B * RH;
    const int ident = C > 0 && w->cident;
    const int kc = ident ? 0 : C, hw = h1 - h0;
    if (hw > 0) {
        const double *bias = P + f->b0 + h0, *ct = Mt + (size_t)D * (size_t)H;
        if (ident) {
            rowk(1, hw, w->cb + h0, hw, bias, NULL, 0, NULL, cp, C, ct + h0, H);
            bias = w->cb + h0;
        }
        rowk(n, hw, Hs + h0, H, bias, X, D, Mt + h0, cp, kc, ct + h0, H);
        for (int b = 0; b < B; b++) {
            const double *Pb = P + f->blk + (size_t)b * f->blksz;
            const double *ctb = ct + (size_t)(b + 1) * (size_t)C * (size_t)H + h0;
            double *hh = Hs + (size_t)b * RH, *hn = hh + RH;
            double *a1 = A1 + (size_t)b * RH, *d1 = D1 + (size_t)b * RH;
            double *a2 = A2 + (size_t)b * RH, *d2 = D2 + (size_t)b * RH;
            gelu_cols(hh, a1, w->nod ? NULL : d1, n, H, h0, h1);
            /* the first layer starts from its bias row (with a shared context folded in) or,
             * with a context per row, from the rows of bias + context terms */
            const double *base1 = NULL, *bias1 = Pb + OB1(f);
            if (ident) {
                rowk(1, hw, w->cb + h0, hw, Pb + OB1(f) + h0, NULL, 0, NULL, cp, C, ctb, H);
                bias1 = w->cb;
            } else if (C > 0) {
                rowk(n, hw, a2 + h0, H, Pb + OB1(f) + h0, NULL, 0, NULL, cp, C, ctb, H);
                base1 = a2;
                bias1 = NULL;
            }
            gemm_fwd_grp(f, n, h0, h1, a1, Pb + OW1(f), a2, base1, bias1, t, b, 0);
            gelu_cols(a2, a2, w->nod ? NULL : d2, n, H, h0, h1);
            /* residual: h_next = h + b2 + W2 gelu(t) */
            gemm_fwd_grp(f, n, h0, h1, a2, Pb + OW2(f), hn, hh, Pb + OB2(f), t, b, 1);
        }
    }
    /* output o sees the units of degree <= its dimension: the prefix upto[dim]. A spline's
     * P = 3K - 1 rows per dimension are too many for the row kernel: with every unit
     * computed, one GEMM per dimension over its prefix. */
    const int NO = f->NO;
    if (f->layers[t] == 's') {
        if (h0 > 0 || h1 < H) { /* the inverse's passes: a prefix of the units is valid */
            rowdot(n, NO, Hs + (size_t)B * RH, H, h1, P + f->Wo, H, f->olen, NO, P + f->bo,
                   w->out, NO);
            return;
        }
        const int P1 = NO / D;
        for (size_t r = 0; r < n; r++)
            memcpy(w->out + r * (size_t)NO, P + f->bo, (size_t)NO * sizeof(double));
        for (int i = 0; i < D; i++)
            if (f->upto[i] > 0)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, P1, f->upto[i], 1.0,
                            Hs + (size_t)B * RH, H, P + f->Wo + (size_t)i * P1 * H, H, 1.0,
                            w->out + (size_t)i * P1, NO);
        return;
    }
    rowdot(n, 2 * D, Hs + (size_t)B * RH, H, h1, P + f->Wo, H, f->upto, D, P + f->bo, w->out,
           NO);
}

/* 1 when all n context rows equal the first (bitwise). */
static int rows_ident(const double *c, size_t n, int C)
{
    for (size_t r = 1; r < n; r++)
        if (memcmp(c + r * (size_t)C, c, (size_t)C * sizeof(double)) != 0)
            return 0;
    return 1;
}

/* ---- block passes ------------------------------------------------------------------ */

/* Forward over one block: preprocessing, all transforms, log p into logp (may be NULL;
 * always kept in w->ldet as the log-determinant sum and w->ljac). */
static void blk_forward(const pf_maf *f, ws *w, size_t n, const double *x, const double *c)
{
    const int D = f->D, C = f->C, T = f->T;
    const size_t R = R_ROWS;
    for (size_t r = 0; r < n; r++) {
        w->ljac[r] = prep_row(&f->pin, D, x + r * (size_t)D, w->X + r * (size_t)D);
        w->ldet[r] = 0;
        if (C > 0) {
            double lc = prep_row(&f->pcx, C, c + r * (size_t)C, w->cp + r * (size_t)C);
            if (lc == -INFINITY)
                w->ljac[r] = -INFINITY;
        }
    }
    w->cident = C > 0 && rows_ident(w->cp, n, C);
    for (int t = 0; t < T; t++) {
        const double *Xt = w->X + (size_t)t * R * (size_t)D;
        double *Xn = w->X + (size_t)(t + 1) * R * (size_t)D;
        double *S = w->S + (size_t)t * R * (size_t)D, *SG = w->SIG + (size_t)t * R * (size_t)D;
        made_fwd(f, w, t, n, Xt, w->cp, 0, f->H);
        const size_t NO = (size_t)f->NO;
        const int spl = f->layers[t] == 's';
        for (size_t r = 0; r < n; r++) {
            const double *o = w->out + r * NO;
            double ld = 0;
            for (int i = 0; i < D; i++) {
                size_t k = r * (size_t)D + (size_t)i;
                double zi;
                if (spl) {
                    /* S and SIG hold dz/dx and d ln g'/dx; DZ and DL the raw partials */
                    size_t P1 = NO / (size_t)D, q = (size_t)t * R * NO + r * NO + (size_t)i * P1;
                    pf_spline_grad g = {0, 0, w->DZ + q, w->DL + q, 1};
                    double L;
                    zi = pf_spline_forward(f->bins, f->bound, o + (size_t)i * P1, 1, Xt[k], &L,
                                           w->nod ? NULL : &g);
                    S[k] = g.dz_dx;
                    SG[k] = g.dL_dx;
                    ld += L;
                } else {
                    double a = o[D + i] + f->s0, s = softplus(a) + SCALE_MIN;
                    S[k] = s;
                    SG[k] = sigmoid(a);
                    zi = Xt[k] * s + o[i];
                    ld += log(s);
                }
                Xn[r * (size_t)D + (size_t)(D - 1 - i)] = zi;
            }
            w->ldet[r] += ld;
        }
    }
}

static double base_logp(const double *z, int D)
{
    double q = 0;
    for (int j = 0; j < D; j++)
        q += z[j] * z[j];
    return -0.5 * q - 0.5 * D * LOG2PI;
}

/* Reverse sweep over one block after blk_forward. w->wt[r] is the weight of row r's
 * log p in the objective. Accumulates parameter gradients into w->grad when pgrad;
 * writes gx / gc (rows of this block) when not NULL. */
static void blk_backward(const pf_maf *f, ws *w, size_t n, const double *x, const double *c,
                         int pgrad, double *gx, double *gc)
{
    const int D = f->D, C = f->C, T = f->T, H = f->H, B = f->B, N = (int)n;
    const size_t R = R_ROWS, RH = R * (size_t)H, RD = R * (size_t)D;
    double *G = w->G, *G2 = w->G2;
    const double *XT = w->X + (size_t)T * RD;
    for (size_t r = 0; r < n; r++)
        for (int j = 0; j < D; j++)
            G[r * (size_t)D + (size_t)j] = -w->wt[r] * XT[r * (size_t)D + (size_t)j];
    if (C > 0)
        memset(w->gC, 0, n * (size_t)C * sizeof(double));
    for (int t = T - 1; t >= 0; t--) {
        const double *P = f->mp + (size_t)t * f->per;
        const double *Mt = f->mt + (size_t)t * f->mtper;
        double *Pg = w->grad + (size_t)t * f->per;
        const double *Xt = w->X + (size_t)t * RD;
        const double *S = w->S + (size_t)t * RD, *SG = w->SIG + (size_t)t * RD;
        const double *Hs = w->Hs + (size_t)t * (size_t)(B + 1) * RH;
        const double *A1 = w->A1 + (size_t)t * (size_t)B * RH, *D1 = w->D1 + (size_t)t * (size_t)B * RH;
        const double *A2 = w->A2 + (size_t)t * (size_t)B * RH, *D2 = w->D2 + (size_t)t * (size_t)B * RH;
        const int NO = f->NO, spl = f->layers[t] == 's', P1 = NO / D;
        for (size_t r = 0; r < n; r++) {
            double *go = w->gout + r * (size_t)NO, wt = w->wt[r];
            for (int i = 0; i < D; i++) {
                size_t k = r * (size_t)D + (size_t)i;
                double gz = G[r * (size_t)D + (size_t)(D - 1 - i)], s = S[k];
                if (spl) {
                    /* z_i and ln g'(x_i) both depend on x_i and on the raw values */
                    const double *dz = w->DZ + (size_t)t * R * (size_t)NO + r * (size_t)NO;
                    const double *dl = w->DL + (size_t)t * R * (size_t)NO + r * (size_t)NO;
                    G2[k] = gz * s + wt * SG[k];
                    for (int q = i * P1; q < (i + 1) * P1; q++)
                        go[q] = gz * dz[q] + wt * dl[q];
                    continue;
                }
                G2[k] = gz * s;
                go[i] = gz;
                go[D + i] = (gz * Xt[k] + wt / s) * SG[k];
            }
            if (!spl) /* an affine transform of a mixed stack: its unused rows */
                for (int q = 2 * D; q < NO; q++)
                    go[q] = 0.0;
        }
        double *gH = w->gH, *gA = w->gA, *gT = w->gT;
        const double *HB = Hs + (size_t)B * RH;
        if (spl) { /* per dimension over its prefix of units, as in made_fwd */
            memset(gH, 0, n * (size_t)H * sizeof(double));
            for (int i = 0; i < D; i++) {
                int u = f->upto[i];
                const double *Wi = P + f->Wo + (size_t)i * P1 * H;
                if (u == 0)
                    continue;
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, u, P1, 1.0,
                            w->gout + (size_t)i * P1, NO, Wi, H, 1.0, gH, H);
                if (pgrad)
                    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P1, u, N, 1.0,
                                w->gout + (size_t)i * P1, NO, HB, H, 1.0,
                                Pg + f->Wo + (size_t)i * P1 * H, H);
            }
        } else if (NO > 2 * D) { /* an affine transform of a mixed stack */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, H, NO, 1.0, w->gout, NO,
                        P + f->Wo, H, 0.0, gH, H);
        } else {
            rowk(n, H, gH, H, NULL, w->gout, NO, P + f->Wo, NULL, 0, NULL, H);
        }
        if (pgrad && !spl)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NO, H, N, 1.0, w->gout, NO, HB,
                        H, 1.0, Pg + f->Wo, H);
        if (pgrad)
            colsum_add(Pg + f->bo, w->gout, n, (size_t)NO);
        for (int b = B - 1; b >= 0; b--) {
            const double *Pb = P + f->blk + (size_t)b * f->blksz;
            double *Pgb = Pg + f->blk + (size_t)b * f->blksz;
            const double *a1 = A1 + (size_t)b * RH, *d1 = D1 + (size_t)b * RH;
            const double *a2 = A2 + (size_t)b * RH, *d2 = D2 + (size_t)b * RH;
            size_t m = n * (size_t)H;
            if (pgrad) {
                gemm_wgt_grp(f, n, gH, a2, Pgb + OW2(f));
                colsum_add(Pgb + OB2(f), gH, n, (size_t)H);
            }
            gemm_bwd_grp(f, n, gH, Pb + OW2(f), gA, t, b, 1);
            vmul(gT, gA, d2, m, 0);
            if (pgrad) {
                gemm_wgt_grp(f, n, gT, a1, Pgb + OW1(f));
                colsum_add(Pgb + OB1(f), gT, n, (size_t)H);
                if (C > 0)
                    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, C, N, 1.0, gT, H,
                                w->cp, C, 1.0, Pgb + OWC(f), C);
            }
            if (gc && C > 0)
                rowdot(n, C, gT, H, H, Mt + (size_t)(D + (b + 1) * C) * (size_t)H, H, NULL, 1,
                       NULL, w->gC, C);
            gemm_bwd_grp(f, n, gT, Pb + OW1(f), gA, t, b, 0);
            vmul(gH, gA, d1, m, 1);
        }
        if (pgrad) {
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, D, N, 1.0, gH, H, Xt, D,
                        1.0, Pg + f->W0, D);
            colsum_add(Pg + f->b0, gH, n, (size_t)H);
            if (C > 0)
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, C, N, 1.0, gH, H, w->cp,
                            C, 1.0, Pg + f->Wc0, C);
        }
        if (gc && C > 0)
            rowdot(n, C, gH, H, H, Mt + (size_t)D * (size_t)H, H, NULL, 1, NULL, w->gC, C);
        rowdot(n, D, gH, H, H, Mt, H, NULL, 1, NULL, G2, D);
        double *tmp = G;
        G = G2;
        G2 = tmp;
    }
    for (size_t r = 0; r < n; r++) {
        if (gx)
            prep_back(&f->pin, D, x + r * (size_t)D, G + r * (size_t)D, w->wt[r],
                      gx + r * (size_t)D);
        if (gc && C > 0)
            prep_back(&f->pcx, C, c + r * (size_t)C, w->gC + r * (size_t)C, 0.0,
                      gc + r * (size_t)C);
    }
}

/* ---- public batch operations --------------------------------------------------------- */

/* Rows per block: PF_MAF_ROWS, or fewer when that would leave threads idle (a batch
 * of 200 rows goes to two threads as 2 x 100). A row's result does not depend on its
 * block (row-wise kernels, the context folded in the same order), so only the
 * parameter-gradient sums see the split, which depends on n and the thread count alone. */
static size_t block_rows(const pf_maf *f, size_t n)
{
    size_t nt = (size_t)f->nws;
    if (nt <= 1 || n >= nt * R_ROWS)
        return R_ROWS;
    size_t r = (n + nt - 1) / nt;
    r = (r + 3) & ~(size_t)3;
    return r < 4 ? 4 : r > R_ROWS ? R_ROWS : r;
}

static int check_args(const pf_maf *f, size_t n, const double *x, const double *ctx, pf_err *err)
{
    if (n > 0 && !x)
        return pf_err_set(err, PF_EINVAL, "maf: input is NULL");
    if (n > 0 && f->C > 0 && !ctx)
        return pf_err_set(err, PF_EINVAL, "maf: the flow needs a context of %d columns", f->C);
    return PF_OK;
}

/* The start of every batch operation: arguments, workspaces, the weights (with the
 * backward panels when bwd), and the split into *nblk blocks of *rows rows. */
static int begin_batch(pf_maf *f, size_t n, const double *x, const double *ctx, int bwd,
                       size_t *rows, long *nblk, pf_err *err)
{
    int st = check_args(f, n, x, ctx, err);
    if (st != PF_OK || (st = ensure_ws(f, err)) != PF_OK)
        return st;
    sync_masked(f, bwd);
    *rows = block_rows(f, n);
    *nblk = (long)((n + *rows - 1) / *rows);
    return PF_OK;
}

int pf_maf_log_prob(pf_maf *f, size_t n, const double *x, const double *ctx, double *logp,
                    double *gx, double *gc, pf_err *err)
{
    int want_grad = gx || gc;
    size_t rows;
    long nblk;
    int st = begin_batch(f, n, x, ctx, want_grad, &rows, &nblk, err);
    if (st != PF_OK)
        return st;
    const size_t D = (size_t)f->D, C = (size_t)f->C;
#pragma omp parallel for schedule(static) if (nblk > 1)
    for (long ib = 0; ib < nblk; ib++) {
        ws *w = &f->w[omp_get_thread_num()];
        size_t r0 = (size_t)ib * rows, m = n - r0 < rows ? n - r0 : rows;
        const double *xb = x + r0 * D, *cb = C ? ctx + r0 * C : NULL;
        w->nod = !want_grad;
        blk_forward(f, w, m, xb, cb);
        const double *XT = w->X + (size_t)f->T * R_ROWS * D;
        for (size_t r = 0; r < m; r++) {
            double lp = w->ljac[r] == -INFINITY
                            ? -INFINITY
                            : w->ljac[r] + w->ldet[r] + base_logp(XT + r * D, f->D);
            logp[r0 + r] = lp;
            w->wt[r] = w->ljac[r] == -INFINITY ? 0.0 : 1.0;
        }
        if (want_grad)
            blk_backward(f, w, m, xb, cb, 0, gx ? gx + r0 * D : NULL, gc ? gc + r0 * C : NULL);
    }
    return PF_OK;
}

int pf_maf_nll_grad(pf_maf *f, size_t n, const double *x, const double *ctx, double *loss,
                    pf_err *err)
{
    if (n == 0)
        return pf_err_set(err, PF_EINVAL, "maf: empty batch");
    size_t rows;
    long nblk;
    int st = begin_batch(f, n, x, ctx, 1, &rows, &nblk, err);
    if (st != PF_OK)
        return st;
    const size_t D = (size_t)f->D, C = (size_t)f->C;
    int nt = f->nws;
    double part[256] = {0};
    if (nt > 256)
        return pf_err_set(err, PF_EINVAL, "maf: at most 256 threads");
    for (int i = 0; i < nt; i++)
        memset(f->w[i].grad, 0, f->np * sizeof(double));
    double inv = 1.0 / (double)n;
#pragma omp parallel for schedule(static) if (nblk > 1)
    for (long ib = 0; ib < nblk; ib++) {
        int tid = omp_get_thread_num();
        ws *w = &f->w[tid];
        size_t r0 = (size_t)ib * rows, m = n - r0 < rows ? n - r0 : rows;
        const double *xb = x + r0 * D, *cb = C ? ctx + r0 * C : NULL;
        w->nod = 0;
        blk_forward(f, w, m, xb, cb);
        const double *XT = w->X + (size_t)f->T * R_ROWS * D;
        double s = 0;
        for (size_t r = 0; r < m; r++) {
            s -= w->ljac[r] + w->ldet[r] + base_logp(XT + r * D, f->D);
            w->wt[r] = -inv;
        }
        part[tid] += s;
        blk_backward(f, w, m, xb, cb, 1, NULL, NULL);
    }
    double tot = 0;
    for (int i = 0; i < nt; i++)
        tot += part[i];
    *loss = tot * inv;
    for (size_t k = 0; k < f->np; k++) {
        double g = f->w[0].grad[k];
        for (int i = 1; i < nt; i++)
            g += f->w[i].grad[k];
        f->g[f->pidx[k]] = g * f->mask[f->pidx[k]];
    }
    return PF_OK;
}

int pf_maf_forward(pf_maf *f, size_t n, const double *x, const double *ctx, double *z,
                   double *logdet, pf_err *err)
{
    size_t rows;
    long nblk;
    int st = begin_batch(f, n, x, ctx, 0, &rows, &nblk, err);
    if (st != PF_OK)
        return st;
    const size_t D = (size_t)f->D, C = (size_t)f->C;
#pragma omp parallel for schedule(static) if (nblk > 1)
    for (long ib = 0; ib < nblk; ib++) {
        ws *w = &f->w[omp_get_thread_num()];
        size_t r0 = (size_t)ib * rows, m = n - r0 < rows ? n - r0 : rows;
        w->nod = 1;
        blk_forward(f, w, m, x + r0 * D, C ? ctx + r0 * C : NULL);
        memcpy(z + r0 * D, w->X + (size_t)f->T * R_ROWS * D, m * D * sizeof(double));
        if (logdet)
            for (size_t r = 0; r < m; r++)
                logdet[r0 + r] = w->ljac[r] + w->ldet[r];
    }
    return PF_OK;
}

/* Inverse over one block: D MADE passes per transform (dimension i is exact after pass
 * i because output i sees only inputs < i). Output k sees only hidden units of degree
 * <= k, and those of degree < k see only inputs that pass k - 1 already had, so pass k
 * computes only the units of degree k (one group) and keeps the rest: all D passes
 * together cost one forward pass plus D output layers. */
static void blk_inverse(const pf_maf *f, ws *w, size_t n, const double *z, const double *c,
                        double *x, double *logdet)
{
    const int D = f->D, C = f->C, T = f->T;
    const size_t RD = R_ROWS * (size_t)D;
    double *cur = w->X, *nx = w->X + RD;
    memcpy(cur, z, n * (size_t)D * sizeof(double));
    for (size_t r = 0; r < n; r++) {
        w->ldet[r] = 0;
        if (C > 0)
            (void)prep_row(&f->pcx, C, c + r * (size_t)C, w->cp + r * (size_t)C);
    }
    w->cident = C > 0 && rows_ident(w->cp, n, C);
    for (int t = T - 1; t >= 0; t--) {
        memset(nx, 0, n * (size_t)D * sizeof(double));
        for (int k = 0; k < D; k++) {
            made_fwd(f, w, t, n, nx, w->cp, k > 0 ? f->upto[k - 1] : 0, f->upto[k]);
            for (size_t r = 0; r < n; r++) {
                const double *o = w->out + r * (size_t)f->NO;
                if (f->layers[t] == 's') {
                    double L;
                    nx[r * (size_t)D + (size_t)k] =
                        pf_spline_inverse(f->bins, f->bound, o + (size_t)k * (f->NO / D), 1,
                                          cur[r * (size_t)D + (size_t)(D - 1 - k)], &L);
                    w->ldet[r] -= L;
                    continue;
                }
                int i0 = k == D - 1 ? 0 : k;
                for (int i = i0; i <= k; i++) {
                    double s = softplus(o[D + i] + f->s0) + SCALE_MIN;
                    if (i == k)
                        nx[r * (size_t)D + (size_t)k] =
                            (cur[r * (size_t)D + (size_t)(D - 1 - k)] - o[k]) / s;
                    if (k == D - 1)
                        w->ldet[r] -= log(s);
                }
            }
        }
        double *tmp = cur;
        cur = nx;
        nx = tmp;
    }
    for (size_t r = 0; r < n; r++) {
        prep_inv_row(&f->pin, D, cur + r * (size_t)D, x + r * (size_t)D);
        if (logdet) {
            double lj = prep_row(&f->pin, D, x + r * (size_t)D, nx + r * (size_t)D);
            logdet[r] = w->ldet[r] - lj;
        }
    }
}

int pf_maf_inverse(pf_maf *f, size_t n, const double *z, const double *ctx, double *x,
                   double *logdet, pf_err *err)
{
    size_t rows;
    long nblk;
    int st = begin_batch(f, n, z, ctx, 0, &rows, &nblk, err);
    if (st != PF_OK)
        return st;
    const size_t D = (size_t)f->D, C = (size_t)f->C;
#pragma omp parallel for schedule(static) if (nblk > 1)
    for (long ib = 0; ib < nblk; ib++) {
        ws *w = &f->w[omp_get_thread_num()];
        size_t r0 = (size_t)ib * rows, m = n - r0 < rows ? n - r0 : rows;
        w->nod = 1;
        blk_inverse(f, w, m, z + r0 * D, C ? ctx + r0 * C : NULL, x + r0 * D,
                    logdet ? logdet + r0 : NULL);
    }
    return PF_OK;
}

int pf_maf_made(pf_maf *f, int t, size_t n, const double *x, const double *ctx, double *out,
                pf_err *err)
{
    int st = check_args(f, n, x, ctx, err);
    if (st != PF_OK || (st = ensure_ws(f, err)) != PF_OK)
        return st;
    if (t < 0 || t >= f->T)
        return pf_err_set(err, PF_EINVAL, "maf: transform %d outside 0..%d", t, f->T - 1);
    sync_masked(f, 0);
    const size_t D = (size_t)f->D, C = (size_t)f->C;
    ws *w = &f->w[0];
    for (size_t r0 = 0; r0 < n; r0 += R_ROWS) {
        size_t m = n - r0 < R_ROWS ? n - r0 : R_ROWS;
        if (C > 0)
            memcpy(w->cp, ctx + r0 * C, m * C * sizeof(double));
        w->cident = C > 0 && rows_ident(w->cp, m, f->C);
        w->nod = 1;
        made_fwd(f, w, t, m, x + r0 * D, w->cp, 0, f->H);
        memcpy(out + r0 * (size_t)f->NO, w->out, m * (size_t)f->NO * sizeof(double));
    }
    return PF_OK;
}

/* ---- ensembles ----------------------------------------------------------------------- */

/* log-mean-exp over members: subtracting the row maximum keeps exp() in range, so a
 * member far below the others contributes 0 weight instead of underflowing the sum. */
int pf_maf_mix(size_t n, size_t m, const double *const *lp, double *out, double *wts,
               pf_err *err)
{
    if (m == 0)
        return pf_err_set(err, PF_EINVAL, "maf: an ensemble needs at least one member");
    double lm = log((double)m);
    for (size_t i = 0; i < n; i++) {
        double mx = -INFINITY;
        for (size_t k = 0; k < m; k++) {
            double v = lp[k][i];
            if (isnan(v))
                return pf_err_set(err, PF_EINVAL, "maf: member %zu gives NaN at row %zu",
                                  k + 1, i + 1);
            if (v > mx)
                mx = v;
        }
        if (mx == -INFINITY) {
            out[i] = -INFINITY;
            if (wts)
                memset(wts + i * m, 0, m * sizeof(double));
            continue;
        }
        double s = 0;
        for (size_t k = 0; k < m; k++)
            s += exp(lp[k][i] - mx);
        double ls = log(s);
        out[i] = mx + ls - lm;
        if (wts)
            for (size_t k = 0; k < m; k++)
                wts[i * m + k] = exp(lp[k][i] - mx - ls);
    }
    return PF_OK;
}

void pf_maf_mix_grad(size_t n, size_t m, const double *wts, size_t d,
                     const double *const *g, double *out)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double s = 0;
            for (size_t k = 0; k < m; k++)
                if (wts[i * m + k] != 0)
                    s += wts[i * m + k] * g[k][i * d + j];
            out[i * d + j] = s;
        }
}

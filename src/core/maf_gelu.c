/*
 * maf_gelu.c -- the GELU activation and its derivative on whole arrays, scalar and AVX2
 * (the MAF module's activation kernels; pf_maf_gelu in phaseflow/maf.h).
 */
#include <math.h>
#include <string.h>
#include "maf_internal.h"

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
typedef long long v4i __attribute__((vector_size(32)));
#define GU 4

#define VFMA(a, b, c) ((v4d)__builtin_ia32_vfmaddpd256((a), (b), (c)))
#define VSEL(m, x, y) ((v4d)(((m) & (v4i)(x)) | (~(m) & (v4i)(y))))

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

/* a = gelu(h), d = gelu'(h) elementwise (a may alias h: each element is read first). */
void maf_gelu_array(const double *h, double *a, double *d, size_t m)
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

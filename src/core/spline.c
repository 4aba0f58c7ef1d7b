/*
 * spline.c -- the monotone rational-quadratic spline and its exact partials (see
 * phaseflow/spline.h).
 *
 * Why this shape: a flow evaluates the spline once per row, dimension and transform, so
 * the knots are built from the raw values in one pass (two softmaxes, K - 1 softplus) and
 * the derivative of every output with respect to every raw value follows from the bin's
 * six local quantities (left knot x_k, width w, y_k, height h, end derivatives d_k,
 * d_{k+1}) by the chain rule through the cumulative sums and the softmax:
 *   dF/draw_i = c p_i (a_i - sum_j a_j p_j),  a_j = dF/dW_j,  c = 2B(1 - mK),
 * where a_j = dF/dx_k for bins left of k, dF/dw for bin k and 0 to its right.
 *
 * Speed: libm's scalar exp and log were a third of a forward pass, so evaluations go in
 * chunks, each stage's exps and logs gathered into one contiguous array and mapped by
 * glibc's vector functions (libmvec, chosen for the CPU at run time). Every element of a
 * map goes through the same vector routine (arrays padded to whole vectors, no scalar
 * remainder), so a value's result never depends on its neighbours, the chunking or the
 * thread count.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "phaseflow/spline.h"

int pf_spline_nraw(int bins) { return 3 * bins - 1; }

/* softplus(raw_d + s0) + m = 1 at raw_d = 0: s0 = ln(e^(1-m) - 1) (a double that round-trips) */
#define SPLINE_S0 0.539742417236952

/* ---- elementwise exp, log, log1p over arrays whose length is a multiple of 8 ---- */

#if defined(__x86_64__) && defined(__GNUC__)
/* Declared SIMD so that GCC calls libmvec's _ZGV{b,d,e}N*v_* variants in the loops below
 * (glibc declares them so only under -ffast-math, which we do not want elsewhere). */
#pragma omp declare simd notinbranch
double exp(double);
#pragma omp declare simd notinbranch
double log(double);
#pragma omp declare simd notinbranch
double log1p(double);

/* Blocks of exactly 8: the vector width divides it at every ISA, so no element takes a
 * scalar remainder path. */
#define VMAP(name, fn, attr)                                                              \
    attr static void name(double *y, size_t n)                                            \
    {                                                                                     \
        for (size_t i = 0; i < n; i += 8) {                                               \
            double *v = y + i;                                                            \
            _Pragma("omp simd") for (int j = 0; j < 8; j++) v[j] = fn(v[j]);              \
        }                                                                                 \
    }
#define VMAPS(suffix, attr)                                                               \
    VMAP(vexp_##suffix, exp, attr)                                                        \
    VMAP(vlog_##suffix, log, attr)                                                        \
    VMAP(vlog1p_##suffix, log1p, attr)
VMAPS(sse2, )
VMAPS(avx2, __attribute__((target("avx2,fma"))))
VMAPS(avx512, __attribute__((target("avx512f"))))

typedef struct vmaps {
    void (*exp)(double *, size_t), (*log)(double *, size_t), (*log1p)(double *, size_t);
} vmaps;

/* The widest unit the CPU has; PHASEFLOW_SPLINE_VEC=sse2|avx2 caps it (for tests: the
 * variants round differently, so each is checked against the others). */
static vmaps pick(void)
{
    const char *cap = getenv("PHASEFLOW_SPLINE_VEC");
    int sse2 = cap && !strcmp(cap, "sse2"), avx2 = cap && !strcmp(cap, "avx2");
    if (!sse2 && !avx2 && __builtin_cpu_supports("avx512f"))
        return (vmaps){vexp_avx512, vlog_avx512, vlog1p_avx512};
    if (!sse2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return (vmaps){vexp_avx2, vlog_avx2, vlog1p_avx2};
    return (vmaps){vexp_sse2, vlog_sse2, vlog1p_sse2};
}
#else
#define VMAP(name, fn)                                                                    \
    static void name(double *y, size_t n)                                                 \
    {                                                                                     \
        for (size_t i = 0; i < n; i++)                                                    \
            y[i] = fn(y[i]);                                                              \
    }
VMAP(vexp_c, exp)
VMAP(vlog_c, log)
VMAP(vlog1p_c, log1p)
typedef struct vmaps {
    void (*exp)(double *, size_t), (*log)(double *, size_t), (*log1p)(double *, size_t);
} vmaps;
static vmaps pick(void) { return (vmaps){vexp_c, vlog_c, vlog1p_c}; }
#endif

static size_t up8(size_t n) { return (n + 7) & ~(size_t)7; }

/* ---- one chunk of evaluations ---- */

#define CHUNK 64   /* evaluations per chunk (a multiple of 4: 2 x CHUNK is whole vectors) */
#define EBUF 2048  /* doubles for a chunk's softmax exponentials (2K per evaluation) */

/* One evaluation's bin: where it lies and the spline's local quantities there. */
typedef struct bin {
    int b, inside;
    double x0, w, y0, h, s, d0, d1, sg0, sg1, xi, r, M, Dn;
} bin;

typedef struct chunk {
    int K;
    double B, c; /* bound, 2B(1 - mK) = dW_j/dp_j */
    double E[EBUF];                    /* exponentials, then probabilities: 2K per row */
    double a[2 * CHUNK];               /* the bin's two knot-slope arguments raw_d + s0, */
    double ea[2 * CHUNK], lp[2 * CHUNK]; /* exp(-|a|) and log1p of that */
    double lg[3 * CHUNK];              /* ln s, ln M, ln Dn */
    bin q[CHUNK];
} chunk;

/* Knot positions from probabilities: -B, cumulative widths, and B exactly at the end (so
 * the forward and inverse maps share the same bins to the last bit). */
static void cumulate(const double *p, int K, double B, double c, double *k)
{
    k[0] = -B;
    for (int j = 0; j < K - 1; j++)
        k[j + 1] = k[j] + (2.0 * B * PF_SPLINE_MIN + c * p[j]);
    k[K] = B;
}

/* Largest j in 0..K-1 with k[j] <= v (v inside [k[0], k[K]]). */
static int bin_of(const double *k, int K, double v)
{
    int j = 0;
    while (j + 1 < K && v >= k[j + 1])
        j++;
    return j;
}

/* Stage 1: both softmaxes of every evaluation in the chunk (max subtracted, one vector
 * exp over the chunk, normalised in place). */
static void softmaxes(chunk *ch, const vmaps *vm, size_t m, const double *raw, size_t ldr)
{
    const int K = ch->K;
    for (size_t e = 0; e < m; e++) {
        const double *r = raw + e * ldr;
        double *E = ch->E + e * 2 * (size_t)K;
        for (int half = 0; half < 2; half++, r += K, E += K) {
            double mx = r[0];
            for (int j = 1; j < K; j++)
                mx = r[j] > mx ? r[j] : mx;
            for (int j = 0; j < K; j++)
                E[j] = r[j] - mx;
        }
    }
    size_t n = m * 2 * (size_t)K, n8 = up8(n);
    for (size_t i = n; i < n8; i++)
        ch->E[i] = 0.0;
    vm->exp(ch->E, n8);
    for (size_t e = 0; e < 2 * m; e++) {
        double *p = ch->E + e * (size_t)K, s = 0;
        for (int j = 0; j < K; j++)
            s += p[j];
        for (int j = 0; j < K; j++)
            p[j] /= s;
    }
}

/* Stage 2: each evaluation's bin (by x, or by z for the inverse) and its knot-slope
 * arguments a = raw_d + s0 at the bin's two ends, then exp(-|a|) and log1p of it. */
static void locate(chunk *ch, const vmaps *vm, size_t m, const double *raw, size_t ldr,
                   const double *v, int inverse)
{
    const int K = ch->K;
    const double B = ch->B;
    double xk[PF_SPLINE_MAXBINS + 1], yk[PF_SPLINE_MAXBINS + 1];
    for (size_t e = 0; e < m; e++) {
        bin *q = &ch->q[e];
        const double *p = ch->E + e * 2 * (size_t)K, *r = raw + e * ldr;
        cumulate(p, K, B, ch->c, xk);
        cumulate(p + K, K, B, ch->c, yk);
        q->inside = v[e] > -B && v[e] < B; /* the identity outside (and at) the ends */
        double u = q->inside ? v[e] : 0.0;
        int b = q->b = bin_of(inverse ? yk : xk, K, u);
        q->x0 = xk[b];
        q->w = xk[b + 1] - xk[b];
        q->y0 = yk[b];
        q->h = yk[b + 1] - yk[b];
        /* knot j's slope is m + softplus(a), its derivative sigmoid(a); one exp serves both */
        double a0 = b >= 1 ? r[2 * K + b - 1] + SPLINE_S0 : 0.0;
        double a1 = b + 1 <= K - 1 ? r[2 * K + b] + SPLINE_S0 : 0.0;
        ch->ea[2 * e] = -fabs(a0);
        ch->ea[2 * e + 1] = -fabs(a1);
        ch->a[2 * e] = a0;
        ch->a[2 * e + 1] = a1;
    }
    size_t n = 2 * m, n8 = up8(n);
    for (size_t i = n; i < n8; i++)
        ch->ea[i] = 0.0;
    vm->exp(ch->ea, n8);
    for (size_t i = 0; i < n8; i++)
        ch->lp[i] = ch->ea[i];
    vm->log1p(ch->lp, n8);
}

/* Stage 3 (after locate and, for the inverse, with xi chosen): the end slopes and the
 * three log arguments; then one vector log. */
static void slopes(chunk *ch, size_t m)
{
    const int K = ch->K;
    for (size_t e = 0; e < m; e++) {
        bin *q = &ch->q[e];
        for (int end = 0; end < 2; end++) {
            double a = ch->a[2 * e + (size_t)end], ex = ch->ea[2 * e + (size_t)end];
            int knot = q->b + end;
            double d = 1.0, sg = 0.0;
            if (knot != 0 && knot != K) {
                d = PF_SPLINE_MIN + (a > 0 ? a : 0.0) + ch->lp[2 * e + (size_t)end];
                sg = a >= 0 ? 1.0 / (1.0 + ex) : ex / (1.0 + ex);
            }
            if (end == 0) {
                q->d0 = d;
                q->sg0 = sg;
            } else {
                q->d1 = d;
                q->sg1 = sg;
            }
        }
        q->s = q->h / q->w;
    }
}

static void logs(chunk *ch, const vmaps *vm, size_t m)
{
    for (size_t e = 0; e < m; e++) {
        bin *q = &ch->q[e];
        double xi = q->xi, om = 1.0 - xi, th = xi * om, s = q->s, d0 = q->d0, d1 = q->d1;
        double ee = d0 + d1 - 2.0 * s;
        double N = q->h * (s * xi * xi + d0 * th);
        q->Dn = s + ee * th;
        q->M = d1 * xi * xi + 2.0 * s * th + d0 * om * om;
        q->r = N / q->Dn;
        ch->lg[3 * e] = s;
        ch->lg[3 * e + 1] = q->M;
        ch->lg[3 * e + 2] = q->Dn;
    }
    size_t n = 3 * m, n8 = up8(n);
    for (size_t i = n; i < n8; i++)
        ch->lg[i] = 1.0;
    vm->log(ch->lg, n8);
}

/* The partials of z and L of evaluation e (inside the interval) into g's rows. */
static void partials(const chunk *ch, size_t e, const pf_spline_grad *g, size_t k)
{
    const int K = ch->K;
    const bin *q = &ch->q[e];
    const double *pw = ch->E + e * 2 * (size_t)K, *ph = pw + K;
    const int b = q->b;
    const double xi = q->xi, om = 1.0 - xi, th = xi * om, s = q->s, h = q->h, w = q->w;
    const double d0 = q->d0, d1 = q->d1, r = q->r, Dn = q->Dn, M = q->M;
    const double e2 = d0 + d1 - 2.0 * s, thp = 1.0 - 2.0 * xi;
    /* partials of z and L in (xi, s, h, d0, d1) */
    double z_xi = (h * (2.0 * s * xi + d0 * thp) - r * e2 * thp) / Dn;
    double z_s = (h * xi * xi - r * (1.0 - 2.0 * th)) / Dn;
    double z_h = (s * xi * xi + d0 * th) / Dn;
    double z_d0 = (h * th - r * th) / Dn;
    double z_d1 = -r * th / Dn;
    double L_xi = (2.0 * d1 * xi + 2.0 * s * thp - 2.0 * d0 * om) / M - 2.0 * e2 * thp / Dn;
    double L_s = 2.0 / s + 2.0 * th / M - 2.0 * (1.0 - 2.0 * th) / Dn;
    double L_d0 = om * om / M - 2.0 * th / Dn;
    double L_d1 = xi * xi / M - 2.0 * th / Dn;
    g->dz_dx[k] = z_xi / w;
    g->dL_dx[k] = L_xi / w;
    /* in the bin's own quantities: left knots (x_k, y_k), width w, height h */
    double F[2][4] = {{-z_xi / w, -(xi * z_xi + s * z_s) / w, 1.0, z_h + z_s / w},
                      {-L_xi / w, -(xi * L_xi + s * L_s) / w, 0.0, L_s / w}};
    double Fd[2][2] = {{z_d0, z_d1}, {L_d0, L_d1}};
    double *out[2] = {g->dz_draw + k * g->ld, g->dL_draw + k * g->ld};
    double left_w = 0, left_h = 0;
    for (int j = 0; j < b; j++) {
        left_w += pw[j];
        left_h += ph[j];
    }
    for (int v = 0; v < 2; v++) {
        double *o = out[v];
        double mw = F[v][0] * left_w + F[v][1] * pw[b];
        double mh = F[v][2] * left_h + F[v][3] * ph[b];
        for (int j = 0; j < K; j++) {
            double aw = j < b ? F[v][0] : j == b ? F[v][1] : 0.0;
            double ah = j < b ? F[v][2] : j == b ? F[v][3] : 0.0;
            o[j] = ch->c * pw[j] * (aw - mw);
            o[K + j] = ch->c * ph[j] * (ah - mh);
        }
        for (int j = 1; j < K; j++)
            o[2 * K + j - 1] = 0.0;
        if (b >= 1)
            o[2 * K + b - 1] = Fd[v][0] * q->sg0;
        if (b + 1 <= K - 1)
            o[2 * K + b] = Fd[v][1] * q->sg1;
    }
}

static void tail(const pf_spline_grad *g, size_t k, int K)
{
    g->dz_dx[k] = 1.0;
    g->dL_dx[k] = 0.0;
    double *dz = g->dz_draw + k * g->ld, *dl = g->dL_draw + k * g->ld;
    for (int j = 0; j < 3 * K - 1; j++)
        dz[j] = dl[j] = 0.0;
}

static void chunk_init(chunk *ch, int bins, double bound)
{
    ch->K = bins;
    ch->B = bound;
    ch->c = 2.0 * bound * (1.0 - PF_SPLINE_MIN * bins);
}

/* The bins of mc evaluations at v (inputs, or outputs when inverse): the two softmaxes,
 * the bin each falls in, its knot slopes -- what forward and inverse share. */
static void bins_of(chunk *ch, const vmaps *vm, size_t mc, const double *raw, size_t ldr,
                    const double *v, int inverse)
{
    softmaxes(ch, vm, mc, raw, ldr);
    locate(ch, vm, mc, raw, ldr, v, inverse);
    slopes(ch, mc);
}

static size_t chunk_rows(int K)
{
    size_t c = EBUF / (2 * (size_t)K);
    return (c > CHUNK ? CHUNK : c) & ~(size_t)3;
}

void pf_spline_forward(int bins, double bound, size_t m, const double *raw, size_t ldr,
                       const double *x, double *z, double *L, const pf_spline_grad *g)
{
    const vmaps vm = pick();
    chunk ch;
    chunk_init(&ch, bins, bound);
    const size_t step = chunk_rows(bins);
    for (size_t k0 = 0; k0 < m; k0 += step) {
        size_t mc = m - k0 < step ? m - k0 : step;
        const double *xv = x + k0;
        bins_of(&ch, &vm, mc, raw + k0 * ldr, ldr, xv, 0);
        for (size_t e = 0; e < mc; e++) {
            bin *q = &ch.q[e];
            double xi = q->inside ? (xv[e] - q->x0) / q->w : 0.0;
            q->xi = xi < 0 ? 0 : xi > 1 ? 1 : xi;
        }
        logs(&ch, &vm, mc);
        for (size_t e = 0; e < mc; e++) {
            const bin *q = &ch.q[e];
            size_t k = k0 + e;
            if (!q->inside) {
                z[k] = x[k];
                L[k] = 0.0;
                if (g)
                    tail(g, k, bins);
                continue;
            }
            const double *lg = ch.lg + 3 * e;
            L[k] = 2.0 * lg[0] + lg[1] - 2.0 * lg[2];
            z[k] = q->y0 + q->r;
            if (g)
                partials(&ch, e, g, k);
        }
    }
}

void pf_spline_inverse(int bins, double bound, size_t m, const double *raw, size_t ldr,
                       const double *z, double *x, double *L)
{
    const vmaps vm = pick();
    chunk ch;
    chunk_init(&ch, bins, bound);
    const size_t step = chunk_rows(bins);
    for (size_t k0 = 0; k0 < m; k0 += step) {
        size_t mc = m - k0 < step ? m - k0 : step;
        const double *zv = z + k0;
        bins_of(&ch, &vm, mc, raw + k0 * ldr, ldr, zv, 1);
        for (size_t e = 0; e < mc; e++) {
            bin *q = &ch.q[e];
            double h = q->h, s = q->s, d0 = q->d0, d1 = q->d1, ee = d0 + d1 - 2.0 * s;
            double zr = q->inside ? zv[e] - q->y0 : 0.0;
            /* a xi^2 + b xi + c = 0 with c <= 0 < b, a + b + c >= 0: the root in [0, 1] is
             * 2c / (-b - sqrt(b^2 - 4ac)), which has no cancellation */
            double qa = h * (s - d0) + zr * ee, qb = h * d0 - zr * ee, qc = -s * zr;
            double disc = qb * qb - 4.0 * qa * qc;
            double xi = 2.0 * qc / (-qb - sqrt(disc > 0 ? disc : 0));
            q->xi = xi < 0 ? 0 : xi > 1 ? 1 : xi;
        }
        logs(&ch, &vm, mc);
        for (size_t e = 0; e < mc; e++) {
            const bin *q = &ch.q[e];
            size_t k = k0 + e;
            if (!q->inside) {
                x[k] = z[k];
                L[k] = 0.0;
                continue;
            }
            const double *lg = ch.lg + 3 * e;
            L[k] = 2.0 * lg[0] + lg[1] - 2.0 * lg[2];
            x[k] = q->x0 + q->xi * q->w;
        }
    }
}

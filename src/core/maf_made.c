/*
 * maf_made.c -- the masked network (MADE) of one transform on a block of rows, and the
 * row kernels and grouped products it shares with the backward pass.
 */
#include <string.h>
#include <cblas.h>
#include "phaseflow/panel.h"
#include "maf_internal.h"

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

void maf_colsum_add(double *dst, const double *src, size_t n, size_t m)
{
    if (gelu_path(0) == 2)
        colsum_avx2(dst, src, n, m);
    else
        colsum_body(dst, src, n, m);
}

void maf_vmul(double *dst, const double *a, const double *b, size_t m, int acc)
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

void maf_rowk(size_t n, int h, double *out, int ldo, const double *bias, const double *x,
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

void maf_rowdot(size_t n, int no, const double *A, int lda, int la, const double *W, int ldw,
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
void maf_gemm_bwd_grp(const pf_maf *f, size_t n, const double *gO, const double *W,
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
void maf_gemm_wgt_grp(const pf_maf *f, size_t n, const double *gO, const double *A,
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
        maf_gelu_array(hh, a, d, n * (size_t)H);
        return;
    }
    for (size_t r = 0; r < n; r++) {
        size_t o = r * (size_t)H + (size_t)h0;
        maf_gelu_array(hh + o, a + o, d ? d + o : NULL, (size_t)(h1 - h0));
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
void maf_made_fwd(const pf_maf *f, ws *w, int t, size_t n, const double *X,
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
            maf_rowk(1, hw, w->cb + h0, hw, bias, NULL, 0, NULL, cp, C, ct + h0, H);
            bias = w->cb + h0;
        }
        maf_rowk(n, hw, Hs + h0, H, bias, X, D, Mt + h0, cp, kc, ct + h0, H);
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
                maf_rowk(1, hw, w->cb + h0, hw, Pb + OB1(f) + h0, NULL, 0, NULL, cp, C, ctb, H);
                bias1 = w->cb;
            } else if (C > 0) {
                maf_rowk(n, hw, a2 + h0, H, Pb + OB1(f) + h0, NULL, 0, NULL, cp, C, ctb, H);
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
            maf_rowdot(n, NO, Hs + (size_t)B * RH, H, h1, P + f->Wo, H, f->olen, NO, P + f->bo,
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
    maf_rowdot(n, 2 * D, Hs + (size_t)B * RH, H, h1, P + f->Wo, H, f->upto, D, P + f->bo, w->out,
               NO);
}

/* 1 when all n context rows equal the first (bitwise). */
int maf_rows_ident(const double *c, size_t n, int C)
{
    for (size_t r = 1; r < n; r++)
        if (memcmp(c + r * (size_t)C, c, (size_t)C * sizeof(double)) != 0)
            return 0;
    return 1;
}

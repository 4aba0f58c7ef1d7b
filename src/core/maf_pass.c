/*
 * maf_pass.c -- a flow's passes over one block of rows: forward (all transforms),
 * reverse-mode sweep and inverse.
 */
#include <math.h>
#include <string.h>
#include <cblas.h>
#include "maf_internal.h"

/* Forward over one block: preprocessing, all transforms, log p into logp (may be NULL;
 * always kept in w->ldet as the log-determinant sum and w->ljac). */
void maf_blk_forward(const pf_maf *f, ws *w, size_t n, const double *x, const double *c)
{
    const int D = f->D, C = f->C, T = f->T;
    const size_t R = R_ROWS;
    for (size_t r = 0; r < n; r++) {
        w->ljac[r] = maf_prep_row(&f->pin, D, x + r * (size_t)D, w->X + r * (size_t)D);
        w->ldet[r] = 0;
        if (C > 0) {
            double lc = maf_prep_row(&f->pcx, C, c + r * (size_t)C, w->cp + r * (size_t)C);
            if (lc == -INFINITY)
                w->ljac[r] = -INFINITY;
        }
    }
    w->cident = C > 0 && maf_rows_ident(w->cp, n, C);
    for (int t = 0; t < T; t++) {
        const double *Xt = w->X + (size_t)t * R * (size_t)D;
        double *Xn = w->X + (size_t)(t + 1) * R * (size_t)D;
        double *S = w->S + (size_t)t * R * (size_t)D, *SG = w->SIG + (size_t)t * R * (size_t)D;
        maf_made_fwd(f, w, t, n, Xt, w->cp, 0, f->H);
        const size_t NO = (size_t)f->NO;
        if (f->layers[t] == 's') {
            /* all rows and dimensions of the block in one call (dimension i of row r is
             * evaluation r D + i: its raw values are the P1 outputs at (r D + i) P1); S and
             * SIG get dz/dx and d ln g'/dx, DZ and DL the raw partials */
            const size_t P1 = NO / (size_t)D, m = n * (size_t)D, q = (size_t)t * R * NO;
            double *zt = w->sz, *Lt = w->sz + m;
            pf_spline_grad g = {S, SG, w->DZ + q, w->DL + q, P1};
            pf_spline_forward(f->bins, f->bound, m, w->out, P1, Xt, zt, Lt, w->nod ? NULL : &g);
            for (size_t r = 0; r < n; r++) {
                double ld = 0;
                for (int i = 0; i < D; i++) {
                    size_t k = r * (size_t)D + (size_t)i;
                    Xn[r * (size_t)D + (size_t)(D - 1 - i)] = zt[k];
                    ld += Lt[k];
                }
                w->ldet[r] += ld;
            }
            continue;
        }
        for (size_t r = 0; r < n; r++) {
            const double *o = w->out + r * NO;
            double ld = 0;
            for (int i = 0; i < D; i++) {
                size_t k = r * (size_t)D + (size_t)i;
                double a = o[D + i] + f->s0, s = softplus(a) + SCALE_MIN;
                S[k] = s;
                SG[k] = sigmoid(a);
                Xn[r * (size_t)D + (size_t)(D - 1 - i)] = Xt[k] * s + o[i];
                ld += log(s);
            }
            w->ldet[r] += ld;
        }
    }
}

/* Reverse sweep over one block after maf_blk_forward. w->wt[r] is the weight of row r's
 * log p in the objective. Accumulates parameter gradients into w->grad when pgrad;
 * writes gx / gc (rows of this block) when not NULL. */
void maf_blk_backward(const pf_maf *f, ws *w, size_t n, const double *x, const double *c,
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
        if (spl) { /* per dimension over its prefix of units, as in maf_made_fwd */
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
            maf_rowk(n, H, gH, H, NULL, w->gout, NO, P + f->Wo, NULL, 0, NULL, H);
        }
        if (pgrad && !spl)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NO, H, N, 1.0, w->gout, NO, HB,
                        H, 1.0, Pg + f->Wo, H);
        if (pgrad)
            maf_colsum_add(Pg + f->bo, w->gout, n, (size_t)NO);
        for (int b = B - 1; b >= 0; b--) {
            const double *Pb = P + f->blk + (size_t)b * f->blksz;
            double *Pgb = Pg + f->blk + (size_t)b * f->blksz;
            const double *a1 = A1 + (size_t)b * RH, *d1 = D1 + (size_t)b * RH;
            const double *a2 = A2 + (size_t)b * RH, *d2 = D2 + (size_t)b * RH;
            size_t m = n * (size_t)H;
            if (pgrad) {
                maf_gemm_wgt_grp(f, n, gH, a2, Pgb + OW2(f));
                maf_colsum_add(Pgb + OB2(f), gH, n, (size_t)H);
            }
            maf_gemm_bwd_grp(f, n, gH, Pb + OW2(f), gA, t, b, 1);
            maf_vmul(gT, gA, d2, m, 0);
            if (pgrad) {
                maf_gemm_wgt_grp(f, n, gT, a1, Pgb + OW1(f));
                maf_colsum_add(Pgb + OB1(f), gT, n, (size_t)H);
                if (C > 0)
                    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, C, N, 1.0, gT, H,
                                w->cp, C, 1.0, Pgb + OWC(f), C);
            }
            if (gc && C > 0)
                maf_rowdot(n, C, gT, H, H, Mt + (size_t)(D + (b + 1) * C) * (size_t)H, H, NULL, 1,
                           NULL, w->gC, C);
            maf_gemm_bwd_grp(f, n, gT, Pb + OW1(f), gA, t, b, 0);
            maf_vmul(gH, gA, d1, m, 1);
        }
        if (pgrad) {
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, D, N, 1.0, gH, H, Xt, D,
                        1.0, Pg + f->W0, D);
            maf_colsum_add(Pg + f->b0, gH, n, (size_t)H);
            if (C > 0)
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, C, N, 1.0, gH, H, w->cp,
                            C, 1.0, Pg + f->Wc0, C);
        }
        if (gc && C > 0)
            maf_rowdot(n, C, gH, H, H, Mt + (size_t)D * (size_t)H, H, NULL, 1, NULL, w->gC, C);
        maf_rowdot(n, D, gH, H, H, Mt, H, NULL, 1, NULL, G2, D);
        double *tmp = G;
        G = G2;
        G2 = tmp;
    }
    for (size_t r = 0; r < n; r++) {
        if (gx)
            maf_prep_back(&f->pin, D, x + r * (size_t)D, G + r * (size_t)D, w->wt[r],
                          gx + r * (size_t)D);
        if (gc && C > 0)
            maf_prep_back(&f->pcx, C, c + r * (size_t)C, w->gC + r * (size_t)C, 0.0,
                          gc + r * (size_t)C);
    }
}

/* Inverse over one block: D MADE passes per transform (dimension i is exact after pass
 * i because output i sees only inputs < i). Output k sees only hidden units of degree
 * <= k, and those of degree < k see only inputs that pass k - 1 already had, so pass k
 * computes only the units of degree k (one group) and keeps the rest: all D passes
 * together cost one forward pass plus D output layers. */
void maf_blk_inverse(const pf_maf *f, ws *w, size_t n, const double *z, const double *c,
                     double *x, double *logdet)
{
    const int D = f->D, C = f->C, T = f->T;
    const size_t RD = R_ROWS * (size_t)D;
    double *cur = w->X, *nx = w->X + RD;
    memcpy(cur, z, n * (size_t)D * sizeof(double));
    for (size_t r = 0; r < n; r++) {
        w->ldet[r] = 0;
        if (C > 0)
            (void)maf_prep_row(&f->pcx, C, c + r * (size_t)C, w->cp + r * (size_t)C);
    }
    w->cident = C > 0 && maf_rows_ident(w->cp, n, C);
    for (int t = T - 1; t >= 0; t--) {
        memset(nx, 0, n * (size_t)D * sizeof(double));
        for (int k = 0; k < D; k++) {
            maf_made_fwd(f, w, t, n, nx, w->cp, k > 0 ? f->upto[k - 1] : 0, f->upto[k]);
            if (f->layers[t] == 's') {
                /* every row's dimension k in one call, through contiguous copies */
                const size_t P1 = (size_t)(f->NO / D);
                double *zt = w->sz, *xt = w->sz + n, *Lt = w->sz + 2 * n;
                for (size_t r = 0; r < n; r++)
                    zt[r] = cur[r * (size_t)D + (size_t)(D - 1 - k)];
                pf_spline_inverse(f->bins, f->bound, n, w->out + (size_t)k * P1,
                                  (size_t)f->NO, zt, xt, Lt);
                for (size_t r = 0; r < n; r++) {
                    nx[r * (size_t)D + (size_t)k] = xt[r];
                    w->ldet[r] -= Lt[r];
                }
                continue;
            }
            for (size_t r = 0; r < n; r++) {
                const double *o = w->out + r * (size_t)f->NO;
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
        maf_prep_inv_row(&f->pin, D, cur + r * (size_t)D, x + r * (size_t)D);
        if (logdet) {
            double lj = maf_prep_row(&f->pin, D, x + r * (size_t)D, nx + r * (size_t)D);
            logdet[r] = w->ldet[r] - lj;
        }
    }
}

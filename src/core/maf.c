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
 *
 * The module's parts: maf_gelu.c (activation kernels), maf_prep.c (preprocessing),
 * maf_layout.c (parameter layout and panels), maf_made.c (the masked network), maf_pass.c
 * (the passes over a block); maf_internal.h is what they share. This file: allocation,
 * workspaces and the batch operations over threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include <omp.h>
#include "phaseflow/maf.h"
#include "maf_internal.h"

#define LOG2PI 1.8378770664093454836

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
    if (!f->p || !f->g || !f->mask || !f->mp || !r || maf_prep_init(&f->pin, D) != PF_OK ||
        maf_prep_init(&f->pcx, C) != PF_OK) {
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
    if (maf_sort_units(f) != PF_OK || !(f->olen = malloc((size_t)f->NO * sizeof(int)))) {
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
                 2 * R * NO + 2 * R * C + 3 * R + 3 * R * H + 2 * R * D + f->np + H + 2 * nsp +
                 (nsp ? 3 * R * D : 0);
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
        TAKE(sz, nsp ? 3 * R * D : 0);
#undef TAKE
    }
    f->nws = nt;
    return PF_OK;
}

static double base_logp(const double *z, int D)
{
    double q = 0;
    for (int j = 0; j < D; j++)
        q += z[j] * z[j];
    return -0.5 * q - 0.5 * D * LOG2PI;
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
    maf_sync_masked(f, bwd);
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
        maf_blk_forward(f, w, m, xb, cb);
        const double *XT = w->X + (size_t)f->T * R_ROWS * D;
        for (size_t r = 0; r < m; r++) {
            double lp = w->ljac[r] == -INFINITY
                            ? -INFINITY
                            : w->ljac[r] + w->ldet[r] + base_logp(XT + r * D, f->D);
            logp[r0 + r] = lp;
            w->wt[r] = w->ljac[r] == -INFINITY ? 0.0 : 1.0;
        }
        if (want_grad)
            maf_blk_backward(f, w, m, xb, cb, 0, gx ? gx + r0 * D : NULL, gc ? gc + r0 * C : NULL);
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
        maf_blk_forward(f, w, m, xb, cb);
        const double *XT = w->X + (size_t)f->T * R_ROWS * D;
        double s = 0;
        for (size_t r = 0; r < m; r++) {
            s -= w->ljac[r] + w->ldet[r] + base_logp(XT + r * D, f->D);
            w->wt[r] = -inv;
        }
        part[tid] += s;
        maf_blk_backward(f, w, m, xb, cb, 1, NULL, NULL);
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
        maf_blk_forward(f, w, m, x + r0 * D, C ? ctx + r0 * C : NULL);
        memcpy(z + r0 * D, w->X + (size_t)f->T * R_ROWS * D, m * D * sizeof(double));
        if (logdet)
            for (size_t r = 0; r < m; r++)
                logdet[r0 + r] = w->ljac[r] + w->ldet[r];
    }
    return PF_OK;
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
        maf_blk_inverse(f, w, m, z + r0 * D, C ? ctx + r0 * C : NULL, x + r0 * D,
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
    maf_sync_masked(f, 0);
    const size_t D = (size_t)f->D, C = (size_t)f->C;
    ws *w = &f->w[0];
    for (size_t r0 = 0; r0 < n; r0 += R_ROWS) {
        size_t m = n - r0 < R_ROWS ? n - r0 : R_ROWS;
        if (C > 0)
            memcpy(w->cp, ctx + r0 * C, m * C * sizeof(double));
        w->cident = C > 0 && maf_rows_ident(w->cp, m, f->C);
        w->nod = 1;
        maf_made_fwd(f, w, t, m, x + r0 * D, w->cp, 0, f->H);
        memcpy(out + r0 * (size_t)f->NO, w->out, m * (size_t)f->NO * sizeof(double));
    }
    return PF_OK;
}

/* ---- ensembles ----------------------------------------------------------------------- */

/* log-mean-exp over members: subtracting the row maximum keeps exp() in range, so a
 * member far below the others contributes 0 weight instead of underflowing the sum. A
 * member's NaN makes the row NaN: the mixture is undefined there, as that member is (an
 * ensemble of one gives the member's NaN through unchanged). */
int pf_maf_mix(size_t n, size_t m, const double *const *lp, double *out, double *wts,
               pf_err *err)
{
    if (m == 0)
        return pf_err_set(err, PF_EINVAL, "maf: an ensemble needs at least one member");
    double lm = log((double)m);
    for (size_t i = 0; i < n; i++) {
        double mx = -INFINITY;
        int nan = 0;
        for (size_t k = 0; k < m; k++) {
            double v = lp[k][i];
            nan |= isnan(v);
            if (v > mx)
                mx = v;
        }
        if (nan) {
            out[i] = NAN;
            if (wts)
                for (size_t k = 0; k < m; k++)
                    wts[i * m + k] = NAN;
            continue;
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

/*
 * maf_internal.h -- what the parts of the MAF module share (src/core/maf*.c only; the
 * contract with the rest of the workbench is phaseflow/maf.h).
 */
#ifndef PF_MAF_INTERNAL_H
#define PF_MAF_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include "phaseflow/maf.h"

#define R_ROWS PF_MAF_ROWS
#define SCALE_MIN 1e-3

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
    double *sz;      /* spline transforms: scratch for one block (3 x R x D) */
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

/* 4-double vectors (GCC vector extensions) for the kernels of maf_gelu.c and maf_made.c. */
typedef double v4d __attribute__((vector_size(32)));
#define VB(c) ((v4d){(c), (c), (c), (c)})

/* The kernel path: 0 = best available, 1 = scalar fallback, 2 = AVX2+FMA (falls back
 * when absent). */
static inline int gelu_path(int path)
{
    int has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return path == 1 || !has ? 1 : 2;
}

/* The panel of (transform t, block b, layer 0 = W1 / 1 = W2, dir 0 = forward /
 * 1 = backward, group g). */
static inline const double *panel(const pf_maf *f, int t, int b, int layer, int dir, int g)
{
    size_t slot = (((size_t)t * (size_t)f->B + (size_t)b) * 2 + (size_t)layer) * 2 + (size_t)dir;
    return f->pk + f->pko[slot * (size_t)f->ng + (size_t)g];
}

/* Internal to the module (hidden: not exported from the library). */
#pragma GCC visibility push(hidden)

/* maf_gelu.c: a = gelu(h), d = gelu'(h) for m elements (d may be NULL; a may alias h). */
void maf_gelu_array(const double *h, double *a, double *d, size_t m);

/* maf_prep.c: the preprocessing map of one row, its reverse-mode and inverse. */
int maf_prep_init(prep *p, int d);
double maf_prep_row(const prep *p, int d, const double *x, double *y);
void maf_prep_back(const prep *p, int d, const double *x, const double *gy, double wt,
                   double *gx);
void maf_prep_inv_row(const prep *p, int d, const double *y, double *x);

/* maf_layout.c: the degree-sorted layout (at allocation) and the masked weights and panels
 * rebuilt from the parameters (before a batch). */
int maf_sort_units(pf_maf *f);
void maf_sync_masked(pf_maf *f, int bwd);

/* maf_made.c: the masked network and the row kernels the backward pass shares. */
void maf_made_fwd(const pf_maf *f, ws *w, int t, size_t n, const double *X, const double *cp,
                  int h0, int h1);
int maf_rows_ident(const double *c, size_t n, int C);
void maf_rowk(size_t n, int h, double *out, int ldo, const double *bias, const double *x,
              int kx, const double *xt, const double *c, int kc, const double *ct, int ldt);
void maf_rowdot(size_t n, int no, const double *A, int lda, int la, const double *W, int ldw,
                const int *lens, int lmod, const double *base, double *out, int ldo);
void maf_colsum_add(double *dst, const double *src, size_t n, size_t m);
void maf_vmul(double *dst, const double *a, const double *b, size_t m, int acc);
void maf_gemm_bwd_grp(const pf_maf *f, size_t n, const double *gO, const double *W,
                      double *gA, int t, int b, int layer);
void maf_gemm_wgt_grp(const pf_maf *f, size_t n, const double *gO, const double *A,
                      double *gW);

/* maf_pass.c: the passes over one block of rows. */
void maf_blk_forward(const pf_maf *f, ws *w, size_t n, const double *x, const double *c);
void maf_blk_backward(const pf_maf *f, ws *w, size_t n, const double *x, const double *c,
                      int pgrad, double *gx, double *gc);
void maf_blk_inverse(const pf_maf *f, ws *w, size_t n, const double *z, const double *c,
                     double *x, double *logdet);

#pragma GCC visibility pop

#endif

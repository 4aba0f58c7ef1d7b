/*
 * phaseflow/maf.h -- Masked Autoregressive Flows (MAF) in double precision with exact
 * gradients.
 *
 * Architecture (one MADE per transform, as nflows builds it):
 *   h0 = W0 x + b0 + Wc0 c                         (W0 masked by the MADE degree rule)
 *   block b = 1..B:  t = W1 gelu(h) + b1 + Wc_b c;  h <- h + W2 gelu(t) + b2
 *   [shift | raw] = Wo h + bo                      (2D outputs, dimension i sees x_<i)
 *   z_i = x_i * s_i + shift_i,  s_i = softplus(raw_i + s0) + 1e-3,  s0 = log(e^0.999 - 1)
 * so raw = 0 gives s = 1 exactly and s never drops below 1e-3 (a bounded-below, smooth
 * scale: softplus never overflows, its log is finite). GELU is the exact erf form
 * gelu(a) = a Phi(a). Transforms are separated by a reverse permutation (after each
 * transform, as nflows does); the base is a standard normal. The context c enters
 * every hidden layer unmasked (the MADE input and the first layer of each block).
 * Hidden degrees are sequential: deg(k) = k mod max(1, D-1) + min(1, D-1).
 *
 * Spline transforms (transform = PF_MAF_SPLINE, or 's' in layers): the same MADE gives
 * P = 3K - 1 outputs per dimension (output row i*P + j is raw value j of dimension i) and
 * z_i = g(x_i; raw_i), the rational-quadratic spline of phaseflow/spline.h on [-B, B]
 * with identity tails; ln|det| = sum_i ln g'(x_i). In a mixed stack every transform has
 * the widest output layer; an affine transform uses rows 0..2D-1 and the rest are masked.
 *
 * Preprocessing (part of the flow, applied before the MADEs, exact Jacobians):
 *   input:   optional survey-sphere map of dims 0..2: u = (x - centre)/R,
 *            w = artanh(|u|) u/|u|; then y = (w - mean)/std per dimension.
 *            log p(x) = log p_flow(y) + ln|det dy/dx| with
 *            ln|det| = -ln(1-|u|^2) + 2 ln(artanh|u|/|u|) - 3 ln R - sum ln std.
 *   context: the same maps (sphere optional, standardisation); no Jacobian term.
 *
 * Parameters: one flat vector of doubles owned by the flow (pf_maf_params), with a
 * gradient buffer of the same size (pf_maf_grad). Masked weight entries are kept in
 * the vector but never used, and their gradient is exactly zero. The layout per
 * transform is W0 (H x D), b0 (H), Wc0 (H x C), then per block W1 (H x H), b1 (H),
 * Wc (H x C), W2 (H x H), b2 (H), then Wo (NO x H), bo (NO); matrices row-major
 * (out x in); affine output rows 0..D-1 are shifts, D..2D-1 raw scales.
 *
 * Inside, hidden units are ordered by degree (the parameter vector keeps the order
 * above), so each masked H x H weight is block lower-triangular and only its nonzero
 * blocks go through GEMM; products with K or N <= C, D, 2D (input, context, output
 * layers) use vector row kernels; a block whose context rows are all equal (sampling at
 * one context) folds the context into the biases once. The hidden-layer GEMMs are
 * pf_panel_gemm / pf_panel_gemm_tn (phaseflow/panel.h) on CPUs with AVX2+FMA, with the
 * weights packed once per call, and cblas_dgemm elsewhere or when the environment variable
 * PHASEFLOW_MAF_GEMM=blas is set when the flow is made. The masked weights and panels
 * are rebuilt only when the parameter vector's content changed since the last call.
 *
 * Batches: x is N x D, c is N x C, row-major contiguous. Work is done in blocks of
 * PF_MAF_ROWS rows (fewer when a small batch would leave threads idle), spread over
 * OpenMP threads (OMP_NUM_THREADS; BLAS runs single-threaded inside each); workspaces are allocated once per thread count and
 * reused. A flow is not safe to use from two threads at once. log p, its input and
 * context gradients, forward and inverse are bit-identical for any thread count (a row's
 * result does not depend on its block); parameter gradients (pf_maf_nll_grad) are
 * bit-identical for the same thread count.
 */
#ifndef PHASEFLOW_MAF_H
#define PHASEFLOW_MAF_H

#include <stddef.h>
#include <stdint.h>
#include "phaseflow/common.h"
#include "phaseflow/spline.h"

#define PF_MAF_ROWS 256

typedef struct pf_maf pf_maf;

enum { PF_MAF_AFFINE = 0, PF_MAF_SPLINE = 1, PF_MAF_MIXED = 2 };

typedef struct pf_maf_config {
    int dim;        /* D >= 1 */
    int context;    /* C >= 0 */
    int transforms; /* T >= 1 */
    int hidden;     /* H >= 1 */
    int blocks;     /* B >= 0 */
    uint64_t seed;  /* parameter initialisation */
    int transform;  /* PF_MAF_AFFINE (0) or PF_MAF_SPLINE for every transform */
    const char *layers; /* NULL, or T characters 'a' (affine) / 's' (spline), first
                         * transform first; overrides transform. get_config points it at
                         * the flow's own string and sets transform to the family, MIXED
                         * when both kinds occur */
    int bins;       /* spline bins K in 2..PF_SPLINE_MAXBINS; 0 = 8 */
    double bound;   /* spline interval [-bound, bound] (after preprocessing); 0 = 3 */
} pf_maf_config;

/* Preprocessing of the input (which = 0) or the context (which = 1). */
typedef struct pf_maf_prep {
    int sphere;        /* 1: apply the survey-sphere map to dims 0..2 (needs >= 3 dims) */
    double centre[3];  /* kpc (or the unit of x) */
    double radius;     /* R > 0 */
    const double *mean; /* length D (or C); NULL = zeros */
    const double *std;  /* length D (or C), > 0; NULL = ones */
} pf_maf_prep;

/* A new flow with freshly initialised parameters (PyTorch's Linear default
 * U(-1/sqrt(fan_in), +) for all layers except each block's last, U(-1e-3, 1e-3)).
 * Unused fields of cfg must be zero (affine, default bins and bound).
 * NULL with err filled on bad configuration or no memory. */
pf_maf *pf_maf_alloc(const pf_maf_config *cfg, pf_err *err);
void pf_maf_free(pf_maf *f);

void pf_maf_get_config(const pf_maf *f, pf_maf_config *cfg);
/* Outputs of each MADE per row (NO above). */
int pf_maf_nout(const pf_maf *f);
size_t pf_maf_nparams(const pf_maf *f);
/* The flat parameter vector and gradient buffer (nparams doubles each), owned by f.
 * Writing into the parameters directly is allowed between calls. */
double *pf_maf_params(pf_maf *f);
double *pf_maf_grad(pf_maf *f);
/* The 0/1 mask of the parameter vector (1 for used entries). */
const double *pf_maf_mask(const pf_maf *f);

/* Set / read the preprocessing of input (which = 0) or context (which = 1). get fills
 * mean/std (caller arrays of length D or C) and the scalars. */
int pf_maf_set_prep(pf_maf *f, int which, const pf_maf_prep *p, pf_err *err);
void pf_maf_get_prep(const pf_maf *f, int which, int *sphere, double centre[3],
                     double *radius, double *mean, double *std);

/* log p(x | c) for n rows -> logp (n). gx (n x D) and gc (n x C) receive the exact
 * gradients of log p with respect to x and c when not NULL. Points outside the
 * survey sphere (|u| >= 1) get log p = -inf and zero gradient. ctx may be NULL only
 * when C = 0. */
int pf_maf_log_prob(pf_maf *f, size_t n, const double *x, const double *ctx, double *logp,
                    double *gx, double *gc, pf_err *err);

/* Mean negative log-likelihood over the n rows -> *loss, and its gradient with respect
 * to every parameter into pf_maf_grad(f) (overwritten). */
int pf_maf_nll_grad(pf_maf *f, size_t n, const double *x, const double *ctx, double *loss,
                    pf_err *err);

/* Data -> base: z (n x D) and ln|det dz/dx| (n), preprocessing included. */
int pf_maf_forward(pf_maf *f, size_t n, const double *x, const double *ctx, double *z,
                   double *logdet, pf_err *err);
/* Base -> data (sampling): x (n x D) and ln|det dx/dz| (n); D MADE passes per
 * transform. logdet may be NULL. */
int pf_maf_inverse(pf_maf *f, size_t n, const double *z, const double *ctx, double *x,
                   double *logdet, pf_err *err);

/* The MADE of transform t alone on its own input (no preprocessing, no permutation):
 * out (n x NO) = [shift | raw] for affine flows (NO = 2D), the raw spline values
 * (NO = (3K-1) D) otherwise. For tests of the autoregressive property. */
int pf_maf_made(pf_maf *f, int t, size_t n, const double *x, const double *ctx, double *out,
                pf_err *err);

/* GELU on n values: a = h Phi(h), d = gelu'(h) (a may alias h). path 0 = fastest
 * available, 1 = portable scalar code, 2 = AVX2+FMA vector code (used only when the CPU
 * has it). Returns the path used (1 or 2); both give identical bits. For tests. */
int pf_maf_gelu(int path, size_t n, const double *h, double *a, double *d);

/* Ensembles (mixtures of m equally weighted densities).
 * pf_maf_mix: out[i] = ln( (1/m) sum_k exp(lp[k][i]) ) for n rows, computed stably
 * (max subtracted). lp holds m pointers to n doubles (-inf allowed). When wts is not
 * NULL it receives the n x m (row-major) mixture weights
 *   wts[i*m + k] = exp(lp[k][i] - out[i]) / m   (each row sums to 1),
 * a row of zeros where every member gives -inf. A row where a member gives NaN (a point
 * where its arithmetic overflowed, e.g. a far-tail draw of another member) is NaN, with NaN
 * weights, as a single flow's would be; callers drop non-finite rows (pf_cbe_solve). */
int pf_maf_mix(size_t n, size_t m, const double *const *lp, double *out, double *wts,
               pf_err *err);
/* out (n x d) = sum_k wts[i*m + k] g[k] (n x d each): the gradient of the mixture's
 * log density from the members' gradients and pf_maf_mix's weights. */
void pf_maf_mix_grad(size_t n, size_t m, const double *wts, size_t d,
                     const double *const *g, double *out);

#endif

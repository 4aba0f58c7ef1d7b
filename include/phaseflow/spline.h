/*
 * phaseflow/spline.h -- the monotone rational-quadratic spline of one variable (Durkan,
 * Bekasov, Murray & Papamakarios 2019, "Neural Spline Flows"), the elementwise map of the
 * spline transforms of phaseflow/maf.h, with exact partial derivatives.
 *
 * On [-B, B] the map has K bins. From P = 3K - 1 raw (unconstrained) values
 *   raw[0 .. K-1]      widths:  W_j = 2B (m + (1 - mK) softmax(raw_w)_j)
 *   raw[K .. 2K-1]     heights: H_j = 2B (m + (1 - mK) softmax(raw_h)_j)
 *   raw[2K .. 3K-2]    interior knot derivatives d_j = m + softplus(raw_d + s0), j = 1..K-1,
 * with m = PF_SPLINE_MIN (minimum bin width, height and knot derivative, as nflows) and
 * s0 = ln(e^(1-m) - 1), so raw = 0 is the identity map exactly (nflows' parameterisation
 * differs by that shift and by scaling the width and height logits by 1/sqrt(hidden): a
 * reparameterisation of the same family). The end derivatives are 1 and outside [-B, B]
 * the map is the identity (linear tails): the map and its derivative are continuous
 * everywhere, and it is strictly increasing (the slope is positive everywhere; it is >= m
 * at the knots but can fall far below m inside a bin, where the inverse is ill-conditioned).
 * Inside bin k, with xi = (x - x_k)/w, s = h/w:
 *   z = y_k + h (s xi^2 + d_k xi(1-xi)) / (s + (d_k + d_{k+1} - 2s) xi(1-xi)).
 * The inverse solves that quadratic in xi by its cancellation-free root.
 *
 * Evaluations come in batches (the flows pass every row and dimension of a block at once):
 * the exps and logs of a batch go through glibc's vector math (libmvec), whose results
 * differ from scalar libm's in the last bits, and between CPUs with different vector units
 * (SSE2, AVX2, AVX-512 variants).
 */
#ifndef PHASEFLOW_SPLINE_H
#define PHASEFLOW_SPLINE_H

#include <stddef.h>

#define PF_SPLINE_MIN 1e-3
#define PF_SPLINE_MAXBINS 64

/* Partial derivatives of evaluations k = 0..m-1: of z and of L = ln dz/dx with respect to
 * x (dz_dx[k], dL_dx[k]) and to the P raw values (dz_draw[k * ld + j], dL_draw likewise;
 * entries of raw values that do not act are 0). */
typedef struct pf_spline_grad {
    double *dz_dx, *dL_dx;
    double *dz_draw, *dL_draw;
    size_t ld;
} pf_spline_grad;

/* Number of raw values per variable for K bins (3K - 1). */
int pf_spline_nraw(int bins);

/* m evaluations: z[k] = g_k(x[k]) and L[k] = ln g_k'(x[k]), g_k the spline of the raw values
 * raw[k * ldr + 0 .. P-1]; the partials into *g when g is not NULL. bins in
 * 2..PF_SPLINE_MAXBINS, bound > 0 (checked by the caller). Each result depends only on its
 * own x and raw values, to the bit (not on m or on the other evaluations). */
void pf_spline_forward(int bins, double bound, size_t m, const double *raw, size_t ldr,
                       const double *x, double *z, double *L, const pf_spline_grad *g);

/* x[k] = g_k^-1(z[k]) and L[k] = ln g_k'(x[k]) (so ln |dx/dz| = -L[k]). */
void pf_spline_inverse(int bins, double bound, size_t m, const double *raw, size_t ldr,
                       const double *z, double *x, double *L);

#endif

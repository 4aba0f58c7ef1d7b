/*
 * panel.c -- register-tiled products with a packed right-hand side (phaseflow/panel.h).
 *
 * The tile: 4 rows of A x one 8-column panel of B, 8 accumulators of 4 doubles. Per k it
 * loads two vectors of B and broadcasts one element of each of the 4 rows: 8 FMAs to 6
 * loads, which a core with two load ports and one 256-bit FMA per cycle (Zen 1) or two
 * (later cores) keeps busy. The last panel may be partial: it is zero-padded in P, and
 * C is read and written through lane masks so no column past N is touched.
 */
#include <immintrin.h>
#include "phaseflow/panel.h"

#define W PF_PANEL_W

size_t pf_panel_size(int K, int N)
{
    if (K <= 0 || N <= 0)
        return 0;
    return (size_t)((N + W - 1) / W) * (size_t)K * W;
}

void pf_panel_pack(int K, int N, const double *B, size_t rs, size_t cs, double *P)
{
    int np = (N + W - 1) / W;
    for (int p = 0; p < np; p++)
        for (int k = 0; k < K; k++) {
            double *o = P + ((size_t)p * (size_t)K + (size_t)k) * W;
            for (int j = 0; j < W; j++) {
                int c = p * W + j;
                o[j] = c < N ? B[(size_t)k * rs + (size_t)c * cs] : 0.0;
            }
        }
}

/* The starting value of C[i, j]: base, bias, their sum, or 0. */
static inline double start(const double *base, size_t ldb, const double *bias, size_t i, int j)
{
    if (base && bias)
        return base[i * ldb + (size_t)j] + bias[j];
    return base ? base[i * ldb + (size_t)j] : bias ? bias[j] : 0.0;
}

static void gemm_plain(size_t n, int K, int N, const double *A, size_t lda, const double *P,
                       double *C, size_t ldc, const double *base, size_t ldb,
                       const double *bias)
{
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < N; j++) {
            const double *b = P + (size_t)(j / W) * (size_t)K * W + (size_t)(j % W);
            double s = start(base, ldb, bias, i, j);
            for (int k = 0; k < K; k++)
                s += A[i * lda + (size_t)k] * b[(size_t)k * W];
            C[i * ldc + (size_t)j] = s;
        }
}

/* Store the MR x 8 accumulators into C's real columns (lane masks m0, m1). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
store_tile(const int MR, double *C, size_t ldc, const __m256d *c0, const __m256d *c1,
           __m256i m0, __m256i m1)
{
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        _mm256_maskstore_pd(C + (size_t)r * ldc, m0, c0[r]);
        _mm256_maskstore_pd(C + (size_t)r * ldc + 4, m1, c1[r]);
    }
}

/* One panel for rows [0, MR) (MR = 4 or 1, a constant after inlining); m0/m1 are the lane
 * masks of the panel's two 4-column halves. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile(const int MR, int K, const double *A, size_t lda, const double *B, double *C, size_t ldc,
     const double *base, size_t ldb, const double *bias, __m256i m0, __m256i m1)
{
    __m256d c0[4], c1[4], z0 = _mm256_setzero_pd(), z1 = z0;
    if (bias) {
        z0 = _mm256_maskload_pd(bias, m0);
        z1 = _mm256_maskload_pd(bias + 4, m1);
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        if (base) {
            c0[r] = _mm256_maskload_pd(base + (size_t)r * ldb, m0);
            c1[r] = _mm256_maskload_pd(base + (size_t)r * ldb + 4, m1);
            if (bias) {
                c0[r] = _mm256_add_pd(c0[r], z0);
                c1[r] = _mm256_add_pd(c1[r], z1);
            }
        } else {
            c0[r] = z0;
            c1[r] = z1;
        }
    }
    for (int k = 0; k < K; k++) {
        __m256d b0 = _mm256_loadu_pd(B + (size_t)k * W), b1 = _mm256_loadu_pd(B + (size_t)k * W + 4);
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) {
            __m256d a = _mm256_broadcast_sd(A + (size_t)r * lda + (size_t)k);
            c0[r] = _mm256_fmadd_pd(a, b0, c0[r]);
            c1[r] = _mm256_fmadd_pd(a, b1, c1[r]);
        }
    }
    store_tile(MR, C, ldc, c0, c1, m0, m1);
}

/* Lane masks of an 8-column panel holding w (1..8) real columns. */
__attribute__((target("avx2,fma"))) static inline void masks(int w, __m256i *m0, __m256i *m1)
{
    *m0 = _mm256_setr_epi64x(w > 0 ? -1 : 0, w > 1 ? -1 : 0, w > 2 ? -1 : 0, w > 3 ? -1 : 0);
    *m1 = _mm256_setr_epi64x(w > 4 ? -1 : 0, w > 5 ? -1 : 0, w > 6 ? -1 : 0, w > 7 ? -1 : 0);
}

__attribute__((target("avx2,fma"))) static void
gemm_avx2(size_t n, int K, int N, const double *A, size_t lda, const double *P, double *C,
          size_t ldc, const double *base, size_t ldb, const double *bias)
{
    int np = (N + W - 1) / W;
    for (int p = 0; p < np; p++) {
        int w = N - p * W < W ? N - p * W : W;
        __m256i m0, m1;
        masks(w, &m0, &m1);
        const double *B = P + (size_t)p * (size_t)K * W, *bp = bias ? bias + p * W : NULL;
        double *Cp = C + (size_t)p * W;
        size_t i = 0;
        for (; i + 4 <= n; i += 4)
            tile(4, K, A + i * lda, lda, B, Cp + i * ldc, ldc,
                 base ? base + i * ldb + (size_t)p * W : NULL, ldb, bp, m0, m1);
        for (; i < n; i++)
            tile(1, K, A + i * lda, lda, B, Cp + i * ldc, ldc,
                 base ? base + i * ldb + (size_t)p * W : NULL, ldb, bp, m0, m1);
    }
}

static int choose(int path)
{
    int has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return path == 1 || !has ? 1 : 2;
}

int pf_panel_gemm(int path, size_t n, int K, int N, const double *A, size_t lda,
                  const double *P, double *C, size_t ldc, const double *base, size_t ldb,
                  const double *bias)
{
    int used = choose(path);
    if (n == 0 || N <= 0)
        return used;
    if (K <= 0) { /* an empty sum: the starting values */
        for (size_t i = 0; i < n; i++)
            for (int j = 0; j < N; j++)
                C[i * ldc + (size_t)j] = start(base, ldb, bias, i, j);
        return used;
    }
    if (used == 2)
        gemm_avx2(n, K, N, A, lda, P, C, ldc, base, ldb, bias);
    else
        gemm_plain(n, K, N, A, lda, P, C, ldc, base, ldb, bias);
    return used;
}

/* ---- C += X^T Y ------------------------------------------------------------------------
 * The same 4 x 8 tile, with the sum over the n rows: per row r it broadcasts X[r, i..i+3]
 * (consecutive) and loads Y[r, j..j+8]; neither operand needs packing. Full panels load Y
 * with plain loads: a masked load per row costs Zen 1 half the speed (7 against 17
 * GFLOP/s for 256 x 32 x 64); masks stay for partial panels and for C, loaded once per
 * tile. (Sweeping the rows in L1-sized chunks was slower: 15 GFLOP/s at 64 rows.) */
static void tn_plain(size_t n, int M, int N, const double *X, size_t ldx, const double *Y,
                     size_t ldy, double *C, size_t ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = C[(size_t)i * ldc + (size_t)j];
            for (size_t r = 0; r < n; r++)
                s += X[r * ldx + (size_t)i] * Y[r * ldy + (size_t)j];
            C[(size_t)i * ldc + (size_t)j] = s;
        }
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
tn_tile(const int MR, const int full, size_t n, const double *X, size_t ldx, const double *Y,
        size_t ldy, double *C, size_t ldc, __m256i m0, __m256i m1)
{
    __m256d c0[4], c1[4];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
        c0[i] = _mm256_maskload_pd(C + (size_t)i * ldc, m0);
        c1[i] = _mm256_maskload_pd(C + (size_t)i * ldc + 4, m1);
    }
    for (size_t r = 0; r < n; r++) {
        __m256d y0, y1;
        if (full) {
            y0 = _mm256_loadu_pd(Y + r * ldy);
            y1 = _mm256_loadu_pd(Y + r * ldy + 4);
        } else {
            y0 = _mm256_maskload_pd(Y + r * ldy, m0);
            y1 = _mm256_maskload_pd(Y + r * ldy + 4, m1);
        }
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            __m256d x = _mm256_broadcast_sd(X + r * ldx + (size_t)i);
            c0[i] = _mm256_fmadd_pd(x, y0, c0[i]);
            c1[i] = _mm256_fmadd_pd(x, y1, c1[i]);
        }
    }
    store_tile(MR, C, ldc, c0, c1, m0, m1);
}

__attribute__((target("avx2,fma"))) static void
tn_avx2(size_t n, int M, int N, const double *X, size_t ldx, const double *Y, size_t ldy,
        double *C, size_t ldc)
{
    for (int p = 0; p * W < N; p++) {
        int w = N - p * W < W ? N - p * W : W;
        __m256i m0, m1;
        masks(w, &m0, &m1);
        const double *Yp = Y + (size_t)p * W;
        double *Cp = C + (size_t)p * W;
        int i = 0;
        if (w == W)
            for (; i + 4 <= M; i += 4)
                tn_tile(4, 1, n, X + i, ldx, Yp, ldy, Cp + (size_t)i * ldc, ldc, m0, m1);
        for (; i + 4 <= M; i += 4)
            tn_tile(4, 0, n, X + i, ldx, Yp, ldy, Cp + (size_t)i * ldc, ldc, m0, m1);
        for (; i < M; i++)
            tn_tile(1, 0, n, X + i, ldx, Yp, ldy, Cp + (size_t)i * ldc, ldc, m0, m1);
    }
}

int pf_panel_gemm_tn(int path, size_t n, int M, int N, const double *X, size_t ldx,
                     const double *Y, size_t ldy, double *C, size_t ldc)
{
    int used = choose(path);
    if (n == 0 || M <= 0 || N <= 0)
        return used;
    if (used == 2)
        tn_avx2(n, M, N, X, ldx, Y, ldy, C, ldc);
    else
        tn_plain(n, M, N, X, ldx, Y, ldy, C, ldc);
    return used;
}

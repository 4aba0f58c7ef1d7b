/*
 * panel.c -- register-tiled products with a packed right-hand side (phaseflow/panel.h).
 *
 * The tile: 4 rows of A x one 8-column panel of B, 8 accumulators of 4 doubles. Per k it
 * loads two vectors of B and broadcasts one element of each of the 4 rows: 8 FMAs to 6
 * loads, which a core with two load ports and one 256-bit FMA per cycle (Zen 1) or two
 * (later cores) keeps busy. The last panel may be partial: it is zero-padded in P, and
 * C is read and written through lane masks so no column past N is touched.
 */
#include <string.h>
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

static void gemm_plain(size_t n, int K, int N, const double *A, size_t lda, const double *P,
                       double *C, size_t ldc, int acc)
{
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < N; j++) {
            const double *b = P + (size_t)(j / W) * (size_t)K * W + (size_t)(j % W);
            double s = acc ? C[i * ldc + (size_t)j] : 0.0;
            for (int k = 0; k < K; k++)
                s += A[i * lda + (size_t)k] * b[(size_t)k * W];
            C[i * ldc + (size_t)j] = s;
        }
}

/* One panel for rows [0, MR) (MR = 4 or 1, a constant after inlining); m0/m1 are the lane
 * masks of the panel's two 4-column halves. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile(const int MR, int K, const double *A, size_t lda, const double *B, double *C, size_t ldc,
     int acc, __m256i m0, __m256i m1)
{
    __m256d c0[4], c1[4];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        if (acc) {
            c0[r] = _mm256_maskload_pd(C + (size_t)r * ldc, m0);
            c1[r] = _mm256_maskload_pd(C + (size_t)r * ldc + 4, m1);
        } else {
            c0[r] = _mm256_setzero_pd();
            c1[r] = _mm256_setzero_pd();
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
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        _mm256_maskstore_pd(C + (size_t)r * ldc, m0, c0[r]);
        _mm256_maskstore_pd(C + (size_t)r * ldc + 4, m1, c1[r]);
    }
}

__attribute__((target("avx2,fma"))) static void
gemm_avx2(size_t n, int K, int N, const double *A, size_t lda, const double *P, double *C,
          size_t ldc, int acc)
{
    int np = (N + W - 1) / W;
    for (int p = 0; p < np; p++) {
        int w = N - p * W < W ? N - p * W : W;
        __m256i m0 = _mm256_setr_epi64x(w > 0 ? -1 : 0, w > 1 ? -1 : 0, w > 2 ? -1 : 0,
                                        w > 3 ? -1 : 0);
        __m256i m1 = _mm256_setr_epi64x(w > 4 ? -1 : 0, w > 5 ? -1 : 0, w > 6 ? -1 : 0,
                                        w > 7 ? -1 : 0);
        const double *B = P + (size_t)p * (size_t)K * W;
        double *Cp = C + (size_t)p * W;
        size_t i = 0;
        for (; i + 4 <= n; i += 4)
            tile(4, K, A + i * lda, lda, B, Cp + i * ldc, ldc, acc, m0, m1);
        for (; i < n; i++)
            tile(1, K, A + i * lda, lda, B, Cp + i * ldc, ldc, acc, m0, m1);
    }
}

int pf_panel_gemm(int path, size_t n, int K, int N, const double *A, size_t lda,
                  const double *P, double *C, size_t ldc, int acc)
{
    int has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int used = path == 1 || !has ? 1 : 2;
    if (n == 0 || N <= 0)
        return used;
    if (K <= 0) { /* an empty sum */
        if (!acc)
            for (size_t i = 0; i < n; i++)
                memset(C + i * ldc, 0, (size_t)N * sizeof(double));
        return used;
    }
    if (used == 2)
        gemm_avx2(n, K, N, A, lda, P, C, ldc, acc);
    else
        gemm_plain(n, K, N, A, lda, P, C, ldc, acc);
    return used;
}

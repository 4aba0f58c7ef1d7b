/*
 * phaseflow/panel.h -- C (+)= A B for a small right-hand matrix B packed once.
 *
 * Why: the MAF's hidden layers multiply a block of a few hundred rows by a 32..64-wide
 * weight block. On these shapes a general GEMM spends its time packing and in edge
 * handling (OpenBLAS 0.3.21 on Zen: 7-9 GFLOP/s for 256 x 32 x 32 and 256 x 32 x 64),
 * while the weights do not change within a call. Packing B once per call into panels of
 * 8 columns, and streaming A's rows straight from their row-major storage through a
 * 4 x 8 register tile, reaches the core's FMA peak on the same shapes (18 GFLOP/s,
 * bench/flows.lua measures the effect end to end). General GEMMs (weight gradients,
 * pf.array matmul) stay with OpenBLAS.
 *
 * Layout: B is K x N, element (k, j) at B[k*rs + j*cs] (so B or its transpose can be
 * packed without a copy). The packed form holds ceil(N/8) panels of K x 8 doubles,
 * zero-padded; results are stored only into the N real columns. Additions run over k
 * in increasing order for every element, so results do not depend on n or on where a
 * row falls in the tile.
 */
#ifndef PHASEFLOW_PANEL_H
#define PHASEFLOW_PANEL_H

#include <stddef.h>

#define PF_PANEL_W 8

/* Doubles needed to pack a K x N matrix. */
size_t pf_panel_size(int K, int N);

/* Pack B (K x N; element (k, j) at B[k*rs + j*cs]) into P (pf_panel_size(K, N) doubles). */
void pf_panel_pack(int K, int N, const double *B, size_t rs, size_t cs, double *P);

/* C[i, j] = start(i, j) + sum_k A[i, k] B[k, j] for i < n, j < N, where start is
 * base[i*ldb + j] + bias[j] (either may be NULL: then it is left out; both NULL: 0), so
 * a layer's bias and residual input enter without a separate pass; base may be C itself
 * (accumulate in place). A has row stride lda, C row stride ldc. Uses the AVX2+FMA kernel
 * when the CPU has it, else a portable loop (plain multiply-adds, so its last bits may
 * differ). path: 0 = best, 1 = portable, 2 = AVX2 (falls back when absent); returns the
 * path used. */
int pf_panel_gemm(int path, size_t n, int K, int N, const double *A, size_t lda,
                  const double *P, double *C, size_t ldc, const double *base, size_t ldb,
                  const double *bias);

/* C[i, j] += sum_r X[r, i] Y[r, j] for i < M, j < N over n rows (X row stride ldx, Y ldy,
 * C ldc): the weight gradient gW += gOut^T In of a layer, with no packing (both operands
 * are read row by row). Paths as above. */
int pf_panel_gemm_tn(int path, size_t n, int M, int N, const double *X, size_t ldx,
                     const double *Y, size_t ldy, double *C, size_t ldc);

#endif

/*
 * phaseflow/config.h -- what the runtime is built with and runs on: version, git
 * commit, BLAS library and the CPU kernel it chose, thread count.
 *
 * Threading model: one OpenMP pool. phaseflow's own loops use OpenMP and link the
 * OpenMP build of OpenBLAS, which shares that pool, so the two never fight over the
 * cores. The knob is OMP_NUM_THREADS at start-up or pf_config_set_threads().
 */
#ifndef PHASEFLOW_CONFIG_H
#define PHASEFLOW_CONFIG_H

const char *pf_version_string(void);   /* "0.1.0" */
const char *pf_git_commit(void);       /* short hash, "-dirty" suffix, or "unknown" */
const char *pf_blas_corename(void);    /* OpenBLAS kernel family in use, e.g. "Haswell" */
const char *pf_blas_config(void);      /* OpenBLAS build string */
int pf_config_threads(void);           /* threads used by parallel regions */
void pf_config_set_threads(int n);     /* n >= 1: OpenMP and OpenBLAS both */

/*
 * CPU check for OpenBLAS (see cpu.c). Debian's OpenBLAS 0.3.21 does not recognise
 * some AVX-512 CPUs and silently falls back to its oldest kernels (Prescott). If
 * OPENBLAS_CORETYPE is unset and the CPU has AVX-512 (F, DQ, BW, VL), this sets it to
 * "SkylakeX" and returns 1; otherwise it changes nothing and returns 0. It must run
 * before libopenblas is loaded to take effect.
 */
int pf_cpu_prepare_blas_env(void);

#endif

/* version.c -- build identity and the BLAS/thread configuration. */
#include <omp.h>
#include "phaseflow/common.h"
#include "phaseflow/config.h"
#include "gitinfo.h"

/* OpenBLAS exports these; they are not in cblas.h. */
char *openblas_get_corename(void);
char *openblas_get_config(void);
void openblas_set_num_threads(int n);

const char *pf_version_string(void) { return PF_VERSION; }
const char *pf_git_commit(void) { return PF_GIT_COMMIT; }
const char *pf_blas_corename(void) { return openblas_get_corename(); }
const char *pf_blas_config(void) { return openblas_get_config(); }
int pf_config_threads(void) { return omp_get_max_threads(); }

void pf_config_set_threads(int n)
{
    if (n < 1)
        n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

/* adam.c -- Adam on a flat vector (see phaseflow/adam.h). */
#include <math.h>
#include <stdlib.h>
#include "phaseflow/adam.h"

pf_adam *pf_adam_alloc(size_t n, double lr, double beta1, double beta2, double eps,
                       double weight_decay, pf_err *err)
{
    if (!(lr > 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0) ||
        !(weight_decay >= 0)) {
        pf_err_set(err, PF_EINVAL, "adam: need lr > 0, 0 <= betas < 1, eps > 0, "
                   "weight_decay >= 0");
        return NULL;
    }
    pf_adam *a = calloc(1, sizeof *a);
    if (a) {
        a->m = calloc(n ? n : 1, sizeof(double));
        a->v = calloc(n ? n : 1, sizeof(double));
    }
    if (!a || !a->m || !a->v) {
        pf_adam_free(a);
        pf_err_set(err, PF_ENOMEM, "adam: out of memory");
        return NULL;
    }
    a->n = n;
    a->lr = lr;
    a->beta1 = beta1;
    a->beta2 = beta2;
    a->eps = eps;
    a->weight_decay = weight_decay;
    return a;
}

void pf_adam_free(pf_adam *a)
{
    if (!a)
        return;
    free(a->m);
    free(a->v);
    free(a);
}

void pf_adam_step(pf_adam *a, double *p, const double *g)
{
    a->step++;
    double c1 = 1.0 - pow(a->beta1, (double)a->step);
    double c2 = 1.0 - pow(a->beta2, (double)a->step);
    double b1 = a->beta1, b2 = a->beta2, wd = a->weight_decay;
    for (size_t i = 0; i < a->n; i++) {
        double gi = g[i] + wd * p[i];
        a->m[i] = b1 * a->m[i] + (1.0 - b1) * gi;
        a->v[i] = b2 * a->v[i] + (1.0 - b2) * gi * gi;
        p[i] -= a->lr * (a->m[i] / c1) / (sqrt(a->v[i] / c2) + a->eps);
    }
}

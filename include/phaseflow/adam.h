/*
 * phaseflow/adam.h -- the Adam optimiser on one flat parameter vector (steppable).
 *
 * step t (1-based):  g' = g + wd * p            (L2 weight decay, as torch.optim.Adam)
 *   m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * The moments and the step count are the whole state (pf_adam_moments, set_step), so a
 * checkpoint can restore it exactly.
 */
#ifndef PHASEFLOW_ADAM_H
#define PHASEFLOW_ADAM_H

#include <stddef.h>
#include "phaseflow/common.h"

typedef struct pf_adam {
    size_t n;
    double lr, beta1, beta2, eps, weight_decay;
    long step;      /* steps taken */
    double *m, *v;  /* n each, owned */
} pf_adam;

/* New optimiser for n parameters, moments zero. NULL if out of memory or invalid
 * hyper-parameters (lr > 0, 0 <= betas < 1, eps > 0, wd >= 0). */
pf_adam *pf_adam_alloc(size_t n, double lr, double beta1, double beta2, double eps,
                       double weight_decay, pf_err *err);
void pf_adam_free(pf_adam *a);

/* One update of p (n) from gradient g (n). */
void pf_adam_step(pf_adam *a, double *p, const double *g);

#endif

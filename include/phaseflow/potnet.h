/*
 * phaseflow/potnet.h -- a smooth neural potential Phi_theta(x) with exact first and
 * second derivatives, and the exact parameter gradient of the steady-state Boltzmann loss.
 *
 * Network (a multilayer perceptron on standardised positions):
 *   y_k = (x_k - centre_k) / s_k,  s = (scale, scale, zscale)    x: kpc, y dimensionless
 *   a_l = W_l h_{l-1} + b_l,  h_l = sigma(a_l)            l = 1..L, h_0 = y, width H
 *   u   = w_o . h_L + b_o
 *   Phi = phi_scale u                                     (km/s)^2
 * sigma is SiLU, sigma(a) = a / (1 + e^-a) (PF_POTNET_SILU, the default), or tanh
 * (PF_POTNET_TANH). Both are analytic. Three continuous derivatives are needed: the
 * Laplacian uses sigma'', and the parameter gradient of a loss on the Laplacian
 * differentiates it once more (sigma'''). SiLU is the default because it is unbounded:
 * outside the data the potential continues with a finite, non-zero slope (a force that
 * does not vanish), where a tanh network flattens out (zero force far from the data);
 * inside the data both fit equally well.
 *
 * Exact derivatives by forward-mode propagation (no finite differences). With
 * J_l = dh_l/dy (H x 3) and Lap_l = sum_k d^2 h_l / dy_k^2 (H):
 *   J_0 = I, Lap_0 = 0;  A = W_l J_{l-1},  M = W_l Lap_{l-1}
 *   J_l = sigma'(a_l) . A,  Lap_l = sigma''(a_l) . sum_k A_{:,k}^2 + sigma'(a_l) . M
 *   grad Phi = (phi_scale / scale) J_L^T w_o          (km/s)^2/kpc
 *   lap Phi  = (phi_scale / scale^2) w_o . Lap_L       (km/s)^2/kpc^2
 * so that a = -grad Phi and rho = lap Phi / (4 pi G) (Msun/kpc^3 with PF_G). With a
 * vertical unit zscale != scale the derivatives are taken in t = x / scale rather than y:
 * J_0 = diag(1, 1, scale / zscale) instead of I, and the formulas above stand. A disk's
 * potential curves on the scale of its thickness (a few hundred pc) vertically and of its
 * length (kpc) in the plane; a smaller zscale gives the first layer that resolution at
 * weights of order one.
 *
 * Loss (pf_potnet_loss_grad): n samples (x_i, v_i) with the gradients of ln f from the
 * flows, gx_i = grad_x ln f (1/kpc) and gv_i = grad_v ln f (s/km), and m points y_j:
 *   g_i  = grad Phi(x_i) + gphi_ext_i,     R_i = -v_i . gx_i + g_i . gv_i   (km/s/kpc)
 *   l_j  = lap Phi(y_j) + lap_ext_j
 *   loss = (1/n) sum_i w_i R_i^2 + lambda (1/m) sum_j tau softplus(-l_j / tau)
 * R is d ln f / dt of the collisionless Boltzmann equation (-v . grad_x ln f +
 * grad Phi . grad_v ln f), zero in a steady state; the second term penalises negative
 * density smoothly (tau: (km/s)^2/kpc^2, the width of the soft step). The gradient with
 * respect to every parameter is exact: a reverse sweep through the forward-mode
 * quantities above (it needs sigma''').
 *
 * Parameters: one flat vector of doubles owned by the network (pf_potnet_params), with a
 * gradient buffer of the same size (pf_potnet_grad). Layout: for l = 1..L, W_l (H x Hin,
 * row-major out x in; Hin = 3 for l = 1, else H) then b_l (H); then w_o (H) and b_o (1).
 * Initialisation as PyTorch's Linear: every entry of a layer U(-1/sqrt(fan_in), +),
 * drawn in layout order from MT19937 seeded with cfg.seed (phaseflow/rng.h).
 *
 * Batches: x is n x 3, row-major contiguous, kpc. Work is done in blocks of at most
 * PF_POTNET_ROWS rows over OpenMP threads (OMP_NUM_THREADS), with per-thread workspaces
 * kept in the network and re-made when the thread count changes; the hidden-layer
 * products are pf_panel_gemm (phaseflow/panel.h), whose sums run in a fixed order for
 * every row. eval's results are bit-identical for any thread count (a row's result does
 * not depend on its block). The loss and its gradient are bit-identical for any thread
 * count too: the rows are cut into chunks that depend on n (and m) alone, each chunk's
 * sums go to its own slot, and the slots are added in chunk order. A network is not safe
 * to use from two threads at once. No global state.
 */
#ifndef PHASEFLOW_POTNET_H
#define PHASEFLOW_POTNET_H

#include <stddef.h>
#include <stdint.h>
#include "phaseflow/common.h"

#define PF_POTNET_ROWS 128
#define PF_POTNET_MAXWIDTH 4096
#define PF_POTNET_MAXLAYERS 64

typedef struct pf_potnet pf_potnet;

enum { PF_POTNET_SILU = 0, PF_POTNET_TANH = 1 };

typedef struct pf_potnet_config {
    int hidden;        /* H, 1..PF_POTNET_MAXWIDTH */
    int layers;        /* L, 1..PF_POTNET_MAXLAYERS hidden layers */
    int activation;    /* PF_POTNET_SILU or PF_POTNET_TANH */
    double centre[3];  /* kpc, finite */
    double scale;      /* kpc, > 0 and finite: the unit of the in-plane coordinates */
    double zscale;     /* kpc, > 0 and finite: the unit of the third (vertical) one; 0 = scale */
    double phi_scale;  /* (km/s)^2, > 0 and finite */
    uint64_t seed;     /* parameter initialisation */
} pf_potnet_config;

/* A new network with freshly initialised parameters; NULL with err filled on a bad
 * configuration (naming the field) or no memory. */
pf_potnet *pf_potnet_alloc(const pf_potnet_config *cfg, pf_err *err);
/* Free a network and its workspaces; NULL is allowed. */
void pf_potnet_free(pf_potnet *p);

void pf_potnet_get_config(const pf_potnet *p, pf_potnet_config *cfg);
/* The name of an activation ("silu", "tanh"), or NULL for an unknown code. */
const char *pf_potnet_activation_name(int activation);

/* The number of parameters: 4H + (L-1)(H^2 + H) + H + 1. */
size_t pf_potnet_nparams(const pf_potnet *p);
/* The flat parameter vector and gradient buffer (nparams doubles each), owned by p.
 * Writing into the parameters directly is allowed between calls. */
double *pf_potnet_params(pf_potnet *p);
double *pf_potnet_grad(pf_potnet *p);

/* Evaluate at n points x (n x 3, kpc): phi (n, (km/s)^2), grad (n x 3, (km/s)^2/kpc)
 * and lap (n, (km/s)^2/kpc^2). Any output may be NULL (not computed; without lap the
 * second-derivative pass is skipped). Inputs are not checked for finiteness (NaN in,
 * NaN out for that row only). PF_ENOMEM if the workspaces cannot be made. */
int pf_potnet_eval(pf_potnet *p, size_t n, const double *x, double *phi, double *grad,
                   double *lap, pf_err *err);

/* The data of one loss evaluation. Arrays are row-major, caller-owned. */
typedef struct pf_potnet_data {
    size_t n;               /* samples (may be 0 when m > 0) */
    const double *x;        /* n x 3, kpc */
    const double *v;        /* n x 3, km/s */
    const double *gx;       /* n x 3, grad_x ln f, 1/kpc */
    const double *gv;       /* n x 3, grad_v ln f, s/km */
    const double *w;        /* n weights >= 0, or NULL (all 1) */
    const double *gphi_ext; /* n x 3 added to grad Phi, (km/s)^2/kpc, or NULL */
    size_t m;               /* penalty points (may be 0) */
    const double *y;        /* m x 3, kpc */
    const double *lap_ext;  /* m values added to lap Phi, (km/s)^2/kpc^2, or NULL */
    double lambda;          /* >= 0; weight of the penalty */
    double tau;             /* > 0 when m > 0; (km/s)^2/kpc^2 */
} pf_potnet_data;

/* The loss of the module comment -> *loss (and, when parts is not NULL, parts[0] = the
 * residual term, parts[1] = the penalty term), and its gradient with respect to every
 * parameter into pf_potnet_grad(p) (overwritten). PF_EINVAL for n = m = 0, missing
 * arrays, lambda < 0 or tau <= 0 (with m > 0); PF_ENOMEM for workspaces. */
int pf_potnet_loss_grad(pf_potnet *p, const pf_potnet_data *d, double *loss, double parts[2],
                        pf_err *err);

/* sigma, sigma', sigma'', sigma''' at a for an activation (for tests of the kernels). */
void pf_potnet_activation(int activation, double a, double out[4]);

#endif

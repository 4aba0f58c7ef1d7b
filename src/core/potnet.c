/*
 * potnet.c -- the neural potential with exact derivatives (see phaseflow/potnet.h).
 *
 * Why this shape: per row, the forward pass carries five H-vectors through each layer:
 * the activations h, the three columns of the Jacobian J = dh/dy and the Laplacian
 * vector Lap. All five go through the same weight matrix, so a block of nb rows is one
 * stack of 5 nb rows ("slabs" q = 0: h, 1..3: J columns, 4: Lap, each nb x H) and a layer
 * is one product of that stack with W^T (pf_panel_gemm, bias on slab 0 only). Only the
 * slabs a caller needs are carried: 1 (phi), 4 (phi, grad) or 5 (with the Laplacian).
 * The forward pass keeps every layer's pre-activations (a, A = W J, M = W Lap) and
 * sigma', sigma'', sigma''' so that the reverse sweep for the loss gradient is a second
 * stack product per layer (with W) plus the weight-gradient product (pf_panel_gemm_tn).
 *
 * Reverse sweep of one layer, given the cotangents hb, Jb (3 columns), Lb of its
 * outputs h = sigma(a), J = s1 A, Lap = s2 S + s1 M (S = sum_k A_k^2, sK = sigma^(K)(a)):
 *   ab  = hb s1 + s2 sum_k Jb_k A_k + Lb (s3 S + s2 M)
 *   Ab_k = s1 Jb_k + 2 Lb s2 A_k,   Mb = Lb s1
 * and these, stacked as the pre-activation slabs, give Wb += [ab;Ab;Mb]^T [h;J;Lap]_{l-1},
 * bb += sum ab, and the previous layer's cotangents [ab;Ab;Mb] W.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "phaseflow/potnet.h"
#include "phaseflow/panel.h"
#include "phaseflow/rng.h"

#define R_ROWS PF_POTNET_ROWS
/* At most this many chunks per row set in the loss (see loss_chunks). */
#define MAXCHUNK 32

/* Per-thread workspace for one block of at most R_ROWS rows. */
typedef struct ws {
    double *Y;   /* L x (5 R x H): pre-activation slabs a, A_1..3, M of each layer */
    double *X;   /* L x (5 R x H): output slabs h, J_1..3, Lap of each layer */
    double *D;   /* L x (3 R x H): sigma', sigma'', sigma''' at a */
    double *bx;  /* 5 R x H: cotangents of a layer's outputs */
    double *by;  /* 5 R x H: cotangents of a layer's pre-activations */
    double *y0;  /* R x 3: standardised positions */
    double *out; /* R x 5: u, grad_y u (3), lap_y u of each row */
    double *cot; /* R x 5: cotangents of the same */
} ws;

struct pf_potnet {
    pf_potnet_config cfg;  /* zscale filled in (never 0) */
    double jz[3];          /* J_0's diagonal: dt/dy per axis (1, 1, scale / zscale) */
    int H, L;
    size_t np;
    double *p, *g;
    size_t *woff, *boff; /* L each: offsets of W_l, b_l */
    size_t wo, bo;       /* offsets of w_o, b_o */
    double *pkf, *pkb;   /* L panels each (layers 2..L used): W_l^T and W_l packed */
    size_t pksz;
    int nws;             /* workspaces made for this many threads */
    ws *w;
    double *wsmem;
    double *slots;       /* 2 MAXCHUNK x (np + 1): per-chunk gradient and loss */
};

const char *pf_potnet_activation_name(int activation)
{
    return activation == PF_POTNET_SILU ? "silu" : activation == PF_POTNET_TANH ? "tanh" : NULL;
}

/* sigma and its first three derivatives. SiLU uses the logistic s and 1 - s from one
 * exp(-|a|), so neither overflows nor cancels for large |a|. */
static inline void act(int kind, double a, double *f, double *d1, double *d2, double *d3)
{
    if (kind == PF_POTNET_TANH) {
        double t = tanh(a), u = 1.0 - t * t;
        *f = t;
        *d1 = u;
        *d2 = -2.0 * t * u;
        *d3 = -2.0 * u * (1.0 - 3.0 * t * t);
        return;
    }
    double e = exp(-fabs(a)), q = 1.0 / (1.0 + e);
    double s = a >= 0 ? q : e * q, sm = a >= 0 ? e * q : q; /* s = logistic(a), sm = 1 - s */
    double ss = s * sm;
    *f = a * s;
    *d1 = s * (1.0 + a * sm);
    *d2 = ss * (2.0 + a * (sm - s));
    *d3 = ss * (3.0 * (sm - s) + a * (1.0 - 6.0 * ss));
}

void pf_potnet_activation(int activation, double a, double out[4])
{
    act(activation, a, &out[0], &out[1], &out[2], &out[3]);
}

/* ---- allocation ------------------------------------------------------------------- */

void pf_potnet_free(pf_potnet *p)
{
    if (!p)
        return;
    free(p->p);
    free(p->g);
    free(p->woff);
    free(p->boff);
    free(p->pkf);
    free(p->pkb);
    free(p->w);
    free(p->wsmem);
    free(p->slots);
    free(p);
}

static int check_config(const pf_potnet_config *c, pf_err *err)
{
    if (!c)
        return pf_err_set(err, PF_EINVAL, "potnet: no configuration");
    if (c->hidden < 1 || c->hidden > PF_POTNET_MAXWIDTH)
        return pf_err_set(err, PF_EINVAL, "potnet: hidden must be in 1..%d, got %d",
                          PF_POTNET_MAXWIDTH, c->hidden);
    if (c->layers < 1 || c->layers > PF_POTNET_MAXLAYERS)
        return pf_err_set(err, PF_EINVAL, "potnet: layers must be in 1..%d, got %d",
                          PF_POTNET_MAXLAYERS, c->layers);
    if (!pf_potnet_activation_name(c->activation))
        return pf_err_set(err, PF_EINVAL, "potnet: unknown activation code %d", c->activation);
    for (int k = 0; k < 3; k++)
        if (!isfinite(c->centre[k]))
            return pf_err_set(err, PF_EINVAL, "potnet: centre[%d] is not finite", k + 1);
    if (!(c->scale > 0 && isfinite(c->scale)))
        return pf_err_set(err, PF_EINVAL, "potnet: scale must be positive and finite, got %g",
                          c->scale);
    if (!(c->zscale == 0 || (c->zscale > 0 && isfinite(c->zscale))))
        return pf_err_set(err, PF_EINVAL, "potnet: zscale must be positive and finite (or 0), "
                          "got %g", c->zscale);
    if (!(c->phi_scale > 0 && isfinite(c->phi_scale)))
        return pf_err_set(err, PF_EINVAL, "potnet: phi_scale must be positive and finite, got %g",
                          c->phi_scale);
    return PF_OK;
}

pf_potnet *pf_potnet_alloc(const pf_potnet_config *cfg, pf_err *err)
{
    if (check_config(cfg, err) != PF_OK)
        return NULL;
    pf_potnet *p = calloc(1, sizeof *p);
    if (!p) {
        pf_err_set(err, PF_ENOMEM, "potnet: out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    if (p->cfg.zscale == 0)
        p->cfg.zscale = cfg->scale;
    /* dt/dy per axis (t = x / scale): 1 in the plane, and exactly 1 (x / x) for zscale = scale */
    p->jz[0] = p->jz[1] = 1.0;
    p->jz[2] = p->cfg.scale / p->cfg.zscale;
    int H = p->H = cfg->hidden, L = p->L = cfg->layers;
    p->woff = malloc((size_t)L * sizeof(size_t));
    p->boff = malloc((size_t)L * sizeof(size_t));
    size_t off = 0;
    for (int l = 0; l < L && p->woff && p->boff; l++) {
        size_t in = l == 0 ? 3 : (size_t)H;
        p->woff[l] = off;
        off += (size_t)H * in;
        p->boff[l] = off;
        off += (size_t)H;
    }
    p->wo = off;
    off += (size_t)H;
    p->bo = off;
    off += 1;
    p->np = off;
    p->pksz = pf_panel_size(H, H);
    p->p = malloc(p->np * sizeof(double));
    p->g = calloc(p->np, sizeof(double));
    p->pkf = malloc((size_t)L * p->pksz * sizeof(double));
    p->pkb = malloc((size_t)L * p->pksz * sizeof(double));
    gsl_rng *r = pf_rng_alloc(cfg->seed);
    if (!p->woff || !p->boff || !p->p || !p->g || !p->pkf || !p->pkb || !r) {
        if (r)
            gsl_rng_free(r);
        pf_potnet_free(p);
        pf_err_set(err, PF_ENOMEM, "potnet: out of memory");
        return NULL;
    }
    /* PyTorch's Linear: weights and biases of a layer U(-k, k), k = 1/sqrt(fan_in) */
    for (int l = 0; l <= L; l++) {
        size_t in = l == 0 ? 3 : (size_t)H, out = l == L ? 1 : (size_t)H;
        size_t w0 = l == L ? p->wo : p->woff[l], b0 = l == L ? p->bo : p->boff[l];
        double k = 1.0 / sqrt((double)in);
        for (size_t i = 0; i < out * in; i++)
            p->p[w0 + i] = k * (2.0 * pf_rng_uniform(r) - 1.0);
        for (size_t i = 0; i < out; i++)
            p->p[b0 + i] = k * (2.0 * pf_rng_uniform(r) - 1.0);
    }
    gsl_rng_free(r);
    return p;
}

void pf_potnet_get_config(const pf_potnet *p, pf_potnet_config *cfg) { *cfg = p->cfg; }
size_t pf_potnet_nparams(const pf_potnet *p) { return p->np; }
double *pf_potnet_params(pf_potnet *p) { return p->p; }
double *pf_potnet_grad(pf_potnet *p) { return p->g; }

/* Workspaces for the current OpenMP thread count (re-made when it changes). */
static int ensure_ws(pf_potnet *p, pf_err *err)
{
    int nt = omp_get_max_threads();
    if (nt < 1)
        nt = 1;
    if (p->w && p->nws == nt)
        return PF_OK;
    free(p->w);
    free(p->wsmem);
    p->nws = 0;
    size_t R = R_ROWS, H = (size_t)p->H, L = (size_t)p->L;
    size_t per = L * 13 * R * H + 10 * R * H + 13 * R;
    per = (per + 7) & ~(size_t)7;
    p->w = calloc((size_t)nt, sizeof(ws));
    p->wsmem = malloc(per * (size_t)nt * sizeof(double));
    if (!p->w || !p->wsmem) {
        free(p->w);
        free(p->wsmem);
        p->w = NULL;
        p->wsmem = NULL;
        return pf_err_set(err, PF_ENOMEM, "potnet: out of memory for workspaces");
    }
    for (int i = 0; i < nt; i++) {
        double *m = p->wsmem + per * (size_t)i;
        ws *w = &p->w[i];
#define TAKE(field, cnt) do { w->field = m; m += (cnt); } while (0)
        TAKE(Y, L * 5 * R * H);
        TAKE(X, L * 5 * R * H);
        TAKE(D, L * 3 * R * H);
        TAKE(bx, 5 * R * H);
        TAKE(by, 5 * R * H);
        TAKE(y0, 3 * R);
        TAKE(out, 5 * R);
        TAKE(cot, 5 * R);
#undef TAKE
    }
    p->nws = nt;
    return PF_OK;
}

/* Pack W_l^T (forward: K = in, N = out) and W_l (reverse: K = out, N = in) of the hidden
 * layers 2..L; done per call because the parameters may change between calls. */
static void pack(pf_potnet *p)
{
    int H = p->H;
    for (int l = 1; l < p->L; l++) {
        const double *W = p->p + p->woff[l];
        pf_panel_pack(H, H, W, 1, (size_t)H, p->pkf + (size_t)l * p->pksz);
        pf_panel_pack(H, H, W, (size_t)H, 1, p->pkb + (size_t)l * p->pksz);
    }
}

/* ---- one block ------------------------------------------------------------------------ */

/* Forward pass over nb rows of x carrying ns slabs (1: h; 4: h, J; 5: h, J, Lap). Leaves
 * every layer's slabs and derivatives in w, and u, grad_y u, lap_y u per row in w->out
 * (row i at 5 i). Every sum runs in a fixed order per row: a row's values do not depend
 * on nb or on the block. */
static void forward(const pf_potnet *p, ws *w, size_t nb, const double *x, int ns)
{
    const size_t H = (size_t)p->H, RH = 5 * R_ROWS * H, DH = 3 * R_ROWS * H, nH = nb * H;
    const int kind = p->cfg.activation;
    const double *c = p->cfg.centre, *jz = p->jz;
    const double inv[3] = {1.0 / p->cfg.scale, 1.0 / p->cfg.scale, 1.0 / p->cfg.zscale};
    for (size_t i = 0; i < nb; i++)
        for (int k = 0; k < 3; k++)
            w->y0[3 * i + (size_t)k] = (x[3 * i + (size_t)k] - c[k]) * inv[k];
    for (int l = 0; l < p->L; l++) {
        double *Y = w->Y + (size_t)l * RH, *X = w->X + (size_t)l * RH;
        double *D = w->D + (size_t)l * DH;
        const double *W = p->p + p->woff[l], *b = p->p + p->boff[l];
        if (l == 0) {
            /* y is 3 wide, J_0 = diag(jz), Lap_0 = 0: written out, no product needed */
            for (size_t i = 0; i < nb; i++) {
                const double *yi = w->y0 + 3 * i;
                for (size_t j = 0; j < H; j++) {
                    const double *wj = W + 3 * j;
                    Y[i * H + j] = b[j] + wj[0] * yi[0] + wj[1] * yi[1] + wj[2] * yi[2];
                    if (ns >= 4)
                        for (int k = 0; k < 3; k++)
                            Y[(size_t)(k + 1) * nH + i * H + j] = wj[k] * jz[k];
                    if (ns == 5)
                        Y[4 * nH + i * H + j] = 0.0;
                }
            }
        } else {
            const double *Xp = w->X + (size_t)(l - 1) * RH;
            const double *pf = p->pkf + (size_t)l * p->pksz;
            pf_panel_gemm(0, nb, (int)H, (int)H, Xp, H, pf, Y, H, NULL, 0, b);
            if (ns > 1)
                pf_panel_gemm(0, (size_t)(ns - 1) * nb, (int)H, (int)H, Xp + nH, H, pf, Y + nH, H,
                              NULL, 0, NULL);
        }
        for (size_t e = 0; e < nH; e++) {
            double f, d1, d2, d3;
            act(kind, Y[e], &f, &d1, &d2, &d3);
            X[e] = f;
            D[e] = d1;
            D[nH + e] = d2;
            D[2 * nH + e] = d3;
            if (ns >= 4) {
                double A0 = Y[nH + e], A1 = Y[2 * nH + e], A2 = Y[3 * nH + e];
                X[nH + e] = d1 * A0;
                X[2 * nH + e] = d1 * A1;
                X[3 * nH + e] = d1 * A2;
                if (ns == 5)
                    X[4 * nH + e] = d2 * (A0 * A0 + A1 * A1 + A2 * A2) + d1 * Y[4 * nH + e];
            }
        }
    }
    const double *X = w->X + (size_t)(p->L - 1) * RH, *wo = p->p + p->wo;
    for (size_t i = 0; i < nb; i++) {
        double o[5] = {p->p[p->bo], 0, 0, 0, 0};
        for (size_t j = 0; j < H; j++) {
            o[0] += wo[j] * X[i * H + j];
            for (int q = 1; q < ns; q++)
                o[q] += wo[j] * X[(size_t)q * nH + i * H + j];
        }
        memcpy(w->out + 5 * i, o, sizeof o);
    }
}

/* Reverse sweep after forward() with ns = 4 or 5: the cotangents of u, grad_y u and
 * lap_y u per row (w->cot, row i at 5 i) -> their parameter gradient added to G (np). */
static void backward(const pf_potnet *p, ws *w, size_t nb, int ns, double *G)
{
    const size_t H = (size_t)p->H, RH = 5 * R_ROWS * H, DH = 3 * R_ROWS * H, nH = nb * H;
    const double *wo = p->p + p->wo, *cot = w->cot;
    /* output layer u = w_o . h_L + b_o and its forward-mode companions */
    {
        const double *X = w->X + (size_t)(p->L - 1) * RH;
        double *gwo = G + p->wo;
        for (size_t i = 0; i < nb; i++) {
            const double *ci = cot + 5 * i;
            G[p->bo] += ci[0];
            for (size_t j = 0; j < H; j++) {
                double s = ci[0] * X[i * H + j];
                for (int q = 1; q < ns; q++)
                    s += ci[q] * X[(size_t)q * nH + i * H + j];
                gwo[j] += s;
                for (int q = 0; q < ns; q++)
                    w->bx[(size_t)q * nH + i * H + j] = ci[q] * wo[j];
            }
        }
    }
    for (int l = p->L - 1; l >= 0; l--) {
        const double *Y = w->Y + (size_t)l * RH, *D = w->D + (size_t)l * DH;
        const double *bx = w->bx;
        double *by = w->by;
        for (size_t e = 0; e < nH; e++) {
            double s1 = D[e], s2 = D[nH + e], s3 = D[2 * nH + e];
            double A0 = Y[nH + e], A1 = Y[2 * nH + e], A2 = Y[3 * nH + e];
            double J0 = bx[nH + e], J1 = bx[2 * nH + e], J2 = bx[3 * nH + e];
            double ab = bx[e] * s1 + s2 * (J0 * A0 + J1 * A1 + J2 * A2);
            double Ab0 = s1 * J0, Ab1 = s1 * J1, Ab2 = s1 * J2;
            if (ns == 5) {
                double Lb = bx[4 * nH + e], S = A0 * A0 + A1 * A1 + A2 * A2;
                double t = 2.0 * Lb * s2;
                ab += Lb * (s3 * S + s2 * Y[4 * nH + e]);
                Ab0 += t * A0;
                Ab1 += t * A1;
                Ab2 += t * A2;
                by[4 * nH + e] = Lb * s1;
            }
            by[e] = ab;
            by[nH + e] = Ab0;
            by[2 * nH + e] = Ab1;
            by[3 * nH + e] = Ab2;
        }
        double *gW = G + p->woff[l], *gb = G + p->boff[l];
        for (size_t i = 0; i < nb; i++)
            for (size_t j = 0; j < H; j++)
                gb[j] += by[i * H + j];
        if (l == 0) {
            /* inputs [y; diag(jz); 0]: Wb[:, k] += sum_i ab_i y_ik + jz_k sum_i Ab_k,i */
            const double *jz = p->jz;
            for (size_t i = 0; i < nb; i++) {
                const double *yi = w->y0 + 3 * i;
                for (size_t j = 0; j < H; j++) {
                    double *gj = gW + 3 * j;
                    double ab = by[i * H + j];
                    for (int k = 0; k < 3; k++)
                        gj[k] += ab * yi[k] + by[(size_t)(k + 1) * nH + i * H + j] * jz[k];
                }
            }
        } else {
            const double *Xp = w->X + (size_t)(l - 1) * RH;
            pf_panel_gemm_tn(0, (size_t)ns * nb, (int)H, (int)H, by, H, Xp, H, gW, H);
            pf_panel_gemm(0, (size_t)ns * nb, (int)H, (int)H, by, H,
                          p->pkb + (size_t)l * p->pksz, w->bx, H, NULL, 0, NULL);
        }
    }
}

/* ---- batches ---------------------------------------------------------------------------- */

int pf_potnet_eval(pf_potnet *p, size_t n, const double *x, double *phi, double *grad,
                   double *lap, pf_err *err)
{
    if (n == 0)
        return PF_OK;
    if (!x)
        return pf_err_set(err, PF_EINVAL, "potnet: eval without positions");
    int st = ensure_ws(p, err);
    if (st != PF_OK)
        return st;
    pack(p);
    const int ns = lap ? 5 : grad ? 4 : 1;
    const double P = p->cfg.phi_scale, s = p->cfg.scale;
    const double gs = P / s, ls = P / (s * s);
    const long nblk = (long)((n + R_ROWS - 1) / R_ROWS);
#pragma omp parallel for schedule(static) if (nblk > 1)
    for (long b = 0; b < nblk; b++) {
        ws *w = &p->w[omp_get_thread_num()];
        size_t r0 = (size_t)b * R_ROWS, nb = n - r0 < R_ROWS ? n - r0 : R_ROWS;
        forward(p, w, nb, x + 3 * r0, ns);
        for (size_t i = 0; i < nb; i++) {
            const double *o = w->out + 5 * i;
            if (phi)
                phi[r0 + i] = P * o[0];
            if (grad)
                for (int k = 0; k < 3; k++)
                    grad[3 * (r0 + i) + (size_t)k] = gs * o[1 + k];
            if (lap)
                lap[r0 + i] = ls * o[4];
        }
    }
    return PF_OK;
}

/* Chunks of a row set: as many as blocks, at most MAXCHUNK, so they depend on the
 * number of rows alone (never on the thread count). */
static size_t loss_chunks(size_t n)
{
    size_t c = (n + R_ROWS - 1) / R_ROWS;
    return c > MAXCHUNK ? MAXCHUNK : c;
}

static inline double softplus(double t)
{
    return t > 0 ? t + log1p(exp(-t)) : log1p(exp(t));
}

/* One chunk of the residual term: rows [r0, r1) of the samples -> loss sum and the
 * parameter gradient into slot G. */
static void chunk_residual(const pf_potnet *p, ws *w, const pf_potnet_data *d, size_t r0,
                           size_t r1, double *G, double *loss)
{
    const double P = p->cfg.phi_scale, gs = P / p->cfg.scale, inv_n = 1.0 / (double)d->n;
    double sum = 0;
    for (size_t a = r0; a < r1; a += R_ROWS) {
        size_t nb = r1 - a < R_ROWS ? r1 - a : R_ROWS;
        forward(p, w, nb, d->x + 3 * a, 4);
        for (size_t i = 0; i < nb; i++) {
            size_t r = a + i;
            const double *o = w->out + 5 * i, *v = d->v + 3 * r, *gx = d->gx + 3 * r;
            const double *gv = d->gv + 3 * r;
            double g[3];
            for (int k = 0; k < 3; k++)
                g[k] = gs * o[1 + k] + (d->gphi_ext ? d->gphi_ext[3 * r + (size_t)k] : 0.0);
            double R = -(v[0] * gx[0] + v[1] * gx[1] + v[2] * gx[2]) +
                       (g[0] * gv[0] + g[1] * gv[1] + g[2] * gv[2]);
            double wi = d->w ? d->w[r] : 1.0;
            sum += wi * R * R;
            double c = 2.0 * wi * R * inv_n * gs; /* d loss / d (grad_y u) per gv */
            double *ci = w->cot + 5 * i;
            ci[0] = 0;
            ci[1] = c * gv[0];
            ci[2] = c * gv[1];
            ci[3] = c * gv[2];
            ci[4] = 0;
        }
        backward(p, w, nb, 4, G);
    }
    *loss = sum * inv_n;
}

/* One chunk of the penalty term: rows [r0, r1) of y. */
static void chunk_penalty(const pf_potnet *p, ws *w, const pf_potnet_data *d, size_t r0,
                          size_t r1, double *G, double *loss)
{
    const double s = p->cfg.scale, ls = p->cfg.phi_scale / (s * s);
    const double lm = d->lambda / (double)d->m, tau = d->tau;
    double sum = 0;
    for (size_t a = r0; a < r1; a += R_ROWS) {
        size_t nb = r1 - a < R_ROWS ? r1 - a : R_ROWS;
        forward(p, w, nb, d->y + 3 * a, 5);
        for (size_t i = 0; i < nb; i++) {
            size_t r = a + i;
            double lap = ls * w->out[5 * i + 4] + (d->lap_ext ? d->lap_ext[r] : 0.0);
            double t = -lap / tau;
            sum += tau * softplus(t);
            /* d/d lap of tau softplus(-lap/tau) = -logistic(t) */
            double sig = t >= 0 ? 1.0 / (1.0 + exp(-t)) : exp(t) / (1.0 + exp(t));
            double *ci = w->cot + 5 * i;
            ci[0] = ci[1] = ci[2] = ci[3] = 0;
            ci[4] = -lm * sig * ls;
        }
        backward(p, w, nb, 5, G);
    }
    *loss = lm * sum;
}

int pf_potnet_loss_grad(pf_potnet *p, const pf_potnet_data *d, double *loss, double parts[2],
                        pf_err *err)
{
    if (!d || (d->n == 0 && d->m == 0))
        return pf_err_set(err, PF_EINVAL, "potnet: loss of no samples and no points");
    if (d->n > 0 && (!d->x || !d->v || !d->gx || !d->gv))
        return pf_err_set(err, PF_EINVAL, "potnet: samples need x, v, gx and gv");
    if (d->m > 0 && !d->y)
        return pf_err_set(err, PF_EINVAL, "potnet: penalty points missing");
    if (!(d->lambda >= 0 && isfinite(d->lambda)))
        return pf_err_set(err, PF_EINVAL, "potnet: lambda must be >= 0 and finite, got %g",
                          d->lambda);
    if (d->m > 0 && !(d->tau > 0 && isfinite(d->tau)))
        return pf_err_set(err, PF_EINVAL, "potnet: tau must be > 0 and finite, got %g", d->tau);
    int st = ensure_ws(p, err);
    if (st != PF_OK)
        return st;
    const size_t np = p->np, stride = np + 1;
    if (!p->slots) {
        p->slots = malloc(2 * MAXCHUNK * stride * sizeof(double));
        if (!p->slots)
            return pf_err_set(err, PF_ENOMEM, "potnet: out of memory for gradient slots");
    }
    pack(p);
    const size_t cn = d->n ? loss_chunks(d->n) : 0, cm = d->m ? loss_chunks(d->m) : 0;
    const long nc = (long)(cn + cm);
#pragma omp parallel for schedule(dynamic, 1) if (nc > 1)
    for (long c = 0; c < nc; c++) {
        ws *w = &p->w[omp_get_thread_num()];
        double *G = p->slots + (size_t)c * stride;
        memset(G, 0, stride * sizeof(double));
        if ((size_t)c < cn) {
            size_t k = (size_t)c;
            chunk_residual(p, w, d, d->n * k / cn, d->n * (k + 1) / cn, G, G + np);
        } else {
            size_t k = (size_t)c - cn;
            chunk_penalty(p, w, d, d->m * k / cm, d->m * (k + 1) / cm, G, G + np);
        }
    }
    /* the slots in chunk order: the same sums for any thread count */
    double part[2] = {0, 0};
    memset(p->g, 0, np * sizeof(double));
    for (size_t c = 0; c < (size_t)nc; c++) {
        const double *G = p->slots + c * stride;
        for (size_t i = 0; i < np; i++)
            p->g[i] += G[i];
        part[c < cn ? 0 : 1] += G[np];
    }
    *loss = part[0] + part[1];
    if (parts) {
        parts[0] = part[0];
        parts[1] = part[1];
    }
    return PF_OK;
}

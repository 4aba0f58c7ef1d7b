/*
 * maf_layout.c -- the degree-sorted internal layout of a flow's parameters and the masked
 * weights, transposed small-K weights and packed panels rebuilt from them (see struct
 * pf_maf in maf_internal.h).
 */
#include <stdlib.h>
#include <string.h>
#include "phaseflow/panel.h"
#include "maf_internal.h"

/* The degree-sorted internal order (see struct pf_maf): permutation, groups, prefix
 * counts, the index map pidx and the transposed small-K weights' buffer. */
int maf_sort_units(pf_maf *f)
{
    const int D = f->D, C = f->C, H = f->H, B = f->B;
    int *perm = malloc((size_t)H * sizeof(int));
    f->hs = malloc((size_t)H * sizeof(int));
    f->gbeg = malloc((size_t)H * sizeof(int));
    f->gend = malloc((size_t)H * sizeof(int));
    f->upto = malloc((size_t)D * sizeof(int));
    f->pidx = malloc(f->np * sizeof(size_t));
    f->mtper = (size_t)H * (size_t)(D + C * (B + 1));
    f->mt = malloc(f->mtper * (size_t)f->T * sizeof(double));
    if (!perm || !f->hs || !f->gbeg || !f->gend || !f->upto || !f->pidx || !f->mt) {
        free(perm);
        return PF_ENOMEM;
    }
    int m = 0;
    for (int d = 0; d < D; d++)
        for (int k = 0; k < H; k++)
            if (f->hd[k] == d)
                perm[m++] = k;
    f->ng = 0;
    for (int k = 0; k < H; k++) {
        f->hs[k] = f->hd[perm[k]];
        if (k == 0 || f->hs[k] != f->hs[k - 1]) {
            f->gbeg[f->ng] = k;
            f->ng++;
        }
        f->gend[f->ng - 1] = k + 1;
    }
    for (int d = 0; d < D; d++) {
        int c = 0;
        for (int k = 0; k < H; k++)
            c += f->hs[k] <= d;
        f->upto[d] = c;
    }
    const size_t h = (size_t)H, dd = (size_t)D, cc = (size_t)C;
    for (int t = 0; t < f->T; t++) {
        size_t base = (size_t)t * f->per, *q = f->pidx + base;
        for (size_t k = 0; k < h; k++) {
            size_t pk = (size_t)perm[k];
            for (size_t j = 0; j < dd; j++)
                q[f->W0 + k * dd + j] = base + f->W0 + pk * dd + j;
            q[f->b0 + k] = base + f->b0 + pk;
            for (size_t j = 0; j < cc; j++)
                q[f->Wc0 + k * cc + j] = base + f->Wc0 + pk * cc + j;
            for (int b = 0; b < B; b++) {
                size_t o = f->blk + (size_t)b * f->blksz;
                for (size_t j = 0; j < h; j++) {
                    size_t pj = (size_t)perm[j];
                    q[o + OW1(f) + k * h + j] = base + o + OW1(f) + pk * h + pj;
                    q[o + OW2(f) + k * h + j] = base + o + OW2(f) + pk * h + pj;
                }
                q[o + OB1(f) + k] = base + o + OB1(f) + pk;
                q[o + OB2(f) + k] = base + o + OB2(f) + pk;
                for (size_t j = 0; j < cc; j++)
                    q[o + OWC(f) + k * cc + j] = base + o + OWC(f) + pk * cc + j;
            }
            for (size_t o = 0; o < (size_t)f->NO; o++)
                q[f->Wo + o * h + k] = base + f->Wo + o * h + pk;
        }
        for (size_t o = 0; o < (size_t)f->NO; o++)
            q[f->bo + o] = base + f->bo + o;
    }
    free(perm);
    f->psnap = malloc(f->np * sizeof(double));
    if (!f->psnap)
        return PF_ENOMEM;
    /* panel offsets (see struct pf_maf) */
    size_t nslot = (size_t)f->T * (size_t)B * 4 * (size_t)f->ng, tot = 0;
    /* PHASEFLOW_MAF_GEMM=blas keeps OpenBLAS for the hidden layers (for comparison) */
    const char *gm = getenv("PHASEFLOW_MAF_GEMM");
    f->panels = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                !(gm && strcmp(gm, "blas") == 0);
    if (f->panels && nslot > 0) {
        f->pko = malloc(nslot * sizeof(size_t));
        if (!f->pko)
            return PF_ENOMEM;
        for (size_t i = 0; i < nslot; i++) {
            int g = (int)(i % (size_t)f->ng), dir = (int)(i / (size_t)f->ng % 2);
            int s = f->gbeg[g], e = f->gend[g];
            f->pko[i] = tot;
            tot += pf_panel_size(dir ? H - s : e, e - s);
        }
        f->pk = malloc((tot + 1) * sizeof(double));
        if (!f->pk)
            return PF_ENOMEM;
    } else {
        f->panels = 0;
    }
    return PF_OK;
}

/* Rebuild the masked sorted parameters mp, the transposed small-K weights mt, and the
 * forward (and, when bwd, backward) panels from the parameter vector. */
void maf_sync_masked(pf_maf *f, int bwd)
{
    const size_t D = (size_t)f->D, C = (size_t)f->C, H = (size_t)f->H;
    int same = f->synced && memcmp(f->psnap, f->p, f->np * sizeof(double)) == 0;
    if (same && (!bwd || f->synced_bwd))
        return;
    int dir0 = same ? 1 : 0; /* unchanged: only the backward panels are missing */
    if (!same) {
        for (size_t i = 0; i < f->np; i++)
            f->mp[i] = f->p[f->pidx[i]] * f->mask[f->pidx[i]];
        memcpy(f->psnap, f->p, f->np * sizeof(double));
        f->synced = 1;
    }
    f->synced_bwd = bwd;
    for (int t = 0; f->panels && t < f->T; t++)
        for (int b = 0; b < f->B; b++)
            for (int layer = 0; layer < 2; layer++) {
                const double *Wl = f->mp + (size_t)t * f->per + f->blk + (size_t)b * f->blksz +
                                   (layer ? OW2(f) : OW1(f));
                for (int dir = dir0; dir <= bwd; dir++)
                    for (int g = 0; g < f->ng; g++) {
                        size_t s = (size_t)f->gbeg[g];
                        int e = f->gend[g], w = e - (int)s;
                        double *P = (double *)panel(f, t, b, layer, dir, g);
                        if (dir == 0) /* B[k, j] = W[s + j, k], k < e */
                            pf_panel_pack(e, w, Wl + s * H, 1, H, P);
                        else /* B[k, j] = W[s + k, s + j], k < H - s */
                            pf_panel_pack((int)(H - s), w, Wl + s * H + s, H, 1, P);
                    }
            }
    if (same)
        return;
    for (int t = 0; t < f->T; t++) {
        const double *P = f->mp + (size_t)t * f->per;
        double *M = f->mt + (size_t)t * f->mtper;
        for (size_t k = 0; k < H; k++) {
            for (size_t j = 0; j < D; j++)
                M[j * H + k] = P[f->W0 + k * D + j];
            for (size_t j = 0; j < C; j++)
                M[(D + j) * H + k] = P[f->Wc0 + k * C + j];
            for (int b = 0; b < f->B; b++) {
                const double *Pb = P + f->blk + (size_t)b * f->blksz;
                double *Mb = M + D * H + (size_t)(b + 1) * C * H;
                for (size_t j = 0; j < C; j++)
                    Mb[j * H + k] = Pb[OWC(f) + k * C + j];
            }
        }
    }
}

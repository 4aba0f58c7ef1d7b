/*
 * gaia_columns.c -- the columns: archive names, aliases, chunks and name resolution.
 */
#include <stdlib.h>
#include <string.h>
#include "gaia_internal.h"

/* ---- names ------------------------------------------------------------------- */

static const char *const int64_names[] = {"source_id", "solution_id", "random_index", NULL};

/* requested name -> the name an older release uses for it */
static const char *const alias_map[][2] = {
    {"radial_velocity", "dr2_radial_velocity"},
    {"radial_velocity_error", "dr2_radial_velocity_error"},
    {NULL, NULL}};

static int is_int64_name(const char *s)
{
    for (int i = 0; int64_names[i]; i++)
        if (strcmp(s, int64_names[i]) == 0)
            return 1;
    return 0;
}

char *pf_gaia_dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- chunks ------------------------------------------------------------------ */

int pf_gaia_opts_ok(const pf_gaia_opts *o)
{
    if (!o || !o->columns || o->ncol == 0 || o->ncol > PF_GAIA_MAXCOL)
        return 0;
    for (size_t j = 0; j < o->ncol; j++)
        if (!o->columns[j] || !o->columns[j][0])
            return 0;
    return 1;
}

pf_gaia_chunk *pf_gaia_chunk_alloc(const pf_gaia_opts *o)
{
    if (!pf_gaia_opts_ok(o))
        return NULL;
    size_t cap = o->chunk ? o->chunk : PF_GAIA_DEFAULT_CHUNK;
    size_t nall = o->ncol + NHIDDEN;
    pf_gaia_chunk *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cap = cap;
    c->ncol = o->ncol;
    c->names = calloc(o->ncol, sizeof *c->names);
    c->val = calloc(nall, sizeof *c->val);
    c->ival = calloc(nall, sizeof *c->ival);
    c->miss = calloc(nall, sizeof *c->miss);
    c->nmiss = calloc(nall, sizeof *c->nmiss);
    if (!c->names || !c->val || !c->ival || !c->miss || !c->nmiss)
        goto fail;
    for (size_t j = 0; j < nall; j++) {
        if (j < o->ncol) {
            if (!(c->names[j] = pf_gaia_dupstr(o->columns[j])))
                goto fail;
            if (is_int64_name(o->columns[j]) && !(c->ival[j] = malloc(cap * sizeof(int64_t))))
                goto fail;
        }
        c->val[j] = malloc(cap * sizeof(double));
        c->miss[j] = malloc(cap);
        if (!c->val[j] || !c->miss[j])
            goto fail;
    }
    return c;
fail:
    pf_gaia_chunk_free(c);
    return NULL;
}

void pf_gaia_chunk_free(pf_gaia_chunk *c)
{
    if (!c)
        return;
    size_t nall = c->ncol + NHIDDEN;
    for (size_t j = 0; j < nall; j++) {
        if (c->names && j < c->ncol)
            free(c->names[j]);
        if (c->val)
            free(c->val[j]);
        if (c->ival)
            free(c->ival[j]);
        if (c->miss)
            free(c->miss[j]);
    }
    free(c->names);
    free(c->val);
    free(c->ival);
    free(c->miss);
    free(c->nmiss);
    free(c);
}

/* ---- name resolution ------------------------------------------------------------ */

const char *pf_gaia_column_name(const pf_gaia_reader *r, size_t j)
{
    return j < r->ncol ? r->names[j] : j == r->ncol ? "phot_bp_mean_mag" : "phot_rp_mean_mag";
}

/* Steps 1-5 of the resolution in phaseflow/gaia.h, column by column. */
int pf_gaia_resolve(pf_gaia_reader *r, pf_gaia_find_fn find, pf_gaia_bind_fn bind, void *ctx,
                    pf_err *err)
{
    char absent[400]; /* every missing required column, named in one message */
    size_t nabsent = 0, len = 0;
    absent[0] = '\0';
    for (size_t j = 0; j < r->ncol; j++) {
        const char *name = r->names[j];
        const char *used = NULL;
        long h = find(r, name, ctx);
        if (h >= 0)
            used = name;
        for (int a = 0; h < 0 && alias_map[a][0]; a++)
            if (strcmp(name, alias_map[a][0]) == 0 && (h = find(r, alias_map[a][1], ctx)) >= 0)
                used = alias_map[a][1];
        if (h >= 0) {
            bind(r, j, h);
            r->res[j] = RES_COLUMN;
            if (!(r->source[j] = pf_gaia_dupstr(used)))
                return pf_gaia_fail(r, err, PF_ENOMEM, "%s: out of memory", r->path);
            continue;
        }
        if (strcmp(name, "bp_rp") == 0) {
            long hb = find(r, "phot_bp_mean_mag", ctx), hr = find(r, "phot_rp_mean_mag", ctx);
            if (hb >= 0 && hr >= 0) {
                bind(r, r->ncol, hb);
                bind(r, r->ncol + 1, hr);
                r->hidden_used = 1;
                r->res[j] = RES_DERIVED_BPRP;
                if (!(r->source[j] = pf_gaia_dupstr("phot_bp_mean_mag - phot_rp_mean_mag")))
                    return pf_gaia_fail(r, err, PF_ENOMEM, "%s: out of memory", r->path);
                continue;
            }
        }
        if (r->optional[j]) {
            r->res[j] = RES_ABSENT;
            continue;
        }
        if (len < sizeof absent) {
            int w = snprintf(absent + len, sizeof absent - len, "%s'%s'", nabsent ? ", " : "",
                             name);
            len = w < 0 || (size_t)w >= sizeof absent - len ? sizeof absent : len + (size_t)w;
        }
        nabsent++;
    }
    if (nabsent == 1)
        return pf_gaia_fail(r, err, PF_ENOTFOUND, "%s: required column %s not found in the file",
                            r->path, absent);
    if (nabsent > 1)
        return pf_gaia_fail(r, err, PF_ENOTFOUND, "%s: %zu required columns not found in the "
                            "file: %s%s", r->path, nabsent, absent,
                            len >= sizeof absent ? "..." : "");
    return PF_OK;
}

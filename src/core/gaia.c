/*
 * gaia.c -- Gaia archive tables (CSV, ECSV, gzip, FITS) read in chunks of rows.
 *
 * Text inputs go through zlib's gzread, which passes plain files through unchanged,
 * so one code path serves .csv and .csv.gz; the inflating runs in a thread of its own
 * (gaia_inflate.c) while the caller's thread parses (gaia_text.c), and after a full
 * chunk the next one is parsed ahead in another thread. FITS goes through CFITSIO
 * column reads (gaia_fits.c). This file holds the reader's life and the cuts on a
 * chunk; gaia_internal.h lists the others.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gaia_internal.h"

/* ---- the reader ------------------------------------------------------------------ */

int pf_gaia_fail(pf_gaia_reader *r, pf_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err.msg, sizeof r->err.msg, fmt, ap);
    va_end(ap);
    r->err.code = code;
    r->status = code;
    if (err)
        *err = r->err;
    return code;
}

void pf_gaia_reader_free(pf_gaia_reader *r)
{
    if (!r)
        return;
    if (r->pending)
        pthread_join(r->ahead, NULL);
    pf_gaia_chunk_free(r->spare);
    pf_gaia_ring_free(r->ring);
    if (r->gz)
        gzclose(r->gz);
    if (r->fp) {
        int st = 0;
        fits_close_file(r->fp, &st);
    }
    for (size_t j = 0; j < r->ncol; j++) {
        if (r->names)
            free(r->names[j]);
        if (r->source)
            free(r->source[j]);
    }
    free(r->names);
    free(r->source);
    free(r->optional);
    free(r->res);
    free(r->path);
    free(r->buf);
    free(r->map);
    for (size_t k = 0; r->fields && k < r->nfields; k++)
        free(r->fields[k]);
    for (size_t k = 0; k < r->nunits; k++) {
        free(r->unit_col[k]);
        free(r->unit[k]);
    }
    free(r->fields);
    free(r->unit_col);
    free(r->unit);
    free(r->colnum);
    free(r->copy_from);
    free(r->mul);
    free(r->div);
    free(r);
}

const char *pf_gaia_reader_source(const pf_gaia_reader *r, size_t j)
{
    return r && j < r->ncol ? r->source[j] : NULL;
}

long long pf_gaia_reader_nrows(const pf_gaia_reader *r)
{
    return r && r->kind == SRC_FITS ? r->nrows : -1;
}

static pf_gaia_reader *reader_new(const char *path, const pf_gaia_opts *o)
{
    pf_gaia_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->ncol = o->ncol;
    r->path = pf_gaia_dupstr(path);
    r->names = calloc(o->ncol, sizeof *r->names);
    r->source = calloc(o->ncol, sizeof *r->source);
    r->optional = calloc(o->ncol, 1);
    r->res = calloc(o->ncol, sizeof *r->res);
    r->colnum = calloc(o->ncol + NHIDDEN, sizeof *r->colnum);
    r->copy_from = malloc((o->ncol + NHIDDEN) * sizeof *r->copy_from);
    r->mul = malloc((o->ncol + NHIDDEN) * sizeof *r->mul);
    r->div = malloc((o->ncol + NHIDDEN) * sizeof *r->div);
    r->delim = ',';
    r->item_indent = -1;
    if (!r->path || !r->names || !r->source || !r->optional || !r->res || !r->colnum ||
        !r->copy_from || !r->mul || !r->div) {
        pf_gaia_reader_free(r);
        return NULL;
    }
    for (size_t j = 0; j < o->ncol; j++) {
        if (!(r->names[j] = pf_gaia_dupstr(o->columns[j]))) {
            pf_gaia_reader_free(r);
            return NULL;
        }
        r->optional[j] = o->optional ? o->optional[j] : 0;
    }
    for (size_t j = 0; j < o->ncol + NHIDDEN; j++) {
        r->copy_from[j] = -1;
        r->mul[j] = r->div[j] = 1.0;
    }
    return r;
}

/* ---- opening and reading ------------------------------------------------------- */

int pf_gaia_reader_open(pf_gaia_reader **out, const char *path, const pf_gaia_opts *o,
                        pf_err *err)
{
    *out = NULL;
    if (!path || !pf_gaia_opts_ok(o))
        return pf_err_set(err, PF_EINVAL, "gaia reader: a path and 1..%d non-empty column "
                          "names are needed", PF_GAIA_MAXCOL);
    pf_gaia_reader *r = reader_new(path, o);
    if (!r)
        return pf_err_set(err, PF_ENOMEM, "%s: out of memory", path);
    /* sniff: FITS starts with "SIMPLE  =" (possibly inside gzip) */
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        pf_err_set(err, PF_EIO, "%s: cannot open (%s)", path, strerror(e));
        pf_gaia_reader_free(r);
        return PF_EIO;
    }
    fclose(f);
    r->gz = gzopen(path, "rb");
    if (!r->gz) {
        pf_err_set(err, PF_EIO, "%s: cannot open", path);
        pf_gaia_reader_free(r);
        return PF_EIO;
    }
    gzbuffer(r->gz, 1u << 18);
    char head[9];
    int nh = gzread(r->gz, head, sizeof head);
    int st;
    if (nh == (int)sizeof head && memcmp(head, "SIMPLE  =", 9) == 0) {
        gzclose(r->gz);
        r->gz = NULL;
        r->kind = SRC_FITS;
        st = pf_gaia_fits_open(r, err);
    } else {
        gzrewind(r->gz);
        r->kind = SRC_GZ;
        r->ring = pf_gaia_ring_start(r->gz); /* without a thread, fill() calls gzread itself */
        st = pf_gaia_text_open(r, err);
    }
    if (st) {
        pf_gaia_reader_free(r);
        return st;
    }
    *out = r;
    return PF_OK;
}

int pf_gaia_reader_open_mem(pf_gaia_reader **out, const char *buf, size_t len,
                            const char *name, const pf_gaia_opts *o, pf_err *err)
{
    *out = NULL;
    if (!pf_gaia_opts_ok(o) || (!buf && len))
        return pf_err_set(err, PF_EINVAL, "gaia reader: bad arguments");
    pf_gaia_reader *r = reader_new(name ? name : "(memory)", o);
    if (!r)
        return pf_err_set(err, PF_ENOMEM, "out of memory");
    r->kind = SRC_MEM;
    r->mem = buf;
    r->memlen = len;
    int st = pf_gaia_text_open(r, err);
    if (st) {
        pf_gaia_reader_free(r);
        return st;
    }
    *out = r;
    return PF_OK;
}

/* Read the next rows into `c` and finish them (aliases, absent and derived columns,
 * missing counts). Runs on the caller's thread or on the read-ahead thread, never on
 * both at once. */
static int fill_chunk(pf_gaia_reader *r, pf_gaia_chunk *c, pf_err *err)
{
    int st = r->kind == SRC_FITS ? pf_gaia_fits_next(r, c, err) : pf_gaia_text_next(r, c, err);
    if (st) {
        c->n = 0;
        return st;
    }
    size_t n = c->n;
    c->first_row = r->rows_done;
    r->rows_done += n;
    for (size_t j = 0; j < r->ncol + NHIDDEN; j++) { /* to Gaia's units (gaia_units.c) */
        if (r->copy_from[j] >= 0 || (r->mul[j] == 1.0 && r->div[j] == 1.0))
            continue;
        double m = r->mul[j], d = r->div[j];
        for (size_t i = 0; i < n; i++)
            c->val[j][i] = c->val[j][i] * m / d;
    }
    for (size_t j = 0; j < r->ncol + NHIDDEN; j++) {
        int src = r->copy_from[j];
        if (src < 0)
            continue;
        memcpy(c->val[j], c->val[src], n * sizeof(double));
        memcpy(c->miss[j], c->miss[src], n);
        if (c->ival[j])
            for (size_t i = 0; i < n; i++)
                c->ival[j][i] = c->ival[src] ? c->ival[src][i] : (int64_t)c->val[src][i];
    }
    for (size_t j = 0; j < r->ncol; j++) {
        if (r->res[j] == RES_ABSENT) {
            for (size_t i = 0; i < n; i++) {
                c->val[j][i] = NAN;
                c->miss[j][i] = 1;
                if (c->ival[j])
                    c->ival[j][i] = 0;
            }
        } else if (r->res[j] == RES_DERIVED_BPRP) {
            const double *b = c->val[r->ncol], *rr = c->val[r->ncol + 1];
            for (size_t i = 0; i < n; i++) {
                c->val[j][i] = b[i] - rr[i];
                c->miss[j][i] = isnan(c->val[j][i]) ? 1 : 0;
            }
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            k += c->miss[j][i];
        c->nmiss[j] = k;
    }
    return PF_OK;
}

static void *ahead_main(void *arg)
{
    pf_gaia_reader *r = arg;
    r->ahead_status = fill_chunk(r, r->spare, NULL);
    return NULL;
}

static void chunk_swap(pf_gaia_chunk *a, pf_gaia_chunk *b)
{
    pf_gaia_chunk t = *a;
    *a = *b;
    *b = t;
}

int pf_gaia_reader_next(pf_gaia_reader *r, pf_gaia_chunk *c, pf_err *err)
{
    if (!r || !c)
        return pf_err_set(err, PF_EINVAL, "gaia reader: NULL reader or chunk");
    if (r->pending) { /* wait for the read-ahead before touching the reader's state */
        pthread_join(r->ahead, NULL);
        r->pending = 0;
        if (r->ahead_status == PF_OK)
            r->spare_ready = 1;
        else if (!r->status)
            r->status = r->ahead_status;
    }
    if (r->status) {
        c->n = 0;
        if (err)
            *err = r->err;
        return r->status;
    }
    if (c->ncol != r->ncol)
        return pf_err_set(err, PF_EINVAL, "%s: chunk has %zu columns, reader %zu", r->path,
                          c->ncol, r->ncol);
    for (size_t j = 0; j < r->ncol; j++)
        if (strcmp(c->names[j], r->names[j]) != 0)
            return pf_err_set(err, PF_EINVAL, "%s: chunk column %zu is '%s', reader's '%s'",
                              r->path, j + 1, c->names[j], r->names[j]);
    if (r->spare_ready) { /* the rows parsed ahead: hand them over by swapping buffers */
        if (c->cap != r->spare->cap)
            return pf_err_set(err, PF_EINVAL, "%s: chunk of %zu rows, the reader reads "
                              "ahead in chunks of %zu", r->path, c->cap, r->spare->cap);
        chunk_swap(c, r->spare);
        r->spare_ready = 0;
    } else {
        int st = fill_chunk(r, c, err);
        if (st)
            return st;
    }
    /* Text from a file: parse the next chunk while the caller works on this one. A
     * short chunk means the end of the input. */
    if (r->kind == SRC_GZ && c->n == c->cap) {
        if (!r->spare) {
            pf_gaia_opts o = {(const char *const *)c->names, c->ncol, NULL, c->cap};
            r->spare = pf_gaia_chunk_alloc(&o);
        }
        if (r->spare && pthread_create(&r->ahead, NULL, ahead_main, r) == 0)
            r->pending = 1;
    }
    return PF_OK;
}

/* ---- cuts on a chunk ------------------------------------------------------------- */

/* The value a clause compares for row i: the element, or the row's length. */
static double clause_value(const pf_gaia_clause *c, size_t i)
{
    const double *x = c->x + i * c->k;
    double s = 0.0;
    for (size_t j = 0; j < c->k; j++)
        s += x[j] * x[j];
    return sqrt(s);
}

/* Clause by clause over the whole chunk: each loop is one comparison on one column,
 * branch-free, which the compiler vectorises. */
void pf_gaia_where(size_t n, const pf_gaia_clause *c, size_t nc, const double *in,
                   double *mask)
{
    for (size_t i = 0; i < n; i++)
        mask[i] = in ? (double)(in[i] != 0.0) : 1.0;
    for (size_t m = 0; m < nc; m++) {
        const pf_gaia_clause *cl = &c[m];
        const double *x = cl->x;
        double v = cl->value;
        if (cl->op == PF_GAIA_FINITE) { /* |x| <= DBL_MAX is false for NaN and inf */
            if (cl->k == 1)
                for (size_t i = 0; i < n; i++)
                    mask[i] *= (double)(fabs(x[i]) <= DBL_MAX);
            else
                for (size_t i = 0; i < n; i++)
                    for (size_t j = 0; j < cl->k; j++)
                        mask[i] *= (double)(fabs(x[i * cl->k + j]) <= DBL_MAX);
            continue;
        }
        if (cl->k == 1) {
            switch (cl->op) {
            case PF_GAIA_LT: for (size_t i = 0; i < n; i++) mask[i] *= (double)(x[i] < v); break;
            case PF_GAIA_LE: for (size_t i = 0; i < n; i++) mask[i] *= (double)(x[i] <= v); break;
            case PF_GAIA_GT: for (size_t i = 0; i < n; i++) mask[i] *= (double)(x[i] > v); break;
            case PF_GAIA_GE: for (size_t i = 0; i < n; i++) mask[i] *= (double)(x[i] >= v); break;
            default: for (size_t i = 0; i < n; i++) mask[i] = 0.0; break;
            }
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            double r = clause_value(cl, i);
            int ok = cl->op == PF_GAIA_LT ? r < v : cl->op == PF_GAIA_LE ? r <= v
                     : cl->op == PF_GAIA_GT ? r > v : cl->op == PF_GAIA_GE ? r >= v : 0;
            mask[i] *= (double)ok;
        }
    }
}

size_t pf_gaia_take_rows(const double *src, size_t n, size_t width, const double *mask,
                         double *dst)
{
    size_t k = 0;
    if (width == 1) {
        for (size_t i = 0; i < n; i++)
            if (mask[i] != 0.0)
                dst[k++] = src[i];
        return k;
    }
    for (size_t i = 0; i < n; i++)
        if (mask[i] != 0.0) {
            const double *s = src + width * i;
            double *d = dst + width * k++;
            for (size_t j = 0; j < width; j++) /* short rows: a loop beats a memcpy call */
                d[j] = s[j];
        }
    return k;
}

/*
 * gaia_fits.c -- FITS binary and ASCII tables (the first table HDU) through CFITSIO.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "gaia_internal.h"

static long find_fits(pf_gaia_reader *r, const char *name, void *ctx)
{
    (void)ctx;
    int st = 0, cn = 0;
    char tmpl[FLEN_VALUE];
    if (strlen(name) >= sizeof tmpl || strpbrk(name, "*?#"))
        return -1;
    strcpy(tmpl, name);
    fits_get_colnum(r->fp, CASEINSEN, tmpl, &cn, &st);
    if (st == COL_NOT_UNIQUE)
        st = 0;
    fits_clear_errmsg();
    return st ? -1 : cn;
}

static void bind_fits(pf_gaia_reader *r, size_t j, long h)
{
    r->colnum[j] = (int)h;
}

/* TUNITn of the column internal column j reads, when the file gives one. */
static int fits_unit(pf_gaia_reader *r, size_t j, const char *file_name, char *buf, size_t len)
{
    (void)file_name;
    char key[FLEN_KEYWORD], value[FLEN_VALUE];
    int st = 0;
    snprintf(key, sizeof key, "TUNIT%d", r->colnum[j]);
    if (fits_read_key(r->fp, TSTRING, key, value, NULL, &st)) {
        fits_clear_errmsg();
        return 0;
    }
    snprintf(buf, len, "%s", value);
    return 1;
}

static int fits_fail(pf_gaia_reader *r, pf_err *err, int st, const char *what)
{
    char msg[FLEN_STATUS];
    fits_get_errstatus(st, msg);
    fits_clear_errmsg();
    return pf_gaia_fail(r, err, st == FILE_NOT_OPENED ? PF_EIO : PF_EFORMAT, "%s: %s (CFITSIO: %s)",
                r->path, what, msg);
}

int pf_gaia_fits_open(pf_gaia_reader *r, pf_err *err)
{
    int st = 0, nhdu = 0, type = 0;
    if (fits_open_file(&r->fp, r->path, READONLY, &st)) {
        r->fp = NULL;
        return fits_fail(r, err, st, "cannot open as FITS");
    }
    if (fits_get_num_hdus(r->fp, &nhdu, &st))
        return fits_fail(r, err, st, "cannot count HDUs");
    int found = 0;
    for (int h = 1; h <= nhdu && !found; h++) {
        if (fits_movabs_hdu(r->fp, h, &type, &st))
            return fits_fail(r, err, st, "cannot read HDU");
        found = type == BINARY_TBL || type == ASCII_TBL;
    }
    if (!found)
        return pf_gaia_fail(r, err, PF_EFORMAT, "%s: FITS file without a table (%d HDU%s, none is a "
                    "binary or ASCII table)", r->path, nhdu, nhdu == 1 ? "" : "s");
    LONGLONG nr = 0;
    if (fits_get_num_rowsll(r->fp, &nr, &st))
        return fits_fail(r, err, st, "cannot read the number of rows");
    r->nrows = nr;
    int res = pf_gaia_resolve(r, find_fits, bind_fits, NULL, err);
    return res ? res : pf_gaia_units(r, fits_unit, err);
}

int pf_gaia_fits_next(pf_gaia_reader *r, pf_gaia_chunk *c, pf_err *err)
{
    long long left = r->nrows - (long long)r->rows_done;
    size_t n = left <= 0 ? 0 : (size_t)left < c->cap ? (size_t)left : c->cap;
    size_t nall = r->ncol + NHIDDEN;
    for (size_t j = 0; j < nall && n > 0; j++) {
        int cn = r->colnum[j];
        if (cn <= 0)
            continue;
        int st = 0, anynul = 0;
        LONGLONG first = (LONGLONG)r->rows_done + 1;
        const char *name = j < r->ncol ? r->source[j] : pf_gaia_column_name(r, j);
        if (c->ival[j]) {
            fits_read_colnull(r->fp, TLONGLONG, cn, first, 1, (LONGLONG)n, c->ival[j],
                              (char *)c->miss[j], &anynul, &st);
            for (size_t i = 0; i < n && !st; i++)
                c->val[j][i] = c->miss[j][i] ? NAN : (double)c->ival[j][i];
        } else {
            fits_read_colnull(r->fp, TDOUBLE, cn, first, 1, (LONGLONG)n, c->val[j],
                              (char *)c->miss[j], &anynul, &st);
            for (size_t i = 0; i < n && !st; i++) {
                if (c->miss[j][i] || isnan(c->val[j][i])) {
                    c->miss[j][i] = 1;
                    c->val[j][i] = NAN;
                }
            }
        }
        if (st) {
            char what[256];
            snprintf(what, sizeof what, "cannot read column '%s' as numbers (rows %lld..%lld)",
                     name, (long long)first, (long long)first + (long long)n - 1);
            return fits_fail(r, err, st, what);
        }
    }
    c->n = n;
    return PF_OK;
}

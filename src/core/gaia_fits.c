/*
 * gaia_fits.c -- FITS binary and ASCII tables (the first table HDU) through CFITSIO.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- a look at the headers before CFITSIO parses them ------------------------------
 * CFITSIO (4.2) copies the value of TTYPEn into a 70-byte field with strcpy; an
 * unquoted value fills the whole 70 columns of the card and overflows it by its NUL
 * (found by tests/fuzz/fuzz_fits.c). The FITS standard makes TTYPEn, TFORMn, TUNITn,
 * TDISPn and TDIMn character strings, which CFITSIO unquotes to at most 68 bytes: the
 * headers up to the first table are read here first, and one of these keywords with a
 * value that is not a quoted string is refused (and so is a TFIELDS out of range). */
/* The file read through zlib (plain or gzip-compressed, as CFITSIO opens both). */
static size_t src_block(gzFile gz, char *b)
{
    int n = gzread(gz, b, 2880);
    return n > 0 ? (size_t)n : 0;
}

static int src_skip(gzFile gz, unsigned long long n)
{
    return n > (unsigned long long)LONG_MAX / 2 || gzseek(gz, (z_off_t)n, SEEK_CUR) < 0 ? -1 : 0;
}

static int string_keyword(const char *card)
{
    static const char *const keys[] = {"TTYPE", "TFORM", "TUNIT", "TDISP", "TDIM"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        size_t n = strlen(keys[k]);
        if (memcmp(card, keys[k], n) == 0 && card[n] >= '0' && card[n] <= '9')
            return 1;
    }
    return 0;
}

/* 0: nothing wrong seen (or nothing more to check: CFITSIO reports the rest); -1: a
 * string keyword without a quoted value, or a TFIELDS outside the standard's 0..999
 * (CFITSIO allocates its column table from it: gigabytes for a garbled value), said in
 * `why` (128 bytes). */
static int fits_precheck(gzFile s, char *why)
{
    char b[2880];
    for (int hdu = 0; hdu < 1000; hdu++) {
        long long bitpix = 0, naxis = 0, pcount = 0, gcount = 1, prod = 1;
        int table = 0, end = 0, ok = 1;
        while (!end) {
            if (src_block(s, b) < 2880)
                return 0;
            for (int k = 0; k < 36 && !end; k++) {
                const char *c = b + 80 * k;
                if (memcmp(c, "END     ", 8) == 0) {
                    end = 1;
                    break;
                }
                if (c[8] != '=')
                    continue;
                char v[71];
                memcpy(v, c + 10, 70);
                v[70] = '\0';
                const char *p = v + strspn(v, " ");
                if (string_keyword(c) && *p != '\'') {
                    char key[9];
                    memcpy(key, c, 8);
                    key[8] = '\0';
                    for (int i = 7; i >= 0 && key[i] == ' '; i--)
                        key[i] = '\0';
                    snprintf(why, 128, "the value of %s is not a character string in quotes", key);
                    return -1;
                }
                char *e;
                long long x = strtoll(p, &e, 10);
                int num = e != p;
                if (memcmp(c, "TFIELDS ", 8) == 0 && (!num || x < 0 || x > 999)) {
                    snprintf(why, 128, "TFIELDS is '%.*s', not a number of columns in 0..999",
                             (int)(strcspn(p, " /") < 20 ? strcspn(p, " /") : 20), p);
                    return -1;
                }
                if (memcmp(c, "XTENSION", 8) == 0)
                    table = strstr(p, "'BINTABLE") == p || strstr(p, "'TABLE") == p;
                else if (memcmp(c, "BITPIX  ", 8) == 0)
                    bitpix = num ? x : (ok = 0);
                else if (memcmp(c, "NAXIS   ", 8) == 0)
                    naxis = num ? x : (ok = 0);
                else if (memcmp(c, "PCOUNT  ", 8) == 0)
                    pcount = num ? x : (ok = 0);
                else if (memcmp(c, "GCOUNT  ", 8) == 0)
                    gcount = num ? x : (ok = 0);
                else if (memcmp(c, "NAXIS", 5) == 0 && c[5] >= '1' && c[5] <= '9') {
                    if (!num || x < 0 || (x > 0 && prod > (1LL << 50) / x))
                        ok = 0;
                    else
                        prod *= x;
                }
            }
        }
        if (table)
            return 0;
        if (!ok || bitpix % 8 || bitpix < -64 || bitpix > 64 || naxis < 0 || pcount < 0 ||
            gcount < 0 || gcount > (1LL << 20) || pcount > (1LL << 50))
            return 0;
        unsigned long long data = naxis == 0 ? 0
            : (unsigned long long)(bitpix < 0 ? -bitpix : bitpix) / 8 * (unsigned long long)gcount *
              (unsigned long long)(pcount + prod);
        if (src_skip(s, (data + 2879) / 2880 * 2880))
            return 0;
    }
    return 0;
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
    gzFile gz = gzopen(r->path, "rb");
    if (!gz)
        return pf_gaia_fail(r, err, PF_EIO, "%s: cannot open", r->path);
    char why[128];
    int pre = fits_precheck(gz, why);
    gzclose(gz);
    if (pre)
        return pf_gaia_fail(r, err, PF_EFORMAT, "%s: FITS header: %s", r->path, why);
    if (fits_open_file(&r->fp, r->path, READONLY, &st)) {
        r->fp = NULL;
        return fits_fail(r, err, st, "cannot open as FITS");
    }
    /* HDU after HDU up to the first table (the headers checked above; counting them all
     * first would have CFITSIO parse the ones after the table too) */
    int found = 0;
    for (int h = 1; !found; h++) {
        if (fits_movabs_hdu(r->fp, h, &type, &st)) {
            if (st == END_OF_FILE && h > 1) {
                st = 0;
                fits_clear_errmsg();
                break;
            }
            return fits_fail(r, err, st, "cannot read HDU");
        }
        nhdu = h;
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

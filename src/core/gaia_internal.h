/*
 * gaia_internal.h -- what the files of the Gaia reader share: the reader's struct,
 * the inflating thread, the number parsers, the column tables and the two formats.
 *
 *   gaia.c          the catalogue: open, read-ahead, next, cuts on a chunk
 *   gaia_columns.c  column names (identifiers, aliases), chunks, name resolution
 *   gaia_units.c    the units a file declares, checked and converted to Gaia's
 *   gaia_text.c     CSV and ECSV (lines, fields, the header)
 *   gaia_fits.c     FITS tables through CFITSIO
 *   gaia_inflate.c  the inflating thread and pf_gaia_scan
 *   gaia_number.c   decimal and integer text to numbers
 *
 * Not part of the interface: include/phaseflow/gaia.h is the contract.
 */
#ifndef PF_GAIA_INTERNAL_H
#define PF_GAIA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <fitsio.h>
#include <zlib.h>
#include "phaseflow/gaia.h"

#define NHIDDEN 2              /* helper columns: phot_bp_mean_mag, phot_rp_mean_mag */
#define BUF0 (1u << 20)        /* initial text buffer */
#define BUFMAX (64u << 20)     /* longest line accepted */
#define RING_N 4               /* inflated blocks in flight */
#define RING_BYTES (1u << 20)  /* bytes per inflated block */

enum { SRC_NONE, SRC_GZ, SRC_MEM, SRC_FITS };
enum { RES_ABSENT, RES_COLUMN, RES_DERIVED_BPRP };

typedef struct pf_gaia_ring pf_gaia_ring;

struct pf_gaia_reader {
    char *path;
    int kind;
    int status;               /* sticky error */
    pf_err err;               /* the sticky error's message */
    size_t ncol;              /* requested */
    char **names;             /* requested names (owned) */
    unsigned char *optional;
    int *res;                 /* per requested column: RES_* */
    char **source;            /* per requested column: the file's name used, or NULL */
    int hidden_used;          /* bp_rp derived: hidden helpers are being read */
    size_t rows_done;         /* data rows delivered so far */
    /* text */
    gzFile gz;
    pf_gaia_ring *ring;       /* the inflating thread (gzip and plain files) */
    pf_gaia_chunk *spare;     /* rows parsed ahead by the read-ahead thread */
    pthread_t ahead;          /* that thread, while `pending` */
    int pending, ahead_status, spare_ready;
    const char *mem;
    size_t memlen, mempos;
    char *buf;
    size_t cap, pos, end;
    int eof;
    long line;                /* 1-based number of the last line taken */
    char delim;
    int *map;                 /* file field -> internal column, or -1 */
    size_t nfields;
    char **fields;            /* the header's names, for messages */
    int in_datatype;          /* ECSV header: inside the `datatype:` list */
    int item_indent;          /* ECSV header: the indentation of its items, or -1 */
    size_t nunits;            /* ECSV header: columns listed, with their units */
    char **unit_col, **unit;  /* unit[k] is NULL where the list gives none */
    /* fits */
    fitsfile *fp;
    long long nrows;
    int *colnum;              /* internal column -> FITS column number, 0 if absent */
    int *copy_from;           /* internal column -> the column it duplicates, or -1 */
    double *mul, *div;        /* internal column: value in Gaia's unit = value * mul / div */
};

/* gaia.c: record a sticky error on the reader (and in *err if not NULL); returns code. */
int pf_gaia_fail(pf_gaia_reader *r, pf_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* gaia_inflate.c: inflate `gz` (owned by the caller, closed after the ring is freed)
 * in a thread of its own. NULL if memory or the thread cannot be had. */
pf_gaia_ring *pf_gaia_ring_start(gzFile gz);
void pf_gaia_ring_free(pf_gaia_ring *g);
/* Copy up to `room` inflated bytes into `dst`: the count (0 at the end), or -1 with
 * the zlib message in `msg` when the stream is corrupt or truncated. */
long pf_gaia_ring_take(pf_gaia_ring *g, char *dst, size_t room, char *msg, size_t msglen);

/* gaia_number.c (pf_gaia_parse_double is public) */
int pf_gaia_parse_int64(const char *s, size_t len, int64_t *out);
/* Empty, null, NaN (any case). Inline: it runs once per field. */
static inline int pf_gaia_is_missing_text(const char *s, size_t len)
{
    if (len == 0)
        return 1;
    if (len == 4 && (s[0] | 32) == 'n' && (s[1] | 32) == 'u' && (s[2] | 32) == 'l' &&
        (s[3] | 32) == 'l')
        return 1;
    if (len == 3 && (s[0] | 32) == 'n' && (s[1] | 32) == 'a' && (s[2] | 32) == 'n')
        return 1;
    return 0;
}

/* gaia_columns.c */
char *pf_gaia_dupstr(const char *s);
int pf_gaia_opts_ok(const pf_gaia_opts *o);
/* The name of internal column j (requested, or one of the hidden helpers). */
const char *pf_gaia_column_name(const pf_gaia_reader *r, size_t j);
/* Resolve the requested names against the file's names. `find(r, name, ctx)` returns
 * a non-negative handle (field index or FITS column) or -1; `bind(r, j, handle)`
 * records that internal column j reads that handle. */
typedef long (*pf_gaia_find_fn)(pf_gaia_reader *r, const char *name, void *ctx);
typedef void (*pf_gaia_bind_fn)(pf_gaia_reader *r, size_t j, long handle);
int pf_gaia_resolve(pf_gaia_reader *r, pf_gaia_find_fn find, pf_gaia_bind_fn bind, void *ctx,
                    pf_err *err);

/* gaia_units.c: after resolution, the conversion (r->mul, r->div) of every column read
 * from the file, or an error naming the file, the column and its unit. `unit_of`
 * copies the unit the file gives internal column j (its column `file_name`) into
 * `buf` and returns 1, or returns 0 when the file gives none. */
typedef int (*pf_gaia_unit_fn)(pf_gaia_reader *r, size_t j, const char *file_name, char *buf,
                               size_t len);
int pf_gaia_units(pf_gaia_reader *r, pf_gaia_unit_fn unit_of, pf_err *err);

/* gaia_text.c */
int pf_gaia_text_open(pf_gaia_reader *r, pf_err *err);
int pf_gaia_text_next(pf_gaia_reader *r, pf_gaia_chunk *c, pf_err *err);

/* gaia_fits.c */
int pf_gaia_fits_open(pf_gaia_reader *r, pf_err *err);
int pf_gaia_fits_next(pf_gaia_reader *r, pf_gaia_chunk *c, pf_err *err);

#endif

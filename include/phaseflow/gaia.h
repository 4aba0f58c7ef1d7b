/*
 * phaseflow/gaia.h -- streaming reader for Gaia archive tables.
 *
 * Inputs: CSV and ECSV (a '#'-prefixed YAML header, then CSV; the bulk
 * GaiaSource_*.csv.gz layout), plain or gzip-compressed (detected from the bytes,
 * not the name), and FITS binary or ASCII tables (the first table HDU, read through
 * CFITSIO, which also opens gzip-compressed FITS).
 *
 * Columns are addressed by Gaia archive names (case-sensitive for CSV, as the archive
 * writes them; case-insensitive for FITS). Only the requested columns are converted;
 * every other column in the file is skipped. Missing values -- an empty field, the
 * text `null` or `NaN` (any case), a FITS null -- become NaN in `val` with `miss` set
 * to 1 and the column's `nmiss` counted. Integer identifier columns (source_id,
 * solution_id, random_index) are also kept exactly as int64 in `ival` (a double cannot
 * hold a 19-digit source_id); their `val` is the nearest double.
 *
 * Name resolution, per file, for each requested name:
 *   1. the name itself;
 *   2. an alias: EDR3 calls the DR2 radial velocity `dr2_radial_velocity`, so
 *      radial_velocity <- dr2_radial_velocity and
 *      radial_velocity_error <- dr2_radial_velocity_error;
 *   3. derived: bp_rp = phot_bp_mean_mag - phot_rp_mean_mag when both exist;
 *   4. if the column is marked optional, it reads as all missing;
 *   5. otherwise opening fails with PF_ENOTFOUND naming the file and every such
 *      column at once.
 *
 * Units: a unit the file gives a column (ECSV `datatype:` list, FITS TUNITn) is
 * honoured for the columns Gaia gives a unit to (positions, parallax, proper motions,
 * radial velocity, their errors, magnitudes, correlations): a convertible one (rad,
 * arcsec, arcsec/yr, m/s, ...) is converted to Gaia's (deg, mas, mas/yr, km/s), an
 * unknown or inconvertible one fails with PF_EFORMAT naming the file, the column and
 * the unit. A column without a unit is in Gaia's; other columns are read as they are.
 *
 * Streaming without callbacks: open a reader, allocate a chunk of K rows, call
 * pf_gaia_reader_next until it reports 0 rows. Memory is bounded by K (and by the
 * longest line), not by the file.
 *
 *     pf_gaia_opts o = {names, ncol, NULL, 100000};
 *     pf_gaia_chunk *c = pf_gaia_chunk_alloc(&o);
 *     pf_gaia_reader *r;
 *     if (pf_gaia_reader_open(&r, "GaiaSource_000000-003111.csv.gz", &o, &err)) ...
 *     while ((st = pf_gaia_reader_next(r, c, &err)) == PF_OK && c->n > 0) use(c);
 *     pf_gaia_reader_free(r); pf_gaia_chunk_free(c);
 *
 * Errors fill `err` with the file name and, for text inputs, the 1-based line number
 * and the column: wrong number of fields (PF_EFORMAT), text that is not a number in a
 * numeric column (PF_EFORMAT), required columns absent (PF_ENOTFOUND), a unit that
 * cannot be converted (PF_EFORMAT), an empty file
 * or one without a header line (PF_EFORMAT), a truncated or corrupt gzip stream
 * (PF_EIO), a FITS file without a table HDU (PF_EFORMAT). After an error the reader
 * stays failed: further calls return the same status.
 *
 * Threads: a reader and a chunk belong to one thread at a time; separate readers are
 * independent (no global state).
 */
#ifndef PHASEFLOW_GAIA_H
#define PHASEFLOW_GAIA_H

#include <stddef.h>
#include <stdint.h>
#include "phaseflow/common.h"

#define PF_GAIA_MAXCOL 512        /* most columns one request may name */
#define PF_GAIA_DEFAULT_CHUNK 100000

typedef struct pf_gaia_reader pf_gaia_reader;

/* What to read. `columns` (ncol names) and `optional` (NULL, or ncol flags: 1 = may
 * be absent from a file) are borrowed for the duration of pf_gaia_chunk_alloc and
 * pf_gaia_reader_open; both copy what they keep. chunk = 0 means the default. */
typedef struct pf_gaia_opts {
    const char *const *columns;
    size_t ncol;
    const unsigned char *optional;
    size_t chunk;
} pf_gaia_opts;

/* One block of rows, column-major: val[j][i] is column j, row i (0-based). The
 * chunk owns all its buffers; a reader fills it, the caller reads it. Columns appear
 * in request order; two extra hidden columns (indices ncol, ncol + 1) hold helpers
 * for derived columns and are not part of the interface. */
typedef struct pf_gaia_chunk {
    size_t n;              /* rows filled by the last pf_gaia_reader_next; 0 at the end */
    size_t cap;            /* rows it can hold */
    size_t ncol;           /* requested columns */
    char **names;          /* ncol names (owned) */
    double **val;          /* val[j]: cap doubles; NaN where missing */
    int64_t **ival;        /* ival[j]: cap int64 for identifier columns, else NULL */
    unsigned char **miss;  /* miss[j][i] = 1 where missing */
    size_t *nmiss;         /* missing values per column in this chunk */
    size_t first_row;      /* 0-based data row of the file at which this chunk starts */
} pf_gaia_chunk;

/* Allocate a chunk for the columns of `o` (o->chunk rows). NULL if out of memory or
 * the options are invalid (ncol 0 or > PF_GAIA_MAXCOL, a NULL or empty name). */
pf_gaia_chunk *pf_gaia_chunk_alloc(const pf_gaia_opts *o);
void pf_gaia_chunk_free(pf_gaia_chunk *c);

/* Open `path` and resolve the columns of `o`; *r receives the reader (NULL on
 * failure). The file type is detected from its first bytes. */
int pf_gaia_reader_open(pf_gaia_reader **r, const char *path, const pf_gaia_opts *o,
                        pf_err *err);

/* The same over CSV/ECSV text held in memory (not compressed, not FITS): `buf` (len
 * bytes, not necessarily NUL-terminated) must outlive the reader; `name` is used in
 * messages. Used by the fuzzer and by tests. */
int pf_gaia_reader_open_mem(pf_gaia_reader **r, const char *buf, size_t len,
                            const char *name, const pf_gaia_opts *o, pf_err *err);

/* Fill `c` (allocated with the same columns) with the next c->cap rows or fewer; at
 * the end of the input c->n is 0 and PF_OK is returned.
 * Threads: a text file is inflated by a thread of the reader, and after a full chunk
 * the reader parses the next one in another thread while the caller works on this
 * one; the parsed rows are handed over by exchanging the buffers of `c` with the
 * reader's spare chunk (the struct stays the caller's; do not keep pointers to its
 * buffers across calls, and pass chunks of one capacity: PF_EINVAL otherwise). An
 * error met while reading ahead is returned by the call that would have got the
 * rows. */
int pf_gaia_reader_next(pf_gaia_reader *r, pf_gaia_chunk *c, pf_err *err);

/* Where requested column j comes from in this file: the file's column name, or
 * "phot_bp_mean_mag - phot_rp_mean_mag" for a derived bp_rp, or NULL when an optional
 * column is absent. The string belongs to the reader. */
const char *pf_gaia_reader_source(const pf_gaia_reader *r, size_t j);

/* Data rows in the file when known in advance (FITS), else -1. */
long long pf_gaia_reader_nrows(const pf_gaia_reader *r);

void pf_gaia_reader_free(pf_gaia_reader *r);

/* ---- cuts on a chunk ----------------------------------------------------------- */

/* Comparison of one clause of pf_gaia_where. */
enum { PF_GAIA_FINITE, PF_GAIA_LT, PF_GAIA_LE, PF_GAIA_GT, PF_GAIA_GE };

/* One clause: the rows of x (n x k, row-major; k = 1 for a column) against value.
 * For k > 1 the row's Euclidean length is compared (a speed from v, n x 3).
 * PF_GAIA_FINITE ignores value and needs every element of the row finite. NaN fails
 * every comparison. */
typedef struct pf_gaia_clause {
    const double *x;
    size_t k;
    int op;
    double value;
} pf_gaia_clause;

/* mask[i] = 1 where row i passes every clause and (if `in` is not NULL) in[i] != 0,
 * else 0: a step of a cut flow in one pass over the chunk, no temporaries. */
void pf_gaia_where(size_t n, const pf_gaia_clause *c, size_t nc, const double *in,
                   double *mask);

/* Copy the rows i of src (n rows of `width` doubles) where mask[i] != 0 to dst, in
 * order; returns the number of rows copied. dst holds room for them. */
size_t pf_gaia_take_rows(const double *src, size_t n, size_t width, const double *mask,
                         double *dst);

/* Inflate (or read) the whole file and count its bytes and newlines, with the
 * reader's inflating thread: the floor under the cost of reading a text file. */
int pf_gaia_scan(const char *path, size_t *bytes, size_t *lines, pf_err *err);

/* Parse a decimal number from s[0..len) (no surrounding spaces): PF_OK with *out
 * bit-equal to strtod's result, or PF_EFORMAT if the whole text is not a number.
 * Fast exact paths cover up to 19 significant digits with a power of ten up to 27
 * (see gaia_number.c); everything else goes through strtod. */
int pf_gaia_parse_double(const char *s, size_t len, double *out);

#endif

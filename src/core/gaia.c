/*
 * gaia.c -- Gaia archive tables (CSV, ECSV, gzip, FITS) read in chunks of rows.
 *
 * Text inputs go through zlib's gzread, which passes plain files through unchanged,
 * so one code path serves .csv and .csv.gz. Inflating costs about as much as parsing,
 * so it runs in a thread of its own (one per reader) that fills a small ring of
 * buffers while the caller's thread parses: on two cores a single file is read at the
 * speed of the slower of the two. Lines are cut from a large buffer that is refilled
 * (and grown only for a line longer than it); fields are split by hand and only the
 * requested ones are converted. FITS goes through CFITSIO column reads.
 */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <fitsio.h>
#include <zlib.h>
#include "phaseflow/gaia.h"

#define NHIDDEN 2              /* helper columns: phot_bp_mean_mag, phot_rp_mean_mag */
#define BUF0 (1u << 20)        /* initial text buffer */
#define BUFMAX (64u << 20)     /* longest line accepted */
#define RING_N 4               /* inflated blocks in flight */
#define RING_BYTES (1u << 20)  /* bytes per inflated block */

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

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- chunks ------------------------------------------------------------------ */

static int opts_ok(const pf_gaia_opts *o)
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
    if (!opts_ok(o))
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
            if (!(c->names[j] = dupstr(o->columns[j])))
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

/* ---- the reader ------------------------------------------------------------------ */

enum { SRC_NONE, SRC_GZ, SRC_MEM, SRC_FITS };

/* The inflating thread's ring: `count` filled blocks start at `head`; the producer
 * writes at (head + count) % RING_N. A block of length 0 marks the end; `zerr`
 * records a zlib error (with its message) seen by the producer. */
typedef struct ring {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gzFile gz;
    char *data[RING_N];
    size_t len[RING_N];
    size_t head, count, used; /* used: bytes of block `head` already taken */
    int done, stop, zerr, started;
    char zmsg[160];
} ring;
enum { RES_ABSENT, RES_COLUMN, RES_DERIVED_BPRP };

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
    ring *ring;               /* the inflating thread (gzip and plain files) */
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
    /* fits */
    fitsfile *fp;
    long long nrows;
    int *colnum;              /* internal column -> FITS column number, 0 if absent */
    int *copy_from;           /* internal column -> the column it duplicates, or -1 */
};

static int fail(pf_gaia_reader *r, pf_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int fail(pf_gaia_reader *r, pf_err *err, int code, const char *fmt, ...)
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

/* ---- the inflating thread -------------------------------------------------------- */

static void *ring_main(void *arg)
{
    ring *g = arg;
    size_t slot = 0;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        while (g->count == RING_N && !g->stop)
            pthread_cond_wait(&g->cv, &g->mu);
        int stop = g->stop;
        slot = (g->head + g->count) % RING_N;
        pthread_mutex_unlock(&g->mu);
        if (stop)
            break;
        /* the block at `slot` is free: the consumer only touches filled blocks */
        int n = gzread(g->gz, g->data[slot], RING_BYTES);
        int zerr = 0;
        const char *zmsg = gzerror(g->gz, &zerr);
        int bad = n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END);
        pthread_mutex_lock(&g->mu);
        if (bad) {
            g->zerr = zerr ? zerr : Z_DATA_ERROR;
            snprintf(g->zmsg, sizeof g->zmsg, "%s", zmsg && *zmsg ? zmsg : "error");
            g->done = 1;
        } else {
            g->len[slot] = (size_t)n;
            g->count++;
            if (n == 0)
                g->done = 1;
        }
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        if (g->done)
            break;
    }
    return NULL;
}

static void ring_free(ring *g)
{
    if (!g)
        return;
    if (g->started) {
        pthread_mutex_lock(&g->mu);
        g->stop = 1;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->th, NULL);
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
    }
    for (int k = 0; k < RING_N; k++)
        free(g->data[k]);
    free(g);
}

/* Start inflating `gz` (owned by the caller, closed after ring_free) in a thread.
 * NULL if memory or the thread cannot be had. */
static ring *ring_start(gzFile gz)
{
    ring *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->gz = gz;
    for (int k = 0; k < RING_N; k++)
        if (!(g->data[k] = malloc(RING_BYTES))) {
            ring_free(g);
            return NULL;
        }
    if (pthread_mutex_init(&g->mu, NULL)) {
        ring_free(g);
        return NULL;
    }
    if (pthread_cond_init(&g->cv, NULL)) {
        pthread_mutex_destroy(&g->mu);
        ring_free(g);
        return NULL;
    }
    if (pthread_create(&g->th, NULL, ring_main, g)) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        ring_free(g);
        return NULL;
    }
    g->started = 1;
    return g;
}

/* Copy up to `room` inflated bytes into `dst`: the count (0 at the end), or -1 with
 * the zlib message in `msg` when the stream is corrupt or truncated. */
static long ring_take(ring *g, char *dst, size_t room, char *msg, size_t msglen)
{
    size_t got = 0;
    pthread_mutex_lock(&g->mu);
    while (got < room) {
        while (g->count == 0 && !g->done)
            pthread_cond_wait(&g->cv, &g->mu);
        if (g->count == 0) {
            if (g->zerr && got == 0) {
                snprintf(msg, msglen, "%s", g->zmsg);
                pthread_mutex_unlock(&g->mu);
                return -1;
            }
            break;
        }
        size_t h = g->head, left = g->len[h] - g->used;
        if (g->len[h] == 0) /* the end marker stays in place */
            break;
        size_t n = left < room - got ? left : room - got;
        pthread_mutex_unlock(&g->mu); /* block h is ours to read while filled */
        memcpy(dst + got, g->data[h] + g->used, n);
        pthread_mutex_lock(&g->mu);
        got += n;
        g->used += n;
        if (g->used == g->len[h]) {
            g->head = (h + 1) % RING_N;
            g->count--;
            g->used = 0;
            pthread_cond_broadcast(&g->cv);
        }
        if (got > 0)
            break; /* hand over what we have; the parser asks again when it needs more */
    }
    pthread_mutex_unlock(&g->mu);
    return (long)got;
}

void pf_gaia_reader_free(pf_gaia_reader *r)
{
    if (!r)
        return;
    if (r->pending)
        pthread_join(r->ahead, NULL);
    pf_gaia_chunk_free(r->spare);
    ring_free(r->ring);
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
    free(r->colnum);
    free(r->copy_from);
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
    r->path = dupstr(path);
    r->names = calloc(o->ncol, sizeof *r->names);
    r->source = calloc(o->ncol, sizeof *r->source);
    r->optional = calloc(o->ncol, 1);
    r->res = calloc(o->ncol, sizeof *r->res);
    r->colnum = calloc(o->ncol + NHIDDEN, sizeof *r->colnum);
    r->copy_from = malloc((o->ncol + NHIDDEN) * sizeof *r->copy_from);
    r->delim = ',';
    if (!r->path || !r->names || !r->source || !r->optional || !r->res || !r->colnum ||
        !r->copy_from) {
        pf_gaia_reader_free(r);
        return NULL;
    }
    for (size_t j = 0; j < o->ncol; j++) {
        if (!(r->names[j] = dupstr(o->columns[j]))) {
            pf_gaia_reader_free(r);
            return NULL;
        }
        r->optional[j] = o->optional ? o->optional[j] : 0;
    }
    for (size_t j = 0; j < o->ncol + NHIDDEN; j++)
        r->copy_from[j] = -1;
    return r;
}

/* Resolve the requested names against the file's names. `find(r, name, ctx)` returns
 * a non-negative handle (field index or FITS column) or -1; `bind(r, j, handle)`
 * records that internal column j reads that handle. */
typedef long (*find_fn)(pf_gaia_reader *r, const char *name, void *ctx);
typedef void (*bind_fn)(pf_gaia_reader *r, size_t j, long handle);

static int resolve(pf_gaia_reader *r, find_fn find, bind_fn bind, void *ctx, pf_err *err)
{
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
            if (!(r->source[j] = dupstr(used)))
                return fail(r, err, PF_ENOMEM, "%s: out of memory", r->path);
            continue;
        }
        if (strcmp(name, "bp_rp") == 0) {
            long hb = find(r, "phot_bp_mean_mag", ctx), hr = find(r, "phot_rp_mean_mag", ctx);
            if (hb >= 0 && hr >= 0) {
                bind(r, r->ncol, hb);
                bind(r, r->ncol + 1, hr);
                r->hidden_used = 1;
                r->res[j] = RES_DERIVED_BPRP;
                if (!(r->source[j] = dupstr("phot_bp_mean_mag - phot_rp_mean_mag")))
                    return fail(r, err, PF_ENOMEM, "%s: out of memory", r->path);
                continue;
            }
        }
        if (r->optional[j]) {
            r->res[j] = RES_ABSENT;
            continue;
        }
        return fail(r, err, PF_ENOTFOUND, "%s: required column '%s' not found in the file",
                    r->path, name);
    }
    return PF_OK;
}

/* ---- numbers ----------------------------------------------------------------- */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* x87 extended precision (64-bit significand) is available: used for the second
 * exact path below. */
#if (defined(__x86_64__) || defined(__i386__)) && LDBL_MANT_DIG == 64 && \
    defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HAVE_X87_PATH 1
/* 10^k for k <= 27 are exact in 64 bits (5^27 < 2^64) */
static const long double pow10_ld[28] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* If p[0..8) are eight ASCII digits, store their value in *v and return 1. The
 * classic word-at-a-time trick: test all eight bytes at once, then combine digit
 * pairs, quadruples and halves with three multiplications. */
static inline int eight_digits(const char *p, uint64_t *v)
{
    uint64_t x;
    memcpy(&x, p, 8);
    if ((((x & UINT64_C(0xF0F0F0F0F0F0F0F0)) |
          (((x + UINT64_C(0x0606060606060606)) & UINT64_C(0xF0F0F0F0F0F0F0F0)) >> 4))) !=
        UINT64_C(0x3333333333333333))
        return 0;
    x -= UINT64_C(0x3030303030303030);
    x = x * 10 + (x >> 8); /* bytes 0, 2, 4, 6 now hold two-digit values */
    x = (((x & UINT64_C(0x000000FF000000FF)) * (100 + (UINT64_C(1000000) << 32))) +
         (((x >> 16) & UINT64_C(0x000000FF000000FF)) * (1 + (UINT64_C(10000) << 32)))) >> 32;
    *v = x;
    return 1;
}
#else
static inline int eight_digits(const char *p, uint64_t *v)
{
    (void)p;
    (void)v;
    return 0;
}
#endif

/* Why: strtod costs ~100 ns a number and the reader converts ~26 numbers a row.
 * Two exact fast paths cover every number of up to 19 significant digits with a
 * small exponent, which is all the archive writes:
 *  1. m <= 2^53 and |e| <= 22: m * 10^e (or m / 10^e) is one correctly rounded IEEE
 *     operation on two exact operands (Clinger 1990), hence strtod's answer.
 *  2. m < 2^64 and |e| <= 27 (x87 only): m and 10^|e| are exact in extended
 *     precision, so the product or quotient is within half a 64-bit ulp of the true
 *     value. Rounding it to double gives the correctly rounded result unless it lies
 *     within one such ulp of a point halfway between two doubles (the low 11 of its
 *     64 significand bits near 0x400); those rare cases go to strtod.
 * Anything else (more digits, large exponents, odd text) falls back to strtod. */
int pf_gaia_parse_double(const char *s, size_t len, double *out)
{
    const char *p = s, *e = s + len;
    int neg = 0;
    if (p < e && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    uint64_t m = 0;
    int sig = 0, exp10 = 0, ndig = 0, fast = 1;
    while (p < e && *p == '0') { /* leading zeros are not significant */
        p++;
        ndig++;
    }
    for (;;) {
        uint64_t v8;
        if (sig <= 11 && e - p >= 8 && eight_digits(p, &v8)) {
            m = m * 100000000u + v8;
            sig += 8;
            ndig += 8;
            p += 8;
            continue;
        }
        if (p >= e || (unsigned)(*p - '0') >= 10)
            break;
        if (sig >= 19) {
            fast = 0;
            break;
        }
        m = m * 10 + (uint64_t)(*p++ - '0');
        sig++;
        ndig++;
    }
    if (fast && p < e && *p == '.') {
        p++;
        if (sig == 0)
            while (p < e && *p == '0') { /* 0.000ddd: zeros only move the exponent */
                p++;
                ndig++;
                exp10--;
            }
        for (;;) {
            uint64_t v8;
            if (sig <= 11 && e - p >= 8 && eight_digits(p, &v8)) {
                m = m * 100000000u + v8;
                sig += 8;
                ndig += 8;
                exp10 -= 8;
                p += 8;
                continue;
            }
            if (p >= e || (unsigned)(*p - '0') >= 10)
                break;
            if (sig >= 19) {
                fast = 0;
                break;
            }
            m = m * 10 + (uint64_t)(*p++ - '0');
            sig++;
            ndig++;
            exp10--;
        }
    }
    if (fast && ndig > 0 && p < e && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, ev = 0, edig = 0;
        if (p < e && (*p == '-' || *p == '+'))
            eneg = *p++ == '-';
        while (p < e && (unsigned)(*p - '0') < 10) {
            if (ev < 100000)
                ev = ev * 10 + (*p - '0');
            p++;
            edig++;
        }
        if (!edig)
            fast = 0;
        exp10 += eneg ? -ev : ev;
    }
    if (fast && ndig > 0 && p == e) {
        if (m == 0) {
            *out = neg ? -0.0 : 0.0;
            return PF_OK;
        }
        if (m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
            double v = (double)m;
            v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
            *out = neg ? -v : v;
            return PF_OK;
        }
#ifdef HAVE_X87_PATH
        if (exp10 >= -27 && exp10 <= 27) {
            long double x = (long double)m;
            x = exp10 < 0 ? x / pow10_ld[-exp10] : x * pow10_ld[exp10];
            uint64_t sig64;
            memcpy(&sig64, &x, 8); /* x87 layout: the 64-bit significand comes first */
            unsigned low = (unsigned)(sig64 & 0x7FF);
            if (low < 0x3FF || low > 0x401) {
                double v = (double)x;
                *out = neg ? -v : v;
                return PF_OK;
            }
        }
#endif
    }
    /* slow path: strtod on a NUL-terminated copy; the whole text must be consumed */
    char tmp[128];
    if (len == 0 || len >= sizeof tmp)
        return PF_EFORMAT;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (isspace((unsigned char)tmp[0]))
        return PF_EFORMAT;
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + len)
        return PF_EFORMAT;
    *out = v;
    return PF_OK;
}

static int parse_int64(const char *s, size_t len, int64_t *out)
{
    const char *p = s, *e = s + len;
    int neg = 0;
    if (p < e && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    if (p == e)
        return PF_EFORMAT;
    uint64_t v = 0;
    for (; p < e; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d >= 10 || v > (UINT64_C(9223372036854775808) - d) / 10)
            return PF_EFORMAT;
        v = v * 10 + d;
    }
    if (!neg && v > (uint64_t)INT64_MAX)
        return PF_EFORMAT;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return PF_OK;
}

/* empty, null, NaN (any case) */
static int is_missing_text(const char *s, size_t len)
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

/* ---- text input ------------------------------------------------------------------ */

/* Append more bytes to buf[end..cap). Returns bytes read (0 at end) or -1 on error. */
static long fill(pf_gaia_reader *r, pf_err *err)
{
    size_t room = r->cap - r->end;
    if (r->kind == SRC_MEM) {
        size_t n = r->memlen - r->mempos;
        if (n > room)
            n = room;
        memcpy(r->buf + r->end, r->mem + r->mempos, n);
        r->mempos += n;
        return (long)n;
    }
    if (r->ring) {
        char zmsg[160];
        long n = ring_take(r->ring, r->buf + r->end, room, zmsg, sizeof zmsg);
        if (n < 0)
            fail(r, err, PF_EIO, "%s: truncated or corrupt compressed data after line %ld "
                 "(zlib: %s)", r->path, r->line, zmsg);
        return n;
    }
    if (room > (1u << 30))
        room = 1u << 30;
    int n = gzread(r->gz, r->buf + r->end, (unsigned)room);
    int zerr = 0;
    const char *zmsg = gzerror(r->gz, &zerr);
    if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
        fail(r, err, PF_EIO, "%s: truncated or corrupt compressed data after line %ld (zlib: %s)",
             r->path, r->line, zmsg ? zmsg : "error");
        return -1;
    }
    return n;
}

/* Take the next line into [*s, *s + *len) (no newline, no trailing '\r').
 * Returns 1 for a line, 0 at the end, -1 on error. */
static int next_line(pf_gaia_reader *r, const char **s, size_t *len, pf_err *err)
{
    for (;;) {
        char *nl = r->pos < r->end ? memchr(r->buf + r->pos, '\n', r->end - r->pos) : NULL;
        if (nl || (r->eof && r->pos < r->end)) {
            char *start = r->buf + r->pos;
            size_t n = nl ? (size_t)(nl - start) : r->end - r->pos;
            r->pos += n + (nl ? 1 : 0);
            if (n && start[n - 1] == '\r')
                n--;
            *s = start;
            *len = n;
            r->line++;
            return 1;
        }
        if (r->eof)
            return 0;
        /* move the partial line to the front, grow if it fills the buffer, refill */
        if (r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->end - r->pos);
            r->end -= r->pos;
            r->pos = 0;
        }
        if (r->end == r->cap) {
            if (r->cap >= BUFMAX)
                return fail(r, err, PF_EFORMAT, "%s:%ld: line longer than %u bytes", r->path,
                            r->line + 1, BUFMAX), -1;
            char *nb = realloc(r->buf, r->cap * 2);
            if (!nb)
                return fail(r, err, PF_ENOMEM, "%s: out of memory", r->path), -1;
            r->buf = nb;
            r->cap *= 2;
        }
        long got = fill(r, err);
        if (got < 0)
            return -1;
        if (got == 0)
            r->eof = 1;
        r->end += (size_t)got;
    }
}

/* Split the next field of line [*p, e): sets [fs, fs + flen) to its text (quotes
 * removed, spaces trimmed; a doubled quote inside quotes is left as two characters,
 * which only matters for text columns we never convert). Advances *p past the
 * delimiter. Returns 0, or -1 for an unterminated quote. */
static int split_field(const char **p, const char *e, char delim, const char **fs, size_t *flen)
{
    const char *q = *p;
    while (q < e && *q == ' ' && delim != ' ')
        q++;
    if (q < e && *q == '"') {
        const char *a = ++q;
        for (;;) {
            while (q < e && *q != '"')
                q++;
            if (q >= e)
                return -1;
            if (q + 1 < e && q[1] == '"') {
                q += 2;
                continue;
            }
            break;
        }
        *fs = a;
        *flen = (size_t)(q - a);
        q++;
        while (q < e && *q == ' ' && delim != ' ')
            q++;
        if (q < e && *q != delim)
            return -1;
        *p = q < e ? q + 1 : e + 1;
        return 0;
    }
    const char *d = memchr(q, delim, (size_t)(e - q));
    const char *fe = d ? d : e;
    *fs = q;
    while (fe > q && fe[-1] == ' ')
        fe--;
    *flen = (size_t)(fe - q);
    *p = d ? d + 1 : e + 1;
    return 0;
}

/* ECSV header lines: only the delimiter matters to us ("# delimiter: ' '"). */
static void ecsv_header_line(pf_gaia_reader *r, const char *s, size_t len)
{
    static const char key[] = "delimiter:";
    const char *e = s + len;
    for (const char *p = s; p + sizeof key - 1 <= e; p++) {
        if (memcmp(p, key, sizeof key - 1) == 0) {
            p += sizeof key - 1;
            while (p < e && *p == ' ')
                p++;
            if (p + 2 < e && (*p == '\'' || *p == '"') && p[2] == *p)
                r->delim = p[1];
            else if (p < e && *p != '\'' && *p != '"')
                r->delim = *p;
            return;
        }
    }
}

struct header_ctx {
    const char **names;
    size_t *lens;
    size_t n;
};

static long find_field(pf_gaia_reader *r, const char *name, void *vctx)
{
    (void)r;
    struct header_ctx *h = vctx;
    size_t len = strlen(name);
    for (size_t i = 0; i < h->n; i++)
        if (h->lens[i] == len && memcmp(h->names[i], name, len) == 0)
            return (long)i;
    return -1;
}

/* A file field read by two requested columns (a name and its alias, or bp_rp's
 * helpers also requested by name) is converted once and copied. */
static void bind_field(pf_gaia_reader *r, size_t j, long h)
{
    if (r->map[h] >= 0)
        r->copy_from[j] = r->map[h];
    else
        r->map[h] = (int)j;
}

static int text_open(pf_gaia_reader *r, pf_err *err)
{
    r->cap = BUF0;
    if (!(r->buf = malloc(r->cap)))
        return fail(r, err, PF_ENOMEM, "%s: out of memory", r->path);
    const char *s;
    size_t len;
    int got;
    while ((got = next_line(r, &s, &len, err)) == 1) {
        if (len > 0 && s[0] == '#') {
            ecsv_header_line(r, s, len);
            continue;
        }
        size_t k = 0;
        while (k < len && (s[k] == ' ' || s[k] == '\t'))
            k++;
        if (k < len)
            break;
    }
    if (got < 0)
        return r->status;
    if (got == 0)
        return fail(r, err, PF_EFORMAT, "%s: empty file (no header line with column names)",
                    r->path);
    /* count and split the header */
    size_t nf = 1;
    for (size_t i = 0; i < len; i++)
        nf += s[i] == r->delim;
    struct header_ctx h;
    h.names = malloc(nf * sizeof *h.names);
    h.lens = malloc(nf * sizeof *h.lens);
    r->map = malloc(nf * sizeof *r->map);
    if (!h.names || !h.lens || !r->map) {
        free(h.names);
        free(h.lens);
        return fail(r, err, PF_ENOMEM, "%s: out of memory", r->path);
    }
    h.n = 0;
    const char *p = s, *e = s + len;
    while (p <= e) {
        if (split_field(&p, e, r->delim, &h.names[h.n], &h.lens[h.n]) < 0 || h.n >= nf) {
            free(h.names);
            free(h.lens);
            return fail(r, err, PF_EFORMAT, "%s:%ld: unterminated quote in the header line",
                        r->path, r->line);
        }
        r->map[h.n] = -1;
        h.n++;
    }
    r->nfields = h.n;
    int st = resolve(r, find_field, bind_field, &h, err);
    free(h.names);
    free(h.lens);
    return st;
}

static int text_next(pf_gaia_reader *r, pf_gaia_chunk *c, pf_err *err)
{
    size_t nall = r->ncol + NHIDDEN;
    size_t i = 0;
    const char *s;
    size_t len;
    while (i < c->cap) {
        int got = next_line(r, &s, &len, err);
        if (got < 0)
            return r->status;
        if (got == 0)
            break;
        if (len == 0)
            continue; /* a blank line (e.g. at the end) is not a row */
        for (size_t j = 0; j < nall; j++)
            c->miss[j][i] = 0;
        const char *p = s, *e = s + len;
        size_t f = 0;
        while (p <= e) {
            const char *fs;
            size_t fl;
            if (split_field(&p, e, r->delim, &fs, &fl) < 0)
                return fail(r, err, PF_EFORMAT, "%s:%ld: field %zu: unterminated quote or text "
                            "after a closing quote", r->path, r->line, f + 1);
            if (f >= r->nfields) {
                f++;
                while (p <= e && split_field(&p, e, r->delim, &fs, &fl) == 0)
                    f++;
                return fail(r, err, PF_EFORMAT, "%s:%ld: %zu fields, but the header has %zu",
                            r->path, r->line, f, r->nfields);
            }
            int j = r->map[f++];
            if (j < 0)
                continue;
            if (is_missing_text(fs, fl)) {
                c->val[j][i] = NAN;
                c->miss[j][i] = 1;
                if (c->ival[j])
                    c->ival[j][i] = 0;
                continue;
            }
            int bad;
            if (c->ival[j]) {
                bad = parse_int64(fs, fl, &c->ival[j][i]);
                c->val[j][i] = (double)c->ival[j][i];
            } else {
                bad = pf_gaia_parse_double(fs, fl, &c->val[j][i]);
            }
            if (bad) {
                const char *cname = (size_t)j < r->ncol ? r->names[j]
                                    : (size_t)j == r->ncol ? "phot_bp_mean_mag"
                                                           : "phot_rp_mean_mag";
                return fail(r, err, PF_EFORMAT,
                            "%s:%ld: column '%s' (field %zu): '%.*s' is not %s", r->path,
                            r->line, cname, f, (int)(fl > 40 ? 40 : fl), fs,
                            c->ival[j] ? "an integer" : "a number");
            }
        }
        if (f != r->nfields)
            return fail(r, err, PF_EFORMAT, "%s:%ld: %zu fields, but the header has %zu",
                        r->path, r->line, f, r->nfields);
        i++;
    }
    c->n = i;
    return PF_OK;
}

/* ---- FITS ---------------------------------------------------------------------- */

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

static int fits_fail(pf_gaia_reader *r, pf_err *err, int st, const char *what)
{
    char msg[FLEN_STATUS];
    fits_get_errstatus(st, msg);
    fits_clear_errmsg();
    return fail(r, err, st == FILE_NOT_OPENED ? PF_EIO : PF_EFORMAT, "%s: %s (CFITSIO: %s)",
                r->path, what, msg);
}

static int fits_open(pf_gaia_reader *r, pf_err *err)
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
        return fail(r, err, PF_EFORMAT, "%s: FITS file without a table (%d HDU%s, none is a "
                    "binary or ASCII table)", r->path, nhdu, nhdu == 1 ? "" : "s");
    LONGLONG nr = 0;
    if (fits_get_num_rowsll(r->fp, &nr, &st))
        return fits_fail(r, err, st, "cannot read the number of rows");
    r->nrows = nr;
    return resolve(r, find_fits, bind_fits, NULL, err);
}

static int fits_next(pf_gaia_reader *r, pf_gaia_chunk *c, pf_err *err)
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
        const char *name = j < r->ncol ? r->source[j]
                           : j == r->ncol ? "phot_bp_mean_mag" : "phot_rp_mean_mag";
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

/* ---- public entry points --------------------------------------------------------- */

int pf_gaia_scan(const char *path, size_t *bytes, size_t *lines, pf_err *err)
{
    *bytes = *lines = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return pf_err_set(err, PF_EIO, "%s: cannot open", path);
    gzbuffer(gz, 1u << 18);
    ring *g = ring_start(gz);
    char *buf = malloc(RING_BYTES);
    if (!g || !buf) {
        ring_free(g);
        free(buf);
        gzclose(gz);
        return pf_err_set(err, PF_ENOMEM, "%s: out of memory", path);
    }
    int st = PF_OK;
    char msg[160];
    for (;;) {
        long n = ring_take(g, buf, RING_BYTES, msg, sizeof msg);
        if (n < 0) {
            st = pf_err_set(err, PF_EIO, "%s: truncated or corrupt compressed data (zlib: %s)",
                            path, msg);
            break;
        }
        if (n == 0)
            break;
        *bytes += (size_t)n;
        for (const char *p = buf, *e = buf + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
            ++*lines;
    }
    ring_free(g);
    free(buf);
    gzclose(gz);
    return st;
}

int pf_gaia_reader_open(pf_gaia_reader **out, const char *path, const pf_gaia_opts *o,
                        pf_err *err)
{
    *out = NULL;
    if (!path || !opts_ok(o))
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
        st = fits_open(r, err);
    } else {
        gzrewind(r->gz);
        r->kind = SRC_GZ;
        r->ring = ring_start(r->gz); /* without a thread, fill() calls gzread itself */
        st = text_open(r, err);
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
    if (!opts_ok(o) || (!buf && len))
        return pf_err_set(err, PF_EINVAL, "gaia reader: bad arguments");
    pf_gaia_reader *r = reader_new(name ? name : "(memory)", o);
    if (!r)
        return pf_err_set(err, PF_ENOMEM, "out of memory");
    r->kind = SRC_MEM;
    r->mem = buf;
    r->memlen = len;
    int st = text_open(r, err);
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
    int st = r->kind == SRC_FITS ? fits_next(r, c, err) : text_next(r, c, err);
    if (st) {
        c->n = 0;
        return st;
    }
    size_t n = c->n;
    c->first_row = r->rows_done;
    r->rows_done += n;
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

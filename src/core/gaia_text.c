/*
 * gaia_text.c -- CSV and ECSV: lines cut from a refilled buffer, fields split by hand.
 *
 * The buffer is grown only for a line longer than it; only the requested fields are
 * converted. ECSV is CSV after a '#'-prefixed YAML header.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gaia_internal.h"

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
        long n = pf_gaia_ring_take(r->ring, r->buf + r->end, room, zmsg, sizeof zmsg);
        if (n < 0)
            pf_gaia_fail(r, err, PF_EIO, "%s: truncated or corrupt compressed data after line %ld "
                 "(zlib: %s)", r->path, r->line, zmsg);
        return n;
    }
    if (room > (1u << 30))
        room = 1u << 30;
    int n = gzread(r->gz, r->buf + r->end, (unsigned)room);
    int zerr = 0;
    const char *zmsg = gzerror(r->gz, &zerr);
    if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
        pf_gaia_fail(r, err, PF_EIO, "%s: truncated or corrupt compressed data after line %ld (zlib: %s)",
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
                return pf_gaia_fail(r, err, PF_EFORMAT, "%s:%ld: line longer than %u bytes", r->path,
                            r->line + 1, BUFMAX), -1;
            char *nb = realloc(r->buf, r->cap * 2);
            if (!nb)
                return pf_gaia_fail(r, err, PF_ENOMEM, "%s: out of memory", r->path), -1;
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

int pf_gaia_text_open(pf_gaia_reader *r, pf_err *err)
{
    r->cap = BUF0;
    if (!(r->buf = malloc(r->cap)))
        return pf_gaia_fail(r, err, PF_ENOMEM, "%s: out of memory", r->path);
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
        return pf_gaia_fail(r, err, PF_EFORMAT, "%s: empty file (no header line with column names)",
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
        return pf_gaia_fail(r, err, PF_ENOMEM, "%s: out of memory", r->path);
    }
    h.n = 0;
    const char *p = s, *e = s + len;
    while (p <= e) {
        if (split_field(&p, e, r->delim, &h.names[h.n], &h.lens[h.n]) < 0 || h.n >= nf) {
            free(h.names);
            free(h.lens);
            return pf_gaia_fail(r, err, PF_EFORMAT, "%s:%ld: unterminated quote in the header line",
                        r->path, r->line);
        }
        r->map[h.n] = -1;
        h.n++;
    }
    r->nfields = h.n;
    int st = pf_gaia_resolve(r, find_field, bind_field, &h, err);
    free(h.names);
    free(h.lens);
    return st;
}

int pf_gaia_text_next(pf_gaia_reader *r, pf_gaia_chunk *c, pf_err *err)
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
                return pf_gaia_fail(r, err, PF_EFORMAT, "%s:%ld: field %zu: unterminated quote or text "
                            "after a closing quote", r->path, r->line, f + 1);
            if (f >= r->nfields) {
                f++;
                while (p <= e && split_field(&p, e, r->delim, &fs, &fl) == 0)
                    f++;
                return pf_gaia_fail(r, err, PF_EFORMAT, "%s:%ld: %zu fields, but the header has %zu",
                            r->path, r->line, f, r->nfields);
            }
            int j = r->map[f++];
            if (j < 0)
                continue;
            if (pf_gaia_is_missing_text(fs, fl)) {
                c->val[j][i] = NAN;
                c->miss[j][i] = 1;
                if (c->ival[j])
                    c->ival[j][i] = 0;
                continue;
            }
            int bad;
            if (c->ival[j]) {
                bad = pf_gaia_parse_int64(fs, fl, &c->ival[j][i]);
                c->val[j][i] = (double)c->ival[j][i];
            } else {
                bad = pf_gaia_parse_double(fs, fl, &c->val[j][i]);
            }
            if (bad) {
                const char *cname = pf_gaia_column_name(r, (size_t)j);
                return pf_gaia_fail(r, err, PF_EFORMAT,
                            "%s:%ld: column '%s' (field %zu): '%.*s' is not %s", r->path,
                            r->line, cname, f, (int)(fl > 40 ? 40 : fl), fs,
                            c->ival[j] ? "an integer" : "a number");
            }
        }
        if (f != r->nfields)
            return pf_gaia_fail(r, err, PF_EFORMAT, "%s:%ld: %zu fields, but the header has %zu",
                        r->path, r->line, f, r->nfields);
        i++;
    }
    c->n = i;
    return PF_OK;
}

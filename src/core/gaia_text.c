/*
 * gaia_text.c -- CSV and ECSV: lines cut from a refilled buffer, fields split by hand.
 *
 * The buffer is grown only for a line longer than it; only the requested fields are
 * converted. ECSV is CSV after a '#'-prefixed YAML header.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gaia_internal.h"

/* A corrupt or truncated gzip stream, and where the text stops. zlib's message starts
 * with the path, which ours already gives. */
static void zlib_fail(pf_gaia_reader *r, pf_err *err, const char *zmsg)
{
    size_t n = strlen(r->path);
    if (!zmsg)
        zmsg = "error";
    if (strncmp(zmsg, r->path, n) == 0 && zmsg[n] == ':' && zmsg[n + 1] == ' ')
        zmsg += n + 2;
    char where[48] = "in its first line";
    if (r->line > 0)
        snprintf(where, sizeof where, "after line %ld", r->line);
    pf_gaia_fail(r, err, PF_EIO, "%s: truncated or corrupt compressed data %s (zlib: %s)", r->path,
                 where, zmsg);
}

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
            zlib_fail(r, err, zmsg);
        return n;
    }
    if (room > (1u << 30))
        room = 1u << 30;
    int n = gzread(r->gz, r->buf + r->end, (unsigned)room);
    int zerr = 0;
    const char *zmsg = gzerror(r->gz, &zerr);
    if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
        zlib_fail(r, err, zmsg);
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

/* ---- ECSV units ---------------------------------------------------------------- */

/* [s, s + n) without surrounding spaces and quotes, as a new string (NULL: no memory). */
static char *yaml_scalar(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= 2 && (*s == '\'' || *s == '"') && s[n - 1] == *s)
        s++, n -= 2;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* "key: value" of the current item of the datatype list; only name and unit matter.
 * Returns -1 when out of memory. */
static int ecsv_item_key(pf_gaia_reader *r, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    if (!colon || r->nunits == 0)
        return 0;
    char *key = yaml_scalar(s, (size_t)(colon - s));
    if (!key)
        return -1;
    char **slot = strcmp(key, "name") == 0 ? &r->unit_col[r->nunits - 1]
                  : strcmp(key, "unit") == 0 ? &r->unit[r->nunits - 1] : NULL;
    free(key);
    if (!slot || *slot)
        return 0;
    *slot = yaml_scalar(colon + 1, n - (size_t)(colon + 1 - s));
    return *slot ? 0 : -1;
}

/* A new item of the datatype list, "- {name: ra, unit: deg, ...}", "- name: ra" or "-"
 * (the block forms continue on the next lines); `s` follows the dash. Returns -1 when out of memory. */
static int ecsv_item(pf_gaia_reader *r, const char *s, size_t n)
{
    char **a = realloc(r->unit_col, (r->nunits + 1) * sizeof *a);
    if (a)
        r->unit_col = a;
    char **b = realloc(r->unit, (r->nunits + 1) * sizeof *b);
    if (b)
        r->unit = b;
    if (!a || !b)
        return -1;
    r->unit_col[r->nunits] = r->unit[r->nunits] = NULL;
    r->nunits++;
    while (n && *s == ' ')
        s++, n--;
    if (!n || *s != '{')
        return ecsv_item_key(r, s, n);
    /* flow form: split at the commas outside quotes and brackets */
    const char *e = s + n, *k = s + 1;
    int depth = 0;
    char quote = 0;
    for (const char *p = s + 1; p < e; p++) {
        if (quote) {
            quote = *p == quote ? 0 : quote;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '[' || *p == '{') {
            depth++;
        } else if ((*p == ']' || *p == '}') && depth > 0) {
            depth--;
        } else if ((*p == ',' || *p == '}') && depth == 0) {
            if (ecsv_item_key(r, k, (size_t)(p - k)) < 0)
                return -1;
            k = p + 1;
            if (*p == '}')
                break;
        }
    }
    return 0;
}

/* The `datatype:` list of an ECSV header: each column's name and unit. Returns -1 when
 * out of memory. */
static int ecsv_datatype_line(pf_gaia_reader *r, const char *s, size_t len)
{
    const char *c = s + 1, *e = s + len; /* after the '#' */
    if (c < e && *c == ' ')
        c++;
    size_t indent = 0;
    while (c + indent < e && c[indent] == ' ')
        indent++;
    const char *t = c + indent;
    size_t n = (size_t)(e - t);
    /* an item: "- ..." or a bare "-" whose keys follow on the next lines */
    int dash = n >= 1 && t[0] == '-' && (n == 1 || t[1] == ' ');
    if (indent == 0 && !dash) { /* a top-level key */
        r->in_datatype = n >= 9 && memcmp(t, "datatype:", 9) == 0;
        r->item_indent = -1;
        return 0;
    }
    if (!r->in_datatype)
        return 0;
    if (dash && (r->item_indent < 0 || (size_t)r->item_indent == indent)) {
        r->item_indent = (int)indent; /* the items' indentation: set by the first */
        return ecsv_item(r, t + 1, n - 1);
    }
    if (r->item_indent >= 0 && indent == (size_t)r->item_indent + 2)
        return ecsv_item_key(r, t, n);
    return 0;
}

static int text_unit(pf_gaia_reader *r, size_t j, const char *file_name, char *buf, size_t len)
{
    (void)j;
    for (size_t k = 0; k < r->nunits; k++)
        if (r->unit_col[k] && r->unit[k] && strcmp(r->unit_col[k], file_name) == 0) {
            snprintf(buf, len, "%s", r->unit[k]);
            return 1;
        }
    return 0;
}

/* ---- the header line ------------------------------------------------------------- */

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
            if (ecsv_datatype_line(r, s, len) < 0)
                return pf_gaia_fail(r, err, PF_ENOMEM, "%s: out of memory", r->path);
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
    r->fields = calloc(nf, sizeof *r->fields);
    if (!h.names || !h.lens || !r->map || !r->fields) {
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
        r->nfields = h.n;
        if (!(r->fields[h.n - 1] = yaml_scalar(h.names[h.n - 1], h.lens[h.n - 1]))) {
            free(h.names);
            free(h.lens);
            return pf_gaia_fail(r, err, PF_ENOMEM, "%s: out of memory", r->path);
        }
    }
    int st = pf_gaia_resolve(r, find_field, bind_field, &h, err);
    if (st == PF_OK)
        st = pf_gaia_units(r, text_unit, err);
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
                return pf_gaia_fail(r, err, PF_EFORMAT, "%s:%ld: column '%s' (field %zu): "
                                    "unterminated quote or text after a closing quote", r->path,
                                    r->line, f < r->nfields ? r->fields[f] : "(none)", f + 1);
            if (f >= r->nfields) {
                f++;
                while (p <= e && split_field(&p, e, r->delim, &fs, &fl) == 0)
                    f++;
                return pf_gaia_fail(r, err, PF_EFORMAT, "%s:%ld: %zu fields, but the header has "
                                    "%zu: the row goes on after column '%s', the last", r->path,
                                    r->line, f, r->nfields, r->fields[r->nfields - 1]);
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
            return pf_gaia_fail(r, err, PF_EFORMAT, "%s:%ld: %zu fields, but the header has %zu: "
                                "the row ends before column '%s'", r->path, r->line, f,
                                r->nfields, r->fields[f]);
        i++;
    }
    c->n = i;
    return PF_OK;
}

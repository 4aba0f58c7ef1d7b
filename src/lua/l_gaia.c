/*
 * l_gaia.c -- phaseflow.core.gaia: the chunked Gaia table reader as a Lua userdata.
 *
 *   local r = core.gaia.open(path, {columns = {...}, optional = {...}, chunk = 100000})
 *   local c = r:next()   -- a chunk table, or nil at the end of the file
 *   r:close()            -- also __gc / __close; idempotent
 *
 * A chunk table holds one 1-D pf.array per requested column, keyed by the requested
 * name (NaN where missing), plus
 *   n          rows in this chunk
 *   missing    {name = count of missing values}
 *   source     {name = the file's column it came from} (absent for an optional column
 *              not in the file)
 *   first_row  1-based row of the file at which the chunk starts
 *   file       the path
 * and, for identifier columns (source_id, solution_id, random_index), a Lua table of
 * integers under the name instead of an array (0 where missing; a double cannot hold
 * a 19-digit source_id).
 *
 * The reader userdata owns the C reader and one C chunk buffer (bounded by `chunk`
 * rows); every :next() copies the rows into fresh arrays the collector owns.
 */
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "pf_lua.h"
#include "phaseflow/gaia.h"

#define READER_MT "phaseflow.gaia.reader"

typedef struct {
    pf_gaia_reader *r;
    pf_gaia_chunk *c;
    char *path;
} lreader;

static int r_close(lua_State *L)
{
    lreader *u = (lreader *)luaL_checkudata(L, 1, READER_MT);
    pf_gaia_reader_free(u->r);
    pf_gaia_chunk_free(u->c);
    free(u->path);
    u->r = NULL;
    u->c = NULL;
    u->path = NULL;
    return 0;
}

static lreader *check_open(lua_State *L)
{
    lreader *u = (lreader *)luaL_checkudata(L, 1, READER_MT);
    if (!u->r)
        luaL_error(L, "gaia reader: the reader is closed");
    return u;
}

/* Read a list of strings at table index `t` into names[*n ...]; skip duplicates. */
static void add_names(lua_State *L, int t, const char *what, const char **names, size_t *n)
{
    lua_Integer len = luaL_len(L, t);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_geti(L, t, i);
        if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
            luaL_error(L, "pf.gaia.open: %s[%d] must be a non-empty column name, got %s", what,
                       (int)i, luaL_typename(L, -1));
        const char *s = lua_tostring(L, -1);
        lua_pop(L, 1); /* still anchored by the table */
        int dup = 0;
        for (size_t k = 0; k < *n; k++)
            dup |= strcmp(names[k], s) == 0;
        if (dup)
            continue;
        if (*n >= PF_GAIA_MAXCOL)
            luaL_error(L, "pf.gaia.open: at most %d columns", PF_GAIA_MAXCOL);
        names[(*n)++] = s;
    }
}

/* open(path, {columns = {...}, optional = {...}, chunk = n}) -> reader */
static int g_open(lua_State *L)
{
    static const char *const allowed[] = {"columns", "optional", "chunk", NULL};
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    pf_lua_checkopts(L, 2, "pf.gaia.open", allowed);
    lua_Integer chunk = pf_lua_optintfield(L, 2, "chunk", PF_GAIA_DEFAULT_CHUNK);
    luaL_argcheck(L, chunk >= 1 && chunk <= 100000000, 2, "chunk must be 1..1e8 rows");
    const char **nm = (const char **)lua_newuserdatauv(L, PF_GAIA_MAXCOL * sizeof(char *), 0);
    unsigned char *opt = (unsigned char *)lua_newuserdatauv(L, PF_GAIA_MAXCOL, 0);
    size_t n = 0;
    if (lua_getfield(L, 2, "columns") != LUA_TTABLE)
        luaL_error(L, "pf.gaia.open: option 'columns' must be a list of column names");
    add_names(L, lua_gettop(L), "columns", nm, &n);
    size_t nreq = n;
    if (lua_getfield(L, 2, "optional") == LUA_TTABLE)
        add_names(L, lua_gettop(L), "optional", nm, &n);
    else if (!lua_isnil(L, -1))
        luaL_error(L, "pf.gaia.open: option 'optional' must be a list of column names");
    if (n == 0)
        luaL_error(L, "pf.gaia.open: option 'columns' names no column");
    memset(opt, 0, PF_GAIA_MAXCOL);
    for (size_t j = nreq; j < n; j++)
        opt[j] = 1;
    /* a name in both lists stays required (add_names skipped the duplicate) */
    pf_gaia_opts o = {nm, n, opt, (size_t)chunk};

    lreader *u = (lreader *)lua_newuserdatauv(L, sizeof *u, 0);
    u->r = NULL;
    u->c = NULL;
    u->path = NULL;
    luaL_setmetatable(L, READER_MT);
    u->c = pf_gaia_chunk_alloc(&o);
    if (!u->c)
        return luaL_error(L, "pf.gaia.open: out of memory for a chunk of %d rows", (int)chunk);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_gaia_reader_open(&u->r, path, &o, &err);
    if (st)
        return pf_lua_fail(L, "pf.gaia.open", st, &err);
    u->path = strdup(path);
    return 1;
}

static int r_next(lua_State *L)
{
    lreader *u = check_open(L);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_gaia_reader_next(u->r, u->c, &err);
    if (st)
        return pf_lua_fail(L, "pf.gaia", st, &err);
    pf_gaia_chunk *c = u->c;
    if (c->n == 0) {
        lua_pushnil(L);
        return 1;
    }
    size_t n = c->n;
    lua_createtable(L, 0, (int)c->ncol + 5);
    int t = lua_gettop(L);
    lua_newtable(L); /* missing */
    lua_newtable(L); /* source */
    for (size_t j = 0; j < c->ncol; j++) {
        if (c->ival[j]) {
            lua_createtable(L, (int)n, 0);
            for (size_t i = 0; i < n; i++) {
                lua_pushinteger(L, (lua_Integer)c->ival[j][i]);
                lua_rawseti(L, -2, (lua_Integer)i + 1);
            }
        } else {
            pf_array *a = pf_lua_newarray1(L, n);
            memcpy(a->data, c->val[j], n * sizeof(double));
        }
        lua_setfield(L, t, c->names[j]);
        lua_pushinteger(L, (lua_Integer)c->nmiss[j]);
        lua_setfield(L, t + 1, c->names[j]);
        const char *src = pf_gaia_reader_source(u->r, j);
        if (src) {
            lua_pushstring(L, src);
            lua_setfield(L, t + 2, c->names[j]);
        }
    }
    lua_setfield(L, t, "source");
    lua_setfield(L, t, "missing");
    lua_pushinteger(L, (lua_Integer)n);
    lua_setfield(L, t, "n");
    lua_pushinteger(L, (lua_Integer)c->first_row + 1);
    lua_setfield(L, t, "first_row");
    lua_pushstring(L, u->path);
    lua_setfield(L, t, "file");
    return 1;
}

/* reader:nrows() -> rows of a FITS table, or nil for text (unknown in advance) */
static int r_nrows(lua_State *L)
{
    lreader *u = check_open(L);
    long long n = pf_gaia_reader_nrows(u->r);
    if (n < 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static int r_tostring(lua_State *L)
{
    lreader *u = (lreader *)luaL_checkudata(L, 1, READER_MT);
    if (u->r)
        lua_pushfstring(L, "gaia reader (%s)", u->path ? u->path : "?");
    else
        lua_pushliteral(L, "gaia reader (closed)");
    return 1;
}

/* glob(pattern) -> sorted list of matching paths (empty if none) */
static int g_glob(lua_State *L)
{
    const char *pat = luaL_checkstring(L, 1);
    glob_t g;
    memset(&g, 0, sizeof g);
    int st = glob(pat, 0, NULL, &g);
    lua_newtable(L);
    if (st == 0)
        for (size_t i = 0; i < g.gl_pathc; i++) {
            lua_pushstring(L, g.gl_pathv[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
    globfree(&g);
    if (st != 0 && st != GLOB_NOMATCH)
        return luaL_error(L, "pf.gaia.glob: cannot expand '%s'", pat);
    return 1;
}

/* isdir(path) -> true if path is a directory */
static int g_isdir(lua_State *L)
{
    struct stat sb;
    lua_pushboolean(L, stat(luaL_checkstring(L, 1), &sb) == 0 && S_ISDIR(sb.st_mode));
    return 1;
}

/* scan(path) -> bytes, lines: inflate the whole file, parse nothing (benchmarks) */
static int g_scan(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t bytes, lines;
    pf_err err;
    pf_err_clear(&err);
    int st = pf_gaia_scan(path, &bytes, &lines, &err);
    if (st)
        return pf_lua_fail(L, "pf.gaia.scan", st, &err);
    lua_pushinteger(L, (lua_Integer)bytes);
    lua_pushinteger(L, (lua_Integer)lines);
    return 2;
}

/* [-0, +1] The mask at `arg` as contiguous doubles; *n receives its length. */
static const double *check_mask(lua_State *L, int arg, size_t *n)
{
    pf_lua_checkshape(L, arg, 1, PF_ANY, PF_ANY);
    pf_array *m = pf_lua_contiguous(L, arg);
    *n = m->shape[0];
    return m->data;
}

/* pick(x, mask) -> the rows of x where the 1-D array mask is non-zero, in order. x is
 * a pf.array (rows along its first dimension: a column, or N x 3, N x 21) or a Lua
 * list (an integer column such as source_id). One pass in C: the subset of a chunk
 * without a Lua loop per row. */
static int g_pick(lua_State *L)
{
    size_t n;
    const double *m = check_mask(L, 2, &n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += m[i] != 0.0;
    pf_array *a = pf_lua_testarray(L, 1);
    if (a) {
        luaL_argcheck(L, a->shape[0] == n, 1, "rows of the array and mask length differ");
        a = pf_lua_contiguous(L, 1);
        size_t shape[PF_MAXDIM], width = 1;
        for (int d = 0; d < a->ndim; d++) {
            shape[d] = a->shape[d];
            if (d > 0)
                width *= a->shape[d];
        }
        shape[0] = k;
        pf_array *out = pf_lua_newarray(L, a->ndim, shape);
        pf_gaia_take_rows(a->data, n, width, m, out->data);
        return 1;
    }
    luaL_argexpected(L, lua_type(L, 1) == LUA_TTABLE, 1, "pf.array or list");
    luaL_argcheck(L, (size_t)luaL_len(L, 1) == n, 1, "list and mask lengths differ");
    lua_createtable(L, (int)k, 0);
    lua_Integer o = 0;
    for (size_t i = 0; i < n; i++)
        if (m[i] != 0.0) {
            lua_rawgeti(L, 1, (lua_Integer)i + 1);
            lua_rawseti(L, -2, ++o);
        }
    return 1;
}

/* where(cat, clauses [, in]) -> mask (1-D, 1 = keep). clauses: a list of
 * {column, op [, value]}: column a name in cat or a pf.array of n rows (an N x k
 * array compares the length of its rows), op one of "finite", "<", "<=", ">", ">=".
 * `in` (optional mask) is ANDed. One pass over the rows in C. */
static int g_where(lua_State *L)
{
    static const char *const ops[] = {"finite", "<", "<=", ">", ">=", NULL};
    static const int codes[] = {PF_GAIA_FINITE, PF_GAIA_LT, PF_GAIA_LE, PF_GAIA_GT,
                                PF_GAIA_GE};
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer nc = luaL_len(L, 2);
    luaL_argcheck(L, nc >= 1 && nc <= 64, 2, "1 to 64 clauses");
    lua_getfield(L, 1, "n");
    int isnum;
    lua_Integer n = lua_tointegerx(L, -1, &isnum);
    lua_pop(L, 1);
    luaL_argcheck(L, isnum && n >= 0, 1, "catalogue without a row count n");
    const double *in = NULL;
    if (!lua_isnoneornil(L, 3)) {
        size_t m;
        in = check_mask(L, 3, &m);
        luaL_argcheck(L, m == (size_t)n, 3, "mask length differs from cat.n");
    }
    lua_settop(L, 3);
    luaL_checkstack(L, (int)nc + 4, "too many clauses");
    pf_gaia_clause c[64];
    for (lua_Integer i = 0; i < nc; i++) {
        lua_geti(L, 2, i + 1);
        int t = lua_gettop(L);
        if (!lua_istable(L, t))
            return luaL_error(L, "where: clause %d must be a table {column, op [, value]}",
                              (int)i + 1);
        lua_geti(L, t, 1);
        const char *name = NULL;
        if (lua_type(L, -1) == LUA_TSTRING) {
            name = lua_tostring(L, -1);
            lua_getfield(L, 1, name);
            lua_remove(L, -2);
        }
        pf_array *a = pf_lua_testarray(L, -1);
        if (!a)
            return luaL_error(L, "where: clause %d: %s%s%s is not a column of the catalogue",
                              (int)i + 1, name ? "'" : "", name ? name : "its first element",
                              name ? "'" : "");
        if (a->shape[0] != (size_t)n || a->ndim > 2)
            return luaL_error(L, "where: clause %d: %d rows (or more than 2 dimensions), "
                              "expected %d", (int)i + 1, (int)a->shape[0], (int)n);
        a = pf_lua_contiguous(L, lua_gettop(L)); /* stays on the stack: alive */
        lua_geti(L, t, 2);
        const char *op = lua_tostring(L, -1);
        int k = -1;
        for (int o = 0; op && ops[o]; o++)
            if (strcmp(op, ops[o]) == 0)
                k = o;
        if (k < 0)
            return luaL_error(L, "where: clause %d: op must be finite, <, <=, > or >=",
                              (int)i + 1);
        lua_pop(L, 1);
        lua_geti(L, t, 3);
        double value = lua_tonumberx(L, -1, &isnum);
        if (!isnum && codes[k] != PF_GAIA_FINITE)
            return luaL_error(L, "where: clause %d: a number to compare with is needed",
                              (int)i + 1);
        lua_pop(L, 1);
        lua_remove(L, t); /* the clause table; the array stays */
        c[i].x = a->data;
        c[i].k = a->ndim == 2 ? a->shape[1] : 1;
        c[i].op = codes[k];
        c[i].value = value;
    }
    pf_array *mask = pf_lua_newarray1(L, (size_t)n);
    pf_gaia_where((size_t)n, c, (size_t)nc, in, mask->data);
    return 1;
}

/* parse_number(text) -> the number (bit-equal to strtod) or nil: exposes the reader's
 * number parser to tests. */
static int g_parse_number(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    double v;
    if (pf_gaia_parse_double(s, len, &v))
        lua_pushnil(L);
    else
        lua_pushnumber(L, v);
    return 1;
}

int pf_open_gaia(lua_State *L)
{
    static const luaL_Reg meth[] = {{"next", r_next}, {"close", r_close}, {"nrows", r_nrows},
                                    {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", r_close}, {"__close", r_close},
                                    {"__tostring", r_tostring}, {NULL, NULL}};
    static const luaL_Reg funcs[] = {{"open", g_open}, {"glob", g_glob}, {"isdir", g_isdir},
                                     {"parse_number", g_parse_number}, {"pick", g_pick}, {"scan", g_scan},
                                     {"where", g_where},
                                     {NULL, NULL}};
    pf_lua_newclass(L, READER_MT, meth, meta);
    return pf_lua_newmodule(L, funcs, NULL);
}

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

int pf_open_gaia(lua_State *L);

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

/* pick(list, mask) -> the elements of the Lua list where the 1-D array mask is non-zero,
 * in order: the subset of an integer column (source_id) without a Lua loop per row. */
static int g_pick(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    pf_array *m = pf_lua_checkshape(L, 2, 1, PF_ANY, PF_ANY);
    m = pf_lua_contiguous(L, 2);
    lua_Integer n = (lua_Integer)m->shape[0];
    luaL_argcheck(L, luaL_len(L, 1) == n, 1, "list and mask lengths differ");
    size_t k = 0;
    for (lua_Integer i = 0; i < n; i++)
        k += m->data[i] != 0.0;
    lua_createtable(L, (int)k, 0);
    lua_Integer o = 0;
    for (lua_Integer i = 0; i < n; i++)
        if (m->data[i] != 0.0) {
            lua_rawgeti(L, 1, i + 1);
            lua_rawseti(L, -2, ++o);
        }
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
                                     {NULL, NULL}};
    luaL_newmetatable(L, READER_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, meth);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}

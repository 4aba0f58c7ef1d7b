/*
 * l_h5.c -- pf.h5: arrays and attributes in HDF5 files.
 *
 *   pf.h5.write(file, path, array [, attrs])      float64, gzip; parents created
 *   local a, attrs = pf.h5.read(file, path)
 *   pf.h5.attrs(file, path) -> table;  pf.h5.set_attrs(file, path, table)
 *   pf.h5.list(file [, group]) -> { {name =, kind = "group"|"dataset"|"other"}, ... }
 *   pf.h5.mkgroup, exists, delete, write_bytes/read_bytes, write_int64/read_int64,
 *   write_strings/read_strings (1-D lists of UTF-8 strings)
 * Attributes: a Lua integer is stored as int64, other numbers (and booleans) as float64.
 *   pf.h5.create_fixed(file, path, shape [, "float64"|"uint8"]): storage allocated now;
 *   pf.h5.write_rows(file, path, first, array|bytes) then writes into it in place, changing
 *   no metadata (crash-safe appends); pf.h5.storage(file, path) -> offset, size in bytes
 *
 * The core allocates attribute and listing results with malloc; they are freed here
 * before any Lua error can be raised from the values (they are first copied onto the
 * Lua stack), so an error never leaks them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pf_lua.h"
#include "phaseflow/h5.h"

/* Whole numbers come back as Lua integers (seeds, counts), others as floats. */
static void push_num(lua_State *L, double x)
{
    if (x == floor(x) && fabs(x) < 9007199254740992.0)
        lua_pushinteger(L, (lua_Integer)x);
    else
        lua_pushnumber(L, x);
}

static int h5_fail(lua_State *L, const char *fname, int st, pf_err *err)
{
    return pf_lua_fail(L, fname, st, err);
}

/* Write one attribute from the value at stack index `v`. */
static void set_attr(lua_State *L, const char *fname, const char *file, const char *path,
                     const char *name, int v)
{
    pf_err err;
    pf_err_clear(&err);
    int st = PF_OK;
    v = lua_absindex(L, v);
    switch (lua_type(L, v)) {
    case LUA_TNUMBER: {
        if (lua_isinteger(L, v)) {
            int64_t k = (int64_t)lua_tointeger(L, v);
            st = pf_h5_attr_write_int64(file, path, name, &k, 1, &err);
            break;
        }
        double x = lua_tonumber(L, v);
        st = pf_h5_attr_write_numbers(file, path, name, &x, 1, &err);
        break;
    }
    case LUA_TBOOLEAN: {
        double x = lua_toboolean(L, v);
        st = pf_h5_attr_write_numbers(file, path, name, &x, 1, &err);
        break;
    }
    case LUA_TSTRING:
        st = pf_h5_attr_write_string(file, path, name, lua_tostring(L, v), &err);
        break;
    case LUA_TTABLE: {
        lua_Integer n = luaL_len(L, v);
        if (n < 1)
            luaL_error(L, "%s: attribute '%s': an empty table cannot be stored", fname, name);
        double *x = (double *)lua_newuserdatauv(L, (size_t)n * sizeof(double), 0);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, v, i);
            int isnum;
            x[i - 1] = lua_tonumberx(L, -1, &isnum);
            if (!isnum)
                luaL_error(L, "%s: attribute '%s': element %d is not a number", fname, name,
                           (int)i);
            lua_pop(L, 1);
        }
        st = pf_h5_attr_write_numbers(file, path, name, x, (size_t)n, &err);
        lua_pop(L, 1);
        break;
    }
    case LUA_TUSERDATA: {
        pf_array *a = pf_lua_testarray(L, v);
        if (a && a->ndim == 1 && a->size > 0) {
            double *x = (double *)lua_newuserdatauv(L, a->size * sizeof(double), 0);
            pf_array_pack(a, x);
            st = pf_h5_attr_write_numbers(file, path, name, x, a->size, &err);
            lua_pop(L, 1);
            break;
        }
    }
    /* fall through */
    default:
        luaL_error(L, "%s: attribute '%s': number, boolean, string, list of numbers or 1-D "
                   "array expected, got %s", fname, name, luaL_typename(L, v));
    }
    if (st)
        h5_fail(L, fname, st, &err);
}

static void set_attrs(lua_State *L, const char *fname, const char *file, const char *path,
                      int t)
{
    if (lua_isnoneornil(L, t))
        return;
    t = lua_absindex(L, t);
    luaL_checktype(L, t, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "%s: attribute names must be strings", fname);
        set_attr(L, fname, file, path, lua_tostring(L, -2), -1);
        lua_pop(L, 1);
    }
}

/* [-0, +1] Push the attributes of `path` as a table. */
static void push_attrs(lua_State *L, const char *fname, const char *file, const char *path)
{
    pf_h5_attr *at;
    size_t n;
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_attrs_read(file, path, &at, &n, &err);
    if (st)
        h5_fail(L, fname, st, &err);
    if (!lua_checkstack(L, 8)) {
        pf_h5_attrs_free(at, n);
        luaL_error(L, "%s: stack overflow", fname);
    }
    lua_createtable(L, 0, (int)n);
    for (size_t i = 0; i < n; i++) {
        if (at[i].kind == PF_H5_STRING) {
            lua_pushlstring(L, at[i].str, at[i].n);
        } else if (at[i].kind == PF_H5_NUMBERS && at[i].n == 1) {
            push_num(L, at[i].num[0]);
        } else if (at[i].kind == PF_H5_NUMBERS) {
            lua_createtable(L, (int)at[i].n, 0);
            for (size_t k = 0; k < at[i].n; k++) {
                push_num(L, at[i].num[k]);
                lua_rawseti(L, -2, (lua_Integer)k + 1);
            }
        } else {
            continue;
        }
        lua_setfield(L, -2, at[i].name);
    }
    pf_h5_attrs_free(at, n);
}

static int h5_write(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    pf_array *a = pf_lua_checkarray(L, 3);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TTABLE);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_write(file, path, a, &err);
    if (st)
        return h5_fail(L, "pf.h5.write", st, &err);
    set_attrs(L, "pf.h5.write", file, path, 4);
    return 0;
}

/* The rank and shape of a dataset, or a Lua error naming the file and path. */
static void dataset_shape(lua_State *L, const char *fname, const char *file, const char *path,
                          int *ndim, size_t *shape)
{
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_shape(file, path, ndim, shape, &err);
    if (st)
        h5_fail(L, fname, st, &err);
}

static int h5_read(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    int ndim;
    size_t shape[PF_MAXDIM];
    pf_err err;
    pf_err_clear(&err);
    dataset_shape(L, "pf.h5.read", file, path, &ndim, shape);
    pf_array *a = pf_lua_newarray(L, ndim, shape);
    int st = pf_h5_read(file, path, a->data, a->size, &err);
    if (st)
        return h5_fail(L, "pf.h5.read", st, &err);
    push_attrs(L, "pf.h5.read", file, path);
    return 2;
}

static int h5_attrs(lua_State *L)
{
    push_attrs(L, "pf.h5.attrs", luaL_checkstring(L, 1), luaL_checkstring(L, 2));
    return 1;
}

static int h5_set_attrs(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    set_attrs(L, "pf.h5.set_attrs", file, path, 3);
    return 0;
}

static int h5_list(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_optstring(L, 2, "/");
    pf_h5_member *m;
    size_t n;
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_list(file, path, &m, &n, &err);
    if (st)
        return h5_fail(L, "pf.h5.list", st, &err);
    static const char *const kinds[] = {"group", "dataset", "other"};
    if (!lua_checkstack(L, 8)) {
        pf_h5_list_free(m);
        return luaL_error(L, "pf.h5.list: stack overflow");
    }
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, m[i].name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, kinds[m[i].kind]);
        lua_setfield(L, -2, "kind");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    pf_h5_list_free(m);
    return 1;
}

static int h5_mkgroup(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_mkgroup(file, path, &err);
    if (st)
        return h5_fail(L, "pf.h5.mkgroup", st, &err);
    set_attrs(L, "pf.h5.mkgroup", file, path, 3);
    return 0;
}

static int h5_exists(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_optstring(L, 2, "/");
    int e = pf_h5_exists(file, path);
    if (e < 0)
        return luaL_error(L, "pf.h5.exists: '%s' is not a readable HDF5 file", file);
    lua_pushboolean(L, e);
    return 1;
}

static int h5_delete(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_delete(file, path, &err);
    if (st)
        return h5_fail(L, "pf.h5.delete", st, &err);
    return 0;
}

static int h5_write_bytes(lua_State *L)
{
    lua_settop(L, 4);
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    size_t n;
    const char *s = luaL_checklstring(L, 3, &n);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_write_bytes(file, path, s, n, &err);
    if (st)
        return h5_fail(L, "pf.h5.write_bytes", st, &err);
    set_attrs(L, "pf.h5.write_bytes", file, path, 4);
    return 0;
}

static int h5_read_bytes(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    size_t n;
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_read_bytes(file, path, NULL, 0, &n, &err);
    if (st)
        return h5_fail(L, "pf.h5.read_bytes", st, &err);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, n ? n : 1);
    st = pf_h5_read_bytes(file, path, p, n, &n, &err);
    if (st)
        return h5_fail(L, "pf.h5.read_bytes", st, &err);
    luaL_pushresultsize(&b, n);
    return 1;
}

/* write_strings(file, path, list_of_strings [, attrs]) */
static int h5_write_strings(lua_State *L)
{
    lua_settop(L, 4);
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 3);
    const char **v = (const char **)lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(char *),
                                                      0);
    for (lua_Integer i = 1; i <= n; i++) {
        /* the strings stay alive in the table at index 3 */
        if (lua_geti(L, 3, i) != LUA_TSTRING)
            return luaL_error(L, "pf.h5.write_strings: element %d is not a string", (int)i);
        v[i - 1] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_write_strings(file, path, v, (size_t)n, &err);
    if (st)
        return h5_fail(L, "pf.h5.write_strings", st, &err);
    set_attrs(L, "pf.h5.write_strings", file, path, 4);
    return 0;
}

/* read_strings(file, path) -> list of strings, attributes */
static int h5_read_strings(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    char **s;
    size_t n;
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_read_strings(file, path, &s, &n, &err);
    if (st)
        return h5_fail(L, "pf.h5.read_strings", st, &err);
    if (!lua_checkstack(L, 4)) {
        pf_h5_strings_free(s, n);
        return luaL_error(L, "pf.h5.read_strings: stack overflow");
    }
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, s[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    pf_h5_strings_free(s, n);
    push_attrs(L, "pf.h5.read_strings", file, path);
    return 2;
}

/* write_int64(file, path, list_of_integers) */
static int h5_write_int64(lua_State *L)
{
    lua_settop(L, 4);
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 3);
    int64_t *v = (int64_t *)lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(int64_t), 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 3, i);
        int isint;
        v[i - 1] = (int64_t)lua_tointegerx(L, -1, &isint);
        if (!isint)
            return luaL_error(L, "pf.h5.write_int64: element %d is not an integer", (int)i);
        lua_pop(L, 1);
    }
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_write_int64(file, path, v, (size_t)n, &err);
    if (st)
        return h5_fail(L, "pf.h5.write_int64", st, &err);
    set_attrs(L, "pf.h5.write_int64", file, path, 4);
    return 0;
}

static int h5_read_int64(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    int ndim;
    size_t shape[PF_MAXDIM];
    pf_err err;
    pf_err_clear(&err);
    dataset_shape(L, "pf.h5.read_int64", file, path, &ndim, shape);
    size_t n = pf_shape_size(ndim, shape);
    int64_t *v = (int64_t *)lua_newuserdatauv(L, (n ? n : 1) * sizeof(int64_t), 0);
    int st = pf_h5_read_int64(file, path, v, n, &err);
    if (st)
        return h5_fail(L, "pf.h5.read_int64", st, &err);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* create_fixed(file, path, {n, m, ...} [, "float64" | "uint8"]) */
static int h5_create_fixed(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    static const char *const kinds[] = {"float64", "uint8", NULL};
    int kind = luaL_checkoption(L, 4, "float64", kinds);
    lua_Integer nd = luaL_len(L, 3);
    luaL_argcheck(L, nd >= 1 && nd <= PF_MAXDIM, 3, "1 to 8 extents expected");
    size_t shape[PF_MAXDIM];
    for (lua_Integer i = 1; i <= nd; i++) {
        lua_geti(L, 3, i);
        int isint;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < 0 || v > ((lua_Integer)1 << 48))
            return luaL_error(L, "pf.h5.create_fixed: extent %d must be an integer in 0..2^48",
                              (int)i);
        shape[i - 1] = (size_t)v;
        lua_pop(L, 1);
    }
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_create_fixed(file, path, kind, (int)nd, shape, &err);
    if (st)
        return h5_fail(L, "pf.h5.create_fixed", st, &err);
    return 0;
}

/* write_rows(file, path, first, array | string): rows from `first` (1-based) of a fixed
 * dataset; an array for float64, a string of bytes for uint8. */
static int h5_write_rows(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    lua_Integer first = luaL_checkinteger(L, 3);
    luaL_argcheck(L, first >= 1, 3, "first row must be >= 1");
    pf_err err;
    pf_err_clear(&err);
    int st;
    if (lua_type(L, 4) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, 4, &n);
        st = pf_h5_write_rows(file, path, PF_H5_UINT8, (size_t)first - 1, s, n, &err);
    } else {
        pf_array *a = pf_lua_checkarray(L, 4);
        const double *x = a->data;
        if (!pf_array_is_contiguous(a)) {
            double *tmp = (double *)lua_newuserdatauv(L, (a->size ? a->size : 1) * sizeof(double), 0);
            pf_array_pack(a, tmp);
            x = tmp;
        }
        st = pf_h5_write_rows(file, path, PF_H5_FLOAT64, (size_t)first - 1, x, a->size, &err);
    }
    if (st)
        return h5_fail(L, "pf.h5.write_rows", st, &err);
    return 0;
}

/* storage(file, path) -> byte offset, byte size of a dataset's storage in the file */
static int h5_storage(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    uint64_t off, size;
    pf_err err;
    pf_err_clear(&err);
    int st = pf_h5_storage(file, path, &off, &size, &err);
    if (st)
        return h5_fail(L, "pf.h5.storage", st, &err);
    lua_pushinteger(L, (lua_Integer)off);
    lua_pushinteger(L, (lua_Integer)size);
    return 2;
}

static int h5_open_count(lua_State *L)
{
    lua_pushinteger(L, pf_h5_open_count());
    return 1;
}

int pf_open_h5(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"write", h5_write}, {"read", h5_read}, {"attrs", h5_attrs},
        {"set_attrs", h5_set_attrs}, {"list", h5_list}, {"mkgroup", h5_mkgroup},
        {"exists", h5_exists}, {"delete", h5_delete}, {"write_bytes", h5_write_bytes},
        {"read_bytes", h5_read_bytes}, {"write_int64", h5_write_int64},
        {"write_strings", h5_write_strings}, {"read_strings", h5_read_strings},
        {"read_int64", h5_read_int64}, {"open_count", h5_open_count},
        {"create_fixed", h5_create_fixed}, {"write_rows", h5_write_rows},
        {"storage", h5_storage}, {NULL, NULL}};
    pf_h5_init();
    return pf_lua_newmodule(L, f, NULL);
}

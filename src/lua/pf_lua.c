/* pf_lua.c -- shared binding helpers: array userdata, class and module registration,
 * option tables, errors. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "pf_lua.h"

/* Data of an owning array starts 64-byte aligned after the descriptor, so SIMD
 * kernels see aligned rows. */
#define PF_ALIGN 64

pf_array *pf_lua_newarray(lua_State *L, int ndim, const size_t *shape)
{
    size_t n = pf_shape_size(ndim, shape);
    int empty = 0;
    for (int i = 0; i < ndim && ndim >= 1 && ndim <= PF_MAXDIM; i++)
        if (shape[i] == 0)
            empty = 1;
    if (n == 0 && !empty)
        luaL_error(L, "array: invalid shape (%d dimensions, or too many elements)", ndim);
    size_t bytes = sizeof(pf_array) + PF_ALIGN + n * sizeof(double);
    pf_array *a = (pf_array *)lua_newuserdatauv(L, bytes, 1);
    uintptr_t p = (uintptr_t)(a + 1);
    p = (p + PF_ALIGN - 1) & ~(uintptr_t)(PF_ALIGN - 1);
    pf_array_init(a, (double *)p, ndim, shape);
    if (n)
        memset(a->data, 0, n * sizeof(double));
    luaL_setmetatable(L, PF_ARRAY_MT);
    return a;
}

pf_array *pf_lua_newarray1(lua_State *L, size_t n)
{
    return pf_lua_newarray(L, 1, &n);
}

pf_array *pf_lua_newarray2(lua_State *L, size_t n, size_t m)
{
    size_t s[2] = {n, m};
    return pf_lua_newarray(L, 2, s);
}

pf_array *pf_lua_testarray(lua_State *L, int arg)
{
    return (pf_array *)luaL_testudata(L, arg, PF_ARRAY_MT);
}

pf_array *pf_lua_checkarray(lua_State *L, int arg)
{
    pf_array *a = pf_lua_testarray(L, arg);
    if (!a) {
        const char *msg = lua_pushfstring(L, "array expected, got %s", luaL_typename(L, arg));
        luaL_argerror(L, arg, msg);
    }
    return a;
}

void pf_lua_addshape(luaL_Buffer *b, int ndim, const size_t *shape)
{
    for (int i = 0; i < ndim; i++) {
        char tmp[32];
        if (shape[i] == PF_ANY)
            strcpy(tmp, "N");
        else
            snprintf(tmp, sizeof tmp, "%zu", shape[i]);
        if (i)
            luaL_addchar(b, 'x');
        luaL_addstring(b, tmp);
    }
}

/* "bad argument #arg (array of shape W expected, got G)": W is the `ndim` extents of
 * `want`, or "<ndim>-D" when want is NULL. */
static void shape_mismatch(lua_State *L, int arg, int ndim, const size_t *want,
                           const pf_array *got)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "array of shape ");
    if (want)
        pf_lua_addshape(&b, ndim, want);
    else
    {
        char t[16];
        snprintf(t, sizeof t, "%d-D", ndim);
        luaL_addstring(&b, t);
    }
    luaL_addstring(&b, " expected, got ");
    pf_lua_addshape(&b, got->ndim, got->shape);
    luaL_pushresult(&b);
    luaL_argerror(L, arg, lua_tostring(L, -1));
}

pf_array *pf_lua_checkshape(lua_State *L, int arg, int ndim, size_t n0, size_t n1)
{
    pf_array *a = pf_lua_checkarray(L, arg);
    int ok = a->ndim == ndim;
    if (ok && n0 != PF_ANY && a->shape[0] != n0)
        ok = 0;
    if (ok && ndim >= 2 && n1 != PF_ANY && a->shape[1] != n1)
        ok = 0;
    if (!ok) {
        size_t want[2] = {n0, n1};
        shape_mismatch(L, arg, ndim, ndim <= 2 ? want : NULL, a);
    }
    return a;
}

void pf_lua_checksameshape(lua_State *L, const pf_array *a, int arg, const pf_array *b)
{
    if (!pf_array_same_shape(a, b))
        shape_mismatch(L, arg, a->ndim, a->shape, b);
}

pf_array *pf_lua_newlike(lua_State *L, const pf_array *a)
{
    return pf_lua_newarray(L, a->ndim, a->shape);
}

pf_array *pf_lua_contiguous(lua_State *L, int arg)
{
    arg = lua_absindex(L, arg);
    pf_array *a = pf_lua_checkarray(L, arg);
    if (pf_array_is_contiguous(a))
        return a;
    pf_array *c = pf_lua_newarray(L, a->ndim, a->shape);
    pf_array_pack(a, c->data);
    lua_replace(L, arg);
    return c;
}

void pf_lua_newclass(lua_State *L, const char *mtname, const luaL_Reg *methods,
                     const luaL_Reg *meta)
{
    luaL_newmetatable(L, mtname);
    if (meta)
        luaL_setfuncs(L, meta, 0);
    if (lua_getfield(L, -1, "methods") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "methods");
    }
    if (methods)
        luaL_setfuncs(L, methods, 0);
    if (lua_getfield(L, -2, "__index") == LUA_TNIL) {
        lua_pushvalue(L, -2);
        lua_setfield(L, -4, "__index");
    }
    lua_pop(L, 3);
}

void **pf_lua_newhandle(lua_State *L, const char *mt)
{
    void **slot = (void **)lua_newuserdatauv(L, sizeof(void *), 0);
    *slot = NULL;
    luaL_setmetatable(L, mt);
    return slot;
}

void *pf_lua_tohandle(lua_State *L, int arg, const char *mt)
{
    return *(void **)luaL_checkudata(L, arg, mt);
}

void *pf_lua_checkhandle(lua_State *L, int arg, const char *mt, const char *what)
{
    void *p = pf_lua_tohandle(L, arg, mt);
    if (!p)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s has been freed", what));
    return p;
}

void *pf_lua_takehandle(lua_State *L, int arg, const char *mt)
{
    void **slot = (void **)luaL_checkudata(L, arg, mt);
    void *p = *slot;
    *slot = NULL;
    return p;
}

int pf_lua_newmodule(lua_State *L, const luaL_Reg *funcs, const char *class_mt)
{
    lua_newtable(L);
    if (funcs)
        luaL_setfuncs(L, funcs, 0);
    if (class_mt) {
        luaL_getmetatable(L, class_mt);
        lua_getfield(L, -1, "methods");
        lua_setfield(L, -3, "methods");
        lua_pop(L, 1);
    }
    return 1;
}

int pf_lua_fail(lua_State *L, const char *fname, int status, const pf_err *err)
{
    if (err && err->msg[0])
        return luaL_error(L, "%s: %s", fname, err->msg);
    return luaL_error(L, "%s: %s", fname, pf_strerror(status));
}

void pf_lua_checkopts(lua_State *L, int idx, const char *fname, const char *const allowed[])
{
    if (lua_isnoneornil(L, idx))
        return;
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            luaL_error(L, "%s: option keys must be names, got a %s key", fname,
                       luaL_typename(L, -1));
        }
        const char *k = lua_tostring(L, -1);
        int found = 0;
        for (int i = 0; allowed[i]; i++)
            if (strcmp(k, allowed[i]) == 0)
                found = 1;
        if (!found) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int i = 0; allowed[i]; i++) {
                if (i)
                    luaL_addstring(&b, ", ");
                luaL_addstring(&b, allowed[i]);
            }
            luaL_pushresult(&b);
            luaL_error(L, "%s: unknown option '%s' (known: %s)", fname, k, lua_tostring(L, -1));
        }
    }
}

static int getfield(lua_State *L, int idx, const char *key)
{
    if (lua_isnoneornil(L, idx))
        return LUA_TNIL;
    return lua_getfield(L, idx, key);
}

double pf_lua_optnumfield(lua_State *L, int idx, const char *key, double def)
{
    idx = lua_absindex(L, idx);
    int t = getfield(L, idx, key);
    if (t == LUA_TNIL) {
        if (!lua_isnoneornil(L, idx))
            lua_pop(L, 1);
        return def;
    }
    int isnum;
    double v = lua_tonumberx(L, -1, &isnum);
    if (!isnum)
        luaL_error(L, "option '%s': number expected, got %s", key, luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

lua_Integer pf_lua_optintfield(lua_State *L, int idx, const char *key, lua_Integer def)
{
    idx = lua_absindex(L, idx);
    int t = getfield(L, idx, key);
    if (t == LUA_TNIL) {
        if (!lua_isnoneornil(L, idx))
            lua_pop(L, 1);
        return def;
    }
    int isnum;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!isnum)
        luaL_error(L, "option '%s': integer expected, got %s", key,
                   lua_type(L, -1) == LUA_TNUMBER ? "a non-integer number" : luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

int pf_lua_optintfield_int(lua_State *L, int idx, const char *key, int def)
{
    lua_Integer v = pf_lua_optintfield(L, idx, key, def);
    if (v < INT_MIN || v > INT_MAX)
        luaL_error(L, "option '%s': %I is out of range (%d to %d)", key, v, INT_MIN, INT_MAX);
    return (int)v;
}

int pf_lua_optboolfield(lua_State *L, int idx, const char *key, int def)
{
    idx = lua_absindex(L, idx);
    int t = getfield(L, idx, key);
    if (t == LUA_TNIL) {
        if (!lua_isnoneornil(L, idx))
            lua_pop(L, 1);
        return def;
    }
    if (t != LUA_TBOOLEAN)
        luaL_error(L, "option '%s': boolean expected, got %s", key, luaL_typename(L, -1));
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

const char *pf_lua_optstrfield(lua_State *L, int idx, const char *key, const char *def)
{
    idx = lua_absindex(L, idx);
    int t = getfield(L, idx, key);
    if (t == LUA_TNIL) {
        if (!lua_isnoneornil(L, idx))
            lua_pop(L, 1);
        return def;
    }
    if (t != LUA_TSTRING)
        luaL_error(L, "option '%s': string expected, got %s", key, luaL_typename(L, -1));
    /* The string stays alive in the option table, which the caller holds. */
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1);
    return s;
}

volatile sig_atomic_t *pf_lua_interrupt_flag(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, PF_INTERRUPT_KEY);
    volatile sig_atomic_t *f = (volatile sig_atomic_t *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return f;
}

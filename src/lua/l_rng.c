/*
 * l_rng.c -- pf.rng: explicit, seedable generator objects.
 *
 * Userdata life cycle as in liolib.c: the userdata is created holding NULL with its
 * metatable (and __gc) already set, then the generator is allocated, so an
 * allocation failure never leaks. __gc, __close and :free() are one idempotent
 * function; a freed generator is rejected by every method.
 */
#include <math.h>
#include "pf_lua.h"
#include "phaseflow/rng.h"

gsl_rng *pf_lua_checkrng(lua_State *L, int arg)
{
    return (gsl_rng *)pf_lua_checkhandle(L, arg, PF_RNG_MT, "random generator");
}

gsl_rng *pf_lua_newrng(lua_State *L, lua_Integer seed)
{
    void **slot = pf_lua_newhandle(L, PF_RNG_MT);
    *slot = pf_rng_alloc((uint64_t)seed);
    if (!*slot)
        luaL_error(L, "pf.rng: out of memory");
    return (gsl_rng *)*slot;
}

gsl_rng *pf_lua_rng_from_opts(lua_State *L, int opts, lua_Integer default_seed)
{
    opts = lua_absindex(L, opts);
    if (lua_istable(L, opts)) {
        if (lua_getfield(L, opts, "rng") != LUA_TNIL) {
            if (!luaL_testudata(L, -1, PF_RNG_MT))
                luaL_error(L, "option 'rng': pf.rng object expected, got %s",
                           luaL_typename(L, -1));
            return pf_lua_checkrng(L, lua_gettop(L));
        }
        lua_pop(L, 1);
        default_seed = pf_lua_optintfield(L, opts, "seed", default_seed);
    }
    return pf_lua_newrng(L, default_seed);
}

/* pf.rng.new([seed = 1]) */
static int rng_new(lua_State *L)
{
    lua_Integer seed = luaL_optinteger(L, 1, 1);
    pf_lua_newrng(L, seed);
    return 1;
}

/* pf.rng.from_opts(opts [, default_seed = 1]): opts.rng itself, else a new generator
 * seeded with opts.seed or the default -- the rule of every binding that draws. */
static int rng_from_opts(lua_State *L)
{
    lua_Integer def = luaL_optinteger(L, 2, 1);
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TTABLE);
    pf_lua_rng_from_opts(L, 1, def);
    return 1;
}

/* pf.rng.derive_seed(seed, k): a reproducible seed for sub-stream k. */
static int rng_derive(lua_State *L)
{
    lua_Integer seed = luaL_checkinteger(L, 1), k = luaL_checkinteger(L, 2);
    uint64_t s = pf_rng_derive_seed((uint64_t)seed, (uint64_t)k);
    /* Keep it positive and within 2^53 so it prints and round-trips through doubles. */
    lua_pushinteger(L, (lua_Integer)(s >> 11));
    return 1;
}

static int rng_free(lua_State *L)
{
    gsl_rng_free((gsl_rng *)pf_lua_takehandle(L, 1, PF_RNG_MT));
    return 0;
}

static int rng_seed(lua_State *L)
{
    gsl_rng *r = pf_lua_checkrng(L, 1);
    gsl_rng_set(r, (unsigned long)luaL_checkinteger(L, 2));
    lua_settop(L, 1);
    return 1;
}

/* Shape from arguments 2.. : nothing = one number; n; n, m; {n, m}. */
static int shape_args(lua_State *L, int first, size_t *shape, int *ndim)
{
    int top = lua_gettop(L);
    *ndim = 0;
    if (first > top || lua_isnil(L, first))
        return 0;
    if (lua_istable(L, first)) {
        int n = (int)luaL_len(L, first);
        luaL_argcheck(L, n >= 1 && n <= PF_MAXDIM, first, "shape of 1 to 4 extents expected");
        for (int i = 0; i < n; i++) {
            lua_geti(L, first, i + 1);
            lua_Integer v = lua_tointeger(L, -1);
            luaL_argcheck(L, v >= 0, first, "extents must be non-negative integers");
            shape[i] = (size_t)v;
            lua_pop(L, 1);
        }
        *ndim = n;
        return 1;
    }
    lua_Integer n = luaL_checkinteger(L, first);
    luaL_argcheck(L, n >= 0, first, "count must be non-negative");
    shape[0] = (size_t)n;
    *ndim = 1;
    if (first + 1 <= top && lua_isinteger(L, first + 1)) {
        lua_Integer m = lua_tointeger(L, first + 1);
        luaL_argcheck(L, m >= 0, first + 1, "count must be non-negative");
        shape[1] = (size_t)m;
        *ndim = 2;
    }
    return 1;
}

/* r:uniform() -> number in [0,1); r:uniform(n [, m]) or r:uniform{shape} -> array. */
static int rng_uniform(lua_State *L)
{
    gsl_rng *r = pf_lua_checkrng(L, 1);
    size_t shape[PF_MAXDIM];
    int ndim;
    if (!shape_args(L, 2, shape, &ndim)) {
        lua_pushnumber(L, pf_rng_uniform(r));
        return 1;
    }
    pf_array *a = pf_lua_newarray(L, ndim, shape);
    pf_rng_fill_uniform(r, a->data, a->size, 0.0, 1.0);
    return 1;
}

static int rng_normal(lua_State *L)
{
    gsl_rng *r = pf_lua_checkrng(L, 1);
    size_t shape[PF_MAXDIM];
    int ndim;
    if (!shape_args(L, 2, shape, &ndim)) {
        lua_pushnumber(L, pf_rng_normal(r));
        return 1;
    }
    pf_array *a = pf_lua_newarray(L, ndim, shape);
    pf_rng_fill_normal(r, a->data, a->size, 0.0, 1.0);
    return 1;
}

/* r:fill_uniform(a [, lo, hi]) and r:fill_normal(a [, mu, sigma]) fill in place. */
static int fill(lua_State *L, int normal)
{
    gsl_rng *r = pf_lua_checkrng(L, 1);
    pf_array *a = pf_lua_checkarray(L, 2);
    double p1 = luaL_optnumber(L, 3, 0.0), p2 = luaL_optnumber(L, 4, 1.0);
    luaL_argcheck(L, isfinite(p1) && isfinite(p2), 3, "finite parameters expected");
    if (normal)
        luaL_argcheck(L, p2 >= 0, 4, "sigma must be >= 0");
    if (pf_array_is_contiguous(a)) {
        if (normal)
            pf_rng_fill_normal(r, a->data, a->size, p1, p2);
        else
            pf_rng_fill_uniform(r, a->data, a->size, p1, p2);
    } else {
        size_t idx[PF_MAXDIM] = {0};
        for (size_t i = 0; i < a->size; i++) {
            double u = normal ? p1 + p2 * pf_rng_normal(r) : p1 + (p2 - p1) * pf_rng_uniform(r);
            *pf_array_ptr(a, idx) = u;
            for (int d = a->ndim - 1; d >= 0; d--) {
                if (++idx[d] < a->shape[d])
                    break;
                idx[d] = 0;
            }
        }
    }
    lua_settop(L, 2);
    return 1;
}

static int rng_fill_uniform(lua_State *L) { return fill(L, 0); }
static int rng_fill_normal(lua_State *L) { return fill(L, 1); }

/* r:integer(n) -> integer in 1..n */
static int rng_integer(lua_State *L)
{
    gsl_rng *r = pf_lua_checkrng(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 1 && (unsigned long)n <= gsl_rng_max(r), 2, "n out of range");
    lua_pushinteger(L, (lua_Integer)gsl_rng_uniform_int(r, (unsigned long)n) + 1);
    return 1;
}

/* r:permutation(n) -> array holding 1..n in random order (Fisher-Yates). */
static int rng_permutation(lua_State *L)
{
    gsl_rng *r = pf_lua_checkrng(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 0, 2, "n must be >= 0");
    pf_array *a = pf_lua_newarray1(L, (size_t)n);
    for (lua_Integer i = 0; i < n; i++)
        a->data[i] = (double)(i + 1);
    for (lua_Integer i = n - 1; i > 0; i--) {
        size_t j = gsl_rng_uniform_int(r, (unsigned long)i + 1);
        double t = a->data[i];
        a->data[i] = a->data[j];
        a->data[j] = t;
    }
    return 1;
}

/* r:state() -> binary string; r:set_state(s). */
static int rng_state(lua_State *L)
{
    gsl_rng *r = pf_lua_checkrng(L, 1);
    luaL_Buffer b;
    size_t n = pf_rng_state_size(r);
    char *p = luaL_buffinitsize(L, &b, n);
    pf_rng_get_state(r, p);
    luaL_pushresultsize(&b, n);
    return 1;
}

static int rng_set_state(lua_State *L)
{
    gsl_rng *r = pf_lua_checkrng(L, 1);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    if (pf_rng_set_state(r, s, n) != PF_OK) {
        const char *m = lua_pushfstring(L, "state of %d bytes expected, got %d",
                                        (int)pf_rng_state_size(r), (int)n);
        luaL_argerror(L, 2, m);
    }
    lua_settop(L, 1);
    return 1;
}

static int rng_clone(lua_State *L)
{
    gsl_rng *r = pf_lua_checkrng(L, 1);
    void **slot = pf_lua_newhandle(L, PF_RNG_MT);
    *slot = gsl_rng_clone(r);
    if (!*slot)
        return luaL_error(L, "rng:clone: out of memory");
    return 1;
}

static int rng_tostring(lua_State *L)
{
    gsl_rng *r = (gsl_rng *)pf_lua_tohandle(L, 1, PF_RNG_MT);
    if (r)
        lua_pushfstring(L, "pf.rng (%s) %p", gsl_rng_name(r), lua_topointer(L, 1));
    else
        lua_pushstring(L, "pf.rng (freed)");
    return 1;
}

int pf_open_rng(lua_State *L)
{
    static const luaL_Reg meth[] = {
        {"uniform", rng_uniform}, {"normal", rng_normal}, {"fill_uniform", rng_fill_uniform},
        {"fill_normal", rng_fill_normal}, {"integer", rng_integer},
        {"permutation", rng_permutation}, {"state", rng_state}, {"set_state", rng_set_state},
        {"seed", rng_seed}, {"clone", rng_clone}, {"free", rng_free}, {NULL, NULL}};
    static const luaL_Reg meta[] = {
        {"__gc", rng_free}, {"__close", rng_free}, {"__tostring", rng_tostring}, {NULL, NULL}};
    static const luaL_Reg f[] = {{"new", rng_new}, {"from_opts", rng_from_opts},
                                 {"derive_seed", rng_derive}, {NULL, NULL}};
    pf_lua_newclass(L, PF_RNG_MT, meth, meta);
    return pf_lua_newmodule(L, f, NULL);
}

/*
 * l_poisson.c -- phaseflow.core.poisson: Sobol points, kernel points, the kernel's
 * product Gauss rule, densities.
 * The facade lua/phaseflow/poisson.lua evaluates sources at the points.
 */
#include <math.h>
#include "pf_lua.h"
#include "phaseflow/poisson.h"

static uint64_t check_seed(lua_State *L, int opts)
{
    lua_Integer s = pf_lua_optintfield(L, opts, "seed", 1);
    if (s < 0)
        luaL_error(L, "option 'seed' must be >= 0");
    return (uint64_t)s;
}

static void read_kernel(lua_State *L, int opts, pf_kernel *k)
{
    k->h[0] = 0.5, k->h[1] = 0.5, k->h[2] = 0.2;
    if (!lua_isnoneornil(L, opts) && lua_getfield(L, opts, "h") != LUA_TNIL) {
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 3)
            luaL_error(L, "option 'h': a table of 3 scale lengths (kpc) expected");
        for (int i = 0; i < 3; i++) {
            lua_geti(L, -1, i + 1);
            int isnum;
            k->h[i] = lua_tonumberx(L, -1, &isnum);
            if (!isnum || !(k->h[i] > 0))
                luaL_error(L, "option 'h': entry %d must be a positive number", i + 1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    } else if (!lua_isnoneornil(L, opts)) {
        lua_pop(L, 1);
    }
    k->truncate = pf_lua_optnumfield(L, opts, "truncate", 2.0);
    if (!(k->truncate > 0) || !isfinite(k->truncate))
        luaL_error(L, "option 'truncate' must be positive and finite");
}

/* kernel_points([{h = {.5,.5,.2}, truncate = 2, volume = 2400, surface = 800, seed = 1,
 *                 moment_match = true}])
 * -> {offset = Px3, coef = Px3, weight = P, normal = Sx3, area = S, nvol, nsurf, Z, Kb,
 *     h = {..}, truncate} */
/* [-0, +0] The kernel's h (a list of 3, kpc) and truncate as fields of the table on top. */
static void set_kernel_fields(lua_State *L, const pf_kernel *k)
{
    lua_createtable(L, 3, 0);
    for (int i = 0; i < 3; i++) {
        lua_pushnumber(L, k->h[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "h");
    lua_pushnumber(L, k->truncate);
    lua_setfield(L, -2, "truncate");
}

static int po_kernel_points(lua_State *L)
{
    static const char *const allowed[] = {"h", "truncate", "volume", "surface", "seed", "moment_match", NULL};
    pf_lua_checkopts(L, 1, "pf.poisson.kernel_points", allowed);
    pf_kernel k;
    read_kernel(L, 1, &k);
    lua_Integer nv = pf_lua_optintfield(L, 1, "volume", 2400);
    lua_Integer ns = pf_lua_optintfield(L, 1, "surface", 800);
    if (nv < 2 || ns < 0 || nv % 2 || ns % 2)
        return luaL_error(L, "pf.poisson.kernel_points: 'volume' (>= 2) and 'surface' (>= 0) "
                             "must be even (antithetic pairs), got %I and %I",
                          (LUAI_UACINT)nv, (LUAI_UACINT)ns);
    uint64_t seed = check_seed(L, 1);
    int mm = pf_lua_optboolfield(L, 1, "moment_match", 1);
    size_t P = (size_t)(nv + ns);
    lua_createtable(L, 0, 12);
    pf_array *off = pf_lua_newarray2(L, P, 3);
    lua_setfield(L, -2, "offset");
    pf_array *coef = pf_lua_newarray2(L, P, 3);
    lua_setfield(L, -2, "coef");
    pf_array *w = pf_lua_newarray1(L, P);
    lua_setfield(L, -2, "weight");
    pf_array *nrm = pf_lua_newarray2(L, (size_t)ns, 3);
    lua_setfield(L, -2, "normal");
    pf_array *area = pf_lua_newarray1(L, (size_t)ns);
    lua_setfield(L, -2, "area");
    pf_err err;
    pf_err_clear(&err);
    int st = pf_poisson_kernel_points(&k, (size_t)nv, (size_t)ns, seed, mm, off->data, coef->data,
                                      w->data, nrm->data, area->data, &err);
    if (st)
        return pf_lua_fail(L, "pf.poisson.kernel_points", st, &err);
    lua_pushinteger(L, nv);
    lua_setfield(L, -2, "nvol");
    lua_pushinteger(L, ns);
    lua_setfield(L, -2, "nsurf");
    lua_pushnumber(L, pf_kernel_norm(&k));
    lua_setfield(L, -2, "Z");
    lua_pushnumber(L, exp(-0.5 * k.truncate * k.truncate));
    lua_setfield(L, -2, "Kb");
    set_kernel_fields(L, &k);
    return 1;
}

/* density_from(acc, coef, nvol, G [, {boundary = true}]) -> rho, vol, surf (n0 each)
 * acc: (n0*P) x 3 with P = rows of coef. */
static int po_density_from(lua_State *L)
{
    static const char *const allowed[] = {"boundary", NULL};
    pf_array *acc = pf_lua_checkshape(L, 1, 2, PF_ANY, 3);
    pf_array *coef = pf_lua_checkshape(L, 2, 2, PF_ANY, 3);
    size_t P = coef->shape[0];
    lua_Integer nvol = luaL_checkinteger(L, 3);
    double G = luaL_checknumber(L, 4);
    luaL_argcheck(L, P > 0, 2, "at least one kernel point expected");
    luaL_argcheck(L, nvol >= 1 && (size_t)nvol <= P, 3, "volume point count out of range");
    luaL_argcheck(L, G > 0, 4, "G must be positive");
    if (acc->shape[0] % P)
        return luaL_argerror(L, 1, lua_pushfstring(L, "rows must be a multiple of the %d "
                                                      "kernel points", (int)P));
    pf_lua_checkopts(L, 5, "pf.poisson.density_from", allowed);
    int boundary = pf_lua_optboolfield(L, 5, "boundary", 1);
    acc = pf_lua_contiguous(L, 1);
    coef = pf_lua_contiguous(L, 2);
    size_t n0 = acc->shape[0] / P;
    pf_array *rho = pf_lua_newarray1(L, n0);
    pf_array *vol = pf_lua_newarray1(L, n0);
    pf_array *surf = pf_lua_newarray1(L, n0);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_poisson_density_from(n0, P, (size_t)nvol, acc->data, coef->data, G, boundary,
                                     rho->data, vol->data, surf->data, &err);
    if (st)
        return pf_lua_fail(L, "pf.poisson.density_from", st, &err);
    return 3;
}

/* kernel_rule([{h = {.5,.5,.2}, truncate = 2, radial = 16, polar = 16, azimuthal = 32}])
 * -> {offset = Px3, weight = P, radial, polar, azimuthal, mass, Z, h = {..}, truncate}
 * The product Gauss rule of pf_kernel_rule (poisson.h); `mass` is the rule's raw
 * integral of the kernel over its closed form (1 to rounding). */
static int po_kernel_rule(lua_State *L)
{
    static const char *const allowed[] = {"h", "truncate", "radial", "polar", "azimuthal", NULL};
    static const char *const names[] = {"radial", "polar", "azimuthal"};
    static const lua_Integer defs[] = {16, 16, 32};
    pf_lua_checkopts(L, 1, "pf.poisson.kernel_rule", allowed);
    pf_kernel k;
    read_kernel(L, 1, &k);
    size_t n[3], P = 1;
    for (int i = 0; i < 3; i++) {
        lua_Integer v = pf_lua_optintfield(L, 1, names[i], defs[i]);
        if (v < 1 || v > 100000)
            return luaL_error(L, "pf.poisson.kernel_rule: '%s' must be an integer in [1, 100000], "
                                 "got %I", names[i], (LUAI_UACINT)v);
        n[i] = (size_t)v;
        P *= n[i];
    }
    if (P > ((size_t)1 << 28))
        return luaL_error(L, "pf.poisson.kernel_rule: %d x %d x %d nodes is more than 2^28",
                          (int)n[0], (int)n[1], (int)n[2]);
    lua_createtable(L, 0, 10);
    pf_array *off = pf_lua_newarray2(L, P, 3);
    lua_setfield(L, -2, "offset");
    pf_array *w = pf_lua_newarray1(L, P);
    lua_setfield(L, -2, "weight");
    double mass = 0;
    pf_err err;
    pf_err_clear(&err);
    int st = pf_kernel_rule(&k, n[0], n[1], n[2], off->data, w->data, &mass, &err);
    if (st)
        return pf_lua_fail(L, "pf.poisson.kernel_rule", st, &err);
    for (int i = 0; i < 3; i++) {
        lua_pushinteger(L, (lua_Integer)n[i]);
        lua_setfield(L, -2, names[i]);
    }
    lua_pushnumber(L, mass);
    lua_setfield(L, -2, "mass");
    lua_pushnumber(L, pf_kernel_norm(&k));
    lua_setfield(L, -2, "Z");
    set_kernel_fields(L, &k);
    return 1;
}

/* kernel_norm([{h =, truncate =}]) -> Z (kpc^3) */
static int po_kernel_norm(lua_State *L)
{
    static const char *const allowed[] = {"h", "truncate", NULL};
    pf_lua_checkopts(L, 1, "pf.poisson.kernel_norm", allowed);
    pf_kernel k;
    read_kernel(L, 1, &k);
    lua_pushnumber(L, pf_kernel_norm(&k));
    return 1;
}

int pf_open_poisson(lua_State *L)
{
    static const luaL_Reg fns[] = {
                                   {"kernel_points", po_kernel_points},
                                   {"density_from", po_density_from},
                                   {"kernel_norm", po_kernel_norm},
                                   {"kernel_rule", po_kernel_rule},
                                   {NULL, NULL}};
    return pf_lua_newmodule(L, fns, NULL);
}

/*
 * l_potnet.c -- core.potnet: the Lua face of pf_potnet (include/phaseflow/potnet.h).
 *
 * A network userdata holds one pf_potnet * (NULL once freed; pf_lua_newhandle). Methods
 * check shapes and finite values and return new arrays; argument errors read
 * "pf.potnet.NAME: ..." and name the argument or option. The Lua facade
 * lua/phaseflow/potnet.lua adds files, accelerations and densities.
 *
 *   new{hidden = 64, layers = 3, centre = {0, 0, 0}, scale = 1, zscale = scale, phi_scale = 1e4,
 *       activation = "silu" | "tanh", seed = 1} -> net
 *   net:eval(x) -> phi (N), grad (N x 3), lap (N)
 *   net:loss_grad{x, v, gx, gv, w, gphi_ext, y, lap_ext, lambda = 1, tau = 1}
 *       -> loss, residual term, penalty term; the gradient stays in the net (net:grad())
 *   net:params() / net:grad() (copies), net:set_params(p), net:nparams(), net:config()
 *   activation(name, a) -> sigma(a), sigma', sigma'', sigma''' (for tests)
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "pf_lua.h"
#include "phaseflow/potnet.h"

#define POTNET_MT "phaseflow.potnet"

static pf_potnet *checknet(lua_State *L, int arg)
{
    return (pf_potnet *)pf_lua_checkhandle(L, arg, POTNET_MT, "potential network");
}

static int net_gc(lua_State *L)
{
    pf_potnet_free((pf_potnet *)pf_lua_takehandle(L, 1, POTNET_MT));
    return 0;
}

static int activation_code(const char *name)
{
    for (int k = 0; k < 2; k++)
        if (strcmp(pf_potnet_activation_name(k), name) == 0)
            return k;
    return -1;
}

/* [-0, +0] Option `key` of the table at idx as a number (def when absent); an error
 * "fname: option 'key' must be a number" otherwise. */
static double optnum(lua_State *L, int idx, const char *fname, const char *key, double def)
{
    int t = lua_getfield(L, idx, key);
    double v = def;
    if (t != LUA_TNIL) {
        int ok;
        v = lua_tonumberx(L, -1, &ok);
        if (!ok || t != LUA_TNUMBER)
            luaL_error(L, "%s: option '%s' must be a number, got %s", fname, key,
                       luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return v;
}

/* [-0, +0] Option `key` as an integer in [lo, hi] (def when absent). */
static lua_Integer optint(lua_State *L, int idx, const char *fname, const char *key,
                          lua_Integer def, lua_Integer lo, lua_Integer hi)
{
    int t = lua_getfield(L, idx, key);
    lua_Integer v = def;
    if (t != LUA_TNIL) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok || t != LUA_TNUMBER)
            luaL_error(L, "%s: option '%s' must be an integer, got %s", fname, key,
                       t == LUA_TNUMBER ? "a non-integer number" : luaL_typename(L, -1));
        if (v < lo || v > hi)
            luaL_error(L, "%s: option '%s' must be in %I..%I, got %I", fname, key, lo, hi, v);
    }
    lua_pop(L, 1);
    return v;
}

/* new{...} -> net (options in the file comment) */
static int net_new(lua_State *L)
{
    static const char *const F = "pf.potnet.new";
    static const char *const opts[] = {"hidden", "layers", "centre", "scale", "zscale",
                                       "phi_scale", "activation", "seed", NULL};
    if (!lua_istable(L, 1))
        return luaL_error(L, "%s: option table expected, got %s", F, luaL_typename(L, 1));
    pf_lua_checkopts(L, 1, F, opts);
    pf_potnet_config c;
    memset(&c, 0, sizeof c);
    c.hidden = (int)optint(L, 1, F, "hidden", 64, 1, PF_POTNET_MAXWIDTH);
    c.layers = (int)optint(L, 1, F, "layers", 3, 1, PF_POTNET_MAXLAYERS);
    c.seed = (uint64_t)optint(L, 1, F, "seed", 1, LUA_MININTEGER, LUA_MAXINTEGER);
    c.scale = optnum(L, 1, F, "scale", 1.0);
    if (!(c.scale > 0 && isfinite(c.scale)))
        return luaL_error(L, "%s: option 'scale' must be positive and finite (kpc), got %f", F,
                          c.scale);
    c.zscale = optnum(L, 1, F, "zscale", c.scale);
    if (!(c.zscale > 0 && isfinite(c.zscale)))
        return luaL_error(L, "%s: option 'zscale' must be positive and finite (kpc), got %f", F,
                          c.zscale);
    c.phi_scale = optnum(L, 1, F, "phi_scale", 1e4);
    if (!(c.phi_scale > 0 && isfinite(c.phi_scale)))
        return luaL_error(L, "%s: option 'phi_scale' must be positive and finite ((km/s)^2), "
                          "got %f", F, c.phi_scale);
    int t = lua_getfield(L, 1, "activation");
    if (t == LUA_TNIL) {
        c.activation = PF_POTNET_SILU;
    } else {
        if (t != LUA_TSTRING)
            return luaL_error(L, "%s: option 'activation' must be a string, got %s", F,
                              luaL_typename(L, -1));
        c.activation = activation_code(lua_tostring(L, -1));
        if (c.activation < 0)
            return luaL_error(L, "%s: option 'activation' is '%s' (silu or tanh expected)", F,
                              lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    t = lua_getfield(L, 1, "centre");
    if (t != LUA_TNIL) {
        pf_array *a = pf_lua_testarray(L, -1);
        if (a && a->ndim == 1 && a->size == 3) {
            for (size_t k = 0; k < 3; k++)
                c.centre[k] = *pf_array_ptr(a, &k);
        } else if (t == LUA_TTABLE && !a && luaL_len(L, -1) == 3) {
            for (int k = 0; k < 3; k++) {
                lua_geti(L, -1, k + 1);
                int ok;
                c.centre[k] = lua_tonumberx(L, -1, &ok);
                if (!ok)
                    return luaL_error(L, "%s: option 'centre' must hold 3 numbers (kpc)", F);
                lua_pop(L, 1);
            }
        } else {
            return luaL_error(L, "%s: option 'centre' must be 3 numbers (kpc), a table or an "
                              "array", F);
        }
        for (int k = 0; k < 3; k++)
            if (!isfinite(c.centre[k]))
                return luaL_error(L, "%s: option 'centre' must be finite", F);
    }
    lua_pop(L, 1);
    void **slot = pf_lua_newhandle(L, POTNET_MT);
    pf_err err;
    *slot = pf_potnet_alloc(&c, &err);
    if (!*slot)
        return pf_lua_fail(L, F, err.code, &err);
    return 1;
}

/* The argument error of a non-finite element: which row and column. */
static void check_finite(lua_State *L, const char *fname, const char *what, const pf_array *a)
{
    size_t d = a->ndim == 2 ? a->shape[1] : 1;
    for (size_t i = 0; i < a->size; i++)
        if (!isfinite(a->data[i])) {
            char msg[160];
            snprintf(msg, sizeof msg, "%s: %s has a non-finite value in row %zu (%g in column %zu)",
                     fname, what, i / d + 1, a->data[i], i % d + 1);
            luaL_error(L, "%s", msg);
        }
}

/* [-0, +0] The array at stack index idx as a contiguous array of shape n x d (d = 0: a
 * 1-D array of n; n = PF_ANY: any number of rows), with finite values; the error names
 * `what`. A strided view is replaced in its slot by a copy. */
static pf_array *checkrows(lua_State *L, int idx, const char *fname, const char *what, size_t n,
                           size_t d)
{
    pf_array *a = pf_lua_testarray(L, idx);
    int ok = a && (d == 0 ? a->ndim == 1 : a->ndim == 2 && a->shape[1] == d) &&
             (n == PF_ANY || a->shape[0] == n);
    if (!ok) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        if (a)
            pf_lua_addshape(&b, a->ndim, a->shape);
        else
            luaL_addstring(&b, luaL_typename(L, idx));
        luaL_pushresult(&b);
        if (d == 0)
            return (luaL_error(L, "%s: %s must be a 1-D array of %d values, got %s", fname, what,
                               (int)n, lua_tostring(L, -1)), NULL);
        if (n == PF_ANY)
            return (luaL_error(L, "%s: %s must be an array of shape Nx%d, got %s", fname, what,
                               (int)d, lua_tostring(L, -1)), NULL);
        return (luaL_error(L, "%s: %s must be an array of shape %dx%d, got %s", fname, what,
                           (int)n, (int)d, lua_tostring(L, -1)), NULL);
    }
    a = pf_lua_contiguous(L, idx);
    check_finite(L, fname, what, a);
    return a;
}

/* eval(x) -> phi (N), grad (N x 3), lap (N) */
static int net_eval(lua_State *L)
{
    static const char *const F = "pf.potnet.eval";
    pf_potnet *p = checknet(L, 1);
    lua_settop(L, 2);
    pf_array *x = checkrows(L, 2, F, "x", PF_ANY, 3);
    size_t n = x->shape[0];
    pf_array *phi = pf_lua_newarray1(L, n);
    pf_array *g = pf_lua_newarray2(L, n, 3);
    pf_array *lap = pf_lua_newarray1(L, n);
    pf_err err;
    int st = pf_potnet_eval(p, n, x->data, phi->data, g->data, lap->data, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, F, st, &err);
    return 3;
}

/* [-0, +1] Field `key` of the option table at 2 as an array of n x d (see checkrows), or
 * NULL when absent (pushes the nil). */
static pf_array *optrows(lua_State *L, const char *fname, const char *key, size_t n, size_t d)
{
    lua_getfield(L, 2, key);
    if (lua_isnil(L, -1))
        return NULL;
    char what[48];
    snprintf(what, sizeof what, "option '%s'", key);
    return checkrows(L, lua_gettop(L), fname, what, n, d);
}

/* loss_grad{x, v, gx, gv, w, gphi_ext, y, lap_ext, lambda, tau} -> loss, residual, penalty */
static int net_loss_grad(lua_State *L)
{
    static const char *const F = "pf.potnet.loss_grad";
    static const char *const opts[] = {"x", "v", "gx", "gv", "w", "gphi_ext", "y", "lap_ext",
                                       "lambda", "tau", NULL};
    pf_potnet *p = checknet(L, 1);
    lua_settop(L, 2);
    if (!lua_istable(L, 2))
        return luaL_error(L, "%s: option table expected, got %s", F, luaL_typename(L, 2));
    pf_lua_checkopts(L, 2, F, opts);
    pf_potnet_data d;
    memset(&d, 0, sizeof d);
    d.lambda = optnum(L, 2, F, "lambda", 1.0);
    d.tau = optnum(L, 2, F, "tau", 1.0);
    pf_array *x = optrows(L, F, "x", PF_ANY, 3);
    size_t n = x ? x->shape[0] : 0;
    static const char *const per_sample[] = {"v", "gx", "gv", "gphi_ext"};
    const double **dst[] = {&d.v, &d.gx, &d.gv, &d.gphi_ext};
    for (int k = 0; k < 4; k++) {
        pf_array *a = optrows(L, F, per_sample[k], n, 3);
        if (a && !x)
            return luaL_error(L, "%s: option '%s' given without 'x'", F, per_sample[k]);
        if (!a && x && k < 3)
            return luaL_error(L, "%s: option '%s' (an array of shape %dx3) is required with "
                              "'x'", F, per_sample[k], (int)n);
        *dst[k] = a ? a->data : NULL;
    }
    pf_array *w = optrows(L, F, "w", n, 0);
    if (w && !x)
        return luaL_error(L, "%s: option 'w' given without 'x'", F);
    if (w)
        for (size_t i = 0; i < n; i++)
            if (w->data[i] < 0)
                return luaL_error(L, "%s: option 'w' has a negative weight in row %d (%f)", F,
                                  (int)i + 1, w->data[i]);
    pf_array *y = optrows(L, F, "y", PF_ANY, 3);
    size_t m = y ? y->shape[0] : 0;
    pf_array *le = optrows(L, F, "lap_ext", m, 0);
    if (le && !y)
        return luaL_error(L, "%s: option 'lap_ext' given without 'y'", F);
    if (n == 0 && m == 0)
        return luaL_error(L, "%s: no rows: give samples (x, v, gx, gv) or points y", F);
    if (!(d.lambda >= 0 && isfinite(d.lambda)))
        return luaL_error(L, "%s: option 'lambda' must be >= 0 and finite, got %f", F, d.lambda);
    if (!(d.tau > 0 && isfinite(d.tau)))
        return luaL_error(L, "%s: option 'tau' must be > 0 and finite ((km/s)^2/kpc^2), got %f",
                          F, d.tau);
    d.n = n;
    d.x = x ? x->data : NULL;
    d.w = w ? w->data : NULL;
    d.m = m;
    d.y = y ? y->data : NULL;
    d.lap_ext = le ? le->data : NULL;
    double loss, parts[2];
    pf_err err;
    int st = pf_potnet_loss_grad(p, &d, &loss, parts, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, F, st, &err);
    lua_pushnumber(L, loss);
    lua_pushnumber(L, parts[0]);
    lua_pushnumber(L, parts[1]);
    return 3;
}

static int copy_out(lua_State *L, const double *src, size_t n)
{
    pf_array *a = pf_lua_newarray1(L, n);
    memcpy(a->data, src, n * sizeof(double));
    return 1;
}

static int net_params(lua_State *L)
{
    pf_potnet *p = checknet(L, 1);
    return copy_out(L, pf_potnet_params(p), pf_potnet_nparams(p));
}

static int net_grad(lua_State *L)
{
    pf_potnet *p = checknet(L, 1);
    return copy_out(L, pf_potnet_grad(p), pf_potnet_nparams(p));
}

/* set_params(p): a 1-D array of nparams finite doubles (copied) */
static int net_set_params(lua_State *L)
{
    static const char *const F = "pf.potnet.set_params";
    pf_potnet *p = checknet(L, 1);
    lua_settop(L, 2);
    size_t np = pf_potnet_nparams(p);
    pf_array *a = checkrows(L, 2, F, "p", np, 0);
    memcpy(pf_potnet_params(p), a->data, np * sizeof(double));
    return 0;
}

static int net_nparams(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)pf_potnet_nparams(checknet(L, 1)));
    return 1;
}

static int net_config(lua_State *L)
{
    pf_potnet_config c;
    pf_potnet_get_config(checknet(L, 1), &c);
    lua_createtable(L, 0, 8);
    lua_pushinteger(L, c.hidden); lua_setfield(L, -2, "hidden");
    lua_pushinteger(L, c.layers); lua_setfield(L, -2, "layers");
    lua_pushstring(L, pf_potnet_activation_name(c.activation)); lua_setfield(L, -2, "activation");
    lua_createtable(L, 3, 0);
    for (int k = 0; k < 3; k++) {
        lua_pushnumber(L, c.centre[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "centre");
    lua_pushnumber(L, c.scale); lua_setfield(L, -2, "scale");
    lua_pushnumber(L, c.zscale); lua_setfield(L, -2, "zscale");
    lua_pushnumber(L, c.phi_scale); lua_setfield(L, -2, "phi_scale");
    lua_pushinteger(L, (lua_Integer)c.seed); lua_setfield(L, -2, "seed");
    return 1;
}

static int net_tostring(lua_State *L)
{
    pf_potnet *p = (pf_potnet *)pf_lua_tohandle(L, 1, POTNET_MT);
    if (!p) {
        lua_pushliteral(L, "pf.potnet (freed)");
        return 1;
    }
    pf_potnet_config c;
    pf_potnet_get_config(p, &c);
    lua_pushfstring(L, "pf.potnet{hidden=%d, layers=%d, activation=%s, scale=%f, zscale=%f, "
                    "phi_scale=%f} (%d parameters)", c.hidden, c.layers,
                    pf_potnet_activation_name(c.activation), c.scale, c.zscale, c.phi_scale,
                    (int)pf_potnet_nparams(p));
    return 1;
}

/* activation(name, a) -> sigma, sigma', sigma'', sigma''' at the number a */
static int net_activation(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    int code = activation_code(name);
    if (code < 0)
        return luaL_error(L, "pf.potnet.activation: name '%s' (silu or tanh expected)", name);
    double out[4];
    pf_potnet_activation(code, luaL_checknumber(L, 2), out);
    for (int k = 0; k < 4; k++)
        lua_pushnumber(L, out[k]);
    return 4;
}

static int net_is(lua_State *L)
{
    lua_pushboolean(L, luaL_testudata(L, 1, POTNET_MT) != NULL);
    return 1;
}

int pf_open_potnet(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"eval", net_eval}, {"loss_grad", net_loss_grad}, {"params", net_params},
        {"set_params", net_set_params}, {"grad", net_grad}, {"nparams", net_nparams},
        {"config", net_config}, {"free", net_gc}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", net_gc}, {"__close", net_gc},
                                    {"__tostring", net_tostring}, {NULL, NULL}};
    static const luaL_Reg f[] = {{"new", net_new}, {"is_potnet", net_is},
                                 {"activation", net_activation}, {NULL, NULL}};
    pf_lua_newclass(L, POTNET_MT, methods, meta);
    return pf_lua_newmodule(L, f, POTNET_MT);
}

/*
 * l_flow.c -- core.flow: the Lua face of pf_maf (include/phaseflow/maf.h).
 *
 * A flow userdata holds one pf_maf * (NULL once freed). Methods check shapes
 * (N x D input, N x C context) and return new arrays. The Lua facade
 * lua/phaseflow/flow.lua adds sampling, files and ensembles.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "pf_lua.h"
#include "phaseflow/maf.h"

#define FLOW_MT "phaseflow.maf"

static pf_maf *checkflow(lua_State *L, int arg)
{
    return (pf_maf *)pf_lua_checkhandle(L, arg, FLOW_MT, "flow");
}

static int flow_gc(lua_State *L)
{
    pf_maf_free((pf_maf *)pf_lua_takehandle(L, 1, FLOW_MT));
    return 0;
}

/* new{dim, context, transforms, hidden, blocks, seed, transform = "affine" | "spline",
 * bins, bound, layers = "sas..."} -> flow */
static int flow_new(lua_State *L)
{
    static const char *const opts[] = {"dim", "context", "transforms", "hidden", "blocks",
                                       "seed", "transform", "bins", "bound", "layers", NULL};
    static const char *const kinds[] = {"affine", "spline", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    pf_lua_checkopts(L, 1, "pf.flow.maf", opts);
    pf_maf_config c = {0};
    const char *kind = pf_lua_optstrfield(L, 1, "transform", "affine");
    for (c.transform = 0; kinds[c.transform] && strcmp(kinds[c.transform], kind) != 0;)
        c.transform++;
    if (!kinds[c.transform])
        return luaL_error(L, "pf.flow.maf: transform '%s' (affine or spline expected)", kind);
    c.layers = pf_lua_optstrfield(L, 1, "layers", NULL);
    c.bins = pf_lua_optintfield_int(L, 1, "bins", 8);
    c.bound = pf_lua_optnumfield(L, 1, "bound", 3.0);
    c.dim = pf_lua_optintfield_int(L, 1, "dim", 3);
    c.context = pf_lua_optintfield_int(L, 1, "context", 0);
    c.transforms = pf_lua_optintfield_int(L, 1, "transforms", 8);
    c.hidden = pf_lua_optintfield_int(L, 1, "hidden", 64);
    c.blocks = pf_lua_optintfield_int(L, 1, "blocks", 2);
    c.seed = (uint64_t)pf_lua_optintfield(L, 1, "seed", 1);
    void **slot = pf_lua_newhandle(L, FLOW_MT);
    pf_err err;
    *slot = pf_maf_alloc(&c, &err);
    if (!*slot)
        return pf_lua_fail(L, "pf.flow.maf", err.code, &err);
    return 1;
}

static void dims(pf_maf *f, int *D, int *C)
{
    pf_maf_config c;
    pf_maf_get_config(f, &c);
    *D = c.dim;
    *C = c.context;
}

/* An argument error naming the first row of a (n x d) holding NaN or infinity: a flow
 * would turn it into a NaN result with no word. */
static void check_finite(lua_State *L, int arg, const double *a, size_t n, int d)
{
    for (size_t i = 0; i < n * (size_t)d; i++)
        if (!isfinite(a[i])) {
            char msg[96];
            snprintf(msg, sizeof msg, "row %zu has a non-finite value (%g in column %d)",
                     i / (size_t)d + 1, a[i], (int)(i % (size_t)d) + 1);
            luaL_argerror(L, arg, msg);
        }
}

/* Check x (N x D) at 2 and ctx (N x C) at 3 (shapes, finite values); returns N and data
 * pointers. */
static size_t check_xc(lua_State *L, pf_maf *f, const double **x, const double **c)
{
    int D, C;
    dims(f, &D, &C);
    pf_array *a = pf_lua_checkshape(L, 2, 2, PF_ANY, (size_t)D);
    a = pf_lua_contiguous(L, 2);
    size_t n = a->shape[0];
    *x = a->data;
    *c = NULL;
    check_finite(L, 2, *x, n, D);
    if (C > 0) {
        if (lua_isnoneornil(L, 3))
            luaL_argerror(L, 3, "context array expected (the flow is conditional)");
        pf_lua_checkshape(L, 3, 2, n, (size_t)C);
        *c = pf_lua_contiguous(L, 3)->data;
        check_finite(L, 3, *c, n, C);
    } else if (!lua_isnoneornil(L, 3)) {
        luaL_argerror(L, 3, "the flow has no context");
    }
    return n;
}

/* log_prob(x [, ctx]) -> N-array */
static int flow_log_prob(lua_State *L)
{
    pf_maf *f = checkflow(L, 1);
    const double *x, *c;
    size_t n = check_xc(L, f, &x, &c);
    pf_array *lp = pf_lua_newarray1(L, n);
    pf_err err;
    int st = pf_maf_log_prob(f, n, x, c, lp->data, NULL, NULL, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "flow:log_prob", st, &err);
    return 1;
}

/* grad_log_prob(x [, ctx]) -> gx (N x D), gc (N x C or nil), log_prob (N) */
static int flow_grad(lua_State *L)
{
    pf_maf *f = checkflow(L, 1);
    int D, C;
    dims(f, &D, &C);
    const double *x, *c;
    size_t n = check_xc(L, f, &x, &c);
    pf_array *gx = pf_lua_newarray2(L, n, (size_t)D);
    pf_array *gc = NULL;
    if (C > 0)
        gc = pf_lua_newarray2(L, n, (size_t)C);
    else
        lua_pushnil(L);
    pf_array *lp = pf_lua_newarray1(L, n);
    pf_err err;
    int st = pf_maf_log_prob(f, n, x, c, lp->data, gx->data, gc ? gc->data : NULL, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "flow:grad_log_prob", st, &err);
    return 3;
}

/* nll_grad(x [, ctx]) -> mean NLL; gradient left in the flow (flow:grad()) */
static int flow_nll_grad(lua_State *L)
{
    pf_maf *f = checkflow(L, 1);
    const double *x, *c;
    size_t n = check_xc(L, f, &x, &c);
    luaL_argcheck(L, n > 0, 2, "empty batch");
    double loss;
    pf_err err;
    int st = pf_maf_nll_grad(f, n, x, c, &loss, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "flow:nll_grad", st, &err);
    lua_pushnumber(L, loss);
    return 1;
}

static int fwd_inv(lua_State *L, int inverse)
{
    pf_maf *f = checkflow(L, 1);
    int D, C;
    dims(f, &D, &C);
    const double *x, *c;
    size_t n = check_xc(L, f, &x, &c);
    pf_array *z = pf_lua_newarray2(L, n, (size_t)D);
    pf_array *ld = pf_lua_newarray1(L, n);
    pf_err err;
    int st = inverse ? pf_maf_inverse(f, n, x, c, z->data, ld->data, &err)
                     : pf_maf_forward(f, n, x, c, z->data, ld->data, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, inverse ? "flow:inverse" : "flow:forward", st, &err);
    return 2;
}

/* forward(x [, ctx]) -> z, logdet ; inverse(z [, ctx]) -> x, logdet */
static int flow_forward(lua_State *L) { return fwd_inv(L, 0); }
static int flow_inverse(lua_State *L) { return fwd_inv(L, 1); }

/* made(t, x [, ctx]) -> N x NO MADE outputs of transform t (1-based), raw inputs */
static int flow_made(lua_State *L)
{
    pf_maf *f = checkflow(L, 1);
    lua_Integer t = luaL_checkinteger(L, 2);
    lua_remove(L, 2);
    int D, C;
    dims(f, &D, &C);
    const double *x, *c;
    size_t n = check_xc(L, f, &x, &c);
    pf_array *o = pf_lua_newarray2(L, n, (size_t)pf_maf_nout(f));
    pf_err err;
    int st = pf_maf_made(f, (int)t - 1, n, x, c, o->data, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "flow:made", st, &err);
    return 1;
}

static int copy_out(lua_State *L, const double *src, size_t n)
{
    pf_array *a = pf_lua_newarray1(L, n);
    memcpy(a->data, src, n * sizeof(double));
    return 1;
}

static int flow_params(lua_State *L)
{
    pf_maf *f = checkflow(L, 1);
    return copy_out(L, pf_maf_params(f), pf_maf_nparams(f));
}

static int flow_grad_params(lua_State *L)
{
    pf_maf *f = checkflow(L, 1);
    return copy_out(L, pf_maf_grad(f), pf_maf_nparams(f));
}

static int flow_mask(lua_State *L)
{
    pf_maf *f = checkflow(L, 1);
    return copy_out(L, pf_maf_mask(f), pf_maf_nparams(f));
}

/* set_params(p): p a 1-D array of nparams doubles */
static int flow_set_params(lua_State *L)
{
    pf_maf *f = checkflow(L, 1);
    size_t np = pf_maf_nparams(f);
    pf_lua_checkshape(L, 2, 1, np, PF_ANY);
    pf_array *p = pf_lua_contiguous(L, 2);
    memcpy(pf_maf_params(f), p->data, np * sizeof(double));
    return 0;
}

static int flow_nparams(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)pf_maf_nparams(checkflow(L, 1)));
    return 1;
}

static int flow_config(lua_State *L)
{
    pf_maf_config c;
    pf_maf_get_config(checkflow(L, 1), &c);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, c.dim); lua_setfield(L, -2, "dim");
    lua_pushinteger(L, c.context); lua_setfield(L, -2, "context");
    lua_pushinteger(L, c.transforms); lua_setfield(L, -2, "transforms");
    lua_pushinteger(L, c.hidden); lua_setfield(L, -2, "hidden");
    lua_pushinteger(L, c.blocks); lua_setfield(L, -2, "blocks");
    static const char *const family[] = {"affine", "spline", "mixed"};
    lua_pushstring(L, family[c.transform]); lua_setfield(L, -2, "transform");
    if (c.transform != PF_MAF_AFFINE) {
        lua_pushinteger(L, c.bins); lua_setfield(L, -2, "bins");
        lua_pushnumber(L, c.bound); lua_setfield(L, -2, "bound");
    }
    if (c.transform == PF_MAF_MIXED) {
        lua_pushstring(L, c.layers); lua_setfield(L, -2, "layers");
    }
    return 1;
}

static void read_vec(lua_State *L, int idx, const char *key, double *v, int n)
{
    lua_getfield(L, idx, key);
    if (!lua_isnil(L, -1)) {
        luaL_checktype(L, -1, LUA_TTABLE);
        if ((int)luaL_len(L, -1) != n)
            luaL_error(L, "flow:set_prep: option '%s' must have %d entries", key, n);
        for (int i = 0; i < n; i++) {
            lua_geti(L, -1, i + 1);
            int ok;
            v[i] = lua_tonumberx(L, -1, &ok);
            if (!ok)
                luaL_error(L, "flow:set_prep: option '%s' must hold numbers", key);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

/* set_prep(which, {sphere = bool, centre = {3}, radius = R, mean = {...}, std = {...}})
 * which: "input" or "context" */
static int flow_set_prep(lua_State *L)
{
    static const char *const which_names[] = {"input", "context", NULL};
    static const char *const opts[] = {"sphere", "centre", "radius", "mean", "std", NULL};
    pf_maf *f = checkflow(L, 1);
    int which = luaL_checkoption(L, 2, NULL, which_names);
    luaL_checktype(L, 3, LUA_TTABLE);
    pf_lua_checkopts(L, 3, "flow:set_prep", opts);
    int D, C;
    dims(f, &D, &C);
    int d = which ? C : D;
    double *mean = (double *)lua_newuserdatauv(L, 2 * (size_t)(d + 1) * sizeof(double), 0);
    double *std = mean + d + 1;
    for (int i = 0; i < d; i++) {
        mean[i] = 0;
        std[i] = 1;
    }
    pf_maf_prep p;
    p.sphere = pf_lua_optboolfield(L, 3, "sphere", 0);
    p.radius = pf_lua_optnumfield(L, 3, "radius", 1.0);
    p.centre[0] = p.centre[1] = p.centre[2] = 0;
    read_vec(L, 3, "centre", p.centre, 3);
    read_vec(L, 3, "mean", mean, d);
    read_vec(L, 3, "std", std, d);
    p.mean = mean;
    p.std = std;
    pf_err err;
    int st = pf_maf_set_prep(f, which, &p, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "flow:set_prep", st, &err);
    return 0;
}

static void push_vec(lua_State *L, const double *v, int n, const char *key)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, v[i]);
        lua_seti(L, -2, i + 1);
    }
    lua_setfield(L, -2, key);
}

/* get_prep(which) -> table as accepted by set_prep */
static int flow_get_prep(lua_State *L)
{
    static const char *const which_names[] = {"input", "context", NULL};
    pf_maf *f = checkflow(L, 1);
    int which = luaL_checkoption(L, 2, NULL, which_names);
    int D, C;
    dims(f, &D, &C);
    int d = which ? C : D;
    double *mean = (double *)lua_newuserdatauv(L, 2 * (size_t)(d + 1) * sizeof(double), 0);
    double *std = mean + d + 1;
    int sphere;
    double centre[3], radius;
    pf_maf_get_prep(f, which, &sphere, centre, &radius, mean, std);
    lua_newtable(L);
    lua_pushboolean(L, sphere); lua_setfield(L, -2, "sphere");
    lua_pushnumber(L, radius); lua_setfield(L, -2, "radius");
    push_vec(L, centre, 3, "centre");
    push_vec(L, mean, d, "mean");
    push_vec(L, std, d, "std");
    return 1;
}

static int flow_tostring(lua_State *L)
{
    pf_maf *f = (pf_maf *)pf_lua_tohandle(L, 1, FLOW_MT);
    if (!f) {
        lua_pushliteral(L, "pf.flow.maf (freed)");
        return 1;
    }
    pf_maf_config c;
    pf_maf_get_config(f, &c);
    char kind[48] = "";
    if (c.transform != PF_MAF_AFFINE)
        snprintf(kind, sizeof kind, ", %s=%s, bins=%d", c.transform == PF_MAF_SPLINE ?
                 "transform" : "layers", c.transform == PF_MAF_SPLINE ? "spline" : c.layers,
                 c.bins);
    lua_pushfstring(L, "pf.flow.maf{dim=%d, context=%d, transforms=%d, hidden=%d, blocks=%d%s}"
                    " (%d parameters)", c.dim, c.context, c.transforms, c.hidden, c.blocks,
                    kind, (int)pf_maf_nparams(f));
    return 1;
}

/* Collect the arrays of the table at idx (each of shape n x d, or n when d == 0) into
 * ptrs (a userdata left on the stack keeps the pointer list alive). Returns m. */
static size_t collect(lua_State *L, int idx, size_t n, size_t d, const double ***ptrs,
                      const char *what)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    size_t m = (size_t)luaL_len(L, idx);
    luaL_argcheck(L, m > 0, idx, "at least one member array expected");
    const double **p = (const double **)lua_newuserdatauv(L, m * sizeof(double *), 0);
    for (size_t k = 0; k < m; k++) {
        lua_geti(L, idx, (lua_Integer)k + 1);
        pf_array *a = pf_lua_testarray(L, lua_gettop(L));
        if (!a || !pf_array_is_contiguous(a) || (d == 0 ? (a->ndim != 1 || a->shape[0] != n)
                                            : (a->ndim != 2 || a->shape[0] != n ||
                                               a->shape[1] != d)))
            luaL_error(L, "pf.flow.mix: %s[%d] must be a contiguous array of shape %dx%d",
                       what, (int)k + 1, (int)n, (int)d);
        p[k] = a->data;
        lua_pop(L, 1); /* the table still holds the array */
    }
    *ptrs = p;
    return m;
}

/* mix(lps [, gxs [, gcs]]) -> lp (N), gx (N x D or nil), gc (N x C or nil):
 * log of the mean of exp(lps[k]) and the matching weighted gradients. */
static int flow_mix(lua_State *L)
{
    lua_settop(L, 3);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_geti(L, 1, 1);
    pf_array *a0 = pf_lua_testarray(L, lua_gettop(L));
    if (!a0 || a0->ndim != 1)
        return luaL_error(L, "pf.flow.mix: lps[1] must be a 1-D array");
    size_t n = a0->shape[0];
    lua_pop(L, 1);
    const double **lp;
    size_t m = collect(L, 1, n, 0, &lp, "lps");
    int want = !lua_isnoneornil(L, 2) || !lua_isnoneornil(L, 3);
    double *wts = want ? (double *)lua_newuserdatauv(L, (n * m > 0 ? n * m : 1) *
                                                     sizeof(double), 0) : NULL;
    pf_array *out = pf_lua_newarray1(L, n);
    pf_err err;
    int st = pf_maf_mix(n, m, lp, out->data, wts, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "pf.flow.mix", st, &err);
    for (int arg = 2; arg <= 3; arg++) {
        if (lua_isnoneornil(L, arg)) {
            lua_pushnil(L);
            continue;
        }
        luaL_checktype(L, arg, LUA_TTABLE);
        luaL_argcheck(L, (size_t)luaL_len(L, arg) == m, arg, "one gradient array per member");
        lua_geti(L, arg, 1);
        pf_array *g0 = pf_lua_testarray(L, lua_gettop(L));
        if (!g0 || g0->ndim != 2)
            return luaL_error(L, "pf.flow.mix: gradient arrays must be 2-D");
        size_t d = g0->shape[1];
        lua_pop(L, 1);
        const double **g;
        collect(L, arg, n, d, &g, arg == 2 ? "gxs" : "gcs");
        pf_array *go = pf_lua_newarray2(L, n, d);
        pf_maf_mix_grad(n, m, wts, d, g, go->data);
        lua_remove(L, -2); /* the pointer list */
    }
    /* stack: ..., out, gx|nil, gc|nil */
    return 3;
}

/* gelu(h [, {path = "auto"|"scalar"|"avx2"}]) -> a, d, path used: the GELU kernel of the
 * flows on any array (same shape out), to test the vector and scalar paths. */
static int flow_gelu(lua_State *L)
{
    static const char *const opts[] = {"path", NULL};
    static const char *const paths[] = {"auto", "scalar", "avx2", NULL};
    lua_settop(L, 2);
    pf_array *h = pf_lua_contiguous(L, 1);
    pf_lua_checkopts(L, 2, "pf.flow.gelu", opts);
    int path = 0;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "path");
        if (!lua_isnil(L, -1))
            path = luaL_checkoption(L, -1, NULL, paths);
        lua_pop(L, 1);
    }
    pf_array *a = pf_lua_newarray(L, h->ndim, h->shape);
    pf_array *d = pf_lua_newarray(L, h->ndim, h->shape);
    int used = pf_maf_gelu(path, h->size, h->data, a->data, d->data);
    lua_pushstring(L, used == 2 ? "avx2" : "scalar");
    return 3;
}

static int flow_is(lua_State *L)
{
    lua_pushboolean(L, luaL_testudata(L, 1, FLOW_MT) != NULL);
    return 1;
}

int pf_open_flow(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"log_prob", flow_log_prob}, {"grad_log_prob", flow_grad}, {"nll_grad", flow_nll_grad},
        {"forward", flow_forward}, {"inverse", flow_inverse}, {"made", flow_made},
        {"params", flow_params}, {"set_params", flow_set_params}, {"grad", flow_grad_params},
        {"mask", flow_mask}, {"nparams", flow_nparams}, {"config", flow_config},
        {"set_prep", flow_set_prep}, {"get_prep", flow_get_prep}, {"free", flow_gc},
        {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", flow_gc}, {"__close", flow_gc},
                                    {"__tostring", flow_tostring}, {NULL, NULL}};
    static const luaL_Reg f[] = {{"maf", flow_new}, {"is_maf", flow_is}, {"mix", flow_mix},
                                 {"gelu", flow_gelu}, {NULL, NULL}};
    pf_lua_newclass(L, FLOW_MT, methods, meta);
    return pf_lua_newmodule(L, f, FLOW_MT);
}

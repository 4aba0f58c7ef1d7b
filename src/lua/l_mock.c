/*
 * l_mock.c -- pf.mock core: equilibrium tracer populations as a Lua userdata.
 *
 * The userdata holds a pf_mock by value (no pointers inside), so it needs no __gc.
 * The same object serves as the mock and as its exact phase-space density (df):
 * log_f, grad_log_f, n_x, sample_v -- the interface the flow-based density has.
 */
#include <math.h>
#include <string.h>
#include "pf_lua.h"
#include "phaseflow/constants.h"
#include "phaseflow/mock.h"
#include "phaseflow/potential.h"

#define PF_MOCK_MT "phaseflow.mock"

static pf_mock *checkmock(lua_State *L, int arg)
{
    return (pf_mock *)luaL_checkudata(L, arg, PF_MOCK_MT);
}

static void read_population(lua_State *L, int idx, pf_population *p)
{
    static const char *const allowed[] = {"type", "weight", "rd", "sigma0", "r0", "rsigma",
                                          "l0", "sigma", "beta", "lh", "et", NULL};
    pf_lua_checkopts(L, idx, "mock population", allowed);
    const char *t = pf_lua_optstrfield(L, idx, "type", NULL);
    int type = 0;
    if (t && strcmp(t, "disk") == 0)
        type = PF_POP_DISK;
    else if (t && strcmp(t, "halo") == 0)
        type = PF_POP_HALO;
    else
        luaL_error(L, "mock population: type must be 'disk' or 'halo', got %s", t ? t : "nil");
    pf_population_default(p, type);
    p->weight = pf_lua_optnumfield(L, idx, "weight", p->weight);
    p->rd = pf_lua_optnumfield(L, idx, "rd", p->rd);
    p->sigma0 = pf_lua_optnumfield(L, idx, "sigma0", p->sigma0);
    p->r0 = pf_lua_optnumfield(L, idx, "r0", p->r0);
    p->rsigma = pf_lua_optnumfield(L, idx, "rsigma", p->rsigma);
    p->l0 = pf_lua_optnumfield(L, idx, "l0", p->l0);
    p->sigma = pf_lua_optnumfield(L, idx, "sigma", p->sigma);
    p->beta = pf_lua_optnumfield(L, idx, "beta", p->beta);
    p->lh = pf_lua_optnumfield(L, idx, "lh", p->lh);
    p->et = pf_lua_optnumfield(L, idx, "et", p->et);
}

/* galaxy(pot, {populations = {...}, center = {x, y, z}, radius = r}) */
static int l_galaxy(lua_State *L)
{
    static const char *const allowed[] = {"populations", "center", "radius", "normalize", NULL};
    const pf_potential *pot = (const pf_potential *)luaL_checkudata(L, 1, "phaseflow.potential");
    luaL_checktype(L, 2, LUA_TTABLE);
    pf_lua_checkopts(L, 2, "mock.galaxy", allowed);
    double center[3] = {PF_R0, 0, PF_Z_SUN};
    if (lua_getfield(L, 2, "center") != LUA_TNIL) {
        luaL_argcheck(L, lua_istable(L, -1) && luaL_len(L, -1) == 3, 2,
                      "center must be a table of 3 numbers (kpc)");
        for (int i = 0; i < 3; i++) {
            lua_geti(L, -1, i + 1);
            int ok;
            center[i] = lua_tonumberx(L, -1, &ok);
            luaL_argcheck(L, ok, 2, "center must be a table of 3 numbers (kpc)");
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    double radius = pf_lua_optnumfield(L, 2, "radius", 4.0);
    pf_mock *m = (pf_mock *)lua_newuserdatauv(L, sizeof(pf_mock), 0);
    memset(m, 0, sizeof *m);
    luaL_setmetatable(L, PF_MOCK_MT);
    int top = lua_gettop(L);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mock_init(m, pot, center, radius, &err);
    if (st)
        return pf_lua_fail(L, "mock.galaxy", st, &err);
    if (lua_getfield(L, 2, "populations") != LUA_TTABLE)
        return luaL_error(L, "mock.galaxy: 'populations' must be a list of tables");
    int np = (int)luaL_len(L, -1);
    if (np < 1 || np > PF_MOCK_MAXPOP)
        return luaL_error(L, "mock.galaxy: 1 to %d populations expected, got %d", PF_MOCK_MAXPOP, np);
    for (int i = 1; i <= np; i++) {
        if (lua_geti(L, -1, i) != LUA_TTABLE)
            return luaL_error(L, "mock.galaxy: population %d is not a table", i);
        pf_population p;
        read_population(L, lua_gettop(L), &p);
        st = pf_mock_add(m, &p, &err);
        if (st)
            return pf_lua_fail(L, "mock.galaxy", st, &err);
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    if (!pf_lua_optboolfield(L, 2, "normalize", 1)) {
        /* unnormalised: ln f_k + ln w_k (fast; f is then not a probability density) */
        for (int k = 0; k < m->npop; k++)
            m->pop[k].lognorm = log(m->pop[k].weight);
        m->prepared = 1;
        return 1;
    }
    st = pf_mock_prepare(m, &err);
    if (st)
        return pf_lua_fail(L, "mock.galaxy", st, &err);
    return 1;
}

static void check_xv(lua_State *L, pf_array **x, pf_array **v)
{
    pf_lua_checkshape(L, 2, 2, PF_ANY, 3);
    *x = pf_lua_contiguous(L, 2);
    pf_lua_checkshape(L, 3, 2, (*x)->shape[0], 3);
    *v = pf_lua_contiguous(L, 3);
}

static int m_log_f(lua_State *L)
{
    const pf_mock *m = checkmock(L, 1);
    pf_array *x, *v;
    check_xv(L, &x, &v);
    pf_array *out = pf_lua_newarray1(L, x->shape[0]);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mock_logf_n(m, x->shape[0], x->data, v->data, out->data, NULL, NULL, &err);
    if (st)
        return pf_lua_fail(L, "log_f", st, &err);
    return 1;
}

/* df:grad_log_f(x, v) -> gx (N x 3), gv (N x 3), log f (N) */
static int m_grad_log_f(lua_State *L)
{
    const pf_mock *m = checkmock(L, 1);
    pf_array *x, *v;
    check_xv(L, &x, &v);
    size_t n = x->shape[0];
    pf_array *gx = pf_lua_newarray2(L, n, 3);
    pf_array *gv = pf_lua_newarray2(L, n, 3);
    pf_array *lf = pf_lua_newarray1(L, n);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mock_logf_n(m, n, x->data, v->data, lf->data, gx->data, gv->data, &err);
    if (st)
        return pf_lua_fail(L, "grad_log_f", st, &err);
    return 3;
}

static int m_n_x(lua_State *L)
{
    const pf_mock *m = checkmock(L, 1);
    pf_lua_checkshape(L, 2, 2, PF_ANY, 3);
    pf_array *x = pf_lua_contiguous(L, 2);
    pf_array *out = pf_lua_newarray1(L, x->shape[0]);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mock_nx(m, x->shape[0], x->data, out->data, &err);
    if (st)
        return pf_lua_fail(L, "n_x", st, &err);
    return 1;
}

/* {seed = s} (and for sample_v also qmc = true/false: accepted for the df interface of
 * pf.cbe; the exact sampler is a rejection scheme, so its draws are pseudo-random either way) */
static uint64_t seed_opt(lua_State *L, int idx, const char *fname, int allow_qmc)
{
    static const char *const plain[] = {"seed", NULL};
    static const char *const withqmc[] = {"seed", "qmc", NULL};
    pf_lua_checkopts(L, idx, fname, allow_qmc ? withqmc : plain);
    if (allow_qmc && lua_istable(L, idx)) {
        int t = lua_getfield(L, idx, "qmc");
        luaL_argcheck(L, t == LUA_TNIL || t == LUA_TBOOLEAN, idx, "option 'qmc' must be a boolean");
        lua_pop(L, 1);
    }
    return (uint64_t)pf_lua_optintfield(L, idx, "seed", 1);
}

/* mock:sample(n, {seed = s}) -> x (n x 3), v (n x 3), pop (n, 1-based), info */
static int m_sample(lua_State *L)
{
    const pf_mock *m = checkmock(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 1, 2, "number of stars must be positive");
    uint64_t seed = seed_opt(L, 3, "sample", 0);
    pf_array *x = pf_lua_newarray2(L, (size_t)n, 3);
    pf_array *v = pf_lua_newarray2(L, (size_t)n, 3);
    pf_array *pa = pf_lua_newarray1(L, (size_t)n);
    int *pop = (int *)lua_newuserdatauv(L, (size_t)n * sizeof(int), 0);
    size_t viol = 0, prop = 0;
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mock_sample(m, seed, (size_t)n, x->data, v->data, pop, &viol, &prop, &err);
    if (st)
        return pf_lua_fail(L, "sample", st, &err);
    for (lua_Integer i = 0; i < n; i++)
        pa->data[i] = pop[i] + 1;
    lua_pop(L, 1);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)viol);
    lua_setfield(L, -2, "violations");
    lua_pushinteger(L, (lua_Integer)prop);
    lua_setfield(L, -2, "proposals");
    return 4;
}

/* df:sample_v(x0, n, {seed = s, qmc = b}) -> v (n x 3), info; x0 a 1 x 3 array or {x, y, z} */
static int m_sample_v(lua_State *L)
{
    const pf_mock *m = checkmock(L, 1);
    double x0[3];
    if (lua_istable(L, 2)) {
        luaL_argcheck(L, luaL_len(L, 2) == 3, 2, "position {x, y, z} expected");
        for (int i = 0; i < 3; i++) {
            lua_geti(L, 2, i + 1);
            int ok;
            x0[i] = lua_tonumberx(L, -1, &ok);
            luaL_argcheck(L, ok, 2, "position {x, y, z} expected");
            lua_pop(L, 1);
        }
    } else {
        pf_lua_checkshape(L, 2, 2, 1, 3);
        pf_array *a = pf_lua_contiguous(L, 2);
        memcpy(x0, a->data, sizeof x0);
    }
    lua_Integer n = luaL_checkinteger(L, 3);
    luaL_argcheck(L, n >= 1, 3, "number of velocities must be positive");
    uint64_t seed = seed_opt(L, 4, "sample_v", 1);
    pf_array *v = pf_lua_newarray2(L, (size_t)n, 3);
    size_t viol = 0;
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mock_sample_v(m, x0, seed, (size_t)n, v->data, &viol, &err);
    if (st)
        return pf_lua_fail(L, "sample_v", st, &err);
    lua_createtable(L, 0, 1);
    lua_pushinteger(L, (lua_Integer)viol);
    lua_setfield(L, -2, "violations");
    return 2;
}

/* mock:n_x_population(k, R, z): unnormalised density of population k (tests). */
static int m_nx_pop(lua_State *L)
{
    const pf_mock *m = checkmock(L, 1);
    lua_Integer k = luaL_checkinteger(L, 2);
    luaL_argcheck(L, k >= 1 && k <= m->npop, 2, "population index out of range");
    double R = luaL_checknumber(L, 3), z = luaL_checknumber(L, 4);
    luaL_argcheck(L, R >= 0, 3, "R must be >= 0");
    lua_pushnumber(L, pf_mock_nx_pop(m, (int)k - 1, R, z));
    return 1;
}

/* df:v_moments({x, y, z}) -> {n, mean_vphi, vphi2, vphi3, vR2} by quadrature */
static int m_vmoments(lua_State *L)
{
    const pf_mock *m = checkmock(L, 1);
    double x0[3], out[5];
    luaL_argcheck(L, lua_istable(L, 2) && luaL_len(L, 2) == 3, 2, "position {x, y, z} expected");
    for (int i = 0; i < 3; i++) {
        lua_geti(L, 2, i + 1);
        int ok;
        x0[i] = lua_tonumberx(L, -1, &ok);
        luaL_argcheck(L, ok, 2, "position {x, y, z} expected");
        lua_pop(L, 1);
    }
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mock_vmoments(m, x0, out, &err);
    if (st)
        return pf_lua_fail(L, "v_moments", st, &err);
    static const char *const names[] = {"n", "vphi", "vphi2", "vphi3", "vR2"};
    lua_createtable(L, 0, 5);
    for (int j = 0; j < 5; j++) {
        lua_pushnumber(L, out[j]);
        lua_setfield(L, -2, names[j]);
    }
    return 1;
}

/* mock:slab(k, z0, z1 [, R0, R1]): unnormalised integral of n_k over the sphere's part
 * with z in [z0, z1] (and cylindrical R in [R0, R1], default all) */
static int m_slab(lua_State *L)
{
    const pf_mock *m = checkmock(L, 1);
    lua_Integer k = luaL_checkinteger(L, 2);
    luaL_argcheck(L, k >= 1 && k <= m->npop, 2, "population index out of range");
    double z0 = luaL_checknumber(L, 3), z1 = luaL_checknumber(L, 4), out;
    double r0 = luaL_optnumber(L, 5, 0), r1 = luaL_optnumber(L, 6, HUGE_VAL);
    luaL_argcheck(L, !isnan(z0), 3, "z0 must be a number");
    luaL_argcheck(L, !isnan(z1), 4, "z1 must be a number");
    luaL_argcheck(L, r0 >= 0, 5, "R0 must be >= 0");
    luaL_argcheck(L, r1 >= r0, 6, "R1 must be >= R0");
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mock_region(m, (int)k - 1, z0, z1, r0, r1, &out, &err);
    if (st)
        return pf_lua_fail(L, "slab", st, &err);
    lua_pushnumber(L, out);
    return 1;
}

static int m_info(lua_State *L)
{
    const pf_mock *m = checkmock(L, 1);
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, m->radius);
    lua_setfield(L, -2, "radius");
    lua_createtable(L, 3, 0);
    for (int i = 0; i < 3; i++) {
        lua_pushnumber(L, m->center[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "center");
    lua_createtable(L, m->npop, 0);
    for (int k = 0; k < m->npop; k++) {
        const pf_population *p = &m->pop[k];
        lua_createtable(L, 0, 4);
        lua_pushstring(L, p->type == PF_POP_DISK ? "disk" : "halo");
        lua_setfield(L, -2, "type");
        lua_pushnumber(L, p->weight);
        lua_setfield(L, -2, "weight");
        lua_pushnumber(L, p->lognorm);
        lua_setfield(L, -2, "lognorm");
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "populations");
    return 1;
}

static const luaL_Reg methods[] = {
    {"log_f", m_log_f}, {"grad_log_f", m_grad_log_f}, {"n_x", m_n_x},
    {"sample", m_sample}, {"sample_v", m_sample_v}, {"n_x_population", m_nx_pop},
    {"info", m_info}, {"v_moments", m_vmoments}, {"slab", m_slab}, {NULL, NULL}};

static const luaL_Reg funcs[] = {{"galaxy", l_galaxy}, {NULL, NULL}};

int pf_open_mock(lua_State *L)
{
    pf_lua_newclass(L, PF_MOCK_MT, methods, NULL);
    return pf_lua_newmodule(L, funcs, NULL);
}

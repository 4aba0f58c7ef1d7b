/*
 * l_potential.c -- pf.potential: analytic potentials as Lua userdata.
 *
 * A potential userdata holds a pf_potential by value (no pointers, nothing to free),
 * so `+` simply builds a new userdata with the concatenated component list. The
 * metatable is registered under PF_POTENTIAL_MT; other binding files (l_mock.c)
 * read potentials through luaL_checkudata with the same name.
 */
#include <math.h>
#include <string.h>
#include "pf_lua.h"
#include "phaseflow/potential.h"

#define PF_POTENTIAL_MT "phaseflow.potential"

static pf_potential *checkpot(lua_State *L, int arg)
{
    return (pf_potential *)luaL_checkudata(L, arg, PF_POTENTIAL_MT);
}

/* [-0, +1] */
static pf_potential *newpot(lua_State *L)
{
    pf_potential *p = (pf_potential *)lua_newuserdatauv(L, sizeof(pf_potential), 0);
    pf_potential_init(p);
    luaL_setmetatable(L, PF_POTENTIAL_MT);
    return p;
}

static int type_from_name(const char *s)
{
    for (int t = PF_POT_POWER_CUTOFF; t <= PF_POT_PLUMMER; t++)
        if (strcmp(s, pf_potcomp_name(t)) == 0)
            return t;
    return 0;
}

/* component{type = "nfw", a = 16, amp = M | normalize = 0.35, r0 = 8, v0 = 220,
 *           b = ..., alpha = ..., rc = ...} -> potential with one component */
static int l_component(lua_State *L)
{
    static const char *const allowed[] = {"type", "amp", "normalize", "r0", "v0", "a", "b",
                                          "alpha", "rc", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    pf_lua_checkopts(L, 1, "potential.component", allowed);
    const char *tname = pf_lua_optstrfield(L, 1, "type", NULL);
    if (!tname)
        return luaL_argerror(L, 1, "field 'type' (component name) expected");
    pf_potcomp c;
    memset(&c, 0, sizeof c);
    c.type = type_from_name(tname);
    if (!c.type)
        return luaL_error(L, "potential.component: unknown type '%s' (power_cutoff, "
                          "miyamoto_nagai, nfw, hernquist, plummer)", tname);
    c.a = pf_lua_optnumfield(L, 1, "a", NAN);
    c.b = pf_lua_optnumfield(L, 1, "b", NAN);
    c.alpha = pf_lua_optnumfield(L, 1, "alpha", NAN);
    c.rc = pf_lua_optnumfield(L, 1, "rc", NAN);
    if (c.type == PF_POT_MIYAMOTO_NAGAI || c.type == PF_POT_NFW || c.type == PF_POT_HERNQUIST
        || c.type == PF_POT_PLUMMER)
        if (isnan(c.a))
            return luaL_error(L, "potential.component: %s needs 'a' (kpc)", tname);
    if (c.type == PF_POT_MIYAMOTO_NAGAI && isnan(c.b))
        return luaL_error(L, "potential.component: miyamoto_nagai needs 'b' (kpc)");
    if (c.type == PF_POT_POWER_CUTOFF && (isnan(c.alpha) || isnan(c.rc)))
        return luaL_error(L, "potential.component: power_cutoff needs 'alpha' and 'rc' (kpc)");
    double amp = pf_lua_optnumfield(L, 1, "amp", NAN);
    double norm = pf_lua_optnumfield(L, 1, "normalize", NAN);
    if (isnan(amp) == isnan(norm))
        return luaL_error(L, "potential.component: give exactly one of 'amp' and 'normalize'");
    pf_err err;
    pf_err_clear(&err);
    int st;
    if (!isnan(norm)) {
        double r0 = pf_lua_optnumfield(L, 1, "r0", 8.0);
        double v0 = pf_lua_optnumfield(L, 1, "v0", 220.0);
        st = pf_potcomp_normalize(&c, norm, r0, v0, &err);
    } else {
        c.amp = amp;
        st = pf_potcomp_check(&c, &err);
    }
    if (st)
        return pf_lua_fail(L, "potential.component", st, &err);
    pf_potential *p = newpot(L);
    pf_potential_add(p, &c, NULL);
    return 1;
}

static int l_mw2014(lua_State *L)
{
    pf_potential *p = newpot(L);
    pf_potential_mw2014(p);
    return 1;
}

/* Shared body of phi / density (n values) and acceleration (n x 3). */
static int eval(lua_State *L, int what)
{
    const pf_potential *p = checkpot(L, 1);
    pf_array *x = pf_lua_checkshape(L, 2, 2, PF_ANY, 3);
    x = pf_lua_contiguous(L, 2);
    size_t n = x->shape[0];
    if (what == 1) {
        pf_array *out = pf_lua_newarray2(L, n, 3);
        pf_potential_acc_n(p, n, x->data, out->data);
    } else {
        pf_array *out = pf_lua_newarray1(L, n);
        if (what == 0)
            pf_potential_phi_n(p, n, x->data, out->data);
        else
            pf_potential_density_n(p, n, x->data, out->data);
    }
    return 1;
}

static int m_phi(lua_State *L) { return eval(L, 0); }
static int m_acc(lua_State *L) { return eval(L, 1); }
static int m_density(lua_State *L) { return eval(L, 2); }

/* pot:vcirc(R): R a number (returns a number) or a 1-D array (returns an array). */
static int m_vcirc(lua_State *L)
{
    const pf_potential *p = checkpot(L, 1);
    if (lua_type(L, 2) == LUA_TNUMBER) {
        double R = lua_tonumber(L, 2);
        luaL_argcheck(L, R > 0, 2, "radius must be positive");
        lua_pushnumber(L, pf_potential_vcirc(p, R));
        return 1;
    }
    pf_array *r = pf_lua_checkshape(L, 2, 1, PF_ANY, PF_ANY);
    r = pf_lua_contiguous(L, 2);
    pf_array *out = pf_lua_newarray1(L, r->shape[0]);
    for (size_t i = 0; i < r->shape[0]; i++) {
        if (!(r->data[i] > 0))
            return luaL_argerror(L, 2, "radii must be positive");
        out->data[i] = pf_potential_vcirc(p, r->data[i]);
    }
    return 1;
}

/* pot:components() -> list of {type=, amp=, a=, ...} tables */
static int m_components(lua_State *L)
{
    const pf_potential *p = checkpot(L, 1);
    lua_createtable(L, p->n, 0);
    for (int i = 0; i < p->n; i++) {
        const pf_potcomp *c = &p->comp[i];
        lua_createtable(L, 0, 6);
        lua_pushstring(L, pf_potcomp_name(c->type));
        lua_setfield(L, -2, "type");
        lua_pushnumber(L, c->amp);
        lua_setfield(L, -2, "amp");
        if (c->type == PF_POT_POWER_CUTOFF) {
            lua_pushnumber(L, c->alpha);
            lua_setfield(L, -2, "alpha");
            lua_pushnumber(L, c->rc);
            lua_setfield(L, -2, "rc");
        } else {
            lua_pushnumber(L, c->a);
            lua_setfield(L, -2, "a");
        }
        if (c->type == PF_POT_MIYAMOTO_NAGAI) {
            lua_pushnumber(L, c->b);
            lua_setfield(L, -2, "b");
        }
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int m_add(lua_State *L)
{
    const pf_potential *a = checkpot(L, 1);
    const pf_potential *b = checkpot(L, 2);
    pf_potential *p = newpot(L);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_potential_sum(p, a, b, &err);
    if (st)
        return pf_lua_fail(L, "potential +", st, &err);
    return 1;
}

static int m_len(lua_State *L)
{
    lua_pushinteger(L, checkpot(L, 1)->n);
    return 1;
}

static int m_tostring(lua_State *L)
{
    const pf_potential *p = checkpot(L, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "potential(");
    for (int i = 0; i < p->n; i++) {
        if (i)
            luaL_addstring(&b, " + ");
        luaL_addstring(&b, pf_potcomp_name(p->comp[i].type));
    }
    luaL_addstring(&b, ")");
    luaL_pushresult(&b);
    return 1;
}

static int l_is_potential(lua_State *L)
{
    lua_pushboolean(L, luaL_testudata(L, 1, PF_POTENTIAL_MT) != NULL);
    return 1;
}

static const luaL_Reg methods[] = {
    {"phi", m_phi}, {"acceleration", m_acc}, {"density", m_density}, {"vcirc", m_vcirc},
    {"components", m_components}, {NULL, NULL}};

static const luaL_Reg metamethods[] = {
    {"__add", m_add}, {"__len", m_len}, {"__tostring", m_tostring}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
    {"component", l_component}, {"mwpotential2014", l_mw2014},
    {"is_potential", l_is_potential}, {NULL, NULL}};

int pf_open_potential(lua_State *L)
{
    pf_lua_newclass(L, PF_POTENTIAL_MT, methods, metamethods);
    return pf_lua_newmodule(L, funcs, NULL);
}

/*
 * l_coords.c -- pf.coords: Lua face of src/core/coords.c.
 *
 * A catalogue is a Lua table of 1-D pf.arrays keyed by Gaia archive column names.
 * The functions here read the columns they need, check them (presence, type, 1-D,
 * equal lengths, naming the column in every error) and call the core. Columns are
 * pushed on the stack while the core runs, so views made contiguous stay alive.
 */
#include <math.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include "pf_lua.h"
#include "phaseflow/coords.h"

static const char *const OBS_NAMES[6] = {"ra", "dec", "parallax", "pmra", "pmdec",
                                         "radial_velocity"};
static const char *const ERR_NAMES[6] = {"ra_error", "dec_error", "parallax_error",
                                         "pmra_error", "pmdec_error",
                                         "radial_velocity_error"};
static const char *const CORR_NAMES[10] = {
    "ra_dec_corr", "ra_parallax_corr", "ra_pmra_corr", "ra_pmdec_corr",
    "dec_parallax_corr", "dec_pmra_corr", "dec_pmdec_corr", "parallax_pmra_corr",
    "parallax_pmdec_corr", "pmra_pmdec_corr"};

static const char *const FRAME_OPTS[] = {"galcen_distance", "z_sun", "galcen_v_sun", "roll",
                                         "galcen_ra", "galcen_dec", NULL};

/* Read the frame options of the table at `opts` (nil allowed) into a frame. */
static void frame_from_opts(lua_State *L, int opts, const char *fname, pf_coords_frame *f)
{
    pf_coords_params p;
    pf_coords_params_default(&p);
    if (!lua_isnoneornil(L, opts)) {
        p.galcen_distance = pf_lua_optnumfield(L, opts, "galcen_distance", p.galcen_distance);
        p.z_sun = pf_lua_optnumfield(L, opts, "z_sun", p.z_sun);
        p.roll = pf_lua_optnumfield(L, opts, "roll", p.roll);
        p.galcen_ra = pf_lua_optnumfield(L, opts, "galcen_ra", p.galcen_ra);
        p.galcen_dec = pf_lua_optnumfield(L, opts, "galcen_dec", p.galcen_dec);
        lua_getfield(L, opts, "galcen_v_sun");
        if (!lua_isnil(L, -1)) {
            if (!lua_istable(L, -1) || luaL_len(L, -1) != 3)
                luaL_error(L, "%s: option galcen_v_sun must be a table of 3 numbers (km/s)",
                           fname);
            for (int k = 0; k < 3; k++) {
                lua_geti(L, -1, k + 1);
                int isnum;
                p.galcen_v_sun[k] = lua_tonumberx(L, -1, &isnum);
                if (!isnum)
                    luaL_error(L, "%s: option galcen_v_sun[%d] must be a number", fname, k + 1);
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
    pf_err err;
    pf_err_clear(&err);
    int st = pf_coords_frame_init(f, &p, &err);
    if (st != PF_OK)
        pf_lua_fail(L, fname, st, &err);
}

/* [-0, +1] Push column `name` of the catalogue at `cat` (made contiguous) and return
 * its data, or push nil and return NULL when it is absent and not required. `n` is
 * the expected length, or PF_ANY to set it from this column. */
static const double *get_column(lua_State *L, int cat, const char *name, int required,
                                size_t *n, const char *fname)
{
    lua_getfield(L, cat, name);
    if (lua_isnil(L, -1)) {
        if (required)
            luaL_error(L, "%s: catalogue has no column '%s'", fname, name);
        return NULL;
    }
    pf_array *a = pf_lua_testarray(L, -1);
    if (!a)
        luaL_error(L, "%s: column '%s' must be a pf.array, got %s", fname, name,
                   luaL_typename(L, -1));
    if (a->ndim != 1)
        luaL_error(L, "%s: column '%s' must be 1-D, got %d dimensions", fname, name, a->ndim);
    if (*n == PF_ANY)
        *n = a->shape[0];
    else if (a->shape[0] != *n)
        luaL_error(L, "%s: column '%s' has %d rows, expected %d like 'ra'", fname, name,
                   (int)a->shape[0], (int)*n);
    a = pf_lua_contiguous(L, lua_gettop(L));
    return a->data;
}

/* [-0, +6] The six observables; returns n. */
static size_t get_obs(lua_State *L, int cat, const double *obs[6], const char *fname)
{
    luaL_checktype(L, cat, LUA_TTABLE);
    luaL_checkstack(L, 24, "too many columns");
    size_t n = PF_ANY;
    for (int k = 0; k < 6; k++)
        obs[k] = get_column(L, cat, OBS_NAMES[k], 1, &n, fname);
    return n;
}

/* [-0, +16] Error and correlation columns. Returns 1 if the errors are present (all
 * six; some but not all is an error naming the first missing one), else 0. */
static int get_errors(lua_State *L, int cat, size_t n, const double *err[6],
                      const double *corr[10], const char *fname)
{
    int have = 0;
    for (int k = 0; k < 6; k++) {
        size_t m = n;
        err[k] = get_column(L, cat, ERR_NAMES[k], 0, &m, fname);
        have += err[k] != NULL;
    }
    for (int k = 0; k < 10; k++) {
        size_t m = n;
        corr[k] = get_column(L, cat, CORR_NAMES[k], 0, &m, fname);
    }
    if (have > 0 && have < 6)
        for (int k = 0; k < 6; k++)
            if (!err[k])
                luaL_error(L, "%s: catalogue has some error columns but no '%s'", fname,
                           ERR_NAMES[k]);
    return have == 6;
}

/* new 1-D array stored in table `t` under `key`; returns its data */
static double *field_array(lua_State *L, int t, const char *key, size_t n)
{
    double *d = pf_lua_newarray1(L, n)->data;
    lua_setfield(L, t, key);
    return d;
}

/* galactocentric(cat [, opts]) -> g */
static int l_galactocentric(lua_State *L)
{
    static const char *const allowed[] = {"galcen_distance", "z_sun", "galcen_v_sun", "roll",
                                          "galcen_ra", "galcen_dec", "cov", "components",
                                          NULL};
    const char *fname = "galactocentric";
    luaL_checktype(L, 1, LUA_TTABLE);
    pf_lua_checkopts(L, 2, fname, allowed);
    pf_coords_frame f;
    frame_from_opts(L, 2, fname, &f);
    int want_cov = lua_isnoneornil(L, 2) ? 1 : pf_lua_optboolfield(L, 2, "cov", 1);
    int want_comp = lua_isnoneornil(L, 2) ? 1 : pf_lua_optboolfield(L, 2, "components", 1);
    lua_settop(L, 2);
    const double *obs[6], *err[6], *corr[10];
    size_t n = get_obs(L, 1, obs, fname);
    int have_err = want_cov && get_errors(L, 1, n, err, corr, fname);

    lua_createtable(L, 0, 16);
    int g = lua_gettop(L);
    pf_array *x = pf_lua_newarray2(L, n, 3);
    lua_setfield(L, g, "x");
    pf_array *v = pf_lua_newarray2(L, n, 3);
    lua_setfield(L, g, "v");
    pf_coords_to_galcen(&f, n, obs, x->data, v->data);
    if (want_comp) { /* cylindrical and spherical components */
        double *R = field_array(L, g, "R", n), *phi = field_array(L, g, "phi", n);
        double *z = field_array(L, g, "z", n), *vR = field_array(L, g, "v_R", n);
        double *vphi = field_array(L, g, "v_phi", n), *vz = field_array(L, g, "v_z", n);
        double *r = field_array(L, g, "r", n), *th = field_array(L, g, "theta", n);
        double *vr = field_array(L, g, "v_r", n), *vth = field_array(L, g, "v_theta", n);
        pf_coords_cylindrical(n, x->data, v->data, R, phi, z, vR, vphi, vz);
        pf_coords_spherical(n, x->data, v->data, r, th, vr, vth);
    }
    if (have_err) {
        pf_array *co = pf_lua_newarray2(L, n, 21);
        lua_setfield(L, g, "cov_obs");
        pf_coords_obs_cov(n, err, corr, co->data);
        pf_array *c = pf_lua_newarray2(L, n, 21);
        lua_setfield(L, g, "cov");
        pf_coords_cov_galcen(&f, n, obs, co->data, c->data);
    }
    return 1;
}

/* covariance(cat [, opts]) -> N x 21 Galactocentric covariances of (x, v), or nil when
 * the catalogue has no error columns. Frame options as for galactocentric. */
static int l_covariance(lua_State *L)
{
    const char *fname = "covariance";
    luaL_checktype(L, 1, LUA_TTABLE);
    pf_lua_checkopts(L, 2, fname, FRAME_OPTS);
    pf_coords_frame f;
    frame_from_opts(L, 2, fname, &f);
    lua_settop(L, 2);
    const double *obs[6], *err[6], *corr[10];
    size_t n = get_obs(L, 1, obs, fname);
    if (!get_errors(L, 1, n, err, corr, fname)) {
        lua_pushnil(L);
        return 1;
    }
    pf_array *c = pf_lua_newarray2(L, n, 21);
    pf_coords_cov_from_errors(&f, n, obs, err, corr, c->data);
    return 1;
}

/* observables(x, v [, opts]) -> cat with ra, dec, parallax, pmra, pmdec, radial_velocity */
static int l_observables(lua_State *L)
{
    const char *fname = "observables";
    pf_array *x = pf_lua_checkshape(L, 1, 2, PF_ANY, 3);
    size_t n = x->shape[0];
    pf_lua_checkshape(L, 2, 2, n, 3);
    pf_lua_checkopts(L, 3, fname, FRAME_OPTS);
    pf_coords_frame f;
    frame_from_opts(L, 3, fname, &f);
    x = pf_lua_contiguous(L, 1);
    pf_array *v = pf_lua_contiguous(L, 2);
    lua_createtable(L, 0, 6);
    int t = lua_gettop(L);
    double *obs[6];
    for (int k = 0; k < 6; k++)
        obs[k] = field_array(L, t, OBS_NAMES[k], n);
    pf_coords_from_galcen(&f, n, x->data, v->data, obs);
    return 1;
}

/* sun([opts]) -> x (3), v (3) */
static int l_sun(lua_State *L)
{
    pf_lua_checkopts(L, 1, "sun", FRAME_OPTS);
    pf_coords_frame f;
    frame_from_opts(L, 1, "sun", &f);
    double xs[3], vs[3];
    pf_coords_sun(&f, xs, vs);
    double *x = pf_lua_newarray1(L, 3)->data, *v = pf_lua_newarray1(L, 3)->data;
    memcpy(x, xs, sizeof xs);
    memcpy(v, vs, sizeof vs);
    return 2;
}

/* jacobian(cat [, opts]) -> N x 6 x 6 */
static int l_jacobian(lua_State *L)
{
    const char *fname = "jacobian";
    luaL_checktype(L, 1, LUA_TTABLE);
    pf_lua_checkopts(L, 2, fname, FRAME_OPTS);
    pf_coords_frame f;
    frame_from_opts(L, 2, fname, &f);
    lua_settop(L, 2);
    const double *obs[6];
    size_t n = get_obs(L, 1, obs, fname);
    size_t shape[3] = {n, 6, 6};
    pf_array *j = pf_lua_newarray(L, 3, shape);
    pf_coords_jacobian(&f, n, obs, j->data);
    return 1;
}

/* smear(cat, {seed = s} or {rng = r}) -> new cat (other columns shared), number of
 * stars that could not be drawn (NaN input or covariance not positive definite) */
static int l_smear(lua_State *L)
{
    static const char *const allowed[] = {"seed", "rng", NULL};
    const char *fname = "smear";
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    pf_lua_checkopts(L, 2, fname, allowed);
    lua_getfield(L, 2, "seed");
    lua_getfield(L, 2, "rng");
    if (lua_isnil(L, -1) && !lua_isinteger(L, -2))
        luaL_error(L, "%s: option seed (an integer) or rng (a pf.rng) is required", fname);
    lua_settop(L, 2);
    gsl_rng *r = pf_lua_rng_from_opts(L, 2, 1); /* stays on the stack at index 3 */
    const double *obs[6], *err[6], *corr[10];
    size_t n = get_obs(L, 1, obs, fname);
    if (!get_errors(L, 1, n, err, corr, fname))
        luaL_error(L, "%s: catalogue has no error columns ('%s', ...)", fname, ERR_NAMES[0]);
    /* pf.gaia reads an error column absent from a file (radial_velocity_error in a query
     * that did not ask for it) as all missing: that would make every draw NaN and fail
     * far from the cause, so name it here. */
    for (int k = 0; k < 6 && n > 0; k++) {
        size_t i = 0;
        while (i < n && isnan(err[k][i]))
            i++;
        if (i == n)
            luaL_error(L, "%s: column '%s' is missing for every star (absent from the input "
                       "files?): no star can be drawn", fname, ERR_NAMES[k]);
    }
    pf_array *co = pf_lua_newarray2(L, n, 21);
    pf_coords_obs_cov(n, err, corr, co->data);

    /* the new catalogue: every field of cat, then fresh observables */
    lua_newtable(L);
    int t = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, t);
    }
    double *out[6];
    for (int k = 0; k < 6; k++)
        out[k] = field_array(L, t, OBS_NAMES[k], n);

    pf_err e;
    pf_err_clear(&e);
    size_t nbad = 0;
    int st = pf_coords_smear(n, obs, co->data, r, out, &nbad, &e);
    if (st != PF_OK)
        return pf_lua_fail(L, fname, st, &e);
    lua_pushvalue(L, t);
    lua_pushinteger(L, (lua_Integer)nbad);
    return 2;
}

int pf_open_coords(lua_State *L)
{
    static const luaL_Reg fns[] = {{"galactocentric", l_galactocentric},
                                   {"observables", l_observables},
                                   {"sun", l_sun},
                                   {"jacobian", l_jacobian},
                                   {"covariance", l_covariance},
                                   {"smear", l_smear},
                                   {NULL, NULL}};
    pf_lua_newmodule(L, fns, NULL);
    lua_pushnumber(L, PF_COORDS_K);
    lua_setfield(L, -2, "K");
    return 1;
}

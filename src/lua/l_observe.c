/*
 * l_observe.c -- phaseflow.core.observe: luminosity function draws, DR3-like errors,
 * toy dust and the Gaia archive writer. The facade lua/phaseflow/observe.lua builds
 * catalogues from these pieces.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pf_lua.h"
#include "phaseflow/observe.h"

static const char *const LF_FIELDS[] = {
    "rc_mg", "rc_sigma", "rc_color", "rgb_min", "rgb_max", "rgb_slope", "rgb_color0",
    "rgb_color_slope", "dwarf_min", "dwarf_max", "dwarf_color0", "dwarf_color_slope",
    "color_sigma", NULL};

static double *lf_field(pf_observe_lf *lf, int k)
{
    double *p[] = {&lf->rc_mg, &lf->rc_sigma, &lf->rc_color, &lf->rgb_min, &lf->rgb_max,
                   &lf->rgb_slope, &lf->rgb_color0, &lf->rgb_color_slope, &lf->dwarf_min,
                   &lf->dwarf_max, &lf->dwarf_color0, &lf->dwarf_color_slope,
                   &lf->color_sigma};
    return p[k];
}

/* [-0, +1] The luminosity function as a table (weights = {rc, rgb, dwarf}). */
static void push_lf(lua_State *L, pf_observe_lf *lf)
{
    lua_createtable(L, 0, 14);
    for (int k = 0; LF_FIELDS[k]; k++) {
        lua_pushnumber(L, *lf_field(lf, k));
        lua_setfield(L, -2, LF_FIELDS[k]);
    }
    lua_createtable(L, 3, 0);
    for (int k = 0; k < PF_OBSERVE_NKIND; k++) {
        lua_pushnumber(L, lf->weight[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "weights");
}

/* [-0, +0] Read a luminosity function table at idx over the defaults: unknown keys
 * and non-numbers are errors naming the key. */
static void read_lf(lua_State *L, int idx, pf_observe_lf *lf)
{
    pf_observe_lf_default(lf);
    if (lua_isnoneornil(L, idx)) return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        int found = 0;
        if (strcmp(key, "weights") == 0) {
            if (!lua_istable(L, -1) || luaL_len(L, -1) != PF_OBSERVE_NKIND)
                luaL_error(L, "luminosity function: 'weights' must be a list {rc, rgb, dwarf}");
            for (int k = 0; k < PF_OBSERVE_NKIND; k++) {
                lua_geti(L, -1, k + 1);
                int isnum;
                lf->weight[k] = lua_tonumberx(L, -1, &isnum);
                if (!isnum) luaL_error(L, "luminosity function: weight %d is not a number", k + 1);
                lua_pop(L, 1);
            }
            found = 1;
        }
        for (int k = 0; !found && LF_FIELDS[k]; k++) {
            if (strcmp(key, LF_FIELDS[k]) == 0) {
                int isnum;
                *lf_field(lf, k) = lua_tonumberx(L, -1, &isnum);
                if (!isnum) luaL_error(L, "luminosity function: '%s' must be a number", key);
                found = 1;
            }
        }
        if (!found) luaL_error(L, "luminosity function: unknown field '%s'", key);
        lua_pop(L, 1);
    }
}

/* lf_default() -> table */
static int o_lf_default(lua_State *L)
{
    pf_observe_lf lf;
    pf_observe_lf_default(&lf);
    push_lf(L, &lf);
    return 1;
}

/* draw_lf(n, {lf = {...}, seed = s | rng = r}) -> M_G (n), bp_rp (n), kind (n: 0 RC,
 * 1 RGB, 2 dwarf) */
static int o_draw_lf(lua_State *L)
{
    static const char *const allowed[] = {"lf", "seed", "rng", NULL};
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0, 1, "number of stars must be >= 0");
    pf_lua_checkopts(L, 2, "draw_lf", allowed);
    pf_observe_lf lf;
    if (!lua_isnoneornil(L, 2)) {
        lua_getfield(L, 2, "lf");
        read_lf(L, lua_gettop(L), &lf);
        lua_pop(L, 1);
    } else {
        pf_observe_lf_default(&lf);
    }
    gsl_rng *r = pf_lua_rng_from_opts(L, 2, 1);
    double *mg = pf_lua_newarray1(L, (size_t)n)->data;
    double *c = pf_lua_newarray1(L, (size_t)n)->data;
    double *kd = pf_lua_newarray1(L, (size_t)n)->data;
    int *kind = malloc((size_t)(n > 0 ? n : 1) * sizeof *kind);
    if (!kind) return luaL_error(L, "draw_lf: out of memory");
    pf_err err;
    int st = pf_observe_draw_lf(&lf, r, (size_t)n, mg, c, kind, &err);
    for (lua_Integer i = 0; st == PF_OK && i < n; i++) kd[i] = kind[i];
    free(kind);
    if (st != PF_OK) return pf_lua_fail(L, "draw_lf", st, &err);
    return 3;
}

/* g_minus_grvs(bp_rp (n)) -> G - G_RVS (n) */
static int o_g_minus_grvs(lua_State *L)
{
    pf_array *c = pf_lua_checkshape(L, 1, 1, PF_ANY, 0);
    c = pf_lua_contiguous(L, 1);
    double *out = pf_lua_newarray1(L, c->shape[0])->data;
    for (size_t i = 0; i < c->shape[0]; i++) out[i] = pf_observe_g_minus_grvs(c->data[i]);
    return 1;
}

static const char *const ERR_NAMES[6] = {"ra_error", "dec_error", "parallax_error",
                                         "pmra_error", "pmdec_error", "radial_velocity_error"};

/* errors(G (n), G_RVS (n)) -> {ra_error = , dec_error = , ..., radial_velocity_error = } */
static int o_errors(lua_State *L)
{
    pf_array *g = pf_lua_checkshape(L, 1, 1, PF_ANY, 0);
    size_t n = g->shape[0];
    pf_lua_checkshape(L, 2, 1, n, 0);
    g = pf_lua_contiguous(L, 1);
    pf_array *gr = pf_lua_contiguous(L, 2);
    lua_createtable(L, 0, 6);
    double *out[6];
    for (int k = 0; k < 6; k++) {
        out[k] = pf_lua_newarray1(L, n)->data;
        lua_setfield(L, -2, ERR_NAMES[k]);
    }
    for (size_t i = 0; i < n; i++) {
        double e[6];
        pf_observe_errors(g->data[i], gr->data[i], e);
        for (int k = 0; k < 6; k++) out[k][i] = e[k];
    }
    return 1;
}

/* extinction(x (n x 3), clouds {{c = {x,y,z}, r = , a = }, ...}, sun {x,y,z}) -> A_G (n) */
static int o_extinction(lua_State *L)
{
    pf_array *x = pf_lua_checkshape(L, 1, 2, PF_ANY, 3);
    size_t n = x->shape[0];
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    x = pf_lua_contiguous(L, 1);
    double sun[3];
    for (int j = 0; j < 3; j++) {
        lua_geti(L, 3, j + 1);
        int isnum;
        sun[j] = lua_tonumberx(L, -1, &isnum);
        if (!isnum) return luaL_argerror(L, 3, "the Sun's position {x, y, z} (kpc) expected");
        lua_pop(L, 1);
    }
    size_t nc = (size_t)luaL_len(L, 2);
    pf_observe_cloud *cl = lua_newuserdatauv(L, (nc ? nc : 1) * sizeof *cl, 0);
    for (size_t k = 0; k < nc; k++) {
        lua_geti(L, 2, (lua_Integer)k + 1);
        if (!lua_istable(L, -1)) return luaL_error(L, "extinction: cloud %d is not a table", (int)k + 1);
        lua_getfield(L, -1, "c");
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 3)
            return luaL_error(L, "extinction: cloud %d needs c = {x, y, z} (kpc)", (int)k + 1);
        for (int j = 0; j < 3; j++) {
            lua_geti(L, -1, j + 1);
            cl[k].c[j] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        lua_getfield(L, -1, "r");
        cl[k].r = lua_tonumber(L, -1);
        lua_getfield(L, -2, "a");
        cl[k].a_max = lua_tonumber(L, -1);
        lua_pop(L, 3);
        if (!(cl[k].r > 0) || !(cl[k].a_max >= 0))
            return luaL_error(L, "extinction: cloud %d needs r > 0 (kpc) and a >= 0 (mag)", (int)k + 1);
    }
    double *a = pf_lua_newarray1(L, n)->data;
    pf_observe_extinction(sun, cl, nc, n, x->data, a);
    return 1;
}

/* write_files(paths, starts, {names = {...}, units = {...}, columns = {arrays},
 *             source_id_base = integer, index = array (n)}, {level = 1})
 * Rows of file k are [starts[k], starts[k+1]) (0-based; #starts = #paths + 1).
 * source_id = source_id_base + index[i]; random_index = index[i]. */
static int o_write_files(lua_State *L)
{
    static const char *const allowed[] = {"level", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    pf_lua_checkopts(L, 4, "write_files", allowed);
    int level = pf_lua_optintfield_int(L, 4, "level", 1);
    size_t nfile = (size_t)luaL_len(L, 1);
    luaL_argcheck(L, nfile > 0, 1, "at least one path expected");
    luaL_argcheck(L, (size_t)luaL_len(L, 2) == nfile + 1, 2, "#paths + 1 row starts expected");
    lua_getfield(L, 3, "index");
    pf_array *idx = pf_lua_checkarray(L, -1);
    if (idx->ndim != 1) return luaL_error(L, "write_files: 'index' must be a 1-D array");
    idx = pf_lua_contiguous(L, lua_gettop(L));
    size_t n = idx->shape[0];
    lua_getfield(L, 3, "source_id_base");
    int isint;
    lua_Integer base = lua_tointegerx(L, -1, &isint);
    if (!isint) return luaL_error(L, "write_files: 'source_id_base' must be an integer");
    lua_pop(L, 1);
    lua_getfield(L, 3, "names");
    lua_getfield(L, 3, "units");
    lua_getfield(L, 3, "columns");
    int tn = lua_gettop(L) - 2, tu = tn + 1, tc = tn + 2;
    if (!lua_istable(L, tn) || !lua_istable(L, tc))
        return luaL_error(L, "write_files: 'names' and 'columns' lists expected");
    size_t ncol = (size_t)luaL_len(L, tn);
    luaL_checkstack(L, (int)ncol + 8, "too many columns");
    if ((size_t)luaL_len(L, tc) != ncol)
        return luaL_error(L, "write_files: %d names but %d columns", (int)ncol, (int)luaL_len(L, tc));
    /* every buffer in one userdata so an error cannot leak it */
    size_t bytes = nfile * sizeof(char *) + (nfile + 1) * sizeof(size_t) +
                   ncol * (2 * sizeof(char *) + sizeof(double *)) + 2 * n * sizeof(int64_t);
    char *mem = lua_newuserdatauv(L, bytes ? bytes : 1, 0);
    const char **paths = (const char **)mem;
    size_t *start = (size_t *)(paths + nfile);
    const char **names = (const char **)(start + nfile + 1);
    const char **units = names + ncol;
    const double **cols = (const double **)(units + ncol);
    int64_t *sid = (int64_t *)(cols + ncol), *rix = sid + n;
    for (size_t k = 0; k < nfile; k++) {
        lua_geti(L, 1, (lua_Integer)k + 1);
        paths[k] = lua_tostring(L, -1); /* the table keeps the string alive */
        if (!paths[k] || lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "write_files: path %d is not a string", (int)k + 1);
        lua_pop(L, 1);
    }
    for (size_t k = 0; k <= nfile; k++) {
        lua_geti(L, 2, (lua_Integer)k + 1);
        lua_Integer s = lua_tointegerx(L, -1, &isint);
        if (!isint || s < 0) return luaL_error(L, "write_files: row start %d is not an integer >= 0", (int)k + 1);
        start[k] = (size_t)s;
        lua_pop(L, 1);
    }
    for (size_t j = 0; j < ncol; j++) {
        lua_geti(L, tn, (lua_Integer)j + 1);
        names[j] = lua_tostring(L, -1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "write_files: column name %d is not a string", (int)j + 1);
        lua_pop(L, 1);
        units[j] = NULL;
        if (lua_istable(L, tu)) {
            lua_geti(L, tu, (lua_Integer)j + 1);
            if (lua_type(L, -1) == LUA_TSTRING) units[j] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
        lua_geti(L, tc, (lua_Integer)j + 1);
        pf_array *a = pf_lua_testarray(L, -1);
        if (!a || a->ndim != 1 || a->shape[0] != n)
            return luaL_error(L, "write_files: column '%s' must be a 1-D array of %d values",
                              names[j], (int)n);
        a = pf_lua_contiguous(L, lua_gettop(L));
        cols[j] = a->data; /* stays on the stack (a contiguous copy if it was a view) */
    }
    for (size_t i = 0; i < n; i++) {
        double d = idx->data[i];
        if (!(d >= 0 && d < 9007199254740992.0) || d != floor(d))
            return luaL_error(L, "write_files: index %d is not an integer >= 0", (int)i + 1);
        rix[i] = (int64_t)d;
        sid[i] = (int64_t)base + rix[i];
    }
    pf_observe_table t = {n, sid, rix, ncol, names, units, cols};
    pf_err err;
    int st = pf_observe_write_files(paths, start, nfile, &t, level, &err);
    if (st != PF_OK) return pf_lua_fail(L, "write_files", st, &err);
    return 0;
}

/* format_double(x) -> the text the writer puts in a file for x */
static int o_format_double(lua_State *L)
{
    char buf[40];
    size_t k = pf_observe_format_double(buf, luaL_checknumber(L, 1));
    lua_pushlstring(L, buf, k);
    return 1;
}

int pf_open_observe(lua_State *L)
{
    static const luaL_Reg fns[] = {{"lf_default", o_lf_default}, {"draw_lf", o_draw_lf},
                                   {"g_minus_grvs", o_g_minus_grvs}, {"errors", o_errors},
                                   {"extinction", o_extinction}, {"write_files", o_write_files},
                                   {"format_double", o_format_double},
                                   {NULL, NULL}};
    return pf_lua_newmodule(L, fns, NULL);
}

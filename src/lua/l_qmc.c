/* l_qmc.c -- pf.qmc: Sobol points (scrambled by a seeded digital shift) and normal
 * quasi-random points. See include/phaseflow/qmc.h. */
#include "pf_lua.h"
#include "phaseflow/qmc.h"

static void read_args(lua_State *L, const char *fname, size_t *n, int *dim, uint64_t *seed,
                      int *scramble, size_t *skip)
{
    static const char *const opts[] = {"seed", "scramble", "skip", NULL};
    lua_Integer ln = luaL_checkinteger(L, 1);
    luaL_argcheck(L, ln >= 0, 1, "number of points must be >= 0");
    lua_Integer ld = luaL_checkinteger(L, 2);
    luaL_argcheck(L, ld >= 1 && ld <= PF_QMC_MAXDIM, 2, "dimension must be in 1..40");
    pf_lua_checkopts(L, 3, fname, opts);
    lua_Integer s = pf_lua_optintfield(L, 3, "seed", 1);
    lua_Integer k = pf_lua_optintfield(L, 3, "skip", 0);
    if (k < 0)
        luaL_error(L, "%s: option 'skip' must be >= 0", fname);
    *n = (size_t)ln;
    *dim = (int)ld;
    *seed = (uint64_t)s;
    *scramble = pf_lua_optboolfield(L, 3, "scramble", 1);
    *skip = (size_t)k;
}

/* sobol(n, dim [, {seed = 1, scramble = true, skip = 0}]) -> n x dim array in [0,1) */
static int qmc_sobol(lua_State *L)
{
    size_t n, skip;
    int dim, scramble;
    uint64_t seed;
    read_args(L, "pf.qmc.sobol", &n, &dim, &seed, &scramble, &skip);
    pf_array *a = pf_lua_newarray2(L, n, (size_t)dim);
    pf_err err;
    int st = pf_qmc_sobol(n, dim, seed, scramble, skip, a->data, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "pf.qmc.sobol", st, &err);
    return 1;
}

/* normal(n, dim [, {seed = 1, scramble = true, skip = 0}]) -> n x dim standard normals */
static int qmc_normal(lua_State *L)
{
    size_t n, skip;
    int dim, scramble;
    uint64_t seed;
    read_args(L, "pf.qmc.normal", &n, &dim, &seed, &scramble, &skip);
    pf_array *a = pf_lua_newarray2(L, n, (size_t)dim);
    pf_err err;
    int st = pf_qmc_normal(n, dim, seed, scramble, skip, a->data, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "pf.qmc.normal", st, &err);
    return 1;
}

int pf_open_qmc(lua_State *L)
{
    static const luaL_Reg f[] = {{"sobol", qmc_sobol}, {"normal", qmc_normal}, {NULL, NULL}};
    pf_lua_newmodule(L, f, NULL);
    lua_pushinteger(L, PF_QMC_MAXDIM);
    lua_setfield(L, -2, "maxdim");
    return 1;
}

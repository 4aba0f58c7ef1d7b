/* l_config.c -- pf.config: version, build, BLAS kernel, threads, wall clock. */
#include <time.h>
#include "pf_lua.h"
#include "phaseflow/config.h"

/* config([{threads = n}]) -> table {version, git, blas, blas_core, threads} */
static int cfg_config(lua_State *L)
{
    static const char *const opts[] = {"threads", NULL};
    pf_lua_checkopts(L, 1, "pf.config", opts);
    lua_Integer n = pf_lua_optintfield(L, 1, "threads", 0);
    if (n < 0)
        return luaL_error(L, "pf.config: option 'threads' must be >= 1");
    if (n > 0)
        pf_config_set_threads((int)n);
    lua_newtable(L);
    lua_pushstring(L, pf_version_string());
    lua_setfield(L, -2, "version");
    lua_pushstring(L, pf_git_commit());
    lua_setfield(L, -2, "git");
    lua_pushstring(L, pf_blas_config());
    lua_setfield(L, -2, "blas");
    lua_pushstring(L, pf_blas_corename());
    lua_setfield(L, -2, "blas_core");
    lua_pushinteger(L, pf_config_threads());
    lua_setfield(L, -2, "threads");
    return 1;
}

/* wtime() -> monotonic wall-clock seconds (for benchmarks and progress). */
static int cfg_wtime(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
    return 1;
}

int pf_open_config(lua_State *L)
{
    static const luaL_Reg f[] = {{"config", cfg_config}, {"wtime", cfg_wtime}, {NULL, NULL}};
    pf_lua_newmodule(L, f, NULL);
    lua_pushstring(L, pf_version_string());
    lua_setfield(L, -2, "version");
    return 1;
}

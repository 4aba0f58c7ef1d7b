/*
 * fuzz_flow.c -- libFuzzer target for the flow file loader (pf.flow.load in
 * lua/phaseflow/flow.lua over the HDF5 layer, the flow constructor and set_params /
 * set_prep in C).
 *
 * Fuzzing HDF5's own byte format would test libhdf5, not us; what we validate is what a
 * well-formed file holds. So the harness runs tests/fuzz/fuzz_flow.lua in an embedded Lua
 * with the phaseflow library linked in: it saves valid flows once, and for each input
 * copies one, rewrites its datasets and attributes as the input's bytes say (family,
 * version, sizes, shapes, types, NaN/Inf values, missing objects), loads it and uses
 * the flow it gets. The loader must end in a flow or in a clean error naming the file;
 * the Lua script raises (and the harness aborts) on anything else, and a memory or
 * undefined-behaviour error is caught by the sanitizers. Run from the repository root
 * (the Lua library is found at lua/); built and run by `make fuzz` (docs/errors.md).
 *
 * Built with -DFUZZ_NAME='"ckpt"' it is fuzz_ckpt and runs tests/fuzz/fuzz_ckpt.lua
 * (pf.train resuming from rewritten training checkpoints) instead: the harness is the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <hdf5.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int luaopen_phaseflow_core(lua_State *L);
const char *__asan_default_options(void);

#ifndef FUZZ_NAME
#define FUZZ_NAME "flow"
#endif
#define FUZZ_SCRIPT "tests/fuzz/fuzz_" FUZZ_NAME ".lua"

/* The interpreter keeps memory until exit by design, so leaks are not looked for (as in
 * make asan). HDF5 allocates its metadata cache (hundreds of kB, zeroed) at every file
 * open, and ASan maps every large block afresh: with a smaller quarantine and HDF5's free
 * lists unlimited (Initialize), the real-file inputs do not spend their time in page
 * faults. */
const char *__asan_default_options(void)
{
    return "detect_leaks=0:quarantine_size_mb=32";
}

static lua_State *L;
static int fuzz_one; /* registry reference of the Lua function run on each input */

static int cpu_noop(lua_State *l)
{
    lua_pushboolean(l, 0);
    return 1;
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_" FUZZ_NAME ": %s: %s\n", what, lua_tostring(L, -1));
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("OMP_NUM_THREADS", "1", 0);
    H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_phaseflow_core);
    lua_setfield(L, -2, "phaseflow.core");
    lua_pushcfunction(L, cpu_noop);
    lua_setfield(L, -2, "phaseflow.cpu");
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    lua_pushstring(L, "lua/?.lua;lua/?/init.lua;tests/fuzz/?.lua");
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    if (luaL_dofile(L, FUZZ_SCRIPT) != LUA_OK)
        die("loading " FUZZ_SCRIPT " (run from the repository root)");
    if (!lua_isfunction(L, -1))
        die(FUZZ_SCRIPT " must return a function");
    fuzz_one = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, fuzz_one);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        die("not a clean outcome");
    lua_settop(L, 0);
    return 0;
}

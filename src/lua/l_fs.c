/* l_fs.c -- pf.fs: folders without a shell, atomic commits, output-folder locks, digests. */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>
#include "pf_lua.h"
#include "phaseflow/fs.h"

#define LOCK_MT "phaseflow.fs.lock"

/* mkdirs(path): every missing folder of path */
static int fs_mkdirs(lua_State *L)
{
    pf_err err;
    int st = pf_fs_mkdirs(luaL_checkstring(L, 1), &err);
    if (st) return pf_lua_fail(L, "pf.fs.mkdirs", st, &err);
    return 0;
}

/* commit(tmp, path): fsync tmp and rename it to path */
static int fs_commit(lua_State *L)
{
    pf_err err;
    int st = pf_fs_commit(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &err);
    if (st) return pf_lua_fail(L, "pf.fs.commit", st, &err);
    return 0;
}

/* lock(path, holder) -> lock | nil, held_by: an exclusive lock held until
 * lock:release(), its collection or the process's end */
static int fs_lock(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *holder = luaL_checkstring(L, 2);
    char held[256];
    pf_err err;
    int *fd = lua_newuserdatauv(L, sizeof *fd, 0);
    *fd = -1;
    luaL_setmetatable(L, LOCK_MT);
    int st = pf_fs_lock(path, holder, fd, held, sizeof held, &err);
    if (st == PF_ESTATE) {
        lua_pushnil(L);
        lua_pushstring(L, held[0] ? held : "another process");
        return 2;
    }
    if (st) return pf_lua_fail(L, "pf.fs.lock", st, &err);
    return 1;
}

static int lock_release(lua_State *L)
{
    int *fd = luaL_checkudata(L, 1, LOCK_MT);
    pf_fs_unlock(*fd);
    *fd = -1;
    return 0;
}

/* digest(path) -> 16 hex digits of the XXH3-64 digest of the file's bytes */
static int fs_digest(lua_State *L)
{
    uint64_t d;
    pf_err err;
    int st = pf_fs_digest(luaL_checkstring(L, 1), &d, &err);
    if (st) return pf_lua_fail(L, "pf.fs.digest", st, &err);
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, d);
    lua_pushstring(L, hex);
    return 1;
}

/* run(argv [, {cwd = folder, log = file}]) -> exit status: a program run without a shell
 * (every path is passed as it is: spaces, quotes and non-ASCII need no quoting) */
static int fs_run(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const opts[] = {"cwd", "log", NULL};
    pf_lua_checkopts(L, 2, "pf.fs.run", opts);
    const char *cwd = pf_lua_optstrfield(L, 2, "cwd", NULL);
    const char *log = pf_lua_optstrfield(L, 2, "log", NULL);
    lua_Integer n = luaL_len(L, 1);
    if (n < 1 || n > 255) return luaL_argerror(L, 1, "a list of 1 to 255 strings expected");
    char *argv[256];
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "pf.fs.run: argument %d of the command is not a string", (int)i);
        argv[i - 1] = (char *)lua_tostring(L, -1); /* kept alive by the table */
        lua_pop(L, 1);
    }
    argv[n] = NULL;
    int status;
    pf_err err;
    int st = pf_fs_run(argv, cwd, log, &status, &err);
    if (st) return pf_lua_fail(L, "pf.fs.run", st, &err);
    lua_pushinteger(L, status);
    return 1;
}

/* pid() -> this process's id (for a lock's holder text) */
static int fs_pid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

int pf_open_fs(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__gc", lock_release}, {"__close", lock_release}, {NULL, NULL}};
    static const luaL_Reg methods[] = {{"release", lock_release}, {NULL, NULL}};
    static const luaL_Reg f[] = {{"mkdirs", fs_mkdirs}, {"commit", fs_commit}, {"lock", fs_lock},
                                 {"digest", fs_digest}, {"pid", fs_pid}, {"run", fs_run}, {NULL, NULL}};
    pf_lua_newclass(L, LOCK_MT, methods, meta);
    return pf_lua_newmodule(L, f, NULL);
}

/*
 * l_progress.c -- pf.progress: progress reports for Lua loops.
 *
 *   local p = pf.progress.new{total = n, label = "training", interval = 10}
 *   for i = 1, n do ...; p:update(i, "loss 2.385") end
 *   p:finish()
 *
 * update() raises "interrupted" when Ctrl-C was pressed in the phaseflow executable,
 * so a long Lua loop that reports progress stops promptly.
 */
#include "pf_lua.h"
#include "phaseflow/progress.h"

#define PF_PROGRESS_MT "phaseflow.progress"

static pf_progress *top(lua_State *L)
{
    return (pf_progress *)luaL_checkudata(L, 1, PF_PROGRESS_MT);
}

static int pr_new(lua_State *L)
{
    static const char *const opts[] = {"total", "label", "interval", "enabled", NULL};
    pf_lua_checkopts(L, 1, "pf.progress.new", opts);
    lua_Integer total = pf_lua_optintfield(L, 1, "total", 0);
    if (total < 0)
        return luaL_error(L, "pf.progress.new: option 'total' must be >= 0");
    const char *label = pf_lua_optstrfield(L, 1, "label", "");
    double interval = pf_lua_optnumfield(L, 1, "interval", -1);
    pf_progress *p = (pf_progress *)lua_newuserdatauv(L, sizeof(pf_progress), 0);
    pf_progress_init(p, label, (size_t)total, pf_lua_interrupt_flag(L));
    if (interval >= 0)
        p->interval = interval;
    if (lua_istable(L, 1)) {
        lua_getfield(L, 1, "enabled");
        if (lua_isboolean(L, -1))
            p->enabled = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    luaL_setmetatable(L, PF_PROGRESS_MT);
    return 1;
}

static int pr_update(lua_State *L)
{
    pf_progress *p = top(L);
    lua_Integer done = luaL_checkinteger(L, 2);
    luaL_argcheck(L, done >= 0, 2, "count must be >= 0");
    const char *extra = luaL_optstring(L, 3, NULL);
    if (pf_progress_update(p, (size_t)done, extra) == PF_EINTR)
        return luaL_error(L, "interrupted (%s)", p->label);
    return 0;
}

static int pr_finish(lua_State *L)
{
    pf_progress_finish(top(L), luaL_optstring(L, 2, NULL));
    return 0;
}

static int pr_elapsed(lua_State *L)
{
    lua_pushnumber(L, pf_wtime() - top(L)->start);
    return 1;
}

static int pr_format_duration(lua_State *L)
{
    char buf[32];
    pf_format_duration(luaL_checknumber(L, 1), buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

int pf_open_progress(lua_State *L)
{
    static const luaL_Reg meth[] = {
        {"update", pr_update}, {"finish", pr_finish}, {"elapsed", pr_elapsed}, {NULL, NULL}};
    static const luaL_Reg f[] = {
        {"new", pr_new}, {"format_duration", pr_format_duration}, {NULL, NULL}};
    pf_lua_newclass(L, PF_PROGRESS_MT, meth, NULL);
    return pf_lua_newmodule(L, f, NULL);
}

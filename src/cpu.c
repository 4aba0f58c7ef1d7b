/*
 * cpu.c -- decide OpenBLAS's kernel before OpenBLAS loads.
 *
 * Linked into the phaseflow executable (which re-executes itself once when it had
 * to set the variable, because its OpenBLAS was already loaded) and built as the
 * tiny module phaseflow.cpu, which phaseflow/init.lua requires *before* the core
 * module, so that stock lua5.4 gets the same kernels. This file links nothing else.
 */
#include <stdlib.h>
#include <lua.h>
#include <lauxlib.h>
#include "phaseflow/config.h"

int luaopen_phaseflow_cpu(lua_State *L);

int pf_cpu_prepare_blas_env(void)
{
    const char *set = getenv("OPENBLAS_CORETYPE");
    if (set && *set)
        return 0;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
        return 1;
    }
#endif
    return 0;
}

/* require "phaseflow.cpu" -> true if it set OPENBLAS_CORETYPE. */
int luaopen_phaseflow_cpu(lua_State *L)
{
    lua_pushboolean(L, pf_cpu_prepare_blas_env());
    return 1;
}

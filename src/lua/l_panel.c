/* l_panel.c -- pf.core.panel: the packed small-matrix product of the flows' hidden
 * layers (include/phaseflow/panel.h), exposed so its specs can check it against a plain
 * matrix product on every shape, tails included. */
#include <stdlib.h>
#include "pf_lua.h"
#include "phaseflow/panel.h"

/* gemm(A (n x K), B (K x N) [, {path = "auto"|"portable"|"avx2", C = n x N array,
 * transposed = false}]) -> C, path used. With C given, the product is added to it (in
 * place); transposed = true reads B as N x K and multiplies by its transpose. */
static int panel_gemm(lua_State *L)
{
    static const char *const opts[] = {"path", "C", "transposed", NULL};
    static const char *const paths[] = {"auto", "portable", "avx2", NULL};
    lua_settop(L, 3);
    pf_array *A = pf_lua_contiguous(L, 1);
    pf_array *B = pf_lua_contiguous(L, 2);
    pf_lua_checkopts(L, 3, "pf.core.panel.gemm", opts);
    luaL_argcheck(L, A->ndim == 2, 1, "A must be 2-D");
    luaL_argcheck(L, B->ndim == 2, 2, "B must be 2-D");
    int tr = pf_lua_optboolfield(L, 3, "transposed", 0);
    size_t n = A->shape[0], K = A->shape[1];
    size_t kb = tr ? B->shape[1] : B->shape[0], N = tr ? B->shape[0] : B->shape[1];
    if (kb != K)
        return luaL_error(L, "pf.core.panel.gemm: A has %d columns but B has %d rows", (int)K,
                          (int)kb);
    int path = 0;
    pf_array *C = NULL;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "path");
        if (!lua_isnil(L, -1))
            path = luaL_checkoption(L, -1, NULL, paths);
        lua_pop(L, 1);
        lua_getfield(L, 3, "C");
        if (!lua_isnil(L, -1)) {
            C = pf_lua_checkshape(L, -1, 2, n, N);
            luaL_argcheck(L, pf_array_is_contiguous(C), 3, "C must be contiguous");
        } else {
            lua_pop(L, 1);
        }
    }
    int acc = C != NULL;
    if (!C)
        C = pf_lua_newarray2(L, n, N);
    double *P = malloc((pf_panel_size((int)K, (int)N) + 1) * sizeof(double));
    if (!P)
        return luaL_error(L, "pf.core.panel.gemm: out of memory");
    pf_panel_pack((int)K, (int)N, B->data, tr ? 1 : N, tr ? K : 1, P);
    int used = pf_panel_gemm(path, n, (int)K, (int)N, A->data, K, P, C->data, N, acc);
    free(P);
    lua_pushstring(L, used == 2 ? "avx2" : "portable");
    return 2;
}

int pf_open_panel(lua_State *L);
int pf_open_panel(lua_State *L)
{
    static const luaL_Reg f[] = {{"gemm", panel_gemm}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}

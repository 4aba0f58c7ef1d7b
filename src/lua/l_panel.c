/* l_panel.c -- pf.core.panel: the packed small-matrix product of the flows' hidden
 * layers (include/phaseflow/panel.h), exposed so its specs can check it against a plain
 * matrix product on every shape, tails included. */
#include <stdlib.h>
#include "pf_lua.h"
#include "phaseflow/panel.h"

static const char *const paths[] = {"auto", "portable", "avx2", NULL};

static int opt_path(lua_State *L, int idx)
{
    int path = 0;
    if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "path");
        if (!lua_isnil(L, -1))
            path = luaL_checkoption(L, -1, NULL, paths);
        lua_pop(L, 1);
    }
    return path;
}

/* gemm(A (n x K), B (K x N) [, {path = "auto"|"portable"|"avx2", C = n x N array,
 * bias = N array, transposed = false}]) -> C, path used. With C given, the product is
 * added to it (in place); bias is added to every row; transposed = true reads B as N x K
 * and multiplies by its transpose. */
static int panel_gemm(lua_State *L)
{
    static const char *const opts[] = {"path", "C", "bias", "transposed", NULL};
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
    int path = opt_path(L, 3);
    pf_array *C = NULL, *bias = NULL;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "bias");
        if (!lua_isnil(L, -1)) {
            bias = pf_lua_checkshape(L, -1, 1, N, PF_ANY);
            luaL_argcheck(L, pf_array_is_contiguous(bias), 3, "bias must be contiguous");
        } else {
            lua_pop(L, 1);
        }
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
    int used = pf_panel_gemm(path, n, (int)K, (int)N, A->data, K, P, C->data, N,
                             acc ? C->data : NULL, N, bias ? bias->data : NULL);
    free(P);
    lua_pushstring(L, used == 2 ? "avx2" : "portable");
    return 2;
}

/* gemm_tn(X (n x M), Y (n x N), C (M x N) [, {path = ...}]) -> C, path used:
 * C += X^T Y in place (the weight-gradient product). */
static int panel_gemm_tn(lua_State *L)
{
    static const char *const opts[] = {"path", NULL};
    lua_settop(L, 4);
    pf_array *X = pf_lua_contiguous(L, 1);
    pf_array *Y = pf_lua_contiguous(L, 2);
    luaL_argcheck(L, X->ndim == 2, 1, "X must be 2-D");
    luaL_argcheck(L, Y->ndim == 2, 2, "Y must be 2-D");
    size_t n = X->shape[0], M = X->shape[1], N = Y->shape[1];
    if (Y->shape[0] != n)
        return luaL_error(L, "pf.core.panel.gemm_tn: X has %d rows but Y has %d", (int)n,
                          (int)Y->shape[0]);
    pf_array *C = pf_lua_checkshape(L, 3, 2, M, N);
    luaL_argcheck(L, pf_array_is_contiguous(C), 3, "C must be contiguous");
    pf_lua_checkopts(L, 4, "pf.core.panel.gemm_tn", opts);
    int used = pf_panel_gemm_tn(opt_path(L, 4), n, (int)M, (int)N, X->data, M, Y->data, N,
                                C->data, N);
    lua_settop(L, 3);
    lua_pushstring(L, used == 2 ? "avx2" : "portable");
    return 2;
}

int pf_open_panel(lua_State *L)
{
    static const luaL_Reg f[] = {{"gemm", panel_gemm}, {"gemm_tn", panel_gemm_tn}, {NULL, NULL}};
    return pf_lua_newmodule(L, f, NULL);
}

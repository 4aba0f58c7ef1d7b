/*
 * l_cbe.c -- phaseflow.core.cbe: the Boltzmann least-squares solver on arrays.
 * The Lua facade (lua/phaseflow/cbe.lua) draws the velocities and evaluates the
 * phase-space density; this file only moves arrays into the C core.
 */
#include <string.h>
#include "pf_lua.h"
#include "phaseflow/cbe.h"

/* solve(v, gx, gv, logf|nil, nv [, {vmax = 600, form = "f"|"logf"}])
 *   v, gx, gv: (npos*nv) x 3; logf: npos*nv (1-D), required for form "f".
 * -> acc (npos x 3), info {cond = npos, rms = npos, used = npos} */
static int cbe_solve(lua_State *L)
{
    static const char *const allowed[] = {"vmax", "form", NULL};
    pf_array *v = pf_lua_checkshape(L, 1, 2, PF_ANY, 3);
    size_t rows = v->shape[0];
    pf_lua_checkshape(L, 2, 2, rows, 3);
    pf_lua_checkshape(L, 3, 2, rows, 3);
    lua_Integer nv = luaL_checkinteger(L, 5);
    luaL_argcheck(L, nv >= 1, 5, "number of velocities per position must be >= 1");
    luaL_argcheck(L, rows % (size_t)nv == 0, 5,
                  "rows of v must be a multiple of the velocities per position");
    pf_lua_checkopts(L, 6, "pf.cbe.solve", allowed);
    double vmax = pf_lua_optnumfield(L, 6, "vmax", 0.0);
    const char *fs = pf_lua_optstrfield(L, 6, "form", "f");
    int form;
    if (strcmp(fs, "f") == 0)
        form = PF_CBE_F;
    else if (strcmp(fs, "logf") == 0)
        form = PF_CBE_LOGF;
    else
        return luaL_error(L, "pf.cbe.solve: option 'form' must be \"f\" or \"logf\", got \"%s\"", fs);
    v = pf_lua_contiguous(L, 1);
    pf_array *gx = pf_lua_contiguous(L, 2);
    pf_array *gv = pf_lua_contiguous(L, 3);
    const double *logf = NULL;
    if (form == PF_CBE_F) {
        if (lua_isnoneornil(L, 4))
            return luaL_argerror(L, 4, "log f values expected for the f form");
        pf_lua_checkshape(L, 4, 1, rows, 0);
        logf = pf_lua_contiguous(L, 4)->data;
    }
    size_t npos = rows / (size_t)nv;
    pf_array *acc = pf_lua_newarray2(L, npos, 3);
    lua_createtable(L, 0, 3);
    pf_array *cond = pf_lua_newarray1(L, npos);
    lua_setfield(L, -2, "cond");
    pf_array *rms = pf_lua_newarray1(L, npos);
    lua_setfield(L, -2, "rms");
    pf_array *used = pf_lua_newarray1(L, npos);
    lua_setfield(L, -2, "used");
    pf_err err;
    pf_err_clear(&err);
    int st = pf_cbe_solve(npos, (size_t)nv, v->data, gx->data, gv->data, logf, vmax, form,
                          acc->data, cond->data, rms->data, used->data, &err);
    if (st)
        return pf_lua_fail(L, "pf.cbe.solve", st, &err);
    return 2;
}

/* dlnf_dt(v, gx, gv, a) -> n-vector; a is a 3-vector (length 3 or 1 x 3) or n x 3. */
static int cbe_dlnf_dt(lua_State *L)
{
    pf_array *v = pf_lua_checkshape(L, 1, 2, PF_ANY, 3);
    size_t n = v->shape[0];
    pf_lua_checkshape(L, 2, 2, n, 3);
    pf_lua_checkshape(L, 3, 2, n, 3);
    pf_array *a = pf_lua_checkarray(L, 4);
    size_t stride;
    if (a->size == 3)
        stride = 0;
    else if (a->ndim == 2 && a->shape[0] == n && a->shape[1] == 3)
        stride = 3;
    else
        return luaL_argerror(L, 4, "acceleration of 3 values or of shape Nx3 expected");
    v = pf_lua_contiguous(L, 1);
    pf_array *gx = pf_lua_contiguous(L, 2), *gv = pf_lua_contiguous(L, 3);
    a = pf_lua_contiguous(L, 4);
    pf_array *out = pf_lua_newarray1(L, n);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_cbe_dlnf_dt(n, v->data, gx->data, gv->data, a->data, stride, out->data, &err);
    if (st)
        return pf_lua_fail(L, "pf.cbe.dlnf_dt", st, &err);
    return 1;
}

/* eig3(m) -> lambda (3, ascending) for a symmetric 3x3 array. */
static int cbe_eig3(lua_State *L)
{
    pf_lua_checkshape(L, 1, 2, 3, 3);
    pf_array *m = pf_lua_contiguous(L, 1);
    pf_array *lam = pf_lua_newarray1(L, 3);
    pf_cbe_eig3(m->data, lam->data);
    return 1;
}

int pf_open_cbe(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"solve", cbe_solve}, {"dlnf_dt", cbe_dlnf_dt}, {"eig3", cbe_eig3}, {NULL, NULL}};
    return pf_lua_newmodule(L, fns, NULL);
}

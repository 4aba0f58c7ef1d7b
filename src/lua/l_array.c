/*
 * l_array.c -- pf.array: the Lua face of pf_array.
 *
 * Owning arrays keep their doubles inside the userdata block (pf_lua_newarray), so
 * the garbage collector accounts for them. Views (row, col, rows, reshape, T) are
 * small userdata whose user value 1 holds the parent: the parent stays alive as long
 * as any view does. Lua indices are 1-based.
 *
 * This file: construction, views, element access, printing. The methods that compute
 * new arrays (arithmetic, reductions, selection) are in array_ops.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "pf_lua.h"

/* ---- helpers ---------------------------------------------------------------- */

/* Read a shape from a table {n, m, ...} at `arg` or from integer varargs starting at
 * `arg` up to `last` (inclusive). */
static int read_shape(lua_State *L, int arg, int last, size_t *shape)
{
    int ndim = 0;
    if (lua_type(L, arg) == LUA_TTABLE) {
        ndim = (int)luaL_len(L, arg);
        luaL_argcheck(L, ndim >= 1 && ndim <= PF_MAXDIM, arg, "shape of 1 to 4 extents expected");
        for (int i = 0; i < ndim; i++) {
            lua_geti(L, arg, i + 1);
            int isint;
            lua_Integer v = lua_tointegerx(L, -1, &isint);
            if (!isint || v < 0)
                luaL_argerror(L, arg, "shape extents must be non-negative integers");
            shape[i] = (size_t)v;
            lua_pop(L, 1);
        }
        return ndim;
    }
    for (int i = arg; i <= last; i++) {
        luaL_argcheck(L, ndim < PF_MAXDIM, i, "at most 4 dimensions");
        lua_Integer v = luaL_checkinteger(L, i);
        luaL_argcheck(L, v >= 0, i, "extent must be non-negative");
        shape[ndim++] = (size_t)v;
    }
    luaL_argcheck(L, ndim >= 1, arg, "shape expected (integers or a table of integers)");
    return ndim;
}

/* [-0, +1] A view of parent at stack index `parent`. */
static pf_array *new_view(lua_State *L, int parent, double *data, int ndim,
                          const size_t *shape, const ptrdiff_t *stride)
{
    parent = lua_absindex(L, parent);
    pf_array *v = (pf_array *)lua_newuserdatauv(L, sizeof(pf_array), 1);
    v->data = data;
    v->ndim = ndim;
    v->size = 1;
    for (int i = 0; i < PF_MAXDIM; i++) {
        v->shape[i] = i < ndim ? shape[i] : 1;
        v->stride[i] = i < ndim ? stride[i] : 0;
        if (i < ndim)
            v->size *= shape[i];
    }
    luaL_setmetatable(L, PF_ARRAY_MT);
    lua_pushvalue(L, parent);
    lua_setiuservalue(L, -2, 1);
    return v;
}

static size_t check_index(lua_State *L, int arg, size_t extent)
{
    lua_Integer i = luaL_checkinteger(L, arg);
    if (i < 1 || (size_t)i > extent) {
        const char *m = lua_pushfstring(L, "index %I out of range 1..%I", (LUAI_UACINT)i,
                                        (LUAI_UACINT)extent);
        luaL_argerror(L, arg, m);
    }
    return (size_t)(i - 1);
}

/* ---- constructors ----------------------------------------------------------- */

static int arr_zeros(lua_State *L)
{
    size_t shape[PF_MAXDIM];
    int ndim = read_shape(L, 1, lua_gettop(L), shape);
    pf_lua_newarray(L, ndim, shape);
    return 1;
}

/* empty(...): same as zeros (arrays are always initialised). */
static int arr_empty(lua_State *L)
{
    return arr_zeros(L);
}

static int arr_ones(lua_State *L)
{
    size_t shape[PF_MAXDIM];
    int ndim = read_shape(L, 1, lua_gettop(L), shape);
    pf_array_fill(pf_lua_newarray(L, ndim, shape), 1.0);
    return 1;
}

/* full(shape, value): shape is an integer (1-D) or a table of extents. */
static int arr_full(lua_State *L)
{
    size_t shape[PF_MAXDIM];
    double v = luaL_checknumber(L, 2);
    int ndim = read_shape(L, 1, 1, shape);
    pf_array_fill(pf_lua_newarray(L, ndim, shape), v);
    return 1;
}

static int arr_eye(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0, 1, "size must be non-negative");
    pf_array *a = pf_lua_newarray2(L, (size_t)n, (size_t)n);
    for (lua_Integer i = 0; i < n; i++)
        a->data[i * n + i] = 1.0;
    return 1;
}

static int arr_linspace(lua_State *L)
{
    double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
    lua_Integer n = luaL_checkinteger(L, 3);
    luaL_argcheck(L, n >= 1, 3, "at least 1 point expected");
    pf_array *r = pf_lua_newarray1(L, (size_t)n);
    for (lua_Integer i = 0; i < n; i++)
        r->data[i] = n == 1 ? a : a + (b - a) * (double)i / (double)(n - 1);
    if (n > 1)
        r->data[n - 1] = b;
    return 1;
}

/* arange(stop) or arange(start, stop [, step]): start, start+step, ... < stop. */
static int arr_arange(lua_State *L)
{
    double start = 0, stop, step = 1;
    if (lua_gettop(L) == 1) {
        stop = luaL_checknumber(L, 1);
    } else {
        start = luaL_checknumber(L, 1);
        stop = luaL_checknumber(L, 2);
        step = luaL_optnumber(L, 3, 1.0);
    }
    luaL_argcheck(L, step != 0 && isfinite(step), 3, "step must be finite and non-zero");
    luaL_argcheck(L, isfinite(start) && isfinite(stop), 1, "bounds must be finite");
    double cnt = ceil((stop - start) / step);
    size_t n = cnt > 0 ? (size_t)cnt : 0;
    pf_array *r = pf_lua_newarray1(L, n);
    for (size_t i = 0; i < n; i++)
        r->data[i] = start + step * (double)i;
    return 1;
}

/* from(t): nested Lua tables of numbers (rectangular), or an array (copied). */
static void from_shape(lua_State *L, int idx, int depth, int *ndim, size_t *shape)
{
    if (lua_type(L, idx) != LUA_TTABLE) {
        *ndim = depth;
        return;
    }
    if (depth >= PF_MAXDIM)
        luaL_error(L, "pf.array.from: nesting deeper than %d levels", PF_MAXDIM);
    shape[depth] = (size_t)luaL_len(L, idx);
    if (shape[depth] == 0) {
        *ndim = depth + 1;
        return;
    }
    lua_geti(L, idx, 1);
    from_shape(L, lua_gettop(L), depth + 1, ndim, shape);
    lua_pop(L, 1);
}

static void from_fill(lua_State *L, int idx, int depth, int ndim, const size_t *shape,
                      double **out, char *path, size_t pathlen)
{
    size_t n = (size_t)luaL_len(L, idx);
    if (n != shape[depth])
        luaL_error(L, "pf.array.from: element %s has %d entries, expected %d (ragged table)",
                   path[0] ? path : "(top)", (int)n, (int)shape[depth]);
    for (size_t i = 1; i <= n; i++) {
        int t = lua_geti(L, idx, (lua_Integer)i);
        size_t len = strlen(path);
        snprintf(path + len, pathlen - len, "[%zu]", i);
        if (depth + 1 < ndim) {
            if (t != LUA_TTABLE)
                luaL_error(L, "pf.array.from: element %s is a %s, expected a table", path,
                           luaL_typename(L, -1));
            from_fill(L, lua_gettop(L), depth + 1, ndim, shape, out, path, pathlen);
        } else {
            int isnum;
            double v = lua_tonumberx(L, -1, &isnum);
            if (!isnum)
                luaL_error(L, "pf.array.from: element %s is a %s, expected a number", path,
                           luaL_typename(L, -1));
            *(*out)++ = v;
        }
        path[len] = '\0';
        lua_pop(L, 1);
    }
}

static int arr_from(lua_State *L)
{
    pf_array *src = pf_lua_testarray(L, 1);
    if (src) {
        pf_array *c = pf_lua_newlike(L, src);
        pf_array_pack(src, c->data);
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t shape[PF_MAXDIM] = {0};
    int ndim = 0;
    from_shape(L, 1, 0, &ndim, shape);
    pf_array *a = pf_lua_newarray(L, ndim, shape);
    int top = lua_gettop(L);
    double *p = a->data;
    char path[128] = "";
    if (a->size)
        from_fill(L, 1, 0, ndim, shape, &p, path, sizeof path);
    lua_settop(L, top);
    return 1;
}

/* Gather a list of arrays from the table at 1. */
static int gather(lua_State *L, const char *fname, pf_array **list, int max)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = (int)luaL_len(L, 1);
    luaL_argcheck(L, n >= 1, 1, "non-empty list of arrays expected");
    if (n > max)
        luaL_error(L, "%s: at most %d arrays", fname, max);
    for (int i = 0; i < n; i++) {
        lua_geti(L, 1, i + 1);
        list[i] = pf_lua_testarray(L, -1);
        if (!list[i] || list[i]->ndim > 2)
            luaL_error(L, "%s: element %d is not a 1-D or 2-D array", fname, i + 1);
        lua_pop(L, 1); /* still referenced by the table */
    }
    return n;
}

/* hstack{a, b, ...}: columns side by side; 1-D arrays become columns. */
static int arr_hstack(lua_State *L)
{
    pf_array *list[256];
    int n = gather(L, "pf.array.hstack", list, 256);
    size_t rows = list[0]->shape[0], cols = 0;
    for (int i = 0; i < n; i++) {
        if (list[i]->shape[0] != rows)
            luaL_error(L, "pf.array.hstack: element %d has %d rows, expected %d", i + 1,
                       (int)list[i]->shape[0], (int)rows);
        cols += list[i]->ndim == 1 ? 1 : list[i]->shape[1];
    }
    pf_array *r = pf_lua_newarray2(L, rows, cols);
    size_t c0 = 0;
    for (int i = 0; i < n; i++) {
        const pf_array *a = list[i];
        size_t w = a->ndim == 1 ? 1 : a->shape[1];
        for (size_t row = 0; row < rows; row++)
            for (size_t c = 0; c < w; c++)
                r->data[row * cols + c0 + c] =
                    a->data[(ptrdiff_t)row * a->stride[0] + (ptrdiff_t)c * (a->ndim == 1 ? 0 : a->stride[1])];
        c0 += w;
    }
    return 1;
}

/* vstack{a, b, ...}: rows one after another; 1-D arrays become rows. */
static int arr_vstack(lua_State *L)
{
    pf_array *list[256];
    int n = gather(L, "pf.array.vstack", list, 256);
    size_t cols = list[0]->ndim == 1 ? list[0]->shape[0] : list[0]->shape[1], rows = 0;
    for (int i = 0; i < n; i++) {
        size_t w = list[i]->ndim == 1 ? list[i]->shape[0] : list[i]->shape[1];
        if (w != cols)
            luaL_error(L, "pf.array.vstack: element %d has %d columns, expected %d", i + 1,
                       (int)w, (int)cols);
        rows += list[i]->ndim == 1 ? 1 : list[i]->shape[0];
    }
    pf_array *r = pf_lua_newarray2(L, rows, cols);
    double *p = r->data;
    for (int i = 0; i < n; i++) {
        pf_array_pack(list[i], p);
        p += list[i]->size;
    }
    return 1;
}

/* concat{a, b, ...}: 1-D arrays end to end (vstack for 2-D arrays). */
static int arr_concat(lua_State *L)
{
    pf_array *list[256];
    int n = gather(L, "pf.array.concat", list, 256);
    if (list[0]->ndim == 2)
        return arr_vstack(L);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (list[i]->ndim != 1)
            luaL_error(L, "pf.array.concat: element %d is 2-D, expected 1-D", i + 1);
        total += list[i]->size;
    }
    pf_array *r = pf_lua_newarray1(L, total);
    double *p = r->data;
    for (int i = 0; i < n; i++) {
        pf_array_pack(list[i], p);
        p += list[i]->size;
    }
    return 1;
}

static int arr_is_array(lua_State *L)
{
    lua_pushboolean(L, pf_lua_testarray(L, 1) != NULL);
    return 1;
}

/* ---- shape and element access ---------------------------------------------- */

static int m_shape(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    for (int i = 0; i < a->ndim; i++)
        lua_pushinteger(L, (lua_Integer)a->shape[i]);
    return a->ndim;
}

static int m_ndim(lua_State *L)
{
    lua_pushinteger(L, pf_lua_checkarray(L, 1)->ndim);
    return 1;
}

static int m_size(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    if (lua_isnoneornil(L, 2)) {
        lua_pushinteger(L, (lua_Integer)a->size);
    } else {
        lua_Integer d = luaL_checkinteger(L, 2);
        luaL_argcheck(L, d >= 1 && d <= a->ndim, 2, "dimension out of range");
        lua_pushinteger(L, (lua_Integer)a->shape[d - 1]);
    }
    return 1;
}

static int m_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)pf_lua_checkarray(L, 1)->shape[0]);
    return 1;
}

static double *element(lua_State *L, pf_array *a, int first, int nargs)
{
    if (nargs != a->ndim)
        luaL_error(L, "array:get/set: %d indices given for a %d-D array", nargs, a->ndim);
    size_t idx[PF_MAXDIM];
    for (int i = 0; i < a->ndim; i++)
        idx[i] = check_index(L, first + i, a->shape[i]);
    return pf_array_ptr(a, idx);
}

static int m_get(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    lua_pushnumber(L, *element(L, a, 2, lua_gettop(L) - 1));
    return 1;
}

static int m_set(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    int top = lua_gettop(L);
    double v = luaL_checknumber(L, top);
    *element(L, a, 2, top - 2) = v;
    lua_settop(L, 1);
    return 1;
}

static void push_row(lua_State *L, int self, pf_array *a, size_t i)
{
    new_view(L, self, a->data + (ptrdiff_t)i * a->stride[0], a->ndim - 1, a->shape + 1,
             a->stride + 1);
}

static int m_row(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    luaL_argcheck(L, a->ndim >= 2, 1, "row of a 1-D array: use get");
    push_row(L, 1, a, check_index(L, 2, a->shape[0]));
    return 1;
}

static int m_col(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    luaL_argcheck(L, a->ndim == 2, 1, "2-D array expected");
    size_t j = check_index(L, 2, a->shape[1]);
    new_view(L, 1, a->data + (ptrdiff_t)j * a->stride[1], 1, a->shape, a->stride);
    return 1;
}

/* rows(i0, i1): rows i0..i1 inclusive, as a view. */
static int m_rows(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    lua_Integer i0 = luaL_checkinteger(L, 2), i1 = luaL_optinteger(L, 3, (lua_Integer)a->shape[0]);
    luaL_argcheck(L, i0 >= 1 && i0 <= (lua_Integer)a->shape[0] + 1, 2, "start row out of range");
    luaL_argcheck(L, i1 >= i0 - 1 && i1 <= (lua_Integer)a->shape[0], 3, "end row out of range");
    size_t shape[PF_MAXDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[0] = (size_t)(i1 - i0 + 1);
    new_view(L, 1, a->data + (ptrdiff_t)(i0 - 1) * a->stride[0], a->ndim, shape, a->stride);
    return 1;
}

static int m_T(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    luaL_argcheck(L, a->ndim == 2, 1, "2-D array expected");
    size_t shape[2] = {a->shape[1], a->shape[0]};
    ptrdiff_t stride[2] = {a->stride[1], a->stride[0]};
    new_view(L, 1, a->data, 2, shape, stride);
    return 1;
}

/* reshape(n, m, ...) or reshape{n, m}: a view of a contiguous array; one extent may
 * be -1 (inferred). */
static int m_reshape(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    luaL_argcheck(L, pf_array_is_contiguous(a), 1, "contiguous array expected (copy it first)");
    size_t shape[PF_MAXDIM];
    int ndim = 0, infer = -1;
    int top = lua_gettop(L);
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, 2);
        for (lua_Integer i = 1; i <= n; i++)
            lua_geti(L, 2, i);
        lua_remove(L, 2);
        top = lua_gettop(L);
    }
    size_t known = 1;
    for (int i = 2; i <= top; i++) {
        luaL_argcheck(L, ndim < PF_MAXDIM, i, "at most 4 dimensions");
        lua_Integer v = luaL_checkinteger(L, i);
        if (v == -1) {
            luaL_argcheck(L, infer < 0, i, "only one extent may be -1");
            infer = ndim;
            shape[ndim++] = 1;
        } else {
            luaL_argcheck(L, v >= 0, i, "extent must be non-negative");
            shape[ndim++] = (size_t)v;
            known *= (size_t)v;
        }
    }
    luaL_argcheck(L, ndim >= 1, 2, "shape expected");
    if (infer >= 0) {
        if (known == 0 || a->size % known)
            luaL_error(L, "array:reshape: cannot infer extent: %d elements", (int)a->size);
        shape[infer] = a->size / known;
        known = a->size;
    }
    if (known != a->size)
        luaL_error(L, "array:reshape: new shape has %d elements, the array has %d", (int)known,
                   (int)a->size);
    pf_array tmp;
    pf_array_init(&tmp, a->data, ndim, shape);
    new_view(L, 1, a->data, ndim, tmp.shape, tmp.stride);
    return 1;
}

static int m_copy(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    pf_array *c = pf_lua_newlike(L, a);
    pf_array_pack(a, c->data);
    return 1;
}

/* fill(v) in place; returns self. */
static int m_fill(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    pf_array_fill(a, luaL_checknumber(L, 2));
    lua_settop(L, 1);
    return 1;
}

/* assign(b): copy b's elements into self (a view may be the target); returns self. */
static int m_assign(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    if (lua_isnumber(L, 2)) {
        pf_array_fill(a, lua_tonumber(L, 2));
    } else {
        pf_array *b = pf_lua_checkarray(L, 2);
        pf_lua_checksameshape(L, a, 2, b);
        pf_array_copy(a, b);
    }
    lua_settop(L, 1);
    return 1;
}

static void push_totable(lua_State *L, const pf_array *a, int dim, const double *base)
{
    size_t n = a->shape[dim];
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        const double *p = base + (ptrdiff_t)i * a->stride[dim];
        if (dim == a->ndim - 1)
            lua_pushnumber(L, *p);
        else
            push_totable(L, a, dim + 1, p);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static int m_totable(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    luaL_checkstack(L, a->ndim + 4, "array:totable");
    push_totable(L, a, 0, a->data);
    return 1;
}

/* __index: integer keys give an element (1-D) or a row view (N-D); names give
 * methods. */
static int m_index(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    if (lua_type(L, 2) == LUA_TNUMBER) {
        size_t i = check_index(L, 2, a->shape[0]);
        if (a->ndim == 1)
            lua_pushnumber(L, a->data[(ptrdiff_t)i * a->stride[0]]);
        else
            push_row(L, 1, a, i);
        return 1;
    }
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

/* __newindex: a[i] = v (1-D) or a[i] = row (array or table, N-D). */
static int m_newindex(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    if (lua_type(L, 2) != LUA_TNUMBER)
        return luaL_error(L, "array: cannot set field '%s' (arrays take integer indices)",
                          luaL_tolstring(L, 2, NULL));
    size_t i = check_index(L, 2, a->shape[0]);
    if (a->ndim == 1) {
        a->data[(ptrdiff_t)i * a->stride[0]] = luaL_checknumber(L, 3);
        return 0;
    }
    push_row(L, 1, a, i);
    pf_array *row = pf_lua_testarray(L, -1);
    if (lua_type(L, 3) == LUA_TTABLE) {
        lua_pushcfunction(L, arr_from);
        lua_pushvalue(L, 3);
        lua_call(L, 1, 1);
        lua_replace(L, 3);
    }
    if (lua_isnumber(L, 3)) {
        pf_array_fill(row, lua_tonumber(L, 3));
        return 0;
    }
    pf_array *src = pf_lua_checkarray(L, 3);
    pf_lua_checksameshape(L, row, 3, src);
    pf_array_copy(row, src);
    return 0;
}

/* ---- printing --------------------------------------------------------------- */

static void add_num(luaL_Buffer *b, double v)
{
    char t[40];
    snprintf(t, sizeof t, "%.6g", v);
    luaL_addstring(b, t);
}

static void add_values(luaL_Buffer *b, const pf_array *a, int dim, const double *base, int indent)
{
    size_t n = a->shape[dim];
    luaL_addchar(b, '{');
    for (size_t i = 0; i < n; i++) {
        const double *p = base + (ptrdiff_t)i * a->stride[dim];
        if (dim == a->ndim - 1) {
            add_num(b, *p);
        } else {
            if (i) {
                luaL_addchar(b, '\n');
                for (int s = 0; s <= indent; s++)
                    luaL_addchar(b, ' ');
            }
            add_values(b, a, dim + 1, p, indent + 1);
        }
        if (i + 1 < n)
            luaL_addstring(b, dim == a->ndim - 1 ? ", " : ",");
    }
    luaL_addchar(b, '}');
}

/* Small arrays print their values; large ones a one-line summary. */
static int m_tostring(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "array(");
    pf_lua_addshape(&b, a->ndim, a->shape);
    luaL_addstring(&b, ", double)");
    if (a->size == 0) {
        luaL_pushresult(&b);
        return 1;
    }
    if (a->size <= 60) {
        luaL_addstring(&b, a->ndim == 1 ? " " : "\n");
        add_values(&b, a, 0, a->data, 0);
    } else {
        double mn = INFINITY, mx = -INFINITY, sum = 0;
        size_t nan = 0, idx[PF_MAXDIM] = {0};
        for (size_t i = 0; i < a->size; i++) {
            double v = *pf_array_ptr(a, idx);
            if (isnan(v)) {
                nan++;
            } else {
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
                sum += v;
            }
            for (int d = a->ndim - 1; d >= 0; d--) {
                if (++idx[d] < a->shape[d])
                    break;
                idx[d] = 0;
            }
        }
        luaL_addstring(&b, " min ");
        add_num(&b, mn);
        luaL_addstring(&b, " max ");
        add_num(&b, mx);
        luaL_addstring(&b, " mean ");
        add_num(&b, a->size > nan ? sum / (double)(a->size - nan) : NAN);
        if (nan) {
            char t[48];
            snprintf(t, sizeof t, " (%zu NaN)", nan);
            luaL_addstring(&b, t);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

/* ---- registration ----------------------------------------------------------- */

static const luaL_Reg methods[] = {
    {"shape", m_shape}, {"ndim", m_ndim}, {"size", m_size}, {"get", m_get}, {"set", m_set},
    {"row", m_row}, {"col", m_col}, {"rows", m_rows}, {"T", m_T}, {"reshape", m_reshape},
    {"copy", m_copy}, {"fill", m_fill}, {"assign", m_assign}, {"totable", m_totable},
    {"tostring", m_tostring}, {NULL, NULL}};

static const luaL_Reg metamethods[] = {
    {"__index", m_index}, {"__newindex", m_newindex}, {"__len", m_len},
    {"__tostring", m_tostring}, {NULL, NULL}};

static const luaL_Reg funcs[] = {
    {"zeros", arr_zeros}, {"empty", arr_empty}, {"ones", arr_ones}, {"full", arr_full},
    {"eye", arr_eye}, {"linspace", arr_linspace}, {"arange", arr_arange},
    {"from", arr_from}, {"hstack", arr_hstack}, {"vstack", arr_vstack},
    {"concat", arr_concat}, {"is_array", arr_is_array}, {NULL, NULL}};

int pf_open_array(lua_State *L)
{
    pf_lua_newclass(L, PF_ARRAY_MT, methods, metamethods);
    pf_lua_array_ops(L);
    return pf_lua_newmodule(L, funcs, PF_ARRAY_MT);
}

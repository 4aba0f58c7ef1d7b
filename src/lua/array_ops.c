/*
 * array_ops.c -- pf.array's arithmetic, reductions and row selection: the methods
 * that compute new arrays from old ones. l_array.c holds construction, views and
 * element access, and adds these to the class through pf_lua_array_ops.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pf_lua.h"

/* ---- arithmetic --------------------------------------------------------------- */

static int binop(lua_State *L, int op, const char *name)
{
    pf_array *a = pf_lua_testarray(L, 1), *b = pf_lua_testarray(L, 2);
    if (a && b) {
        pf_lua_checksameshape(L, a, 2, b);
        pf_array *r = pf_lua_newlike(L, a);
        pf_array_binop(r, a, b, op);
    } else if (a) {
        int isnum;
        double s = lua_tonumberx(L, 2, &isnum);
        if (!isnum)
            return luaL_error(L, "array:%s: array or number expected as operand 2, got %s",
                              name, luaL_typename(L, 2));
        pf_array *r = pf_lua_newlike(L, a);
        pf_array_binop_scalar(r, a, s, op, 0);
    } else if (b) {
        int isnum;
        double s = lua_tonumberx(L, 1, &isnum);
        if (!isnum)
            return luaL_error(L, "array:%s: array or number expected as operand 1, got %s",
                              name, luaL_typename(L, 1));
        pf_array *r = pf_lua_newlike(L, b);
        pf_array_binop_scalar(r, b, s, op, 1);
    } else {
        return luaL_error(L, "array:%s: no array operand", name);
    }
    return 1;
}

#define BINOP(fn, op, name) \
    static int fn(lua_State *L) { return binop(L, op, name); }
BINOP(m_add, PF_ADD, "add")
BINOP(m_sub, PF_SUB, "sub")
BINOP(m_mul, PF_MUL, "mul")
BINOP(m_div, PF_DIV, "div")
BINOP(m_pow, PF_POW, "pow")
BINOP(m_minimum, PF_MIN2, "minimum")
BINOP(m_maximum, PF_MAX2, "maximum")
BINOP(m_lt, PF_LT, "lt")
BINOP(m_le, PF_LE, "le")
BINOP(m_gt, PF_GT, "gt")
BINOP(m_ge, PF_GE, "ge")
BINOP(m_eq, PF_EQ, "eq")
BINOP(m_ne, PF_NE, "ne")
BINOP(m_and, PF_AND, "land")
BINOP(m_or, PF_OR, "lor")
BINOP(m_atan2, PF_ATAN2, "atan2")

static int unop(lua_State *L, int op)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    pf_array *r = pf_lua_newlike(L, a);
    pf_array_unop(r, a, op);
    return 1;
}

#define UNOP(fn, op) \
    static int fn(lua_State *L) { return unop(L, op); }
UNOP(m_unm, PF_NEG)
UNOP(m_abs, PF_ABS)
UNOP(m_sqrt, PF_SQRT)
UNOP(m_exp, PF_EXP)
UNOP(m_log, PF_LOG)
UNOP(m_log10, PF_LOG10)
UNOP(m_sin, PF_SIN)
UNOP(m_cos, PF_COS)
UNOP(m_tan, PF_TAN)
UNOP(m_asin, PF_ASIN)
UNOP(m_acos, PF_ACOS)
UNOP(m_atan, PF_ATAN)
UNOP(m_sinh, PF_SINH)
UNOP(m_cosh, PF_COSH)
UNOP(m_tanh, PF_TANH)
UNOP(m_floor, PF_FLOOR)
UNOP(m_ceil, PF_CEIL)
UNOP(m_not, PF_NOT)
UNOP(m_isfinite, PF_ISFINITE)
UNOP(m_isnan, PF_ISNAN)
UNOP(m_square, PF_SQUARE)
UNOP(m_log1p, PF_LOG1P)
UNOP(m_expm1, PF_EXPM1)
UNOP(m_erf, PF_ERF)
UNOP(m_atanh, PF_ATANH)

static int m_matmul(lua_State *L)
{
    pf_lua_checkarray(L, 1);
    pf_lua_checkarray(L, 2);
    pf_array *a = pf_lua_contiguous(L, 1), *b = pf_lua_contiguous(L, 2);
    luaL_argcheck(L, a->ndim == 2, 1, "2-D array expected");
    luaL_argcheck(L, b->ndim == 2, 2, "2-D array expected");
    if (b->shape[0] != a->shape[1]) {
        const char *m = lua_pushfstring(L, "array with %d rows expected, got %d",
                                        (int)a->shape[1], (int)b->shape[0]);
        luaL_argerror(L, 2, m);
    }
    pf_array *c = pf_lua_newarray2(L, a->shape[0], b->shape[1]);
    int st = pf_array_matmul(c, a, b);
    if (st)
        return pf_lua_fail(L, "array:matmul", st, NULL);
    return 1;
}

/* ---- reductions ------------------------------------------------------------- */

/* sum([axis]) etc. Without axis: a number over all elements. With axis (1-based): an
 * array without that dimension. std/var take ddof as the next argument (default 0). */
static int reduce(lua_State *L, int op)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    int ddof = 0;
    if (op == PF_STD || op == PF_VAR) {
        ddof = (int)luaL_optinteger(L, 3, 0);
        luaL_argcheck(L, ddof >= 0, 3, "ddof must be >= 0");
    }
    if (lua_isnoneornil(L, 2)) {
        double r;
        pf_array_reduce_all(a, op, ddof, &r);
        lua_pushnumber(L, r);
        return 1;
    }
    lua_Integer axis = luaL_checkinteger(L, 2);
    if (axis < 1 || axis > a->ndim) {
        const char *m = lua_pushfstring(L, "axis 1..%d expected, got %I", a->ndim,
                                        (LUAI_UACINT)axis);
        luaL_argerror(L, 2, m);
    }
    if (a->ndim == 1) {
        double r;
        pf_array_reduce_all(a, op, ddof, &r);
        lua_pushnumber(L, r);
        return 1;
    }
    size_t shape[PF_MAXDIM];
    int k = 0;
    for (int d = 0; d < a->ndim; d++)
        if (d != axis - 1)
            shape[k++] = a->shape[d];
    pf_array *r = pf_lua_newarray(L, k, shape);
    int st = pf_array_reduce_axis(a, (int)axis - 1, op, ddof, r);
    if (st)
        return pf_lua_fail(L, "array:reduce", st, NULL);
    return 1;
}

#define REDUCE(fn, op) \
    static int fn(lua_State *L) { return reduce(L, op); }
REDUCE(m_sum, PF_SUM)
REDUCE(m_mean, PF_MEAN)
REDUCE(m_std, PF_STD)
REDUCE(m_var, PF_VAR)
REDUCE(m_min, PF_MINR)
REDUCE(m_max, PF_MAXR)
REDUCE(m_prod, PF_PROD)

/* count(): number of non-zero elements; any(), all() as booleans. */
static size_t count_nonzero(const pf_array *a)
{
    size_t shape_all = a->size, n = 0;
    if (pf_array_is_contiguous(a)) {
        for (size_t i = 0; i < shape_all; i++)
            n += a->data[i] != 0;
        return n;
    }
    size_t idx[PF_MAXDIM] = {0};
    for (size_t i = 0; i < shape_all; i++) {
        n += *pf_array_ptr(a, idx) != 0;
        for (int d = a->ndim - 1; d >= 0; d--) {
            if (++idx[d] < a->shape[d])
                break;
            idx[d] = 0;
        }
    }
    return n;
}

static int m_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)count_nonzero(pf_lua_checkarray(L, 1)));
    return 1;
}

static int m_any(lua_State *L)
{
    lua_pushboolean(L, count_nonzero(pf_lua_checkarray(L, 1)) > 0);
    return 1;
}

static int m_all(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    lua_pushboolean(L, count_nonzero(a) == a->size);
    return 1;
}

/* ---- selection -------------------------------------------------------------- */

/* Copy the rows listed in idx[0..k-1] (0-based) of `a` into a new array. */
static void push_rows(lua_State *L, int self, const pf_array *a, const size_t *idx, size_t k)
{
    (void)self;
    size_t shape[PF_MAXDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[0] = k;
    pf_array *r = pf_lua_newarray(L, a->ndim, shape);
    size_t w = k ? r->size / k : 0;
    for (size_t i = 0; i < k; i++) {
        pf_array row = *a;
        row.data = a->data + (ptrdiff_t)idx[i] * a->stride[0];
        row.shape[0] = 1;
        row.size = w;
        pf_array_pack(&row, r->data + i * w);
    }
}

/* select(mask): rows where mask is true. mask: an array of N numbers (non-zero = keep)
 * or a table of N booleans. */
static int m_select(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    size_t n = a->shape[0];
    size_t *idx = NULL, k = 0;
    pf_array *m = pf_lua_testarray(L, 2);
    if (m) {
        if (m->ndim != 1 || m->shape[0] != n) {
            const char *e = lua_pushfstring(L, "mask of %d elements expected", (int)n);
            luaL_argerror(L, 2, e);
        }
    } else if (lua_type(L, 2) == LUA_TTABLE) {
        if ((size_t)luaL_len(L, 2) != n) {
            const char *e = lua_pushfstring(L, "mask of %d booleans expected, got %d", (int)n,
                                            (int)luaL_len(L, 2));
            luaL_argerror(L, 2, e);
        }
    } else {
        luaL_argerror(L, 2, "mask (array or table of booleans) expected");
    }
    idx = (size_t *)lua_newuserdatauv(L, (n ? n : 1) * sizeof(size_t), 0);
    for (size_t i = 0; i < n; i++) {
        int keep;
        if (m) {
            keep = m->data[(ptrdiff_t)i * m->stride[0]] != 0;
        } else {
            lua_geti(L, 2, (lua_Integer)i + 1);
            keep = lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
        if (keep)
            idx[k++] = i;
    }
    push_rows(L, 1, a, idx, k);
    return 1;
}

/* take(idx): rows at the given 1-based indices (array or table of integers). */
static int m_take(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    pf_array *ix = pf_lua_testarray(L, 2);
    size_t k;
    if (ix) {
        luaL_argcheck(L, ix->ndim == 1, 2, "1-D index array expected");
        k = ix->shape[0];
    } else {
        luaL_argcheck(L, lua_type(L, 2) == LUA_TTABLE, 2, "index array or table expected");
        k = (size_t)luaL_len(L, 2);
    }
    size_t *idx = (size_t *)lua_newuserdatauv(L, (k ? k : 1) * sizeof(size_t), 0);
    for (size_t i = 0; i < k; i++) {
        double v;
        if (ix) {
            v = ix->data[(ptrdiff_t)i * ix->stride[0]];
        } else {
            lua_geti(L, 2, (lua_Integer)i + 1);
            v = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        if (!(v >= 1 && v <= (double)a->shape[0]) || v != floor(v)) {
            const char *e = lua_pushfstring(L, "index %f at position %d is not in 1..%d", v,
                                            (int)i + 1, (int)a->shape[0]);
            luaL_argerror(L, 2, e);
        }
        idx[i] = (size_t)v - 1;
    }
    push_rows(L, 1, a, idx, k);
    return 1;
}

/* nonzero(): 1-based indices of the non-zero elements of a 1-D array. */
static int m_nonzero(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    luaL_argcheck(L, a->ndim == 1, 1, "1-D array expected");
    size_t k = count_nonzero(a), j = 0;
    pf_array *r = pf_lua_newarray1(L, k);
    for (size_t i = 0; i < a->shape[0]; i++)
        if (a->data[(ptrdiff_t)i * a->stride[0]] != 0)
            r->data[j++] = (double)(i + 1);
    return 1;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    if (isnan(a))
        return isnan(b) ? 0 : 1; /* NaNs last */
    if (isnan(b))
        return -1;
    return (a > b) - (a < b);
}

/* sort(): sorted copy of a 1-D array (NaNs last). */
static int m_sort(lua_State *L)
{
    pf_array *a = pf_lua_checkarray(L, 1);
    luaL_argcheck(L, a->ndim == 1, 1, "1-D array expected");
    pf_array *r = pf_lua_newlike(L, a);
    pf_array_pack(a, r->data);
    qsort(r->data, r->size, sizeof(double), cmp_double);
    return 1;
}

/* ---- registration ----------------------------------------------------------- */

static const luaL_Reg methods[] = {
    {"add", m_add}, {"sub", m_sub}, {"mul", m_mul}, {"div", m_div}, {"pow", m_pow},
    {"minimum", m_minimum}, {"maximum", m_maximum}, {"lt", m_lt}, {"le", m_le},
    {"gt", m_gt}, {"ge", m_ge}, {"eq", m_eq}, {"ne", m_ne}, {"land", m_and},
    {"lor", m_or}, {"lnot", m_not}, {"atan2", m_atan2}, {"neg", m_unm}, {"abs", m_abs},
    {"sqrt", m_sqrt}, {"exp", m_exp}, {"log", m_log}, {"log10", m_log10}, {"sin", m_sin},
    {"cos", m_cos}, {"tan", m_tan}, {"asin", m_asin}, {"acos", m_acos}, {"atan", m_atan},
    {"sinh", m_sinh}, {"cosh", m_cosh}, {"tanh", m_tanh}, {"floor", m_floor},
    {"ceil", m_ceil}, {"isfinite", m_isfinite}, {"isnan", m_isnan}, {"square", m_square},
    {"log1p", m_log1p}, {"expm1", m_expm1}, {"erf", m_erf}, {"atanh", m_atanh},
    {"matmul", m_matmul}, {"sum", m_sum}, {"mean", m_mean}, {"std", m_std},
    {"var", m_var}, {"min", m_min}, {"max", m_max}, {"prod", m_prod}, {"count", m_count},
    {"any", m_any}, {"all", m_all}, {"select", m_select}, {"take", m_take},
    {"nonzero", m_nonzero}, {"sort", m_sort}, {NULL, NULL}};

static const luaL_Reg metamethods[] = {
    {"__add", m_add}, {"__sub", m_sub}, {"__mul", m_mul}, {"__div", m_div},
    {"__pow", m_pow}, {"__unm", m_unm}, {NULL, NULL}};

void pf_lua_array_ops(lua_State *L)
{
    pf_lua_newclass(L, PF_ARRAY_MT, methods, metamethods);
}

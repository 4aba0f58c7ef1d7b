/*
 * l_train.c -- core.train: the pieces of pf.train that must be fast or exact.
 *   adam(n, {lr, beta1, beta2, eps, weight_decay}) -> optimiser; opt:step(p, g) updates
 *     the 1-D array p in place from g; opt:state() / opt:set_state(m, v, step).
 *   batcher(n, seed) -> shuffled mini-batch source (MT19937, GSL's shuffle):
 *     b:shuffle() draws a new permutation of 1..n (from the identity each time, so the
 *     generator state alone is the checkpoint state); b:gather(x, i0, i1) -> the rows
 *     perm[i0..i1] of x as a new array; b:rng_state() / b:set_rng_state(s) (strings).
 */
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include "pf_lua.h"
#include "phaseflow/adam.h"

#define ADAM_MT "phaseflow.adam"
#define BATCHER_MT "phaseflow.batcher"

static pf_adam *checkadam(lua_State *L, int arg)
{
    return (pf_adam *)pf_lua_checkhandle(L, arg, ADAM_MT, "optimiser");
}

static int adam_gc(lua_State *L)
{
    pf_adam_free((pf_adam *)pf_lua_takehandle(L, 1, ADAM_MT));
    return 0;
}

static int adam_new(lua_State *L)
{
    static const char *const opts[] = {"lr", "beta1", "beta2", "eps", "weight_decay", NULL};
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1, 1, "number of parameters must be >= 1");
    pf_lua_checkopts(L, 2, "pf.train.adam", opts);
    double lr = pf_lua_optnumfield(L, 2, "lr", 1e-3);
    double b1 = pf_lua_optnumfield(L, 2, "beta1", 0.9);
    double b2 = pf_lua_optnumfield(L, 2, "beta2", 0.999);
    double eps = pf_lua_optnumfield(L, 2, "eps", 1e-8);
    double wd = pf_lua_optnumfield(L, 2, "weight_decay", 0.0);
    void **slot = pf_lua_newhandle(L, ADAM_MT);
    pf_err err;
    *slot = pf_adam_alloc((size_t)n, lr, b1, b2, eps, wd, &err);
    if (!*slot)
        return pf_lua_fail(L, "pf.train.adam", err.code, &err);
    return 1;
}

/* step(p, g): p updated in place (contiguous 1-D arrays of n) */
static int adam_step(lua_State *L)
{
    pf_adam *a = checkadam(L, 1);
    pf_array *p = pf_lua_checkshape(L, 2, 1, a->n, PF_ANY);
    luaL_argcheck(L, pf_array_is_contiguous(p), 2, "contiguous array expected");
    pf_lua_checkshape(L, 3, 1, a->n, PF_ANY);
    pf_array *g = pf_lua_contiguous(L, 3);
    pf_adam_step(a, p->data, g->data);
    return 0;
}

/* state() -> m, v (arrays), step */
static int adam_state(lua_State *L)
{
    pf_adam *a = checkadam(L, 1);
    pf_array *m = pf_lua_newarray1(L, a->n);
    memcpy(m->data, a->m, a->n * sizeof(double));
    pf_array *v = pf_lua_newarray1(L, a->n);
    memcpy(v->data, a->v, a->n * sizeof(double));
    lua_pushinteger(L, a->step);
    return 3;
}

static int adam_set_state(lua_State *L)
{
    pf_adam *a = checkadam(L, 1);
    pf_lua_checkshape(L, 2, 1, a->n, PF_ANY);
    pf_lua_checkshape(L, 3, 1, a->n, PF_ANY);
    pf_array *m = pf_lua_contiguous(L, 2), *v = pf_lua_contiguous(L, 3);
    lua_Integer s = luaL_checkinteger(L, 4);
    luaL_argcheck(L, s >= 0, 4, "step must be >= 0");
    memcpy(a->m, m->data, a->n * sizeof(double));
    memcpy(a->v, v->data, a->n * sizeof(double));
    a->step = (long)s;
    return 0;
}

/* ---- batcher ---- */

typedef struct {
    gsl_rng *r;
    size_t n;
    size_t *perm;
} lbatch;

static lbatch *checkbatch(lua_State *L, int arg)
{
    lbatch *b = (lbatch *)luaL_checkudata(L, arg, BATCHER_MT);
    if (!b->r)
        luaL_argerror(L, arg, "batcher has been freed");
    return b;
}

static int batch_gc(lua_State *L)
{
    lbatch *b = (lbatch *)luaL_checkudata(L, 1, BATCHER_MT);
    if (b->r)
        gsl_rng_free(b->r);
    free(b->perm);
    b->r = NULL;
    b->perm = NULL;
    return 0;
}

static int batch_new(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1, 1, "number of rows must be >= 1");
    lua_Integer seed = luaL_checkinteger(L, 2);
    lbatch *b = (lbatch *)lua_newuserdatauv(L, sizeof(lbatch), 0);
    b->r = NULL;
    b->perm = NULL;
    luaL_setmetatable(L, BATCHER_MT);
    b->perm = malloc((size_t)n * sizeof(size_t));
    b->r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!b->perm || !b->r)
        return luaL_error(L, "pf.train.batcher: out of memory");
    uint64_t s = (uint64_t)seed;
    gsl_rng_set(b->r, (unsigned long)(s ^ (s >> 32)));
    b->n = (size_t)n;
    for (size_t i = 0; i < b->n; i++)
        b->perm[i] = i;
    return 1;
}

static int batch_shuffle(lua_State *L)
{
    lbatch *b = checkbatch(L, 1);
    for (size_t i = 0; i < b->n; i++)
        b->perm[i] = i;
    gsl_ran_shuffle(b->r, b->perm, b->n, sizeof(size_t));
    return 0;
}

/* gather(x, i0, i1) -> rows perm[i0..i1] (1-based, inclusive) of the 2-D array x */
static int batch_gather(lua_State *L)
{
    lbatch *b = checkbatch(L, 1);
    pf_lua_checkshape(L, 2, 2, b->n, PF_ANY);
    pf_array *x = pf_lua_contiguous(L, 2);
    lua_Integer i0 = luaL_checkinteger(L, 3), i1 = luaL_checkinteger(L, 4);
    luaL_argcheck(L, i0 >= 1 && i0 <= (lua_Integer)b->n, 3, "row range outside 1..n");
    luaL_argcheck(L, i1 >= i0 && i1 <= (lua_Integer)b->n, 4, "row range outside i0..n");
    size_t m = x->shape[1], cnt = (size_t)(i1 - i0 + 1);
    pf_array *o = pf_lua_newarray2(L, cnt, m);
    for (size_t r = 0; r < cnt; r++)
        memcpy(o->data + r * m, x->data + b->perm[(size_t)i0 - 1 + r] * m, m * sizeof(double));
    return 1;
}

/* perm() -> 1-D array of the current permutation (1-based indices as doubles) */
static int batch_perm(lua_State *L)
{
    lbatch *b = checkbatch(L, 1);
    pf_array *o = pf_lua_newarray1(L, b->n);
    for (size_t i = 0; i < b->n; i++)
        o->data[i] = (double)(b->perm[i] + 1);
    return 1;
}

static int batch_rng_state(lua_State *L)
{
    lbatch *b = checkbatch(L, 1);
    lua_pushlstring(L, (const char *)gsl_rng_state(b->r), gsl_rng_size(b->r));
    return 1;
}

/* GSL's MT19937 state (gsl/rng/mt.c, not in its headers): the table and the position in
 * it. A state from a file is checked against it before use: GSL indexes the table with
 * the position unchecked (a negative one reads before it), and words above 32 bits make
 * gsl_rng_uniform_int reject draws, forever if every one is too large. */
typedef struct {
    unsigned long mt[624];
    int mti;
} mt_state;

static int batch_set_rng_state(lua_State *L)
{
    lbatch *b = checkbatch(L, 1);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    luaL_argcheck(L, len == gsl_rng_size(b->r), 2, "generator state of the wrong size");
    if (len == sizeof(mt_state)) {
        mt_state st;
        memcpy(&st, s, sizeof st);
        if (st.mti < 0 || st.mti > 624)
            return luaL_argerror(L, 2, lua_pushfstring(L, "generator state with position %d "
                                 "outside 0..624 is not MT19937's", st.mti));
        unsigned long any = 0;
        for (int i = 0; i < 624; i++) {
            if (st.mt[i] > 0xffffffffUL)
                return luaL_argerror(L, 2, lua_pushfstring(L, "generator state with word %d "
                                     "above 32 bits is not MT19937's", i + 1));
            any |= st.mt[i];
        }
        luaL_argcheck(L, any != 0, 2, "generator state all zero is not MT19937's");
    }
    memcpy(gsl_rng_state(b->r), s, len);
    return 0;
}

int pf_open_train(lua_State *L)
{
    static const luaL_Reg am[] = {{"step", adam_step}, {"state", adam_state},
                                  {"set_state", adam_set_state}, {"free", adam_gc},
                                  {NULL, NULL}};
    static const luaL_Reg ameta[] = {{"__gc", adam_gc}, {"__close", adam_gc}, {NULL, NULL}};
    static const luaL_Reg bm[] = {{"shuffle", batch_shuffle}, {"gather", batch_gather},
                                  {"perm", batch_perm}, {"rng_state", batch_rng_state},
                                  {"set_rng_state", batch_set_rng_state}, {"free", batch_gc},
                                  {NULL, NULL}};
    static const luaL_Reg bmeta[] = {{"__gc", batch_gc}, {"__close", batch_gc}, {NULL, NULL}};
    static const luaL_Reg f[] = {{"adam", adam_new}, {"batcher", batch_new}, {NULL, NULL}};
    pf_lua_newclass(L, ADAM_MT, am, ameta);
    pf_lua_newclass(L, BATCHER_MT, bm, bmeta);
    return pf_lua_newmodule(L, f, NULL);
}

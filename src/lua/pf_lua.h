/*
 * pf_lua.h -- what every binding file shares: array userdata, argument checks,
 * option tables, and turning a core status into a Lua error.
 *
 * Stack effects are written as [-o, +p] in the manner of the Lua manual: pops o
 * values, pushes p.
 */
#ifndef PF_LUA_H
#define PF_LUA_H

#include <signal.h>
#include <lua.h>
#include <lauxlib.h>
#include "phaseflow/array.h"
#include "phaseflow/common.h"

#define PF_ARRAY_MT "phaseflow.array"

/* [-0, +0] Add arithmetic, reductions and row selection to the array class
 * (array_ops.c; pf_open_array calls it after registering the class). */
void pf_lua_array_ops(lua_State *L);

/* Each binding file src/lua/l_NAME.c defines `int pf_open_NAME(lua_State *L)` that
 * pushes its module table; the build gathers them into phaseflow.core.NAME (the list
 * is build/gen/modules.h, generated from the file names). */
#define PF_MODULE(name) int pf_open_##name(lua_State *L);
#include "modules.h"
#undef PF_MODULE

/* [-0, +0] Register the class whose userdata carry metatable `mtname`: the metatable
 * gets the metamethods of `meta` (may be NULL) and a field `methods`, the table of
 * `methods`; __index is that table unless `meta` sets __index itself (pf.array looks
 * up integer keys first). A second call for the same name adds to the class. */
void pf_lua_newclass(lua_State *L, const char *mtname, const luaL_Reg *methods,
                     const luaL_Reg *meta);

/* [-0, +1] Push a module table of `funcs` (may be NULL). With a class name, the
 * class's methods table is exposed as module.methods, where the Lua facade adds the
 * methods written in Lua. Returns 1, the count a pf_open_NAME returns. */
int pf_lua_newmodule(lua_State *L, const luaL_Reg *funcs, const char *class_mt);

/* Handles: a userdata holding one pointer to a C object the binding owns (a flow, an
 * optimiser, a sampler, a generator). It holds NULL until the object is made and after
 * it is freed, so a failed constructor, a collected half-made handle or a second free
 * are harmless. */
/* [-0, +1] New handle of class `mt` holding NULL; returns the slot for the object. */
void **pf_lua_newhandle(lua_State *L, const char *mt);
/* [-0, +0] The object of the handle at `arg` (NULL once freed). */
void *pf_lua_tohandle(lua_State *L, int arg, const char *mt);
/* [-0, +0] The object of the handle at `arg`, or the argument error "<what> has been
 * freed". */
void *pf_lua_checkhandle(lua_State *L, int arg, const char *mt, const char *what);
/* [-0, +0] The object taken out of the handle at `arg`, which then holds NULL (for
 * __gc and :free). */
void *pf_lua_takehandle(lua_State *L, int arg, const char *mt);

/* [-0, +1] New contiguous array userdata of the given shape, zero-filled. The doubles
 * live inside the userdata block, so the collector sees their size. Raises a Lua
 * error (naming `fname`) if the shape is invalid or memory runs out. */
pf_array *pf_lua_newarray(lua_State *L, int ndim, const size_t *shape);
pf_array *pf_lua_newarray1(lua_State *L, size_t n);
pf_array *pf_lua_newarray2(lua_State *L, size_t n, size_t m);

/* [-0, +0] The array at `arg`, or a Lua argument error "array expected, got T". */
pf_array *pf_lua_checkarray(lua_State *L, int arg);
/* [-0, +0] The array at `arg` or NULL if it is not one. */
pf_array *pf_lua_testarray(lua_State *L, int arg);

/* Wildcard for pf_lua_checkshape. */
#define PF_ANY ((size_t)-1)

/* [-0, +0] Check that the array at `arg` has `ndim` dimensions and the given extents
 * (PF_ANY matches anything). On mismatch: "bad argument #arg to 'f' (array of shape
 * Nx3 expected, got 10x2)". With ndim == 2, a 1-D array of length n2 is NOT accepted:
 * the caller must reshape. */
pf_array *pf_lua_checkshape(lua_State *L, int arg, int ndim, size_t n0, size_t n1);

/* [-0, +1] New zero-filled array of a's shape. */
pf_array *pf_lua_newlike(lua_State *L, const pf_array *a);

/* [-0, +0] Check that `b` (the argument at `arg`) has the shape of `a`; on mismatch:
 * "bad argument #arg to 'f' (array of shape 3x2 expected, got 2x3)". */
void pf_lua_checksameshape(lua_State *L, const pf_array *a, int arg, const pf_array *b);

/* Append a shape to a buffer as "10x3" (PF_ANY prints as N). */
void pf_lua_addshape(luaL_Buffer *b, int ndim, const size_t *shape);

/* [-0, +0] Make the argument at `arg` contiguous: if it is a strided view, a
 * contiguous copy replaces it in its stack slot (so it stays alive as long as the
 * call). Returns the (possibly new) array. */
pf_array *pf_lua_contiguous(lua_State *L, int arg);

/* Raise a Lua error for a failed core call: "fname: <message or strerror>".
 * Never returns. Free temporaries before calling it. */
int pf_lua_fail(lua_State *L, const char *fname, int status, const pf_err *err);

/* Option tables: `idx` is a table or nil/none. pf_lua_checkopts raises an error
 * naming the first key that is not in the NULL-terminated `allowed` list (catches
 * typos like `bacth`). The getters read a field or return the default; a field of
 * the wrong type is an error naming the option. */
void pf_lua_checkopts(lua_State *L, int idx, const char *fname, const char *const allowed[]);
double pf_lua_optnumfield(lua_State *L, int idx, const char *key, double def);
lua_Integer pf_lua_optintfield(lua_State *L, int idx, const char *key, lua_Integer def);
/* The same for a C int: a value outside the int range is an error naming the option (a
 * cast would wrap it silently: hidden = 4294967304 would build a flow with 8 units). */
int pf_lua_optintfield_int(lua_State *L, int idx, const char *key, int def);
int pf_lua_optboolfield(lua_State *L, int idx, const char *key, int def);
const char *pf_lua_optstrfield(lua_State *L, int idx, const char *key, const char *def);

/* The interrupt flag set by the phaseflow executable's SIGINT handler, or NULL when
 * none is registered (e.g. under stock lua5.4). Long C loops poll it. */
volatile sig_atomic_t *pf_lua_interrupt_flag(lua_State *L);
#define PF_INTERRUPT_KEY "phaseflow.interrupt"


/* ---- random generators (pf.rng userdata, see l_rng.c) ----------------------- */
#include <gsl/gsl_rng.h>
#define PF_RNG_MT "phaseflow.rng"

/* [-0, +0] The generator of the pf.rng object at `arg` (error if not one or freed). */
gsl_rng *pf_lua_checkrng(lua_State *L, int arg);

/* [-0, +1] A generator chosen by an option table at `opts`: opts.rng (a pf.rng,
 * used and advanced in place) or opts.seed (a new generator seeded with it; default
 * `default_seed`). Always pushes the owning userdata so the caller keeps it alive. */
gsl_rng *pf_lua_rng_from_opts(lua_State *L, int opts, lua_Integer default_seed);

/* [-0, +1] A new pf.rng userdata seeded with `seed`. */
gsl_rng *pf_lua_newrng(lua_State *L, lua_Integer seed);

#endif

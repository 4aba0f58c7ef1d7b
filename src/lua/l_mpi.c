/*
 * l_mpi.c -- pf.mpi: the ranks of an MPI run seen from Lua (see phaseflow/mpi.h).
 *
 *   if pf.mpi.rank() == 0 then ... end
 *   local a = pf.mpi.bcast(pf.mpi.rank() == 0 and read_input() or nil)
 *   local n = pf.mpi.jobs(#tasks, function(i) run(tasks[i]) end)
 *   local all = pf.mpi.gather(serialize.dump(mine))       -- a list on rank 0
 *
 * Outside mpirun (or in a serial build) the world has one rank and every function
 * does the one-rank thing, so a script written for many ranks runs alone unchanged.
 *
 * An error inside a jobs() function on a world of several ranks cannot be raised as
 * usual: the other ranks would wait for this one forever. It is printed as
 * "phaseflow: rank R: <message>" and every rank is aborted (MPI_Abort).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "pf_lua.h"
#include "phaseflow/mpi.h"

#define PF_MPI_JOBS_MT "phaseflow.mpi.jobs"
/* Registry key, set while a distributed jobs() runs in this Lua state: rank 0's
 * dispatcher thread then owns MPI, and a collective from inside a job must be refused. */
#define PF_MPI_BUSY_KEY "phaseflow.mpi.busy"

/* The error "pf.mpi.NAME: argument #k (what) must be ..., got T". */
static int arg_fail(lua_State *L, const char *fname, int arg, const char *what,
                    const char *expected)
{
    return luaL_error(L, "pf.mpi.%s: argument #%d (%s) must be %s, got %s", fname, arg, what,
                      expected, luaL_typename(L, arg));
}

/* Refuse an MPI call from inside a distributed jobs() function (see PF_MPI_BUSY_KEY). */
static void check_not_busy(lua_State *L, const char *fname)
{
    int busy = lua_getfield(L, LUA_REGISTRYINDEX, PF_MPI_BUSY_KEY) != LUA_TNIL;
    lua_pop(L, 1);
    if (busy)
        luaL_error(L, "pf.mpi.%s: not allowed inside a pf.mpi.jobs function (rank 0's "
                      "dispatcher owns MPI while the jobs run)", fname);
}

/* The optional root rank at `arg` (default 0), checked against the world. */
static int opt_root(lua_State *L, int arg, const char *fname)
{
    if (lua_isnoneornil(L, arg))
        return 0;
    int ok = 0;
    lua_Integer r = lua_tointegerx(L, arg, &ok);
    if (!ok)
        arg_fail(L, fname, arg, "root", "an integer rank");
    if (r < 0 || r >= pf_mpi_size())
        luaL_error(L, "pf.mpi.%s: argument #%d (root) must be a rank in 0..%d, got %d", fname,
                   arg, pf_mpi_size() - 1, (int)r);
    return (int)r;
}

static int m_built(lua_State *L)
{
    lua_pushboolean(L, pf_mpi_built());
    return 1;
}

static int m_active(lua_State *L)
{
    lua_pushboolean(L, pf_mpi_active());
    return 1;
}

static int m_rank(lua_State *L)
{
    lua_pushinteger(L, pf_mpi_rank());
    return 1;
}

static int m_size(lua_State *L)
{
    lua_pushinteger(L, pf_mpi_size());
    return 1;
}

static int m_barrier(lua_State *L)
{
    pf_err err;
    check_not_busy(L, "barrier");
    int st = pf_mpi_barrier(&err);
    if (st != PF_OK)
        return pf_lua_fail(L, "pf.mpi.barrier", st, &err);
    return 0;
}

/* bcast's header, sent first: what follows and its size. */
enum { BC_BAD = 0, BC_STRING = 1, BC_ARRAY = 2 };
typedef struct {
    int64_t kind;
    int64_t ndim;                /* array */
    int64_t len[PF_MAXDIM];      /* string: len[0] bytes; array: the shape */
} bcast_header;

/* Stack: 1 value, 2 root. The root sends a header then the bytes; the others build a
 * string (a luaL_Buffer) or an array userdata of the header's shape and receive into
 * it. A root whose value has the wrong type still sends a header (BC_BAD), so every
 * rank raises the error instead of the others waiting for a value that never comes. */
static int m_bcast(lua_State *L)
{
    pf_err err;
    lua_settop(L, 2);
    int root = opt_root(L, 2, "bcast");
    check_not_busy(L, "bcast");
    bcast_header h;
    memset(&h, 0, sizeof h);
    int is_root = pf_mpi_rank() == root;
    pf_array *a = NULL;
    if (is_root) {
        if (lua_type(L, 1) == LUA_TSTRING) {
            h.kind = BC_STRING;
            h.len[0] = (int64_t)lua_rawlen(L, 1);
        } else if ((a = pf_lua_testarray(L, 1)) != NULL) {
            lua_pushvalue(L, 1);          /* 3: what the root returns, the array itself */
            a = pf_lua_contiguous(L, 1);  /* 1: a contiguous copy if it was a view */
            h.kind = BC_ARRAY;
            h.ndim = a->ndim;
            for (int k = 0; k < a->ndim; k++)
                h.len[k] = (int64_t)a->shape[k];
        }
    }
    int st = pf_mpi_bcast(&h, sizeof h, root, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "pf.mpi.bcast", st, &err);
    if (h.kind == BC_BAD) {
        if (is_root)
            return arg_fail(L, "bcast", 1, "value", "a string or a pf array on the root");
        return luaL_error(L, "pf.mpi.bcast: the root's value (rank %d) is not a string or a "
                             "pf array", root);
    }
    if (h.kind == BC_STRING) {
        if (is_root) {
            st = pf_mpi_bcast((void *)lua_tostring(L, 1), (size_t)h.len[0], root, &err);
            lua_pushvalue(L, 1);
        } else {
            luaL_Buffer b;
            char *p = luaL_buffinitsize(L, &b, (size_t)h.len[0]);
            st = pf_mpi_bcast(p, (size_t)h.len[0], root, &err);
            luaL_pushresultsize(&b, (size_t)h.len[0]);
        }
    } else {
        if (!is_root) {
            size_t shape[PF_MAXDIM];
            for (int k = 0; k < (int)h.ndim; k++)
                shape[k] = (size_t)h.len[k];
            a = pf_lua_newarray(L, (int)h.ndim, shape);
        }
        st = pf_mpi_bcast(a->data, a->size * sizeof(double), root, &err);
        if (is_root)
            lua_pushvalue(L, 3);
    }
    if (st != PF_OK)
        return pf_lua_fail(L, "pf.mpi.bcast", st, &err);
    return 1;
}

/* Stack: 1 string, 2 root. Counts first (every rank learns all of them), then the
 * bytes into one buffer on the root, cut into the list of strings there. The
 * temporaries are userdata, so an error cannot leak them. */
static int m_gather(lua_State *L)
{
    pf_err err;
    size_t len;
    if (lua_type(L, 1) != LUA_TSTRING)
        return arg_fail(L, "gather", 1, "s", "a string");
    const char *s = lua_tolstring(L, 1, &len);
    int root = opt_root(L, 2, "gather");
    check_not_busy(L, "gather");
    int size = pf_mpi_size();
    size_t *counts = lua_newuserdatauv(L, (size_t)size * sizeof *counts, 0);
    int st = pf_mpi_gather_counts(len, counts, root, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "pf.mpi.gather", st, &err);
    int is_root = pf_mpi_rank() == root;
    size_t total = 0;
    for (int r = 0; r < size; r++)
        total += counts[r];
    char *recv = is_root ? lua_newuserdatauv(L, total ? total : 1, 0) : NULL;
    st = pf_mpi_gather(s, len, recv, counts, root, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "pf.mpi.gather", st, &err);
    if (!is_root) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, size, 0);
    size_t off = 0;
    for (int r = 0; r < size; r++) {
        lua_pushlstring(L, recv + off, counts[r]);
        lua_rawseti(L, -2, r + 1);
        off += counts[r];
    }
    return 1;
}

static int m_allreduce_sum(lua_State *L)
{
    pf_err err;
    if (lua_type(L, 1) != LUA_TNUMBER)
        return arg_fail(L, "allreduce_sum", 1, "x", "a number");
    check_not_busy(L, "allreduce_sum");
    double sum;
    int st = pf_mpi_allreduce_sum(lua_tonumber(L, 1), &sum, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "pf.mpi.allreduce_sum", st, &err);
    lua_pushnumber(L, sum);
    return 1;
}

static int jobs_gc(lua_State *L)
{
    pf_mpi_jobs_free(pf_lua_takehandle(L, 1, PF_MPI_JOBS_MT));
    return 0;
}

/* The error of a job on a world of several ranks: print it with the rank, stop rank 0's
 * dispatcher (so no thread is inside MPI) and abort every rank. Stack top: the error. */
static int job_failed(lua_State *L, int handle)
{
    const char *msg = luaL_tolstring(L, -1, NULL);
    fflush(stdout);
    fprintf(stderr, "phaseflow: rank %d: %s\n", pf_mpi_rank(), msg);
    fflush(stderr);
    pf_mpi_jobs_free(pf_lua_takehandle(L, handle, PF_MPI_JOBS_MT));
    pf_mpi_abort(1);
    lua_pop(L, 1);
    return lua_error(L); /* not reached when several ranks run */
}

/* Stack: 1 n, 2 fn, 3 the handle of the core's job object (collected on any error).
 * One rank: fn(i) is called with lua_call, so its error propagates as usual. Several
 * ranks: lua_pcall, and an error aborts them all (job_failed). */
static int m_jobs(lua_State *L)
{
    pf_err err;
    int ok = 0;
    lua_Integer n = lua_tointegerx(L, 1, &ok);
    if (!ok)
        return arg_fail(L, "jobs", 1, "n", "an integer");
    if (n < 0 || n > LONG_MAX / 2)
        return luaL_error(L, "pf.mpi.jobs: argument #1 (n) must be in 0..%I, got %I",
                          (lua_Integer)(LONG_MAX / 2), n);
    if (lua_type(L, 2) != LUA_TFUNCTION)
        return arg_fail(L, "jobs", 2, "fn", "a function");
    check_not_busy(L, "jobs");
    lua_settop(L, 2);
    int distributed = pf_mpi_active() && pf_mpi_size() > 1;
    void **slot = pf_lua_newhandle(L, PF_MPI_JOBS_MT); /* 3 */
    int st = pf_mpi_jobs_start((pf_mpi_jobs **)slot, (long)n, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "pf.mpi.jobs", st, &err);
    pf_mpi_jobs *j = *slot;
    if (distributed) {
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, PF_MPI_BUSY_KEY);
    }
    lua_Integer done = 0;
    for (long i; (i = pf_mpi_jobs_next(j)) != 0; done++) {
        lua_pushvalue(L, 2);
        lua_pushinteger(L, i);
        if (!distributed)
            lua_call(L, 1, 0);
        else if (lua_pcall(L, 1, 0, 0) != LUA_OK)
            return job_failed(L, 3);
    }
    if (distributed) {
        lua_pushnil(L);
        lua_setfield(L, LUA_REGISTRYINDEX, PF_MPI_BUSY_KEY);
    }
    st = pf_mpi_jobs_finish(j, &err);
    if (st != PF_OK)
        return pf_lua_fail(L, "pf.mpi.jobs", st, &err);
    pf_mpi_jobs_free(pf_lua_takehandle(L, 3, PF_MPI_JOBS_MT));
    lua_pushinteger(L, done);
    return 1;
}

int pf_open_mpi(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__gc", jobs_gc}, {NULL, NULL}};
    static const luaL_Reg f[] = {
        {"built", m_built},   {"active", m_active},   {"rank", m_rank},
        {"size", m_size},     {"barrier", m_barrier}, {"bcast", m_bcast},
        {"gather", m_gather}, {"allreduce_sum", m_allreduce_sum},
        {"jobs", m_jobs},     {NULL, NULL}};
    pf_lua_newclass(L, PF_MPI_JOBS_MT, NULL, meta);
    return pf_lua_newmodule(L, f, NULL);
}

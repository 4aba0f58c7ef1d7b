/*
 * l_mcmc.c -- core.mcmc: the Lua face of the ensemble sampler (src/core/mcmc.c).
 *
 *   core.mcmc.sampler(W, P, {a = 2, seed = 1})   -> sampler userdata
 *   s:init(p0, lp0)        p0 W x P array, lp0 W values (array or table)
 *   s:propose(h)           h = 1 or 2 -> K x P array of proposals (new array)
 *   s:accept(h, lp)        lp: K values (array or table; -math.huge = outside support)
 *   s:run(model, n, chain, logp, burn, thin)   n steps with a C model (gnfw_model),
 *                          recording step i (counted from 1 over the sampler's life) in
 *                          row (i - burn) / thin of chain (R x W x P) and logp (R x W)
 *                          when i > burn and (i - burn) % thin == 0
 *   s:record(chain, logp, row)   copy the current state into row `row`
 *   s:positions() s:log_probs() s:accepted() s:iterations() s:walkers() s:dim()
 *   s:state() -> string     s:set_state(string)     s:free()
 *   core.mcmc.gnfw_model(r, rho, sigma [, priors]) -> model; model:logpost(X) (K x 3)
 *   core.mcmc.gnfw_density(r, rho0, rs, beta)     r: number or array
 *   core.mcmc.autocorr_time(chain [, c = 5]) -> tau (P array), reliable (boolean)
 *   core.mcmc.acf(x)                          -> normalised autocorrelation (array)
 *   core.mcmc.flat(chain, burn, thin)         -> N x P (rows burn+1, burn+1+thin, ...)
 *
 * The sampler userdata is created empty with its metatable (so __gc is set) before
 * the C object is allocated; __gc, __close and :free() are one idempotent function.
 * Half-ensembles are numbered 1 and 2 in Lua, 0 and 1 in C.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pf_lua.h"
#include "phaseflow/mcmc.h"

#define SAMPLER_MT "phaseflow.mcmc.sampler"
#define GNFW_MT "phaseflow.mcmc.gnfw_model"


/* The gNFW model owns copies of its data (3 n doubles after the struct). */
typedef struct {
    pf_gnfw_model m;
    double data[];
} lgnfw;

static pf_mcmc *checksampler(lua_State *L, int arg)
{
    return (pf_mcmc *)pf_lua_checkhandle(L, arg, SAMPLER_MT, "sampler");
}

static int half_arg(lua_State *L, int arg)
{
    lua_Integer h = luaL_checkinteger(L, arg);
    luaL_argcheck(L, h == 1 || h == 2, arg, "half-ensemble 1 or 2 expected");
    return (int)h - 1;
}

/* Read n doubles from an array or a table at `arg` into out. -math.huge is kept. */
static void read_values(lua_State *L, int arg, size_t n, double *out, const char *what)
{
    pf_array *a = pf_lua_testarray(L, arg);
    if (a) {
        if (a->size != n)
            luaL_error(L, "%s: %d values expected, got an array of %d", what, (int)n,
                       (int)a->size);
        pf_array_pack(a, out);
        return;
    }
    if (lua_type(L, arg) != LUA_TTABLE)
        luaL_error(L, "%s: table or array of %d numbers expected, got %s", what, (int)n,
                   luaL_typename(L, arg));
    size_t len = (size_t)luaL_len(L, arg);
    if (len != n)
        luaL_error(L, "%s: %d values expected, got a table of %d", what, (int)n, (int)len);
    for (size_t i = 0; i < n; i++) {
        lua_geti(L, arg, (lua_Integer)i + 1);
        int isnum;
        out[i] = lua_tonumberx(L, -1, &isnum);
        if (!isnum)
            luaL_error(L, "%s: value %d is a %s, expected a number", what, (int)i + 1,
                       luaL_typename(L, -1));
        lua_pop(L, 1);
    }
}

/* ---- sampler ------------------------------------------------------------------ */

static int m_sampler(lua_State *L)
{
    lua_Integer W = luaL_checkinteger(L, 1), P = luaL_checkinteger(L, 2);
    luaL_argcheck(L, W > 0, 1, "number of walkers must be positive");
    luaL_argcheck(L, P > 0, 2, "dimension must be positive");
    static const char *const allowed[] = {"a", "seed", NULL};
    pf_lua_checkopts(L, 3, "pf.mcmc.sampler", allowed);
    lua_settop(L, 3);
    double a = pf_lua_optnumfield(L, 3, "a", 2.0);
    lua_Integer seed = pf_lua_optintfield(L, 3, "seed", 1);
    void **slot = pf_lua_newhandle(L, SAMPLER_MT);
    pf_err err;
    pf_err_clear(&err);
    *slot = pf_mcmc_alloc((size_t)W, (size_t)P, a, (uint64_t)seed, &err);
    if (!*slot)
        return pf_lua_fail(L, "pf.mcmc.sampler", err.code, &err);
    return 1;
}

static int s_free(lua_State *L)
{
    pf_mcmc_free((pf_mcmc *)pf_lua_takehandle(L, 1, SAMPLER_MT));
    return 0;
}

static int s_init(lua_State *L)
{
    pf_mcmc *s = checksampler(L, 1);
    size_t W = pf_mcmc_walkers(s), P = pf_mcmc_dim(s);
    pf_lua_checkshape(L, 2, 2, W, P);
    pf_array *p0 = pf_lua_contiguous(L, 2);
    double *lp = (double *)lua_newuserdatauv(L, W * sizeof(double), 0);
    read_values(L, 3, W, lp, "sampler:init (log-posteriors of p0)");
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mcmc_init(s, p0->data, lp, &err);
    if (st)
        return pf_lua_fail(L, "sampler:init", st, &err);
    lua_settop(L, 1);
    return 1;
}

static int s_propose(lua_State *L)
{
    pf_mcmc *s = checksampler(L, 1);
    int h = half_arg(L, 2);
    pf_array *y = pf_lua_newarray2(L, pf_mcmc_half_size(s, h), pf_mcmc_dim(s));
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mcmc_propose(s, h, y->data, &err);
    if (st)
        return pf_lua_fail(L, "sampler:propose", st, &err);
    return 1;
}

static int s_accept(lua_State *L)
{
    pf_mcmc *s = checksampler(L, 1);
    int h = half_arg(L, 2);
    size_t K = pf_mcmc_half_size(s, h);
    double *lp = (double *)lua_newuserdatauv(L, K * sizeof(double), 0);
    read_values(L, 3, K, lp, "sampler:accept (log-posteriors)");
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mcmc_accept(s, h, lp, &err);
    if (st)
        return pf_lua_fail(L, "sampler:accept", st, &err);
    lua_settop(L, 1);
    return 1;
}

/* Check chain (R x W x P) and logp (R x W), both contiguous owning arrays. */
static void check_store(lua_State *L, pf_mcmc *s, int ci, int li, pf_array **chain,
                        pf_array **logp)
{
    size_t W = pf_mcmc_walkers(s), P = pf_mcmc_dim(s);
    pf_array *c = pf_lua_checkarray(L, ci), *l = pf_lua_checkarray(L, li);
    if (c->ndim != 3 || c->shape[1] != W || c->shape[2] != P || !pf_array_is_contiguous(c))
        luaL_argerror(L, ci, lua_pushfstring(L, "contiguous chain array of shape Nx%dx%d expected",
                                             (int)W, (int)P));
    if (l->ndim != 2 || l->shape[0] != c->shape[0] || l->shape[1] != W ||
        !pf_array_is_contiguous(l))
        luaL_argerror(L, li, lua_pushfstring(L, "contiguous log-prob array of shape %dx%d expected",
                                             (int)c->shape[0], (int)W));
    *chain = c;
    *logp = l;
}

static void store_row(pf_mcmc *s, pf_array *chain, pf_array *logp, size_t row)
{
    size_t W = pf_mcmc_walkers(s), P = pf_mcmc_dim(s);
    memcpy(chain->data + row * W * P, pf_mcmc_positions(s), W * P * sizeof(double));
    memcpy(logp->data + row * W, pf_mcmc_log_probs(s), W * sizeof(double));
}

static int s_record(lua_State *L)
{
    pf_mcmc *s = checksampler(L, 1);
    pf_array *chain, *logp;
    check_store(L, s, 2, 3, &chain, &logp);
    lua_Integer row = luaL_checkinteger(L, 4);
    luaL_argcheck(L, row >= 1 && (size_t)row <= chain->shape[0], 4, "row out of range");
    store_row(s, chain, logp, (size_t)row - 1);
    return 0;
}

static lgnfw *checkgnfw(lua_State *L, int arg)
{
    return (lgnfw *)luaL_checkudata(L, arg, GNFW_MT);
}

/* s:run(model, n, chain, logp, burn, thin) -> rows recorded. Polls the interrupt
 * flag every step (Ctrl-C in the phaseflow executable). */
static int s_run(lua_State *L)
{
    pf_mcmc *s = checksampler(L, 1);
    lgnfw *g = checkgnfw(L, 2);
    luaL_argcheck(L, pf_mcmc_dim(s) == 3, 2, "the gNFW model needs a 3-parameter sampler");
    lua_Integer n = luaL_checkinteger(L, 3);
    luaL_argcheck(L, n >= 0, 3, "number of steps must be >= 0");
    pf_array *chain, *logp;
    check_store(L, s, 4, 5, &chain, &logp);
    lua_Integer burn = luaL_checkinteger(L, 6), thin = luaL_checkinteger(L, 7);
    luaL_argcheck(L, burn >= 0, 6, "burn must be >= 0");
    luaL_argcheck(L, thin >= 1, 7, "thin must be >= 1");
    volatile sig_atomic_t *intr = pf_lua_interrupt_flag(L);
    pf_err err;
    pf_err_clear(&err);
    int recorded = 0;
    for (lua_Integer k = 0; k < n; k++) {
        if (intr && *intr)
            return luaL_error(L, "sampler:run: interrupted");
        int st = pf_mcmc_step_fn(s, pf_gnfw_logpost, &g->m, &err);
        if (st)
            return pf_lua_fail(L, "sampler:run", st, &err);
        uint64_t i = pf_mcmc_iterations(s);
        if (i > (uint64_t)burn && (i - (uint64_t)burn) % (uint64_t)thin == 0) {
            size_t row = (size_t)((i - (uint64_t)burn) / (uint64_t)thin) - 1;
            if (row >= chain->shape[0])
                return luaL_error(L, "sampler:run: chain has %d rows, step %d needs row %d",
                                  (int)chain->shape[0], (int)i, (int)row + 1);
            store_row(s, chain, logp, row);
            recorded++;
        }
    }
    lua_pushinteger(L, recorded);
    return 1;
}

static int s_positions(lua_State *L)
{
    pf_mcmc *s = checksampler(L, 1);
    size_t W = pf_mcmc_walkers(s), P = pf_mcmc_dim(s);
    pf_array *a = pf_lua_newarray2(L, W, P);
    memcpy(a->data, pf_mcmc_positions(s), W * P * sizeof(double));
    return 1;
}

static int s_log_probs(lua_State *L)
{
    pf_mcmc *s = checksampler(L, 1);
    size_t W = pf_mcmc_walkers(s);
    pf_array *a = pf_lua_newarray1(L, W);
    memcpy(a->data, pf_mcmc_log_probs(s), W * sizeof(double));
    return 1;
}

static int s_accepted(lua_State *L)
{
    pf_mcmc *s = checksampler(L, 1);
    size_t W = pf_mcmc_walkers(s);
    pf_array *a = pf_lua_newarray1(L, W);
    const uint64_t *acc = pf_mcmc_accepted(s);
    for (size_t w = 0; w < W; w++)
        a->data[w] = (double)acc[w];
    return 1;
}

static int s_iterations(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)pf_mcmc_iterations(checksampler(L, 1)));
    return 1;
}

static int s_walkers(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)pf_mcmc_walkers(checksampler(L, 1)));
    return 1;
}

static int s_dim(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)pf_mcmc_dim(checksampler(L, 1)));
    return 1;
}

static int s_state(lua_State *L)
{
    pf_mcmc *s = checksampler(L, 1);
    size_t n = pf_mcmc_state_size(s);
    luaL_Buffer b;
    char *buf = luaL_buffinitsize(L, &b, n);
    pf_mcmc_get_state(s, buf);
    luaL_pushresultsize(&b, n);
    return 1;
}

static int s_set_state(lua_State *L)
{
    pf_mcmc *s = checksampler(L, 1);
    size_t n;
    const char *buf = luaL_checklstring(L, 2, &n);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mcmc_set_state(s, buf, n, &err);
    if (st)
        return pf_lua_fail(L, "sampler:set_state", st, &err);
    lua_settop(L, 1);
    return 1;
}

static int s_tostring(lua_State *L)
{
    pf_mcmc *s = (pf_mcmc *)pf_lua_tohandle(L, 1, SAMPLER_MT);
    if (!s)
        lua_pushliteral(L, "mcmc.sampler (freed)");
    else
        lua_pushfstring(L, "mcmc.sampler (%d walkers x %d, %d steps)",
                        (int)pf_mcmc_walkers(s), (int)pf_mcmc_dim(s),
                        (int)pf_mcmc_iterations(s));
    return 1;
}

/* ---- gNFW model ----------------------------------------------------------------- */

static double prior_field(lua_State *L, int idx, const char *key, double def)
{
    return pf_lua_optnumfield(L, idx, key, def);
}

static int m_gnfw_model(lua_State *L)
{
    pf_array *r = pf_lua_checkshape(L, 1, 1, PF_ANY, 0);
    size_t n = r->shape[0];
    pf_lua_checkshape(L, 2, 1, n, 0);
    pf_lua_checkshape(L, 3, 1, n, 0);
    luaL_argcheck(L, n >= 1, 1, "at least one data point expected");
    static const char *const allowed[] = {"rho0_mu", "rho0_sd", "rho0_lo", "rho0_hi", "rs_lo",
                                          "rs_hi", "beta_mu", "beta_sd", "beta_lo", "beta_hi",
                                          NULL};
    pf_lua_checkopts(L, 4, "pf.mcmc.gnfw_model", allowed);
    lua_settop(L, 4); /* the priors stay at 4, the model goes to 5 */
    lgnfw *g = (lgnfw *)lua_newuserdatauv(L, sizeof(lgnfw) + 3 * n * sizeof(double), 0);
    pf_gnfw_default_priors(&g->m);
    g->m.n = n;
    double *d = g->data;
    pf_array_pack(pf_lua_checkarray(L, 1), d);
    pf_array_pack(pf_lua_checkarray(L, 2), d + n);
    pf_array_pack(pf_lua_checkarray(L, 3), d + 2 * n);
    for (size_t i = 0; i < n; i++) {
        if (!(d[i] > 0) || !isfinite(d[i]))
            return luaL_error(L, "pf.mcmc.gnfw_model: radius %d is %f (positive kpc expected)",
                              (int)i + 1, d[i]);
        if (!isfinite(d[n + i]))
            return luaL_error(L, "pf.mcmc.gnfw_model: density %d is not finite", (int)i + 1);
        if (!(d[2 * n + i] > 0) || !isfinite(d[2 * n + i]))
            return luaL_error(L, "pf.mcmc.gnfw_model: sigma %d is %f (positive expected)",
                              (int)i + 1, d[2 * n + i]);
    }
    g->m.r = d;
    g->m.rho = d + n;
    g->m.sigma = d + 2 * n;
    pf_gnfw_model *m = &g->m;
    m->rho0_mu = prior_field(L, 4, "rho0_mu", m->rho0_mu);
    m->rho0_sd = prior_field(L, 4, "rho0_sd", m->rho0_sd);
    m->rho0_lo = prior_field(L, 4, "rho0_lo", m->rho0_lo);
    m->rho0_hi = prior_field(L, 4, "rho0_hi", m->rho0_hi);
    m->rs_lo = prior_field(L, 4, "rs_lo", m->rs_lo);
    m->rs_hi = prior_field(L, 4, "rs_hi", m->rs_hi);
    m->beta_mu = prior_field(L, 4, "beta_mu", m->beta_mu);
    m->beta_sd = prior_field(L, 4, "beta_sd", m->beta_sd);
    m->beta_lo = prior_field(L, 4, "beta_lo", m->beta_lo);
    m->beta_hi = prior_field(L, 4, "beta_hi", m->beta_hi);
    if (!(m->rho0_sd > 0 && m->beta_sd > 0 && m->rho0_lo < m->rho0_hi && m->rs_lo < m->rs_hi &&
          m->beta_lo < m->beta_hi))
        return luaL_error(L, "pf.mcmc.gnfw_model: priors need positive widths and lo < hi");
    luaL_setmetatable(L, GNFW_MT);
    return 1;
}

/* model:logpost(X): X K x 3 -> K log-posteriors (-inf outside the support). */
static int g_logpost(lua_State *L)
{
    lgnfw *g = checkgnfw(L, 1);
    pf_array *x = pf_lua_checkshape(L, 2, 2, PF_ANY, 3);
    x = pf_lua_contiguous(L, 2);
    pf_array *out = pf_lua_newarray1(L, x->shape[0]);
    for (size_t k = 0; k < x->shape[0]; k++)
        out->data[k] = pf_gnfw_logpost(x->data + 3 * k, 3, &g->m);
    return 1;
}

static int g_n(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)checkgnfw(L, 1)->m.n);
    return 1;
}

static int m_gnfw_density(lua_State *L)
{
    double rho0 = luaL_checknumber(L, 2), rs = luaL_checknumber(L, 3);
    double beta = luaL_checknumber(L, 4);
    luaL_argcheck(L, rs > 0, 3, "scale radius must be positive");
    if (lua_isnumber(L, 1)) {
        lua_pushnumber(L, pf_gnfw_density(lua_tonumber(L, 1), rho0, rs, beta));
        return 1;
    }
    pf_array *r = pf_lua_checkarray(L, 1);
    pf_array *out = pf_lua_newarray(L, r->ndim, r->shape);
    pf_array_pack(r, out->data);
    for (size_t i = 0; i < out->size; i++)
        out->data[i] = pf_gnfw_density(out->data[i], rho0, rs, beta);
    return 1;
}

/* ---- chain analysis --------------------------------------------------------------- */

static pf_array *check_chain(lua_State *L, int arg)
{
    pf_array *c = pf_lua_checkarray(L, arg);
    if (c->ndim != 3)
        luaL_argerror(L, arg, "chain of shape steps x walkers x P expected");
    return pf_lua_contiguous(L, arg);
}

static int m_autocorr_time(lua_State *L)
{
    pf_array *c = check_chain(L, 1);
    double cw = luaL_optnumber(L, 2, 5.0);
    luaL_argcheck(L, cw > 0, 2, "window constant c must be positive");
    pf_array *tau = pf_lua_newarray1(L, c->shape[2]);
    int reliable = 0;
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mcmc_autocorr_time(c->data, c->shape[0], c->shape[1], c->shape[2], cw,
                                   tau->data, &reliable, &err);
    if (st)
        return pf_lua_fail(L, "pf.mcmc.autocorr_time", st, &err);
    lua_pushboolean(L, reliable);
    return 2;
}

static int m_acf(lua_State *L)
{
    pf_array *x = pf_lua_checkshape(L, 1, 1, PF_ANY, 0);
    size_t n = x->shape[0];
    luaL_argcheck(L, n >= 2, 1, "at least 2 samples expected");
    pf_array *out = pf_lua_newarray1(L, n);
    double *work = (double *)lua_newuserdatauv(L, pf_mcmc_acf_work_size(n) * sizeof(double), 0);
    pf_err err;
    pf_err_clear(&err);
    int st = pf_mcmc_acf(x->data, n, x->stride[0], out->data, work, &err);
    if (st)
        return pf_lua_fail(L, "mcmc.acf", st, &err);
    lua_pop(L, 1);
    return 1;
}

static int m_flat(lua_State *L)
{
    pf_array *c = check_chain(L, 1);
    lua_Integer burn = luaL_optinteger(L, 2, 0), thin = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, burn >= 0, 2, "burn must be >= 0");
    luaL_argcheck(L, thin >= 1, 3, "thin must be >= 1");
    size_t S = c->shape[0], W = c->shape[1], P = c->shape[2];
    if ((size_t)burn >= S)
        return luaL_error(L, "mcmc.flat: burn = %d leaves nothing of a %d-step chain",
                          (int)burn, (int)S);
    size_t rows = (S - (size_t)burn + (size_t)thin - 1) / (size_t)thin;
    pf_array *out = pf_lua_newarray2(L, rows * W, P);
    for (size_t r = 0; r < rows; r++) {
        size_t step = (size_t)burn + r * (size_t)thin;
        memcpy(out->data + r * W * P, c->data + step * W * P, W * P * sizeof(double));
    }
    return 1;
}

int pf_open_mcmc(lua_State *L)
{
    static const luaL_Reg sm[] = {
        {"init", s_init}, {"propose", s_propose}, {"accept", s_accept}, {"run", s_run},
        {"record", s_record}, {"positions", s_positions}, {"log_probs", s_log_probs},
        {"accepted", s_accepted}, {"iterations", s_iterations}, {"walkers", s_walkers},
        {"dim", s_dim}, {"state", s_state}, {"set_state", s_set_state}, {"free", s_free},
        {NULL, NULL}};
    static const luaL_Reg smeta[] = {
        {"__gc", s_free}, {"__close", s_free}, {"__tostring", s_tostring}, {NULL, NULL}};
    static const luaL_Reg gm[] = {{"logpost", g_logpost}, {"n", g_n}, {NULL, NULL}};
    static const luaL_Reg f[] = {
        {"sampler", m_sampler}, {"gnfw_model", m_gnfw_model}, {"gnfw_density", m_gnfw_density},
        {"autocorr_time", m_autocorr_time}, {"acf", m_acf}, {"flat", m_flat}, {NULL, NULL}};
    pf_lua_newclass(L, SAMPLER_MT, sm, smeta);
    pf_lua_newclass(L, GNFW_MT, gm, NULL);
    return pf_lua_newmodule(L, f, NULL);
}

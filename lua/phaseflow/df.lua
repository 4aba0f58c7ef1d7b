-- pf.df: phase-space densities f(x, v) = n(x) p(v|x) built from flows, in the form
-- pf.cbe.acceleration consumes (see lua/phaseflow/cbe.lua).
--
--   local f = pf.df.flows(n_x, p_v)   -- each a flow or an ensemble (pf.flow)
--   f:log_f(x, v)      -> N        ln n(x) + ln p(v|x)
--   f:grad_log_f(x, v [, block]) -> gx, gv, log f   N x 3, N x 3, N: gx = grad_x ln n +
--                                  grad_context ln p, gv = grad_v ln p
--   f:sample_v(x0, n, {qmc = true, seed = s}) -> n x 3 velocities from p(v|x0)
--   f:n_x(x)           -> N        the number density n(x) (normalised: integrates to 1)
local core = require "phaseflow.core"
local array = core.array
local flow = require "phaseflow.flow"

local df = {}

local Flows = {}
Flows.__index = Flows

local function dims(m)
  if flow.is_ensemble(m) then return m.dim, m.context end
  if core.flow.is_maf(m) then
    local c = m:config()
    return c.dim, c.context
  end
  return nil
end

--- The density f(x, v) = n(x) p(v|x) of the flows (or ensembles) n_x (unconditional)
--- and p_v (its context is the position: context = n_x's dimension).
function df.flows(n_x, p_v)
  local dn, cn = dims(n_x)
  if dn == nil then error("pf.df.flows: n_x must be a flow or an ensemble", 2) end
  local dp, cp = dims(p_v)
  if dp == nil then error("pf.df.flows: p_v must be a flow or an ensemble", 2) end
  if cn ~= 0 then error("pf.df.flows: n_x must be unconditional (context = 0)", 2) end
  if cp ~= dn then
    error(("pf.df.flows: p_v's context (%d) must be n_x's dimension (%d)"):format(cp, dn), 2)
  end
  return setmetatable({nx = n_x, pv = p_v, dim_x = dn, dim_v = dp}, Flows)
end

local function check_xv(self, x, v, name)
  if not (array.is_array(x) and x:ndim() == 2 and select(2, x:shape()) == self.dim_x) then
    error(("%s: x must be an N x %d array"):format(name, self.dim_x), 3)
  end
  if not (array.is_array(v) and v:ndim() == 2 and select(2, v:shape()) == self.dim_v
          and v:shape() == x:shape()) then
    error(("%s: v must be an N x %d array with as many rows as x"):format(name, self.dim_v), 3)
  end
end

--- log_f(x, v) -> N: ln n(x) + ln p(v|x) for N x 3 positions and velocities.
function Flows:log_f(x, v)
  check_xv(self, x, v, "f:log_f")
  return self.nx:log_prob(x):add(self.pv:log_prob(v, x))
end

-- grad_log_f(x, v [, block]) -> gx, gv, log f. With `block` = B, x is constant over each
-- run of B rows (the solver's layout: one position, many velocities), so n(x) and its
-- gradient are evaluated once per run instead of once per row.
function Flows:grad_log_f(x, v, block)
  check_xv(self, x, v, "f:grad_log_f")
  local gn, ln
  local N = (x:shape())
  if block and block > 1 and N % block == 0 then
    local rows = {}
    for i = 1, N, block do rows[#rows + 1] = i end
    local xu = x:take(rows)
    local gu, _, lu = self.nx:grad_log_prob(xu)
    local expand = {}
    for r = 1, #rows do
      for _ = 1, block do expand[#expand + 1] = r end
    end
    gn, ln = gu:take(expand), lu:reshape(#rows, 1):take(expand):reshape(N)
  else
    local _
    gn, _, ln = self.nx:grad_log_prob(x)
  end
  local gv, gc, lp = self.pv:grad_log_prob(v, x)
  return gn:add(gc), gv, ln:add(lp)
end

--- n_x(x) -> N: the number density of positions n(x) (normalised: integrates to 1).
function Flows:n_x(x)
  return self.nx:log_prob(x):exp()
end

-- x0: a table of dim_x numbers, a 1-D array of dim_x, or a 1 x dim_x array.
function Flows:sample_v(x0, n, opts)
  local c0
  if array.is_array(x0) then
    if x0:size() ~= self.dim_x then
      error(("f:sample_v: x0 must hold %d numbers"):format(self.dim_x), 2)
    end
    c0 = x0:copy():reshape(self.dim_x):totable()
  elseif type(x0) == "table" and #x0 == self.dim_x then
    c0 = x0
  else
    error(("f:sample_v: x0 must hold %d numbers"):format(self.dim_x), 2)
  end
  local o = {log_prob = false}
  for k, val in pairs(opts or {}) do o[k] = val end
  return (self.pv:sample(n, c0, o))
end

return df

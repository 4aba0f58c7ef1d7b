-- Helpers shared by specs: running the phaseflow executable, test data, gradient checks.
local support = {}

support.exe = os.getenv("PHASEFLOW_EXE") or "../build/phaseflow"

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
support.quote = quote

--- Run a shell command; return its combined output and exit code.
function support.run(cmd)
  local p = io.popen("{ " .. cmd .. "; } 2>&1; echo \"__rc=$?\"")
  local out = p:read("a")
  p:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return out:gsub("__rc=%d+%s*$", ""), rc
end

--- Run the phaseflow executable with the given argument strings (quoted here).
function support.phaseflow(args, env)
  local q = {}
  for i, a in ipairs(args) do q[i] = quote(a) end
  return support.run((env or "") .. " " .. quote(support.exe) .. " " .. table.concat(q, " "))
end

--- Write `text` to a new temporary file; return its name.
function support.tempfile(text, suffix)
  local name = os.tmpname()
  os.remove(name)
  name = name .. (suffix or "")
  local f = assert(io.open(name, "w"))
  f:write(text)
  f:close()
  return name
end

--- An n x d array of normal draws (seeded), scaled by `scale` (default 1).
function support.filled(n, d, seed, scale)
  local pf = require "phaseflow"
  local a = pf.array.zeros(n, d)
  pf.rng.new(seed):fill_normal(a, 0, scale or 1)
  return a
end

--- Relative difference of two numbers, with a floor of 1e-3 on the scale.
function support.relerr(a, b)
  return math.abs(a - b) / math.max(1e-3, math.abs(a), math.abs(b))
end

-- Element k (row-major) of a pf.array or a list of numbers, read and written in place.
local function elements(x)
  if type(x) == "table" then
    return #x, function(k) return x[k] end, function(k, v) x[k] = v end
  end
  local flat = x:reshape(x:size())  -- a view: writes land in x
  return x:size(), function(k) return flat:get(k) end, function(k, v) flat:set(k, v) end
end

-- (up - dn) / 2h for a number, a pf.array or a list of numbers.
local function central(up, dn, h)
  if type(up) == "number" then return (up - dn) / (2 * h) end
  if type(up) == "table" then
    local d = {}
    for i = 1, #up do d[i] = (up[i] - dn[i]) / (2 * h) end
    return d
  end
  return (up - dn) / (2 * h)
end

--- Central differences of f at x (a pf.array or a list of numbers): element k of the
--- result is (f(x + h e_k) - f(x - h e_k)) / 2h, x being shifted in place and restored
--- after each pair of calls (f gets x; it may as well read it from its closure). The
--- step h is a number or a function of k. f returns a number, or a pf.array or list of
--- numbers (then element k is the same kind of value: column k of the Jacobian).
--- Elements where keep(k) is false are not shifted and have no entry.
function support.fd_gradient(f, x, h, keep)
  local n, get, set = elements(x)
  local fd = {}
  for k = 1, n do
    if not keep or keep(k) then
      local v, hk = get(k), type(h) == "function" and h(k) or h
      set(k, v + hk); local up = f(x)
      set(k, v - hk); local dn = f(x)
      set(k, v)
      fd[k] = central(up, dn, hk)
    end
  end
  return fd
end

--- Compare the analytic gradient g (a pf.array or list, laid out as x) with
--- fd_gradient(f, x, h, opts.keep). f returns a number, or a pf.array of one value per
--- row of the 2-D array x (a batch of independent points; element (i, j) is then
--- compared with the derivative of value i). The error of an element is
--- opts.err(fd, g, k), default support.relerr; a NaN counts as infinite. Returns the
--- largest error, then the element k where it is, its finite difference and g there.
function support.check_gradient(f, x, g, h, opts)
  opts = opts or {}
  local err = opts.err or support.relerr
  local _, gget = elements(g)
  local fd = support.fd_gradient(f, x, h, opts.keep)
  local width = type(x) ~= "table" and x:ndim() == 2 and select(2, x:shape()) or 1
  local worst, at, fd_at, g_at = 0, nil, nil, nil
  for k = 1, (elements(x)) do
    local d = fd[k]
    if d ~= nil then
      if type(d) ~= "number" then d = d:get((k - 1) // width + 1) end
      local e = err(d, gget(k), k)
      if e ~= e then e = math.huge end
      if e > worst or not at then worst, at, fd_at, g_at = e, k, d, gget(k) end
    end
  end
  return worst, at, fd_at, g_at
end

return support

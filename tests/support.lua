-- Helpers shared by specs: running the phaseflow executable.
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

return support

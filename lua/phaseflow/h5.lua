-- pf.h5: HDF5 files (the C functions of phaseflow.core.h5) plus provenance.
local core = require "phaseflow.core"
local serialize = require "phaseflow.serialize"

local h5 = {}
for k, v in pairs(core.h5) do h5[k] = v end

local function script_args()
  local args = {}
  if type(arg) == "table" then
    for i = 1, #arg do args[#args + 1] = tostring(arg[i]) end
  end
  return table.concat(args, " ")
end

--- Stamp `group` of `file` (created if needed) with how it was made: phaseflow
--- version and git commit, BLAS, threads, the running script and its arguments,
--- the time, and the caller's `info` table (options, seeds, ...), whose fields are
--- stored as attributes: numbers and strings as they are, tables as canonical text.
function h5.provenance(file, group, info)
  local cfg = core.config.config()
  local attrs = {
    phaseflow_version = cfg.version,
    git_commit = cfg.git,
    blas = cfg.blas_core,
    threads = cfg.threads,
    lua = _VERSION,
    script = type(arg) == "table" and tostring(arg[0] or "") or "",
    arguments = script_args(),
    created_utc = os.date("!%Y-%m-%dT%H:%M:%SZ"),
  }
  for k, v in pairs(info or {}) do
    if type(k) ~= "string" then error("pf.h5.provenance: info keys must be strings", 2) end
    if type(v) == "table" then
      attrs[k] = serialize.dump(v)
    elseif type(v) == "number" or type(v) == "string" or type(v) == "boolean" then
      attrs[k] = v
    else
      attrs[k] = serialize.dump(v)
    end
  end
  if not h5.exists(file, group) then h5.mkgroup(file, group) end
  h5.set_attrs(file, group, attrs)
  return attrs
end

return h5

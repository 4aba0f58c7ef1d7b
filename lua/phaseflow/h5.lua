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

--- A digest of every dataset's path and values in `file` (numbers bit for bit, strings as
--- they are), not of its layout or attributes (provenance holds times): two files with
--- the same digest hold the same results. digest(file, true) also returns the per-dataset
--- digests (path -> hash), to name the datasets that differ.
function h5.digest(file, each)
  local parts, per = {}, {}
  local function walk(g)
    for _, e in ipairs(h5.list(file, g)) do
      local p = (g == "/" and "" or g) .. "/" .. e.name
      if e.kind == "group" then walk(p)
      elseif e.kind == "dataset" then
        local ok, a = pcall(h5.read, file, p)
        local t = {}
        if ok then
          for k, v in ipairs(a:reshape(a:size()):totable()) do t[k] = ("%a"):format(v) end
        else
          local sok, s = pcall(h5.read_strings, file, p)
          t = sok and s or {"(unreadable)"}
        end
        per[p] = serialize.hash(table.concat(t, "\0"))
        parts[#parts + 1] = p .. "=" .. per[p]
      end
    end
  end
  walk("/")
  table.sort(parts)
  local d = serialize.hash(table.concat(parts, ";"))
  if each then return d, per end
  return d
end

return h5

-- pf.fs: the C core's file-system chores (mkdirs, commit, lock, digest, run; see
-- include/phaseflow/fs.h) and the two ways the workbench writes a file whole:
--
--   pf.fs.write(path, text)                  text written to PATH.part, then renamed
--   pf.fs.replace(path, function(part) ... end)   any writer fills `part`, then renamed
local core = require "phaseflow.core"

local fs = {}
for k, v in pairs(core.fs) do fs[k] = v end

-- replace(path, fill): fill(part) writes the new content at `part` (PATH.part, removed
-- first); then it becomes PATH in one rename. Returns what fill returns.
function fs.replace(path, fill)
  local part = path .. ".part"
  os.remove(part)
  local r = table.pack(fill(part))
  fs.commit(part, path)
  return table.unpack(r, 1, r.n)
end

-- exists(path): whether a file can be opened for reading.
function fs.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- write(path, text): a text file written whole or not at all.
function fs.write(path, text)
  fs.replace(path, function(part)
    local f, err = io.open(part, "wb")
    if not f then error(("pf.fs.write: %s"):format(err), 3) end
    local ok, werr = f:write(text)
    f:close()
    if not ok then error(("pf.fs.write: %s: %s"):format(part, werr), 3) end
  end)
end

return fs

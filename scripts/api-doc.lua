-- scripts/api-doc.lua: write docs/api.md from the doc comments (pf.doc.markdown), or with
-- --check, only say whether it is up to date (exit status 1 if not).
--   phaseflow scripts/api-doc.lua [--out docs/api.md] [--check]     (make api-doc)
local pf = require "phaseflow"
local cli = require "phaseflow.cli"

local SPEC = {script = "api-doc.lua", positionals = false, defaults = {out = "docs/api.md"},
  usage = "usage: phaseflow scripts/api-doc.lua [--out FILE] [--check]\n"
    .. "  writes the API reference generated from the doc comments (default docs/api.md);\n"
    .. "  --check: write nothing, exit 1 if FILE differs from what would be written",
  options = {out = "value", check = "flag"}}
local opts = cli.parse(arg, SPEC)

local text = pf.doc.markdown()
if opts.check then
  local f = io.open(opts.out, "r")
  local old = f and f:read("a")
  if f then f:close() end
  if old ~= text then
    io.stderr:write(opts.out, " is stale: run make api-doc\n")
    os.exit(1)
  end
  print(opts.out .. " is up to date")
else
  pf.fs.write(opts.out, text)
  local missing = pf.doc.undocumented()
  print(("%s written; %d public functions without a doc comment"):format(opts.out, #missing))
end

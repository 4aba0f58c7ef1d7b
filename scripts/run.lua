-- The main job (make run): the paper's analysis on the embedded mock galaxy, through
-- scripts/paper.lua with the quick preset. Arguments are passed on.
local here = arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "scripts"
local paper = here .. "/paper.lua"
local f = io.open(paper, "r")
if not f then
  io.stderr:write("phaseflow: the end-to-end pipeline (scripts/paper.lua) is not there yet;\n",
    "the runtime is: try `build/phaseflow` for the REPL, or the scripts in scripts/.\n")
  os.exit(0)
end
f:close()
local args = {"--preset", "quick", "--out", "out/quick"}
for i = 1, #arg do args[#args + 1] = arg[i] end
arg = {[0] = paper, table.unpack(args)} -- luacheck: ignore 121
dofile(paper)

-- luacheck configuration for phaseflow's Lua code.
std = "lua54"
max_line_length = 110
codes = true
files["tests"] = { std = "+busted" }
exclude_files = { "build", "build-asan" }

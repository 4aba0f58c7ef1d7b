-- luacheck configuration for phaseflow's Lua code.
std = "lua54"
max_line_length = 120
codes = true
files["tests"] = { std = "+busted" }
exclude_files = { "build", "build-asan" }

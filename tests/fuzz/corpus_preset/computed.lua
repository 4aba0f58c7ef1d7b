-- presets are Lua: values may be computed
local stars = 2 * 10^6
return {base = "science", mock = {stars = math.floor(stars)}, members = 2, systematics = {}}

-- phaseflow.cli: the command line of the scripts in scripts/ -- options, their values and
-- the usage error (the reason and the usage on stderr, exit status 2, no traceback).
--
--   local cli = require "phaseflow.cli"
--   local SPEC = {script = "score.lua", usage = USAGE,
--                 options = {out = "value", quiet = "flag", set = "pairs",
--                            ["kernel-points"] = {"integer", min = 4}},
--                 defaults = {kernel_points = 3200}}
--   local opts, positionals = cli.parse(arg, SPEC)    -- opts.kernel_points, opts.out, ...
--   if #positionals ~= 2 then cli.fail(SPEC, "RESULTS.h5 and TRUTH expected") end
--
-- A spec:
--   script       the name the messages start with ("score.lua: ...")
--   usage        printed after a mistake, and alone (stdout, exit status 0) by --help or -h
--   options      name -> kind. The kinds:
--                  "value"    --name VALUE, a string
--                  "flag"     --name, true
--                  "pairs"    --name KEY=VALUE, repeatable: the list of the "KEY=VALUE" strings
--                  "integer", "number", "boolean"   --name VALUE, checked and converted by
--                             cli.integer, cli.number or cli.boolean; written as a table,
--                             {"integer", min = 4, message = ...}, the rest is their `range`
--                A dash in a name is an underscore in opts (--kernel-points: opts.kernel_points).
--   defaults     the initial opts (copied; not checked)
--   positionals  false: an argument that is not an option is a mistake (default: collected)
--   keyvalues    true: options are written KEY=VALUE (also -KEY=VALUE, --KEY=VALUE and
--                --KEY VALUE), every option takes a value (a "flag" is KEY=true or KEY=false),
--                and an unknown KEY is reported with the known ones
--
-- The value after --name is taken as it is, even if it starts with a dash.
local cli = {}

-- The usage error: "<script>: msg", the usage (if the spec has one), exit status 2.
-- `spec` is a spec or just the script's name.
function cli.fail(spec, msg)
  local script, usage = spec, nil
  if type(spec) == "table" then script, usage = spec.script, spec.usage end
  io.stderr:write(script, ": ", msg, "\n", usage and usage .. "\n" or "")
  os.exit(2)
end

-- The failure of a checked value: range.message (a format given the option's name and the
-- text) or "<name> must be <what>, got '<text>'".
local function bad_value(spec, name, text, range, what)
  cli.fail(spec, (range.message or "%s must be " .. what .. ", got '%s'"):format(name, tostring(text)))
end

-- `text` as an integer (also "1e3"), at least range.min if given; else the usage error.
function cli.integer(spec, name, text, range)
  range = range or {}
  local x = math.tointeger(tonumber(text))
  if not x or (range.min and x < range.min) then
    local what = not range.min and "an integer" or range.min == 1 and "a positive integer"
      or ("an integer >= %d"):format(range.min)
    bad_value(spec, name, text, range, what)
  end
  return x
end

-- `text` as a number, at least range.min and above range.above if given; else the usage error.
function cli.number(spec, name, text, range)
  range = range or {}
  local x = tonumber(text)
  if not x or (range.min and x < range.min) or (range.above and x <= range.above) then
    local what = range.above == 0 and "a positive number" or range.above and ("a number > %g"):format(range.above)
      or range.min and ("a number >= %g"):format(range.min) or "a number"
    bad_value(spec, name, text, range, what)
  end
  return x
end

-- "true" or "false" as a boolean; else the usage error.
function cli.boolean(spec, name, text, range)
  if text == "true" then return true elseif text == "false" then return false end
  cli.fail(spec, ((range or {}).message or "%s must be true or false"):format(name, tostring(text)))
end

local function kind_of(kind) return type(kind) == "table" and kind[1] or kind end
local function key(name) return (name:gsub("-", "_")) end

-- The arguments (`arg`) by the spec: opts (defaults, then the options given) and the list of
-- the other arguments. --help and -h print the usage and exit with status 0.
function cli.parse(args, spec)
  local options, kv = spec.options or {}, spec.keyvalues
  local opts, positionals = {}, {}
  for k, v in pairs(spec.defaults or {}) do opts[k] = v end
  for name, kind in pairs(options) do
    if kind_of(kind) == "pairs" and opts[key(name)] == nil then opts[key(name)] = {} end
  end

  -- option `name` (shown in messages as `shown`) has the value `text`
  local function set(name, shown, text)
    local kind = options[name]
    local k = kind_of(kind)
    local range = type(kind) == "table" and kind or nil
    if k == "pairs" then
      if text == nil or not text:find("=", 1, true) then cli.fail(spec, shown .. " needs KEY=VALUE") end
      local list = opts[key(name)]
      list[#list + 1] = text
      return
    end
    if text == nil then cli.fail(spec, shown .. " needs a value") end
    if k == "flag" then k = "boolean" end  -- only with keyvalues: KEY=true|false
    if k == "integer" or k == "number" or k == "boolean" then
      text = cli[k](spec, shown, text, range)
    elseif k ~= "value" then
      error(("cli.parse: option '%s' has no kind '%s'"):format(name, tostring(k)), 3)
    end
    opts[key(name)] = text
  end

  local function positional(a)
    if spec.positionals ~= false then
      positionals[#positionals + 1] = a
    elseif kv then
      cli.fail(spec, "arguments are key=value, got '" .. a .. "'")
    elseif a:sub(1, 1) == "-" then
      cli.fail(spec, "unknown option " .. a)
    else
      cli.fail(spec, "unexpected argument '" .. a .. "'")
    end
  end

  args = args or {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--help" or a == "-h" then
      print(spec.usage)
      os.exit(0)
    elseif kv then
      local name, value = a:match("^%-?%-?([%w_]+)=(.*)$")
      if not name and a:sub(1, 2) == "--" then
        name, value = a:sub(3), args[i + 1]
        if value == nil then cli.fail(spec, "arguments are key=value, got '" .. a .. "'") end
        i = i + 1
      end
      if not name then
        positional(a)
      elseif options[name] == nil then
        local known = {}
        for n in pairs(options) do known[#known + 1] = n end
        table.sort(known)
        cli.fail(spec, ("unknown option '%s' (known: %s)"):format(name, table.concat(known, ", ")))
      else
        set(name, name, value)
      end
    elseif a:sub(1, 2) == "--" and options[a:sub(3)] ~= nil then
      local name = a:sub(3)
      if kind_of(options[name]) == "flag" then
        opts[key(name)] = true
      else
        set(name, a, args[i + 1])
        i = i + 1
      end
    elseif a:sub(1, 2) == "--" then
      cli.fail(spec, "unknown option " .. a)
    else
      positional(a)
    end
    i = i + 1
  end
  return opts, positionals
end

--- preset(spec, name, sets) -> the preset a command line names (a preset's name or a preset
--- file: pf.presets.resolve) with each "KEY=VALUE" of sets (a "pairs" option, --set)
--- applied in order; a bad name, file or setting is the usage error, naming it.
--- before(preset), when given, runs between the two (e.g. --galaxy, which --set may override).
function cli.preset(spec, name, sets, before)
  local presets = require "phaseflow.presets"
  local okp, preset = pcall(presets.resolve, name)
  if not okp then cli.fail(spec, (tostring(preset):gsub("^pf%.presets: ", ""))) end
  if before then before(preset) end
  for _, kv in ipairs(sets or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    local ok, err = pcall(presets.set, preset, k, v)
    if not ok then cli.fail(spec, "--set " .. kv .. ": " .. tostring(err):gsub("^pf%.presets%.set: ", "")) end
  end
  return preset
end

return cli

-- The catalogue step: Gaia archive files through the real-data path (pf.gaia.select_files
-- with the paper's cut flow, lua/phaseflow/select.lua). Without inputs the files are the
-- embedded mock (pf.mock.make_files with the preset's `mock` options), made once into a
-- cache folder keyed by those options (default DIR/mock/KEY, or opts.mock_cache/KEY). The
-- cut flow runs in two parts: up to the speed cut (the 10 kpc sample, kept with its
-- observables and errors for the error-smeared resamples), then the completeness and
-- d < 4 kpc cuts.
local h5 = require "phaseflow.h5"
local serialize = require "phaseflow.serialize"
local gaia = require "phaseflow.gaia"
local select = require "phaseflow.select"
local observe = require "phaseflow.observe"
local fs = require "phaseflow.fs"
local common = require "phaseflow.steps.common"

local rd = common.rd

local function split_steps()
  local all = select.paper_steps()
  local first, second = {}, {}
  for _, st in ipairs(all) do
    if st.name == "completeness" or st.name == "d4" then second[#second + 1] = st else first[#first + 1] = st end
  end
  return first, second, all
end

return {
  name = "catalogue",
  inputs = {},
  -- The key holds the input files' content (their digests, in order), not their names or
  -- times: moved or renamed files keep the run's steps, changed data redoes them. The mock
  -- is made from its options, which the key holds instead.
  options = function(self)
    if #self.inputs == 0 then return {inputs = {}, mock = self.o.mock} end
    if not self._input_digests then
      local d = {}
      for i, f in ipairs(gaia.expand(self.inputs)) do
        -- a file that cannot be read is left to the reader, whose error names it
        d[i] = common.file_exists(f) and fs.digest(f) or ("unreadable " .. f)
      end
      self._input_digests = d
    end
    return {inputs = self._input_digests}
  end,
  --- Run the step (see the opening comment); w.put(path, value) fills its file.
  run = function(self, w)
    local files, source
    if #self.inputs > 0 then
      files = gaia.expand(self.inputs)
      source = ("Gaia archive files (%d): %s"):format(#files, table.concat(self.inputs, ", "))
    else
      local dir = self:mock_files()
      files = gaia.expand(dir .. "/gaia")
      w.mockdir = dir
      local mo = self.o.mock
      source = ("the embedded mock (pf.mock galaxy '%s' %s: tracer populations in equilibrium, %d stars "
        .. "within %g kpc of the Sun, seed %d, observed Gaia-like by pf.observe) in %s"):format(
        self.truth.name, serialize.dump(self.truth.galaxy.knobs), mo.stars, mo.radius, mo.seed or self.o.seed, dir)
    end
    local s1, s2 = split_steps()
    local s10, f1 = gaia.select_files(files, {steps = s1, cov = false, print = false})
    local s4, f2 = select.run(s10, {steps = s2, cov = false})
    local flow = {}
    for _, f in ipairs(f1) do flow[#flow + 1] = f end
    for _, f in ipairs(f2) do flow[#flow + 1] = f end
    if not self.quiet then io.stderr:write(select.format(flow)) end
    local counts, labels = {}, {}
    for i, f in ipairs(flow) do counts[i] = {f.before, f.after}; labels[i] = f.label end
    w.put("/cutflow/counts", counts)
    h5.set_attrs(w.file, "/cutflow/counts", {labels = table.concat(labels, "|")})
    if s4.n == 0 then error("pf.pipeline: no star passes the paper's cuts within 4 kpc", 0) end
    w.put("/stars/x", s4.x, {unit = "kpc"})
    w.put("/stars/v", s4.v, {unit = "km/s"})
    w.put("/sample10/x", s10.x, {unit = "kpc"})
    for _, c in ipairs(common.SAMPLE10_COLUMNS) do
      if s10[c] then w.put("/sample10/" .. c, s10[c]) end
    end
    local info = {source = source, files = #files, is_mock = #self.inputs == 0 and 1 or 0}
    if #self.inputs == 0 then
      info.mockdir = w.mockdir
      -- red-clump fraction of the final sample (source_id = 1e18 + truth index)
      local kind = rd(w.mockdir .. "/mock.h5", "/truth/kind")
      local rc = 0
      for _, id in ipairs(s4.source_id) do
        if kind:get(id - observe.SOURCE_ID_BASE + 1) == 0 then rc = rc + 1 end
      end
      info.red_clump = rc / #s4.source_id
      w.put("/stars/red_clump_fraction", {info.red_clump})
    end
    w.put("/info/is_mock", {info.is_mock})
    return info
  end,
}

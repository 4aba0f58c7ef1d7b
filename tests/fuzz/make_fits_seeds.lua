-- Writes the seed inputs of the FITS fuzzer (tests/fuzz/corpus_fits): small Gaia-like
-- tables as the archive writes them -- binary tables with int64 ids, doubles, floats with
-- NaN, TUNITn units and TNULLn nulls, an ASCII table, and a file without a table.
--   build/phaseflow tests/fuzz/make_fits_seeds.lua [dir]
local dir = arg[1] or "tests/fuzz/corpus_fits"

local function card(k, v)
  local c = v == nil and k or ("%-8s= %20s"):format(k, v)
  return (c .. (" "):rep(80)):sub(1, 80)
end
local function str(v) return ("'%-8s'"):format(v) end
local function block(t, fill) return t .. (fill or " "):rep((2880 - #t % 2880) % 2880) end
local END = card("END")
local PRIMARY = block(card("SIMPLE", "T") .. card("BITPIX", "8") .. card("NAXIS", "0")
  .. card("EXTEND", "T") .. END)

-- cols: {name, tform, unit or nil, values, pack format, tnull or nil}
local function bintable(cols, n)
  local width = 0
  local sizes = {D = 8, E = 4, K = 8, J = 4, I = 2}
  for _, c in ipairs(cols) do width = width + sizes[c[2]] end
  local h = card("XTENSION", str("BINTABLE")) .. card("BITPIX", "8") .. card("NAXIS", "2")
    .. card("NAXIS1", tostring(width)) .. card("NAXIS2", tostring(n)) .. card("PCOUNT", "0")
    .. card("GCOUNT", "1") .. card("TFIELDS", tostring(#cols))
  for k, c in ipairs(cols) do
    h = h .. card("TTYPE" .. k, str(c[1])) .. card("TFORM" .. k, str(c[2]))
    if c[3] then h = h .. card("TUNIT" .. k, str(c[3])) end
    if c[6] then h = h .. card("TNULL" .. k, tostring(c[6])) end
  end
  local rows = {}
  for i = 1, n do
    for _, c in ipairs(cols) do rows[#rows + 1] = string.pack(c[5], c[4][i]) end
  end
  return block(h .. END) .. block(table.concat(rows), "\0")
end

local function asciitable(names, widths, forms, units, lines)
  local h = card("XTENSION", str("TABLE")) .. card("BITPIX", "8") .. card("NAXIS", "2")
  local width, col = 0, {}
  for k, w in ipairs(widths) do col[k] = width + 1; width = width + w end
  h = h .. card("NAXIS1", tostring(width)) .. card("NAXIS2", tostring(#lines))
    .. card("PCOUNT", "0") .. card("GCOUNT", "1") .. card("TFIELDS", tostring(#names))
  for k, name in ipairs(names) do
    h = h .. card("TTYPE" .. k, str(name)) .. card("TBCOL" .. k, tostring(col[k]))
      .. card("TFORM" .. k, str(forms[k]))
    if units[k] then h = h .. card("TUNIT" .. k, str(units[k])) end
  end
  local rows = {}
  for _, l in ipairs(lines) do
    local r = {}
    for k, v in ipairs(l) do r[k] = ("%" .. widths[k] .. "s"):format(v) end
    rows[#rows + 1] = table.concat(r)
  end
  return block(h .. END) .. block(table.concat(rows), " ")
end

local nan = 0 / 0
local seeds = {
  ["dr3_like.fits"] = PRIMARY .. bintable({
    {"source_id", "K", nil, {4295806720, 6917528997577384320, 34361129088}, ">i8"},
    {"ra", "D", "deg", {45.1, 90.25, 180.5}, ">d"},
    {"parallax", "D", "mas", {1.5, nan, -0.25}, ">d"},
    {"radial_velocity", "E", "km.s**-1", {12.5, nan, -30}, ">f"},
    {"phot_bp_mean_mag", "E", "mag", {14.5, 15, nan}, ">f"},
    {"phot_rp_mean_mag", "E", "mag", {13.75, 14.25, 12}, ">f"},
  }, 3),
  ["units_nulls.fits"] = PRIMARY .. bintable({
    {"SOURCE_ID", "J", nil, {17, -99, 19}, ">i4", -99},
    {"RA", "D", "rad", {0.5, 1, 1.5}, ">d"},
    {"PARALLAX", "D", "arcsec", {0.0015, 0.00025, 0.001}, ">d"},
    {"RADIAL_VELOCITY", "D", "m/s", {1500, -2000, 0}, ">d"},
    {"bp_rp", "I", nil, {1, 2, 3}, ">i2"},
  }, 3),
  ["ascii_table.fits"] = PRIMARY .. asciitable(
    {"source_id", "ra", "parallax", "radial_velocity"}, {12, 10, 10, 10},
    {"I12", "F10.4", "E10.3", "F10.2"}, {nil, "deg", "mas", "km/s"},
    {{"123456789", "45.5000", "1.250E+00", "-12.50"}, {"987654321", "10.2500", "2.500E-01", ""}}),
  ["no_table.fits"] = block(card("SIMPLE", "T") .. card("BITPIX", "16") .. card("NAXIS", "1")
    .. card("NAXIS1", "4") .. END) .. block(string.pack(">i2>i2>i2>i2", 1, 2, 3, 4), "\0"),
}
for name, bytes in pairs(seeds) do
  local f = assert(io.open(dir .. "/" .. name, "wb"))
  f:write(bytes)
  f:close()
end

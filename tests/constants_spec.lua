-- The physical constants and the Sun's parameters are defined once, in the C core
-- (include/phaseflow/constants.h), and Lua reads them from phaseflow.core.constants.
local pf = require "phaseflow"
local C = pf.core.constants

local function relerr(a, b) return math.abs(a - b) / math.abs(b) end

describe("phaseflow.core.constants", function()
  it("has G from the SI constants to 1e-9 relative", function()
    -- CODATA 2018 G, astropy's solar mass (IAU 2015 nominal G Msun / CODATA G), and the
    -- kpc from the IAU 2012 au: G in kpc (km/s)^2 / Msun = G Msun / kpc / (1e3 m/km)^2
    local G_si, msun_kg = 6.67430e-11, 1.98840987e30
    local kpc_m = 1e3 * 648000 / math.pi * 149597870700
    assert.is_true(relerr(C.kpc_m, kpc_m) < 1e-15)
    assert.are.equal(C.kpc_m, C.kpc_km * 1e3)
    local G = G_si * msun_kg / (kpc_m * 1e6)
    assert.is_true(relerr(C.G, G) < 1e-9, ("G = %.17g, from SI %.17g"):format(C.G, G))
    assert.is_true(relerr(C.G, C.GM_sun_SI / (kpc_m * 1e6)) < 1e-15)
    -- galpy's own G (recorded in its MWPotential2014 fixture) is the same number
    local fix = dofile("fixtures/potential_galpy.lua")
    assert.is_true(relerr(C.G, fix.G_galpy) < 1e-14)
    -- and not the old rounded value
    assert.is_true(relerr(C.G, 4.30092e-6) > 5e-7)
  end)

  it("has the Sun's parameters (astropy's Galactocentric v4.0)", function()
    assert.are.equal(8.122, C.R0)
    assert.are.equal(0.0208, C.z_sun)
    assert.are.same({12.9, 245.6, 7.78}, C.galcen_v_sun)
  end)

  it("is the G the C potentials use", function()
    local a, M = 1.3, 3.7e10
    local h = pf.potential.hernquist {a = a, amp = M}
    local x = pf.array.from {{2.385, -1.2, 0.7}}
    local r = math.sqrt(2.385 ^ 2 + 1.2 ^ 2 + 0.7 ^ 2)
    assert.is_true(relerr(h:phi(x):get(1), -C.G * M / (r + a)) < 1e-14)
  end)

  it("is the Sun pf.coords uses by default", function()
    local x, v = pf.coords.sun()
    assert.is_true(math.abs(x:get(1) - math.sqrt(C.R0 ^ 2 - C.z_sun ^ 2)) < 1e-12)
    assert.is_true(math.abs(x:get(2)) < 1e-12)
    assert.is_true(math.abs(x:get(3) - C.z_sun) < 1e-12)
    local vs = C.galcen_v_sun
    assert.is_true(math.abs(v:get(1) + vs[1]) < 1e-12)
    assert.is_true(math.abs(v:get(2) + vs[2]) < 1e-12)
    assert.is_true(math.abs(v:get(3) - vs[3]) < 1e-12)
  end)
end)

describe("Lua reads the constants from the core", function()
  it("pf.units", function()
    assert.are.equal(C.G, pf.units.G)
    assert.are.equal(C.kpc_km, pf.units.kpc_km)
    assert.are.equal(1e-13 * C.kpc_km, pf.units.acc_1e10)
  end)

  it("pf.geometry and the modules that use it", function()
    local g = pf.geometry
    assert.are.equal(C.R0, g.R0)
    assert.are.equal(C.z_sun, g.Z_SUN)
    assert.are.equal(C.R0, g.R_SUN)
    assert.are.same({math.sqrt(C.R0 ^ 2 - C.z_sun ^ 2), 0, C.z_sun}, g.SUN)
    assert.are.equal(C.R0, pf.baryons.r_sun)
    assert.are.equal(C.R0, pf.mock.default_populations[1].r0)
  end)

  -- The literals that must not come back: G (old and new), the kpc, the Sun.
  local FORBIDDEN = {"4%.30092", "4%.3009172", "3%.0856775", "8%.122", "0%.0208", "245%.6"}

  -- Lua source with its comments removed (block comments, then line comments; a "--"
  -- inside a string cuts the line short, which can only hide a literal, never invent one).
  -- Strings are code here: a label printing the Sun's position must format R0.
  local function code_of(path)
    local f = assert(io.open(path))
    local s = f:read("a")
    f:close()
    -- block comments keep their newlines, so that line numbers stay right
    s = s:gsub("(%-%-%[(=*)%[.-%]%2%])", function(c) return (c:gsub("[^\n]", "")) end)
    return (s:gsub("%-%-[^\n]*", ""))
  end

  it("no Lua module or script spells them out again", function()
    local units_path = assert(package.searchpath("phaseflow.units", package.path))
    local libdir = units_path:match("^(.*)/units%.lua$")
    local scriptdir = libdir:match("^(.*)/lua/phaseflow$") .. "/scripts"
    local files = {}
    for _, dir in ipairs({libdir, scriptdir}) do
      local p = assert(io.popen("ls '" .. dir .. "'/*.lua"))
      for name in p:lines() do files[#files + 1] = name end
      p:close()
    end
    assert.is_true(#files > 30, "found only " .. #files .. " Lua files")
    local hits = {}
    for _, path in ipairs(files) do
      local n = 0
      for line in (code_of(path) .. "\n"):gmatch("([^\n]*)\n") do
        n = n + 1
        for _, lit in ipairs(FORBIDDEN) do
          if line:find("%f[%d.]" .. lit .. "%f[^%d]") then
            hits[#hits + 1] = ("%s:%d: %s"):format(path, n, line)
          end
        end
      end
    end
    assert.are.same({}, hits)
  end)
end)

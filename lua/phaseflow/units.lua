-- phaseflow.units: every physical constant and unit conversion, once (the constants
-- themselves come from the C core: include/phaseflow/constants.h).
--
-- Inside phaseflow: lengths kpc, velocities km/s, masses Msun, accelerations
-- (km/s)^2/kpc, densities Msun/kpc^3. Reports convert with the factors below.

local constants = require("phaseflow.core").constants

local units = {}

-- G and the kpc are defined once, in include/phaseflow/constants.h (the C core), and
-- read here from phaseflow.core.constants.
units.G = constants.G                -- gravitational constant, kpc (km/s)^2 / Msun
units.kpc_km = constants.kpc_km      -- km per kpc
units.pc_per_kpc = 1e3

-- 1e-10 m/s^2 in (km/s)^2/kpc: 1e-10 m/s^2 = 1e-13 km/s^2; times kpc in km.
units.acc_1e10 = 1e-13 * units.kpc_km       -- = 3085.68 (km/s)^2/kpc
-- 1 Msun/pc^3 in Msun/kpc^3, and in GeV/cm^3 (the paper's factor).
units.msun_pc3 = 1e9                        -- Msun/kpc^3
units.gev_cm3_per_msun_pc3 = 37.965         -- GeV/cm^3 per Msun/pc^3

--- An acceleration in (km/s)^2/kpc in 1e-10 m/s^2.
function units.acc_to_1e10(a) return a / units.acc_1e10 end          -- (km/s)^2/kpc -> 1e-10 m/s^2
--- An acceleration in 1e-10 m/s^2 in (km/s)^2/kpc.
function units.acc_from_1e10(a) return a * units.acc_1e10 end
--- A density in Msun/kpc^3 in Msun/pc^3.
function units.rho_to_msun_pc3(r) return r / units.msun_pc3 end      -- Msun/kpc^3 -> Msun/pc^3
--- A density in Msun/kpc^3 in 1e-2 Msun/pc^3.
function units.rho_to_1e2(r) return r / units.msun_pc3 * 100 end     -- -> 1e-2 Msun/pc^3
--- A density in Msun/pc^3 in Msun/kpc^3.
function units.rho_from_msun_pc3(r) return r * units.msun_pc3 end
--- A density in Msun/kpc^3 in GeV/cm^3.
function units.rho_to_gev_cm3(r) return r / units.msun_pc3 * units.gev_cm3_per_msun_pc3 end
--- A surface density in Msun/pc^2 in Msun/kpc^2.
function units.sigma_from_msun_pc2(s) return s * 1e6 end             -- Msun/pc^2 -> Msun/kpc^2

return units

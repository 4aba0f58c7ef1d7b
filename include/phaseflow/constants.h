/*
 * phaseflow/constants.h -- the physical constants and the Sun's parameters, defined
 * once. The C core uses these macros; Lua reads the same values from the table
 * phaseflow.core.constants (src/lua/l_constants.c), and pf.units and pf.geometry take
 * theirs from it. Nothing else may spell these numbers out.
 *
 * Internal units: lengths kpc, velocities km/s, masses Msun.
 */
#ifndef PHASEFLOW_CONSTANTS_H
#define PHASEFLOW_CONSTANTS_H

/* ---- units ------------------------------------------------------------------------ */

/* Metres per kpc: 1 pc = 648000/pi au with the IAU 2012 au = 149597870700 m exactly
 * (astropy's and galpy's kpc). */
#define PF_KPC_M 3.0856775814913673e19
/* Kilometres per kpc. */
#define PF_KPC_KM (PF_KPC_M * 1e-3)

/* ---- gravity ---------------------------------------------------------------------- */

/* The nominal solar mass parameter G Msun in m^3 s^-2 (IAU 2015 Resolution B3). astropy
 * defines its Msun as this over CODATA 2018 G = 6.67430e-11 m^3 kg^-1 s^-2, that is
 * Msun = 1.988409870698051e30 kg, so G Msun is exactly this number in astropy (and in
 * galpy, which takes G from astropy). */
#define PF_GM_SUN_SI 1.3271244e20

/* Newton's constant in kpc (km/s)^2 / Msun:
 *   G = (G Msun) / (1 kpc) / (1e3 m/km)^2 = 1.3271244e20 / (3.0856775814913673e19 * 1e6)
 *     = 6.67430e-11 * 1.98840987e30 / (3.0856775814913673e19 * 1e6)
 *     = 4.300917270036279e-6,
 * which is astropy's G and galpy's (conversion._G * 1e-3). The older rounded
 * 4.30092e-6 is 6.3e-7 larger. */
#define PF_G (PF_GM_SUN_SI / (PF_KPC_M * 1e6))

/* ---- the Sun (astropy's Galactocentric "v4.0" parameters) ----------------------- */

/* Distance from the Sun to the Galactic centre, kpc (GRAVITY Collaboration 2018). */
#define PF_R0 8.122
/* Height of the Sun above the Galactic plane, kpc (Bennett & Bovy 2019). */
#define PF_Z_SUN 0.0208
/* The Sun's Galactocentric velocity in km/s, in astropy's axes (x from the Sun toward
 * the Galactic centre, y along the rotation, z to the North Galactic Pole; Drimmel &
 * Poggio 2018, Reid & Brunthaler 2004, GRAVITY 2018). In the paper's frame (astropy's
 * turned 180 degrees about z) the velocity is (-X, -Y, Z). */
#define PF_GALCEN_V_SUN_X 12.9
#define PF_GALCEN_V_SUN_Y 245.6
#define PF_GALCEN_V_SUN_Z 7.78

#endif

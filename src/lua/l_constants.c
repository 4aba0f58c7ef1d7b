/*
 * l_constants.c -- phaseflow.core.constants: the physical constants and the Sun's
 * parameters of include/phaseflow/constants.h, as plain numbers, so that Lua reads
 * the values the C core uses (pf.units and pf.geometry take theirs from here).
 *
 *   G              Newton's constant, kpc (km/s)^2 / Msun
 *   GM_sun_SI      the nominal solar mass parameter, m^3 s^-2
 *   kpc_m, kpc_km  metres and kilometres per kpc
 *   R0             Sun - Galactic centre distance, kpc
 *   z_sun          height of the Sun above the plane, kpc
 *   galcen_v_sun   {12.9, 245.6, 7.78}: the Sun's Galactocentric velocity, km/s, in
 *                  astropy's axes (the paper's frame has (-x, -y, z) of it)
 *
 * The table is a fresh plain table: changing it changes nothing in the core.
 */
#include "pf_lua.h"
#include "phaseflow/constants.h"

static void setnum(lua_State *L, const char *key, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, key);
}

int pf_open_constants(lua_State *L)
{
    pf_lua_newmodule(L, NULL, NULL);
    setnum(L, "G", PF_G);
    setnum(L, "GM_sun_SI", PF_GM_SUN_SI);
    setnum(L, "kpc_m", PF_KPC_M);
    setnum(L, "kpc_km", PF_KPC_KM);
    setnum(L, "R0", PF_R0);
    setnum(L, "z_sun", PF_Z_SUN);
    lua_createtable(L, 3, 0);
    const double v[3] = {PF_GALCEN_V_SUN_X, PF_GALCEN_V_SUN_Y, PF_GALCEN_V_SUN_Z};
    for (int i = 0; i < 3; i++) {
        lua_pushnumber(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "galcen_v_sun");
    return 1;
}

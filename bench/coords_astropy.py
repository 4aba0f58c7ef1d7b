#!/usr/bin/python3
"""Peer for bench/coords.lua: astropy's ICRS -> Galactocentric on N random stars.

Prints one line "astropy <N> <seconds>" (the median of `repeats` runs) for the Lua
benchmark to read. Run with Debian's python3-astropy:
    /usr/bin/python3 bench/coords_astropy.py 1000000 3
"""
import sys
import time
import numpy as np
import astropy.units as u
import astropy.coordinates as coord


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rng = np.random.default_rng(1)
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    plx = rng.uniform(0.25, 5, n)
    pmra, pmdec, rv = rng.normal(0, 30, n), rng.normal(0, 30, n), rng.normal(0, 80, n)
    frame = coord.Galactocentric(
        galcen_coord=coord.ICRS(ra=266.4051 * u.deg, dec=-28.936175 * u.deg),
        galcen_distance=8.122 * u.kpc,
        galcen_v_sun=coord.CartesianDifferential([12.9, 245.6, 7.78] * u.km / u.s),
        z_sun=20.8 * u.pc, roll=0 * u.deg)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        c = coord.ICRS(ra=ra * u.deg, dec=dec * u.deg, distance=(1.0 / plx) * u.kpc,
                       pm_ra_cosdec=pmra * u.mas / u.yr, pm_dec=pmdec * u.mas / u.yr,
                       radial_velocity=rv * u.km / u.s)
        g = c.transform_to(frame)
        # what the workbench hands on: flipped x and v as plain arrays
        x = np.stack([-g.x.value, -g.y.value, g.z.value], 1)
        v = np.stack([-g.v_x.value, -g.v_y.value, g.v_z.value], 1)
        times.append(time.perf_counter() - t0)
        assert x.shape == (n, 3) and v.shape == (n, 3)
    times.sort()
    print("astropy %d %.6f" % (n, times[len(times) // 2]))


if __name__ == "__main__":
    main()

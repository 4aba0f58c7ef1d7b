#!/usr/bin/env python3
"""Read a phaseflow results.h5 the way a Python user would, without phaseflow.

    python3 bench/results_python.py DIR/results.h5

Reads every dataset with h5py, parses every `units` attribute with astropy.units.Unit
(one unit, or one per index of the last axis separated by commas; "" is dimensionless),
checks that every dataset has a non-empty `description`, reads Table I as columns, one
curve with its positions, and opens the gNFW chain with emcee's HDFBackend. Prints what
it read; exits 1 on any failure (each one named), 2 on bad arguments or missing modules.
Needs h5py, astropy and emcee (Debian: python3-h5py python3-astropy python3-emcee).
Not part of `make test`; see docs/results.md for the format.
"""
import sys


def main(argv):
    if len(argv) != 2:
        print("usage: results_python.py RESULTS.h5", file=sys.stderr)
        return 2
    path = argv[1]
    try:
        import h5py
        import numpy as np
        import astropy.units as u
        import emcee
    except ImportError as e:
        print(f"results_python.py: {e} (install python3-h5py python3-astropy python3-emcee)",
              file=sys.stderr)
        return 2

    failures = []
    counts = {"datasets": 0, "units": 0, "values": 0}
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        print(f"results_python.py: cannot open {path}: {e}", file=sys.stderr)
        return 2

    with f:
        names = []
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        for name in names:
            ds = f[name]
            counts["datasets"] += 1
            try:
                data = ds.asstr()[()] if h5py.check_string_dtype(ds.dtype) else ds[()]
                counts["values"] += int(np.size(data))
            except Exception as e:  # noqa: BLE001 -- every failure is reported by name
                failures.append(f"{name}: does not read ({e})")
            units = ds.attrs.get("units")
            if not isinstance(units, str):
                failures.append(f"{name}: no string `units` attribute")
            else:
                parts = units.split(",")
                if len(parts) > 1 and (ds.ndim == 0 or len(parts) != ds.shape[-1]):
                    failures.append(f"{name}: {len(parts)} units for shape {ds.shape}")
                for p in parts:
                    try:
                        u.Unit(p.strip())
                        counts["units"] += 1
                    except ValueError as e:
                        failures.append(f"{name}: units '{p.strip()}' does not parse ({e})")
            desc = ds.attrs.get("description")
            if not isinstance(desc, str) or not desc.strip():
                failures.append(f"{name}: no `description` attribute")

        print(f"{path}: format {f.attrs.get('format')!r} version {f.attrs.get('format_version')}")
        print(f"datasets read: {counts['datasets']}, numbers and strings read: {counts['values']}, "
              f"unit strings parsed: {counts['units']}, failures so far: {len(failures)}")

        # a table: one dataset per column, rows labelled
        try:
            t = f["table1"]
            unit = u.Unit(t["value"].attrs["units"])
            for label, v, s in zip(t["label"].asstr()[()], t["value"][()], t["sigma"][()]):
                print(f"  Table I {label:8s} {v:+.3f} +- {s:.3f} {unit}")
        except Exception as e:  # noqa: BLE001
            failures.append(f"table1: {e}")

        # a curve: positions, its own coordinate and the acceleration with units
        try:
            c = f["curves/acc/r_north"]
            axis = c.attrs["coordinate"]
            x = c["x"][()] * u.Unit(c["x"].attrs["units"])
            r = np.sqrt((x ** 2).sum(axis=1))
            t = c[axis][()] * u.Unit(c[axis].attrs["units"])
            a = c["value"][()] * u.Unit(c["value"].attrs["units"])
            if not np.allclose(r.to_value(u.kpc), t.to_value(u.kpc), rtol=1e-9):
                failures.append("curves/acc/r_north: r disagrees with |x|")
            print(f"  curve r_north: {len(t)} points, {axis} from {t[0]:.3f} to {t[-1]:.3f}, "
                  f"a_x at the first {a[0, 0].to(u.m / u.s ** 2):.3e}")
        except Exception as e:  # noqa: BLE001
            failures.append(f"curves/acc/r_north: {e}")

    # the gNFW chain with emcee's own reader
    try:
        b = emcee.backends.HDFBackend(path, name="gnfw/mcmc", read_only=True)
        chain, logp = b.get_chain(), b.get_log_prob()
        acc = b.accepted / b.iteration
        print(f"  emcee: get_chain() {chain.shape}, get_log_prob() {logp.shape}, "
              f"iteration {b.iteration}, shape (nwalkers, ndim) {b.shape}, "
              f"acceptance fraction mean {acc.mean():.3f} (min {acc.min():.3f}, max {acc.max():.3f})")
        flat = b.get_chain(flat=True, discard=chain.shape[0] // 2)
        print(f"  emcee: flat chain after discarding half {flat.shape}, median rho0, rs, beta = "
              f"{np.round(np.median(flat, axis=0), 3).tolist()}")
        if chain.shape[:2] != logp.shape or chain.shape[1:] != tuple(int(k) for k in b.shape):
            failures.append("gnfw/mcmc: chain and log_prob shapes disagree")
        if not (np.isfinite(chain).all() and np.isfinite(logp).all()):
            failures.append("gnfw/mcmc: non-finite chain or log_prob")
    except Exception as e:  # noqa: BLE001
        failures.append(f"gnfw/mcmc via emcee.backends.HDFBackend: {e}")

    for m in failures:
        print("FAIL " + m)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

/*
 * phaseflow/potential.h -- axisymmetric gravitational potentials made of analytic
 * components (MWPotential2014 and friends), for the mock galaxy's exact truth.
 *
 * Frame: Galactocentric Cartesian, the Galactic centre at the origin, z the symmetry
 * axis. Every component is axisymmetric about z, so a potential is a function of
 * (R, z) with R = sqrt(x^2 + y^2).
 *
 * Units: positions kpc; potentials (km/s)^2 with zero at infinity; accelerations
 * (km/s)^2/kpc (a = -grad Phi); densities Msun/kpc^3; masses Msun; G = PF_G.
 *
 * A pf_potential is a plain value (a fixed-size list of components, no pointers):
 * copy it with `=`, it owns no memory, it is safe to read from many threads.
 */
#ifndef PHASEFLOW_POTENTIAL_H
#define PHASEFLOW_POTENTIAL_H

#include <stddef.h>
#include "phaseflow/common.h"
#include "phaseflow/constants.h" /* PF_G, Newton's constant in kpc (km/s)^2 / Msun */

#define PF_POT_MAXCOMP 16

enum pf_pot_type {
    /* rho = amp r^-alpha exp(-(r/rc)^2), r in kpc; amp in Msun/kpc^(3-alpha). */
    PF_POT_POWER_CUTOFF = 1,
    /* Miyamoto-Nagai disk: Phi = -G amp / sqrt(R^2 + (a + sqrt(z^2 + b^2))^2); amp Msun. */
    PF_POT_MIYAMOTO_NAGAI,
    /* NFW: Phi = -G amp ln(1 + r/a) / r; rho = amp / (4 pi a^3 (r/a)(1 + r/a)^2). */
    PF_POT_NFW,
    /* Hernquist: Phi = -G amp / (r + a). */
    PF_POT_HERNQUIST,
    /* Plummer: Phi = -G amp / sqrt(r^2 + a^2). */
    PF_POT_PLUMMER
};

/* One component. Unused parameters are ignored. */
typedef struct pf_potcomp {
    int type;       /* enum pf_pot_type */
    double amp;     /* amplitude (see the type) */
    double a;       /* scale length, kpc (MN, NFW, Hernquist, Plummer) */
    double b;       /* MN scale height, kpc */
    double alpha;   /* power-law slope (POWER_CUTOFF), 0 <= alpha < 3 */
    double rc;      /* cut-off radius, kpc (POWER_CUTOFF) */
} pf_potcomp;

typedef struct pf_potential {
    int n;                            /* number of components */
    pf_potcomp comp[PF_POT_MAXCOMP];
} pf_potential;

/* The name of a component type ("nfw", ...), or "unknown". */
const char *pf_potcomp_name(int type);

/* PF_OK if the component's type and parameters are valid (positive lengths,
 * 0 <= alpha < 3, finite amp), else PF_EINVAL with a message naming the parameter. */
int pf_potcomp_check(const pf_potcomp *c, pf_err *err);

/* Set c->amp so that the component alone gives a radial force -dPhi/dR at
 * (R = r0, z = 0) equal to frac * v0^2 / r0 (galpy's `normalize`). r0 kpc, v0 km/s. */
int pf_potcomp_normalize(pf_potcomp *c, double frac, double r0, double v0, pf_err *err);

/* An empty potential (n = 0). */
void pf_potential_init(pf_potential *p);

/* Append a (checked) component; PF_EINVAL when invalid or when full. */
int pf_potential_add(pf_potential *p, const pf_potcomp *c, pf_err *err);

/* dst = a + b (component lists concatenated); PF_EINVAL if too many. dst may alias. */
int pf_potential_sum(pf_potential *dst, const pf_potential *a, const pf_potential *b,
                     pf_err *err);

/* MWPotential2014 (Bovy 2015) as galpy normalises it for r0 = 8 kpc, v0 = 220 km/s:
 * power-law bulge with cut-off (alpha 1.8, rc 1.9 kpc, 5% of the radial force at r0),
 * Miyamoto-Nagai disk (a 3, b 0.28 kpc, 60%), NFW halo (a 16 kpc, 35%). */
void pf_potential_mw2014(pf_potential *p);

/* Point evaluations at x[3] (kpc). phi: (km/s)^2. acc: a = -grad Phi. At the exact
 * centre of a cusp the acceleration is set to 0 (symmetry) and the density is +inf. */
double pf_potential_phi(const pf_potential *p, const double x[3]);
void pf_potential_acc(const pf_potential *p, const double x[3], double acc[3]);
double pf_potential_density(const pf_potential *p, const double x[3]);

/* Potential and its (R, z) derivatives in one pass: phi, dPhi/dR, dPhi/dz at (R, z). */
void pf_potential_eval_rz(const pf_potential *p, double R, double z, double *phi,
                          double *dphi_dR, double *dphi_dz);

/* In the plane z = 0: dPhi/dR and d2Phi/dR2 at radius R > 0 (for circular orbits:
 * vc^2 = R dPhi/dR, kappa^2 = d2Phi/dR2 + 3 dPhi/dR / R). */
void pf_potential_planar(const pf_potential *p, double R, double *dphi_dR,
                         double *d2phi_dR2);

/* Circular speed (km/s) at radius R (kpc) in the plane. */
double pf_potential_vcirc(const pf_potential *p, double R);

/* Batched versions on n points, x row-major n x 3 (kpc). out: n values (phi,
 * density) or n x 3 (acc). OpenMP-parallel. */
void pf_potential_phi_n(const pf_potential *p, size_t n, const double *x, double *out);
void pf_potential_acc_n(const pf_potential *p, size_t n, const double *x, double *out);
void pf_potential_density_n(const pf_potential *p, size_t n, const double *x, double *out);

#endif

/*
 * phaseflow/coords.h -- Gaia ICRS observables <-> the paper's Galactocentric frame,
 * covariance propagation and error-smeared resamples.
 *
 * Observables (the "obs" of this header), in Gaia archive units:
 *   0 ra        deg              3 pmra   mas/yr (mu_alpha* = mu_alpha cos dec)
 *   1 dec       deg              4 pmdec  mas/yr
 *   2 parallax  mas              5 radial_velocity  km/s
 * Distance d = 1/parallax (kpc for mas); no prior, no zero-point correction.
 *
 * The Galactocentric frame is astropy's `Galactocentric` frame (positions translated
 * to the Galactic centre, x toward it from the Sun, then tilted so the Sun is z_sun
 * above the plane) turned 180 degrees about z: (x, y, vx, vy) -> (-x, -y, -vx, -vy).
 * With the default parameters (astropy's "v4.0" set) the Sun is at
 * (sqrt(8.122^2 - 0.0208^2), 0, 0.0208) kpc with velocity (-12.9, -245.6, 7.78) km/s;
 * z points to the North Galactic Pole and the disc rotates toward -y.
 * Positions in kpc, velocities in km/s, both N x 3 row-major.
 *
 * Cylindrical (R, phi, z) and spherical (r, theta, phi): phi = atan2(y, x) in radians
 * (0 at the Sun, increasing toward +y, in (-pi, pi]); theta from +z in [0, pi].
 * Velocity components along the unit vectors: v_R, v_phi (toward increasing phi, so
 * the disc's rotation has v_phi < 0), v_z; v_r, v_theta (toward increasing theta).
 *
 * Covariances are symmetric 6 x 6 matrices stored as their upper triangle, row by
 * row, in 21 doubles: (00 01 02 03 04 05 11 12 13 14 15 22 23 24 25 33 34 35 44 45 55);
 * PF_COORDS_TRI(i, j) with i <= j gives the slot. For the observables the variables
 * are (alpha*, delta, parallax, pmra, pmdec, rv) with the angle offsets alpha* =
 * delta_ra cos(dec) and delta in mas, as Gaia's ra_error and dec_error are; for the
 * Galactocentric result they are (x, y, z, vx, vy, vz) in kpc and km/s.
 *
 * Missing values: a NaN in a star's inputs, or a parallax <= 0, gives NaN in all of
 * that star's outputs; it is never an error. All batched functions run the stars in
 * parallel with OpenMP and are deterministic.
 */
#ifndef PHASEFLOW_COORDS_H
#define PHASEFLOW_COORDS_H

#include <stddef.h>
#include <gsl/gsl_rng.h>
#include "phaseflow/common.h"

/* km/s per (mas/yr * kpc): 1 AU per Julian year, as astropy computes it. */
#define PF_COORDS_K 4.740470463533348

/* Slot of element (i, j), 0 <= i <= j < 6, in a packed 21-double covariance. */
#define PF_COORDS_TRI(i, j) ((i) * 6 - (i) * ((i) - 1) / 2 + (j) - (i))

/* The frame's parameters, in astropy's conventions (its Galactocentric frame, before
 * the 180-degree turn): galcen_distance in kpc, z_sun in kpc (astropy takes pc),
 * galcen_v_sun in km/s in astropy's axes, roll and the Galactic centre's ICRS
 * position in degrees. */
typedef struct pf_coords_params {
    double galcen_distance; /* PF_R0 = 8.122 kpc (phaseflow/constants.h) */
    double z_sun;           /* PF_Z_SUN = 0.0208 kpc */
    double galcen_v_sun[3]; /* PF_GALCEN_V_SUN_X, _Y, _Z = (12.9, 245.6, 7.78) km/s */
    double roll;            /* 0 deg */
    double galcen_ra;       /* 266.4051 deg */
    double galcen_dec;      /* -28.936175 deg */
} pf_coords_params;

/* A frame ready for use: rot maps ICRS Cartesian vectors to the paper's axes;
 * x = rot r_icrs + offset (kpc), v = rot v_icrs + vsun (km/s). Plain data: copy
 * freely, share between threads. */
typedef struct pf_coords_frame {
    double rot[3][3];
    double offset[3];
    double vsun[3];
} pf_coords_frame;

/* Fill `p` with the defaults above. */
void pf_coords_params_default(pf_coords_params *p);

/* Build a frame. PF_EINVAL (message naming the parameter) if galcen_distance <= 0,
 * |z_sun| >= galcen_distance or any parameter is not finite. */
int pf_coords_frame_init(pf_coords_frame *f, const pf_coords_params *p, pf_err *err);

/* The Sun's position (kpc) and velocity (km/s) in the frame: x = offset, v = vsun. */
void pf_coords_sun(const pf_coords_frame *f, double x[3], double v[3]);

/* Observables -> Galactocentric. obs[k] points at n doubles of observable k (order
 * above); x and v receive n x 3. */
void pf_coords_to_galcen(const pf_coords_frame *f, size_t n, const double *const obs[6],
                         double *x, double *v);

/* Galactocentric -> observables, the exact inverse of pf_coords_to_galcen; ra in
 * [0, 360). obs[k] receives n doubles. A star at the Sun gets parallax +inf and NaN
 * angles and motions. */
void pf_coords_from_galcen(const pf_coords_frame *f, size_t n, const double *x,
                           const double *v, double *const obs[6]);

/* Cylindrical and spherical components of n positions / velocities (n x 3). Every
 * output points at n doubles or is NULL (not computed). */
void pf_coords_cylindrical(size_t n, const double *x, const double *v, double *R,
                           double *phi, double *z, double *v_R, double *v_phi,
                           double *v_z);
void pf_coords_spherical(size_t n, const double *x, const double *v, double *r,
                         double *theta, double *v_r, double *v_theta);

/* Jacobian d(x, y, z, vx, vy, vz) / d(alpha*, delta, parallax, pmra, pmdec, rv) in
 * the units of the header comment (kpc or km/s per mas, mas/yr, km/s), n x 6 x 6
 * row-major (row = output). Near the poles the rows for the velocities grow like
 * tan(dec): the proper-motion axes turn quickly there. */
void pf_coords_jacobian(const pf_coords_frame *f, size_t n, const double *const obs[6],
                        double *jac);

/* Observable covariances (n x 21) from the six standard errors err[k] (ra_error and
 * dec_error in mas) and the ten Gaia correlation coefficients corr[m] in the
 * archive's order: ra_dec, ra_parallax, ra_pmra, ra_pmdec, dec_parallax, dec_pmra,
 * dec_pmdec, parallax_pmra, parallax_pmdec, pmra_pmdec. A NULL corr[m] means zero
 * correlation; the radial velocity is uncorrelated with the astrometry. */
void pf_coords_obs_cov(size_t n, const double *const err[6], const double *const corr[10],
                       double *cov_obs);

/* Propagate observable covariances (n x 21) to Galactocentric (x, v) covariances
 * (n x 21): C = J S J^T with the Jacobian above, exact to first order. */
void pf_coords_cov_galcen(const pf_coords_frame *f, size_t n, const double *const obs[6],
                          const double *cov_obs, double *cov);

/* Both steps at once: Galactocentric covariances (n x 21) straight from the errors
 * and correlations (as pf_coords_obs_cov takes them), with no n x 21 intermediate.
 * Equal to pf_coords_obs_cov then pf_coords_cov_galcen, bit for bit. */
void pf_coords_cov_from_errors(const pf_coords_frame *f, size_t n, const double *const obs[6],
                               const double *const err[6], const double *const corr[10],
                               double *cov);

/* One error-smeared resample: each star's observables drawn from the Gaussian with
 * mean obs and covariance cov_obs (n x 21) through its Cholesky factor. The angular
 * offsets (alpha*, delta) are applied on the tangent plane, so the poles and
 * RA = 0/360 need no special case; ra comes back in [0, 360). Parallaxes may come back
 * negative (the caller's distance cut removes them). Stars whose inputs hold a NaN or
 * whose covariance is not positive definite get NaN observables; their number is
 * stored in *nbad when nbad is not NULL. Exactly 6 normals are drawn per star in star
 * order (serially, from `r`), so the result depends only on r's state, not on the
 * thread count. Memory: a fixed block of normals. PF_ENOMEM if that block cannot
 * be allocated. */
int pf_coords_smear(size_t n, const double *const obs[6], const double *cov_obs,
                    gsl_rng *r, double *const out[6], size_t *nbad, pf_err *err);

#endif

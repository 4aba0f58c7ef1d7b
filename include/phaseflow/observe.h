/*
 * phaseflow/observe.h -- a Gaia-like observation of a mock galaxy.
 *
 * The pieces a mock needs beyond exact coordinates (phaseflow/coords.h):
 *   - a luminosity function with a red clump, a red giant branch and dwarfs that
 *     gives every star an absolute G magnitude and a BP-RP colour;
 *   - G_RVS from G and colour;
 *   - DR3-like uncertainties as functions of magnitude;
 *   - an optional toy dust screen of spherical clouds;
 *   - a writer of the Gaia archive's bulk-download format (ECSV, gzip-compressed).
 *
 * Units: magnitudes in mag; positions in kpc (Galactocentric, phaseflow's frame);
 * ra_error and dec_error in mas (as the archive); parallax in mas, proper motions in
 * mas/yr, radial velocities in km/s. Arrays are caller-owned; nothing here keeps a
 * pointer after returning. No global state: every function may be called from any
 * thread on its own data.
 */
#ifndef PHASEFLOW_OBSERVE_H
#define PHASEFLOW_OBSERVE_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>
#include "phaseflow/common.h"

/* Star kinds the luminosity function draws. */
enum { PF_OBSERVE_RC = 0, PF_OBSERVE_RGB = 1, PF_OBSERVE_DWARF = 2, PF_OBSERVE_NKIND = 3 };

/* The luminosity function: a mixture of three kinds.
 *   red clump: M_G ~ N(rc_mg, rc_sigma), bp_rp ~ N(rc_color, color_sigma);
 *   giant branch: dN/dM_G proportional to 10^(rgb_slope M_G) on [rgb_min, rgb_max],
 *     bp_rp = rgb_color0 + rgb_color_slope (rgb_max - M_G) + N(0, color_sigma);
 *   dwarfs: M_G uniform on [dwarf_min, dwarf_max],
 *     bp_rp = dwarf_color0 + dwarf_color_slope (M_G - dwarf_min) + N(0, color_sigma).
 * weight[k] are the kinds' fractions of all stars (normalised by their sum). */
typedef struct pf_observe_lf {
    double weight[PF_OBSERVE_NKIND];
    double rc_mg, rc_sigma, rc_color;
    double rgb_min, rgb_max, rgb_slope, rgb_color0, rgb_color_slope;
    double dwarf_min, dwarf_max, dwarf_color0, dwarf_color_slope;
    double color_sigma;
} pf_observe_lf;

/* The default luminosity function (tuned so that ~70% of the stars passing the
 * paper's completeness cut M_RVS < 0.98970 are red clump; see docs/observe.md). */
void pf_observe_lf_default(pf_observe_lf *lf);

/* Draw n stars: mg[i] (absolute G), bprp[i] (colour), kind[i] (PF_OBSERVE_*), with
 * draws taken serially from `r` in star order. PF_EINVAL for weights that are negative
 * or sum to zero, or empty ranges. */
int pf_observe_draw_lf(const pf_observe_lf *lf, gsl_rng *r, size_t n, double *mg,
                       double *bprp, int *kind, pf_err *err);

/* G - G_RVS as a function of bp_rp (mag): our linear relation 0.05 + 0.62 bp_rp,
 * clipped to bp_rp in [0, 3]. */
double pf_observe_g_minus_grvs(double bprp);

/* DR3-like uncertainties of one star from its G and G_RVS (mag): out[0..5] = ra_error
 * (mas), dec_error (mas), parallax_error (mas), pmra_error, pmdec_error (mas/yr),
 * radial_velocity_error (km/s). See docs/observe.md for the formulas and sources. */
void pf_observe_errors(double g, double grvs, double out[6]);

/* One toy dust cloud: a sphere (centre c in kpc, radius r in kpc) that adds
 * a_max * (length of the Sun-star segment inside the sphere) / (2 r) magnitudes of
 * G extinction; a star behind the cloud's centre is dimmed by a_max. */
typedef struct pf_observe_cloud {
    double c[3];
    double r;
    double a_max;
} pf_observe_cloud;

/* a_g[i] = sum over clouds of their extinction toward star x[i] (x: n x 3 row-major,
 * kpc) seen from `sun` (kpc). A_RVS is taken equal to A_G (toy screen). */
void pf_observe_extinction(const double sun[3], const pf_observe_cloud *clouds, size_t ncloud,
                           size_t n, const double *x, double *a_g);

/* A table to write in the archive's format. Every row gets solution_id (one constant),
 * designation ("Gaia DR3 <source_id>"), source_id, random_index and ref_epoch (2016.0)
 * first, then the `ncol` double columns in the given order. A NaN is written as an
 * empty field (the archive's missing value). All pointers are borrowed. */
typedef struct pf_observe_table {
    size_t n;                   /* rows */
    const int64_t *source_id;   /* n ids */
    const int64_t *random_index;/* n values */
    size_t ncol;
    const char *const *names;   /* ncol archive column names */
    const char *const *units;   /* ncol units for the ECSV header, or NULL entries */
    const double *const *col;   /* col[j]: n doubles */
} pf_observe_table;

/* Write rows [first, first + count) of `t` to `path` as gzip-compressed ECSV 1.0
 * (`# %ECSV 1.0` YAML header, then comma-separated values with a header line), doubles
 * printed with "%.17g" so that reading them back gives the same bits. `level` is the
 * zlib level (0-9; 1 is fast). PF_EIO (with the path) if the file cannot be written. */
int pf_observe_write_ecsv(const char *path, const pf_observe_table *t, size_t first,
                          size_t count, int level, pf_err *err);

/* Format one double as the writer does (17 significant digits, parsed back to the same
 * bits; a NaN gives the empty string) into `out` (at least 33 bytes, NUL-terminated).
 * Returns the length. */
size_t pf_observe_format_double(char *out, double v);

/* Write `t` as nfile files paths[k] holding rows [start[k], start[k+1]) (start has
 * nfile + 1 entries, increasing, start[nfile] = t->n), in parallel over files (OpenMP).
 * On failure the first failing file's error is reported. */
int pf_observe_write_files(const char *const *paths, const size_t *start, size_t nfile,
                           const pf_observe_table *t, int level, pf_err *err);

#endif

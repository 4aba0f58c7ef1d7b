/*
 * gaia_units.c -- the units a file declares for its columns, checked and converted.
 *
 * A unit is a product of base units, each to the power 1 or -1, in the spellings of
 * the archive's ECSV ("mas.yr**-1", "km.s**-1"), of astropy ("mas / yr") and of FITS
 * ("km s-1", "km*s^-1"). A column whose name Gaia gives a unit to (ra, parallax,
 * pmra, radial_velocity, the errors, magnitudes, correlations) is converted to that
 * unit; one in a unit of another kind, or in a unit not known here, is refused. Other
 * columns are read as they are, and a column without a unit is taken in Gaia's unit.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "gaia_internal.h"

enum { D_ANGLE, D_TIME, D_LENGTH, D_MAG, ND };

/* Sizes in whole small units (microarcseconds, seconds, metres) so that the ratios
 * the archive's units need (1000, 3.6e6, 31557600) are exact doubles. */
static const struct {
    const char *name;
    int dim;
    double size;
} base_units[] = {
    {"uas", D_ANGLE, 1.0}, {"\xc2\xb5" "as", D_ANGLE, 1.0}, {"mas", D_ANGLE, 1e3},
    {"arcsec", D_ANGLE, 1e6}, {"arcmin", D_ANGLE, 6e7}, {"deg", D_ANGLE, 3.6e9},
    {"degree", D_ANGLE, 3.6e9}, {"degrees", D_ANGLE, 3.6e9},
    {"rad", D_ANGLE, 3.6e9 * (180.0 / M_PI)}, {"radian", D_ANGLE, 3.6e9 * (180.0 / M_PI)},
    {"s", D_TIME, 1.0}, {"h", D_TIME, 3600.0}, {"d", D_TIME, 86400.0},
    {"day", D_TIME, 86400.0}, {"yr", D_TIME, 31557600.0}, {"a", D_TIME, 31557600.0},
    {"year", D_TIME, 31557600.0}, /* Julian years, as Gaia's mas/yr */
    {"m", D_LENGTH, 1.0}, {"km", D_LENGTH, 1e3},
    {"mag", D_MAG, 1.0},
};

/* Gaia's unit for the columns the workbench reads (DR3 data model). */
static const char *const gaia_units[][2] = {
    {"ra", "deg"}, {"dec", "deg"},
    {"ra_error", "mas"}, {"dec_error", "mas"}, {"parallax", "mas"}, {"parallax_error", "mas"},
    {"pmra", "mas/yr"}, {"pmdec", "mas/yr"}, {"pmra_error", "mas/yr"}, {"pmdec_error", "mas/yr"},
    {"radial_velocity", "km/s"}, {"radial_velocity_error", "km/s"},
    {"phot_g_mean_mag", "mag"}, {"phot_bp_mean_mag", "mag"}, {"phot_rp_mean_mag", "mag"},
    {"grvs_mag", "mag"}, {"bp_rp", "mag"},
    {"parallax_over_error", ""}, {"ra_dec_corr", ""}, {"ra_parallax_corr", ""},
    {"ra_pmra_corr", ""}, {"ra_pmdec_corr", ""}, {"dec_parallax_corr", ""},
    {"dec_pmra_corr", ""}, {"dec_pmdec_corr", ""}, {"parallax_pmra_corr", ""},
    {"parallax_pmdec_corr", ""}, {"pmra_pmdec_corr", ""},
};

typedef struct {
    int exp[ND];     /* -1, 0 or 1 */
    double size[ND]; /* the base unit's size, where exp != 0 */
} unit;

/* Parse `s` into u: 0, or -1 if it is not a product of known base units to +-1. */
static int parse_unit(const char *s, unit *u)
{
    memset(u, 0, sizeof *u);
    const char *p = s;
    int divide = 0;
    while (*p) {
        if (*p == ' ' || *p == '.' || (*p == '*' && p[1] != '*')) {
            p++;
            continue;
        }
        if (*p == '/') {
            if (divide)
                return -1; /* a/b/c: ambiguous */
            divide = 1;
            p++;
            continue;
        }
        const char *a = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (unsigned char)*p >= 0x80)
            p++;
        size_t n = (size_t)(p - a);
        if (n == 0)
            return -1;
        int e = 1; /* exponent: "**-1", "^-1", "-1", or the same with 1 */
        if (p[0] == '*' && p[1] == '*')
            p += 2;
        else if (*p == '^')
            p++;
        if (*p == '-' && p[1] == '1') {
            e = -1;
            p += 2;
        } else if (*p == '+' && p[1] == '1') {
            p += 2;
        } else if (*p == '1') {
            p++;
        } else if (p > a + n) {
            return -1; /* "**" or "^" without 1 or -1 */
        }
        if (*p >= '0' && *p <= '9')
            return -1; /* squares and the like: not a Gaia unit */
        if (divide) {
            e = -e;
            divide = 0;
        }
        size_t k = 0, nb = sizeof base_units / sizeof base_units[0];
        while (k < nb && !(strlen(base_units[k].name) == n && memcmp(base_units[k].name, a, n) == 0))
            k++;
        if (k == nb || u->exp[base_units[k].dim] != 0)
            return -1;
        u->exp[base_units[k].dim] = e;
        u->size[base_units[k].dim] = base_units[k].size;
    }
    return divide ? -1 : 0;
}

/* value in Gaia's unit = value * *mul / *div for a column given in `given`, whose
 * unit in Gaia is `want`: 0, or -1 if the two are of different kinds. */
static int conversion(const unit *given, const unit *want, double *mul, double *div)
{
    *mul = *div = 1.0;
    for (int d = 0; d < ND; d++) {
        if (given->exp[d] != want->exp[d])
            return -1;
        if (!given->exp[d] || given->size[d] == want->size[d])
            continue;
        /* the larger size over the smaller: an exact whole number for the units above */
        int up = given->size[d] > want->size[d];
        double r = up ? given->size[d] / want->size[d] : want->size[d] / given->size[d];
        if (up == (given->exp[d] > 0))
            *mul *= r;
        else
            *div *= r;
    }
    return 0;
}

static const char *gaia_unit_of(const char *column)
{
    for (size_t k = 0; k < sizeof gaia_units / sizeof gaia_units[0]; k++)
        if (strcmp(gaia_units[k][0], column) == 0)
            return gaia_units[k][1];
    return NULL;
}

/* The unit inside the archive's older "Kind[unit]" spelling ("Angle[mas]",
 * "Angular Velocity[mas/year]"; "Dimensionless[see description]" has none). */
static const char *plain_unit(char *text)
{
    size_t n = strlen(text);
    char *open = strchr(text, '[');
    if (!open || n == 0 || text[n - 1] != ']')
        return text;
    if (strncmp(text, "Dimensionless", 13) == 0)
        return "";
    text[n - 1] = '\0';
    return open + 1;
}

int pf_gaia_units(pf_gaia_reader *r, pf_gaia_unit_fn unit_of, pf_err *err)
{
    for (size_t j = 0; j < r->ncol + NHIDDEN; j++) {
        const char *file_name = j < r->ncol ? (r->res[j] == RES_COLUMN ? r->source[j] : NULL)
                                : r->hidden_used ? pf_gaia_column_name(r, j) : NULL;
        const char *want_text = gaia_unit_of(pf_gaia_column_name(r, j));
        char buf[FLEN_VALUE];
        if (!file_name || !want_text || !unit_of(r, j, file_name, buf, sizeof buf))
            continue;
        const char *text = plain_unit(buf);
        unit given, want;
        parse_unit(want_text, &want);
        const char *in_gaia = *want_text ? want_text : "none, a pure number";
        if (parse_unit(text, &given) < 0)
            return pf_gaia_fail(r, err, PF_EFORMAT, "%s: column '%s' has unit '%s', which is not "
                                "known (Gaia's unit for it: %s)", r->path, file_name, text,
                                in_gaia);
        if (conversion(&given, &want, &r->mul[j], &r->div[j]) < 0)
            return pf_gaia_fail(r, err, PF_EFORMAT, "%s: column '%s' has unit '%s', which cannot "
                                "be converted to Gaia's unit for it (%s)", r->path, file_name,
                                text, in_gaia);
    }
    return PF_OK;
}

/*
 * observe.c -- luminosity function, DR3-like errors, toy dust, and the archive writer
 * (see include/phaseflow/observe.h for the contracts, docs/observe.md for the numbers).
 */
#include "phaseflow/observe.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "phaseflow/rng.h"

void pf_observe_lf_default(pf_observe_lf *lf)
{
    /* Why these numbers: stars with M_RVS < 0.98970 pass the completeness cut. With
     * G - G_RVS = 0.05 + 0.62 bp_rp, every clump star passes (M_RVS ~ -0.3), a giant
     * passes when M_G < ~1.8, a dwarf (M_G >= 2, blue) never does. The giant branch
     * below 1.8 holds 36% of its stars, so RC / (RC + 0.36 RGB) = 0.70 sets
     * RGB ~ 1.19 RC. Dwarfs are few: the mock's stars stand for the RVS sample. */
    lf->weight[PF_OBSERVE_RC] = 0.41;
    lf->weight[PF_OBSERVE_RGB] = 0.49;
    lf->weight[PF_OBSERVE_DWARF] = 0.10;
    lf->rc_mg = 0.5;
    lf->rc_sigma = 0.2;
    lf->rc_color = 1.2;
    lf->rgb_min = -3.0;
    lf->rgb_max = 3.5;
    lf->rgb_slope = 0.25;
    lf->rgb_color0 = 1.0;
    lf->rgb_color_slope = 0.12;
    lf->dwarf_min = 2.0;
    lf->dwarf_max = 9.0;
    lf->dwarf_color0 = 0.25;
    lf->dwarf_color_slope = 0.19;
    lf->color_sigma = 0.05;
}

int pf_observe_draw_lf(const pf_observe_lf *lf, gsl_rng *r, size_t n, double *mg,
                       double *bprp, int *kind, pf_err *err)
{
    double wsum = 0;
    for (int k = 0; k < PF_OBSERVE_NKIND; k++) {
        if (!(lf->weight[k] >= 0))
            return pf_err_set(err, PF_EINVAL, "luminosity function: weight %d is negative", k);
        wsum += lf->weight[k];
    }
    if (!(wsum > 0))
        return pf_err_set(err, PF_EINVAL, "luminosity function: weights sum to zero");
    if (!(lf->rgb_max > lf->rgb_min) || !(lf->dwarf_max > lf->dwarf_min) ||
        !(lf->rc_sigma >= 0) || !(lf->color_sigma >= 0))
        return pf_err_set(err, PF_EINVAL,
                          "luminosity function: empty magnitude range or negative sigma");
    double c0 = lf->weight[0] / wsum, c1 = (lf->weight[0] + lf->weight[1]) / wsum;
    /* the giant branch by inversion of its exponential CDF: b = slope ln 10 */
    double b = lf->rgb_slope * M_LN10;
    for (size_t i = 0; i < n; i++) {
        double u = pf_rng_uniform(r), w = pf_rng_uniform(r), g = pf_rng_normal(r);
        double m, c;
        int k;
        if (u < c0) {
            k = PF_OBSERVE_RC;
            m = lf->rc_mg + lf->rc_sigma * pf_rng_normal(r);
            c = lf->rc_color;
        } else if (u < c1) {
            k = PF_OBSERVE_RGB;
            if (fabs(b) < 1e-12)
                m = lf->rgb_min + w * (lf->rgb_max - lf->rgb_min);
            else
                m = lf->rgb_min + log1p(w * expm1(b * (lf->rgb_max - lf->rgb_min))) / b;
            c = lf->rgb_color0 + lf->rgb_color_slope * (lf->rgb_max - m);
        } else {
            k = PF_OBSERVE_DWARF;
            m = lf->dwarf_min + w * (lf->dwarf_max - lf->dwarf_min);
            c = lf->dwarf_color0 + lf->dwarf_color_slope * (m - lf->dwarf_min);
        }
        mg[i] = m;
        bprp[i] = c + lf->color_sigma * g;
        kind[i] = k;
    }
    return PF_OK;
}

double pf_observe_g_minus_grvs(double bprp)
{
    double c = bprp < 0 ? 0 : (bprp > 3 ? 3 : bprp);
    return 0.05 + 0.62 * c;
}

/* Parallax: sigma^2 = 0.02^2 + 3.22e-4 z + 6.2e-5 z^2 (mas^2), z = 10^(0.4 (G - 15)):
 * 0.020 mas bright, 0.028 at G = 15, 0.070 at G = 17 (Lindegren et al. 2021 quote
 * 0.02-0.03 for G < 15 and ~0.07 at 17). Proper motions and positions scale it.
 * Radial velocity: sigma^2 = s0^2 + (s12^2 - s0^2) 10^(k (G_RVS - 12)) with s0 = 0.9,
 * s12 = 1.3 and k such that sigma(14) = 6.4 km/s (Katz et al. 2023 medians). */
#define RV_FLOOR 0.9
#define RV_AT12 1.3
#define RV_AT14 6.4

void pf_observe_errors(double g, double grvs, double out[6])
{
    double z = pow(10.0, 0.4 * (g - 15.0));
    double sp = sqrt(0.02 * 0.02 + 3.22e-4 * z + 6.2e-5 * z * z);
    double a = RV_AT12 * RV_AT12 - RV_FLOOR * RV_FLOOR;
    double k = 0.5 * log10((RV_AT14 * RV_AT14 - RV_FLOOR * RV_FLOOR) / a);
    double sv = sqrt(RV_FLOOR * RV_FLOOR + a * pow(10.0, k * (grvs - 12.0)));
    out[0] = 0.8 * sp;
    out[1] = 0.7 * sp;
    out[2] = sp;
    out[3] = 1.0 * sp;
    out[4] = 0.9 * sp;
    out[5] = sv;
}

void pf_observe_extinction(const double sun[3], const pf_observe_cloud *clouds, size_t ncloud,
                           size_t n, const double *x, double *a_g)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double d[3], L2 = 0, a = 0;
        for (int j = 0; j < 3; j++) {
            d[j] = x[3 * i + j] - sun[j];
            L2 += d[j] * d[j];
        }
        for (size_t c = 0; c < ncloud && L2 > 0; c++) {
            /* segment s(t) = sun + t d, t in [0, 1]; |s(t) - c|^2 = r^2 at the roots */
            double w[3], b = 0, q = 0;
            for (int j = 0; j < 3; j++) {
                w[j] = sun[j] - clouds[c].c[j];
                b += w[j] * d[j];
                q += w[j] * w[j];
            }
            double r = clouds[c].r, disc = b * b - L2 * (q - r * r);
            if (disc <= 0 || !(r > 0)) continue;
            double sq = sqrt(disc);
            double t0 = (-b - sq) / L2, t1 = (-b + sq) / L2;
            if (t0 < 0) t0 = 0;
            if (t1 > 1) t1 = 1;
            if (t1 <= t0) continue;
            a += clouds[c].a_max * (t1 - t0) * sqrt(L2) / (2 * r);
        }
        a_g[i] = a;
    }
}

/* ---- writer ------------------------------------------------------------------ */

/* Why a buffer of our own: gzprintf formats through a small internal buffer per call;
 * formatting a block of rows with snprintf into one buffer and handing it to gzwrite
 * once costs a fraction of that. */
#define ROWS_PER_BLOCK 2048
#define DR3_SOLUTION_ID "1636148068921376768"

/* Exact powers of ten in long double (10^27 = 2^27 5^27 and 5^27 < 2^64). */
static const long double POW10L[28] = {
    1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L, 1e12L, 1e13L,
    1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L,
    1e26L, 1e27L};

/* Why not "%.17g" alone: glibc formats 17 significant digits through multi-precision
 * arithmetic, ~2 us per number, which made a million rows take minutes. Here the 17
 * digits m come from one long-double product sc = |v| 10^k by an exact power of ten
 * (error <= 2^-64 relative, i.e. < 0.01 in units of the last digit), and the text is
 * kept only if |m - sc| + 0.02 is below half an ulp of v in the same units: then the
 * decimal m 10^-k is nearer to v than to either neighbour, and any correct parser
 * returns v's bits. Otherwise (rare) or for subnormals, snprintf. Returns the length
 * written (<= 32), or 0 to ask for the fallback. */
static size_t fast17(char *out, double v)
{
    char *p = out;
    double a = fabs(v);
    if (signbit(v)) *p++ = '-';
    if (a == 0) {
        *p++ = '0';
        return (size_t)(p - out);
    }
    if (a < DBL_MIN) return 0;
    int e = (int)floor(log10(a));
    unsigned long long m = 0;
    long double sc = 0, pk = 1;
    for (int tries = 0; tries < 3; tries++) {
        int k = 16 - e;
        if (k > 27 || k < -27) return 0;
        pk = k >= 0 ? POW10L[k] : 1.0L / POW10L[-k];
        sc = k >= 0 ? (long double)a * POW10L[k] : (long double)a / POW10L[-k];
        m = (unsigned long long)llrintl(sc);
        if (m >= 100000000000000000ULL) e++;
        else if (m < 10000000000000000ULL) e--;
        else break;
    }
    if (m < 10000000000000000ULL || m >= 100000000000000000ULL) return 0;
    long double half_ulp = ldexpl(0.5L, ilogb(a) - 52) * pk;
    if (fabsl((long double)m - sc) + 0.02L >= half_ulp) return 0;
    char d[17];
    for (int i = 16; i >= 0; i--) {
        d[i] = (char)('0' + m % 10);
        m /= 10;
    }
    int nd = 17;
    while (nd > 1 && d[nd - 1] == '0') nd--;
    if (e >= 0 && e < 17) {
        for (int i = 0; i <= e; i++) *p++ = i < nd ? d[i] : '0';
        if (nd > e + 1) {
            *p++ = '.';
            for (int i = e + 1; i < nd; i++) *p++ = d[i];
        }
    } else if (e < 0 && e >= -5) {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -e - 1; i++) *p++ = '0';
        for (int i = 0; i < nd; i++) *p++ = d[i];
    } else {
        *p++ = d[0];
        if (nd > 1) {
            *p++ = '.';
            for (int i = 1; i < nd; i++) *p++ = d[i];
        }
        p += snprintf(p, 8, "e%+d", e);
    }
    return (size_t)(p - out);
}

static size_t put_double(char *p, double v)
{
    if (isnan(v)) return 0; /* the archive's missing value: an empty field */
    if (isinf(v)) {
        memcpy(p, v > 0 ? "inf" : "-inf", v > 0 ? 3 : 4);
        return v > 0 ? 3 : 4;
    }
    size_t k = fast17(p, v);
    if (k > 0) return k;
    return (size_t)snprintf(p, 32, "%.17g", v);
}

/* For tests: format v as the writer does; returns the length written into out (>= 33
 * bytes). */
size_t pf_observe_format_double(char *out, double v)
{
    size_t k = put_double(out, v);
    out[k] = 0;
    return k;
}

static int write_header(gzFile f, const pf_observe_table *t)
{
    if (gzprintf(f, "# %%ECSV 1.0\n# ---\n# delimiter: ','\n# datatype:\n") <= 0) return -1;
    gzprintf(f, "# - {name: solution_id, datatype: int64}\n");
    gzprintf(f, "# - {name: designation, datatype: string}\n");
    gzprintf(f, "# - {name: source_id, datatype: int64}\n");
    gzprintf(f, "# - {name: random_index, datatype: int64}\n");
    gzprintf(f, "# - {name: ref_epoch, unit: yr, datatype: float64}\n");
    for (size_t j = 0; j < t->ncol; j++) {
        const char *u = t->units ? t->units[j] : NULL;
        if (u && u[0])
            gzprintf(f, "# - {name: %s, unit: %s, datatype: float64}\n", t->names[j], u);
        else
            gzprintf(f, "# - {name: %s, datatype: float64}\n", t->names[j]);
    }
    gzprintf(f, "# meta: !!omap\n# - {name: gaia_source}\n");
    gzprintf(f, "solution_id,designation,source_id,random_index,ref_epoch");
    for (size_t j = 0; j < t->ncol; j++) gzprintf(f, ",%s", t->names[j]);
    return gzputc(f, '\n') < 0 ? -1 : 0;
}

int pf_observe_write_ecsv(const char *path, const pf_observe_table *t, size_t first,
                          size_t count, int level, pf_err *err)
{
    if (first > t->n || count > t->n - first)
        return pf_err_set(err, PF_EINVAL, "write_ecsv: rows %zu..%zu outside the table (%zu)",
                          first, first + count, t->n);
    if (level < 0 || level > 9)
        return pf_err_set(err, PF_EINVAL, "write_ecsv: zlib level %d not in 0..9", level);
    char mode[8];
    snprintf(mode, sizeof mode, "wb%d", level);
    gzFile f = gzopen(path, mode);
    if (!f) return pf_err_set(err, PF_EIO, "write_ecsv: cannot open '%s' for writing", path);
    gzbuffer(f, 1 << 18);
    /* a row: 5 leading fields (< 100 chars) + ncol doubles of <= 25 chars + commas */
    size_t rowmax = 128 + 32 * t->ncol;
    char *buf = malloc(rowmax * ROWS_PER_BLOCK);
    int st = PF_OK;
    if (!buf) {
        gzclose(f);
        return pf_err_set(err, PF_ENOMEM, "write_ecsv: no memory for the row buffer");
    }
    if (write_header(f, t) != 0) st = PF_EIO;
    for (size_t b = first; b < first + count && st == PF_OK; b += ROWS_PER_BLOCK) {
        size_t e = b + ROWS_PER_BLOCK < first + count ? b + ROWS_PER_BLOCK : first + count;
        char *p = buf;
        for (size_t i = b; i < e; i++) {
            long long id = (long long)t->source_id[i];
            p += snprintf(p, 128, DR3_SOLUTION_ID ",\"Gaia DR3 %lld\",%lld,%lld,2016.0", id, id,
                          (long long)t->random_index[i]);
            for (size_t j = 0; j < t->ncol; j++) {
                *p++ = ',';
                p += put_double(p, t->col[j][i]);
            }
            *p++ = '\n';
        }
        size_t len = (size_t)(p - buf);
        if (gzwrite(f, buf, (unsigned)len) != (int)len) st = PF_EIO;
    }
    free(buf);
    if (gzclose(f) != Z_OK) st = PF_EIO;
    if (st != PF_OK) return pf_err_set(err, st, "write_ecsv: writing '%s' failed", path);
    return PF_OK;
}

int pf_observe_write_files(const char *const *paths, const size_t *start, size_t nfile,
                           const pf_observe_table *t, int level, pf_err *err)
{
    if (nfile == 0 || start[0] != 0 || start[nfile] != t->n)
        return pf_err_set(err, PF_EINVAL, "write_files: row ranges must cover the table");
    for (size_t k = 0; k < nfile; k++)
        if (start[k + 1] < start[k])
            return pf_err_set(err, PF_EINVAL, "write_files: row ranges must increase");
    int status = PF_OK;
    long long bad = -1;
    pf_err first;
    pf_err_clear(&first);
#pragma omp parallel for schedule(dynamic, 1)
    for (long long k = 0; k < (long long)nfile; k++) {
        pf_err e;
        pf_err_clear(&e);
        int st = pf_observe_write_ecsv(paths[k], t, start[k], start[k + 1] - start[k], level, &e);
        if (st != PF_OK) {
#pragma omp critical(pf_observe_write)
            if (bad < 0 || k < bad) {
                bad = k;
                status = st;
                first = e;
            }
        }
    }
    if (status != PF_OK) return pf_err_set(err, status, "%s", first.msg);
    return PF_OK;
}

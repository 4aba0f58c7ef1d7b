/*
 * coords.c -- ICRS observables <-> the paper's Galactocentric frame, covariance
 * propagation, error-smeared resamples. Contracts in include/phaseflow/coords.h.
 *
 * The frame is an affine map: x = M d u + b, v = M v_icrs + w, with u the unit
 * vector toward the star, M a fixed rotation built as astropy builds its
 * Galactocentric rotation (then turned by 180 degrees about z), b the Sun's position
 * and w its velocity. Everything per star is a handful of trigonometric functions
 * and 3x3 products, so the loops are plain OpenMP loops over stars.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include "phaseflow/constants.h"
#include "phaseflow/coords.h"

#define DEG (M_PI / 180.0)
/* radians per milliarcsecond */
#define MAS (M_PI / (180.0 * 3600.0 * 1000.0))
/* astropy's angle between the Galactic plane and the x-z plane of the frame before
 * the roll (its _ROLL0 constant), in degrees. */
#define ROLL0_DEG 58.5986320306

void pf_coords_params_default(pf_coords_params *p)
{
    p->galcen_distance = PF_R0;
    p->z_sun = PF_Z_SUN;
    p->galcen_v_sun[0] = PF_GALCEN_V_SUN_X;
    p->galcen_v_sun[1] = PF_GALCEN_V_SUN_Y;
    p->galcen_v_sun[2] = PF_GALCEN_V_SUN_Z;
    p->roll = 0.0;
    p->galcen_ra = 266.4051;
    p->galcen_dec = -28.936175;
}

/* astropy's passive rotations: the matrix that expresses vectors in axes turned by
 * `a` radians about axis `axis` (0 = x, 1 = y, 2 = z). */
static void rotation(double m[3][3], double a, int axis)
{
    int i1 = (axis + 1) % 3, i2 = (axis + 2) % 3;
    double c = cos(a), s = sin(a);
    memset(m, 0, 9 * sizeof(double));
    m[axis][axis] = 1.0;
    m[i1][i1] = c;
    m[i1][i2] = s;
    m[i2][i1] = -s;
    m[i2][i2] = c;
}

static void matmul3(double c[3][3], double a[3][3], double b[3][3])
{
    double t[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            t[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
    memcpy(c, t, sizeof t);
}

int pf_coords_frame_init(pf_coords_frame *f, const pf_coords_params *p, pf_err *err)
{
    const double vals[] = {p->galcen_distance, p->z_sun, p->galcen_v_sun[0],
                           p->galcen_v_sun[1], p->galcen_v_sun[2], p->roll,
                           p->galcen_ra, p->galcen_dec};
    const char *names[] = {"galcen_distance", "z_sun", "galcen_v_sun", "galcen_v_sun",
                           "galcen_v_sun", "roll", "galcen_ra", "galcen_dec"};
    for (int i = 0; i < 8; i++)
        if (!isfinite(vals[i]))
            return pf_err_set(err, PF_EINVAL, "frame parameter %s is not finite", names[i]);
    if (!(p->galcen_distance > 0))
        return pf_err_set(err, PF_EINVAL, "galcen_distance must be > 0 kpc, got %g",
                          p->galcen_distance);
    if (!(fabs(p->z_sun) < p->galcen_distance))
        return pf_err_set(err, PF_EINVAL, "|z_sun| must be < galcen_distance, got %g kpc",
                          p->z_sun);

    double m0[3][3], m1[3][3], m2[3][3], h[3][3], a[3][3];
    rotation(m0, (ROLL0_DEG - p->roll) * DEG, 0);
    rotation(m1, -p->galcen_dec * DEG, 1);
    rotation(m2, p->galcen_ra * DEG, 2);
    rotation(h, -asin(p->z_sun / p->galcen_distance), 1);
    matmul3(a, m1, m2);
    matmul3(a, m0, a);
    matmul3(a, h, a);
    /* the turn by 180 degrees about z flips the signs of the x and y rows */
    for (int i = 0; i < 3; i++) {
        double s = i < 2 ? -1.0 : 1.0;
        for (int j = 0; j < 3; j++)
            f->rot[i][j] = s * a[i][j];
        f->offset[i] = -s * h[i][0] * p->galcen_distance;
        f->vsun[i] = s * p->galcen_v_sun[i];
    }
    return PF_OK;
}

void pf_coords_sun(const pf_coords_frame *f, double x[3], double v[3])
{
    for (int i = 0; i < 3; i++) {
        x[i] = f->offset[i];
        v[i] = f->vsun[i];
    }
}

/* The star's local ICRS basis: u toward the star, p toward increasing ra (east), q
 * toward increasing dec (north). */
static void basis(double ra_deg, double dec_deg, double u[3], double p[3], double q[3])
{
    double sa = sin(ra_deg * DEG), ca = cos(ra_deg * DEG);
    double sd = sin(dec_deg * DEG), cd = cos(dec_deg * DEG);
    u[0] = cd * ca; u[1] = cd * sa; u[2] = sd;
    p[0] = -sa;     p[1] = ca;      p[2] = 0.0;
    q[0] = -sd * ca; q[1] = -sd * sa; q[2] = cd;
}

static void rotate(const double m[3][3], const double a[3], double b[3])
{
    for (int i = 0; i < 3; i++)
        b[i] = m[i][0] * a[0] + m[i][1] * a[1] + m[i][2] * a[2];
}

static int star_bad(const double *const obs[6], size_t i)
{
    double s = 0.0;
    for (int k = 0; k < 6; k++)
        s += obs[k][i];
    return isnan(s) || isinf(s) || !(obs[2][i] > 0.0);
}

void pf_coords_to_galcen(const pf_coords_frame *f, size_t n, const double *const obs[6],
                         double *x, double *v)
{
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        if (star_bad(obs, i)) {
            for (int k = 0; k < 3; k++)
                x[3 * i + k] = v[3 * i + k] = NAN;
            continue;
        }
        double u[3], p[3], q[3], r[3], w[3];
        basis(obs[0][i], obs[1][i], u, p, q);
        double d = 1.0 / obs[2][i];
        double ka = PF_COORDS_K * d * obs[3][i], kd = PF_COORDS_K * d * obs[4][i];
        double vr = obs[5][i];
        for (int k = 0; k < 3; k++) {
            r[k] = d * u[k];
            w[k] = vr * u[k] + ka * p[k] + kd * q[k];
        }
        double xr[3], vw[3];
        rotate(f->rot, r, xr);
        rotate(f->rot, w, vw);
        for (int k = 0; k < 3; k++) {
            x[3 * i + k] = xr[k] + f->offset[k];
            v[3 * i + k] = vw[k] + f->vsun[k];
        }
    }
}

void pf_coords_from_galcen(const pf_coords_frame *f, size_t n, const double *x,
                           const double *v, double *const obs[6])
{
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double dx[3], dv[3], r[3], w[3];
        for (int k = 0; k < 3; k++) {
            dx[k] = x[3 * i + k] - f->offset[k];
            dv[k] = v[3 * i + k] - f->vsun[k];
        }
        /* the inverse rotation is the transpose */
        for (int k = 0; k < 3; k++) {
            r[k] = f->rot[0][k] * dx[0] + f->rot[1][k] * dx[1] + f->rot[2][k] * dx[2];
            w[k] = f->rot[0][k] * dv[0] + f->rot[1][k] * dv[1] + f->rot[2][k] * dv[2];
        }
        double rho = hypot(r[0], r[1]);
        double d = hypot(rho, r[2]);
        double ra = atan2(r[1], r[0]) / DEG;
        if (ra < 0.0)
            ra += 360.0;
        if (ra >= 360.0)
            ra -= 360.0;
        double dec = atan2(r[2], rho) / DEG;
        if (!(d > 0.0)) {
            ra = dec = NAN;
        }
        double u[3], p[3], q[3];
        basis(ra, dec, u, p, q);
        obs[0][i] = ra;
        obs[1][i] = dec;
        obs[2][i] = 1.0 / d;
        obs[3][i] = (p[0] * w[0] + p[1] * w[1] + p[2] * w[2]) / (PF_COORDS_K * d);
        obs[4][i] = (q[0] * w[0] + q[1] * w[1] + q[2] * w[2]) / (PF_COORDS_K * d);
        obs[5][i] = u[0] * w[0] + u[1] * w[1] + u[2] * w[2];
    }
}

/* The unit vectors come from ratios (x/R, z/r), not from sin and cos of the angles:
 * cheaper, and as exact. On the axis (R = 0) they follow atan2's phi = 0, and at the
 * origin theta = 0, so the components stay finite. */
void pf_coords_cylindrical(size_t n, const double *x, const double *v, double *R,
                           double *phi, double *z, double *v_R, double *v_phi,
                           double *v_z)
{
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        const double *xi = x + 3 * i;
        double rc = sqrt(xi[0] * xi[0] + xi[1] * xi[1]);
        if (R) R[i] = rc;
        if (phi) phi[i] = atan2(xi[1], xi[0]);
        if (z) z[i] = xi[2];
        if (!v)
            continue;
        const double *vi = v + 3 * i;
        double c = rc > 0.0 ? xi[0] / rc : 1.0, s = rc > 0.0 ? xi[1] / rc : 0.0;
        if (v_R) v_R[i] = c * vi[0] + s * vi[1];
        if (v_phi) v_phi[i] = -s * vi[0] + c * vi[1];
        if (v_z) v_z[i] = vi[2];
    }
}

void pf_coords_spherical(size_t n, const double *x, const double *v, double *r,
                         double *theta, double *v_r, double *v_theta)
{
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        const double *xi = x + 3 * i;
        double rc = sqrt(xi[0] * xi[0] + xi[1] * xi[1]);
        double rs = sqrt(rc * rc + xi[2] * xi[2]);
        if (r) r[i] = rs;
        if (theta) theta[i] = atan2(rc, xi[2]);
        if (!v)
            continue;
        const double *vi = v + 3 * i;
        double cp = rc > 0.0 ? xi[0] / rc : 1.0, sp = rc > 0.0 ? xi[1] / rc : 0.0;
        double st = rs > 0.0 ? rc / rs : 0.0, ct = rs > 0.0 ? xi[2] / rs : 1.0;
        double vcyl = cp * vi[0] + sp * vi[1];
        if (v_r) v_r[i] = st * vcyl + ct * vi[2];
        if (v_theta) v_theta[i] = ct * vcyl - st * vi[2];
    }
}

/* Jacobian of one star in the ICRS axes, before the rotation: columns are the
 * derivatives of (r, v_icrs) with respect to (alpha*, delta, parallax, pmra, pmdec,
 * rv). With d = 1/parallax, r = d u and v = rv u + k d (pmra p + pmdec q):
 *   du/dalpha* = p, du/ddelta = q (per radian), dp/dalpha* = -(u - tan(dec) q),
 *   dq/dalpha* = -tan(dec) p, dq/ddelta = -u, dp/ddelta = 0, dd/dparallax = -d^2. */
static void jacobian_star(const pf_coords_frame *f, const double o[6], double jac[6][6])
{
    double u[3], p[3], q[3];
    basis(o[0], o[1], u, p, q);
    double d = 1.0 / o[2], t = tan(o[1] * DEG);
    double ka = PF_COORDS_K * d * o[3], kd = PF_COORDS_K * d * o[4], vr = o[5];
    double col[6][6]; /* col[c][row] in ICRS axes */
    for (int k = 0; k < 3; k++) {
        col[0][k] = d * p[k] * MAS;
        col[1][k] = d * q[k] * MAS;
        col[2][k] = -d * d * u[k];
        col[3][k] = col[4][k] = col[5][k] = 0.0;
        col[0][3 + k] = (vr * p[k] - ka * (u[k] - t * q[k]) - kd * t * p[k]) * MAS;
        col[1][3 + k] = (vr * q[k] - kd * u[k]) * MAS;
        col[2][3 + k] = -d * (ka * p[k] + kd * q[k]);
        col[3][3 + k] = PF_COORDS_K * d * p[k];
        col[4][3 + k] = PF_COORDS_K * d * q[k];
        col[5][3 + k] = u[k];
    }
    for (int c = 0; c < 6; c++) {
        double a[3], b[3];
        rotate(f->rot, col[c], a);
        rotate(f->rot, col[c] + 3, b);
        for (int k = 0; k < 3; k++) {
            jac[k][c] = a[k];
            jac[3 + k][c] = b[k];
        }
    }
}

void pf_coords_jacobian(const pf_coords_frame *f, size_t n, const double *const obs[6],
                        double *jac)
{
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double o[6], j[6][6];
        for (int k = 0; k < 6; k++)
            o[k] = obs[k][i];
        if (star_bad(obs, i)) {
            for (int k = 0; k < 36; k++)
                jac[36 * i + k] = NAN;
            continue;
        }
        jacobian_star(f, o, j);
        memcpy(jac + 36 * i, j, sizeof j);
    }
}

void pf_coords_obs_cov(size_t n, const double *const err[6], const double *const corr[10],
                       double *cov_obs)
{
    /* the archive's correlation columns, as (row, column) of the 5x5 astrometric block */
    static const int ci[10] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 3};
    static const int cj[10] = {1, 2, 3, 4, 2, 3, 4, 3, 4, 4};
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double *c = cov_obs + 21 * i;
        for (int k = 0; k < 21; k++)
            c[k] = 0.0;
        for (int k = 0; k < 6; k++)
            c[PF_COORDS_TRI(k, k)] = err[k][i] * err[k][i];
        for (int m = 0; m < 10; m++)
            if (corr[m])
                c[PF_COORDS_TRI(ci[m], cj[m])] = corr[m][i] * err[ci[m]][i] * err[cj[m]][i];
    }
}

static void unpack(const double *t, double s[6][6])
{
    for (int a = 0; a < 6; a++)
        for (int b = a; b < 6; b++)
            s[a][b] = s[b][a] = t[PF_COORDS_TRI(a, b)];
}

/* C = J S J^T for one star: obs o, observable covariance s (full 6x6), result packed
 * into c (21 doubles). */
static void propagate_star(const pf_coords_frame *f, const double o[6], double s[6][6],
                           double *c)
{
    double j[6][6], js[6][6];
    jacobian_star(f, o, j);
    /* positions depend on (alpha*, delta, parallax) only: rows 0-2 of J are zero
     * beyond column 2, which halves the work of C = (J S) J^T */
    for (int a = 0; a < 6; a++) {
        int kmax = a < 3 ? 3 : 6;
        for (int b = 0; b < 6; b++) {
            double t = 0.0;
            for (int k = 0; k < kmax; k++)
                t += j[a][k] * s[k][b];
            js[a][b] = t;
        }
    }
    for (int a = 0; a < 6; a++)
        for (int b = a; b < 6; b++) {
            int kmax = b < 3 ? 3 : 6;
            double t = 0.0;
            for (int k = 0; k < kmax; k++)
                t += js[a][k] * j[b][k];
            c[PF_COORDS_TRI(a, b)] = t;
        }
}

void pf_coords_cov_galcen(const pf_coords_frame *f, size_t n, const double *const obs[6],
                          const double *cov_obs, double *cov)
{
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double o[6], s[6][6];
        double *c = cov + 21 * i;
        for (int k = 0; k < 6; k++)
            o[k] = obs[k][i];
        if (star_bad(obs, i)) {
            for (int k = 0; k < 21; k++)
                c[k] = NAN;
            continue;
        }
        unpack(cov_obs + 21 * i, s);
        propagate_star(f, o, s, c);
    }
}

/* The same as pf_coords_obs_cov followed by pf_coords_cov_galcen, without the n x 21
 * intermediate: each star's observable covariance lives on the stack. */
void pf_coords_cov_from_errors(const pf_coords_frame *f, size_t n, const double *const obs[6],
                               const double *const err[6], const double *const corr[10],
                               double *cov)
{
    static const int ci[10] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 3};
    static const int cj[10] = {1, 2, 3, 4, 2, 3, 4, 3, 4, 4};
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        double o[6], s[6][6];
        double *c = cov + 21 * i;
        for (int k = 0; k < 6; k++)
            o[k] = obs[k][i];
        if (star_bad(obs, i)) {
            for (int k = 0; k < 21; k++)
                c[k] = NAN;
            continue;
        }
        memset(s, 0, sizeof s);
        for (int k = 0; k < 6; k++)
            s[k][k] = err[k][i] * err[k][i];
        for (int m = 0; m < 10; m++)
            if (corr[m])
                s[ci[m]][cj[m]] = s[cj[m]][ci[m]] = corr[m][i] * err[ci[m]][i] * err[cj[m]][i];
        propagate_star(f, o, s, c);
    }
}

/* In-place Cholesky factor of a 6x6 symmetric matrix: on success (returns 1) the
 * lower triangle holds L with L L^T = S. Returns 0 if S is not positive definite or
 * holds a NaN. Hand-written rather than GSL's: at 6x6 GSL's blocked routine calls
 * BLAS, which is slow per star and would nest BLAS threads inside our OpenMP loop. */
static int cholesky6(double s[6][6])
{
    for (int j = 0; j < 6; j++) {
        double d = s[j][j];
        for (int k = 0; k < j; k++)
            d -= s[j][k] * s[j][k];
        if (!(d > 0.0) || isinf(d))
            return 0;
        d = sqrt(d);
        s[j][j] = d;
        for (int i = j + 1; i < 6; i++) {
            double t = s[i][j];
            for (int k = 0; k < j; k++)
                t -= s[i][k] * s[j][k];
            s[i][j] = t / d;
        }
    }
    return 1;
}

static size_t smear_block(size_t i0, size_t m, const double *const obs[6],
                          const double *cov_obs, const double *z, double *const out[6])
{
    size_t bad = 0;
    #pragma omp parallel for schedule(static) reduction(+ : bad)
    for (size_t i = i0; i < i0 + m; i++) {
        double s[6][6], o[6], dlt[6];
        int ok = 1;
        for (int k = 0; k < 6; k++) {
            o[k] = obs[k][i];
            if (isnan(o[k]) || isinf(o[k]))
                ok = 0;
        }
        if (ok) {
            unpack(cov_obs + 21 * i, s);
            ok = cholesky6(s);
        }
        if (!ok) {
            for (int k = 0; k < 6; k++)
                out[k][i] = NAN;
            bad++;
            continue;
        }
        /* the lower triangle of s now holds L with L L^T = S */
        for (int a = 0; a < 6; a++) {
            double t = 0.0;
            for (int b = 0; b <= a; b++)
                t += s[a][b] * z[6 * (i - i0) + b];
            dlt[a] = t;
        }
        /* angles on the tangent plane: the new direction is u + xi p + eta q, normed */
        double u[3], p[3], q[3], w[3];
        basis(o[0], o[1], u, p, q);
        double xi = dlt[0] * MAS, eta = dlt[1] * MAS;
        for (int k = 0; k < 3; k++)
            w[k] = u[k] + xi * p[k] + eta * q[k];
        double rho = hypot(w[0], w[1]);
        double ra = atan2(w[1], w[0]) / DEG;
        if (ra < 0.0)
            ra += 360.0;
        if (ra >= 360.0)
            ra -= 360.0;
        out[0][i] = ra;
        out[1][i] = atan2(w[2], rho) / DEG;
        for (int k = 2; k < 6; k++)
            out[k][i] = o[k] + dlt[k];
    }
    return bad;
}

/* Stars are smeared in blocks: the block's normals are drawn serially (so the
 * result does not depend on the thread count), then the block is transformed in
 * parallel. The block bounds the workspace. */
#define SMEAR_BLOCK 65536

int pf_coords_smear(size_t n, const double *const obs[6], const double *cov_obs,
                    gsl_rng *r, double *const out[6], size_t *nbad, pf_err *err)
{
    if (!r)
        return pf_err_set(err, PF_EINVAL, "smear: a generator is required");
    if (nbad)
        *nbad = 0;
    if (n == 0)
        return PF_OK;
    size_t block = n < SMEAR_BLOCK ? n : SMEAR_BLOCK;
    double *z = malloc(6 * block * sizeof(double));
    if (!z)
        return pf_err_set(err, PF_ENOMEM, "smear: out of memory for %zu stars", block);
    size_t bad = 0;
    for (size_t i0 = 0; i0 < n; i0 += block) {
        size_t m = n - i0 < block ? n - i0 : block;
        for (size_t i = 0; i < 6 * m; i++)
            z[i] = gsl_ran_gaussian_ziggurat(r, 1.0);
        bad += smear_block(i0, m, obs, cov_obs, z, out);
    }
    free(z);
    if (nbad)
        *nbad = bad;
    return PF_OK;
}

/*
 * spline.c -- the monotone rational-quadratic spline and its exact partials (see
 * phaseflow/spline.h).
 *
 * Why this shape: a flow evaluates the spline once per row, dimension and transform, so
 * the knots are built from the raw values in one pass (two softmaxes, K - 1 softplus) and
 * the derivative of every output with respect to every raw value follows from the bin's
 * six local quantities (left knot x_k, width w, y_k, height h, end derivatives d_k,
 * d_{k+1}) by the chain rule through the cumulative sums and the softmax:
 *   dF/draw_i = c p_i (a_i - sum_j a_j p_j),  a_j = dF/dW_j,  c = 2B(1 - mK),
 * where a_j = dF/dx_k for bins left of k, dF/dw for bin k and 0 to its right.
 */
#include <math.h>
#include <stddef.h>
#include "phaseflow/spline.h"

/* The knots of one variable's spline. Only the two derivatives at the ends of the bin in
 * use are computed (d[0], d[1] with their d/draw in sg): the other K - 2 never act. */
typedef struct knots {
    int K;
    double c;                                  /* 2B(1 - mK): dW_j/dp_j */
    double xk[PF_SPLINE_MAXBINS + 1], yk[PF_SPLINE_MAXBINS + 1];
    double pw[PF_SPLINE_MAXBINS], ph[PF_SPLINE_MAXBINS]; /* softmax probabilities */
    double d[2], sg[2];                        /* the bin's end derivatives, dd/draw */
} knots;

int pf_spline_nraw(int bins) { return 3 * bins - 1; }

static void softmax(const double *raw, int stride, int K, double *p)
{
    double mx = raw[0];
    for (int j = 1; j < K; j++)
        if (raw[j * stride] > mx)
            mx = raw[j * stride];
    double s = 0;
    for (int j = 0; j < K; j++) {
        p[j] = exp(raw[j * stride] - mx);
        s += p[j];
    }
    for (int j = 0; j < K; j++)
        p[j] /= s;
}

/* Knot positions from probabilities: -B, cumulative widths, and B exactly at the end (so
 * the forward and inverse maps share the same bins to the last bit). */
static void cumulate(const double *p, int K, double B, double c, double *k)
{
    k[0] = -B;
    for (int j = 0; j < K - 1; j++)
        k[j + 1] = k[j] + (2.0 * B * PF_SPLINE_MIN + c * p[j]);
    k[K] = B;
}

/* softplus(raw_d + s0) + m = 1 at raw_d = 0: s0 = ln(e^(1-m) - 1) (a double that round-trips) */
#define SPLINE_S0 0.539742417236952

static void build(knots *q, int K, double B, const double *raw, int stride)
{
    q->K = K;
    q->c = 2.0 * B * (1.0 - PF_SPLINE_MIN * K);
    softmax(raw, stride, K, q->pw);
    softmax(raw + K * stride, stride, K, q->ph);
    cumulate(q->pw, K, B, q->c, q->xk);
    cumulate(q->ph, K, B, q->c, q->yk);
}

/* Knot j's derivative (1 at the ends) into d, its derivative with respect to its raw value
 * into sg (0 at the ends): one exp serves softplus and sigmoid. */
static void knot_slope(const double *raw, int stride, int K, int j, double *d, double *sg)
{
    if (j == 0 || j == K) {
        *d = 1.0;
        *sg = 0.0;
        return;
    }
    double a = raw[(2 * K + j - 1) * stride] + SPLINE_S0, e = exp(-fabs(a));
    *d = PF_SPLINE_MIN + (a > 0 ? a : 0.0) + log1p(e);
    *sg = a >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

static void bin_slopes(knots *q, const double *raw, int stride, int b)
{
    knot_slope(raw, stride, q->K, b, &q->d[0], &q->sg[0]);
    knot_slope(raw, stride, q->K, b + 1, &q->d[1], &q->sg[1]);
}

/* Largest j in 0..K-1 with k[j] <= v (v inside [k[0], k[K]]). */
static int bin_of(const double *k, int K, double v)
{
    int j = 0;
    while (j + 1 < K && v >= k[j + 1])
        j++;
    return j;
}

/* The spline inside bin b at xi: z and L, and with g the partials. */
static double local(const knots *q, int b, double xi, double *L, pf_spline_grad *g)
{
    const int K = q->K;
    double w = q->xk[b + 1] - q->xk[b], h = q->yk[b + 1] - q->yk[b], s = h / w;
    double d0 = q->d[0], d1 = q->d[1];
    double om = 1.0 - xi, th = xi * om, e = d0 + d1 - 2.0 * s;
    double N = h * (s * xi * xi + d0 * th), Dn = s + e * th;
    double M = d1 * xi * xi + 2.0 * s * th + d0 * om * om;
    double r = N / Dn;
    *L = 2.0 * log(s) + log(M) - 2.0 * log(Dn);
    if (!g)
        return q->yk[b] + r;
    double thp = 1.0 - 2.0 * xi;
    /* partials of z and L in (xi, s, h, d0, d1) */
    double z_xi = (h * (2.0 * s * xi + d0 * thp) - r * e * thp) / Dn;
    double z_s = (h * xi * xi - r * (1.0 - 2.0 * th)) / Dn;
    double z_h = (s * xi * xi + d0 * th) / Dn;
    double z_d0 = (h * th - r * th) / Dn;
    double z_d1 = -r * th / Dn;
    double L_xi = (2.0 * d1 * xi + 2.0 * s * thp - 2.0 * d0 * om) / M - 2.0 * e * thp / Dn;
    double L_s = 2.0 / s + 2.0 * th / M - 2.0 * (1.0 - 2.0 * th) / Dn;
    double L_d0 = om * om / M - 2.0 * th / Dn;
    double L_d1 = xi * xi / M - 2.0 * th / Dn;
    g->dz_dx = z_xi / w;
    g->dL_dx = L_xi / w;
    /* in the bin's own quantities: left knots (x_k, y_k), width w, height h */
    double F[2][4] = {{-z_xi / w, -(xi * z_xi + s * z_s) / w, 1.0, z_h + z_s / w},
                      {-L_xi / w, -(xi * L_xi + s * L_s) / w, 0.0, L_s / w}};
    double Fd[2][2] = {{z_d0, z_d1}, {L_d0, L_d1}};
    double *out[2] = {g->dz_draw, g->dL_draw};
    const int st = g->stride;
    double left_w = 0, left_h = 0;
    for (int j = 0; j < b; j++) {
        left_w += q->pw[j];
        left_h += q->ph[j];
    }
    for (int v = 0; v < 2; v++) {
        double *o = out[v];
        double mw = F[v][0] * left_w + F[v][1] * q->pw[b];
        double mh = F[v][2] * left_h + F[v][3] * q->ph[b];
        for (int j = 0; j < K; j++) {
            double aw = j < b ? F[v][0] : j == b ? F[v][1] : 0.0;
            double ah = j < b ? F[v][2] : j == b ? F[v][3] : 0.0;
            o[j * st] = q->c * q->pw[j] * (aw - mw);
            o[(K + j) * st] = q->c * q->ph[j] * (ah - mh);
        }
        for (int j = 1; j < K; j++)
            o[(2 * K + j - 1) * st] = 0.0;
        if (b >= 1)
            o[(2 * K + b - 1) * st] = Fd[v][0] * q->sg[0];
        if (b + 1 <= K - 1)
            o[(2 * K + b) * st] = Fd[v][1] * q->sg[1];
    }
    return q->yk[b] + r;
}

static void tail(pf_spline_grad *g, int K)
{
    g->dz_dx = 1.0;
    g->dL_dx = 0.0;
    for (int j = 0; j < 3 * K - 1; j++)
        g->dz_draw[j * g->stride] = g->dL_draw[j * g->stride] = 0.0;
}

double pf_spline_forward(int bins, double bound, const double *raw, int stride, double x,
                         double *L, pf_spline_grad *g)
{
    if (!(x > -bound && x < bound)) { /* the identity outside (and at) the ends */
        *L = 0.0;
        if (g)
            tail(g, bins);
        return x;
    }
    knots q;
    build(&q, bins, bound, raw, stride);
    int b = bin_of(q.xk, bins, x);
    bin_slopes(&q, raw, stride, b);
    double w = q.xk[b + 1] - q.xk[b];
    double xi = (x - q.xk[b]) / w;
    return local(&q, b, xi < 0 ? 0 : xi > 1 ? 1 : xi, L, g);
}

double pf_spline_inverse(int bins, double bound, const double *raw, int stride, double z,
                         double *L)
{
    if (!(z > -bound && z < bound)) {
        *L = 0.0;
        return z;
    }
    knots q;
    build(&q, bins, bound, raw, stride);
    int b = bin_of(q.yk, bins, z);
    bin_slopes(&q, raw, stride, b);
    double w = q.xk[b + 1] - q.xk[b], h = q.yk[b + 1] - q.yk[b], s = h / w;
    double d0 = q.d[0], d1 = q.d[1], e = d0 + d1 - 2.0 * s, zr = z - q.yk[b];
    /* a xi^2 + b xi + c = 0 with c <= 0 < b, a + b + c >= 0: the root in [0, 1] is
     * 2c / (-b - sqrt(b^2 - 4ac)), which has no cancellation */
    double qa = h * (s - d0) + zr * e, qb = h * d0 - zr * e, qc = -s * zr;
    double disc = qb * qb - 4.0 * qa * qc;
    double xi = 2.0 * qc / (-qb - sqrt(disc > 0 ? disc : 0));
    xi = xi < 0 ? 0 : xi > 1 ? 1 : xi;
    (void)local(&q, b, xi, L, NULL);
    return q.xk[b] + xi * w;
}

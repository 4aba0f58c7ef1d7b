/* array.c -- strided double arrays: elementwise kernels, reductions, matmul. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <cblas.h>
#include "phaseflow/array.h"

size_t pf_shape_size(int ndim, const size_t *shape)
{
    if (ndim < 1 || ndim > PF_MAXDIM)
        return 0;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] != 0 && n > SIZE_MAX / sizeof(double) / shape[i])
            return 0;
        n *= shape[i];
    }
    return n;
}

int pf_array_init(pf_array *a, double *data, int ndim, const size_t *shape)
{
    if (ndim < 1 || ndim > PF_MAXDIM)
        return PF_EINVAL;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] != 0 && n > SIZE_MAX / sizeof(double) / shape[i])
            return PF_EINVAL;
        n *= shape[i];
    }
    a->data = data;
    a->ndim = ndim;
    a->size = n;
    ptrdiff_t s = 1;
    for (int i = PF_MAXDIM - 1; i >= 0; i--) {
        if (i >= ndim) {
            a->shape[i] = 1;
            a->stride[i] = 0;
        } else {
            a->shape[i] = shape[i];
            a->stride[i] = s;
            s *= (ptrdiff_t)shape[i];
        }
    }
    return PF_OK;
}

int pf_array_is_contiguous(const pf_array *a)
{
    ptrdiff_t s = 1;
    for (int i = a->ndim - 1; i >= 0; i--) {
        if (a->shape[i] != 1 && a->stride[i] != s)
            return 0;
        s *= (ptrdiff_t)a->shape[i];
    }
    return 1;
}

double *pf_array_ptr(const pf_array *a, const size_t *idx)
{
    ptrdiff_t off = 0;
    for (int i = 0; i < a->ndim; i++)
        off += (ptrdiff_t)idx[i] * a->stride[i];
    return a->data + off;
}

int pf_array_same_shape(const pf_array *a, const pf_array *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

/* Odometer over the elements of a strided array in row-major order: `off` is the
 * element offset of the current index. Kept on the stack; no allocation. */
typedef struct {
    size_t idx[PF_MAXDIM];
    ptrdiff_t off;
} iter;

static void iter_next(iter *it, const pf_array *a)
{
    for (int d = a->ndim - 1; d >= 0; d--) {
        it->idx[d]++;
        it->off += a->stride[d];
        if (it->idx[d] < a->shape[d])
            return;
        it->off -= (ptrdiff_t)a->shape[d] * a->stride[d];
        it->idx[d] = 0;
    }
}

void pf_array_pack(const pf_array *a, double *dst)
{
    if (pf_array_is_contiguous(a)) {
        if (a->size)
            memcpy(dst, a->data, a->size * sizeof(double));
        return;
    }
    iter it = {{0}, 0};
    for (size_t i = 0; i < a->size; i++, iter_next(&it, a))
        dst[i] = a->data[it.off];
}

void pf_array_fill(pf_array *a, double value)
{
    iter it = {{0}, 0};
    for (size_t i = 0; i < a->size; i++, iter_next(&it, a))
        a->data[it.off] = value;
}

int pf_array_copy(pf_array *dst, const pf_array *src)
{
    if (!pf_array_same_shape(dst, src))
        return PF_ESHAPE;
    if (pf_array_is_contiguous(dst) && pf_array_is_contiguous(src)) {
        if (src->size)
            memmove(dst->data, src->data, src->size * sizeof(double));
        return PF_OK;
    }
    iter is = {{0}, 0}, id = {{0}, 0};
    for (size_t i = 0; i < src->size; i++, iter_next(&is, src), iter_next(&id, dst))
        dst->data[id.off] = src->data[is.off];
    return PF_OK;
}

static double apply_bin(int op, double x, double y)
{
    switch (op) {
    case PF_ADD: return x + y;
    case PF_SUB: return x - y;
    case PF_MUL: return x * y;
    case PF_DIV: return x / y;
    case PF_POW: return pow(x, y);
    case PF_MIN2: return (isnan(x) || isnan(y)) ? NAN : (x < y ? x : y);
    case PF_MAX2: return (isnan(x) || isnan(y)) ? NAN : (x > y ? x : y);
    case PF_LT: return x < y;
    case PF_LE: return x <= y;
    case PF_GT: return x > y;
    case PF_GE: return x >= y;
    case PF_EQ: return x == y;
    case PF_NE: return x != y;
    case PF_AND: return (x != 0) && (y != 0);
    case PF_OR: return (x != 0) || (y != 0);
    case PF_ATAN2: return atan2(x, y);
    default: return NAN;
    }
}

static double apply_un(int op, double x)
{
    switch (op) {
    case PF_NEG: return -x;
    case PF_ABS: return fabs(x);
    case PF_SQRT: return sqrt(x);
    case PF_EXP: return exp(x);
    case PF_LOG: return log(x);
    case PF_LOG10: return log10(x);
    case PF_SIN: return sin(x);
    case PF_COS: return cos(x);
    case PF_TAN: return tan(x);
    case PF_ASIN: return asin(x);
    case PF_ACOS: return acos(x);
    case PF_ATAN: return atan(x);
    case PF_SINH: return sinh(x);
    case PF_COSH: return cosh(x);
    case PF_TANH: return tanh(x);
    case PF_FLOOR: return floor(x);
    case PF_CEIL: return ceil(x);
    case PF_NOT: return x == 0;
    case PF_ISFINITE: return isfinite(x) ? 1.0 : 0.0;
    case PF_ISNAN: return isnan(x) ? 1.0 : 0.0;
    case PF_SQUARE: return x * x;
    case PF_LOG1P: return log1p(x);
    case PF_EXPM1: return expm1(x);
    case PF_ERF: return erf(x);
    case PF_ATANH: return atanh(x);
    default: return NAN;
    }
}

/* Contiguous fast paths: the common arithmetic gets loops the compiler vectorises;
 * the rest goes through apply_bin without the odometer. */
static void binop_contig(double *d, const double *x, const double *y, size_t n, int op)
{
    switch (op) {
    case PF_ADD: for (size_t i = 0; i < n; i++) d[i] = x[i] + y[i]; break;
    case PF_SUB: for (size_t i = 0; i < n; i++) d[i] = x[i] - y[i]; break;
    case PF_MUL: for (size_t i = 0; i < n; i++) d[i] = x[i] * y[i]; break;
    case PF_DIV: for (size_t i = 0; i < n; i++) d[i] = x[i] / y[i]; break;
    default: for (size_t i = 0; i < n; i++) d[i] = apply_bin(op, x[i], y[i]); break;
    }
}

static void binop_scalar_contig(double *d, const double *x, double s, size_t n, int op,
                                int scalar_first)
{
    if (!scalar_first || op == PF_ADD || op == PF_MUL) {
        switch (op) {
        case PF_ADD: for (size_t i = 0; i < n; i++) d[i] = x[i] + s; return;
        case PF_SUB: for (size_t i = 0; i < n; i++) d[i] = x[i] - s; return;
        case PF_MUL: for (size_t i = 0; i < n; i++) d[i] = x[i] * s; return;
        case PF_DIV: for (size_t i = 0; i < n; i++) d[i] = x[i] / s; return;
        default: break;
        }
    }
    for (size_t i = 0; i < n; i++)
        d[i] = scalar_first ? apply_bin(op, s, x[i]) : apply_bin(op, x[i], s);
}

int pf_array_binop(pf_array *dst, const pf_array *a, const pf_array *b, int op)
{
    if (!pf_array_same_shape(a, b) || !pf_array_same_shape(dst, a))
        return PF_ESHAPE;
    if (op < PF_ADD || op > PF_ATAN2)
        return PF_EINVAL;
    if (pf_array_is_contiguous(a) && pf_array_is_contiguous(b) && pf_array_is_contiguous(dst)) {
        binop_contig(dst->data, a->data, b->data, a->size, op);
        return PF_OK;
    }
    iter ia = {{0}, 0}, ib = {{0}, 0}, id = {{0}, 0};
    for (size_t i = 0; i < a->size; i++) {
        dst->data[id.off] = apply_bin(op, a->data[ia.off], b->data[ib.off]);
        iter_next(&ia, a);
        iter_next(&ib, b);
        iter_next(&id, dst);
    }
    return PF_OK;
}

int pf_array_binop_scalar(pf_array *dst, const pf_array *a, double s, int op,
                          int scalar_first)
{
    if (!pf_array_same_shape(dst, a))
        return PF_ESHAPE;
    if (op < PF_ADD || op > PF_ATAN2)
        return PF_EINVAL;
    if (pf_array_is_contiguous(a) && pf_array_is_contiguous(dst)) {
        binop_scalar_contig(dst->data, a->data, s, a->size, op, scalar_first);
        return PF_OK;
    }
    iter ia = {{0}, 0}, id = {{0}, 0};
    for (size_t i = 0; i < a->size; i++) {
        double x = a->data[ia.off];
        dst->data[id.off] = scalar_first ? apply_bin(op, s, x) : apply_bin(op, x, s);
        iter_next(&ia, a);
        iter_next(&id, dst);
    }
    return PF_OK;
}

int pf_array_unop(pf_array *dst, const pf_array *a, int op)
{
    if (!pf_array_same_shape(dst, a))
        return PF_ESHAPE;
    if (op < PF_NEG || op > PF_ATANH)
        return PF_EINVAL;
    if (pf_array_is_contiguous(a) && pf_array_is_contiguous(dst)) {
        double *d = dst->data;
        const double *x = a->data;
        size_t n = a->size;
        switch (op) {
        case PF_NEG: for (size_t i = 0; i < n; i++) d[i] = -x[i]; break;
        case PF_ABS: for (size_t i = 0; i < n; i++) d[i] = fabs(x[i]); break;
        case PF_SQRT: for (size_t i = 0; i < n; i++) d[i] = sqrt(x[i]); break;
        case PF_SQUARE: for (size_t i = 0; i < n; i++) d[i] = x[i] * x[i]; break;
        default: for (size_t i = 0; i < n; i++) d[i] = apply_un(op, x[i]); break;
        }
        return PF_OK;
    }
    iter ia = {{0}, 0}, id = {{0}, 0};
    for (size_t i = 0; i < a->size; i++) {
        dst->data[id.off] = apply_un(op, a->data[ia.off]);
        iter_next(&ia, a);
        iter_next(&id, dst);
    }
    return PF_OK;
}

/* Reduce n values at base[k*stride]. Two-pass for mean/std/var: the plain
 * sum-of-squares formula loses every digit on data like positions near 8.122 kpc. */
static double reduce_line(const double *base, size_t n, ptrdiff_t stride, int op, int ddof)
{
    size_t k;
    switch (op) {
    case PF_SUM: {
        double s = 0;
        for (k = 0; k < n; k++)
            s += base[(ptrdiff_t)k * stride];
        return s;
    }
    case PF_PROD: {
        double p = 1;
        for (k = 0; k < n; k++)
            p *= base[(ptrdiff_t)k * stride];
        return p;
    }
    case PF_MEAN: {
        if (n == 0)
            return NAN;
        double s = 0;
        for (k = 0; k < n; k++)
            s += base[(ptrdiff_t)k * stride];
        return s / (double)n;
    }
    case PF_STD:
    case PF_VAR: {
        if (n == 0 || (size_t)ddof >= n)
            return NAN;
        double m = 0, ss = 0;
        for (k = 0; k < n; k++)
            m += base[(ptrdiff_t)k * stride];
        m /= (double)n;
        for (k = 0; k < n; k++) {
            double d = base[(ptrdiff_t)k * stride] - m;
            ss += d * d;
        }
        double v = ss / (double)(n - (size_t)ddof);
        return op == PF_VAR ? v : sqrt(v);
    }
    case PF_MINR:
    case PF_MAXR: {
        if (n == 0)
            return NAN;
        double r = base[0];
        for (k = 0; k < n; k++) {
            double x = base[(ptrdiff_t)k * stride];
            if (isnan(x))
                return NAN;
            if (op == PF_MINR ? x < r : x > r)
                r = x;
        }
        return r;
    }
    default:
        return NAN;
    }
}

int pf_array_reduce_all(const pf_array *a, int op, int ddof, double *out)
{
    if (op < PF_SUM || op > PF_PROD || ddof < 0)
        return PF_EINVAL;
    if (pf_array_is_contiguous(a)) {
        *out = reduce_line(a->data, a->size, 1, op, ddof);
        return PF_OK;
    }
    if (a->ndim == 1) {
        *out = reduce_line(a->data, a->size, a->stride[0], op, ddof);
        return PF_OK;
    }
    /* A strided N-D view: reduce its rows along the last axis, then those results. */
    size_t rows = a->size / (a->shape[a->ndim - 1] ? a->shape[a->ndim - 1] : 1);
    if (a->shape[a->ndim - 1] == 0) {
        *out = reduce_line(a->data, 0, 1, op, ddof);
        return PF_OK;
    }
    if (op == PF_STD || op == PF_VAR || op == PF_MEAN) {
        double sum = 0, n = (double)a->size;
        iter it = {{0}, 0};
        for (size_t i = 0; i < a->size; i++, iter_next(&it, a))
            sum += a->data[it.off];
        if (op == PF_MEAN) {
            *out = a->size ? sum / n : NAN;
            return PF_OK;
        }
        if (a->size == 0 || (size_t)ddof >= a->size) {
            *out = NAN;
            return PF_OK;
        }
        double m = sum / n, ss = 0;
        iter it2 = {{0}, 0};
        for (size_t i = 0; i < a->size; i++, iter_next(&it2, a)) {
            double d = a->data[it2.off] - m;
            ss += d * d;
        }
        double v = ss / (n - ddof);
        *out = op == PF_VAR ? v : sqrt(v);
        return PF_OK;
    }
    double acc = op == PF_PROD ? 1.0 : 0.0;
    int first = 1;
    pf_array lead = *a;
    lead.ndim = a->ndim - 1;
    lead.size = rows;
    lead.shape[lead.ndim] = 1;
    lead.stride[lead.ndim] = 0;
    iter it = {{0}, 0};
    for (size_t i = 0; i < rows; i++, iter_next(&it, &lead)) {
        double r = reduce_line(a->data + it.off, a->shape[a->ndim - 1],
                               a->stride[a->ndim - 1], op, 0);
        if (op == PF_SUM)
            acc += r;
        else if (op == PF_PROD)
            acc *= r;
        else if (first || isnan(r) || (op == PF_MINR ? r < acc : r > acc))
            acc = isnan(acc) ? acc : r;
        first = 0;
    }
    *out = acc;
    return PF_OK;
}

int pf_array_reduce_axis(const pf_array *a, int axis, int op, int ddof, pf_array *out)
{
    if (axis < 0 || axis >= a->ndim || op < PF_SUM || op > PF_PROD || ddof < 0)
        return PF_EINVAL;
    /* out's shape is a's shape without `axis` (or one element for 1-D input). */
    size_t expect = a->ndim == 1 ? 1 : a->size / (a->shape[axis] ? a->shape[axis] : 1);
    if (a->shape[axis] == 0) {
        expect = 1;
        for (int d = 0; d < a->ndim; d++)
            if (d != axis)
                expect *= a->shape[d];
    }
    if (out->size != expect)
        return PF_ESHAPE;
    /* Walk over the index space of `a` without `axis`. */
    pf_array rest = *a;
    int r = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (d == axis)
            continue;
        rest.shape[r] = a->shape[d];
        rest.stride[r] = a->stride[d];
        r++;
    }
    if (r == 0) {
        rest.ndim = 1;
        rest.shape[0] = 1;
        rest.stride[0] = 0;
        rest.size = 1;
    } else {
        rest.ndim = r;
        rest.size = expect;
    }
    for (int d = rest.ndim; d < PF_MAXDIM; d++) {
        rest.shape[d] = 1;
        rest.stride[d] = 0;
    }
    iter ir = {{0}, 0}, io = {{0}, 0};
    for (size_t i = 0; i < rest.size; i++) {
        out->data[io.off] =
            reduce_line(a->data + ir.off, a->shape[axis], a->stride[axis], op, ddof);
        iter_next(&ir, &rest);
        iter_next(&io, out);
    }
    return PF_OK;
}

int pf_array_matmul(pf_array *c, const pf_array *a, const pf_array *b)
{
    if (a->ndim != 2 || b->ndim != 2 || c->ndim != 2)
        return PF_ESHAPE;
    size_t n = a->shape[0], k = a->shape[1], m = b->shape[1];
    if (b->shape[0] != k || c->shape[0] != n || c->shape[1] != m)
        return PF_ESHAPE;
    if (!pf_array_is_contiguous(a) || !pf_array_is_contiguous(b) ||
        !pf_array_is_contiguous(c))
        return PF_EINVAL;
    if (n == 0 || m == 0)
        return PF_OK;
    if (k == 0) {
        memset(c->data, 0, n * m * sizeof(double));
        return PF_OK;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)m, (int)k, 1.0,
                a->data, (int)k, b->data, (int)m, 0.0, c->data, (int)m);
    return PF_OK;
}

/*
 * phaseflow/array.h -- strided n-dimensional arrays of doubles.
 *
 * A pf_array is a *descriptor*: it never owns memory. Whoever creates it (a Lua
 * userdata, a C caller's malloc) owns `data`. Shapes are row-major; strides are in
 * elements (not bytes) so that views (a row, a column, a block of rows) share the
 * parent's memory. Most kernels want contiguous row-major data: test with
 * pf_array_is_contiguous and pack with pf_array_pack when needed.
 *
 * Indices in this C API are 0-based; the Lua binding is 1-based.
 */
#ifndef PHASEFLOW_ARRAY_H
#define PHASEFLOW_ARRAY_H

#include <stddef.h>
#include "phaseflow/common.h"

#define PF_MAXDIM 4

typedef struct pf_array {
    double *data;                 /* first element */
    int ndim;                     /* 1 .. PF_MAXDIM */
    size_t shape[PF_MAXDIM];      /* extents; unused dims are 1 */
    ptrdiff_t stride[PF_MAXDIM];  /* element strides; unused dims are 0 */
    size_t size;                  /* product of shape[0..ndim-1] */
} pf_array;

/* Describe contiguous row-major memory `data` of the given shape. Returns PF_EINVAL
 * if ndim is outside 1..PF_MAXDIM or the element count overflows size_t. */
int pf_array_init(pf_array *a, double *data, int ndim, const size_t *shape);

/* Number of elements of a shape (0 on overflow or bad ndim). */
size_t pf_shape_size(int ndim, const size_t *shape);

/* 1 if `a` is contiguous row-major, else 0. */
int pf_array_is_contiguous(const pf_array *a);

/* Address of element idx[0..ndim-1] (no bounds check: callers check). */
double *pf_array_ptr(const pf_array *a, const size_t *idx);

/* Copy all elements of `a`, in row-major order, into `dst` (a->size doubles). */
void pf_array_pack(const pf_array *a, double *dst);

/* 1 if a and b have the same ndim and shape. */
int pf_array_same_shape(const pf_array *a, const pf_array *b);

/* Elementwise operations. dst must have the shape of the inputs (it may alias them).
 * Binary ops: dst = a OP b (arrays of one shape) or a OP s / s OP a (scalar). */
enum pf_binop { PF_ADD, PF_SUB, PF_MUL, PF_DIV, PF_POW, PF_MIN2, PF_MAX2,
                PF_LT, PF_LE, PF_GT, PF_GE, PF_EQ, PF_NE, PF_AND, PF_OR, PF_ATAN2 };
enum pf_unop { PF_NEG, PF_ABS, PF_SQRT, PF_EXP, PF_LOG, PF_LOG10, PF_SIN, PF_COS,
               PF_TAN, PF_ASIN, PF_ACOS, PF_ATAN, PF_SINH, PF_COSH, PF_TANH,
               PF_FLOOR, PF_CEIL, PF_NOT, PF_ISFINITE, PF_ISNAN, PF_SQUARE,
               PF_LOG1P, PF_EXPM1, PF_ERF, PF_ATANH };

int pf_array_binop(pf_array *dst, const pf_array *a, const pf_array *b, int op);
int pf_array_binop_scalar(pf_array *dst, const pf_array *a, double s, int op,
                          int scalar_first);
int pf_array_unop(pf_array *dst, const pf_array *a, int op);
void pf_array_fill(pf_array *a, double value);
/* dst = src elementwise (shapes must match; they may be views). */
int pf_array_copy(pf_array *dst, const pf_array *src);

/* Reductions. With axis < 0 reduce all elements into *out (one double). With
 * 0 <= axis < ndim, `out` must describe an array whose shape is `a`'s without that
 * axis (for a 1-D input reduce to one element). PF_STD uses `ddof` (0: population,
 * 1: sample). NaNs propagate (sum of an array with a NaN is NaN). An empty
 * reduction gives 0 for SUM, NaN for the others. */
enum pf_reduce { PF_SUM, PF_MEAN, PF_STD, PF_VAR, PF_MINR, PF_MAXR, PF_PROD };
int pf_array_reduce_all(const pf_array *a, int op, int ddof, double *out);
int pf_array_reduce_axis(const pf_array *a, int axis, int op, int ddof, pf_array *out);

/* Matrix product C = A B for 2-D A (n x k) and B (k x m) through BLAS dgemm; C is
 * n x m contiguous. Views are packed first. */
int pf_array_matmul(pf_array *c, const pf_array *a, const pf_array *b);

#endif

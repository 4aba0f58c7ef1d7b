/*
 * phaseflow/h5.h -- HDF5 files: datasets of doubles (gzip, chunked), int64 and byte
 * datasets, attributes, groups.
 *
 * Paths are absolute inside the file ("/flows/n_x/weights"); missing intermediate
 * groups are created on write. Writing opens the file read-write (creating it if
 * absent) and replaces an existing dataset of the same path. Every function opens and
 * closes the file itself and releases every HDF5 handle on every path out, errors
 * included. Errors fill `err` with the file and the object named.
 */
#ifndef PHASEFLOW_H5_H
#define PHASEFLOW_H5_H

#include <stddef.h>
#include <stdint.h>
#include "phaseflow/array.h"
#include "phaseflow/common.h"

/* Switch off HDF5's automatic error printing (call once at start; the library's
 * error stack setting is process-wide and only read, so threads are unaffected). */
void pf_h5_init(void);

/* Write `a` (any strides; stored row-major) as a float64 dataset, gzip level 4. */
int pf_h5_write(const char *file, const char *path, const pf_array *a, pf_err *err);

/* Query a dataset's rank and shape (ndim <= PF_MAXDIM), then read it into `data`
 * (size doubles, row-major); integer datasets convert to double. */
int pf_h5_shape(const char *file, const char *path, int *ndim, size_t *shape, pf_err *err);
int pf_h5_read(const char *file, const char *path, double *data, size_t n, pf_err *err);

/* int64 datasets (Gaia source_id does not fit a double exactly). */
int pf_h5_write_int64(const char *file, const char *path, const int64_t *v, size_t n,
                      pf_err *err);
int pf_h5_read_int64(const char *file, const char *path, int64_t *v, size_t n, pf_err *err);

/* 1-D datasets of variable-length UTF-8 strings (labels of table rows). Reading allocates
 * *out (n strings, each NUL-terminated); free it with pf_h5_strings_free. Fixed-length
 * string datasets read too. */
int pf_h5_write_strings(const char *file, const char *path, const char *const *s, size_t n,
                        pf_err *err);
int pf_h5_read_strings(const char *file, const char *path, char ***out, size_t *n,
                       pf_err *err);
void pf_h5_strings_free(char **s, size_t n);

/* Byte datasets (uint8): checkpoint blobs such as RNG states. */
int pf_h5_write_bytes(const char *file, const char *path, const void *buf, size_t n,
                      pf_err *err);
/* n_out receives the length; call with buf NULL to query it. */
int pf_h5_read_bytes(const char *file, const char *path, void *buf, size_t cap,
                     size_t *n_out, pf_err *err);

/* Fixed datasets, for files written a piece at a time (MCMC checkpoints). The dataset's
 * whole storage is allocated when it is created (contiguous, unfiltered, zero-filled, no
 * time stamps), so a later pf_h5_write_rows changes only bytes of that storage and never
 * the file's metadata: a process killed during such a write leaves every other byte of
 * the file as it was, and the file stays readable. kind: PF_H5_FLOAT64 or PF_H5_UINT8. */
enum pf_h5_kind { PF_H5_FLOAT64 = 0, PF_H5_UINT8 = 1 };
int pf_h5_create_fixed(const char *file, const char *path, int kind, int ndim,
                       const size_t *shape, pf_err *err);
/* Write `n` elements (whole rows: n is a multiple of the row size, the product of the
 * dataset's extents after the first) at row `first` (0-based) of the fixed dataset at
 * `path`, of the dataset's kind, then flush the file. */
int pf_h5_write_rows(const char *file, const char *path, int kind, size_t first,
                     const void *buf, size_t n, pf_err *err);
/* Where a fixed dataset's storage lies in the file: byte offset and size. */
int pf_h5_storage(const char *file, const char *path, uint64_t *offset, uint64_t *size,
                  pf_err *err);

int pf_h5_mkgroup(const char *file, const char *path, pf_err *err);
/* 1 if the object exists, 0 if not (a missing file is "not exists"), <0 on error. */
int pf_h5_exists(const char *file, const char *path);
/* Remove the link at `path` (dataset or group). */
int pf_h5_delete(const char *file, const char *path, pf_err *err);

/* Attributes of the object (group or dataset) at `path`. Numbers are stored as a
 * float64 scalar (n == 1) or 1-D array, integers as an int64 scalar or array; strings as
 * variable-length UTF-8 strings. Writing replaces an attribute of the same name. */
int pf_h5_attr_write_numbers(const char *file, const char *path, const char *name,
                             const double *v, size_t n, pf_err *err);
int pf_h5_attr_write_int64(const char *file, const char *path, const char *name,
                           const int64_t *v, size_t n, pf_err *err);
int pf_h5_attr_write_string(const char *file, const char *path, const char *name,
                            const char *s, pf_err *err);

enum pf_h5_attr_kind { PF_H5_NUMBERS = 0, PF_H5_STRING = 1, PF_H5_OTHER = 2 };
typedef struct pf_h5_attr {
    char name[256];
    int kind;      /* enum pf_h5_attr_kind */
    size_t n;      /* number of values (numbers) or bytes (string) */
    double *num;   /* kind == PF_H5_NUMBERS */
    char *str;     /* kind == PF_H5_STRING, NUL-terminated */
} pf_h5_attr;

/* Read all attributes of `path` into a new array *out of *count entries; free it with
 * pf_h5_attrs_free. Attributes of other types (compound, ...) come back as
 * PF_H5_OTHER with no value. */
int pf_h5_attrs_read(const char *file, const char *path, pf_h5_attr **out, size_t *count,
                     pf_err *err);
void pf_h5_attrs_free(pf_h5_attr *attrs, size_t count);

/* Number of HDF5 objects (files, groups, datasets, ...) open in this process: 0 between
 * calls, since every function closes what it opened. Tests use it to prove that error
 * paths leak no handle. */
long pf_h5_open_count(void);

/* Members of the group at `path`: names (sorted by name) and kinds (0 group,
 * 1 dataset, 2 other). Free with pf_h5_list_free. */
typedef struct pf_h5_member {
    char name[256];
    int kind;
} pf_h5_member;
int pf_h5_list(const char *file, const char *path, pf_h5_member **out, size_t *count,
               pf_err *err);
void pf_h5_list_free(pf_h5_member *m);

#endif

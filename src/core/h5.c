/*
 * h5.c -- HDF5 files for everything the workbench writes.
 *
 * Each call opens the file, does its work and closes every handle it opened, on the
 * error paths too: handles are released in reverse order through one `done:` label,
 * and a handle that was never opened holds H5I_INVALID_HID (closing it is skipped).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hdf5.h>
#include "phaseflow/h5.h"

void pf_h5_init(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void close_id(hid_t id)
{
    if (id < 0)
        return;
    switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_ATTR: H5Aclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    default: break;
    }
}

/* Open for writing: read-write if the file exists, else create it. */
static hid_t open_rw_fapl(const char *file, hid_t fapl, pf_err *err)
{
    hid_t f = H5I_INVALID_HID;
    if (access(file, F_OK) == 0) {
        f = H5Fopen(file, H5F_ACC_RDWR, fapl);
        if (f < 0)
            pf_err_set(err, PF_EIO, "cannot open '%s' for writing (not an HDF5 file, or "
                       "open elsewhere, or no permission)", file);
    } else {
        f = H5Fcreate(file, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
        if (f < 0)
            pf_err_set(err, PF_EIO, "cannot create '%s'", file);
    }
    return f;
}

static hid_t open_rw(const char *file, pf_err *err)
{
    return open_rw_fapl(file, H5P_DEFAULT, err);
}

/* Read-write, of an existing file, without the sieve buffer: a write into a contiguous dataset then writes its
 * own bytes only (the buffer would read and write back up to 64 KiB around them). */
static hid_t open_rw_direct(const char *file, pf_err *err)
{
    if (access(file, F_OK) != 0) {
        pf_err_set(err, PF_ENOTFOUND, "no such file '%s'", file);
        return H5I_INVALID_HID;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) {
        pf_err_set(err, PF_ENOMEM, "%s: cannot set up file access", file);
        return H5I_INVALID_HID;
    }
    H5Pset_sieve_buf_size(fapl, 0);
    hid_t f = open_rw_fapl(file, fapl, err);
    H5Pclose(fapl);
    return f;
}

static hid_t open_ro(const char *file, pf_err *err)
{
    if (access(file, R_OK) != 0) {
        pf_err_set(err, PF_ENOTFOUND, "no such file '%s'", file);
        return H5I_INVALID_HID;
    }
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        pf_err_set(err, PF_EFORMAT, "'%s' is not a readable HDF5 file", file);
    return f;
}

/* Does every link along `path` exist? (H5Lexists needs the parents to exist.) */
static int path_exists(hid_t f, const char *path)
{
    char buf[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return 0;
    if (strcmp(path, "/") == 0)
        return 1;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            htri_t e = H5Lexists(f, buf, H5P_DEFAULT);
            buf[i] = c;
            if (e <= 0)
                return 0;
        }
    }
    return 1;
}

static int check_path(const char *path, pf_err *err)
{
    if (!path || path[0] != '/' || strlen(path) >= 1000)
        return pf_err_set(err, PF_EINVAL, "object path '%s' must be absolute (start with '/')",
                          path ? path : "(null)");
    return PF_OK;
}

/* Check `path`, open `file` (read-write, 2: read-write without sieve buffer, or read-only) and make sure the object at `path`
 * exists. On success *f is the open file; on failure nothing is left open and err says
 * why, naming `what` ("object", "group") when the path is missing. */
static int open_existing(const char *file, const char *path, int rw, const char *what,
                         hid_t *f, pf_err *err)
{
    *f = H5I_INVALID_HID;
    int st = check_path(path, err);
    if (st)
        return st;
    *f = rw == 2 ? open_rw_direct(file, err) : rw ? open_rw(file, err) : open_ro(file, err);
    if (*f < 0)
        return err ? err->code : PF_EIO;
    if (!path_exists(*f, path)) {
        H5Fclose(*f);
        *f = H5I_INVALID_HID;
        return pf_err_set(err, PF_ENOTFOUND, "%s: no %s '%s'", file, what, path);
    }
    return PF_OK;
}

/* The start of every dataset creation: an existing object at `path` removed, the
 * dataspace of `dims` and the link (parents created) and dataset property lists made. */
static int begin_create(hid_t f, const char *file, const char *path, int ndim,
                        const hsize_t *dims, hid_t *space, hid_t *lcpl, hid_t *dcpl,
                        pf_err *err)
{
    if (path_exists(f, path) && H5Ldelete(f, path, H5P_DEFAULT) < 0)
        return pf_err_set(err, PF_EIO, "%s: cannot replace existing object '%s'", file, path);
    *space = H5Screate_simple(ndim, dims, NULL);
    *lcpl = H5Pcreate(H5P_LINK_CREATE);
    *dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (*space < 0 || *lcpl < 0 || *dcpl < 0)
        return pf_err_set(err, PF_ENOMEM, "%s: cannot set up dataset '%s'", file, path);
    H5Pset_create_intermediate_group(*lcpl, 1);
    return PF_OK;
}

/* Create a dataset at `path` (replacing an existing one), creating parent groups. */
static int write_dataset(const char *file, const char *path, hid_t memtype, hid_t filetype,
                         int ndim, const hsize_t *dims, const void *buf, int compress,
                         pf_err *err)
{
    int st = check_path(path, err);
    if (st)
        return st;
    hid_t f = H5I_INVALID_HID, space = H5I_INVALID_HID, lcpl = H5I_INVALID_HID,
          dcpl = H5I_INVALID_HID, d = H5I_INVALID_HID;
    st = PF_OK;
    f = open_rw(file, err);
    if (f < 0) {
        st = err ? err->code : PF_EIO;
        goto done;
    }
    st = begin_create(f, file, path, ndim, dims, &space, &lcpl, &dcpl, err);
    if (st)
        goto done;
    hsize_t total = 1;
    for (int i = 0; i < ndim; i++)
        total *= dims[i];
    if (compress && total > 0) {
        /* Chunks of about 64k elements along the first axis, whole rows. */
        hsize_t chunk[PF_MAXDIM], row = 1;
        for (int i = 1; i < ndim; i++) {
            chunk[i] = dims[i];
            row *= dims[i];
        }
        hsize_t rows = row ? 65536 / row : 1;
        chunk[0] = rows < 1 ? 1 : (rows > dims[0] ? dims[0] : rows);
        for (int i = 0; i < ndim; i++)
            if (chunk[i] == 0)
                chunk[i] = 1;
        H5Pset_chunk(dcpl, ndim, chunk);
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 4);
    }
    d = H5Dcreate2(f, path, filetype, space, lcpl, dcpl, H5P_DEFAULT);
    if (d < 0) {
        st = pf_err_set(err, PF_EIO, "%s: cannot create dataset '%s' (is a parent a dataset?)",
                        file, path);
        goto done;
    }
    if (total > 0 && H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        st = pf_err_set(err, PF_EIO, "%s: writing dataset '%s' failed", file, path);
done:
    close_id(d);
    close_id(dcpl);
    close_id(lcpl);
    close_id(space);
    if (f >= 0 && H5Fclose(f) < 0 && st == PF_OK)
        st = pf_err_set(err, PF_EIO, "%s: closing the file failed (disk full?)", file);
    return st;
}

int pf_h5_write(const char *file, const char *path, const pf_array *a, pf_err *err)
{
    hsize_t dims[PF_MAXDIM];
    for (int i = 0; i < a->ndim; i++)
        dims[i] = a->shape[i];
    if (pf_array_is_contiguous(a))
        return write_dataset(file, path, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, a->ndim, dims,
                             a->data, 1, err);
    double *tmp = malloc(a->size ? a->size * sizeof(double) : 1);
    if (!tmp)
        return pf_err_set(err, PF_ENOMEM, "%s: no memory to pack '%s'", file, path);
    pf_array_pack(a, tmp);
    int st = write_dataset(file, path, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, a->ndim, dims, tmp,
                           1, err);
    free(tmp);
    return st;
}

int pf_h5_write_int64(const char *file, const char *path, const int64_t *v, size_t n,
                      pf_err *err)
{
    hsize_t dims[1] = {n};
    return write_dataset(file, path, H5T_NATIVE_INT64, H5T_STD_I64LE, 1, dims, v, 1, err);
}

int pf_h5_write_strings(const char *file, const char *path, const char *const *s, size_t n,
                        pf_err *err)
{
    hsize_t dims[1] = {n};
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0)
        return pf_err_set(err, PF_ENOMEM, "%s: cannot create a string type for '%s'", file,
                          path);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    int st = write_dataset(file, path, type, type, 1, dims, s, 0, err);
    H5Tclose(type);
    return st;
}

void pf_h5_strings_free(char **s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

int pf_h5_write_bytes(const char *file, const char *path, const void *buf, size_t n,
                      pf_err *err)
{
    hsize_t dims[1] = {n};
    return write_dataset(file, path, H5T_NATIVE_UCHAR, H5T_STD_U8LE, 1, dims, buf, 0, err);
}

/* Open a dataset for reading; on failure every handle is closed and err is set. */
static int open_dataset(const char *file, const char *path, hid_t *f, hid_t *d, pf_err *err)
{
    *d = H5I_INVALID_HID;
    int st = open_existing(file, path, 0, "object", f, err);
    if (st)
        return st;
    H5O_info_t info;
    if (H5Oget_info_by_name2(*f, path, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        info.type != H5O_TYPE_DATASET) {
        H5Fclose(*f);
        *f = H5I_INVALID_HID;
        return pf_err_set(err, PF_EFORMAT, "%s: '%s' is a group, not a dataset", file, path);
    }
    *d = H5Dopen2(*f, path, H5P_DEFAULT);
    if (*d < 0) {
        H5Fclose(*f);
        *f = H5I_INVALID_HID;
        return pf_err_set(err, PF_EIO, "%s: cannot open dataset '%s'", file, path);
    }
    return PF_OK;
}

static int dataset_dims(hid_t d, int *ndim, hsize_t *dims)
{
    hid_t s = H5Dget_space(d);
    if (s < 0)
        return -1;
    int r = H5Sget_simple_extent_ndims(s);
    if (r >= 0 && r <= PF_MAXDIM)
        H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s);
    *ndim = r;
    return r;
}

int pf_h5_shape(const char *file, const char *path, int *ndim, size_t *shape, pf_err *err)
{
    hid_t f, d;
    int st = open_dataset(file, path, &f, &d, err);
    if (st)
        return st;
    hsize_t dims[PF_MAXDIM];
    int r = dataset_dims(d, ndim, dims);
    if (r < 0 || r > PF_MAXDIM) {
        st = pf_err_set(err, PF_EFORMAT, "%s: dataset '%s' has rank %d (phaseflow reads 0..%d)",
                        file, path, r, PF_MAXDIM);
    } else if (r == 0) {
        *ndim = 1;
        shape[0] = 1;
    } else {
        for (int i = 0; i < r; i++)
            shape[i] = (size_t)dims[i];
    }
    H5Dclose(d);
    H5Fclose(f);
    return st;
}

/* Read a whole dataset converted to `memtype`; `n` elements expected. */
static int read_dataset(const char *file, const char *path, hid_t memtype, void *buf, size_t n,
                        pf_err *err)
{
    hid_t f, d;
    int st = open_dataset(file, path, &f, &d, err);
    if (st)
        return st;
    int ndim;
    hsize_t dims[PF_MAXDIM];
    int r = dataset_dims(d, &ndim, dims);
    hsize_t total = 1;
    for (int i = 0; i < r && r <= PF_MAXDIM; i++)
        total *= dims[i];
    if (r < 0 || r > PF_MAXDIM || total != n) {
        st = pf_err_set(err, PF_ESHAPE, "%s: dataset '%s' has %llu elements, expected %zu",
                        file, path, (unsigned long long)total, n);
    } else if (n > 0 && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        st = pf_err_set(err, PF_EFORMAT, "%s: dataset '%s' cannot be read as numbers "
                        "(truncated file or a non-numeric type?)", file, path);
    }
    H5Dclose(d);
    H5Fclose(f);
    return st;
}

int pf_h5_read(const char *file, const char *path, double *data, size_t n, pf_err *err)
{
    return read_dataset(file, path, H5T_NATIVE_DOUBLE, data, n, err);
}

int pf_h5_read_int64(const char *file, const char *path, int64_t *v, size_t n, pf_err *err)
{
    return read_dataset(file, path, H5T_NATIVE_INT64, v, n, err);
}

/* Copy n strings read as variable-length (vlen != 0: `buf` holds char pointers) or as
 * fixed-length of `sz` bytes each into a new list of NUL-terminated strings. */
static char **copy_strings(const void *buf, size_t n, int vlen, size_t sz)
{
    char **out = calloc(n ? n : 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *p = vlen ? ((char *const *)buf)[i] : (const char *)buf + i * sz;
        size_t len = p ? (vlen ? strlen(p) : strnlen(p, sz)) : 0;
        out[i] = malloc(len + 1);
        if (!out[i]) {
            pf_h5_strings_free(out, i);
            return NULL;
        }
        if (len)
            memcpy(out[i], p, len);
        out[i][len] = '\0';
    }
    return out;
}

int pf_h5_read_strings(const char *file, const char *path, char ***out, size_t *n,
                       pf_err *err)
{
    *out = NULL;
    *n = 0;
    hid_t f, d, type = H5I_INVALID_HID, mt = H5I_INVALID_HID, space = H5I_INVALID_HID;
    int st = open_dataset(file, path, &f, &d, err);
    if (st)
        return st;
    void *buf = NULL;
    type = H5Dget_type(d);
    space = H5Dget_space(d);
    hssize_t count = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    if (type < 0 || count < 0 || H5Tget_class(type) != H5T_STRING) {
        st = pf_err_set(err, PF_EFORMAT, "%s: dataset '%s' holds no strings", file, path);
        goto done;
    }
    int vlen = H5Tis_variable_str(type) > 0;
    size_t sz = vlen ? sizeof(char *) : H5Tget_size(type);
    mt = H5Tcopy(H5T_C_S1);
    buf = calloc(count ? (size_t)count : 1, sz ? sz : 1);
    if (mt < 0 || !buf) {
        st = pf_err_set(err, PF_ENOMEM, "%s: no memory to read '%s'", file, path);
        goto done;
    }
    H5Tset_size(mt, vlen ? H5T_VARIABLE : sz);
    H5Tset_cset(mt, H5Tget_cset(type));
    if (!vlen)
        H5Tset_strpad(mt, H5Tget_strpad(type));
    if (count > 0 && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        st = pf_err_set(err, PF_EFORMAT, "%s: dataset '%s' cannot be read as strings", file,
                        path);
        goto done;
    }
    *out = copy_strings(buf, (size_t)count, vlen, sz);
    if (vlen && count > 0)
        H5Dvlen_reclaim(mt, space, H5P_DEFAULT, buf);
    if (!*out)
        st = pf_err_set(err, PF_ENOMEM, "%s: no memory for the strings of '%s'", file, path);
    else
        *n = (size_t)count;
done:
    free(buf);
    close_id(mt);
    close_id(space);
    close_id(type);
    H5Dclose(d);
    H5Fclose(f);
    return st;
}

int pf_h5_read_bytes(const char *file, const char *path, void *buf, size_t cap,
                     size_t *n_out, pf_err *err)
{
    int ndim;
    size_t shape[PF_MAXDIM];
    int st = pf_h5_shape(file, path, &ndim, shape, err);
    if (st)
        return st;
    if (ndim != 1)
        return pf_err_set(err, PF_EFORMAT, "%s: '%s' is not a 1-D byte dataset", file, path);
    *n_out = shape[0];
    if (!buf)
        return PF_OK;
    if (cap < shape[0])
        return pf_err_set(err, PF_EINVAL, "%s: buffer too small for '%s'", file, path);
    return read_dataset(file, path, H5T_NATIVE_UCHAR, buf, shape[0], err);
}

/* ---- fixed datasets (written a piece at a time) ----------------------------------- */

static hid_t kind_memtype(int kind) { return kind == PF_H5_UINT8 ? H5T_NATIVE_UCHAR : H5T_NATIVE_DOUBLE; }

int pf_h5_create_fixed(const char *file, const char *path, int kind, int ndim,
                       const size_t *shape, pf_err *err)
{
    int st = check_path(path, err);
    if (st)
        return st;
    if (ndim < 1 || ndim > PF_MAXDIM || (kind != PF_H5_FLOAT64 && kind != PF_H5_UINT8))
        return pf_err_set(err, PF_EINVAL, "%s: '%s': a fixed dataset needs 1..%d extents and "
                          "kind float64 or uint8", file, path, PF_MAXDIM);
    hsize_t dims[PF_MAXDIM];
    for (int i = 0; i < ndim; i++)
        dims[i] = shape[i];
    hid_t f = H5I_INVALID_HID, space = H5I_INVALID_HID, lcpl = H5I_INVALID_HID,
          dcpl = H5I_INVALID_HID, d = H5I_INVALID_HID;
    f = open_rw(file, err);
    if (f < 0)
        return err ? err->code : PF_EIO;
    st = begin_create(f, file, path, ndim, dims, &space, &lcpl, &dcpl, err);
    if (st)
        goto done;
    /* all storage now, zeros in it, and no modification time to update later */
    H5Pset_layout(dcpl, H5D_CONTIGUOUS);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t ftype = kind == PF_H5_UINT8 ? H5T_STD_U8LE : H5T_IEEE_F64LE;
    d = H5Dcreate2(f, path, ftype, space, lcpl, dcpl, H5P_DEFAULT);
    if (d < 0)
        st = pf_err_set(err, PF_EIO, "%s: cannot create dataset '%s' (is a parent a dataset?)",
                        file, path);
done:
    close_id(d);
    close_id(dcpl);
    close_id(lcpl);
    close_id(space);
    if (H5Fclose(f) < 0 && st == PF_OK)
        st = pf_err_set(err, PF_EIO, "%s: closing the file failed (disk full?)", file);
    return st;
}

/* Open a fixed dataset (contiguous, storage allocated) of the given kind for writing. */
static int open_fixed(const char *file, const char *path, int kind, int rw, hid_t *f, hid_t *d,
                      pf_err *err)
{
    *d = H5I_INVALID_HID;
    int st = open_existing(file, path, rw, "object", f, err);
    if (st)
        return st;
    hid_t dcpl = H5I_INVALID_HID, type = H5I_INVALID_HID;
    *d = H5Dopen2(*f, path, H5P_DEFAULT);
    if (*d < 0) {
        st = pf_err_set(err, PF_EFORMAT, "%s: '%s' is not a dataset", file, path);
        goto done;
    }
    dcpl = H5Dget_create_plist(*d);
    type = H5Dget_type(*d);
    if (dcpl < 0 || type < 0 || H5Pget_layout(dcpl) != H5D_CONTIGUOUS) {
        st = pf_err_set(err, PF_EFORMAT, "%s: '%s' is not a fixed dataset (contiguous storage)",
                        file, path);
        goto done;
    }
    H5T_class_t cls = H5Tget_class(type);
    size_t sz = H5Tget_size(type);
    if (kind == PF_H5_UINT8 ? !(cls == H5T_INTEGER && sz == 1)
                            : !(cls == H5T_FLOAT && sz == 8)) {
        st = pf_err_set(err, PF_EFORMAT, "%s: '%s' holds %s", file, path,
                        kind == PF_H5_UINT8 ? "no bytes" : "no float64 numbers");
        goto done;
    }
done:
    close_id(type);
    close_id(dcpl);
    if (st) {
        close_id(*d);
        *d = H5I_INVALID_HID;
        H5Fclose(*f);
        *f = H5I_INVALID_HID;
    }
    return st;
}

int pf_h5_write_rows(const char *file, const char *path, int kind, size_t first,
                     const void *buf, size_t n, pf_err *err)
{
    hid_t f, d, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    int st = open_fixed(file, path, kind, 2, &f, &d, err);
    if (st)
        return st;
    int ndim;
    hsize_t dims[PF_MAXDIM], start[PF_MAXDIM], count[PF_MAXDIM];
    int r = dataset_dims(d, &ndim, dims);
    hsize_t row = 1;
    for (int i = 1; i < r; i++)
        row *= dims[i];
    if (r < 1 || r > PF_MAXDIM || row == 0 || n % row != 0 ||
        first > dims[0] || n / row > dims[0] - first) {
        st = pf_err_set(err, PF_ESHAPE, "%s: %zu elements at row %zu do not fit '%s' "
                        "(%llu rows of %llu)", file, n, first, path,
                        r >= 1 ? (unsigned long long)dims[0] : 0ULL, (unsigned long long)row);
        goto done;
    }
    if (n == 0)
        goto done;
    for (int i = 0; i < r; i++) {
        start[i] = 0;
        count[i] = dims[i];
    }
    start[0] = first;
    count[0] = n / row;
    fspace = H5Dget_space(d);
    mspace = H5Screate_simple(r, count, NULL);
    if (fspace < 0 || mspace < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        H5Dwrite(d, kind_memtype(kind), mspace, fspace, H5P_DEFAULT, buf) < 0 ||
        H5Fflush(f, H5F_SCOPE_LOCAL) < 0)
        st = pf_err_set(err, PF_EIO, "%s: writing rows %zu.. of '%s' failed", file, first, path);
done:
    close_id(mspace);
    close_id(fspace);
    close_id(d);
    if (H5Fclose(f) < 0 && st == PF_OK)
        st = pf_err_set(err, PF_EIO, "%s: closing the file failed (disk full?)", file);
    return st;
}

int pf_h5_storage(const char *file, const char *path, uint64_t *offset, uint64_t *size,
                  pf_err *err)
{
    hid_t f, d;
    int st = open_dataset(file, path, &f, &d, err);
    if (st)
        return st;
    haddr_t a = H5Dget_offset(d);
    if (a == HADDR_UNDEF)
        st = pf_err_set(err, PF_EFORMAT, "%s: '%s' has no storage of its own in one piece",
                        file, path);
    *offset = (uint64_t)a;
    *size = (uint64_t)H5Dget_storage_size(d);
    H5Dclose(d);
    H5Fclose(f);
    return st;
}

int pf_h5_mkgroup(const char *file, const char *path, pf_err *err)
{
    int st = check_path(path, err);
    if (st)
        return st;
    hid_t f = open_rw(file, err), lcpl = H5I_INVALID_HID, g = H5I_INVALID_HID;
    if (f < 0)
        return err ? err->code : PF_EIO;
    if (!path_exists(f, path)) {
        lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        g = H5Gcreate2(f, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0)
            st = pf_err_set(err, PF_EIO, "%s: cannot create group '%s'", file, path);
    }
    close_id(g);
    close_id(lcpl);
    if (H5Fclose(f) < 0 && st == PF_OK)
        st = pf_err_set(err, PF_EIO, "%s: closing the file failed", file);
    return st;
}

int pf_h5_exists(const char *file, const char *path)
{
    if (!path || path[0] != '/' || access(file, R_OK) != 0)
        return 0;
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return -1;
    int e = path_exists(f, path);
    H5Fclose(f);
    return e;
}

int pf_h5_delete(const char *file, const char *path, pf_err *err)
{
    hid_t f;
    int st = open_existing(file, path, 1, "object", &f, err);
    if (st)
        return st;
    if (H5Ldelete(f, path, H5P_DEFAULT) < 0)
        st = pf_err_set(err, PF_EIO, "%s: cannot delete '%s'", file, path);
    H5Fclose(f);
    return st;
}

/* ---- attributes ---------------------------------------------------------------- */

/* Open the object at `path` in a read-write file for attribute work. */
static int open_object_rw(const char *file, const char *path, hid_t *f, hid_t *o, pf_err *err)
{
    *o = H5I_INVALID_HID;
    int st = open_existing(file, path, 1, "object", f, err);
    if (st)
        return st;
    *o = H5Oopen(*f, path, H5P_DEFAULT);
    if (*o < 0) {
        H5Fclose(*f);
        *f = H5I_INVALID_HID;
        return pf_err_set(err, PF_EIO, "%s: cannot open '%s'", file, path);
    }
    return PF_OK;
}

static int write_attr(const char *file, const char *path, const char *name, hid_t type,
                      hid_t space, const void *buf, pf_err *err)
{
    hid_t f, o, a = H5I_INVALID_HID;
    int st = open_object_rw(file, path, &f, &o, err);
    if (st)
        return st;
    if (H5Aexists(o, name) > 0)
        H5Adelete(o, name);
    a = H5Acreate2(o, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, type, buf) < 0)
        st = pf_err_set(err, PF_EIO, "%s: cannot write attribute '%s' of '%s'", file, name,
                        path);
    close_id(a);
    H5Oclose(o);
    if (H5Fclose(f) < 0 && st == PF_OK)
        st = pf_err_set(err, PF_EIO, "%s: closing the file failed", file);
    return st;
}

/* n values of one type as an attribute: a scalar for one, a 1-D list otherwise */
static int write_attr_values(const char *file, const char *path, const char *name, hid_t type,
                             const void *v, size_t n, pf_err *err)
{
    hsize_t dims[1] = {n};
    hid_t space = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
    if (space < 0)
        return pf_err_set(err, PF_ENOMEM, "%s: cannot create attribute space", file);
    int st = write_attr(file, path, name, type, space, v, err);
    H5Sclose(space);
    return st;
}

int pf_h5_attr_write_numbers(const char *file, const char *path, const char *name,
                             const double *v, size_t n, pf_err *err)
{
    return write_attr_values(file, path, name, H5T_NATIVE_DOUBLE, v, n, err);
}

int pf_h5_attr_write_int64(const char *file, const char *path, const char *name,
                           const int64_t *v, size_t n, pf_err *err)
{
    return write_attr_values(file, path, name, H5T_NATIVE_INT64, v, n, err);
}

int pf_h5_attr_write_string(const char *file, const char *path, const char *name,
                            const char *s, pf_err *err)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    hid_t space = H5Screate(H5S_SCALAR);
    int st;
    if (type < 0 || space < 0) {
        st = pf_err_set(err, PF_ENOMEM, "%s: cannot create string attribute", file);
    } else {
        H5Tset_size(type, H5T_VARIABLE);
        H5Tset_cset(type, H5T_CSET_UTF8);
        st = write_attr(file, path, name, type, space, &s, err);
    }
    close_id(space);
    close_id(type);
    return st;
}

void pf_h5_attrs_free(pf_h5_attr *attrs, size_t count)
{
    if (!attrs)
        return;
    for (size_t i = 0; i < count; i++) {
        free(attrs[i].num);
        free(attrs[i].str);
    }
    free(attrs);
}

/* Read one attribute's value into `at` (kind, n, num/str). */
static int read_one_attr(hid_t a, pf_h5_attr *at)
{
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    int st = PF_OK;
    H5T_class_t cls = H5Tget_class(type);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
        at->kind = PF_H5_NUMBERS;
        at->n = n > 0 ? (size_t)n : 0;
        at->num = malloc((at->n ? at->n : 1) * sizeof(double));
        if (!at->num || H5Aread(a, H5T_NATIVE_DOUBLE, at->num) < 0)
            st = PF_EFORMAT;
    } else if (cls == H5T_STRING && n == 1) {
        at->kind = PF_H5_STRING;
        if (H5Tis_variable_str(type) > 0) {
            char *p = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(type));
            if (H5Aread(a, mt, &p) < 0) {
                st = PF_EFORMAT;
            } else {
                at->str = strdup(p ? p : "");
                at->n = p ? strlen(p) : 0;
                H5free_memory(p);
            }
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(type);
            at->str = calloc(sz + 1, 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, sz + 1);
            if (!at->str || H5Aread(a, mt, at->str) < 0)
                st = PF_EFORMAT;
            else
                at->n = strlen(at->str);
            H5Tclose(mt);
        }
        if (st == PF_OK && !at->str)
            st = PF_ENOMEM;
    } else {
        at->kind = PF_H5_OTHER;
    }
    H5Sclose(space);
    H5Tclose(type);
    return st;
}

int pf_h5_attrs_read(const char *file, const char *path, pf_h5_attr **out, size_t *count,
                     pf_err *err)
{
    *out = NULL;
    *count = 0;
    hid_t f, o = H5I_INVALID_HID;
    int st = open_existing(file, path, 0, "object", &f, err);
    if (st)
        return st;
    o = H5Oopen(f, path, H5P_DEFAULT);
    H5O_info_t info;
    if (o < 0 || H5Oget_info2(o, &info, H5O_INFO_NUM_ATTRS) < 0) {
        st = pf_err_set(err, PF_EIO, "%s: cannot open '%s'", file, path);
        goto done;
    }
    pf_h5_attr *list = calloc(info.num_attrs ? info.num_attrs : 1, sizeof *list);
    if (!list) {
        st = pf_err_set(err, PF_ENOMEM, "%s: no memory for attributes", file);
        goto done;
    }
    for (hsize_t i = 0; i < info.num_attrs; i++) {
        hid_t a = H5Aopen_by_idx(o, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0) {
            st = pf_err_set(err, PF_EFORMAT, "%s: cannot open attribute %llu of '%s'", file,
                            (unsigned long long)i, path);
            pf_h5_attrs_free(list, (size_t)i);
            goto done;
        }
        H5Aget_name(a, sizeof list[i].name, list[i].name);
        int s2 = read_one_attr(a, &list[i]);
        H5Aclose(a);
        if (s2) {
            st = pf_err_set(err, s2, "%s: cannot read attribute '%s' of '%s'", file,
                            list[i].name, path);
            pf_h5_attrs_free(list, (size_t)i + 1);
            goto done;
        }
    }
    *out = list;
    *count = (size_t)info.num_attrs;
done:
    close_id(o);
    H5Fclose(f);
    return st;
}

/* ---- listing ------------------------------------------------------------------- */

typedef struct {
    pf_h5_member *m;
    size_t n, cap;
    hid_t group;
    int failed;
} list_ctx;

static herr_t list_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    list_ctx *c = data;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        pf_h5_member *m = realloc(c->m, cap * sizeof *m);
        if (!m) {
            c->failed = 1;
            return -1;
        }
        c->m = m;
        c->cap = cap;
    }
    pf_h5_member *e = &c->m[c->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    H5O_info_t oi;
    e->kind = 2;
    if (H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) >= 0)
        e->kind = oi.type == H5O_TYPE_GROUP ? 0 : oi.type == H5O_TYPE_DATASET ? 1 : 2;
    return 0;
}

int pf_h5_list(const char *file, const char *path, pf_h5_member **out, size_t *count,
               pf_err *err)
{
    *out = NULL;
    *count = 0;
    hid_t f, g = H5I_INVALID_HID;
    int st = open_existing(file, path, 0, "group", &f, err);
    if (st)
        return st;
    list_ctx c = {NULL, 0, 0, H5I_INVALID_HID, 0};
    H5O_info_t oi;
    if (H5Oget_info_by_name2(f, path, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        oi.type != H5O_TYPE_GROUP) {
        st = pf_err_set(err, PF_EFORMAT, "%s: '%s' is not a group", file, path);
        goto done;
    }
    g = H5Gopen2(f, path, H5P_DEFAULT);
    if (g < 0 || H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, list_cb, &c) < 0 || c.failed) {
        st = pf_err_set(err, c.failed ? PF_ENOMEM : PF_EIO, "%s: cannot list '%s'", file, path);
        free(c.m);
        goto done;
    }
    *out = c.m;
    *count = c.n;
done:
    close_id(g);
    H5Fclose(f);
    return st;
}

void pf_h5_list_free(pf_h5_member *m)
{
    free(m);
}

long pf_h5_open_count(void)
{
    return (long)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
}

/*
 * h5io.c - the small HDF5 vocabulary the model file and the checkpoints
 * share: atomic creation (temporary name, fsync, rename, folder fsync),
 * checked reading, and attribute and dataset helpers that record what was
 * wrong and where.
 */
#include "model_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t h5_mutex = PTHREAD_MUTEX_INITIALIZER;

/* Take model/'s HDF5 lock and keep HDF5 from printing errors. */
void tbm_h5_lock(void)
{
    pthread_mutex_lock(&h5_mutex);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* Release the lock taken by tbm_h5_lock. */
void tbm_h5_unlock(void)
{
    pthread_mutex_unlock(&h5_mutex);
}

/* Record "path: what" in h->err and make the failure stick in h->rc. */
int tbm_h5_fail(tbm_h5 *h, const char *fmt, ...)
{
    char text[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (!h->rc)
        h->rc = h->code;
    return tb_error_set(h->err, h->code, h->path, "%s: %s", h->path, text);
}

/* ------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------ */

int tbm_h5_create(tbm_h5 *h, const char *path, tb_error *err)
{
    static unsigned counter;
    unsigned c = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    int len;

    memset(h, 0, sizeof(*h));
    h->path = path;
    h->code = TB_EIO;
    h->err = err;
    h->file = -1;

    len = snprintf(h->tmp, sizeof(h->tmp), "%s.tmp.%ld.%u", path,
                   (long)getpid(), c);
    if (len < 0 || (size_t)len >= sizeof(h->tmp))
        return tbm_h5_fail(h, "the file name is too long");
    if (tb_path_replaceable(path, err) != 0) {
        h->code = TB_EINVAL;
        return tbm_h5_fail(h, "will not replace %s", path);
    }

    h->file = H5Fcreate(h->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (h->file < 0)
        return tbm_h5_fail(h, "cannot create temporary file %s: %s", h->tmp,
                           strerror(errno));
    return TB_OK;
}

/* Flush, close, fsync, rename into place, fsync the folder. */
int tbm_h5_commit(tbm_h5 *h)
{
    /* Flush first: a close with an object left open would only be
     * deferred, and the fsync below would miss the data. */
    herr_t flushed = H5Fflush(h->file, H5F_SCOPE_GLOBAL);
    herr_t closed = H5Fclose(h->file);

    h->file = -1;
    if (flushed < 0)
        closed = -1;
    if (closed < 0) {
        unlink(h->tmp);
        return tbm_h5_fail(h, "cannot finish writing %s", h->tmp);
    }
    if (tb_path_commit(h->tmp, h->path, h->err) != 0) {
        if (!h->rc)
            h->rc = TB_EIO;
        return TB_EIO;
    }
    return TB_OK;
}

/* Close what is open and remove the temporary file. */
void tbm_h5_abandon(tbm_h5 *h)
{
    if (h->file >= 0)
        H5Fclose(h->file);
    h->file = -1;
    if (h->tmp[0])
        unlink(h->tmp);
}

/* Open path read-only: TB_EIO if unreadable, TB_EFORMAT if not HDF5. */
int tbm_h5_open(tbm_h5 *h, const char *path, tb_error *err)
{
    struct stat st;

    memset(h, 0, sizeof(*h));
    h->path = path;
    h->err = err;
    h->file = -1;

    h->code = TB_EIO;
    if (stat(path, &st) != 0)
        return tbm_h5_fail(h, "cannot read: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return tbm_h5_fail(h, "not a regular file");

    h->code = TB_EFORMAT;
    h->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (h->file < 0)
        return tbm_h5_fail(h, "not an HDF5 file, or truncated (%lld bytes)",
                           (long long)st.st_size);
    return TB_OK;
}

/* Close a file opened with tbm_h5_open (safe to repeat). */
void tbm_h5_close(tbm_h5 *h)
{
    if (h->file >= 0)
        H5Fclose(h->file);
    h->file = -1;
}

/* ------------------------------------------------------------------------
 * Writing attributes and datasets
 * ------------------------------------------------------------------------ */

/* Create attribute name on loc and write v to it; closes space. */
static int put_attr(tbm_h5 *h, hid_t loc, const char *name, hid_t type,
                    hid_t space, const void *v)
{
    hid_t a = -1;
    int ok = type >= 0 && space >= 0;

    if (ok)
        a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    ok = ok && a >= 0 && H5Awrite(a, type, v) >= 0;

    if (a >= 0)
        ok = H5Aclose(a) >= 0 && ok;
    if (space >= 0)
        H5Sclose(space);
    return ok ? TB_OK : tbm_h5_fail(h, "cannot write attribute '%s'", name);
}

/* A fixed-length, zero-terminated UTF-8 string type of size bytes. */
static hid_t str_type(size_t size)
{
    hid_t t = H5Tcopy(H5T_C_S1);

    if (t < 0)
        return t;
    if (H5Tset_size(t, size) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* A scalar fixed-length UTF-8 string attribute. */
int tbm_h5_put_str(tbm_h5 *h, hid_t loc, const char *name, const char *s)
{
    hid_t t;
    int rc;

    if (h->rc)
        return h->rc;
    t = str_type(strlen(s) + 1);
    rc = put_attr(h, loc, name, t, H5Screate(H5S_SCALAR), s);
    if (t >= 0)
        H5Tclose(t);
    return rc;
}

/* An array attribute of n fixed-length names. */
int tbm_h5_put_strs(tbm_h5 *h, hid_t loc, const char *name,
                    const char (*s)[TB_MODEL_NAME_MAX], int n)
{
    hsize_t dim = (hsize_t)n;
    hid_t t;
    int rc;

    if (h->rc)
        return h->rc;
    t = str_type(TB_MODEL_NAME_MAX);
    rc = put_attr(h, loc, name, t, H5Screate_simple(1, &dim, NULL), s);
    if (t >= 0)
        H5Tclose(t);
    return rc;
}

/* A numeric attribute: a scalar when n == 0, else n values. */
int tbm_h5_put_num(tbm_h5 *h, hid_t loc, const char *name, hid_t type,
                   const void *v, size_t n)
{
    hsize_t dim = (hsize_t)n;
    hid_t space;

    if (h->rc)
        return h->rc;
    space = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
    return put_attr(h, loc, name, type, space, v);
}

/* A contiguous dataset of rows (x cols) values of a native type. */
int tbm_h5_put_data(tbm_h5 *h, hid_t loc, const char *name, hid_t type,
                    const void *v, size_t rows, size_t cols)
{
    hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
    hid_t space, d = -1;
    int ok;

    if (h->rc)
        return h->rc;
    space = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    ok = space >= 0;
    if (ok)
        d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT,
                       H5P_DEFAULT);
    ok = ok && d >= 0;
    if (ok && rows > 0)
        ok = H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;

    if (d >= 0)
        ok = H5Dclose(d) >= 0 && ok;
    if (space >= 0)
        H5Sclose(space);
    return ok ? TB_OK : tbm_h5_fail(h, "cannot write dataset '%s'", name);
}

/* ------------------------------------------------------------------------
 * Reading attributes and datasets
 * ------------------------------------------------------------------------ */

/* Open attribute name, checking that it exists, has class cls and holds
 * exactly n elements (n == 0: a scalar or a single element). */
static hid_t open_attr(tbm_h5 *h, hid_t loc, const char *name, H5T_class_t cls,
                       size_t n)
{
    hid_t a, t, s;
    hssize_t count;
    H5T_class_t got;

    if (H5Aexists(loc, name) <= 0) {
        tbm_h5_fail(h, "attribute '%s' is missing", name);
        return -1;
    }
    a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) {
        tbm_h5_fail(h, "cannot open attribute '%s'", name);
        return -1;
    }

    t = H5Aget_type(a);
    s = H5Aget_space(a);
    got = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    count = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    if (t >= 0)
        H5Tclose(t);
    if (s >= 0)
        H5Sclose(s);

    if (got != cls || count != (hssize_t)(n ? n : 1)) {
        tbm_h5_fail(h,
                    "attribute '%s' has the wrong type or %lld values "
                    "(expected %zu)",
                    name, (long long)count, n ? n : 1);
        H5Aclose(a);
        return -1;
    }
    return a;
}

/* Read a variable-length string attribute into buf. */
static int get_vlen_str(tbm_h5 *h, hid_t a, const char *name, char *buf,
                        size_t size)
{
    hid_t t = H5Tcopy(H5T_C_S1), ft = H5Aget_type(a);
    char *s = NULL;
    int ok;

    /* HDF5 will not convert between ASCII and UTF-8 strings: read in the
     * file's own character set (h5py and tables write UTF-8). */
    ok = t >= 0 && ft >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 &&
         H5Tset_cset(t, H5Tget_cset(ft)) >= 0 && H5Aread(a, t, &s) >= 0 && s &&
         strlen(s) < size;
    if (ft >= 0)
        H5Tclose(ft);

    if (ok)
        snprintf(buf, size, "%s", s);
    if (s)
        H5free_memory(s);
    if (t >= 0)
        H5Tclose(t);
    return ok ? TB_OK
              : tbm_h5_fail(h,
                            "attribute '%s' is unreadable or "
                            "longer than %zu bytes",
                            name, size - 1);
}

/* Read a fixed-length string attribute into buf. */
static int get_fixed_str(tbm_h5 *h, hid_t a, const char *name, size_t len,
                         char *buf, size_t size)
{
    hid_t t = len <= size ? str_type(size) : -1;
    int ok;

    memset(buf, 0, size);
    ok = t >= 0 && H5Aread(a, t, buf) >= 0;
    if (t >= 0)
        H5Tclose(t);
    buf[size - 1] = '\0';
    return ok ? TB_OK
              : tbm_h5_fail(h,
                            "attribute '%s' is unreadable or "
                            "longer than %zu bytes",
                            name, size - 1);
}

/* A string attribute (fixed or variable length) into buf. */
int tbm_h5_get_str(tbm_h5 *h, hid_t loc, const char *name, char *buf,
                   size_t size)
{
    hid_t a, ft;
    int rc;

    if (h->rc)
        return h->rc;
    a = open_attr(h, loc, name, H5T_STRING, 0);
    if (a < 0)
        return h->code;
    ft = H5Aget_type(a);
    if (ft >= 0 && H5Tis_variable_str(ft) > 0)
        rc = get_vlen_str(h, a, name, buf, size);
    else if (ft >= 0)
        rc = get_fixed_str(h, a, name, H5Tget_size(ft), buf, size);
    else
        rc = tbm_h5_fail(h, "attribute '%s' has no type", name);

    if (ft >= 0)
        H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

/* An array attribute of exactly n fixed-length names. */
int tbm_h5_get_strs(tbm_h5 *h, hid_t loc, const char *name,
                    char (*s)[TB_MODEL_NAME_MAX], int n)
{
    hid_t a, ft, mt;
    int ok;

    if (h->rc)
        return h->rc;
    a = open_attr(h, loc, name, H5T_STRING, (size_t)n);
    if (a < 0)
        return h->code;
    ft = H5Aget_type(a);
    mt = str_type(TB_MODEL_NAME_MAX);
    ok = ft >= 0 && mt >= 0 && H5Tis_variable_str(ft) == 0 &&
         H5Tget_size(ft) <= TB_MODEL_NAME_MAX;

    memset(s, 0, (size_t)n * TB_MODEL_NAME_MAX);
    ok = ok && H5Aread(a, mt, s) >= 0;
    for (int i = 0; i < n; i++)
        s[i][TB_MODEL_NAME_MAX - 1] = '\0';

    if (ft >= 0)
        H5Tclose(ft);
    if (mt >= 0)
        H5Tclose(mt);
    H5Aclose(a);
    return ok ? TB_OK
              : tbm_h5_fail(h, "attribute '%s' is not %d fixed-length names",
                            name, n);
}

/* A numeric attribute of exactly n values (0: a scalar). */
int tbm_h5_get_num(tbm_h5 *h, hid_t loc, const char *name, hid_t type, void *v,
                   size_t n)
{
    hid_t a;
    int ok;

    if (h->rc)
        return h->rc;
    a = open_attr(h, loc, name, H5Tget_class(type), n);
    if (a < 0)
        return h->code;
    ok = H5Aread(a, type, v) >= 0;
    H5Aclose(a);
    return ok ? TB_OK : tbm_h5_fail(h, "cannot read attribute '%s'", name);
}

/* The element count of a dataset. */
int tbm_h5_data_size(tbm_h5 *h, hid_t loc, const char *name, size_t *n)
{
    hid_t d, s;
    hssize_t count = -1;

    if (h->rc)
        return h->rc;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return tbm_h5_fail(h, "dataset '%s' is missing", name);
    d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return tbm_h5_fail(h, "'%s' is not a readable dataset", name);

    s = H5Dget_space(d);
    if (s >= 0) {
        count = H5Sget_simple_extent_npoints(s);
        H5Sclose(s);
    }
    H5Dclose(d);
    if (count < 0)
        return tbm_h5_fail(h, "dataset '%s' has no readable shape", name);
    *n = (size_t)count;
    return TB_OK;
}

/* A dataset of exactly n values of the class of type. */
int tbm_h5_get_data(tbm_h5 *h, hid_t loc, const char *name, hid_t type, void *v,
                    size_t n)
{
    size_t got = 0;
    hid_t d, ft;
    int ok;

    if (h->rc)
        return h->rc;
    if (tbm_h5_data_size(h, loc, name, &got) != TB_OK)
        return h->code;
    if (got != n)
        return tbm_h5_fail(h, "dataset '%s' holds %zu values; expected %zu",
                           name, got, n);
    if (n == 0)
        return TB_OK;

    d = H5Dopen2(loc, name, H5P_DEFAULT);
    ft = d >= 0 ? H5Dget_type(d) : -1;
    ok = ft >= 0 && H5Tget_class(ft) == H5Tget_class(type) &&
         H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
    if (ft >= 0)
        H5Tclose(ft);
    if (d >= 0)
        H5Dclose(d);
    return ok ? TB_OK
              : tbm_h5_fail(h, "dataset '%s' is damaged or of the wrong type",
                            name);
}

/* ------------------------------------------------------------------------
 * History
 * ------------------------------------------------------------------------ */

hid_t tbm_h5_history_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(tb_history));

    if (t < 0)
        return -1;
    if (H5Tinsert(t, "epoch", HOFFSET(tb_history, epoch), H5T_NATIVE_LONG) <
            0 ||
        H5Tinsert(t, "seconds", HOFFSET(tb_history, seconds),
                  H5T_NATIVE_DOUBLE) < 0 ||
        H5Tinsert(t, "loss", HOFFSET(tb_history, loss), H5T_NATIVE_DOUBLE) <
            0 ||
        H5Tinsert(t, "max_rel", HOFFSET(tb_history, max_rel),
                  H5T_NATIVE_DOUBLE) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* The history rows as a compound dataset. */
int tbm_h5_put_history(tbm_h5 *h, hid_t loc, const char *name,
                       const tb_history *rows, size_t n)
{
    hid_t t;
    int rc;

    if (h->rc)
        return h->rc;
    t = tbm_h5_history_type();
    if (t < 0)
        return tbm_h5_fail(h, "cannot build the history type");
    rc = tbm_h5_put_data(h, loc, name, t, rows, n, 0);
    H5Tclose(t);
    return rc;
}

/* The history rows into a new array (the caller frees it). */
int tbm_h5_get_history(tbm_h5 *h, hid_t loc, const char *name,
                       tb_history **rows, size_t *n)
{
    hid_t t = -1;
    int rc;

    *rows = NULL;
    *n = 0;
    if (h->rc)
        return h->rc;
    if ((rc = tbm_h5_data_size(h, loc, name, n)) != TB_OK)
        return rc;
    if (*n == 0)
        return TB_OK;

    *rows = malloc(*n * sizeof(tb_history));
    if (!*rows) {
        h->rc = TB_ENOMEM;
        *n = 0;
        return tb_error_set(h->err, TB_ENOMEM, h->path,
                            "cannot allocate %zu history rows", *n);
    }
    t = tbm_h5_history_type();
    rc = t >= 0 ? tbm_h5_get_data(h, loc, name, t, *rows, *n)
                : tbm_h5_fail(h, "cannot build the history type");
    if (t >= 0)
        H5Tclose(t);
    if (rc != TB_OK) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

/*
 * h5io.c - see h5io.h.  Every HDF5 object opened here is closed here,
 * except the datasets and groups handed back to the caller.
 */
#include "h5io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing --------------------------------------------------------- */

/* Create a scalar attribute of type ftype and write v (in mtype). */
static int put_scalar(hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                      const void *v)
{
    hid_t space = H5Screate(H5S_SCALAR), attr = -1;
    int rc = -1;

    if (space < 0)
        return -1;
    attr = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr >= 0 && H5Awrite(attr, mtype, v) >= 0)
        rc = 0;
    if (attr >= 0 && H5Aclose(attr) < 0)
        rc = -1;
    H5Sclose(space);
    return rc;
}

/* Write a scalar UTF-8 variable-length string attribute. */
int tbs_h5_put_str(hid_t loc, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    int rc = -1;

    if (type < 0)
        return -1;
    if (H5Tset_size(type, H5T_VARIABLE) >= 0 &&
        H5Tset_cset(type, H5T_CSET_UTF8) >= 0)
        rc = put_scalar(loc, name, type, type, &value);
    H5Tclose(type);
    return rc;
}

/* Write a scalar double attribute (IEEE 64-bit little-endian). */
int tbs_h5_put_double(hid_t loc, const char *name, double v)
{
    return put_scalar(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

/* Write a scalar integer attribute stored as ftype. */
int tbs_h5_put_long(hid_t loc, const char *name, long v, hid_t ftype)
{
    return put_scalar(loc, name, ftype, H5T_NATIVE_LONG, &v);
}

/* Create and fill a dataset; returns it open, or -1. */
hid_t tbs_h5_put_dataset(hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                         int rank, const hsize_t *dims, const void *data)
{
    hid_t space = H5Screate_simple(rank, dims, NULL), dset;

    if (space < 0)
        return -1;
    dset = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT,
                      H5P_DEFAULT);
    H5Sclose(space);
    if (dset < 0)
        return -1;
    if (H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        H5Dclose(dset);
        return -1;
    }
    return dset;
}

/* ---- reading attributes ---------------------------------------------- */

/* Open attribute name and check that it holds a single value of class
 * want (or, when want is H5T_FLOAT, an integer too).  Returns it or -1. */
static hid_t open_attr(hid_t loc, const char *name, H5T_class_t want, char *why)
{
    hid_t attr, type, space;
    H5T_class_t cls;
    hssize_t points;

    if (H5Aexists(loc, name) <= 0) {
        snprintf(why, H5IO_WHY, "is missing");
        return -1;
    }
    if ((attr = H5Aopen(loc, name, H5P_DEFAULT)) < 0) {
        snprintf(why, H5IO_WHY, "cannot be opened");
        return -1;
    }
    type = H5Aget_type(attr);
    space = H5Aget_space(attr);
    cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);

    if (points != 1)
        snprintf(why, H5IO_WHY, "is not a single value");
    else if (cls == want || (want == H5T_FLOAT && cls == H5T_INTEGER))
        return attr;
    else
        snprintf(why, H5IO_WHY, "is not %s",
                 want == H5T_STRING    ? "a string"
                 : want == H5T_INTEGER ? "an integer"
                                       : "a number");
    H5Aclose(attr);
    return -1;
}

/* Read a variable-length string attribute into buf. */
static int read_vlen(hid_t attr, hid_t ftype, char *buf, size_t size, char *why)
{
    hid_t mtype = H5Tcopy(H5T_C_S1);
    char *s = NULL;
    int rc = -1;

    if (mtype >= 0 && H5Tset_size(mtype, H5T_VARIABLE) >= 0 &&
        H5Tset_cset(mtype, H5Tget_cset(ftype)) >= 0 &&
        H5Aread(attr, mtype, &s) >= 0 && s) {
        if (strlen(s) < size) {
            memcpy(buf, s, strlen(s) + 1);
            rc = 0;
        } else {
            snprintf(why, H5IO_WHY, "is longer than %zu characters", size - 1);
        }
    } else {
        snprintf(why, H5IO_WHY, "cannot be read as a string");
    }
    if (s)
        H5free_memory(s);
    if (mtype >= 0)
        H5Tclose(mtype);
    return rc;
}

/* Read a fixed-length string attribute into buf, dropping padding. */
static int read_fixed(hid_t attr, hid_t ftype, char *buf, size_t size,
                      char *why)
{
    size_t n = H5Tget_size(ftype), len;
    char *tmp = calloc(n + 1, 1);
    int rc = -1;

    if (tmp && n > 0 && H5Aread(attr, ftype, tmp) >= 0) {
        len = strlen(tmp);
        while (len > 0 && tmp[len - 1] == ' ')
            tmp[--len] = '\0';
        if (len < size) {
            memcpy(buf, tmp, len + 1);
            rc = 0;
        } else {
            snprintf(why, H5IO_WHY, "is longer than %zu characters", size - 1);
        }
    } else {
        snprintf(why, H5IO_WHY, "cannot be read as a string");
    }
    free(tmp);
    return rc;
}

/* Read a scalar string attribute, fixed- or variable-length. */
int tbs_h5_get_str(hid_t loc, const char *name, char *buf, size_t size,
                   char *why)
{
    hid_t attr = open_attr(loc, name, H5T_STRING, why), ftype;
    int rc = -1;

    if (attr < 0)
        return -1;
    ftype = H5Aget_type(attr);
    if (ftype < 0)
        snprintf(why, H5IO_WHY, "has no readable type");
    else if (H5Tis_variable_str(ftype) > 0)
        rc = read_vlen(attr, ftype, buf, size, why);
    else
        rc = read_fixed(attr, ftype, buf, size, why);
    if (ftype >= 0)
        H5Tclose(ftype);
    H5Aclose(attr);
    return rc;
}

static int read_number(hid_t loc, const char *name, H5T_class_t want,
                       hid_t mtype, void *v, char *why)
{
    hid_t attr = open_attr(loc, name, want, why);
    int rc = 0;

    if (attr < 0)
        return -1;
    if (H5Aread(attr, mtype, v) < 0) {
        snprintf(why, H5IO_WHY, "cannot be read as a number");
        rc = -1;
    }
    H5Aclose(attr);
    return rc;
}

/* Read a scalar numeric attribute as a double. */
int tbs_h5_get_double(hid_t loc, const char *name, double *v, char *why)
{
    return read_number(loc, name, H5T_FLOAT, H5T_NATIVE_DOUBLE, v, why);
}

/* Read a scalar integer attribute as a long. */
int tbs_h5_get_long(hid_t loc, const char *name, long *v, char *why)
{
    return read_number(loc, name, H5T_INTEGER, H5T_NATIVE_LONG, v, why);
}

/* ---- opening groups and datasets ------------------------------------- */

/* Open group name under loc, saying why not. */
hid_t tbs_h5_open_group(hid_t loc, const char *name, char *why)
{
    hid_t g;

    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) {
        snprintf(why, H5IO_WHY, "is missing");
        return -1;
    }
    g = H5Gopen2(loc, name, H5P_DEFAULT);
    if (g < 0)
        snprintf(why, H5IO_WHY, "is not a group");
    return g;
}

static void format_dims(char *buf, size_t size, int rank, const hsize_t *dims)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int k = 0; k < rank && used < size; k++) {
        int w = snprintf(buf + used, size - used, "%s%llu", k ? "x" : "",
                         (unsigned long long)dims[k]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Check that dset holds numbers shaped exactly rank x dims. */
static int check_shape(hid_t dset, int rank, const hsize_t *dims, char *why)
{
    hsize_t got[H5S_MAX_RANK];
    hid_t space = H5Dget_space(dset), type = H5Dget_type(dset);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    int n = space >= 0 ? H5Sget_simple_extent_dims(space, got, NULL) : -1;
    int same = n == rank;
    char a[64], b[64];

    for (int k = 0; same && k < rank; k++)
        same = got[k] == dims[k];
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);

    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        snprintf(why, H5IO_WHY, "does not hold numbers");
        return -1;
    }
    if (same)
        return 0;
    format_dims(a, sizeof(a), n < 0 ? 0 : n, got);
    format_dims(b, sizeof(b), rank, dims);
    snprintf(why, H5IO_WHY, "has shape %s, expected %s", n < 0 ? "?" : a, b);
    return -1;
}

/* Open dataset name under loc with the shape checked. */
hid_t tbs_h5_open_dataset(hid_t loc, const char *name, int rank,
                          const hsize_t *dims, char *why)
{
    hid_t dset;

    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) {
        snprintf(why, H5IO_WHY, "is missing");
        return -1;
    }
    dset = H5Dopen2(loc, name, H5P_DEFAULT);
    if (dset < 0) {
        snprintf(why, H5IO_WHY, "is not a dataset");
        return -1;
    }
    if (check_shape(dset, rank, dims, why) != 0) {
        H5Dclose(dset);
        return -1;
    }
    return dset;
}

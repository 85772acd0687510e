/*
 * write_foreign_table.c - write a table the way another tool would, with
 * nothing but the HDF5 library and docs/table-format.md: fixed-length
 * strings, attributes in the order the document lists them, no spacing
 * attribute (so uniform), values from a formula rather than tabula's
 * solver.  tests/test_byo.sh trains on it.
 *
 * The problem, "dampedwave", is one tabula does not know:
 *   y(k, t) = exp(-k t) cos(3 t),  k in [0.5, 2] (4 nodes),
 *   t in [0, 2] (21 nodes).
 *
 * Usage: write_foreign_table OUT.h5
 */
#include <hdf5.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NK 4
#define NT 21

/* A scalar fixed-length string attribute, as numpy writes them. */
static int put_str(hid_t loc, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR), a;
    int rc;

    H5Tset_size(type, strlen(value) + 1);
    a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    rc = a >= 0 && H5Awrite(a, type, value) >= 0 ? 0 : -1;
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    return rc;
}

/* A scalar numeric attribute of HDF5 type ftype from a native value. */
static int put_num(hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                   const void *v)
{
    hid_t space = H5Screate(H5S_SCALAR), a;
    int rc;

    a = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    rc = a >= 0 && H5Awrite(a, mtype, v) >= 0 ? 0 : -1;
    H5Aclose(a);
    H5Sclose(space);
    return rc;
}

static int put_double(hid_t loc, const char *name, double v)
{
    return put_num(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static int put_int(hid_t loc, const char *name, int v)
{
    return put_num(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT, &v);
}

/* A dataset of rank dims with data in mtype, written as ftype. */
static hid_t put_data(hid_t loc, const char *name, int rank,
                      const hsize_t *dims, hid_t ftype, hid_t mtype,
                      const void *data)
{
    hid_t space = H5Screate_simple(rank, dims, NULL), lcpl, d;

    lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    d = H5Dcreate2(loc, name, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        H5Dclose(d);
        d = -1;
    }
    H5Pclose(lcpl);
    H5Sclose(space);
    return d;
}

static int put_axis(hid_t f, const char *name, double lo, double hi, int n)
{
    double v[NT];
    hsize_t dim = (hsize_t)n;
    char path[64];
    hid_t d;
    int rc;

    for (int i = 0; i < n; i++)
        v[i] = lo + i * (hi - lo) / (n - 1);
    snprintf(path, sizeof(path), "axes/%s", name);
    d = put_data(f, path, 1, &dim, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v);
    if (d < 0)
        return -1;
    rc = put_double(d, "lo", lo) | put_double(d, "hi", hi) |
         put_int(d, "n", n) | put_str(d, "unit", "");
    H5Dclose(d);
    return rc;
}

static int put_root(hid_t f)
{
    return put_str(f, "magic", "tabula-table") |
           put_int(f, "format_version", 1) |
           put_str(f, "problem", "dampedwave") |
           put_str(f, "tabula_version", "write_foreign_table") |
           put_str(f, "created", "2026-12-03T00:00:00Z") |
           put_double(f, "rtol", 0) | put_double(f, "atol", 0) |
           put_int(f, "max_steps", 0) | put_int(f, "mesh", 0) |
           put_int(f, "n_params", 1) | put_int(f, "n_coords", 1) |
           put_double(f, "seconds", 0) | put_str(f, "inputs", "k,t") |
           put_str(f, "outputs", "y");
}

static int put_values(hid_t f)
{
    static double y[NK][NT];
    static signed char status[NK][NT];
    hsize_t dims[2] = {NK, NT};
    hid_t d1, d2;

    for (int i = 0; i < NK; i++)
        for (int j = 0; j < NT; j++) {
            double k = 0.5 + i * 1.5 / (NK - 1), t = j * 2.0 / (NT - 1);

            y[i][j] = exp(-k * t) * cos(3.0 * t);
        }
    d1 =
        put_data(f, "outputs/y", 2, dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, y);
    d2 = put_data(f, "status", 2, dims, H5T_STD_I8LE, H5T_NATIVE_SCHAR, status);
    H5Dclose(d1);
    H5Dclose(d2);
    return d1 >= 0 && d2 >= 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    hid_t f;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: write_foreign_table OUT.h5\n");
        return 2;
    }
    f = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return 1;
    rc = put_root(f) | put_axis(f, "k", 0.5, 2.0, NK) |
         put_axis(f, "t", 0.0, 2.0, NT) | put_values(f);
    if (H5Fclose(f) < 0)
        rc = -1;
    return rc ? 1 : 0;
}

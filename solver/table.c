/*
 * table.c - tables in memory, and writing them as HDF5 files
 * (docs/table-format.md; reading is in table_read.c).
 *
 * A table is written to "<path>.tmp.<pid>", flushed, closed and fsynced,
 * then renamed into place and its folder fsynced: a reader sees the old
 * file or the complete new one, never a part.  HDF5 is called only from
 * the calling thread, and its own error printing is silenced: errors are
 * reported through tb_error.
 */
#include "h5io.h"
#include "solver_int.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Release what t holds and zero it. */
void tb_table_free(tb_table *t)
{
    if (!t)
        return;
    free(t->values);
    free(t->status);
    memset(t, 0, sizeof(*t));
}

/* The input values of node i: row-major over the axes, last fastest. */
void tb_table_node(const tb_table *t, size_t i, double *in)
{
    for (int k = t->n_params + t->n_coords - 1; k >= 0; k--) {
        size_t n = (size_t)t->axes[k].n;

        in[k] = tb_axis_node(&t->axes[k], (int)(i % n));
        i /= n;
    }
}

/* ---- names ----------------------------------------------------------- */

/* A name may go into a comma-joined list and be an HDF5 link name. */
static int name_ok(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n < TB_NAME_MAX && !strpbrk(s, ",/") && strcmp(s, ".") != 0;
}

/* Join n names of stride bytes each with commas into buf. */
static void join_names(const char *names, size_t stride, int n, char *buf,
                       size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int k = 0; k < n && used < size; k++) {
        int w = snprintf(buf + used, size - used, "%s%s", k ? "," : "",
                         names + (size_t)k * stride);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* ---- checking a table in memory -------------------------------------- */

/* Check the axes of t (names valid and unique, ranges, counts) and count
 * its nodes, refusing overflow.  Returns 0 or -1 with the reason in why. */
int tbs_table_check_axes(const tb_table *t, size_t *nodes, char *why)
{
    int ni = t->n_params + t->n_coords;
    size_t n = 1;

    for (int k = 0; k < ni; k++) {
        const tb_axis *a = &t->axes[k];

        if (!name_ok(a->name)) {
            snprintf(why, TBS_WHY, "axis %d has no valid name", k);
            return -1;
        }
        for (int j = 0; j < k; j++)
            if (strcmp(t->axes[j].name, a->name) == 0) {
                snprintf(why, TBS_WHY, "input '%s' appears twice", a->name);
                return -1;
            }
        if (!isfinite(a->lo) || !isfinite(a->hi) || !(a->lo < a->hi) ||
            a->n < 2) {
            snprintf(why, TBS_WHY,
                     "axis %s is [%g, %g] with %d nodes; expected lo < hi "
                     "and at least 2 nodes",
                     a->name, a->lo, a->hi, a->n);
            return -1;
        }
        if (!tb_spacing_name(a->spacing) ||
            (a->spacing == TB_SPACING_LOG && !(a->lo > 0))) {
            snprintf(why, TBS_WHY,
                     "axis %s has spacing %d from %g; expected uniform, "
                     "cheb, or log with lo > 0",
                     a->name, a->spacing, a->lo);
            return -1;
        }
        if ((size_t)a->n > SIZE_MAX / sizeof(double) / TB_MAX_OUTPUTS / n) {
            snprintf(why, TBS_WHY, "the grid has too many nodes");
            return -1;
        }
        n *= (size_t)a->n;
    }
    *nodes = n;
    return 0;
}

/* Check that t describes itself consistently before writing it. */
static int check_table(const tb_table *t, char *why)
{
    int ni = t->n_params + t->n_coords;
    size_t nodes = 0;

    if (t->n_params < 0 || t->n_coords < 1 || ni > TB_MAX_INPUTS ||
        t->n_outputs < 1 || t->n_outputs > TB_MAX_OUTPUTS) {
        snprintf(why, TBS_WHY,
                 "%d parameters, %d coordinates, %d outputs are out of "
                 "range",
                 t->n_params, t->n_coords, t->n_outputs);
        return -1;
    }
    if (tbs_table_check_axes(t, &nodes, why) != 0)
        return -1;
    if (nodes != t->n_nodes || !t->values || !t->status) {
        snprintf(why, TBS_WHY, "it has %zu nodes where its axes make %zu",
                 t->n_nodes, nodes);
        return -1;
    }
    for (int o = 0; o < t->n_outputs; o++)
        if (!name_ok(t->outputs[o])) {
            snprintf(why, TBS_WHY, "output %d has no valid name", o);
            return -1;
        }
    return 0;
}

/* ---- writing --------------------------------------------------------- */

static int write_root(hid_t fid, const tb_table *t)
{
    char list[TB_MAX_INPUTS * (TB_NAME_MAX + 1)];
    int rc = 0;

    rc |= tbs_h5_put_str(fid, "magic", TBS_TABLE_MAGIC);
    rc |= tbs_h5_put_long(fid, "format_version", TBS_TABLE_VERSION,
                          H5T_STD_I32LE);
    rc |= tbs_h5_put_str(fid, "problem", t->problem);
    rc |= tbs_h5_put_str(fid, "tabula_version", t->version);
    rc |= tbs_h5_put_str(fid, "created", t->created);
    rc |= tbs_h5_put_double(fid, "rtol", t->opts.rtol);
    rc |= tbs_h5_put_double(fid, "atol", t->opts.atol);
    rc |= tbs_h5_put_long(fid, "max_steps", t->opts.max_steps, H5T_STD_I64LE);
    rc |= tbs_h5_put_long(fid, "mesh", t->opts.mesh, H5T_STD_I32LE);
    rc |= tbs_h5_put_long(fid, "n_params", t->n_params, H5T_STD_I32LE);
    rc |= tbs_h5_put_long(fid, "n_coords", t->n_coords, H5T_STD_I32LE);
    rc |= tbs_h5_put_double(fid, "seconds", t->seconds);

    join_names(t->axes[0].name, sizeof(tb_axis), t->n_params + t->n_coords,
               list, sizeof(list));
    rc |= tbs_h5_put_str(fid, "inputs", list);
    join_names(t->outputs[0], TB_NAME_MAX, t->n_outputs, list, sizeof(list));
    rc |= tbs_h5_put_str(fid, "outputs", list);
    return rc ? -1 : 0;
}

/* One dataset per axis: its node values, with lo, hi, n and unit. */
static int write_axis(hid_t group, const tb_axis *a)
{
    hsize_t dim = (hsize_t)a->n;
    double *v = malloc(sizeof(double) * (size_t)a->n);
    hid_t dset = -1;
    int rc = -1;

    if (!v)
        return -1;
    for (int i = 0; i < a->n; i++)
        v[i] = tb_axis_node(a, i);
    dset = tbs_h5_put_dataset(group, a->name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                              1, &dim, v);
    if (dset >= 0)
        rc = tbs_h5_put_double(dset, "lo", a->lo) |
             tbs_h5_put_double(dset, "hi", a->hi) |
             tbs_h5_put_long(dset, "n", a->n, H5T_STD_I32LE) |
             tbs_h5_put_str(dset, "unit", a->unit) |
             tbs_h5_put_str(dset, "spacing", tb_spacing_name(a->spacing));
    if (dset >= 0 && H5Dclose(dset) < 0)
        rc = -1;
    free(v);
    return rc ? -1 : 0;
}

/* Write dataset name of the grid's shape and close it. */
static int write_grid(hid_t loc, const char *name, const tb_table *t,
                      hid_t ftype, hid_t mtype, const void *data)
{
    hsize_t dims[TB_MAX_INPUTS];
    int rank = t->n_params + t->n_coords;
    hid_t dset;

    for (int k = 0; k < rank; k++)
        dims[k] = (hsize_t)t->axes[k].n;
    dset = tbs_h5_put_dataset(loc, name, ftype, mtype, rank, dims, data);
    if (dset < 0)
        return -1;
    return H5Dclose(dset) < 0 ? -1 : 0;
}

static int write_body(hid_t fid, const tb_table *t)
{
    hid_t axes = H5Gcreate2(fid, "axes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t outs =
        H5Gcreate2(fid, "outputs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = axes < 0 || outs < 0;

    for (int k = 0; !rc && k < t->n_params + t->n_coords; k++)
        rc = write_axis(axes, &t->axes[k]);
    for (int o = 0; !rc && o < t->n_outputs; o++)
        rc = write_grid(outs, t->outputs[o], t, H5T_IEEE_F64LE,
                        H5T_NATIVE_DOUBLE, t->values + o * t->n_nodes);
    if (!rc)
        rc = write_grid(fid, "status", t, H5T_STD_I8LE, H5T_NATIVE_SCHAR,
                        t->status);
    if (axes >= 0 && H5Gclose(axes) < 0)
        rc = -1;
    if (outs >= 0 && H5Gclose(outs) < 0)
        rc = -1;
    return rc ? -1 : 0;
}

/* Write the whole file at tmp: create, fill, flush, close. */
static int write_file(const tb_table *t, const char *tmp, tb_error *err)
{
    hid_t fid;
    int ok;

    errno = 0;
    fid = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (fid < 0)
        return tb_error_set(err, TB_EIO, tmp, "cannot create %s: %s", tmp,
                            errno ? strerror(errno) : "HDF5 refused");

    ok = write_root(fid, t) == 0 && write_body(fid, t) == 0 &&
         H5Fflush(fid, H5F_SCOPE_GLOBAL) >= 0;
    if (H5Fclose(fid) < 0)
        ok = 0;
    if (!ok)
        return tb_error_set(err, TB_EIO, tmp,
                            "writing %s failed (is the disk full?)", tmp);
    return TB_OK;
}

/* Write t to path atomically; see solver.h.  Returns 0 or TB_EINVAL /
 * TB_EIO, with no file left at path or at the temporary name. */
int tb_table_write(const tb_table *t, const char *path, tb_error *err)
{
    char tmp[4096], why[TBS_WHY];
    int rc;

    if (!t || !path || !*path)
        return tb_error_set(err, TB_EINVAL, "tb_table_write",
                            "a table and a file name are both required");
    if ((rc = tb_path_replaceable(path, err)) != 0)
        return rc;
    if (check_table(t, why) != 0)
        return tb_error_set(err, TB_EINVAL, path,
                            "cannot write %s: the table is malformed: %s", path,
                            why);
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
        (int)sizeof(tmp))
        return tb_error_set(err, TB_EINVAL, path, "file name is too long");

    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    rc = write_file(t, tmp, err);
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    return tb_path_commit(tmp, path, err);
}

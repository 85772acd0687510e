/*
 * table_read.c - reading a table file back (docs/table-format.md).
 *
 * Nothing in the file is trusted before it is checked: the magic tag and
 * format version first, then every attribute, name and shape, then the
 * node values of each axis and the status of each node.  Any fault is
 * TB_EFORMAT with a message naming the file and what is wrong.  HDF5's
 * own error printing is silenced; errors go through tb_error.
 */
#include "h5io.h"
#include "solver_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One reason buffer serves the HDF5 helpers and the axis checks. */
_Static_assert(H5IO_WHY == TBS_WHY, "reason buffers differ in size");

/* Split a comma-joined list into names; checks each is valid and unique.
 * Returns the count, or -1 with the reason in why. */
static int split_names(const char *list, char names[][TB_NAME_MAX], int max,
                       char *why)
{
    int n = 0;

    for (const char *s = list;; n++) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);

        if (n == max) {
            snprintf(why, H5IO_WHY, "names more than %d items", max);
            return -1;
        }
        if (len == 0 || len >= TB_NAME_MAX) {
            snprintf(why, H5IO_WHY, "has an empty or over-long name");
            return -1;
        }
        memcpy(names[n], s, len);
        names[n][len] = '\0';
        for (int k = 0; k < n; k++)
            if (strcmp(names[k], names[n]) == 0) {
                snprintf(why, H5IO_WHY, "names '%s' twice", names[n]);
                return -1;
            }
        if (!end)
            return n + 1;
        s = end + 1;
    }
}

/* ---- reading --------------------------------------------------------- */

struct reader {
    const char *path;
    hid_t fid;
    tb_error *err;
    char why[H5IO_WHY];
};

/* Record that the file is not a valid table; returns TB_EFORMAT. */
static int bad(struct reader *r, const char *fmt, ...) TB_PRINTF(2, 3);

static int bad(struct reader *r, const char *fmt, ...)
{
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return tb_error_set(r->err, TB_EFORMAT, r->path, "%s: %s", r->path, what);
}

/* Read string attribute name of loc ("where" names loc in messages). */
static int get_str(struct reader *r, hid_t loc, const char *where,
                   const char *name, char *buf, size_t size)
{
    if (tbs_h5_get_str(loc, name, buf, size, r->why) == 0)
        return TB_OK;
    return bad(r, "attribute %s%s %s", where, name, r->why);
}

static int get_double(struct reader *r, hid_t loc, const char *where,
                      const char *name, double *v)
{
    if (tbs_h5_get_double(loc, name, v, r->why) == 0)
        return TB_OK;
    return bad(r, "attribute %s%s %s", where, name, r->why);
}

/* Read integer attribute name into *v, which must lie in [lo, hi]. */
static int get_long(struct reader *r, hid_t loc, const char *where,
                    const char *name, long lo, long hi, long *v)
{
    if (tbs_h5_get_long(loc, name, v, r->why) != 0)
        return bad(r, "attribute %s%s %s", where, name, r->why);
    if (*v < lo || *v > hi)
        return bad(r, "attribute %s%s is %ld, expected %ld to %ld", where, name,
                   *v, lo, hi);
    return TB_OK;
}

/* The magic tag and format version, before anything else. */
static int read_magic(struct reader *r)
{
    char magic[64];
    long version;

    if (tbs_h5_get_str(r->fid, "magic", magic, sizeof(magic), r->why) != 0)
        return bad(r, "not a tabula table (attribute magic %s)", r->why);
    if (strcmp(magic, TBS_TABLE_MAGIC) != 0)
        return bad(r, "not a tabula table (magic is '%s', expected '%s')",
                   magic, TBS_TABLE_MAGIC);
    if (tbs_h5_get_long(r->fid, "format_version", &version, r->why) != 0)
        return bad(r, "attribute format_version %s", r->why);
    if (version != TBS_TABLE_VERSION)
        return bad(r, "table format version %ld; this build reads version %d",
                   version, TBS_TABLE_VERSION);
    return TB_OK;
}

/* The settings and provenance in the root attributes. */
static int read_settings(struct reader *r, tb_table *t)
{
    hid_t f = r->fid;
    long steps = 0, mesh = 0;
    int rc;

    rc = get_str(r, f, "", "problem", t->problem, sizeof(t->problem));
    if (!rc)
        rc =
            get_str(r, f, "", "tabula_version", t->version, sizeof(t->version));
    if (!rc)
        rc = get_str(r, f, "", "created", t->created, sizeof(t->created));
    if (!rc)
        rc = get_double(r, f, "", "rtol", &t->opts.rtol);
    if (!rc)
        rc = get_double(r, f, "", "atol", &t->opts.atol);
    if (!rc)
        rc = get_long(r, f, "", "max_steps", 0, LONG_MAX, &steps);
    if (!rc)
        rc = get_long(r, f, "", "mesh", 0, INT_MAX, &mesh);
    if (!rc)
        rc = get_double(r, f, "", "seconds", &t->seconds);
    t->opts.max_steps = steps;
    t->opts.mesh = (int)mesh;
    return rc;
}

/* The counts and names of inputs and outputs. */
static int read_names(struct reader *r, tb_table *t)
{
    char list[1024], names[TB_MAX_INPUTS][TB_NAME_MAX];
    long np = 0, nc = 0;
    int n, rc;

    rc = get_long(r, r->fid, "", "n_params", 0, TB_MAX_INPUTS - 1, &np);
    if (!rc)
        rc = get_long(r, r->fid, "", "n_coords", 1, TB_MAX_INPUTS - np, &nc);
    if (!rc)
        rc = get_str(r, r->fid, "", "inputs", list, sizeof(list));
    if (rc)
        return rc;
    n = split_names(list, names, TB_MAX_INPUTS, r->why);
    if (n < 0)
        return bad(r, "attribute inputs %s", r->why);
    if (n != np + nc)
        return bad(r,
                   "attribute inputs names %d inputs; n_params + n_coords "
                   "is %ld",
                   n, np + nc);
    t->n_params = (int)np;
    t->n_coords = (int)nc;
    for (int k = 0; k < n; k++)
        memcpy(t->axes[k].name, names[k], TB_NAME_MAX);

    if ((rc = get_str(r, r->fid, "", "outputs", list, sizeof(list))) != 0)
        return rc;
    n = split_names(list, t->outputs, TB_MAX_OUTPUTS, r->why);
    if (n < 0)
        return bad(r, "attribute outputs %s", r->why);
    t->n_outputs = n;
    return TB_OK;
}

/* Check that the stored node values are the axis's nodes, within 1e-9 of
 * the range (of the node itself on a logarithmic axis). */
static int check_nodes(struct reader *r, hid_t dset, const tb_axis *a)
{
    double *v = malloc(sizeof(double) * (size_t)a->n);
    int log_axis = a->spacing == TB_SPACING_LOG;
    int rc = TB_OK;

    if (!v)
        return tb_error_set(r->err, TB_ENOMEM, r->path, "no memory for axis %s",
                            a->name);
    if (H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        rc = bad(r, "dataset /axes/%s cannot be read", a->name);
    for (int i = 0; rc == 0 && i < a->n; i++)
        if (!(fabs(v[i] - tb_axis_node(a, i)) <=
              1e-9 * (log_axis ? tb_axis_node(a, i) : a->hi - a->lo)))
            rc = bad(r,
                     "dataset /axes/%s: node %d is %.17g, expected %.17g "
                     "from lo, hi and n",
                     a->name, i, v[i], tb_axis_node(a, i));
    free(v);
    return rc;
}

/* The optional spacing attribute of an axis; uniform when absent (tables
 * written before spacings existed). */
static int read_spacing(struct reader *r, hid_t dset, const char *where,
                        tb_axis *a)
{
    char name[16];
    int rc;

    a->spacing = TB_SPACING_UNIFORM;
    if (H5Aexists(dset, "spacing") <= 0)
        return TB_OK;
    rc = get_str(r, dset, where, "spacing", name, sizeof(name));
    if (rc)
        return rc;
    a->spacing = tb_spacing_parse(name);
    if (a->spacing < 0)
        return bad(r,
                   "%s attribute spacing is '%s'; expected uniform, log "
                   "or cheb",
                   where, name);
    return TB_OK;
}

/* Read one axis: its attributes, then its node values. */
static int read_axis(struct reader *r, hid_t group, tb_axis *a)
{
    char where[TB_NAME_MAX + 16];
    long n = 0;
    hsize_t dim;
    hid_t dset;
    int rc;

    snprintf(where, sizeof(where), "/axes/%s:", a->name);
    if (H5Lexists(group, a->name, H5P_DEFAULT) <= 0)
        return bad(r, "dataset /axes/%s is missing", a->name);
    if ((dset = H5Dopen2(group, a->name, H5P_DEFAULT)) < 0)
        return bad(r, "/axes/%s is not a dataset", a->name);

    rc = get_double(r, dset, where, "lo", &a->lo);
    if (!rc)
        rc = get_double(r, dset, where, "hi", &a->hi);
    if (!rc)
        rc = get_long(r, dset, where, "n", 2, INT_MAX, &n);
    if (!rc)
        rc = get_str(r, dset, where, "unit", a->unit, sizeof(a->unit));
    if (!rc)
        rc = read_spacing(r, dset, where, a);
    a->n = (int)n;
    if (!rc && !(isfinite(a->lo) && isfinite(a->hi) && a->lo < a->hi))
        rc = bad(r, "axis %s runs from %g to %g; expected lo < hi", a->name,
                 a->lo, a->hi);
    H5Dclose(dset);
    if (rc)
        return rc;

    dim = (hsize_t)a->n;
    if ((dset = tbs_h5_open_dataset(group, a->name, 1, &dim, r->why)) < 0)
        return bad(r, "dataset /axes/%s %s", a->name, r->why);
    rc = check_nodes(r, dset, a);
    H5Dclose(dset);
    return rc;
}

static int read_axes(struct reader *r, tb_table *t)
{
    hid_t group = tbs_h5_open_group(r->fid, "axes", r->why);
    int rc = TB_OK;

    if (group < 0)
        return bad(r, "group /axes %s", r->why);
    for (int k = 0; rc == 0 && k < t->n_params + t->n_coords; k++)
        rc = read_axis(r, group, &t->axes[k]);
    H5Gclose(group);
    if (rc == 0 && tbs_table_check_axes(t, &t->n_nodes, r->why) != 0)
        rc = bad(r, "%s", r->why);
    return rc;
}

/* Read a grid-shaped dataset (name under loc) into buf as mtype. */
static int read_grid(struct reader *r, hid_t loc, const char *where,
                     const char *name, hid_t mtype, void *buf,
                     const tb_table *t)
{
    hsize_t dims[TB_MAX_INPUTS];
    int rank = t->n_params + t->n_coords;
    hid_t dset;
    int rc = TB_OK;

    for (int k = 0; k < rank; k++)
        dims[k] = (hsize_t)t->axes[k].n;
    dset = tbs_h5_open_dataset(loc, name, rank, dims, r->why);
    if (dset < 0)
        return bad(r, "dataset %s%s %s", where, name, r->why);
    if (H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = bad(r, "dataset %s%s cannot be read (truncated?)", where, name);
    H5Dclose(dset);
    return rc;
}

static int read_data(struct reader *r, tb_table *t)
{
    hid_t group;
    int rc = TB_OK;

    t->values = malloc(t->n_nodes * (size_t)t->n_outputs * sizeof(double));
    t->status = malloc(t->n_nodes);
    if (!t->values || !t->status)
        return tb_error_set(r->err, TB_ENOMEM, r->path,
                            "no memory for a table of %zu nodes", t->n_nodes);

    if ((group = tbs_h5_open_group(r->fid, "outputs", r->why)) < 0)
        return bad(r, "group /outputs %s", r->why);
    for (int o = 0; rc == 0 && o < t->n_outputs; o++)
        rc = read_grid(r, group, "/outputs/", t->outputs[o], H5T_NATIVE_DOUBLE,
                       t->values + o * t->n_nodes, t);
    H5Gclose(group);
    if (rc == 0)
        rc =
            read_grid(r, r->fid, "/", "status", H5T_NATIVE_SCHAR, t->status, t);
    return rc;
}

/* Count failed nodes; a node marked good must hold finite values. */
static int count_failed(struct reader *r, tb_table *t)
{
    t->n_failed = 0;
    for (size_t i = 0; i < t->n_nodes; i++) {
        if (t->status[i] != 0) {
            t->n_failed++;
            continue;
        }
        for (int o = 0; o < t->n_outputs; o++)
            if (!isfinite(t->values[o * t->n_nodes + i]))
                return bad(r,
                           "node %zu is marked solved but output %s is "
                           "not finite",
                           i, t->outputs[o]);
    }
    return TB_OK;
}

/* Read a table written by tb_table_write (or by hand to the same layout);
 * see solver.h.  On failure t is left empty. */
int tb_table_read(const char *path, tb_table *t, tb_error *err)
{
    struct reader r = {.path = path, .fid = -1, .err = err};
    int fd, rc;

    if (!path || !t)
        return tb_error_set(err, TB_EINVAL, "tb_table_read",
                            "a file name and a table are both required");
    memset(t, 0, sizeof(*t));
    if ((fd = open(path, O_RDONLY)) < 0)
        return tb_error_set(err, TB_EIO, path, "cannot open %s: %s", path,
                            strerror(errno));
    close(fd);

    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(path) <= 0)
        return bad(&r, "not an HDF5 file");
    if ((r.fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return bad(&r, "HDF5 cannot open it (truncated or damaged)");

    rc = read_magic(&r);
    if (!rc)
        rc = read_settings(&r, t);
    if (!rc)
        rc = read_names(&r, t);
    if (!rc)
        rc = read_axes(&r, t);
    if (!rc)
        rc = read_data(&r, t);
    if (!rc)
        rc = count_failed(&r, t);

    if (H5Fclose(r.fid) < 0 && rc == 0)
        rc = bad(&r, "closing the file failed");
    if (rc != 0)
        tb_table_free(t);
    return rc;
}

/*
 * test_table.c - tabulation and table files: the same table for one thread
 * and two, a bit-exact write/read round trip, damaged and foreign files
 * refused with TB_EFORMAT, and failed writes that leave nothing behind.
 */
#include "solver.h"
#include "testutil.h"

#include <hdf5.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A small heat1d grid: 4 x 17 x 9 nodes. */
static void small_axes(tb_axis *axes)
{
    const tb_problem *p = tb_problem_find("heat1d");

    memcpy(axes, p->inputs, sizeof(tb_axis) * 3);
    axes[0].n = 4;
    axes[1].n = 17;
    axes[2].n = 9;
}

struct progress {
    size_t calls;
    size_t last;
    int ordered;
};

static void on_progress(size_t done, size_t total, void *data)
{
    struct progress *pr = data;

    pr->calls++;
    pr->ordered &= done == pr->last + 1 && done <= total;
    pr->last = done;
}

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tu_tmpdir(), name);
}

/* Entries of a folder whose name holds ".tmp.": none may survive. */
static int temp_files(const char *folder)
{
    DIR *d = opendir(folder);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* ---- tabulation ------------------------------------------------------ */

static void test_jobs_agree(tb_table *one)
{
    const tb_problem *p = tb_problem_find("heat1d");
    struct progress pr = {0, 0, 1};
    tb_axis axes[3];
    tb_table two;
    double in[3], worst = 0;
    tb_error err;
    int rc;

    small_axes(axes);
    tb_error_clear(&err);
    rc = tb_tabulate(p, NULL, axes, 1, on_progress, &pr, one, &err);
    CHECK(rc == 0, "tabulate with one job: %s", err.text);
    CHECK(pr.calls == 4 && pr.last == 4 && pr.ordered,
          "progress called once per tuple in order (%zu calls)", pr.calls);
    rc = tb_tabulate(p, NULL, axes, 2, NULL, NULL, &two, &err);
    CHECK(rc == 0, "tabulate with two jobs: %s", err.text);

    CHECK(one->n_nodes == 4 * 17 * 9 && two.n_nodes == one->n_nodes,
          "node count %zu", one->n_nodes);
    CHECK(memcmp(one->values, two.values, one->n_nodes * sizeof(double)) == 0,
          "one job and two give identical values");
    CHECK(one->n_failed == 0 && two.n_failed == 0, "no failed nodes");

    /* The layout: node i's inputs give the value stored at i. */
    for (size_t i = 0; i < one->n_nodes; i++) {
        tb_table_node(one, i, in);
        worst = fmax(worst,
                     fabs(one->values[i] - exp(-in[0] * M_PI * M_PI * in[2]) *
                                               sin(M_PI * in[1])));
    }
    CHECK(worst < 1e-5, "table values match the exact solution (%.3g)", worst);
    CHECK(one->opts.mesh == p->defaults.mesh && one->seconds > 0 &&
              strlen(one->created) == 20,
          "settings and provenance recorded (%s)", one->created);
    tb_table_free(&two);
}

/* A starved solver: every node failed, NaN, and the reason kept. */
static void test_failed_tabulation(tb_table *t)
{
    const tb_problem *p = tb_problem_find("heat1d");
    tb_solver_opts o = {.max_steps = 1};
    tb_axis axes[3];
    tb_error err;
    int rc;

    small_axes(axes);
    tb_error_clear(&err);
    rc = tb_tabulate(p, &o, axes, 2, NULL, NULL, t, &err);
    CHECK(rc == TB_PARTIAL, "a failing tabulation is partial (%d)", rc);
    CHECK(t->n_failed == t->n_nodes, "every node failed (%zu)", t->n_failed);
    CHECK(t->status[0] < 0 && isnan(t->values[0]),
          "failed nodes: status %d, value %g", t->status[0], t->values[0]);
    CHECK(strstr(err.text, "CV_TOO_MUCH_WORK") && strstr(err.text, "alpha="),
          "the first failure is reported: %s", err.text);
}

/* ---- files ----------------------------------------------------------- */

static void check_same(const tb_table *a, const tb_table *b)
{
    int ni = a->n_params + a->n_coords;
    size_t nv = a->n_nodes * (size_t)a->n_outputs * sizeof(double);

    CHECK(strcmp(a->problem, b->problem) == 0 && a->n_params == b->n_params &&
              a->n_coords == b->n_coords && a->n_outputs == b->n_outputs,
          "description read back");
    for (int k = 0; k < ni; k++)
        CHECK(strcmp(a->axes[k].name, b->axes[k].name) == 0 &&
                  strcmp(a->axes[k].unit, b->axes[k].unit) == 0 &&
                  a->axes[k].lo == b->axes[k].lo &&
                  a->axes[k].hi == b->axes[k].hi &&
                  a->axes[k].n == b->axes[k].n &&
                  a->axes[k].spacing == b->axes[k].spacing,
              "axis %d read back", k);
    CHECK(strcmp(a->outputs[0], b->outputs[0]) == 0, "output name read back");
    CHECK(memcmp(&a->opts, &b->opts, sizeof(a->opts)) == 0,
          "solver settings read back");
    CHECK(a->n_nodes == b->n_nodes && memcmp(a->values, b->values, nv) == 0,
          "values read back bit for bit");
    CHECK(memcmp(a->status, b->status, a->n_nodes) == 0 &&
              a->n_failed == b->n_failed,
          "status read back, %zu failed", b->n_failed);
    CHECK(strcmp(a->version, b->version) == 0 &&
              strcmp(a->created, b->created) == 0 && a->seconds == b->seconds,
          "provenance read back");
}

static void test_round_trip(const tb_table *t, const char *name)
{
    char path[4200];
    tb_table back;
    tb_error err;

    path_in(path, sizeof(path), name);
    tb_error_clear(&err);
    CHECK(tb_table_write(t, path, &err) == 0, "write %s: %s", name, err.text);
    CHECK(temp_files(tu_tmpdir()) == 0, "no temporary file left");
    CHECK(tb_table_read(path, &back, &err) == 0, "read %s: %s", name, err.text);
    check_same(t, &back);
    tb_table_free(&back);
}

/* Read path and expect code, with a message naming the file and holding
 * the word expect. */
static void expect_refused(const char *path, int code, const char *expect)
{
    tb_table t;
    tb_error err;
    int rc;

    tb_error_clear(&err);
    rc = tb_table_read(path, &t, &err);
    CHECK(rc == code, "%s refused with %s (got %s)", path, tb_status_name(code),
          tb_status_name(rc));
    CHECK(strstr(err.text, path) && strstr(err.text, expect),
          "message names the file and says '%s': %s", expect, err.text);
    CHECK(t.values == NULL && t.n_nodes == 0, "a refused table is empty");
}

static void copy_prefix(const char *from, const char *to, long bytes)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int c;

    for (long i = 0; in && out && i < bytes && (c = getc(in)) != EOF; i++)
        putc(c, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
}

/* Change a good file with HDF5 itself: apply edit to the open file. */
static void edit_copy(const char *good, const char *bad,
                      void (*edit)(hid_t fid))
{
    struct stat st;
    hid_t fid;

    stat(good, &st);
    copy_prefix(good, bad, (long)st.st_size);
    fid = H5Fopen(bad, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(fid >= 0, "open %s for editing", bad);
    if (fid < 0)
        return;
    edit(fid);
    H5Fclose(fid);
}

/* Replace a root string attribute with a fixed-length one. */
static void put_fixed(hid_t fid, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR), a;
    char padded[64] = {0}; /* NUL padding past the text, as numpy writes */

    snprintf(padded, sizeof(padded), "%s", value);
    H5Tset_size(type, strlen(value) + 3);
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    H5Adelete(fid, name);
    a = H5Acreate2(fid, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, padded);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
}

static void edit_magic(hid_t fid)
{
    put_fixed(fid, "magic", "tabula-model");
}

static void edit_fixed_strings(hid_t fid)
{
    put_fixed(fid, "inputs", "alpha,x,t");
    put_fixed(fid, "problem", "heat1d");
}

static void edit_version(hid_t fid)
{
    hid_t a = H5Aopen(fid, "format_version", H5P_DEFAULT);
    int v = 7;

    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
}

static void edit_no_status(hid_t fid)
{
    H5Ldelete(fid, "status", H5P_DEFAULT);
}

static void edit_shape(hid_t fid)
{
    hsize_t dims[3] = {4, 17, 8};
    hid_t space = H5Screate_simple(3, dims, NULL), d;

    H5Ldelete(fid, "outputs/u", H5P_DEFAULT);
    d = H5Dcreate2(fid, "outputs/u", H5T_IEEE_F64LE, space, H5P_DEFAULT,
                   H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(space);
}

static void test_damaged_files(const tb_table *t)
{
    char good[4200], bad[4200];
    struct stat st;
    tb_table back;
    tb_error err;
    FILE *f;

    path_in(good, sizeof(good), "good.h5");
    tb_error_clear(&err);
    CHECK(tb_table_write(t, good, &err) == 0, "write: %s", err.text);
    stat(good, &st);

    path_in(bad, sizeof(bad), "truncated.h5");
    copy_prefix(good, bad, (long)st.st_size / 2);
    expect_refused(bad, TB_EFORMAT, "truncated");

    path_in(bad, sizeof(bad), "text.h5");
    f = fopen(bad, "w");
    fputs("alpha,x,t,u\n0.1,0,0,0\n", f);
    fclose(f);
    expect_refused(bad, TB_EFORMAT, "not an HDF5 file");

    path_in(bad, sizeof(bad), "magic.h5");
    edit_copy(good, bad, edit_magic);
    expect_refused(bad, TB_EFORMAT, "magic is 'tabula-model'");
    path_in(bad, sizeof(bad), "version.h5");
    edit_copy(good, bad, edit_version);
    expect_refused(bad, TB_EFORMAT, "version 7");
    path_in(bad, sizeof(bad), "nostatus.h5");
    edit_copy(good, bad, edit_no_status);
    expect_refused(bad, TB_EFORMAT, "status is missing");
    path_in(bad, sizeof(bad), "shape.h5");
    edit_copy(good, bad, edit_shape);
    expect_refused(bad, TB_EFORMAT, "has shape 4x17x8, expected 4x17x9");
    path_in(bad, sizeof(bad), "absent.h5");
    expect_refused(bad, TB_EIO, "No such file");

    /* Fixed-length strings (as other tools write them) are fine. */
    path_in(bad, sizeof(bad), "fixed.h5");
    edit_copy(good, bad, edit_fixed_strings);
    tb_error_clear(&err);
    CHECK(tb_table_read(bad, &back, &err) == 0, "fixed-length strings read: %s",
          err.text);
    CHECK(strcmp(back.axes[2].name, "t") == 0, "names from a fixed string");
    tb_table_free(&back);
}

/* ---- axis spacings --------------------------------------------------- */

/* Node values of each spacing: ends exact, log nodes a geometric series,
 * Chebyshev-Lobatto nodes mid - half cos(pi i / (n - 1)). */
static void test_axis_nodes(void)
{
    tb_axis u = {"t", "s", 1e-4, 1e10, 15, TB_SPACING_LOG};
    tb_axis c = {"x", "m", -1, 3, 5, TB_SPACING_CHEB};

    CHECK(tb_axis_node(&u, 0) == 1e-4 && tb_axis_node(&u, 14) == 1e10,
          "log axis ends are exact");
    for (int i = 0; i < 15; i++)
        CHECK_NEAR(tb_axis_node(&u, i) / pow(10.0, -4.0 + i), 1.0, 1e-12,
                   "log node is 10^(i-4)");
    CHECK_NEAR(tb_axis_node(&c, 1), 1.0 - 2.0 * sqrt(0.5), 1e-14, "cheb 1");
    CHECK(tb_axis_node(&c, 2) == 1.0 && tb_axis_node(&c, 4) == 3.0,
          "cheb middle and end nodes");
    CHECK(strcmp(tb_spacing_name(TB_SPACING_CHEB), "cheb") == 0 &&
              tb_spacing_parse("log") == TB_SPACING_LOG &&
              tb_spacing_parse("linear") == -1 && !tb_spacing_name(3),
          "spacing names");
}

/* A log axis needs lo > 0; an unknown spacing is refused. */
static void test_axis_checks(void)
{
    const tb_problem *p = tb_problem_find("heat1d");
    tb_axis a = p->inputs[2];
    tb_error err;

    a.spacing = TB_SPACING_LOG;
    tb_error_clear(&err);
    CHECK(tb_axis_check(p, 2, &a, &err) == TB_EINVAL &&
              strstr(err.text, "positive lower bound") &&
              strcmp(err.where, "t") == 0,
          "log axis from 0 refused: %s", err.text);
    a.lo = 1e-3;
    CHECK(tb_axis_check(p, 2, &a, NULL) == 0, "log axis from 1e-3 accepted");
    a.spacing = 7;
    tb_error_clear(&err);
    CHECK(tb_axis_check(p, 2, &a, &err) == TB_EINVAL &&
              strstr(err.text, "spacing 7"),
          "spacing 7 refused: %s", err.text);
}

/* Tabulating on log and Chebyshev axes puts the solver at those nodes,
 * and the file keeps the spacings. */
static void test_spaced_table(void)
{
    const tb_problem *p = tb_problem_find("heat1d");
    tb_axis axes[3];
    tb_table t = {0};
    double in[3], worst = 0;
    tb_error err;

    small_axes(axes);
    axes[1].spacing = TB_SPACING_CHEB;
    axes[2].spacing = TB_SPACING_LOG;
    axes[2].lo = 1e-3;
    tb_error_clear(&err);
    CHECK(tb_tabulate(p, NULL, axes, 2, NULL, NULL, &t, &err) == 0,
          "tabulate on cheb and log axes: %s", err.text);
    for (size_t i = 0; i < t.n_nodes; i++) {
        double want;

        tb_table_node(&t, i, in);
        want = exp(-in[0] * M_PI * M_PI * in[2]) * sin(M_PI * in[1]);
        worst = fmax(worst, fabs(t.values[i] - want));
    }
    CHECK(worst < 1e-6, "heat1d on spaced nodes: max error %.3g", worst);
    CHECK(t.axes[2].spacing == TB_SPACING_LOG, "the table keeps log");
    test_round_trip(&t, "spaced.h5");
    tb_table_free(&t);
}

/* Remove the spacing attribute from every axis, as in an older table. */
static void edit_no_spacing(hid_t fid)
{
    const char *names[] = {"axes/alpha", "axes/x", "axes/t"};

    for (int k = 0; k < 3; k++) {
        hid_t d = H5Dopen2(fid, names[k], H5P_DEFAULT);

        H5Adelete(d, "spacing");
        H5Dclose(d);
    }
}

/* Set an unknown spacing on the t axis. */
static void edit_bad_spacing(hid_t fid)
{
    hid_t d = H5Dopen2(fid, "axes/t", H5P_DEFAULT);

    put_fixed(d, "spacing", "linear"); /* works on any object */
    H5Dclose(d);
}

/* Tables written before spacings existed read as uniform; an unknown
 * spacing is refused. */
static void test_spacing_files(const tb_table *t)
{
    char good[4200], bad[4200];
    tb_table back;
    tb_error err;

    path_in(good, sizeof(good), "good-spacing.h5");
    tb_error_clear(&err);
    CHECK(tb_table_write(t, good, &err) == 0, "write: %s", err.text);

    path_in(bad, sizeof(bad), "old.h5");
    edit_copy(good, bad, edit_no_spacing);
    tb_error_clear(&err);
    CHECK(tb_table_read(bad, &back, &err) == 0, "old table read: %s", err.text);
    CHECK(back.axes[1].spacing == TB_SPACING_UNIFORM, "old table is uniform");
    tb_table_free(&back);

    path_in(bad, sizeof(bad), "badspacing.h5");
    edit_copy(good, bad, edit_bad_spacing);
    expect_refused(bad, TB_EFORMAT, "spacing is 'linear'");
}

/* A write that cannot complete fails cleanly and leaves no file. */
static void test_failed_writes(const tb_table *t)
{
    char folder[4200], path[4300];
    tb_error err;

    path_in(path, sizeof(path), "missing/t.h5");
    tb_error_clear(&err);
    CHECK(tb_table_write(t, path, &err) == TB_EIO,
          "a missing folder is TB_EIO: %s", err.text);

    /* A folder in the way is refused before anything is written. */
    path_in(folder, sizeof(folder), "taken");
    mkdir(folder, 0700);
    snprintf(path, sizeof(path), "%s/inside", folder);
    fclose(fopen(path, "w"));
    tb_error_clear(&err);
    CHECK(tb_table_write(t, folder, &err) == TB_EINVAL &&
              strstr(err.text, "not a regular file"),
          "writing onto a folder is refused: %s", err.text);
    CHECK(temp_files(tu_tmpdir()) == 0, "no temporary file left");

    /* Permissions only bind when not root. */
    path_in(folder, sizeof(folder), "locked");
    mkdir(folder, 0500);
    snprintf(path, sizeof(path), "%s/t.h5", folder);
    tb_error_clear(&err);
    if (geteuid() != 0) {
        CHECK(tb_table_write(t, path, &err) == TB_EIO,
              "an unwritable folder is TB_EIO: %s", err.text);
        CHECK(temp_files(folder) == 0 && access(path, F_OK) != 0,
              "nothing left in the unwritable folder");
    }
    chmod(folder, 0700);
}

int main(void)
{
    tb_table one, failed;

    tb_log_set_level(TB_LOG_ERROR);
    test_jobs_agree(&one);
    test_round_trip(&one, "one.h5");
    test_failed_tabulation(&failed);
    test_round_trip(&failed, "failed.h5");
    test_damaged_files(&one);
    test_failed_writes(&one);
    test_axis_nodes();
    test_axis_checks();
    test_spaced_table();
    test_spacing_files(&one);
    tb_table_free(&one);
    tb_table_free(&failed);
    return tu_finish("table");
}

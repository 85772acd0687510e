/*
 * fuzz_model.c - libFuzzer target for the model-file loader.
 *
 * Debian's HDF5 1.10.8 itself crashes and leaks on corrupt bytes (found by
 * this target's raw mode within seconds), which no check in tabula can
 * prevent, so by default the bytes do not become the file.  They drive a
 * list of edits made through HDF5's writer to a valid model file with cell
 * figures: attributes replaced by others of any type, length and value
 * (NaN, huge counts, wrong strings), datasets replaced or resized, groups
 * removed.  tb_model_load must then refuse the file with a message, or
 * load a model that predicts and looks up its cells safely.
 *
 * With TB_FUZZ_RAW=1 in the environment the bytes are the file itself
 * (scripts/fuzz.sh --raw), to look at HDF5's own robustness.
 */
#include "model.h"

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes still to be used, consumed from the front. */
struct bytes {
    const uint8_t *p;
    size_t n;
};

static unsigned take(struct bytes *b)
{
    if (b->n == 0)
        return 0;
    b->n--;
    return *b->p++;
}

/* A double from 8 bytes: any bit pattern, NaN and infinities included. */
static double take_double(struct bytes *b)
{
    uint64_t u = 0;
    double d;

    for (int i = 0; i < 8; i++)
        u = u << 8 | take(b);
    memcpy(&d, &u, sizeof(d));
    return d;
}

/* Root attributes, datasets and groups an edit may hit. */
static const char *const attrs[] = {
    "magic",        "format_version",  "n_in",       "n_out",
    "n_hidden",     "hidden",          "activation", "n_params",
    "input_names",  "input_lo",        "input_hi",   "input_n",
    "output_names", "output_lo",       "output_hi",  "output_transform",
    "output_shift", "input_transform", "n_fourier",  "fourier_scale",
};
static const char *const datasets[] = {
    "params",        "fourier_b",           "cells/nodes",
    "cells/max_abs", "report/grid_max_abs", "report/probe_max_abs",
    "history",
};
static const char *const groups[] = {"cells", "report", "attrs"};

#define COUNT(a) (sizeof(a) / sizeof(a[0]))

/* ---- a valid model to start from ------------------------------------------
 */

static const char *scratch(void)
{
    static char path[64];

    if (!path[0])
        snprintf(path, sizeof(path), "/tmp/tabula-fuzz-model-%ld.h5",
                 (long)getpid());
    return path;
}

/* A 2-input, 1-output model with cell figures, a log output
 * and a Fourier encoding, saved at scratch(). */
static int write_valid(void)
{
    static const char *const out[1] = {"u"};
    tb_model_input in[2] = {{"a", 0, 1, 3}, {"b", -1, 1, 4}};
    double lo = 0.5, hi = 1, nodes[7] = {0, 0.5, 1, -1, -0.2, 0.2, 1};
    double fig[6] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
    int hidden[1] = {3}, rc;
    tb_model m;

    rc = tb_model_init(&m, 2, in, 1, out, &lo, &hi, 1, hidden, TB_ACT_TANH, 1,
                       NULL);
    if (rc == 0)
        rc = tb_model_set_fourier(&m, 2, 1.0, 1, NULL);
    if (rc == 0)
        rc = tb_model_set_output_log(&m, 0, 0.0, NULL);
    if (rc == 0)
        rc = tb_model_set_cells(&m, nodes, fig, NULL);
    if (rc == 0)
        rc = tb_model_save(&m, scratch(), NULL);
    tb_model_free(&m);
    return rc;
}

/* ---- edits ----------------------------------------------------------------
 */

/* Replace a root attribute by one of a fuzz-chosen type and length. */
static void edit_attr(hid_t f, struct bytes *b)
{
    const char *name = attrs[take(b) % COUNT(attrs)];
    unsigned kind = take(b) % 3, n = take(b) % 5;
    hsize_t dim = n ? n : 1;
    hid_t space = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
    hid_t type = kind == 0   ? H5Tcopy(H5T_NATIVE_INT)
                 : kind == 1 ? H5Tcopy(H5T_NATIVE_DOUBLE)
                             : H5Tcopy(H5T_C_S1);
    unsigned char buf[256] = {0};
    hid_t a;

    if (kind == 2)
        H5Tset_size(type, 1 + take(b) % 40);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)take(b);
    if (kind == 1)
        for (unsigned i = 0; i < dim; i++) {
            double d = take_double(b);

            memcpy(buf + 8 * i, &d, sizeof(d));
        }
    if (H5Aexists(f, name) > 0)
        H5Adelete(f, name);
    a = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        H5Awrite(a, type, buf);
        H5Aclose(a);
    }
    H5Tclose(type);
    H5Sclose(space);
}

/* Replace a dataset by doubles (or floats) of a fuzz-chosen shape. */
static void edit_dataset(hid_t f, struct bytes *b)
{
    const char *name = datasets[take(b) % COUNT(datasets)];
    unsigned rows = take(b) % 80, cols = take(b) % 3;
    hsize_t dims[2] = {rows, cols};
    hid_t type = take(b) & 1 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
    double v[240];
    float fv[240];
    hid_t space, d;

    for (unsigned i = 0; i < 240; i++) {
        v[i] = i < 8 ? take_double(b) : (double)(take(b) % 7) / 4;
        fv[i] = (float)v[i];
    }
    if (H5Lexists(f, name, H5P_DEFAULT) > 0)
        H5Ldelete(f, name, H5P_DEFAULT);
    space = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    d = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) {
        if (rows * (cols ? cols : 1) <= 240)
            H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                     type == H5T_NATIVE_FLOAT ? (void *)fv : (void *)v);
        H5Dclose(d);
    }
    H5Sclose(space);
}

/* Apply the edits the bytes describe to the file at scratch(). */
static int edit_file(struct bytes *b)
{
    hid_t f = H5Fopen(scratch(), H5F_ACC_RDWR, H5P_DEFAULT);

    if (f < 0)
        return -1;
    for (int i = 0; i < 6 && b->n > 0; i++) {
        unsigned op = take(b) % 4;

        if (op == 0)
            edit_attr(f, b);
        else if (op == 1)
            edit_dataset(f, b);
        else if (op == 2) {
            const char *g = groups[take(b) % COUNT(groups)];

            if (H5Lexists(f, g, H5P_DEFAULT) > 0)
                H5Ldelete(f, g, H5P_DEFAULT);
        }
    }
    return H5Fclose(f) < 0 ? -1 : 0;
}

/* ---- loading --------------------------------------------------------------
 */

/* Evaluate a loaded model at its domain's centre and look up its cells. */
static void exercise(const tb_model *m)
{
    double x[TB_MODEL_MAX_IN], y[TB_MODEL_MAX_OUT];

    for (int k = 0; k < m->n_in; k++)
        x[k] = 0.5 * (m->in[k].lo + m->in[k].hi);
    if (tb_model_predict(m, x, 1, y, NULL) != 0)
        abort();
    for (int j = 0; j < m->n_out; j++)
        if (m->cells.n_cells > 0 && !(tb_model_cell_error(m, x, j) >= 0))
            abort();
}

static int write_raw(const uint8_t *data, size_t size)
{
    FILE *f = fopen(scratch(), "wb");
    int ok;

    if (!f)
        return -1;
    ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bytes b = {data, size};
    tb_model m;
    tb_error err;
    int rc;

    tb_log_set_level(TB_LOG_ERROR);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (getenv("TB_FUZZ_RAW"))
        rc = write_raw(data, size);
    else
        rc = write_valid() != 0 ? -1 : edit_file(&b);
    if (rc != 0)
        return 0;

    tb_error_clear(&err);
    if (tb_model_load(scratch(), &m, &err) == 0) {
        exercise(&m);
        tb_model_free(&m);
    } else if (!err.text[0]) {
        abort();
    }
    unlink(scratch());
    return 0;
}

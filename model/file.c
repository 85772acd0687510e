/*
 * file.c - the model file (HDF5).
 *
 * Root attributes: magic "tabula-model", format_version 2, n_in, n_out,
 * n_hidden, hidden (widths), activation ("tanh", "silu" or "sine"),
 * n_params, input_names, input_lo, input_hi, input_n, output_names,
 * output_lo, output_hi, input_transform ("linear" or "log", per input:
 * how it is scaled to [-1, 1]), output_transform ("affine" or "log"),
 * output_shift (per output: a log output fits log(y + shift)), n_fourier,
 * fourier_scale and tabula_version.  Datasets: /params (float32, layer by
 * layer: W row-major as out x in, then b; the first layer's inputs are the
 * encoded ones), /fourier_b (float64, n_in x n_fourier, only when
 * n_fourier > 0) and /history (compound: epoch, seconds, loss, max_rel).
 * Version 1 files (tanh, no encoding, affine outputs, none of the new
 * attributes) still load.  Group /report: attributes n_grid and n_probes, one
 * dataset per array of the error report.  Group /attrs: one string attribute
 * per model attribute.
 */
#include "model_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_MAGIC   "tabula-model"
#define MODEL_VERSION 2

static const char *const activation_names[] = {
    [TB_ACT_TANH] = "tanh",
    [TB_ACT_SILU] = "silu",
    [TB_ACT_SINE] = "sine",
};

#define N_ACTIVATIONS                                                          \
    (int)(sizeof(activation_names) / sizeof(activation_names[0]))

static const char *const transform_names[] = {"affine", "log"};

/* Room for a name per input or per output. */
#define MAX_IO                                                                 \
    (TB_MODEL_MAX_IN > TB_MODEL_MAX_OUT ? TB_MODEL_MAX_IN : TB_MODEL_MAX_OUT)

/* The arrays of the error report, by name. */
static const struct {
    const char *name;
    size_t offset;
} report_arrays[] = {
    {"grid_max_abs", offsetof(tb_report, grid_max_abs)},
    {"grid_max_rel", offsetof(tb_report, grid_max_rel)},
    {"grid_mean_abs", offsetof(tb_report, grid_mean_abs)},
    {"grid_rms", offsetof(tb_report, grid_rms)},
    {"probe_max_abs", offsetof(tb_report, probe_max_abs)},
    {"probe_max_rel", offsetof(tb_report, probe_max_rel)},
    {"probe_mean_abs", offsetof(tb_report, probe_mean_abs)},
    {"probe_rms", offsetof(tb_report, probe_rms)},
};

#define N_REPORT_ARRAYS (sizeof(report_arrays) / sizeof(report_arrays[0]))

static double *report_array(tb_report *r, size_t i)
{
    return (double *)((char *)r + report_arrays[i].offset);
}

/* ------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------ */

static void write_inputs(tbm_h5 *h, const tb_model *m)
{
    char names[TB_MODEL_MAX_IN][TB_MODEL_NAME_MAX] = {{0}};
    double lo[TB_MODEL_MAX_IN], hi[TB_MODEL_MAX_IN];
    int n[TB_MODEL_MAX_IN];
    size_t k = (size_t)m->n_in;

    for (int i = 0; i < m->n_in; i++) {
        memcpy(names[i], m->in[i].name, TB_MODEL_NAME_MAX);
        lo[i] = m->in[i].lo;
        hi[i] = m->in[i].hi;
        n[i] = m->in[i].n;
    }
    tbm_h5_put_strs(h, h->file, "input_names", (const void *)names, m->n_in);
    tbm_h5_put_num(h, h->file, "input_lo", H5T_NATIVE_DOUBLE, lo, k);
    tbm_h5_put_num(h, h->file, "input_hi", H5T_NATIVE_DOUBLE, hi, k);
    tbm_h5_put_num(h, h->file, "input_n", H5T_NATIVE_INT, n, k);
}

/* The output transforms and the input encoding (format version 2). */
static void write_encoding(tbm_h5 *h, const tb_model *m)
{
    char tr[MAX_IO][TB_MODEL_NAME_MAX] = {{0}};
    hid_t f = h->file;

    for (int k = 0; k < m->n_out; k++)
        snprintf(tr[k], sizeof(tr[k]), "%s", transform_names[!!m->out_log[k]]);
    tbm_h5_put_strs(h, f, "output_transform", (const void *)tr, m->n_out);
    memset(tr, 0, sizeof(tr));
    for (int i = 0; i < m->n_in; i++)
        snprintf(tr[i], sizeof(tr[i]), "%s", m->in_log[i] ? "log" : "linear");
    tbm_h5_put_strs(h, f, "input_transform", (const void *)tr, m->n_in);
    tbm_h5_put_num(h, f, "output_shift", H5T_NATIVE_DOUBLE, m->out_shift,
                   (size_t)m->n_out);
    tbm_h5_put_num(h, f, "n_fourier", H5T_NATIVE_INT, &m->n_fourier, 0);
    tbm_h5_put_num(h, f, "fourier_scale", H5T_NATIVE_DOUBLE, &m->fourier_scale,
                   0);
    if (m->n_fourier > 0)
        tbm_h5_put_data(h, f, "fourier_b", H5T_NATIVE_DOUBLE, m->fourier_b,
                        (size_t)m->n_in, (size_t)m->n_fourier);
}

static void write_root(tbm_h5 *h, const tb_model *m)
{
    int version = MODEL_VERSION;
    long long n_params = (long long)m->n_params;
    size_t n_out = (size_t)m->n_out;
    hid_t f = h->file;

    tbm_h5_put_str(h, f, "magic", MODEL_MAGIC);
    tbm_h5_put_num(h, f, "format_version", H5T_NATIVE_INT, &version, 0);
    tbm_h5_put_str(h, f, "tabula_version", tb_version());
    tbm_h5_put_num(h, f, "n_in", H5T_NATIVE_INT, &m->n_in, 0);
    tbm_h5_put_num(h, f, "n_out", H5T_NATIVE_INT, &m->n_out, 0);
    tbm_h5_put_num(h, f, "n_hidden", H5T_NATIVE_INT, &m->n_hidden, 0);
    tbm_h5_put_num(h, f, "hidden", H5T_NATIVE_INT, m->hidden,
                   (size_t)m->n_hidden);
    tbm_h5_put_str(h, f, "activation", activation_names[m->activation]);
    tbm_h5_put_num(h, f, "n_params", H5T_NATIVE_LLONG, &n_params, 0);

    write_inputs(h, m);
    tbm_h5_put_strs(h, f, "output_names", (const void *)m->out_name, m->n_out);
    tbm_h5_put_num(h, f, "output_lo", H5T_NATIVE_DOUBLE, m->out_lo, n_out);
    tbm_h5_put_num(h, f, "output_hi", H5T_NATIVE_DOUBLE, m->out_hi, n_out);
    write_encoding(h, m);
}

static void write_report(tbm_h5 *h, const tb_model *m)
{
    hid_t g =
        H5Gcreate2(h->file, "report", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    tb_report r = m->report;

    if (g < 0) {
        tbm_h5_fail(h, "cannot create group 'report'");
        return;
    }
    tbm_h5_put_num(h, g, "n_grid", H5T_NATIVE_LONG, &r.n_grid, 0);
    tbm_h5_put_num(h, g, "n_probes", H5T_NATIVE_LONG, &r.n_probes, 0);
    for (size_t i = 0; i < N_REPORT_ARRAYS; i++)
        tbm_h5_put_data(h, g, report_arrays[i].name, H5T_NATIVE_DOUBLE,
                        report_array(&r, i), (size_t)m->n_out, 0);
    H5Gclose(g);
}

static void write_attrs(tbm_h5 *h, const tb_model *m)
{
    hid_t g =
        H5Gcreate2(h->file, "attrs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);

    if (g < 0) {
        tbm_h5_fail(h, "cannot create group 'attrs'");
        return;
    }
    for (int i = 0; i < m->n_attrs; i++)
        tbm_h5_put_str(h, g, m->attrs[i].key, m->attrs[i].value);
    H5Gclose(g);
}

/* Refuse to write a model that could not be loaded back. */
static int check_savable(const tb_model *m, tb_error *err)
{
    tbm_layout L;

    if (!m || !m->params || m->n_in < 1 || m->n_in > TB_MODEL_MAX_IN ||
        m->n_out < 1 || m->n_out > TB_MODEL_MAX_OUT || m->activation < 0 ||
        m->activation >= N_ACTIVATIONS || m->n_attrs < 0 ||
        m->n_attrs > TB_MODEL_MAX_ATTRS || (!m->history && m->n_history) ||
        m->n_fourier < 0 || m->n_fourier > TB_MODEL_MAX_FOURIER ||
        (m->n_fourier > 0 && !m->fourier_b))
        return tb_error_set(err, TB_EINVAL, "model",
                            "the model is not initialised");
    if (tbm_layout_init(&L, tbm_encoded_width(m), m->n_out, m->n_hidden,
                        m->hidden, err))
        return TB_EINVAL;
    if (L.n_params != m->n_params)
        return tb_error_set(err, TB_EINVAL, "model",
                            "%zu weights; the architecture needs %zu",
                            m->n_params, L.n_params);
    return TB_OK;
}

/* Write m to path through a temporary file; 0 or a negative status. */
int tb_model_save(const tb_model *m, const char *path, tb_error *err)
{
    tbm_h5 h;
    int rc;

    if (!path || !*path)
        return tb_error_set(err, TB_EINVAL, "path", "no file name given");
    if ((rc = check_savable(m, err)) != TB_OK)
        return rc;

    tbm_h5_lock();
    rc = tbm_h5_create(&h, path, err);
    if (rc == TB_OK) {
        write_root(&h, m);
        tbm_h5_put_data(&h, h.file, "params", H5T_NATIVE_FLOAT, m->params,
                        m->n_params, 0);
        tbm_h5_put_history(&h, h.file, "history", m->history, m->n_history);
        write_report(&h, m);
        write_attrs(&h, m);
        tbm_cells_write(&h, m);
        rc = h.rc ? h.rc : tbm_h5_commit(&h);
        if (h.rc)
            tbm_h5_abandon(&h);
    }
    tbm_h5_unlock();
    return rc;
}

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

/* The shape read from the root attributes, before the model is built. */
struct shape {
    int version;
    int n_in, n_out, n_hidden, activation;
    int n_fourier;
    double fourier_scale;
    int in_log[TB_MODEL_MAX_IN];
    int out_log[TB_MODEL_MAX_OUT];
    double out_shift[TB_MODEL_MAX_OUT];
    int hidden[TB_MODEL_MAX_HIDDEN];
    long long n_params;
    tb_model_input in[TB_MODEL_MAX_IN];
    char out_name[TB_MODEL_MAX_OUT][TB_MODEL_NAME_MAX];
    double out_lo[TB_MODEL_MAX_OUT], out_hi[TB_MODEL_MAX_OUT];
};

static int read_identity(tbm_h5 *h, int *version_out)
{
    char magic[64] = "";
    int version = 0;

    if (H5Aexists(h->file, "magic") <= 0)
        return tbm_h5_fail(h, "not a tabula model file (no 'magic' "
                              "attribute)");
    if (tbm_h5_get_str(h, h->file, "magic", magic, sizeof(magic)))
        return h->rc;
    if (strcmp(magic, MODEL_MAGIC) != 0)
        return tbm_h5_fail(h, "magic is '%s'; expected '%s'", magic,
                           MODEL_MAGIC);
    tbm_h5_get_num(h, h->file, "format_version", H5T_NATIVE_INT, &version, 0);
    if (!h->rc && (version < 1 || version > MODEL_VERSION))
        return tbm_h5_fail(h, "format version %d; this build reads 1 to %d",
                           version, MODEL_VERSION);
    *version_out = version;
    return h->rc;
}

/* Read the counts; they bound every array read after them. */
static int read_counts(tbm_h5 *h, struct shape *s)
{
    char act[32] = "";
    hid_t f = h->file;

    tbm_h5_get_num(h, f, "n_in", H5T_NATIVE_INT, &s->n_in, 0);
    tbm_h5_get_num(h, f, "n_out", H5T_NATIVE_INT, &s->n_out, 0);
    tbm_h5_get_num(h, f, "n_hidden", H5T_NATIVE_INT, &s->n_hidden, 0);
    tbm_h5_get_num(h, f, "n_params", H5T_NATIVE_LLONG, &s->n_params, 0);
    tbm_h5_get_str(h, f, "activation", act, sizeof(act));
    if (h->rc)
        return h->rc;

    if (s->n_in < 1 || s->n_in > TB_MODEL_MAX_IN || s->n_out < 1 ||
        s->n_out > TB_MODEL_MAX_OUT || s->n_hidden < 1 ||
        s->n_hidden > TB_MODEL_MAX_HIDDEN)
        return tbm_h5_fail(h,
                           "%d inputs, %d outputs, %d hidden layers; "
                           "expected 1-%d, 1-%d, 1-%d",
                           s->n_in, s->n_out, s->n_hidden, TB_MODEL_MAX_IN,
                           TB_MODEL_MAX_OUT, TB_MODEL_MAX_HIDDEN);
    s->activation = -1;
    for (int a = 0; a < N_ACTIVATIONS; a++)
        if (strcmp(act, activation_names[a]) == 0)
            s->activation = a;
    if (s->activation < 0)
        return tbm_h5_fail(h,
                           "unknown activation '%s'; expected tanh, silu "
                           "or sine",
                           act);
    return TB_OK;
}

/* Read n transform names of attribute name into flags (1 for "log",
 * 0 for the other name allowed, `plain`); anything else is refused. */
static int read_flags(tbm_h5 *h, const char *name, const char *plain, int n,
                      int *flags)
{
    char tr[MAX_IO][TB_MODEL_NAME_MAX];

    if (tbm_h5_get_strs(h, h->file, name, tr, n))
        return h->rc;
    for (int k = 0; k < n; k++) {
        flags[k] = strcmp(tr[k], "log") == 0;
        if (!flags[k] && strcmp(tr[k], plain) != 0)
            return tbm_h5_fail(h, "%s[%d] is '%s'; expected %s or log", name, k,
                               tr[k], plain);
    }
    return TB_OK;
}

/* Version 2's transforms and encoding counts; version 1 has none. */
static int read_transforms(tbm_h5 *h, struct shape *s)
{
    hid_t f = h->file;

    if (s->version < 2)
        return TB_OK;
    tbm_h5_get_num(h, f, "output_shift", H5T_NATIVE_DOUBLE, s->out_shift,
                   (size_t)s->n_out);
    tbm_h5_get_num(h, f, "n_fourier", H5T_NATIVE_INT, &s->n_fourier, 0);
    tbm_h5_get_num(h, f, "fourier_scale", H5T_NATIVE_DOUBLE, &s->fourier_scale,
                   0);
    if (h->rc ||
        read_flags(h, "output_transform", "affine", s->n_out, s->out_log) ||
        read_flags(h, "input_transform", "linear", s->n_in, s->in_log))
        return h->rc;
    if (s->n_fourier < 0 || s->n_fourier > TB_MODEL_MAX_FOURIER)
        return tbm_h5_fail(h, "n_fourier is %d; expected 0 to %d", s->n_fourier,
                           TB_MODEL_MAX_FOURIER);
    return TB_OK;
}

static int read_shape(tbm_h5 *h, struct shape *s)
{
    char names[TB_MODEL_MAX_IN][TB_MODEL_NAME_MAX];
    double lo[TB_MODEL_MAX_IN], hi[TB_MODEL_MAX_IN];
    int n[TB_MODEL_MAX_IN];
    hid_t f = h->file;

    if (read_counts(h, s) || read_transforms(h, s))
        return h->rc;
    tbm_h5_get_num(h, f, "hidden", H5T_NATIVE_INT, s->hidden,
                   (size_t)s->n_hidden);
    tbm_h5_get_strs(h, f, "input_names", names, s->n_in);
    tbm_h5_get_num(h, f, "input_lo", H5T_NATIVE_DOUBLE, lo, (size_t)s->n_in);
    tbm_h5_get_num(h, f, "input_hi", H5T_NATIVE_DOUBLE, hi, (size_t)s->n_in);
    tbm_h5_get_num(h, f, "input_n", H5T_NATIVE_INT, n, (size_t)s->n_in);
    tbm_h5_get_strs(h, f, "output_names", s->out_name, s->n_out);
    tbm_h5_get_num(h, f, "output_lo", H5T_NATIVE_DOUBLE, s->out_lo,
                   (size_t)s->n_out);
    tbm_h5_get_num(h, f, "output_hi", H5T_NATIVE_DOUBLE, s->out_hi,
                   (size_t)s->n_out);

    for (int i = 0; i < s->n_in; i++) {
        memcpy(s->in[i].name, names[i], TB_MODEL_NAME_MAX);
        s->in[i].lo = lo[i];
        s->in[i].hi = hi[i];
        s->in[i].n = n[i];
    }
    return h->rc;
}

/* The encoding matrix and the output transforms of the shape, into m. */
static int build_encoding(tbm_h5 *h, const struct shape *s, tb_model *m)
{
    double b[TB_MODEL_MAX_IN * TB_MODEL_MAX_FOURIER];
    size_t nb = (size_t)s->n_in * (size_t)s->n_fourier;
    tb_error why;

    tb_error_clear(&why);
    if (nb > 0 &&
        (tbm_h5_get_data(h, h->file, "fourier_b", H5T_NATIVE_DOUBLE, b, nb) ||
         tbm_set_fourier_b(m, s->n_fourier, s->fourier_scale, b, 0, &why)))
        return h->rc ? h->rc : tbm_h5_fail(h, "%s", why.text);
    for (int i = 0; i < s->n_in; i++)
        if (s->in_log[i] && tb_model_set_input_log(m, i, &why) != TB_OK)
            return tbm_h5_fail(h, "%s", why.text);
    for (int k = 0; k < s->n_out; k++)
        if (s->out_log[k] &&
            tb_model_set_output_log(m, k, s->out_shift[k], &why) != TB_OK)
            return tbm_h5_fail(h, "%s", why.text);
    return TB_OK;
}

/* Build m from the shape; a shape tb_model_init refuses is a bad file. */
static int build_model(tbm_h5 *h, const struct shape *s, tb_model *m)
{
    const char *out_names[TB_MODEL_MAX_OUT];
    tb_error why;

    for (int k = 0; k < s->n_out; k++)
        out_names[k] = s->out_name[k];
    tb_error_clear(&why);
    if (tb_model_init(m, s->n_in, s->in, s->n_out, out_names, s->out_lo,
                      s->out_hi, s->n_hidden, s->hidden, s->activation, 0,
                      &why) != TB_OK) {
        if (why.code == TB_ENOMEM) {
            h->rc = TB_ENOMEM;
            return tb_error_set(h->err, TB_ENOMEM, h->path, "%s", why.text);
        }
        return tbm_h5_fail(h, "%s", why.text);
    }
    if (build_encoding(h, s, m))
        return h->rc;
    if (s->n_params != (long long)m->n_params)
        return tbm_h5_fail(h, "n_params is %lld; the architecture needs %zu",
                           s->n_params, m->n_params);
    return TB_OK;
}

static int read_params(tbm_h5 *h, tb_model *m)
{
    size_t n = 0;

    if (tbm_h5_data_size(h, h->file, "params", &n))
        return h->rc;
    if (n != m->n_params)
        return tbm_h5_fail(h,
                           "/params holds %zu weights; the architecture "
                           "needs %zu",
                           n, m->n_params);
    if (tbm_h5_get_data(h, h->file, "params", H5T_NATIVE_FLOAT, m->params, n))
        return h->rc;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(m->params[i]))
            return tbm_h5_fail(h, "weight %zu is not finite", i);
    return TB_OK;
}

static int read_report(tbm_h5 *h, tb_model *m)
{
    hid_t g;

    if (H5Lexists(h->file, "report", H5P_DEFAULT) <= 0 ||
        (g = H5Gopen2(h->file, "report", H5P_DEFAULT)) < 0)
        return tbm_h5_fail(h, "group 'report' is missing");
    tbm_h5_get_num(h, g, "n_grid", H5T_NATIVE_LONG, &m->report.n_grid, 0);
    tbm_h5_get_num(h, g, "n_probes", H5T_NATIVE_LONG, &m->report.n_probes, 0);
    for (size_t i = 0; i < N_REPORT_ARRAYS; i++)
        tbm_h5_get_data(h, g, report_arrays[i].name, H5T_NATIVE_DOUBLE,
                        report_array(&m->report, i), (size_t)m->n_out);
    H5Gclose(g);
    return h->rc;
}

struct attr_walk {
    tbm_h5 *h;
    tb_model *m;
};

/* H5Aiterate2 callback: read one string attribute of /attrs. */
static herr_t read_one_attr(hid_t g, const char *key, const H5A_info_t *info,
                            void *data)
{
    struct attr_walk *w = data;
    char value[sizeof(w->m->attrs[0].value)];

    (void)info;
    if (tbm_h5_get_str(w->h, g, key, value, sizeof(value)))
        return -1;
    if (tb_model_set_attr(w->m, key, value) != TB_OK) {
        tbm_h5_fail(w->h,
                    "attribute '%s' in /attrs is not accepted (bad "
                    "key or more than %d)",
                    key, TB_MODEL_MAX_ATTRS);
        return -1;
    }
    return 0;
}

static int read_attrs(tbm_h5 *h, tb_model *m)
{
    struct attr_walk w = {h, m};
    hsize_t idx = 0;
    hid_t g;

    if (H5Lexists(h->file, "attrs", H5P_DEFAULT) <= 0 ||
        (g = H5Gopen2(h->file, "attrs", H5P_DEFAULT)) < 0)
        return tbm_h5_fail(h, "group 'attrs' is missing");
    if (H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &idx, read_one_attr, &w) <
            0 &&
        !h->rc)
        tbm_h5_fail(h, "cannot list the attributes of /attrs");
    H5Gclose(g);
    return h->rc;
}

/* Read and validate the model at path into m (the caller frees it with
 * tb_model_free); on failure m holds nothing. */
int tb_model_load(const char *path, tb_model *m, tb_error *err)
{
    struct shape s;
    tbm_h5 h;
    int rc;

    if (!path || !*path || !m)
        return tb_error_set(err, TB_EINVAL, "path",
                            "no file name or model given");
    memset(m, 0, sizeof(*m));
    memset(&s, 0, sizeof(s));

    tbm_h5_lock();
    rc = tbm_h5_open(&h, path, err);
    if (rc == TB_OK) {
        if (!read_identity(&h, &s.version) && !read_shape(&h, &s) &&
            !build_model(&h, &s, m) && !read_params(&h, m) &&
            !read_report(&h, m) && !read_attrs(&h, m))
            tbm_h5_get_history(&h, h.file, "history", &m->history,
                               &m->n_history);
        tbm_cells_read(&h, m);
        rc = h.rc;
        tbm_h5_close(&h);
    }
    tbm_h5_unlock();

    if (rc != TB_OK)
        tb_model_free(m);
    return rc;
}

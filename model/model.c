/*
 * model.c - building a model, scaling, prediction, error measurement,
 * attributes and the OpenBLAS thread setting.
 */
#include "model_int.h"

#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prediction works through the points in chunks of this many rows, so its
 * memory stays bounded however many points are asked for. */
#define PREDICT_CHUNK 1024

/* Scratch floats kept on the stack; a call that fits uses no heap. */
#define PREDICT_STACK 4096

/* Floats of heap scratch a call may take (4 MiB): wide networks get
 * shorter chunks. */
#define PREDICT_HEAP (1u << 20)

/* A prediction of at least this many points per thread is split among
 * the threads tb_model_set_threads allows (at most PREDICT_THREADS). */
#define PREDICT_SPLIT   4096
#define PREDICT_THREADS 16

/* ------------------------------------------------------------------------
 * Building and releasing
 * ------------------------------------------------------------------------ */

/* A name is non-empty and leaves room for its terminating zero. */
static int name_ok(const char *s)
{
    return s && s[0] && strnlen(s, TB_MODEL_NAME_MAX) < TB_MODEL_NAME_MAX;
}

static int check_inputs(int n_in, const tb_model_input *in, tb_error *err)
{
    if (n_in < 1 || n_in > TB_MODEL_MAX_IN || !in)
        return tb_error_set(err, TB_EINVAL, "n_in",
                            "%d inputs; expected 1 to %d", n_in,
                            TB_MODEL_MAX_IN);
    for (int i = 0; i < n_in; i++) {
        if (!name_ok(in[i].name))
            return tb_error_set(err, TB_EINVAL, "inputs",
                                "input %d has an empty or over-long name", i);
        if (!isfinite(in[i].lo) || !isfinite(in[i].hi) || in[i].lo >= in[i].hi)
            return tb_error_set(err, TB_EINVAL, in[i].name,
                                "range [%g, %g]; expected finite lo < hi",
                                in[i].lo, in[i].hi);
        if (in[i].n < 1)
            return tb_error_set(err, TB_EINVAL, in[i].name,
                                "%d grid nodes; expected at least 1", in[i].n);
        for (int j = 0; j < i; j++)
            if (strcmp(in[i].name, in[j].name) == 0)
                return tb_error_set(err, TB_EINVAL, in[i].name,
                                    "two inputs are called '%s'", in[i].name);
    }
    return TB_OK;
}

static int check_outputs(int n_out, const char *const *name, const double *lo,
                         const double *hi, tb_error *err)
{
    if (n_out < 1 || n_out > TB_MODEL_MAX_OUT || !name || !lo || !hi)
        return tb_error_set(err, TB_EINVAL, "n_out",
                            "%d outputs; expected 1 to %d", n_out,
                            TB_MODEL_MAX_OUT);
    for (int k = 0; k < n_out; k++) {
        if (!name_ok(name[k]))
            return tb_error_set(err, TB_EINVAL, "outputs",
                                "output %d has an empty or over-long name", k);
        if (!isfinite(lo[k]) || !isfinite(hi[k]) || lo[k] > hi[k])
            return tb_error_set(err, TB_EINVAL, name[k],
                                "output range [%g, %g]; expected finite "
                                "lo <= hi",
                                lo[k], hi[k]);
        for (int j = 0; j < k; j++)
            if (strcmp(name[k], name[j]) == 0)
                return tb_error_set(err, TB_EINVAL, name[k],
                                    "two outputs are called '%s'", name[k]);
    }
    return TB_OK;
}

/* Validate the shape, allocate the weights (owned by m) and initialise
 * them from seed. */
int tb_model_init(tb_model *m, int n_in, const tb_model_input *in, int n_out,
                  const char *const *out_name, const double *out_lo,
                  const double *out_hi, int n_hidden, const int *hidden,
                  int activation, uint64_t seed, tb_error *err)
{
    tbm_layout L;
    int rc;

    if (!m)
        return tb_error_set(err, TB_EINVAL, "model", "no model given");
    memset(m, 0, sizeof(*m));
    if ((rc = check_inputs(n_in, in, err)) ||
        (rc = check_outputs(n_out, out_name, out_lo, out_hi, err)) ||
        (rc = tbm_layout_init(&L, n_in, n_out, n_hidden, hidden, err)))
        return rc;
    if (activation < TB_ACT_TANH || activation > TB_ACT_SINE)
        return tb_error_set(err, TB_EINVAL, "activation",
                            "activation %d; expected %d (tanh), %d (silu) "
                            "or %d (sine)",
                            activation, TB_ACT_TANH, TB_ACT_SILU, TB_ACT_SINE);
    L.act = activation;

    m->params = malloc(L.n_params * sizeof(float));
    if (!m->params)
        return tb_error_set(err, TB_ENOMEM, "params",
                            "cannot allocate %zu weights", L.n_params);
    m->n_params = L.n_params;
    tbm_init_params(&L, m->params, seed);

    m->n_in = n_in;
    m->n_out = n_out;
    memcpy(m->in, in, (size_t)n_in * sizeof(*in));
    for (int k = 0; k < n_out; k++) {
        snprintf(m->out_name[k], TB_MODEL_NAME_MAX, "%s", out_name[k]);
        m->out_lo[k] = out_lo[k];
        m->out_hi[k] = out_hi[k];
    }
    m->n_hidden = n_hidden;
    memcpy(m->hidden, hidden, (size_t)n_hidden * sizeof(int));
    m->activation = activation;
    return TB_OK;
}

/* Free the weights and history; m is zeroed. */
void tb_model_free(tb_model *m)
{
    if (!m)
        return;
    free(m->params);
    free(m->history);
    free(m->cells.nodes);
    free(m->cells.max_abs);
    free(m->fourier_b);
    memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------------------
 * Input encoding and output transforms
 * ------------------------------------------------------------------------ */

int tbm_encoded_width(const tb_model *m)
{
    return m->n_in + 2 * m->n_fourier;
}

/* Swap in B and weights for the wider first layer, redrawn from seed. */
int tbm_set_fourier_b(tb_model *m, int n_fourier, double scale, const double *b,
                      uint64_t seed, tb_error *err)
{
    size_t nb = (size_t)m->n_in * (size_t)n_fourier;
    double *fb = NULL;
    float *params;
    tbm_layout L;
    int rc;

    if (n_fourier < 0 || n_fourier > TB_MODEL_MAX_FOURIER ||
        (n_fourier > 0 && (!b || !isfinite(scale) || scale <= 0)))
        return tb_error_set(err, TB_EINVAL, "fourier",
                            "%d frequencies of scale %g; expected 0 to %d "
                            "and a positive scale",
                            n_fourier, scale, TB_MODEL_MAX_FOURIER);
    for (size_t i = 0; i < nb; i++)
        if (!isfinite(b[i]))
            return tb_error_set(err, TB_EINVAL, "fourier",
                                "frequency %zu is not finite", i);
    if ((rc = tbm_layout_init(&L, m->n_in + 2 * n_fourier, m->n_out,
                              m->n_hidden, m->hidden, err)))
        return rc;
    L.act = m->activation;

    params = malloc(L.n_params * sizeof(float));
    if (nb > 0)
        fb = malloc(nb * sizeof(double));
    if (!params || (nb > 0 && !fb)) {
        free(params);
        free(fb);
        return tb_error_set(err, TB_ENOMEM, "params",
                            "cannot allocate %zu weights", L.n_params);
    }
    if (nb > 0)
        memcpy(fb, b, nb * sizeof(double));
    tbm_init_params(&L, params, seed);

    free(m->params);
    free(m->fourier_b);
    m->params = params;
    m->n_params = L.n_params;
    m->fourier_b = fb;
    m->n_fourier = n_fourier;
    m->fourier_scale = n_fourier > 0 ? scale : 0;
    return TB_OK;
}

/* Draw B from N(0, scale^2) by Box-Muller, then install it. */
int tb_model_set_fourier(tb_model *m, int n_fourier, double scale,
                         uint64_t seed, tb_error *err)
{
    double b[TB_MODEL_MAX_IN * TB_MODEL_MAX_FOURIER];
    tbm_rng r;

    if (!m || !m->params)
        return tb_error_set(err, TB_EINVAL, "model", "no initialised model");
    if (n_fourier < 0 || n_fourier > TB_MODEL_MAX_FOURIER)
        return tb_error_set(err, TB_EINVAL, "fourier",
                            "%d frequencies; expected 0 to %d", n_fourier,
                            TB_MODEL_MAX_FOURIER);

    /* Its own stream, so that B and the weights are not correlated. */
    tbm_rng_seed(&r, seed ^ 0x5deece66dull);
    for (int i = 0; i < m->n_in * n_fourier; i++) {
        double u1 = ((double)(tbm_rng_next(&r) >> 11) + 1.0) * 0x1p-53;
        double u2 = (double)(tbm_rng_next(&r) >> 11) * 0x1p-53;

        b[i] = scale * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
    }
    return tbm_set_fourier_b(m, n_fourier, scale, b, seed, err);
}

/* A log input needs a positive range. */
int tb_model_set_input_log(tb_model *m, int i, tb_error *err)
{
    if (!m || i < 0 || i >= m->n_in)
        return tb_error_set(err, TB_EINVAL, "input",
                            "input %d; the model has %d", i, m ? m->n_in : 0);
    if (!(m->in[i].lo > 0))
        return tb_error_set(err, TB_EINVAL, m->in[i].name,
                            "input %s ranges over [%g, %g]; log scaling needs "
                            "lo > 0",
                            m->in[i].name, m->in[i].lo, m->in[i].hi);
    m->in_log[i] = 1;
    return TB_OK;
}

/* A log output needs every value of its range above -shift. */
int tb_model_set_output_log(tb_model *m, int k, double shift, tb_error *err)
{
    if (!m || k < 0 || k >= m->n_out)
        return tb_error_set(err, TB_EINVAL, "output",
                            "output %d; the model has %d", k, m ? m->n_out : 0);
    if (!isfinite(shift) || !(m->out_lo[k] + shift > 0))
        return tb_error_set(err, TB_EINVAL, m->out_name[k],
                            "output %s ranges over [%g, %g]; a log transform "
                            "with shift %g needs lo + shift > 0",
                            m->out_name[k], m->out_lo[k], m->out_hi[k], shift);
    m->out_log[k] = 1;
    m->out_shift[k] = shift;
    return TB_OK;
}

/* One row: the scaled inputs, then sin and cos of 2 pi B^T x. */
static void encode_row(const tb_model *m, const tbm_scale *s, const double *x,
                       double *e)
{
    int ni = m->n_in, nf = m->n_fourier;

    for (int i = 0; i < ni; i++)
        e[i] = tbm_in_scaled(s, i, x[i]);
    for (int f = 0; f < nf; f++) {
        double a = 0;

        for (int i = 0; i < ni; i++)
            a += m->fourier_b[(size_t)i * (size_t)nf + (size_t)f] * e[i];
        e[ni + f] = sin(2.0 * M_PI * a);
        e[ni + nf + f] = cos(2.0 * M_PI * a);
    }
}

void tbm_encode(const tb_model *m, const tbm_scale *s, const double *x,
                size_t rows, float *xs)
{
    size_t w = (size_t)tbm_encoded_width(m);
    double e[TB_MODEL_MAX_IN + 2 * TB_MODEL_MAX_FOURIER];

    /* Without an encoding (the common case), straight into xs. */
    if (m->n_fourier == 0) {
        for (size_t o = 0; o < rows * w; o++)
            xs[o] = (float)tbm_in_scaled(s, (int)(o % w), x[o]);
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        encode_row(m, s, x + r * (size_t)m->n_in, e);
        for (size_t j = 0; j < w; j++)
            xs[r * w + j] = (float)e[j];
    }
}

void tbm_encode64(const tb_model *m, const tbm_scale *s, const double *x,
                  size_t rows, double *xd)
{
    size_t w = (size_t)tbm_encoded_width(m);

    for (size_t r = 0; r < rows; r++)
        encode_row(m, s, x + r * (size_t)m->n_in, xd + r * w);
}

/* Linear search by name: models have at most a few inputs. */
int tb_model_input_index(const tb_model *m, const char *name)
{
    for (int i = 0; m && name && i < m->n_in; i++)
        if (strcmp(m->in[i].name, name) == 0)
            return i;
    return -1;
}

/* Linear search by name. */
int tb_model_output_index(const tb_model *m, const char *name)
{
    for (int k = 0; m && name && k < m->n_out; k++)
        if (strcmp(m->out_name[k], name) == 0)
            return k;
    return -1;
}

/* ------------------------------------------------------------------------
 * Scaling
 * ------------------------------------------------------------------------ */

void tbm_scale_init(const tb_model *m, tbm_scale *s)
{
    memset(s, 0, sizeof(*s));
    for (int i = 0; i < m->n_in; i++) {
        double lo = m->in[i].lo, hi = m->in[i].hi;

        s->in_log[i] = m->in_log[i];
        if (m->in_log[i]) {
            lo = log(lo);
            hi = log(hi);
        }
        s->in_mid[i] = 0.5 * (lo + hi);
        s->in_scale[i] = 2.0 / (hi - lo);
    }
    for (int k = 0; k < m->n_out; k++) {
        double range = m->out_hi[k] - m->out_lo[k];
        double lo = m->out_lo[k], hi = m->out_hi[k];

        s->out_range[k] = range > 0 ? range : 1.0;
        s->out_log[k] = m->out_log[k];
        s->out_shift[k] = m->out_shift[k];
        if (m->out_log[k]) {
            /* The network fits log(y + shift) over its own range. */
            lo = log(lo + m->out_shift[k]);
            hi = log(hi + m->out_shift[k]);
        }
        s->out_mid[k] = 0.5 * (lo + hi);
        s->out_half[k] = hi > lo ? 0.5 * (hi - lo) : 0.5;
    }
}

/* y_s = (y - mid) / half range, rounded to float. */
void tbm_scale_outputs(const tbm_scale *s, int n_out, const double *y,
                       size_t rows, float *ys)
{
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < n_out; k++) {
            size_t o = r * (size_t)n_out + (size_t)k;

            ys[o] = (float)tbm_out_scaled(s, k, y[o]);
        }
}

/* ------------------------------------------------------------------------
 * Domain and prediction
 * ------------------------------------------------------------------------ */

int tb_model_check_domain(const tb_model *m, const double *x, size_t n,
                          tb_error *err)
{
    if (!m || (!x && n > 0))
        return tb_error_set(err, TB_EINVAL, "points", "no model or points");

    for (size_t p = 0; p < n; p++)
        for (int i = 0; i < m->n_in; i++) {
            double v = x[p * (size_t)m->n_in + (size_t)i];
            const tb_model_input *in = &m->in[i];

            if (!isfinite(v))
                return tb_error_set(err, TB_EINVAL, in->name,
                                    "point %zu: %s is %g; expected a finite "
                                    "number",
                                    p, in->name, v);
            if (v < in->lo || v > in->hi)
                return tb_error_set(err, TB_EDOMAIN, in->name,
                                    "point %zu: %s = %.17g is outside the "
                                    "model's domain [%.17g, %.17g]",
                                    p, in->name, v, in->lo, in->hi);
        }
    return TB_OK;
}

/* Scratch floats one row needs: inputs, two ping-pong layer buffers,
 * outputs. */
static size_t row_floats(const tbm_layout *L)
{
    return (size_t)L->width[0] + 2 * (size_t)L->max_width +
           (size_t)L->width[L->n_layers];
}

/* Rows per chunk for n points: all of them when they fit on the stack,
 * else as many as PREDICT_CHUNK and PREDICT_HEAP allow. */
static size_t chunk_rows(const tbm_layout *L, size_t n)
{
    size_t per_row = row_floats(L), rows;

    if (n <= PREDICT_STACK / per_row)
        return n;
    rows = PREDICT_HEAP / per_row;
    rows = rows < PREDICT_CHUNK ? rows : PREDICT_CHUNK;
    rows = rows > 0 ? rows : 1;
    return rows < n ? rows : n;
}

/* Run rows points through the network: x in user units to y in user
 * units, with scratch of rows * row_floats(L). */
static void predict_chunk(const tb_model *m, const tbm_layout *L,
                          const tbm_scale *s, const double *x, size_t rows,
                          double *y, float *scratch)
{
    float *act[TBM_MAX_LAYERS + 1];
    float *a = scratch + rows * (size_t)L->width[0];
    float *b = a + rows * (size_t)L->max_width;
    float *out = b + rows * (size_t)L->max_width;

    act[0] = scratch;
    for (int l = 1; l < L->n_layers; l++)
        act[l] = (l % 2) ? a : b;
    act[L->n_layers] = out;

    tbm_encode(m, s, x, rows, act[0]);
    tbm_forward(L, m->params, (int)rows, act, NULL);
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < m->n_out; k++) {
            size_t o = r * (size_t)m->n_out + (size_t)k;

            y[o] = tbm_out_user(s, k, (double)out[o]);
        }
}

/* Predict n > 0 points on this thread, in chunks, with scratch on the
 * stack when it fits. */
static int predict_here(const tb_model *m, const double *x, size_t n, double *y,
                        tb_error *err)
{
    float stack[PREDICT_STACK];
    float *scratch = stack;
    size_t rows;
    tbm_layout L;
    tbm_scale s;

    tbm_layout_of(m, &L);
    tbm_scale_init(m, &s);

    /* Small calls run on the stack; larger ones take one heap chunk. */
    rows = chunk_rows(&L, n);
    if (rows * row_floats(&L) > PREDICT_STACK) {
        scratch = malloc(rows * row_floats(&L) * sizeof(float));
        if (!scratch)
            return tb_error_set(err, TB_ENOMEM, "predict",
                                "cannot allocate scratch for %zu rows", rows);
    }

    for (size_t p = 0; p < n; p += rows) {
        size_t k = n - p < rows ? n - p : rows;

        predict_chunk(m, &L, &s, x + p * (size_t)m->n_in, k,
                      y + p * (size_t)m->n_out, scratch);
    }
    if (scratch != stack)
        free(scratch);
    return TB_OK;
}

/* One thread's share of a split prediction. */
struct part {
    const tb_model *m;
    const double *x;
    size_t n;
    double *y;
    int rc;
    tb_error err;
};

static void *predict_part(void *arg)
{
    struct part *p = arg;

    tb_error_clear(&p->err);
    p->rc = predict_here(p->m, p->x, p->n, p->y, &p->err);
    return NULL;
}

/* Split the points into one contiguous share per thread: the caller takes
 * the first, new threads the rest (a thread that cannot start leaves its
 * share to the caller).  OpenBLAS runs one thread inside each. */
static int predict_split(const tb_model *m, const double *x, size_t n,
                         double *y, int threads, tb_error *err)
{
    struct part part[PREDICT_THREADS];
    pthread_t tid[PREDICT_THREADS];
    int started[PREDICT_THREADS] = {0};
    size_t at = 0;
    int rc = TB_OK;

    for (int i = 0; i < threads; i++) {
        size_t k = n / (size_t)threads + ((size_t)i < n % (size_t)threads);

        part[i] = (struct part){m,     x + at * (size_t)m->n_in,
                                k,     y + at * (size_t)m->n_out,
                                TB_OK, {0}};
        at += k;
        if (i > 0)
            started[i] =
                pthread_create(&tid[i], NULL, predict_part, &part[i]) == 0;
    }
    for (int i = 0; i < threads; i++) {
        if (i == 0 || !started[i])
            predict_part(&part[i]);
        else
            pthread_join(tid[i], NULL);
        if (part[i].rc != TB_OK && rc == TB_OK)
            rc = tb_error_set(err, part[i].rc, "predict", "%s",
                              part[i].err.text);
    }
    return rc;
}

/* Large predictions are split among threads, the rest run here. */
int tb_model_predict(const tb_model *m, const double *x, size_t n, double *y,
                     tb_error *err)
{
    int threads = tbm_threads_requested();

    if (!m || !m->params || ((!x || !y) && n > 0))
        return tb_error_set(err, TB_EINVAL, "predict",
                            "no model, weights or points");
    if (n == 0)
        return TB_OK;
    if (threads > PREDICT_THREADS)
        threads = PREDICT_THREADS;
    if ((size_t)threads > n / PREDICT_SPLIT)
        threads = (int)(n / PREDICT_SPLIT);
    if (threads >= 2)
        return predict_split(m, x, n, y, threads, err);
    return predict_here(m, x, n, y, err);
}

/* ------------------------------------------------------------------------
 * Error measurement
 * ------------------------------------------------------------------------ */

/* Sums of one batch of errors into per-output max, sum and sum of squares. */
static void add_errors(int n_out, const double *y, const double *y_ref,
                       size_t rows, double *mx, double *sum, double *sq)
{
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < n_out; k++) {
            size_t o = r * (size_t)n_out + (size_t)k;
            double e = fabs(y[o] - y_ref[o]);

            /* A NaN prediction must count as the worst error, not vanish. */
            if (!(e <= mx[k]))
                mx[k] = isnan(e) ? INFINITY : e;
            sum[k] += e;
            sq[k] += e * e;
        }
}

/* Predict in chunks and accumulate per-output max, mean and RMS. */
int tb_model_errors(const tb_model *m, const double *x, const double *y_ref,
                    size_t n, double *max_abs, double *mean_abs, double *rms,
                    tb_error *err)
{
    double mx[TB_MODEL_MAX_OUT] = {0}, sum[TB_MODEL_MAX_OUT] = {0};
    double sq[TB_MODEL_MAX_OUT] = {0};
    double *y;
    int rc = TB_OK;

    if (!m || !m->params || ((!x || !y_ref) && n > 0))
        return tb_error_set(err, TB_EINVAL, "errors",
                            "no model, points or reference values");
    y = malloc((size_t)PREDICT_CHUNK * (size_t)m->n_out * sizeof(double));
    if (!y)
        return tb_error_set(err, TB_ENOMEM, "errors", "cannot allocate");

    for (size_t p = 0; p < n && rc == TB_OK; p += PREDICT_CHUNK) {
        size_t k = n - p < PREDICT_CHUNK ? n - p : PREDICT_CHUNK;

        rc = tb_model_predict(m, x + p * (size_t)m->n_in, k, y, err);
        if (rc == TB_OK)
            add_errors(m->n_out, y, y_ref + p * (size_t)m->n_out, k, mx, sum,
                       sq);
    }
    free(y);

    for (int k = 0; k < m->n_out && rc == TB_OK; k++) {
        if (max_abs)
            max_abs[k] = mx[k];
        if (mean_abs)
            mean_abs[k] = n ? sum[k] / (double)n : 0.0;
        if (rms)
            rms[k] = n ? sqrt(sq[k] / (double)n) : 0.0;
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Attributes
 * ------------------------------------------------------------------------ */

const char *tb_model_attr(const tb_model *m, const char *key)
{
    for (int i = 0; m && key && i < m->n_attrs; i++)
        if (strcmp(m->attrs[i].key, key) == 0)
            return m->attrs[i].value;
    return NULL;
}

/* Keys become HDF5 attribute names: letters, digits, '_', '-' and '.'. */
static int key_ok(const char *key)
{
    if (!name_ok(key) || key[0] == '.')
        return 0;
    for (const char *c = key; *c; c++)
        if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
            !(*c >= '0' && *c <= '9') && !strchr("_-.", *c))
            return 0;
    return 1;
}

/* Replace the value of an existing key, or add the key. */
int tb_model_set_attr(tb_model *m, const char *key, const char *value)
{
    tb_attr *a = NULL;

    if (!m || !key_ok(key) || !value ||
        strlen(value) >= sizeof(m->attrs[0].value))
        return TB_EINVAL;

    for (int i = 0; i < m->n_attrs && !a; i++)
        if (strcmp(m->attrs[i].key, key) == 0)
            a = &m->attrs[i];
    if (!a) {
        if (m->n_attrs >= TB_MODEL_MAX_ATTRS)
            return TB_ELIMIT;
        a = &m->attrs[m->n_attrs++];
        snprintf(a->key, sizeof(a->key), "%s", key);
    }
    snprintf(a->value, sizeof(a->value), "%s", value);
    return TB_OK;
}

/* ------------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------------ */

static int threads_requested;

/* Remember n for training and prediction; OpenBLAS runs one thread
 * outside training, so that a split prediction's threads do not each
 * start more. */
void tb_model_set_threads(int n)
{
    if (n < 1)
        n = 1;
    __atomic_store_n(&threads_requested, n, __ATOMIC_RELAXED);
    openblas_set_num_threads(1);
}

/* What tb_model_set_threads asked for, or 0. */
int tbm_threads_requested(void)
{
    return __atomic_load_n(&threads_requested, __ATOMIC_RELAXED);
}

/*
 * test_train.c - training memorises a small table, says why it stopped,
 * returns its best weights with a report that matches them, repeats
 * itself exactly for a given seed, and takes a step over more rows than
 * one pass holds as one step.
 */
#include "model.h"
#include "model_int.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NX    17
#define NA    9
#define NROWS (NX * NA)

static double table_x[NROWS * 2], table_y[NROWS];
static double table_lo = INFINITY, table_hi = -INFINITY;

/* u = sin(3x) exp(-a) on a 17 x 9 grid over x in [0, 1], a in [0, 1]. */
static void make_table(void)
{
    for (int i = 0; i < NX; i++)
        for (int j = 0; j < NA; j++) {
            int r = i * NA + j;
            double x = (double)i / (NX - 1), a = (double)j / (NA - 1);

            table_x[2 * r] = x;
            table_x[2 * r + 1] = a;
            table_y[r] = sin(3 * x) * exp(-a);
            table_lo = fmin(table_lo, table_y[r]);
            table_hi = fmax(table_hi, table_y[r]);
        }
}

static int make_model(tb_model *m, int width, uint64_t seed)
{
    tb_model_input in[2] = {{"x", 0.0, 1.0, NX}, {"a", 0.0, 1.0, NA}};
    const char *names[1] = {"u"};
    int hidden[2] = {width, width};

    return tb_model_init(m, 2, in, 1, names, &table_lo, &table_hi, 2, hidden,
                         TB_ACT_TANH, seed, NULL);
}

static void small_opts(tb_train_opts *o)
{
    tb_train_opts_default(o);
    o->batch = 32;
    o->lr = 1e-2;
    o->eval_every = 5;
    o->max_epochs = 4000;
    o->time_limit = 60;
}

static void test_memorise(void)
{
    tb_train_opts o;
    tb_train_progress last;
    tb_model m;
    double mx, range, best = INFINITY;
    double t0 = tb_now();
    tb_error err;
    int rc;

    make_table();
    make_model(&m, 32, 1);
    small_opts(&o);
    o.target = 5e-3;
    tb_error_clear(&err);
    rc = tb_train(&m, table_x, table_y, NROWS, &o, &last, &err);
    CHECK(rc == TB_STOP_TARGET, "stops on its target: %s (%s)",
          tb_status_name(rc), err.text);
    CHECK(m.report.grid_max_rel[0] <= o.target, "report max_rel %.3g <= target",
          m.report.grid_max_rel[0]);
    printf("train: target %.0e, stopped at epoch %ld in %.2f s: max_rel %.3g "
           "(%zu history rows)\n",
           o.target, last.epoch, tb_now() - t0, m.report.grid_max_rel[0],
           m.n_history);

    /* An independent measurement of the returned weights. */
    tb_model_errors(&m, table_x, table_y, NROWS, &mx, NULL, NULL, NULL);
    /* Different batch sizes take different sgemm kernels: they agree to
     * float rounding of the outputs, not bit for bit. */
    range = table_hi - table_lo;
    CHECK_NEAR(mx, m.report.grid_max_abs[0], 1e-6 * range,
               "report max_abs against tb_model_errors");
    CHECK_NEAR(mx / range, m.report.grid_max_rel[0], 1e-6,
               "report max_rel against tb_model_errors");
    CHECK(m.report.n_grid == NROWS, "n_grid %ld", m.report.n_grid);

    /* The returned weights are the best measured. */
    for (size_t i = 0; i < m.n_history; i++)
        best = fmin(best, m.history[i].max_rel);
    CHECK(best == m.report.grid_max_rel[0],
          "the report is the best of the history (%.6g, %.6g)", best,
          m.report.grid_max_rel[0]);
    tb_model_free(&m);
}

static void test_epochs_and_repeat(void)
{
    tb_train_opts o;
    tb_train_progress last;
    tb_model a, b, c;
    int rc;

    small_opts(&o);
    o.max_epochs = 12;
    make_model(&a, 16, 3);
    make_model(&b, 16, 3);
    make_model(&c, 16, 3);

    rc = tb_train(&a, table_x, table_y, NROWS, &o, &last, NULL);
    CHECK(rc == TB_STOP_EPOCHS && last.epoch == 12,
          "stops on max_epochs: %s at %ld", tb_status_name(rc), last.epoch);
    CHECK(a.n_history == 3 && a.history[2].epoch == 12,
          "history at 5, 10 and a closing row at 12 (%zu rows)", a.n_history);

    tb_train(&b, table_x, table_y, NROWS, &o, NULL, NULL);
    CHECK(memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0,
          "the same seed gives the same weights bit for bit");
    CHECK(a.history[1].loss == b.history[1].loss, "and the same losses");

    o.seed = 2;
    tb_train(&c, table_x, table_y, NROWS, &o, NULL, NULL);
    CHECK(memcmp(a.params, c.params, a.n_params * sizeof(float)) != 0,
          "another seed gives other weights");
    tb_model_free(&a);
    tb_model_free(&b);
    tb_model_free(&c);
}

static void stop_at_7(const tb_train_progress *p, void *data)
{
    volatile sig_atomic_t *stop = data;

    if (p->epoch == 7)
        *stop = 1;
}

static void test_other_stops(void)
{
    volatile sig_atomic_t stop = 0;
    tb_train_opts o;
    tb_train_progress last;
    tb_model m;
    int rc;

    small_opts(&o);
    o.max_epochs = 1000000;
    o.time_limit = 0.3;
    make_model(&m, 8, 1);
    rc = tb_train(&m, table_x, table_y, NROWS, &o, &last, NULL);
    CHECK(rc == TB_STOP_TIME && last.seconds > 0.2,
          "stops on its time limit: %s after %.2f s", tb_status_name(rc),
          last.seconds);

    o.time_limit = 0;
    o.stop = &stop;
    o.progress = stop_at_7;
    o.progress_data = (void *)&stop;
    rc = tb_train(&m, table_x, table_y, NROWS, &o, &last, NULL);
    CHECK(rc == TB_INTERRUPTED && last.epoch == 7,
          "stops when asked: %s at %ld", tb_status_name(rc), last.epoch);
    tb_model_free(&m);
}

static void keep_loss(const tb_train_progress *p, void *data)
{
    *(double *)data = p->loss;
}

/* The reference for a step over every row at once: the scaled mean
 * squared error at m's weights, and its gradient into g (n_params). */
static double whole_step(const tb_model *m, const double *x, const double *y,
                         size_t n, float *g)
{
    tbm_layout L;
    tbm_scale sc;
    float *buf, *act[TBM_MAX_LAYERS + 1], *ys, *delta, *tmp;
    size_t at = 0;
    double mse = 0;

    tbm_layout_of(m, &L);
    tbm_scale_init(m, &sc);
    buf = malloc(n * (size_t)(L.n_layers + 5) * (size_t)L.max_width *
                 sizeof(float));
    for (int l = 0; l <= L.n_layers; l++, at += n * (size_t)L.max_width)
        act[l] = buf + at;
    ys = buf + at;
    delta = ys + n;
    tmp = delta + n * (size_t)L.max_width;

    tbm_encode(m, &sc, x, n, act[0]);
    tbm_scale_outputs(&sc, m->n_out, y, n, ys);
    tbm_forward(&L, m->params, (int)n, act, NULL);
    for (size_t i = 0; i < n; i++) {
        double d = (double)act[L.n_layers][i] - ys[i];

        mse += d * d / (double)n;
        delta[i] = 2.0f * (act[L.n_layers][i] - ys[i]) / (float)n;
    }
    tbm_backward(&L, m->params, (int)n, act, NULL, delta, tmp, g);
    free(buf);
    return mse;
}

/*
 * train.c takes a large batch through the passes in blocks and sums their
 * gradients.  A step over 2,500 rows (blocks of 1024, 1024, 452) must see
 * every row once.  Adam's first step moves each weight by lr_t g / (|g| +
 * 1e-8), which shows g itself only when |g| is well below 1e-8: so the
 * output layer starts at zero and the targets sit 1e-9 of a half range from
 * the middle, and the output layer's move must match the whole table's
 * gradient.  Its loss must be the whole table's too.
 */
static void test_blocked_step(void)
{
    size_t n = 2500, bad = 0;
    double *x = malloc(3 * n * sizeof(double)), *y = x + 2 * n;
    double mid = (table_lo + table_hi) / 2, half = (table_hi - table_lo) / 2;
    double mse, loss = NAN, worst = 0, lr_t, bc2 = 1 - 0.999;
    float *p0, *g;
    tb_train_opts o;
    tbm_layout L;
    tb_model m;

    for (size_t i = 0; i < n; i++) {
        x[2 * i] = (double)(i % 50) / 49;
        x[2 * i + 1] = (double)(i / 50) / 49;
        y[i] = mid + half * 1e-9 * sin(3 * x[2 * i]) * exp(-x[2 * i + 1]);
    }
    make_model(&m, 8, 5);
    tbm_layout_of(&m, &L);
    memset(m.params + L.w_off[L.n_layers - 1], 0,
           (m.n_params - L.w_off[L.n_layers - 1]) * sizeof(float));
    p0 = malloc(2 * m.n_params * sizeof(float));
    g = p0 + m.n_params;
    memcpy(p0, m.params, m.n_params * sizeof(float));
    mse = whole_step(&m, x, y, n, g);

    tb_train_opts_default(&o);
    o.batch = (int)n;
    o.max_epochs = 1;
    o.eval_every = 1;
    o.progress = keep_loss;
    o.progress_data = &loss;
    CHECK(tb_train(&m, x, y, n, &o, NULL, NULL) == TB_STOP_EPOCHS,
          "one full-batch epoch over %zu rows", n);
    CHECK(fabs(loss - mse) <= 1e-4 * mse,
          "the blocked step's loss %.9g is the whole table's %.9g", loss, mse);

    /* The first step's rate is lr / 100 (the warm-up's first step). */
    lr_t = o.lr / 100;
    for (size_t i = L.w_off[L.n_layers - 1]; i < m.n_params; i++) {
        double gi = g[i];
        double want = -lr_t * sqrt(bc2) / 0.1 * 0.1 * gi /
                      (sqrt(0.001 * gi * gi) + 1e-8 * sqrt(bc2));
        double e = fabs((m.params[i] - p0[i]) - want) / (fabs(want) + 1e-12);

        bad += !(e < 1e-3) || fabs(gi) > 5e-9;
        worst = fmax(worst, e);
    }
    CHECK(bad == 0,
          "the output layer moves by the whole table's gradient (%zu off; "
          "worst relative error %.3g)",
          bad, worst);
    tb_model_free(&m);
    free(p0);
    free(x);
}

static void test_refusals(void)
{
    tb_train_opts o;
    tb_model m;
    tb_error err;
    double x_out[2 * NROWS], y_nan[NROWS];

    make_model(&m, 8, 1);
    small_opts(&o);
    o.batch = 0;
    tb_error_clear(&err);
    CHECK(tb_train(&m, table_x, table_y, NROWS, &o, NULL, &err) == TB_EINVAL,
          "batch 0 refused: %s", err.text);

    small_opts(&o);
    memcpy(x_out, table_x, sizeof(x_out));
    x_out[5] = 1.5;
    CHECK(tb_train(&m, x_out, table_y, NROWS, &o, NULL, NULL) == TB_EDOMAIN,
          "a row outside the domain is refused");
    memcpy(y_nan, table_y, sizeof(y_nan));
    y_nan[3] = NAN;
    tb_error_clear(&err);
    CHECK(tb_train(&m, table_x, y_nan, NROWS, &o, NULL, &err) == TB_EINVAL,
          "a NaN output is refused: %s", err.text);
    tb_model_free(&m);
}

int main(void)
{
    tb_log_set_level(TB_LOG_WARN);
    test_memorise();
    test_epochs_and_repeat();
    test_other_stops();
    test_blocked_step();
    test_refusals();
    return tu_finish("train");
}

/*
 * test_fullbatch.c - the double-precision full-batch phase of training:
 * the objective's gradient and Jacobian against finite differences, the
 * Levenberg-Marquardt and L-BFGS phases taking a small table's grid max
 * error far below what Adam reaches in the same epochs, and both resuming
 * from a checkpoint bit for bit; every activation and the Fourier-feature
 * encoding in double precision; the worst-case objective lowering the
 * grid max error against plain least squares, and the log output
 * transform fitting an output that spans six decades.
 */
#include "model.h"
#include "model_int.h"
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NX    17
#define NA    9
#define NROWS (NX * NA)

static double table_x[NROWS * 2], table_y[NROWS * 2];
static double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};

/* Two outputs on a 17 x 9 grid: sin(3x) exp(-a) and x^2 + a. */
static void make_table(void)
{
    for (int i = 0; i < NX; i++)
        for (int j = 0; j < NA; j++) {
            int r = i * NA + j;
            double x = (double)i / (NX - 1), a = (double)j / (NA - 1);

            table_x[2 * r] = x;
            table_x[2 * r + 1] = a;
            table_y[2 * r] = sin(3 * x) * exp(-a);
            table_y[2 * r + 1] = x * x + a;
            for (int k = 0; k < 2; k++) {
                lo[k] = fmin(lo[k], table_y[2 * r + k]);
                hi[k] = fmax(hi[k], table_y[2 * r + k]);
            }
        }
}

static void make_model_act(tb_model *m, int width, int act)
{
    tb_model_input in[2] = {{"x", 0.0, 1.0, NX}, {"a", 0.0, 1.0, NA}};
    const char *names[2] = {"u", "v"};
    int hidden[2] = {width, width};

    tb_model_init(m, 2, in, 2, names, lo, hi, 2, hidden, act, 3, NULL);
}

static void make_model(tb_model *m, int width)
{
    make_model_act(m, width, TB_ACT_TANH);
}

/* ------------------------------------------------------------------------
 * Derivatives
 * ------------------------------------------------------------------------ */

/* The objective's gradient, and J^T r from its Jacobian, against central
 * differences of its value, for one activation, with or without a
 * 3-frequency Fourier-feature encoding. */
static void test_derivatives(int act, int fourier)
{
    tb_model m;
    tbm_layout L;
    tbm_scale sc;
    tbm_objective o;
    double *xs, ys[NROWS * 2], w[NROWS];
    double *p, *g, *jac, *res, *d[TBM_MAX_LAYERS];
    double jtr_worst = 0, fd_worst = 0;
    int lines;

    make_model_act(&m, 6, act);
    if (fourier)
        CHECK(tb_model_set_fourier(&m, 3, 1.0, 5, NULL) == 0, "encoding");
    tbm_layout_of(&m, &L);
    tbm_scale_init(&m, &sc);
    xs = malloc(NROWS * (size_t)L.width[0] * sizeof(double));
    tbm_encode64(&m, &sc, table_x, NROWS, xs);
    for (int i = 0; i < NROWS * 2; i++)
        ys[i] = 0.3 * table_y[i];
    for (int r = 0; r < NROWS; r++)
        w[r] = 1 + (r % 3);
    CHECK(tbm_objective_open(&o, &L, xs, ys, NROWS, NULL) == TB_OK,
          "objective allocated");
    o.w = w;

    p = malloc(L.n_params * sizeof(double));
    g = malloc(L.n_params * sizeof(double));
    jac = malloc((size_t)NROWS * 2 * L.n_params * sizeof(double));
    res = malloc(NROWS * 2 * sizeof(double));
    for (int l = 0; l < L.n_layers; l++)
        d[l] = malloc((size_t)NROWS * (size_t)L.max_width * sizeof(double));
    for (size_t i = 0; i < L.n_params; i++)
        p[i] = m.params[i] + 0.05 * sin((double)i);

    tbm_objective_eval(&o, p, g);
    lines = tbm_objective_jacobian(&o, p, 0, d, jac, res);
    CHECK(lines == NROWS * 2, "one Jacobian line per row and output: %d",
          lines);
    for (size_t i = 0; i < L.n_params; i++) {
        double jtr = 0, h = 1e-6, fp, fm, fd;

        for (int k = 0; k < lines; k++)
            jtr += jac[(size_t)k * L.n_params + i] * res[k];
        jtr *= 2.0 / (NROWS * 2);
        jtr_worst = fmax(jtr_worst, fabs(jtr - g[i]));

        p[i] += h;
        fp = tbm_objective_value(&o, p);
        p[i] -= 2 * h;
        fm = tbm_objective_value(&o, p);
        p[i] += h;
        fd = (fp - fm) / (2 * h);
        fd_worst = fmax(fd_worst, fabs(fd - g[i]) / fmax(1e-3, fabs(g[i])));
    }
    CHECK(fd_worst < 1e-5,
          "activation %d%s: gradient matches central differences: %g", act,
          fourier ? " + Fourier" : "", fd_worst);
    CHECK(jtr_worst < 1e-12, "2 J^T r / N is the gradient: %g", jtr_worst);
    free(xs);

    for (int l = 0; l < L.n_layers; l++)
        free(d[l]);
    free(p);
    free(g);
    free(jac);
    free(res);
    tbm_objective_close(&o);
    tb_model_free(&m);
}

/* ------------------------------------------------------------------------
 * Training with a full-batch phase
 * ------------------------------------------------------------------------ */

static void opts_for(tb_train_opts *o, int second, long after)
{
    tb_train_opts_default(o);
    o->batch = 32;
    o->lr = 1e-2;
    o->eval_every = 5;
    o->max_epochs = 120;
    o->lbfgs_after = after;
    o->second = second;
}

static double train_worst(int second, long after, tb_model *m)
{
    tb_train_opts o;
    double worst = 0;
    int rc;

    opts_for(&o, second, after);
    make_model(m, 12);
    rc = tb_train(m, table_x, table_y, NROWS, &o, NULL, NULL);
    CHECK(rc > 0, "training stops cleanly: %s", tb_status_name(rc));
    for (int k = 0; k < 2; k++)
        worst = fmax(worst, m->report.grid_max_rel[k]);
    return worst;
}

/* 40 Adam epochs then 80 full-batch steps beat 120 Adam epochs by far. */
static void test_beats_adam(void)
{
    tb_model a, b, c;
    double adam = train_worst(TB_SECOND_AUTO, -1, &a);
    double lm = train_worst(TB_SECOND_LM, 40, &b);
    double lbfgs = train_worst(TB_SECOND_LBFGS, 40, &c);

    printf("grid max_rel after 120 epochs: Adam %.3g, LM %.3g, L-BFGS "
           "%.3g\n",
           adam, lm, lbfgs);
    CHECK(lm < adam / 10, "Levenberg-Marquardt %g is 10x below Adam's %g", lm,
          adam);
    CHECK(lbfgs < adam / 3, "L-BFGS %g is 3x below Adam's %g", lbfgs, adam);
    CHECK(lm < 1e-3, "Levenberg-Marquardt memorises to 1e-3: %g", lm);
    tb_model_free(&a);
    tb_model_free(&b);
    tb_model_free(&c);
}

/* The same steps with the worst-case objective: a lower grid max error
 * (the network is kept small so that it cannot fit every node exactly). */
static void test_worst_objective(void)
{
    tb_train_opts o;
    tb_model a, b;
    double mse = 0, worst = 0;

    opts_for(&o, TB_SECOND_LM, 40);
    o.max_epochs = 160;
    o.eval_every = 1;
    make_model(&a, 4);
    make_model(&b, 4);
    CHECK(tb_train(&a, table_x, table_y, NROWS, &o, NULL, NULL) > 0,
          "least squares trains");
    o.objective = TB_OBJ_WORST;
    CHECK(tb_train(&b, table_x, table_y, NROWS, &o, NULL, NULL) > 0,
          "the worst-case objective trains");
    for (int k = 0; k < 2; k++) {
        mse = fmax(mse, a.report.grid_max_rel[k]);
        worst = fmax(worst, b.report.grid_max_rel[k]);
    }
    printf("grid max_rel, 2 x 4 network, 40 Adam + 120 LM steps: least "
           "squares %.3g, worst case %.3g\n",
           mse, worst);
    /* Seen: 26 % to 35 % below, as rounding in the Adam start varies with
     * the forward pass's kernels; no gain at all would be 0 %. */
    CHECK(worst < 0.85 * mse,
          "the worst-case objective %g is 15 %% below least squares' %g", worst,
          mse);
    o.objective = 2;
    CHECK(tb_train(&b, table_x, table_y, NROWS, &o, NULL, NULL) == TB_EINVAL,
          "an unknown objective is refused");
    tb_model_free(&a);
    tb_model_free(&b);
}

/* The worst relative error |yhat / y - 1| of m over the table rows. */
static double worst_relative(const tb_model *m, const double *x,
                             const double *y, size_t n)
{
    double *yh = malloc(n * sizeof(double)), worst = 0;

    tb_model_predict(m, x, n, yh, NULL);
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(yh[i] / y[i] - 1));
    free(yh);
    return worst;
}

/* y = 10^(-6 x (0.6 + 0.4 a)) spans six decades (1e-6 to 1): the log
 * transform fits it to a small relative error everywhere; the affine
 * scaling cannot, its absolute error swamping the small values. */
static void test_log_transform(void)
{
    tb_model_input in[2] = {{"x", 0.0, 1.0, NX}, {"a", 0.0, 1.0, NA}};
    const char *names[1] = {"c"};
    double y[NROWS], ylo = INFINITY, yhi = 0, rel[2];
    int hidden[2] = {8, 8};
    tb_train_opts o;
    tb_model m[2];

    for (int r = 0; r < NROWS; r++) {
        y[r] = pow(10, -6 * table_x[2 * r] * (0.6 + 0.4 * table_x[2 * r + 1]));
        ylo = fmin(ylo, y[r]);
        yhi = fmax(yhi, y[r]);
    }
    opts_for(&o, TB_SECOND_LM, 40);
    for (int t = 0; t < 2; t++) {
        tb_model_init(&m[t], 2, in, 1, names, &ylo, &yhi, 2, hidden,
                      TB_ACT_TANH, 3, NULL);
        if (t == 1)
            CHECK(tb_model_set_output_log(&m[t], 0, 0, NULL) == 0, "log");
        CHECK(tb_train(&m[t], table_x, y, NROWS, &o, NULL, NULL) > 0, "trains");
        rel[t] = worst_relative(&m[t], table_x, y, NROWS);
    }
    printf("max |yhat / y - 1| over 6 decades: affine %.3g, log %.3g\n", rel[0],
           rel[1]);
    CHECK(rel[1] < 1e-2, "the log transform fits to 1 %%: %g", rel[1]);
    CHECK(rel[0] > 10 * rel[1], "affine scaling cannot: %g", rel[0]);
    CHECK(m[1].report.grid_max_abs[0] < 1e-2 * (yhi - ylo),
          "the report stays in user units: max abs %g",
          m[1].report.grid_max_abs[0]);
    CHECK(tb_model_set_output_log(&m[0], 0, -2 * ylo, NULL) == TB_EINVAL,
          "a shift that leaves values below zero is refused");
    tb_model_free(&m[0]);
    tb_model_free(&m[1]);
}

static void stop_at(const tb_train_progress *p, void *data)
{
    volatile sig_atomic_t *stop = data;

    if (p->epoch == stop[1])
        stop[0] = 1;
}

/* Stopped in the full-batch phase and resumed, a run ends as it would
 * have uninterrupted (with the worst-case objective: stopped after its
 * weights were renewed a few times). */
static void test_resume(int second, int objective, const char *dir)
{
    volatile sig_atomic_t stop[2] = {0, objective ? 77 : 57};
    tb_train_opts o;
    tb_model straight, half, rest;
    char sub[4200];
    int rc;

    opts_for(&o, second, 40);
    o.objective = objective;
    make_model(&straight, 12);
    tb_train(&straight, table_x, table_y, NROWS, &o, NULL, NULL);

    snprintf(sub, sizeof(sub), "%s/resume-%d-%d", dir, second, objective);
    o.checkpoint_dir = sub;
    o.checkpoint_every = 1e9;
    o.stop = &stop[0];
    o.progress = stop_at;
    o.progress_data = (void *)stop;
    make_model(&half, 12);
    rc = tb_train(&half, table_x, table_y, NROWS, &o, NULL, NULL);
    CHECK(rc == TB_INTERRUPTED, "stops on request: %s", tb_status_name(rc));

    o.stop = NULL;
    o.progress = NULL;
    o.resume = 1;
    make_model(&rest, 12);
    tb_train(&rest, table_x, table_y, NROWS, &o, NULL, NULL);
    CHECK(rest.n_params == straight.n_params &&
              memcmp(rest.params, straight.params,
                     rest.n_params * sizeof(float)) == 0,
          "optimiser %d, objective %d: resumed weights equal straight ones "
          "bit for bit",
          second, objective);
    CHECK(memcmp(&rest.report, &straight.report, sizeof(rest.report)) == 0,
          "and the same report");
    tb_model_free(&straight);
    tb_model_free(&half);
    tb_model_free(&rest);
}

int main(void)
{
    const char *dir = tu_tmpdir();

    tb_model_set_threads(1);
    make_table();
    for (int act = TB_ACT_TANH; act <= TB_ACT_SINE; act++) {
        test_derivatives(act, 0);
        test_derivatives(act, 1);
    }
    test_beats_adam();
    test_worst_objective();
    test_log_transform();
    test_resume(TB_SECOND_LM, TB_OBJ_MSE, dir);
    test_resume(TB_SECOND_LBFGS, TB_OBJ_MSE, dir);
    test_resume(TB_SECOND_LM, TB_OBJ_WORST, dir);
    test_resume(TB_SECOND_LBFGS, TB_OBJ_WORST, dir);
    return tu_finish("fullbatch");
}

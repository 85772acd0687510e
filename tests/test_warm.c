/*
 * test_warm.c - warm starts: a model's weights carried to a new domain and
 * output range keep its function in user units, a network of another
 * shape is refused, a warm start reaches the target in fewer epochs than a
 * cold one on a slightly changed table, and frozen layers stay unchanged.
 */
#include "model.h"
#include "model_int.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NX     17
#define NA     9
#define NROWS  (NX * NA)
#define TARGET 4e-3

typedef struct table {
    double a_hi; /* the a axis is [0, a_hi] */
    double gain, shift;
    double x[NROWS * 2], y[NROWS];
    double lo, hi;
} table;

/* u = gain sin(3x) exp(-a) + shift on a 17 x 9 grid. */
static void make_table(table *t, double a_hi, double gain, double shift)
{
    t->a_hi = a_hi;
    t->lo = INFINITY;
    t->hi = -INFINITY;
    for (int i = 0; i < NX; i++)
        for (int j = 0; j < NA; j++) {
            int r = i * NA + j;
            double x = (double)i / (NX - 1), a = a_hi * j / (NA - 1);

            t->x[2 * r] = x;
            t->x[2 * r + 1] = a;
            t->y[r] = gain * sin(3 * x) * exp(-a) + shift;
            t->lo = fmin(t->lo, t->y[r]);
            t->hi = fmax(t->hi, t->y[r]);
        }
}

static int make_model(tb_model *m, const table *t, int width)
{
    tb_model_input in[2] = {{"x", 0.0, 1.0, NX}, {"a", 0.0, t->a_hi, NA}};
    const char *names[1] = {"u"};
    int hidden[2] = {width, width};

    return tb_model_init(m, 2, in, 1, names, &t->lo, &t->hi, 2, hidden,
                         TB_ACT_TANH, 4, NULL);
}

static void opts(tb_train_opts *o)
{
    tb_train_opts_default(o);
    o->batch = 16;
    o->lr = 5e-3;
    o->eval_every = 1;
    o->max_epochs = 3000;
    o->target = TARGET;
}

/* Epochs to the target on t, from m's weights. */
static long epochs_to_target(tb_model *m, const table *t, int freeze)
{
    tb_train_opts o;
    tb_train_progress last = {0};
    int rc;

    opts(&o);
    o.freeze = freeze;
    rc = tb_train(m, t->x, t->y, NROWS, &o, &last, NULL);
    CHECK(rc == TB_STOP_TARGET, "training reaches %g: %s (%.3g)", TARGET,
          tb_status_name(rc), last.max_rel);
    return last.epoch;
}

/* The warm-started network computes the old one's function. */
static void test_same_function(const tb_model *old, const table *b)
{
    tb_model m;
    double x[2 * 5], ya[5], yb[5], worst = 0;

    make_model(&m, b, 12);
    CHECK(tb_model_warm_start(&m, old, NULL) == TB_OK, "warm start accepted");
    for (int i = 0; i < 5; i++) {
        x[2 * i] = 0.1 + 0.2 * i;
        x[2 * i + 1] = 0.9 - 0.2 * i;
    }
    tb_model_predict(old, x, 5, ya, NULL);
    tb_model_predict(&m, x, 5, yb, NULL);
    for (int i = 0; i < 5; i++)
        worst = fmax(worst, fabs(ya[i] - yb[i]));
    CHECK(worst < 1e-5, "same outputs in user units: %g apart", worst);
    tb_model_free(&m);
}

static void test_refused(const tb_model *old, const table *b)
{
    tb_model m;
    tb_error err;

    tb_error_clear(&err);
    make_model(&m, b, 10);
    CHECK(tb_model_warm_start(&m, old, &err) == TB_EINVAL,
          "another width is refused");
    CHECK(strstr(err.text, "does not fit") != NULL, "saying why: %s", err.text);
    tb_model_free(&m);
}

/* A Fourier encoding, or output transforms that differ, are refused with
 * a reason; the same log transform on both sides carries the function. */
static void test_transforms(const table *a, const table *b)
{
    tb_model old, m;
    double x[2] = {0.3, 0.4}, ya, yb;
    tb_error err;

    make_model(&old, a, 12);
    make_model(&m, b, 12);
    tb_model_set_fourier(&m, 4, 1.0, 1, NULL);
    tb_error_clear(&err);
    CHECK(tb_model_warm_start(&m, &old, &err) == TB_EINVAL &&
              strstr(err.text, "Fourier"),
          "a Fourier encoding is refused: %s", err.text);
    tb_model_free(&m);

    make_model(&m, b, 12);
    tb_model_set_output_log(&m, 0, 1.0 - b->lo, NULL);
    tb_error_clear(&err);
    CHECK(tb_model_warm_start(&m, &old, &err) == TB_EINVAL &&
              strstr(err.text, "same output transforms"),
          "a log output against an affine one is refused: %s", err.text);

    tb_model_set_output_log(&old, 0, 1.0 - b->lo, NULL);
    CHECK(tb_model_warm_start(&m, &old, &err) == TB_OK,
          "the same log transform is accepted: %s", err.text);
    tb_model_predict(&old, x, 1, &ya, NULL);
    tb_model_predict(&m, x, 1, &yb, NULL);
    CHECK(fabs(ya - yb) < 1e-5 * fabs(ya) + 1e-6,
          "and keeps the function: %g against %g", yb, ya);
    tb_model_free(&m);
    tb_model_free(&old);
}

/* Warm beats cold on the changed table; frozen layers do not move. */
static void test_fewer_epochs(const tb_model *old, const table *b)
{
    tb_model cold, warm, frozen;
    tbm_layout L;
    long n_cold, n_warm;

    make_model(&cold, b, 12);
    n_cold = epochs_to_target(&cold, b, 0);
    make_model(&warm, b, 12);
    tb_model_warm_start(&warm, old, NULL);
    n_warm = epochs_to_target(&warm, b, 0);
    printf("epochs to %g on the changed table: cold %ld, warm %ld\n", TARGET,
           n_cold, n_warm);
    CHECK(n_warm * 4 <= n_cold * 3,
          "warm start needs at most 3/4 of the epochs: %ld against %ld", n_warm,
          n_cold);

    make_model(&frozen, b, 12);
    tb_model_warm_start(&frozen, old, NULL);
    memcpy(warm.params, frozen.params, frozen.n_params * sizeof(float));
    epochs_to_target(&frozen, b, 1);
    tbm_layout_of(&frozen, &L);
    CHECK(memcmp(frozen.params, warm.params, L.w_off[1] * sizeof(float)) == 0,
          "the frozen first layer kept its weights");
    CHECK(memcmp(frozen.params + L.w_off[1], warm.params + L.w_off[1],
                 (L.n_params - L.w_off[1]) * sizeof(float)) != 0,
          "the others trained");
    tb_model_free(&cold);
    tb_model_free(&warm);
    tb_model_free(&frozen);
}

int main(void)
{
    static table a, b;
    tb_model old;

    tb_model_set_threads(1);
    make_table(&a, 1.0, 1.0, 0.0);
    make_table(&b, 1.05, 1.03, 0.01);
    make_model(&old, &a, 12);
    epochs_to_target(&old, &a, 0);

    test_same_function(&old, &b);
    test_refused(&old, &b);
    test_transforms(&a, &b);
    test_fewer_epochs(&old, &b);
    tb_model_free(&old);
    return tu_finish("warm");
}

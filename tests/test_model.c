/*
 * test_model.c - the network's pieces: tanh, sine and cosine, the backward
 * pass against finite differences for every activation, prediction in any
 * batch size, the domain check, and the model file (round trip, damaged
 * and foreign files).
 */
#include "model.h"
#include "model_int.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A 2-input, 2-output model over x in [0, 1] and a in [-2, 3]. */
static int make_model(tb_model *m, int n_hidden, const int *hidden,
                      uint64_t seed)
{
    tb_model_input in[2] = {{"x", 0.0, 1.0, 17}, {"a", -2.0, 3.0, 9}};
    const char *names[2] = {"u", "v"};
    double lo[2] = {-1.0, 5.0}, hi[2] = {1.0, 5.0};

    return tb_model_init(m, 2, in, 2, names, lo, hi, n_hidden, hidden,
                         TB_ACT_TANH, seed, NULL);
}

/* n points spread over the model's domain, corners included. */
static double *domain_points(size_t n)
{
    double *x = malloc(2 * n * sizeof(double));

    for (size_t i = 0; x && i < n; i++) {
        x[2 * i] = (double)(i % 13) / 12.0;
        x[2 * i + 1] = -2.0 + 5.0 * (double)((i * 7) % 11) / 10.0;
    }
    return x;
}

/* ------------------------------------------------------------------------
 * tanh
 * ------------------------------------------------------------------------ */

static void test_tanh(void)
{
    double worst = 0, at = 0;

    for (int i = -200000; i <= 200000; i++) {
        float x = (float)i * 6e-5f;
        double e = fabs((double)tbm_tanh(x) - tanh((double)x));

        if (e > worst) {
            worst = e;
            at = x;
        }
    }
    CHECK(worst < 2e-7, "tbm_tanh: max abs error %.3g at %g", worst, at);
    CHECK(tbm_tanh(30.0f) == 1.0f && tbm_tanh(-30.0f) == -1.0f,
          "tbm_tanh saturates to +-1");
    CHECK(tbm_tanh(0.0f) == 0.0f, "tbm_tanh(0) = %g", tbm_tanh(0.0f));
    CHECK(fabs(tbm_tanh(1e-6f) - 1e-6) < 1e-12,
          "tbm_tanh keeps small arguments: %.9g", tbm_tanh(1e-6f));
    CHECK(isnan(tbm_tanh(NAN)), "tbm_tanh(NaN) is NaN");
}

/* The same sweep through the forward pass, whose activation loop is built
 * for several instruction sets (one may fuse multiply-adds): a 1-1-1
 * network with unit weights and zero biases outputs tanh(x) exactly. */
static void test_tanh_forward(void)
{
    int hidden[1] = {1}, n = 400003;
    float p[4] = {1, 0, 1, 0};
    float *buf = malloc(3 * (size_t)n * sizeof(float));
    float *act[3] = {buf, buf + n, buf + 2 * (size_t)n};
    double worst = 0, at = 0;
    tbm_layout L;

    CHECK(tbm_layout_init(&L, 1, 1, 1, hidden, NULL) == 0 && L.n_params == 4,
          "1-1-1 layout");
    for (int i = 0; i < n - 3; i++)
        buf[i] = (float)(i - 200000) * 6e-5f;
    buf[n - 3] = 30.0f;
    buf[n - 2] = -30.0f;
    buf[n - 1] = NAN;
    tbm_forward(&L, p, n, act, NULL);
    for (int i = 0; i < n - 3; i++) {
        double e = fabs((double)act[2][i] - tanh((double)buf[i]));

        if (e > worst) {
            worst = e;
            at = buf[i];
        }
    }
    CHECK(worst < 2e-7, "forward tanh: max abs error %.3g at %g", worst, at);
    CHECK(act[2][n - 3] == 1.0f && act[2][n - 2] == -1.0f,
          "forward tanh saturates to +-1");
    CHECK(isnan(act[2][n - 1]), "forward tanh keeps NaN");
    free(buf);
}

static void test_sincos(void)
{
    double ws = 0, wc = 0, at_s = 0, at_c = 0;

    for (int i = -500000; i <= 500000; i++) {
        float x = (float)i * 2e-4f;
        double es = fabs((double)tbm_sinf(x) - sin((double)x));
        double ec = fabs((double)tbm_cosf(x) - cos((double)x));

        if (es > ws) {
            ws = es;
            at_s = x;
        }
        if (ec > wc) {
            wc = ec;
            at_c = x;
        }
    }
    CHECK(ws < 1e-6, "tbm_sinf: max abs error %.3g at %g", ws, at_s);
    CHECK(wc < 1e-6, "tbm_cosf: max abs error %.3g at %g", wc, at_c);
    CHECK(tbm_sinf(0.0f) == 0.0f && tbm_cosf(0.0f) == 1.0f,
          "sin(0) = 0, cos(0) = 1");
    CHECK(isfinite(tbm_sinf(1e30f)) && fabsf(tbm_sinf(-1e30f)) <= 1.0f,
          "huge arguments stay finite and bounded");
    CHECK(fabs(tbm_silu(2.0f) - 2.0 / (1.0 + exp(-2.0))) < 1e-6 &&
              fabs(tbm_silu(-3.0f) + 3.0 / (1.0 + exp(3.0))) < 1e-6,
          "tbm_silu: %g, %g", tbm_silu(2.0f), tbm_silu(-3.0f));
}

/* ------------------------------------------------------------------------
 * Gradient check
 * ------------------------------------------------------------------------ */

#define GC_ROWS 7
#define GC_IN   9 /* the Fourier case's first layer: 1 input, 4 frequencies */
#define GC_WIDE 9 /* widest layer of the shapes checked */

struct gc {
    tbm_layout L;
    float *p, *grad, *delta, *tmp;
    float *act[TBM_MAX_LAYERS + 1], *pre[TBM_MAX_LAYERS + 1];
    float x[GC_ROWS * GC_WIDE], y[GC_ROWS * GC_WIDE];
};

/* The mean squared error of the network at p, in double. */
static double gc_loss(struct gc *g)
{
    const float *out = g->act[g->L.n_layers];
    double sum = 0;
    int k = GC_ROWS * g->L.width[g->L.n_layers];

    memcpy(g->act[0], g->x, GC_ROWS * (size_t)g->L.width[0] * sizeof(float));
    tbm_forward(&g->L, g->p, GC_ROWS, g->act, g->pre);
    for (int i = 0; i < k; i++)
        sum += ((double)out[i] - g->y[i]) * ((double)out[i] - g->y[i]);
    return sum / k;
}

/* The analytic gradient of gc_loss into g->grad. */
static void gc_backward(struct gc *g)
{
    const float *out = g->act[g->L.n_layers];
    int k = GC_ROWS * g->L.width[g->L.n_layers];

    gc_loss(g);
    for (int i = 0; i < k; i++)
        g->delta[i] = 2.0f * (out[i] - g->y[i]) / (float)k;
    tbm_backward(&g->L, g->p, GC_ROWS, g->act, g->pre, g->delta, g->tmp,
                 g->grad);
}

/*
 * Compare every parameter's analytic gradient with a central difference.
 * Returns how many disagree: |fd - g| > 1e-2 max(|fd|, |g|) + 2e-4.  The
 * absolute term covers float rounding in the loss (about 1e-7, divided by
 * 2 eps); a wrong transpose, factor or missing term shows as an O(1)
 * relative error on many parameters and fails.
 */
static int gc_compare(struct gc *g, const float *grad, double *worst)
{
    const float eps = 1e-3f;
    int bad = 0;

    *worst = 0;
    for (size_t i = 0; i < g->L.n_params; i++) {
        float keep = g->p[i];
        double up, down, fd, tol;

        g->p[i] = keep + eps;
        up = gc_loss(g);
        g->p[i] = keep - eps;
        down = gc_loss(g);
        g->p[i] = keep;
        fd = (up - down) / (double)((keep + eps) - (keep - eps));

        tol = 1e-2 * fmax(fabs(fd), fabs(grad[i])) + 2e-4;
        if (fabs(fd - grad[i]) > tol)
            bad++;
        if (fabs(fd - grad[i]) / tol > *worst)
            *worst = fabs(fd - grad[i]) / tol;
    }
    return bad;
}

static const char *const act_names[] = {"tanh", "silu", "sine"};

/* The first layer's inputs: random ones, or (fourier) one input in
 * [-1, 1] through a 4-frequency encoding of a real model. */
static void gc_inputs(struct gc *g, int fourier, tbm_rng *r)
{
    tb_model m;
    tbm_scale sc;
    double x[GC_ROWS];

    if (!fourier) {
        for (int i = 0; i < GC_ROWS * g->L.width[0]; i++)
            g->x[i] = 2.0f * tbm_rng_float(r) - 1.0f;
        return;
    }
    make_model(&m, 1, (int[]){4}, 1);
    m.n_in = 1;
    CHECK(tb_model_set_fourier(&m, 4, 1.5, 3, NULL) == 0, "encoding");
    tbm_scale_init(&m, &sc);
    for (int i = 0; i < GC_ROWS; i++)
        x[i] = tbm_rng_float(r);
    tbm_encode(&m, &sc, x, GC_ROWS, g->x);
    tb_model_free(&m);
}

/*
 * The gradient check on one shape and activation.  The shapes cover each
 * way a layer is computed: few inputs (a loop of our own), one output
 * (sgemv and sger), and sgemm; fourier puts a 4-frequency encoding of one
 * input in front.  spoil: also show that the check catches a wrong
 * gradient.
 */
static void gradient_case(int act, int fourier, int n_in, int n_hidden,
                          const int *hidden, int n_out, int spoil)
{
    struct gc g;
    float *mem, *wrong;
    double worst;
    size_t big = 0;
    int bad;
    tbm_rng r;

    memset(&g, 0, sizeof(g));
    CHECK(tbm_layout_init(&g.L, fourier ? GC_IN : n_in, n_out, n_hidden, hidden,
                          NULL) == 0 &&
              g.L.max_width <= GC_WIDE,
          "layout %d-...-%d", n_in, n_out);
    g.L.act = act;
    mem = calloc(3 * g.L.n_params +
                     (size_t)(2 * g.L.n_layers + 4) * GC_ROWS * GC_WIDE,
                 sizeof(float));
    g.p = mem;
    g.grad = g.p + g.L.n_params;
    wrong = g.grad + g.L.n_params;
    g.delta = wrong + g.L.n_params;
    g.tmp = g.delta + GC_ROWS * GC_WIDE;
    for (int l = 0; l <= g.L.n_layers; l++) {
        g.act[l] = g.tmp + GC_ROWS * GC_WIDE * (size_t)(l + 1);
        g.pre[l] = g.tmp + GC_ROWS * GC_WIDE * (size_t)(g.L.n_layers + l + 2);
    }

    /* Random weights with non-zero biases, so every term matters. */
    tbm_init_params(&g.L, g.p, 42);
    tbm_rng_seed(&r, 7);
    for (int l = 0; l < g.L.n_layers; l++)
        for (int j = 0; j < g.L.width[l + 1]; j++)
            g.p[g.L.b_off[l] + (size_t)j] = tbm_rng_float(&r) - 0.5f;
    gc_inputs(&g, fourier, &r);
    for (int i = 0; i < GC_ROWS * n_out; i++)
        g.y[i] = 2.0f * tbm_rng_float(&r) - 1.0f;

    gc_backward(&g);
    bad = gc_compare(&g, g.grad, &worst);
    CHECK(bad == 0,
          "%s%s %d-...-%d: backward agrees with finite differences on all "
          "%zu parameters (%d disagree; worst at %.2f of tolerance)",
          act_names[act], fourier ? " + Fourier" : "", n_in, n_out,
          g.L.n_params, bad, worst);
    if (!spoil) {
        free(mem);
        return;
    }

    /* The check must be able to fail: spoil one gradient by 5 %. */
    memcpy(wrong, g.grad, g.L.n_params * sizeof(float));
    for (size_t i = 0; i < g.L.n_params; i++)
        if (fabsf(wrong[i]) > fabsf(wrong[big]))
            big = i;
    wrong[big] *= 1.05f;
    bad = gc_compare(&g, wrong, &worst);
    CHECK(bad == 1, "a 5 %% error in one gradient (%g) is caught: %d flagged",
          (double)g.grad[big], bad);
    free(mem);
}

static void test_gradient(void)
{
    int h54[2] = {5, 4}, h6[1] = {6}, h33[2] = {3, 3}, h5[1] = {5};

    for (int act = TB_ACT_TANH; act <= TB_ACT_SINE; act++) {
        gradient_case(act, 0, 3, 2, h54, 2, 1);
        gradient_case(act, 1, 1, 2, h54, 2, 1);
    }
    gradient_case(TB_ACT_TANH, 0, 4, 1, h6, 1, 0);
    gradient_case(TB_ACT_TANH, 0, 1, 2, h33, 1, 0);
    gradient_case(TB_ACT_TANH, 0, 6, 1, h5, 3, 0);
}

/* ------------------------------------------------------------------------
 * Building, predicting, the domain
 * ------------------------------------------------------------------------ */

static void test_init(void)
{
    tb_model a, b;
    int hidden[3] = {64, 64, 64}, bad[1] = {0};
    tb_model_input in[1] = {{"x", 1.0, 1.0, 3}};
    const char *names[1] = {"u"};
    double lo = 0, hi = 1;
    tb_error err;

    CHECK(make_model(&a, 3, hidden, 5) == 0, "init 3 x 64");
    CHECK(make_model(&b, 3, hidden, 5) == 0, "init again");
    CHECK(a.n_params == (2 * 64 + 64) + 2 * (64 * 64 + 64) + (64 * 2 + 2),
          "n_params %zu", a.n_params);
    CHECK(memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0,
          "the same seed gives the same weights");
    tb_model_free(&b);
    CHECK(make_model(&b, 3, hidden, 6) == 0, "init, another seed");
    CHECK(memcmp(a.params, b.params, a.n_params * sizeof(float)) != 0,
          "another seed gives other weights");
    tb_model_free(&a);
    tb_model_free(&b);
    tb_model_free(&b);

    tb_error_clear(&err);
    CHECK(tb_model_init(&a, 1, in, 1, names, &lo, &hi, 1, hidden, TB_ACT_TANH,
                        1, &err) == TB_EINVAL &&
              strstr(err.text, "lo < hi"),
          "an empty input range is refused: %s", err.text);
    CHECK(make_model(&a, 1, bad, 1) == TB_EINVAL, "a zero width is refused");
    CHECK(a.params == NULL, "a refused model holds nothing");
}

static void test_predict_batch(void)
{
    int hidden[3] = {64, 64, 64};
    size_t n = 2500, same = 0;
    double *x = domain_points(n), *yb = malloc(2 * n * sizeof(double));
    double worst = 0, one[2];
    tb_model m;

    CHECK(make_model(&m, 3, hidden, 3) == 0, "init");
    CHECK(tb_model_predict(&m, x, n, yb, NULL) == 0, "predict %zu points", n);
    for (size_t i = 0; i < n; i++) {
        if (tb_model_predict(&m, x + 2 * i, 1, one, NULL) != 0)
            worst = INFINITY;
        for (int k = 0; k < 2; k++) {
            worst = fmax(worst, fabs(one[k] - yb[2 * i + k]));
            same += one[k] == yb[2 * i + k];
        }
    }
    CHECK(worst <= 1e-6, "n = 1 agrees with the batch: worst %.3g", worst);
    printf("predict: %zu of %zu values bit-identical between n = 1 and a "
           "batch of %zu (worst difference %.3g)\n",
           same, 2 * n, n, worst);

    /* The constant output (lo == hi) is predicted around its value. */
    CHECK(fabs(yb[1] - 5.0) < 2.0, "a zero-range output is scaled as unit");
    CHECK(tb_model_predict(&m, x, 0, yb, NULL) == 0, "n = 0 is fine");
    CHECK(tb_model_predict(&m, NULL, 1, yb, NULL) == TB_EINVAL,
          "no points is refused");
    tb_model_free(&m);
    free(x);
    free(yb);
}

/* A prediction large enough to be split among threads agrees with one
 * made on a single thread. */
static void test_predict_threads(void)
{
    int hidden[2] = {16, 16};
    size_t n = 3 * 4096 + 5, same = 0;
    double *x = domain_points(n), *y1 = malloc(4 * n * sizeof(double));
    double *y3 = y1 + 2 * n, worst = 0;
    tb_model m;

    CHECK(make_model(&m, 2, hidden, 4) == 0, "init");
    tb_model_set_threads(1);
    CHECK(tb_model_predict(&m, x, n, y1, NULL) == 0, "predict on 1 thread");
    tb_model_set_threads(3);
    CHECK(tb_model_predict(&m, x, n, y3, NULL) == 0, "predict on 3 threads");
    tb_model_set_threads(1);
    for (size_t i = 0; i < 2 * n; i++) {
        worst = fmax(worst, fabs(y1[i] - y3[i]));
        same += y1[i] == y3[i];
    }
    CHECK(worst <= 1e-6 && !isnan(y3[2 * n - 1]),
          "3 threads agree with 1 on %zu points: worst %.3g (%zu of %zu "
          "values bit-identical)",
          n, worst, same, 2 * n);
    tb_model_free(&m);
    free(x);
    free(y1);
}

static void test_domain(void)
{
    int hidden[1] = {8};
    double corners[8] = {0, -2, 0, 3, 1, -2, 1, 3};
    double p[2];
    tb_model m;
    tb_error err;

    CHECK(make_model(&m, 1, hidden, 1) == 0, "init");
    CHECK(tb_model_check_domain(&m, corners, 4, NULL) == 0,
          "the four corners are accepted");

    tb_error_clear(&err);
    p[0] = nextafter(1.0, 2.0);
    p[1] = 0;
    CHECK(tb_model_check_domain(&m, p, 1, &err) == TB_EDOMAIN &&
              strcmp(err.where, "x") == 0,
          "just above x's range is refused: %s", err.text);
    tb_error_clear(&err);
    p[0] = 0.5;
    p[1] = nextafter(-2.0, -3.0);
    CHECK(tb_model_check_domain(&m, p, 1, &err) == TB_EDOMAIN &&
              strcmp(err.where, "a") == 0,
          "just below a's range is refused: %s", err.text);
    p[1] = NAN;
    CHECK(tb_model_check_domain(&m, p, 1, NULL) == TB_EINVAL, "NaN refused");
    p[1] = INFINITY;
    CHECK(tb_model_check_domain(&m, p, 1, NULL) == TB_EINVAL, "inf refused");
    tb_model_free(&m);
}

static void test_errors_and_attrs(void)
{
    int hidden[1] = {8};
    double *x = domain_points(50), *y = malloc(100 * sizeof(double));
    double mx[2], mean[2], rms[2];
    char key[8];
    tb_model m;

    CHECK(make_model(&m, 1, hidden, 1) == 0, "init");
    tb_model_predict(&m, x, 50, y, NULL);
    y[2 * 10] += 0.25;
    CHECK(tb_model_errors(&m, x, y, 50, mx, mean, rms, NULL) == 0, "errors");
    CHECK_NEAR(mx[0], 0.25, 1e-12, "max error of u");
    CHECK_NEAR(mean[0], 0.25 / 50, 1e-12, "mean error of u");
    CHECK_NEAR(rms[0], sqrt(0.25 * 0.25 / 50), 1e-12, "rms of u");
    CHECK(mx[1] == 0, "no error on v");

    CHECK(tb_model_set_attr(&m, "problem", "heat1d") == 0, "set attr");
    CHECK(tb_model_set_attr(&m, "problem", "burgers1d") == 0, "replace");
    CHECK(strcmp(tb_model_attr(&m, "problem"), "burgers1d") == 0, "get attr");
    CHECK(tb_model_attr(&m, "nothing") == NULL, "unknown attr");
    CHECK(tb_model_set_attr(&m, "bad key", "x") == TB_EINVAL, "bad key");
    for (int i = 1; i < TB_MODEL_MAX_ATTRS; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        tb_model_set_attr(&m, key, "v");
    }
    CHECK(tb_model_set_attr(&m, "one_more", "v") == TB_ELIMIT, "full");
    CHECK(tb_model_input_index(&m, "a") == 1, "input index");
    CHECK(tb_model_output_index(&m, "v") == 1, "output index");
    CHECK(tb_model_output_index(&m, "w") == -1, "unknown output");
    tb_model_free(&m);
    free(x);
    free(y);
}

/* ------------------------------------------------------------------------
 * The model file
 * ------------------------------------------------------------------------ */

static int same_params(const tb_model *a, const tb_model *b)
{
    return a->n_params == b->n_params &&
           memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0;
}

/* A model with attributes, history and a report worth keeping. */
static void decorate(tb_model *m)
{
    m->n_history = 3;
    m->history = malloc(3 * sizeof(tb_history));
    for (int i = 0; i < 3; i++)
        m->history[i] =
            (tb_history){10 * (i + 1), 0.5 * i, 1e-3 / (i + 1), 0.1 / (i + 1)};
    m->report.n_grid = 153;
    m->report.n_probes = 128;
    for (int k = 0; k < m->n_out; k++) {
        m->report.grid_max_abs[k] = 1e-3 * (k + 1);
        m->report.probe_rms[k] = 3e-4 * (k + 1);
    }
    tb_model_set_attr(m, "problem", "heat1d");
    tb_model_set_attr(m, "solver_rtol", "1.0000000000000001e-07");
}

static void test_round_trip(const char *dir)
{
    int hidden[3] = {64, 32, 16};
    char path[4200];
    double *x = domain_points(400);
    double *ya = malloc(800 * sizeof(double)),
           *yb = malloc(800 * sizeof(double));
    tb_model a, b;
    tb_error err;

    CHECK(make_model(&a, 3, hidden, 11) == 0, "init");
    decorate(&a);
    snprintf(path, sizeof(path), "%s/m.h5", dir);
    tb_error_clear(&err);
    CHECK(tb_model_save(&a, path, &err) == 0, "save: %s", err.text);
    CHECK(tb_model_load(path, &b, &err) == 0, "load: %s", err.text);

    tb_model_predict(&a, x, 400, ya, NULL);
    tb_model_predict(&b, x, 400, yb, NULL);
    CHECK(memcmp(ya, yb, 800 * sizeof(double)) == 0,
          "predictions are bit-identical after a round trip");
    CHECK(same_params(&a, &b), "weights are identical");
    CHECK(b.n_hidden == 3 && b.hidden[1] == 32 && b.n_in == 2 && b.n_out == 2,
          "shape kept");
    CHECK(strcmp(b.in[1].name, "a") == 0 && b.in[1].lo == -2.0 &&
              b.in[1].n == 9 && strcmp(b.out_name[1], "v") == 0 &&
              b.out_hi[1] == 5.0,
          "names and ranges kept");
    CHECK(memcmp(&a.report, &b.report, sizeof(a.report)) == 0, "report kept");
    CHECK(b.n_history == 3 &&
              memcmp(a.history, b.history, 3 * sizeof(tb_history)) == 0,
          "history kept");
    CHECK(b.n_attrs == 2 && tb_model_attr(&b, "solver_rtol") &&
              strcmp(tb_model_attr(&b, "solver_rtol"),
                     "1.0000000000000001e-07") == 0,
          "attrs kept");
    tb_model_free(&a);
    tb_model_free(&b);

    /* A fresh model: no history, no attributes, an empty report. */
    CHECK(make_model(&a, 1, hidden, 12) == 0, "init");
    snprintf(path, sizeof(path), "%s/fresh.h5", dir);
    tb_error_clear(&err);
    CHECK(tb_model_save(&a, path, &err) == 0 &&
              tb_model_load(path, &b, &err) == 0,
          "a fresh model round-trips: %s", err.text);
    CHECK(b.n_history == 0 && b.history == NULL && b.n_attrs == 0 &&
              b.report.n_grid == 0 && same_params(&a, &b),
          "with nothing to add");
    tb_model_free(&a);
    tb_model_free(&b);
    free(x);
    free(ya);
    free(yb);
}

/* Replace root attribute name of the file at path by a string or an int
 * (value NULL: just delete it). */
static void poke_attr(const char *path, const char *name, const char *value,
                      int num)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), t, sp, a;

    H5Adelete(f, name);
    sp = H5Screate(H5S_SCALAR);
    if (value) {
        t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, strlen(value) + 1);
        H5Tset_cset(t, H5T_CSET_UTF8);
        a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, t, value);
        H5Aclose(a);
        H5Tclose(t);
    } else if (num >= 0) {
        a = H5Acreate2(f, name, H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_INT, &num);
        H5Aclose(a);
    }
    H5Sclose(sp);
    H5Fclose(f);
}

/* Save m, load it back into b; 1 when both worked. */
static int save_load(const tb_model *m, const char *path, tb_model *b)
{
    tb_error err;

    tb_error_clear(&err);
    if (tb_model_save(m, path, &err) != 0 ||
        tb_model_load(path, b, &err) != 0) {
        printf("save/load %s: %s\n", path, err.text);
        return 0;
    }
    return 1;
}

/* Activation, encoding and output transforms survive a round trip, and
 * predictions stay bit-identical. */
static void test_round_trip_v2(const char *dir)
{
    tb_model_input in[2] = {{"x", 0.5, 1.5, 17}, {"a", -2.0, 3.0, 9}};
    const char *names[2] = {"u", "v"};
    double lo[2] = {-1.0, 5.0}, hi[2] = {1.0, 5.0};
    int hidden[2] = {6, 5};
    double *x = domain_points(100), ya[200], yb[200];
    char path[4200];
    tb_model a, b;

    CHECK(tb_model_init(&a, 2, in, 2, names, lo, hi, 2, hidden, TB_ACT_SILU, 8,
                        NULL) == 0,
          "a SiLU model");
    CHECK(tb_model_set_fourier(&a, 5, 2.0, 8, NULL) == 0, "5 frequencies");
    CHECK(a.n_params == (size_t)(12 * 6 + 6 + 6 * 5 + 5 + 5 * 2 + 2),
          "the first layer sees 2 + 2 x 5 features: %zu weights", a.n_params);
    for (int i = 0; i < 100; i++)
        x[2 * i] += 0.5;
    CHECK(tb_model_set_input_log(&a, 0, NULL) == 0 &&
              tb_model_set_input_log(&a, 1, NULL) == TB_EINVAL,
          "x is scaled in log units; a, which reaches 0, cannot be");
    CHECK(tb_model_set_output_log(&a, 0, 2.0, NULL) == 0 &&
              tb_model_set_output_log(&a, 1, 0.0, NULL) == 0,
          "log outputs");
    snprintf(path, sizeof(path), "%s/v2.h5", dir);
    CHECK(save_load(&a, path, &b), "saved and loaded");
    tb_model_predict(&a, x, 100, ya, NULL);
    tb_model_predict(&b, x, 100, yb, NULL);
    CHECK(memcmp(ya, yb, sizeof(ya)) == 0, "predictions bit-identical");
    CHECK(b.activation == TB_ACT_SILU && b.n_fourier == 5 &&
              b.fourier_scale == 2.0 &&
              memcmp(a.fourier_b, b.fourier_b, 10 * sizeof(double)) == 0,
          "activation and encoding kept");
    CHECK(b.in_log[0] && !b.in_log[1] && b.out_log[0] && b.out_log[1] &&
              b.out_shift[0] == 2.0 && b.out_shift[1] == 0.0,
          "output transforms kept");
    for (int i = 0; i < 100; i++)
        if (!(ya[2 * i] > -2.0))
            CHECK(0, "a log output shifted by 2 stays above -2: %g", ya[2 * i]);
    tb_model_free(&b);

    /* Sine round-trips too. */
    tb_model_free(&a);
    CHECK(tb_model_init(&a, 2, in, 2, names, lo, hi, 2, hidden, TB_ACT_SINE, 8,
                        NULL) == 0 &&
              save_load(&a, path, &b) && b.activation == TB_ACT_SINE,
          "a sine model round-trips");
    tb_model_free(&b);
    tb_model_free(&a);
    free(x);
}

/* Save a, change one attribute, and check that loading is refused with
 * a message containing why. */
static void refused_after(const tb_model *a, const char *path, const char *name,
                          const char *value, int num, const char *why)
{
    tb_model b;
    tb_error err;

    tb_model_save(a, path, NULL);
    poke_attr(path, name, value, num);
    tb_error_clear(&err);
    CHECK(tb_model_load(path, &b, &err) == TB_EFORMAT && strstr(err.text, why),
          "%s changed: refused with '%s': %s", name, why, err.text);
}

/* Unknown values are refused naming them; a version 1 file loads. */
static void test_versions(const char *dir)
{
    char path[4200];
    double *x = domain_points(50), ya[100], yb[100];
    int hidden[1] = {7};
    tb_model a, b;
    tb_error err;

    snprintf(path, sizeof(path), "%s/poked.h5", dir);
    CHECK(make_model(&a, 1, hidden, 3) == 0 &&
              tb_model_save(&a, path, NULL) == 0,
          "saved");
    refused_after(&a, path, "activation", "relu", 0,
                  "unknown activation 'relu'");
    refused_after(&a, path, "n_fourier", NULL, 100000, "n_fourier is 100000");
    refused_after(&a, path, "format_version", NULL, 3, "format version 3");
    refused_after(&a, path, "fourier_scale", "wide", 0, "fourier_scale");

    /* Version 1: no transforms, no encoding attributes at all. */
    tb_model_save(&a, path, NULL);
    poke_attr(path, "format_version", NULL, 1);
    poke_attr(path, "output_transform", NULL, -1);
    poke_attr(path, "input_transform", NULL, -1);
    poke_attr(path, "output_shift", NULL, -1);
    poke_attr(path, "n_fourier", NULL, -1);
    poke_attr(path, "fourier_scale", NULL, -1);
    tb_error_clear(&err);
    CHECK(tb_model_load(path, &b, &err) == 0, "a version 1 file loads: %s",
          err.text);
    tb_model_predict(&a, x, 50, ya, NULL);
    tb_model_predict(&b, x, 50, yb, NULL);
    CHECK(b.activation == TB_ACT_TANH && b.n_fourier == 0 && !b.out_log[0] &&
              memcmp(ya, yb, sizeof(ya)) == 0,
          "as tanh, no encoding, affine outputs");
    tb_model_free(&b);
    tb_model_free(&a);
    free(x);
}

/* Copy the first bytes of src to dst. */
static void copy_prefix(const char *src, const char *dst, long bytes)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    int c;

    for (long i = 0; in && out && i < bytes && (c = fgetc(in)) != EOF; i++)
        fputc(c, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
}

static void test_bad_files(const char *dir)
{
    char good[4200], bad[4200];
    struct stat st;
    tb_model m;
    tb_error err;
    FILE *f;

    snprintf(good, sizeof(good), "%s/m.h5", dir);
    stat(good, &st);

    snprintf(bad, sizeof(bad), "%s/truncated.h5", dir);
    copy_prefix(good, bad, (long)st.st_size / 2);
    tb_error_clear(&err);
    CHECK(tb_model_load(bad, &m, &err) == TB_EFORMAT &&
              strstr(err.text, "truncated.h5"),
          "a truncated file is refused naming it: %s", err.text);
    CHECK(m.params == NULL, "nothing is held after a refused load");

    snprintf(bad, sizeof(bad), "%s/text.h5", dir);
    f = fopen(bad, "w");
    fputs("this is not HDF5\n", f);
    fclose(f);
    tb_error_clear(&err);
    CHECK(tb_model_load(bad, &m, &err) == TB_EFORMAT,
          "a text file is refused: %s", err.text);

    snprintf(bad, sizeof(bad), "%s/empty.h5", dir);
    H5Fclose(H5Fcreate(bad, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    tb_error_clear(&err);
    CHECK(tb_model_load(bad, &m, &err) == TB_EFORMAT &&
              strstr(err.text, "magic"),
          "an HDF5 file that is not a model is refused: %s", err.text);

    snprintf(bad, sizeof(bad), "%s/missing.h5", dir);
    tb_error_clear(&err);
    CHECK(tb_model_load(bad, &m, &err) == TB_EIO,
          "a missing file is an I/O error: %s", err.text);
    CHECK(tb_model_save(&m, bad, NULL) == TB_EINVAL,
          "saving an empty model is refused");
}

int main(void)
{
    const char *dir = tu_tmpdir();

    tb_model_set_threads(1);
    test_tanh();
    test_tanh_forward();
    test_sincos();
    test_gradient();
    test_init();
    test_predict_batch();
    test_predict_threads();
    test_domain();
    test_errors_and_attrs();
    test_round_trip(dir);
    test_bad_files(dir);
    test_round_trip_v2(dir);
    test_versions(dir);
    return tu_finish("model");
}

/*
 * bench_infer.c - inference speed of a model in-process: points per second
 * for batches of 1, 64, 4096 and 65536 on 1 and 2 threads (as
 * tb_model_set_threads sets them: large batches are split among them), and
 * the share of this machine's sgemm peak, on as many OpenBLAS threads, that
 * reaches.  Every figure, the peak included, is the fastest of 20 runs of
 * 50 ms, so that other work on a shared machine disturbs it less.  Run by
 * scripts/bench-infer.sh; prints one table for people.
 *
 * usage: tbm-bench-infer [MODEL.h5]   (default: the default 3-64-64-64-1
 * network with seeded weights)
 */
#include "model_int.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#define PEAK_N  1024 /* the square sgemm that measures the peak */
#define SECONDS 1.0  /* per measurement, */
#define REPEATS 20   /* in this many runs, the fastest kept */

/* The fastest of REPEATS runs of f(arg) lasting at least SECONDS /
 * REPEATS each, in seconds per call.  On a shared machine the best run is
 * the one least disturbed by other work; the mean would measure the load. */
static double best_of(void (*f)(void *), void *arg)
{
    double best = INFINITY;

    for (int r = 0; r < REPEATS; r++) {
        double t0 = tb_now(), t;
        long calls = 0;

        do {
            f(arg);
            calls++;
            t = tb_now() - t0;
        } while (t < SECONDS / REPEATS);
        if (t / (double)calls < best)
            best = t / (double)calls;
    }
    return best;
}

static void cube_sgemm(void *arg)
{
    float *a = arg;
    int n = PEAK_N;

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n,
                a + (size_t)n * (size_t)n, n, 0.0f,
                a + 2 * (size_t)n * (size_t)n, n);
}

/* GFLOP/s of a PEAK_N cube sgemm on the current thread count. */
static double sgemm_peak(void)
{
    size_t n = PEAK_N;
    float *a = calloc(3 * n * n, sizeof(float));
    double t;

    if (!a)
        return NAN;
    for (size_t i = 0; i < 2 * n * n; i++)
        a[i] = (float)(i % 7) * 0.01f;
    t = best_of(cube_sgemm, a);
    free(a);
    return 2.0 * (double)n * (double)n * (double)n / t / 1e9;
}

/* Multiply-adds per point: every layer's weights, counted twice. */
static double flops_per_point(const tb_model *m)
{
    tbm_layout L;
    double f = 0;

    tbm_layout_of(m, &L);
    for (int l = 0; l < L.n_layers; l++)
        f += 2.0 * L.width[l] * L.width[l + 1];
    return f;
}

struct batch {
    const tb_model *m;
    const double *x;
    double *y;
    size_t n;
};

static void predict_batch(void *arg)
{
    struct batch *b = arg;

    tb_model_predict(b->m, b->x, b->n, b->y, NULL);
}

/* Seconds per point for batches of n points spread over the domain. */
static double time_batch(const tb_model *m, size_t n, double *x, double *y)
{
    struct batch b = {m, x, y, n};

    for (size_t p = 0; p < n; p++)
        for (int i = 0; i < m->n_in; i++) {
            double f = (double)((p * 7919 + (size_t)i * 104729) % 1000) / 999;

            x[p * (size_t)m->n_in + (size_t)i] =
                m->in[i].lo + f * (m->in[i].hi - m->in[i].lo);
        }
    return best_of(predict_batch, &b) / (double)n;
}

/* The default network, as `tabula train` builds it for heat1d. */
static int default_model(tb_model *m)
{
    tb_model_input in[3] = {
        {"alpha", 0.01, 1, 16}, {"x", 0, 1, 64}, {"t", 0, 1, 64}};
    const char *names[1] = {"u"};
    double lo = 0, hi = 1;
    int hidden[3] = {64, 64, 64};

    return tb_model_init(m, 3, in, 1, names, &lo, &hi, 3, hidden, TB_ACT_TANH,
                         1, NULL);
}

static void run(const tb_model *m, double *x, double *y)
{
    static const size_t batches[] = {1, 64, 4096, 65536};
    double fpp = flops_per_point(m);

    printf("%-8s %-8s %12s %14s %10s %8s\n", "threads", "batch", "us/point",
           "points/s", "GFLOP/s", "of peak");
    for (int threads = 1; threads <= 2; threads++) {
        double peak;

        /* The peak with OpenBLAS on every thread; the network's products
         * then run one OpenBLAS thread in each of ours. */
        openblas_set_num_threads(threads);
        peak = sgemm_peak();
        tb_model_set_threads(threads);
        printf("%-8d %-8s %12s %14s %10.1f %8s\n", threads, "sgemm", "", "",
               peak, "100 %");
        for (size_t b = 0; b < sizeof(batches) / sizeof(*batches); b++) {
            double s = time_batch(m, batches[b], x, y);
            double gf = fpp / s / 1e9;

            printf("%-8d %-8zu %12.3f %14.0f %10.1f %7.1f %%\n", threads,
                   batches[b], s * 1e6, 1 / s, gf, 100 * gf / peak);
        }
    }
}

int main(int argc, char **argv)
{
    tb_model m = {0};
    tb_error err;
    double *x, *y;
    int rc;

    tb_error_clear(&err);
    rc = argc > 1 ? tb_model_load(argv[1], &m, &err) : default_model(&m);
    if (rc != 0) {
        fprintf(stderr, "tbm-bench-infer: %s\n",
                err.text[0] ? err.text : "cannot build the model");
        return 1;
    }
    x = malloc(65536 * (size_t)m.n_in * sizeof(double));
    y = malloc(65536 * (size_t)m.n_out * sizeof(double));
    if (!x || !y) {
        fprintf(stderr, "tbm-bench-infer: out of memory\n");
        return 1;
    }
    printf("network: %d inputs, %d hidden layers of %d, %d outputs, %zu "
           "weights, %.0f flops per point\n",
           m.n_in, m.n_hidden, m.hidden[0], m.n_out, m.n_params,
           flops_per_point(&m));
    run(&m, x, y);
    free(x);
    free(y);
    tb_model_free(&m);
    return 0;
}

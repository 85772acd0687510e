/*
 * test_checkpoint.c - the training state survives a checkpoint whole; a
 * resumed run ends with the same weights as an uninterrupted one; damaged,
 * truncated and foreign checkpoints are refused with a logged reason and an
 * older one (or a fresh start) is used instead.
 */
#include "model.h"
#include "model_int.h"
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NX    17
#define NA    9
#define NROWS (NX * NA)

static double table_x[NROWS * 2], table_y[NROWS], other_y[NROWS];

/* Everything logged at warn level or above, for checking messages. */
static char logged[16384];

static void capture(int level, const char *line, void *data)
{
    size_t used = strlen(logged);

    (void)data;
    if (level >= TB_LOG_WARN)
        snprintf(logged + used, sizeof(logged) - used, "%s\n", line);
    if (getenv("TB_TEST_VERBOSE"))
        fprintf(stderr, "log: %s\n", line);
}

static void make_tables(void)
{
    for (int i = 0; i < NX; i++)
        for (int j = 0; j < NA; j++) {
            int r = i * NA + j;
            double x = (double)i / (NX - 1), a = (double)j / (NA - 1);

            table_x[2 * r] = x;
            table_x[2 * r + 1] = a;
            table_y[r] = sin(3 * x) * exp(-a);
            other_y[r] = cos(2 * x) * exp(-a);
        }
}

static void make_model(tb_model *m)
{
    tb_model_input in[2] = {{"x", 0.0, 1.0, NX}, {"a", 0.0, 1.0, NA}};
    const char *names[1] = {"u"};
    double lo = -1, hi = 1;
    int hidden[2] = {16, 16};

    tb_model_init(m, 2, in, 1, names, &lo, &hi, 2, hidden, TB_ACT_TANH, 9,
                  NULL);
}

static void base_opts(tb_train_opts *o)
{
    tb_train_opts_default(o);
    o->batch = 32;
    o->lr = 1e-2;
    o->eval_every = 5;
    o->max_epochs = 34;
}

/* Train a fresh model; the caller frees it. */
static int run(tb_model *m, const double *y, const tb_train_opts *o)
{
    make_model(m);
    return tb_train(m, table_x, y, NROWS, o, NULL, NULL);
}

static int same_weights(const tb_model *a, const tb_model *b)
{
    return a->n_params == b->n_params &&
           memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0;
}

/* The history rows agree in everything but wall-clock seconds. */
static int same_history(const tb_model *a, const tb_model *b)
{
    if (a->n_history != b->n_history)
        return 0;
    for (size_t i = 0; i < a->n_history; i++)
        if (a->history[i].epoch != b->history[i].epoch ||
            a->history[i].loss != b->history[i].loss ||
            a->history[i].max_rel != b->history[i].max_rel)
            return 0;
    return 1;
}

/* ------------------------------------------------------------------------
 * The state, written and read back
 * ------------------------------------------------------------------------ */

static void fill_state(tbm_state *s)
{
    tbm_rng r;
    tb_history h;

    tbm_rng_seed(&r, 77);
    for (size_t i = 0; i < s->n_params; i++) {
        s->params[i] = tbm_rng_float(&r);
        s->best[i] = tbm_rng_float(&r);
        s->adam_m[i] = tbm_rng_float(&r) - 0.5f;
        s->adam_v[i] = tbm_rng_float(&r) * 1e-6f;
    }
    s->epoch = 123;
    s->step = 4567;
    s->elapsed = 12.5;
    s->lr_cur = 3.25e-4;
    s->sched_horizon = 2000;
    s->best_score = 0.0125;
    s->best_epoch = 120;
    for (int k = 0; k < TBM_N_STATS; k++)
        for (int j = 0; j < s->n_out; j++)
            s->best_stats[k][j] = 1e-3 * (k + 1) + j;
    tbm_rng_seed(&s->rng, 5);
    tbm_rng_next(&s->rng);
    for (int i = 0; i < 5; i++) {
        h = (tb_history){10 * (i + 1), 0.1 * i, 1e-4 / (i + 1), 0.1 / (i + 1)};
        tbm_state_push_history(s, &h, NULL);
    }
    s->fp_data = 0x1234;
    s->fp_arch = 0x5678;
    s->fp_opts = 0x9abc;
}

static void test_state_round_trip(const char *dir)
{
    char path[4200];
    tbm_state a, b;
    tb_error err;
    int rc;

    tbm_state_alloc(&a, 1000, 3, NULL);
    fill_state(&a);
    tb_error_clear(&err);
    CHECK(tbm_ckpt_write(dir, &a, &err) == 0, "write: %s", err.text);

    tbm_state_alloc(&b, 1000, 3, NULL);
    b.fp_data = a.fp_data;
    b.fp_arch = a.fp_arch;
    b.fp_opts = a.fp_opts;
    snprintf(path, sizeof(path), "%s/ckpt-00000123.h5", dir);
    rc = tbm_ckpt_read(path, &b, &err);
    CHECK(rc == 0, "read back: %s", err.text);
    CHECK(memcmp(a.params, b.params, 1000 * sizeof(float)) == 0 &&
              memcmp(a.best, b.best, 1000 * sizeof(float)) == 0 &&
              memcmp(a.adam_m, b.adam_m, 1000 * sizeof(float)) == 0 &&
              memcmp(a.adam_v, b.adam_v, 1000 * sizeof(float)) == 0,
          "weights, best weights and Adam moments kept");
    CHECK(b.epoch == 123 && b.step == 4567 && b.elapsed == 12.5 &&
              b.lr_cur == 3.25e-4 && b.sched_horizon == 2000 &&
              b.best_score == 0.0125 && b.best_epoch == 120,
          "scalars kept");
    CHECK(memcmp(&a.rng, &b.rng, sizeof(a.rng)) == 0, "generator kept");
    CHECK(memcmp(a.best_stats, b.best_stats, sizeof(a.best_stats)) == 0,
          "best statistics kept");
    CHECK(b.n_hist == 5 && memcmp(a.hist, b.hist, 5 * sizeof(tb_history)) == 0,
          "history kept");
    CHECK(tbm_state_checksum(&a) == tbm_state_checksum(&b), "checksums");

    /* The same file read for another table is refused, b untouched. */
    b.fp_data = 0x4321;
    tb_error_clear(&err);
    rc = tbm_ckpt_read(path, &b, &err);
    CHECK(rc == TB_EFORMAT && strstr(err.text, "different table") &&
              strstr(err.text, "ckpt-00000123.h5") && b.epoch == 123,
          "a checkpoint of another table is refused: %s", err.text);
    b.fp_data = a.fp_data;
    b.fp_arch = 0x8765;
    tb_error_clear(&err);
    rc = tbm_ckpt_read(path, &b, &err);
    CHECK(rc == TB_EFORMAT && strstr(err.text, "different network"),
          "a checkpoint of another network is refused: %s", err.text);
    tbm_state_free(&a);
    tbm_state_free(&b);
    unlink(path);
}

/* ------------------------------------------------------------------------
 * Resuming
 * ------------------------------------------------------------------------ */

static void stop_at_17(const tb_train_progress *p, void *data)
{
    volatile sig_atomic_t *stop = data;

    if (p->epoch == 17)
        *stop = 1;
}

static void test_resume_matches(const char *dir)
{
    volatile sig_atomic_t stop = 0;
    char sub[4200];
    tb_train_opts o;
    tb_model straight, half, rest;
    int rc;

    base_opts(&o);
    run(&straight, table_y, &o);

    snprintf(sub, sizeof(sub), "%s/resume", dir);
    o.checkpoint_dir = sub;
    o.checkpoint_every = 1e9; /* only the closing checkpoint */
    o.stop = &stop;
    o.progress = stop_at_17;
    o.progress_data = (void *)&stop;
    rc = run(&half, table_y, &o);
    CHECK(rc == TB_INTERRUPTED, "first half stops on request: %s",
          tb_status_name(rc));

    o.stop = NULL;
    o.progress = NULL;
    o.resume = 1;
    rc = run(&rest, table_y, &o);
    CHECK(rc == TB_STOP_EPOCHS, "second half runs out of epochs: %s",
          tb_status_name(rc));
    CHECK(same_weights(&straight, &rest),
          "17 + 17 resumed epochs give the weights of 34 straight, bit for "
          "bit");
    CHECK(same_history(&straight, &rest), "and the same history");
    CHECK(memcmp(&straight.report, &rest.report, sizeof(rest.report)) == 0,
          "and the same report");
    tb_model_free(&straight);
    tb_model_free(&half);
    tb_model_free(&rest);
}

/* The checkpoint files in dir, counted; *newest gets the highest epoch. */
static int count_ckpts(const char *dir, long *newest)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    long epoch;

    *newest = -1;
    while (d && (e = readdir(d)) != NULL)
        if (sscanf(e->d_name, "ckpt-%ld.h5", &epoch) == 1) {
            n++;
            if (epoch > *newest)
                *newest = epoch;
        }
    if (d)
        closedir(d);
    return n;
}

/* Flip bytes in the middle of the params dataset of a checkpoint. */
static void damage_params(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "params", H5P_DEFAULT);
    haddr_t at = H5Dget_offset(d);
    FILE *fp;
    unsigned char b[8];

    H5Dclose(d);
    H5Fclose(f);
    fp = fopen(path, "r+b");
    fseek(fp, (long)at + 64, SEEK_SET);
    if (fread(b, 1, sizeof(b), fp) != sizeof(b))
        CHECK(0, "cannot read %s", path);
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] ^= 0x5a;
    fseek(fp, (long)at + 64, SEEK_SET);
    fwrite(b, 1, sizeof(b), fp);
    fclose(fp);
}

/* Resume from dir after its newest checkpoint was spoilt: the run must
 * refuse it (logging why), use the one before, and still end with the
 * weights of an uninterrupted run. */
static void resume_past(const char *what, const char *why,
                        const tb_model *straight, const tb_train_opts *base)
{
    tb_train_opts o = *base;
    tb_model m;
    int rc;

    logged[0] = '\0';
    o.resume = 1;
    rc = run(&m, table_y, &o);
    CHECK(rc == TB_STOP_EPOCHS, "resume past a %s checkpoint: %s", what,
          tb_status_name(rc));
    CHECK(strstr(logged, "ckpt-00000012.h5") && strstr(logged, why),
          "the %s checkpoint is refused with a logged reason: %s", what,
          logged);
    CHECK(strstr(logged, "afresh") == NULL, "an older one was used");
    CHECK(same_weights(straight, &m),
          "resuming from the older checkpoint ends with the same weights");
    tb_model_free(&m);
}

static void test_damaged(const char *dir)
{
    char sub[4200], newest[4300];
    tb_train_opts o;
    tb_model straight, first;
    struct stat st;
    long last;
    int n;

    base_opts(&o);
    o.max_epochs = 12;
    run(&straight, table_y, &o);

    snprintf(sub, sizeof(sub), "%s/damaged", dir);
    o.checkpoint_dir = sub;
    o.checkpoint_every = 0; /* after every epoch */
    o.keep = 3;
    run(&first, table_y, &o);
    tb_model_free(&first);
    n = count_ckpts(sub, &last);
    CHECK(n == 3 && last == 12,
          "keep = 3 leaves %d checkpoints, the newest at epoch %ld", n, last);

    snprintf(newest, sizeof(newest), "%s/ckpt-00000012.h5", sub);
    damage_params(newest);
    resume_past("damaged", "checksum", &straight, &o);

    stat(newest, &st);
    CHECK(truncate(newest, st.st_size / 2) == 0, "truncate %s", newest);
    resume_past("truncated", "truncated", &straight, &o);
    tb_model_free(&straight);
}

static void test_foreign(const char *dir)
{
    char sub[4200];
    tb_train_opts o;
    tb_model fresh, m;
    int rc;

    base_opts(&o);
    o.max_epochs = 12;
    run(&fresh, other_y, &o);

    /* The folder holds checkpoints of table_y (from test_damaged). */
    snprintf(sub, sizeof(sub), "%s/damaged", dir);
    o.checkpoint_dir = sub;
    o.resume = 1;
    logged[0] = '\0';
    rc = run(&m, other_y, &o);
    CHECK(rc == TB_STOP_EPOCHS, "training on another table: %s",
          tb_status_name(rc));
    CHECK(strstr(logged, "different table") && strstr(logged, "afresh"),
          "checkpoints of another table are refused, and training starts "
          "afresh: %s",
          logged);
    CHECK(same_weights(&fresh, &m), "the result is a fresh run's");
    tb_model_free(&fresh);
    tb_model_free(&m);
}

int main(void)
{
    const char *dir = tu_tmpdir();

    tb_log_set_sink(capture, NULL);
    tb_model_set_threads(1);
    make_tables();
    test_state_round_trip(dir);
    test_resume_matches(dir);
    test_damaged(dir);
    test_foreign(dir);
    tb_log_set_sink(NULL, NULL);
    return tu_finish("checkpoint");
}

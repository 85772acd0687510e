/*
 * checkpoint.c - the training state, and its checkpoint files.
 *
 * A checkpoint is DIR/ckpt-<epoch, 8 digits>.h5, written at an epoch
 * boundary through a temporary name, fsync and rename.  Root attributes:
 * magic "tabula-checkpoint", format_version 1, the scalars of the state
 * (epoch, step, elapsed, schedule, best score), the generator state, the
 * three fingerprints and a checksum: FNV-1a 64 over every array and scalar,
 * verified on reading.  Datasets: params, best_params, adam_m, adam_v
 * (float32), best_stats (4 x n_out: max_abs, max_rel, mean_abs, rms of the
 * best weights) and history; with an L-BFGS phase also the group lbfgs
 * (scalars mem, count, head, iter, evals, f; datasets x, g, s, y, rho in
 * double precision); with the worst-case objective also row_weights (one
 * double per table row; the fingerprint of the options says it is there).
 */
#include "model_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_MAGIC   "tabula-checkpoint"
#define CKPT_VERSION 2

/* ------------------------------------------------------------------------
 * The state in memory
 * ------------------------------------------------------------------------ */

int tbm_state_alloc(tbm_state *s, size_t n_params, int n_out, tb_error *err)
{
    memset(s, 0, sizeof(*s));
    s->n_params = n_params;
    s->n_out = n_out;
    s->params = calloc(n_params, sizeof(float));
    s->best = calloc(n_params, sizeof(float));
    s->adam_m = calloc(n_params, sizeof(float));
    s->adam_v = calloc(n_params, sizeof(float));
    if (!s->params || !s->best || !s->adam_m || !s->adam_v) {
        tbm_state_free(s);
        return tb_error_set(err, TB_ENOMEM, "train",
                            "cannot allocate the training state for %zu "
                            "weights",
                            n_params);
    }
    s->best_score = INFINITY;
    return TB_OK;
}

/* The L-BFGS arrays, for a run with a full-batch phase. */
int tbm_state_alloc_lbfgs(tbm_state *s, int mem, tb_error *err)
{
    return tbm_lbfgs_alloc(&s->lb, s->n_params, mem, err);
}

/* The Levenberg-Marquardt point, for a run with that phase. */
int tbm_state_alloc_lm(tbm_state *s, tb_error *err)
{
    return tbm_lm_alloc(&s->lm, s->n_params, err);
}

/* The per-row weights of the worst-case objective, all one to start. */
int tbm_state_alloc_row_w(tbm_state *s, size_t n_rows, tb_error *err)
{
    s->row_w = malloc(n_rows * sizeof(double));
    if (!s->row_w)
        return tb_error_set(err, TB_ENOMEM, "train",
                            "cannot allocate %zu row weights", n_rows);
    for (size_t i = 0; i < n_rows; i++)
        s->row_w[i] = 1.0;
    s->n_rows = n_rows;
    return TB_OK;
}

/* Free the weight arrays, the L-BFGS state and the history; the state is
 * zeroed. */
void tbm_state_free(tbm_state *s)
{
    if (!s)
        return;
    tbm_lbfgs_free(&s->lb);
    tbm_lm_free(&s->lm);
    free(s->params);
    free(s->best);
    free(s->adam_m);
    free(s->adam_v);
    free(s->hist);
    free(s->row_w);
    memset(s, 0, sizeof(*s));
}

/* Append one row, doubling the array when full; 0 or TB_ENOMEM. */
int tbm_state_push_history(tbm_state *s, const tb_history *h, tb_error *err)
{
    if (s->n_hist == s->cap_hist) {
        size_t cap = s->cap_hist ? 2 * s->cap_hist : 64;
        tb_history *grown = realloc(s->hist, cap * sizeof(*grown));

        if (!grown)
            return tb_error_set(err, TB_ENOMEM, "train",
                                "cannot grow the history to %zu rows", cap);
        s->hist = grown;
        s->cap_hist = cap;
    }
    s->hist[s->n_hist++] = *h;
    return TB_OK;
}

#define HASH(h, v) tbm_fnv((h), &(v), sizeof(v))

/* The L-BFGS part of the checksum: its scalars and the arrays that carry
 * state between iterations (nothing when there is no L-BFGS phase). */
static uint64_t lbfgs_checksum(uint64_t h, const tbm_lbfgs *b)
{
    size_t bytes = b->n * sizeof(double);

    if (!b->block)
        return h;
    h = HASH(HASH(HASH(HASH(h, b->mem), b->count), b->head), b->iter);
    h = HASH(HASH(h, b->evals), b->f);
    h = tbm_fnv(tbm_fnv(h, b->x, bytes), b->g, bytes);
    h = tbm_fnv(h, b->s, bytes * (size_t)b->mem);
    h = tbm_fnv(h, b->y, bytes * (size_t)b->mem);
    return tbm_fnv(h, b->rho, (size_t)b->mem * sizeof(double));
}

/* FNV-1a 64 over every array, scalar and fingerprint of the state. */
uint64_t tbm_state_checksum(const tbm_state *s)
{
    uint64_t h = TBM_FNV_INIT;
    size_t bytes = s->n_params * sizeof(float);

    h = tbm_fnv(h, s->params, bytes);
    h = tbm_fnv(h, s->best, bytes);
    h = tbm_fnv(h, s->adam_m, bytes);
    h = tbm_fnv(h, s->adam_v, bytes);
    h = HASH(HASH(HASH(h, s->epoch), s->step), s->elapsed);
    h = HASH(HASH(h, s->lr_cur), s->sched_horizon);
    h = HASH(HASH(h, s->best_score), s->best_epoch);
    for (int k = 0; k < TBM_N_STATS; k++)
        h = tbm_fnv(h, s->best_stats[k], (size_t)s->n_out * sizeof(double));
    h = HASH(h, s->rng.s);
    h = lbfgs_checksum(h, &s->lb);
    if (s->lm.x) {
        h = HASH(HASH(HASH(HASH(h, s->lm.iter), s->lm.evals), s->lm.f),
                 s->lm.mu);
        h = tbm_fnv(h, s->lm.x, s->n_params * sizeof(double));
    }
    if (s->row_w)
        h = tbm_fnv(h, s->row_w, s->n_rows * sizeof(double));
    for (size_t i = 0; i < s->n_hist; i++) {
        const tb_history *r = &s->hist[i];

        h = HASH(HASH(HASH(HASH(h, r->epoch), r->seconds), r->loss),
                 r->max_rel);
    }
    return HASH(HASH(HASH(h, s->fp_data), s->fp_arch), s->fp_opts);
}

/* ------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------ */

static void write_scalars(tbm_h5 *h, const tbm_state *s)
{
    int version = CKPT_VERSION;
    long long n_params = (long long)s->n_params;
    unsigned long long sum = tbm_state_checksum(s);
    hid_t f = h->file;

    tbm_h5_put_str(h, f, "magic", CKPT_MAGIC);
    tbm_h5_put_num(h, f, "format_version", H5T_NATIVE_INT, &version, 0);
    tbm_h5_put_num(h, f, "n_params", H5T_NATIVE_LLONG, &n_params, 0);
    tbm_h5_put_num(h, f, "n_out", H5T_NATIVE_INT, &s->n_out, 0);
    tbm_h5_put_num(h, f, "epoch", H5T_NATIVE_LONG, &s->epoch, 0);
    tbm_h5_put_num(h, f, "step", H5T_NATIVE_LONG, &s->step, 0);
    tbm_h5_put_num(h, f, "elapsed", H5T_NATIVE_DOUBLE, &s->elapsed, 0);
    tbm_h5_put_num(h, f, "lr_cur", H5T_NATIVE_DOUBLE, &s->lr_cur, 0);
    tbm_h5_put_num(h, f, "sched_horizon", H5T_NATIVE_LONG, &s->sched_horizon,
                   0);
    tbm_h5_put_num(h, f, "best_score", H5T_NATIVE_DOUBLE, &s->best_score, 0);
    tbm_h5_put_num(h, f, "best_epoch", H5T_NATIVE_LONG, &s->best_epoch, 0);
    tbm_h5_put_num(h, f, "rng", H5T_NATIVE_UINT64, s->rng.s, 4);
    tbm_h5_put_num(h, f, "fp_data", H5T_NATIVE_UINT64, &s->fp_data, 0);
    tbm_h5_put_num(h, f, "fp_arch", H5T_NATIVE_UINT64, &s->fp_arch, 0);
    tbm_h5_put_num(h, f, "fp_opts", H5T_NATIVE_UINT64, &s->fp_opts, 0);
    tbm_h5_put_num(h, f, "checksum", H5T_NATIVE_ULLONG, &sum, 0);
}

static void write_arrays(tbm_h5 *h, const tbm_state *s)
{
    double stats[TBM_N_STATS * TB_MODEL_MAX_OUT];
    size_t n = s->n_params, k = (size_t)s->n_out;
    hid_t f = h->file;

    tbm_h5_put_data(h, f, "params", H5T_NATIVE_FLOAT, s->params, n, 0);
    tbm_h5_put_data(h, f, "best_params", H5T_NATIVE_FLOAT, s->best, n, 0);
    tbm_h5_put_data(h, f, "adam_m", H5T_NATIVE_FLOAT, s->adam_m, n, 0);
    tbm_h5_put_data(h, f, "adam_v", H5T_NATIVE_FLOAT, s->adam_v, n, 0);
    if (s->row_w)
        tbm_h5_put_data(h, f, "row_weights", H5T_NATIVE_DOUBLE, s->row_w,
                        s->n_rows, 0);

    for (int i = 0; i < TBM_N_STATS; i++)
        memcpy(stats + (size_t)i * k, s->best_stats[i], k * sizeof(double));
    tbm_h5_put_data(h, f, "best_stats", H5T_NATIVE_DOUBLE, stats, TBM_N_STATS,
                    k);
    tbm_h5_put_history(h, f, "history", s->hist, s->n_hist);
}

/* Create the group name in the file, or record the failure and return a
 * negative id. */
static hid_t create_group(tbm_h5 *h, const char *name)
{
    hid_t g = H5Gcreate2(h->file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);

    if (g < 0)
        tbm_h5_fail(h, "cannot create group %s", name);
    return g;
}

/* The Levenberg-Marquardt state as the group lm, when the run has one. */
static void write_lm(tbm_h5 *h, const tbm_lm *b)
{
    hid_t g;

    if (!b->x || h->rc || (g = create_group(h, "lm")) < 0)
        return;
    tbm_h5_put_num(h, g, "iter", H5T_NATIVE_LONG, &b->iter, 0);
    tbm_h5_put_num(h, g, "evals", H5T_NATIVE_LONG, &b->evals, 0);
    tbm_h5_put_num(h, g, "f", H5T_NATIVE_DOUBLE, &b->f, 0);
    tbm_h5_put_num(h, g, "mu", H5T_NATIVE_DOUBLE, &b->mu, 0);
    tbm_h5_put_data(h, g, "x", H5T_NATIVE_DOUBLE, b->x, b->n, 0);
    H5Gclose(g);
}

/* The L-BFGS state as the group lbfgs, when the run has one. */
static void write_lbfgs(tbm_h5 *h, const tbm_lbfgs *b)
{
    size_t n = b->n, m = (size_t)b->mem;
    hid_t g;

    if (!b->block || h->rc || (g = create_group(h, "lbfgs")) < 0)
        return;
    tbm_h5_put_num(h, g, "mem", H5T_NATIVE_INT, &b->mem, 0);
    tbm_h5_put_num(h, g, "count", H5T_NATIVE_INT, &b->count, 0);
    tbm_h5_put_num(h, g, "head", H5T_NATIVE_INT, &b->head, 0);
    tbm_h5_put_num(h, g, "iter", H5T_NATIVE_LONG, &b->iter, 0);
    tbm_h5_put_num(h, g, "evals", H5T_NATIVE_LONG, &b->evals, 0);
    tbm_h5_put_num(h, g, "f", H5T_NATIVE_DOUBLE, &b->f, 0);
    tbm_h5_put_data(h, g, "x", H5T_NATIVE_DOUBLE, b->x, n, 0);
    tbm_h5_put_data(h, g, "g", H5T_NATIVE_DOUBLE, b->g, n, 0);
    tbm_h5_put_data(h, g, "s", H5T_NATIVE_DOUBLE, b->s, m, n);
    tbm_h5_put_data(h, g, "y", H5T_NATIVE_DOUBLE, b->y, m, n);
    tbm_h5_put_data(h, g, "rho", H5T_NATIVE_DOUBLE, b->rho, m, 0);
    H5Gclose(g);
}

/* dir/ckpt-<epoch>.h5 into buf; 0 or TB_EINVAL when it does not fit. */
static int ckpt_path(char *buf, size_t size, const char *dir, long epoch,
                     tb_error *err)
{
    int len = snprintf(buf, size, "%s/ckpt-%08ld.h5", dir, epoch);

    if (len < 0 || (size_t)len >= size)
        return tb_error_set(err, TB_EINVAL, "checkpoint_dir",
                            "the folder name is too long");
    return TB_OK;
}

/* Write dir/ckpt-<epoch>.h5 atomically, creating dir if needed; 0 or
 * TB_EIO / TB_EINVAL. */
int tbm_ckpt_write(const char *dir, const tbm_state *s, tb_error *err)
{
    char path[4096];
    tbm_h5 h;
    int rc;

    if ((rc = ckpt_path(path, sizeof(path), dir, s->epoch, err)))
        return rc;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return tb_error_set(err, TB_EIO, dir,
                            "cannot create checkpoint folder %s: %s", dir,
                            strerror(errno));

    tbm_h5_lock();
    rc = tbm_h5_create(&h, path, err);
    if (rc == TB_OK) {
        write_scalars(&h, s);
        write_arrays(&h, s);
        write_lbfgs(&h, &s->lb);
        write_lm(&h, &s->lm);
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

/* Check magic, version and shape, and that the fingerprints are this
 * run's: a checkpoint of another table, network or options is refused. */
static int check_identity(tbm_h5 *h, const tbm_state *want)
{
    char magic[64] = "";
    int version = 0, n_out = 0;
    long long n_params = 0;
    uint64_t fp[3] = {0};
    hid_t f = h->file;

    if (H5Aexists(f, "magic") <= 0)
        return tbm_h5_fail(h, "not a tabula checkpoint (no 'magic')");
    tbm_h5_get_str(h, f, "magic", magic, sizeof(magic));
    tbm_h5_get_num(h, f, "format_version", H5T_NATIVE_INT, &version, 0);
    tbm_h5_get_num(h, f, "n_params", H5T_NATIVE_LLONG, &n_params, 0);
    tbm_h5_get_num(h, f, "n_out", H5T_NATIVE_INT, &n_out, 0);
    tbm_h5_get_num(h, f, "fp_data", H5T_NATIVE_UINT64, &fp[0], 0);
    tbm_h5_get_num(h, f, "fp_arch", H5T_NATIVE_UINT64, &fp[1], 0);
    tbm_h5_get_num(h, f, "fp_opts", H5T_NATIVE_UINT64, &fp[2], 0);
    if (h->rc)
        return h->rc;

    if (strcmp(magic, CKPT_MAGIC) != 0 || version != CKPT_VERSION)
        return tbm_h5_fail(h, "magic '%s' version %d; expected '%s' %d", magic,
                           version, CKPT_MAGIC, CKPT_VERSION);
    if (fp[0] != want->fp_data)
        return tbm_h5_fail(h,
                           "it was made from a different table "
                           "(fingerprint %016llx, this run's %016llx)",
                           (unsigned long long)fp[0],
                           (unsigned long long)want->fp_data);
    if (fp[1] != want->fp_arch || n_params != (long long)want->n_params ||
        n_out != want->n_out)
        return tbm_h5_fail(h,
                           "it was made for a different network (shape "
                           "or scaling; %lld weights, this run's %zu)",
                           n_params, want->n_params);
    if (fp[2] != want->fp_opts)
        return tbm_h5_fail(h, "it was made with different training options "
                              "(batch, lr, lr_min, seed or eval_every)");
    return TB_OK;
}

static void read_scalars(tbm_h5 *h, tbm_state *s)
{
    hid_t f = h->file;

    tbm_h5_get_num(h, f, "epoch", H5T_NATIVE_LONG, &s->epoch, 0);
    tbm_h5_get_num(h, f, "step", H5T_NATIVE_LONG, &s->step, 0);
    tbm_h5_get_num(h, f, "elapsed", H5T_NATIVE_DOUBLE, &s->elapsed, 0);
    tbm_h5_get_num(h, f, "lr_cur", H5T_NATIVE_DOUBLE, &s->lr_cur, 0);
    tbm_h5_get_num(h, f, "sched_horizon", H5T_NATIVE_LONG, &s->sched_horizon,
                   0);
    tbm_h5_get_num(h, f, "best_score", H5T_NATIVE_DOUBLE, &s->best_score, 0);
    tbm_h5_get_num(h, f, "best_epoch", H5T_NATIVE_LONG, &s->best_epoch, 0);
    tbm_h5_get_num(h, f, "rng", H5T_NATIVE_UINT64, s->rng.s, 4);
}

static void read_arrays(tbm_h5 *h, tbm_state *s)
{
    double stats[TBM_N_STATS * TB_MODEL_MAX_OUT];
    size_t n = s->n_params, k = (size_t)s->n_out;
    hid_t f = h->file;

    tbm_h5_get_data(h, f, "params", H5T_NATIVE_FLOAT, s->params, n);
    tbm_h5_get_data(h, f, "best_params", H5T_NATIVE_FLOAT, s->best, n);
    tbm_h5_get_data(h, f, "adam_m", H5T_NATIVE_FLOAT, s->adam_m, n);
    tbm_h5_get_data(h, f, "adam_v", H5T_NATIVE_FLOAT, s->adam_v, n);
    if (s->row_w)
        tbm_h5_get_data(h, f, "row_weights", H5T_NATIVE_DOUBLE, s->row_w,
                        s->n_rows);
    tbm_h5_get_data(h, f, "best_stats", H5T_NATIVE_DOUBLE, stats,
                    TBM_N_STATS * k);
    for (int i = 0; i < TBM_N_STATS && !h->rc; i++)
        memcpy(s->best_stats[i], stats + (size_t)i * k, k * sizeof(double));
    tbm_h5_get_history(h, f, "history", &s->hist, &s->n_hist);
    s->cap_hist = s->n_hist;
}

/* Open the group name holding the state of optimiser what, or record why
 * not and return a negative id. */
static hid_t open_group(tbm_h5 *h, const char *name, const char *what)
{
    hid_t g;

    if (H5Lexists(h->file, name, H5P_DEFAULT) <= 0) {
        tbm_h5_fail(h, "no %s state (group %s) in it", what, name);
        return -1;
    }
    if ((g = H5Gopen2(h->file, name, H5P_DEFAULT)) < 0)
        tbm_h5_fail(h, "cannot open group %s", name);
    return g;
}

/* The group lbfgs into b, allocated like the run expects. */
static void read_lbfgs(tbm_h5 *h, tbm_lbfgs *b)
{
    size_t n = b->n, m = (size_t)b->mem;
    int mem = 0;
    hid_t g;

    if (!b->block || h->rc || (g = open_group(h, "lbfgs", "L-BFGS")) < 0)
        return;
    tbm_h5_get_num(h, g, "mem", H5T_NATIVE_INT, &mem, 0);
    if (!h->rc && mem != b->mem)
        tbm_h5_fail(h, "L-BFGS memory %d; this run keeps %d", mem, b->mem);
    tbm_h5_get_num(h, g, "count", H5T_NATIVE_INT, &b->count, 0);
    tbm_h5_get_num(h, g, "head", H5T_NATIVE_INT, &b->head, 0);
    tbm_h5_get_num(h, g, "iter", H5T_NATIVE_LONG, &b->iter, 0);
    tbm_h5_get_num(h, g, "evals", H5T_NATIVE_LONG, &b->evals, 0);
    tbm_h5_get_num(h, g, "f", H5T_NATIVE_DOUBLE, &b->f, 0);
    tbm_h5_get_data(h, g, "x", H5T_NATIVE_DOUBLE, b->x, n);
    tbm_h5_get_data(h, g, "g", H5T_NATIVE_DOUBLE, b->g, n);
    tbm_h5_get_data(h, g, "s", H5T_NATIVE_DOUBLE, b->s, m * n);
    tbm_h5_get_data(h, g, "y", H5T_NATIVE_DOUBLE, b->y, m * n);
    tbm_h5_get_data(h, g, "rho", H5T_NATIVE_DOUBLE, b->rho, m);
    H5Gclose(g);
    if (!h->rc &&
        (b->count < 0 || b->count > b->mem || b->head < 0 || b->head >= b->mem))
        tbm_h5_fail(h, "L-BFGS count %d, head %d out of range", b->count,
                    b->head);
}

/* The group lm into b, allocated for the run's weights. */
static void read_lm(tbm_h5 *h, tbm_lm *b)
{
    hid_t g;

    if (!b->x || h->rc || (g = open_group(h, "lm", "Levenberg-Marquardt")) < 0)
        return;
    tbm_h5_get_num(h, g, "iter", H5T_NATIVE_LONG, &b->iter, 0);
    tbm_h5_get_num(h, g, "evals", H5T_NATIVE_LONG, &b->evals, 0);
    tbm_h5_get_num(h, g, "f", H5T_NATIVE_DOUBLE, &b->f, 0);
    tbm_h5_get_num(h, g, "mu", H5T_NATIVE_DOUBLE, &b->mu, 0);
    tbm_h5_get_data(h, g, "x", H5T_NATIVE_DOUBLE, b->x, b->n);
    H5Gclose(g);
}

/* Read and verify the file into t, a state allocated like want. */
static int read_into(tbm_h5 *h, const tbm_state *want, tbm_state *t)
{
    unsigned long long sum = 0;

    t->fp_data = want->fp_data;
    t->fp_arch = want->fp_arch;
    t->fp_opts = want->fp_opts;
    if (check_identity(h, want))
        return h->rc;
    read_scalars(h, t);
    read_arrays(h, t);
    read_lbfgs(h, &t->lb);
    read_lm(h, &t->lm);
    tbm_h5_get_num(h, h->file, "checksum", H5T_NATIVE_ULLONG, &sum, 0);
    if (h->rc)
        return h->rc;
    if (sum != tbm_state_checksum(t))
        return tbm_h5_fail(h, "checksum mismatch: the file is damaged");
    if (t->epoch < 0 || t->step < 0 || t->sched_horizon < 0 ||
        !(t->lr_cur >= 0))
        return tbm_h5_fail(h,
                           "epoch %ld, step %ld, horizon %ld, rate %g are "
                           "not valid",
                           t->epoch, t->step, t->sched_horizon, t->lr_cur);
    return TB_OK;
}

/* Read and verify one checkpoint; s is replaced only on success. */
int tbm_ckpt_read(const char *path, tbm_state *s, tb_error *err)
{
    tbm_state t;
    tbm_h5 h;
    int rc;

    if ((rc = tbm_state_alloc(&t, s->n_params, s->n_out, err)))
        return rc;
    if ((s->lb.block && (rc = tbm_state_alloc_lbfgs(&t, s->lb.mem, err))) ||
        (s->lm.x && (rc = tbm_state_alloc_lm(&t, err))) ||
        (s->row_w && (rc = tbm_state_alloc_row_w(&t, s->n_rows, err)))) {
        tbm_state_free(&t);
        return rc;
    }

    tbm_h5_lock();
    rc = tbm_h5_open(&h, path, err);
    if (rc == TB_OK) {
        rc = read_into(&h, s, &t);
        tbm_h5_close(&h);
    }
    tbm_h5_unlock();

    /* Only a complete, verified state replaces the caller's. */
    if (rc == TB_OK) {
        tbm_state_free(s);
        *s = t;
    } else {
        tbm_state_free(&t);
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * The folder: listing, resuming, pruning
 * ------------------------------------------------------------------------ */

struct ckpt_file {
    long epoch;
    char name[64];
};

/* The epoch of a file called ckpt-<digits>.h5, or -1. */
static long ckpt_epoch(const char *name)
{
    const char *d = name + 5;
    long epoch = 0;

    if (strncmp(name, "ckpt-", 5) != 0 || !(*d >= '0' && *d <= '9'))
        return -1;
    for (; *d >= '0' && *d <= '9'; d++) {
        if (epoch > (LONG_MAX - 9) / 10)
            return -1;
        epoch = epoch * 10 + (*d - '0');
    }
    return strcmp(d, ".h5") == 0 ? epoch : -1;
}

static int newest_first(const void *a, const void *b)
{
    long ea = ((const struct ckpt_file *)a)->epoch;
    long eb = ((const struct ckpt_file *)b)->epoch;

    return ea < eb ? 1 : (ea > eb ? -1 : 0);
}

/* Add one entry to a growing list; 0 or -1 when memory runs out. */
static int list_add(struct ckpt_file **files, size_t *n, size_t *cap,
                    long epoch, const char *name)
{
    if (*n == *cap) {
        size_t grown_cap = *cap ? 2 * *cap : 16;
        struct ckpt_file *grown = realloc(*files, grown_cap * sizeof(**files));

        if (!grown)
            return -1;
        *files = grown;
        *cap = grown_cap;
    }
    (*files)[*n].epoch = epoch;
    snprintf((*files)[*n].name, sizeof((*files)[*n].name), "%s", name);
    (*n)++;
    return 0;
}

/* The checkpoints in dir, newest first.  A missing folder holds none.
 * Returns 0, TB_EIO or TB_ENOMEM; *files is the caller's to free. */
static int list_ckpts(const char *dir, struct ckpt_file **files, size_t *n,
                      tb_error *err)
{
    size_t cap = 0;
    struct dirent *e;
    DIR *d = opendir(dir);
    int rc = TB_OK;

    *files = NULL;
    *n = 0;
    if (!d)
        return errno == ENOENT
                   ? TB_OK
                   : tb_error_set(err, TB_EIO, dir, "cannot list %s: %s", dir,
                                  strerror(errno));
    while (rc == TB_OK && (e = readdir(d)) != NULL) {
        long epoch = ckpt_epoch(e->d_name);

        if (epoch >= 0 && strlen(e->d_name) < sizeof((*files)->name) &&
            list_add(files, n, &cap, epoch, e->d_name) != 0)
            rc = tb_error_set(err, TB_ENOMEM, dir, "cannot list checkpoints");
    }
    closedir(d);
    if (rc == TB_OK && *n > 1)
        qsort(*files, *n, sizeof(**files), newest_first);
    return rc;
}

/* Try checkpoints newest first; 1 loaded, 0 none, or a negative status. */
int tbm_ckpt_resume(const char *dir, tbm_state *s, tb_error *err)
{
    struct ckpt_file *files;
    size_t n;
    int rc = list_ckpts(dir, &files, &n, err);

    for (size_t i = 0; rc == TB_OK && i < n; i++) {
        char path[4096];
        tb_error why;

        tb_error_clear(&why);
        snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
        rc = tbm_ckpt_read(path, s, &why);
        if (rc == TB_OK) {
            tb_info("resume: continuing from %s (epoch %ld)", path, s->epoch);
            rc = 1;
        } else if (rc == TB_ENOMEM) {
            tb_error_set(err, rc, why.where, "%s", why.text);
        } else {
            tb_warn("resume: refusing checkpoint %s", why.text);
            rc = TB_OK;
        }
    }
    if (rc == TB_OK && n > 0)
        tb_warn("resume: no valid checkpoint among %zu in %s; training "
                "starts afresh",
                n, dir);
    free(files);
    return rc;
}

/* 1 when the file at path carries this run's fingerprints. */
static int is_ours(const char *path, const tbm_state *s)
{
    uint64_t fp[3] = {0};
    tb_error quiet;
    tbm_h5 h;
    int ours = 0;

    tb_error_clear(&quiet);
    tbm_h5_lock();
    if (tbm_h5_open(&h, path, &quiet) == TB_OK) {
        tbm_h5_get_num(&h, h.file, "fp_data", H5T_NATIVE_UINT64, &fp[0], 0);
        tbm_h5_get_num(&h, h.file, "fp_arch", H5T_NATIVE_UINT64, &fp[1], 0);
        tbm_h5_get_num(&h, h.file, "fp_opts", H5T_NATIVE_UINT64, &fp[2], 0);
        ours = !h.rc && fp[0] == s->fp_data && fp[1] == s->fp_arch &&
               fp[2] == s->fp_opts;
        tbm_h5_close(&h);
    }
    tbm_h5_unlock();
    return ours;
}

/* Keep this run's newest `keep` checkpoints (and the current epoch's). */
int tbm_ckpt_prune(const char *dir, const tbm_state *s, int keep, tb_error *err)
{
    struct ckpt_file *files;
    size_t n;
    int rc = list_ckpts(dir, &files, &n, err);
    int kept = 0;

    for (size_t i = 0; rc == TB_OK && i < n; i++) {
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
        if (!is_ours(path, s))
            continue;
        if (kept < keep || files[i].epoch == s->epoch) {
            kept++;
            continue;
        }
        if (unlink(path) != 0 && errno != ENOENT)
            rc = tb_error_set(err, TB_EIO, path, "cannot remove %s: %s", path,
                              strerror(errno));
    }
    free(files);
    return rc;
}

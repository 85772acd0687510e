/*
 * train.c - memorising a table: Adam over mini-batches of every row, a
 * short warm-up then a cosine decay of the rate from lr to lr_min over
 * max_epochs (or over the time limit when there is no epoch limit), an
 * optional full-batch phase in double precision (lm.c, lbfgs.c),
 * full-grid error measurement, best-weights tracking and checkpoints.
 *
 * Every buffer is allocated once per run; a step allocates nothing.  With
 * an epoch limit a run is repeatable bit for bit for a given seed and
 * OpenBLAS thread count, and a resumed run continues exactly where its
 * checkpoint left off.
 */
#include "model_int.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#define ADAM_B1      0.9
#define ADAM_B2      0.999
#define ADAM_EPS     1e-8
#define WARMUP_STEPS 100 /* the rate ramps up linearly over these steps */

/*
 * The worst-case objective (TB_OBJ_WORST): full-batch steps on the plain
 * mean squared error first, then every WORST_EVERY steps each row's weight
 * becomes 1 + WORST_C (e / e_max)^WORST_Q, e being the row's largest error
 * relative to its output's range.  Chosen on test_fullbatch's 17 x 9 table
 * (2 x 3 to 2 x 8 networks, 40 Adam + 120 LM steps): grid max 1.6 to 4
 * times below least squares; renewing every 5 steps gained only 5 to
 * 30 %, weights multiplied from one renewal to the next 0 to 30 %, and
 * C = 100, Q = 8 or C = 10, Q = 4 were no better overall.
 */
#define WORST_START 20
#define WORST_EVERY 1
#define WORST_C     30.0
#define WORST_Q     6.0

/* OpenBLAS threads for training unless tb_model_set_threads said
 * otherwise.  Measured on the 3 x 64 network, 65,536 rows, batch 1024, on
 * two cores: one thread 100-117 ms per epoch, two threads 154-423 ms (the
 * products are too small to share well). */
#define TRAIN_THREADS 1

/* Rows taken through the forward and backward passes at once; a larger
 * batch is split into blocks of this many and their gradients summed, so
 * that a block's activations stay near the core.  Measured on the 3 x 64
 * network, 65,536 rows, CPU ms per epoch at full batch: unsplit 95,
 * blocks of 256 60, 1024 61, 2048 63; at batch 1024, blocks of 256 61,
 * 1024 58. */
#define TRAIN_BLOCK 1024

struct trainer {
    tb_model *m;
    const tb_train_opts *o;
    tb_error *err;
    tbm_layout L;
    tbm_scale sc;
    size_t n;        /* rows */
    int batch;       /* rows per step, at most n */
    int block;       /* rows per pass, at most batch */
    size_t steps;    /* steps per epoch */
    double lr_min;   /* the floor in force */
    const double *y; /* reference outputs in user units */
    float *xs, *ys;  /* every row, scaled */
    size_t *order;   /* this epoch's row order */
    int width0;      /* the network's input width (encoded inputs) */
    float *act[TBM_MAX_LAYERS + 1];
    float *pre[TBM_MAX_LAYERS + 1]; /* pre-activations (not tanh) */
    float *ybatch, *delta, *tmp, *grad;
    float *bgrad;   /* a later block's gradient, before it joins grad */
    float *scratch; /* the one block behind act .. grad */
    tbm_state st;
    double *xd, *yd;   /* every row, scaled, in double (full batch) */
    tbm_objective obj; /* the full-batch objective over them */
    double *out_d;     /* scratch: every row's outputs (worst case) */
    int stuck;         /* the full-batch step found no decrease */
    int moved;         /* it moved since the last re-weighting */
    size_t frozen;     /* weights of the frozen layers, at the start */
    double t_start;    /* tb_now() when this session started */
    double elapsed0;   /* training seconds before this session */
    double last_ckpt;  /* tb_now() of the last checkpoint */
    long ckpt_epoch;   /* the epoch it holds (-1: none yet) */
    tb_train_progress prog;
};

/* The defaults documented in model.h. */
void tb_train_opts_default(tb_train_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->batch = 1024;
    o->lr = 1e-3;
    o->lr_min = 0; /* lr / 100 */
    o->max_epochs = 2000;
    o->eval_every = 10;
    o->seed = 1;
    o->checkpoint_every = 60;
    o->keep = 3;
    o->lbfgs_after = -1;
    o->lbfgs_mem = 20;
}

/* ------------------------------------------------------------------------
 * Setting up
 * ------------------------------------------------------------------------ */

static int check_opts(const tb_train_opts *o, tb_error *err)
{
    if (o->batch < 1)
        return tb_error_set(err, TB_EINVAL, "batch",
                            "batch %d; expected at least 1", o->batch);
    if (!isfinite(o->lr) || o->lr <= 0 || !isfinite(o->lr_min) ||
        o->lr_min < 0 || o->lr_min > o->lr)
        return tb_error_set(err, TB_EINVAL, "lr",
                            "lr %g, lr_min %g; expected 0 < lr and "
                            "0 <= lr_min <= lr",
                            o->lr, o->lr_min);
    if (o->max_epochs == 0 && !(o->time_limit > 0))
        return tb_error_set(err, TB_EINVAL, "max_epochs",
                            "max_epochs 0 (no epoch limit) needs a time "
                            "limit");
    if (o->max_epochs < 0 || o->eval_every < 1)
        return tb_error_set(err, TB_EINVAL, "max_epochs",
                            "max_epochs %ld, eval_every %d; expected >= 0 "
                            "and >= 1",
                            o->max_epochs, o->eval_every);
    if (!(o->time_limit >= 0) || !(o->target >= 0) ||
        isnan(o->checkpoint_every))
        return tb_error_set(err, TB_EINVAL, "time_limit",
                            "time_limit %g, target %g; expected >= 0",
                            o->time_limit, o->target);
    if (o->lbfgs_after < -1 ||
        (o->lbfgs_after >= 0 && (o->lbfgs_mem < 1 || o->lbfgs_mem > 1000 ||
                                 o->second < 0 || o->second > 2)))
        return tb_error_set(err, TB_EINVAL, "lbfgs_after",
                            "lbfgs_after %ld, lbfgs_mem %d; expected -1 (no "
                            "full-batch phase) or >= 0 with 1 to 1000 "
                            "pairs and a known optimiser",
                            o->lbfgs_after, o->lbfgs_mem);
    if (o->freeze < 0 || o->freeze > TB_MODEL_MAX_HIDDEN ||
        (o->freeze > 0 && o->lbfgs_after >= 0))
        return tb_error_set(err, TB_EINVAL, "freeze",
                            "freeze %d with lbfgs_after %ld; expected 0 to "
                            "%d frozen layers, and no full-batch phase with "
                            "frozen layers",
                            o->freeze, o->lbfgs_after, TB_MODEL_MAX_HIDDEN);
    if (o->objective < TB_OBJ_MSE || o->objective > TB_OBJ_WORST)
        return tb_error_set(err, TB_EINVAL, "objective",
                            "objective %d; expected %d (mse) or %d (worst)",
                            o->objective, TB_OBJ_MSE, TB_OBJ_WORST);
    if (o->checkpoint_dir && (!o->checkpoint_dir[0] || o->keep < 1))
        return tb_error_set(err, TB_EINVAL, "checkpoint_dir",
                            "an empty folder name or keep %d < 1", o->keep);
    return TB_OK;
}

static int check_data(const tb_model *m, const double *x, const double *y,
                      size_t n, tb_error *err)
{
    if (!m || !m->params)
        return tb_error_set(err, TB_EINVAL, "model", "no initialised model");
    if (!x || !y || n < 1)
        return tb_error_set(err, TB_EINVAL, "table",
                            "no rows to train on (n = %zu)", n);
    for (size_t i = 0; i < n * (size_t)m->n_out; i++)
        if (!isfinite(y[i]))
            return tb_error_set(err, TB_EINVAL, "table",
                                "row %zu, output %s is %g; expected finite "
                                "values",
                                i / (size_t)m->n_out,
                                m->out_name[i % (size_t)m->n_out], y[i]);
    return tb_model_check_domain(m, x, n, err);
}

/* The three fingerprints a checkpoint must match. */
static void fingerprints(struct trainer *t, const double *x)
{
    const tb_model *m = t->m;
    const tb_train_opts *o = t->o;
    uint64_t h = TBM_FNV_INIT;

    h = tbm_fnv(h, &t->n, sizeof(t->n));
    h = tbm_fnv(h, x, t->n * (size_t)m->n_in * sizeof(double));
    t->st.fp_data = tbm_fnv(h, t->y, t->n * (size_t)m->n_out * sizeof(double));

    h = tbm_fnv(TBM_FNV_INIT, t->L.width, sizeof(t->L.width));
    h = tbm_fnv(h, &m->activation, sizeof(m->activation));
    for (int i = 0; i < m->n_in; i++)
        h = tbm_fnv(tbm_fnv(h, &m->in[i].lo, 8), &m->in[i].hi, 8);
    if (m->n_fourier > 0)
        h = tbm_fnv(h, m->fourier_b,
                    (size_t)m->n_in * (size_t)m->n_fourier * sizeof(double));
    h = tbm_fnv(h, m->in_log, (size_t)m->n_in * sizeof(int));
    h = tbm_fnv(h, m->out_log, (size_t)m->n_out * sizeof(int));
    h = tbm_fnv(h, m->out_shift, (size_t)m->n_out * sizeof(double));
    h = tbm_fnv(h, m->out_lo, (size_t)m->n_out * sizeof(double));
    t->st.fp_arch = tbm_fnv(h, m->out_hi, (size_t)m->n_out * sizeof(double));

    h = tbm_fnv(TBM_FNV_INIT, &o->batch, sizeof(o->batch));
    h = tbm_fnv(h, &o->lr, sizeof(o->lr));
    h = tbm_fnv(h, &t->lr_min, sizeof(t->lr_min));
    h = tbm_fnv(h, &o->seed, sizeof(o->seed));
    h = tbm_fnv(h, &o->lbfgs_after, sizeof(o->lbfgs_after));
    if (o->freeze > 0)
        h = tbm_fnv(h, &o->freeze, sizeof(o->freeze));
    if (o->lbfgs_after >= 0) {
        h = tbm_fnv(h, &o->lbfgs_mem, sizeof(o->lbfgs_mem));
        h = tbm_fnv(h, &o->second, sizeof(o->second));
    }
    if (o->objective != TB_OBJ_MSE)
        h = tbm_fnv(h, &o->objective, sizeof(o->objective));
    t->st.fp_opts = tbm_fnv(h, &o->eval_every, sizeof(o->eval_every));
}

/* Carve the step buffers out of one block. */
static int alloc_scratch(struct trainer *t)
{
    size_t b = (size_t)t->block, total = 0, at = 0;
    const tbm_layout *L = &t->L;

    for (int l = 0; l <= L->n_layers; l++)
        total += b * (size_t)L->width[l];
    for (int l = 1; l < L->n_layers && tbm_needs_pre(L); l++)
        total += b * (size_t)L->width[l];
    total += b * (size_t)L->width[L->n_layers] + 2 * b * (size_t)L->max_width;
    total += 2 * L->n_params;

    t->scratch = malloc(total * sizeof(float));
    if (!t->scratch)
        return tb_error_set(t->err, TB_ENOMEM, "train",
                            "cannot allocate %zu floats of scratch", total);
    for (int l = 0; l <= L->n_layers; l++) {
        t->act[l] = t->scratch + at;
        at += b * (size_t)L->width[l];
    }
    for (int l = 1; l < L->n_layers && tbm_needs_pre(L); l++) {
        t->pre[l] = t->scratch + at;
        at += b * (size_t)L->width[l];
    }
    t->ybatch = t->scratch + at;
    at += b * (size_t)L->width[L->n_layers];
    t->delta = t->scratch + at;
    t->tmp = t->delta + b * (size_t)L->max_width;
    t->grad = t->tmp + b * (size_t)L->max_width;
    t->bgrad = t->grad + L->n_params;
    return TB_OK;
}

/* The double-precision copy of the rows and the objective over them, for
 * a run with a full-batch phase. */
static int open_full_batch(struct trainer *t, const double *x)
{
    const tb_model *m = t->m;
    size_t ni = (size_t)t->width0, no = (size_t)m->n_out;
    int lm =
        t->o->second == TB_SECOND_LM ||
        (t->o->second == TB_SECOND_AUTO && t->st.n_params <= TBM_LM_MAX_PARAMS);
    int worst = t->o->objective == TB_OBJ_WORST && lm;
    int rc;

    t->xd = malloc(t->n * ni * sizeof(double));
    t->yd = malloc(t->n * no * sizeof(double));
    if (worst)
        t->out_d = malloc(t->n * no * sizeof(double));
    if (!t->xd || !t->yd || (worst && !t->out_d))
        return tb_error_set(t->err, TB_ENOMEM, "train",
                            "cannot allocate a double copy of %zu rows", t->n);
    tbm_encode64(m, &t->sc, x, t->n, t->xd);
    for (size_t i = 0; i < t->n * no; i++)
        t->yd[i] = tbm_out_scaled(&t->sc, (int)(i % no), t->y[i]);

    /* Levenberg-Marquardt where J^T J fits, L-BFGS beyond.  L-BFGS keeps
     * the plain mean: re-weighting every step discards its curvature
     * pairs, and on test_fullbatch's table (2 x 12, 40 Adam + 80 steps)
     * every schedule tried (renewing every 1 to 20 steps, with or without
     * keeping the pairs) ended 1.2 to 3 times above least squares. */
    if (t->o->objective == TB_OBJ_WORST && !lm)
        tb_info("train: the worst-case objective applies to "
                "Levenberg-Marquardt; L-BFGS (%zu weights) keeps the mean "
                "squared error",
                t->st.n_params);
    if ((rc = tbm_objective_open(&t->obj, &t->L, t->xd, t->yd, t->n, t->err)) ||
        (worst && (rc = tbm_state_alloc_row_w(&t->st, t->n, t->err))))
        return rc;
    if (lm)
        return tbm_state_alloc_lm(&t->st, t->err);
    return tbm_state_alloc_lbfgs(&t->st, t->o->lbfgs_mem, t->err);
}

static int trainer_open(struct trainer *t, tb_model *m, const double *x,
                        const double *y, size_t n)
{
    int rc;

    t->m = m;
    t->y = y;
    t->n = n;
    t->batch = (size_t)t->o->batch < n ? t->o->batch : (int)n;
    t->steps = (n + (size_t)t->batch - 1) / (size_t)t->batch;
    t->block = t->batch < TRAIN_BLOCK ? t->batch : TRAIN_BLOCK;
    t->lr_min = t->o->lr_min > 0 ? t->o->lr_min : t->o->lr / 100;
    tbm_layout_of(m, &t->L);
    tbm_scale_init(m, &t->sc);
    if (t->o->freeze >= t->L.n_layers)
        return tb_error_set(t->err, TB_EINVAL, "freeze",
                            "freeze %d; the network has %d layers and the "
                            "last must train",
                            t->o->freeze, t->L.n_layers);
    t->frozen = t->o->freeze > 0 ? t->L.w_off[t->o->freeze] : 0;

    t->width0 = t->L.width[0];
    t->xs = malloc(n * (size_t)t->width0 * sizeof(float));
    t->ys = malloc(n * (size_t)m->n_out * sizeof(float));
    t->order = malloc(n * sizeof(size_t));
    if (!t->xs || !t->ys || !t->order)
        return tb_error_set(t->err, TB_ENOMEM, "train",
                            "cannot allocate a scaled copy of %zu rows", n);
    if ((rc = alloc_scratch(t)) ||
        (rc = tbm_state_alloc(&t->st, m->n_params, m->n_out, t->err)))
        return rc;

    tbm_encode(m, &t->sc, x, n, t->xs);
    tbm_scale_outputs(&t->sc, m->n_out, y, n, t->ys);
    fingerprints(t, x);
    if (t->o->lbfgs_after >= 0)
        return open_full_batch(t, x);
    return TB_OK;
}

static void trainer_close(struct trainer *t)
{
    free(t->xs);
    free(t->ys);
    free(t->order);
    free(t->scratch);
    free(t->xd);
    free(t->yd);
    free(t->out_d);
    tbm_objective_close(&t->obj);
    tbm_state_free(&t->st);
}

/* A fresh state from m's weights, or the newest valid checkpoint. */
static int start_state(struct trainer *t)
{
    tbm_state *s = &t->st;
    long horizon = t->o->max_epochs;
    int rc = 0;

    memcpy(s->params, t->m->params, s->n_params * sizeof(float));
    memcpy(s->best, s->params, s->n_params * sizeof(float));
    s->sched_horizon = horizon;
    tbm_rng_seed(&s->rng, t->o->seed);

    if (t->o->checkpoint_dir && t->o->resume)
        rc = tbm_ckpt_resume(t->o->checkpoint_dir, s, t->err);
    if (rc < 0)
        return rc;

    /* A new epoch budget stretches the schedule: say so, it changes the
     * trajectory an uninterrupted run would have taken. */
    if (s->sched_horizon != horizon)
        tb_info("resume: max_epochs %ld differs from the checkpoint's %ld; "
                "the rate schedule now ends at epoch %ld",
                horizon, s->sched_horizon, horizon);
    s->sched_horizon = horizon;
    t->elapsed0 = s->elapsed;
    return TB_OK;
}

/* ------------------------------------------------------------------------
 * One epoch
 * ------------------------------------------------------------------------ */

/* Copy the rows named by idx into the first layer and the targets. */
static void gather(struct trainer *t, const size_t *idx, int rows)
{
    size_t ni = (size_t)t->width0, no = (size_t)t->m->n_out;

    for (int r = 0; r < rows; r++) {
        memcpy(t->act[0] + (size_t)r * ni, t->xs + idx[r] * ni,
               ni * sizeof(float));
        memcpy(t->ybatch + (size_t)r * no, t->ys + idx[r] * no,
               no * sizeof(float));
    }
}

/* The gradient of the mean squared error over a step of `step` rows into
 * delta, for the block of `rows` in the first layer; returns the block's
 * sum of squared errors. */
static double loss_grad(struct trainer *t, int rows, int step)
{
    size_t k = (size_t)rows * (size_t)t->m->n_out;
    const float *out = t->act[t->L.n_layers];
    float c = 2.0f / ((float)step * (float)t->m->n_out);
    double sse = 0;

    for (size_t i = 0; i < k; i++) {
        float d = out[i] - t->ybatch[i];

        sse += (double)d * (double)d;
        t->delta[i] = c * d;
    }
    return sse;
}

/* The rate for the next step: a linear warm-up, then a cosine from lr at
 * step 0 down to lr_min at the end of the horizon. */
static double rate(const struct trainer *t)
{
    const tbm_state *s = &t->st;
    long horizon = s->sched_horizon;
    double total, f, warm, lr;

    /* With an L-BFGS phase, Adam's cosine ends where that phase begins;
     * with no epoch limit, it spans this session's time limit. */
    if (t->o->lbfgs_after >= 0 && (horizon == 0 || t->o->lbfgs_after < horizon))
        horizon = t->o->lbfgs_after;
    total = (double)horizon * (double)t->steps;
    if (horizon == 0)
        f = fmin((tb_now() - t->t_start) / t->o->time_limit, 1.0);
    else
        f = total > 0 ? fmin((double)s->step / total, 1.0) : 1.0;
    warm = fmin((double)(s->step + 1) / WARMUP_STEPS, 1.0);
    lr = t->lr_min + (t->o->lr - t->lr_min) * 0.5 * (1 + cos(M_PI * f));
    return lr * warm;
}

/* One bias-corrected Adam step at the scheduled rate. */
static void adam_step(struct trainer *t)
{
    tbm_state *s = &t->st;
    double lr = rate(t);
    double bc1, bc2;
    float a, eps;
    float *restrict p = s->params, *restrict m = s->adam_m;
    float *restrict v = s->adam_v;
    const float *restrict g = t->grad;

    s->step++;
    bc1 = 1 - pow(ADAM_B1, (double)s->step);
    bc2 = 1 - pow(ADAM_B2, (double)s->step);
    a = (float)(lr * sqrt(bc2) / bc1);
    s->lr_cur = lr;
    eps = (float)(ADAM_EPS * sqrt(bc2));

    /* Frozen layers come first in params: start after them. */
    for (size_t i = t->frozen; i < s->n_params; i++) {
        m[i] = (float)ADAM_B1 * m[i] + (float)(1 - ADAM_B1) * g[i];
        v[i] = (float)ADAM_B2 * v[i] + (float)(1 - ADAM_B2) * g[i] * g[i];
        p[i] -= a * m[i] / (sqrtf(v[i]) + eps);
    }
}

/* a += b over n values. */
static void add_to(float *restrict a, const float *restrict b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] += b[i];
}

/* The gradient of the step over the rows idx[0 .. rows) into grad, block
 * by block; returns their sum of squared errors. */
static double step_grad(struct trainer *t, const size_t *idx, int rows)
{
    double sse = 0;

    for (int at = 0; at < rows; at += t->block) {
        int k = rows - at < t->block ? rows - at : t->block;
        float *g = at == 0 ? t->grad : t->bgrad;

        gather(t, idx + at, k);
        tbm_forward(&t->L, t->st.params, k, t->act, t->pre);
        sse += loss_grad(t, k, rows);
        tbm_backward(&t->L, t->st.params, k, t->act, t->pre, t->delta, t->tmp,
                     g);
        if (at > 0)
            add_to(t->grad, g, t->L.n_params);
    }
    return sse;
}

/* One pass over every row in a fresh random order; returns the mean
 * squared error in scaled units. */
static double run_epoch(struct trainer *t)
{
    double sse = 0;

    for (size_t i = 0; i < t->n; i++)
        t->order[i] = i;
    tbm_shuffle(&t->st.rng, t->order, t->n);

    for (size_t at = 0; at < t->n; at += (size_t)t->batch) {
        int rows = t->n - at < (size_t)t->batch ? (int)(t->n - at) : t->batch;

        sse += step_grad(t, t->order + at, rows);
        adam_step(t);
    }
    t->st.epoch++;
    return sse / ((double)t->n * (double)t->m->n_out);
}

/* The worst-case objective's weights at the full-batch point x: each
 * row's largest error relative to its output's range, e, gives the row
 * 1 + WORST_C (e / e_max)^WORST_Q.  The optimiser's objective changed, so
 * its value (and L-BFGS's gradient and memory) start afresh there. */
static void reweight(struct trainer *t, tbm_state *s, const double *x)
{
    size_t no = (size_t)t->m->n_out;
    double e_max = 0;

    tbm_objective_outputs(&t->obj, x, t->out_d);
    for (size_t r = 0; r < t->n; r++) {
        double e = 0;

        for (size_t k = 0; k < no; k++) {
            double yhat = tbm_out_user(&t->sc, (int)k, t->out_d[r * no + k]);

            e = fmax(e, fabs(yhat - t->y[r * no + k]) / t->sc.out_range[k]);
        }
        s->row_w[r] = e;
        e_max = fmax(e_max, e);
    }
    for (size_t r = 0; r < t->n; r++)
        s->row_w[r] = e_max > 0 && isfinite(e_max)
                          ? 1.0 + WORST_C * pow(s->row_w[r] / e_max, WORST_Q)
                          : 1.0;

    t->obj.w = s->row_w;
    t->moved = 0;
    if (s->lm.x) {
        s->lm.f = tbm_objective_value(&t->obj, s->lm.x);
        s->lm.evals++;
    } else {
        s->lb.f = tbm_objective_eval(&t->obj, s->lb.x, s->lb.g);
        s->lb.count = s->lb.head = 0;
        s->lb.evals++;
    }
}

/* Before a full-batch step: with the worst-case objective, the weights
 * apply from step WORST_START on and are renewed every WORST_EVERY steps
 * (a resumed run has them from its checkpoint). */
static void worst_case_schedule(struct trainer *t, const double *x)
{
    tbm_state *s = &t->st;
    long k = s->epoch - t->o->lbfgs_after;

    if (!s->row_w || k < WORST_START)
        return;
    t->obj.w = s->row_w;
    if ((k - WORST_START) % WORST_EVERY == 0)
        reweight(t, s, x);
}

/* After a step that found no decrease, weights renewed at the point
 * reached since the last re-weighting may still allow progress: renew
 * them instead of stopping. */
static void worst_case_unstick(struct trainer *t, const double *x)
{
    tbm_state *s = &t->st;
    long k = s->epoch - t->o->lbfgs_after;

    if (!t->stuck)
        t->moved = 1;
    else if (s->row_w && k >= WORST_START && t->moved) {
        reweight(t, s, x);
        t->stuck = 0;
    }
}

/* One step of the full-batch phase in double precision (Levenberg-
 * Marquardt or L-BFGS), started from the Adam weights the first time; the
 * float weights follow.  *loss receives the objective (the weighted mean
 * squared error in scaled units).  Returns 0 or TB_ENOMEM. */
static int full_batch_epoch(struct trainer *t, double *loss)
{
    tbm_state *s = &t->st;
    const double *x;
    int rc;

    if (s->lm.x) {
        if ((rc = tbm_lm_prepare(&s->lm, &t->obj, t->err)))
            return rc;
        if (s->lm.evals == 0)
            tbm_lm_start(&s->lm, &t->obj, s->params);
        worst_case_schedule(t, s->lm.x);
        t->stuck = !tbm_lm_iterate(&s->lm, &t->obj);
        x = s->lm.x;
        *loss = s->lm.f;
    } else {
        if (s->lb.evals == 0)
            tbm_lbfgs_start(&s->lb, &t->obj, s->params);
        worst_case_schedule(t, s->lb.x);
        t->stuck = !tbm_lbfgs_iterate(&s->lb, &t->obj);
        x = s->lb.x;
        *loss = s->lb.f;
    }
    worst_case_unstick(t, x);
    for (size_t i = 0; i < s->n_params; i++)
        s->params[i] = (float)x[i];
    s->epoch++;
    return TB_OK;
}

/* An epoch of whichever phase the run is in; 0 or TB_ENOMEM. */
static int train_epoch(struct trainer *t, double *loss)
{
    long after = t->o->lbfgs_after;

    if (after >= 0 && t->st.epoch >= after)
        return full_batch_epoch(t, loss);
    *loss = run_epoch(t);
    return TB_OK;
}

/* ------------------------------------------------------------------------
 * Measuring
 * ------------------------------------------------------------------------ */

/* Per-output sums of the errors of rows of predictions out (scaled)
 * starting at row `at`; returns their squared error in scaled units. */
static double add_errors(struct trainer *t, const float *out, size_t at,
                         int rows, double *mx, double *sum, double *sq)
{
    size_t no = (size_t)t->m->n_out;
    const double *y = t->y + at * no;
    const float *ys = t->ys + at * no;
    double sse = 0;

    for (size_t i = 0; i < (size_t)rows * no; i++) {
        size_t k = i % no;
        double yhat = tbm_out_user(&t->sc, (int)k, (double)out[i]);
        double e = fabs(yhat - y[i]), d = (double)out[i] - ys[i];

        /* A NaN must count as the worst error, not vanish from max(). */
        if (!(e <= mx[k]))
            mx[k] = isnan(e) ? INFINITY : e;
        sum[k] += e;
        sq[k] += e * e;
        sse += d * d;
    }
    return sse;
}

/* The grid errors of weights p over every row, per output, and their
 * mean squared error in scaled units (*mse); returns the worst output's
 * max error relative to its range. */
static double evaluate(struct trainer *t, const float *p,
                       double stats[TBM_N_STATS][TB_MODEL_MAX_OUT], int *worst,
                       double *mse)
{
    double mx[TB_MODEL_MAX_OUT] = {0}, sum[TB_MODEL_MAX_OUT] = {0};
    double sq[TB_MODEL_MAX_OUT] = {0}, score = -1, sse = 0;
    float *act[TBM_MAX_LAYERS + 1];
    size_t ni = (size_t)t->width0;

    memcpy(act, t->act, sizeof(act));
    for (size_t at = 0; at < t->n; at += (size_t)t->block) {
        int rows = t->n - at < (size_t)t->block ? (int)(t->n - at) : t->block;

        act[0] = t->xs + at * ni;
        tbm_forward(&t->L, p, rows, act, NULL);
        sse += add_errors(t, act[t->L.n_layers], at, rows, mx, sum, sq);
    }
    *mse = sse / ((double)t->n * (double)t->m->n_out);

    for (int k = 0; k < t->m->n_out; k++) {
        stats[TBM_MAX_ABS][k] = mx[k];
        stats[TBM_MAX_REL][k] = mx[k] / t->sc.out_range[k];
        stats[TBM_MEAN_ABS][k] = sum[k] / (double)t->n;
        stats[TBM_RMS][k] = sqrt(sq[k] / (double)t->n);
        if (stats[TBM_MAX_REL][k] > score) {
            score = stats[TBM_MAX_REL][k];
            *worst = k;
        }
    }
    return score;
}

/* Keep p as the best weights when score beats the best so far (or when
 * there is no finite best yet). */
static void consider_best(struct trainer *t, double score,
                          double stats[TBM_N_STATS][TB_MODEL_MAX_OUT])
{
    tbm_state *s = &t->st;

    if (!(score < s->best_score) && isfinite(s->best_score))
        return;
    memcpy(s->best, s->params, s->n_params * sizeof(float));
    memcpy(s->best_stats, stats, sizeof(s->best_stats));
    s->best_score = score;
    s->best_epoch = s->epoch;
}

/* Measure the grid, record history (with the grid's mean squared error
 * as its loss), track the best.  Returns 0 or TB_ENOMEM. */
static int measure(struct trainer *t)
{
    double stats[TBM_N_STATS][TB_MODEL_MAX_OUT], mse;
    double score = evaluate(t, t->st.params, stats, &t->prog.worst, &mse);
    tb_history row = {t->st.epoch, t->st.elapsed, mse, score};

    consider_best(t, score, stats);
    t->prog.max_rel = score;
    t->prog.evaluated = 1;
    return tbm_state_push_history(&t->st, &row, t->err);
}

/* ------------------------------------------------------------------------
 * The loop
 * ------------------------------------------------------------------------ */

/* Why training should stop now, or 0 to go on. */
static int stop_reason(const struct trainer *t)
{
    const tb_train_opts *o = t->o;

    if (o->target > 0 && t->st.best_score <= o->target)
        return TB_STOP_TARGET;
    if (o->stop && *o->stop)
        return TB_INTERRUPTED;
    if (o->max_epochs > 0 && t->st.epoch >= o->max_epochs)
        return TB_STOP_EPOCHS;
    if (t->stuck) {
        tb_info("train: the full-batch phase finds no further decrease at "
                "epoch %ld",
                t->st.epoch);
        return TB_STOP_EPOCHS;
    }
    if (o->time_limit > 0 && tb_now() - t->t_start >= o->time_limit)
        return TB_STOP_TIME;
    return 0;
}

/* Write a checkpoint and prune old ones.  A failure is logged, and
 * training goes on: losing a checkpoint must not lose the run. */
static void checkpoint(struct trainer *t)
{
    const char *dir = t->o->checkpoint_dir;
    tb_error why;

    tb_error_clear(&why);
    if (tbm_ckpt_write(dir, &t->st, &why) == TB_OK &&
        tbm_ckpt_prune(dir, &t->st, t->o->keep, &why) == TB_OK)
        tb_debug("train: checkpoint at epoch %ld in %s", t->st.epoch, dir);
    else
        tb_err("train: checkpoint at epoch %ld failed: %s", t->st.epoch,
               why.text);
    t->last_ckpt = tb_now();
    t->ckpt_epoch = t->st.epoch;
}

/* Bring the progress record up to the state's epoch. */
static void update_progress(struct trainer *t)
{
    t->prog.epoch = t->st.epoch;
    t->prog.max_epochs = t->o->max_epochs;
    t->prog.seconds = t->st.elapsed;
}

/* Epochs until a stop reason; returns it or a negative status. */
static int loop(struct trainer *t)
{
    const tb_train_opts *o = t->o;
    int reason, rc;

    while ((reason = stop_reason(t)) == 0) {
        double loss;

        if ((rc = train_epoch(t, &loss)) != TB_OK)
            return rc;
        t->st.elapsed = t->elapsed0 + (tb_now() - t->t_start);
        t->prog.evaluated = 0;
        if (t->st.epoch % o->eval_every == 0 && (rc = measure(t)) != TB_OK)
            return rc;
        update_progress(t);
        t->prog.loss = loss;
        if (o->progress)
            o->progress(&t->prog, o->progress_data);

        if (o->checkpoint_dir && tb_now() - t->last_ckpt >= o->checkpoint_every)
            checkpoint(t);
    }
    return reason;
}

/* Give m the best weights, their grid errors and the history. */
static void finish_model(struct trainer *t)
{
    tb_model *m = t->m;
    tbm_state *s = &t->st;

    memcpy(m->params, s->best, s->n_params * sizeof(float));
    memset(&m->report, 0, sizeof(m->report));
    m->report.n_grid = (long)t->n;
    for (int k = 0; k < m->n_out; k++) {
        m->report.grid_max_abs[k] = s->best_stats[TBM_MAX_ABS][k];
        m->report.grid_max_rel[k] = s->best_stats[TBM_MAX_REL][k];
        m->report.grid_mean_abs[k] = s->best_stats[TBM_MEAN_ABS][k];
        m->report.grid_rms[k] = s->best_stats[TBM_RMS][k];
    }

    free(m->history);
    m->history = s->hist;
    m->n_history = s->n_hist;
    s->hist = NULL;
    s->n_hist = s->cap_hist = 0;
}

/* The last checkpoint, then a closing measurement when the last epoch was
 * not measured.  The checkpoint comes first so that it holds exactly the
 * state an uninterrupted run has at this epoch. */
static int finish(struct trainer *t, int reason)
{
    tbm_state *s = &t->st;
    int rc = TB_OK;

    if (t->o->checkpoint_dir && t->ckpt_epoch != s->epoch)
        checkpoint(t);
    if (s->n_hist == 0 || s->hist[s->n_hist - 1].epoch != s->epoch ||
        !isfinite(s->best_score))
        rc = measure(t);
    if (rc != TB_OK)
        return rc;

    finish_model(t);
    update_progress(t);
    t->prog.max_rel = s->best_score;
    for (int k = 0; k < t->m->n_out; k++)
        if (s->best_stats[TBM_MAX_REL][k] == s->best_score)
            t->prog.worst = k;
    tb_info("train: stopped at epoch %ld (%s): best grid max_rel %.3g at "
            "epoch %ld, %.1f s",
            s->epoch, tb_status_name(reason), s->best_score, s->best_epoch,
            s->elapsed);
    if (s->lm.evals > 0)
        tb_info("train: Levenberg-Marquardt %ld steps, %ld evaluations, "
                "objective %.3e, damping %.3g",
                s->lm.iter, s->lm.evals, s->lm.f, s->lm.mu);
    if (s->lb.evals > 0)
        tb_info("train: L-BFGS %ld iterations, %ld evaluations, objective "
                "%.3e",
                s->lb.iter, s->lb.evals, s->lb.f);
    return reason;
}

/* Check, allocate, start or resume, loop, finish; OpenBLAS's thread
 * count is restored on the way out. */
int tb_train(tb_model *m, const double *x, const double *y, size_t n,
             const tb_train_opts *o, tb_train_progress *last, tb_error *err)
{
    struct trainer t;
    int threads = tbm_threads_requested();
    int saved = openblas_get_num_threads();
    int rc;

    if (!o)
        return tb_error_set(err, TB_EINVAL, "opts", "no training options");
    if ((rc = check_opts(o, err)) || (rc = check_data(m, x, y, n, err)))
        return rc;

    memset(&t, 0, sizeof(t));
    t.o = o;
    t.err = err;
    openblas_set_num_threads(threads ? threads : TRAIN_THREADS);

    rc = trainer_open(&t, m, x, y, n);
    if (rc == TB_OK)
        rc = start_state(&t);
    if (rc == TB_OK) {
        t.t_start = t.last_ckpt = tb_now();
        t.moved = 1;
        t.ckpt_epoch = -1;
        rc = loop(&t);
        if (rc > 0)
            rc = finish(&t, rc);
    }
    if (rc > 0 && last)
        *last = t.prog;

    trainer_close(&t);
    openblas_set_num_threads(saved);
    return rc;
}

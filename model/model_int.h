/*
 * model_int.h - model/'s internals, shared by its files and its tests: the
 * parameter layout, the batched forward and backward passes, scaling, the
 * random generator, hashing, the training state and its checkpoints, and
 * small HDF5 helpers.  Nothing here is part of the public contract.
 */
#ifndef TB_MODEL_INT_H
#define TB_MODEL_INT_H

#include "model.h"

#include <hdf5.h>
#include <math.h>
#include <stdint.h>

#define TBM_MAX_LAYERS (TB_MODEL_MAX_HIDDEN + 1)
#define TBM_MAX_WIDTH  4096 /* widest hidden layer accepted */

/* ------------------------------------------------------------------------
 * Layout and passes (mlp.c)
 * ------------------------------------------------------------------------ */

/*
 * Where each layer lives in params.  Layer l maps width[l] values to
 * width[l + 1]; its weights W are width[l + 1] rows of width[l] values
 * (row-major), followed by width[l + 1] biases.
 */
typedef struct tbm_layout {
    int n_layers;                  /* hidden layers + the output layer */
    int width[TBM_MAX_LAYERS + 1]; /* width[0] = n_in, last = n_out */
    size_t w_off[TBM_MAX_LAYERS];
    size_t b_off[TBM_MAX_LAYERS];
    int max_width; /* widest of all layers, inputs and outputs included */
    size_t n_params;
    int act; /* the hidden layers' enum tb_activation (tanh unless set) */
} tbm_layout;

/* Fill L for the given shape.  Returns 0 or TB_EINVAL naming what is out of
 * range (layer counts, widths). */
int tbm_layout_init(tbm_layout *L, int n_in, int n_out, int n_hidden,
                    const int *hidden, tb_error *err);

/* The layout of an initialised model (its shape was checked already): the
 * first layer's width is the encoded input's (tbm_encoded_width). */
void tbm_layout_of(const tb_model *m, tbm_layout *L);

/*
 * The forward pass over rows points.  act[0] holds rows x width[0] scaled
 * inputs; act[l] receives rows x width[l] outputs of layer l (L->act for
 * hidden layers, linear for the last).  act[l] and act[l - 1] must not
 * overlap; act[l] and act[l - 2] may (prediction reuses two buffers).
 * pre, when not NULL, receives each hidden layer's pre-activations in
 * pre[l] (rows x width[l], l = 1 .. n_layers - 1) for the backward pass
 * of activations other than tanh; prediction passes NULL.
 */
void tbm_forward(const tbm_layout *L, const float *p, int rows,
                 float *const *act, float *const *pre);

/*
 * The backward pass for a loss whose gradient with respect to the outputs
 * is in delta (rows x n_out).  act and pre hold the forward pass's
 * activations and pre-activations (pre may be NULL for tanh).  delta and
 * tmp are scratch of rows x max_width each and are overwritten; grad
 * receives the gradient of every parameter.
 */
void tbm_backward(const tbm_layout *L, const float *p, int rows,
                  float *const *act, float *const *pre, float *delta,
                  float *tmp, float *grad);

/* Whether L's activation needs the pre-activations kept for backward. */
static inline int tbm_needs_pre(const tbm_layout *L)
{
    return L->act != TB_ACT_TANH;
}

/* Fresh weights from a generator seeded by seed: Glorot-uniform with zero
 * biases for tanh and SiLU; SIREN's rule for sine. */
void tbm_init_params(const tbm_layout *L, float *p, uint64_t seed);

#define TBM_SIREN_W0 30.0 /* SIREN's omega_0, folded into the weights */

/*
 * tanh in float, branch-free so that loops over it vectorise: tanh(x) =
 * expm1(2x) / (expm1(2x) + 2) with expm1 from a range reduction by powers
 * of two and a degree-7 series.  Absolute error below 2e-7 (1.5e-7 over
 * every float in [-10, 10], with or without fused multiply-adds); NaN
 * stays NaN.  Written so that a compiler allowed FMA fuses the series.
 */
static inline float tbm_tanh(float x)
{
    const float log2e2 = 2.88539008f; /* 2 / ln 2 */
    const float ln2_hi = 0.693145751953125f;
    const float ln2_lo = 1.428606765330187e-06f, shifter = 12582912.0f;
    float y, kf, r, q, scale, em1;
    union {
        float f;
        int32_t i;
    } u;

    x = x > 9.0f ? 9.0f : (x < -9.0f ? -9.0f : x);

    /* 2x = k ln2 + r with |r| <= ln2 / 2, k rounded to nearest; k also
     * sits in the low bits of y's significand. */
    y = x * log2e2 + shifter;
    kf = y - shifter;
    r = (2.0f * x - kf * ln2_hi) - kf * ln2_lo;

    /* expm1(r) by its series (the r^8 term is below 6e-9), then
     * expm1(2x) = 2^k expm1(r) + 2^k - 1, 2^k built from y's bits. */
    q = r * (1.0f / 5040.0f) + (1.0f / 720.0f);
    q = q * r + (1.0f / 120.0f);
    q = q * r + (1.0f / 24.0f);
    q = q * r + (1.0f / 6.0f);
    q = q * r + 0.5f;
    q = q * r + 1.0f;
    q = q * r;
    u.f = y;
    u.i = (int32_t)((uint32_t)(u.i + (127 - 0x400000)) << 23);
    scale = u.f;
    em1 = scale * q + (scale - 1.0f);
    return em1 / (em1 + 2.0f);
}

/*
 * sin and cos in float, branch-free like tbm_tanh: x = k pi + r with
 * |r| <= pi / 2 (pi in three parts), odd and even Taylor polynomials in
 * r, and the sign of (-1)^k put in by integer operations.  Arguments are
 * clamped to +-1e5.  Absolute error below 1e-6 for |x| <= 100.
 */
static inline float tbm_sin_red(float x, float *r)
{
    const float inv_pi = 0.318309886f, shifter = 12582912.0f;
    const float pi_a = 3.140625f, pi_b = 9.67502593994140625e-04f;
    const float pi_c = 1.50995803e-07f;
    float kf;
    union {
        float f;
        int32_t i;
    } u;

    x = x > 1e5f ? 1e5f : (x < -1e5f ? -1e5f : x);
    u.f = x * inv_pi + shifter;
    kf = u.f - shifter;
    *r = ((x - kf * pi_a) - kf * pi_b) - kf * pi_c;
    return 1.0f - 2.0f * (float)(u.i & 1); /* (-1)^k */
}

static inline float tbm_sinf(float x)
{
    float r, sign = tbm_sin_red(x, &r), r2, q;

    r2 = r * r;
    q = r2 * (-1.0f / 39916800.0f) + (1.0f / 362880.0f);
    q = q * r2 - (1.0f / 5040.0f);
    q = q * r2 + (1.0f / 120.0f);
    q = q * r2 - (1.0f / 6.0f);
    return sign * (r + r * r2 * q);
}

static inline float tbm_cosf(float x)
{
    float r, sign = tbm_sin_red(x, &r), r2, q;

    r2 = r * r;
    q = r2 * (1.0f / 479001600.0f) - (1.0f / 3628800.0f);
    q = q * r2 + (1.0f / 40320.0f);
    q = q * r2 - (1.0f / 720.0f);
    q = q * r2 + (1.0f / 24.0f);
    q = q * r2 - 0.5f;
    return sign * (1.0f + r2 * q);
}

/* SiLU in float: z sigma(z) with sigma(z) = (1 + tanh(z / 2)) / 2. */
static inline float tbm_silu(float z)
{
    return z * (0.5f + 0.5f * tbm_tanh(0.5f * z));
}

/* ------------------------------------------------------------------------
 * The full-batch objective in double precision (mlp64.c)
 * ------------------------------------------------------------------------ */

/* The weighted mean squared error over every row, in scaled units. */
typedef struct tbm_objective {
    tbm_layout L;
    size_t n;         /* rows */
    const double *xs; /* n x n_in scaled inputs (borrowed) */
    const double *ys; /* n x n_out scaled targets (borrowed) */
    const double *w;  /* n per-row weights, or NULL for all ones (the
                         worst-case objective of train.c sets them) */
    int chunk;        /* rows per pass */
    double *act[TBM_MAX_LAYERS + 1];
    double *pre[TBM_MAX_LAYERS + 1]; /* hidden pre-activations (not tanh) */
    double *delta, *tmp;
    double *block;
} tbm_objective;

/* Allocate the buffers for layout L over n rows.  0 or TB_ENOMEM. */
int tbm_objective_open(tbm_objective *o, const tbm_layout *L, const double *xs,
                       const double *ys, size_t n, tb_error *err);

/* Release the buffers. */
void tbm_objective_close(tbm_objective *o);

/* The objective at weights p; its gradient goes into g. */
double tbm_objective_eval(tbm_objective *o, const double *p, double *g);

/* The objective at weights p, without the gradient. */
double tbm_objective_value(tbm_objective *o, const double *p);

/* The network's outputs (scaled units) at weights p for every row into
 * out (n x n_out). */
void tbm_objective_outputs(tbm_objective *o, const double *p, double *out);

/* The weighted residuals' Jacobian for the chunk of rows from `at`: lines
 * of n_params values into jac, residuals into res; d holds L.n_layers
 * buffers of chunk x max_width.  Returns the number of lines. */
int tbm_objective_jacobian(tbm_objective *o, const double *p, size_t at,
                           double *const *d, double *jac, double *res);

/* ------------------------------------------------------------------------
 * Levenberg-Marquardt (lm.c)
 * ------------------------------------------------------------------------ */

#define TBM_LM_MAX_PARAMS 3000 /* larger networks use L-BFGS */

/* The optimiser's state: the point, its objective and the damping. */
typedef struct tbm_lm {
    size_t n;
    long iter;  /* accepted steps */
    long evals; /* objective evaluations */
    double f;
    double mu;                 /* damping relative to the diagonal of J^T J */
    double *x;                 /* the current point (what a checkpoint holds) */
    double *xt;                /* scratch (tbm_lm_prepare): the trial point, */
    double *a, *c;             /* J^T J and its damped Cholesky factor, */
    double *g;                 /* J^T r, */
    double *jac, *res;         /* a chunk's Jacobian and residuals, */
    double *d[TBM_MAX_LAYERS]; /* and its per-layer deltas */
    double *block;
} tbm_lm;

/* Allocate the point for n weights.  0 or TB_ENOMEM. */
int tbm_lm_alloc(tbm_lm *b, size_t n, tb_error *err);

/* Allocate the steps' scratch for o's network (once).  0 or TB_ENOMEM. */
int tbm_lm_prepare(tbm_lm *b, const tbm_objective *o, tb_error *err);

/* Release and zero. */
void tbm_lm_free(tbm_lm *b);

/* Start at float weights p. */
void tbm_lm_start(tbm_lm *b, tbm_objective *o, const float *p);

/* One step: build J^T J, then damp until the objective falls.  1 when x
 * moved, 0 when no damping gave a decrease. */
int tbm_lm_iterate(tbm_lm *b, tbm_objective *o);

/* ------------------------------------------------------------------------
 * L-BFGS (lbfgs.c)
 * ------------------------------------------------------------------------ */

/* The optimiser's whole state: the point, its value and gradient, and the
 * newest `count` of `mem` pairs in a ring ending before `head`. */
typedef struct tbm_lbfgs {
    size_t n;
    int mem;
    int count, head;
    long iter;  /* iterations that moved x */
    long evals; /* objective evaluations */
    double f;
    double *x, *g;       /* the current point and its gradient */
    double *d, *xt, *gt; /* scratch: direction, trial point, its gradient */
    double *s, *y;       /* mem x n pairs */
    double *rho;         /* 1 / s.y per pair */
    double *alpha;       /* scratch of the two-loop recursion */
    double *block;
} tbm_lbfgs;

/* Allocate for n values and mem pairs.  0 or TB_ENOMEM. */
int tbm_lbfgs_alloc(tbm_lbfgs *b, size_t n, int mem, tb_error *err);

/* Release and zero. */
void tbm_lbfgs_free(tbm_lbfgs *b);

/* Start at float weights p with an empty memory. */
void tbm_lbfgs_start(tbm_lbfgs *b, tbm_objective *o, const float *p);

/* One iteration; 1 when x moved, 0 when no decrease could be found. */
int tbm_lbfgs_iterate(tbm_lbfgs *b, tbm_objective *o);

/* ------------------------------------------------------------------------
 * Scaling (model.c)
 * ------------------------------------------------------------------------ */

/* Affine maps between user units and the network's scaled units. */
typedef struct tbm_scale {
    double in_mid[TB_MODEL_MAX_IN];     /* x_s = (x - mid) * scale, or */
    int in_log[TB_MODEL_MAX_IN];        /* (log x - mid) * scale */
    double in_scale[TB_MODEL_MAX_IN];   /* 2 / (hi - lo) */
    double out_mid[TB_MODEL_MAX_OUT];   /* y = mid + half * y_s */
    double out_half[TB_MODEL_MAX_OUT];  /* range / 2 (a zero range: 1/2) */
    double out_range[TB_MODEL_MAX_OUT]; /* hi - lo, a zero range as 1 */
    int out_log[TB_MODEL_MAX_OUT];      /* mid and half are of log(y + */
    double out_shift[TB_MODEL_MAX_OUT]; /* shift) for these outputs */
} tbm_scale;

/* Input i of x in user units into the network's scaled units. */
static inline double tbm_in_scaled(const tbm_scale *s, int i, double x)
{
    return ((s->in_log[i] ? log(x) : x) - s->in_mid[i]) * s->in_scale[i];
}

/* Output k of y in user units into the network's scaled units. */
static inline double tbm_out_scaled(const tbm_scale *s, int k, double y)
{
    if (s->out_log[k])
        y = log(y + s->out_shift[k]);
    return (y - s->out_mid[k]) / s->out_half[k];
}

/* Output k of the network (scaled units) back into user units. */
static inline double tbm_out_user(const tbm_scale *s, int k, double ys)
{
    double v = s->out_mid[k] + s->out_half[k] * ys;

    return s->out_log[k] ? exp(v) - s->out_shift[k] : v;
}

/* The scaling of m's inputs and outputs. */
void tbm_scale_init(const tb_model *m, tbm_scale *s);

/* The width of m's encoded input: n_in, plus 2 n_fourier. */
int tbm_encoded_width(const tb_model *m);

/* Scale and encode rows points of x (user units) into the network's first
 * layer: rows x tbm_encoded_width(m) values, in float or in double. */
void tbm_encode(const tb_model *m, const tbm_scale *s, const double *x,
                size_t rows, float *xs);
void tbm_encode64(const tb_model *m, const tbm_scale *s, const double *x,
                  size_t rows, double *xd);

/* Give m the encoding matrix B (n_in x n_fourier values, copied) and a
 * fresh, wider first layer; n_fourier 0 removes the encoding.  Weights
 * are redrawn from seed.  Returns 0, TB_EINVAL or TB_ENOMEM. */
int tbm_set_fourier_b(tb_model *m, int n_fourier, double scale, const double *b,
                      uint64_t seed, tb_error *err);

/* Scale rows points of y (user units) into ys (float, scaled units). */
void tbm_scale_outputs(const tbm_scale *s, int n_out, const double *y,
                       size_t rows, float *ys);

/* ------------------------------------------------------------------------
 * Random numbers and hashing (mlp.c)
 * ------------------------------------------------------------------------ */

/* xoshiro256** seeded through splitmix64: small, fast, repeatable. */
typedef struct tbm_rng {
    uint64_t s[4];
} tbm_rng;

/* Seed r from one 64-bit number. */
void tbm_rng_seed(tbm_rng *r, uint64_t seed);

/* The next 64 random bits. */
uint64_t tbm_rng_next(tbm_rng *r);

/* A uniform float in [0, 1). */
float tbm_rng_float(tbm_rng *r);

/* Put idx[0..n) in a random order (Fisher-Yates). */
void tbm_shuffle(tbm_rng *r, size_t *idx, size_t n);

#define TBM_FNV_INIT 0xcbf29ce484222325ull

/* FNV-1a 64 of n bytes at p, continuing from h. */
uint64_t tbm_fnv(uint64_t h, const void *p, size_t n);

/* ------------------------------------------------------------------------
 * Training state and checkpoints (checkpoint.c)
 * ------------------------------------------------------------------------ */

enum { TBM_MAX_ABS, TBM_MAX_REL, TBM_MEAN_ABS, TBM_RMS, TBM_N_STATS };

/* Everything needed to continue a training run as if it never stopped. */
typedef struct tbm_state {
    size_t n_params;
    int n_out;
    float *params; /* the weights being trained */
    float *best;   /* the weights with the lowest grid max_rel so far */
    float *adam_m; /* Adam's first and second moments */
    float *adam_v;
    long epoch;         /* epochs completed */
    long step;          /* optimiser steps taken */
    double elapsed;     /* training seconds over every session */
    double lr_cur;      /* the schedule: the rate of the latest step, */
    long sched_horizon; /* and the epoch where its cosine ends */
    double best_score;  /* grid max_rel of best (INFINITY: none yet) */
    long best_epoch;
    double best_stats[TBM_N_STATS][TB_MODEL_MAX_OUT];
    tbm_rng rng; /* the batch-order generator */
    tb_history *hist;
    size_t n_hist;
    size_t cap_hist;
    uint64_t fp_data; /* fingerprints: the table, */
    uint64_t fp_arch; /* the network's shape and scaling, */
    uint64_t fp_opts; /* the options that change the trajectory */
    tbm_lbfgs lb;     /* the L-BFGS phase (lb.block NULL: none) */
    tbm_lm lm;        /* or the Levenberg-Marquardt one (lm.x NULL: none) */
    double *row_w;    /* the worst-case objective's per-row weights */
    size_t n_rows;    /* (row_w NULL: the objective is the plain mean) */
} tbm_state;

/* Allocate the arrays of a state for n_params weights; fields zeroed.
 * Returns 0 or TB_ENOMEM.  Free with tbm_state_free. */
int tbm_state_alloc(tbm_state *s, size_t n_params, int n_out, tb_error *err);

/* Add the L-BFGS arrays to a state (mem pairs).  0 or TB_ENOMEM. */
int tbm_state_alloc_lbfgs(tbm_state *s, int mem, tb_error *err);

/* Add the Levenberg-Marquardt point to a state.  0 or TB_ENOMEM. */
int tbm_state_alloc_lm(tbm_state *s, tb_error *err);

/* Add the worst-case objective's n_rows per-row weights (all one) to a
 * state.  0 or TB_ENOMEM. */
int tbm_state_alloc_row_w(tbm_state *s, size_t n_rows, tb_error *err);

/* Release what a state holds and zero it. */
void tbm_state_free(tbm_state *s);

/* Append a history row, growing the array when needed.  0 or TB_ENOMEM. */
int tbm_state_push_history(tbm_state *s, const tb_history *h, tb_error *err);

/* The checksum kept in a checkpoint: FNV-1a 64 over every array and
 * scalar of the state. */
uint64_t tbm_state_checksum(const tbm_state *s);

/* Write s as dir/ckpt-<epoch>.h5, atomically.  Returns 0 or TB_EIO. */
int tbm_ckpt_write(const char *dir, const tbm_state *s, tb_error *err);

/*
 * Read the checkpoint at path into s, which was allocated for the expected
 * shape and carries the expected fingerprints.  The file is refused
 * (TB_EFORMAT, s untouched) when it is damaged, its checksum disagrees, or
 * it was made from another table, network or options.
 */
int tbm_ckpt_read(const char *path, tbm_state *s, tb_error *err);

/*
 * Load the newest valid checkpoint in dir into s.  Refused files are logged
 * with tb_warn and the next older one is tried.  Returns 1 when a
 * checkpoint was loaded, 0 when none was (with a warning if some existed),
 * or a negative status.
 */
int tbm_ckpt_resume(const char *dir, tbm_state *s, tb_error *err);

/* Remove this run's checkpoints in dir beyond the newest keep (files from
 * other runs are left alone).  Returns 0 or TB_EIO. */
int tbm_ckpt_prune(const char *dir, const tbm_state *s, int keep,
                   tb_error *err);

/* ------------------------------------------------------------------------
 * HDF5 helpers (h5io.c)
 * ------------------------------------------------------------------------ */

/* An open HDF5 file with the facts error messages need. */
typedef struct tbm_h5 {
    hid_t file;
    const char *path; /* the name shown in messages */
    char tmp[4096];   /* the temporary name while writing */
    int code;         /* TB_EIO when writing, TB_EFORMAT when reading */
    int rc;           /* the first failure; once set, helpers do nothing */
    tb_error *err;
} tbm_h5;

/* Serialise model/'s HDF5 use: the library is built without thread safety.
 * Also silences HDF5's own error printing. */
void tbm_h5_lock(void);
void tbm_h5_unlock(void);

/* Create a temporary file beside path.  Returns 0 or TB_EIO. */
int tbm_h5_create(tbm_h5 *h, const char *path, tb_error *err);

/* Close, fsync, rename over path and fsync the folder.  On any failure the
 * temporary file is removed.  Returns 0 or TB_EIO. */
int tbm_h5_commit(tbm_h5 *h);

/* Close and remove a temporary file after a failed write. */
void tbm_h5_abandon(tbm_h5 *h);

/* Open path for reading.  TB_EIO when it cannot be read at all,
 * TB_EFORMAT when it is not an HDF5 file (or is truncated). */
int tbm_h5_open(tbm_h5 *h, const char *path, tb_error *err);

/* Close a file opened for reading. */
void tbm_h5_close(tbm_h5 *h);

/*
 * Attribute and dataset helpers.  Each returns 0 or the failure it recorded
 * (in h->err, naming the file and the item).  The failure sticks in h->rc:
 * once one call fails, later calls do nothing and return it, so a sequence
 * of calls needs one check at its end.
 *
 * Attribute writers: a string, a string array, numbers of a native type
 * (n == 0 writes a scalar).
 */
int tbm_h5_put_str(tbm_h5 *h, hid_t loc, const char *name, const char *s);
int tbm_h5_put_strs(tbm_h5 *h, hid_t loc, const char *name,
                    const char (*s)[TB_MODEL_NAME_MAX], int n);
int tbm_h5_put_num(tbm_h5 *h, hid_t loc, const char *name, hid_t type,
                   const void *v, size_t n);

/* Write a dataset of rows x cols values (cols == 0: one dimension). */
int tbm_h5_put_data(tbm_h5 *h, hid_t loc, const char *name, hid_t type,
                    const void *v, size_t rows, size_t cols);

/* Attribute readers: they check presence, class and element count. */
int tbm_h5_get_str(tbm_h5 *h, hid_t loc, const char *name, char *buf,
                   size_t size);
int tbm_h5_get_strs(tbm_h5 *h, hid_t loc, const char *name,
                    char (*s)[TB_MODEL_NAME_MAX], int n);
int tbm_h5_get_num(tbm_h5 *h, hid_t loc, const char *name, hid_t type, void *v,
                   size_t n);

/* The element count of a dataset, or h->code when it is missing. */
int tbm_h5_data_size(tbm_h5 *h, hid_t loc, const char *name, size_t *n);

/* Read a dataset that must hold exactly n elements. */
int tbm_h5_get_data(tbm_h5 *h, hid_t loc, const char *name, hid_t type, void *v,
                    size_t n);

/* The HDF5 type of a tb_history row (caller closes it), or -1. */
hid_t tbm_h5_history_type(void);

/* Write and read a history dataset. */
int tbm_h5_put_history(tbm_h5 *h, hid_t loc, const char *name,
                       const tb_history *rows, size_t n);
int tbm_h5_get_history(tbm_h5 *h, hid_t loc, const char *name,
                       tb_history **rows, size_t *n);

/* Record an error about h's file: TB_EFORMAT or TB_EIO with the path. */
int tbm_h5_fail(tbm_h5 *h, const char *fmt, ...) TB_PRINTF(2, 3);

/* Per-cell certificates in the model file (cells.c): group "cells" is
 * written when the model has figures and read when the file has it. */
void tbm_cells_write(tbm_h5 *h, const tb_model *m);
int tbm_cells_read(tbm_h5 *h, tb_model *m);

/* ------------------------------------------------------------------------
 * Threads (model.c)
 * ------------------------------------------------------------------------ */

/* The OpenBLAS thread count asked for with tb_model_set_threads, or 0. */
int tbm_threads_requested(void);

#endif

/*
 * model.h - the surrogate network: a float32 multilayer perceptron trained
 * with OpenBLAS to memorise a table, its HDF5 model file and checkpoints.
 *
 * This library knows OpenBLAS and HDF5; it knows nothing of PDEs or HTTP.
 * A model maps n_in real inputs, each with a closed range (its domain axis),
 * to n_out real outputs.  Inputs are scaled to [-1, 1] from the axes (in
 * log units for log inputs, then optionally Fourier-encoded) and outputs
 * from their ranges (of log(y + shift) for log outputs); callers always
 * see user units.
 */
#ifndef TB_MODEL_H
#define TB_MODEL_H

#include "tb.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define TB_MODEL_MAX_IN      8
#define TB_MODEL_MAX_OUT     8
#define TB_MODEL_MAX_HIDDEN  8
#define TB_MODEL_NAME_MAX    32
#define TB_MODEL_MAX_ATTRS   24
#define TB_MODEL_MAX_FOURIER 256 /* Fourier-feature frequencies */

/* The hidden layers' activation. */
enum tb_activation {
    TB_ACT_TANH = 0,
    TB_ACT_SILU = 1, /* z / (1 + exp(-z)) */
    TB_ACT_SINE = 2, /* sin(z), with SIREN's initialisation (omega_0 = 30
                        folded into the weights) */
};

/* The objective of the full-batch phase of training. */
enum tb_objective {
    TB_OBJ_MSE = 0,   /* mean squared error over every row */
    TB_OBJ_WORST = 1, /* mean squared error first, then weights that grow
                         on the rows with the largest errors */
};

/* The optimiser of the full-batch phase of training. */
enum tb_second {
    TB_SECOND_AUTO = 0,  /* Levenberg-Marquardt up to 3000 weights, then
                            L-BFGS */
    TB_SECOND_LM = 1,    /* Levenberg-Marquardt (J^T J in memory) */
    TB_SECOND_LBFGS = 2, /* limited-memory BFGS */
};

/* One input of the domain: its name, closed range and grid node count. */
typedef struct tb_model_input {
    char name[TB_MODEL_NAME_MAX];
    double lo;
    double hi;
    int n;
} tb_model_input;

/* The error report: measured error against the solver, per output. */
typedef struct tb_report {
    long n_grid;   /* grid nodes measured (0: not measured) */
    long n_probes; /* off-grid probe points measured (0: not measured) */
    double grid_max_abs[TB_MODEL_MAX_OUT];
    double grid_max_rel[TB_MODEL_MAX_OUT]; /* max_abs / output range */
    double grid_mean_abs[TB_MODEL_MAX_OUT];
    double grid_rms[TB_MODEL_MAX_OUT];
    double probe_max_abs[TB_MODEL_MAX_OUT];
    double probe_max_rel[TB_MODEL_MAX_OUT];
    double probe_mean_abs[TB_MODEL_MAX_OUT];
    double probe_rms[TB_MODEL_MAX_OUT];
} tb_report;

/* One row of training history, written at each full-grid evaluation. */
typedef struct tb_history {
    long epoch;
    double seconds;
    double loss;    /* mean squared error in scaled units */
    double max_rel; /* worst output's grid max error / its range */
} tb_history;

/* A free-form key/value attribute kept in the model file (problem name,
 * solver settings, table path...): the model never interprets them. */
typedef struct tb_attr {
    char key[TB_MODEL_NAME_MAX];
    char value[256];
} tb_attr;

/* Per-cell certificates (optional, measured at train time): the max
 * absolute error of each output in each grid cell, at the cell's nodes and
 * its centre (solved fresh).  n_cells is 0 when the model has none. */
typedef struct tb_cells {
    size_t n_cells;  /* the product over inputs of (in[k].n - 1) */
    double *nodes;   /* every input's node coordinates, input after input */
    double *max_abs; /* n_cells rows of n_out figures, last input fastest */
} tb_cells;

typedef struct tb_model {
    int n_in;
    int n_out;
    tb_model_input in[TB_MODEL_MAX_IN];
    char out_name[TB_MODEL_MAX_OUT][TB_MODEL_NAME_MAX];
    double out_lo[TB_MODEL_MAX_OUT]; /* output range, for scaling */
    double out_hi[TB_MODEL_MAX_OUT];

    int n_hidden;                    /* hidden layers */
    int hidden[TB_MODEL_MAX_HIDDEN]; /* their widths */
    int activation;                  /* enum tb_activation */
    float *params;                   /* every weight and bias, layer by layer */
    size_t n_params;

    /* Input encoding: with n_fourier > 0 the network sees the scaled
     * inputs x followed by sin(2 pi B^T x) and cos(2 pi B^T x), where B
     * (fourier_b, n_in rows of n_fourier) was drawn from N(0, scale^2). */
    int n_fourier;
    double fourier_scale;
    double *fourier_b;

    /* Input transforms: in_log[i] set means input i is scaled to [-1, 1]
     * in log units (for log-spaced axes; its lo is positive). */
    int in_log[TB_MODEL_MAX_IN];

    /* Output transforms: out_log[k] set means the network fits
     * log(y + out_shift[k]), scaled over its range; predict inverts it. */
    int out_log[TB_MODEL_MAX_OUT];
    double out_shift[TB_MODEL_MAX_OUT];

    tb_report report;
    tb_history *history;
    size_t n_history;
    tb_attr attrs[TB_MODEL_MAX_ATTRS];
    int n_attrs;
    tb_cells cells; /* per-cell certificates (model/cells.c) */
} tb_model;

/*
 * Build a model with freshly initialised weights (seeded, repeatable).
 * in: n_in domain axes; out_name, out_lo, out_hi: n_out outputs and their
 * ranges (lo == hi is allowed and treated as a unit range).  Returns 0 or a
 * negative status; on failure m holds nothing to free.
 */
int tb_model_init(tb_model *m, int n_in, const tb_model_input *in, int n_out,
                  const char *const *out_name, const double *out_lo,
                  const double *out_hi, int n_hidden, const int *hidden,
                  int activation, uint64_t seed, tb_error *err);

/*
 * Give m a Fourier-feature input encoding of n_fourier frequencies (0:
 * none) drawn from N(0, scale^2) with seed, and redraw every weight from
 * seed for the wider first layer.  Call it right after tb_model_init.
 * Returns 0, TB_EINVAL naming the bad value, or TB_ENOMEM.
 */
int tb_model_set_fourier(tb_model *m, int n_fourier, double scale,
                         uint64_t seed, tb_error *err);

/*
 * Make output k of m a log output: the network fits log(y + shift) and
 * predict returns exp(...) - shift.  out_lo[k] + shift must be positive.
 * Returns 0 or TB_EINVAL.
 */
int tb_model_set_output_log(tb_model *m, int k, double shift, tb_error *err);

/* Scale input i of m in log units (its lo must be positive): for an axis
 * whose nodes are log-spaced.  Returns 0 or TB_EINVAL. */
int tb_model_set_input_log(tb_model *m, int i, tb_error *err);

/* Release what a model holds and zero it.  NULL and zeroed models are fine. */
void tb_model_free(tb_model *m);

/* The index of the input called name, or -1. */
int tb_model_input_index(const tb_model *m, const char *name);

/* The index of the output called name, or -1. */
int tb_model_output_index(const tb_model *m, const char *name);

/* Check that n points (rows of n_in values) are finite and inside the
 * domain.  Returns 0, or TB_EDOMAIN / TB_EINVAL naming the point and input. */
int tb_model_check_domain(const tb_model *m, const double *x, size_t n,
                          tb_error *err);

/*
 * Evaluate the network at n points: x holds n rows of n_in values in user
 * units, y receives n rows of n_out values.  No domain check (see
 * tb_model_check_domain).  Re-entrant and thread-safe for a model nobody is
 * changing.  Returns 0 or TB_ENOMEM.
 */
int tb_model_predict(const tb_model *m, const double *x, size_t n, double *y,
                     tb_error *err);

/*
 * Measure the model against reference values at n points: per output, the
 * max, mean and RMS absolute error.  Any output array may be NULL.
 */
int tb_model_errors(const tb_model *m, const double *x, const double *y_ref,
                    size_t n, double *max_abs, double *mean_abs, double *rms,
                    tb_error *err);

/* The attribute value for key, or NULL. */
const char *tb_model_attr(const tb_model *m, const char *key);

/* Set (or replace) an attribute.  Returns 0, TB_EINVAL or TB_ELIMIT. */
int tb_model_set_attr(tb_model *m, const char *key, const char *value);

/* Write a model file (HDF5): temporary name, fsync, rename into place. */
int tb_model_save(const tb_model *m, const char *path, tb_error *err);

/* Read and check a model file (magic, format version, shapes, finite
 * weights).  Returns 0 or a negative status; on failure m holds nothing. */
int tb_model_load(const char *path, tb_model *m, tb_error *err);

/* Give m per-cell certificates (copied): nodes holds every input's node
 * coordinates (in[k].n each, increasing, from lo to hi), max_abs one row
 * of n_out figures per cell.  Returns 0, TB_EINVAL or TB_ENOMEM. */
int tb_model_set_cells(tb_model *m, const double *nodes, const double *max_abs,
                       tb_error *err);

/* The certified max absolute error of output j at point x (n_in values
 * inside the domain): the figure of the cell x falls in, or -1 when the
 * model has no cell figures. */
double tb_model_cell_error(const tb_model *m, const double *x, int j);

/*
 * Give m, already built for a new domain and output ranges, the weights of
 * old (same inputs, outputs and hidden widths), re-expressed so that the
 * network computes old's function in user units.  For a warm start when a
 * problem's ranges or solver settings changed slightly.  Returns 0 or
 * TB_EINVAL naming what does not fit.
 */
int tb_model_warm_start(tb_model *m, const tb_model *old, tb_error *err);

/*
 * The threads model/ may use in this process (default 1): OpenBLAS's
 * threads while training, and the threads a prediction of many points
 * (4096 or more per thread) is split among.  OpenBLAS itself is set to
 * one thread outside training, so that the two never oversubscribe the
 * cores.
 */
void tb_model_set_threads(int n);

/* ------------------------------------------------------------------------
 * Training: memorise every row of (x, y); no validation split.
 * ------------------------------------------------------------------------ */

typedef struct tb_train_progress {
    long epoch;
    long max_epochs;
    double seconds;
    double loss;    /* last epoch's mean squared error, scaled units */
    double max_rel; /* last full-grid max error relative to range */
    int worst;      /* output with the largest max_rel */
    int evaluated;  /* 1 when max_rel was measured at this epoch */
} tb_train_progress;

typedef struct tb_train_opts {
    int batch;                  /* mini-batch size (default 1024) */
    double lr;                  /* peak learning rate (default 1e-3) */
    double lr_min;              /* floor of the schedule (0: lr / 100) */
    long max_epochs;            /* default 2000; 0: no limit, which needs a
                                   time limit: Adam's cosine then follows
                                   this call's clock to the time limit (not
                                   repeatable bit for bit) */
    double time_limit;          /* seconds; 0 means none */
    double target;              /* stop when every output's grid max error /
                                   range is at most this; 0 means never */
    int eval_every;             /* epochs between full-grid measurements (10) */
    uint64_t seed;              /* batch order (1); the initial weights
                                   come from tb_model_init's seed */
    const char *checkpoint_dir; /* NULL: no checkpoints */
    double checkpoint_every;    /* seconds between checkpoints (60);
                                   0: after every epoch */
    int keep;                   /* checkpoints kept (3) */
    int resume;                 /* continue from the newest valid checkpoint */
    long lbfgs_after;           /* Adam epochs before the full-batch phase
                                   in double precision (Levenberg-Marquardt
                                   or L-BFGS, see second); -1: Adam only
                                   (default) */
    int lbfgs_mem;              /* L-BFGS pairs kept (default 20) */
    int second;                 /* enum tb_second (default auto) */
    int freeze;                 /* the first `freeze` layers keep their
                                   weights (default 0; Adam only) */
    int objective;              /* enum tb_objective of the full-batch
                                   phase (default mse) */
    volatile sig_atomic_t *stop; /* set non-zero to stop cleanly */
    void (*progress)(const tb_train_progress *p, void *data);
    void *progress_data;
} tb_train_opts;

/* Set every field to its default. */
void tb_train_opts_default(tb_train_opts *o);

/*
 * Train m to memorise n rows: x holds n rows of n_in inputs, y n rows of
 * n_out outputs, both in user units.  On return m holds the weights with
 * the lowest grid max error seen, its history and the grid part of its
 * report.  Returns why training stopped (TB_STOP_TARGET, TB_STOP_EPOCHS,
 * TB_STOP_TIME, TB_INTERRUPTED) or a negative status.  last (may be NULL)
 * receives the final progress record.
 *
 * Adam (bias-corrected) on the mean squared error in scaled units; the rate
 * warms up over 100 steps, then follows a cosine from lr down to lr_min at
 * max_epochs (or where the full-batch phase begins).  With lbfgs_after >= 0
 * Adam then hands over to a full-batch optimiser in double precision:
 * Levenberg-Marquardt for networks up to 3000 weights, L-BFGS beyond (or
 * as `second` says), one step per "epoch", stopping early when it finds
 * no further decrease (TB_STOP_EPOCHS).  With objective TB_OBJ_WORST that
 * phase takes 20 steps on the mean squared error, then before every step
 * weights each row by 1 + 30 (e / e_max)^6, e being the row's largest
 * error relative to its output's range (train.c says why these numbers);
 * L-BFGS keeps the plain mean.
 * History rows (loss: the grid's mean squared error) are taken every eval_every
 * epochs and at the end.  time_limit counts this call only.  A fresh run starts
 * from m's weights and replaces its history; a resumed one continues the
 * checkpoint's run exactly when the options are unchanged.  Checkpoints from
 * another table, network or options (batch, lr, lr_min, seed, eval_every) are
 * refused with a warning.  OpenBLAS uses one thread here unless
 * tb_model_set_threads said otherwise.
 */
int tb_train(tb_model *m, const double *x, const double *y, size_t n,
             const tb_train_opts *o, tb_train_progress *last, tb_error *err);

#endif

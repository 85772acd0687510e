/*
 * lbfgs.c - limited-memory BFGS in double precision over the full-batch
 * objective of mlp64.c: the two-loop recursion for the direction and a
 * backtracking line search with safeguarded quadratic interpolation under
 * the Armijo condition.  A pair (s, y) enters the memory only when its
 * curvature s.y is clearly positive, so the implied matrix stays positive
 * definite without a Wolfe search.
 *
 * The whole optimiser state lives in tbm_lbfgs so that a checkpoint can
 * hold it and a resumed run continue bit for bit.
 */
#include "model_int.h"

#include <stdlib.h>
#include <string.h>

#define ARMIJO_C1  1e-4
#define MAX_TRIALS 30
#define CURV_MIN   1e-12 /* s.y must exceed this times y.y */
#define FIRST_STEP 1e-3  /* the first step's length, in scaled units */

/* Allocate the state of an optimiser over n values keeping mem pairs.
 * Returns 0 or TB_ENOMEM; free with tbm_lbfgs_free. */
int tbm_lbfgs_alloc(tbm_lbfgs *b, size_t n, int mem, tb_error *err)
{
    size_t total = n * (5 + 2 * (size_t)mem) + 2 * (size_t)mem;

    memset(b, 0, sizeof(*b));
    b->block = calloc(total, sizeof(double));
    if (!b->block)
        return tb_error_set(err, TB_ENOMEM, "train",
                            "cannot allocate L-BFGS state for %zu weights "
                            "and %d pairs",
                            n, mem);
    b->n = n;
    b->mem = mem;
    b->x = b->block;
    b->g = b->x + n;
    b->d = b->g + n;
    b->xt = b->d + n;
    b->gt = b->xt + n;
    b->s = b->gt + n;
    b->y = b->s + n * (size_t)mem;
    b->rho = b->y + n * (size_t)mem;
    b->alpha = b->rho + mem;
    return TB_OK;
}

/* Release the state and zero it. */
void tbm_lbfgs_free(tbm_lbfgs *b)
{
    if (!b)
        return;
    free(b->block);
    memset(b, 0, sizeof(*b));
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;

    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* Start at the float weights p: x = p, f and g evaluated, memory empty. */
void tbm_lbfgs_start(tbm_lbfgs *b, tbm_objective *o, const float *p)
{
    for (size_t i = 0; i < b->n; i++)
        b->x[i] = (double)p[i];
    b->f = tbm_objective_eval(o, b->x, b->g);
    b->count = b->head = 0;
    b->iter = 0;
    b->evals = 1;
}

/* d = -H g by the two-loop recursion over the stored pairs. */
static void direction(tbm_lbfgs *b)
{
    size_t n = b->n;
    double gamma = 1;

    for (size_t i = 0; i < n; i++)
        b->d[i] = -b->g[i];
    for (int k = 0; k < b->count; k++) {
        int j = (b->head - 1 - k + b->mem) % b->mem;
        const double *s = b->s + (size_t)j * n, *y = b->y + (size_t)j * n;
        double a = b->rho[j] * dot(s, b->d, n);

        b->alpha[j] = a;
        for (size_t i = 0; i < n; i++)
            b->d[i] -= a * y[i];
    }

    /* The initial matrix: gamma I with gamma = s.y / y.y of the newest. */
    if (b->count > 0) {
        int j = (b->head - 1 + b->mem) % b->mem;
        const double *y = b->y + (size_t)j * n;

        gamma = 1.0 / (b->rho[j] * dot(y, y, n));
    }
    for (size_t i = 0; i < n; i++)
        b->d[i] *= gamma;

    for (int k = b->count - 1; k >= 0; k--) {
        int j = (b->head - 1 - k + b->mem) % b->mem;
        const double *s = b->s + (size_t)j * n, *y = b->y + (size_t)j * n;
        double beta = b->rho[j] * dot(y, b->d, n);

        for (size_t i = 0; i < n; i++)
            b->d[i] += (b->alpha[j] - beta) * s[i];
    }
}

/* Store s = xt - x, y = gt - g when their curvature is positive. */
static void remember(tbm_lbfgs *b)
{
    size_t n = b->n;
    double *s = b->s + (size_t)b->head * n, *y = b->y + (size_t)b->head * n;
    double sy, yy;

    for (size_t i = 0; i < n; i++) {
        s[i] = b->xt[i] - b->x[i];
        y[i] = b->gt[i] - b->g[i];
    }
    sy = dot(s, y, n);
    yy = dot(y, y, n);
    if (!(sy > CURV_MIN * yy) || !(yy > 0))
        return;
    b->rho[b->head] = 1.0 / sy;
    b->head = (b->head + 1) % b->mem;
    if (b->count < b->mem)
        b->count++;
}

/* The next trial step after t failed with value ft: the minimiser of the
 * quadratic through f, the slope gd and ft, kept within [t/10, t/2]. */
static double shrink(double f, double gd, double t, double ft)
{
    double q = -gd * t * t / (2.0 * (ft - f - gd * t));

    if (!isfinite(q) || q < 0.1 * t)
        return 0.1 * t;
    return q > 0.5 * t ? 0.5 * t : q;
}

/* One iteration: a direction, a line search along it, and the memory
 * update.  Returns 1 when x moved, 0 when no decrease was found along the
 * steepest direction either (the optimiser is stuck at this precision). */
int tbm_lbfgs_iterate(tbm_lbfgs *b, tbm_objective *o)
{
    size_t n = b->n;
    double gd, t = 1, ft;

    direction(b);
    gd = dot(b->g, b->d, n);
    if (!(gd < 0)) {
        /* Not a descent direction: forget the memory, go downhill. */
        b->count = b->head = 0;
        direction(b);
        gd = dot(b->g, b->d, n);
        if (!(gd < 0))
            return 0;
    }
    if (b->count == 0)
        t = FIRST_STEP / sqrt(dot(b->d, b->d, n));

    for (int k = 0; k < MAX_TRIALS; k++) {
        for (size_t i = 0; i < n; i++)
            b->xt[i] = b->x[i] + t * b->d[i];
        ft = tbm_objective_eval(o, b->xt, b->gt);
        b->evals++;
        if (isfinite(ft) && ft <= b->f + ARMIJO_C1 * t * gd)
            break;
        t = shrink(b->f, gd, t, ft);
        if (k == MAX_TRIALS - 1) {
            b->count = b->head = 0;
            return 0;
        }
    }

    remember(b);
    memcpy(b->x, b->xt, n * sizeof(double));
    memcpy(b->g, b->gt, n * sizeof(double));
    b->f = ft;
    b->iter++;
    return 1;
}

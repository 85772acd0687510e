/*
 * lm.c - Levenberg-Marquardt in double precision for networks small enough
 * that J^T J fits in memory (TBM_LM_MAX_PARAMS weights): J^T J and J^T r
 * are accumulated chunk by chunk with dsyrk and dgemv, so the Jacobian is
 * never held whole; each step solves (J^T J + mu diag(J^T J)) dx = -J^T r
 * by Cholesky (LAPACK's dpotrf from OpenBLAS) and keeps it only when the
 * objective falls, raising mu until it does.
 *
 * The state that carries over between steps is x, f and mu, so a
 * checkpoint holds it whole.
 */
#include "model_int.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS's own C implementation of LAPACK's Cholesky factorisation. */
extern int dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
                   int *info);

#define MU_START  1e-3
#define MU_MIN    1e-15
#define MU_MAX    1e10
#define MAX_TRIES 12
#define DIAG_MIN  1e-12 /* a floor under diag(J^T J) for dead weights */

/* Allocate x, the state a checkpoint holds.  0 or TB_ENOMEM. */
int tbm_lm_alloc(tbm_lm *b, size_t n, tb_error *err)
{
    memset(b, 0, sizeof(*b));
    b->x = calloc(n, sizeof(double));
    if (!b->x)
        return tb_error_set(err, TB_ENOMEM, "train",
                            "cannot allocate %zu weights for "
                            "Levenberg-Marquardt",
                            n);
    b->n = n;
    return TB_OK;
}

/* Allocate the scratch of the steps once: the trial point, J^T J, its
 * factor, J^T r and a chunk's Jacobian and deltas.  0 or TB_ENOMEM. */
int tbm_lm_prepare(tbm_lm *b, const tbm_objective *o, tb_error *err)
{
    size_t n = b->n, no = (size_t)o->L.width[o->L.n_layers];
    size_t lines = (size_t)o->chunk * no;
    size_t dsz = (size_t)o->chunk * (size_t)o->L.max_width;
    size_t total =
        2 * n + 2 * n * n + lines * (n + 1) + (size_t)o->L.n_layers * dsz;
    double *at;

    if (b->block)
        return TB_OK;
    b->block = malloc(total * sizeof(double));
    if (!b->block)
        return tb_error_set(err, TB_ENOMEM, "train",
                            "cannot allocate %zu doubles for "
                            "Levenberg-Marquardt (%zu weights)",
                            total, n);
    b->xt = b->block;
    b->g = b->xt + n;
    b->a = b->g + n;
    b->c = b->a + n * n;
    b->jac = b->c + n * n;
    b->res = b->jac + lines * n;
    at = b->res + lines;
    for (int l = 0; l < o->L.n_layers; l++, at += dsz)
        b->d[l] = at;
    return TB_OK;
}

/* Release x and the scratch; the state is zeroed. */
void tbm_lm_free(tbm_lm *b)
{
    if (!b)
        return;
    free(b->x);
    free(b->block);
    memset(b, 0, sizeof(*b));
}

/* Start at the float weights p with the initial damping. */
void tbm_lm_start(tbm_lm *b, tbm_objective *o, const float *p)
{
    for (size_t i = 0; i < b->n; i++)
        b->x[i] = (double)p[i];
    b->f = tbm_objective_value(o, b->x);
    b->mu = MU_START;
    b->iter = 0;
    b->evals = 1;
}

/* J^T J (upper triangle, row-major) and J^T r at x, over every chunk. */
static void normal_equations(tbm_lm *b, tbm_objective *o)
{
    size_t n = b->n;

    memset(b->a, 0, n * n * sizeof(double));
    memset(b->g, 0, n * sizeof(double));
    for (size_t at = 0; at < o->n; at += (size_t)o->chunk) {
        int lines = tbm_objective_jacobian(o, b->x, at, b->d, b->jac, b->res);

        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n, lines, 1.0,
                    b->jac, (int)n, 1.0, b->a, (int)n);
        cblas_dgemv(CblasRowMajor, CblasTrans, lines, (int)n, 1.0, b->jac,
                    (int)n, b->res, 1, 1.0, b->g, 1);
    }
}

/* Solve (A + mu diag A) dx = -g into xt = x + dx; 0, or -1 when the
 * damped matrix is not positive definite. */
static int damped_step(tbm_lm *b)
{
    size_t n = b->n;
    int nn = (int)n, info = 0;

    memcpy(b->c, b->a, n * n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        b->c[i * n + i] += b->mu * fmax(b->a[i * n + i], DIAG_MIN);

    /* Row-major upper is column-major lower: C = U^T U with U upper. */
    dpotrf_("L", &nn, b->c, &nn, &info);
    if (info != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        b->xt[i] = -b->g[i];
    cblas_dtrsv(CblasRowMajor, CblasUpper, CblasTrans, CblasNonUnit, nn, b->c,
                nn, b->xt, 1);
    cblas_dtrsv(CblasRowMajor, CblasUpper, CblasNoTrans, CblasNonUnit, nn, b->c,
                nn, b->xt, 1);
    for (size_t i = 0; i < n; i++)
        b->xt[i] += b->x[i];
    return 0;
}

/* One step: the normal equations once, then trial steps with rising
 * damping until one lowers the objective. */
int tbm_lm_iterate(tbm_lm *b, tbm_objective *o)
{
    normal_equations(b, o);
    for (int k = 0; k < MAX_TRIES; k++) {
        double ft;

        if (damped_step(b) == 0) {
            ft = tbm_objective_value(o, b->xt);
            b->evals++;
            if (isfinite(ft) && ft < b->f) {
                memcpy(b->x, b->xt, b->n * sizeof(double));
                b->f = ft;
                b->mu = fmax(b->mu / 3, MU_MIN);
                b->iter++;
                return 1;
            }
        }
        b->mu = fmin(b->mu * 4, MU_MAX);
    }
    return 0;
}

/*
 * linear.c - the baseline a surrogate must beat: multilinear interpolation
 * on the table itself.  Its grid error is zero by construction; its error
 * between nodes, its memory (the whole table) and its time per query are
 * what `tabula compare --baseline linear` sets beside the network's.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The cell of axis a holding v and the weight of its upper node, with the
 * nodes where the axis's spacing puts them: found by arithmetic on a
 * uniform axis, by bisection on a log or Chebyshev one. */
static size_t locate(const tb_axis *a, double v, double *frac)
{
    size_t lo = 0, hi = (size_t)a->n - 1;
    double x0;

    if (a->spacing == TB_SPACING_UNIFORM) {
        double s = (v - a->lo) / (a->hi - a->lo) * (double)(a->n - 1);

        s = fmin(fmax(s, 0), (double)(a->n - 1));
        lo = s < (double)(a->n - 2) ? (size_t)s : (size_t)a->n - 2;
        *frac = s - (double)lo;
        return lo;
    }
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (v >= tb_axis_node(a, (int)mid))
            lo = mid;
        else
            hi = mid;
    }
    x0 = tb_axis_node(a, (int)lo);
    *frac = fmin(fmax((v - x0) / (tb_axis_node(a, (int)lo + 1) - x0), 0), 1);
    return lo;
}

/* Interpolate every output at one point x (the table's input order). */
static void eval_one(const tb_table *t, const double *x, double *y)
{
    int d = t->n_params + t->n_coords;
    size_t base[TB_MAX_INPUTS], stride[TB_MAX_INPUTS], s = 1;
    double frac[TB_MAX_INPUTS];

    for (int k = d - 1; k >= 0; k--) {
        stride[k] = s;
        base[k] = locate(&t->axes[k], x[k], &frac[k]);
        s *= (size_t)t->axes[k].n;
    }
    for (int o = 0; o < t->n_outputs; o++)
        y[o] = 0;

    /* The 2^d corners of the cell, each weighted by its distance. */
    for (unsigned c = 0; c < (1u << d); c++) {
        size_t node = 0;
        double w = 1;

        for (int k = 0; k < d; k++) {
            int up = (c >> k) & 1;

            node += (base[k] + (size_t)up) * stride[k];
            w *= up ? frac[k] : 1 - frac[k];
        }
        if (w == 0)
            continue;
        for (int o = 0; o < t->n_outputs; o++)
            y[o] += w * t->values[(size_t)o * t->n_nodes + node];
    }
}

/* Multilinear interpolation on t's grid at n points (rows of the table's
 * inputs); y receives n rows of n_outputs values. */
void cli_linear_eval(const tb_table *t, const double *x, size_t n, double *y)
{
    int d = t->n_params + t->n_coords;

    for (size_t i = 0; i < n; i++)
        eval_one(t, x + i * (size_t)d, y + i * (size_t)t->n_outputs);
}

/* The bytes the interpolator holds: the table's values and its axes. */
size_t cli_linear_bytes(const tb_table *t)
{
    return t->n_nodes * (size_t)t->n_outputs * sizeof(double) + sizeof(t->axes);
}

/* Per-output errors of the interpolator against reference values. */
static void add_errors(const tb_model *m, const double *yhat, const double *y,
                       size_t n, cli_errors *e)
{
    int no = m->n_out;

    memset(e, 0, sizeof(*e));
    for (size_t i = 0; i < n; i++)
        e->failed += !isfinite(y[i * (size_t)no]);
    e->n = n - e->failed;
    for (size_t i = 0; i < n * (size_t)no; i++) {
        int k = (int)(i % (size_t)no);
        double err = fabs(yhat[i] - y[i]);

        if (!isfinite(y[i - (size_t)k]))
            continue;
        e->max_abs[k] = fmax(e->max_abs[k], err);
        e->mean_abs[k] += err / (double)e->n;
        e->rms[k] += err * err / (double)e->n;
    }
    for (int k = 0; k < no; k++) {
        e->rms[k] = sqrt(e->rms[k]);
        e->max_rel[k] = e->max_abs[k] / cli_output_range(m, k);
    }
}

/* The interpolator's errors at the model's probe points (the same points
 * and seed as the surrogate's figures), and its seconds per query. */
int cli_linear_probe_errors(const tb_model *m, const tb_table *t,
                            const tb_problem *p, const tb_solver_opts *o,
                            size_t want, cli_errors *e, double *per_query,
                            tb_error *err)
{
    double *x = NULL, *y = NULL, *yhat = NULL, t0;
    size_t n = 0, reps = 0, no = (size_t)m->n_out;
    int rc;

    memset(e, 0, sizeof(*e));
    rc = cli_probe_points(m, want, CLI_PROBE_SEED, &x, &n, err);
    if (rc != 0 || n == 0)
        goto out;
    y = malloc(n * no * sizeof(*y));
    yhat = malloc(n * no * sizeof(*yhat));
    if (!y || !yhat) {
        rc = tb_error_set(err, TB_ENOMEM, "baseline", "%zu points", n);
        goto out;
    }

    /* Failed probe solves are NaN and would poison the figures. */
    rc = tb_solve_points(p, o, x, n, y, NULL, err);
    if (rc < 0)
        goto out;
    rc = 0;
    t0 = tb_now();
    do {
        cli_linear_eval(t, x, n, yhat);
        reps++;
    } while (tb_now() - t0 < 0.2);
    *per_query = (tb_now() - t0) / (double)(reps * n);
    add_errors(m, yhat, y, n, e);
out:
    free(x);
    free(y);
    free(yhat);
    return rc;
}

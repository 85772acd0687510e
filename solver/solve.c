/*
 * solve.c - the two public ways to run the solver: one parameter tuple over
 * a grid of coordinates, and a batch of arbitrary points, grouped so that
 * points sharing a parameter tuple share one integration.
 */
#include "solver_int.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fill_nan(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = NAN;
}

/* Copy the options (NULL: all defaults) and resolve them against p. */
static int resolve_opts(const tb_problem *p, const tb_solver_opts *o,
                        tb_solver_opts *out, tb_error *err)
{
    memset(out, 0, sizeof(*out));
    if (o)
        *out = *o;
    return tb_solver_opts_resolve(p, out, err);
}

/* ---- one tuple over a coordinate grid -------------------------------- */

struct grid_job {
    const tb_axis *xa; /* the x axis; NULL for an ODE (t alone) */
    int nx;            /* x nodes, 1 for an ODE */
    int nt;            /* time nodes */
    size_t count;      /* coordinate nodes: nx * nt */
    int n_outputs;
    double *out; /* [output][x][t] */
};

/* Interpolate every x node of the grid at time node j. */
static int grid_visit(void *data, int j, const mol_ctx *c, const double *fields)
{
    struct grid_job *g = data;
    size_t nodes = tbs_mol_nodes(c);

    for (int o = 0; o < g->n_outputs; o++) {
        double *row = g->out + (size_t)o * g->count;

        for (int ix = 0; ix < g->nx; ix++) {
            double x = g->xa ? tb_axis_node(g->xa, ix) : 0.0;

            row[(size_t)ix * g->nt + j] =
                tbs_mol_interp(c, fields + o * nodes, x);
        }
    }
    return TB_OK;
}

static int check_grid_args(const tb_problem *p, const double *params,
                           const tb_axis *coords, tb_error *err)
{
    int rc = TB_OK;

    for (int k = 0; k < p->n_params && rc == 0; k++)
        rc = tbs_check_value(p, k, params[k], -1, err);
    for (int k = 0; k < p->n_coords && rc == 0; k++)
        rc = tb_axis_check(p, p->n_params + k, &coords[k], err);
    return rc;
}

/* Solve one parameter tuple over the coordinate grid coords; see
 * solver.h.  out is the caller's; on failure it holds only NaN. */
int tb_solve_grid(const tb_problem *p, const tb_solver_opts *o,
                  const double *params, const tb_axis *coords, double *out,
                  tb_error *err)
{
    struct grid_job g;
    tb_solver_opts opts;
    double *times;
    int rc;

    if (!p || !params || !coords || !out)
        return tb_error_set(err, TB_EINVAL, "tb_solve_grid",
                            "a problem, parameters, coordinate axes and an "
                            "output buffer are all required");
    rc = resolve_opts(p, o, &opts, err);
    if (rc == 0)
        rc = check_grid_args(p, params, coords, err);
    if (rc != 0)
        return rc;

    g.xa = p->n_coords == 2 ? &coords[0] : NULL;
    g.nx = g.xa ? g.xa->n : 1;
    g.nt = coords[p->n_coords - 1].n;
    g.count = (size_t)g.nx * (size_t)g.nt;
    g.n_outputs = p->n_outputs;
    g.out = out;
    fill_nan(out, g.count * (size_t)p->n_outputs);

    times = malloc(sizeof(double) * (size_t)g.nt);
    if (!times)
        return tb_error_set(err, TB_ENOMEM, "tb_solve_grid",
                            "no memory for %d output times", g.nt);
    for (int j = 0; j < g.nt; j++)
        times[j] = tb_axis_node(&coords[p->n_coords - 1], j);

    rc = tbs_mol_solve(p, &opts, params, times, g.nt, grid_visit, &g, err);
    if (rc != 0)
        fill_nan(out, g.count * (size_t)p->n_outputs);
    free(times);
    return rc;
}

/* ---- a batch of points ----------------------------------------------- */

struct sort_ctx {
    const double *in;
    int n_inputs;
    int n_params;
};

/* Order points by parameter tuple, then time, then position in the batch,
 * so that each tuple's points are contiguous and in time order. */
static int cmp_points(const void *a, const void *b, void *data)
{
    const struct sort_ctx *s = data;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const double *pi = s->in + i * (size_t)s->n_inputs;
    const double *pj = s->in + j * (size_t)s->n_inputs;
    int t = s->n_inputs - 1;

    for (int k = 0; k < s->n_params; k++)
        if (pi[k] != pj[k])
            return pi[k] < pj[k] ? -1 : 1;
    if (pi[t] != pj[t])
        return pi[t] < pj[t] ? -1 : 1;
    return (i > j) - (i < j);
}

/* One group of points sharing a parameter tuple, sorted by time. */
struct point_job {
    const tb_problem *p;
    const double *in;
    double *out;
    const size_t *idx; /* the group's points */
    const int *slot;   /* the time index of each of them */
    size_t n;
    size_t next; /* the next point to answer */
};

/* Answer the group's points whose time is time node j. */
static int point_visit(void *data, int j, const mol_ctx *c,
                       const double *fields)
{
    struct point_job *g = data;
    int ni = g->p->n_params + g->p->n_coords;
    size_t nodes = tbs_mol_nodes(c);

    /* For an ODE, x is the time itself, which interpolation ignores. */
    while (g->next < g->n && g->slot[g->next] == j) {
        size_t i = g->idx[g->next++];
        double x = g->in[i * (size_t)ni + g->p->n_params];

        for (int o = 0; o < g->p->n_outputs; o++)
            g->out[i * (size_t)g->p->n_outputs + o] =
                tbs_mol_interp(c, fields + o * nodes, x);
    }
    return TB_OK;
}

/* Integrate the group idx[0..n) once, through its distinct times. */
static int solve_group(struct point_job *g, const tb_solver_opts *o,
                       double *times, int *slot, tb_error *err)
{
    int ni = g->p->n_params + g->p->n_coords;
    int nt = 0;

    for (size_t k = 0; k < g->n; k++) {
        double t = g->in[g->idx[k] * (size_t)ni + ni - 1];

        if (nt == 0 || t != times[nt - 1])
            times[nt++] = t;
        slot[k] = nt - 1;
    }
    g->slot = slot;
    g->next = 0;
    return tbs_mol_solve(g->p, o, g->in + g->idx[0] * (size_t)ni, times, nt,
                         point_visit, g, err);
}

/* Mark a failed group: NaN outputs and the status for each of its points. */
static void fail_group(const struct point_job *g, int rc, int *status)
{
    int no = g->p->n_outputs;

    for (size_t k = 0; k < g->n; k++) {
        fill_nan(g->out + g->idx[k] * (size_t)no, (size_t)no);
        if (status)
            status[g->idx[k]] = rc;
    }
}

static int check_points(const tb_problem *p, const double *in, size_t n,
                        tb_error *err)
{
    int ni = p->n_params + p->n_coords;

    if (n > INT_MAX || n > SIZE_MAX / sizeof(double) / (size_t)ni)
        return tb_error_set(err, TB_EINVAL, "points",
                            "%zu points is more than one call can take", n);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < ni; k++) {
            int rc = tbs_check_value(p, k, in[i * ni + k], (long)i, err);

            if (rc != 0)
                return rc;
        }
    return TB_OK;
}

/* Solve each group of points sharing a tuple; returns the failures. */
static size_t solve_groups(struct point_job *g, const size_t *idx, size_t n,
                           const tb_solver_opts *o, double *times, int *slot,
                           int *status, tb_error *err)
{
    int np = g->p->n_params, ni = np + g->p->n_coords;
    size_t failed = 0, end;

    for (size_t start = 0; start < n; start = end) {
        const double *first = g->in + idx[start] * (size_t)ni;
        int rc;

        for (end = start + 1; end < n; end++)
            if (memcmp(first, g->in + idx[end] * (size_t)ni,
                       sizeof(double) * (size_t)np) != 0)
                break;
        g->idx = idx + start;
        g->n = end - start;
        rc = solve_group(g, o, times, slot, err);
        if (rc != 0) {
            fail_group(g, rc, status);
            failed += g->n;
        }
    }
    return failed;
}

/* Solve at n arbitrary points; see solver.h.  Returns 0, TB_PARTIAL when
 * some points failed (their status negative, their outputs NaN), or a
 * negative status when the call itself is invalid. */
int tb_solve_points(const tb_problem *p, const tb_solver_opts *o,
                    const double *in, size_t n, double *out, int *status,
                    tb_error *err)
{
    struct sort_ctx sc;
    struct point_job g = {.p = p, .in = in, .out = out};
    tb_solver_opts opts;
    size_t *idx = NULL, failed;
    double *times = NULL;
    int *slot = NULL, rc;

    if (!p || (n > 0 && (!in || !out)))
        return tb_error_set(err, TB_EINVAL, "tb_solve_points",
                            "a problem, input points and an output buffer "
                            "are all required");
    rc = resolve_opts(p, o, &opts, err);
    if (rc == 0)
        rc = check_points(p, in, n, err);
    if (rc != 0 || n == 0)
        return rc;

    fill_nan(out, n * (size_t)p->n_outputs);
    if (status)
        memset(status, 0, n * sizeof(int));
    idx = malloc(n * sizeof(size_t));
    times = malloc(n * sizeof(double));
    slot = malloc(n * sizeof(int));
    if (!idx || !times || !slot) {
        rc = tb_error_set(err, TB_ENOMEM, "tb_solve_points",
                          "no memory to sort %zu points", n);
        for (size_t i = 0; status && i < n; i++)
            status[i] = rc;
        goto cleanup;
    }

    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sc = (struct sort_ctx){in, p->n_params + p->n_coords, p->n_params};
    qsort_r(idx, n, sizeof(size_t), cmp_points, &sc);

    failed = solve_groups(&g, idx, n, &opts, times, slot, status, err);
    rc = failed ? TB_PARTIAL : TB_OK;

cleanup:
    free(idx);
    free(times);
    free(slot);
    return rc;
}

/*
 * cells.c - `tabula train --cells`: measure the trained model's max error
 * in every grid cell, at the cell's nodes (against the table) and at its
 * centre (solved fresh), and keep the figures in the model.  The service
 * then certifies each answer with the figure of the cell it falls in.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Work arrays of one measurement. */
struct cells_work {
    size_t n_cells;
    double *nodes;    /* every axis's node coordinates */
    double *node_err; /* per table node and output: |model - table| */
    double *centres;  /* per cell: its centre (problem order) */
    double *solved;   /* per cell: the solver's outputs at the centre */
    int *status;
    double *pred;    /* per cell: the model at the centre */
    double *max_abs; /* per cell and output: the figure */
};

static void work_free(struct cells_work *w)
{
    free(w->nodes);
    free(w->node_err);
    free(w->centres);
    free(w->solved);
    free(w->status);
    free(w->pred);
    free(w->max_abs);
}

static int work_alloc(struct cells_work *w, const tb_table *t, int n_out,
                      size_t n_nodes, tb_error *err)
{
    int n_in = t->n_params + t->n_coords;
    size_t n_coords = 0, c = w->n_cells;

    for (int k = 0; k < n_in; k++)
        n_coords += (size_t)t->axes[k].n;
    w->nodes = malloc(n_coords * sizeof(double));
    w->node_err = malloc(n_nodes * (size_t)n_out * sizeof(double));
    w->centres = malloc(c * (size_t)n_in * sizeof(double));
    w->solved = malloc(c * (size_t)t->n_outputs * sizeof(double));
    w->status = malloc(c * sizeof(int));
    w->pred = malloc(c * (size_t)n_out * sizeof(double));
    w->max_abs = calloc(c * (size_t)n_out, sizeof(double));
    if (!w->nodes || !w->node_err || !w->centres || !w->solved || !w->status ||
        !w->pred || !w->max_abs)
        return tb_error_set(err, TB_ENOMEM, "cells", "%zu cells", c);
    return 0;
}

/* Node coordinates per axis, and each cell's centre. */
static void place(struct cells_work *w, const tb_table *t)
{
    int n_in = t->n_params + t->n_coords;
    size_t first[TB_MAX_INPUTS], used = 0;

    for (int k = 0; k < n_in; k++) {
        first[k] = used;
        for (int i = 0; i < t->axes[k].n; i++)
            w->nodes[used++] = tb_axis_node(&t->axes[k], i);
    }

    /* Cells are numbered row-major, the last axis fastest. */
    for (size_t c = 0; c < w->n_cells; c++) {
        size_t rest = c;

        for (int k = n_in - 1; k >= 0; k--) {
            size_t cells_k = (size_t)t->axes[k].n - 1, i = rest % cells_k;
            const double *v = w->nodes + first[k];

            rest /= cells_k;
            w->centres[c * (size_t)n_in + (size_t)k] = 0.5 * (v[i] + v[i + 1]);
        }
    }
}

/* The max node error over the 2^d corners of cell c, into its figures. */
static void corners(struct cells_work *w, const tb_table *t, int n_out,
                    size_t c)
{
    int n_in = t->n_params + t->n_coords;
    size_t base[TB_MAX_INPUTS], stride[TB_MAX_INPUTS], rest = c;

    for (int k = n_in - 1, s = 1; k >= 0; k--) {
        size_t cells_k = (size_t)t->axes[k].n - 1;

        base[k] = rest % cells_k;
        rest /= cells_k;
        stride[k] = (size_t)s;
        s *= t->axes[k].n;
    }
    for (unsigned bits = 0; bits < (1u << n_in); bits++) {
        size_t node = 0;

        for (int k = 0; k < n_in; k++)
            node += (base[k] + ((bits >> k) & 1)) * stride[k];
        for (int j = 0; j < n_out; j++)
            w->max_abs[c * (size_t)n_out + (size_t)j] =
                fmax(w->max_abs[c * (size_t)n_out + (size_t)j],
                     w->node_err[node * (size_t)n_out + (size_t)j]);
    }
}

/* The problem's index of output name, or 0. */
static size_t output_index(const tb_problem *p, const char *name)
{
    for (int k = 0; k < p->n_outputs; k++)
        if (strcmp(p->outputs[k], name) == 0)
            return (size_t)k;
    return 0;
}

/* Solve every centre and fold the centre errors into the figures. */
static int centres(struct cells_work *w, const tb_model *m, const tb_table *t,
                   tb_error *err)
{
    const tb_problem *p;
    tb_solver_opts o;
    size_t n_out = (size_t)m->n_out, n_pout = (size_t)t->n_outputs;
    int rc = cli_model_solver(m, &p, &o, err);

    if (rc == 0)
        rc = tb_solve_points(p, &o, w->centres, w->n_cells, w->solved,
                             w->status, err);
    if (rc == 0)
        rc = tb_model_predict(m, w->centres, w->n_cells, w->pred, err);
    if (rc != 0)
        return tb_error_set(err, rc < 0 ? rc : TB_ESOLVER, "cells",
                            "the solver failed at a cell centre; no cell "
                            "figures can be certified");

    for (size_t c = 0; c < w->n_cells; c++)
        for (size_t j = 0; j < n_out; j++) {
            size_t k = output_index(p, m->out_name[j]);
            double s = w->solved[c * n_pout + k];
            double *f = &w->max_abs[c * n_out + j];

            *f = fmax(*f, fabs(w->pred[c * n_out + j] - s));
        }
    return 0;
}

/* Measure and keep per-cell certificates.  See cli.h. */
int cli_cells_measure(tb_model *m, const tb_table *t, const double *x,
                      const double *y, size_t n, tb_error *err)
{
    struct cells_work w = {.n_cells = 1};
    size_t n_out = (size_t)m->n_out;
    int rc;

    if (n != t->n_nodes || m->n_in != t->n_params + t->n_coords)
        return tb_error_set(err, TB_EINVAL, "cells",
                            "the table has %zu of %zu nodes; cell figures "
                            "need every node",
                            n, t->n_nodes);
    for (int k = 0; k < m->n_in; k++)
        w.n_cells *= (size_t)t->axes[k].n - 1;
    rc = work_alloc(&w, t, m->n_out, n, err);
    if (rc == 0)
        rc = tb_model_predict(m, x, n, w.node_err, err);
    if (rc != 0)
        goto out;

    for (size_t i = 0; i < n * n_out; i++)
        w.node_err[i] = fabs(w.node_err[i] - y[i]);
    place(&w, t);
    for (size_t c = 0; c < w.n_cells; c++)
        corners(&w, t, m->n_out, c);
    rc = centres(&w, m, t, err);
    if (rc == 0)
        rc = tb_model_set_cells(m, w.nodes, w.max_abs, err);
out:
    work_free(&w);
    return rc;
}

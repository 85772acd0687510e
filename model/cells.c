/*
 * cells.c - per-cell certificates: the max error of each output in each
 * grid cell, measured at train time, kept in the model file (group
 * "cells": datasets "nodes" and "max_abs") and looked up per point.
 *
 * A cell is the box between neighbouring nodes of every input; cells are
 * numbered row-major with the last input fastest, as grid nodes are.
 */
#include "model_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- checking and setting ---------------------------------------------- */

/* The number of cells of m's grid, or 0 when an input has fewer than two
 * nodes. */
static size_t cell_count(const tb_model *m)
{
    size_t n = 1;

    for (int k = 0; k < m->n_in; k++) {
        if (m->in[k].n < 2)
            return 0;
        n *= (size_t)(m->in[k].n - 1);
    }
    return n;
}

/* The number of node coordinates of m's grid, input after input. */
static size_t node_count(const tb_model *m)
{
    size_t n = 0;

    for (int k = 0; k < m->n_in; k++)
        n += (size_t)m->in[k].n;
    return n;
}

/* Nodes increase along each input from its lo to its hi; figures are
 * finite and not negative. */
static int check_cells(const tb_model *m, const double *nodes,
                       const double *max_abs, size_t n_cells, tb_error *err)
{
    const double *v = nodes;

    for (int k = 0; k < m->n_in; v += m->in[k].n, k++) {
        int n = m->in[k].n;

        if (v[0] != m->in[k].lo || v[n - 1] != m->in[k].hi)
            return tb_error_set(err, TB_EINVAL, m->in[k].name,
                                "cell nodes of '%s' run from %g to %g; the "
                                "domain is [%g, %g]",
                                m->in[k].name, v[0], v[n - 1], m->in[k].lo,
                                m->in[k].hi);
        for (int i = 1; i < n; i++)
            if (!(v[i] > v[i - 1]))
                return tb_error_set(err, TB_EINVAL, m->in[k].name,
                                    "cell nodes of '%s' do not increase at "
                                    "node %d",
                                    m->in[k].name, i);
    }
    for (size_t i = 0; i < n_cells * (size_t)m->n_out; i++)
        if (!isfinite(max_abs[i]) || max_abs[i] < 0)
            return tb_error_set(err, TB_EINVAL, "cells",
                                "cell figure %zu is %g; expected a finite "
                                "number >= 0",
                                i, max_abs[i]);
    return 0;
}

/* Copy per-cell certificates into m.  See model.h. */
int tb_model_set_cells(tb_model *m, const double *nodes, const double *max_abs,
                       tb_error *err)
{
    size_t n_cells, n_nodes;
    double *nv, *mv;

    if (!m || !nodes || !max_abs || m->n_in < 1 || m->n_out < 1)
        return tb_error_set(err, TB_EINVAL, "tb_model_set_cells",
                            "a model, nodes and figures are needed");
    n_cells = cell_count(m);
    n_nodes = node_count(m);
    if (n_cells == 0)
        return tb_error_set(err, TB_EINVAL, "cells",
                            "an input has fewer than two nodes: no cells");
    if (check_cells(m, nodes, max_abs, n_cells, err) != 0)
        return err ? err->code : TB_EINVAL;

    nv = malloc(n_nodes * sizeof(*nv));
    mv = malloc(n_cells * (size_t)m->n_out * sizeof(*mv));
    if (!nv || !mv) {
        free(nv);
        free(mv);
        return tb_error_set(err, TB_ENOMEM, "cells", "%zu cells", n_cells);
    }
    memcpy(nv, nodes, n_nodes * sizeof(*nv));
    memcpy(mv, max_abs, n_cells * (size_t)m->n_out * sizeof(*mv));
    free(m->cells.nodes);
    free(m->cells.max_abs);
    m->cells = (tb_cells){n_cells, nv, mv};
    return 0;
}

/* ---- lookup -------------------------------------------------------------- */

/* The cell of axis v (n nodes) holding x: the i with v[i] <= x <= v[i+1],
 * clamped to [0, n - 2]. */
static size_t locate(const double *v, int n, double x)
{
    size_t lo = 0, hi = (size_t)n - 1;

    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (x < v[mid])
            hi = mid;
        else
            lo = mid;
    }
    return lo;
}

/* The cell figure at x for output j, or -1.  See model.h. */
double tb_model_cell_error(const tb_model *m, const double *x, int j)
{
    const double *v;
    size_t cell = 0;

    if (!m || !x || m->cells.n_cells == 0 || j < 0 || j >= m->n_out)
        return -1;
    v = m->cells.nodes;
    for (int k = 0; k < m->n_in; v += m->in[k].n, k++)
        cell = cell * (size_t)(m->in[k].n - 1) + locate(v, m->in[k].n, x[k]);
    return m->cells.max_abs[cell * (size_t)m->n_out + (size_t)j];
}

/* ---- the model file -------------------------------------------------------
 */

/* Write group "cells" when m has cell figures. */
void tbm_cells_write(tbm_h5 *h, const tb_model *m)
{
    hid_t g;

    if (h->rc || m->cells.n_cells == 0)
        return;
    g = H5Gcreate2(h->file, "cells", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
        tbm_h5_fail(h, "cannot create group 'cells'");
        return;
    }
    tbm_h5_put_data(h, g, "nodes", H5T_NATIVE_DOUBLE, m->cells.nodes,
                    node_count(m), 0);
    tbm_h5_put_data(h, g, "max_abs", H5T_NATIVE_DOUBLE, m->cells.max_abs,
                    m->cells.n_cells, (size_t)m->n_out);
    H5Gclose(g);
}

/* Read group "cells" when the file has one, and check it.  Returns h->rc. */
int tbm_cells_read(tbm_h5 *h, tb_model *m)
{
    size_t n_cells = cell_count(m), n_nodes = node_count(m);
    size_t have_nodes = 0, have_max = 0;
    double *nodes = NULL, *max_abs = NULL;
    tb_error err;
    hid_t g;

    if (h->rc || H5Lexists(h->file, "cells", H5P_DEFAULT) <= 0)
        return h->rc;
    if (n_cells == 0 || (g = H5Gopen2(h->file, "cells", H5P_DEFAULT)) < 0)
        return tbm_h5_fail(h, "group 'cells' is unreadable or has no grid");

    /* Sizes come from the file: check them before trusting them with an
     * allocation, so a damaged file cannot ask for gigabytes. */
    if (tbm_h5_data_size(h, g, "nodes", &have_nodes) != 0 ||
        tbm_h5_data_size(h, g, "max_abs", &have_max) != 0 ||
        have_nodes != n_nodes || have_max != n_cells * (size_t)m->n_out) {
        H5Gclose(g);
        return tbm_h5_fail(h,
                           "group 'cells' holds %zu nodes and %zu "
                           "figures; the grid has %zu and %zu",
                           have_nodes, have_max, n_nodes,
                           n_cells * (size_t)m->n_out);
    }

    nodes = malloc(n_nodes * sizeof(*nodes));
    max_abs = malloc(n_cells * (size_t)m->n_out * sizeof(*max_abs));
    if (!nodes || !max_abs)
        tbm_h5_fail(h, "out of memory for %zu cells", n_cells);
    tbm_h5_get_data(h, g, "nodes", H5T_NATIVE_DOUBLE, nodes, n_nodes);
    tbm_h5_get_data(h, g, "max_abs", H5T_NATIVE_DOUBLE, max_abs,
                    n_cells * (size_t)m->n_out);
    H5Gclose(g);

    tb_error_clear(&err);
    if (!h->rc && tb_model_set_cells(m, nodes, max_abs, &err) != 0)
        tbm_h5_fail(h, "group 'cells': %s", err.text);
    free(nodes);
    free(max_abs);
    return h->rc;
}

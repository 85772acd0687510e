/*
 * report.c - the error report shared by train and compare: the model's
 * problem and solver settings from its attributes, probe points at cell
 * centres solved fresh, errors at every table node, and printing.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_CHUNK 256 /* probe points per solver call, for progress */

/* ------------------------------------------------------------------------
 * The model's problem.
 * ------------------------------------------------------------------------ */

double cli_output_range(const tb_model *m, int k)
{
    double r = m->out_hi[k] - m->out_lo[k];

    return r > 0 ? r : 1.0;
}

/* Check that the model's inputs and outputs are the problem's, in order. */
static int match_problem(const tb_model *m, const tb_problem *p, tb_error *err)
{
    if (m->n_in != p->n_params + p->n_coords || m->n_out != p->n_outputs)
        return tb_error_set(err, TB_EFORMAT, p->name,
                            "the model has %d inputs and %d outputs; the "
                            "problem has %d and %d",
                            m->n_in, m->n_out, p->n_params + p->n_coords,
                            p->n_outputs);

    for (int k = 0; k < m->n_in; k++)
        if (strcmp(m->in[k].name, p->inputs[k].name) != 0)
            return tb_error_set(err, TB_EFORMAT, m->in[k].name,
                                "model input %d is '%s'; %s expects '%s'", k,
                                m->in[k].name, p->name, p->inputs[k].name);

    for (int k = 0; k < m->n_out; k++)
        if (strcmp(m->out_name[k], p->outputs[k]) != 0)
            return tb_error_set(err, TB_EFORMAT, m->out_name[k],
                                "model output %d is '%s'; %s gives '%s'", k,
                                m->out_name[k], p->name, p->outputs[k]);
    return 0;
}

/* Read one numeric attribute written by `tabula train`. */
static int attr_number(const tb_model *m, const char *key, double *v,
                       tb_error *err)
{
    const char *s = tb_model_attr(m, key);

    if (!s)
        return tb_error_set(err, TB_EFORMAT, key,
                            "the model has no '%s' attribute (was it "
                            "written by tabula train?)",
                            key);
    if (tb_parse_double(s, v) != 0)
        return tb_error_set(err, TB_EFORMAT, key,
                            "attribute '%s' is '%s', not a number", key, s);
    return 0;
}

int cli_model_solver(const tb_model *m, const tb_problem **p, tb_solver_opts *o,
                     tb_error *err)
{
    const char *name = tb_model_attr(m, "problem");
    double steps = 0, mesh = 0;

    if (!name)
        return tb_error_set(err, TB_EFORMAT, "problem",
                            "the model has no 'problem' attribute (was it "
                            "written by tabula train?)");
    *p = tb_problem_find(name);
    if (!*p)
        return tb_error_set(err, TB_NOT_FOUND, name,
                            "the model was trained for problem '%s', which "
                            "this build of tabula does not know",
                            name);
    if (match_problem(m, *p, err) != 0)
        return err ? err->code : TB_EFORMAT;

    memset(o, 0, sizeof(*o));
    if (attr_number(m, "solver_rtol", &o->rtol, err) ||
        attr_number(m, "solver_atol", &o->atol, err) ||
        attr_number(m, "solver_max_steps", &steps, err) ||
        attr_number(m, "solver_mesh", &mesh, err))
        return TB_EFORMAT;
    o->max_steps = (long)steps;
    o->mesh = (int)mesh;
    return tb_solver_opts_resolve(*p, o, err);
}

/* ------------------------------------------------------------------------
 * Probe points: cell centres of the model's grid.
 * ------------------------------------------------------------------------ */

/* splitmix64: a small, well-mixed generator for drawing cells. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int compare_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return (x > y) - (x < y);
}

/* The number of grid cells, or SIZE_MAX when it does not fit. */
static size_t cell_count(const tb_model *m)
{
    size_t total = 1;

    for (int k = 0; k < m->n_in; k++) {
        size_t c = (size_t)(m->in[k].n - 1);
        if (c == 0 || total > SIZE_MAX / 2 / c)
            return c == 0 ? 0 : SIZE_MAX;
        total *= c;
    }
    return total;
}

/* Draw want distinct cell indices out of total (total > want), sorted.
 * A small grid is shuffled; in a large one repeats are redrawn. */
static int draw_cells(size_t total, size_t want, uint64_t seed, size_t *idx)
{
    uint64_t state = seed;
    size_t count = 0;

    if (total <= 4 * want) {
        size_t *all = malloc(total * sizeof(*all));
        if (!all)
            return TB_ENOMEM;
        for (size_t i = 0; i < total; i++)
            all[i] = i;
        for (size_t i = 0; i < want; i++) {
            size_t j = i + next_random(&state) % (total - i);
            size_t t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        memcpy(idx, all, want * sizeof(*idx));
        free(all);
        qsort(idx, want, sizeof(*idx), compare_size);
        return 0;
    }

    /* Few repeats are expected: draw, sort, drop repeats, top up. */
    while (count < want) {
        size_t kept = 0;
        for (size_t i = count; i < want; i++)
            idx[i] = next_random(&state) % total;
        qsort(idx, want, sizeof(*idx), compare_size);
        for (size_t i = 0; i < want; i++)
            if (kept == 0 || idx[i] != idx[kept - 1])
                idx[kept++] = idx[i];
        count = kept;
    }
    return 0;
}

/* The model's axes with their spacings (the "spacings" attribute train
 * writes, "uniform,log,..."; uniform when absent or unreadable). */
static void model_axes(const tb_model *m, tb_axis *axes)
{
    const char *list = tb_model_attr(m, "spacings");

    for (int k = 0; k < m->n_in; k++) {
        const char *end = list ? strchr(list, ',') : NULL;
        size_t len = list ? (end ? (size_t)(end - list) : strlen(list)) : 0;
        char name[16] = "";

        memset(&axes[k], 0, sizeof(axes[k]));
        axes[k].lo = m->in[k].lo;
        axes[k].hi = m->in[k].hi;
        axes[k].n = m->in[k].n;
        if (len < sizeof(name) && list)
            memcpy(name, list, len);
        axes[k].spacing = tb_spacing_parse(name) > 0 ? tb_spacing_parse(name)
                                                     : TB_SPACING_UNIFORM;
        if (axes[k].spacing == TB_SPACING_LOG && !(axes[k].lo > 0))
            axes[k].spacing = TB_SPACING_UNIFORM;
        list = end ? end + 1 : NULL;
    }
}

/* The centre of cell c (row-major, the last input fastest): midway
 * between two neighbouring nodes, geometrically on a log axis. */
static void cell_centre(const tb_model *m, size_t c, double *x)
{
    tb_axis axes[TB_MODEL_MAX_IN];

    model_axes(m, axes);
    for (int k = m->n_in - 1; k >= 0; k--) {
        size_t cells = (size_t)(m->in[k].n - 1);
        int i = (int)(c % cells);
        double a = tb_axis_node(&axes[k], i), b = tb_axis_node(&axes[k], i + 1);

        x[k] = axes[k].spacing == TB_SPACING_LOG ? sqrt(a * b) : 0.5 * (a + b);
        c /= cells;
    }
}

int cli_probe_points(const tb_model *m, size_t want, uint64_t seed, double **x,
                     size_t *n, tb_error *err)
{
    size_t total = cell_count(m);
    size_t *idx = NULL;
    int rc = 0;

    *x = NULL;
    *n = want < total ? want : total;
    if (*n == 0)
        return 0;

    idx = malloc(*n * sizeof(*idx));
    *x = malloc(*n * (size_t)m->n_in * sizeof(**x));
    if (!idx || !*x) {
        rc = tb_error_set(err, TB_ENOMEM, "probes", "%zu points", *n);
        goto out;
    }

    if (total <= want) {
        for (size_t i = 0; i < total; i++)
            idx[i] = i;
    } else if ((rc = draw_cells(total, want, seed, idx)) != 0) {
        tb_error_set(err, rc, "probes", "drawing %zu cells", want);
        goto out;
    }

    for (size_t i = 0; i < *n; i++)
        cell_centre(m, idx[i], *x + i * (size_t)m->n_in);
out:
    free(idx);
    if (rc != 0) {
        free(*x);
        *x = NULL;
        *n = 0;
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Measuring.
 * ------------------------------------------------------------------------ */

/* Where the chunk starting at s ends: at least PROBE_CHUNK points, and
 * never between two points sharing a parameter tuple. */
static size_t chunk_end(const double *x, size_t n, int n_in, int n_params,
                        size_t s)
{
    size_t e = s + PROBE_CHUNK;
    size_t row = (size_t)n_in;

    if (e >= n)
        return n;
    while (e < n && memcmp(x + (e - 1) * row, x + e * row,
                           (size_t)n_params * sizeof(*x)) == 0)
        e++;
    return e;
}

/* Solve every probe point, a chunk at a time, showing progress. */
static int solve_probes(const tb_problem *p, const tb_solver_opts *o,
                        const double *x, size_t n, double *y, int *status,
                        tb_error *err)
{
    size_t n_in = (size_t)(p->n_params + p->n_coords);
    size_t n_out = (size_t)p->n_outputs;
    cli_progress pr;
    int rc = 0;

    cli_progress_init(&pr, "probes");
    for (size_t s = 0, e; s < n && rc >= 0; s = e) {
        e = chunk_end(x, n, (int)n_in, p->n_params, s);
        rc = tb_solve_points(p, o, x + s * n_in, e - s, y + s * n_out,
                             status + s, err);
        cli_progress_show(&pr, 0, "done=%zu total=%zu", e, n);
    }
    cli_progress_end(&pr);
    return rc < 0 ? rc : 0;
}

/* Measure the model at the first n rows of (x, y) into e. */
static int measure(const tb_model *m, const double *x, const double *y,
                   size_t n, cli_errors *e, tb_error *err)
{
    int rc;

    e->n = n;
    for (int k = 0; k < m->n_out; k++)
        e->max_abs[k] = e->max_rel[k] = e->mean_abs[k] = e->rms[k] = NAN;
    if (n == 0)
        return 0;

    rc = tb_model_errors(m, x, y, n, e->max_abs, e->mean_abs, e->rms, err);
    if (rc != 0)
        return rc;
    for (int k = 0; k < m->n_out; k++)
        e->max_rel[k] = e->max_abs[k] / cli_output_range(m, k);
    return 0;
}

/* Move the rows whose status is 0 to the front; returns how many. */
static size_t keep_solved(double *x, double *y, const int *status, size_t n,
                          int n_in, int n_out)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        if (status[i] != 0)
            continue;
        memmove(x + kept * n_in, x + i * n_in, n_in * sizeof(*x));
        memmove(y + kept * n_out, y + i * n_out, n_out * sizeof(*y));
        kept++;
    }
    return kept;
}

int cli_probe_errors(const tb_model *m, const tb_problem *p,
                     const tb_solver_opts *o, size_t want, uint64_t seed,
                     cli_errors *e, tb_error *err)
{
    double *x = NULL, *y = NULL;
    int *status = NULL;
    size_t n, kept;
    int rc;

    memset(e, 0, sizeof(*e));
    rc = cli_probe_points(m, want, seed, &x, &n, err);
    if (rc == 0 && n < want)
        tb_info("probes: %zu asked for, but the grid has only %zu cells; "
                "measuring one probe at the centre of each",
                want, n);
    if (rc != 0 || n == 0)
        return rc != 0 ? rc : measure(m, NULL, NULL, 0, e, err);

    y = malloc(n * (size_t)m->n_out * sizeof(*y));
    status = malloc(n * sizeof(*status));
    if (!y || !status) {
        rc = tb_error_set(err, TB_ENOMEM, "probes", "%zu points", n);
        goto out;
    }

    rc = solve_probes(p, o, x, n, y, status, err);
    if (rc != 0)
        goto out;
    kept = keep_solved(x, y, status, n, m->n_in, m->n_out);
    if (kept < n)
        tb_warn("probes: the solver failed at %zu of %zu probe points; "
                "they are left out of the probe figures",
                n - kept, n);
    rc = measure(m, x, y, kept, e, err);
    e->failed = n - kept;
out:
    free(x);
    free(y);
    free(status);
    return rc;
}

static const char *const activation_names[] = {
    [TB_ACT_TANH] = "tanh",
    [TB_ACT_SILU] = "silu",
    [TB_ACT_SINE] = "sine",
};

#define N_ACTIVATIONS                                                          \
    (int)(sizeof(activation_names) / sizeof(*activation_names))

void cli_net_default(cli_net *net)
{
    *net = (cli_net){TB_ACT_TANH, 0, 1.0, 1, "auto"};
}

const char *cli_activation_name(int a)
{
    return a >= 0 && a < N_ACTIVATIONS ? activation_names[a] : NULL;
}

int cli_activation_parse(const char *name)
{
    for (int a = 0; name && a < N_ACTIVATIONS; a++)
        if (strcmp(name, activation_names[a]) == 0)
            return a;
    return -1;
}

/* Output k becomes a log output; named says the user asked for it. */
static int log_output(tb_model *m, int k, int named, tb_error *err)
{
    if (m->out_lo[k] > 0)
        return tb_model_set_output_log(m, k, 0.0, err);
    if (!named)
        return TB_OK;
    return tb_error_set(err, TB_EINVAL, "log-outputs",
                        "output %s reaches %g; a log transform needs "
                        "positive values",
                        m->out_name[k], m->out_lo[k]);
}

/* Apply --log-outputs: auto, none, or a comma-separated list of names. */
static int log_outputs(tb_model *m, const char *spec, tb_error *err)
{
    char buf[512], *save = NULL;
    int rc = TB_OK;

    if (strcmp(spec, "none") == 0)
        return TB_OK;
    if (strcmp(spec, "auto") == 0) {
        for (int k = 0; k < m->n_out && rc == TB_OK; k++)
            if (m->out_lo[k] > 0 &&
                m->out_hi[k] / m->out_lo[k] >= CLI_LOG_DECADES)
                rc = log_output(m, k, 0, err);
        return rc;
    }
    snprintf(buf, sizeof(buf), "%s", spec);
    for (char *name = strtok_r(buf, ",", &save); name && rc == TB_OK;
         name = strtok_r(NULL, ",", &save)) {
        int k = tb_model_output_index(m, name);

        if (k < 0)
            return tb_error_set(err, TB_EINVAL, "log-outputs",
                                "no output called '%s'; expected auto, none "
                                "or output names",
                                name);
        rc = log_output(m, k, 1, err);
    }
    return rc;
}

/* The encoding, the log inputs of log-spaced axes and the log outputs. */
static int apply_net(tb_model *m, const tb_table *t, const cli_net *net,
                     uint64_t seed, tb_error *err)
{
    int rc = TB_OK;

    if (net->n_fourier > 0)
        rc = tb_model_set_fourier(m, net->n_fourier, net->fourier_scale, seed,
                                  err);
    for (int i = 0; i < m->n_in && rc == TB_OK && net->log_inputs; i++)
        if (t->axes[i].spacing == TB_SPACING_LOG && t->axes[i].lo > 0)
            rc = tb_model_set_input_log(m, i, err);
    if (rc == TB_OK)
        rc = log_outputs(m, net->log_outputs, err);
    return rc;
}

int cli_model_for_table(tb_model *m, const tb_table *t, const double *y,
                        size_t n, int n_hidden, const int *hidden,
                        const cli_net *net, uint64_t seed, tb_error *err)
{
    cli_net defaults;
    int rc;
    tb_model_input in[TB_MODEL_MAX_IN];
    const char *names[TB_MODEL_MAX_OUT];
    double lo[TB_MODEL_MAX_OUT], hi[TB_MODEL_MAX_OUT];
    int n_in = t->n_params + t->n_coords, n_out = t->n_outputs;

    for (int k = 0; k < n_in; k++) {
        memset(&in[k], 0, sizeof(in[k]));
        snprintf(in[k].name, sizeof(in[k].name), "%s", t->axes[k].name);
        in[k].lo = t->axes[k].lo;
        in[k].hi = t->axes[k].hi;
        in[k].n = t->axes[k].n;
    }

    /* Every output's range over the rows: the model's output scaling. */
    for (int k = 0; k < n_out; k++) {
        names[k] = t->outputs[k];
        lo[k] = INFINITY;
        hi[k] = -INFINITY;
    }
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < n_out; k++) {
            double v = y[i * (size_t)n_out + (size_t)k];
            lo[k] = v < lo[k] ? v : lo[k];
            hi[k] = v > hi[k] ? v : hi[k];
        }

    if (!net) {
        cli_net_default(&defaults);
        net = &defaults;
    }
    rc = tb_model_init(m, n_in, in, n_out, names, lo, hi, n_hidden, hidden,
                       net->activation, seed, err);
    if (rc == TB_OK && (rc = apply_net(m, t, net, seed, err)) != TB_OK)
        tb_model_free(m);
    return rc;
}

int cli_table_rows(const tb_table *t, double **x, double **y, size_t *n,
                   tb_error *err)
{
    size_t n_in = (size_t)(t->n_params + t->n_coords);
    size_t n_out = (size_t)t->n_outputs;
    size_t kept = 0;

    *x = malloc((t->n_nodes ? t->n_nodes : 1) * n_in * sizeof(**x));
    *y = malloc((t->n_nodes ? t->n_nodes : 1) * n_out * sizeof(**y));
    if (!*x || !*y) {
        free(*x);
        free(*y);
        *x = *y = NULL;
        return tb_error_set(err, TB_ENOMEM, "table", "%zu nodes", t->n_nodes);
    }

    /* The table is [output][node]; rows are one node's inputs or outputs. */
    for (size_t i = 0; i < t->n_nodes; i++) {
        if (t->status[i] != 0)
            continue;
        tb_table_node(t, i, *x + kept * n_in);
        for (size_t k = 0; k < n_out; k++)
            (*y)[kept * n_out + k] = t->values[k * t->n_nodes + i];
        kept++;
    }
    *n = kept;
    if (kept == 0) {
        free(*x);
        free(*y);
        *x = *y = NULL;
        return tb_error_set(err, TB_EINVAL, "table",
                            "every one of the table's %zu nodes failed to "
                            "solve; there is nothing to measure against",
                            t->n_nodes);
    }
    return 0;
}

/* Check that a table has the model's inputs and outputs. */
static int match_table(const tb_model *m, const tb_table *t, tb_error *err)
{
    if (t->n_params + t->n_coords != m->n_in || t->n_outputs != m->n_out)
        return tb_error_set(err, TB_EINVAL, t->problem,
                            "the table has %d inputs and %d outputs; the "
                            "model has %d and %d",
                            t->n_params + t->n_coords, t->n_outputs, m->n_in,
                            m->n_out);
    for (int k = 0; k < m->n_in; k++)
        if (strcmp(t->axes[k].name, m->in[k].name) != 0)
            return tb_error_set(err, TB_EINVAL, t->axes[k].name,
                                "table input %d is '%s'; the model's is '%s'",
                                k, t->axes[k].name, m->in[k].name);
    for (int k = 0; k < m->n_out; k++)
        if (strcmp(t->outputs[k], m->out_name[k]) != 0)
            return tb_error_set(err, TB_EINVAL, t->outputs[k],
                                "table output %d is '%s'; the model's is '%s'",
                                k, t->outputs[k], m->out_name[k]);
    return 0;
}

int cli_table_errors(const tb_model *m, const tb_table *t, cli_errors *e,
                     tb_error *err)
{
    double *x = NULL, *y = NULL;
    size_t n = 0;
    int rc;

    memset(e, 0, sizeof(*e));
    rc = match_table(m, t, err);
    if (rc == 0)
        rc = cli_table_rows(t, &x, &y, &n, err);
    if (rc == 0)
        rc = tb_model_check_domain(m, x, n, err);
    if (rc == 0)
        rc = measure(m, x, y, n, e, err);
    e->failed = t->n_nodes - n;
    free(x);
    free(y);
    return rc;
}

/* ------------------------------------------------------------------------
 * Reports.
 * ------------------------------------------------------------------------ */

void cli_report_grid(tb_report *r, const tb_model *m, const cli_errors *e)
{
    r->n_grid = (long)e->n;
    for (int k = 0; k < m->n_out; k++) {
        r->grid_max_abs[k] = e->max_abs[k];
        r->grid_max_rel[k] = e->max_rel[k];
        r->grid_mean_abs[k] = e->mean_abs[k];
        r->grid_rms[k] = e->rms[k];
    }
}

void cli_report_probes(tb_report *r, const tb_model *m, const cli_errors *e)
{
    r->n_probes = (long)e->n;
    for (int k = 0; k < m->n_out; k++) {
        r->probe_max_abs[k] = e->max_abs[k];
        r->probe_max_rel[k] = e->max_rel[k];
        r->probe_mean_abs[k] = e->mean_abs[k];
        r->probe_rms[k] = e->rms[k];
    }
}

/* One row of the figures table. */
static void print_row(FILE *f, const char *what, long n, double max_abs,
                      double max_rel, double mean_abs, double rms)
{
    if (n <= 0) {
        fprintf(f, "    %-16s %8s  not measured\n", what, "-");
        return;
    }
    fprintf(f, "    %-16s %8ld  %9.3e  %9.3e  %9.3e  %9.3e\n", what, n, max_abs,
            max_rel, mean_abs, rms);
}

void cli_print_report(FILE *f, const tb_model *m, const tb_report *r)
{
    char head[64];

    for (int k = 0; k < m->n_out; k++) {
        snprintf(head, sizeof(head), "%s (%.4g .. %.4g)", m->out_name[k],
                 m->out_lo[k], m->out_hi[k]);
        fprintf(f, "  %-18s %8s  %9s  %9s  %9s  %9s\n", head, "points",
                "max abs", "max rel", "mean abs", "rms");
        print_row(f, "grid nodes", r->n_grid, r->grid_max_abs[k],
                  r->grid_max_rel[k], r->grid_mean_abs[k], r->grid_rms[k]);
        print_row(f, "off-grid probes", r->n_probes, r->probe_max_abs[k],
                  r->probe_max_rel[k], r->probe_mean_abs[k], r->probe_rms[k]);
    }
}

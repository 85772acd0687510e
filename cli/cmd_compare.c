/*
 * cmd_compare.c - `tabula compare`: a surrogate against the solver, on
 * every grid node, at off-grid probes, and in time per query.
 */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_compare_help[] =
    "usage: tabula compare MODEL.h5 [options]\n"
    "\n"
    "Measure a surrogate against the solver.  Per output: the maximum, mean\n"
    "and RMS absolute error and the maximum relative to the output's range,\n"
    "over every node of the table and at off-grid probe points (cell\n"
    "centres, solved fresh).  Then the time per query of the surrogate (one\n"
    "point per call, and per point in one large batch) and of the solver\n"
    "(one point per call), and their ratio.\n"
    "\n"
    "options:\n"
    "  --table FILE         the table to compare on (default: the one the\n"
    "                       model was trained on, its 'table' attribute)\n"
    "  --probes N           off-grid probe points (default 4096; 0 skips)\n"
    "  --max-rel E          exit 3 unless every output's grid and probe\n"
    "                       maximum error is at most E times its range\n"
    "  --baseline linear    also measure multilinear interpolation on the\n"
    "                       table: its probe errors (its grid error is zero\n"
    "                       by construction), bytes held and time per query\n"
    "  --json               print JSON for scripts instead of "
    "text\n" CLI_HELP_COMMON "\n"
    "example:\n"
    "  tabula compare heat1d.h5 --max-rel 1e-3\n";

#define SOLVER_TIMING_POINTS 5
#define TIMING_SECONDS       0.25

typedef struct compare_args {
    const char *model;
    const char *table;
    long probes;
    double max_rel; /* 0: no target */
    int json;
    int baseline; /* 1: --baseline linear */
} compare_args;

/* Everything compare measures. */
typedef struct figures {
    cli_errors grid;
    cli_errors probes;
    double t_single; /* surrogate seconds per one-point call */
    double t_batch;  /* surrogate seconds per point in one batch */
    size_t n_batch;
    double t_solver; /* solver seconds per one-point call */
    int target_met;
    cli_errors lin;   /* the linear baseline at the same probes */
    double t_lin;     /* its seconds per query */
    size_t lin_bytes; /* and the bytes it holds */
} figures;

/* ------------------------------------------------------------------------
 * Timing.
 * ------------------------------------------------------------------------ */

/* Seconds per one-point surrogate call, averaged over many calls. */
static int time_single(const tb_model *m, const double *x, size_t n,
                       double *out, tb_error *err)
{
    double y[TB_MODEL_MAX_OUT], t0 = tb_now(), t;
    size_t calls = 0;
    int rc;

    do {
        for (int i = 0; i < 100; i++, calls++) {
            rc = tb_model_predict(m, x + (calls % n) * (size_t)m->n_in, 1, y,
                                  err);
            if (rc != 0)
                return rc;
        }
        t = tb_now() - t0;
    } while (t < TIMING_SECONDS);
    *out = t / (double)calls;
    return 0;
}

/* Seconds per point when every grid node is one batch. */
static int time_batch(const tb_model *m, const tb_table *t, double *out,
                      size_t *n_out, tb_error *err)
{
    double *x = NULL, *y = NULL, *pred = NULL, t0;
    size_t n = 0;
    int rc, reps = 0;

    rc = cli_table_rows(t, &x, &y, &n, err);
    if (rc == 0 && n > 0) {
        pred = malloc(n * (size_t)m->n_out * sizeof(*pred));
        if (!pred)
            rc = tb_error_set(err, TB_ENOMEM, "batch", "%zu points", n);
    }

    t0 = tb_now();
    while (rc == 0 && n > 0 && (reps < 1 || tb_now() - t0 < TIMING_SECONDS)) {
        rc = tb_model_predict(m, x, n, pred, err);
        reps++;
    }
    *out = n > 0 && reps > 0 ? (tb_now() - t0) / (double)reps / (double)n : NAN;
    *n_out = n;
    free(x);
    free(y);
    free(pred);
    return rc;
}

/* Seconds per solver call for one point, over a few probe points. */
static int time_solver(const tb_model *m, const tb_problem *p,
                       const tb_solver_opts *o, const double *x, size_t n,
                       double *out, tb_error *err)
{
    double y[TB_MAX_OUTPUTS], t0 = tb_now();
    int status, rc;

    for (size_t i = 0; i < n; i++) {
        rc = tb_solve_points(p, o, x + i * (size_t)m->n_in, 1, y, &status, err);
        if (rc < 0)
            return rc;
    }
    *out = (tb_now() - t0) / (double)n;
    return 0;
}

/* Time surrogate and solver at a few cell centres spread over the grid. */
static int time_queries(const tb_model *m, const tb_problem *p,
                        const tb_solver_opts *o, const tb_table *t, figures *f,
                        tb_error *err)
{
    double *x = NULL;
    size_t n = 0;
    int rc;

    rc = cli_probe_points(m, SOLVER_TIMING_POINTS, CLI_PROBE_SEED + 1, &x, &n,
                          err);
    if (rc == 0 && n == 0)
        rc = tb_error_set(err, TB_EINVAL, "timing", "the grid has no cells");
    if (rc == 0)
        rc = time_single(m, x, n, &f->t_single, err);
    if (rc == 0)
        rc = time_batch(m, t, &f->t_batch, &f->n_batch, err);
    if (rc == 0)
        rc = time_solver(m, p, o, x, n, &f->t_solver, err);
    free(x);
    return rc;
}

/* ------------------------------------------------------------------------
 * Output.
 * ------------------------------------------------------------------------ */

/* Whether every output's grid and probe max rel are within target. */
static int target_met(const tb_model *m, const figures *f, double target)
{
    for (int k = 0; k < m->n_out; k++) {
        if (!(f->grid.max_rel[k] <= target))
            return 0;
        if (f->probes.n > 0 && !(f->probes.max_rel[k] <= target))
            return 0;
    }
    return f->probes.failed == 0;
}

/* The network beside multilinear interpolation on the same table. */
static void print_baseline(const tb_model *m, const figures *f)
{
    printf("baseline: multilinear interpolation on the table\n");
    printf("  %-10s %12s %12s %12s %12s\n", "output", "net grid", "net probe",
           "lin grid", "lin probe");
    for (int k = 0; k < m->n_out; k++)
        printf("  %-10s %12.3e %12.3e %12.3e %12.3e   (max error / range)\n",
               m->out_name[k], f->grid.max_rel[k], f->probes.max_rel[k], 0.0,
               f->lin.max_rel[k]);
    printf("  %-24s %12zu bytes (float32 weights)\n", "network",
           m->n_params * sizeof(float));
    printf("  %-24s %12zu bytes (the table's values)\n", "interpolation",
           f->lin_bytes);
    printf("  %-24s %12.3e s per query (batch of %zu)\n", "network", f->t_batch,
           f->n_batch);
    printf("  %-24s %12.3e s per query\n", "interpolation", f->t_lin);
}

static void print_text(const compare_args *a, const tb_model *m,
                       const char *table, const figures *f)
{
    tb_report r = {0};
    char batch[64];

    cli_report_grid(&r, m, &f->grid);
    cli_report_probes(&r, m, &f->probes);
    printf("model %s (%s), table %s\n", a->model, tb_model_attr(m, "problem"),
           table);
    if (f->grid.failed > 0)
        printf("  %zu failed table nodes left out\n", f->grid.failed);
    if (f->probes.failed > 0)
        printf("  the solver failed at %zu probe points; left out\n",
               f->probes.failed);
    cli_print_report(stdout, m, &r);

    snprintf(batch, sizeof(batch), "surrogate, batch of %zu", f->n_batch);
    printf("time per query:\n"
           "  %-32s %.3e s\n"
           "  %-32s %.3e s per point\n"
           "  %-32s %.3e s\n"
           "  %-32s %.0f x\n",
           "surrogate, one point per call", f->t_single, batch, f->t_batch,
           "solver, one point per call", f->t_solver,
           "solver / surrogate (one point)", f->t_solver / f->t_single);
    if (a->max_rel > 0)
        printf("target: every max error / range <= %g: %s\n", a->max_rel,
               f->target_met ? "met" : "NOT met");
    if (a->baseline)
        print_baseline(m, f);
}

static json_t *errors_json(const cli_errors *e, int k)
{
    if (e->n == 0)
        return json_null();
    return json_pack(
        "{s:o, s:o, s:o, s:o}", "max_abs", cli_json_real(e->max_abs[k]),
        "max_rel", cli_json_real(e->max_rel[k]), "mean_abs",
        cli_json_real(e->mean_abs[k]), "rms", cli_json_real(e->rms[k]));
}

static json_t *outputs_json(const tb_model *m, const figures *f)
{
    json_t *outs = json_array();

    for (int k = 0; outs && k < m->n_out; k++) {
        json_t *o = json_pack("{s:s, s:f, s:f, s:o, s:o}", "name",
                              m->out_name[k], "lo", m->out_lo[k], "hi",
                              m->out_hi[k], "grid", errors_json(&f->grid, k),
                              "probe", errors_json(&f->probes, k));
        if (json_array_append_new(outs, o) != 0) {
            json_decref(outs);
            return NULL;
        }
    }
    return outs;
}

/* The baseline's figures for JSON: per output probe errors, then size
 * and time. */
static json_t *baseline_json(const tb_model *m, const figures *f)
{
    json_t *outs = json_array();

    for (int k = 0; outs && k < m->n_out; k++)
        json_array_append_new(outs, errors_json(&f->lin, k));
    return json_pack("{s:s, s:o, s:I, s:I, s:o}", "method", "linear", "probe",
                     outs ? outs : json_null(), "bytes",
                     (json_int_t)f->lin_bytes, "model_bytes",
                     (json_int_t)(m->n_params * sizeof(float)), "query_s",
                     cli_json_real(f->t_lin));
}

static int print_json(const compare_args *a, const tb_model *m,
                      const char *table, const figures *f)
{
    json_t *root = json_pack(
        "{s:s, s:s, s:s, s:{s:I, s:I}, s:{s:I, s:I, s:I}, s:o, "
        "s:{s:o, s:o, s:I, s:o, s:o}, s:o, s:o}",
        "model", a->model, "problem", tb_model_attr(m, "problem"), "table",
        table, "grid", "nodes", (json_int_t)f->grid.n, "failed",
        (json_int_t)f->grid.failed, "probes", "requested",
        (json_int_t)a->probes, "measured", (json_int_t)f->probes.n, "failed",
        (json_int_t)f->probes.failed, "outputs", outputs_json(m, f), "timing",
        "surrogate_single_s", cli_json_real(f->t_single), "surrogate_batch_s",
        cli_json_real(f->t_batch), "batch_points", (json_int_t)f->n_batch,
        "solver_s", cli_json_real(f->t_solver), "speedup",
        cli_json_real(f->t_solver / f->t_single), "max_rel",
        a->max_rel > 0 ? cli_json_real(a->max_rel) : json_null(), "target_met",
        a->max_rel > 0 ? json_boolean(f->target_met) : json_null());

    if (root && a->baseline)
        json_object_set_new(root, "baseline", baseline_json(m, f));
    return cli_json_print("compare", root);
}

/* ------------------------------------------------------------------------
 * The command.
 * ------------------------------------------------------------------------ */

/* Load the table to compare on and check it is the model's problem. */
static int load_table(const tb_model *m, const char *path, tb_table *t,
                      tb_error *err)
{
    int rc = tb_table_read(path, t, err);

    if (rc != 0)
        return rc;
    if (strcmp(t->problem, tb_model_attr(m, "problem")) != 0)
        return tb_error_set(err, TB_EINVAL, path,
                            "the table is for problem '%s'; the model is "
                            "for '%s'",
                            t->problem, tb_model_attr(m, "problem"));
    return 0;
}

/* Measure everything into f. */
static int measure(const compare_args *a, const tb_model *m,
                   const tb_problem *p, const tb_solver_opts *o,
                   const tb_table *t, figures *f, tb_error *err)
{
    int rc;

    rc = cli_table_errors(m, t, &f->grid, err);
    if (rc == 0)
        rc = cli_probe_errors(m, p, o, (size_t)a->probes, CLI_PROBE_SEED,
                              &f->probes, err);
    if (rc == 0)
        rc = time_queries(m, p, o, t, f, err);
    if (rc == 0 && a->baseline) {
        f->lin_bytes = cli_linear_bytes(t);
        rc = cli_linear_probe_errors(m, t, p, o, (size_t)a->probes, &f->lin,
                                     &f->t_lin, err);
    }
    f->target_met = a->max_rel > 0 ? target_met(m, f, a->max_rel) : 1;
    return rc;
}

static int run(const compare_args *a)
{
    const tb_problem *p;
    tb_solver_opts o;
    tb_model m = {0};
    tb_table t = {0};
    figures f = {0};
    const char *table = a->table;
    int code = CLI_EXIT_FAIL;
    tb_error err;

    tb_error_clear(&err);
    if (tb_model_load(a->model, &m, &err) != 0 ||
        cli_model_solver(&m, &p, &o, &err) != 0)
        goto fail;
    if (!table && !(table = tb_model_attr(&m, "table"))) {
        cli_error(CLI_EXIT_USAGE, "compare",
                  "%s names no table; give one with --table", a->model);
        code = CLI_EXIT_USAGE;
        goto out;
    }
    if (load_table(&m, table, &t, &err) != 0 ||
        measure(a, &m, p, &o, &t, &f, &err) != 0)
        goto fail;

    code = a->json ? print_json(a, &m, table, &f)
                   : (print_text(a, &m, table, &f), CLI_EXIT_OK);
    if (code == CLI_EXIT_OK && !f.target_met)
        code = cli_error(CLI_EXIT_TARGET, "compare",
                         "%s does not meet --max-rel %g (grid and probe "
                         "max error / range, every output)",
                         a->model, a->max_rel);
    goto out;
fail:
    cli_fail(CLI_EXIT_FAIL, "compare", &err);
out:
    tb_table_free(&t);
    tb_model_free(&m);
    return code;
}

static int parse(int argc, char **argv, compare_args *a)
{
    static const struct option longopts[] = {
        {"table", required_argument, NULL, 't'},
        {"probes", required_argument, NULL, 'p'},
        {"max-rel", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"baseline", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc = 0;

    while (rc == 0 &&
           (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 't')
            a->table = optarg;
        else if (c == 'p')
            rc = cli_opt_long("compare", "probes", optarg, 0, 100000000L,
                              &a->probes);
        else if (c == 'm')
            rc = cli_opt_double("compare", "max-rel", optarg, 1e-300, 1e300,
                                &a->max_rel);
        else if (c == 'j')
            a->json = 1;
        else if (c == 'b' && strcmp(optarg, "linear") == 0)
            a->baseline = 1;
        else if (c == 'b')
            rc = cli_usage("compare", "--baseline %s; expected 'linear'",
                           optarg);
        else if (c == 'h')
            return fputs(cmd_compare_help, stdout) < 0 ? CLI_EXIT_FAIL : -1;
        else
            return cli_bad_option("compare");
    }
    if (rc != 0)
        return rc;
    if (cli_operand("compare", argc, argv,
                    "missing MODEL.h5, the model to measure", &a->model))
        return CLI_EXIT_USAGE;
    if (!a->model[0])
        return cli_usage("compare", "the model's file name is empty");
    return 0;
}

int cmd_compare(int argc, char **argv)
{
    compare_args a = {.probes = 4096};
    int rc = parse(argc, argv, &a);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    return run(&a);
}

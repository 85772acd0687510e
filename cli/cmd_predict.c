/*
 * cmd_predict.c - `tabula predict`: one surrogate answer, with the model's
 * measured maximum error beside it.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

const char cmd_predict_help[] =
    "usage: tabula predict MODEL.h5 NAME=VALUE... [--json]\n"
    "       tabula predict MODEL.h5 --example-json\n"
    "\n"
    "Evaluate the surrogate at one point and print each output with the\n"
    "model's measured maximum absolute error over the grid and at the\n"
    "off-grid probes.  Every model input must be given as NAME=VALUE, inside\n"
    "the model's domain: a surrogate never extrapolates.\n"
    "\n"
    "options:\n"
    "  --json               print JSON for scripts instead of text\n"
    "  --example-json       print an Open Inference Protocol request body\n"
    "                       for the middle of the domain, and "
    "exit\n" CLI_HELP_COMMON "\n"
    "example:\n"
    "  tabula predict heat1d.h5 alpha=0.5 x=0.25 t=0.1\n";

/* Every input inside its closed range, else a usage error naming it. */
static int check_domain(const tb_model *m, const double *x, tb_error *err)
{
    for (int k = 0; k < m->n_in; k++)
        if (!(x[k] >= m->in[k].lo && x[k] <= m->in[k].hi))
            return tb_error_set(err, TB_EDOMAIN, m->in[k].name,
                                "%g is outside the model's domain [%g, %g]; "
                                "the surrogate does not extrapolate",
                                x[k], m->in[k].lo, m->in[k].hi);
    return tb_model_check_domain(m, x, 1, err);
}

static int print_text(const tb_model *m, const double *y)
{
    for (int k = 0; k < m->n_out; k++) {
        printf("%s = %.9g", m->out_name[k], y[k]);
        if (m->report.n_grid > 0)
            printf("  (max error: grid %.2e", m->report.grid_max_abs[k]);
        if (m->report.n_grid > 0 && m->report.n_probes > 0)
            printf(", probes %.2e", m->report.probe_max_abs[k]);
        printf("%s\n", m->report.n_grid > 0 ? ")" : "  (error not measured)");
    }
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static json_t *output_json(const tb_model *m, const double *y, int k)
{
    const tb_report *r = &m->report;

    return json_pack(
        "{s:o, s:o, s:o}", "value", cli_json_real(y[k]), "grid_max_abs",
        r->n_grid > 0 ? cli_json_real(r->grid_max_abs[k]) : json_null(),
        "probe_max_abs",
        r->n_probes > 0 ? cli_json_real(r->probe_max_abs[k]) : json_null());
}

static int print_json(const char *path, const tb_model *m, const double *x,
                      const double *y)
{
    json_t *in = json_object(), *out = json_object();
    int bad = !in || !out;

    for (int k = 0; !bad && k < m->n_in; k++)
        bad = json_object_set_new(in, m->in[k].name, cli_json_real(x[k]));
    for (int k = 0; !bad && k < m->n_out; k++)
        bad = json_object_set_new(out, m->out_name[k], output_json(m, y, k));
    if (bad) {
        json_decref(in);
        json_decref(out);
        return cli_json_print("predict", NULL);
    }
    return cli_json_print("predict", json_pack("{s:s, s:o, s:o}", "model", path,
                                               "inputs", in, "outputs", out));
}

/* An Open Inference Protocol v2 request for the middle of the domain. */
static int print_example(const tb_model *m)
{
    json_t *inputs = json_array(), *root;
    int bad = !inputs, rc;

    for (int k = 0; !bad && k < m->n_in; k++) {
        double mid = 0.5 * (m->in[k].lo + m->in[k].hi);
        bad = json_array_append_new(
            inputs, json_pack("{s:s, s:[i], s:s, s:[f]}", "name", m->in[k].name,
                              "shape", 1, "datatype", "FP64", "data", mid));
    }
    if (bad) {
        json_decref(inputs);
        return cli_json_print("predict", NULL);
    }

    /* Compact, to paste into a shell command line. */
    root = json_pack("{s:o}", "inputs", inputs);
    rc = root ? json_dumpf(root, stdout, JSON_COMPACT | JSON_REAL_PRECISION(12))
              : -1;
    json_decref(root);
    if (rc != 0 || puts("") == EOF || fflush(stdout) != 0)
        return cli_error(CLI_EXIT_FAIL, "predict", "cannot write the example");
    return CLI_EXIT_OK;
}

static int run(const char *path, char *const *args, int n_args, int json,
               int example)
{
    const char *names[TB_MODEL_MAX_IN];
    double x[TB_MODEL_MAX_IN], y[TB_MODEL_MAX_OUT];
    int code = CLI_EXIT_USAGE;
    tb_model m = {0};
    tb_error err;

    tb_error_clear(&err);
    if (tb_model_load(path, &m, &err) != 0) {
        code = cli_fail(CLI_EXIT_FAIL, "predict", &err);
        goto out;
    }
    if (example) {
        code = print_example(&m);
        goto out;
    }

    for (int k = 0; k < m.n_in; k++)
        names[k] = m.in[k].name;
    if (cli_parse_point(m.n_in, names, args, n_args, x, &err) != 0 ||
        check_domain(&m, x, &err) != 0) {
        code = cli_fail(CLI_EXIT_USAGE, "predict", &err);
        goto out;
    }

    if (tb_model_predict(&m, x, 1, y, &err) != 0)
        code = cli_fail(CLI_EXIT_FAIL, "predict", &err);
    else
        code = json ? print_json(path, &m, x, y) : print_text(&m, y);
out:
    tb_model_free(&m);
    return code;
}

int cmd_predict(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"example-json", no_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, example = 0, c;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'e')
            example = 1;
        else if (c == 'h')
            return fputs(cmd_predict_help, stdout) < 0;
        else
            return cli_bad_option("predict");
    }
    if (optind >= argc)
        return cli_usage("predict", "missing MODEL.h5, the model to ask");
    if (!argv[optind][0])
        return cli_usage("predict", "the model's file name is empty");
    return run(argv[optind], argv + optind + 1, argc - optind - 1, json,
               example);
}

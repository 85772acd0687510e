/*
 * cmd_solve.c - `tabula solve`: one solver run at one point of a problem,
 * on or off the grid.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

const char cmd_solve_help[] =
    "usage: tabula solve PROBLEM NAME=VALUE... [options]\n"
    "\n"
    "Run the solver once at one point and print its outputs.  Every input\n"
    "of the problem must be given as NAME=VALUE (see 'tabula problems').\n"
    "The point need not be a grid node: time is reached exactly and space\n"
    "is interpolated on the solver's fine mesh.\n"
    "\n"
    "options:\n" CLI_HELP_SOLVER "  --json               print JSON for "
    "scripts instead of text\n" CLI_HELP_COMMON "\n"
    "example:\n"
    "  tabula solve heat1d alpha=0.5 x=0.25 t=0.1\n";

static int print_text(const tb_problem *p, const double *out)
{
    for (int k = 0; k < p->n_outputs; k++)
        printf("%s = %.12g\n", p->outputs[k], out[k]);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int print_json(const tb_problem *p, const double *in, const double *out,
                      double seconds)
{
    json_t *inputs = json_object(), *outputs = json_object();
    int bad = !inputs || !outputs;

    for (int k = 0; !bad && k < p->n_params + p->n_coords; k++)
        bad = json_object_set_new(inputs, p->inputs[k].name,
                                  cli_json_real(in[k])) != 0;
    for (int k = 0; !bad && k < p->n_outputs; k++)
        bad = json_object_set_new(outputs, p->outputs[k],
                                  cli_json_real(out[k])) != 0;
    if (bad) {
        json_decref(inputs);
        json_decref(outputs);
        return cli_json_print("solve", NULL);
    }
    return cli_json_print(
        "solve", json_pack("{s:s, s:o, s:o, s:f}", "problem", p->name, "inputs",
                           inputs, "outputs", outputs, "seconds", seconds));
}

/* Solve at the one point and print it. */
static int run(const tb_problem *p, tb_solver_opts *o, const double *in,
               int json)
{
    double out[TB_MAX_OUTPUTS], t0;
    int status = 0, rc;
    tb_error err;

    tb_error_clear(&err);
    if (tb_solver_opts_resolve(p, o, &err) != 0)
        return cli_fail(CLI_EXIT_USAGE, "solve", &err);

    t0 = tb_now();
    rc = tb_solve_points(p, o, in, 1, out, &status, &err);
    if (rc == TB_EDOMAIN || rc == TB_EINVAL)
        return cli_fail(CLI_EXIT_USAGE, "solve", &err);
    if (rc != 0 || status != 0)
        return cli_fail(CLI_EXIT_FAIL, "solve", &err);

    if (json)
        return print_json(p, in, out, tb_now() - t0);
    return print_text(p, out);
}

int cmd_solve(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_SOLVER_LONGOPTS,
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *names[TB_MAX_INPUTS];
    double in[TB_MAX_INPUTS];
    tb_solver_opts o = {0};
    const tb_problem *p;
    int json = 0, c, n;
    tb_error err;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'h')
            return fputs(cmd_solve_help, stdout) < 0;
        else if (c == '?')
            return cli_bad_option("solve");
        else if (cli_solver_opt("solve", c, optarg, &o) != 0)
            return CLI_EXIT_USAGE;
    }
    if (optind >= argc)
        return cli_usage("solve", "missing PROBLEM");

    p = cli_find_problem("solve", argv[optind]);
    if (!p)
        return CLI_EXIT_USAGE;
    n = cli_problem_names(p, names);

    tb_error_clear(&err);
    if (cli_parse_point(n, names, argv + optind + 1, argc - optind - 1, in,
                        &err) != 0)
        return cli_fail(CLI_EXIT_USAGE, "solve", &err);
    return run(p, &o, in, json);
}

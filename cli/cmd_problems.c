/*
 * cmd_problems.c - `tabula problems`: every built-in problem with its
 * inputs, default grid, outputs and solver settings.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

const char cmd_problems_help[] =
    "usage: tabula problems [--json]\n"
    "\n"
    "List every problem: a summary, its inputs (parameters first, then\n"
    "coordinates) with unit, default range and node count, its outputs and\n"
    "its default solver settings.\n"
    "\n"
    "options:\n"
    "  --json               print JSON for scripts instead of "
    "text\n" CLI_HELP_COMMON "\n"
    "example:\n"
    "  tabula problems --json | jq '.[].name'\n";

static const char *input_kind(const tb_problem *p, int k)
{
    return k < p->n_params ? "parameter" : "coordinate";
}

static void print_problem(const tb_problem *p)
{
    char unit[32], range[64];

    printf("%s: %s\n  inputs:\n", p->name, p->summary);
    for (int k = 0; k < p->n_params + p->n_coords; k++) {
        const tb_axis *a = &p->inputs[k];
        snprintf(unit, sizeof(unit), "[%s]", a->unit);
        snprintf(range, sizeof(range), "%g .. %g", a->lo, a->hi);
        printf("    %-8s %-10s %-9s %-20s n=%-4d %s\n", a->name,
               input_kind(p, k), unit, range, a->n,
               tb_spacing_name(a->spacing));
    }

    printf("  outputs:");
    for (int k = 0; k < p->n_outputs; k++)
        printf(" %s", p->outputs[k]);
    printf("\n  solver: rtol=%g atol=%g max_steps=%ld mesh=%d\n\n",
           p->defaults.rtol, p->defaults.atol, p->defaults.max_steps,
           p->defaults.mesh);
}

static json_t *input_json(const tb_problem *p, int k)
{
    const tb_axis *a = &p->inputs[k];

    return json_pack("{s:s, s:s, s:s, s:f, s:f, s:i, s:s}", "name", a->name,
                     "kind", input_kind(p, k), "unit", a->unit, "lo", a->lo,
                     "hi", a->hi, "n", a->n, "spacing",
                     tb_spacing_name(a->spacing));
}

static json_t *problem_json(const tb_problem *p)
{
    json_t *inputs = json_array(), *outputs = json_array();
    int bad = !inputs || !outputs;

    for (int k = 0; !bad && k < p->n_params + p->n_coords; k++)
        bad = json_array_append_new(inputs, input_json(p, k)) != 0;
    for (int k = 0; !bad && k < p->n_outputs; k++)
        bad = json_array_append_new(outputs, json_string(p->outputs[k])) != 0;
    if (bad) {
        json_decref(inputs);
        json_decref(outputs);
        return NULL;
    }

    return json_pack(
        "{s:s, s:s, s:o, s:o, s:{s:f, s:f, s:I, s:i}}", "name", p->name,
        "summary", p->summary, "inputs", inputs, "outputs", outputs, "solver",
        "rtol", p->defaults.rtol, "atol", p->defaults.atol, "max_steps",
        (json_int_t)p->defaults.max_steps, "mesh", p->defaults.mesh);
}

int cmd_problems(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    json_t *all;
    int json = 0, c;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'h')
            return fputs(cmd_problems_help, stdout) < 0;
        else
            return cli_bad_option("problems");
    }
    if (optind < argc)
        return cli_usage("problems", "unexpected argument '%s'", argv[optind]);

    if (!json) {
        for (int i = 0; i < tb_problem_count(); i++)
            print_problem(tb_problem_at(i));
        return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    }

    all = json_array();
    for (int i = 0; all && i < tb_problem_count(); i++)
        if (json_array_append_new(all, problem_json(tb_problem_at(i))) != 0) {
            json_decref(all);
            all = NULL;
        }
    return cli_json_print("problems", all);
}

/*
 * cmd_tabulate.c - `tabula tabulate`: solve every parameter tuple of a grid
 * in parallel and write the table.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

const char cmd_tabulate_help[] =
    "usage: tabula tabulate PROBLEM -o TABLE.h5 [options]\n"
    "\n"
    "Solve the problem at every node of a grid (one solver run per\n"
    "parameter tuple, in parallel) and write an HDF5 table: the axes, the\n"
    "outputs, each node's status and the settings used.  The file appears\n"
    "only once complete.  When solves fail the table is still written, so\n"
    "that it can be inspected, and the command exits 1.  SIGINT or SIGTERM\n"
    "stop handing out parameter tuples; once those being solved finish, it\n"
    "writes nothing and exits 130 (143 on SIGTERM); a second signal ends\n"
    "it at once.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE    the table to write (required)\n"
    "  --grid NAME=LO:HI:N[:log|cheb]\n"
    "                       one input's range, node count and spacing\n"
    "                       (uniform unless given), once per input\n"
    "                       (default: the problem's, see 'tabula problems')\n"
    "  --grid-file FILE     axes from a JSON file, {\"axes\": [{\"name\",\n"
    "                       \"lo\", \"hi\", \"n\"[, \"spacing\"]}, ...]};\n"
    "                       a --grid for an axis the file also gives wins\n"
    "  --jobs N             solver threads (default: one per core)\n"
    "  --allow-failures     exit 0 even when some nodes "
    "failed\n" CLI_HELP_SOLVER CLI_HELP_COMMON "\n"
    "example:\n"
    "  tabula tabulate heat1d -o heat1d-table.h5 --grid alpha=0.1:1:10 "
    "--grid x=0:1:33\n"
    "  tabula tabulate robertson -o rob.h5 --grid t=1e-4:1e10:57:log\n";

typedef struct tabulate_args {
    const char *output;
    const tb_problem *p;
    tb_axis axes[TB_MAX_INPUTS];
    tb_solver_opts opts;
    const char *grid_file;
    int jobs;
    int allow_failures;
} tabulate_args;

/* The signal that asked to stop, or 0. */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

/* Catch sig once: a second one acts as it always does, for a user whose
 * solve will not finish.  A signal ignored from the start (a background
 * job of a script) stays ignored. */
static int catch_once(int sig)
{
    struct sigaction sa, old;

    if (sigaction(sig, NULL, &old) != 0)
        return -1;
    if (old.sa_handler == SIG_IGN)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

/* Stop on SIGINT and SIGTERM.  Returns 0 or CLI_EXIT_FAIL. */
static int catch_stop(void)
{
    if (catch_once(SIGINT) != 0 || catch_once(SIGTERM) != 0)
        return cli_error(CLI_EXIT_FAIL, "tabulate", "sigaction: %s",
                         strerror(errno));
    return 0;
}

static void show_progress(size_t done, size_t total, void *data)
{
    cli_progress_show(data, done == total, "done=%zu total=%zu", done, total);
}

/* Tabulate, write and summarise. */
static int run(tabulate_args *a)
{
    tb_table t = {0};
    cli_progress pr;
    tb_error err;
    int rc;

    tb_error_clear(&err);
    if (tb_solver_opts_resolve(a->p, &a->opts, &err) != 0)
        return cli_fail(CLI_EXIT_USAGE, "tabulate", &err);

    if (catch_stop() != 0)
        return CLI_EXIT_FAIL;
    cli_progress_init(&pr, "tabulate");
    rc = tb_tabulate_stoppable(a->p, &a->opts, a->axes, a->jobs, show_progress,
                               &pr, &stop_signal, &t, &err);
    cli_progress_end(&pr);

    /* Stopped, or asked to stop before the write began: nothing is
     * written; a write once begun is finished. */
    if (rc == TB_INTERRUPTED || stop_signal) {
        tb_table_free(&t);
        return cli_error(128 + (stop_signal ? stop_signal : SIGINT), "tabulate",
                         "interrupted; no table written");
    }
    if (rc < 0) {
        tb_table_free(&t);
        return cli_fail(CLI_EXIT_FAIL, "tabulate", &err);
    }

    rc = tb_table_write(&t, a->output, &err);
    if (rc != 0) {
        tb_table_free(&t);
        return cli_fail(CLI_EXIT_FAIL, "tabulate", &err);
    }

    printf("tabula tabulate: %s: %zu nodes, %zu failed, %.2f s -> %s\n",
           a->p->name, t.n_nodes, t.n_failed, t.seconds, a->output);
    rc = CLI_EXIT_OK;
    if (t.n_failed > 0 && !a->allow_failures)
        rc = cli_error(CLI_EXIT_FAIL, "tabulate",
                       "%zu of %zu nodes failed (see the log above); the "
                       "table was written for inspection.  Use "
                       "--allow-failures to accept it.",
                       t.n_failed, t.n_nodes);
    tb_table_free(&t);
    return rc;
}

/* Refuse grid[i] when an earlier --grid named the same axis: which one
 * was meant cannot be guessed.  Returns 0 or CLI_EXIT_USAGE. */
static int check_repeated(const char *const *grid, int i)
{
    size_t len = strcspn(grid[i], "=");

    for (int j = 0; j < i; j++)
        if (strcspn(grid[j], "=") == len && strncmp(grid[i], grid[j], len) == 0)
            return cli_usage("tabulate",
                             "--grid: axis '%.*s' is given twice ('%s' and "
                             "'%s'); give each axis once",
                             (int)len, grid[i], grid[j], grid[i]);
    return 0;
}

/* Take the options; grid specs are applied once the problem is known. */
static int parse(int argc, char **argv, tabulate_args *a, const char **grid,
                 int *n_grid)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"grid", required_argument, NULL, 'g'},
        {"grid-file", required_argument, NULL, 'G'},
        {"jobs", required_argument, NULL, 'j'},
        {"allow-failures", no_argument, NULL, 'f'},
        CLI_SOLVER_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long v;
    int c;

    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        if (c == 'o') {
            if (a->output)
                return cli_usage("tabulate", "-o given more than once");
            a->output = optarg;
        } else if (c == 'g') {
            if (*n_grid >= 64)
                return cli_usage("tabulate", "too many --grid options");
            grid[(*n_grid)++] = optarg;
        } else if (c == 'G') {
            if (a->grid_file)
                return cli_usage("tabulate", "--grid-file given more than "
                                             "once");
            a->grid_file = optarg;
        } else if (c == 'j') {
            if (cli_opt_long("tabulate", "jobs", optarg, 1, 1024, &v) != 0)
                return CLI_EXIT_USAGE;
            a->jobs = (int)v;
        } else if (c == 'f') {
            a->allow_failures = 1;
        } else if (c == 'h') {
            fputs(cmd_tabulate_help, stdout);
            return -1;
        } else if (c == '?') {
            return cli_bad_option("tabulate");
        } else if (cli_solver_opt("tabulate", c, optarg, &a->opts) != 0) {
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

int cmd_tabulate(int argc, char **argv)
{
    tabulate_args a = {0};
    const char *grid[64], *name;
    int n_grid = 0, rc;
    tb_error err;

    rc = parse(argc, argv, &a, grid, &n_grid);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (cli_operand("tabulate", argc, argv, "missing PROBLEM", &name))
        return CLI_EXIT_USAGE;
    if (!a.output)
        return cli_usage("tabulate", "missing -o TABLE.h5, the table to "
                                     "write");
    rc = cli_check_output("tabulate", a.output, NULL);
    if (rc != 0)
        return rc;

    a.p = cli_find_problem("tabulate", name);
    if (!a.p)
        return CLI_EXIT_USAGE;

    /* Start from the problem's default grid; --grid-file, then each --grid
     * replaces single axes (so --grid wins over the file). */
    for (int k = 0; k < a.p->n_params + a.p->n_coords; k++)
        a.axes[k] = a.p->inputs[k];
    tb_error_clear(&err);
    if (a.grid_file && cli_parse_grid_file(a.p, a.grid_file, a.axes, &err))
        return cli_fail(CLI_EXIT_USAGE, "tabulate", &err);
    for (int i = 0; i < n_grid; i++) {
        if (cli_parse_grid(a.p, grid[i], a.axes, &err) != 0)
            return cli_fail(CLI_EXIT_USAGE, "tabulate", &err);
        if (check_repeated(grid, i) != 0)
            return CLI_EXIT_USAGE;
    }
    return run(&a);
}

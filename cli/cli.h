/*
 * cli.h - private to the tabula command: the command table, exit codes,
 * argument parsing, progress lines and the error report shared by train
 * and compare.
 */
#ifndef TB_CLI_H
#define TB_CLI_H

#include "model.h"
#include "solver.h"
#include "tb.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What the command exits with; documented in `tabula --help`. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,   /* a runtime failure: a file, the solver, a node */
    CLI_EXIT_USAGE = 2,  /* an unknown command, option, name or bad value */
    CLI_EXIT_TARGET = 3, /* an error target was not met */
};

/* The lines every command's --help ends its option list with. */
#define CLI_HELP_COMMON                                                        \
    "  --log-level L        debug, info, warn or error (default info)\n"       \
    "  -h, --help           print this help and exit\n"

/* The seed probe points are drawn with, so that compare measures the same
 * points as train did. */
#define CLI_PROBE_SEED 0x7461627531ULL

/* One command: its name, a one-line summary, its entry point and help. */
typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    const char *help;
} cli_command;

/* The commands.  Each takes argv[0] = "tabula NAME" and returns an exit
 * code from enum cli_exit. */
int cmd_problems(int argc, char **argv);
int cmd_solve(int argc, char **argv);
int cmd_tabulate(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_serve(int argc, char **argv);

extern const char cmd_problems_help[];
extern const char cmd_solve_help[];
extern const char cmd_tabulate_help[];
extern const char cmd_train_help[];
extern const char cmd_tune_help[];
extern const char cmd_compare_help[];
extern const char cmd_predict_help[];
extern const char cmd_serve_help[];

/* ------------------------------------------------------------------------
 * args.c: messages, option values, k=v points and --grid specs.
 * ------------------------------------------------------------------------ */

/* Print "tabula CMD: message" on standard error; returns code. */
int cli_error(int code, const char *cmd, const char *fmt, ...) TB_PRINTF(3, 4);

/* As cli_error, then point at --help; returns CLI_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) TB_PRINTF(2, 3);

/* Check, before any work, that output can be written and is not the same
 * file as input (which may be NULL).  Returns 0 or CLI_EXIT_USAGE after
 * saying what is wrong. */
int cli_check_output(const char *cmd, const char *output, const char *input);

/* The one operand left after the options, argv[optind], into *out.
 * Returns 0, or prints missing (when there is none) or the first extra
 * argument and returns CLI_EXIT_USAGE. */
int cli_operand(const char *cmd, int argc, char **argv, const char *missing,
                const char **out);

/* After getopt has printed what was wrong with an option, point at --help.
 * Returns CLI_EXIT_USAGE. */
int cli_bad_option(const char *cmd);

/* A JSON number, or null when v is not finite (JSON has no NaN).  Returns
 * a new reference, NULL when out of memory. */
json_t *cli_json_real(double v);

/* Print root on standard output, indented, and release it; NULL (a failed
 * build) is reported.  Returns an exit code. */
int cli_json_print(const char *cmd, json_t *root);

/* Print an error record as "tabula CMD: where: text"; returns code. */
int cli_fail(int code, const char *cmd, const tb_error *err);

/* The problem called name; when there is none, prints the known ones and
 * returns NULL (the caller exits with CLI_EXIT_USAGE). */
const tb_problem *cli_find_problem(const char *cmd, const char *name);

/* Fill names with the problem's input names in order; returns how many. */
int cli_problem_names(const tb_problem *p, const char **names);

/* Parse an option's value as a number in [lo, hi].  Returns 0, or prints
 * what was expected and returns CLI_EXIT_USAGE. */
int cli_opt_double(const char *cmd, const char *opt, const char *arg, double lo,
                   double hi, double *out);

/* As cli_opt_double, for a whole number in [lo, hi]. */
int cli_opt_long(const char *cmd, const char *opt, const char *arg, long lo,
                 long hi, long *out);

/*
 * Parse n_args "NAME=VALUE" arguments into vals (n values, in the order of
 * names).  Every name must be given exactly once.  Returns 0 or TB_EINVAL
 * naming the bad, unknown, repeated or missing input in err.
 */
int cli_parse_point(int n, const char *const *names, char *const *args,
                    int n_args, double *vals, tb_error *err);

/* Apply one --grid NAME=LO:HI:N spec to axes (the problem's input order)
 * and check the axis.  Returns 0 or TB_EINVAL naming the spec. */
int cli_parse_grid(const tb_problem *p, const char *spec, tb_axis *axes,
                   tb_error *err);

/* Read a --grid-file (JSON, see cli/gridfile.c) and apply its axes to axes
 * (the problem's input order).  Returns 0 or TB_EINVAL naming the file and
 * the axis: LO >= HI, N < 2, a non-positive bound on a log axis, an
 * unknown or a repeated axis. */
int cli_parse_grid_file(const tb_problem *p, const char *path, tb_axis *axes,
                        tb_error *err);

/* Load every global --plugin FILE.so (or --plugin=FILE.so) standing before
 * a lone "--" and remove it from argv.  Returns 0, or prints why a plugin
 * was refused and returns CLI_EXIT_FAIL (CLI_EXIT_USAGE without a file). */
int cli_take_plugins(int *argc, char **argv);

/* Parse a list of hidden layer widths such as "64,64,64".  Returns 0 or
 * TB_EINVAL. */
int cli_parse_hidden(const char *s, int *hidden, int *n, tb_error *err);

/* Parse the solver options every solving command shares (--rtol, --atol,
 * --max-steps, --mesh; opt is 'r', 'a', 's' or 'm').  Returns 0 or
 * CLI_EXIT_USAGE after printing what was wrong. */
int cli_solver_opt(const char *cmd, int opt, const char *arg,
                   tb_solver_opts *o);

/* The long options cli_solver_opt handles, for getopt_long tables. */
#define CLI_SOLVER_LONGOPTS                                                    \
    {"rtol", required_argument, NULL, 'r'},                                    \
        {"atol", required_argument, NULL, 'a'},                                \
        {"max-steps", required_argument, NULL, 's'},                           \
    {                                                                          \
        "mesh", required_argument, NULL, 'm'                                   \
    }

#define CLI_HELP_SOLVER                                                        \
    "  --rtol E             CVODE relative tolerance (problem default)\n"      \
    "  --atol E             CVODE absolute tolerance (problem default)\n"      \
    "  --max-steps N        CVODE steps between outputs (problem default)\n"   \
    "  --mesh N             spatial mesh intervals (problem default)\n"

/* ------------------------------------------------------------------------
 * progress.c: a line redrawn on a terminal, plain log lines otherwise.
 * ------------------------------------------------------------------------ */

typedef struct cli_progress {
    char label[32];
    int tty;       /* redraw one line on standard error with \r */
    double start;  /* when the work began */
    double last;   /* when a line was last shown */
    int on_screen; /* a terminal line is waiting for its newline */
} cli_progress;

/* Start a progress display for work called label. */
void cli_progress_init(cli_progress *pr, const char *label);

/* Show "label TEXT elapsed=Ns" if enough time passed since the last line
 * (a tenth of a second on a terminal, five seconds otherwise) or force. */
void cli_progress_show(cli_progress *pr, int force, const char *fmt, ...)
    TB_PRINTF(3, 4);

/* End the display: finish a terminal line so later output starts afresh. */
void cli_progress_end(cli_progress *pr);

/* ------------------------------------------------------------------------
 * report.c: probe points and error figures, shared by train and compare.
 * ------------------------------------------------------------------------ */

/* Errors of a model against reference values, per output. */
typedef struct cli_errors {
    size_t n;      /* points measured */
    size_t failed; /* points with no reference (failed solves or nodes) */
    double max_abs[TB_MODEL_MAX_OUT];
    double max_rel[TB_MODEL_MAX_OUT]; /* max_abs / output range */
    double mean_abs[TB_MODEL_MAX_OUT];
    double rms[TB_MODEL_MAX_OUT];
} cli_errors;

/* The range an output is scaled by (1 when the range is empty). */
double cli_output_range(const tb_model *m, int k);

/* The problem and solver settings a model was trained for, from its
 * attributes; checks that its inputs and outputs are the problem's.
 * Returns 0 or TB_EFORMAT / TB_NOT_FOUND naming what is missing. */
int cli_model_solver(const tb_model *m, const tb_problem **p, tb_solver_opts *o,
                     tb_error *err);

/*
 * Pick up to want cell centres of the model's grid: every cell if there
 * are no more than want, else want distinct cells drawn with seed.  Points
 * come sorted so that those sharing a parameter tuple are adjacent.  *x
 * (n_in values per point) is owned by the caller (free).  Returns 0 or
 * TB_ENOMEM.
 */
int cli_probe_points(const tb_model *m, size_t want, uint64_t seed, double **x,
                     size_t *n, tb_error *err);

/* Solve up to want probe points fresh and measure the model there.  Failed
 * solves are counted in e->failed and left out of the figures.  Returns 0
 * or a negative status. */
int cli_probe_errors(const tb_model *m, const tb_problem *p,
                     const tb_solver_opts *o, size_t want, uint64_t seed,
                     cli_errors *e, tb_error *err);

/* Measure the model's max error in every grid cell of table t, at the
 * cell's nodes (x, y: the table's n rows, every node) and at its centre
 * (solved fresh), and keep the figures in m (tb_model_set_cells).  Returns
 * 0 or a negative status; a failed centre solve is an error (cli/cells.c). */
int cli_cells_measure(tb_model *m, const tb_table *t, const double *x,
                      const double *y, size_t n, tb_error *err);

/* The rows of every table node that solved: *x gets n_params + n_coords
 * inputs per node, *y n_outputs values per node, *n the row count.  Both
 * arrays are owned by the caller (free).  Returns 0 or TB_ENOMEM. */
int cli_table_rows(const tb_table *t, double **x, double **y, size_t *n,
                   tb_error *err);

/* How a network is built beyond its widths (`tabula train` options). */
typedef struct cli_net {
    int activation;          /* enum tb_activation (tanh) */
    int n_fourier;           /* Fourier-feature frequencies (0: none) */
    double fourier_scale;    /* their standard deviation (1) */
    int log_inputs;          /* 1: log-spaced axes scaled in log units (1) */
    const char *log_outputs; /* "auto", "none" or NAME,... ("auto") */
} cli_net;

/* The defaults given above. */
void cli_net_default(cli_net *net);

/* The name of activation a ("tanh", "silu", "sine"), or NULL. */
const char *cli_activation_name(int a);

/* The activation called name, or -1. */
int cli_activation_parse(const char *name);

/*
 * Initialise m with the given hidden widths over table t's grid, its
 * outputs scaled by their ranges over y (n rows), built as net says (NULL:
 * cli_net_default).  log_outputs "auto" takes the log of every output that
 * is positive with max / min >= CLI_LOG_DECADES; a list names them (each
 * must be positive).  Returns 0, TB_EINVAL (an unknown or non-positive
 * output named: err->where is "log-outputs"), or tb_model_init's status.
 */
int cli_model_for_table(tb_model *m, const tb_table *t, const double *y,
                        size_t n, int n_hidden, const int *hidden,
                        const cli_net *net, uint64_t seed, tb_error *err);

#define CLI_LOG_DECADES 1e3 /* max / min from which auto takes the log */

/* Measure the model at every table node that solved.  The table must be
 * the model's problem and lie inside its domain.  Returns 0 or a negative
 * status. */
int cli_table_errors(const tb_model *m, const tb_table *t, cli_errors *e,
                     tb_error *err);

/* Copy measured figures into the grid or probe part of a report. */
void cli_report_grid(tb_report *r, const tb_model *m, const cli_errors *e);
void cli_report_probes(tb_report *r, const tb_model *m, const cli_errors *e);

/* Print a model's error report for people, one block per output. */
void cli_print_report(FILE *f, const tb_model *m, const tb_report *r);

/* Multilinear interpolation on table t at n points (the table's inputs per
 * row); y gets n rows of n_outputs values (cli/linear.c). */
void cli_linear_eval(const tb_table *t, const double *x, size_t n, double *y);

/* The bytes multilinear interpolation holds for table t. */
size_t cli_linear_bytes(const tb_table *t);

/* Multilinear interpolation's errors at the model's probe points (solved
 * fresh) and its seconds per query.  Returns 0 or a negative status. */
int cli_linear_probe_errors(const tb_model *m, const tb_table *t,
                            const tb_problem *p, const tb_solver_opts *o,
                            size_t want, cli_errors *e, double *per_query,
                            tb_error *err);

#endif

/*
 * cmd_tune.c - `tabula tune`: find the smallest network that memorises a
 * table to a target, by short trials from the smallest candidate up, then
 * train the winner with the rest of the budget through `tabula train`.
 *
 * Every finished trial is appended to OUT.trials.txt, so a tune that was
 * stopped resumes (--resume) without repeating them; the final training
 * checkpoints into OUT.ckpt/ and resumes the same way.
 */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_tune_help[] =
    "usage: tabula tune TABLE.h5 --target E -o MODEL.h5 [options]\n"
    "\n"
    "Search depth, width, input encoding (none, or 16 Fourier features),\n"
    "learning rate and a full-batch phase (Levenberg-Marquardt after 30\n"
    "Adam epochs, for the small networks) for the smallest network\n"
    "whose grid max error / range reaches E on the table: short trials\n"
    "from the smallest candidate up, stopping at the first that meets E (or\n"
    "taking the best when none does).  The winner is then trained afresh\n"
    "with the rest of the budget by `tabula train` (its output follows).\n"
    "Every trial (weights, seconds, grid max error) is printed and kept in\n"
    "MODEL.h5.trials.txt.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE    the model to write (required)\n"
    "  --target E           grid max error / range to reach (required)\n"
    "  --budget S           seconds for the whole search (default 600)\n"
    "  --trial S            seconds per trial (default budget / 10)\n"
    "  --activation A       the networks' activation: tanh, silu or sine\n"
    "                       (default tanh; see tabula train --help)\n"
    "  --resume             reuse finished trials and the final training's\n"
    "                       checkpoints\n" CLI_HELP_COMMON "\n"
    "example:\n"
    "  tabula tune heat1d-table.h5 --target 1e-2 --budget 300 -o heat1d.h5\n";

/* The candidates, smallest first (for three inputs).  Networks small
 * enough for Levenberg-Marquardt get it after 30 Adam epochs: on the
 * built-in problems that beat any larger network trained by Adam alone
 * (README.md, "Accuracy of the surrogates"). */
#define FULL_AFTER 30 /* Adam epochs before the full-batch phase */
#define FOURIER_M  16 /* frequencies of the encoded candidates */

static const struct candidate {
    int depth, width;
    double lr;
    int fourier; /* Fourier-feature frequencies, 0: none */
    int full;    /* 1: a full-batch phase after FULL_AFTER epochs */
} candidates[] = {
    {2, 16, 3e-3, 0, 1},         {3, 16, 3e-3, 0, 1},
    {3, 16, 3e-3, FOURIER_M, 1}, {3, 24, 3e-3, 0, 1},
    {3, 32, 3e-3, 0, 1},         {3, 48, 3e-3, 0, 0},
    {3, 64, 3e-3, 0, 0},         {3, 64, 3e-3, FOURIER_M, 0},
    {3, 64, 1e-3, 0, 0},         {4, 64, 1e-3, 0, 0},
    {4, 96, 1e-3, 0, 0},
};
#define N_CANDIDATES (int)(sizeof(candidates) / sizeof(*candidates))

typedef struct tune_args {
    const char *table, *output;
    double target, budget, trial;
    int resume;
    int activation; /* enum tb_activation of every candidate */
} tune_args;

/* One trial's result. */
typedef struct result {
    int done;
    size_t weights;
    double seconds, max_rel;
} result;

/* ------------------------------------------------------------------------
 * Trials
 * ------------------------------------------------------------------------ */

/* A fresh model of candidate c over the table's domain and ranges. */
static int build(const tune_args *a, const tb_table *t, const double *y,
                 size_t n, const struct candidate *c, tb_model *m,
                 tb_error *err)
{
    int hidden[TB_MODEL_MAX_HIDDEN];
    cli_net net;

    cli_net_default(&net);
    net.activation = a->activation;
    net.n_fourier = c->fourier;
    for (int l = 0; l < c->depth; l++)
        hidden[l] = c->width;
    return cli_model_for_table(m, t, y, n, c->depth, hidden, &net, 1, err);
}

/* Train candidate c for the trial's seconds; its result into r. */
static int trial(const tune_args *a, const tb_table *t, const double *x,
                 const double *y, size_t n, const struct candidate *c,
                 result *r, tb_error *err)
{
    tb_train_opts o;
    tb_model m = {0};
    double t0 = tb_now(), worst = 0;
    int rc;

    tb_train_opts_default(&o);
    o.batch = 256;
    o.lr = c->lr;
    o.lr_min = c->lr / 100;
    o.max_epochs = 0;
    o.time_limit = a->trial;
    o.target = a->target;
    if (c->full) {
        o.lbfgs_after = FULL_AFTER;
        o.objective = TB_OBJ_WORST;
    }
    rc = build(a, t, y, n, c, &m, err);
    if (rc == 0)
        rc = tb_train(&m, x, y, n, &o, NULL, err);
    if (rc > 0) {
        for (int k = 0; k < m.n_out; k++)
            worst = fmax(worst, m.report.grid_max_rel[k]);
        *r = (result){1, m.n_params, tb_now() - t0, worst};
        rc = 0;
    }
    tb_model_free(&m);
    return rc;
}

/* ------------------------------------------------------------------------
 * The trials file
 * ------------------------------------------------------------------------ */

/* Read finished trials: lines "index weights seconds max_rel". */
static void read_trials(const char *path, result *res)
{
    FILE *f = fopen(path, "r");
    result r = {1, 0, 0, 0};
    int i;

    if (!f)
        return;
    while (fscanf(f, "%d %zu %lf %lf", &i, &r.weights, &r.seconds,
                  &r.max_rel) == 4)
        if (i >= 0 && i < N_CANDIDATES)
            res[i] = r;
    fclose(f);
}

/* Append one finished trial; 0 or TB_EIO. */
static int append_trial(const char *path, int i, const result *r, tb_error *err)
{
    FILE *f = fopen(path, "a");
    int bad;

    if (!f)
        return tb_error_set(err, TB_EIO, path, "cannot append to %s", path);
    bad = fprintf(f, "%d %zu %.3f %.6e\n", i, r->weights, r->seconds,
                  r->max_rel) < 0;
    bad |= fclose(f) != 0;
    return bad ? tb_error_set(err, TB_EIO, path, "cannot write %s", path) : 0;
}

/* "3x16", "3x16+f16", "3x16+LM", ... for candidate c. */
static void candidate_name(const struct candidate *c, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%dx%d", c->depth, c->width);

    if (c->fourier && n >= 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, "+f%d", c->fourier);
    if (c->full && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, "+LM");
}

static void print_trial(int i, const result *r, double target)
{
    const struct candidate *c = &candidates[i];
    char name[32];

    candidate_name(c, name, sizeof(name));
    printf("  %-12s lr %-7.0e %8zu weights %7.1f s  grid max %.3e%s\n", name,
           c->lr, r->weights, r->seconds, r->max_rel,
           r->max_rel <= target ? "  meets the target" : "");
    fflush(stdout);
}

/* ------------------------------------------------------------------------
 * The search and the final training
 * ------------------------------------------------------------------------ */

/* Trials from the smallest up; the index of the winner, or < 0. */
static int search(const tune_args *a, const char *trials, result *res,
                  double *spent, tb_error *err)
{
    tb_table t = {0};
    double *x = NULL, *y = NULL, t0 = tb_now();
    size_t n = 0;
    int best = -1, rc;

    rc = tb_table_read(a->table, &t, err);
    if (rc == 0)
        rc = cli_table_rows(&t, &x, &y, &n, err);
    printf("tabula tune: trials of %.0f s each, target %g\n", a->trial,
           a->target);
    fflush(stdout);
    for (int i = 0; rc == 0 && i < N_CANDIDATES; i++) {
        if (!res[i].done && tb_now() - t0 + a->trial > a->budget / 2)
            break;
        if (!res[i].done &&
            (rc = trial(a, &t, x, y, n, &candidates[i], &res[i], err)) == 0)
            rc = append_trial(trials, i, &res[i], err);
        if (rc != 0)
            break;
        print_trial(i, &res[i], a->target);
        if (best < 0 || res[i].max_rel < res[best].max_rel)
            best = i;
        if (res[i].max_rel <= a->target) {
            best = i;
            break;
        }
    }
    *spent = tb_now() - t0;
    free(x);
    free(y);
    tb_table_free(&t);
    return rc != 0 ? rc : best;
}

/* `tabula train` on the winner with the rest of the budget. */
static int final_training(const tune_args *a, int best, double seconds)
{
    const struct candidate *c = &candidates[best];
    char hidden[64] = "", lr[32], limit[32], target[32], ckpt[4200];
    char fourier[16], full[16], name[32];
    char *argv[24];
    int argc = 0;

    for (int l = 0; l < c->depth; l++)
        snprintf(hidden + strlen(hidden), sizeof(hidden) - strlen(hidden),
                 "%s%d", l ? "," : "", c->width);
    snprintf(lr, sizeof(lr), "%g", c->lr);
    snprintf(limit, sizeof(limit), "%.0f", seconds);
    snprintf(target, sizeof(target), "%g", a->target);
    snprintf(ckpt, sizeof(ckpt), "%s.ckpt", a->output);
    snprintf(fourier, sizeof(fourier), "%d", c->fourier);
    snprintf(full, sizeof(full), "%d", c->full ? FULL_AFTER : -1);

    argv[argc++] = "tabula train";
    argv[argc++] = (char *)a->table;
    argv[argc++] = "-o";
    argv[argc++] = (char *)a->output;
    argv[argc++] = "--hidden";
    argv[argc++] = hidden;
    argv[argc++] = "--lr";
    argv[argc++] = lr;
    argv[argc++] = "--time-limit";
    argv[argc++] = limit;
    argv[argc++] = "--target";
    argv[argc++] = target;
    argv[argc++] = "--checkpoint";
    argv[argc++] = ckpt;
    argv[argc++] = "--activation";
    argv[argc++] = (char *)cli_activation_name(a->activation);
    argv[argc++] = "--lbfgs-after";
    argv[argc++] = full;
    if (c->fourier) {
        argv[argc++] = "--fourier";
        argv[argc++] = fourier;
    }
    if (a->resume)
        argv[argc++] = "--resume";
    argv[argc] = NULL;

    candidate_name(c, name, sizeof(name));
    printf("tabula tune: training %s, lr %s, for up to %s s\n", name, lr,
           limit);
    fflush(stdout);
    optind = 0; /* GNU getopt: start afresh for the train command */
    return cmd_train(argc, argv);
}

/* Keep the trials in the model as the attribute tune_trials, one
 * "DxW:weights:max_rel" entry per trial (as many as fit). */
static int record_trials(const tune_args *a, const result *res)
{
    char buf[256] = "";
    tb_model m = {0};
    tb_error err;
    int rc;

    tb_error_clear(&err);
    for (int i = 0; i < N_CANDIDATES; i++) {
        size_t used = strlen(buf);
        char name[32];
        int len;

        if (!res[i].done)
            continue;
        candidate_name(&candidates[i], name, sizeof(name));
        len = snprintf(buf + used, sizeof(buf) - used, "%s%s:%zu:%.2e",
                       used ? " " : "", name, res[i].weights, res[i].max_rel);
        if (len < 0 || (size_t)len >= sizeof(buf) - used) {
            buf[used] = '\0';
            break;
        }
    }
    rc = tb_model_load(a->output, &m, &err);
    if (rc == 0)
        rc = tb_model_set_attr(&m, "tune_trials", buf) == 0
                 ? tb_model_save(&m, a->output, &err)
                 : tb_error_set(&err, TB_ELIMIT, "attributes",
                                "no room for the tune_trials attribute");
    tb_model_free(&m);
    return rc == 0 ? CLI_EXIT_OK : cli_fail(CLI_EXIT_FAIL, "tune", &err);
}

static int run(const tune_args *a)
{
    result res[N_CANDIDATES] = {{0}};
    char trials[4200], name[32];
    double spent;
    tb_error err;
    int best, code;

    tb_error_clear(&err);
    snprintf(trials, sizeof(trials), "%s.trials.txt", a->output);
    if (a->resume)
        read_trials(trials, res);
    else
        remove(trials);

    best = search(a, trials, res, &spent, &err);
    if (best < 0 && err.code)
        return cli_fail(CLI_EXIT_FAIL, "tune", &err);
    if (best < 0)
        return cli_error(CLI_EXIT_FAIL, "tune",
                         "the budget of %.0f s leaves no time for a trial",
                         a->budget);
    candidate_name(&candidates[best], name, sizeof(name));
    printf("tabula tune: trials took %.1f s; the winner is %s (trials in "
           "%s)\n",
           spent, name, trials);
    code = final_training(a, best, fmax(a->budget - spent, a->trial));
    return code == CLI_EXIT_OK ? record_trials(a, res) : code;
}

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

static int parse(int argc, char **argv, tune_args *a)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"target", required_argument, NULL, 't'},
        {"budget", required_argument, NULL, 'b'},
        {"trial", required_argument, NULL, 'T'},
        {"resume", no_argument, NULL, 'r'},
        {"activation", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc = 0;

    while (rc == 0 &&
           (c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        if (c == 'o')
            a->output = optarg;
        else if (c == 't')
            rc = cli_opt_double("tune", "target", optarg, 1e-12, 1, &a->target);
        else if (c == 'b')
            rc = cli_opt_double("tune", "budget", optarg, 1, 1e9, &a->budget);
        else if (c == 'T')
            rc = cli_opt_double("tune", "trial", optarg, 0.1, 1e9, &a->trial);
        else if (c == 'r')
            a->resume = 1;
        else if (c == 'a' && (a->activation = cli_activation_parse(optarg)) < 0)
            return cli_usage("tune",
                             "--activation '%s'; expected tanh, silu or sine",
                             optarg);
        else if (c == 'h')
            return fputs(cmd_tune_help, stdout) < 0 ? CLI_EXIT_FAIL : -1;
        else
            return cli_bad_option("tune");
    }
    if (rc != 0)
        return rc;
    if (cli_operand("tune", argc, argv,
                    "missing TABLE.h5, the table to memorise", &a->table))
        return CLI_EXIT_USAGE;
    if (!a->output)
        return cli_usage("tune", "missing -o MODEL.h5, the model to write");
    if (!(a->target > 0))
        return cli_usage("tune", "missing --target E, the error to reach");
    return 0;
}

int cmd_tune(int argc, char **argv)
{
    tune_args a = {.budget = 600};
    int rc = parse(argc, argv, &a);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (a.trial <= 0)
        a.trial = a.budget / 10;
    return run(&a);
}

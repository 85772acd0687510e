/*
 * cmd_train.c - `tabula train`: memorise a table in a surrogate network,
 * measure it at off-grid probes and save the model.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char cmd_train_help[] =
    "usage: tabula train TABLE.h5 -o MODEL.h5 [options]\n"
    "\n"
    "Train a float32 network (tanh hidden layers unless --activation says\n"
    "otherwise, linear output) until it\n"
    "has memorised every node of the table: no validation split, no\n"
    "regularisation.  The full-grid maximum error is measured every few\n"
    "epochs and the weights with the lowest one are kept.  Training stops at\n"
    "the target, at the epoch or time limit, or on SIGINT/SIGTERM (the best\n"
    "weights are still saved, and the exit status is 130, or 143 for\n"
    "SIGTERM, so scripts can tell).  The model is then measured at off-grid\n"
    "probe points solved fresh, and written atomically.  A table with failed\n"
    "nodes is refused.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE    the model to write (required)\n"
    "  --hidden W,W,...     hidden layer widths (default 64,64,64, or the\n"
    "                       problem's: see below)\n"
    "  --batch N            mini-batch size (default 256)\n"
    "  --lr E               peak learning rate (default 3e-3)\n"
    "  --epochs N           epoch limit (default 0: none; the time limit\n"
    "                       stops training and the rate schedule spans the\n"
    "                       epochs that fit in it)\n"
    "  --time-limit S       seconds of training at most (default 570)\n"
    "  --target E           stop when every output's grid max error is\n"
    "                       at most E times its range (default 1e-3, or\n"
    "                       the problem's)\n"
    "  --eval-every N       epochs between full-grid measurements "
    "(default 10)\n"
    "  --seed N             initial weights and batch order (default 1)\n"
    "  --threads N          OpenBLAS threads (default 1)\n"
    "  --checkpoint DIR     write checkpoints into DIR\n"
    "  --checkpoint-every S seconds between checkpoints (default 60)\n"
    "  --keep N             checkpoints kept (default 3)\n"
    "  --resume             continue from the newest valid checkpoint\n"
    "  --lbfgs-after N      Adam epochs before a full-batch phase in double\n"
    "                       precision: Levenberg-Marquardt up to 3000\n"
    "                       weights, L-BFGS beyond (default -1: Adam\n"
    "                       only, or the problem's)\n"
    "  --lbfgs-mem N        L-BFGS pairs kept (default 20)\n"
    "  --objective OBJ      the full-batch phase's objective: worst (least\n"
    "                       squares for 20 steps, then before every step\n"
    "                       each node weighted by 1 + 30 (e / e_max)^6 of\n"
    "                       its error e; Levenberg-Marquardt only) or mse\n"
    "                       (least squares) (default worst: on heat1d,\n"
    "                       3 x 16, 50 LM steps, grid max 1.8e-3 against\n"
    "                       5.1e-3)\n"
    "  --activation A       hidden layers' activation: tanh, silu or sine\n"
    "                       (SIREN initialisation) (default tanh)\n"
    "  --fourier M[:S]      encode the scaled inputs x with M random\n"
    "                       frequencies B ~ N(0, S^2) (default S 1): the\n"
    "                       network sees x, sin(2 pi B^T x), cos(2 pi B^T x)\n"
    "                       (default 0: no encoding)\n"
    "  --log-inputs WHEN    auto: inputs on log-spaced axes are scaled in log\n"
    "                       units; none: all linearly (default auto)\n"
    "  --log-outputs WHICH  outputs fitted as log(y): auto (each positive\n"
    "                       output with max / min >= 1000), none, or\n"
    "                       NAME,NAME... (default auto); predictions and\n"
    "                       errors stay in the output's own units\n"
    "  --init OLD.h5        start from OLD's weights (same inputs, outputs\n"
    "                       and hidden widths; --hidden, the activation and\n"
    "                       the log transforms are taken from it),\n"
    "                       re-expressed for the new table's ranges (not\n"
    "                       with --fourier)\n"
    "  --freeze N           keep the first N layers of --init's weights\n"
    "  --probes N           off-grid probe points measured at the end\n"
    "                       (default 4096; 0 skips them)\n"
    "  --cells              also measure the max error in every grid cell\n"
    "                       (its nodes and its centre, solved fresh: about\n"
    "                       twice the solver work) and keep the figures in\n"
    "                       the model; the service certifies each answer\n"
    "                       with its cell's figure\n" CLI_HELP_COMMON "\n"
    "A built-in problem's table brings the defaults measured best for it\n"
    "(options given here win, and the command says which it applied):\n"
    "  heat1d, blackscholes  --hidden 16,16,16 --lbfgs-after 30 "
    "--target 1e-4\n"
    "  americanput, burgers1d  --hidden 16,16,16 --lbfgs-after 30\n"
    "  robertson            --hidden 32,32,32 --lbfgs-after 30\n"
    "  fhn1d                the general defaults\n"
    "\n"
    "example:\n"
    "  tabula train heat1d-table.h5 -o heat1d.h5 --target 1e-3 "
    "--time-limit 300\n";

typedef struct train_args {
    const char *table;
    const char *output;
    int hidden[TB_MODEL_MAX_HIDDEN];
    int n_hidden;
    tb_train_opts opts;
    int threads;
    long probes;
    int cells;            /* --cells: measure per-cell certificates */
    const char *init;     /* --init OLD.h5, or NULL */
    int activation_given; /* --activation was given */
    int objective_given;  /* --objective was given */
    int hidden_given;     /* --hidden was given */
    int lbfgs_given;      /* --lbfgs-after was given */
    int target_given;     /* --target was given */
    cli_net net;          /* activation, encoding, log transforms */
    tb_model old;         /* with --init: the old model (its shape) */
} train_args;

/* What the progress callback needs between calls. */
typedef struct train_ui {
    cli_progress pr;
    const tb_model *m;
    double max_rel; /* the last measured grid max error / range */
    double best;    /* the lowest so far: the weights that are kept */
    int worst;      /* the output with the largest error */
} train_ui;

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t stop_signal;

/* The first signal asks training to stop; a second one ends the process. */
static void on_signal(int sig)
{
    if (stop_requested) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
    stop_requested = 1;
}

static int catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL))
        return cli_error(CLI_EXIT_FAIL, "train", "sigaction: %s",
                         strerror(errno));
    return 0;
}

static void show_progress(const tb_train_progress *p, void *data)
{
    train_ui *ui = data;
    char limit[32] = ""; /* "/N" for an epoch limit N */

    if (p->evaluated) {
        ui->max_rel = p->max_rel;
        ui->best = p->max_rel < ui->best ? p->max_rel : ui->best;
        if (p->worst >= 0 && p->worst < ui->m->n_out)
            ui->worst = p->worst;
    }
    /* Nothing is measured before the first evaluation: say so rather
     * than print nan and inf. */
    if (!isfinite(ui->best)) {
        cli_progress_show(&ui->pr, 0,
                          "epoch=%ld loss=%.3e max_rel=(not yet "
                          "measured)",
                          p->epoch, p->loss);
        return;
    }
    if (p->max_epochs > 0)
        snprintf(limit, sizeof(limit), "/%ld", p->max_epochs);
    cli_progress_show(&ui->pr, 0,
                      "epoch=%ld%s loss=%.3e max_rel=%.3e best=%.3e worst=%s",
                      p->epoch, limit, p->loss, ui->max_rel, ui->best,
                      ui->m->out_name[ui->worst]);
}

/* ------------------------------------------------------------------------
 * Building the model from the table.
 * ------------------------------------------------------------------------ */

/* Set the attributes compare, predict and the server read back. */
static int set_attrs(tb_model *m, const tb_table *t, const char *table_path)
{
    char buf[PATH_MAX], *full;
    int rc = 0;

    rc |= tb_model_set_attr(m, "problem", t->problem);
    snprintf(buf, sizeof(buf), "%.17g", t->opts.rtol);
    rc |= tb_model_set_attr(m, "solver_rtol", buf);
    snprintf(buf, sizeof(buf), "%.17g", t->opts.atol);
    rc |= tb_model_set_attr(m, "solver_atol", buf);
    snprintf(buf, sizeof(buf), "%ld", t->opts.max_steps);
    rc |= tb_model_set_attr(m, "solver_max_steps", buf);
    snprintf(buf, sizeof(buf), "%d", t->opts.mesh);
    rc |= tb_model_set_attr(m, "solver_mesh", buf);

    /* An absolute path keeps working when the model is moved to serve. */
    full = realpath(table_path, NULL);
    rc |= tb_model_set_attr(m, "table", full ? full : table_path);
    free(full);
    rc |= tb_model_set_attr(m, "table_created", t->created);

    /* The axes' spacings, so that probes fall between the nodes. */
    buf[0] = '\0';
    for (int k = 0; k < t->n_params + t->n_coords; k++)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
                 k ? "," : "", tb_spacing_name(t->axes[k].spacing));
    rc |= tb_model_set_attr(m, "spacings", buf);
    return rc;
}

/* Say which inputs and outputs are in log units, when any are. */
static void say_transforms(const tb_model *m)
{
    char buf[512] = "";

    for (int i = 0; i < m->n_in; i++)
        if (m->in_log[i])
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " %s",
                     m->in[i].name);
    if (buf[0])
        printf("tabula train: inputs scaled in log units:%s\n", buf);
    buf[0] = '\0';
    for (int k = 0; k < m->n_out; k++)
        if (m->out_log[k])
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " %s",
                     m->out_name[k]);
    if (buf[0])
        printf("tabula train: outputs fitted as log(y):%s\n", buf);
}

/* Build a fresh model whose domain is the table's grid. */
static int build_model(const train_args *a, const tb_table *t, const double *y,
                       size_t n, tb_model *m, tb_error *err)
{
    if (cli_model_for_table(m, t, y, n, a->n_hidden, a->hidden, &a->net,
                            a->opts.seed, err) != 0)
        return err->code ? err->code : TB_EINVAL;

    /* With --init, the transforms are the old network's. */
    if (a->init) {
        memcpy(m->in_log, a->old.in_log, sizeof(m->in_log));
        memcpy(m->out_log, a->old.out_log, sizeof(m->out_log));
        memcpy(m->out_shift, a->old.out_shift, sizeof(m->out_shift));
    }
    say_transforms(m);
    if (set_attrs(m, t, a->table) != 0)
        return tb_error_set(err, TB_ELIMIT, "attributes",
                            "cannot set the model's attributes");
    return 0;
}

/* ------------------------------------------------------------------------
 * Training, probing, saving.
 * ------------------------------------------------------------------------ */

/* Train m on the table's rows and say why it stopped. */
static int train(train_args *a, tb_model *m, const double *x, const double *y,
                 size_t n, tb_error *err)
{
    tb_train_progress last = {0};
    train_ui ui = {.m = m, .max_rel = NAN, .best = INFINITY};
    int rc;

    if (catch_signals() != 0)
        return tb_error_set(err, TB_EIO, "signals", "cannot catch SIGINT");
    a->opts.stop = &stop_requested;
    a->opts.progress = show_progress;
    a->opts.progress_data = &ui;

    cli_progress_init(&ui.pr, "train");
    rc = tb_train(m, x, y, n, &a->opts, &last, err);
    cli_progress_end(&ui.pr);
    if (rc < 0)
        return rc;

    printf("tabula train: stopped: %s after %ld epochs, %.1f s\n",
           tb_status_message(rc), last.epoch, last.seconds);
    return 0;
}

/* Measure the model at off-grid probes, solved with the table's settings. */
static int probe(const train_args *a, tb_model *m, tb_error *err)
{
    const char *name;
    const tb_problem *p;
    tb_solver_opts o;
    cli_errors e;
    int rc;

    if (a->probes == 0)
        return 0;
    /* A table written by another solver, for a problem this tabula does
     * not know: nothing can solve the probes, so the report is grid-only
     * and says so. */
    name = tb_model_attr(m, "problem");
    if (!name || !tb_problem_find(name)) {
        printf("tabula train: problem '%s' is unknown here (a table from "
               "another solver?): no off-grid probes; the error report is "
               "grid-only\n",
               name ? name : "?");
        return tb_model_set_attr(m, "report", "grid-only") ? TB_ELIMIT : 0;
    }
    rc = cli_model_solver(m, &p, &o, err);
    if (rc == 0)
        rc = cli_probe_errors(m, p, &o, (size_t)a->probes, CLI_PROBE_SEED, &e,
                              err);
    if (rc != 0)
        return rc;

    cli_report_probes(&m->report, m, &e);
    if (e.failed > 0)
        printf("tabula train: the solver failed at %zu probe points; they "
               "are left out of the probe figures\n",
               e.failed);
    return 0;
}

static void print_summary(const train_args *a, const tb_model *m)
{
    double worst = 0;

    for (int k = 0; k < m->n_out; k++)
        worst = fmax(worst, m->report.grid_max_rel[k]);
    printf("tabula train: grid max error / range %.3e, target %.3e: %s\n",
           worst, a->opts.target, worst <= a->opts.target ? "met" : "NOT met");
    printf("error report (%s):\n", a->output);
    cli_print_report(stdout, m, &m->report);
    fflush(stdout);
}

/* With --init, the network's shape and activation are the old model's
 * (kept in a->old for warm_start). */
static int warm_shape(train_args *a, tb_error *err)
{
    int rc;

    if (!a->init)
        return 0;
    if ((rc = tb_model_load(a->init, &a->old, err)) != 0)
        return rc;
    a->n_hidden = a->old.n_hidden;
    memcpy(a->hidden, a->old.hidden, sizeof(a->hidden));
    a->net.activation = a->old.activation;
    return 0;
}

/* With --init, the old model's weights re-expressed for m's ranges. */
static int warm_start(const train_args *a, tb_model *m, tb_error *err)
{
    int rc;

    if (!a->init)
        return 0;
    rc = tb_model_warm_start(m, &a->old, err);
    if (rc == 0)
        printf("tabula train: starting from %s's weights%s\n", a->init,
               a->opts.freeze ? " (first layers frozen)" : "");
    return rc;
}

/* ------------------------------------------------------------------------
 * What a problem's defaults carry.
 * ------------------------------------------------------------------------ */

/*
 * Per problem, the network and phases that reached the lowest grid max
 * error within the default time limit on the problem's default grid, by
 * the runs in README.md's accuracy table, and the target its accuracy is
 * held to.  They fill in what the command line leaves unsaid; a problem
 * not listed keeps the general defaults (3 x 64, Adam only, 1e-3).
 */
static const struct problem_defaults {
    const char *problem;
    double target;
    int width;        /* of three hidden layers */
    long lbfgs_after; /* -1: Adam only */
} problem_defaults[] = {
    {"heat1d", 1e-4, 16, 30},      {"blackscholes", 1e-4, 16, 30},
    {"americanput", 1e-3, 16, 30}, {"burgers1d", 1e-3, 16, 30},
    {"robertson", 1e-3, 32, 30},   {"fhn1d", 1e-3, 64, -1},
};

/* Apply the defaults of the table's problem to what was not given, and
 * say which were applied.  A warm start keeps the old network, and frozen
 * layers rule out the full-batch phase. */
static void problem_defaults_apply(train_args *a, const char *problem)
{
    const struct problem_defaults *d = NULL;
    char said[256] = "";

    for (size_t i = 0; i < sizeof(problem_defaults) / sizeof(*problem_defaults);
         i++)
        if (strcmp(problem, problem_defaults[i].problem) == 0)
            d = &problem_defaults[i];
    if (!d)
        return;

    if (!a->hidden_given && !a->init) {
        a->n_hidden = 3;
        for (int l = 0; l < 3; l++)
            a->hidden[l] = d->width;
        snprintf(said + strlen(said), sizeof(said) - strlen(said),
                 " --hidden %d,%d,%d", d->width, d->width, d->width);
    }
    if (!a->lbfgs_given && d->lbfgs_after >= 0 && a->opts.freeze == 0) {
        a->opts.lbfgs_after = d->lbfgs_after;
        snprintf(said + strlen(said), sizeof(said) - strlen(said),
                 " --lbfgs-after %ld", d->lbfgs_after);
    }
    if (!a->target_given && d->target != a->opts.target) {
        a->opts.target = d->target;
        snprintf(said + strlen(said), sizeof(said) - strlen(said),
                 " --target %g", d->target);
    }
    if (said[0])
        printf("tabula train: %s's defaults:%s\n", problem, said);
}

/* The whole command once the options are known. */
static int run(train_args *a)
{
    tb_table t = {0};
    tb_model m = {0};
    double *x = NULL, *y = NULL;
    int code = CLI_EXIT_FAIL;
    size_t n = 0;
    tb_error err;

    tb_error_clear(&err);
    if (tb_table_read(a->table, &t, &err) != 0)
        goto fail;
    if (t.n_failed > 0) {
        cli_error(CLI_EXIT_FAIL, "train",
                  "%s: %zu of %zu nodes failed to solve; a surrogate "
                  "must memorise a complete table (tabulate again, e.g. "
                  "with more --max-steps or a smaller grid)",
                  a->table, t.n_failed, t.n_nodes);
        goto out;
    }

    problem_defaults_apply(a, t.problem);
    if (a->objective_given && a->opts.lbfgs_after < 0) {
        code = cli_usage("train", "--objective applies to the full-batch "
                                  "phase: give --lbfgs-after N too");
        goto out;
    }
    if (cli_table_rows(&t, &x, &y, &n, &err) != 0 || warm_shape(a, &err) != 0 ||
        build_model(a, &t, y, n, &m, &err) != 0 ||
        warm_start(a, &m, &err) != 0 || train(a, &m, x, y, n, &err) != 0 ||
        probe(a, &m, &err) != 0 ||
        (a->cells && cli_cells_measure(&m, &t, x, y, n, &err) != 0) ||
        tb_model_save(&m, a->output, &err) != 0)
        goto fail;

    print_summary(a, &m);
    code = CLI_EXIT_OK;
    if (stop_requested) {
        /* The model is complete, but not what was asked for. */
        printf("tabula train: interrupted; the best weights so far are "
               "saved in %s\n",
               a->output);
        code = 128 + (stop_signal ? stop_signal : SIGINT);
    }
    goto out;
fail:
    /* A name in --log-outputs is checked against the table's outputs
     * only now, but it is still a bad option. */
    code =
        strcmp(err.where, "log-outputs") == 0 ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    cli_fail(code, "train", &err);
out:
    free(x);
    free(y);
    tb_model_free(&m);
    tb_model_free(&a->old);
    tb_table_free(&t);
    return code;
}

/* ------------------------------------------------------------------------
 * Options.
 * ------------------------------------------------------------------------ */

static const struct option longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"hidden", required_argument, NULL, 'H'},
    {"batch", required_argument, NULL, 'b'},
    {"lr", required_argument, NULL, 'l'},
    {"epochs", required_argument, NULL, 'e'},
    {"time-limit", required_argument, NULL, 'T'},
    {"target", required_argument, NULL, 't'},
    {"eval-every", required_argument, NULL, 'v'},
    {"seed", required_argument, NULL, 's'},
    {"threads", required_argument, NULL, 'n'},
    {"checkpoint", required_argument, NULL, 'c'},
    {"checkpoint-every", required_argument, NULL, 'C'},
    {"keep", required_argument, NULL, 'k'},
    {"resume", no_argument, NULL, 'r'},
    {"probes", required_argument, NULL, 'p'},
    {"lbfgs-after", required_argument, NULL, 'A'},
    {"lbfgs-mem", required_argument, NULL, 'M'},
    {"init", required_argument, NULL, 'I'},
    {"freeze", required_argument, NULL, 'F'},
    {"cells", no_argument, NULL, 'Z'},
    {"objective", required_argument, NULL, 'O'},
    {"activation", required_argument, NULL, 'a'},
    {"fourier", required_argument, NULL, 'f'},
    {"log-inputs", required_argument, NULL, 'L'},
    {"log-outputs", required_argument, NULL, 'Y'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The whole-number options whose bounds are not [1, INT_MAX]. */
static const struct bounds {
    int c;
    long lo, hi;
} bounds[] = {
    {'e', 0, LONG_MAX},
    {'s', 0, LONG_MAX},
    {'p', 0, LONG_MAX},
    {'n', 1, 256},
    {'A', -1, INT_MAX},
    {'M', 1, 1000},
    {'F', 0, TB_MODEL_MAX_HIDDEN},
};

/* Options that take a whole number. */
static int whole_option(train_args *a, int c, const char *arg)
{
    const char *name = "";
    long v, lo = 1, hi = INT_MAX;
    int rc;

    for (const struct option *o = longopts; o->name; o++)
        if (o->val == c)
            name = o->name;
    for (size_t i = 0; i < sizeof(bounds) / sizeof(*bounds); i++)
        if (bounds[i].c == c) {
            lo = bounds[i].lo;
            hi = bounds[i].hi;
        }

    rc = cli_opt_long("train", name, arg, lo, hi, &v);
    if (rc != 0)
        return rc;
    switch (c) {
    case 'b':
        a->opts.batch = (int)v;
        break;
    case 'e':
        a->opts.max_epochs = v;
        break;
    case 'v':
        a->opts.eval_every = (int)v;
        break;
    case 's':
        a->opts.seed = (uint64_t)v;
        break;
    case 'n':
        a->threads = (int)v;
        break;
    case 'k':
        a->opts.keep = (int)v;
        break;
    case 'p':
        a->probes = v;
        break;
    case 'A':
        a->opts.lbfgs_after = v;
        a->lbfgs_given = 1;
        break;
    case 'M':
        a->opts.lbfgs_mem = (int)v;
        break;
    case 'F':
        a->opts.freeze = (int)v;
        break;
    }
    return 0;
}

/* --fourier M[:S]: M frequencies of standard deviation S. */
static int fourier_option(train_args *a, const char *arg)
{
    char buf[64], *colon;
    long m;

    snprintf(buf, sizeof(buf), "%s", arg);
    colon = strchr(buf, ':');
    if (colon)
        *colon = '\0';
    if (cli_opt_long("train", "fourier", buf, 0, TB_MODEL_MAX_FOURIER, &m))
        return CLI_EXIT_USAGE;
    a->net.n_fourier = (int)m;
    a->net.fourier_scale = 1.0;
    if (colon && cli_opt_double("train", "fourier", colon + 1, 1e-6, 1e4,
                                &a->net.fourier_scale))
        return CLI_EXIT_USAGE;
    return 0;
}

/* The options that choose how the network is built and fitted. */
static int net_option(train_args *a, int c, const char *arg)
{
    switch (c) {
    case 'a':
        a->net.activation = cli_activation_parse(arg);
        if (a->net.activation < 0)
            return cli_usage(
                "train", "--activation '%s'; expected tanh, silu or sine", arg);
        a->activation_given = 1;
        return 0;
    case 'f':
        return fourier_option(a, arg);
    case 'L':
        if (strcmp(arg, "auto") != 0 && strcmp(arg, "none") != 0)
            return cli_usage("train",
                             "--log-inputs '%s'; expected auto or none", arg);
        a->net.log_inputs = strcmp(arg, "auto") == 0;
        return 0;
    case 'Y':
        if (!arg[0] || arg[0] == ',' || arg[strlen(arg) - 1] == ',' ||
            strstr(arg, ",,") || strlen(arg) >= 512)
            return cli_usage("train",
                             "--log-outputs '%s'; expected auto, none or "
                             "NAME,NAME...",
                             arg);
        a->net.log_outputs = arg;
        return 0;
    case 'O':
        a->objective_given = 1;
        if (strcmp(arg, "mse") == 0)
            a->opts.objective = TB_OBJ_MSE;
        else if (strcmp(arg, "worst") == 0)
            a->opts.objective = TB_OBJ_WORST;
        else
            return cli_usage("train", "--objective '%s'; expected mse or worst",
                             arg);
        return 0;
    }
    return whole_option(a, c, arg);
}

/* Options that take anything else. */
static int other_option(train_args *a, int c, const char *arg)
{
    tb_error err;

    tb_error_clear(&err);
    switch (c) {
    case 'o':
        if (a->output)
            return cli_usage("train", "-o given more than once");
        a->output = arg;
        return 0;
    case 'c':
        a->opts.checkpoint_dir = arg;
        return 0;
    case 'I':
        a->init = arg;
        return 0;
    case 'r':
        a->opts.resume = 1;
        return 0;
    case 'Z':
        a->cells = 1;
        return 0;
    case 'H':
        if (cli_parse_hidden(arg, a->hidden, &a->n_hidden, &err) != 0)
            return cli_fail(CLI_EXIT_USAGE, "train", &err);
        a->hidden_given = 1;
        return 0;
    case 'l':
        if (cli_opt_double("train", "lr", arg, 1e-12, 10, &a->opts.lr))
            return CLI_EXIT_USAGE;
        a->opts.lr_min = a->opts.lr / 100;
        return 0;
    case 'T':
        return cli_opt_double("train", "time-limit", arg, 0, 1e9,
                              &a->opts.time_limit);
    case 't':
        a->target_given = 1;
        return cli_opt_double("train", "target", arg, 0, 1, &a->opts.target);
    case 'C':
        return cli_opt_double("train", "checkpoint-every", arg, 0.001, 1e9,
                              &a->opts.checkpoint_every);
    }
    return net_option(a, c, arg);
}

static int parse(int argc, char **argv, train_args *a)
{
    int c, rc;

    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(cmd_train_help, stdout);
            return -1;
        }
        if (c == '?')
            return cli_bad_option("train");
        rc = other_option(a, c, optarg);
        if (rc != 0)
            return rc;
    }

    if (cli_operand("train", argc, argv,
                    "missing TABLE.h5, the table to memorise", &a->table))
        return CLI_EXIT_USAGE;
    if (!a->table[0])
        return cli_usage("train", "the table's file name is empty");
    if (!a->output)
        return cli_usage("train", "missing -o MODEL.h5, the model to write");
    if (cli_check_output("train", a->output, a->table) != 0)
        return CLI_EXIT_USAGE;
    if (a->opts.freeze > 0 && !a->init)
        return cli_usage("train", "--freeze needs --init OLD.h5");
    if (a->opts.resume && !a->opts.checkpoint_dir)
        return cli_usage("train", "--resume needs --checkpoint DIR");
    if (a->init && (a->activation_given || a->net.n_fourier > 0))
        return cli_usage("train", "--init takes the old model's network: no "
                                  "--activation or --fourier with it");
    return 0;
}

int cmd_train(int argc, char **argv)
{
    train_args a = {.n_hidden = 3, .hidden = {64, 64, 64}, .threads = 1};
    int rc;

    tb_train_opts_default(&a.opts);
    cli_net_default(&a.net);
    a.opts.objective = TB_OBJ_WORST; /* measured: see --help */
    a.opts.target = 1e-3;
    a.opts.batch = 256;
    a.opts.lr = 3e-3;
    a.opts.lr_min = a.opts.lr / 100;
    a.opts.max_epochs = 0;
    a.opts.time_limit = 570;
    a.probes = 4096;

    rc = parse(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;

    if (a.opts.checkpoint_dir && mkdir(a.opts.checkpoint_dir, 0777) != 0 &&
        errno != EEXIST)
        return cli_error(CLI_EXIT_FAIL, "train", "--checkpoint %s: %s",
                         a.opts.checkpoint_dir, strerror(errno));
    tb_model_set_threads(a.threads);
    return run(&a);
}

/*
 * tabula.c - the tabula command: global options, then one of the commands
 * in the table below.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const cli_command commands[] = {
    {"problems", "list problems, inputs, outputs", cmd_problems,
     cmd_problems_help},
    {"solve", "one solver run at one point", cmd_solve, cmd_solve_help},
    {"tabulate", "solve the whole grid into a table", cmd_tabulate,
     cmd_tabulate_help},
    {"train", "memorise a table in a surrogate model", cmd_train,
     cmd_train_help},
    {"tune", "find the smallest network that meets a target", cmd_tune,
     cmd_tune_help},
    {"compare", "measure a surrogate against the solver", cmd_compare,
     cmd_compare_help},
    {"predict", "one surrogate answer", cmd_predict, cmd_predict_help},
    {"serve", "the HTTP service", cmd_serve, cmd_serve_help},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: tabula [--help] [--version] [--log-level L] COMMAND "
               "[ARGS...]\n\n"
               "tabula turns a PDE solver into a fast surrogate that states "
               "its own error.\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'tabula COMMAND --help' describes a command.\n\n"
               "options (for every command):\n"
               "  --log-level L   debug, info, warn or error (default info)\n"
               "  --plugin FILE   load the problems of a plugin (a shared "
               "object built\n"
               "                  against tabula_plugin.h); repeatable\n\n"
               "exit status:\n"
               "  0  success\n"
               "  1  a runtime failure: an unreadable file, a solver failure, "
               "failed nodes\n"
               "  2  a usage error: an unknown command, option, problem or "
               "input, a bad value\n"
               "  3  an error target not met (compare --max-rel)\n"
               "  130  stopped by SIGINT (143: SIGTERM): tabulate writes "
               "nothing,\n"
               "       train saves the best weights so far\n\n"
               "example:\n"
               "  tabula tabulate heat1d -o heat1d-table.h5 && "
               "tabula train heat1d-table.h5 -o heat1d.h5\n");
}

/* Apply and remove every --log-level option, wherever it stands before a
 * lone "--".  Returns 0 or CLI_EXIT_USAGE. */
static int take_log_level(int *argc, char **argv)
{
    int i = 1;

    while (i < *argc && strcmp(argv[i], "--") != 0) {
        const char *value = NULL;
        int used = 0;

        if (strcmp(argv[i], "--log-level") == 0) {
            value = i + 1 < *argc ? argv[i + 1] : "";
            used = 2;
        } else if (strncmp(argv[i], "--log-level=", 12) == 0) {
            value = argv[i] + 12;
            used = 1;
        }
        if (!used) {
            i++;
            continue;
        }

        if (tb_log_level_parse(value) < 0) {
            fprintf(stderr,
                    "tabula: --log-level: '%s' is not one of debug, "
                    "info, warn, error\n",
                    value);
            return CLI_EXIT_USAGE;
        }
        tb_log_set_level(tb_log_level_parse(value));
        memmove(argv + i, argv + i + used,
                (size_t)(*argc - i - used + 1) * sizeof(*argv));
        *argc -= used;
    }
    return 0;
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const cli_command *cmd;
    char prog[64];
    int rc;

    rc = take_log_level(&argc, argv);
    if (rc == 0)
        rc = cli_take_plugins(&argc, argv);
    if (rc != 0)
        return rc;
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }

    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tabula %s\n", tb_version());
        return CLI_EXIT_OK;
    }

    cmd = find_command(argv[1]);
    if (!cmd && argv[1][0] == '-') {
        fprintf(stderr,
                "tabula: unknown option '%s'; the options before a command "
                "are --help, --version, --log-level and --plugin\n",
                argv[1]);
        return CLI_EXIT_USAGE;
    }
    if (!cmd) {
        fprintf(stderr,
                "tabula: unknown command '%s'; try 'tabula --help' "
                "for the list\n",
                argv[1]);
        return CLI_EXIT_USAGE;
    }

    /* getopt's own messages then read "tabula solve: ...". */
    snprintf(prog, sizeof(prog), "tabula %s", cmd->name);
    argv[1] = prog;
    return cmd->run(argc - 1, argv + 1);
}

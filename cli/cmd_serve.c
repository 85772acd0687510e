/*
 * cmd_serve.c - `tabula serve`: the HTTP service.  The main thread waits
 * for signals: SIGHUP rescans the models directory, SIGINT and SIGTERM
 * stop the service.
 */
#include "cli.h"
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char cmd_serve_help[] =
    "usage: tabula serve --models DIR [options]\n"
    "\n"
    "Serve every model file in DIR over HTTP: the Open Inference Protocol\n"
    "(v2 REST) with the model repository extension, a plain form at\n"
    "POST /v1/models/NAME/predict and Prometheus metrics at GET /metrics.\n"
    "NAME.h5 is version 1 of model NAME, NAME@V.h5 its version V; the\n"
    "newest version answers requests that name none.  Prints \"tabula:\n"
    "serving N models on http://HOST:PORT\" once listening.  SIGHUP rescans\n"
    "DIR (new and replaced files are loaded, removed ones dropped, a broken\n"
    "file leaves the old model serving); SIGINT or SIGTERM stop accepting,\n"
    "let requests in flight finish (up to --shutdown-ms) and exit 0.\n"
    "\n"
    "options (each may also be a line \"name = value\" in --config FILE;\n"
    "options on the command line win):\n"
    "  --models DIR         the models directory (required)\n"
    "  --config FILE        read options from FILE first\n"
    "  --listen HOST:PORT   address to listen on (default 127.0.0.1:8080;\n"
    "                       HOST an IPv4 address or localhost, IPv6 is not\n"
    "                       supported; port 0 lets the system pick one)\n"
    "  --threads N          request threads (default 2)\n"
    "  --conn-limit N       open connections at most (default 1024)\n"
    "  --timeout S          seconds an idle connection is kept (default 30)\n"
    "  --body-limit BYTES   largest request body (default 4194304)\n"
    "  --max-batch N        points per request (default 65536)\n"
    "  --max-verify N       points per request the solver may check "
    "(default 16)\n"
    "  --shutdown-ms MS     how long stopping waits for requests in flight\n"
    "                       (default 5000)\n"
    "  --solver-budget-ms MS  solver time per request for points the model\n"
    "                       cannot certify within a client's tolerance\n"
    "                       (default 1000)\n"
    "  --access-log on|off  one key=value line per request (default off)\n"
    "  --pid-file FILE      write the process id to FILE while "
    "serving\n" CLI_HELP_COMMON "\n"
    "In a config file, log-level = L sets the level unless the command\n"
    "line set one other than info.\n"
    "\n"
    "example:\n"
    "  tabula serve --models run/models --listen 127.0.0.1:8080 &\n"
    "  curl -s localhost:8080/v1/models/heat1d/predict -d "
    "'{\"alpha\": 0.3, \"x\": 0.5, \"t\": 0.1}'\n";

typedef struct serve_args {
    tb_server_opts opts;
    char host[256];
    char models[4096];
    char pid_file[4096];
} serve_args;

/* Split HOST:PORT into the options, checked before anything is loaded:
 * the service listens on IPv4 only, so HOST is a dotted quad (localhost
 * stands for 127.0.0.1). */
static int parse_listen(serve_args *a, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    struct in_addr addr;
    size_t len;
    long port;

    if (arg[0] == '[' || (colon && memchr(arg, ':', (size_t)(colon - arg))))
        return cli_usage("serve",
                         "--listen: '%s': IPv6 is not supported; expected "
                         "an IPv4 address and a port, e.g. 127.0.0.1:8080",
                         arg);
    if (!colon || tb_parse_long(colon + 1, 0, 65535, &port) != 0)
        return cli_usage("serve",
                         "--listen: '%s' is not HOST:PORT with a "
                         "port in [0, 65535], e.g. 127.0.0.1:8080",
                         arg);

    len = (size_t)(colon - arg);
    if (len == 9 && strncmp(arg, "localhost", 9) == 0) {
        arg = "127.0.0.1";
        len = strlen(arg);
    }
    if (len == 0 || len >= sizeof(a->host))
        return cli_usage("serve", "--listen: '%s' has no host", arg);
    memcpy(a->host, arg, len);
    a->host[len] = '\0';
    if (inet_pton(AF_INET, a->host, &addr) != 1)
        return cli_usage("serve",
                         "--listen: '%s' is not an IPv4 address such as "
                         "127.0.0.1 or 0.0.0.0 (host names other than "
                         "localhost are not looked up)",
                         a->host);
    a->opts.host = a->host;
    a->opts.port = (int)port;
    return 0;
}

/* Copy a path option into the arguments' own storage. */
static int path_option(const char *opt, const char *arg, char *out, size_t size)
{
    if (!arg[0])
        return cli_usage("serve", "--%s: the name is empty; expected a %s", opt,
                         strcmp(opt, "models") == 0 ? "folder" : "file");
    if (strlen(arg) >= size)
        return cli_usage("serve", "--%s: the name is %zu bytes; at most %zu",
                         opt, strlen(arg), size - 1);
    memcpy(out, arg, strlen(arg) + 1);
    return 0;
}

/* ---- the option table ----------------------------------------------------
 */

enum opt_kind { OPT_SIZE, OPT_UINT, OPT_INT, OPT_OTHER };

/* One option: its name (as a flag and as a config key), its short code
 * for getopt, and where a count goes. */
struct serve_opt {
    const char *name;
    int code;
    enum opt_kind kind;
    long lo, hi;
    size_t offset; /* into tb_server_opts, for counts */
};

#define AT(f) offsetof(tb_server_opts, f)

static const struct serve_opt serve_opts[] = {
    {"models", 'd', OPT_OTHER, 0, 0, 0},
    {"config", 'c', OPT_OTHER, 0, 0, 0},
    {"listen", 'l', OPT_OTHER, 0, 0, 0},
    {"threads", 't', OPT_INT, 1, 256, AT(threads)},
    {"conn-limit", 'C', OPT_UINT, 1, 1000000, AT(conn_limit)},
    {"timeout", 'T', OPT_UINT, 1, 86400, AT(conn_timeout)},
    {"body-limit", 'b', OPT_SIZE, 1, LONG_MAX, AT(body_limit)},
    {"max-batch", 'B', OPT_SIZE, 1, LONG_MAX, AT(max_batch)},
    {"max-verify", 'v', OPT_SIZE, 0, LONG_MAX, AT(max_verify)},
    {"shutdown-ms", 'S', OPT_UINT, 0, 3600000, AT(drain_ms)},
    {"solver-budget-ms", 'U', OPT_UINT, 0, 3600000, AT(solver_budget_ms)},
    {"access-log", 'a', OPT_OTHER, 0, 0, 0},
    {"pid-file", 'p', OPT_OTHER, 0, 0, 0},
    {"log-level", 'L', OPT_OTHER, 0, 0, 0},
};

#define N_SERVE_OPTS (sizeof(serve_opts) / sizeof(serve_opts[0]))

static const struct serve_opt *find_opt(int code)
{
    for (size_t i = 0; i < N_SERVE_OPTS; i++)
        if (serve_opts[i].code == code)
            return &serve_opts[i];
    return NULL;
}

/* Store a count option at its place in the server options. */
static int count_option(serve_args *a, const struct serve_opt *o,
                        const char *arg)
{
    char *field = (char *)&a->opts + o->offset;
    long v;

    if (cli_opt_long("serve", o->name, arg, o->lo, o->hi, &v) != 0)
        return CLI_EXIT_USAGE;
    if (o->kind == OPT_SIZE)
        *(size_t *)(void *)field = (size_t)v;
    else if (o->kind == OPT_UINT)
        *(unsigned *)(void *)field = (unsigned)v;
    else
        *(int *)(void *)field = (int)v;
    return 0;
}

static int read_config(serve_args *a, const char *path);

/* Apply one option, from the command line or the config file. */
static int apply(serve_args *a, const struct serve_opt *o, const char *arg)
{
    if (o->kind != OPT_OTHER)
        return count_option(a, o, arg);
    switch (o->code) {
    case 'd':
        return path_option("models", arg, a->models, sizeof(a->models));
    case 'c':
        return read_config(a, arg);
    case 'l':
        return parse_listen(a, arg);
    case 'p':
        return path_option("pid-file", arg, a->pid_file, sizeof(a->pid_file));
    case 'a':
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
            return cli_usage("serve", "--access-log: '%s' is not on or off",
                             arg);
        a->opts.access_log = strcmp(arg, "on") == 0;
        return 0;
    }
    if (tb_log_level_parse(arg) < 0)
        return cli_usage(
            "serve", "log-level: '%s' is not debug, info, warn or error", arg);
    if (tb_log_level() == TB_LOG_INFO)
        tb_log_set_level(tb_log_level_parse(arg));
    return 0;
}

/* ---- the config file -------------------------------------------------------
 */

/* Trim spaces at both ends of s, in place. */
static char *trim(char *s)
{
    char *end = s + strlen(s);

    while (*s == ' ' || *s == '\t')
        s++;
    while (end > s && strchr(" \t\r\n", end[-1]))
        *--end = '\0';
    return s;
}

/* One "name = value" line; blank lines and # comments are skipped. */
static int config_line(serve_args *a, const char *path, int no, char *line)
{
    char *eq = strchr(line, '=');
    char *key, *value;

    line = trim(line);
    if (!line[0] || line[0] == '#')
        return 0;
    if (!eq)
        return cli_usage("serve", "%s:%d: expected name = value", path, no);
    *eq = '\0';
    key = trim(line);
    value = trim(eq + 1);
    for (size_t i = 0; i < N_SERVE_OPTS; i++)
        if (strcmp(key, serve_opts[i].name) == 0 && serve_opts[i].code != 'c')
            return apply(a, &serve_opts[i], value);
    return cli_usage("serve",
                     "%s:%d: unknown option '%s'; the options are those of "
                     "tabula serve --help, without the dashes",
                     path, no, key);
}

/* Apply every option of a config file. */
static int read_config(serve_args *a, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int no = 0, rc = 0;

    if (!f)
        return cli_error(CLI_EXIT_USAGE, "serve", "--config %s: %s", path,
                         strerror(errno));
    while (rc == 0 && fgets(line, sizeof(line), f))
        rc = config_line(a, path, ++no, line);
    if (rc == 0 && ferror(f))
        rc =
            cli_error(CLI_EXIT_USAGE, "serve", "--config %s: read error", path);
    fclose(f);
    return rc;
}

/* ---- the command line ------------------------------------------------------
 */

/* Refuse a models folder that is not there before anything starts. */
static int check_models_dir(const char *dir)
{
    struct stat st;

    if (stat(dir, &st) != 0)
        return cli_usage("serve",
                         "--models %s: %s; expected a folder of model files",
                         dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return cli_usage("serve",
                         "--models %s: not a folder; expected a folder of "
                         "model files",
                         dir);
    return 0;
}

static int parse(int argc, char **argv, serve_args *a)
{
    struct option longopts[N_SERVE_OPTS + 2];
    int c, rc = 0;

    for (size_t i = 0; i < N_SERVE_OPTS; i++)
        longopts[i] = (struct option){serve_opts[i].name, required_argument,
                                      NULL, serve_opts[i].code};
    longopts[N_SERVE_OPTS] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[N_SERVE_OPTS + 1] = (struct option){NULL, 0, NULL, 0};

    /* The config file first, so that the command line wins. */
    for (int i = 1; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            rc = read_config(a, argv[i + 1]);
        else if (strncmp(argv[i], "--config=", 9) == 0)
            rc = read_config(a, argv[i] + 9);
    }
    while (rc == 0 &&
           (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h')
            return fputs(cmd_serve_help, stdout) < 0 ? CLI_EXIT_FAIL : -1;
        if (c == '?')
            return cli_bad_option("serve");
        if (c != 'c')
            rc = apply(a, find_opt(c), optarg);
    }
    if (rc == 0 && optind < argc)
        return cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    if (rc == 0 && !a->models[0])
        return cli_usage("serve", "missing --models DIR, the models to serve");
    if (rc == 0)
        rc = check_models_dir(a->models);
    a->opts.models_dir = a->models;
    return rc;
}

static int write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");
    int ok;

    if (!f)
        return cli_error(CLI_EXIT_FAIL, "serve", "--pid-file %s: %s", path,
                         strerror(errno));
    ok = fprintf(f, "%ld\n", (long)getpid()) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok)
        return cli_error(CLI_EXIT_FAIL, "serve", "--pid-file %s: cannot write",
                         path);
    return 0;
}

/* Wait for signals until told to stop: SIGHUP rescans the models. */
static void wait_for_signals(tb_server *s, const sigset_t *set)
{
    tb_error err;
    int sig, n;

    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig != SIGHUP) {
            tb_info("serve: %s received; stopping", strsignal(sig));
            return;
        }
        tb_error_clear(&err);
        n = tb_server_reload(s, &err);
        if (n < 0)
            tb_err("serve: reload after SIGHUP failed: %s; the models "
                   "loaded before keep serving",
                   err.text);
    }
}

static int serve(serve_args *a, const sigset_t *set)
{
    tb_server *s = NULL;
    char count[32];
    tb_error err;
    int n;

    tb_error_clear(&err);
    if (tb_server_start(&a->opts, &s, &err) != 0)
        return cli_fail(CLI_EXIT_FAIL, "serve", &err);
    if (a->pid_file[0] && write_pid_file(a->pid_file) != 0) {
        tb_server_stop(s);
        return CLI_EXIT_FAIL;
    }

    n = tb_server_model_count(s);
    snprintf(count, sizeof(count), "%d model%s", n, n == 1 ? "" : "s");
    printf("tabula: serving %s on http://%s:%d\n", count, a->opts.host,
           tb_server_port(s));
    fflush(stdout);

    wait_for_signals(s, set);
    tb_server_stop(s);
    if (a->pid_file[0])
        unlink(a->pid_file);
    return CLI_EXIT_OK;
}

int cmd_serve(int argc, char **argv)
{
    serve_args a;
    sigset_t set;
    int rc;

    memset(&a, 0, sizeof(a));
    tb_server_opts_default(&a.opts);
    snprintf(a.host, sizeof(a.host), "127.0.0.1");
    a.opts.host = a.host;
    a.opts.port = 8080;
    rc = parse(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;

    /* Blocked before any thread starts, so every thread inherits it and
     * only sigwait below receives these signals. */
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0)
        return cli_error(CLI_EXIT_FAIL, "serve", "pthread_sigmask: %s",
                         strerror(rc));
    return serve(&a, &set);
}

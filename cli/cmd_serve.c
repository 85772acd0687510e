/*
 * cmd_serve.c - `tabula serve`: the HTTP service.  The main thread waits
 * for signals: SIGHUP rescans the models directory, SIGINT and SIGTERM
 * stop the service.
 */
#include "cli.h"
#include "server.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char cmd_serve_help[] =
    "usage: tabula serve --models DIR [options]\n"
    "\n"
    "Serve every model file (*.h5) in DIR over HTTP, in the Open Inference\n"
    "Protocol (v2 REST): GET /v2/health/ready, GET /v2/models/NAME, POST\n"
    "/v2/models/NAME/infer.  Prints \"tabula: serving N models on\n"
    "http://HOST:PORT\" once listening.  SIGHUP rescans DIR (new and\n"
    "replaced files are loaded, removed ones dropped, a broken file leaves\n"
    "the old model serving); SIGINT or SIGTERM stop the service.\n"
    "\n"
    "options:\n"
    "  --models DIR         the models directory (required)\n"
    "  --listen HOST:PORT   address to listen on (default 127.0.0.1:8080;\n"
    "                       port 0 lets the system pick one)\n"
    "  --threads N          request threads (default 2)\n"
    "  --body-limit BYTES   largest request body (default 4194304)\n"
    "  --max-batch N        points per request (default 65536)\n"
    "  --max-verify N       points per request the solver may check "
    "(default 16)\n"
    "  --pid-file FILE      write the process id to FILE while "
    "serving\n" CLI_HELP_COMMON "\n"
    "example:\n"
    "  tabula serve --models run/models --listen 127.0.0.1:8080 &\n"
    "  curl -s localhost:8080/v2/models/heat1d/infer -d "
    "'{\"inputs\":[{\"name\":\"alpha\",\"shape\":[1],\"datatype\":\"FP64\","
    "\"data\":[0.5]}, ...]}'\n";

typedef struct serve_args {
    tb_server_opts opts;
    char host[256];
    const char *pid_file;
} serve_args;

/* Split HOST:PORT (or [V6HOST]:PORT) into the options. */
static int parse_listen(serve_args *a, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    const char *host = arg;
    size_t len;
    long port;

    if (!colon || tb_parse_long(colon + 1, 0, 65535, &port) != 0)
        return cli_usage("serve",
                         "--listen: '%s' is not HOST:PORT with a "
                         "port in [0, 65535]",
                         arg);
    len = (size_t)(colon - arg);
    if (len >= 2 && arg[0] == '[' && arg[len - 1] == ']') {
        host++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(a->host))
        return cli_usage("serve", "--listen: '%s' has no host", arg);

    memcpy(a->host, host, len);
    a->host[len] = '\0';
    a->opts.host = a->host;
    a->opts.port = (int)port;
    return 0;
}

/* Options that take a count. */
static int count_option(serve_args *a, int c, const char *arg)
{
    long v;

    if (c == 't') {
        if (cli_opt_long("serve", "threads", arg, 1, 1024, &v) != 0)
            return CLI_EXIT_USAGE;
        a->opts.threads = (int)v;
    } else if (c == 'b') {
        if (cli_opt_long("serve", "body-limit", arg, 1, LONG_MAX, &v) != 0)
            return CLI_EXIT_USAGE;
        a->opts.body_limit = (size_t)v;
    } else if (c == 'B') {
        if (cli_opt_long("serve", "max-batch", arg, 1, LONG_MAX, &v) != 0)
            return CLI_EXIT_USAGE;
        a->opts.max_batch = (size_t)v;
    } else {
        if (cli_opt_long("serve", "max-verify", arg, 0, LONG_MAX, &v) != 0)
            return CLI_EXIT_USAGE;
        a->opts.max_verify = (size_t)v;
    }
    return 0;
}

static int parse(int argc, char **argv, serve_args *a)
{
    static const struct option longopts[] = {
        {"models", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"body-limit", required_argument, NULL, 'b'},
        {"max-batch", required_argument, NULL, 'B'},
        {"max-verify", required_argument, NULL, 'v'},
        {"pid-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc = 0;

    while (rc == 0 &&
           (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'd')
            a->opts.models_dir = optarg;
        else if (c == 'l')
            rc = parse_listen(a, optarg);
        else if (c == 'p')
            a->pid_file = optarg;
        else if (c == 'h')
            return fputs(cmd_serve_help, stdout) < 0 ? CLI_EXIT_FAIL : -1;
        else if (c == '?')
            return cli_bad_option("serve");
        else
            rc = count_option(a, c, optarg);
    }
    if (rc == 0 && optind < argc)
        return cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    if (rc == 0 && !a->opts.models_dir)
        return cli_usage("serve", "missing --models DIR, the models to serve");
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
    int v6 = strchr(a->opts.host, ':') != NULL;
    tb_server *s = NULL;
    char count[32];
    tb_error err;
    int n;

    tb_error_clear(&err);
    if (tb_server_start(&a->opts, &s, &err) != 0)
        return cli_fail(CLI_EXIT_FAIL, "serve", &err);
    if (a->pid_file && write_pid_file(a->pid_file) != 0) {
        tb_server_stop(s);
        return CLI_EXIT_FAIL;
    }

    /* A rescan of an unchanged directory loads nothing: it gives the count
     * (the server already holds at least one model). */
    n = tb_server_reload(s, &err);
    snprintf(count, sizeof(count), "%d model%s", n, n == 1 ? "" : "s");
    printf("tabula: serving %s on http://%s%s%s:%d\n", n > 0 ? count : "models",
           v6 ? "[" : "", a->opts.host, v6 ? "]" : "", tb_server_port(s));
    fflush(stdout);

    wait_for_signals(s, set);
    tb_server_stop(s);
    if (a->pid_file)
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

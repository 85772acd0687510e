/*
 * args.c - messages for people, option values, NAME=VALUE points,
 * --grid NAME=LO:HI:N[:SPACING] specs and the global --plugin option.
 */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_error(int code, const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "tabula %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "tabula %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'tabula %s --help'.\n", cmd);
    return CLI_EXIT_USAGE;
}

int cli_fail(int code, const char *cmd, const tb_error *err)
{
    /* Messages that already start with the culprit's name keep one copy. */
    size_t n = strlen(err->where);

    if (n > 0 && strncmp(err->text, err->where, n) != 0)
        return cli_error(code, cmd, "%s: %s", err->where, err->text);
    return cli_error(code, cmd, "%s", err->text);
}

int cli_operand(const char *cmd, int argc, char **argv, const char *missing,
                const char **out)
{
    if (optind >= argc)
        return cli_usage(cmd, "%s", missing);
    if (optind + 1 < argc)
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind + 1]);
    *out = argv[optind];
    return 0;
}

int cli_opt_double(const char *cmd, const char *opt, const char *arg, double lo,
                   double hi, double *out)
{
    double v;

    if (tb_parse_double(arg, &v) != 0 || v < lo || v > hi)
        return cli_usage(cmd, "--%s: '%s' is not a number in [%g, %g]", opt,
                         arg, lo, hi);
    *out = v;
    return 0;
}

int cli_opt_long(const char *cmd, const char *opt, const char *arg, long lo,
                 long hi, long *out)
{
    if (tb_parse_long(arg, lo, hi, out) != 0)
        return cli_usage(cmd, "--%s: '%s' is not a whole number in [%ld, %ld]",
                         opt, arg, lo, hi);
    return 0;
}

int cli_solver_opt(const char *cmd, int opt, const char *arg, tb_solver_opts *o)
{
    long v;
    int rc;

    /* The solver's own limits (solver.h), so this is the first and only
     * message about a value out of range. */
    switch (opt) {
    case 'r':
        return cli_opt_double(cmd, "rtol", arg, TB_RTOL_MIN, TB_RTOL_MAX,
                              &o->rtol);
    case 'a':
        return cli_opt_double(cmd, "atol", arg, TB_ATOL_MIN, TB_ATOL_MAX,
                              &o->atol);
    case 's':
        return cli_opt_long(cmd, "max-steps", arg, 1, TB_STEPS_MAX,
                            &o->max_steps);
    case 'm':
        /* The least mesh is each problem's own, checked once it is known. */
        rc = tb_parse_long(arg, 1, TB_MESH_MAX, &v);
        if (rc != 0)
            return cli_usage(cmd,
                             "--mesh: '%s' is not a whole number of "
                             "intervals up to %d (the least is the "
                             "problem's own)",
                             arg, TB_MESH_MAX);
        o->mesh = (int)v;
        return 0;
    }
    return cli_usage(cmd, "internal: unknown solver option %c", opt);
}

/* "a, b, c" from n names, cut short if buf is too small. */
static const char *join_names(int n, const char *const *names, char *buf,
                              size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
                                 names[i]);
    return buf;
}

/* The index of the name that is the first len bytes of s, or -1. */
static int find_name(int n, const char *const *names, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && strncmp(names[i], s, len) == 0)
            return i;
    return -1;
}

/* Parse one NAME=VALUE into its index and value. */
static int parse_pair(int n, const char *const *names, const char *arg, int *k,
                      double *v, tb_error *err)
{
    const char *eq = strchr(arg, '=');
    char list[256];

    if (!eq || eq == arg)
        return tb_error_set(err, TB_EINVAL, arg,
                            "expected NAME=VALUE with NAME one of %s",
                            join_names(n, names, list, sizeof(list)));

    *k = find_name(n, names, arg, (size_t)(eq - arg));
    if (*k < 0)
        return tb_error_set(
            err, TB_EINVAL, arg, "unknown input '%.*s'; expected one of %s",
            (int)(eq - arg), arg, join_names(n, names, list, sizeof(list)));

    if (tb_parse_double(eq + 1, v) != 0)
        return tb_error_set(err, TB_EINVAL, names[*k],
                            "'%s' is not a finite number", eq + 1);
    return 0;
}

int cli_parse_point(int n, const char *const *names, char *const *args,
                    int n_args, double *vals, tb_error *err)
{
    int seen[TB_MAX_INPUTS + TB_MODEL_MAX_IN] = {0};
    char list[256];
    double v;
    int k = 0, rc;

    if (n <= 0 || n > TB_MAX_INPUTS + TB_MODEL_MAX_IN || !names || !vals)
        return tb_error_set(err, TB_EINVAL, "point", "bad input list");

    for (int a = 0; a < n_args; a++) {
        rc = parse_pair(n, names, args[a], &k, &v, err);
        if (rc != 0)
            return rc;
        if (seen[k])
            return tb_error_set(err, TB_EINVAL, names[k],
                                "given more than once");
        seen[k] = 1;
        vals[k] = v;
    }

    for (k = 0; k < n; k++)
        if (!seen[k])
            return tb_error_set(err, TB_EINVAL, names[k],
                                "missing input; every one of %s is needed "
                                "as NAME=VALUE",
                                join_names(n, names, list, sizeof(list)));
    return 0;
}

/* Split "LO:HI:N[:SPACING]" into an axis's range, node count and spacing
 * (uniform when not given). */
static int parse_range(const char *s, tb_axis *a)
{
    char buf[128];
    char *hi, *cnt, *sp;
    long n;

    if (strlen(s) >= sizeof(buf))
        return TB_EINVAL;
    strcpy(buf, s);

    hi = strchr(buf, ':');
    cnt = hi ? strchr(hi + 1, ':') : NULL;
    if (!hi || !cnt)
        return TB_EINVAL;
    *hi++ = '\0';
    *cnt++ = '\0';
    sp = strchr(cnt, ':');
    if (sp)
        *sp++ = '\0';

    if (tb_parse_double(buf, &a->lo) || tb_parse_double(hi, &a->hi) ||
        tb_parse_long(cnt, 2, 100000000L, &n))
        return TB_EINVAL;
    a->n = (int)n;
    a->spacing = sp ? tb_spacing_parse(sp) : TB_SPACING_UNIFORM;
    return a->spacing < 0 ? TB_EINVAL : 0;
}

int cli_parse_grid(const tb_problem *p, const char *spec, tb_axis *axes,
                   tb_error *err)
{
    const char *eq = strchr(spec, '=');
    char name[TB_NAME_MAX];
    tb_axis a;
    int k;

    if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(name))
        return tb_error_set(err, TB_EINVAL, spec,
                            "bad --grid; expected NAME=LO:HI:N[:log|cheb], "
                            "e.g. %s=%g:%g:%d",
                            p->inputs[0].name, p->inputs[0].lo, p->inputs[0].hi,
                            p->inputs[0].n);

    memcpy(name, spec, (size_t)(eq - spec));
    name[eq - spec] = '\0';
    k = tb_problem_input(p, name);
    if (k < 0)
        return tb_error_set(err, TB_EINVAL, spec,
                            "bad --grid: %s has no input '%s'", p->name, name);

    a = axes[k];
    if (parse_range(eq + 1, &a) != 0)
        return tb_error_set(err, TB_EINVAL, spec,
                            "bad --grid; expected %s=LO:HI:N[:SPACING] with "
                            "LO < HI numbers, N >= 2 nodes and SPACING "
                            "uniform, log or cheb",
                            name);
    if (tb_axis_check(p, k, &a, err) != 0)
        return TB_EINVAL;
    axes[k] = a;
    return 0;
}

int cli_parse_hidden(const char *s, int *hidden, int *n, tb_error *err)
{
    char buf[128];
    char *tok, *save = NULL;
    long w;

    *n = 0;
    if (!s || strlen(s) >= sizeof(buf))
        return tb_error_set(err, TB_EINVAL, "--hidden", "too long");
    /* strtok_r would skip an empty width: refuse "64,", ",64" and "64,,8". */
    if (s[0] == ',' || strstr(s, ",,") || (s[0] && s[strlen(s) - 1] == ','))
        return tb_error_set(err, TB_EINVAL, "--hidden",
                            "'%s' has an empty width; expected widths "
                            "such as 64,64,64",
                            s);
    strcpy(buf, s);

    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (*n >= TB_MODEL_MAX_HIDDEN)
            return tb_error_set(err, TB_EINVAL, "--hidden",
                                "'%s' has more than %d layers", s,
                                TB_MODEL_MAX_HIDDEN);
        if (tb_parse_long(tok, 1, 4096, &w) != 0)
            return tb_error_set(err, TB_EINVAL, "--hidden",
                                "'%s' is not a width in [1, 4096]", tok);
        hidden[(*n)++] = (int)w;
    }
    if (*n == 0)
        return tb_error_set(err, TB_EINVAL, "--hidden",
                            "'%s': expected widths such as 64,64,64", s);
    return 0;
}

int cli_bad_option(const char *cmd)
{
    fprintf(stderr, "Try 'tabula %s --help'.\n", cmd);
    return CLI_EXIT_USAGE;
}

json_t *cli_json_real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int cli_json_print(const char *cmd, json_t *root)
{
    int rc;

    if (!root)
        return cli_error(CLI_EXIT_FAIL, cmd, "out of memory building JSON");
    rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
        return cli_error(CLI_EXIT_FAIL, cmd, "cannot write JSON to stdout");
    return CLI_EXIT_OK;
}

const tb_problem *cli_find_problem(const char *cmd, const char *name)
{
    const tb_problem *p = tb_problem_find(name);
    char list[256];
    size_t used = 0;

    if (p)
        return p;
    list[0] = '\0';
    for (int i = 0; i < tb_problem_count() && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                 i ? ", " : "", tb_problem_at(i)->name);
    cli_usage(cmd, "unknown problem '%s'; expected one of %s", name, list);
    return NULL;
}

int cli_problem_names(const tb_problem *p, const char **names)
{
    int n = p->n_params + p->n_coords;

    for (int k = 0; k < n; k++)
        names[k] = p->inputs[k].name;
    return n;
}

/* The value of a --plugin option at argv[i] and how many arguments it
 * takes (0 when argv[i] is something else). */
static int plugin_option(int argc, char **argv, int i, const char **value)
{
    if (strcmp(argv[i], "--plugin") == 0) {
        *value = i + 1 < argc ? argv[i + 1] : "";
        return 2;
    }
    if (strncmp(argv[i], "--plugin=", 9) == 0) {
        *value = argv[i] + 9;
        return 1;
    }
    return 0;
}

int cli_take_plugins(int *argc, char **argv)
{
    int i = 1;

    while (i < *argc && strcmp(argv[i], "--") != 0) {
        const char *value = NULL;
        int used = plugin_option(*argc, argv, i, &value);
        tb_error err;

        if (!used) {
            i++;
            continue;
        }
        if (!value[0]) {
            fprintf(stderr, "tabula: --plugin: no file given; expected "
                            "--plugin FILE.so\n");
            return CLI_EXIT_USAGE;
        }
        tb_error_clear(&err);
        if (tb_plugin_load(value, &err) != 0) {
            fprintf(stderr, "tabula: --plugin: %s\n", err.text);
            return CLI_EXIT_FAIL;
        }
        memmove(argv + i, argv + i + used,
                (size_t)(*argc - i - used + 1) * sizeof(*argv));
        *argc -= used;
    }
    return 0;
}

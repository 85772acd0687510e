/*
 * test_server_client.c - what the server tests share: a captured log, a
 * small raw-socket HTTP/1.1 client, JSON expectations and model files.
 */
#include "test_server_client.h"

#include "solver.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

int port;
char models[4096];

/* ---- captured log ------------------------------------------------------- */

static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 16];
static size_t log_used;

void capture(int level, const char *line, void *data)
{
    (void)data;
    pthread_mutex_lock(&log_mutex);
    if (getenv("TB_TEST_VERBOSE") || level >= TB_LOG_ERROR)
        fprintf(stderr, "log %d: %s\n", level, line);
    if (log_used + strlen(line) + 2 < sizeof(log_text))
        log_used += (size_t)snprintf(log_text + log_used,
                                     sizeof(log_text) - log_used, "%s\n", line);
    pthread_mutex_unlock(&log_mutex);
}

void log_reset(void)
{
    pthread_mutex_lock(&log_mutex);
    log_used = 0;
    log_text[0] = '\0';
    pthread_mutex_unlock(&log_mutex);
}

int log_has(const char *what)
{
    int found;

    pthread_mutex_lock(&log_mutex);
    found = strstr(log_text, what) != NULL;
    pthread_mutex_unlock(&log_mutex);
    return found;
}

/* ---- a raw HTTP/1.1 client ---------------------------------------------- */

void resp_free(struct resp *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

int connect_local(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    struct timeval tv = {.tv_sec = 30};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read until the server closes; split status, head and body. */
int read_response(int fd, struct resp *r)
{
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap + 1);
    char *sep;
    ssize_t got;

    while (buf && (got = recv(fd, buf + len, cap - len, 0)) > 0) {
        len += (size_t)got;
        if (len == cap) {
            char *more = realloc(buf, 2 * cap + 1);

            if (!more)
                break;
            buf = more;
            cap *= 2;
        }
    }
    if (!buf)
        return -1;
    buf[len] = '\0';
    sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.1 %d", &r->status) != 1) {
        free(buf);
        return -1;
    }
    snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - buf + 2), buf);
    r->len = len - (size_t)(sep + 4 - buf);
    r->body = strdup(sep + 4);
    free(buf);
    return r->body ? 0 : -1;
}

/* Send raw request bytes and read the answer.  Returns 0 or -1. */
int http_raw(const char *req, size_t n, struct resp *r)
{
    int fd = connect_local();
    int rc;

    memset(r, 0, sizeof(*r));
    if (fd < 0)
        return -1;
    rc = send_all(fd, req, n);
    if (rc == 0)
        rc = read_response(fd, r);
    close(fd);
    return rc;
}

/* One request with an optional body.  Returns 0 or -1. */
int http(const char *method, const char *path, const char *body, struct resp *r)
{
    size_t blen = body ? strlen(body) : 0;
    size_t cap = blen + 512;
    char *req = malloc(cap);
    int n, rc;

    if (!req)
        return -1;
    n = snprintf(req, cap,
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                 "\r\n",
                 method, path, blen);
    memcpy(req + n, body ? body : "", blen);
    rc = http_raw(req, (size_t)n + blen, r);
    free(req);
    return rc;
}

/* The response body as JSON (NULL when it is not JSON). */
json_t *body_json(const struct resp *r)
{
    return r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
}

/* GET or POST and expect a status and a JSON body, which is returned. */
json_t *call(const char *method, const char *path, const char *body, int want)
{
    struct resp r;
    json_t *j = NULL;

    if (http(method, path, body, &r) != 0) {
        CHECK(0, "%s %s: no HTTP answer", method, path);
        return NULL;
    }
    CHECK(r.status == want, "%s %s: status %d, want %d (body %s)", method, path,
          r.status, want, r.body);
    CHECK(strstr(r.head, "Content-Type: application/json") != NULL,
          "%s %s: content type is JSON", method, path);
    j = body_json(&r);
    CHECK(j != NULL, "%s %s: body is JSON: %s", method, path, r.body);
    resp_free(&r);
    return j;
}

/* Expect an error answer: the status, a JSON {"error": "..."} body, and
 * text in the message. */
void expect_error(const char *method, const char *path, const char *body,
                  int want, const char *text)
{
    json_t *j = call(method, path, body, want);
    const char *msg = json_string_value(json_object_get(j, "error"));

    CHECK(msg != NULL, "%s %s: the body has an \"error\" string", method, path);
    CHECK(msg && strstr(msg, text), "%s %s: error '%s' mentions '%s'", method,
          path, msg ? msg : "(none)", text);
    json_decref(j);
}

/* ---- model files ------------------------------------------------------ */

/* Write a small heat1d model whose attributes name problem. */
int make_model(const char *path, const char *problem, uint64_t seed)
{
    const tb_problem *p = tb_problem_find("heat1d");
    const char *out_name[1] = {"u"};
    double lo = 0, hi = 1;
    int hidden[1] = {6};
    tb_model_input in[3];
    char v[64];
    tb_model m;
    tb_error err;
    int rc;

    tb_error_clear(&err);
    for (int k = 0; k < 3; k++) {
        snprintf(in[k].name, sizeof(in[k].name), "%s", p->inputs[k].name);
        in[k].lo = p->inputs[k].lo;
        in[k].hi = p->inputs[k].hi;
        in[k].n = p->inputs[k].n;
    }
    rc = tb_model_init(&m, 3, in, 1, out_name, &lo, &hi, 1, hidden, TB_ACT_TANH,
                       seed, &err);
    if (rc != 0) {
        fprintf(stderr, "tb_model_init: %s\n", err.text);
        return rc;
    }

    tb_model_set_attr(&m, "problem", problem);
    snprintf(v, sizeof(v), "%.17g", p->defaults.rtol);
    tb_model_set_attr(&m, "solver_rtol", v);
    snprintf(v, sizeof(v), "%.17g", p->defaults.atol);
    tb_model_set_attr(&m, "solver_atol", v);
    snprintf(v, sizeof(v), "%ld", p->defaults.max_steps);
    tb_model_set_attr(&m, "solver_max_steps", v);
    snprintf(v, sizeof(v), "%d", p->defaults.mesh);
    tb_model_set_attr(&m, "solver_mesh", v);
    tb_model_set_attr(&m, "table", "/nowhere/heat1d.table.h5");
    tb_model_set_attr(&m, "table_created", "2026-01-01T00:00:00Z");

    m.report.n_grid = 1234;
    m.report.n_probes = 56;
    m.report.grid_max_abs[0] = 0.125;
    m.report.grid_max_rel[0] = 0.25;
    m.report.grid_mean_abs[0] = 0.0625;
    m.report.grid_rms[0] = 0.075;
    m.report.probe_max_abs[0] = 0.5;
    m.report.probe_max_rel[0] = 0.5;
    m.report.probe_mean_abs[0] = 0.1;
    m.report.probe_rms[0] = 0.2;

    rc = tb_model_save(&m, path, &err);
    if (rc != 0)
        fprintf(stderr, "tb_model_save %s: %s\n", path, err.text);
    tb_model_free(&m);
    return rc;
}

void model_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", models, name);
}

/* models/ under the test's folder with heat1d.h5 (seed 1, loaded into m)
 * and mystery.h5, a model whose problem the service cannot solve.  0 or
 * -1. */
int make_models(tb_model *m)
{
    char path[4200];
    tb_error err;

    tb_error_clear(&err);
    snprintf(models, sizeof(models), "%s/models", tu_tmpdir());
    if (mkdir(models, 0755) != 0)
        return -1;
    model_path(path, sizeof(path), "heat1d.h5");
    if (make_model(path, "heat1d", 1) != 0 || tb_model_load(path, m, &err))
        return -1;
    model_path(path, sizeof(path), "mystery.h5");
    return make_model(path, "mystery", 2);
}

void write_file(const char *name, const char *text)
{
    char path[4200], tmp[4300];
    FILE *f;

    model_path(path, sizeof(path), name);
    snprintf(tmp, sizeof(tmp), "%s.partial", path);
    f = fopen(tmp, "w");
    CHECK(f != NULL, "create %s", tmp);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    CHECK(rename(tmp, path) == 0, "rename %s", path);
}

/* The data of the output tensor called name. */
json_t *output(json_t *j, const char *name)
{
    json_t *outs = json_object_get(j, "outputs");

    for (size_t i = 0; i < json_array_size(outs); i++) {
        json_t *t = json_array_get(outs, i);

        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
            return json_object_get(t, "data");
    }
    return NULL;
}

/* The domain in a metadata answer matches the problem's axes. */
void check_domain(json_t *dom, const tb_problem *p)
{
    for (int k = 0; k < 3; k++) {
        json_t *a = json_object_get(dom, p->inputs[k].name);

        CHECK_NEAR(json_number_value(json_object_get(a, "lo")), p->inputs[k].lo,
                   0, "domain lo");
        CHECK_NEAR(json_number_value(json_object_get(a, "hi")), p->inputs[k].hi,
                   0, "domain hi");
        CHECK(json_integer_value(json_object_get(a, "n")) == p->inputs[k].n,
              "domain n of %s", p->inputs[k].name);
    }
}

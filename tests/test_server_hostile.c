/*
 * test_server_hostile.c - hostile and broken input over real HTTP: bodies
 * in tiny pieces, deep nesting, duplicate keys, non-finite numbers, NUL
 * and invalid UTF-8, the domain's edges, idle keep-alive crowds, clients
 * that vanish mid-body or trickle one byte a second, and a stop with a
 * request in flight.  Every answer must be valid JSON and the server must
 * keep serving.
 */
#include "test_server_client.h"
#include "testutil.h"

#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define BODY_LIMIT (1 << 20)
#define IDLE_CONNS 300

static const char infer_path[] = "/v2/models/heat1d/infer";
static const char plain_path[] = "/v1/models/heat1d/predict";

/* A v2 body for one point whose three values are given as JSON text. */
static void one_point(char *out, size_t size, const char *alpha, const char *x,
                      const char *t)
{
    snprintf(out, size,
             "{\"inputs\":["
             "{\"name\":\"alpha\",\"shape\":[1],\"datatype\":\"FP64\","
             "\"data\":[%s]},"
             "{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP64\","
             "\"data\":[%s]},"
             "{\"name\":\"t\",\"shape\":[1],\"datatype\":\"FP64\","
             "\"data\":[%s]}]}",
             alpha, x, t);
}

/* The server still answers a plain request. */
static void still_serving(const char *after)
{
    json_t *j =
        call("POST", plain_path, "{\"alpha\":0.5,\"x\":0.5,\"t\":0.5}", 200);

    CHECK(json_is_object(json_object_get(j, "prediction")),
          "still serving after %s", after);
    json_decref(j);
}

/* ---- the body in pieces --------------------------------------------------
 */

static void test_tiny_pieces(void)
{
    char body[1024], head[256];
    int fd = connect_local(), one = 1;
    struct resp r = {0};
    size_t n;

    one_point(body, sizeof(body), "0.5", "0.5", "0.5");
    n = strlen(body);
    snprintf(head, sizeof(head),
             "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "Content-Length: %zu\r\n\r\n",
             infer_path, n);
    CHECK(fd >= 0, "connect");
    if (fd < 0)
        return;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    send_all(fd, head, strlen(head));
    for (size_t i = 0; i < n; i++) {
        send_all(fd, body + i, 1);
        usleep(100);
    }
    CHECK(read_response(fd, &r) == 0 && r.status == 200,
          "a body sent one byte at a time is answered 200 (%d)", r.status);
    close(fd);
    resp_free(&r);
}

/* ---- documents ------------------------------------------------------------
 */

/* n opening brackets, then n closing ones. */
static char *nested(size_t n)
{
    char *s = malloc(2 * n + 1);

    if (!s)
        return NULL;
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    return s;
}

static void test_deep_nesting(void)
{
    char *deep = nested(100000);
    char *body = deep ? malloc(strlen(deep) + 256) : NULL;

    CHECK(body != NULL, "memory for a deep document");
    if (!body) {
        free(deep);
        return;
    }
    expect_error("POST", infer_path, deep, 400, "malformed JSON");
    expect_error("POST", plain_path, deep, 400, "malformed JSON");
    sprintf(body, "{\"alpha\":%s,\"x\":0.5,\"t\":0.5}", deep);
    expect_error("POST", plain_path, body, 400, "malformed JSON");
    free(body);
    free(deep);
    still_serving("100,000-deep arrays");
}

static void test_duplicates_and_numbers(void)
{
    char body[1024];

    expect_error("POST", plain_path, "{\"alpha\":0.5,\"alpha\":0.6,\"x\":0.5}",
                 400, "duplicate");
    expect_error("POST", infer_path,
                 "{\"inputs\":[{\"name\":\"alpha\",\"name\":\"x\"}]}", 400,
                 "duplicate");
    for (int i = 0; i < 5; i++) {
        static const char *const v[] = {"NaN", "Infinity", "-Infinity", "1e400",
                                        "-1e400"};

        one_point(body, sizeof(body), v[i], "0.5", "0.5");
        expect_error("POST", infer_path, body, 400, "malformed JSON");
        snprintf(body, sizeof(body), "{\"alpha\":%s,\"x\":0.5,\"t\":0.5}",
                 v[i]);
        expect_error("POST", plain_path, body, 400, "malformed JSON");
    }
}

/* Names with NUL and invalid UTF-8, in the body and in the path. */
static void test_bad_names(void)
{
    static const char nul_body[] =
        "{\"inputs\":[{\"name\":\"al\\u0000pha\",\"shape\":[1],"
        "\"datatype\":\"FP64\",\"data\":[0.5]}]}";
    char raw[256];
    struct resp r;
    json_t *j;

    expect_error("POST", infer_path, nul_body, 400, "malformed JSON");
    expect_error("POST", plain_path, "{\"al\\u0000pha\":0.5}", 400,
                 "malformed JSON");
    expect_error("POST", plain_path, "{\"al\xff\xfepha\":0.5}", 400,
                 "malformed JSON");
    expect_error("POST", infer_path,
                 "{\"inputs\":[{\"name\":\"\xc3\x28\",\"shape\":[1]}]}", 400,
                 "malformed JSON");
    expect_error("GET", "/v2/models/a%00b", NULL, 404, "no model named");
    expect_error("POST", "/v1/models/%C3%28/predict", "{}", 404,
                 "no model named");

    /* A raw NUL byte inside the body. */
    memcpy(raw, "{\"alpha\":0.5,\0\"x\":0.5}", 23);
    snprintf(raw + 64, sizeof(raw) - 64,
             "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "Content-Length: 23\r\n\r\n",
             plain_path);
    {
        char req[512];
        size_t h = strlen(raw + 64);

        memcpy(req, raw + 64, h);
        memcpy(req + h, raw, 23);
        CHECK(http_raw(req, h + 23, &r) == 0 && r.status == 400,
              "a NUL byte in the body is 400 (%d)", r.status);
    }
    j = body_json(&r);
    CHECK(json_is_string(json_object_get(j, "error")), "NUL body: JSON error");
    json_decref(j);
    resp_free(&r);
}

/* ---- the domain's edges ----------------------------------------------------
 */

static void test_edges(const tb_model *m)
{
    char body[1024], v[3][32];
    double x[3], y, zero[3] = {0.5, 0.0, 0.5};
    json_t *j;

    /* Every corner of the domain is inside it. */
    for (int c = 0; c < 8; c++) {
        for (int k = 0; k < 3; k++) {
            x[k] = (c >> k) & 1 ? m->in[k].hi : m->in[k].lo;
            snprintf(v[k], sizeof(v[k]), "%.17g", x[k]);
        }
        one_point(body, sizeof(body), v[0], v[1], v[2]);
        j = call("POST", infer_path, body, 200);
        tb_model_predict(m, x, 1, &y, NULL);
        CHECK_NEAR(json_number_value(json_array_get(output(j, "u"), 0)), y,
                   1e-12, "corner answer");
        json_decref(j);
    }

    /* One ulp outside, below and above. */
    snprintf(v[0], sizeof(v[0]), "%.17g", nextafter(m->in[0].lo, -1));
    one_point(body, sizeof(body), v[0], "0.5", "0.5");
    expect_error("POST", infer_path, body, 422, "outside the model's domain");
    snprintf(v[0], sizeof(v[0]), "%.17g", nextafter(m->in[0].hi, 2));
    one_point(body, sizeof(body), v[0], "0.5", "0.5");
    expect_error("POST", infer_path, body, 422, "outside the model's domain");

    /* -0.0 is the lower corner of x, which starts at 0. */
    one_point(body, sizeof(body), "0.5", "-0.0", "0.5");
    j = call("POST", infer_path, body, 200);
    tb_model_predict(m, zero, 1, &y, NULL);
    CHECK_NEAR(json_number_value(json_array_get(output(j, "u"), 0)), y, 1e-12,
               "-0.0 answers as 0");
    json_decref(j);
}

static void test_shapes(void)
{
    expect_error("POST", infer_path,
                 "{\"inputs\":[{\"name\":\"alpha\",\"shape\":[-1],"
                 "\"datatype\":\"FP64\",\"data\":[]}]}",
                 400, "shape");
    expect_error("POST", infer_path,
                 "{\"inputs\":[{\"name\":\"alpha\",\"shape\":[1,1,1],"
                 "\"datatype\":\"FP64\",\"data\":[0.5]}]}",
                 400, "shape");
    expect_error("POST", infer_path,
                 "{\"inputs\":[{\"name\":\"alpha\",\"shape\":[0],"
                 "\"datatype\":\"FP64\",\"data\":[]}]}",
                 400, "N = 0");
    expect_error("POST", plain_path, "[{}]", 400, "missing input");
    expect_error("POST", plain_path, "[[]]", 400, "point 0 is an array");
}

/* The solver budget (0 ms here) is spent before any point is solved: the
 * points keep the model's answer and the answer says so. */
static void test_budget_spent(void)
{
    json_t *j = call("POST", "/v1/models/heat1d/predict?tolerance=0",
                     "[{\"alpha\":0.5,\"x\":0.5,\"t\":0.5},"
                     "{\"alpha\":0.6,\"x\":0.5,\"t\":0.5}]",
                     200);
    json_t *p = json_array_get(json_object_get(j, "predictions"), 1);

    CHECK(p && strcmp(json_string_value(json_object_get(p, "answered_by")),
                      "model") == 0,
          "over budget: the model answers");
    json_decref(j);

    j = call("POST", infer_path,
             "{\"parameters\":{\"tolerance\":0},\"inputs\":["
             "{\"name\":\"alpha\",\"shape\":[1],\"datatype\":\"FP64\","
             "\"data\":[0.5]},"
             "{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP64\","
             "\"data\":[0.5]},"
             "{\"name\":\"t\",\"shape\":[1],\"datatype\":\"FP64\","
             "\"data\":[0.5]}]}",
             200);
    CHECK(json_integer_value(json_object_get(json_object_get(j, "parameters"),
                                             "tolerance_unmet_points")) == 1,
          "over budget: tolerance_unmet_points = 1");
    json_decref(j);
}

/* ---- connections -----------------------------------------------------------
 */

/* Read one keep-alive answer: the head, then Content-Length bytes. */
static int read_one(int fd, char *buf, size_t size)
{
    size_t len = 0;
    char *end = NULL, *cl;
    ssize_t got;

    while (len + 1 < size &&
           (got = recv(fd, buf + len, size - 1 - len, 0)) > 0) {
        len += (size_t)got;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        cl = end ? strstr(buf, "Content-Length: ") : NULL;
        if (cl && len >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
            return 0;
    }
    return -1;
}

static void test_idle_crowd(void)
{
    static const char req[] = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
    int fds[IDLE_CONNS], answered = 0;
    char buf[2048];

    for (int i = 0; i < IDLE_CONNS; i++) {
        fds[i] = connect_local();
        if (fds[i] >= 0 && send_all(fds[i], req, strlen(req)) == 0 &&
            read_one(fds[i], buf, sizeof(buf)) == 0 &&
            strncmp(buf, "HTTP/1.1 200", 12) == 0)
            answered++;
    }
    CHECK(answered == IDLE_CONNS, "%d of %d keep-alive connections answered",
          answered, IDLE_CONNS);
    still_serving("hundreds of idle keep-alive connections");
    for (int i = 0; i < IDLE_CONNS; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static void test_disconnect_mid_body(void)
{
    char head[256];

    for (int i = 0; i < 20; i++) {
        int fd = connect_local();

        snprintf(head, sizeof(head),
                 "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
                 "{\"inputs\":[{\"name\":",
                 infer_path);
        if (fd >= 0) {
            send_all(fd, head, strlen(head));
            close(fd);
        }
    }
    still_serving("clients that left mid-body");
}

struct slow {
    int status;
    double seconds;
};

/* Send a request whose last bytes come one a second. */
static void *slow_run(void *arg)
{
    static const char body[] = "{\"alpha\":0.5,\"x\":0.5,\"t\":0.5}";
    struct slow *sl = arg;
    char req[512];
    struct resp r = {0};
    int fd = connect_local(), one = 1;
    size_t n, tail = 3;
    double t0 = tb_now();

    n = (size_t)snprintf(req, sizeof(req),
                         "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         plain_path, strlen(body), body);
    if (fd < 0)
        return NULL;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    send_all(fd, req, n - tail);
    for (size_t i = n - tail; i < n; i++) {
        sleep(1);
        send_all(fd, req + i, 1);
    }
    if (read_response(fd, &r) == 0)
        sl->status = r.status;
    sl->seconds = tb_now() - t0;
    resp_free(&r);
    close(fd);
    return NULL;
}

static void test_slow_client(void)
{
    struct slow sl = {0};
    pthread_t th;
    double t0, worst = 0;

    CHECK(pthread_create(&th, NULL, slow_run, &sl) == 0, "start slow client");
    for (int i = 0; i < 10; i++) {
        t0 = tb_now();
        json_decref(call("GET", "/v2/health/live", NULL, 200));
        worst = fmax(worst, tb_now() - t0);
        usleep(200000);
    }
    pthread_join(th, NULL);
    CHECK(sl.status == 200 && sl.seconds >= 2.5,
          "the slow client is answered 200 after %.1f s (%d)", sl.seconds,
          sl.status);
    printf("slow client: others answered within %.3f s while it trickled\n",
           worst);
}

/* ---- stopping with a request in flight -------------------------------------
 */

static void *late_body_run(void *arg)
{
    static const char body[] = "{\"alpha\":0.5,\"x\":0.5,\"t\":0.5}";
    int *status = arg;
    char req[512];
    struct resp r = {0};
    int fd = connect_local();
    size_t n;

    n = (size_t)snprintf(req, sizeof(req),
                         "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         plain_path, strlen(body), body);
    if (fd < 0)
        return NULL;
    send_all(fd, req, n - 5);
    usleep(500000); /* the server is stopping now */
    send_all(fd, req + n - 5, 5);
    if (read_response(fd, &r) == 0)
        *status = r.status;
    resp_free(&r);
    close(fd);
    return NULL;
}

static void test_stop_in_flight(tb_server *s)
{
    int status = 0;
    pthread_t th;

    CHECK(pthread_create(&th, NULL, late_body_run, &status) == 0,
          "start the late client");
    usleep(200000);
    tb_server_stop(s);
    pthread_join(th, NULL);
    CHECK(status == 200, "a request in flight at stop is answered (%d)",
          status);
}

/* ---- main ------------------------------------------------------------------
 */

int main(void)
{
    char path[4200];
    tb_server_opts o;
    tb_server *s = NULL;
    tb_model m = {0};
    tb_error err;

    tb_log_set_sink(capture, NULL);
    tb_error_clear(&err);
    snprintf(models, sizeof(models), "%s/models", tu_tmpdir());
    CHECK(mkdir(models, 0755) == 0, "models folder");
    model_path(path, sizeof(path), "heat1d.h5");
    CHECK(make_model(path, "heat1d", 1) == 0 &&
              tb_model_load(path, &m, &err) == 0,
          "a model");

    tb_server_opts_default(&o);
    o.models_dir = models;
    o.port = 0;
    o.body_limit = BODY_LIMIT;
    o.drain_ms = 3000;
    o.solver_budget_ms = 0;
    CHECK(tb_server_start(&o, &s, &err) == 0, "start: %s", err.text);
    if (!s)
        return tu_finish("server_hostile");
    port = tb_server_port(s);

    test_tiny_pieces();
    test_deep_nesting();
    test_duplicates_and_numbers();
    test_bad_names();
    test_edges(&m);
    test_shapes();
    test_budget_spent();
    test_idle_crowd();
    test_disconnect_mid_body();
    test_slow_client();
    test_stop_in_flight(s);
    tb_model_free(&m);
    return tu_finish("server_hostile");
}

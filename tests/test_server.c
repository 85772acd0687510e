/*
 * test_server.c - the HTTP service over real HTTP: a server on a port the
 * system picks, a small raw-socket HTTP/1.1 client, every endpoint, every
 * kind of bad input, model reloads and requests racing a reload.
 */
#include "model.h"
#include "server.h"
#include "solver.h"
#include "test_server_client.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define BODY_LIMIT (64 * 1024)
#define MAX_BATCH  1000
#define MAX_VERIFY 4

/* ---- endpoints ---------------------------------------------------------- */

static void test_start_refused(void)
{
    char empty[4200];
    tb_server_opts o;
    tb_server *s = NULL;
    tb_error err;

    snprintf(empty, sizeof(empty), "%s/empty", tu_tmpdir());
    mkdir(empty, 0755);
    tb_server_opts_default(&o);
    o.models_dir = empty;
    o.port = 0;
    tb_error_clear(&err);
    CHECK(tb_server_start(&o, &s, &err) < 0 && !s,
          "a folder with no model is refused");
    CHECK(strstr(err.text, "no loadable model") != NULL, "why: %s", err.text);

    o.models_dir = models;
    o.host = "localhost:80";
    tb_error_clear(&err);
    CHECK(tb_server_start(&o, &s, &err) == TB_EINVAL && !s,
          "a bad host is refused: %s", err.text);
}

static void test_server_meta(void)
{
    json_t *j = call("GET", "/v2", NULL, 200);
    json_t *ext = json_object_get(j, "extensions");

    CHECK(json_is_string(json_object_get(j, "name")) &&
              strcmp(json_string_value(json_object_get(j, "name")), "tabula") ==
                  0,
          "GET /v2 names tabula");
    CHECK(json_string_value(json_object_get(j, "version")) &&
              strcmp(json_string_value(json_object_get(j, "version")),
                     tb_version()) == 0,
          "GET /v2 gives the version");
    CHECK(json_is_array(ext) && json_array_size(ext) == 1 &&
              strcmp(json_string_value(json_array_get(ext, 0)),
                     "model_repository") == 0,
          "the model repository extension is offered");
    json_decref(j);

    j = call("GET", "/v2/health/live", NULL, 200);
    CHECK(json_is_true(json_object_get(j, "live")), "live");
    json_decref(j);
    j = call("GET", "/v2/health/ready", NULL, 200);
    CHECK(json_is_true(json_object_get(j, "ready")), "ready");
    json_decref(j);
}

/* Whether GET /v2/models lists name. */
static int listed(const char *name)
{
    json_t *j = call("GET", "/v2/models", NULL, 200);
    json_t *list = json_object_get(j, "models");
    int found = 0;

    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *n =
            json_string_value(json_object_get(json_array_get(list, i), "name"));

        found |= n && strcmp(n, name) == 0;
    }
    json_decref(j);
    return found;
}

static void test_model_meta(void)
{
    const tb_problem *p = tb_problem_find("heat1d");
    json_t *j = call("GET", "/v2/models/heat1d", NULL, 200);
    json_t *ins = json_object_get(j, "inputs");
    json_t *rep = json_object_get(j, "error_report");
    json_t *u = json_object_get(json_object_get(rep, "outputs"), "u");
    json_t *par = json_object_get(j, "parameters");

    CHECK(json_array_size(ins) == 3, "three inputs");
    for (size_t k = 0; k < json_array_size(ins); k++) {
        json_t *t = json_array_get(ins, k);

        CHECK(strcmp(json_string_value(json_object_get(t, "name")),
                     p->inputs[k].name) == 0,
              "input %zu is %s", k, p->inputs[k].name);
        CHECK(strcmp(json_string_value(json_object_get(t, "datatype")),
                     "FP64") == 0,
              "inputs are FP64");
    }
    check_domain(json_object_get(j, "domain"), p);
    CHECK(strcmp(json_string_value(json_object_get(j, "platform")),
                 "tabula-mlp") == 0,
          "platform");
    CHECK(strcmp(json_string_value(json_object_get(par, "problem")),
                 "heat1d") == 0,
          "parameters.problem");
    CHECK(json_integer_value(json_object_get(rep, "n_grid")) == 1234, "n_grid");
    CHECK_NEAR(json_number_value(json_object_get(u, "grid_max_abs")), 0.125, 0,
               "grid_max_abs");
    CHECK_NEAR(json_number_value(json_object_get(u, "probe_rms")), 0.2, 0,
               "probe_rms");
    json_decref(j);

    j = call("GET", "/v2/models/heat1d/ready", NULL, 200);
    CHECK(json_is_true(json_object_get(j, "ready")), "model ready");
    json_decref(j);
    json_decref(call("GET", "/v2/models/heat1d/versions/1", NULL, 200));
    CHECK(listed("heat1d") && listed("mystery"), "both models are listed");
}

static void test_not_found_and_method(void)
{
    struct resp r;

    expect_error("GET", "/v2/models/nosuch", NULL, 404, "nosuch");
    expect_error("GET", "/v2/models/nosuch/ready", NULL, 404, "nosuch");
    expect_error("POST", "/v2/models/nosuch/infer", "{}", 404, "nosuch");
    expect_error("GET", "/v2/models/heat1d/versions/2", NULL, 404, "version");
    expect_error("GET", "/v3/whatever", NULL, 404, "no such path");
    expect_error("GET", "/v2/models/heat1d/infer", NULL, 405, "POST");
    expect_error("DELETE", "/v2/models/heat1d", NULL, 405, "GET");

    CHECK(http("POST", "/v2/health/live", "{}", &r) == 0 && r.status == 405,
          "POST on a GET path is 405");
    CHECK(strstr(r.head, "Allow: GET, HEAD\r\n") != NULL, "Allow: GET in %s",
          r.head);
    resp_free(&r);
    CHECK(http("HEAD", "/v2/health/live", NULL, &r) == 0 && r.status == 200 &&
              r.len == 0,
          "HEAD is answered as GET without a body");
    resp_free(&r);
    expect_error("GET", "/v2/models/%FF%FE", NULL, 404, "no model named");
    CHECK(http("GET", "/v2/models/heat1d/infer", NULL, &r) == 0 &&
              strstr(r.head, "Allow: POST\r\n") != NULL,
          "Allow: POST");
    resp_free(&r);
}

/* ---- inference ------------------------------------------------------------
 */

static const double pts[3][3] = {
    /* alpha, x, t */
    {0.5, 0.5, 0.3},
    {0.01, 0.25, 1.0},
    {1.0, 0.75, 0.05},
};

/* An infer body for the three points above. */
static void infer_body(char *out, size_t size, const char *extra)
{
    snprintf(out, size,
             "{\"id\":\"r1\",\"inputs\":["
             "{\"name\":\"t\",\"shape\":[3],\"datatype\":\"FP64\","
             "\"data\":[%.17g,%.17g,%.17g]},"
             "{\"name\":\"alpha\",\"shape\":[3,1],\"datatype\":\"FP32\","
             "\"data\":[%.17g,%.17g,%.17g]},"
             "{\"name\":\"x\",\"shape\":[3],\"datatype\":\"FP64\","
             "\"data\":[%.17g,%.17g,%.17g]}]%s}",
             pts[0][2], pts[1][2], pts[2][2], pts[0][0], pts[1][0], pts[2][0],
             pts[0][1], pts[1][1], pts[2][1], extra);
}

static void test_infer(const tb_model *m)
{
    char body[2048];
    double y[3];
    json_t *j, *u, *par;

    CHECK(tb_model_predict(m, &pts[0][0], 3, y, NULL) == 0, "predict");
    infer_body(body, sizeof(body), "");
    j = call("POST", "/v2/models/heat1d/infer", body, 200);
    u = output(j, "u");
    par = json_object_get(j, "parameters");
    CHECK(json_array_size(u) == 3, "three answers");
    for (size_t i = 0; i < 3; i++)
        CHECK_NEAR(json_number_value(json_array_get(u, i)), y[i], 1e-12,
                   "served answer equals tb_model_predict");
    CHECK(strcmp(json_string_value(json_object_get(j, "id")), "r1") == 0,
          "id echoed");
    CHECK(strcmp(json_string_value(json_object_get(j, "model_version")), "1") ==
              0,
          "model_version");
    CHECK_NEAR(json_number_value(json_object_get(par, "max_abs_error.u")),
               0.125, 0, "max_abs_error.u in the answer");
    CHECK_NEAR(json_number_value(json_object_get(par, "probe_max_abs_error.u")),
               0.5, 0, "probe_max_abs_error.u in the answer");
    CHECK(json_is_false(json_object_get(par, "verified")), "not verified");
    CHECK(output(j, "u.solver") == NULL, "no solver output unasked");
    json_decref(j);

    /* Integer datatypes carry whole numbers. */
    j = call("POST", "/v2/models/heat1d/infer",
             "{\"inputs\":["
             "{\"name\":\"alpha\",\"shape\":[1],\"datatype\":\"INT32\","
             "\"data\":[1]},"
             "{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT64\","
             "\"data\":[0]},"
             "{\"name\":\"t\",\"shape\":[1],\"datatype\":\"FP64\","
             "\"data\":[0]}]}",
             200);
    CHECK(json_object_get(j, "id") == NULL, "no id when none was sent");
    json_decref(j);
}

static void test_verify(void)
{
    char body[2048];
    json_t *j, *u, *sol, *ae;

    infer_body(body, sizeof(body), ",\"parameters\":{\"verify\":true}");
    j = call("POST", "/v2/models/heat1d/infer", body, 200);
    u = output(j, "u");
    sol = output(j, "u.solver");
    ae = output(j, "u.abs_error");
    CHECK(json_array_size(sol) == 3 && json_array_size(ae) == 3,
          "solver and error tensors");
    for (size_t i = 0; i < 3 && sol; i++) {
        double a = pts[i][0], x = pts[i][1], t = pts[i][2];
        double exact = exp(-a * M_PI * M_PI * t) * sin(M_PI * x);
        double s = json_number_value(json_array_get(sol, i));
        double v = json_number_value(json_array_get(u, i));

        CHECK_NEAR(s, exact, 1e-5, "verified solver value vs exact heat");
        CHECK_NEAR(json_number_value(json_array_get(ae, i)), fabs(v - s), 1e-15,
                   "abs_error = |surrogate - solver|");
    }
    CHECK(json_is_true(
              json_object_get(json_object_get(j, "parameters"), "verified")),
          "verified");
    json_decref(j);

    expect_error("POST", "/v2/models/mystery/infer", body, 422, "unavailable");
}

/* ---- bad requests ---------------------------------------------------------
 */

/* A body with inputs alpha, x, t whose fields are given as JSON text. */
static void tensors(char *out, size_t size, const char *alpha, const char *x,
                    const char *t)
{
    snprintf(out, size,
             "{\"inputs\":[{\"name\":\"alpha\",%s},{\"name\":\"x\",%s},"
             "{\"name\":\"t\",%s}]}",
             alpha, x, t);
}

#define ONE "\"shape\":[1],\"datatype\":\"FP64\",\"data\":[0.5]"

static void bad(const char *body, int status, const char *text)
{
    expect_error("POST", "/v2/models/heat1d/infer", body, status, text);
}

static void bad_tensor(const char *alpha, int status, const char *text)
{
    char body[4096];

    tensors(body, sizeof(body), alpha, ONE, ONE);
    bad(body, status, text);
}

static void test_bad_documents(void)
{
    char body[4096];

    bad("", 400, "empty");
    bad("{\"inputs\": [", 400, "line 1, column");
    bad("{\"inputs\": [1,]}", 400, "malformed JSON");
    bad("[1, 2]", 400, "is an array; expected a JSON object");
    bad("{\"inputs\": [], \"inputs\": []}", 400, "duplicate");
    bad("{}", 400, "\"inputs\" is missing");
    bad("{\"inputs\": 3}", 400, "\"inputs\" is an integer");
    bad("{\"inputs\": [3]}", 400, "inputs[0] is an integer");
    bad("{\"inputs\": [{\"shape\":[1]}]}", 400, "inputs[0].name");
    bad("{\"inputs\": []}", 400, "missing input 'alpha'");
    snprintf(body, sizeof(body),
             "{\"inputs\":[{\"name\":\"alpha\",%s},{\"name\":\"x\",%s}]}", ONE,
             ONE);
    bad(body, 400, "missing input 't'");
    snprintf(body, sizeof(body),
             "{\"inputs\":[{\"name\":\"alpha\",%s},{\"name\":\"beta\",%s}]}",
             ONE, ONE);
    bad(body, 400, "unknown input 'beta'");
    snprintf(body, sizeof(body),
             "{\"inputs\":[{\"name\":\"alpha\",%s},{\"name\":\"alpha\",%s}]}",
             ONE, ONE);
    bad(body, 400, "more than once");
    snprintf(body, sizeof(body),
             "{\"id\":5,\"inputs\":[{\"name\":\"alpha\",%s}]}", ONE);
    bad(body, 400, "\"id\" is an integer");
    snprintf(body, sizeof(body),
             "{\"parameters\":{\"verify\":\"yes\"},"
             "\"inputs\":[{\"name\":\"alpha\",%s}]}",
             ONE);
    bad(body, 400, "parameters.verify is a string");
}

static void test_bad_tensors(void)
{
    char body[4096];

    bad_tensor("\"shape\":[2],\"datatype\":\"FP64\",\"data\":[0.5,0.5]", 400,
               "has 1 points but input 'alpha' has 2");
    bad_tensor("\"shape\":[2],\"datatype\":\"FP64\",\"data\":[0.5]", 400,
               "shape [2] but 1 data values");
    bad_tensor("\"shape\":[1,2],\"datatype\":\"FP64\",\"data\":[0.5,0.5]", 400,
               "[N, 1]");
    bad_tensor("\"shape\":\"1\",\"datatype\":\"FP64\",\"data\":[0.5]", 400,
               "shape");
    bad_tensor("\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[0.5]", 400,
               "'BYTES'");
    bad_tensor("\"shape\":[1],\"data\":[0.5]", 400, "datatype is missing");
    bad_tensor("\"shape\":[1],\"datatype\":\"FP64\",\"data\":[\"a\"]", 400,
               "data[0] is a string; expected a number");
    bad_tensor("\"shape\":[1],\"datatype\":\"FP64\",\"data\":[true]", 400,
               "is a boolean");
    bad_tensor("\"shape\":[1],\"datatype\":\"FP64\",\"data\":[null]", 400,
               "is null");
    bad_tensor("\"shape\":[1],\"datatype\":\"FP64\",\"data\":[[0.5]]", 400,
               "is an array");
    bad_tensor("\"shape\":[1],\"datatype\":\"FP64\",\"data\":[NaN]", 400,
               "malformed JSON");
    bad_tensor("\"shape\":[1],\"datatype\":\"FP64\",\"data\":[1e400]", 400,
               "overflow");
    bad_tensor("\"shape\":[1],\"datatype\":\"FP64\",\"data\":"
               "[123456789012345678901234567890]",
               400, "malformed JSON");
    bad_tensor("\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1e39]", 400,
               "overflows datatype FP32");
    bad_tensor("\"shape\":[1],\"datatype\":\"INT32\",\"data\":[3000000000]",
               400, "overflows datatype INT32");
    bad_tensor("\"shape\":[1],\"datatype\":\"INT32\",\"data\":[0.5]", 400,
               "needs integers");
    bad_tensor("\"shape\":[1],\"datatype\":\"FP64\",\"data\":[2]", 422,
               "input 'alpha' is 2 at point 0, outside the model's domain "
               "[0.01, 1]");
    bad_tensor("\"shape\":[1],\"datatype\":\"FP64\",\"data\":[-0.001]", 422,
               "outside the model's domain");
    tensors(body, sizeof(body),
            "\"shape\":[0],\"datatype\":\"FP64\",\"data\":[]",
            "\"shape\":[0],\"datatype\":\"FP64\",\"data\":[]",
            "\"shape\":[0],\"datatype\":\"FP64\",\"data\":[]");
    bad(body, 400, "N = 0");
}

/* A batch of n points, every value 0.5. */
static char *batch(size_t n, const char *extra)
{
    size_t cap = 64 * n + 512, used = 0;
    char *b = malloc(cap);
    const char *names[3] = {"alpha", "x", "t"};

    if (!b)
        return NULL;
    used += (size_t)snprintf(b + used, cap - used, "{\"inputs\":[");
    for (int k = 0; k < 3; k++) {
        used += (size_t)snprintf(b + used, cap - used,
                                 "%s{\"name\":\"%s\",\"shape\":[%zu],"
                                 "\"datatype\":\"FP64\",\"data\":[",
                                 k ? "," : "", names[k], n);
        for (size_t i = 0; i < n; i++)
            used +=
                (size_t)snprintf(b + used, cap - used, "%s0.5", i ? "," : "");
        used += (size_t)snprintf(b + used, cap - used, "]}");
    }
    snprintf(b + used, cap - used, "]%s}", extra);
    return b;
}

static void test_limits(void)
{
    char *b = batch(MAX_BATCH, "");
    char head[512];
    struct resp r;
    json_t *j;

    j = call("POST", "/v2/models/heat1d/infer", b, 200);
    CHECK(json_array_size(output(j, "u")) == MAX_BATCH, "a full batch");
    json_decref(j);
    free(b);

    b = batch(MAX_BATCH + 1, "");
    bad(b, 413, "at most 1000");
    free(b);
    b = batch(MAX_VERIFY + 1, ",\"parameters\":{\"verify\":true}");
    bad(b, 413, "at most 4");
    free(b);

    /* Over the body limit, announced in Content-Length. */
    snprintf(head, sizeof(head),
             "POST /v2/models/heat1d/infer HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\nContent-Length: %d\r\n\r\n",
             BODY_LIMIT + 1);
    CHECK(http_raw(head, strlen(head), &r) == 0 && r.status == 413,
          "an announced body over the limit is 413 (%d)", r.status);
    j = body_json(&r);
    CHECK(json_is_string(json_object_get(j, "error")), "413 body: %s", r.body);
    json_decref(j);
    resp_free(&r);
}

/* Over the body limit, announced and sent in full, as curl does. */
static void test_full_body_over_limit(void)
{
    char *b = batch(BODY_LIMIT / 10, "");
    char *req = b ? malloc(strlen(b) + 512) : NULL;
    struct resp r;
    int n;

    if (!req) {
        free(b);
        return;
    }
    n = sprintf(req,
                "POST /v2/models/heat1d/infer HTTP/1.1\r\nHost: x\r\n"
                "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
                strlen(b), b);
    CHECK(strlen(b) > BODY_LIMIT, "the body is over the limit");
    CHECK(http_raw(req, (size_t)n, &r) == 0 && r.status == 413,
          "a full body over the limit is 413 (%d)", r.status);
    resp_free(&r);
    free(req);
    free(b);
}

/* Over the body limit without Content-Length: chunks add up past it. */
static void test_chunked_over_limit(void)
{
    size_t chunk = 8192, n = BODY_LIMIT / chunk + 2;
    size_t cap = n * (chunk + 16) + 512, used = 0;
    char *req = malloc(cap);
    struct resp r;
    json_t *j;

    if (!req)
        return;
    used += (size_t)snprintf(req, cap,
                             "POST /v2/models/heat1d/infer HTTP/1.1\r\n"
                             "Host: x\r\nConnection: close\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n");
    for (size_t i = 0; i < n; i++) {
        used += (size_t)snprintf(req + used, cap - used, "%zx\r\n", chunk);
        memset(req + used, ' ', chunk);
        used += chunk;
        used += (size_t)snprintf(req + used, cap - used, "\r\n");
    }
    used += (size_t)snprintf(req + used, cap - used, "0\r\n\r\n");

    CHECK(http_raw(req, used, &r) == 0 && r.status == 413,
          "a chunked body over the limit is 413 (%d)", r.status);
    j = body_json(&r);
    CHECK(json_is_string(json_object_get(j, "error")), "413 body: %s", r.body);
    json_decref(j);
    resp_free(&r);
    free(req);
}

/* ---- reload ------------------------------------------------------------- */

static void test_reload(tb_server *s)
{
    char path[4200], body[2048];
    tb_error err;

    model_path(path, sizeof(path), "second.h5");
    CHECK(make_model(path, "heat1d", 7) == 0, "write a second model");
    log_reset();
    tb_error_clear(&err);
    CHECK(tb_server_reload(s, &err) == 3, "three models after adding one");
    CHECK(log_has("loaded model second"), "the new model is logged");
    CHECK(!log_has("model heat1d"), "unchanged files are not reloaded");
    CHECK(listed("second"), "the new model is listed");
    json_decref(call("GET", "/v2/models/second", NULL, 200));

    write_file("second.h5", "this is not an HDF5 file\n");
    log_reset();
    CHECK(tb_server_reload(s, &err) == 3, "a broken file keeps its model");
    CHECK(log_has("second.h5") && log_has("keeps serving"),
          "the broken file is logged with its name");
    infer_body(body, sizeof(body), "");
    json_decref(call("POST", "/v2/models/second/infer", body, 200));

    CHECK(unlink(path) == 0, "remove the second model");
    CHECK(tb_server_reload(s, &err) == 2, "two models after removing one");
    expect_error("GET", "/v2/models/second", NULL, 404, "second");
    CHECK(!listed("second"), "the removed model is not listed");
}

struct hammer {
    volatile int stop;
    int sent;
    int failed;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    char body[2048];
    struct resp r;

    infer_body(body, sizeof(body), "");
    while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
        int ok = http("POST", "/v2/models/heat1d/infer", body, &r) == 0 &&
                 r.status == 200;
        json_t *j = ok ? body_json(&r) : NULL;

        h->sent++;
        h->failed += !(j && json_array_size(output(j, "u")) == 3);
        json_decref(j);
        resp_free(&r);
    }
    return NULL;
}

/* Requests racing reloads that swap the model they use see no failure. */
static void test_reload_under_load(tb_server *s)
{
    struct hammer h = {0};
    char path[4200];
    pthread_t th;
    tb_error err;

    model_path(path, sizeof(path), "heat1d.h5");
    CHECK(pthread_create(&th, NULL, hammer_run, &h) == 0, "start hammer");
    for (int i = 0; i < 6; i++) {
        usleep(20000);
        CHECK(make_model(path, "heat1d", 100 + (uint64_t)i) == 0,
              "rewrite heat1d.h5");
        tb_error_clear(&err);
        CHECK(tb_server_reload(s, &err) == 2, "reload %d: %s", i, err.text);
    }
    usleep(20000);
    __atomic_store_n(&h.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    printf("reload under load: %d requests during 6 reloads, %d failed\n",
           h.sent, h.failed);
    CHECK(h.sent > 0 && h.failed == 0, "%d requests during reloads, %d failed",
          h.sent, h.failed);
}

static void test_none_left(tb_server *s)
{
    char path[4200];
    tb_error err;

    model_path(path, sizeof(path), "heat1d.h5");
    unlink(path);
    model_path(path, sizeof(path), "mystery.h5");
    unlink(path);
    tb_error_clear(&err);
    CHECK(tb_server_reload(s, &err) == 0, "no models left");
    json_decref(call("GET", "/v2/health/ready", NULL, 503));
    json_decref(call("GET", "/v2/health/live", NULL, 200));
}

/* ---- main ---------------------------------------------------------------- */

/* The shared model files, and two files the scan must skip. */
static int setup(tb_model *m)
{
    if (make_models(m) != 0)
        return -1;
    write_file(".hidden.h5", "not a model");
    write_file("notes.h5.tmp.1.2", "not a model");
    return 0;
}

int main(void)
{
    tb_server_opts o;
    tb_server *s = NULL;
    tb_model m = {0};
    tb_error err;

    tb_log_set_sink(capture, NULL);
    CHECK(setup(&m) == 0, "model files written");
    test_start_refused();

    tb_server_opts_default(&o);
    o.models_dir = models;
    o.port = 0;
    o.body_limit = BODY_LIMIT;
    o.max_batch = MAX_BATCH;
    o.max_verify = MAX_VERIFY;
    tb_error_clear(&err);
    CHECK(tb_server_start(&o, &s, &err) == 0, "start: %s", err.text);
    if (!s)
        return tu_finish("server");
    port = tb_server_port(s);
    CHECK(port > 0, "listening on port %d", port);

    tb_log_set_level(TB_LOG_DEBUG);
    test_server_meta();
    test_model_meta();
    test_not_found_and_method();
    test_infer(&m);
    CHECK(log_has("request method=POST path=/v2/models/heat1d/infer "
                  "status=200 points=3 us="),
          "requests are logged");
    test_verify();
    test_bad_documents();
    test_bad_tensors();
    test_limits();
    test_chunked_over_limit();
    test_full_body_over_limit();
    tb_log_set_level(TB_LOG_INFO);

    test_reload(s);
    test_reload_under_load(s);
    test_none_left(s);
    tb_server_stop(s);
    tb_model_free(&m);
    return tu_finish("server");
}

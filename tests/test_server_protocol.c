/*
 * test_server_protocol.c - the service's protocol beyond plain inference,
 * over real HTTP: model versions from file names, the plain predict form,
 * the domain policy, per-cell certificates and per-request tolerance with
 * the solver fallback, the Prometheus metrics and the model repository
 * extension.
 */
#include "model.h"
#include "server.h"
#include "solver.h"
#include "test_server_client.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- versions, the plain form, domain policy ------------------------------
 */

/* The first number of the output tensor called name. */
static double first_value(json_t *j, const char *name)
{
    return json_number_value(json_array_get(output(j, name), 0));
}

static const char one_point[] =
    "{\"inputs\":["
    "{\"name\":\"alpha\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[0.5]},"
    "{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[0.5]},"
    "{\"name\":\"t\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[0.5]}]}";

static void test_versions(tb_server *s, const tb_model *m1)
{
    char path[4200];
    double y1, x[3] = {0.5, 0.5, 0.5};
    json_t *j, *v;
    tb_error err;

    tb_model_predict(m1, x, 1, &y1, NULL);
    model_path(path, sizeof(path), "heat1d@2.h5");
    CHECK(make_model(path, "heat1d", 99) == 0, "write heat1d@2.h5");
    model_path(path, sizeof(path), "heat1d@x.h5");
    write_file("heat1d@x.h5", "a bad version name");
    tb_error_clear(&err);
    CHECK(tb_server_reload(s, &err) == 3, "three model versions: %s", err.text);

    j = call("GET", "/v2/models/heat1d", NULL, 200);
    v = json_object_get(j, "versions");
    CHECK(json_array_size(v) == 2 &&
              strcmp(json_string_value(json_array_get(v, 1)), "2") == 0,
          "heat1d lists versions 1 and 2");
    CHECK(strcmp(json_string_value(json_object_get(j, "version")), "2") == 0,
          "the newest version answers by default");
    json_decref(j);

    j = call("POST", "/v2/models/heat1d/infer", one_point, 200);
    CHECK(strcmp(json_string_value(json_object_get(j, "model_version")), "2") ==
              0,
          "infer without a version uses version 2");
    CHECK(fabs(first_value(j, "u") - y1) > 1e-9, "version 2 is another model");
    json_decref(j);
    j = call("POST", "/v2/models/heat1d/versions/1/infer", one_point, 200);
    CHECK(strcmp(json_string_value(json_object_get(j, "model_version")), "1") ==
              0,
          "versions/1 answers from version 1");
    CHECK_NEAR(first_value(j, "u"), y1, 1e-12, "version 1's answer");
    json_decref(j);
    expect_error("GET", "/v2/models/heat1d/versions/3", NULL, 404,
                 "no version 3");
    expect_error("GET", "/v2/models/heat1d/versions/abc", NULL, 404,
                 "not a model version");

    j = call("GET", "/v2/models", NULL, 200);
    v = json_array_get(json_object_get(j, "models"), 0);
    CHECK(strcmp(json_string_value(json_object_get(v, "name")), "heat1d") ==
                  0 &&
              json_array_size(json_object_get(v, "versions")) == 2 &&
              strcmp(json_string_value(json_object_get(v, "problem")),
                     "heat1d") == 0,
          "the list gives name, versions and problem");
    check_domain(json_object_get(v, "domain"), tb_problem_find("heat1d"));
    CHECK(json_is_object(json_object_get(v, "error_report")),
          "the list gives the error report");
    json_decref(j);

    unlink(path);
    model_path(path, sizeof(path), "heat1d@2.h5");
    unlink(path);
    CHECK(tb_server_reload(s, &err) == 2, "back to two models");
}

static void test_plain_predict(const tb_model *m)
{
    double x[6] = {0.5, 0.5, 0.3, 1.0, 0.75, 0.05}, y[2];
    json_t *j, *p;

    tb_model_predict(m, x, 2, y, NULL);
    j = call("POST", "/v1/models/heat1d/predict",
             "{\"alpha\": 0.5, \"x\": 0.5, \"t\": 0.3}", 200);
    p = json_object_get(j, "prediction");
    CHECK_NEAR(json_number_value(json_object_get(p, "u")), y[0], 1e-12,
               "plain answer");
    CHECK_NEAR(json_number_value(json_object_get(p, "u.max_abs_error")), 0.5, 0,
               "the certified max error (worst of grid and probes) beside u");
    json_decref(j);

    j = call("POST", "/v1/models/heat1d/predict",
             "[{\"alpha\": 0.5, \"x\": 0.5, \"t\": 0.3},"
             " {\"t\": 0.05, \"x\": 0.75, \"alpha\": 1}]",
             200);
    p = json_object_get(j, "predictions");
    CHECK(json_array_size(p) == 2, "a list answers a list");
    CHECK_NEAR(json_number_value(json_object_get(json_array_get(p, 1), "u")),
               y[1], 1e-12, "second plain answer, integer alpha");
    json_decref(j);

    expect_error("POST", "/v1/models/heat1d/predict", "[]", 400, "empty");
    expect_error("POST", "/v1/models/heat1d/predict", "3", 400,
                 "expected an object");
    expect_error("POST", "/v1/models/heat1d/predict",
                 "{\"alpha\": 0.5, \"x\": 0.5}", 400, "missing input 't'");
    expect_error("POST", "/v1/models/heat1d/predict",
                 "{\"alpha\": 0.5, \"x\": 0.5, \"t\": 0.3, \"beta\": 1}", 400,
                 "unknown input 'beta'");
    expect_error("POST", "/v1/models/heat1d/predict",
                 "{\"alpha\": \"0.5\", \"x\": 0.5, \"t\": 0.3}", 400,
                 "expected a number");
    expect_error("POST", "/v1/models/heat1d/predict",
                 "{\"alpha\": 5, \"x\": 0.5, \"t\": 0.3}", 422,
                 "outside the model's domain");
    expect_error("POST", "/v1/models/nosuch/predict", "{}", 404, "nosuch");
}

static void test_clamp(const tb_model *m)
{
    double x[6] = {1.0, 0.5, 0.3, 0.5, 0.5, 0.3}, y[2];
    json_t *j, *c, *p;

    tb_model_predict(m, x, 2, y, NULL);
    j = call("POST", "/v2/models/heat1d/infer",
             "{\"parameters\":{\"domain_policy\":\"clamp\"},\"inputs\":["
             "{\"name\":\"alpha\",\"shape\":[2],\"datatype\":\"FP64\","
             "\"data\":[7.5,0.5]},"
             "{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP64\","
             "\"data\":[0.5,0.5]},"
             "{\"name\":\"t\",\"shape\":[2],\"datatype\":\"FP64\","
             "\"data\":[0.3,0.3]}]}",
             200);
    c = output(j, "clamped");
    CHECK(json_is_true(json_array_get(c, 0)) &&
              json_is_false(json_array_get(c, 1)),
          "the clamped tensor marks point 0 only");
    CHECK(json_integer_value(json_object_get(json_object_get(j, "parameters"),
                                             "clamped_points")) == 1,
          "clamped_points = 1");
    CHECK_NEAR(first_value(j, "u"), y[0], 1e-12,
               "a clamped point is answered at the boundary");
    json_decref(j);

    j = call("POST", "/v1/models/heat1d/predict?domain_policy=clamp",
             "{\"alpha\": 7.5, \"x\": 0.5, \"t\": 0.3}", 200);
    p = json_object_get(j, "prediction");
    CHECK(json_is_true(json_object_get(p, "clamped")), "plain form: clamped");
    /* One point and a batch of two round differently in float32. */
    CHECK_NEAR(json_number_value(json_object_get(p, "u")), y[0], 1e-6,
               "plain form: answered at the boundary");
    json_decref(j);

    expect_error("POST", "/v1/models/heat1d/predict?domain_policy=wrap",
                 "{\"alpha\": 0.5, \"x\": 0.5, \"t\": 0.3}", 400,
                 "expected \"refuse\"");
    expect_error("POST", "/v2/models/heat1d/infer",
                 "{\"parameters\":{\"domain_policy\":1},\"inputs\":[]}", 400,
                 "domain_policy is an integer");
}

/* ---- certificates and tolerance -------------------------------------------
 */

/* Give the heat1d model at path cell figures: 0.01 in the first alpha
 * interval, 0.3 elsewhere.  Returns 0 or -1. */
static int add_cells(const char *path)
{
    tb_model m;
    tb_error err;
    double *nodes, *fig;
    size_t n_nodes = 0, n_cells = 1, used = 0;
    int rc = -1;

    tb_error_clear(&err);
    if (tb_model_load(path, &m, &err) != 0)
        return -1;
    for (int k = 0; k < m.n_in; k++) {
        n_nodes += (size_t)m.in[k].n;
        n_cells *= (size_t)m.in[k].n - 1;
    }
    nodes = malloc(n_nodes * sizeof(double));
    fig = malloc(n_cells * sizeof(double));
    if (nodes && fig) {
        for (int k = 0; k < m.n_in; k++)
            for (int i = 0; i < m.in[k].n; i++)
                nodes[used++] =
                    i == m.in[k].n - 1
                        ? m.in[k].hi
                        : m.in[k].lo +
                              i * (m.in[k].hi - m.in[k].lo) / (m.in[k].n - 1);
        for (size_t c = 0; c < n_cells; c++)
            fig[c] = c < n_cells / (size_t)(m.in[0].n - 1) ? 0.01 : 0.3;
        rc = tb_model_set_cells(&m, nodes, fig, &err) == 0 &&
                     tb_model_save(&m, path, &err) == 0
                 ? 0
                 : -1;
    }
    if (rc != 0)
        fprintf(stderr, "add_cells: %s\n", err.text);
    free(nodes);
    free(fig);
    tb_model_free(&m);
    return rc;
}

/* Two points: alpha in the first cell (0.01), and alpha = 0.5 (0.3). */
static const char two_points[] =
    "\"inputs\":["
    "{\"name\":\"alpha\",\"shape\":[2],\"datatype\":\"FP64\","
    "\"data\":[0.02,0.5]},"
    "{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP64\",\"data\":[0.5,0.5]},"
    "{\"name\":\"t\",\"shape\":[2],\"datatype\":\"FP64\",\"data\":[0.5,0.5]}]";

static void test_cells(tb_server *s)
{
    char path[4200], body[2048];
    double exact = exp(-0.5 * M_PI * M_PI * 0.5) * sin(M_PI * 0.5);
    json_t *j, *c, *src, *par;
    tb_model m;
    tb_error err;

    model_path(path, sizeof(path), "cellular.h5");
    CHECK(make_model(path, "heat1d", 5) == 0 && add_cells(path) == 0,
          "a model with cell figures");
    tb_error_clear(&err);
    CHECK(tb_model_load(path, &m, &err) == 0 && m.cells.n_cells == 15 * 63 * 63,
          "cell figures survive the file: %s", err.text);
    tb_model_free(&m);
    CHECK(tb_server_reload(s, &err) == 3, "three models: %s", err.text);

    snprintf(body, sizeof(body), "{%s}", two_points);
    j = call("POST", "/v2/models/cellular/infer", body, 200);
    c = output(j, "u.max_abs_error");
    CHECK_NEAR(json_number_value(json_array_get(c, 0)), 0.01, 0,
               "point 0 certified by its cell");
    CHECK_NEAR(json_number_value(json_array_get(c, 1)), 0.3, 0,
               "point 1 certified by its cell");
    CHECK(strcmp(json_string_value(json_object_get(
                     json_object_get(j, "parameters"), "certificate")),
                 "cell") == 0,
          "certificate: cell");
    json_decref(j);

    snprintf(body, sizeof(body), "{\"parameters\":{\"tolerance\":0.1},%s}",
             two_points);
    j = call("POST", "/v2/models/cellular/infer", body, 200);
    src = output(j, "answered_by");
    par = json_object_get(j, "parameters");
    CHECK(strcmp(json_string_value(json_array_get(src, 0)), "model") == 0 &&
              strcmp(json_string_value(json_array_get(src, 1)), "solver") == 0,
          "the point over the tolerance is answered by the solver");
    CHECK_NEAR(json_number_value(json_array_get(output(j, "u"), 1)), exact,
               1e-5, "the solver's answer");
    CHECK_NEAR(
        json_number_value(json_array_get(output(j, "u.max_abs_error"), 1)), 0,
        0, "a solver answer is certified 0");
    CHECK(json_integer_value(json_object_get(par, "solver_points")) == 1 &&
              json_integer_value(
                  json_object_get(par, "tolerance_unmet_points")) == 0,
          "one solver point, none unmet");
    json_decref(j);

    j = call("POST", "/v1/models/cellular/predict?tolerance=0.1",
             "{\"alpha\": 0.5, \"x\": 0.5, \"t\": 0.5}", 200);
    par = json_object_get(j, "prediction");
    CHECK(strcmp(json_string_value(json_object_get(par, "answered_by")),
                 "solver") == 0,
          "plain form: answered by the solver");
    CHECK_NEAR(json_number_value(json_object_get(par, "u")), exact, 1e-5,
               "plain form: the solver's answer");
    json_decref(j);
    unlink(path);
    CHECK(tb_server_reload(s, &err) == 2, "two models again");
}

static void test_tolerance_global(void)
{
    char body[2048];
    json_t *j, *par;

    /* The global figure is 0.5 (the worst of grid and probes). */
    snprintf(body, sizeof(body), "{\"parameters\":{\"tolerance\":0.6},%s}",
             two_points);
    j = call("POST", "/v2/models/heat1d/infer", body, 200);
    par = json_object_get(j, "parameters");
    CHECK(json_integer_value(json_object_get(par, "solver_points")) == 0,
          "a loose tolerance needs no solver");
    CHECK(strcmp(json_string_value(json_object_get(par, "certificate")),
                 "global") == 0,
          "a model without cells says its certificate is global");
    CHECK(output(j, "u.max_abs_error") == NULL, "no per-point tensor then");
    json_decref(j);

    snprintf(body, sizeof(body), "{\"parameters\":{\"tolerance.u\":0.4},%s}",
             two_points);
    j = call("POST", "/v2/models/heat1d/infer", body, 200);
    par = json_object_get(j, "parameters");
    CHECK(json_integer_value(json_object_get(par, "solver_points")) == 2,
          "tolerance.u under the global figure: both points from the solver");
    json_decref(j);

    snprintf(body, sizeof(body), "{\"parameters\":{\"tolerance\":0},%s}",
             two_points);
    expect_error("POST", "/v2/models/mystery/infer", body, 422, "unavailable");
    snprintf(body, sizeof(body), "{\"parameters\":{\"tolerance\":-1},%s}",
             two_points);
    expect_error("POST", "/v2/models/heat1d/infer", body, 400,
                 "expected a number >= 0");
    expect_error("POST", "/v1/models/heat1d/predict?tolerance=abc",
                 "{\"alpha\": 0.5, \"x\": 0.5, \"t\": 0.5}", 400,
                 "expected a number >= 0");
}

/* ---- operations ------------------------------------------------------------
 */

static void test_metrics(void)
{
    struct resp r;

    CHECK(http("GET", "/metrics", NULL, &r) == 0 && r.status == 200,
          "GET /metrics");
    CHECK(strstr(r.head, "Content-Type: text/plain; version=0.0.4") != NULL,
          "Prometheus text format");
    CHECK(r.body && strstr(r.body, "tabula_requests_total{route=\"/v2/models/"
                                   "*/infer\",status=\"200\"} "),
          "infer requests by route and status");
    CHECK(r.body && strstr(r.body, "status=\"422\""), "422s are counted");
    CHECK(r.body && strstr(r.body, "tabula_request_duration_seconds_bucket"
                                   "{le=\"+Inf\"} "),
          "a latency histogram");
    CHECK(r.body && strstr(r.body, "tabula_points_total ") &&
              !strstr(r.body, "tabula_points_total 0\n"),
          "points served are counted");
    CHECK(r.body && strstr(r.body, "tabula_model_load_failures_total "),
          "model load failures are counted");
    CHECK(r.body && strstr(r.body, "tabula_solver_points_total 2\n"),
          "the two verified points are counted");
    CHECK(r.body && strstr(r.body, "tabula_solver_fallbacks_total 2\n"),
          "the two tolerance fallbacks are counted");
    resp_free(&r);
}

static void test_repository(tb_server *s)
{
    json_t *j, *idx;
    tb_error err;
    int unavailable = 0;

    json_decref(call("POST", "/v2/repository/models/mystery/unload", "", 200));
    expect_error("GET", "/v2/models/mystery", NULL, 404, "mystery");
    tb_error_clear(&err);
    CHECK(tb_server_reload(s, &err) == 1, "a rescan keeps it unloaded");

    idx = call("POST", "/v2/repository/index", "", 200);
    for (size_t i = 0; i < json_array_size(idx); i++) {
        j = json_array_get(idx, i);
        unavailable |= strcmp(json_string_value(json_object_get(j, "name")),
                              "mystery") == 0 &&
                       strcmp(json_string_value(json_object_get(j, "state")),
                              "UNAVAILABLE") == 0;
    }
    CHECK(unavailable, "the index says mystery is unavailable");
    json_decref(idx);

    j = call("POST", "/v2/repository/models/mystery/load", "", 200);
    CHECK(strcmp(json_string_value(json_object_get(j, "state")), "READY") == 0,
          "loaded again");
    json_decref(j);
    json_decref(call("GET", "/v2/models/mystery", NULL, 200));
    expect_error("POST", "/v2/repository/models/nosuch/load", "", 404,
                 "no loadable file for model 'nosuch'");
    expect_error("POST", "/v2/repository/models/nosuch/unload", "", 404,
                 "nosuch");
}

/* ---- main ------------------------------------------------------------------
 */

/* One verified request, for the solver counter in the metrics. */
static void verify_two(void)
{
    char body[2048];

    snprintf(body, sizeof(body), "{\"parameters\":{\"verify\":true},%s}",
             two_points);
    json_decref(call("POST", "/v2/models/heat1d/infer", body, 200));
}

int main(void)
{
    tb_server_opts o;
    tb_server *s = NULL;
    tb_model m = {0};
    tb_error err;

    tb_log_set_sink(capture, NULL);
    CHECK(make_models(&m) == 0, "model files written");
    tb_server_opts_default(&o);
    o.models_dir = models;
    o.port = 0;
    tb_error_clear(&err);
    CHECK(tb_server_start(&o, &s, &err) == 0, "start: %s", err.text);
    if (!s)
        return tu_finish("server_protocol");
    port = tb_server_port(s);

    test_plain_predict(&m);
    test_clamp(&m);
    test_tolerance_global();
    verify_two();
    test_metrics();
    test_versions(s, &m);
    test_cells(s);
    test_repository(s);
    tb_server_stop(s);
    tb_model_free(&m);
    return tu_finish("server_protocol");
}

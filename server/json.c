/*
 * json.c - the JSON the service writes: error bodies, output tensors, the
 * error report and model metadata.  Every body is built with Jansson; a
 * constructor that fails (out of memory, a non-finite number) makes the
 * whole body fail, so no half-built document is ever sent.
 */
#include "server_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Record that memory ran out while building something.  Returns
 * TB_ENOMEM. */
int json_nomem(tb_error *err, const char *where)
{
    return tb_error_set(err, TB_ENOMEM, where,
                        "out of memory while building %s", where);
}

/* Parse the request body as JSON, refusing duplicate keys and anything but
 * an object (or, with arrays set, an array); expected says what the body
 * should be, for messages.  Returns 0 with *root owned by the caller, or
 * TB_EINVAL (*root, when set, is the caller's to free too). */
int json_parse_body(const struct request *rq, json_t **root, int arrays,
                    const char *expected, tb_error *err)
{
    json_error_t je;

    *root = NULL;
    if (rq->len == 0)
        return tb_error_set(err, TB_EINVAL, "body",
                            "the request body is empty; expected %s", expected);
    *root = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &je);
    if (!*root)
        return tb_error_set(err, TB_EINVAL, "body",
                            "malformed JSON at line %d, column %d: %s; "
                            "expected %s",
                            je.line, je.column, je.text, expected);
    if (!json_is_object(*root) && !(arrays && json_is_array(*root)))
        return tb_error_set(err, TB_EINVAL, "body",
                            "the request body is %s; expected %s",
                            json_type_name(*root), expected);
    return 0;
}

/* A BOOL tensor {"name","datatype":"BOOL","shape":[n],"data":[...]} of n
 * flags.  NULL when memory ran out; the caller owns it. */
json_t *json_flags(const char *name, const int *flags, size_t n)
{
    json_t *data = json_array();
    int ok = data != NULL;

    for (size_t i = 0; i < n && ok; i++)
        ok = json_array_append_new(data, json_boolean(flags[i])) == 0;
    if (!ok) {
        json_decref(data);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:[I], s:o}", "name", name, "datatype", "BOOL",
                     "shape", (json_int_t)n, "data", data);
}

/* A BYTES tensor "answered_by" saying per point "model" or "solver".  NULL
 * when memory ran out; the caller owns it. */
json_t *json_sources(const int *by_solver, size_t n)
{
    json_t *data = json_array();
    int ok = data != NULL;

    for (size_t i = 0; i < n && ok; i++)
        ok = json_array_append_new(
                 data, json_string(by_solver[i] ? "solver" : "model")) == 0;
    if (!ok) {
        json_decref(data);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:[I], s:o}", "name", "answered_by",
                     "datatype", "BYTES", "shape", (json_int_t)n, "data", data);
}

/* A word for the JSON type of v, for error messages. */
const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* The body of an error answer, {"error": "..."} in the Open Inference
 * Protocol's shape; NULL when memory ran out.  The caller owns it. */
json_t *json_error_body(const tb_error *err)
{
    const char *text = err->text[0] ? err->text : tb_status_message(err->code);
    json_t *msg = json_string(text);
    char ascii[sizeof(err->text)];
    size_t i = 0;

    /* A message quoting a path or a name cut short may not be valid UTF-8,
     * which JSON strings must be: fall back to ASCII. */
    if (!msg) {
        for (; text[i] && i + 1 < sizeof(ascii); i++)
            ascii[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
        ascii[i] = '\0';
        msg = json_string(ascii);
    }
    return json_pack("{s:o}", "error", msg);
}

/* A number, or null when it is not finite (JSON has no NaN). */
static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* An output tensor {"name","datatype":"FP64","shape":[n],"data":[...]} of
 * v[0], v[stride], ...  NULL when memory ran out or a value is not finite.
 * The caller owns it. */
json_t *json_tensor(const char *name, const double *v, size_t n, size_t stride)
{
    json_t *t = json_object();
    json_t *shape = json_array();
    json_t *data = json_array();
    int ok = t && shape && data;

    /* Built call by call: json_pack's format parsing cost more than the
     * tensor itself on single-point answers. */
    ok = ok && json_array_append_new(shape, json_integer((json_int_t)n)) == 0;
    for (size_t i = 0; i < n && ok; i++)
        ok = json_array_append_new(data, json_real(v[i * stride])) == 0;
    ok = ok && json_object_set_new(t, "name", json_string(name)) == 0 &&
         json_object_set_new(t, "datatype", json_string("FP64")) == 0;
    ok = ok && json_object_set(t, "shape", shape) == 0 &&
         json_object_set(t, "data", data) == 0;
    json_decref(shape);
    json_decref(data);
    if (!ok) {
        json_decref(t);
        return NULL;
    }
    return t;
}

/* Set params[prefix + "." + output] = v when v is finite. */
static int set_flat(json_t *params, const char *prefix, const char *output,
                    double v)
{
    char key[128];

    if (!isfinite(v))
        return 0;
    snprintf(key, sizeof(key), "%s.%s", prefix, output);
    return json_object_set_new(params, key, json_real(v));
}

/* Add the model's error report to an infer answer's parameters as flat
 * numeric keys ("max_abs_error.u", "probe_rms_error.u", ...).  Parts that
 * were never measured are left out.  Returns 0 or -1 (out of memory). */
int json_add_report(json_t *params, const tb_model *m)
{
    const tb_report *r = &m->report;
    int rc = 0;

    for (int j = 0; j < m->n_out; j++) {
        const char *o = m->out_name[j];

        if (r->n_grid > 0) {
            rc |= set_flat(params, "max_abs_error", o, r->grid_max_abs[j]);
            rc |= set_flat(params, "max_rel_error", o, r->grid_max_rel[j]);
            rc |= set_flat(params, "mean_abs_error", o, r->grid_mean_abs[j]);
            rc |= set_flat(params, "rms_error", o, r->grid_rms[j]);
        }
        if (r->n_probes > 0) {
            rc |=
                set_flat(params, "probe_max_abs_error", o, r->probe_max_abs[j]);
            rc |=
                set_flat(params, "probe_max_rel_error", o, r->probe_max_rel[j]);
            rc |= set_flat(params, "probe_mean_abs_error", o,
                           r->probe_mean_abs[j]);
            rc |= set_flat(params, "probe_rms_error", o, r->probe_rms[j]);
        }
    }
    return rc ? -1 : 0;
}

/* ---- infer answers, partly rendered once per model ---------------------- */

/* obj rendered compactly by Jansson, without its outer braces: "a":1,"b":2
 * (empty for an empty object).  NULL when memory ran out; the caller
 * frees it. */
static char *members(const json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    size_t len = s ? strlen(s) : 0;

    if (!s)
        return NULL;
    /* Jansson writes an object as '{' members '}'. */
    memmove(s, s + 1, len - 2);
    s[len - 2] = '\0';
    return s;
}

/* Render the parts of e's infer answers that never change: its name and
 * version, and its error report as flat parameters.  Returns 0 or
 * TB_ENOMEM. */
int json_prerender(struct entry *e)
{
    json_t *head = json_pack("{s:s, s:o}", "model_name", e->name,
                             "model_version", json_sprintf("%ld", e->version));
    json_t *report = json_object();

    if (head && report && json_add_report(report, &e->model) == 0) {
        e->answer_head = members(head);
        e->answer_report = members(report);
    }
    json_decref(head);
    json_decref(report);
    return e->answer_head && e->answer_report ? 0 : TB_ENOMEM;
}

/* Copy the n strings of parts one after another into a new string.  NULL
 * when memory ran out; the caller frees it. */
static char *concat(const char *const *parts, size_t n)
{
    size_t len = 1, used = 0;
    char *s;

    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]);
    s = malloc(len);
    for (size_t i = 0; s && i < n; i++) {
        size_t k = strlen(parts[i]);

        memcpy(s + used, parts[i], k);
        used += k;
    }
    if (s)
        s[used] = '\0';
    return s;
}

/* The text of an infer answer: e's pre-rendered head, the request's id
 * (NULL: none), e's report beside this answer's own params (an object
 * with at least one member), and the outputs array.  Every value is
 * written by Jansson; only object members are joined here.  NULL when
 * memory ran out; the caller frees it. */
char *json_answer(const struct entry *e, const char *id, const json_t *params,
                  const json_t *outs)
{
    json_t *idv = id ? json_pack("{s:s}", "id", id) : NULL;
    char *id_text = idv ? members(idv) : NULL;
    char *own = members(params);
    char *out_text = json_dumps(outs, JSON_COMPACT);
    char *text = NULL;

    if (own && out_text && (!id || id_text)) {
        const char *parts[] = {"{",
                               e->answer_head,
                               id ? "," : "",
                               id ? id_text : "",
                               ",\"parameters\":{",
                               e->answer_report,
                               e->answer_report[0] ? "," : "",
                               own,
                               "},\"outputs\":",
                               out_text,
                               "}"};

        text = concat(parts, sizeof(parts) / sizeof(parts[0]));
    }
    json_decref(idv);
    free(id_text);
    free(own);
    free(out_text);
    return text;
}

/* ---- model metadata ---------------------------------------------------- */

/* [{"name","datatype":"FP64","shape":[-1]}, ...] for n names. */
static json_t *tensor_specs(int n, const char *(*name)(const tb_model *, int),
                            const tb_model *m)
{
    json_t *a = json_array();
    int ok = a != NULL;

    for (int i = 0; i < n && ok; i++)
        ok = json_array_append_new(a, json_pack("{s:s, s:s, s:[i]}", "name",
                                                name(m, i), "datatype", "FP64",
                                                "shape", -1)) == 0;
    if (!ok) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static const char *input_name(const tb_model *m, int i)
{
    return m->in[i].name;
}

static const char *output_name(const tb_model *m, int i)
{
    return m->out_name[i];
}

/* {"alpha": {"lo","hi","n"}, ...}: the domain a request must stay in. */
static json_t *domain(const tb_model *m)
{
    json_t *d = json_object();
    int rc = d ? 0 : -1;

    for (int i = 0; i < m->n_in && rc == 0; i++)
        rc = json_object_set_new(d, m->in[i].name,
                                 json_pack("{s:f, s:f, s:i}", "lo", m->in[i].lo,
                                           "hi", m->in[i].hi, "n", m->in[i].n));
    if (rc != 0) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* One output's part of the error report. */
static json_t *report_output(const tb_report *r, int j)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "grid_max_abs",
                     number_or_null(r->grid_max_abs[j]), "grid_max_rel",
                     number_or_null(r->grid_max_rel[j]), "grid_mean_abs",
                     number_or_null(r->grid_mean_abs[j]), "grid_rms",
                     number_or_null(r->grid_rms[j]), "probe_max_abs",
                     number_or_null(r->probe_max_abs[j]), "probe_max_rel",
                     number_or_null(r->probe_max_rel[j]), "probe_mean_abs",
                     number_or_null(r->probe_mean_abs[j]), "probe_rms",
                     number_or_null(r->probe_rms[j]));
}

/* {"n_grid","n_probes","outputs":{"u":{...}}}. */
static json_t *report(const tb_model *m)
{
    json_t *outs = json_object();
    int rc = outs ? 0 : -1;

    for (int j = 0; j < m->n_out && rc == 0; j++)
        rc = json_object_set_new(outs, m->out_name[j],
                                 report_output(&m->report, j));
    if (rc != 0) {
        json_decref(outs);
        return NULL;
    }
    return json_pack("{s:I, s:I, s:o}", "n_grid", (json_int_t)m->report.n_grid,
                     "n_probes", (json_int_t)m->report.n_probes, "outputs",
                     outs);
}

/* The model's attributes (but not the table's path, which names a file on
 * the machine that trained it) and what a request may ask of it. */
static json_t *parameters(const struct entry *e, const tb_server_opts *o)
{
    const tb_model *m = &e->model;
    json_t *p = json_pack(
        "{s:b, s:I, s:I}", "verify_available", e->problem != NULL, "max_batch",
        (json_int_t)o->max_batch, "max_verify", (json_int_t)o->max_verify);
    int rc = p ? 0 : -1;

    for (int i = 0; i < m->n_attrs && rc == 0; i++)
        if (strcmp(m->attrs[i].key, "table") != 0)
            rc = json_object_set_new(p, m->attrs[i].key,
                                     json_string(m->attrs[i].value));
    if (rc == 0 && !e->problem)
        rc = json_object_set_new(p, "verify_unavailable",
                                 json_string(e->no_verify));
    if (rc != 0) {
        json_decref(p);
        return NULL;
    }
    return p;
}

/* The metadata answer for GET /v2/models/NAME[/versions/V]; versions (a
 * JSON array of strings, stolen) lists every version served.  Returns 0
 * with *out owned by the caller, or TB_ENOMEM. */
int json_from_model(const struct entry *e, const tb_server_opts *o,
                    json_t *versions, json_t **out, tb_error *err)
{
    const tb_model *m = &e->model;

    *out = json_pack("{s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "name",
                     e->name, "version", json_sprintf("%ld", e->version),
                     "versions", versions, "platform", "tabula-mlp", "inputs",
                     tensor_specs(m->n_in, input_name, m), "outputs",
                     tensor_specs(m->n_out, output_name, m), "parameters",
                     parameters(e, o), "domain", domain(m), "error_report",
                     report(m));
    return *out ? 0 : json_nomem(err, "the model metadata");
}

/* One model in GET /v2/models: name, versions (stolen), the newest
 * version's problem, domain and error report.  NULL when memory ran out. */
json_t *json_model_summary(const struct entry *e, json_t *versions)
{
    const char *problem = tb_model_attr(&e->model, "problem");

    return json_pack("{s:s, s:o, s:o, s:b, s:s?, s:o, s:o}", "name", e->name,
                     "versions", versions, "version",
                     json_sprintf("%ld", e->version), "ready", 1, "problem",
                     problem, "domain", domain(&e->model), "error_report",
                     report(&e->model));
}

/* The certified max absolute error of output j: the worst of the grid and
 * the off-grid probes, or a negative number when neither was measured. */
double json_certified(const tb_model *m, int j)
{
    const tb_report *r = &m->report;
    double worst = -1;

    if (r->n_grid > 0 && isfinite(r->grid_max_abs[j]))
        worst = r->grid_max_abs[j];
    if (r->n_probes > 0 && isfinite(r->probe_max_abs[j]))
        worst = fmax(worst, r->probe_max_abs[j]);
    return worst;
}

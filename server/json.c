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

/* out[i] = obj[keys[i]] (NULL when absent) for n keys, in one pass over
 * obj's members: for the few members of a request's objects that costs
 * less than hashing every key for json_object_get. */
void json_pick(const json_t *obj, const char *const *keys, size_t n,
               const json_t **out)
{
    const char *key;
    json_t *v;

    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    json_object_foreach((json_t *)obj, key, v)
    {
        for (size_t i = 0; i < n; i++)
            if (!out[i] && strcmp(key, keys[i]) == 0) {
                out[i] = v;
                break;
            }
    }
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

/* The name an answer gives output j under label, as a JSON string rendered
 * by Jansson.  NULL when memory ran out or the name is not UTF-8. */
static char *label_text(const char *output, enum answer_label label)
{
    static const char *const forms[N_LABELS] = {
        [LABEL_OUTPUT] = "%s",
        [LABEL_SOLVER] = "%s.solver",
        [LABEL_ABS_ERROR] = "%s.abs_error",
        [LABEL_CERT] = "%s.max_abs_error",
        [LABEL_VERIFY_MAX] = "verify_max_abs_error.%s",
    };
    char name[TB_MODEL_NAME_MAX + 32];
    json_t *v;
    char *s;

    snprintf(name, sizeof(name), forms[label], output);
    v = json_string(name);
    s = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return s;
}

/* Render the parts of e's infer answers that never change: its name and
 * version, its error report as flat parameters, and the names of its
 * outputs' tensors.  Returns 0 or TB_ENOMEM (some name may also not be
 * UTF-8); json_prerender_free releases what was made either way. */
int json_prerender(struct entry *e)
{
    json_t *head = json_pack("{s:s, s:o}", "model_name", e->name,
                             "model_version", json_sprintf("%ld", e->version));
    json_t *report = json_object();
    int ok;

    if (head && report && json_add_report(report, &e->model) == 0) {
        e->answer_head = members(head);
        e->answer_report = members(report);
    }
    json_decref(head);
    json_decref(report);
    ok = e->answer_head && e->answer_report;
    for (int j = 0; j < e->model.n_out && ok; j++)
        for (int l = 0; l < N_LABELS && ok; l++)
            ok = (e->answer_names[j][l] =
                      label_text(e->model.out_name[j], l)) != NULL;
    return ok ? 0 : TB_ENOMEM;
}

/* Free what json_prerender made. */
void json_prerender_free(struct entry *e)
{
    free(e->answer_head);
    free(e->answer_report);
    e->answer_head = e->answer_report = NULL;
    for (int j = 0; j < TB_MODEL_MAX_OUT; j++)
        for (int l = 0; l < N_LABELS; l++) {
            free(e->answer_names[j][l]);
            e->answer_names[j][l] = NULL;
        }
}

/* Append an FP64 tensor {"name","datatype","shape":[n],"data":[...]} of
 * v[0], v[stride], ...; name is a JSON string (json_prerender's).  A value
 * that is not finite fails the text. */
void json_text_tensor(struct text *t, const char *name, const double *v,
                      size_t n, size_t stride)
{
    text_str(t, "{\"name\":");
    text_str(t, name);
    text_str(t, ",\"datatype\":\"FP64\",\"shape\":[");
    text_size(t, n);
    text_str(t, "],\"data\":[");

    /* The numbers straight into the buffer, room for all made at once. */
    if (text_reserve(t, n * (TEXT_REAL_MAX + 1) + 2) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        size_t len = text_format_real(v[i * stride], t->s + t->len + (i > 0));

        if (len == 0) {
            t->failed = 1;
            return;
        }
        if (i > 0)
            t->s[t->len++] = ',';
        t->len += len;
    }
    text_put(t, "]}", 2);
}

/* Append a tensor {"name","datatype","shape":[n],"data":[...]} of n words,
 * yes where flags[i] is set and no where not; name, type, yes and no are
 * JSON text. */
void json_text_words(struct text *t, const char *name, const char *type,
                     const int *flags, size_t n, const char *yes,
                     const char *no)
{
    text_str(t, "{\"name\":");
    text_str(t, name);
    text_str(t, ",\"datatype\":");
    text_str(t, type);
    text_str(t, ",\"shape\":[");
    text_size(t, n);
    text_str(t, "],\"data\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            text_put(t, ",", 1);
        text_str(t, flags[i] ? yes : no);
    }
    text_put(t, "]}", 2);
}

/* Start an infer answer: '{', e's pre-rendered head, the request's id
 * (NULL: none; Jansson writes it), and the parameters object opened with
 * e's report, ready for this answer's own parameters after a comma. */
void json_text_answer_head(struct text *t, const struct entry *e,
                           const json_t *id)
{
    text_put(t, "{", 1);
    text_str(t, e->answer_head);
    if (id) {
        text_str(t, ",\"id\":");
        text_json(t, id);
    }
    text_str(t, ",\"parameters\":{");
    text_str(t, e->answer_report);
    if (e->answer_report[0])
        text_put(t, ",", 1);
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

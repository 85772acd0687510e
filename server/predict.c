/*
 * predict.c - POST /v1/models/NAME/predict: the plain form for people with
 * curl.  The body is one point as an object of named inputs,
 * {"alpha": 0.3, "x": 0.5, "t": 0.1}, or a list of such objects; the answer
 * gives each point's named outputs with the certified max error beside
 * each.  The query string may say verify=true and domain_policy=clamp.
 */
#include "server_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char expected[] =
    "an object of named inputs such as {\"alpha\": 0.3, \"x\": 0.5, "
    "\"t\": 0.1}, or an array of such objects";

/* ---- the request -------------------------------------------------------- */

/* One named input value: a finite number (integers are accepted). */
static int read_input(const json_t *v, const char *key, size_t i, double *out,
                      tb_error *err)
{
    if (!json_is_number(v))
        return tb_error_set(err, TB_EINVAL, key,
                            "point %zu: '%.64s' is %s; expected a number", i,
                            key, json_type_name(v));
    *out = json_number_value(v);
    if (!isfinite(*out))
        return tb_error_set(err, TB_EINVAL, key,
                            "point %zu: '%.64s' is not a finite number", i,
                            key);
    return 0;
}

/* One point object into row i of inf->x: every input, nothing else. */
static int read_point(struct infer *inf, const json_t *obj, size_t i,
                      tb_error *err)
{
    const tb_model *m = &inf->e->model;
    double *row = inf->x + i * (size_t)m->n_in;
    const char *key;
    json_t *v;

    if (!json_is_object(obj))
        return tb_error_set(err, TB_EINVAL, "body",
                            "point %zu is %s; expected %s", i,
                            json_type_name(obj), expected);
    json_object_foreach((json_t *)obj, key, v)
    {
        if (tb_model_input_index(m, key) < 0)
            return tb_error_set(err, TB_EINVAL, "body",
                                "point %zu: unknown input '%.64s'; model %s "
                                "has inputs %s",
                                i, key, inf->e->name, inf->e->input_list);
    }

    for (int k = 0; k < m->n_in; k++) {
        const char *name = m->in[k].name;

        v = json_object_get(obj, name);
        if (!v)
            return tb_error_set(err, TB_EINVAL, name,
                                "point %zu: missing input '%s'; every point "
                                "needs %s",
                                i, name, inf->e->input_list);
        if (read_input(v, name, i, &row[k], err) != 0)
            return err->code;
    }
    return 0;
}

/* The points of the body, one object or an array of them. */
static int read_points(struct infer *inf, const json_t *root, tb_error *err)
{
    size_t n = json_is_array(root) ? json_array_size(root) : 1;

    if (json_is_array(root) && n == 0)
        return tb_error_set(err, TB_EINVAL, "body",
                            "the list of points is empty; send at least "
                            "one point");
    if (n > inf->o->max_batch)
        return tb_error_set(err, TB_ELIMIT, "body",
                            "the request has %zu points; this service "
                            "answers at most %zu per request",
                            n, inf->o->max_batch);
    inf->n = n;
    inf->x = malloc(n * (size_t)inf->e->model.n_in * sizeof(double));
    if (!inf->x)
        return json_nomem(err, "the request's points");

    for (size_t i = 0; i < n; i++)
        if (read_point(inf,
                       json_is_array(root) ? json_array_get(root, i) : root, i,
                       err) != 0)
            return err->code;
    return 0;
}

/* The query argument key, or NULL.  A request built without a connection
 * (the fuzz target's) has no query string. */
static const char *query(struct request *rq, const char *key)
{
    return rq->conn ? MHD_lookup_connection_value(rq->conn,
                                                  MHD_GET_ARGUMENT_KIND, key)
                    : NULL;
}

/* The query string: verify=true|false, domain_policy=refuse|clamp,
 * tolerance=E. */
static int read_query(struct request *rq, struct infer *inf, tb_error *err)
{
    const char *verify = query(rq, "verify");
    const char *policy = query(rq, "domain_policy");
    const char *tol = query(rq, "tolerance");
    double v;

    if (verify && strcmp(verify, "true") != 0 && strcmp(verify, "false") != 0)
        return tb_error_set(err, TB_EINVAL, "verify",
                            "verify is '%.32s'; expected true or false",
                            verify);
    inf->verify = verify && strcmp(verify, "true") == 0;
    if (tol && (tb_parse_double(tol, &v) != 0 ||
                certify_tolerance(inf, v, "tolerance", err) != 0))
        return tb_error_set(err, TB_EINVAL, "tolerance",
                            "tolerance is '%.32s'; expected a number >= 0",
                            tol);
    return infer_policy(inf, policy, "domain_policy", err);
}

/* ---- the answer --------------------------------------------------------- */

/* Point i: {"u": value, "u.max_abs_error": figure, ...}. */
static json_t *point_answer(const struct infer *inf, size_t i)
{
    const tb_model *m = &inf->e->model;
    size_t n_out = (size_t)m->n_out;
    json_t *o = json_object();
    char key[TB_MODEL_NAME_MAX + 32];
    int rc = o ? 0 : -1;

    for (size_t j = 0; j < n_out && rc == 0; j++) {
        double cert = inf->cert[i * n_out + j];

        rc = json_object_set_new(o, m->out_name[j],
                                 json_real(inf->y[i * n_out + j]));
        snprintf(key, sizeof(key), "%s.max_abs_error", m->out_name[j]);
        rc |= json_object_set_new(o, key,
                                  cert >= 0 ? json_real(cert) : json_null());
        if (rc != 0 || !inf->verify)
            continue;
        snprintf(key, sizeof(key), "%s.solver", m->out_name[j]);
        rc |= json_object_set_new(o, key, json_real(inf->sol[i * n_out + j]));
        snprintf(key, sizeof(key), "%s.abs_error", m->out_name[j]);
        rc |= json_object_set_new(o, key, json_real(inf->diff[i * n_out + j]));
    }
    if (rc == 0 && inf->clamp)
        rc = json_object_set_new(o, "clamped", json_boolean(inf->clamped[i]));
    if (rc == 0 && inf->has_tol)
        rc = json_object_set_new(
            o, "answered_by",
            json_string(inf->by_solver[i] ? "solver" : "model"));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int encode(const struct infer *inf, int list, struct reply *rep,
                  tb_error *err)
{
    json_t *preds = list ? json_array() : NULL;
    json_t *one = NULL;
    int rc = !list || preds ? 0 : -1;

    if (!list)
        rc = (one = point_answer(inf, 0)) ? 0 : -1;
    for (size_t i = 0; list && i < inf->n && rc == 0; i++)
        rc = json_array_append_new(preds, point_answer(inf, i));
    if (rc != 0) {
        json_decref(preds);
        json_decref(one);
        return json_nomem(err, "the answer");
    }
    rep->body = json_pack(
        "{s:s, s:o, s:b, s:s, s:o}", "model_name", inf->e->name,
        "model_version", json_sprintf("%ld", inf->e->version), "verified",
        inf->verify, "certificate", inf->by_cell ? "cell" : "global",
        list ? "predictions" : "prediction", list ? preds : one);
    return rep->body ? 0 : json_nomem(err, "the answer");
}

/* Answer a plain predict request for rq->entry (which the caller holds).
 * Returns 0 with rep filled, or a negative status with err saying why. */
int predict_answer(struct request *rq, struct reply *rep, tb_error *err)
{
    struct infer inf = {.e = rq->entry, .o = &rq->srv->opts};
    json_t *root = NULL;

    if (json_parse_body(rq, &root, 1, expected, err) != 0 ||
        read_query(rq, &inf, err) != 0 || read_points(&inf, root, err) != 0)
        goto done;
    rq->points = inf.n;
    if (infer_run(&inf, &rq->srv->metrics, err) == 0)
        encode(&inf, json_is_array(root), rep, err);

done:
    json_decref(root);
    infer_free(&inf);
    return err->code;
}

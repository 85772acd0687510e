/*
 * infer.c - POST /v2/models/NAME/infer: decode an Open Inference Protocol
 * request, check every part of it, answer from the network and, when asked,
 * verify the answer with the solver.
 *
 * Nothing from the network is trusted: each field is checked for presence,
 * type, shape and range before it is used, and each failure names the field
 * and says what was expected.
 */
#include "server_int.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The tensor datatypes a request may send, and the values each may hold. */
static const struct dtype dtypes[] = {
    {"FP64", 0, DBL_MAX},
    {"FP32", 0, FLT_MAX},
    {"INT32", 1, (double)INT32_MAX},
    {"INT64", 1, (double)INT64_MAX},
};

#define N_DTYPES (sizeof(dtypes) / sizeof(dtypes[0]))

/* Free what an infer record holds (not the record). */
void infer_free(struct infer *inf)
{
    free(inf->clamped);
    free(inf->cert);
    free(inf->by_solver);
    free(inf->x);
    free(inf->y);
    free(inf->pin);
    free(inf->pout);
    free(inf->status);
    free(inf->sol);
    free(inf->diff);
}

/* ---- the document ------------------------------------------------------- */

/* Set the domain policy from its name; NULL leaves the default. */
int infer_policy(struct infer *inf, const char *name, const char *where,
                 tb_error *err)
{
    if (!name || strcmp(name, "refuse") == 0)
        inf->clamp = 0;
    else if (strcmp(name, "clamp") == 0)
        inf->clamp = 1;
    else
        return tb_error_set(err, TB_EINVAL, where,
                            "%s is '%.32s'; expected \"refuse\" (the "
                            "default) or \"clamp\"",
                            where, name);
    return 0;
}

/* "tolerance": a number for every output, and "tolerance.OUTPUT" for one. */
static int read_tolerance(const json_t *params, struct infer *inf,
                          tb_error *err)
{
    const tb_model *m = &inf->e->model;
    const json_t *all = json_object_get(params, "tolerance");
    char key[TB_MODEL_NAME_MAX + 16];

    if (all && (!json_is_number(all) ||
                certify_tolerance(inf, json_number_value(all),
                                  "parameters.tolerance", err) != 0))
        return tb_error_set(err, TB_EINVAL, "parameters.tolerance",
                            "parameters.tolerance is %s; expected a number "
                            ">= 0",
                            json_type_name(all));
    for (int j = 0; j < m->n_out; j++) {
        const json_t *one;

        snprintf(key, sizeof(key), "tolerance.%s", m->out_name[j]);
        one = json_object_get(params, key);
        if (!one)
            continue;
        if (!json_is_number(one) || json_number_value(one) < 0)
            return tb_error_set(err, TB_EINVAL, "parameters.tolerance",
                                "parameters.%s is not a number >= 0", key);
        for (int o = 0; o < m->n_out && !inf->has_tol; o++)
            inf->tol[o] = INFINITY; /* outputs not named are not held */
        inf->has_tol = 1;
        inf->tol[j] = json_number_value(one);
    }
    return 0;
}

/* "id" (echoed back) and "parameters" {"verify": bool, "domain_policy":
 * "refuse" | "clamp"}. */
static int read_header(const json_t *root, struct infer *inf, tb_error *err)
{
    static const char *const keys[] = {"id", "parameters", "inputs"};
    const json_t *v[3], *id, *params, *verify, *policy;

    json_pick(root, keys, 3, v);
    id = v[0];
    params = v[1];
    inf->inputs = v[2];

    if (id && !json_is_string(id))
        return tb_error_set(err, TB_EINVAL, "id",
                            "\"id\" is %s; expected a string",
                            json_type_name(id));
    inf->id = id;

    if (params && !json_is_object(params))
        return tb_error_set(err, TB_EINVAL, "parameters",
                            "\"parameters\" is %s; expected an object",
                            json_type_name(params));
    verify = params ? json_object_get(params, "verify") : NULL;
    if (verify && !json_is_boolean(verify))
        return tb_error_set(err, TB_EINVAL, "parameters.verify",
                            "parameters.verify is %s; expected true or false",
                            json_type_name(verify));
    inf->verify = verify && json_is_true(verify);

    policy = params ? json_object_get(params, "domain_policy") : NULL;
    if (policy && !json_is_string(policy))
        return tb_error_set(err, TB_EINVAL, "parameters.domain_policy",
                            "parameters.domain_policy is %s; expected "
                            "\"refuse\" or \"clamp\"",
                            json_type_name(policy));
    if (infer_policy(inf, json_string_value(policy), "parameters.domain_policy",
                     err) != 0)
        return err->code;
    return params ? read_tolerance(params, inf, err) : 0;
}

/* ---- one input tensor --------------------------------------------------- */

/* The tensor's name as a model input index. */
static int read_name(const struct infer *inf, const json_t *name, size_t i,
                     int *k, tb_error *err)
{
    if (!json_is_string(name))
        return tb_error_set(err, TB_EINVAL, "inputs",
                            "inputs[%zu].name is %s; expected the name of "
                            "one of the model's inputs (%s)",
                            i, name ? json_type_name(name) : "missing",
                            inf->e->input_list);
    *k = tb_model_input_index(&inf->e->model, json_string_value(name));
    if (*k < 0)
        return tb_error_set(err, TB_EINVAL, "inputs",
                            "unknown input '%.64s'; model %s has inputs %s",
                            json_string_value(name), inf->e->name,
                            inf->e->input_list);
    if (inf->data[*k])
        return tb_error_set(err, TB_EINVAL, json_string_value(name),
                            "input '%s' appears more than once; send each "
                            "input once",
                            json_string_value(name));
    return 0;
}

static int read_dtype(struct infer *inf, const json_t *dt, const char *in,
                      int k, tb_error *err)
{
    inf->type[k] = NULL;
    for (size_t j = 0; j < N_DTYPES && json_is_string(dt); j++)
        if (strcmp(json_string_value(dt), dtypes[j].name) == 0)
            inf->type[k] = &dtypes[j];
    if (inf->type[k])
        return 0;
    if (!json_is_string(dt))
        return tb_error_set(err, TB_EINVAL, in,
                            "input '%s' datatype is %s; expected \"FP64\", "
                            "\"FP32\", \"INT32\" or \"INT64\"",
                            in, dt ? json_type_name(dt) : "missing");
    return tb_error_set(err, TB_EUNSUPPORTED, in,
                        "input '%s' has datatype '%.32s', which is not "
                        "supported; expected FP64, FP32, INT32 or INT64",
                        in, json_string_value(dt));
}

/* "shape": [N] or [N, 1]; returns N through *n. */
static int read_shape(const json_t *shape, const char *in, size_t *n,
                      tb_error *err)
{
    size_t dims = json_is_array(shape) ? json_array_size(shape) : 0;
    const json_t *d0 = json_array_get(shape, 0);
    const json_t *d1 = json_array_get(shape, 1);

    if ((dims != 1 && dims != 2) || !json_is_integer(d0) ||
        json_integer_value(d0) < 0 ||
        (dims == 2 && (!json_is_integer(d1) || json_integer_value(d1) != 1)))
        return tb_error_set(err, TB_EINVAL, in,
                            "input '%s' shape is not [N] or [N, 1] with N a "
                            "whole number of points",
                            in);
    *n = (size_t)json_integer_value(d0);
    return 0;
}

/* The number of points: every input must give the same, between 1 and
 * max_batch. */
static int check_points(struct infer *inf, const char *in, size_t n,
                        tb_error *err)
{
    if (inf->first && n != inf->n)
        return tb_error_set(err, TB_EINVAL, in,
                            "input '%s' has %zu points but input '%s' has "
                            "%zu; every input needs the same number",
                            in, n, inf->first, inf->n);
    if (n == 0)
        return tb_error_set(err, TB_EINVAL, in,
                            "input '%s' has no points (N = 0); send at least "
                            "one point",
                            in);
    if (n > inf->o->max_batch)
        return tb_error_set(err, TB_ELIMIT, in,
                            "the request has %zu points; this service answers "
                            "at most %zu per request",
                            n, inf->o->max_batch);
    inf->n = n;
    inf->first = in;
    return 0;
}

/* Check one element of "inputs" and remember its data for later. */
static int read_tensor(struct infer *inf, const json_t *t, size_t i,
                       tb_error *err)
{
    static const char *const keys[] = {"name", "shape", "datatype", "data"};
    const json_t *v[4], *data;
    const char *in;
    size_t n = 0;
    int k = 0;

    if (!json_is_object(t))
        return tb_error_set(err, TB_EINVAL, "inputs",
                            "inputs[%zu] is %s; expected an object with "
                            "name, shape, datatype and data",
                            i, json_type_name(t));
    json_pick(t, keys, 4, v);
    data = v[3];
    if (read_name(inf, v[0], i, &k, err) != 0)
        return err->code;
    in = inf->e->model.in[k].name;

    if (read_dtype(inf, v[2], in, k, err) != 0 ||
        read_shape(v[1], in, &n, err) != 0 ||
        check_points(inf, in, n, err) != 0)
        return err->code;
    if (!json_is_array(data))
        return tb_error_set(err, TB_EINVAL, in,
                            "input '%s' data is %s; expected a flat array "
                            "of %zu numbers",
                            in, data ? json_type_name(data) : "missing", n);
    if (json_array_size(data) != n)
        return tb_error_set(err, TB_EINVAL, in,
                            "input '%s' has shape [%zu] but %zu data values; "
                            "the shape and the data must agree",
                            in, n, json_array_size(data));
    inf->data[k] = data;
    return 0;
}

/* "inputs": one tensor per model input, no more, no less. */
static int read_inputs(struct infer *inf, tb_error *err)
{
    const json_t *inputs = inf->inputs;
    const tb_model *m = &inf->e->model;

    if (!inputs || !json_is_array(inputs))
        return tb_error_set(err, TB_EINVAL, "inputs",
                            "\"inputs\" is %s; expected an array with one "
                            "tensor for each of %s",
                            inputs ? json_type_name(inputs) : "missing",
                            inf->e->input_list);
    for (size_t i = 0; i < json_array_size(inputs); i++)
        if (read_tensor(inf, json_array_get(inputs, i), i, err) != 0)
            return err->code;

    for (int k = 0; k < m->n_in; k++)
        if (!inf->data[k])
            return tb_error_set(err, TB_EINVAL, m->in[k].name,
                                "missing input '%s'; every request needs "
                                "%s",
                                m->in[k].name, inf->e->input_list);
    return 0;
}

/* ---- values ----------------------------------------------------------------
 */

/* One data value as a double, checked against its datatype. */
static int read_value(const json_t *v, const struct dtype *t, const char *in,
                      size_t i, double *out, tb_error *err)
{
    double lo;

    if (t->integer && !json_is_integer(v))
        return tb_error_set(err, TB_EINVAL, in,
                            "input '%s' data[%zu] is %s; datatype %s needs "
                            "integers",
                            in, i, json_type_name(v), t->name);
    if (!json_is_number(v))
        return tb_error_set(err, TB_EINVAL, in,
                            "input '%s' data[%zu] is %s; expected a number", in,
                            i, json_type_name(v));

    /* Two's complement integers reach one further below zero. */
    *out = json_number_value(v);
    lo = t->integer ? -t->limit - 1 : -t->limit;
    if (!isfinite(*out) || *out > t->limit || *out < lo)
        return tb_error_set(err, TB_EINVAL, in,
                            "input '%s' data[%zu] = %g overflows datatype %s",
                            in, i, *out, t->name);
    return 0;
}

/* Gather the points, row by row in the model's input order. */
static int read_points(struct infer *inf, tb_error *err)
{
    const tb_model *m = &inf->e->model;

    inf->x = malloc(inf->n * (size_t)m->n_in * sizeof(double));
    if (!inf->x)
        return json_nomem(err, "the request's points");
    for (int k = 0; k < m->n_in; k++) {
        for (size_t i = 0; i < inf->n; i++) {
            double *v = &inf->x[i * (size_t)m->n_in + (size_t)k];

            if (read_value(json_array_get(inf->data[k], i), inf->type[k],
                           m->in[k].name, i, v, err) != 0)
                return err->code;
        }
    }
    return 0;
}

/* Hold every point to the domain: refuse any outside it (the model never
 * extrapolates) or, when the request asked for it, clamp it onto the
 * domain's boundary and mark it. */
static int check_domain(struct infer *inf, tb_error *err)
{
    const tb_model *m = &inf->e->model;
    size_t n_in = (size_t)m->n_in;

    if (inf->clamp && !(inf->clamped = calloc(inf->n, sizeof(int))))
        return json_nomem(err, "the clamped points");
    for (size_t i = 0; i < inf->n; i++) {
        for (size_t k = 0; k < n_in; k++) {
            const tb_model_input *a = &m->in[k];
            double *v = &inf->x[i * n_in + k];

            if (*v >= a->lo && *v <= a->hi)
                continue;
            if (!inf->clamp)
                return tb_error_set(
                    err, TB_EDOMAIN, a->name,
                    "input '%s' is %.17g at point %zu, outside the model's "
                    "domain [%.17g, %.17g]; the model does not extrapolate "
                    "(domain_policy \"clamp\" moves such points onto the "
                    "domain)",
                    a->name, *v, i, a->lo, a->hi);
            *v = *v < a->lo ? a->lo : a->hi;
            inf->n_clamped += !inf->clamped[i];
            inf->clamped[i] = 1;
        }
    }
    return 0;
}

/* ---- answers ------------------------------------------------------------ */

static int predict(struct infer *inf, tb_error *err)
{
    const tb_model *m = &inf->e->model;
    size_t total = inf->n * (size_t)m->n_out;

    inf->y = malloc(total * sizeof(double));
    if (!inf->y)
        return json_nomem(err, "the model's answer");
    if (tb_model_predict(m, inf->x, inf->n, inf->y, err) != 0)
        return err->code;
    for (size_t i = 0; i < total; i++)
        if (!isfinite(inf->y[i]))
            return tb_error_set(err, TB_EINTERNAL, "predict",
                                "the model gave a non-finite value at point "
                                "%zu",
                                i / (size_t)m->n_out);
    return 0;
}

/* Whether this request may be verified; the reason when not. */
static int verify_allowed(const struct infer *inf, tb_error *err)
{
    if (inf->n > inf->o->max_verify)
        return tb_error_set(err, TB_ELIMIT, "parameters.verify",
                            "verification was asked for %zu points; the "
                            "service verifies at most %zu per request",
                            inf->n, inf->o->max_verify);
    if (!inf->e->problem)
        return tb_error_set(err, TB_ENOTAVAIL, "parameters.verify",
                            "verification is unavailable for model %s: %s",
                            inf->e->name, inf->e->no_verify);
    return 0;
}

/* Point i's problem inputs as "alpha=0.5 x=0.25 t=1", for messages. */
static const char *point_text(const struct infer *inf, size_t i, char *buf,
                              size_t size)
{
    const tb_problem *p = inf->e->problem;
    int n_in = p->n_params + p->n_coords;
    size_t used = 0;

    buf[0] = '\0';
    for (int k = 0; k < n_in && used < size; k++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s=%.17g",
                                 k ? " " : "", p->inputs[k].name,
                                 inf->pin[i * (size_t)n_in + (size_t)k]);
    return buf;
}

/* Run the solver at every point, mapping inputs and outputs by name. */
static int solve(struct infer *inf, tb_error *err)
{
    const struct entry *e = inf->e;
    const tb_problem *p = e->problem;
    size_t n_in = (size_t)(p->n_params + p->n_coords);
    size_t n_pout = (size_t)p->n_outputs;
    char where[160];
    int rc;

    inf->pin = malloc(inf->n * n_in * sizeof(double));
    inf->pout = malloc(inf->n * n_pout * sizeof(double));
    inf->status = calloc(inf->n, sizeof(int));
    if (!inf->pin || !inf->pout || !inf->status)
        return json_nomem(err, "the verification");
    for (size_t i = 0; i < inf->n; i++)
        for (size_t k = 0; k < n_in; k++)
            inf->pin[i * n_in + k] =
                inf->x[i * (size_t)e->model.n_in + (size_t)e->from_model[k]];

    rc = tb_solve_points(p, &e->solver, inf->pin, inf->n, inf->pout,
                         inf->status, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < inf->n; i++)
        if (inf->status[i] != 0)
            return tb_error_set(err, TB_ESOLVER, "verify",
                                "the solver failed at point %zu (%s): %s", i,
                                point_text(inf, i, where, sizeof(where)),
                                tb_status_message(inf->status[i]));
    return 0;
}

/* Solver values and absolute errors in the model's output layout. */
static int verify(struct infer *inf, tb_error *err)
{
    const struct entry *e = inf->e;
    size_t n_out = (size_t)e->model.n_out;
    size_t n_pout = (size_t)e->problem->n_outputs;

    if (solve(inf, err) != 0)
        return err->code;
    inf->sol = malloc(inf->n * n_out * sizeof(double));
    inf->diff = malloc(inf->n * n_out * sizeof(double));
    if (!inf->sol || !inf->diff)
        return json_nomem(err, "the verification");

    for (size_t i = 0; i < inf->n; i++) {
        for (size_t j = 0; j < n_out; j++) {
            double s = inf->pout[i * n_pout + (size_t)e->from_problem[j]];

            if (!isfinite(s))
                return tb_error_set(err, TB_ESOLVER, "verify",
                                    "the solver gave a non-finite value at "
                                    "point %zu",
                                    i);
            inf->sol[i * n_out + j] = s;
            inf->diff[i * n_out + j] = fabs(inf->y[i * n_out + j] - s);
        }
    }
    return 0;
}

/* ---- the answer document ----------------------------------------------- */

/* The answer's own parameters, after the model's report: whether it was
 * verified, how many points were clamped, the worst verified error of
 * each output and the certificates. */
static void text_params(struct text *t, const struct infer *inf)
{
    size_t n_out = (size_t)inf->e->model.n_out;

    text_str(t, inf->verify ? "\"verified\":true" : "\"verified\":false");
    if (inf->clamp) {
        text_str(t, ",\"clamped_points\":");
        text_size(t, inf->n_clamped);
    }
    for (size_t j = 0; j < n_out && inf->verify; j++) {
        double worst = 0;

        for (size_t i = 0; i < inf->n; i++)
            worst = fmax(worst, inf->diff[i * n_out + j]);
        text_put(t, ",", 1);
        text_str(t, inf->e->answer_names[j][LABEL_VERIFY_MAX]);
        text_put(t, ":", 1);
        text_real(t, worst);
    }
    certify_text_params(inf, t);
}

/* The output tensors: per output the surrogate and, when verified, the
 * solver and the absolute error; then the clamped flags and the
 * certificates. */
static void text_outputs(struct text *t, const struct infer *inf)
{
    size_t n_out = (size_t)inf->e->model.n_out;

    for (size_t j = 0; j < n_out; j++) {
        char *const *name = inf->e->answer_names[j];

        if (j > 0)
            text_put(t, ",", 1);
        json_text_tensor(t, name[LABEL_OUTPUT], inf->y + j, inf->n, n_out);
        if (!inf->verify)
            continue;
        text_put(t, ",", 1);
        json_text_tensor(t, name[LABEL_SOLVER], inf->sol + j, inf->n, n_out);
        text_put(t, ",", 1);
        json_text_tensor(t, name[LABEL_ABS_ERROR], inf->diff + j, inf->n,
                         n_out);
    }
    if (inf->clamp) {
        text_put(t, ",", 1);
        json_text_words(t, "\"clamped\"", "\"BOOL\"", inf->clamped, inf->n,
                        "true", "false");
    }
    certify_text_outputs(inf, t);
}

/* The answer document.  The model's name, version, error report and
 * output names were rendered by Jansson when it was loaded, and the id is
 * rendered by Jansson here; numbers are written exactly as Jansson writes
 * them (text.c). */
static int encode(const struct infer *inf, struct reply *rep, tb_error *err)
{
    struct text t = {0};

    json_text_answer_head(&t, inf->e, inf->id);
    text_params(&t, inf);
    text_str(&t, "},\"outputs\":[");
    text_outputs(&t, inf);
    text_put(&t, "]}", 2);
    rep->text = text_take(&t, &rep->len);
    rep->type = "application/json";
    return rep->text ? 0 : json_nomem(err, "the answer");
}

/* Hold the points to the domain, predict and, when asked, verify. */
static int run(struct infer *inf, tb_error *err)
{
    double t0;

    if (check_domain(inf, err) != 0)
        return err->code;
    if (inf->verify && verify_allowed(inf, err) != 0)
        return err->code;
    if (predict(inf, err) != 0 || certify_answers(inf, err) != 0)
        return err->code;

    t0 = tb_now();
    if (inf->verify && verify(inf, err) != 0)
        return err->code;
    if (inf->verify)
        tb_debug("verify model=%s points=%zu us=%.0f", inf->e->name, inf->n,
                 1e6 * (tb_now() - t0));
    return 0;
}

/* Answer the points in inf->x and count the points the solver answered in
 * mx, whether or not the answer succeeded.  Returns 0 or a negative status
 * with err saying why. */
int infer_run(struct infer *inf, struct metrics *mx, tb_error *err)
{
    int rc = run(inf, err);

    if (inf->sol) /* verified */
        metrics_solver(mx, inf->n);
    metrics_fallbacks(mx, inf->n_solver);
    return rc;
}

/* Answer an infer request for rq->entry (which the caller holds).  Returns
 * 0 with rep filled, or a negative status with err saying what was wrong. */
int infer_answer(struct request *rq, struct reply *rep, tb_error *err)
{
    struct infer inf = {.e = rq->entry, .o = &rq->srv->opts};
    json_t *root = NULL;

    /* The document and whatever Jansson makes for the answer live in this
     * thread's arena until the end. */
    arena_begin();
    if (json_parse_body(rq, &root, 0, "a JSON object with an \"inputs\" array",
                        err) != 0)
        goto done;
    if (read_header(root, &inf, err) != 0 || read_inputs(&inf, err) != 0 ||
        read_points(&inf, err) != 0)
        goto done;
    rq->points = inf.n;
    if (infer_run(&inf, &rq->srv->metrics, err) == 0)
        encode(&inf, rep, err);

done:
    json_decref(root);
    infer_free(&inf);
    arena_end();
    return err->code;
}

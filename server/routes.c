/*
 * routes.c - the route table: which handler answers which method and path.
 *
 * A pattern is a path whose "*" segments match any one non-empty segment
 * and are captured, in order, into the request's args.  A path that matches
 * some pattern under another method is answered 405 with an Allow header;
 * a path that matches none is answered 404.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- handlers ----------------------------------------------------------- */

static int server_meta(struct request *rq, struct reply *rep, tb_error *err)
{
    (void)rq;
    rep->body = json_pack("{s:s, s:s, s:[s]}", "name", "tabula", "version",
                          tb_version(), "extensions", "model_repository");
    return rep->body ? 0 : json_nomem(err, "the server metadata");
}

static int health_live(struct request *rq, struct reply *rep, tb_error *err)
{
    (void)rq;
    rep->body = json_pack("{s:b}", "live", 1);
    return rep->body ? 0 : json_nomem(err, "the health answer");
}

/* Ready when at least one model is served. */
static int health_ready(struct request *rq, struct reply *rep, tb_error *err)
{
    int ready = registry_count(&rq->srv->reg) > 0;

    rep->status = ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
    rep->body = json_pack("{s:b}", "ready", ready);
    return rep->body ? 0 : json_nomem(err, "the health answer");
}

static int model_list(struct request *rq, struct reply *rep, tb_error *err)
{
    rep->body = json_pack("{s:o}", "models", registry_list(&rq->srv->reg));
    return rep->body ? 0 : json_nomem(err, "the model list");
}

/* Take a reference to the model named in the path (args[0], and args[1]
 * when the path names a version), held until the response is queued. */
static int find_model(struct request *rq, int versioned, tb_error *err)
{
    const char *name = rq->args[0];
    long version = 0;

    if (versioned && tb_parse_long(rq->args[1], 1, 999999999, &version) != 0)
        return tb_error_set(err, TB_NOT_FOUND, "version",
                            "'%.32s' is not a model version; expected a "
                            "whole number such as \"1\"",
                            rq->args[1]);
    rq->entry = registry_get(&rq->srv->reg, name, version);
    if (rq->entry)
        return 0;
    if (versioned && (rq->entry = registry_get(&rq->srv->reg, name, 0))) {
        registry_put(&rq->srv->reg, rq->entry);
        rq->entry = NULL;
        return tb_error_set(err, TB_NOT_FOUND, "version",
                            "model %s has no version %ld; GET /v2/models/%s "
                            "lists its versions",
                            name, version, name);
    }
    return tb_error_set(err, TB_NOT_FOUND, "model",
                        "no model named '%s' is served; GET /v2/models "
                        "lists the models",
                        name);
}

static int metadata(struct request *rq, struct reply *rep, tb_error *err,
                    int versioned)
{
    if (find_model(rq, versioned, err) != 0)
        return err->code;
    return json_from_model(rq->entry, &rq->srv->opts,
                           registry_versions(&rq->srv->reg, rq->entry->name),
                           &rep->body, err);
}

static int ready(struct request *rq, struct reply *rep, tb_error *err,
                 int versioned)
{
    if (find_model(rq, versioned, err) != 0)
        return err->code;
    rep->body = json_pack("{s:s, s:o, s:b}", "name", rq->entry->name, "version",
                          json_sprintf("%ld", rq->entry->version), "ready", 1);
    return rep->body ? 0 : json_nomem(err, "the ready answer");
}

static int infer(struct request *rq, struct reply *rep, tb_error *err,
                 int versioned)
{
    if (find_model(rq, versioned, err) != 0)
        return err->code;
    return infer_answer(rq, rep, err);
}

static int model_meta(struct request *rq, struct reply *rep, tb_error *err)
{
    return metadata(rq, rep, err, 0);
}

static int model_meta_v(struct request *rq, struct reply *rep, tb_error *err)
{
    return metadata(rq, rep, err, 1);
}

static int model_ready(struct request *rq, struct reply *rep, tb_error *err)
{
    return ready(rq, rep, err, 0);
}

static int model_ready_v(struct request *rq, struct reply *rep, tb_error *err)
{
    return ready(rq, rep, err, 1);
}

static int model_infer(struct request *rq, struct reply *rep, tb_error *err)
{
    return infer(rq, rep, err, 0);
}

static int model_infer_v(struct request *rq, struct reply *rep, tb_error *err)
{
    return infer(rq, rep, err, 1);
}

static int plain_predict(struct request *rq, struct reply *rep, tb_error *err)
{
    if (find_model(rq, 0, err) != 0)
        return err->code;
    return predict_answer(rq, rep, err);
}

/* GET /metrics in the Prometheus text format. */
static int metrics_route(struct request *rq, struct reply *rep, tb_error *err)
{
    rep->text = metrics_text(&rq->srv->metrics, &rq->srv->reg);
    rep->type = "text/plain; version=0.0.4";
    return rep->text ? 0 : json_nomem(err, "the metrics");
}

/* ---- the model repository extension ------------------------------------ */

static int repo_index(struct request *rq, struct reply *rep, tb_error *err)
{
    rep->body = registry_index(&rq->srv->reg);
    return rep->body ? 0 : json_nomem(err, "the repository index");
}

/* Load (or reload) a model from the models directory. */
static int repo_load(struct request *rq, struct reply *rep, tb_error *err)
{
    if (registry_load(&rq->srv->reg, rq->args[0], err) != 0)
        return err->code;
    rep->body = json_pack("{s:s, s:s}", "name", rq->args[0], "state", "READY");
    return rep->body ? 0 : json_nomem(err, "the load answer");
}

/* Stop serving a model until it is loaded again. */
static int repo_unload(struct request *rq, struct reply *rep, tb_error *err)
{
    if (registry_unload(&rq->srv->reg, rq->args[0], err) != 0)
        return err->code;
    rep->body =
        json_pack("{s:s, s:s}", "name", rq->args[0], "state", "UNAVAILABLE");
    return rep->body ? 0 : json_nomem(err, "the unload answer");
}

/* ---- the table ----------------------------------------------------------- */

struct route {
    const char *method;
    const char *pattern;
    route_fn fn;
};

static const struct route routes[] = {
    {"GET", "/v2", server_meta},
    {"GET", "/v2/health/live", health_live},
    {"GET", "/v2/health/ready", health_ready},
    {"GET", "/v2/models", model_list},
    {"GET", "/v2/models/*", model_meta},
    {"GET", "/v2/models/*/ready", model_ready},
    {"POST", "/v2/models/*/infer", model_infer},
    {"GET", "/v2/models/*/versions/*", model_meta_v},
    {"GET", "/v2/models/*/versions/*/ready", model_ready_v},
    {"POST", "/v2/models/*/versions/*/infer", model_infer_v},
    {"POST", "/v2/repository/index", repo_index},
    {"POST", "/v2/repository/models/*/load", repo_load},
    {"POST", "/v2/repository/models/*/unload", repo_unload},
    {"POST", "/v1/models/*/predict", plain_predict},
    {"GET", "/metrics", metrics_route},
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* Whether path matches pattern; "*" segments are copied into args.  A
 * segment too long to be a model name does not match. */
static int match(const char *pattern, const char *path,
                 char args[][SERVER_NAME_MAX])
{
    int n_args = 0;

    while (*pattern && *path) {
        if (*pattern == '*') {
            size_t len = strcspn(path, "/");

            if (len == 0 || len >= SERVER_NAME_MAX)
                return 0;
            memcpy(args[n_args], path, len);
            args[n_args++][len] = '\0';
            pattern++;
            path += len;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

/* Whether a route answers a method; HEAD is answered as GET without the
 * body (libmicrohttpd leaves the body out). */
static int accepts(const struct route *r, const char *method)
{
    return strcmp(r->method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0);
}

/* The methods the routes matching path accept, as "GET, HEAD". */
static void allowed(const char *path, char *out, size_t size)
{
    char args[SERVER_MAX_ARGS][SERVER_NAME_MAX];
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < N_ROUTES && used < size; i++) {
        const char *m = routes[i].method;

        if (!match(routes[i].pattern, path, args) || strstr(out, m))
            continue;
        used += (size_t)snprintf(out + used, size - used, "%s%s%s",
                                 used ? ", " : "", m,
                                 strcmp(m, "GET") == 0 ? ", HEAD" : "");
    }
}

/* The route for the request, with its "*" segments in rq->args, or NULL. */
static const struct route *find_route(struct request *rq)
{
    for (size_t i = 0; i < N_ROUTES; i++)
        if (accepts(&routes[i], rq->method) &&
            match(routes[i].pattern, rq->url, rq->args))
            return &routes[i];
    return NULL;
}

/* The pattern of the route answering rq (whichever method), or
 * "unmatched", for metrics labels. */
const char *route_label(struct request *rq)
{
    char args[SERVER_MAX_ARGS][SERVER_NAME_MAX];

    if (rq->route)
        return rq->route;
    for (size_t i = 0; i < N_ROUTES; i++)
        if (match(routes[i].pattern, rq->url, args))
            return routes[i].pattern;
    return "unmatched";
}

/* No route answers: 405 with an Allow header when another method would be
 * answered on this path, else 404. */
static int no_route(struct request *rq, struct reply *rep, tb_error *err)
{
    allowed(rq->url, rep->allow, sizeof(rep->allow));
    if (rep->allow[0])
        return tb_error_set(err, TB_EMETHOD, rq->method,
                            "%s is not allowed on %s; use %s", rq->method,
                            rq->url, rep->allow);
    return tb_error_set(err, TB_NOT_FOUND, rq->url,
                        "no such path: %s; the service answers under /v2 "
                        "(see GET /v2/models)",
                        rq->url);
}

/* Find the route for the request and let it answer into rep.  Errors become
 * {"error": ...} bodies with the status the error table gives their code;
 * rep->body is NULL only when memory ran out. */
void route_dispatch(struct request *rq, struct reply *rep)
{
    const struct route *r = find_route(rq);
    tb_error err;
    int rc;

    tb_error_clear(&err);
    rep->status = MHD_HTTP_OK;
    rq->route = r ? r->pattern : NULL;
    rc = r ? r->fn(rq, rep, &err) : no_route(rq, rep, &err);
    if (rc == 0)
        return;

    json_decref(rep->body);
    free(rep->text);
    rep->text = NULL;
    rep->status = tb_status_http(rc);
    rep->body = json_error_body(&err);
    tb_debug("request error status=%d code=%s where=%s", rep->status,
             tb_status_name(rc), err.where);
}

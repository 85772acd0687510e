/*
 * server_int.h - what the files of server/ share: the model registry, the
 * request being answered, the route table and the JSON helpers.  Not for
 * use outside server/.
 */
#ifndef TB_SERVER_INT_H
#define TB_SERVER_INT_H

#include "model.h"
#include "server.h"
#include "solver.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define SERVER_NAME_MAX  256 /* a model name: a file name minus ".h5" */
#define SERVER_TIMEOUT_S 30  /* an idle connection is closed after this */
#define SERVER_MAX_ARGS  2   /* "*" segments a route pattern may capture */

/* ------------------------------------------------------------------------
 * registry.c: the served models, shared with requests by reference count.
 * ------------------------------------------------------------------------ */

/* One served model.  Immutable once published; freed by the last
 * registry_put. */
struct entry {
    char name[SERVER_NAME_MAX];
    char *path;
    dev_t dev; /* the file's identity when it was loaded */
    ino_t ino;
    off_t size;
    struct timespec mtime;

    tb_model model;
    const tb_problem *problem;        /* NULL: verification unavailable */
    char no_verify[320];              /* why it is unavailable */
    tb_solver_opts solver;            /* from the model's solver_* attrs */
    int from_model[TB_MAX_INPUTS];    /* problem input k <- model input */
    int from_problem[TB_MAX_OUTPUTS]; /* model output j <- problem output */

    int refs; /* guarded by registry.lock */
};

struct registry {
    char *dir;
    pthread_mutex_t lock;        /* guards entries, n and every refs */
    pthread_mutex_t reload_lock; /* one reload, and so all HDF5, at a time */
    struct entry **entries;      /* sorted by name; each holds one ref */
    size_t n;
};

int registry_init(struct registry *r, const char *dir, tb_error *err);
int registry_reload(struct registry *r, tb_error *err);
struct entry *registry_get(struct registry *r, const char *name);
void registry_put(struct registry *r, struct entry *e);
size_t registry_count(struct registry *r);
json_t *registry_list(struct registry *r);
void registry_free(struct registry *r);

/* ------------------------------------------------------------------------
 * server.c and routes.c: one request and its answer.
 * ------------------------------------------------------------------------ */

struct tb_server {
    tb_server_opts opts;
    char *models_dir;
    char *host;
    struct MHD_Daemon *daemon;
    int port;
    struct registry reg;
};

/* One HTTP request, from its headers to its queued response. */
struct request {
    tb_server *srv;
    struct MHD_Connection *conn;
    const char *method; /* owned by libmicrohttpd, valid until completion */
    const char *url;
    double t0;

    char *body; /* the request body, accumulated up to body_limit */
    size_t len;
    size_t cap;
    size_t seen;   /* bytes received, kept or not */
    int too_large; /* the body went over body_limit */
    int answered;  /* a response is queued */

    char args[SERVER_MAX_ARGS][SERVER_NAME_MAX]; /* the "*" segments */
    struct entry *entry; /* the model this request holds a reference to */
    size_t points;       /* points answered, for the request log */
};

/* What a route handler answers: an HTTP status and a JSON body. */
struct reply {
    int status;
    json_t *body;   /* owned by the reply */
    char allow[32]; /* the Allow header of a 405, else empty */
};

/* A route handler fills rep (status 200 unless it says otherwise) and
 * returns 0, or returns a negative status with err saying why. */
typedef int (*route_fn)(struct request *rq, struct reply *rep, tb_error *err);

void route_dispatch(struct request *rq, struct reply *rep);

/* ------------------------------------------------------------------------
 * infer.c and json.c
 * ------------------------------------------------------------------------ */

int infer_answer(struct request *rq, struct reply *rep, tb_error *err);

int json_from_model(const struct entry *e, const tb_server_opts *o,
                    json_t **out, tb_error *err);
json_t *json_error_body(const tb_error *err);
json_t *json_tensor(const char *name, const double *v, size_t n, size_t stride);
int json_add_report(json_t *params, const tb_model *m);
const char *json_type_name(const json_t *v);
int json_nomem(tb_error *err, const char *where);

#endif

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
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define SERVER_NAME_MAX 256 /* a model name: a file name minus ".h5" */
#define SERVER_MAX_ARGS 2   /* "*" segments a route pattern may capture */

/* ------------------------------------------------------------------------
 * registry.c: the served models, shared with requests by reference count.
 * ------------------------------------------------------------------------ */

/* The names an infer answer gives an output's tensors and parameters:
 * OUTPUT, OUTPUT.solver, OUTPUT.abs_error, OUTPUT.max_abs_error and
 * verify_max_abs_error.OUTPUT. */
enum answer_label {
    LABEL_OUTPUT,
    LABEL_SOLVER,
    LABEL_ABS_ERROR,
    LABEL_CERT,
    LABEL_VERIFY_MAX,
    N_LABELS
};

/* One served model.  Immutable once published; freed by the last
 * registry_put. */
struct entry {
    char name[SERVER_NAME_MAX];
    long version; /* from the file name: NAME.h5 is 1, NAME@V.h5 is V */
    char *path;
    dev_t dev; /* the file's identity when it was loaded */
    ino_t ino;
    off_t size;
    struct timespec mtime;

    tb_model model;
    char input_list[160];             /* "alpha, x, t", for messages */
    const tb_problem *problem;        /* NULL: verification unavailable */
    char no_verify[320];              /* why it is unavailable */
    tb_solver_opts solver;            /* from the model's solver_* attrs */
    int from_model[TB_MAX_INPUTS];    /* problem input k <- model input */
    int from_problem[TB_MAX_OUTPUTS]; /* model output j <- problem output */

    /* The constant parts of every infer answer, rendered by Jansson once
     * at load: the model's name and version, and its error report as flat
     * parameters, as object members without their braces; and each
     * output's labels as JSON strings. */
    char *answer_head;
    char *answer_report;
    char *answer_names[TB_MODEL_MAX_OUT][N_LABELS];

    int refs; /* atomic; taken from the list only under registry.lock */
};

struct registry {
    char *dir;
    pthread_mutex_t lock;        /* guards entries and n */
    pthread_mutex_t reload_lock; /* one reload, and so all HDF5, at a time */
    struct entry **entries;      /* by name, then version; one ref each */
    size_t n;
    char **unloaded; /* names skipped by scans until loaded again */
    size_t n_unloaded;
    unsigned long load_failures; /* files that failed to load, ever */
    char last_failure[400];      /* the last one's file and why */
};

int registry_init(struct registry *r, const char *dir, tb_error *err);
int registry_reload(struct registry *r, tb_error *err);
struct entry *registry_get(struct registry *r, const char *name, long version);
void registry_put(struct registry *r, struct entry *e);
size_t registry_count(struct registry *r);
json_t *registry_list(struct registry *r);
json_t *registry_versions(struct registry *r, const char *name);
json_t *registry_index(struct registry *r);
int registry_load(struct registry *r, const char *name, tb_error *err);
int registry_unload(struct registry *r, const char *name, tb_error *err);
void registry_free(struct registry *r);

/* ------------------------------------------------------------------------
 * arena.c: a region per request thread for Jansson's allocations.
 * ------------------------------------------------------------------------ */

void arena_init(void);
void arena_begin(void);
void arena_end(void);

/* ------------------------------------------------------------------------
 * text.c: a growing text buffer, and reals written exactly as Jansson
 * writes them but faster.
 * ------------------------------------------------------------------------ */

#define TEXT_REAL_MAX 32 /* the longest real text_format_real writes */

/* A failed step (out of memory) marks the buffer failed; the steps after
 * it do nothing and text_take gives NULL. */
struct text {
    char *s; /* zero-terminated once anything was written */
    size_t len;
    size_t cap;
    int failed;
};

int text_reserve(struct text *t, size_t more);
void text_put(struct text *t, const char *s, size_t n);
void text_str(struct text *t, const char *s);
void text_printf(struct text *t, const char *fmt, ...) TB_PRINTF(2, 3);
void text_size(struct text *t, size_t n);
void text_real(struct text *t, double v);
void text_json(struct text *t, const json_t *v);
char *text_take(struct text *t, size_t *len);
size_t text_format_real(double v, char *out);

/* ------------------------------------------------------------------------
 * metrics.c: counters for GET /metrics.
 * ------------------------------------------------------------------------ */

#define METRICS_BUCKETS 14 /* latency buckets, +Inf apart */
#define METRICS_SLOTS   96 /* (route, status) pairs counted apart */

struct metrics_count {
    const char *route; /* a route pattern; compared by address */
    int status;
    unsigned long n;
};

/* Counters are added to and read atomically; lock guards only the adding
 * of a (route, status) slot. */
struct metrics {
    pthread_mutex_t lock;
    struct metrics_count counts[METRICS_SLOTS];
    size_t n_counts;
    unsigned long buckets[METRICS_BUCKETS + 1];
    unsigned long latency_ns; /* the latencies' sum, in nanoseconds */
    unsigned long latency_n;
    unsigned long points;
    unsigned long solver_points;
    unsigned long solver_fallbacks;
};

void metrics_init(struct metrics *m);
void metrics_free(struct metrics *m);
void metrics_request(struct metrics *m, const char *route, int status,
                     double seconds, size_t points);
void metrics_solver(struct metrics *m, size_t points);
void metrics_fallbacks(struct metrics *m, size_t points);
char *metrics_text(struct metrics *m, struct registry *r);

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
    struct metrics metrics;
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
    size_t seen;      /* bytes received, kept or not */
    size_t announced; /* Content-Length, when given and within the limit */
    int too_large;    /* the body went over body_limit */
    int answered;     /* a response is queued */

    char args[SERVER_MAX_ARGS][SERVER_NAME_MAX]; /* the "*" segments */
    const char *route;   /* the matched route pattern, for metrics */
    struct entry *entry; /* the model this request holds a reference to */
    size_t points;       /* points answered, for the request log */
};

/* What a route handler answers: an HTTP status and a JSON body (or, for
 * the metrics, plain text). */
struct reply {
    int status;
    json_t *body;     /* owned by the reply */
    char *text;       /* owned by the reply; sent instead of body when set */
    size_t len;       /* the text's length, when known (0: strlen) */
    const char *type; /* the text's content type */
    char allow[32];   /* the Allow header of a 405, else empty */
};

/* A route handler fills rep (status 200 unless it says otherwise) and
 * returns 0, or returns a negative status with err saying why. */
typedef int (*route_fn)(struct request *rq, struct reply *rep, tb_error *err);

void route_dispatch(struct request *rq, struct reply *rep);
const char *route_label(struct request *rq);

/* ------------------------------------------------------------------------
 * infer.c and json.c
 * ------------------------------------------------------------------------ */

/* The tensor datatypes a request may send, and the values each may hold. */
struct dtype {
    const char *name;
    int integer; /* only JSON integers are accepted */
    double limit;
};

/* One inference request, as it is decoded and answered. */
struct infer {
    const struct entry *e;
    const tb_server_opts *o;
    const json_t *id;     /* a string, borrowed from the request document */
    const json_t *inputs; /* the document's "inputs", borrowed */
    int verify;
    int clamp; /* domain_policy "clamp": move outside points onto it */
    size_t n;  /* points */
    const json_t *data[TB_MODEL_MAX_IN];
    const struct dtype *type[TB_MODEL_MAX_IN];
    const char *first; /* the input that set n, for messages */

    double *x;        /* n rows of the model's inputs */
    int *clamped;     /* per point: it was moved onto the domain */
    size_t n_clamped; /* points clamped */
    double *y;        /* n rows of the model's outputs */
    double *pin;      /* n rows of the problem's inputs (verify) */
    double *pout;     /* n rows of the problem's outputs (verify) */
    int *status;      /* per point solver status (verify) */
    double *sol;      /* n rows of the model's outputs, from the solver */
    double *diff;     /* |y - sol| */

    int has_tol;                  /* the request gave a tolerance */
    double tol[TB_MODEL_MAX_OUT]; /* per output */
    double *cert;                 /* n rows: each answer's certified error */
    int by_cell;                  /* cert comes from cell figures */
    int *by_solver;               /* per point: the solver answered it */
    size_t n_solver;              /* points the solver answered */
    size_t n_unmet;               /* points left over the tolerance */
};

int infer_answer(struct request *rq, struct reply *rep, tb_error *err);
int infer_policy(struct infer *inf, const char *name, const char *where,
                 tb_error *err);
int infer_run(struct infer *inf, struct metrics *mx, tb_error *err);
void infer_free(struct infer *inf);
int predict_answer(struct request *rq, struct reply *rep, tb_error *err);

int certify_answers(struct infer *inf, tb_error *err);
int certify_tolerance(struct infer *inf, double v, const char *where,
                      tb_error *err);
void certify_text_params(const struct infer *inf, struct text *t);
void certify_text_outputs(const struct infer *inf, struct text *t);

int json_parse_body(const struct request *rq, json_t **root, int arrays,
                    const char *expected, tb_error *err);

int json_from_model(const struct entry *e, const tb_server_opts *o,
                    json_t *versions, json_t **out, tb_error *err);
json_t *json_model_summary(const struct entry *e, json_t *versions);
double json_certified(const tb_model *m, int j);
json_t *json_error_body(const tb_error *err);
int json_prerender(struct entry *e);
void json_prerender_free(struct entry *e);
void json_text_answer_head(struct text *t, const struct entry *e,
                           const json_t *id);
void json_text_tensor(struct text *t, const char *name, const double *v,
                      size_t n, size_t stride);
void json_text_words(struct text *t, const char *name, const char *type,
                     const int *flags, size_t n, const char *yes,
                     const char *no);
int json_add_report(json_t *params, const tb_model *m);
const char *json_type_name(const json_t *v);
void json_pick(const json_t *obj, const char *const *keys, size_t n,
               const json_t **out);
int json_nomem(tb_error *err, const char *where);

#endif

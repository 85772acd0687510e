/*
 * server.h - tabula's HTTP service: the Open Inference Protocol (v2 REST)
 * over libmicrohttpd, JSON through Jansson.  It asks model/ for answers and
 * solver/ for verification.
 */
#ifndef TB_SERVER_H
#define TB_SERVER_H

#include "tb.h"

#include <stddef.h>

typedef struct tb_server_opts {
    const char *models_dir; /* every *.h5 model file in it is served */
    const char *host;       /* address to listen on (default 127.0.0.1) */
    int port;               /* 0: the system picks a free one */
    int threads;            /* libmicrohttpd worker threads (default 2) */
    size_t body_limit;      /* request body bytes (default 4 MiB) */
    size_t max_batch;       /* points per request (default 65536) */
    size_t max_verify;      /* points per request the solver may check (16) */
    unsigned conn_limit;    /* open connections at most (default 1024) */
    unsigned conn_timeout;  /* seconds an idle connection is kept (30) */
    unsigned drain_ms;      /* stopping waits this long for requests in
                               flight (default 5000) */
    int access_log;         /* one info record per request (default 0) */
    unsigned solver_budget_ms; /* solver time per request for points the
                                  model cannot certify within a client's
                                  tolerance (default 1000) */
} tb_server_opts;

typedef struct tb_server tb_server;

/* Set every field to its default. */
void tb_server_opts_default(tb_server_opts *o);

/* Load every model in o->models_dir and start listening.  A directory with
 * no loadable model is an error.  On success *out is owned by the caller
 * (tb_server_stop).  Returns 0 or a negative status. */
int tb_server_start(const tb_server_opts *o, tb_server **out, tb_error *err);

/* The port the server listens on (useful after port 0). */
int tb_server_port(const tb_server *s);

/* Rescan the models directory: new files are loaded, changed files are
 * loaded and checked before they replace the old model, removed files stop
 * being served.  Requests in flight keep the model they started with.  A
 * broken file leaves the old model serving and is logged.  Returns the
 * number of models served after the scan, or a negative status. */
int tb_server_reload(tb_server *s, tb_error *err);

/* The number of models served now (0 for NULL). */
int tb_server_model_count(const tb_server *s);

/* Stop listening, finish requests in flight and free everything. */
void tb_server_stop(tb_server *s);

#endif

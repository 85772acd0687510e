/*
 * server.c - the daemon: start and stop, one request from its headers to
 * its queued response, and libmicrohttpd's messages routed into tb_log.
 *
 * libmicrohttpd calls the access handler several times per request: once
 * with the headers, once per piece of body, and once more when the body is
 * complete.  The body is kept up to body_limit bytes; beyond that it is
 * discarded and the request answered 413.  A response is queued on the
 * last call (or on the first, when Content-Length is already too large),
 * after which libmicrohttpd calls the handler no more for that request.
 */
#include "server_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How much body past the limit is read and thrown away before the
 * connection is dropped, as a multiple of body_limit. */
#define DISCARD_FACTOR 16

/* libmicrohttpd's memory pool per connection: request headers and the read
 * and write buffers.  It zeroes the pool between requests, so its size is
 * paid on every request: with 32 KiB (its default) memset cost more than
 * parsing the JSON of a single-point request.  8 KiB still takes a 7,000
 * byte header line (nginx's default limit is 8 KiB too). */
#define CONN_MEMORY (8u << 10)

/* The largest first body buffer taken on the word of Content-Length; a
 * larger body grows past it as it arrives. */
#define BODY_FIRST_MAX (64u << 10)

/* ---- answering ---------------------------------------------------------- */

/* The path, made safe for a log line. */
static void log_path(const char *url, char *out, size_t size)
{
    size_t i = 0;

    for (; url[i] && i + 1 < size; i++)
        out[i] = (url[i] < 0x20 || url[i] == 0x7f) ? '?' : url[i];
    out[i] = '\0';
}

/* Count the request in the metrics and, with the access log on (or at
 * debug level), log it as one key=value record. */
static void log_request(struct request *rq, int status)
{
    int level = rq->srv->opts.access_log ? TB_LOG_INFO : TB_LOG_DEBUG;
    double seconds = tb_now() - rq->t0;
    char path[256];

    metrics_request(&rq->srv->metrics, route_label(rq), status, seconds,
                    status == MHD_HTTP_OK ? rq->points : 0);
    if (tb_log_level() > level)
        return;
    log_path(rq->url, path, sizeof(path));
    tb_log(level, "request method=%s path=%s status=%d points=%zu us=%.0f",
           rq->method, path, status, rq->points, 1e6 * seconds);
}

/* Queue rep as the response to rq and let go of the model it used.
 * Returns MHD_NO, so that the connection is closed, only when memory ran
 * out even for the answer. */
static enum MHD_Result send_reply(struct request *rq, struct reply *rep)
{
    struct MHD_Response *resp = NULL;
    enum MHD_Result ok = MHD_NO;
    char *text = rep->text;
    const char *type = rep->text ? rep->type : "application/json";

    if (rep->body && !text)
        text = json_dumps(rep->body, JSON_COMPACT);
    if (text)
        resp = MHD_create_response_from_buffer(
            rep->text && rep->len ? rep->len : strlen(text), text,
            MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        goto done;
    }

    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) ==
            MHD_YES &&
        (!rep->allow[0] || MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                                   rep->allow) == MHD_YES))
        ok = MHD_queue_response(rq->conn, (unsigned)rep->status, resp);
    MHD_destroy_response(resp);
    rq->answered = 1;
    log_request(rq, rep->status);

done:
    if (ok != MHD_YES)
        tb_err("request method=%s: could not queue the response (out of "
               "memory?); closing the connection",
               rq->method);
    json_decref(rep->body);
    registry_put(&rq->srv->reg, rq->entry);
    rq->entry = NULL;
    return ok;
}

/* Answer with an error body whose status comes from the error table. */
static enum MHD_Result send_error(struct request *rq, const tb_error *err)
{
    struct reply rep = {.status = tb_status_http(err->code)};

    rep.body = json_error_body(err);
    return send_reply(rq, &rep);
}

static enum MHD_Result send_too_large(struct request *rq, size_t size)
{
    tb_error err;

    tb_error_clear(&err);
    tb_error_set(&err, TB_ELIMIT, "body",
                 "the request body is %s%zu bytes; this service accepts at "
                 "most %zu",
                 rq->too_large ? "over " : "", size, rq->srv->opts.body_limit);
    return send_error(rq, &err);
}

/* ---- one request -------------------------------------------------------- */

/* The first call: set up the request and refuse a body announced too large
 * before reading any of it. */
static enum MHD_Result request_begin(tb_server *s, struct MHD_Connection *conn,
                                     const char *url, const char *method,
                                     void **ctx)
{
    struct request *rq = calloc(1, sizeof(*rq));
    const char *cl;
    unsigned long long announced;
    char *end;

    if (!rq) {
        tb_err("request: out of memory; closing the connection");
        return MHD_NO;
    }
    *rq = (struct request){
        .srv = s, .conn = conn, .method = method, .url = url, .t0 = tb_now()};
    *ctx = rq;

    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return MHD_YES;
    announced = strtoull(cl, &end, 10);
    if (end == cl)
        return MHD_YES;
    if (announced <= s->opts.body_limit) {
        rq->announced = (size_t)announced;
        return MHD_YES;
    }
    return send_too_large(rq, (size_t)announced);
}

/* Make room for size more body bytes, never past body_limit.  The first
 * buffer is as large as Content-Length announced (up to BODY_FIRST_MAX):
 * small bodies then stay small allocations, which malloc serves fastest,
 * and a client announcing much but sending little holds little. */
static int body_grow(struct request *rq, size_t size)
{
    size_t limit = rq->srv->opts.body_limit;
    size_t first = rq->announced ? rq->announced : 4096;
    size_t cap;
    char *body;

    if (first > BODY_FIRST_MAX)
        first = BODY_FIRST_MAX;
    cap = rq->cap ? 2 * rq->cap : first;

    while (cap < rq->len + size)
        cap *= 2;
    if (cap > limit)
        cap = limit;
    body = realloc(rq->body, cap);
    if (!body)
        return TB_ENOMEM;
    rq->body = body;
    rq->cap = cap;
    return 0;
}

/* Keep one piece of body; past the limit, count it and drop it, and close
 * the connection once far too much has come. */
static enum MHD_Result request_feed(struct request *rq, const char *data,
                                    size_t size)
{
    size_t limit = rq->srv->opts.body_limit;

    rq->seen += size;
    if (rq->too_large || rq->len + size > limit) {
        rq->too_large = 1;
        free(rq->body);
        rq->body = NULL;
        rq->len = rq->cap = 0;
        return rq->seen / DISCARD_FACTOR > limit ? MHD_NO : MHD_YES;
    }

    if (rq->len + size > rq->cap && body_grow(rq, size) != 0) {
        tb_err("request: out of memory for a %zu byte body; closing the "
               "connection",
               rq->len + size);
        return MHD_NO;
    }
    memcpy(rq->body + rq->len, data, size);
    rq->len += size;
    return MHD_YES;
}

/* The body is complete: route the request and answer it. */
static enum MHD_Result request_end(struct request *rq)
{
    struct reply rep = {0};

    if (rq->too_large)
        return send_too_large(rq, rq->srv->opts.body_limit);
    route_dispatch(rq, &rep);
    return send_reply(rq, &rep);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *size, void **ctx)
{
    struct request *rq = *ctx;
    enum MHD_Result r;

    (void)version;
    if (!rq)
        return request_begin(cls, conn, url, method, ctx);
    if (*size == 0)
        return request_end(rq);
    r = request_feed(rq, data, *size);
    *size = 0;
    return r;
}

/* libmicrohttpd is done with a request, answered or not: free it. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
    struct request *rq = *ctx;

    (void)conn;
    (void)toe;
    if (!rq)
        return;
    registry_put(&((tb_server *)cls)->reg, rq->entry);
    free(rq->body);
    free(rq);
    *ctx = NULL;
}

/* libmicrohttpd's own messages, one tb_log record each. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t len;

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    tb_warn("libmicrohttpd: %s", line);
}

/* ---- the daemon --------------------------------------------------------- */

/* Fill every field of o with its default. */
void tb_server_opts_default(tb_server_opts *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->port = 8080;
    o->threads = 2;
    o->body_limit = 4u << 20;
    o->max_batch = 65536;
    o->max_verify = 16;
    o->conn_limit = 1024;
    o->conn_timeout = 30;
    o->drain_ms = 5000;
    o->solver_budget_ms = 1000;
}

static int check_opts(const tb_server_opts *o, tb_error *err)
{
    if (!o->models_dir || !o->models_dir[0])
        return tb_error_set(err, TB_EINVAL, "models_dir",
                            "no models directory given; expected a folder "
                            "of *.h5 model files");
    if (o->port < 0 || o->port > 65535)
        return tb_error_set(err, TB_EINVAL, "port",
                            "port %d is not from 0 to 65535", o->port);
    if (o->threads < 1 || o->threads > 256)
        return tb_error_set(err, TB_EINVAL, "threads",
                            "%d threads asked for; expected 1 to 256",
                            o->threads);
    if (o->body_limit < 1 || o->max_batch < 1)
        return tb_error_set(err, TB_EINVAL, "limits",
                            "body_limit and max_batch must be at least 1");
    if (o->conn_limit < 1 || o->conn_timeout < 1)
        return tb_error_set(err, TB_EINVAL, "limits",
                            "conn_limit and conn_timeout must be at least 1");
    return 0;
}

/* Copy the options, keeping our own copies of the strings. */
static int copy_opts(tb_server *s, const tb_server_opts *o, tb_error *err)
{
    s->opts = *o;
    s->models_dir = strdup(o->models_dir);
    s->host = strdup(o->host ? o->host : "127.0.0.1");
    if (!s->models_dir || !s->host)
        return json_nomem(err, "the server options");
    s->opts.models_dir = s->models_dir;
    s->opts.host = s->host;
    return 0;
}

static int listen_on(tb_server *s, tb_error *err)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    unsigned int flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;

#ifdef __linux__
    /* Turbo: read, write and accept at once instead of asking epoll first
     * whether the socket is ready; it usually is. */
    flags |= MHD_USE_EPOLL | MHD_USE_TURBO;
#endif
    addr.sin_port = htons((uint16_t)s->opts.port);
    if (inet_pton(AF_INET, s->host, &addr.sin_addr) != 1)
        return tb_error_set(err, TB_EINVAL, "host",
                            "'%s' is not an IPv4 address; expected one such "
                            "as 127.0.0.1 or 0.0.0.0",
                            s->host);

    /* The logger goes first so that it hears about the other options. */
    // clang-format off
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)s->opts.port, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->opts.threads,
        MHD_OPTION_CONNECTION_TIMEOUT, s->opts.conn_timeout,
        MHD_OPTION_CONNECTION_LIMIT, s->opts.conn_limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_END);
    // clang-format on
    if (!s->daemon)
        return tb_error_set(err, TB_EIO, "listen",
                            "cannot listen on %s:%d (libmicrohttpd's message "
                            "above says why)",
                            s->host, s->opts.port);

    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? (int)info->port : s->opts.port;
    return 0;
}

/* Load every model in the directory; no loadable model is an error. */
static int load_models(tb_server *s, tb_error *err)
{
    int n = registry_reload(&s->reg, err);

    if (n == 0)
        return tb_error_set(err, TB_EINVAL, s->models_dir,
                            "no loadable model (*.h5) in %s; the log says "
                            "why each file was skipped",
                            s->models_dir);
    return n < 0 ? n : 0;
}

/* Load the models, then listen.  See server.h. */
int tb_server_start(const tb_server_opts *o, tb_server **out, tb_error *err)
{
    tb_server *s;
    int rc;

    if (!o || !out)
        return tb_error_set(err, TB_EINVAL, "tb_server_start",
                            "options and a place for the server are needed");
    *out = NULL;
    rc = check_opts(o, err);
    if (rc != 0)
        return rc;
    s = calloc(1, sizeof(*s));
    if (!s)
        return json_nomem(err, "the server");
    metrics_init(&s->metrics);

    /* One BLAS thread per request thread: libmicrohttpd's pool is ours. */
    tb_model_set_threads(1);
    arena_init();
    rc = copy_opts(s, o, err);
    if (rc == 0)
        rc = registry_init(&s->reg, s->models_dir, err);
    if (rc == 0)
        rc = load_models(s, err);
    if (rc == 0)
        rc = listen_on(s, err);
    if (rc != 0) {
        tb_server_stop(s);
        return rc;
    }

    tb_info("serving %zu model%s from %s on http://%s:%d with %d threads",
            registry_count(&s->reg), registry_count(&s->reg) == 1 ? "" : "s",
            s->models_dir, s->host, s->port, s->opts.threads);
    *out = s;
    return 0;
}

/* The port the server listens on. */
int tb_server_port(const tb_server *s)
{
    return s ? s->port : -1;
}

/* Rescan the models directory.  See server.h. */
int tb_server_reload(tb_server *s, tb_error *err)
{
    int n;

    if (!s)
        return tb_error_set(err, TB_EINVAL, "tb_server_reload",
                            "no server given");
    n = registry_reload(&s->reg, err);
    if (n >= 0)
        tb_info("models: reloaded %s; serving %d model%s", s->models_dir, n,
                n == 1 ? "" : "s");
    return n;
}

/* Stop accepting connections and give the open ones a few seconds to
 * finish their requests. */
static void drain(tb_server *s)
{
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    const union MHD_DaemonInfo *info;

    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    for (unsigned i = 0; i < s->opts.drain_ms / 10; i++) {
        info =
            MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || info->num_connections == 0)
            return;
        usleep(10000);
    }
    tb_warn("stopping with connections still open after %u ms",
            s->opts.drain_ms);
}

/* Stop listening, let requests in flight finish, free everything. */
void tb_server_stop(tb_server *s)
{
    if (!s)
        return;
    if (s->daemon) {
        drain(s);
        MHD_stop_daemon(s->daemon);
    }
    registry_free(&s->reg);
    metrics_free(&s->metrics);
    free(s->models_dir);
    free(s->host);
    free(s);
}

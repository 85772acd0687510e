/*
 * bench_bare.c - the floor under tabula serve, for scripts/bench-serve.sh:
 * libmicrohttpd started with the service's own daemon flags, parsing every
 * POST body with Jansson and answering a fixed body read from a file, with
 * no model, routing, metrics or checks behind it.  Beside nginx it shows
 * what the two libraries cost by themselves on this machine; beside tabula,
 * what tabula's own work costs over them.
 *
 * usage: tb-bench-bare PORT THREADS ANSWER-FILE
 * Prints "listening on PORT" once it accepts; stops on SIGTERM or SIGINT.
 */
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (1u << 24)

static char *answer;
static size_t answer_len;

/* A request's body as it arrives. */
struct body {
    char *data;
    size_t len, cap;
};

static int append(struct body *b, const char *data, size_t n)
{
    if (b->len + n > MAX_BODY)
        return -1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 1024;
        char *p;

        while (cap < b->len + n)
            cap *= 2;
        p = realloc(b->data, cap);
        if (!p)
            return -1;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *text, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ok;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *size, void **state)
{
    static const char bad[] = "{\"error\":\"bad request\"}";
    struct body *b = *state;
    json_error_t jerr;
    json_t *doc;
    int ok;

    (void)cls;
    (void)url;
    (void)version;
    if (strcmp(method, "POST") != 0)
        return reply(c, 405, bad, sizeof(bad) - 1);
    if (!b) {
        b = calloc(1, sizeof(*b));
        if (!b)
            return MHD_NO;
        *state = b;
        return MHD_YES;
    }
    if (*size > 0) {
        if (append(b, data, *size) != 0)
            return MHD_NO;
        *size = 0;
        return MHD_YES;
    }

    doc = json_loadb(b->data ? b->data : "", b->len, 0, &jerr);
    ok = json_is_object(doc) && json_is_array(json_object_get(doc, "inputs"));
    json_decref(doc);
    return ok ? reply(c, 200, answer, answer_len)
              : reply(c, 400, bad, sizeof(bad) - 1);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode why)
{
    struct body *b = *state;

    (void)cls;
    (void)c;
    (void)why;
    if (b) {
        free(b->data);
        free(b);
        *state = NULL;
    }
}

static int read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;

    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0)
        goto fail;
    answer = malloc((size_t)n + 1);
    if (!answer || fread(answer, 1, (size_t)n, f) != (size_t)n)
        goto fail;
    answer_len = (size_t)n;
    fclose(f);
    return 0;
fail:
    if (f)
        fclose(f);
    return -1;
}

int main(int argc, char **argv)
{
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                         MHD_USE_EPOLL | MHD_USE_TURBO;
    struct MHD_Daemon *d;
    sigset_t set;
    int port, threads, sig;

    if (argc != 4 || (port = atoi(argv[1])) <= 0 ||
        (threads = atoi(argv[2])) <= 0) {
        fprintf(stderr, "usage: tb-bench-bare PORT THREADS ANSWER-FILE\n");
        return 2;
    }
    if (read_file(argv[3]) != 0) {
        fprintf(stderr, "tb-bench-bare: cannot read %s\n", argv[3]);
        return 1;
    }

    /* Block the stop signals before the daemon's threads start, so that
     * only sigwait below receives them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    // clang-format off
    d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
                         MHD_OPTION_CONNECTION_LIMIT, 4096u,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_END);
    // clang-format on
    if (!d) {
        fprintf(stderr, "tb-bench-bare: cannot listen on port %d\n", port);
        return 1;
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    free(answer);
    return 0;
}

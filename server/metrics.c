/*
 * metrics.c - GET /metrics: counters kept per request, written in the
 * Prometheus text format (version 0.0.4).
 *
 * Requests are counted by route pattern and status, their latency in a
 * histogram, and the points served.  Model load failures come from the
 * registry.  Requests add to the counters atomically, without a lock, so
 * that the threads answering requests never wait on one another here.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of the latency buckets, in seconds. */
static const double bounds[METRICS_BUCKETS] = {
    50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3,
    10e-3, 25e-3,  50e-3,  0.1,    0.25, 1,      5,
};

/* Prepare empty counters. */
void metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
}

/* Release the counters. */
void metrics_free(struct metrics *m)
{
    pthread_mutex_destroy(&m->lock);
}

/* The counter for (route, status); the last slot takes any overflow.
 * Slots are found without the lock: a slot is filled in completely before
 * n_counts is raised past it, and never changes after.  Only adding one
 * takes the lock. */
static struct metrics_count *slot(struct metrics *m, const char *route,
                                  int status)
{
    size_t n = __atomic_load_n(&m->n_counts, __ATOMIC_ACQUIRE);
    struct metrics_count *c = NULL;

    for (size_t i = 0; i < n; i++)
        if (m->counts[i].route == route && m->counts[i].status == status)
            return &m->counts[i];

    pthread_mutex_lock(&m->lock);
    n = m->n_counts;
    for (size_t i = 0; i < n && !c; i++)
        if (m->counts[i].route == route && m->counts[i].status == status)
            c = &m->counts[i];
    if (!c && n == METRICS_SLOTS)
        c = &m->counts[METRICS_SLOTS - 1];
    if (!c) {
        c = &m->counts[n];
        *c = (struct metrics_count){route, status, 0};
        __atomic_store_n(&m->n_counts, n + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&m->lock);
    return c;
}

static void add(unsigned long *counter, unsigned long n)
{
    __atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

/* Count one answered request.  route must be a string that lives as long
 * as the server (a route pattern).  Lock-free: each counter is added to
 * atomically, so an exposition may see a request in one counter and not
 * yet in the next, as Prometheus allows. */
void metrics_request(struct metrics *m, const char *route, int status,
                     double seconds, size_t points)
{
    size_t b = 0;

    while (b < METRICS_BUCKETS && seconds > bounds[b])
        b++;
    add(&slot(m, route, status)->n, 1);
    add(&m->buckets[b], 1);
    add(&m->latency_ns, (unsigned long)(seconds * 1e9));
    add(&m->latency_n, 1);
    add(&m->points, points);
}

/* Count points answered by the solver (verification). */
void metrics_solver(struct metrics *m, size_t points)
{
    add(&m->solver_points, points);
}

/* Count points answered by the solver because of a client's tolerance. */
void metrics_fallbacks(struct metrics *m, size_t points)
{
    add(&m->solver_fallbacks, points);
}

/* ---- the text format ---------------------------------------------------- */

static unsigned long load(const unsigned long *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static void put_requests(struct text *t, const struct metrics *m)
{
    text_printf(t,
                "# HELP tabula_requests_total HTTP requests answered, by route "
                "pattern and status.\n# TYPE tabula_requests_total counter\n");
    for (size_t i = 0; i < m->n_counts; i++)
        text_printf(
            t, "tabula_requests_total{route=\"%s\",status=\"%d\"} %lu\n",
            m->counts[i].route, m->counts[i].status, load(&m->counts[i].n));
}

static void put_latency(struct text *t, const struct metrics *m)
{
    unsigned long cum = 0;

    text_printf(t,
                "# HELP tabula_request_duration_seconds Time from a request's "
                "headers to its queued answer.\n"
                "# TYPE tabula_request_duration_seconds histogram\n");
    for (size_t b = 0; b < METRICS_BUCKETS; b++) {
        cum += load(&m->buckets[b]);
        text_printf(t,
                    "tabula_request_duration_seconds_bucket{le=\"%g\"} %lu\n",
                    bounds[b], cum);
    }
    cum += load(&m->buckets[METRICS_BUCKETS]);
    text_printf(t,
                "tabula_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n"
                "tabula_request_duration_seconds_sum %.9g\n"
                "tabula_request_duration_seconds_count %lu\n",
                cum, 1e-9 * (double)load(&m->latency_ns), load(&m->latency_n));
}

/* The whole exposition as a new string the caller frees, or NULL when
 * memory ran out. */
char *metrics_text(struct metrics *m, struct registry *r)
{
    struct text t = {0};

    if (text_reserve(&t, 4096) != 0)
        return NULL;
    pthread_mutex_lock(&m->lock);
    put_requests(&t, m);
    put_latency(&t, m);
    text_printf(
        &t,
        "# HELP tabula_points_total Points answered by inference.\n"
        "# TYPE tabula_points_total counter\ntabula_points_total %lu\n"
        "# HELP tabula_solver_points_total Points the solver answered "
        "(verification).\n# TYPE tabula_solver_points_total counter\n"
        "tabula_solver_points_total %lu\n"
        "# HELP tabula_solver_fallbacks_total Points the solver answered "
        "because the model could not certify the client's tolerance.\n"
        "# TYPE tabula_solver_fallbacks_total counter\n"
        "tabula_solver_fallbacks_total %lu\n",
        load(&m->points), load(&m->solver_points), load(&m->solver_fallbacks));
    pthread_mutex_unlock(&m->lock);

    text_printf(
        &t,
        "# HELP tabula_model_load_failures_total Model files that failed to "
        "load.\n# TYPE tabula_model_load_failures_total counter\n"
        "tabula_model_load_failures_total %lu\n"
        "# HELP tabula_models Model versions served.\n"
        "# TYPE tabula_models gauge\ntabula_models %zu\n",
        __atomic_load_n(&r->load_failures, __ATOMIC_RELAXED),
        registry_count(r));
    return text_take(&t, NULL);
}

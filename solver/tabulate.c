/*
 * tabulate.c - solve every parameter tuple of a grid with a pool of
 * threads and gather the outputs into a table.
 *
 * Each tuple's solve is independent of every other and of the thread that
 * runs it, so the table does not depend on the number of threads.  Workers
 * write disjoint blocks of the table; a mutex guards only the next-tuple
 * counter, the progress callback and the first error.
 */
#include "solver_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct pool {
    const tb_problem *p;
    const tb_solver_opts *o;
    const tb_axis *axes;
    tb_table *t;
    size_t n_tuples;
    size_t per_tuple; /* coordinate nodes of one tuple */
    tb_progress_fn progress;
    void *data;
    const volatile sig_atomic_t *stop; /* NULL: never stopped */

    pthread_mutex_t lock; /* guards what follows */
    size_t next;
    size_t done;
    size_t failed;
    tb_error *err;
};

struct worker {
    pthread_t thread;
    struct pool *pool;
    double *buf; /* n_outputs * per_tuple */
};

/* Solve tuple k into buf, then copy it into its blocks of the table. */
static void solve_tuple(struct pool *pl, size_t k, double *buf)
{
    const tb_problem *p = pl->p;
    double params[TB_MAX_INPUTS];
    size_t c = pl->per_tuple;
    tb_error e;
    int rc;

    /* The tuple's parameters are those of its first node. */
    tb_error_clear(&e);
    tb_table_node(pl->t, k * c, params);
    rc = tb_solve_grid(p, pl->o, params, pl->axes + p->n_params, buf, &e);

    for (int o = 0; o < p->n_outputs; o++)
        memcpy(pl->t->values + (size_t)o * pl->t->n_nodes + k * c,
               buf + (size_t)o * c, c * sizeof(double));
    memset(pl->t->status + k * c, (signed char)rc, c);

    pthread_mutex_lock(&pl->lock);
    if (rc != 0) {
        pl->failed++;
        tb_error_set(pl->err, e.code, e.where, "%s", e.text);
    }
    pl->done++;
    if (pl->progress)
        pl->progress(pl->done, pl->n_tuples, pl->data);
    pthread_mutex_unlock(&pl->lock);
}

/* Take tuples from the shared counter until none is left. */
static void *work(void *arg)
{
    struct worker *w = arg;
    struct pool *pl = w->pool;

    for (;;) {
        size_t k;

        /* Read under the lock, which orders it with the other workers. */
        pthread_mutex_lock(&pl->lock);
        k = pl->stop && *pl->stop ? pl->n_tuples : pl->next++;
        pthread_mutex_unlock(&pl->lock);
        if (k >= pl->n_tuples)
            break;
        solve_tuple(pl, k, w->buf);
    }
    return NULL;
}

/* Run the workers: w[0] in the calling thread, the others in new threads.
 * A thread that cannot be started only leaves more work to the rest. */
static void run_pool(struct worker *w, int jobs)
{
    int started[jobs];

    for (int i = 1; i < jobs; i++) {
        started[i] = pthread_create(&w[i].thread, NULL, work, &w[i]) == 0;
        if (!started[i])
            tb_warn("tb_tabulate: could not start worker thread %d", i);
    }
    work(&w[0]);
    for (int i = 1; i < jobs; i++)
        if (started[i])
            pthread_join(w[i].thread, NULL);
}

/* ---- setting the table up -------------------------------------------- */

/* Check the axes and count the grid's nodes, refusing overflow. */
static int count_nodes(const tb_problem *p, const tb_axis *axes, size_t *nodes,
                       tb_error *err)
{
    size_t n = 1;

    for (int k = 0; k < p->n_params + p->n_coords; k++) {
        int rc = tb_axis_check(p, k, &axes[k], err);

        if (rc != 0)
            return rc;
        if ((size_t)axes[k].n > SIZE_MAX / sizeof(double) / TB_MAX_OUTPUTS / n)
            return tb_error_set(err, TB_EINVAL, axes[k].name,
                                "the grid has too many nodes to hold in "
                                "memory (axis %s has %d)",
                                axes[k].name, axes[k].n);
        n *= (size_t)axes[k].n;
    }
    *nodes = n;
    return TB_OK;
}

/* Check the axes, fill t's description and allocate its values and
 * status. */
static int table_init(tb_table *t, const tb_problem *p, const tb_solver_opts *o,
                      const tb_axis *axes, tb_error *err)
{
    time_t now = time(NULL);
    size_t nodes = 0;
    struct tm tm;
    int rc = count_nodes(p, axes, &nodes, err);

    if (rc != 0)
        return rc;
    snprintf(t->problem, sizeof(t->problem), "%s", p->name);
    t->n_params = p->n_params;
    t->n_coords = p->n_coords;
    memcpy(t->axes, axes,
           sizeof(tb_axis) * (size_t)(p->n_params + p->n_coords));
    t->n_outputs = p->n_outputs;
    for (int k = 0; k < p->n_outputs; k++)
        snprintf(t->outputs[k], TB_NAME_MAX, "%s", p->outputs[k]);
    t->opts = *o;
    t->n_nodes = nodes;
    snprintf(t->version, sizeof(t->version), "%s", tb_version());
    gmtime_r(&now, &tm);
    strftime(t->created, sizeof(t->created), "%Y-%m-%dT%H:%M:%SZ", &tm);

    t->values = malloc(nodes * (size_t)p->n_outputs * sizeof(double));
    t->status = malloc(nodes);
    if (!t->values || !t->status)
        return tb_error_set(err, TB_ENOMEM, "tb_tabulate",
                            "no memory for a table of %zu nodes", nodes);
    return TB_OK;
}

/* One buffer per worker, allocated before any thread starts. */
static struct worker *workers_new(struct pool *pl, int jobs)
{
    size_t size = pl->per_tuple * (size_t)pl->p->n_outputs;
    struct worker *w = calloc((size_t)jobs, sizeof(*w));

    for (int i = 0; w && i < jobs; i++) {
        w[i].pool = pl;
        w[i].buf = malloc(size * sizeof(double));
        if (!w[i].buf) {
            for (int j = 0; j < i; j++)
                free(w[j].buf);
            free(w);
            return NULL;
        }
    }
    return w;
}

static void workers_free(struct worker *w, int jobs)
{
    for (int i = 0; w && i < jobs; i++)
        free(w[i].buf);
    free(w);
}

/* The number of threads to use for n_tuples tuples. */
static int pick_jobs(int jobs, size_t n_tuples)
{
    if (jobs <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);

        jobs = cores > 0 ? (int)(cores < 1024 ? cores : 1024) : 1;
    }
    if ((size_t)jobs > n_tuples)
        jobs = (int)n_tuples;
    return jobs;
}

/* Solve every tuple of t with jobs threads.  Returns 0 or a negative
 * status when the pool could not be set up. */
static int solve_all(struct pool *pl, int jobs, tb_error *err)
{
    struct worker *w = workers_new(pl, jobs);

    if (!w)
        return tb_error_set(err, TB_ENOMEM, "tb_tabulate",
                            "no memory for %d worker buffers", jobs);
    if (pthread_mutex_init(&pl->lock, NULL) != 0) {
        workers_free(w, jobs);
        return tb_error_set(err, TB_EINTERNAL, "tb_tabulate",
                            "pthread_mutex_init failed");
    }
    run_pool(w, jobs);
    pthread_mutex_destroy(&pl->lock);
    workers_free(w, jobs);
    return TB_OK;
}

/* ---- the entry point ------------------------------------------------- */

/* Solve every tuple of the grid into t; see solver.h.  err receives the
 * first failed solve when the result is TB_PARTIAL. */
int tb_tabulate(const tb_problem *p, const tb_solver_opts *o,
                const tb_axis *axes, int jobs, tb_progress_fn progress,
                void *data, tb_table *t, tb_error *err)
{
    return tb_tabulate_stoppable(p, o, axes, jobs, progress, data, NULL, t,
                                 err);
}

/* As tb_tabulate, until *stop is set; see solver.h. */
int tb_tabulate_stoppable(const tb_problem *p, const tb_solver_opts *o,
                          const tb_axis *axes, int jobs,
                          tb_progress_fn progress, void *data,
                          const volatile sig_atomic_t *stop, tb_table *t,
                          tb_error *err)
{
    struct pool pl = {
        .p = p, .progress = progress, .data = data, .stop = stop, .err = err};
    tb_solver_opts opts = {0};
    double t0 = tb_now();
    int rc;

    if (!p || !t)
        return tb_error_set(err, TB_EINVAL, "tb_tabulate",
                            "a problem and a table are both required");
    memset(t, 0, sizeof(*t));
    if (o)
        opts = *o;
    rc = tb_solver_opts_resolve(p, &opts, err);
    if (rc == 0)
        rc = table_init(t, p, &opts, axes ? axes : p->inputs, err);
    if (rc != 0)
        goto fail;

    pl.o = &t->opts;
    pl.axes = t->axes;
    pl.t = t;
    pl.per_tuple = 1;
    for (int k = 0; k < p->n_coords; k++)
        pl.per_tuple *= (size_t)t->axes[p->n_params + k].n;
    pl.n_tuples = t->n_nodes / pl.per_tuple;
    jobs = pick_jobs(jobs, pl.n_tuples);
    if ((rc = solve_all(&pl, jobs, err)) != 0)
        goto fail;
    if (pl.done < pl.n_tuples) {
        rc = TB_INTERRUPTED;
        tb_info("tabulate problem=%s stopped after %zu of %zu tuples", p->name,
                pl.done, pl.n_tuples);
        goto fail;
    }

    /* Count failed nodes from the status, the one record of them. */
    for (size_t i = 0; i < t->n_nodes; i++)
        t->n_failed += t->status[i] != 0;
    t->seconds = tb_now() - t0;
    tb_info("tabulate problem=%s tuples=%zu nodes=%zu failed_tuples=%zu "
            "jobs=%d seconds=%.3f",
            p->name, pl.n_tuples, t->n_nodes, pl.failed, jobs, t->seconds);
    return pl.failed ? TB_PARTIAL : TB_OK;

fail:
    tb_table_free(t);
    return rc;
}

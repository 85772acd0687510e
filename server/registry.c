/*
 * registry.c - the models the service answers from.
 *
 * Every "*.h5" file in the models directory is one model, named for the file.
 * Entries are shared with requests by reference count: the registry holds
 * one reference per served entry and each request takes one under the lock
 * while it works, so a reload can publish a new set of entries at any time
 * and the old ones are freed by whoever lets go of them last.
 *
 * HDF5 is built without thread safety here, so only registry_reload opens
 * files, and reloads are serialised by reload_lock.  Request threads only
 * read loaded models and free them (which touches no HDF5).
 */
#include "server_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char suffix[] = ".h5";

/* ---- entries ---------------------------------------------------------- */

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    tb_model_free(&e->model);
    free(e->path);
    free(e);
}

/* Whether a stat result still describes the file e was loaded from. */
static int entry_same_file(const struct entry *e, const struct stat *st)
{
    return e->dev == st->st_dev && e->ino == st->st_ino &&
           e->size == st->st_size && e->mtime.tv_sec == st->st_mtim.tv_sec &&
           e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Read one solver_* attribute as a double; absent leaves *out alone. */
static int attr_double(const tb_model *m, const char *key, double *out,
                       tb_error *err)
{
    const char *s = tb_model_attr(m, key);

    if (s && tb_parse_double(s, out) != 0)
        return tb_error_set(err, TB_EFORMAT, key,
                            "attribute %s is '%s'; expected a number", key, s);
    return 0;
}

/* As attr_double, for a whole number in [1, hi]. */
static int attr_long(const tb_model *m, const char *key, long hi, long *out,
                     tb_error *err)
{
    const char *s = tb_model_attr(m, key);

    if (s && tb_parse_long(s, 1, hi, out) != 0)
        return tb_error_set(err, TB_EFORMAT, key,
                            "attribute %s is '%s'; expected a whole number "
                            "from 1 to %ld",
                            key, s, hi);
    return 0;
}

/* The solver settings the model's table was made with; absent attributes
 * fall back to the problem's defaults. */
static int entry_solver_opts(struct entry *e, tb_error *err)
{
    const tb_model *m = &e->model;
    long mesh = 0;

    memset(&e->solver, 0, sizeof(e->solver));
    if (attr_double(m, "solver_rtol", &e->solver.rtol, err) ||
        attr_double(m, "solver_atol", &e->solver.atol, err) ||
        attr_long(m, "solver_max_steps", LONG_MAX, &e->solver.max_steps, err) ||
        attr_long(m, "solver_mesh", INT_MAX, &mesh, err))
        return err->code;
    e->solver.mesh = (int)mesh;
    return tb_solver_opts_resolve(e->problem, &e->solver, err);
}

/* Map the problem's inputs and the model's outputs onto each other by name.
 * Verification needs every problem input and every model output. */
static int entry_map_names(struct entry *e, tb_error *err)
{
    const tb_problem *p = e->problem;
    const tb_model *m = &e->model;
    int n_in = p->n_params + p->n_coords;

    if (m->n_in != n_in)
        return tb_error_set(err, TB_EFORMAT, "inputs",
                            "the model has %d inputs and problem %s has %d",
                            m->n_in, p->name, n_in);
    for (int k = 0; k < n_in; k++) {
        e->from_model[k] = tb_model_input_index(m, p->inputs[k].name);
        if (e->from_model[k] < 0)
            return tb_error_set(err, TB_EFORMAT, p->inputs[k].name,
                                "the model has no input '%s' that problem "
                                "%s needs",
                                p->inputs[k].name, p->name);
    }

    for (int j = 0; j < m->n_out; j++) {
        e->from_problem[j] = -1;
        for (int k = 0; k < p->n_outputs; k++)
            if (strcmp(p->outputs[k], m->out_name[j]) == 0)
                e->from_problem[j] = k;
        if (e->from_problem[j] < 0)
            return tb_error_set(err, TB_EFORMAT, m->out_name[j],
                                "problem %s has no output '%s'", p->name,
                                m->out_name[j]);
    }
    return 0;
}

/* Decide whether requests may ask for verification, and say why not. */
static void entry_verify_setup(struct entry *e)
{
    const char *name = tb_model_attr(&e->model, "problem");
    tb_error err;

    tb_error_clear(&err);
    e->problem = name ? tb_problem_find(name) : NULL;
    if (!e->problem) {
        snprintf(e->no_verify, sizeof(e->no_verify),
                 "the model's problem '%s' is not one this service can solve",
                 name ? name : "(none)");
        tb_info("model %s: verification unavailable: %s", e->name,
                e->no_verify);
        return;
    }

    if (entry_map_names(e, &err) == 0)
        entry_solver_opts(e, &err);
    if (err.code != 0) {
        e->problem = NULL;
        snprintf(e->no_verify, sizeof(e->no_verify), "%s", err.text);
        tb_warn("model %s: verification unavailable: %s", e->name, err.text);
    }
}

/* Load and check one model file; NULL with err set when it is unusable. */
static struct entry *entry_load(const char *path, const char *name,
                                const struct stat *st, tb_error *err)
{
    struct entry *e = calloc(1, sizeof(*e));

    if (!e || !(e->path = strdup(path))) {
        json_nomem(err, path);
        goto fail;
    }
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = st->st_size;
    e->mtime = st->st_mtim;

    if (tb_model_load(path, &e->model, err) != 0)
        goto fail;
    if (e->model.n_in < 1 || e->model.n_out < 1) {
        tb_error_set(err, TB_EFORMAT, path,
                     "the model has %d inputs and %d "
                     "outputs; expected at least one of each",
                     e->model.n_in, e->model.n_out);
        goto fail;
    }
    entry_verify_setup(e);
    e->refs = 1;
    return e;

fail:
    entry_free(e);
    return NULL;
}

/* ---- the directory scan ----------------------------------------------- */

/* A list of entries under construction, each holding one reference. */
struct list {
    struct entry **v;
    size_t n;
    size_t cap;
};

static int list_push(struct list *l, struct entry *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        struct entry **v = realloc(l->v, cap * sizeof(*v));

        if (!v)
            return TB_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = e;
    return 0;
}

/* The model name a directory entry stands for, or 0 when it is not a model
 * file: dotfiles, temporary files and names unfit for a URL are skipped. */
static int model_name(const char *file, char *name, size_t size)
{
    size_t len = strlen(file);
    size_t stem = len - (sizeof(suffix) - 1);

    if (len <= sizeof(suffix) - 1 || file[0] == '.' || stem >= size)
        return 0;
    if (strcmp(file + stem, suffix) != 0 || strstr(file, ".tmp"))
        return 0;
    for (size_t i = 0; i < stem; i++) {
        char c = file[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) {
            tb_warn("models: skipping %s: a model name may hold only "
                    "letters, digits, '_', '-' and '.'",
                    file);
            return 0;
        }
    }
    memcpy(name, file, stem);
    name[stem] = '\0';
    return 1;
}

/* The served entry called name.  Only reload changes the list, and the
 * caller holds reload_lock, so reading it needs no other lock. */
static struct entry *current(struct registry *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->entries[i]->name, name) == 0)
            return r->entries[i];
    return NULL;
}

static struct entry *take(struct registry *r, struct entry *e)
{
    pthread_mutex_lock(&r->lock);
    e->refs++;
    pthread_mutex_unlock(&r->lock);
    return e;
}

/* The entry to serve for one model file, with a reference for the caller:
 * the current one when the file is unchanged or its replacement is broken,
 * a freshly loaded one, or NULL when the file is not served. */
static struct entry *scan_file(struct registry *r, const char *file,
                               const char *name)
{
    char path[PATH_MAX];
    struct entry *old = current(r, name);
    struct entry *e;
    struct stat st;
    tb_error err;

    tb_error_clear(&err);
    if (snprintf(path, sizeof(path), "%s/%s", r->dir, file) >=
        (int)sizeof(path))
        return NULL;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    if (old && entry_same_file(old, &st))
        return take(r, old);

    e = entry_load(path, name, &st, &err);
    if (e) {
        tb_info("models: %s model %s from %s (%d inputs, %d outputs)",
                old ? "reloaded" : "loaded", name, path, e->model.n_in,
                e->model.n_out);
        return e;
    }
    tb_warn("models: cannot load %s: %s; %s", path, err.text,
            old ? "the previous version keeps serving" : "it is not served");
    return old ? take(r, old) : NULL;
}

static int by_name(const void *a, const void *b)
{
    const struct entry *const *x = a;
    const struct entry *const *y = b;

    return strcmp((*x)->name, (*y)->name);
}

/* Read the directory into l; returns 0 or a negative status. */
static int scan_dir(struct registry *r, struct list *l, tb_error *err)
{
    DIR *d = opendir(r->dir);
    struct dirent *de;
    char name[SERVER_NAME_MAX];
    int rc = 0;

    if (!d)
        return tb_error_set(err, TB_EIO, r->dir,
                            "cannot read the models directory %s: %s", r->dir,
                            strerror(errno));
    while (rc == 0 && (de = readdir(d))) {
        struct entry *e;

        if (!model_name(de->d_name, name, sizeof(name)))
            continue;
        e = scan_file(r, de->d_name, name);
        if (e && list_push(l, e) != 0) {
            registry_put(r, e);
            rc = json_nomem(err, r->dir);
        }
    }
    closedir(d);
    return rc;
}

/* Publish l as the served set and let go of the previous one. */
static void publish(struct registry *r, struct list *l)
{
    struct entry **old;
    size_t n_old;

    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), by_name);
    pthread_mutex_lock(&r->lock);
    old = r->entries;
    n_old = r->n;
    r->entries = l->v;
    r->n = l->n;
    pthread_mutex_unlock(&r->lock);

    for (size_t i = 0; i < n_old; i++) {
        struct entry *e = old[i];

        if (!current(r, e->name))
            tb_info("models: %s is no longer served", e->name);
        registry_put(r, e);
    }
    free(old);
}

/* ---- the registry ----------------------------------------------------- */

/* Prepare an empty registry for dir (copied).  Returns 0 or TB_ENOMEM. */
int registry_init(struct registry *r, const char *dir, tb_error *err)
{
    memset(r, 0, sizeof(*r));
    r->dir = strdup(dir);
    if (!r->dir)
        return json_nomem(err, "models_dir");
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->reload_lock, NULL);
    return 0;
}

/* Rescan the directory and publish what it holds now.  Returns the number
 * of models served, or a negative status (the old set keeps serving). */
int registry_reload(struct registry *r, tb_error *err)
{
    struct list l = {0};
    int rc;

    pthread_mutex_lock(&r->reload_lock);
    rc = scan_dir(r, &l, err);
    if (rc != 0) {
        for (size_t i = 0; i < l.n; i++)
            registry_put(r, l.v[i]);
        free(l.v);
    } else {
        publish(r, &l);
        rc = (int)l.n;
    }
    pthread_mutex_unlock(&r->reload_lock);
    return rc;
}

/* The served model called name with a reference the caller must drop with
 * registry_put, or NULL. */
struct entry *registry_get(struct registry *r, const char *name)
{
    struct entry *e = NULL;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n && !e; i++)
        if (strcmp(r->entries[i]->name, name) == 0)
            e = r->entries[i];
    if (e)
        e->refs++;
    pthread_mutex_unlock(&r->lock);
    return e;
}

/* Drop one reference; the last one frees the entry. */
void registry_put(struct registry *r, struct entry *e)
{
    int last;

    if (!e)
        return;
    pthread_mutex_lock(&r->lock);
    last = --e->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (last)
        entry_free(e);
}

/* The number of models served now. */
size_t registry_count(struct registry *r)
{
    size_t n;

    pthread_mutex_lock(&r->lock);
    n = r->n;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* A new JSON array of {"name","versions","ready"} for every served model,
 * or NULL when memory ran out.  The caller owns it. */
json_t *registry_list(struct registry *r)
{
    json_t *list = json_array();
    int ok = list != NULL;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n && ok; i++)
        ok = json_array_append_new(list,
                                   json_pack("{s:s, s:[s], s:b}", "name",
                                             r->entries[i]->name, "versions",
                                             "1", "ready", 1)) == 0;
    pthread_mutex_unlock(&r->lock);
    if (!ok) {
        json_decref(list);
        return NULL;
    }
    return list;
}

/* Let go of every entry (requests must be finished) and free r. */
void registry_free(struct registry *r)
{
    if (!r->dir)
        return;
    for (size_t i = 0; i < r->n; i++)
        registry_put(r, r->entries[i]);
    free(r->entries);
    free(r->dir);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->reload_lock);
    memset(r, 0, sizeof(*r));
}

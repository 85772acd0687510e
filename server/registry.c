/*
 * registry.c - the models the service answers from.
 *
 * Every "*.h5" file in the models directory is one model version: NAME.h5
 * is version 1 of model NAME and NAME@V.h5 (V a whole number from 1) its
 * version V.  Requests that name no version are answered by the newest.
 * A model unloaded through the repository API is skipped by later scans
 * until it is loaded again.
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
    json_prerender_free(e);
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
                                long version, const struct stat *st,
                                tb_error *err)
{
    struct entry *e = calloc(1, sizeof(*e));

    if (!e || !(e->path = strdup(path))) {
        json_nomem(err, path);
        goto fail;
    }
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->version = version;
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
    /* Eight 31-character names do not fit: cut the list short, never past
     * its end. */
    for (size_t k = 0, used = 0;
         k < (size_t)e->model.n_in && used < sizeof(e->input_list); k++)
        used +=
            (size_t)snprintf(e->input_list + used, sizeof(e->input_list) - used,
                             "%s%s", k ? ", " : "", e->model.in[k].name);
    entry_verify_setup(e);
    if (json_prerender(e) != 0) {
        json_nomem(err, "the model's answer");
        goto fail;
    }
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

/* Whether s is a whole number from 1 to 999999999; *v receives it. */
static int parse_version(const char *s, size_t len, long *v)
{
    *v = 0;
    if (len == 0 || len > 9 || s[0] == '0')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = 10 * *v + (s[i] - '0');
    }
    return 1;
}

/* Whether c may appear in a model name. */
static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* The model name and version a directory entry stands for, or 0 when it is
 * not a model file: dotfiles, temporary files and names unfit for a URL
 * are skipped. */
static int model_name(const char *file, char *name, size_t size, long *version)
{
    size_t len = strlen(file);
    size_t stem = len - (sizeof(suffix) - 1);
    const char *at;

    if (len <= sizeof(suffix) - 1 || file[0] == '.' || stem >= size)
        return 0;
    if (strcmp(file + stem, suffix) != 0 || strstr(file, ".tmp"))
        return 0;
    at = memchr(file, '@', stem);
    *version = 1;
    if (at && !parse_version(at + 1, stem - (size_t)(at + 1 - file), version)) {
        tb_warn("models: skipping %s: expected NAME@V.h5 with V a whole "
                "number from 1 to 999999999",
                file);
        return 0;
    }
    if (at)
        stem = (size_t)(at - file);

    for (size_t i = 0; i < stem; i++) {
        if (!name_char(file[i])) {
            tb_warn("models: skipping %s: a model name may hold only "
                    "letters, digits, '_', '-' and '.'",
                    file);
            return 0;
        }
    }
    memcpy(name, file, stem);
    name[stem] = '\0';
    return stem > 0;
}

/* Whether name was unloaded through the repository API. */
static int is_unloaded(const struct registry *r, const char *name)
{
    for (size_t i = 0; i < r->n_unloaded; i++)
        if (strcmp(r->unloaded[i], name) == 0)
            return 1;
    return 0;
}

/* The served entry for name and version.  Only reload changes the list,
 * and the caller holds reload_lock, so reading it needs no other lock. */
static struct entry *current(struct registry *r, const char *name, long version)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->entries[i]->name, name) == 0 &&
            r->entries[i]->version == version)
            return r->entries[i];
    return NULL;
}

/* Whether any version of name is served; the caller holds reload_lock. */
static int current_any(struct registry *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->entries[i]->name, name) == 0)
            return 1;
    return 0;
}

/* Add a reference to e for the caller. */
static struct entry *take(struct entry *e)
{
    __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
    return e;
}

/* The entry to serve for one model file, with a reference for the caller:
 * the current one when the file is unchanged or its replacement is broken,
 * a freshly loaded one, or NULL when the file is not served. */
static struct entry *scan_file(struct registry *r, const char *file,
                               const char *name, long version)
{
    char path[PATH_MAX];
    struct entry *old = current(r, name, version);
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
        return take(old);

    e = entry_load(path, name, version, &st, &err);
    if (e) {
        tb_info("models: %s model %s version %ld from %s (%d inputs, %d "
                "outputs)",
                old ? "reloaded" : "loaded", name, version, path, e->model.n_in,
                e->model.n_out);
        return e;
    }
    __atomic_add_fetch(&r->load_failures, 1, __ATOMIC_RELAXED);
    snprintf(r->last_failure, sizeof(r->last_failure), "%s: %s", file,
             err.text);
    tb_warn("models: cannot load %s: %s; %s", path, err.text,
            old ? "the previous version keeps serving" : "it is not served");
    return old ? take(old) : NULL;
}

/* Entries by name, then oldest version first. */
static int by_name(const void *a, const void *b)
{
    const struct entry *const *x = a;
    const struct entry *const *y = b;
    int c = strcmp((*x)->name, (*y)->name);

    if (c != 0)
        return c;
    return ((*x)->version > (*y)->version) - ((*x)->version < (*y)->version);
}

/* Read the directory into l; returns 0 or a negative status. */
static int scan_dir(struct registry *r, struct list *l, tb_error *err)
{
    DIR *d = opendir(r->dir);
    struct dirent *de;
    char name[SERVER_NAME_MAX];
    long version;
    int rc = 0;

    if (!d)
        return tb_error_set(err, TB_EIO, r->dir,
                            "cannot read the models directory %s: %s", r->dir,
                            strerror(errno));
    while (rc == 0 && (de = readdir(d))) {
        struct entry *e;

        if (!model_name(de->d_name, name, sizeof(name), &version) ||
            is_unloaded(r, name))
            continue;
        e = scan_file(r, de->d_name, name, version);
        if (e && list_push(l, e) != 0) {
            registry_put(r, e);
            rc = json_nomem(err, r->dir);
        }
    }
    closedir(d);
    return rc;
}

/* NAME.h5 and NAME@1.h5 are both version 1: keep the first, say so. */
static void drop_duplicates(struct registry *r, struct list *l)
{
    size_t kept = 0;

    for (size_t i = 0; i < l->n; i++) {
        struct entry *e = l->v[i];

        if (kept > 0 && by_name(&l->v[kept - 1], &e) == 0) {
            tb_warn("models: %s and %s are both version %ld of %s; serving "
                    "the first",
                    l->v[kept - 1]->path, e->path, e->version, e->name);
            registry_put(r, e);
            continue;
        }
        l->v[kept++] = e;
    }
    l->n = kept;
}

/* Publish l as the served set and let go of the previous one. */
static void publish(struct registry *r, struct list *l)
{
    struct entry **old;
    size_t n_old;

    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), by_name);
    drop_duplicates(r, l);
    pthread_mutex_lock(&r->lock);
    old = r->entries;
    n_old = r->n;
    r->entries = l->v;
    r->n = l->n;
    pthread_mutex_unlock(&r->lock);

    for (size_t i = 0; i < n_old; i++) {
        struct entry *e = old[i];

        if (!current(r, e->name, e->version))
            tb_info("models: %s version %ld is no longer served", e->name,
                    e->version);
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

/* The served version of name (0: the newest) with a reference the caller
 * must drop with registry_put, or NULL. */
struct entry *registry_get(struct registry *r, const char *name, long version)
{
    struct entry *e = NULL;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->entries[i]->name, name) == 0 &&
            (version == 0 || r->entries[i]->version == version))
            e = r->entries[i]; /* sorted: the last match is the newest */
    if (e)
        take(e);
    pthread_mutex_unlock(&r->lock);
    return e;
}

/* Drop one reference; the last one frees the entry.  Atomic, without the
 * lock: every request lets go of its model this way. */
void registry_put(struct registry *r, struct entry *e)
{
    (void)r;
    if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
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

/* The number of models s serves now.  See server.h. */
int tb_server_model_count(const tb_server *s)
{
    /* The registry's lock changes, not what it guards: s itself was made
     * by tb_server_start, not const. */
    return s ? (int)registry_count((struct registry *)&s->reg) : 0;
}

/* As registry_versions, for a caller that holds r->lock. */
static json_t *versions_locked(struct registry *r, const char *name)
{
    json_t *list = json_array();
    int ok = list != NULL;

    for (size_t i = 0; i < r->n && ok; i++)
        if (strcmp(r->entries[i]->name, name) == 0)
            ok = json_array_append_new(
                     list, json_sprintf("%ld", r->entries[i]->version)) == 0;
    if (!ok) {
        json_decref(list);
        return NULL;
    }
    return list;
}

/* A new JSON array of the version strings of name, oldest first (empty
 * when none is served), or NULL when memory ran out. */
json_t *registry_versions(struct registry *r, const char *name)
{
    json_t *list;

    pthread_mutex_lock(&r->lock);
    list = versions_locked(r, name);
    pthread_mutex_unlock(&r->lock);
    return list;
}

/* A new JSON array with one summary per served model (its newest version:
 * name, versions, problem, domain, error report), or NULL when memory ran
 * out.  The caller owns it. */
json_t *registry_list(struct registry *r)
{
    json_t *list = json_array();
    int ok = list != NULL;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n && ok; i++) {
        const struct entry *e = r->entries[i];

        if (i + 1 < r->n && strcmp(r->entries[i + 1]->name, e->name) == 0)
            continue; /* not the newest */
        ok = json_array_append_new(
                 list, json_model_summary(e, versions_locked(r, e->name))) == 0;
    }
    pthread_mutex_unlock(&r->lock);
    if (!ok) {
        json_decref(list);
        return NULL;
    }
    return list;
}

/* The repository index: {"name","version","state"} for every served
 * version and {"name","state":"UNAVAILABLE","reason"} for every unloaded
 * model.  NULL when memory ran out. */
json_t *registry_index(struct registry *r)
{
    json_t *list = json_array();
    int ok = list != NULL;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n && ok; i++)
        ok = json_array_append_new(
                 list, json_pack("{s:s, s:o, s:s}", "name", r->entries[i]->name,
                                 "version",
                                 json_sprintf("%ld", r->entries[i]->version),
                                 "state", "READY")) == 0;
    for (size_t i = 0; i < r->n_unloaded && ok; i++)
        ok = json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name",
                                                   r->unloaded[i], "state",
                                                   "UNAVAILABLE", "reason",
                                                   "unloaded")) == 0;
    pthread_mutex_unlock(&r->lock);
    if (!ok) {
        json_decref(list);
        return NULL;
    }
    return list;
}

/* Stop serving every version of name until registry_load.  Returns 0,
 * TB_NOT_FOUND when nothing by that name is served, or TB_ENOMEM. */
int registry_unload(struct registry *r, const char *name, tb_error *err)
{
    struct list l = {0};
    char **u;
    int rc = 0;

    pthread_mutex_lock(&r->reload_lock);
    if (!current_any(r, name)) {
        rc = tb_error_set(err, TB_NOT_FOUND, "model",
                          "no model named '%s' is served; GET /v2/models "
                          "lists the models",
                          name);
        goto done;
    }
    pthread_mutex_lock(&r->lock);
    u = realloc(r->unloaded, (r->n_unloaded + 1) * sizeof(*u));
    if (u)
        r->unloaded = u;
    if (u && (u[r->n_unloaded] = strdup(name)))
        r->n_unloaded++;
    else
        rc = json_nomem(err, "the unloaded list");
    pthread_mutex_unlock(&r->lock);
    if (rc != 0)
        goto done;

    /* Publish the served set without it. */
    for (size_t i = 0; i < r->n && rc == 0; i++)
        if (strcmp(r->entries[i]->name, name) != 0)
            rc = list_push(&l, take(r->entries[i]));
    if (rc != 0) {
        for (size_t i = 0; i < l.n; i++)
            registry_put(r, l.v[i]);
        free(l.v);
        rc = json_nomem(err, "the model list");
        goto done;
    }
    publish(r, &l);
    tb_info("models: %s unloaded through the repository API", name);

done:
    pthread_mutex_unlock(&r->reload_lock);
    return rc;
}

/* Forget that name was unloaded. */
static void forget_unloaded(struct registry *r, const char *name)
{
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n_unloaded; i++) {
        if (strcmp(r->unloaded[i], name) != 0)
            continue;
        free(r->unloaded[i]);
        r->unloaded[i] = r->unloaded[--r->n_unloaded];
        break;
    }
    pthread_mutex_unlock(&r->lock);
}

/* Load (or reload) name from the models directory: the whole directory is
 * rescanned, so every change in it takes effect.  Returns 0, or
 * TB_NOT_FOUND with why when no version of name could be loaded. */
int registry_load(struct registry *r, const char *name, tb_error *err)
{
    int rc;

    pthread_mutex_lock(&r->reload_lock);
    forget_unloaded(r, name);
    r->last_failure[0] = '\0';
    pthread_mutex_unlock(&r->reload_lock);

    rc = registry_reload(r, err);
    if (rc < 0)
        return rc;
    rc = 0;
    pthread_mutex_lock(&r->reload_lock);
    if (!current_any(r, name))
        rc = tb_error_set(err, TB_NOT_FOUND, "model",
                          "no loadable file for model '%s' in the models "
                          "directory (expected %s.h5 or %s@V.h5)%s%s",
                          name, name, name, r->last_failure[0] ? "; " : "",
                          r->last_failure);
    pthread_mutex_unlock(&r->reload_lock);
    return rc;
}

/* Let go of every entry (requests must be finished) and free r. */
void registry_free(struct registry *r)
{
    if (!r->dir)
        return;
    for (size_t i = 0; i < r->n; i++)
        registry_put(r, r->entries[i]);
    for (size_t i = 0; i < r->n_unloaded; i++)
        free(r->unloaded[i]);
    free(r->unloaded);
    free(r->entries);
    free(r->dir);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->reload_lock);
    memset(r, 0, sizeof(*r));
}

/*
 * plugin.c - problems from shared objects (tabula_plugin.h): loading with
 * dlopen, checking the interface version and every field, and wrapping
 * each plugin problem as a tb_problem whose operations call the plugin.
 *
 * Loaded problems join the registry after the built-in ones and stay for
 * the life of the process (their code must stay mapped, so the library is
 * never closed).  Load plugins at start-up, before any thread solves.
 */
#include "solver_int.h"
#include "tabula_plugin.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLUGGED 64

_Static_assert(TABULA_PLUGIN_MAX_OUTPUTS <= MOL_MAX_COMP &&
                   TABULA_PLUGIN_MAX_OUTPUTS <= TB_MAX_OUTPUTS &&
                   TABULA_PLUGIN_MAX_INPUTS == TB_MAX_INPUTS,
               "the plugin header's limits must fit the solver's");

/* One plugin problem seen as a tb_problem; p comes first so that the
 * problem pointer a callback gets is the wrapper's address. */
struct plugged {
    tb_problem p;
    struct tb_problem_ops ops;
    const tabula_plugin_problem *src;
};

static struct plugged *plugged[MAX_PLUGGED];
static int n_plugged;

/* Return the number of problems loaded from plugins. */
int tbs_plugin_count(void)
{
    return n_plugged;
}

/* Return the i-th problem loaded from a plugin. */
const tb_problem *tbs_plugin_at(int i)
{
    return i >= 0 && i < n_plugged ? &plugged[i]->p : NULL;
}

/* ---- calling the plugin ---------------------------------------------- */

static const tabula_plugin_problem *source(const mol_ctx *c,
                                           tabula_plugin_ctx *pc)
{
    pc->params = c->params;
    pc->mesh = c->mesh;
    pc->h = c->h;
    pc->x_lo = c->x_lo;
    return ((const struct plugged *)c->p)->src;
}

static double call_u0(const mol_ctx *c, int k, double x)
{
    tabula_plugin_ctx pc;

    return source(c, &pc)->u0(&pc, k, x);
}

static int call_rhs(const mol_ctx *c, double t, const double *const *u,
                    double *const *du)
{
    tabula_plugin_ctx pc;

    return source(c, &pc)->rhs(&pc, t, u, du);
}

/* ---- checking a plugin problem --------------------------------------- */

/* A name for inputs, outputs and problems: 1 to 31 characters, no ',' or
 * '/'. */
static int name_ok(const char *s)
{
    return s && s[0] && strlen(s) < TB_NAME_MAX && !strpbrk(s, ",/");
}

/* The counts, names and callbacks. */
static int check_shape(const tabula_plugin_problem *s, const char *path,
                       tb_error *err)
{
    const char *who = name_ok(s->name) ? s->name : "(unnamed)";
    int ni = s->n_params + s->n_coords;

    if (!name_ok(s->name) || !s->summary)
        return tb_error_set(err, TB_EINVAL, path,
                            "%s: a problem needs a name of 1 to 31 "
                            "characters without ',' or '/', and a summary",
                            path);
    if (tb_problem_find(s->name))
        return tb_error_set(err, TB_EINVAL, path,
                            "%s: problem '%s' already exists", path, who);
    if (s->n_params < 0 || s->n_coords < 1 || s->n_coords > 2 ||
        ni > TB_MAX_INPUTS || s->n_comp < 1 ||
        s->n_comp > TABULA_PLUGIN_MAX_OUTPUTS || !s->u0 || !s->rhs)
        return tb_error_set(err, TB_EINVAL, path,
                            "%s: problem '%s' has %d parameters, %d "
                            "coordinates, %d components; expected 1 or 2 "
                            "coordinates, at most %d inputs, 1 to %d "
                            "components, and u0 and rhs",
                            path, who, s->n_params, s->n_coords, s->n_comp,
                            TB_MAX_INPUTS, TABULA_PLUGIN_MAX_OUTPUTS);
    return TB_OK;
}

/* Names of inputs and outputs: valid and unique. */
static int check_names(const tabula_plugin_problem *s, const char *path,
                       tb_error *err)
{
    int ni = s->n_params + s->n_coords;

    for (int k = 0; k < ni; k++) {
        const tabula_plugin_axis *a = &s->inputs[k];

        if (!name_ok(a->name) || !a->unit || strlen(a->unit) >= 16)
            return tb_error_set(err, TB_EINVAL, path,
                                "%s: problem '%s' input %d needs a name and "
                                "a unit of at most 15 characters",
                                path, s->name, k);
        for (int j = 0; j < k; j++)
            if (strcmp(s->inputs[j].name, a->name) == 0)
                return tb_error_set(err, TB_EINVAL, path,
                                    "%s: problem '%s' names input '%s' "
                                    "twice",
                                    path, s->name, a->name);
    }
    for (int k = 0; k < s->n_comp; k++)
        if (!name_ok(s->outputs[k]))
            return tb_error_set(err, TB_EINVAL, path,
                                "%s: problem '%s' output %d has no valid "
                                "name",
                                path, s->name, k);
    return TB_OK;
}

/* The mesh of a problem in x and t. */
static int check_mesh(const tabula_plugin_problem *s, const char *path,
                      tb_error *err)
{
    if (s->n_coords == 1)
        return TB_OK;
    if (!isfinite(s->x_lo) || !isfinite(s->x_hi) || !(s->x_lo < s->x_hi) ||
        s->half_band < 1 || s->half_band > MOL_GHOST || s->min_mesh < 4)
        return tb_error_set(err, TB_EINVAL, path,
                            "%s: problem '%s' has domain [%g, %g], "
                            "half_band %d, min_mesh %d; expected x_lo < "
                            "x_hi, half_band 1 or 2, min_mesh >= 4",
                            path, s->name, s->x_lo, s->x_hi, s->half_band,
                            s->min_mesh);
    return TB_OK;
}

/* ---- wrapping -------------------------------------------------------- */

static void wrap_ops(struct plugged *w, const tabula_plugin_problem *s)
{
    w->ops.x_lo = s->x_lo;
    w->ops.x_hi = s->x_hi;
    w->ops.n_comp = s->n_comp;
    w->ops.half_band = s->half_band;
    w->ops.min_mesh = s->n_coords == 1 ? 0 : s->min_mesh;
    for (int k = 0; k < s->n_comp; k++) {
        w->ops.bc_lo[k] = s->bc_lo[k];
        w->ops.bc_hi[k] = s->bc_hi[k];
    }
    w->ops.u0 = call_u0;
    w->ops.rhs = call_rhs;
}

static void wrap_problem(struct plugged *w, const tabula_plugin_problem *s)
{
    tb_problem *p = &w->p;
    int ni = s->n_params + s->n_coords;

    w->src = s;
    p->name = s->name;
    p->summary = s->summary;
    p->n_params = s->n_params;
    p->n_coords = s->n_coords;
    for (int k = 0; k < ni; k++) {
        tb_axis *a = &p->inputs[k];

        snprintf(a->name, sizeof(a->name), "%s", s->inputs[k].name);
        snprintf(a->unit, sizeof(a->unit), "%s", s->inputs[k].unit);
        a->lo = s->inputs[k].lo;
        a->hi = s->inputs[k].hi;
        a->n = s->inputs[k].n;
        a->spacing = s->inputs[k].spacing;
        p->limit_lo[k] = s->limit_lo[k];
        p->limit_hi[k] = s->limit_hi[k];
    }
    p->n_outputs = s->n_comp;
    for (int k = 0; k < s->n_comp; k++)
        p->outputs[k] = s->outputs[k];
    p->defaults = (tb_solver_opts){s->rtol, s->atol, s->max_steps, s->mesh};
    wrap_ops(w, s);
    p->ops = &w->ops;
}

/* Check and wrap one problem; the defaults and default axes are checked
 * by the same functions as every other problem's. */
static int add_problem(const tabula_plugin_problem *s, const char *path,
                       tb_error *err)
{
    struct plugged *w;
    tb_solver_opts o;
    int rc;

    if (n_plugged == MAX_PLUGGED)
        return tb_error_set(err, TB_ELIMIT, path,
                            "%s: more than %d plugin problems", path,
                            MAX_PLUGGED);
    rc = check_shape(s, path, err);
    if (rc == 0)
        rc = check_names(s, path, err);
    if (rc == 0)
        rc = check_mesh(s, path, err);
    if (rc != 0)
        return rc;

    if (!(w = calloc(1, sizeof(*w))))
        return tb_error_set(err, TB_ENOMEM, path, "no memory for a problem");
    wrap_problem(w, s);
    o = w->p.defaults;
    rc = tb_solver_opts_resolve(&w->p, &o, err);
    for (int k = 0; rc == 0 && k < s->n_params + s->n_coords; k++)
        rc = tb_axis_check(&w->p, k, &w->p.inputs[k], err);
    if (rc != 0) {
        free(w);
        return rc;
    }
    plugged[n_plugged++] = w;
    return TB_OK;
}

/* ---- loading --------------------------------------------------------- */

/* Open path and call its entry point.  Returns 0 with the plugin in *pl,
 * or a negative status with the reason in err. */
static int open_plugin(const char *path, const tabula_plugin **pl,
                       tb_error *err)
{
    const tabula_plugin *(*entry)(void);
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);

    if (!lib)
        return tb_error_set(err, TB_EIO, path, "cannot load plugin %s: %s",
                            path, dlerror());
    /* Left open even on failure: closing could run foreign destructors. */
    *(void **)&entry = dlsym(lib, "tabula_plugin_entry");
    if (!entry)
        return tb_error_set(err, TB_EFORMAT, path,
                            "%s is not a tabula plugin: it has no "
                            "tabula_plugin_entry",
                            path);
    *pl = entry();
    if (!*pl)
        return tb_error_set(err, TB_EFORMAT, path,
                            "%s: tabula_plugin_entry returned nothing", path);
    return TB_OK;
}

/* Load the problems of the plugin at path; see solver.h. */
int tb_plugin_load(const char *path, tb_error *err)
{
    const tabula_plugin *pl = NULL;
    int first = n_plugged, rc;

    if (!path || !path[0])
        return tb_error_set(err, TB_EINVAL, "plugin", "no plugin file given");
    rc = open_plugin(path, &pl, err);
    if (rc != 0)
        return rc;
    if (pl->version != TABULA_PLUGIN_VERSION)
        return tb_error_set(err, TB_EFORMAT, path,
                            "%s was built for plugin interface version %d; "
                            "this tabula (%s) loads version %d only: "
                            "rebuild it against this tabula's "
                            "tabula_plugin.h",
                            path, pl->version, tb_version(),
                            TABULA_PLUGIN_VERSION);
    if (pl->n_problems < 1 || !pl->problems)
        return tb_error_set(err, TB_EFORMAT, path, "%s defines no problems",
                            path);

    for (int i = 0; rc == 0 && i < pl->n_problems; i++)
        rc = add_problem(&pl->problems[i], path, err);
    if (rc != 0) /* all of a plugin's problems, or none */
        while (n_plugged > first)
            free(plugged[--n_plugged]);
    else
        tb_debug("plugin loaded path=%s problems=%d", path, pl->n_problems);
    return rc;
}

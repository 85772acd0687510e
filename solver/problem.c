/*
 * problem.c - the registry of built-in problems, their axes, and the checks
 * on solver settings and input values.
 */
#include "solver_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Every built-in problem, in the order `tabula problems` lists them. */
static const tb_problem *const problems[] = {
    &tbs_heat1d,      &tbs_burgers1d, &tbs_blackscholes,
    &tbs_americanput, &tbs_robertson, &tbs_fhn1d,
};

#define N_PROBLEMS ((int)(sizeof(problems) / sizeof(problems[0])))

/* Return the number of problems: the built-in ones and the plugins'. */
int tb_problem_count(void)
{
    return N_PROBLEMS + tbs_plugin_count();
}

/* Return the i-th problem, or NULL when i is out of range. */
const tb_problem *tb_problem_at(int i)
{
    if (i < 0)
        return NULL;
    if (i < N_PROBLEMS)
        return problems[i];
    return tbs_plugin_at(i - N_PROBLEMS);
}

/* Return the problem called name, or NULL. */
const tb_problem *tb_problem_find(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; i < tb_problem_count(); i++)
        if (strcmp(tb_problem_at(i)->name, name) == 0)
            return tb_problem_at(i);
    return NULL;
}

/* Return the index of p's input called name, or -1. */
int tb_problem_input(const tb_problem *p, const char *name)
{
    if (!p || !name)
        return -1;
    for (int k = 0; k < p->n_params + p->n_coords; k++)
        if (strcmp(p->inputs[k].name, name) == 0)
            return k;
    return -1;
}

/* ---- solver settings ------------------------------------------------- */

static int check_double(double v, double lo, double hi, const char *field,
                        tb_error *err)
{
    if (isfinite(v) && v >= lo && v <= hi)
        return TB_OK;
    return tb_error_set(err, TB_EINVAL, field,
                        "%s is %g; expected a number in [%g, %g]", field, v, lo,
                        hi);
}

static int check_long(long v, long lo, long hi, const char *field,
                      tb_error *err)
{
    if (v >= lo && v <= hi)
        return TB_OK;
    return tb_error_set(err, TB_EINVAL, field,
                        "%s is %ld; expected an integer in [%ld, %ld]", field,
                        v, lo, hi);
}

/* Fill the zero fields of o from p's defaults and check every field.
 * Returns 0 or TB_EINVAL naming the field. */
int tb_solver_opts_resolve(const tb_problem *p, tb_solver_opts *o,
                           tb_error *err)
{
    int rc;

    if (!p || !o)
        return tb_error_set(err, TB_EINVAL, "opts",
                            "no problem or no options given");

    if (o->rtol == 0)
        o->rtol = p->defaults.rtol;
    if (o->atol == 0)
        o->atol = p->defaults.atol;
    if (o->max_steps == 0)
        o->max_steps = p->defaults.max_steps;
    if (o->mesh == 0)
        o->mesh = p->defaults.mesh;

    rc = check_double(o->rtol, TB_RTOL_MIN, TB_RTOL_MAX, "rtol", err);
    if (rc == 0)
        rc = check_double(o->atol, TB_ATOL_MIN, TB_ATOL_MAX, "atol", err);
    if (rc == 0)
        rc = check_long(o->max_steps, 1, TB_STEPS_MAX, "max_steps", err);
    /* An ODE system (t its only coordinate) has no mesh: mesh must be 0. */
    if (rc == 0 && p->n_coords == 1 && o->mesh != 0)
        rc = tb_error_set(err, TB_EINVAL, "mesh",
                          "mesh is %d; %s is an ODE system with no spatial "
                          "mesh, expected 0",
                          o->mesh, p->name);
    if (rc == 0 && p->n_coords > 1)
        rc = check_long(o->mesh, p->ops->min_mesh, TB_MESH_MAX, "mesh", err);
    return rc;
}

/* ---- axes and input values ------------------------------------------- */

/* The names of the spacings, indexed by enum tb_spacing. */
static const char *const spacing_names[] = {"uniform", "log", "cheb"};

#define N_SPACINGS ((int)(sizeof(spacing_names) / sizeof(spacing_names[0])))

/* Return the name of a spacing, or NULL when it is unknown. */
const char *tb_spacing_name(int spacing)
{
    if (spacing < 0 || spacing >= N_SPACINGS)
        return NULL;
    return spacing_names[spacing];
}

/* Return the spacing called name, or -1. */
int tb_spacing_parse(const char *name)
{
    for (int k = 0; name && k < N_SPACINGS; k++)
        if (strcmp(spacing_names[k], name) == 0)
            return k;
    return -1;
}

/* Return the value of node i of a; the first node is exactly lo and the
 * last exactly hi, whatever the spacing.  Chebyshev nodes are written with
 * a sine, -cos(pi s) = sin(pi (s - 1/2)), so that they are symmetric and
 * the middle node is exactly the middle. */
double tb_axis_node(const tb_axis *a, int i)
{
    double s = (double)i / (double)(a->n - 1);

    if (i <= 0)
        return a->lo;
    if (i >= a->n - 1)
        return a->hi;
    if (a->spacing == TB_SPACING_LOG)
        return exp(log(a->lo) + s * (log(a->hi) - log(a->lo)));
    if (a->spacing == TB_SPACING_CHEB)
        return 0.5 * (a->lo + a->hi) +
               0.5 * (a->hi - a->lo) * sin(M_PI * (s - 0.5));
    return a->lo + s * (a->hi - a->lo);
}

/* Check axis a for input k of p: its name, a finite lo < hi inside the
 * limits, n >= 2.  Returns 0 or TB_EINVAL naming the axis. */
int tb_axis_check(const tb_problem *p, int k, const tb_axis *a, tb_error *err)
{
    const char *name;

    if (!p || !a || k < 0 || k >= p->n_params + p->n_coords)
        return tb_error_set(err, TB_EINVAL, "axis",
                            "no problem, no axis or input index %d is out "
                            "of range",
                            k);

    name = p->inputs[k].name;
    if (strcmp(a->name, name) != 0)
        return tb_error_set(err, TB_EINVAL, name,
                            "axis %d of %s is named '%.32s'; expected '%s'", k,
                            p->name, a->name, name);
    if (!isfinite(a->lo) || !isfinite(a->hi) || !(a->lo < a->hi))
        return tb_error_set(err, TB_EINVAL, name,
                            "axis %s runs from %g to %g; expected finite "
                            "numbers with lo < hi",
                            name, a->lo, a->hi);
    if (!tb_spacing_name(a->spacing))
        return tb_error_set(err, TB_EINVAL, name,
                            "axis %s has spacing %d; expected uniform, log "
                            "or cheb",
                            name, a->spacing);
    if (a->spacing == TB_SPACING_LOG && !(a->lo > 0))
        return tb_error_set(err, TB_EINVAL, name,
                            "axis %s is logarithmic from %g; expected a "
                            "positive lower bound",
                            name, a->lo);
    if (a->lo < p->limit_lo[k] || a->hi > p->limit_hi[k])
        return tb_error_set(
            err, TB_EINVAL, name, "axis %s spans [%g, %g]; %s accepts [%g, %g]",
            name, a->lo, a->hi, p->name, p->limit_lo[k], p->limit_hi[k]);
    if (a->n < 2)
        return tb_error_set(err, TB_EINVAL, name,
                            "axis %s has %d nodes; expected at least 2", name,
                            a->n);
    return TB_OK;
}

/* Check value v of input k: finite (else TB_EINVAL) and inside the limits
 * (else TB_EDOMAIN).  point < 0 leaves the point out of the message. */
int tbs_check_value(const tb_problem *p, int k, double v, long point,
                    tb_error *err)
{
    const char *name = p->inputs[k].name;
    char at[40] = "";

    if (point >= 0)
        snprintf(at, sizeof(at), "point %ld: ", point);
    if (!isfinite(v))
        return tb_error_set(err, TB_EINVAL, name,
                            "%s%s is %g; expected a finite number", at, name,
                            v);
    if (v < p->limit_lo[k] || v > p->limit_hi[k])
        return tb_error_set(err, TB_EDOMAIN, name,
                            "%s%s = %g is outside [%g, %g], the range %s "
                            "accepts",
                            at, name, v, p->limit_lo[k], p->limit_hi[k],
                            p->name);
    return TB_OK;
}

/* Write "alpha=0.5" (one pair per parameter, comma-separated) into buf. */
void tbs_tuple_text(const tb_problem *p, const double *params, char *buf,
                    size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int k = 0; k < p->n_params && used < size; k++) {
        int w = snprintf(buf + used, size - used, "%s%s=%.10g", k ? " " : "",
                         p->inputs[k].name, params[k]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

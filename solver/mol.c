/*
 * mol.c - the method-of-lines driver shared by every problem: one SUNDIALS
 * context and one CVODE instance per solve (BDF, Newton iteration with a
 * banded direct solver and a difference-quotient Jacobian), output at each
 * requested time, and cubic interpolation in space.
 *
 * Nothing here is shared between solves, so any number of threads may
 * solve at once.
 */
#include "solver_int.h"

#include <cvode/cvode.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_band.h>
#include <sunmatrix/sunmatrix_band.h>

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything one solve holds; released by run_close. */
struct mol_run {
    mol_ctx c;
    const tb_problem *p;
    SUNContext sun;
    N_Vector y;
    SUNMatrix jac;
    SUNLinearSolver ls;
    void *cv;
    double *field;  /* mesh + 1 + 2 ghosts: the full field */
    double *fields; /* n_outputs * (mesh + 1): what visit sees */
};

/* ---- the right-hand side --------------------------------------------- */

/* Copy the interior state y into the full field, set the boundary values
 * and the odd-reflection ghosts.  Returns 1 if y holds a non-finite value. */
static int fill_field(const struct mol_run *r, const double *y)
{
    const struct tb_problem_ops *ops = r->p->ops;
    double *u = r->c.u;
    int m = r->c.mesh;

    for (int i = 1; i < m; i++) {
        if (!isfinite(y[i - 1]))
            return 1;
        u[i] = y[i - 1];
    }
    u[0] = ops->bc_lo;
    u[m] = ops->bc_hi;
    for (int k = 1; k <= MOL_GHOST; k++) {
        u[-k] = 2.0 * ops->bc_lo - u[k];
        u[m + k] = 2.0 * ops->bc_hi - u[m - k];
    }
    return 0;
}

/* CVODE's right-hand side: >0 on a non-finite value so that CVODE retries
 * with a smaller step, <0 only if the problem says nothing can help. */
static int mol_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *data)
{
    struct mol_run *r = data;
    double *du = N_VGetArrayPointer(ydot);
    int rc;

    (void)t;
    if (fill_field(r, N_VGetArrayPointer(y)))
        return 1;
    rc = r->p->ops->rhs(&r->c, r->c.u, du);
    if (rc != 0)
        return rc;
    for (int i = 0; i < r->c.mesh - 1; i++)
        if (!isfinite(du[i]))
            return 1;
    return 0;
}

/* CVODE's messages: errors are kept for the report, warnings logged. */
static void mol_errfn(int code, const char *module, const char *function,
                      char *msg, void *data)
{
    struct mol_run *r = data;

    if (code == CV_WARNING) {
        tb_debug("cvode: %s (%s)", msg, r->c.tuple);
        return;
    }
    snprintf(r->c.reason, sizeof(r->c.reason), "%s: %s: %s", module, function,
             msg);
}

/* ---- opening and closing a solve ------------------------------------- */

static void run_close(struct mol_run *r)
{
    if (r->cv)
        CVodeFree(&r->cv);
    if (r->ls)
        SUNLinSolFree(r->ls);
    if (r->jac)
        SUNMatDestroy(r->jac);
    if (r->y)
        N_VDestroy(r->y);
    if (r->sun)
        SUNContext_Free(&r->sun);
    free(r->field);
    free(r->fields);
    memset(r, 0, sizeof(*r));
}

/* Allocate the field buffers and note the tuple. */
static int run_alloc(struct mol_run *r, const tb_problem *p,
                     const tb_solver_opts *o, const double *params)
{
    const struct tb_problem_ops *ops = p->ops;
    size_t nodes = (size_t)o->mesh + 1;

    r->p = p;
    r->c.p = p;
    r->c.mesh = o->mesh;
    r->c.h = (ops->x_hi - ops->x_lo) / o->mesh;
    memcpy(r->c.params, params, sizeof(double) * (size_t)p->n_params);
    tbs_tuple_text(p, params, r->c.tuple, sizeof(r->c.tuple));

    r->field = calloc(nodes + 2 * MOL_GHOST, sizeof(double));
    r->fields = calloc(nodes * (size_t)p->n_outputs, sizeof(double));
    if (!r->field || !r->fields)
        return TB_ENOMEM;
    r->c.u = r->field + MOL_GHOST;
    return TB_OK;
}

/* The SUNDIALS context and the state vector, set to the initial field.
 * Each step below names itself in *what, for the report if it fails. */
static int run_state(struct mol_run *r, const char **what)
{
    const struct tb_problem_ops *ops = r->p->ops;
    double *y;

    *what = "SUNContext_Create";
    if (SUNContext_Create(NULL, &r->sun) != 0)
        return TB_ENOMEM;
    *what = "N_VNew_Serial";
    if (!(r->y = N_VNew_Serial(r->c.mesh - 1, r->sun)))
        return TB_ENOMEM;

    y = N_VGetArrayPointer(r->y);
    for (int i = 1; i < r->c.mesh; i++)
        y[i - 1] = ops->u0(&r->c, ops->x_lo + i * r->c.h);
    return TB_OK;
}

/* CVODE with BDF, our error handler, tolerances and step limit. */
static int run_integrator(struct mol_run *r, const tb_solver_opts *o,
                          const char **what)
{
    *what = "CVodeCreate";
    if (!(r->cv = CVodeCreate(CV_BDF, r->sun)))
        return TB_ENOMEM;
    *what = "CVodeSetErrHandlerFn";
    if (CVodeSetErrHandlerFn(r->cv, mol_errfn, r) != CV_SUCCESS)
        return TB_ESOLVER;
    *what = "CVodeInit";
    if (CVodeInit(r->cv, mol_rhs, 0.0, r->y) != CV_SUCCESS)
        return TB_ESOLVER;
    *what = "CVodeSetUserData";
    if (CVodeSetUserData(r->cv, r) != CV_SUCCESS)
        return TB_ESOLVER;
    *what = "CVodeSStolerances";
    if (CVodeSStolerances(r->cv, o->rtol, o->atol) != CV_SUCCESS)
        return TB_ESOLVER;
    *what = "CVodeSetMaxNumSteps";
    if (CVodeSetMaxNumSteps(r->cv, o->max_steps) != CV_SUCCESS)
        return TB_ESOLVER;
    return TB_OK;
}

/* Newton's linear systems: a band matrix as wide as the stencil, filled
 * by CVODE's difference quotients, and the band LU solver. */
static int run_linear(struct mol_run *r, const char **what)
{
    sunindextype hb = r->p->ops->half_band;

    *what = "SUNBandMatrix";
    if (!(r->jac = SUNBandMatrix(r->c.mesh - 1, hb, hb, r->sun)))
        return TB_ENOMEM;
    *what = "SUNLinSol_Band";
    if (!(r->ls = SUNLinSol_Band(r->y, r->jac, r->sun)))
        return TB_ENOMEM;
    *what = "CVodeSetLinearSolver";
    if (CVodeSetLinearSolver(r->cv, r->ls, r->jac) != CVLS_SUCCESS)
        return TB_ESOLVER;
    return TB_OK;
}

/* Set one solve up; on failure everything is released and err says which
 * call failed. */
static int run_open(struct mol_run *r, const tb_problem *p,
                    const tb_solver_opts *o, const double *params,
                    tb_error *err)
{
    const char *what = "calloc";
    int rc;

    memset(r, 0, sizeof(*r));
    rc = run_alloc(r, p, o, params);
    if (rc == 0)
        rc = run_state(r, &what);
    if (rc == 0)
        rc = run_integrator(r, o, &what);
    if (rc == 0)
        rc = run_linear(r, &what);
    if (rc == 0)
        return TB_OK;

    tb_err("tbs_mol_solve: %s failed for %s at %s (mesh %d) %s", what, p->name,
           r->c.tuple, o->mesh, r->c.reason);
    tb_error_set(err, rc, p->name, "%s at %s: %s failed (mesh %d)%s%s", p->name,
                 r->c.tuple, what, o->mesh, r->c.reason[0] ? ": " : "",
                 r->c.reason);
    run_close(r);
    return rc;
}

/* ---- stepping -------------------------------------------------------- */

/* Record a failed solve: the tuple, the time reached, CVODE's reason. */
static int run_fail(struct mol_run *r, double tout, const char *why,
                    tb_error *err)
{
    const char *detail = r->c.reason[0] ? r->c.reason : "no message";
    double t = 0;
    long steps = 0;

    CVodeGetCurrentTime(r->cv, &t);
    CVodeGetNumSteps(r->cv, &steps);
    tb_warn("solve failed problem=%s %s t=%.6g tout=%.6g steps=%ld "
            "reason=%s detail=\"%s\"",
            r->p->name, r->c.tuple, t, tout, steps, why, detail);
    return tb_error_set(err, TB_ESOLVER, r->p->name,
                        "%s at %s failed at t=%.6g on the way to t=%.6g: %s "
                        "(%s)",
                        r->p->name, r->c.tuple, t, tout, why, detail);
}

/* Advance to tout (CVODE interpolates when it steps past it) and leave the
 * state in the full field.  Returns 0 or TB_ESOLVER. */
static int run_advance(struct mol_run *r, double tout, tb_error *err)
{
    double tret = 0;
    int flag = 0;
    char why[64];

    if (tout > 0)
        flag = CVode(r->cv, tout, r->y, &tret, CV_NORMAL);
    if (flag < 0) {
        char *name = CVodeGetReturnFlagName(flag);

        snprintf(why, sizeof(why), "%s", name ? name : "CVODE error");
        free(name); /* CVODE allocates the name for the caller */
        return run_fail(r, tout, why, err);
    }
    if (fill_field(r, N_VGetArrayPointer(r->y)))
        return run_fail(r, tout, "non-finite values in the solution", err);
    return TB_OK;
}

/* The output fields from the full field: the state is the one output. */
static const double *run_fields(struct mol_run *r)
{
    size_t nodes = (size_t)r->c.mesh + 1;

    assert(r->p->n_outputs == 1);
    memcpy(r->fields, r->c.u, nodes * sizeof(double));
    return r->fields;
}

/* Integrate one parameter tuple through the requested times; see
 * solver_int.h.  Returns 0 or a negative status, explained in err. */
int tbs_mol_solve(const tb_problem *p, const tb_solver_opts *o,
                  const double *params, const double *times, int nt,
                  mol_visit_fn visit, void *data, tb_error *err)
{
    struct mol_run r;
    double t0 = tb_now();
    long steps = 0;
    int rc;

    rc = run_open(&r, p, o, params, err);
    if (rc != 0)
        return rc;

    for (int j = 0; j < nt && rc == 0; j++) {
        rc = run_advance(&r, times[j], err);
        if (rc == 0)
            rc = visit(data, j, &r.c, run_fields(&r));
    }

    CVodeGetNumSteps(r.cv, &steps);
    tb_debug("solve problem=%s %s mesh=%d steps=%ld seconds=%.6f rc=%d",
             p->name, r.c.tuple, o->mesh, steps, tb_now() - t0, rc);
    run_close(&r);
    return rc;
}

/* ---- interpolation --------------------------------------------------- */

/* The field f at x: cubic Lagrange interpolation on four nodes around x,
 * shifted inwards at the ends; a node's own value when x is on it. */
double tbs_mol_interp(const mol_ctx *c, const double *f, double x)
{
    const struct tb_problem_ops *ops = c->p->ops;
    double s = (x - ops->x_lo) / c->h;
    double near = nearbyint(s);
    double r, w0, w1, w2, w3;
    int k;

    if (fabs(s - near) <= 1e-11 * (1.0 + fabs(s))) {
        k = (int)near;
        return f[k < 0 ? 0 : (k > c->mesh ? c->mesh : k)];
    }

    k = (int)floor(s) - 1;
    if (k < 0)
        k = 0;
    if (k > c->mesh - 3)
        k = c->mesh - 3;
    r = s - k; /* in (0, 3) away from the ends */

    w0 = -(r - 1) * (r - 2) * (r - 3) / 6.0;
    w1 = r * (r - 2) * (r - 3) / 2.0;
    w2 = -r * (r - 1) * (r - 3) / 2.0;
    w3 = r * (r - 1) * (r - 2) / 6.0;
    return w0 * f[k] + w1 * f[k + 1] + w2 * f[k + 2] + w3 * f[k + 3];
}

/*
 * mol.c - the driver shared by every problem: one SUNDIALS context and one
 * CVODE instance per solve (BDF, Newton iteration with a banded direct
 * solver and a difference-quotient Jacobian), output at each requested
 * time, and cubic interpolation in space.
 *
 * The CVODE state interleaves the components node by node, y[i n_comp + k],
 * so that the Jacobian stays banded with half-bandwidth
 * half_band n_comp + n_comp - 1.  The problems see each component as its
 * own array over the full mesh (ghosts included).
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
    SUNContext sun;
    N_Vector y;
    N_Vector limits; /* CVODE's constraints, for a non-negative state */
    SUNMatrix jac;
    SUNLinearSolver ls;
    void *cv;
    int first;      /* the node of state row 0: 1 on a mesh, 0 for an ODE */
    int rows;       /* nodes in the state: mesh - 1, or 1 for an ODE */
    int nodes;      /* nodes of the full field: mesh + 1, or 1 */
    double *field;  /* n_comp * (nodes + 2 ghosts): the full fields */
    double *deriv;  /* n_comp * rows: the problem's du */
    double *fields; /* n_outputs * nodes: what visit sees */
    double *u[MOL_MAX_COMP];  /* node 0 of each component */
    double *du[MOL_MAX_COMP]; /* row 0 of each component's du */
};

/* ---- the right-hand side --------------------------------------------- */

/* The boundary values of each component at time t. */
static void boundary(const struct mol_run *r, double t, double *lo, double *hi)
{
    const struct tb_problem_ops *ops = r->c.p->ops;

    for (int k = 0; k < r->c.n_comp; k++) {
        lo[k] = ops->bc_lo[k];
        hi[k] = ops->bc_hi[k];
    }
    if (ops->bc)
        ops->bc(&r->c, t, lo, hi);
}

/* Set the boundary nodes of every component and the odd-reflection
 * ghosts beyond them. */
static void fill_ends(const struct mol_run *r, double t)
{
    double lo[MOL_MAX_COMP], hi[MOL_MAX_COMP];
    int m = r->c.mesh;

    boundary(r, t, lo, hi);
    for (int k = 0; k < r->c.n_comp; k++) {
        double *u = r->u[k];

        u[0] = lo[k];
        u[m] = hi[k];
        for (int g = 1; g <= MOL_GHOST; g++) {
            u[-g] = 2.0 * lo[k] - u[g];
            u[m + g] = 2.0 * hi[k] - u[m - g];
        }
    }
}

/* Copy the state y into the full fields at time t, with boundary values
 * and ghosts on a mesh.  Returns 1 if y holds a non-finite value. */
static int fill_field(const struct mol_run *r, double t, const double *y)
{
    int nc = r->c.n_comp;

    for (int i = 0; i < r->rows; i++)
        for (int k = 0; k < nc; k++) {
            double v = y[(size_t)i * nc + k];

            if (!isfinite(v))
                return 1;
            r->u[k][r->first + i] = v;
        }
    if (r->c.mesh > 0)
        fill_ends(r, t);
    return 0;
}

/* CVODE's right-hand side: >0 on a non-finite value so that CVODE retries
 * with a smaller step, <0 only if the problem says nothing can help. */
static int mol_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *data)
{
    struct mol_run *r = data;
    double *out = N_VGetArrayPointer(ydot);
    int nc = r->c.n_comp, rc;

    if (fill_field(r, t, N_VGetArrayPointer(y)))
        return 1;
    rc = r->c.p->ops->rhs(&r->c, t, (const double *const *)r->u, r->du);
    if (rc != 0)
        return rc;

    for (int i = 0; i < r->rows; i++)
        for (int k = 0; k < nc; k++) {
            double v = r->du[k][i];

            if (!isfinite(v))
                return 1;
            out[(size_t)i * nc + k] = v;
        }
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
    if (r->limits)
        N_VDestroy(r->limits);
    if (r->sun)
        SUNContext_Free(&r->sun);
    free(r->field);
    free(r->deriv);
    free(r->fields);
    memset(r, 0, sizeof(*r));
}

/* The shape of the state: a mesh's interior nodes, or one ODE node. */
static void run_shape(struct mol_run *r, const tb_problem *p,
                      const tb_solver_opts *o)
{
    const struct tb_problem_ops *ops = p->ops;
    int ode = p->n_coords == 1;

    r->c.mesh = ode ? 0 : o->mesh;
    r->c.n_comp = ops->n_comp > 0 ? ops->n_comp : 1;
    r->c.x_lo = ops->x_lo;
    r->c.h = ode ? 0.0 : (ops->x_hi - ops->x_lo) / o->mesh;
    r->first = ode ? 0 : 1;
    r->rows = ode ? 1 : o->mesh - 1;
    r->nodes = ode ? 1 : o->mesh + 1;
}

/* Allocate the field buffers and note the tuple. */
static int run_alloc(struct mol_run *r, const tb_problem *p,
                     const tb_solver_opts *o, const double *params)
{
    size_t width;
    int nc;

    r->c.p = p;
    run_shape(r, p, o);
    nc = r->c.n_comp;
    width = (size_t)r->nodes + 2 * MOL_GHOST;
    memcpy(r->c.params, params, sizeof(double) * (size_t)p->n_params);
    tbs_tuple_text(p, params, r->c.tuple, sizeof(r->c.tuple));

    r->field = calloc(width * (size_t)nc, sizeof(double));
    r->deriv = calloc((size_t)r->rows * (size_t)nc, sizeof(double));
    r->fields = calloc((size_t)r->nodes * (size_t)p->n_outputs, sizeof(double));
    if (!r->field || !r->deriv || !r->fields)
        return TB_ENOMEM;
    for (int k = 0; k < nc; k++) {
        r->u[k] = r->field + (size_t)k * width + MOL_GHOST;
        r->du[k] = r->deriv + (size_t)k * (size_t)r->rows;
    }
    return TB_OK;
}

/* The SUNDIALS context and the state vector, set to the initial field.
 * Each step below names itself in *what, for the report if it fails. */
static int run_state(struct mol_run *r, const char **what)
{
    const struct tb_problem_ops *ops = r->c.p->ops;
    int nc = r->c.n_comp;
    double *y;

    *what = "SUNContext_Create";
    if (SUNContext_Create(NULL, &r->sun) != 0)
        return TB_ENOMEM;
    *what = "N_VNew_Serial";
    if (!(r->y = N_VNew_Serial((sunindextype)r->rows * nc, r->sun)))
        return TB_ENOMEM;

    y = N_VGetArrayPointer(r->y);
    for (int i = 0; i < r->rows; i++) {
        double x = ops->x_lo + (r->first + i) * r->c.h;

        for (int k = 0; k < nc; k++)
            y[(size_t)i * nc + k] = ops->u0(&r->c, k, x);
    }
    return TB_OK;
}

/* For problems whose unknowns cannot go negative (concentrations), ask
 * CVODE to keep them >= 0. */
static int run_constraints(struct mol_run *r, const char **what)
{
    if (!r->c.p->ops->nonneg)
        return TB_OK;
    *what = "CVodeSetConstraints";
    if (!(r->limits = N_VClone(r->y)))
        return TB_ENOMEM;
    N_VConst(1.0, r->limits);
    if (CVodeSetConstraints(r->cv, r->limits) != CV_SUCCESS)
        return TB_ESOLVER;
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
    return run_constraints(r, what);
}

/* Newton's linear systems: a band matrix as wide as the stencil, filled
 * by CVODE's difference quotients, and the band LU solver. */
static int run_linear(struct mol_run *r, const char **what)
{
    sunindextype nc = r->c.n_comp;
    sunindextype n = (sunindextype)r->rows * nc;
    sunindextype hb = r->c.p->ops->half_band * nc + nc - 1;

    if (hb > n - 1)
        hb = n - 1;
    *what = "SUNBandMatrix";
    if (!(r->jac = SUNBandMatrix(n, hb, hb, r->sun)))
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
            r->c.p->name, r->c.tuple, t, tout, steps, why, detail);
    return tb_error_set(err, TB_ESOLVER, r->c.p->name,
                        "%s at %s failed at t=%.6g on the way to t=%.6g: %s "
                        "(%s)",
                        r->c.p->name, r->c.tuple, t, tout, why, detail);
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
    if (fill_field(r, tout, N_VGetArrayPointer(r->y)))
        return run_fail(r, tout, "non-finite values in the solution", err);
    return TB_OK;
}

/* The outputs from the full fields: the problem's own, or component k as
 * output k. */
static const double *run_fields(struct mol_run *r)
{
    const struct tb_problem_ops *ops = r->c.p->ops;
    size_t nodes = (size_t)r->nodes;

    if (ops->outputs) {
        ops->outputs(&r->c, (const double *const *)r->u, r->fields);
        return r->fields;
    }
    assert(r->c.p->n_outputs == r->c.n_comp);
    for (int k = 0; k < r->c.n_comp; k++)
        memcpy(r->fields + k * nodes, r->u[k], nodes * sizeof(double));
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
    double s, near, r, w0, w1, w2, w3;
    int k;

    if (c->mesh == 0)
        return f[0];
    if (ops->to_mesh)
        x = ops->to_mesh(c, x);
    s = (x - ops->x_lo) / c->h;
    near = nearbyint(s);

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

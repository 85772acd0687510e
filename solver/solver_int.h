/*
 * solver_int.h - what the files of solver/ share and nobody else sees: the
 * problem operations, the method-of-lines driver around CVODE, and small
 * helpers for messages.
 *
 * A problem with two coordinates (x, t) is a 1-D evolution system
 * discretised by the method of lines: the state is n_comp fields on the
 * interior nodes of a uniform mesh of `mesh` intervals over [x_lo, x_hi],
 * with Dirichlet values (fixed or time-dependent) on the two boundary
 * nodes.  A problem with the one coordinate t is an ODE system of n_comp
 * unknowns and no mesh (mesh 0).  Time starts at 0 in both.
 *
 * Names shared between the files of solver/ carry the prefix tbs_, so that
 * they never clash with another library linked beside this one.
 */
#ifndef TB_SOLVER_INT_H
#define TB_SOLVER_INT_H

#include "solver.h"

#include <stddef.h>

/* Ghost nodes beyond each end of the mesh.  The driver fills them by odd
 * reflection about the boundary value, u(-k) = 2 b - u(k), which is exact
 * for odd solutions and second-order for any smooth one. */
#define MOL_GHOST 2

/* The most unknowns per mesh node (species of a reaction system). */
#define MOL_MAX_COMP 4

/* One solve's fixed data, handed to a problem's callbacks. */
typedef struct mol_ctx {
    const tb_problem *p;
    double params[TB_MAX_INPUTS]; /* the parameter tuple */
    int mesh;                     /* intervals of the mesh; 0: an ODE */
    int n_comp;                   /* unknowns per node */
    double h;                     /* mesh spacing */
    double x_lo;                  /* mesh coordinate of node 0 */
    char reason[256];             /* CVODE's last error message */
    char tuple[160];              /* "alpha=0.5", for reports */
} mol_ctx;

/*
 * The operations behind one problem.
 *
 * rhs writes the time derivative of component k at interior node i into
 * du[k][i - 1] (i = 1..mesh-1), reading u[k][i] (ghosts valid); for an ODE
 * it reads u[k][0] and writes du[k][0].  It returns 0, >0 when the values
 * it met cannot be used (CVODE retries with a smaller step), or <0 when
 * nothing can help.
 */
struct tb_problem_ops {
    double x_lo; /* the mesh's domain, in mesh coordinates */
    double x_hi;
    int n_comp;    /* unknowns per node; 0 means 1 */
    int half_band; /* stencil reach in nodes */
    int min_mesh;  /* the coarsest mesh the stencil accepts; 0 for an ODE */
    int nonneg;    /* ask CVODE to keep every unknown >= 0 */
    double bc_lo[MOL_MAX_COMP]; /* fixed boundary values per component */
    double bc_hi[MOL_MAX_COMP];
    /* Optional: boundary values at time t, overriding bc_lo and bc_hi. */
    void (*bc)(const mol_ctx *c, double t, double *lo, double *hi);
    double (*u0)(const mol_ctx *c, int k, double x);
    int (*rhs)(const mol_ctx *c, double t, const double *const *u,
               double *const *du);
    /* Optional: the outputs from the full fields, [output][node]; without
     * it output k is component k. */
    void (*outputs)(const mol_ctx *c, const double *const *u, double *out);
    /* Optional: the mesh coordinate of a coordinate value (x = log(S/K)
     * for a price); without it they are the same. */
    double (*to_mesh)(const mol_ctx *c, double coord);
};

/* The built-in problems, one file each. */
extern const tb_problem tbs_heat1d;
extern const tb_problem tbs_burgers1d;
extern const tb_problem tbs_blackscholes;
extern const tb_problem tbs_robertson;
extern const tb_problem tbs_americanput;
extern const tb_problem tbs_fhn1d;

/* Problems loaded from plugins (plugin.c): how many, and the i-th. */
int tbs_plugin_count(void);
const tb_problem *tbs_plugin_at(int i);

/* ---- the log-price mesh of the option problems (logprice.c) ---- */

#define TBS_LP_STRIKE 100.0
#define TBS_LP_XI_FAR 3.8716347563877314 /* asinh(6 / 0.25): |x| <= 6 */

/* The log-price x = log(S / K) of mesh coordinate xi. */
double tbs_lp_x(double xi);

/* The mesh coordinate of a price S (a to_mesh operation). */
double tbs_lp_to_mesh(const mol_ctx *c, double s);

/* The payoff at mesh node xi, cell-averaged next to the kink: a call's
 * K (e^x - 1)^+ when call, else a put's K (1 - e^x)^+. */
double tbs_lp_payoff(const mol_ctx *c, double xi, int call);

/* The Black-Scholes operator sigma^2/2 V_xx + (r - sigma^2/2) V_x - r V at
 * interior node i of field u. */
double tbs_lp_operator(const mol_ctx *c, const double *u, int i, double sigma,
                       double r);

/* Price and delta at every node, [output][node] (an outputs operation). */
void tbs_lp_outputs(const mol_ctx *c, const double *const *f, double *out);

/* The operations both option problems share, for a tb_problem_ops
 * initialiser: the log-price domain, the stencil, outputs and to_mesh. */
#define TBS_LP_OPS                                                             \
    .x_lo = -TBS_LP_XI_FAR, .x_hi = TBS_LP_XI_FAR, .half_band = 2,             \
    .min_mesh = 16, .outputs = tbs_lp_outputs, .to_mesh = tbs_lp_to_mesh

/* The inputs (sigma, r, S, tau), their default axes and limits, and the
 * outputs (price, delta) both option problems share, for a tb_problem
 * initialiser. */
#define TBS_LP_GRID                                                            \
    .n_params = 2, .n_coords = 2,                                              \
    .inputs =                                                                  \
        {                                                                      \
            {"sigma", "1/sqrt(yr)", 0.1, 0.5, 9, TB_SPACING_UNIFORM},          \
            {"r", "1/yr", 0.0, 0.1, 6, TB_SPACING_UNIFORM},                    \
            {"S", "", 50.0, 150.0, 41, TB_SPACING_UNIFORM},                    \
            {"tau", "yr", 0.05, 2.0, 40, TB_SPACING_UNIFORM},                  \
    },                                                                         \
    .limit_lo = {0.02, 0.0, 20.0, 0.0}, .limit_hi = {0.6, 0.2, 500.0, 2.5},    \
    .n_outputs = 2, .outputs = {"price", "delta"}

/*
 * Called once per requested time j with the outputs: n_outputs rows of
 * mesh + 1 node values each (1 for an ODE), [output][node].  Returns 0 to
 * go on or a negative status to stop the solve.
 */
typedef int (*mol_visit_fn)(void *data, int j, const mol_ctx *c,
                            const double *fields);

/*
 * Integrate one parameter tuple with CVODE (BDF, banded Newton) from t = 0
 * through the nt times, which must be ascending, distinct and >= 0, and
 * call visit at each.  o must be resolved.  Returns 0, or a negative status
 * with the tuple and CVODE's reason in err (also logged).
 */
int tbs_mol_solve(const tb_problem *p, const tb_solver_opts *o,
                  const double *params, const double *times, int nt,
                  mol_visit_fn visit, void *data, tb_error *err);

/* The nodes in one output row: mesh + 1, or 1 for an ODE. */
static inline size_t tbs_mol_nodes(const mol_ctx *c)
{
    return c->mesh > 0 ? (size_t)c->mesh + 1 : 1;
}

/* The output row f (mesh + 1 node values) at coordinate x, by cubic
 * interpolation on the four nearest nodes; exactly the node value when x
 * falls on a node.  For an ODE, f[0]. */
double tbs_mol_interp(const mol_ctx *c, const double *f, double x);

/* Write "name=value name=value" for a parameter tuple into buf. */
void tbs_tuple_text(const tb_problem *p, const double *params, char *buf,
                    size_t size);

/* Check one input value against the problem's limits for input k: TB_EINVAL
 * when not finite, TB_EDOMAIN when outside, naming the input and, when
 * point >= 0, the point. */
int tbs_check_value(const tb_problem *p, int k, double v, long point,
                    tb_error *err);

/* ---- table files (table.c, table_read.c) ---- */

#define TBS_TABLE_MAGIC   "tabula-table"
#define TBS_TABLE_VERSION 1
#define TBS_WHY           160 /* room for a reason */

/* Check the axes of t (valid, unique names; finite lo < hi; n >= 2) and
 * count its nodes, refusing overflow.  Returns 0, or -1 with the reason in
 * why (TBS_WHY bytes). */
int tbs_table_check_axes(const tb_table *t, size_t *nodes, char *why);

#endif

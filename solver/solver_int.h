/*
 * solver_int.h - what the files of solver/ share and nobody else sees: the
 * problem operations, the method-of-lines driver around CVODE, and small
 * helpers for messages.
 *
 * Every problem here is a 1-D evolution equation discretised by the method
 * of lines: the state is the field on the interior nodes of a uniform mesh
 * of `mesh` intervals over [x_lo, x_hi], with fixed (Dirichlet) values on
 * the two boundary nodes.  The coordinates are therefore (x, t), in that
 * order, and time starts at 0.
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
 * for the problems here (their solutions extend oddly past the walls). */
#define MOL_GHOST 2

/* One solve's fixed data, handed to a problem's callbacks. */
typedef struct mol_ctx {
    const tb_problem *p;
    double params[TB_MAX_INPUTS]; /* the parameter tuple */
    int mesh;                     /* intervals of the mesh */
    double h;                     /* mesh spacing */
    double *u;        /* node 0 of the full field; u[-MOL_GHOST] valid */
    char reason[256]; /* CVODE's last error message, for reports */
    char tuple[160];  /* "alpha=0.5", for reports */
} mol_ctx;

/*
 * The operations behind one problem.  rhs writes du/dt on the interior
 * nodes 1..mesh-1 into du[0..mesh-2], reading the field u (indexed by node,
 * ghosts valid).  It returns 0, >0 when the values it met cannot be used
 * (CVODE retries with a smaller step), or <0 when nothing can help.
 */
struct tb_problem_ops {
    double x_lo; /* the spatial domain */
    double x_hi;
    double bc_lo;  /* the field's fixed value at x_lo */
    double bc_hi;  /* ... and at x_hi */
    int half_band; /* half-bandwidth of the Jacobian (stencil reach) */
    int min_mesh;  /* the coarsest mesh the stencil accepts */
    double (*u0)(const mol_ctx *c, double x);
    int (*rhs)(const mol_ctx *c, const double *u, double *du);
};

/* The built-in problems (heat1d.c, burgers1d.c). */
extern const tb_problem tbs_heat1d;
extern const tb_problem tbs_burgers1d;

/*
 * Called once per requested time j with the fields: n_outputs rows of
 * mesh + 1 node values each, [output][node].  Returns 0 to go on or a
 * negative status to stop the solve.
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

/* The field f (mesh + 1 node values) at x, by cubic interpolation on the
 * four nearest nodes; exactly the node value when x falls on a node. */
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

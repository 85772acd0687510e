/*
 * tabula_plugin.h - define your own problems for tabula in a shared
 * object, loaded by every command with --plugin FILE.so.
 *
 * A plugin describes problems with the same structure as tabula's
 * built-in ones: named parameters and coordinates with default axes and
 * accepted limits, named outputs, solver defaults, and the right-hand side
 * of a method-of-lines system (or of an ODE system).  tabula then solves,
 * tabulates, trains on and serves them like any other problem.
 *
 * The shape of a problem:
 *
 * - n_coords == 2: the coordinates are (x, t).  The state is n_comp fields
 *   on the interior nodes 1..mesh-1 of a uniform mesh of `mesh` intervals
 *   over [x_lo, x_hi], with Dirichlet values bc_lo[k], bc_hi[k] on nodes
 *   0 and mesh.  rhs reads u[k][i] for i in [-2, mesh + 2] (the two ghost
 *   nodes past each end hold the odd reflection 2 b - u[k][j]) and writes
 *   du[k][i - 1] for i = 1..mesh-1.  The Jacobian's bandwidth is set by
 *   half_band, the stencil's reach in nodes.
 * - n_coords == 1: the coordinate is t and the state is n_comp unknowns;
 *   rhs reads u[k][0] and writes du[k][0].  mesh must be 0.
 *
 * Either way output k is component k (n_outputs == n_comp), time starts at
 * 0 from u0, and CVODE (BDF, banded Newton, difference-quotient Jacobian)
 * integrates.  rhs returns 0, > 0 when it met values it cannot use (CVODE
 * retries with a smaller step), or < 0 when nothing can help.  Callbacks
 * may be called from several threads at once, each with its own context.
 *
 * Every plugin exports one function, tabula_plugin_entry, returning a
 * tabula_plugin whose version is TABULA_PLUGIN_VERSION; tabula refuses a
 * plugin built against any other version of this header.  See
 * examples/allen_cahn.c.
 */
#ifndef TABULA_PLUGIN_H
#define TABULA_PLUGIN_H

/* Bumped whenever a structure below changes. */
#define TABULA_PLUGIN_VERSION 1

#define TABULA_PLUGIN_MAX_INPUTS  8 /* parameters + coordinates */
#define TABULA_PLUGIN_MAX_OUTPUTS 4 /* = the most components */

/* Axis spacings, as in tabula's solver.h. */
enum tabula_plugin_spacing {
    TABULA_PLUGIN_UNIFORM = 0,
    TABULA_PLUGIN_LOG = 1,
    TABULA_PLUGIN_CHEB = 2,
};

/* One input: its name, unit and default axis. */
typedef struct tabula_plugin_axis {
    const char *name; /* 1 to 31 characters, no ',' or '/' */
    const char *unit; /* up to 15 characters; may be "" */
    double lo;        /* the default axis, inside the limits below */
    double hi;
    int n;       /* default node count, >= 2 */
    int spacing; /* enum tabula_plugin_spacing */
} tabula_plugin_axis;

/* What a callback may know about the solve it serves. */
typedef struct tabula_plugin_ctx {
    const double *params; /* the parameter tuple, n_params values */
    int mesh;             /* intervals of the mesh; 0 for an ODE */
    double h;             /* mesh spacing */
    double x_lo;          /* x of node 0 */
} tabula_plugin_ctx;

typedef struct tabula_plugin_problem {
    const char *name;    /* unique among all problems, e.g. "allencahn" */
    const char *summary; /* one line for `tabula problems` */
    int n_params;
    int n_coords;                                        /* 2: (x, t); 1: t */
    tabula_plugin_axis inputs[TABULA_PLUGIN_MAX_INPUTS]; /* params first */
    double limit_lo[TABULA_PLUGIN_MAX_INPUTS]; /* the range the solver */
    double limit_hi[TABULA_PLUGIN_MAX_INPUTS]; /* accepts, per input */
    int n_comp;                                /* = the number of outputs */
    const char *outputs[TABULA_PLUGIN_MAX_OUTPUTS];

    double rtol; /* solver defaults, all > 0 (mesh 0 for an ODE) */
    double atol;
    long max_steps;
    int mesh;

    double x_lo; /* the mesh's domain (ignored for an ODE) */
    double x_hi;
    int half_band; /* stencil reach in nodes, 1 or 2 */
    int min_mesh;  /* the coarsest mesh the stencil accepts, >= 4 */
    double bc_lo[TABULA_PLUGIN_MAX_OUTPUTS];
    double bc_hi[TABULA_PLUGIN_MAX_OUTPUTS];

    double (*u0)(const tabula_plugin_ctx *c, int k, double x);
    int (*rhs)(const tabula_plugin_ctx *c, double t, const double *const *u,
               double *const *du);
} tabula_plugin_problem;

typedef struct tabula_plugin {
    int version; /* TABULA_PLUGIN_VERSION */
    int n_problems;
    const tabula_plugin_problem *problems;
} tabula_plugin;

/* The one symbol a plugin exports. */
const tabula_plugin *tabula_plugin_entry(void);

#endif

/*
 * solver.h - tabula's problems, their SUNDIALS CVODE solves, and tables.
 *
 * A problem is a parametrised PDE or ODE system.  Its inputs are parameters
 * (inputs [0, n_params)) followed by coordinates (inputs [n_params,
 * n_inputs)); the last coordinate is time.  One solve for one parameter
 * tuple gives the outputs at every coordinate node at once.
 *
 * This library knows SUNDIALS and HDF5; it knows nothing of networks or HTTP.
 * Every function is safe to call from several threads at once: each solve
 * owns its own SUNContext and CVODE instance.
 */
#ifndef TB_SOLVER_H
#define TB_SOLVER_H

#include "tb.h"

#include <signal.h>
#include <stddef.h>

#define TB_MAX_INPUTS  8
#define TB_MAX_OUTPUTS 8
#define TB_NAME_MAX    32

/* The solver settings tb_solver_opts_resolve accepts (closed ranges).  The
 * mesh's lower bound is each problem's own; an ODE system takes mesh 0. */
#define TB_RTOL_MIN  1e-14
#define TB_RTOL_MAX  1e-1
#define TB_ATOL_MIN  1e-20
#define TB_ATOL_MAX  1.0
#define TB_STEPS_MAX 100000000L
#define TB_MESH_MAX  100000

/* How an axis places its nodes between lo and hi (both always nodes). */
enum tb_spacing {
    TB_SPACING_UNIFORM = 0, /* lo + i (hi - lo) / (n - 1) */
    TB_SPACING_LOG = 1,     /* uniform in log(value); needs lo > 0 */
    TB_SPACING_CHEB = 2,    /* Chebyshev-Lobatto: mid - half cos(pi i/(n-1)) */
};

/* One input's range, node count and spacing; a grid is the product of its
 * axes.  A zeroed spacing is uniform. */
typedef struct tb_axis {
    char name[TB_NAME_MAX];
    char unit[16];
    double lo;
    double hi;
    int n;       /* >= 2 */
    int spacing; /* enum tb_spacing */
} tb_axis;

/* The name of a spacing ("uniform", "log", "cheb"), or NULL if unknown. */
const char *tb_spacing_name(int spacing);

/* The spacing called name, or -1. */
int tb_spacing_parse(const char *name);

/* Solver settings.  Zero in a field means "the problem's default". */
typedef struct tb_solver_opts {
    double rtol;    /* CVODE relative tolerance */
    double atol;    /* CVODE absolute tolerance */
    long max_steps; /* CVODE steps allowed between two output times */
    int mesh;       /* intervals of the method-of-lines spatial mesh */
} tb_solver_opts;

struct tb_problem_ops; /* private to solver/ */

typedef struct tb_problem {
    const char *name;    /* "heat1d" */
    const char *summary; /* one line for `tabula problems` */
    int n_params;
    int n_coords;
    tb_axis inputs[TB_MAX_INPUTS];  /* default axes, parameters first */
    double limit_lo[TB_MAX_INPUTS]; /* the closed range the solver accepts */
    double limit_hi[TB_MAX_INPUTS];
    int n_outputs;
    const char *outputs[TB_MAX_OUTPUTS];
    tb_solver_opts defaults; /* every field set */
    const struct tb_problem_ops *ops;
} tb_problem;

/* The number of problems (built-in, then loaded from plugins), and the
 * i-th of them (NULL when out of range).  Problems live as long as the
 * process: never free them. */
int tb_problem_count(void);
const tb_problem *tb_problem_at(int i);

/*
 * Load the problems a plugin defines (see tabula_plugin.h) from the shared
 * object at path and add them to the problems above.  Refuses, with a
 * message naming the file: a file dlopen cannot load (TB_EIO), one without
 * tabula_plugin_entry or built for another plugin interface version
 * (TB_EFORMAT), and problems whose names clash or whose fields are invalid
 * (TB_EINVAL); then none of its problems is added.  Call it before any
 * thread solves.  Returns 0 or the status.
 */
int tb_plugin_load(const char *path, tb_error *err);

/* The problem called name, or NULL. */
const tb_problem *tb_problem_find(const char *name);

/* The index of the input called name, or -1. */
int tb_problem_input(const tb_problem *p, const char *name);

/* Fill the zero fields of o from the problem's defaults, then check them.
 * Returns 0 or TB_EINVAL with the field named in err. */
int tb_solver_opts_resolve(const tb_problem *p, tb_solver_opts *o,
                           tb_error *err);

/* The value of node i of an axis; node 0 is exactly lo, node n-1 hi. */
double tb_axis_node(const tb_axis *a, int i);

/* Check an axis: finite lo < hi, n >= 2, a known spacing (lo > 0 when
 * logarithmic), inside the problem's limits for input k.  Returns 0 or
 * TB_EINVAL naming the axis in err. */
int tb_axis_check(const tb_problem *p, int k, const tb_axis *a, tb_error *err);

/*
 * Solve for one parameter tuple (n_params values) and give the outputs at
 * every node of the coordinate grid spanned by coords (n_coords axes).
 * Here and below, o may be NULL for the problem's default settings.
 * out holds n_outputs * C doubles, C the product of the coordinate node
 * counts, laid out [output][node], nodes row-major with the last axis
 * fastest.  Returns 0, or a negative status with the parameter tuple and
 * CVODE's reason in err; on failure out is filled with NaN, never zeros.
 */
int tb_solve_grid(const tb_problem *p, const tb_solver_opts *o,
                  const double *params, const tb_axis *coords, double *out,
                  tb_error *err);

/*
 * Solve at n arbitrary points.  in holds n rows of n_inputs values (in the
 * problem's input order), out n rows of n_outputs values.  Coordinates off
 * the mesh are answered exactly in time and by interpolation on the fine
 * spatial mesh.  Points that share a parameter tuple share one integration.
 * status (may be NULL) receives 0 or a negative status per point; a failed
 * point's outputs are NaN.  Returns 0 when every point succeeded,
 * TB_PARTIAL when some failed, or a negative status when the call itself is
 * invalid (a point outside the problem's limits is TB_EDOMAIN).
 */
int tb_solve_points(const tb_problem *p, const tb_solver_opts *o,
                    const double *in, size_t n, double *out, int *status,
                    tb_error *err);

/* ------------------------------------------------------------------------
 * Tables: every grid node with its solver outputs and status.
 * ------------------------------------------------------------------------ */

typedef struct tb_table {
    char problem[TB_NAME_MAX];
    int n_params;
    int n_coords;
    tb_axis axes[TB_MAX_INPUTS]; /* n_params + n_coords, problem order */
    int n_outputs;
    char outputs[TB_MAX_OUTPUTS][TB_NAME_MAX];
    tb_solver_opts opts; /* the settings the table was solved with */
    size_t n_nodes;      /* product of every axis's n */
    double *values;      /* n_outputs * n_nodes, [output][node] */
    signed char *status; /* n_nodes: 0, or the negative status of the solve */
    size_t n_failed;     /* nodes whose status is not 0 */
    char version[32];    /* tabula version that wrote it */
    char created[32];    /* ISO 8601 UTC */
    double seconds;      /* wall time the tabulation took */
} tb_table;

/* Called after each parameter tuple is solved, from any worker thread but
 * never from two at once. */
typedef void (*tb_progress_fn)(size_t done, size_t total, void *data);

/*
 * Solve the whole grid.  axes gives every input's axis (NULL: the problem's
 * defaults); jobs threads share the parameter tuples (jobs <= 0: one per
 * online core).  Failed solves are logged with their parameter tuple and
 * reason, marked in status and counted in n_failed; the call still returns
 * 0 then, or TB_PARTIAL if any failed, and err then holds the first failed
 * solve's message.  t is filled and owned by the caller (tb_table_free).
 */
int tb_tabulate(const tb_problem *p, const tb_solver_opts *o,
                const tb_axis *axes, int jobs, tb_progress_fn progress,
                void *data, tb_table *t, tb_error *err);

/* As tb_tabulate, and no worker starts another parameter tuple once *stop
 * is non-zero (a flag a signal handler may set; NULL: never); the tuples
 * being solved finish first.  Stopped before the last tuple, it frees t
 * and returns TB_INTERRUPTED. */
int tb_tabulate_stoppable(const tb_problem *p, const tb_solver_opts *o,
                          const tb_axis *axes, int jobs,
                          tb_progress_fn progress, void *data,
                          const volatile sig_atomic_t *stop, tb_table *t,
                          tb_error *err);

/* Release what a table holds and zero it.  NULL and zeroed tables are fine. */
void tb_table_free(tb_table *t);

/* The input values (n_params + n_coords) of node i. */
void tb_table_node(const tb_table *t, size_t i, double *in);

/* Write a table as HDF5: to a temporary name beside path, fsync, then
 * rename into place.  Nothing is left at path on failure. */
int tb_table_write(const tb_table *t, const char *path, tb_error *err);

/* Read and check a table written by tb_table_write (magic and format
 * version in the root attributes, shapes, names).  Returns 0 or a negative
 * status saying what is wrong with the file. */
int tb_table_read(const char *path, tb_table *t, tb_error *err);

#endif

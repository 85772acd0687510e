/*
 * heat1d.c - the heat equation u_t = alpha u_xx on x in [0, 1] with u = 0
 * at both ends and u(x, 0) = sin(pi x).  Its exact solution is
 * exp(-alpha pi^2 t) sin(pi x), which the tests compare against.
 *
 * Space is discretised with fourth-order central differences.  The ghost
 * nodes hold the odd reflection of the field, which is exact here: the
 * solution is a sine series, odd about both walls.
 */
#include "solver_int.h"

#include <math.h>

static double heat_u0(const mol_ctx *c, int k, double x)
{
    (void)c;
    (void)k;
    return sin(M_PI * x);
}

/* du_i/dt = alpha (-u[i-2] + 16 u[i-1] - 30 u[i] + 16 u[i+1] - u[i+2])
 * / (12 h^2), fourth order in h. */
static int heat_rhs(const mol_ctx *c, double t, const double *const *f,
                    double *const *df)
{
    const double *u = f[0];
    double *du = df[0];
    double k = c->params[0] / (12.0 * c->h * c->h);

    (void)t;
    for (int i = 1; i < c->mesh; i++) {
        double lap =
            -u[i - 2] + 16.0 * (u[i - 1] + u[i + 1]) - 30.0 * u[i] - u[i + 2];
        du[i - 1] = k * lap;
    }
    return 0;
}

static const struct tb_problem_ops heat_ops = {
    .x_lo = 0.0,
    .x_hi = 1.0,
    .bc_lo = {0.0},
    .bc_hi = {0.0},
    .half_band = 2,
    .min_mesh = 8,
    .u0 = heat_u0,
    .rhs = heat_rhs,
};

/* The default mesh (126 intervals) holds every node of the default x axis
 * (64 nodes, 63 intervals) and one node between each pair. */
const tb_problem tbs_heat1d = {
    .name = "heat1d",
    .summary = "heat equation u_t = alpha u_xx on [0,1], u=0 at the ends, "
               "u(x,0) = sin(pi x)",
    .n_params = 1,
    .n_coords = 2,
    .inputs =
        {
            {"alpha", "1/s", 0.01, 1.0, 16},
            {"x", "m", 0.0, 1.0, 64},
            {"t", "s", 0.0, 1.0, 64},
        },
    .limit_lo = {1e-6, 0.0, 0.0},
    .limit_hi = {1e3, 1.0, 1e3},
    .n_outputs = 1,
    .outputs = {"u"},
    .defaults = {.rtol = 1e-9, .atol = 1e-11, .max_steps = 5000, .mesh = 126},
    .ops = &heat_ops,
};

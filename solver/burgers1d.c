/*
 * burgers1d.c - the viscous Burgers equation u_t + u u_x = nu u_xx on
 * x in [-1, 1] with u = 0 at both ends and u(x, 0) = -sin(pi x).  The
 * solution steepens into a front at x = 0 whose width is of order nu.
 *
 * Space is discretised with second-order central differences, the
 * convection term in the energy-conserving form
 *   (u u_x)_i = (u[i+1]^2 - u[i-1]^2 + u[i] (u[i+1] - u[i-1])) / (6 h),
 * an average of the conservative and the advective forms that neither
 * creates nor destroys discrete energy, so the only dissipation is nu's.
 * The default mesh keeps the cell Reynolds number |u| h / nu below 2 even
 * at the smallest nu, so the front is resolved without wiggles.
 */
#include "solver_int.h"

#include <math.h>

static double burgers_u0(const mol_ctx *c, int k, double x)
{
    (void)c;
    (void)k;
    return -sin(M_PI * x);
}

static int burgers_rhs(const mol_ctx *c, double t, const double *const *f,
                       double *const *df)
{
    const double *u = f[0];
    double *du = df[0];
    double nu = c->params[0];
    double conv = 1.0 / (6.0 * c->h);
    double diff = nu / (c->h * c->h);

    (void)t;
    for (int i = 1; i < c->mesh; i++) {
        double a = u[i - 1], b = u[i], d = u[i + 1];
        double uux = conv * ((d * d - a * a) + b * (d - a));

        du[i - 1] = diff * (a - 2.0 * b + d) - uux;
    }
    return 0;
}

static const struct tb_problem_ops burgers_ops = {
    .x_lo = -1.0,
    .x_hi = 1.0,
    .bc_lo = {0.0},
    .bc_hi = {0.0},
    .half_band = 1,
    .min_mesh = 8,
    .u0 = burgers_u0,
    .rhs = burgers_rhs,
};

/* The default mesh (2048 intervals) holds every node of the default x axis
 * (129 nodes, 128 intervals, x = 0 among them). */
const tb_problem tbs_burgers1d = {
    .name = "burgers1d",
    .summary = "viscous Burgers u_t + u u_x = nu u_xx on [-1,1], u=0 at the "
               "ends, u(x,0) = -sin(pi x)",
    .n_params = 1,
    .n_coords = 2,
    .inputs =
        {
            {"nu", "m^2/s", 0.01 / M_PI, 0.1, 16},
            {"x", "m", -1.0, 1.0, 129},
            {"t", "s", 0.0, 1.0, 64},
        },
    .limit_lo = {1e-3, -1.0, 0.0},
    .limit_hi = {10.0, 1.0, 100.0},
    .n_outputs = 1,
    .outputs = {"u"},
    .defaults = {.rtol = 1e-7, .atol = 1e-9, .max_steps = 20000, .mesh = 2048},
    .ops = &burgers_ops,
};

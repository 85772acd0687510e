/*
 * robertson.c - Robertson's chemical kinetics (1966), the classic stiff
 * test: three species with rate constants k1, k2, k3,
 *
 *   y1' = -k1 y1 + k2 y2 y3
 *   y2' =  k1 y1 - k2 y2 y3 - k3 y2^2
 *   y3' =  k3 y2^2
 *
 * from y = (1, 0, 0) at t = 0, around the classic k = (0.04, 1e4, 3e7).
 * The species' scales differ by many decades (y2 never exceeds 4e-5), so
 * the default absolute tolerance sits far below y2, and the time axis is
 * logarithmic from 1e-4 to 1e10.  CVODE keeps the species non-negative
 * (its inequality constraints).  An ODE system: t is the only coordinate
 * and there is no mesh.
 */
#include "solver_int.h"

static double rob_u0(const mol_ctx *c, int k, double x)
{
    (void)c;
    (void)x;
    return k == 0 ? 1.0 : 0.0;
}

static int rob_rhs(const mol_ctx *c, double t, const double *const *y,
                   double *const *dy)
{
    double k1 = c->params[0], k2 = c->params[1], k3 = c->params[2];
    double fwd = k1 * y[0][0], back = k2 * y[1][0] * y[2][0];
    double make3 = k3 * y[1][0] * y[1][0];

    (void)t;
    dy[0][0] = back - fwd;
    dy[1][0] = fwd - back - make3;
    dy[2][0] = make3;
    return 0;
}

static const struct tb_problem_ops rob_ops = {
    .n_comp = 3,
    .nonneg = 1,
    .u0 = rob_u0,
    .rhs = rob_rhs,
};

/* Rate constants on log axes within a factor of 2 of the classic ones;
 * 4 time nodes per decade. */
const tb_problem tbs_robertson = {
    .name = "robertson",
    .summary = "Robertson's stiff chemical kinetics, 3 species, rate "
               "constants k1 k2 k3; y(0) = (1, 0, 0)",
    .n_params = 3,
    .n_coords = 1,
    .inputs =
        {
            {"k1", "1/s", 0.02, 0.08, 5, TB_SPACING_LOG},
            {"k2", "1/s", 5e3, 2e4, 5, TB_SPACING_LOG},
            {"k3", "1/s", 1.5e7, 6e7, 5, TB_SPACING_LOG},
            {"t", "s", 1e-4, 1e10, 57, TB_SPACING_LOG},
        },
    .limit_lo = {1e-3, 1e2, 1e5, 0.0},
    .limit_hi = {1.0, 1e6, 1e9, 1e11},
    .n_outputs = 3,
    .outputs = {"y1", "y2", "y3"},
    .defaults = {.rtol = 1e-8, .atol = 1e-16, .max_steps = 100000, .mesh = 0},
    .ops = &rob_ops,
};

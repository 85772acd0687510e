/*
 * fhn1d.c - the FitzHugh-Nagumo model of an excitable medium (a nerve
 * axon, heart tissue) in one dimension:
 *
 *   v_t = v_xx + v (1 - v) (v - a) - w
 *   w_t = epsilon (v - w)
 *
 * on x in [0, 50] with v = w = 0 (rest) at both ends.  A bump of
 * excitation at x = 8 fires two pulses; the left one dies at the wall and
 * the right one travels at about (1 - 2a)/sqrt(2) along the axis, its tail
 * recovering at the rate epsilon.  The threshold a and the recovery rate
 * epsilon are the parameters; v and w are the outputs.
 *
 * Space is discretised with second-order central differences;
 * tests/test_fhn1d.c measures the order by refining the mesh twice.
 */
#include "solver_int.h"

#include <math.h>

static double fhn_u0(const mol_ctx *c, int k, double x)
{
    double s = (x - 8.0) / 2.0;

    (void)c;
    return k == 0 ? exp(-s * s) : 0.0;
}

static int fhn_rhs(const mol_ctx *c, double t, const double *const *f,
                   double *const *df)
{
    const double *v = f[0], *w = f[1];
    double a = c->params[0], eps = c->params[1];
    double k = 1.0 / (c->h * c->h);

    (void)t;
    for (int i = 1; i < c->mesh; i++) {
        double lap = k * (v[i - 1] - 2.0 * v[i] + v[i + 1]);

        df[0][i - 1] = lap + v[i] * (1.0 - v[i]) * (v[i] - a) - w[i];
        df[1][i - 1] = eps * (v[i] - w[i]);
    }
    return 0;
}

static const struct tb_problem_ops fhn_ops = {
    .x_lo = 0.0,
    .x_hi = 50.0,
    .n_comp = 2,
    .half_band = 1,
    .min_mesh = 8,
    .bc_lo = {0.0, 0.0},
    .bc_hi = {0.0, 0.0},
    .u0 = fhn_u0,
    .rhs = fhn_rhs,
};

/* The default mesh (800 intervals, h = 1/16) holds every node of the
 * default x axis (101 nodes, h = 1/2). */
const tb_problem tbs_fhn1d = {
    .name = "fhn1d",
    .summary = "FitzHugh-Nagumo travelling pulse on [0,50]: v_t = v_xx + "
               "v(1-v)(v-a) - w, w_t = epsilon (v - w)",
    .n_params = 2,
    .n_coords = 2,
    .inputs =
        {
            {"a", "", 0.05, 0.15, 6, TB_SPACING_UNIFORM},
            {"epsilon", "", 0.002, 0.01, 5, TB_SPACING_UNIFORM},
            {"x", "", 0.0, 50.0, 101, TB_SPACING_UNIFORM},
            {"t", "", 0.0, 40.0, 41, TB_SPACING_UNIFORM},
        },
    .limit_lo = {0.0, 1e-4, 0.0, 0.0},
    .limit_hi = {0.45, 0.2, 50.0, 200.0},
    .n_outputs = 2,
    .outputs = {"v", "w"},
    .defaults = {.rtol = 1e-8, .atol = 1e-10, .max_steps = 50000, .mesh = 800},
    .ops = &fhn_ops,
};

/*
 * allen_cahn.c - an example tabula plugin: the Allen-Cahn equation of
 * phase separation in one dimension,
 *
 *   u_t = epsilon^2 u_xx + u - u^3    on x in [0, 1], u = 0 at both ends,
 *
 * from u(x, 0) = 0.6 sin(3 pi x).  The field separates into the phases
 * u = -1 and u = +1 joined by interfaces of width about epsilon, which
 * then drift slowly.  The parameter is epsilon; the output is u.
 *
 * Build it against tabula's installed tabula_plugin.h, e.g.
 *   cc -shared -fPIC -O2 -o allen_cahn.so allen_cahn.c -lm
 * and use it with any command:
 *   tabula --plugin ./allen_cahn.so tabulate allencahn -o ac.h5
 */
#include "tabula_plugin.h"

#include <math.h>

static double ac_u0(const tabula_plugin_ctx *c, int k, double x)
{
    (void)c;
    (void)k;
    return 0.6 * sin(3.0 * M_PI * x);
}

/* Second-order central differences. */
static int ac_rhs(const tabula_plugin_ctx *c, double t, const double *const *f,
                  double *const *df)
{
    const double *u = f[0];
    double eps = c->params[0];
    double k = eps * eps / (c->h * c->h);

    (void)t;
    for (int i = 1; i < c->mesh; i++)
        df[0][i - 1] =
            k * (u[i - 1] - 2.0 * u[i] + u[i + 1]) + u[i] - u[i] * u[i] * u[i];
    return 0;
}

static const tabula_plugin_problem problems[] = {
    {
        .name = "allencahn",
        .summary = "Allen-Cahn u_t = epsilon^2 u_xx + u - u^3 on [0,1], "
                   "u=0 at the ends, u(x,0) = 0.6 sin(3 pi x) (a plugin)",
        .n_params = 1,
        .n_coords = 2,
        .inputs =
            {
                {"epsilon", "", 0.03, 0.1, 8, TABULA_PLUGIN_UNIFORM},
                {"x", "", 0.0, 1.0, 41, TABULA_PLUGIN_UNIFORM},
                {"t", "", 0.0, 5.0, 26, TABULA_PLUGIN_UNIFORM},
            },
        .limit_lo = {0.01, 0.0, 0.0},
        .limit_hi = {1.0, 1.0, 100.0},
        .n_comp = 1,
        .outputs = {"u"},
        .rtol = 1e-7,
        .atol = 1e-9,
        .max_steps = 20000,
        .mesh = 400,
        .x_lo = 0.0,
        .x_hi = 1.0,
        .half_band = 1,
        .min_mesh = 8,
        .bc_lo = {0.0},
        .bc_hi = {0.0},
        .u0 = ac_u0,
        .rhs = ac_rhs,
    },
};

/* The test suite builds this file a second time claiming another
 * interface version, to see it refused. */
#ifndef TABULA_PLUGIN_TEST_VERSION
#define TABULA_PLUGIN_TEST_VERSION TABULA_PLUGIN_VERSION
#endif

static const tabula_plugin plugin = {
    .version = TABULA_PLUGIN_TEST_VERSION,
    .n_problems = 1,
    .problems = problems,
};

/* The plugin's one entry point. */
const tabula_plugin *tabula_plugin_entry(void)
{
    return &plugin;
}

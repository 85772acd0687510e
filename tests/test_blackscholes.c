/*
 * test_blackscholes.c - the blackscholes problem against the closed-form
 * Black-Scholes price and delta of a European call (strike 100): every
 * node of the default grid within 1e-3 in price, and mesh refinement
 * showing the scheme's order.
 */
#include "solver.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define STRIKE    100.0
#define PRICE_TOL 1e-3 /* the bound, absolute, default grid */
#define DELTA_TOL 1e-3 /* stated here: delta is a derivative of price */

/* The standard normal distribution function. */
static double norm_cdf(double z)
{
    return 0.5 * erfc(-z / M_SQRT2);
}

/* The closed-form call price and delta (Black and Scholes, 1973). */
static void call_exact(double sigma, double r, double s, double tau,
                       double *price, double *delta)
{
    double sd = sigma * sqrt(tau);
    double d1, d2;

    if (tau == 0) {
        *price = fmax(s - STRIKE, 0.0);
        *delta = s > STRIKE;
        return;
    }
    d1 = (log(s / STRIKE) + (r + 0.5 * sigma * sigma) * tau) / sd;
    d2 = d1 - sd;
    *price = s * norm_cdf(d1) - STRIKE * exp(-r * tau) * norm_cdf(d2);
    *delta = norm_cdf(d1);
}

/* The closed form checked on its own: put-call parity's call side and a
 * textbook value (S = K = 100, sigma 0.2, r 0.05, tau 1: 10.4506). */
static void test_reference(void)
{
    double price, delta;

    call_exact(0.2, 0.05, 100, 1, &price, &delta);
    CHECK_NEAR(price, 10.450584, 1e-6, "textbook call value");
    CHECK_NEAR(delta, 0.636831, 1e-6, "textbook call delta");
}

/* Every node of the default grid against the closed form. */
static void test_default_grid(void)
{
    const tb_problem *p = tb_problem_find("blackscholes");
    double worst[2] = {0, 0}, in[4], want[2];
    tb_table t = {0};
    tb_error err;
    int rc;

    CHECK(p != NULL, "blackscholes is a built-in problem");
    if (!p)
        return;
    tb_error_clear(&err);
    rc = tb_tabulate(p, NULL, NULL, 0, NULL, NULL, &t, &err);
    CHECK(rc == 0 && t.n_failed == 0, "tabulate the default grid: %s",
          err.text);
    for (size_t i = 0; rc == 0 && i < t.n_nodes; i++) {
        tb_table_node(&t, i, in);
        call_exact(in[0], in[1], in[2], in[3], &want[0], &want[1]);
        for (int o = 0; o < 2; o++)
            worst[o] =
                fmax(worst[o], fabs(t.values[o * t.n_nodes + i] - want[o]));
    }
    printf("blackscholes: default grid (%zu nodes, mesh %d): max error "
           "price %.3e, delta %.3e, %.1f s\n",
           t.n_nodes, p->defaults.mesh, worst[0], worst[1], t.seconds);
    CHECK(worst[0] < PRICE_TOL, "price error %.3e < %.0e", worst[0], PRICE_TOL);
    CHECK(worst[1] < DELTA_TOL, "delta error %.3e < %.0e", worst[1], DELTA_TOL);
    tb_table_free(&t);
}

/* The largest price error over a few points of the hardest corner (short
 * expiry, low volatility, near the strike) for one mesh. */
static double mesh_error(const tb_problem *p, int mesh)
{
    static const double pts[][4] = {
        {0.1, 0.05, 95, 0.05}, {0.1, 0.05, 100, 0.05}, {0.1, 0.05, 105, 0.05},
        {0.3, 0.0, 80, 0.5},   {0.5, 0.1, 120, 2.0},   {0.2, 0.03, 101, 0.2},
    };
    enum { N = sizeof(pts) / sizeof(pts[0]) };
    tb_solver_opts o = {.rtol = 1e-10, .atol = 1e-10, .mesh = mesh};
    double out[N * 2], worst = 0, want, delta;
    tb_error err;

    tb_error_clear(&err);
    CHECK(tb_solve_points(p, &o, &pts[0][0], N, out, NULL, &err) == 0,
          "solve on mesh %d: %s", mesh, err.text);
    for (int i = 0; i < N; i++) {
        call_exact(pts[i][0], pts[i][1], pts[i][2], pts[i][3], &want, &delta);
        worst = fmax(worst, fabs(out[2 * i] - want));
    }
    return worst;
}

/* Halving h twice: the error falls by about 4 each time, second order
 * (the payoff's kink limits the fourth-order stencil to second order). */
static void test_convergence(void)
{
    const tb_problem *p = tb_problem_find("blackscholes");
    int meshes[3] = {300, 600, 1200};
    double e[3];

    for (int k = 0; k < 3; k++)
        e[k] = mesh_error(p, meshes[k]);
    printf("blackscholes: price error on meshes %d, %d, %d: %.3e %.3e %.3e, "
           "observed orders %.2f %.2f\n",
           meshes[0], meshes[1], meshes[2], e[0], e[1], e[2], log2(e[0] / e[1]),
           log2(e[1] / e[2]));
    CHECK(log2(e[0] / e[1]) > 1.7 && log2(e[1] / e[2]) > 1.7,
          "second order or better: %.2f %.2f", log2(e[0] / e[1]),
          log2(e[1] / e[2]));
}

int main(void)
{
    tb_log_set_level(TB_LOG_ERROR);
    test_reference();
    test_default_grid();
    test_convergence();
    return tu_finish("blackscholes");
}

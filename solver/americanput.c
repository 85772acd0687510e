/*
 * americanput.c - the value V(S, tau) of an American put with strike
 * K = 100 (homogeneity gives any other strike), for volatility sigma and
 * interest rate r, with tau the time to expiry.  No closed form exists.
 *
 * Early exercise makes V >= K - S everywhere: a linear complementarity
 * problem, solved by the penalty method (Forsyth and Vetzal, 2002),
 *   V_tau = L V + rho max(K - S - V, 0),
 * with L the Black-Scholes operator in the log-price on the mesh of
 * logprice.c.  Where exercise is optimal the penalty holds V within
 * r K / rho of the payoff (1e-6 for rho = 1e7); elsewhere it vanishes.
 * CVODE integrates the penalised system like any stiff one; the penalty's
 * kink only costs it some step-size retries.
 *
 * Boundaries: far below the strike the put is exercised, V = K - S; far
 * above it is worthless.  Outputs: the price and delta = dV/dS.
 */
#include "solver_int.h"

#include <math.h>

#define PENALTY 1e5  /* rho */
#define SMOOTH  1e-4 /* eps, the width of the smoothed max, in price */

/* max(g, 0) with its corner rounded over |g| < eps, so that CVODE's
 * Newton iteration sees a differentiable right-hand side. */
static double smooth_max0(double g)
{
    return 0.5 * (g + sqrt(g * g + SMOOTH * SMOOTH));
}

static double put_u0(const mol_ctx *c, int k, double xi)
{
    (void)k;
    return tbs_lp_payoff(c, xi, 0);
}

/* Exercised far below the strike, worthless far above it. */
static void put_bc(const mol_ctx *c, double t, double *lo, double *hi)
{
    (void)c, (void)t;
    lo[0] = TBS_LP_STRIKE * (1.0 - exp(tbs_lp_x(-TBS_LP_XI_FAR)));
    hi[0] = 0.0;
}

static int put_rhs(const mol_ctx *c, double t, const double *const *f,
                   double *const *df)
{
    const double *u = f[0];
    double sigma = c->params[0], r = c->params[1];

    (void)t;
    for (int i = 1; i < c->mesh; i++) {
        double s = TBS_LP_STRIKE * exp(tbs_lp_x(c->x_lo + i * c->h));
        double gap = TBS_LP_STRIKE - s - u[i];

        df[0][i - 1] =
            tbs_lp_operator(c, u, i, sigma, r) + PENALTY * smooth_max0(gap);
    }
    return 0;
}

static const struct tb_problem_ops put_ops = {
    TBS_LP_OPS,
    .bc = put_bc,
    .u0 = put_u0,
    .rhs = put_rhs,
};

/* The default grid is blackscholes's, on a coarser mesh;
 * tests/test_americanput.c measures the error against a binomial tree. */
const tb_problem tbs_americanput = {
    .name = "americanput",
    .summary = "American put V(S, tau; sigma, r), strike 100, penalty "
               "method on a log-price mesh; price and delta",
    TBS_LP_GRID,
    .defaults = {.rtol = 1e-6, .atol = 1e-6, .max_steps = 50000, .mesh = 600},
    .ops = &put_ops,
};

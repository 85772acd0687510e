/*
 * logprice.c - the mesh shared by the option problems (blackscholes,
 * americanput): the log-price x = log(S / K), strike K = 100, on
 * [-X_FAR, X_FAR], with nodes packed near the strike.
 *
 * At short expiry a price curves sharply within sigma sqrt(tau) of the
 * strike (0.022 in x for tau = 0.05, sigma = 0.1), so the mesh is uniform
 * in xi with x = C sinh(xi): the spacing in x is C cosh(xi) h, three times
 * finer at the strike than at S = 50.  With g = C sinh,
 *   V_x = V_xi / g'   and   V_xx = (V_xixi - g'' V_x) / g'^2,
 * each V_xi and V_xixi by fourth-order central differences.
 *
 * A payoff's kink at the strike is smoothed by giving the node next to it
 * the payoff's average over its cell, which keeps the scheme's error
 * smooth in the mesh (a nodal payoff makes it depend on where the kink
 * falls between nodes).  The kink still limits the scheme to second order.
 */
#include "solver_int.h"

#include <math.h>

#define STRETCH 0.25 /* C in x = C sinh(xi): smaller packs more at K */

/* Return the log-price x of mesh coordinate xi. */
double tbs_lp_x(double xi)
{
    return STRETCH * sinh(xi);
}

/* Return the mesh coordinate of a price: xi = asinh(log(S / K) / C). */
double tbs_lp_to_mesh(const mol_ctx *c, double s)
{
    (void)c;
    return asinh(log(s / TBS_LP_STRIKE) / STRETCH);
}

/* The call payoff K (e^x - 1)^+ averaged over x in [a, b]. */
static double call_average(double a, double b)
{
    double lo = a > 0 ? a : 0;

    if (b <= 0)
        return 0;
    return TBS_LP_STRIKE * ((exp(b) - exp(lo)) - (b - lo)) / (b - a);
}

/* The put payoff K (1 - e^x)^+ averaged over x in [a, b]. */
static double put_average(double a, double b)
{
    double hi = b < 0 ? b : 0;

    if (a >= 0)
        return 0;
    return TBS_LP_STRIKE * ((hi - a) - (exp(hi) - exp(a))) / (b - a);
}

/* Return the payoff (a call's when call, else a put's) at node xi of the
 * mesh, averaged over the node's cell when the kink lies inside it. */
double tbs_lp_payoff(const mol_ctx *c, double xi, int call)
{
    double a = tbs_lp_x(xi - 0.5 * c->h), b = tbs_lp_x(xi + 0.5 * c->h);
    double s = exp(tbs_lp_x(xi)) - 1.0;

    if (a >= 0 || b <= 0)
        return TBS_LP_STRIKE * fmax(call ? s : -s, 0.0);
    return call ? call_average(a, b) : put_average(a, b);
}

/* V_xi and V_xixi at node i, fourth order (times 12 h and 12 h^2). */
static void diffs(const double *u, int i, double *d1, double *d2)
{
    *d1 = u[i - 2] - 8.0 * u[i - 1] + 8.0 * u[i + 1] - u[i + 2];
    *d2 = -u[i - 2] + 16.0 * (u[i - 1] + u[i + 1]) - 30.0 * u[i] - u[i + 2];
}

/* Return the Black-Scholes operator at interior node i:
 * sigma^2/2 V_xx + (r - sigma^2/2) V_x - r V. */
double tbs_lp_operator(const mol_ctx *c, const double *u, int i, double sigma,
                       double r)
{
    double h = c->h, xi = c->x_lo + i * h, d1, d2;
    double g1 = STRETCH * cosh(xi), g2 = STRETCH * sinh(xi);
    double ux, uxx;

    diffs(u, i, &d1, &d2);
    ux = d1 / (12.0 * h) / g1;
    uxx = (d2 / (12.0 * h * h) - g2 * ux) / (g1 * g1);
    return 0.5 * sigma * sigma * uxx + (r - 0.5 * sigma * sigma) * ux -
           r * u[i];
}

/* Write price and delta = V_x / S at every node, [output][node]; delta by
 * the same fourth-order difference (the two nodes at each end use the
 * ghosts, far from any tabulated price). */
void tbs_lp_outputs(const mol_ctx *c, const double *const *f, double *out)
{
    const double *u = f[0];
    int nodes = c->mesh + 1;

    for (int i = 0; i < nodes; i++) {
        double xi = c->x_lo + i * c->h, d1, d2;

        diffs(u, i, &d1, &d2);
        out[i] = u[i];
        out[nodes + i] = d1 / (12.0 * c->h) / (STRETCH * cosh(xi)) /
                         (TBS_LP_STRIKE * exp(tbs_lp_x(xi)));
    }
}

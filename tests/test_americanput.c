/*
 * test_americanput.c - the americanput problem against a binomial tree
 * written here (Cox, Ross and Rubinstein, 1979) at the literature's
 * standard benchmark points: K = 40, S = 36..44, r = 0.06, sigma 0.2 and
 * 0.4, T 1 and 2, scaled to K = 100 by homogeneity (S = 90..110, values
 * times 2.5).
 *
 * The tree's price oscillates with the step count n; the average of n and
 * n + 1 steps at n = 4000 is within 1e-4 (at K = 100) of the same average
 * at n = 8000, which the test measures at one point and states.  Some
 * published finite-difference tables for these points are only good to
 * about 1e-2, so none is used.
 *
 * Target: every point within 2e-3 of the tree.
 */
#include "solver.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define STRIKE   100.0
#define RATE     0.06
#define TARGET   2e-3 /* the bound, at K = 100 */
#define TREE_N   4000 /* steps of the tree (averaged with n + 1) */
#define TREE_TOL 1e-4 /* the tree's own accuracy, measured below */

/* The American put by a CRR tree of n steps.  v holds n + 1 values. */
static double tree_n(double s0, double sigma, double r, double T, int n,
                     double *v)
{
    double dt = T / n, u = exp(sigma * sqrt(dt)), d = 1.0 / u;
    double p = (exp(r * dt) - d) / (u - d), disc = exp(-r * dt);
    double pu = disc * p, pd = disc * (1.0 - p);

    /* Node j at step i has price s0 u^j d^(i-j) = s0 u^(2j - i). */
    for (int j = 0; j <= n; j++)
        v[j] = fmax(STRIKE - s0 * pow(u, 2.0 * j - n), 0.0);
    for (int i = n - 1; i >= 0; i--) {
        double s = s0 * pow(u, -i); /* j = 0 at step i */
        double u2 = u * u;

        for (int j = 0; j <= i; j++, s *= u2)
            v[j] = fmax(pu * v[j + 1] + pd * v[j], STRIKE - s);
    }
    return v[0];
}

/* The average of n and n + 1 steps, which cancels most of the
 * oscillation in n. */
static double tree(double s0, double sigma, double r, double T, int n)
{
    double *v = malloc(sizeof(double) * (size_t)(n + 2));
    double a, b;

    if (!v)
        return NAN;
    a = tree_n(s0, sigma, r, T, n, v);
    b = tree_n(s0, sigma, r, T, n + 1, v);
    free(v);
    return 0.5 * (a + b);
}

/* The tree on its own: converged to TREE_TOL at n = TREE_N, and the
 * classic value at K = 40, S = 36, sigma 0.2, T 1 (4.4867 to 4 places). */
static void test_tree(void)
{
    double a = tree(90, 0.2, RATE, 1, TREE_N);
    double b = tree(90, 0.2, RATE, 1, 2 * TREE_N);

    printf("americanput: tree at S=90 sigma=0.2 T=1: n=%d %.6f, n=%d "
           "%.6f\n",
           TREE_N, a, 2 * TREE_N, b);
    CHECK(fabs(a - b) < TREE_TOL, "tree converged: %.2e", fabs(a - b));
    CHECK_NEAR(b / 2.5, 4.4867, 1e-4, "the classic K=40 value");
}

/* The 20 benchmark points, solved in one call, against the tree. */
static void test_benchmarks(void)
{
    const tb_problem *p = tb_problem_find("americanput");
    double in[20][4], out[40], worst = 0, at[4] = {0};
    tb_error err;
    int n = 0;

    CHECK(p != NULL, "americanput is a built-in problem");
    if (!p)
        return;
    for (int si = 0; si < 2; si++)
        for (int ti = 0; ti < 2; ti++)
            for (int k = 0; k < 5; k++, n++) {
                in[n][0] = si ? 0.4 : 0.2;
                in[n][1] = RATE;
                in[n][2] = 90.0 + 5.0 * k;
                in[n][3] = ti ? 2.0 : 1.0;
            }
    tb_error_clear(&err);
    CHECK(tb_solve_points(p, NULL, &in[0][0], 20, out, NULL, &err) == 0,
          "solve the benchmark points: %s", err.text);
    for (int i = 0; i < 20; i++) {
        double ref = tree(in[i][2], in[i][0], RATE, in[i][3], TREE_N);
        double e = fabs(out[2 * i] - ref);

        if (!(e <= worst)) { /* NaN counts as the worst */
            worst = e;
            for (int k = 0; k < 4; k++)
                at[k] = in[i][k];
        }
    }
    printf("americanput: 20 benchmark points, max error %.3e against the "
           "tree (at sigma=%g S=%g T=%g)\n",
           worst, at[0], at[2], at[3]);
    CHECK(worst < TARGET, "max error %.3e < %.0e", worst, TARGET);
}

/* Halving h twice at one benchmark point (tight tolerances, so that the
 * mesh error dominates): the differences between successive meshes fall
 * by about 3.5, an observed order near 1.8 (the free boundary and the
 * payoff's kink keep it below the stencil's 4). */
static void test_convergence(void)
{
    const tb_problem *p = tb_problem_find("americanput");
    double in[4] = {0.4, RATE, 105, 1}, v[3], out[2], d1, d2;
    int meshes[3] = {150, 300, 600};
    tb_error err;

    for (int k = 0; k < 3; k++) {
        tb_solver_opts o = {.rtol = 1e-8, .atol = 1e-8, .mesh = meshes[k]};

        tb_error_clear(&err);
        CHECK(tb_solve_points(p, &o, in, 1, out, NULL, &err) == 0,
              "solve on mesh %d: %s", meshes[k], err.text);
        v[k] = out[0];
    }
    d1 = fabs(v[0] - v[1]);
    d2 = fabs(v[1] - v[2]);
    printf("americanput: price on meshes %d, %d, %d: %.7f %.7f %.7f, "
           "observed order %.2f\n",
           meshes[0], meshes[1], meshes[2], v[0], v[1], v[2], log2(d1 / d2));
    CHECK(log2(d1 / d2) > 1.5, "order above 1.5: %.2f", log2(d1 / d2));
}

int main(void)
{
    tb_log_set_level(TB_LOG_ERROR);
    test_tree();
    test_benchmarks();
    test_convergence();
    return tu_finish("americanput");
}

/*
 * test_fhn1d.c - the fhn1d problem (FitzHugh-Nagumo travelling pulse)
 * against the same discretisation on meshes refined twice.
 *
 * There is no closed form.  With u_h the solution on mesh h, the
 * differences |u_h - u_h/2| and |u_h/2 - u_h/4| fall by 2^p for a scheme
 * of order p; the second-order central differences here must show
 * p = 2 +- 0.2.  The default mesh's error is then stated as its maximum
 * difference from the mesh four times finer (which is itself 16 times
 * closer to the limit).  A physical check: the pulse travels to the
 * right at a speed near (1 - 2a)/sqrt(2), the cubic model's front speed.
 */
#include "solver.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NX      101
#define NT      5
#define ERR_TOL 1e-3 /* the default mesh against the finest, stated */

/* v and w over x = 0..50 (101 nodes) at t = 0, 10, .., 40 on one mesh. */
static int solve_on(int mesh, const double *params, double *out)
{
    const tb_problem *p = tb_problem_find("fhn1d");
    tb_axis coords[2] = {p->inputs[2], p->inputs[3]};
    tb_solver_opts o = {.rtol = 1e-10, .atol = 1e-12, .mesh = mesh};
    tb_error err;
    int rc;

    coords[0].n = NX;
    coords[1].n = NT;
    tb_error_clear(&err);
    rc = tb_solve_grid(p, &o, params, coords, out, &err);
    CHECK(rc == 0, "fhn1d on mesh %d: %s", mesh, err.text);
    return rc;
}

static double max_diff(const double *a, const double *b, size_t n)
{
    double worst = 0;

    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(a[i] - b[i]));
    return worst;
}

/* The pulse's front at time node j: the rightmost x node with v > 0.5. */
static int front(const double *out, int j)
{
    for (int ix = NX - 1; ix > 0; ix--)
        if (out[ix * NT + j] > 0.5)
            return ix;
    return 0;
}

/* Meshes 800 (the default), 1600 and 3200 for one tuple. */
static void refine(double a, double eps)
{
    const tb_problem *p = tb_problem_find("fhn1d");
    static double u[3][2 * NX * NT];
    double params[2] = {a, eps}, d1, d2, order, speed;
    int m = p->defaults.mesh;

    if (solve_on(m, params, u[0]) || solve_on(2 * m, params, u[1]) ||
        solve_on(4 * m, params, u[2]))
        return;
    d1 = max_diff(u[0], u[1], 2 * NX * NT);
    d2 = max_diff(u[1], u[2], 2 * NX * NT);
    order = log2(d1 / d2);
    speed = (front(u[2], 4) - front(u[2], 2)) * 0.5 / 20.0;
    printf("fhn1d: a=%g epsilon=%g: differences %.3e %.3e, observed order "
           "%.2f; default mesh %d within %.3e of mesh %d; pulse speed %.3f "
           "(front estimate %.3f)\n",
           a, eps, d1, d2, order, m, max_diff(u[0], u[2], 2 * NX * NT), 4 * m,
           speed, (1 - 2 * a) / sqrt(2.0));
    CHECK(fabs(order - 2.0) < 0.2, "second order: %.2f", order);
    CHECK(max_diff(u[0], u[2], 2 * NX * NT) < ERR_TOL,
          "default mesh error below %.0e", ERR_TOL);
    CHECK(speed > 0.5 * (1 - 2 * a) / sqrt(2.0) &&
              speed < 1.2 * (1 - 2 * a) / sqrt(2.0),
          "the pulse travels right at %.3f", speed);
}

int main(void)
{
    tb_log_set_level(TB_LOG_ERROR);
    refine(0.1, 0.01);
    refine(0.05, 0.002);
    return tu_finish("fhn1d");
}

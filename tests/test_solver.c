/*
 * test_solver.c - the solver against independent references: heat1d
 * against its exact solution, burgers1d against the Cole-Hopf solution
 * computed here by quadrature; off-node points; failures that must give
 * NaN and a negative status; bad inputs; two threads solving at once.
 */
#include "solver.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HEAT_TOL    1e-5 /* the bound on the default grid */
#define BURGERS_TOL 1e-3 /* away from the front, |x| >= 0.1 */
#define FRONT_HALF  0.1  /* what "near the front" means */
#define BURGERS_NU  (0.01 / M_PI)

static double heat_exact(double alpha, double x, double t)
{
    return exp(-alpha * M_PI * M_PI * t) * sin(M_PI * x);
}

/* ---- the Cole-Hopf reference for burgers1d ---------------------------- */

/*
 * With u = -2 nu phi_x / phi, Burgers becomes the heat equation for phi,
 * and u(x,0) = -sin(pi x) gives phi(y,0) = exp((1 - cos(pi y))/(2 pi nu)).
 * Convolving with the heat kernel and differentiating under the integral:
 *
 *   u(x,t) = -I1 / I0,  Ik = integral of s(eta)^k exp(E(eta)) d eta,
 *   s(eta) = sin(pi (x - eta)),
 *   E(eta) = -cos(pi (x - eta)) / (2 pi nu) - eta^2 / (4 nu t).
 *
 * exp(E) is a narrow peak (or two, near the front), so the trapezoid rule
 * on a step far below the peak width converges spectrally; E's maximum is
 * subtracted before exponentiating.  steps_per_width sets the resolution.
 */
static double cole_hopf(double nu, double x, double t, double steps_per_width)
{
    double width = sqrt(2.0 * nu * t / (M_PI * t + 1.0));
    double reach =
        sqrt(2.0 * t * (1.0 + cos(M_PI * x)) / M_PI + 200.0 * nu * t) +
        10.0 * width;
    double d = width / steps_per_width, emax = -INFINITY, i0 = 0, i1 = 0;
    long n = (long)ceil(reach / d);

    if (t == 0)
        return -sin(M_PI * x);
    for (long k = -n; k <= n; k++) {
        double eta = k * d;
        double e =
            -cos(M_PI * (x - eta)) / (2 * M_PI * nu) - eta * eta / (4 * nu * t);
        if (e > emax)
            emax = e;
    }
    for (long k = -n; k <= n; k++) {
        double eta = k * d;
        double e =
            -cos(M_PI * (x - eta)) / (2 * M_PI * nu) - eta * eta / (4 * nu * t);
        double w = exp(e - emax);

        i0 += w;
        i1 += sin(M_PI * (x - eta)) * w;
    }
    return -i1 / i0;
}

/* The reference checked on its own: converged in its resolution, and the
 * steepest slope of the front, reached at t = 1.6037/pi for nu = 0.01/pi,
 * against the value -152.00516 that Basdevant et al. (1986) report. */
static void test_reference(void)
{
    double worst = 0, h = 1e-7, t = 1.6037 / M_PI, slope;

    for (double x = -0.9; x <= 0.9; x += 0.15)
        for (double tt = 0.05; tt <= 1.0; tt += 0.3) {
            double a = cole_hopf(BURGERS_NU, x, tt, 10);
            double b = cole_hopf(BURGERS_NU, x, tt, 20);

            worst = fmax(worst, fabs(a - b));
        }
    CHECK(worst < 1e-12, "Cole-Hopf quadrature converged (changes %g)", worst);

    slope =
        (cole_hopf(BURGERS_NU, h, t, 20) - cole_hopf(BURGERS_NU, -h, t, 20)) /
        (2 * h);
    CHECK_NEAR(slope, -152.00516, 1e-3, "Cole-Hopf slope at x=0, t=1.6037/pi");
}

/* ---- the problems ---------------------------------------------------- */

static void test_registry(void)
{
    const tb_problem *heat = tb_problem_find("heat1d");
    const tb_problem *burgers = tb_problem_find("burgers1d");

    static const char *const names[] = {"heat1d",       "burgers1d",
                                        "blackscholes", "americanput",
                                        "robertson",    "fhn1d"};
    int n = (int)(sizeof(names) / sizeof(names[0]));

    CHECK(tb_problem_count() == n, "%d problems (%d)", n, tb_problem_count());
    for (int i = 0; i < n; i++)
        CHECK(tb_problem_at(i) && tb_problem_find(names[i]) == tb_problem_at(i),
              "problem %d is %s, found by name", i, names[i]);
    CHECK(heat && burgers, "both problems found by name");
    CHECK(tb_problem_find("nope") == NULL, "an unknown name gives NULL");
    CHECK(tb_problem_at(n) == NULL && tb_problem_at(-1) == NULL,
          "out-of-range index gives NULL");
    CHECK(tb_problem_input(heat, "t") == 2 && tb_problem_input(heat, "u") < 0,
          "inputs by name");

    for (int i = 0; i < tb_problem_count(); i++) {
        const tb_problem *p = tb_problem_at(i);
        tb_solver_opts o = {0};
        tb_error err;

        tb_error_clear(&err);
        /* An ODE system (t its only coordinate) has mesh 0. */
        CHECK(tb_solver_opts_resolve(p, &o, &err) == 0 &&
                  (o.mesh > 0) == (p->n_coords > 1),
              "%s defaults resolve: %s", p->name, err.text);
        for (int k = 0; k < p->n_params + p->n_coords; k++)
            CHECK(tb_axis_check(p, k, &p->inputs[k], &err) == 0,
                  "%s default axis %d passes: %s", p->name, k, err.text);
    }
}

/* heat1d over its whole default grid against the exact solution. */
static void test_heat_default_grid(void)
{
    const tb_problem *p = tb_problem_find("heat1d");
    const tb_axis *a = &p->inputs[0], *xa = &p->inputs[1], *ta = &p->inputs[2];
    size_t count = (size_t)xa->n * ta->n;
    double *out = malloc(count * sizeof(double));
    double worst = 0, t0 = tb_now(), secs;
    tb_error err;

    for (int i = 0; i < a->n; i++) {
        double alpha = tb_axis_node(a, i);

        tb_error_clear(&err);
        CHECK(tb_solve_grid(p, NULL, &alpha, xa, out, &err) == 0,
              "heat1d alpha=%g solves: %s", alpha, err.text);
        for (int ix = 0; ix < xa->n; ix++)
            for (int it = 0; it < ta->n; it++) {
                double want = heat_exact(alpha, tb_axis_node(xa, ix),
                                         tb_axis_node(ta, it));
                double e = fabs(out[(size_t)ix * ta->n + it] - want);

                worst = isfinite(e) ? fmax(worst, e) : INFINITY;
            }
    }
    secs = (tb_now() - t0) / a->n;
    CHECK(worst < HEAT_TOL, "heat1d max error %.3g over the default grid",
          worst);
    printf("heat1d: max error %.3e over the default grid (%zu nodes), "
           "%.2f ms per solve\n",
           worst, count * (size_t)a->n, 1e3 * secs);
    free(out);
}

/* burgers1d at the smallest nu on its default coordinate grid against
 * Cole-Hopf: 1e-3 away from the front, and the figure near it printed. */
static void test_burgers_smallest_nu(void)
{
    const tb_problem *p = tb_problem_find("burgers1d");
    const tb_axis *xa = &p->inputs[1], *ta = &p->inputs[2];
    double nu = p->inputs[0].lo, away = 0, near = 0, t0, secs;
    double *out = malloc((size_t)xa->n * ta->n * sizeof(double));
    tb_error err;
    int rc;

    CHECK_NEAR(nu, BURGERS_NU, 1e-15, "the smallest default nu");
    tb_error_clear(&err);
    t0 = tb_now();
    rc = tb_solve_grid(p, NULL, &nu, xa, out, &err);
    secs = tb_now() - t0;
    CHECK(rc == 0, "burgers1d at the smallest nu solves: %s", err.text);

    for (int ix = 0; ix < xa->n; ix++)
        for (int it = 0; it < ta->n; it++) {
            double x = tb_axis_node(xa, ix), t = tb_axis_node(ta, it);
            double e =
                fabs(out[(size_t)ix * ta->n + it] - cole_hopf(nu, x, t, 10));

            e = isfinite(e) ? e : INFINITY;
            if (fabs(x) >= FRONT_HALF - 1e-12)
                away = fmax(away, e);
            else
                near = fmax(near, e);
        }
    CHECK(away < BURGERS_TOL, "burgers1d max error %.3g for |x| >= 0.1", away);
    printf("burgers1d: nu=%.6f max error %.3e for |x| >= %.1f, %.3e for "
           "|x| < %.1f; %.1f ms per solve\n",
           nu, away, FRONT_HALF, near, FRONT_HALF, 1e3 * secs);
    free(out);
}

/* Inside the front at the smallest nu, off the table's nodes: the figure
 * is printed, and held below a loose bound so a regression shows. */
static void test_burgers_front(void)
{
    const tb_problem *p = tb_problem_find("burgers1d");
    enum { NX = 201, NT = 5, N = NX * NT };
    double *in = malloc(sizeof(double) * 3 * N),
           *out = malloc(sizeof(double) * N);
    double worst = 0;
    tb_error err;

    for (int k = 0; k < N; k++) {
        in[3 * k] = BURGERS_NU;
        in[3 * k + 1] =
            -FRONT_HALF + 2 * FRONT_HALF * (k % NX) / (NX - 1) + 1e-4;
        in[3 * k + 2] = 0.2 * (1 + k / NX);
    }
    tb_error_clear(&err);
    CHECK(tb_solve_points(p, NULL, in, N, out, NULL, &err) == 0,
          "points across the front solve: %s", err.text);
    for (int k = 0; k < N; k++) {
        double e = fabs(
            out[k] - cole_hopf(BURGERS_NU, in[3 * k + 1], in[3 * k + 2], 10));
        worst = isfinite(e) ? fmax(worst, e) : INFINITY;
    }
    CHECK(worst < 2e-3, "burgers1d max error %.3g across the front", worst);
    printf("burgers1d: nu=%.6f max error %.3e at %d off-node points with "
           "|x| < %.1f, t in [0.2, 1]\n",
           BURGERS_NU, worst, N, FRONT_HALF);
    free(in);
    free(out);
}

/* ---- off-node points ------------------------------------------------- */

static unsigned long rng = 12345;

static double uniform(double lo, double hi)
{
    rng = rng * 6364136223846793005UL + 1442695040888963407UL;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

/* Points between mesh nodes and between table times, several sharing each
 * alpha, in no particular order: the exact solution within 1e-5. */
static void test_points_off_node(void)
{
    const tb_problem *p = tb_problem_find("heat1d");
    enum { N = 120 };
    double in[N * 3], out[N], alphas[4] = {0.013, 0.2718, 0.5, 0.99};
    double worst = 0;
    int status[N];
    tb_error err;
    int rc;

    for (int i = 0; i < N; i++) {
        in[3 * i] = alphas[i % 4];
        in[3 * i + 1] = uniform(0, 1);
        in[3 * i + 2] = i % 17 == 0 ? 0.0 : uniform(0, 1);
    }
    in[3 * 5 + 2] = in[3 * 9 + 2]; /* a repeated time within a group */

    tb_error_clear(&err);
    rc = tb_solve_points(p, NULL, in, N, out, status, &err);
    CHECK(rc == 0, "off-node points solve: %s", err.text);
    for (int i = 0; i < N; i++) {
        double want = heat_exact(in[3 * i], in[3 * i + 1], in[3 * i + 2]);

        CHECK(status[i] == 0, "point %d status %d", i, status[i]);
        worst = fmax(worst, isfinite(out[i]) ? fabs(out[i] - want) : INFINITY);
    }
    CHECK(worst < HEAT_TOL, "off-node heat1d max error %.3g", worst);
    printf("heat1d: max error %.3e at %d off-node points\n", worst, N);
}

/* burgers1d off the mesh, away from the front, against Cole-Hopf. */
static void test_points_burgers(void)
{
    const tb_problem *p = tb_problem_find("burgers1d");
    enum { N = 24 };
    double in[N * 3], out[N], worst = 0;
    tb_error err;

    for (int i = 0; i < N; i++) {
        double x = uniform(0.1, 0.97);

        in[3 * i] = i % 2 ? BURGERS_NU : 0.05;
        in[3 * i + 1] = i % 3 ? x : -x;
        in[3 * i + 2] = uniform(0, 1);
    }
    tb_error_clear(&err);
    CHECK(tb_solve_points(p, NULL, in, N, out, NULL, &err) == 0,
          "burgers1d points solve: %s", err.text);
    for (int i = 0; i < N; i++) {
        double want = cole_hopf(in[3 * i], in[3 * i + 1], in[3 * i + 2], 10);

        worst = fmax(worst, isfinite(out[i]) ? fabs(out[i] - want) : INFINITY);
    }
    CHECK(worst < BURGERS_TOL, "off-node burgers1d max error %.3g", worst);
}

/* ---- failures -------------------------------------------------------- */

static int all_nan(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            return 0;
    return 1;
}

/* Too little work allowed: NaN and a negative status, never zeros, with the
 * tuple and CVODE's reason in the message. */
static void test_forced_failure(void)
{
    const tb_problem *p = tb_problem_find("heat1d");
    tb_solver_opts o = {.max_steps = 1};
    double alpha = 0.5, out[64 * 64], in[6] = {0.5, 0.3, 0.9, 0.7, 0.4, 0.0};
    double pout[2] = {1, 1};
    int status[2] = {0, 0}, rc;
    tb_error err;

    tb_error_clear(&err);
    rc = tb_solve_grid(p, &o, &alpha, &p->inputs[1], out, &err);
    CHECK(rc < 0, "a starved solve fails (%d)", rc);
    CHECK(all_nan(out, 64 * 64), "a failed solve gives NaN everywhere");
    CHECK(strstr(err.text, "alpha=0.5") != NULL,
          "the message names the tuple: %s", err.text);
    CHECK(strstr(err.text, "CV_TOO_MUCH_WORK") != NULL,
          "the message gives CVODE's reason: %s", err.text);

    /* In a batch: the group at t = 0 needs no step, the other fails. */
    tb_error_clear(&err);
    rc = tb_solve_points(p, &o, in, 2, pout, status, &err);
    CHECK(rc == TB_PARTIAL, "a batch with a failed group is partial (%d)", rc);
    CHECK(status[0] < 0 && isnan(pout[0]), "failed point: status %d, out %g",
          status[0], pout[0]);
    CHECK(status[1] == 0, "the t=0 point survives: status %d", status[1]);
    CHECK_NEAR(pout[1], sin(M_PI * 0.4), 1e-7, "the t=0 point's value");
}

/* Bad inputs are refused with the right code and a useful message. */
static void test_bad_inputs(void)
{
    const tb_problem *p = tb_problem_find("heat1d");
    double in[6] = {0.5, 0.5, 0.5, 5000, 0.5, 0.5}, out[2], alpha = 0.5;
    tb_solver_opts o = {.rtol = -1};
    tb_axis ax[2];
    tb_error err;

    tb_error_clear(&err);
    CHECK(tb_solve_points(p, NULL, in, 2, out, NULL, &err) == TB_EDOMAIN,
          "alpha out of limits is TB_EDOMAIN");
    CHECK(strcmp(err.where, "alpha") == 0 && strstr(err.text, "point 1"),
          "the message names input and point: %s / %s", err.where, err.text);

    in[3] = NAN;
    tb_error_clear(&err);
    CHECK(tb_solve_points(p, NULL, in, 2, out, NULL, &err) == TB_EINVAL,
          "a NaN input is TB_EINVAL: %s", err.text);
    in[3] = 0.5;
    in[5] = -0.1;
    tb_error_clear(&err);
    CHECK(tb_solve_points(p, NULL, in, 2, out, NULL, &err) == TB_EDOMAIN &&
              strcmp(err.where, "t") == 0,
          "negative time is TB_EDOMAIN naming t: %s", err.text);

    tb_error_clear(&err);
    CHECK(tb_solve_points(p, &o, in, 1, out, NULL, &err) == TB_EINVAL &&
              strcmp(err.where, "rtol") == 0,
          "negative rtol refused: %s", err.text);
    o = (tb_solver_opts){.mesh = 3};
    tb_error_clear(&err);
    CHECK(tb_solve_grid(p, &o, &alpha, &p->inputs[1], out, &err) == TB_EINVAL &&
              strcmp(err.where, "mesh") == 0,
          "a too-coarse mesh is refused: %s", err.text);
    tb_error_clear(&err);
    CHECK(tb_solve_grid(p, NULL, NULL, &p->inputs[1], out, &err) == TB_EINVAL,
          "no parameters is TB_EINVAL");

    memcpy(ax, &p->inputs[1], sizeof(ax));
    ax[0].n = 1;
    tb_error_clear(&err);
    CHECK(tb_solve_grid(p, NULL, &alpha, ax, out, &err) == TB_EINVAL &&
              strcmp(err.where, "x") == 0,
          "a one-node axis is refused: %s", err.text);
    memcpy(ax, &p->inputs[1], sizeof(ax));
    ax[1].hi = 2000;
    tb_error_clear(&err);
    CHECK(tb_axis_check(p, 2, &ax[1], &err) == TB_EINVAL &&
              strstr(err.text, "accepts"),
          "an axis past the limits is refused: %s", err.text);
    tb_error_clear(&err);
    CHECK(tb_axis_check(p, 1, &ax[1], &err) == TB_EINVAL &&
              strstr(err.text, "expected 'x'"),
          "an axis in the wrong place is refused: %s", err.text);
}

/* ---- threads --------------------------------------------------------- */

struct solve_job {
    const char *problem;
    double param;
    tb_axis coords[2];
    double *out;
    int rc;
};

static void *run_job(void *arg)
{
    struct solve_job *j = arg;
    const tb_problem *p = tb_problem_find(j->problem);

    j->rc = tb_solve_grid(p, NULL, &j->param, j->coords, j->out, NULL);
    return NULL;
}

/* Two threads solving at once give bit-identical answers to one. */
static void test_threads(void)
{
    enum { NX = 33, NT = 9 };
    struct solve_job jobs[2] = {
        {"heat1d",
         0.3,
         {{"x", "m", 0, 1, NX, 0}, {"t", "s", 0, 1, NT, 0}},
         NULL,
         0},
        {"burgers1d",
         0.05,
         {{"x", "m", -1, 1, NX, 0}, {"t", "s", 0, 1, NT, 0}},
         NULL,
         0},
    };
    double serial[2][NX * NT], para[2][NX * NT];
    pthread_t th[2];

    for (int i = 0; i < 2; i++) {
        jobs[i].out = serial[i];
        run_job(&jobs[i]);
        CHECK(jobs[i].rc == 0, "serial %s solves", jobs[i].problem);
    }
    for (int i = 0; i < 2; i++) {
        jobs[i].out = para[i];
        pthread_create(&th[i], NULL, run_job, &jobs[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].rc == 0, "threaded %s solves", jobs[i].problem);
        CHECK(memcmp(serial[i], para[i], sizeof(para[i])) == 0,
              "threaded %s matches serial bit for bit", jobs[i].problem);
    }
}

/* ---- mesh convergence ------------------------------------------------ */

/* The outputs at 3 points on every mesh of meshes (all hold the points as
 * nodes, so no interpolation enters), at tolerances far below the mesh
 * error. */
static void solve_meshes(const char *name, const double *in, const int *meshes,
                         double out[3][3])
{
    const tb_problem *p = tb_problem_find(name);
    tb_error err;

    for (int k = 0; k < 3; k++) {
        tb_solver_opts o = {.rtol = 1e-12, .atol = 1e-14, .mesh = meshes[k]};

        tb_error_clear(&err);
        CHECK(tb_solve_points(p, &o, in, 3, out[k], NULL, &err) == 0,
              "%s on mesh %d: %s", name, meshes[k], err.text);
    }
}

/* heat1d: halving h twice divides the error by 16 each time, fourth
 * order (4 +- 0.3), against the exact solution. */
static void test_heat_convergence(void)
{
    double in[9] = {0.5, 0.25, 0.5, 0.5, 0.5, 0.5, 0.5, 0.75, 0.5};
    int meshes[3] = {8, 16, 32};
    double out[3][3], e[3] = {0, 0, 0};

    solve_meshes("heat1d", in, meshes, out);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 3; i++)
            e[k] = fmax(e[k],
                        fabs(out[k][i] - heat_exact(0.5, in[3 * i + 1], 0.5)));
    printf("heat1d: error on meshes 8, 16, 32: %.3e %.3e %.3e, observed "
           "orders %.2f %.2f\n",
           e[0], e[1], e[2], log2(e[0] / e[1]), log2(e[1] / e[2]));
    CHECK(fabs(log2(e[0] / e[1]) - 4) < 0.3 &&
              fabs(log2(e[1] / e[2]) - 4) < 0.3,
          "heat1d fourth order");
}

/* burgers1d at nu = 0.1 (a smooth solution): the differences between
 * successive meshes fall by 4, second order (2 +- 0.2). */
static void test_burgers_convergence(void)
{
    double in[9] = {0.1, -0.5, 0.5, 0.1, 0.25, 0.5, 0.1, 0.5, 0.5};
    int meshes[3] = {64, 128, 256};
    double out[3][3], d1 = 0, d2 = 0;

    solve_meshes("burgers1d", in, meshes, out);
    for (int i = 0; i < 3; i++) {
        d1 = fmax(d1, fabs(out[0][i] - out[1][i]));
        d2 = fmax(d2, fabs(out[1][i] - out[2][i]));
    }
    printf("burgers1d: differences on meshes 64, 128, 256: %.3e %.3e, "
           "observed order %.2f\n",
           d1, d2, log2(d1 / d2));
    CHECK(fabs(log2(d1 / d2) - 2) < 0.2, "burgers1d second order");
}

int main(void)
{
    tb_log_set_level(TB_LOG_ERROR);
    test_registry();
    test_reference();
    test_heat_default_grid();
    test_burgers_smallest_nu();
    test_burgers_front();
    test_points_off_node();
    test_points_burgers();
    test_forced_failure();
    test_bad_inputs();
    test_threads();
    test_heat_convergence();
    test_burgers_convergence();
    return tu_finish("solver");
}

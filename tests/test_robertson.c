/*
 * test_robertson.c - the robertson problem against two references:
 *
 * - the state at t = 1e11 for the classic rate constants published by the
 *   Test Set for IVP Solvers (Mazzia and Magherini, Bari; problem ROBER),
 *   y = (2.083340149701255e-8, 8.333360770334713e-14, 0.9999999791665050);
 * - an independent integration written here: CVODE with the dense direct
 *   solver and the exact Jacobian (the library uses a band solver and
 *   difference quotients), at rtol 1e-12 and an absolute tolerance of
 *   1e-22, which agrees with the published state to better than 1e-8
 *   relative (checked below).
 *
 * Target: every species within 1e-4 relative of the reference at the
 * default tolerances, over the whole default grid of rate constants and
 * every time node up to t = 4e5; and no species below -1e-12.
 */
#include "solver.h"
#include "testutil.h"

#include <cvode/cvode.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define REL_TOL   1e-4  /* the target, up to t = T_CHECKED */
#define T_CHECKED 4e5   /* the latest time the target covers */
#define NEG_TOL   1e-12 /* how far below zero a species may dip */

static const double published_1e11[3] = {
    0.2083340149701255e-07,
    0.8333360770334713e-13,
    0.9999999791665050,
};

/* ---- the reference integration -------------------------------------- */

static int ref_rhs(sunrealtype t, N_Vector yv, N_Vector dv, void *data)
{
    const double *k = data, *y = N_VGetArrayPointer(yv);
    double *d = N_VGetArrayPointer(dv);

    (void)t;
    d[0] = -k[0] * y[0] + k[1] * y[1] * y[2];
    d[2] = k[2] * y[1] * y[1];
    d[1] = -d[0] - d[2];
    return 0;
}

/* The exact Jacobian, column by column. */
static int ref_jac(sunrealtype t, N_Vector yv, N_Vector fy, SUNMatrix J,
                   void *data, N_Vector t1, N_Vector t2, N_Vector t3)
{
    const double *k = data, *y = N_VGetArrayPointer(yv);

    (void)t, (void)fy, (void)t1, (void)t2, (void)t3;
    SM_ELEMENT_D(J, 0, 0) = -k[0];
    SM_ELEMENT_D(J, 1, 0) = k[0];
    SM_ELEMENT_D(J, 2, 0) = 0;
    SM_ELEMENT_D(J, 0, 1) = k[1] * y[2];
    SM_ELEMENT_D(J, 1, 1) = -k[1] * y[2] - 2 * k[2] * y[1];
    SM_ELEMENT_D(J, 2, 1) = 2 * k[2] * y[1];
    SM_ELEMENT_D(J, 0, 2) = k[1] * y[1];
    SM_ELEMENT_D(J, 1, 2) = -k[1] * y[1];
    SM_ELEMENT_D(J, 2, 2) = 0;
    return 0;
}

/* Integrate from (1, 0, 0) through nt ascending times; out[3 j + s] is
 * species s at time j.  Returns 0 or the failing CVODE flag. */
static int reference(const double *k, const double *times, int nt, double *out)
{
    SUNContext sun = NULL;
    N_Vector y = NULL;
    SUNMatrix A = NULL;
    SUNLinearSolver ls = NULL;
    void *cv = NULL;
    double kk[3] = {k[0], k[1], k[2]}, t;
    int flag = -1;

    if (SUNContext_Create(NULL, &sun) != 0)
        return -1;
    y = N_VNew_Serial(3, sun);
    A = SUNDenseMatrix(3, 3, sun);
    ls = y && A ? SUNLinSol_Dense(y, A, sun) : NULL;
    cv = CVodeCreate(CV_BDF, sun);
    if (!y || !A || !ls || !cv)
        goto cleanup;
    N_VConst(0.0, y);
    NV_Ith_S(y, 0) = 1.0;
    if (CVodeInit(cv, ref_rhs, 0.0, y) || CVodeSetUserData(cv, kk) ||
        CVodeSStolerances(cv, 1e-12, 1e-22) ||
        CVodeSetMaxNumSteps(cv, 1000000) || CVodeSetLinearSolver(cv, ls, A) ||
        CVodeSetJacFn(cv, ref_jac))
        goto cleanup;
    for (int j = 0; j < nt; j++) {
        flag = CVode(cv, times[j], y, &t, CV_NORMAL);
        if (flag < 0)
            goto cleanup;
        memcpy(out + 3 * j, N_VGetArrayPointer(y), 3 * sizeof(double));
    }
    flag = 0;

cleanup:
    CVodeFree(&cv);
    if (ls)
        SUNLinSolFree(ls);
    if (A)
        SUNMatDestroy(A);
    if (y)
        N_VDestroy(y);
    SUNContext_Free(&sun);
    return flag;
}

static double rel_err(double got, double want)
{
    return fabs(got - want) / fabs(want);
}

/* ---- the checks ------------------------------------------------------ */

/* The reference itself against the published state at t = 1e11, and the
 * library at tight tolerance too. */
static void test_published(void)
{
    const tb_problem *p = tb_problem_find("robertson");
    double k[3] = {0.04, 1e4, 3e7}, t = 1e11, ref[3], in[4], got[3];
    tb_solver_opts tight = {.rtol = 1e-11, .atol = 1e-20};
    tb_error err;

    CHECK(p != NULL, "robertson is a built-in problem");
    if (!p)
        return;
    CHECK(reference(k, &t, 1, ref) == 0, "reference integration to 1e11");
    for (int s = 0; s < 3; s++)
        CHECK(rel_err(ref[s], published_1e11[s]) < 1e-8,
              "reference y%d(1e11) = %.16g, published %.16g", s + 1, ref[s],
              published_1e11[s]);

    memcpy(in, k, sizeof(k));
    in[3] = t;
    tb_error_clear(&err);
    CHECK(tb_solve_points(p, &tight, in, 1, got, NULL, &err) == 0,
          "solve to 1e11: %s", err.text);
    for (int s = 0; s < 3; s++)
        CHECK(rel_err(got[s], published_1e11[s]) < 1e-6,
              "tabula y%d(1e11) = %.10g at rtol 1e-11, published %.10g", s + 1,
              got[s], published_1e11[s]);
}

/* Every tuple of the default grid, every time node up to 4e5, at the
 * default tolerances; and non-negativity at every node. */
static void test_default_grid(void)
{
    const tb_problem *p = tb_problem_find("robertson");
    double worst[3] = {0, 0, 0}, lowest = 0, in[4], times[64], ref[3 * 64];
    tb_table t = {0};
    tb_error err;
    int nt = p->inputs[3].n, rc;

    tb_error_clear(&err);
    rc = tb_tabulate(p, NULL, NULL, 0, NULL, NULL, &t, &err);
    CHECK(rc == 0 && t.n_failed == 0, "tabulate the default grid: %s",
          err.text);
    for (int j = 0; j < nt; j++)
        times[j] = tb_axis_node(&p->inputs[3], j);

    for (size_t i = 0; rc == 0 && i < t.n_nodes; i += (size_t)nt) {
        tb_table_node(&t, i, in);
        CHECK(reference(in, times, nt, ref) == 0, "reference at node %zu", i);
        for (int j = 0; j < nt; j++)
            for (int s = 0; s < 3; s++) {
                double v = t.values[s * t.n_nodes + i + (size_t)j];

                lowest = fmin(lowest, v);
                if (times[j] <= T_CHECKED)
                    worst[s] = fmax(worst[s], rel_err(v, ref[3 * j + s]));
            }
    }
    printf("robertson: default grid (%zu nodes), t <= %g: max relative "
           "error y1 %.2e, y2 %.2e, y3 %.2e; lowest value %.2e; %.1f s\n",
           t.n_nodes, T_CHECKED, worst[0], worst[1], worst[2], lowest,
           t.seconds);
    for (int s = 0; s < 3; s++)
        CHECK(worst[s] < REL_TOL, "y%d relative error %.2e < %.0e", s + 1,
              worst[s], REL_TOL);
    CHECK(lowest >= -NEG_TOL, "species stay non-negative: lowest %.3g", lowest);
    tb_table_free(&t);
}

/* Robertson has no mesh; its "refinement" is the tolerance: the error at
 * the classic constants over t in [1e-4, 4e5] falls as rtol does (by more
 * than 10 for each factor 100). */
static void test_tolerance_convergence(void)
{
    const tb_problem *p = tb_problem_find("robertson");
    tb_axis t = {"t", "s", 1e-4, T_CHECKED, 39, TB_SPACING_LOG};
    double k[3] = {0.04, 1e4, 3e7}, times[39], ref[3 * 39], out[3 * 39];
    double rtol[3] = {1e-6, 1e-8, 1e-10}, e[3] = {0, 0, 0};
    tb_error err;

    for (int j = 0; j < 39; j++)
        times[j] = tb_axis_node(&t, j);
    CHECK(reference(k, times, 39, ref) == 0, "reference for convergence");
    for (int r = 0; r < 3; r++) {
        tb_solver_opts o = {.rtol = rtol[r], .atol = rtol[r] * 1e-8};

        tb_error_clear(&err);
        CHECK(tb_solve_grid(p, &o, k, &t, out, &err) == 0, "rtol %g: %s",
              rtol[r], err.text);
        for (int j = 0; j < 39; j++)
            for (int s = 0; s < 3; s++)
                e[r] = fmax(e[r], rel_err(out[s * 39 + j], ref[3 * j + s]));
    }
    printf("robertson: max relative error at rtol 1e-6, 1e-8, 1e-10: %.2e "
           "%.2e %.2e\n",
           e[0], e[1], e[2]);
    CHECK(e[1] < e[0] / 10 && e[2] < e[1] / 10,
          "the error falls with the tolerance");
}

/* One job and two give byte-identical outputs and status. */
static void test_jobs_identical(void)
{
    const tb_problem *p = tb_problem_find("robertson");
    tb_axis axes[4];
    tb_table one = {0}, two = {0};
    int rc1, rc2;

    memcpy(axes, p->inputs, sizeof(axes));
    axes[0].n = axes[1].n = axes[2].n = 3;
    rc1 = tb_tabulate(p, NULL, axes, 1, NULL, NULL, &one, NULL);
    rc2 = tb_tabulate(p, NULL, axes, 2, NULL, NULL, &two, NULL);
    CHECK(rc1 == 0 && rc2 == 0 && one.n_nodes == two.n_nodes,
          "tabulate with 1 and 2 jobs");
    CHECK(rc1 == 0 && rc2 == 0 &&
              memcmp(one.values, two.values,
                     one.n_nodes * 3 * sizeof(double)) == 0 &&
              memcmp(one.status, two.status, one.n_nodes) == 0,
          "1 and 2 jobs give byte-identical tables");
    tb_table_free(&one);
    tb_table_free(&two);
}

/* Robertson has no mesh: a --mesh is refused by name. */
static void test_no_mesh(void)
{
    const tb_problem *p = tb_problem_find("robertson");
    tb_solver_opts o = {.mesh = 64};
    tb_error err;

    tb_error_clear(&err);
    CHECK(tb_solver_opts_resolve(p, &o, &err) == TB_EINVAL &&
              strcmp(err.where, "mesh") == 0,
          "a mesh for an ODE is refused: %s", err.text);
}

int main(void)
{
    tb_log_set_level(TB_LOG_ERROR);
    test_published();
    test_default_grid();
    test_tolerance_convergence();
    test_jobs_identical();
    test_no_mesh();
    return tu_finish("robertson");
}

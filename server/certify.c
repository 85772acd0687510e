/*
 * certify.c - what each answer may claim about its own error, and the
 * solver fallback for clients that ask for more than the model certifies.
 *
 * A point's certificate for an output is the max error measured in the grid
 * cell it falls in (when the model file has cell figures) or else the
 * model's global figure (the worst of grid and probes).  A request with a
 * tolerance has every point whose certificate exceeds it, for any output,
 * answered by the solver instead, until the request's solver-time budget
 * is spent; those points then carry a certificate of 0 (the solver is the
 * reference the model is measured against).
 */
#include "server_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fill inf->cert: per point and output, the certified max error. */
static int certify(struct infer *inf, tb_error *err)
{
    const tb_model *m = &inf->e->model;
    size_t n_out = (size_t)m->n_out, n_in = (size_t)m->n_in;
    double global[TB_MODEL_MAX_OUT];

    inf->cert = malloc(inf->n * n_out * sizeof(double));
    if (!inf->cert)
        return json_nomem(err, "the certificates");
    inf->by_cell = m->cells.n_cells > 0;
    for (size_t j = 0; j < n_out; j++)
        global[j] = json_certified(m, (int)j); /* the same for every point */
    for (size_t i = 0; i < inf->n; i++)
        for (size_t j = 0; j < n_out; j++)
            inf->cert[i * n_out + j] =
                inf->by_cell ? tb_model_cell_error(m, inf->x + i * n_in, (int)j)
                             : global[j];
    return 0;
}

/* Whether point i's certificate exceeds the tolerance for some output.  A
 * model that never measured an output (certificate < 0) certifies
 * nothing. */
static int needs_solver(const struct infer *inf, size_t i)
{
    size_t n_out = (size_t)inf->e->model.n_out;

    for (size_t j = 0; j < n_out; j++) {
        double c = inf->cert[i * n_out + j];

        if (c < 0 || c > inf->tol[j])
            return 1;
    }
    return 0;
}

/* Answer point i from the solver.  Returns 0, or the solver's status (the
 * point then keeps the model's answer). */
static int solve_one(struct infer *inf, size_t i)
{
    const struct entry *e = inf->e;
    const tb_problem *p = e->problem;
    size_t n_in = (size_t)e->model.n_in, n_out = (size_t)e->model.n_out;
    double in[TB_MAX_INPUTS], out[TB_MAX_OUTPUTS];
    int status = 0;

    for (int k = 0; k < p->n_params + p->n_coords; k++)
        in[k] = inf->x[i * n_in + (size_t)e->from_model[k]];
    if (tb_solve_points(p, &e->solver, in, 1, out, &status, NULL) != 0)
        return status ? status : TB_ESOLVER;
    for (size_t j = 0; j < n_out; j++)
        if (!isfinite(out[e->from_problem[j]]))
            return TB_ESOLVER;

    for (size_t j = 0; j < n_out; j++) {
        inf->y[i * n_out + j] = out[e->from_problem[j]];
        inf->cert[i * n_out + j] = 0;
    }
    return 0;
}

/* Answer from the solver the points the model cannot certify within the
 * tolerance, until the budget is spent. */
static int fall_back(struct infer *inf, tb_error *err)
{
    double deadline = tb_now() + 1e-3 * inf->o->solver_budget_ms;

    inf->by_solver = calloc(inf->n, sizeof(int));
    if (!inf->by_solver)
        return json_nomem(err, "the solver answers");
    for (size_t i = 0; i < inf->n; i++) {
        if (!needs_solver(inf, i))
            continue;
        if (!inf->e->problem)
            return tb_error_set(err, TB_ENOTAVAIL, "parameters.tolerance",
                                "point %zu needs the solver to meet the "
                                "tolerance, and it is unavailable for model "
                                "%s: %s",
                                i, inf->e->name, inf->e->no_verify);
        if (tb_now() > deadline || solve_one(inf, i) != 0) {
            inf->n_unmet++;
            continue;
        }
        inf->by_solver[i] = 1;
        inf->n_solver++;
    }
    if (inf->n_unmet > 0)
        tb_debug("tolerance model=%s unmet=%zu solved=%zu budget_ms=%u",
                 inf->e->name, inf->n_unmet, inf->n_solver,
                 inf->o->solver_budget_ms);
    return 0;
}

/* Certify every answered point and, when the request gave a tolerance,
 * fall back on the solver where the model cannot meet it.  Returns 0 or a
 * negative status. */
int certify_answers(struct infer *inf, tb_error *err)
{
    if (certify(inf, err) != 0)
        return err->code;
    return inf->has_tol ? fall_back(inf, err) : 0;
}

/* Set every output's tolerance to v; where names the parameter. */
int certify_tolerance(struct infer *inf, double v, const char *where,
                      tb_error *err)
{
    if (!isfinite(v) || v < 0)
        return tb_error_set(err, TB_EINVAL, where,
                            "%s is %g; expected a number >= 0", where, v);
    for (int j = 0; j < TB_MODEL_MAX_OUT; j++)
        inf->tol[j] = v;
    inf->has_tol = 1;
    return 0;
}

/* The certificate parameters of a v2 answer: where the certificates come
 * from and, with a tolerance, how many points the solver answered and how
 * many stay over it. */
void certify_text_params(const struct infer *inf, struct text *t)
{
    text_str(t, inf->by_cell ? ",\"certificate\":\"cell\""
                             : ",\"certificate\":\"global\"");
    if (!inf->has_tol)
        return;
    text_str(t, ",\"solver_points\":");
    text_size(t, inf->n_solver);
    text_str(t, ",\"tolerance_unmet_points\":");
    text_size(t, inf->n_unmet);
}

/* The certificate tensors of a v2 answer: per point certificates when
 * they come from cells, and which points the solver answered. */
void certify_text_outputs(const struct infer *inf, struct text *t)
{
    const struct entry *e = inf->e;
    size_t n_out = (size_t)e->model.n_out;

    for (size_t j = 0; j < n_out && inf->by_cell; j++) {
        text_put(t, ",", 1);
        json_text_tensor(t, e->answer_names[j][LABEL_CERT], inf->cert + j,
                         inf->n, n_out);
    }
    if (!inf->has_tol)
        return;
    text_put(t, ",", 1);
    json_text_words(t, "\"answered_by\"", "\"BYTES\"", inf->by_solver, inf->n,
                    "\"solver\"", "\"model\"");
}

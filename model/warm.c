/*
 * warm.c - starting a model from another one's weights when a problem's
 * ranges or solver settings changed slightly.  The network works in scaled
 * units, so the first layer absorbs the change of input scaling and the
 * last the change of output scaling: the old network's function in user
 * units is carried over exactly (up to float rounding).  With log inputs
 * or outputs the same holds in log units, so both models must use the same
 * transforms; a Fourier-feature encoding cannot be re-expressed this way
 * and is refused.
 */
#include "model_int.h"

#include <string.h>

/* Check that old has m's inputs, outputs and hidden widths. */
static int check_fit(const tb_model *m, const tb_model *old, tb_error *err)
{
    /* sin(2 pi B^T x) of the old scaling is not a fixed linear map of the
     * new encoding's features, so the first layer cannot absorb it. */
    if (old->n_fourier > 0 || m->n_fourier > 0)
        return tb_error_set(err, TB_EINVAL, "init",
                            "a warm start cannot re-express a Fourier-feature "
                            "input encoding (old %d, new %d frequencies); "
                            "train without --init or without --fourier",
                            old->n_fourier, m->n_fourier);
    if (old->n_in != m->n_in || old->n_out != m->n_out ||
        old->n_hidden != m->n_hidden ||
        memcmp(old->hidden, m->hidden, (size_t)m->n_hidden * sizeof(int)) ||
        old->n_params != m->n_params)
        return tb_error_set(err, TB_EINVAL, "init",
                            "the old model's network (%d inputs, %d outputs, "
                            "%d hidden layers, %zu weights) does not fit "
                            "this one (%d, %d, %d, %zu)",
                            old->n_in, old->n_out, old->n_hidden, old->n_params,
                            m->n_in, m->n_out, m->n_hidden, m->n_params);
    if (old->activation != m->activation)
        return tb_error_set(err, TB_EINVAL, "init",
                            "the old model's activation (%d) differs from "
                            "this one's (%d)",
                            old->activation, m->activation);
    for (int i = 0; i < m->n_in; i++)
        if (old->in_log[i] != m->in_log[i])
            return tb_error_set(err, TB_EINVAL, "init",
                                "input %s is scaled in %s units in the old "
                                "model and in %s units here; a warm start "
                                "needs the same input scaling",
                                m->in[i].name,
                                old->in_log[i] ? "log" : "linear",
                                m->in_log[i] ? "log" : "linear");
    for (int k = 0; k < m->n_out; k++)
        if (old->out_log[k] != m->out_log[k] ||
            old->out_shift[k] != m->out_shift[k])
            return tb_error_set(err, TB_EINVAL, "init",
                                "output %s is %s in the old model and %s "
                                "here (log shifts %g, %g); a warm start "
                                "needs the same output transforms",
                                m->out_name[k],
                                old->out_log[k] ? "log" : "affine",
                                m->out_log[k] ? "log" : "affine",
                                old->out_shift[k], m->out_shift[k]);
    for (int i = 0; i < m->n_in; i++)
        if (strcmp(old->in[i].name, m->in[i].name) != 0)
            return tb_error_set(err, TB_EINVAL, "init",
                                "input %d is '%s' in the old model; "
                                "expected '%s'",
                                i, old->in[i].name, m->in[i].name);
    for (int k = 0; k < m->n_out; k++)
        if (strcmp(old->out_name[k], m->out_name[k]) != 0)
            return tb_error_set(err, TB_EINVAL, "init",
                                "output %d is '%s' in the old model; "
                                "expected '%s'",
                                k, old->out_name[k], m->out_name[k]);
    return TB_OK;
}

/* First layer: old scaled input = new scaled input * a + c, folded into
 * W and b. */
static void fold_inputs(const tbm_layout *L, const tbm_scale *so,
                        const tbm_scale *sn, float *p)
{
    int in = L->width[0], out = L->width[1];
    float *w = p + L->w_off[0], *b = p + L->b_off[0];

    for (int i = 0; i < out; i++) {
        double bias = b[i];

        for (int j = 0; j < in; j++) {
            double a = so->in_scale[j] / sn->in_scale[j];
            double c = (sn->in_mid[j] - so->in_mid[j]) * so->in_scale[j];

            bias += (double)w[i * in + j] * c;
            w[i * in + j] = (float)((double)w[i * in + j] * a);
        }
        b[i] = (float)bias;
    }
}

/* Last layer: new scaled output = old scaled output * r + q. */
static void fold_outputs(const tbm_layout *L, const tbm_scale *so,
                         const tbm_scale *sn, float *p)
{
    int last = L->n_layers - 1;
    int in = L->width[last], out = L->width[last + 1];
    float *w = p + L->w_off[last], *b = p + L->b_off[last];

    for (int k = 0; k < out; k++) {
        double r = so->out_half[k] / sn->out_half[k];
        double q = (so->out_mid[k] - sn->out_mid[k]) / sn->out_half[k];

        for (int j = 0; j < in; j++)
            w[k * in + j] = (float)((double)w[k * in + j] * r);
        b[k] = (float)((double)b[k] * r + q);
    }
}

/* Give m (its domain and output ranges already set) the weights of old,
 * re-expressed for m's scaling.  Returns 0 or TB_EINVAL when the networks
 * differ in shape, inputs or outputs. */
int tb_model_warm_start(tb_model *m, const tb_model *old, tb_error *err)
{
    tbm_layout L;
    tbm_scale so, sn;
    int rc;

    if (!m || !old || !m->params || !old->params)
        return tb_error_set(err, TB_EINVAL, "init", "no model given");
    if ((rc = check_fit(m, old, err)))
        return rc;

    tbm_layout_of(m, &L);
    tbm_scale_init(old, &so);
    tbm_scale_init(m, &sn);
    memcpy(m->params, old->params, m->n_params * sizeof(float));
    fold_inputs(&L, &so, &sn, m->params);
    fold_outputs(&L, &so, &sn, m->params);
    return TB_OK;
}

/*
 * mlp64.c - the network's full-batch objective in double precision, for
 * the quasi-Newton phase of training: the same layout and passes as mlp.c,
 * with dgemm, over every row in chunks so that memory stays bounded.
 *
 * The objective is the mean over rows and outputs of w_r (net(x_r) -
 * y_r)^2 in scaled units, where w_r is a per-row weight (1 unless the
 * worst-case phase raised it).  Hidden layers use the layout's activation;
 * here libm's exp, sin and cos serve, as the products dominate.  Its gradient
 * is summed chunk by chunk straight into the caller's array.
 */
#include "model_int.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 4096 /* rows per pass: 4096 x 64 doubles is 2 MiB a layer */

/* tanh in double, branch-free like tbm_tanh: expm1 from a range reduction
 * by powers of two and a degree-12 series.  Relative error near 1e-15. */
static inline double tanh64(double x)
{
    const double log2e = 1.4426950408889634, ln2_hi = 6.93147180369123816e-1;
    const double ln2_lo = 1.90821492927058770e-10, shifter = 6755399441055744.0;
    double t, kf, r, q, scale, em1;
    union {
        double f;
        int64_t i;
    } u;

    x = x > 19.0 ? 19.0 : (x < -19.0 ? -19.0 : x);
    t = 2.0 * x;
    kf = (t * log2e + shifter) - shifter;
    r = (t - kf * ln2_hi) - kf * ln2_lo;

    /* expm1(r) = r (1 + r/2 + r^2/6 + ...), Horner from the top. */
    q = 1.0 / 479001600.0;
    q = q * r + 1.0 / 39916800.0;
    q = q * r + 1.0 / 3628800.0;
    q = q * r + 1.0 / 362880.0;
    q = q * r + 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    q = q * r + 1.0;
    q = q * r;
    u.i = ((int64_t)kf + 1023) << 52;
    scale = u.f;
    em1 = scale * q + (scale - 1.0);
    return em1 / (em1 + 2.0);
}

/* z = f(z + b) for a hidden layer (f = L's activation; z + b kept in pre
 * when it is not tanh), or z + b for the output layer, over rows x w. */
static void bias_act(int act, double *restrict z, const double *restrict b,
                     int rows, int w, int last, double *restrict pre)
{
    size_t n = (size_t)rows * (size_t)w;

    for (int r = 0; r < rows; r++)
        for (int j = 0; j < w; j++)
            z[(size_t)r * (size_t)w + j] += b[j];
    if (last)
        return;
    if (act != TB_ACT_TANH)
        memcpy(pre, z, n * sizeof(double));
    if (act == TB_ACT_TANH)
        for (size_t i = 0; i < n; i++)
            z[i] = tanh64(z[i]);
    else if (act == TB_ACT_SILU)
        for (size_t i = 0; i < n; i++)
            z[i] = z[i] / (1.0 + exp(-z[i]));
    else
        for (size_t i = 0; i < n; i++)
            z[i] = sin(z[i]);
}

/* d *= the activation's derivative at n values, from its output h or its
 * input z (tanh: 1 - h^2; SiLU: s + h (1 - s), s = sigma(z); sine:
 * cos(z)). */
static void act_deriv(int act, double *restrict d, const double *restrict h,
                      const double *restrict z, size_t n)
{
    if (act == TB_ACT_TANH)
        for (size_t i = 0; i < n; i++)
            d[i] *= 1.0 - h[i] * h[i];
    else if (act == TB_ACT_SILU)
        for (size_t i = 0; i < n; i++) {
            double s = 1.0 / (1.0 + exp(-z[i]));

            d[i] *= s + h[i] * (1.0 - s);
        }
    else
        for (size_t i = 0; i < n; i++)
            d[i] *= cos(z[i]);
}

/* The forward pass over the rows of act[0]. */
static void forward(const tbm_layout *L, const double *p, int rows,
                    double *const *act, double *const *pre)
{
    for (int l = 0; l < L->n_layers; l++) {
        int in = L->width[l], out = L->width[l + 1];

        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0,
                    act[l], in, p + L->w_off[l], in, 0.0, act[l + 1], out);
        bias_act(L->act, act[l + 1], p + L->b_off[l], rows, out,
                 l + 1 == L->n_layers, pre[l + 1]);
    }
}

/* gb += the column sums of d (rows x w). */
static void add_column_sums(const double *restrict d, int rows, int w,
                            double *restrict gb)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < w; j++)
            gb[j] += d[(size_t)r * (size_t)w + j];
}

/* The backward pass for the output gradient in delta, added into g. */
static void backward(const tbm_layout *L, const double *p, int rows,
                     double *const *act, double *const *pre, double *delta,
                     double *tmp, double *g)
{
    for (int l = L->n_layers - 1; l >= 0; l--) {
        int in = L->width[l], out = L->width[l + 1];
        double *t;

        add_column_sums(delta, rows, out, g + L->b_off[l]);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, rows, 1.0,
                    delta, out, act[l], in, 1.0, g + L->w_off[l], in);
        if (l == 0)
            break;

        /* Through the weights, then the activation's derivative. */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out,
                    1.0, delta, out, p + L->w_off[l], in, 0.0, tmp, in);
        act_deriv(L->act, tmp, act[l], pre[l], (size_t)rows * (size_t)in);
        t = delta;
        delta = tmp;
        tmp = t;
    }
}

/* Every layer's delta for output k of each row: d[l] (rows x width[l + 1])
 * is the derivative of that output by layer l's pre-activations. */
static void jacobian_output(tbm_objective *o, const double *p, int rows,
                            size_t k, double *const *d)
{
    const tbm_layout *L = &o->L;
    int last = L->n_layers - 1, no = L->width[L->n_layers];

    memset(d[last], 0, (size_t)rows * (size_t)no * sizeof(double));
    for (int r = 0; r < rows; r++)
        d[last][(size_t)r * (size_t)no + k] = 1.0;
    for (int l = last; l > 0; l--) {
        int in = L->width[l], out = L->width[l + 1];

        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out,
                    1.0, d[l], out, p + L->w_off[l], in, 0.0, d[l - 1], in);
        act_deriv(L->act, d[l - 1], o->act[l], o->pre[l],
                  (size_t)rows * (size_t)in);
    }
}

/* One Jacobian line from the deltas of row r, times w: per layer, the
 * outer product delta x input for the weights, then delta for the biases. */
static void jacobian_line(const tbm_layout *L, double *const *act,
                          double *const *d, int r, double w, double *line)
{
    for (int l = 0; l < L->n_layers; l++) {
        int in = L->width[l], out = L->width[l + 1];
        const double *dr = d[l] + (size_t)r * (size_t)out;
        const double *ar = act[l] + (size_t)r * (size_t)in;
        double *jw = line + L->w_off[l], *jb = line + L->b_off[l];

        for (int i = 0; i < out; i++) {
            double di = w * dr[i];

            for (int j = 0; j < in; j++)
                jw[(size_t)i * (size_t)in + j] = di * ar[j];
            jb[i] = di;
        }
    }
}

/* Allocate the chunk buffers for layout L over n rows of scaled data
 * (borrowed, not copied).  Returns 0 or TB_ENOMEM. */
int tbm_objective_open(tbm_objective *o, const tbm_layout *L, const double *xs,
                       const double *ys, size_t n, tb_error *err)
{
    size_t c = n < CHUNK ? n : CHUNK, total = 0, at = 0;

    memset(o, 0, sizeof(*o));
    o->L = *L;
    o->xs = xs;
    o->ys = ys;
    o->n = n;
    o->chunk = (int)c;
    for (int l = 1; l <= L->n_layers; l++)
        total += c * (size_t)L->width[l];
    for (int l = 1; l < L->n_layers && L->act != TB_ACT_TANH; l++)
        total += c * (size_t)L->width[l];
    total += 2 * c * (size_t)L->max_width;

    o->block = malloc(total * sizeof(double));
    if (!o->block)
        return tb_error_set(err, TB_ENOMEM, "train",
                            "cannot allocate %zu doubles for the full-batch "
                            "objective",
                            total);
    for (int l = 1; l <= L->n_layers; l++) {
        o->act[l] = o->block + at;
        at += c * (size_t)L->width[l];
    }
    for (int l = 1; l < L->n_layers && L->act != TB_ACT_TANH; l++) {
        o->pre[l] = o->block + at;
        at += c * (size_t)L->width[l];
    }
    o->delta = o->block + at;
    o->tmp = o->delta + c * (size_t)L->max_width;
    return TB_OK;
}

/* Release the chunk buffers. */
void tbm_objective_close(tbm_objective *o)
{
    free(o->block);
    o->block = NULL;
}

/* The output residuals of one chunk starting at row `at` into delta, as
 * the gradient of the weighted mean; returns their weighted squared sum. */
static double chunk_loss(tbm_objective *o, size_t at, int rows, double scale)
{
    size_t no = (size_t)o->L.width[o->L.n_layers];
    const double *out = o->act[o->L.n_layers], *y = o->ys + at * no;
    double sum = 0;

    for (size_t i = 0; i < (size_t)rows * no; i++) {
        double d = out[i] - y[i];
        double w = o->w ? o->w[at + i / no] : 1.0;

        sum += w * d * d;
        o->delta[i] = 2.0 * scale * w * d;
    }
    return sum;
}

/* The objective at p, and its gradient into g (n_params values). */
double tbm_objective_eval(tbm_objective *o, const double *p, double *g)
{
    size_t ni = (size_t)o->L.width[0], no = (size_t)o->L.width[o->L.n_layers];
    double scale = 1.0 / ((double)o->n * (double)no), sum = 0;

    memset(g, 0, o->L.n_params * sizeof(double));
    for (size_t at = 0; at < o->n; at += (size_t)o->chunk) {
        int rows = o->n - at < (size_t)o->chunk ? (int)(o->n - at) : o->chunk;

        /* act[0] points into the data: forward never writes it. */
        o->act[0] = (double *)(o->xs + at * ni);
        forward(&o->L, p, rows, o->act, o->pre);
        sum += chunk_loss(o, at, rows, scale);
        backward(&o->L, p, rows, o->act, o->pre, o->delta, o->tmp, g);
    }
    return sum * scale;
}

/* The objective at p, without its gradient: the forward pass only. */
double tbm_objective_value(tbm_objective *o, const double *p)
{
    size_t ni = (size_t)o->L.width[0], no = (size_t)o->L.width[o->L.n_layers];
    double sum = 0;

    for (size_t at = 0; at < o->n; at += (size_t)o->chunk) {
        int rows = o->n - at < (size_t)o->chunk ? (int)(o->n - at) : o->chunk;

        o->act[0] = (double *)(o->xs + at * ni);
        forward(&o->L, p, rows, o->act, o->pre);
        sum += chunk_loss(o, at, rows, 0.0);
    }
    return sum / ((double)o->n * (double)no);
}

/* The outputs at p, chunk by chunk, copied out of the last layer. */
void tbm_objective_outputs(tbm_objective *o, const double *p, double *out)
{
    size_t ni = (size_t)o->L.width[0], no = (size_t)o->L.width[o->L.n_layers];

    for (size_t at = 0; at < o->n; at += (size_t)o->chunk) {
        int rows = o->n - at < (size_t)o->chunk ? (int)(o->n - at) : o->chunk;

        o->act[0] = (double *)(o->xs + at * ni);
        forward(&o->L, p, rows, o->act, o->pre);
        memcpy(out + at * no, o->act[o->L.n_layers],
               (size_t)rows * no * sizeof(double));
    }
}

/*
 * The Jacobian of the (weighted) residuals of one chunk of rows starting
 * at row `at`: jac receives rows x n_out lines of n_params values, res the
 * residuals, both multiplied by the square root of the row's weight.  d
 * holds one delta buffer per layer (chunk x max_width each).  Returns the
 * number of lines.
 */
int tbm_objective_jacobian(tbm_objective *o, const double *p, size_t at,
                           double *const *d, double *jac, double *res)
{
    const tbm_layout *L = &o->L;
    size_t ni = (size_t)L->width[0], no = (size_t)L->width[L->n_layers];
    size_t np = L->n_params;
    int rows = o->n - at < (size_t)o->chunk ? (int)(o->n - at) : o->chunk;

    o->act[0] = (double *)(o->xs + at * ni);
    forward(L, p, rows, o->act, o->pre);
    for (size_t k = 0; k < no; k++) {
        jacobian_output(o, p, rows, k, d);
        for (int r = 0; r < rows; r++) {
            size_t line = (size_t)r * no + k;
            double w = o->w ? sqrt(o->w[at + (size_t)r]) : 1.0;

            jacobian_line(L, o->act, d, r, w, jac + line * np);
            res[line] = w * (o->act[L->n_layers][line] - o->ys[at * no + line]);
        }
    }
    return rows * (int)no;
}

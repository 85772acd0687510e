/*
 * mlp.c - the multilayer perceptron itself: where each parameter lives, the
 * seeded initialisation, and the batched forward and backward passes.
 * Matrix work goes through OpenBLAS (sgemm, and sgemv or sger where a side
 * is one wide), except for layers of at most SMALL_IN inputs, where a loop
 * of our own is five times faster than sgemm; the other loops of our own
 * are the element-wise passes that apply or differentiate the activation
 * (tanh, SiLU or sine: one function per direction switches on it).
 */
#include "model_int.h"

#include <assert.h>
#include <cblas.h>
#include <string.h>

/* On x86-64, build the element-wise loops twice, for AVX2 with FMA (x86-64
 * level 3) and for the baseline, and pick one at load time.  The copies
 * may differ in the last bit (FMA rounds once); both meet tbm_tanh's
 * bound, and one machine always runs the same copy. */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ < 11)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES                                                          \
    __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#endif
#ifndef VECTOR_CLONES
#define VECTOR_CLONES
#endif

/* ------------------------------------------------------------------------
 * Layout
 * ------------------------------------------------------------------------ */

int tbm_layout_init(tbm_layout *L, int n_in, int n_out, int n_hidden,
                    const int *hidden, tb_error *err)
{
    size_t off = 0;

    if (n_hidden < 1 || n_hidden > TB_MODEL_MAX_HIDDEN || !hidden)
        return tb_error_set(err, TB_EINVAL, "hidden",
                            "%d hidden layers; expected 1 to %d", n_hidden,
                            TB_MODEL_MAX_HIDDEN);
    for (int l = 0; l < n_hidden; l++)
        if (hidden[l] < 1 || hidden[l] > TBM_MAX_WIDTH)
            return tb_error_set(err, TB_EINVAL, "hidden",
                                "hidden layer %d has width %d; expected 1 "
                                "to %d",
                                l + 1, hidden[l], TBM_MAX_WIDTH);

    memset(L, 0, sizeof(*L));
    L->n_layers = n_hidden + 1;
    L->width[0] = n_in;
    memcpy(&L->width[1], hidden, (size_t)n_hidden * sizeof(int));
    L->width[L->n_layers] = n_out;

    for (int l = 0; l < L->n_layers; l++) {
        L->w_off[l] = off;
        off += (size_t)L->width[l + 1] * (size_t)L->width[l];
        L->b_off[l] = off;
        off += (size_t)L->width[l + 1];
    }
    for (int l = 0; l <= L->n_layers; l++)
        if (L->width[l] > L->max_width)
            L->max_width = L->width[l];
    L->n_params = off;
    return TB_OK;
}

/* The layout of a model whose shape was checked when it was built. */
void tbm_layout_of(const tb_model *m, tbm_layout *L)
{
    int rc = tbm_layout_init(L, tbm_encoded_width(m), m->n_out, m->n_hidden,
                             m->hidden, NULL);

    assert(rc == TB_OK && L->n_params == m->n_params);
    (void)rc;
    L->act = m->activation;
}

/* ------------------------------------------------------------------------
 * Random numbers and hashing
 * ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Seed the four words of state from splitmix64(seed). */
void tbm_rng_seed(tbm_rng *r, uint64_t seed)
{
    uint64_t x = seed;

    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: the next 64 bits. */
uint64_t tbm_rng_next(tbm_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* The top 24 bits as a float in [0, 1). */
float tbm_rng_float(tbm_rng *r)
{
    return (float)(tbm_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* A uniform integer in [0, n), by rejection so that every value is equally
 * likely. */
static uint64_t rng_below(tbm_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;

    do
        v = tbm_rng_next(r);
    while (v >= limit);
    return v % n;
}

/* Fisher-Yates, from the last element down. */
void tbm_shuffle(tbm_rng *r, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        size_t t = idx[i - 1];

        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* FNV-1a 64, one byte at a time. */
uint64_t tbm_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ------------------------------------------------------------------------
 * Initialisation
 * ------------------------------------------------------------------------ */

/* n values uniform in [-a, a]. */
static void uniform(tbm_rng *r, float *v, size_t n, double a)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(a * (2.0 * (double)tbm_rng_float(r) - 1.0));
}

/*
 * SIREN (Sitzmann et al. 2020): every hidden layer computes
 * sin(w0 (W x + b)); the first layer's W is U(-1/n, 1/n) and the later
 * layers' U(-sqrt(6/n)/w0, sqrt(6/n)/w0), n being the fan-in, so that
 * pre-activations stay arcsine-distributed through depth.  w0 is folded
 * into the weights here (W' = w0 W, b' = w0 b), so the activation is
 * plain sin.  Biases take the usual U(-1/sqrt(n), 1/sqrt(n)) before the
 * fold; the linear output layer is a later layer without w0.
 */
static void init_siren(const tbm_layout *L, float *p, tbm_rng *r)
{
    const double w0 = TBM_SIREN_W0;

    for (int l = 0; l < L->n_layers; l++) {
        size_t n = (size_t)L->width[l], out = (size_t)L->width[l + 1];
        int hidden = l + 1 < L->n_layers;
        double a = l == 0 ? 1.0 / (double)n : sqrt(6.0 / (double)n) / w0;
        double fold = hidden ? w0 : 1.0;

        uniform(r, p + L->w_off[l], n * out, a * fold);
        uniform(r, p + L->b_off[l], out, fold / sqrt((double)n));
    }
}

void tbm_init_params(const tbm_layout *L, float *p, uint64_t seed)
{
    tbm_rng r;

    tbm_rng_seed(&r, seed);
    if (L->act == TB_ACT_SINE) {
        init_siren(L, p, &r);
        return;
    }
    for (int l = 0; l < L->n_layers; l++) {
        size_t fan_in = (size_t)L->width[l], fan_out = (size_t)L->width[l + 1];
        float a = sqrtf(6.0f / (float)(fan_in + fan_out));
        float *w = p + L->w_off[l];

        /* Glorot uniform: U(-a, a) keeps activations' variance steady. */
        for (size_t i = 0; i < fan_in * fan_out; i++)
            w[i] = a * (2.0f * tbm_rng_float(&r) - 1.0f);
        memset(p + L->b_off[l], 0, fan_out * sizeof(float));
    }
}

/* ------------------------------------------------------------------------
 * Forward pass
 * ------------------------------------------------------------------------ */

#define SMALL_IN  4    /* layers with at most this many inputs, */
#define SMALL_OUT 1024 /* and at most this many outputs, skip sgemm */

/* z = tanh(z) over n values. */
VECTOR_CLONES static void tanh_all(float *restrict z, size_t n)
{
    for (size_t i = 0; i < n; i++)
        z[i] = tbm_tanh(z[i]);
}

/* Every row of z (rows x w) set to b, for a product to add into with
 * beta = 1: OpenBLAS's own pass for beta = 0 costs three times as much. */
static void bias_rows(float *restrict z, const float *restrict b, int rows,
                      int w)
{
    for (int r = 0; r < rows; r++)
        memcpy(z + (size_t)r * (size_t)w, b, (size_t)w * sizeof(float));
}

/* z = x W^T + b for a layer of `in` <= SMALL_IN inputs, in one pass over
 * rows with W transposed into wt (in x out).  With so few inputs sgemm's
 * packing and its pass over z cost five times this loop. */
static inline void small_rows(const float *restrict x, const float *restrict wt,
                              const float *restrict b, int rows, int in,
                              int out, float *restrict z)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * (size_t)in;
        float *zr = z + (size_t)r * (size_t)out;

        for (int j = 0; j < out; j++) {
            float acc = b[j];

            for (int i = 0; i < in; i++)
                acc += xr[i] * wt[(size_t)i * (size_t)out + (size_t)j];
            zr[j] = acc;
        }
    }
}

/* small_rows with the input count a constant, so that its inner loop
 * unrolls and the loop over outputs vectorises. */
VECTOR_CLONES static void small_layer(const float *restrict x,
                                      const float *restrict w,
                                      const float *restrict b, int rows, int in,
                                      int out, float *restrict z)
{
    float wt[SMALL_IN * SMALL_OUT];

    for (int j = 0; j < out; j++)
        for (int i = 0; i < in; i++)
            wt[i * out + j] = w[j * in + i];
    switch (in) {
    case 1:
        small_rows(x, wt, b, rows, 1, out, z);
        break;
    case 2:
        small_rows(x, wt, b, rows, 2, out, z);
        break;
    case 3:
        small_rows(x, wt, b, rows, 3, out, z);
        break;
    default:
        small_rows(x, wt, b, rows, SMALL_IN, out, z);
        break;
    }
}

/* z = silu(z) over n values. */
VECTOR_CLONES static void silu_all(float *restrict z, size_t n)
{
    for (size_t i = 0; i < n; i++)
        z[i] = tbm_silu(z[i]);
}

/* z = sin(z) over n values. */
VECTOR_CLONES static void sin_all(float *restrict z, size_t n)
{
    for (size_t i = 0; i < n; i++)
        z[i] = tbm_sinf(z[i]);
}

/* A hidden layer's activation over n values in place, keeping its input
 * in pre when asked (SiLU's and sine's derivatives need it). */
static void activate(int act, float *restrict z, size_t n, float *restrict pre)
{
    if (act == TB_ACT_TANH) {
        tanh_all(z, n);
        return;
    }
    if (pre)
        memcpy(pre, z, n * sizeof(float));
    if (act == TB_ACT_SILU)
        silu_all(z, n);
    else
        sin_all(z, n);
}

/* act[l + 1] = act[l] W^T + b for layer l, rows x out. */
static void layer_product(const tbm_layout *L, const float *p, int l, int rows,
                          const float *x, float *z)
{
    int in = L->width[l], out = L->width[l + 1];
    const float *w = p + L->w_off[l], *b = p + L->b_off[l];

    if (in <= SMALL_IN && out <= SMALL_OUT) {
        small_layer(x, w, b, rows, in, out, z);
        return;
    }

    /* One row, or one output, is a matrix-vector product: sgemm would
     * pack for nothing. */
    bias_rows(z, b, rows, out);
    if (rows == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, w, in, x, 1,
                    1.0f, z, 1);
    else if (out == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, in, 1.0f, x, in, w, 1,
                    1.0f, z, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in,
                    1.0f, x, in, w, in, 1.0f, z, out);
}

/* Layer by layer: the product with its bias, then the activation in
 * place (none after the output layer). */
void tbm_forward(const tbm_layout *L, const float *p, int rows,
                 float *const *act, float *const *pre)
{
    for (int l = 0; l < L->n_layers; l++) {
        layer_product(L, p, l, rows, act[l], act[l + 1]);
        if (l + 1 < L->n_layers)
            activate(L->act, act[l + 1], (size_t)rows * (size_t)L->width[l + 1],
                     pre ? pre[l + 1] : NULL);
    }
}

/* ------------------------------------------------------------------------
 * Backward pass
 * ------------------------------------------------------------------------ */

/* gb = the column sums of d (rows x w). */
static void column_sums(const float *restrict d, int rows, int w,
                        float *restrict gb)
{
    memset(gb, 0, (size_t)w * sizeof(float));
    for (int r = 0; r < rows; r++) {
        const float *dr = d + (size_t)r * (size_t)w;

        for (int j = 0; j < w; j++)
            gb[j] += dr[j];
    }
}

/* d *= 1 - h^2, tanh's derivative from its output h, and gb = the column
 * sums of the result, in one pass. */
VECTOR_CLONES static void tanh_back(float *restrict d, const float *restrict h,
                                    int rows, int w, float *restrict gb)
{
    memset(gb, 0, (size_t)w * sizeof(float));
    for (int r = 0; r < rows; r++) {
        float *dr = d + (size_t)r * (size_t)w;
        const float *hr = h + (size_t)r * (size_t)w;

        for (int j = 0; j < w; j++) {
            dr[j] *= 1.0f - hr[j] * hr[j];
            gb[j] += dr[j];
        }
    }
}

/* d *= silu'(z) = s + h (1 - s) with s = sigma(z), h = silu(z). */
VECTOR_CLONES static void silu_back(float *restrict d, const float *restrict h,
                                    const float *restrict z, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float s = 0.5f + 0.5f * tbm_tanh(0.5f * z[i]);

        d[i] *= s + h[i] * (1.0f - s);
    }
}

/* d *= cos(z). */
VECTOR_CLONES static void sin_back(float *restrict d, const float *restrict z,
                                   size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] *= tbm_cosf(z[i]);
}

/* d *= the activation's derivative (from its output h or its input z),
 * and gb = the column sums of the result. */
static void activation_back(int act, float *restrict d, const float *h,
                            const float *z, int rows, int w, float *gb)
{
    size_t n = (size_t)rows * (size_t)w;

    if (act == TB_ACT_TANH) {
        tanh_back(d, h, rows, w, gb);
        return;
    }
    if (act == TB_ACT_SILU)
        silu_back(d, h, z, n);
    else
        sin_back(d, z, n);
    column_sums(d, rows, w, gb);
}

/* gw = d^T x for a layer of `in` <= SMALL_IN inputs (d rows x out, x
 * rows x in, gw out x in), summed in wt (in x out) so that the loop over
 * outputs vectorises. */
VECTOR_CLONES static void small_weight_grad(const float *restrict d,
                                            const float *restrict x, int rows,
                                            int in, int out, float *restrict gw)
{
    float wt[SMALL_IN * SMALL_OUT];

    memset(wt, 0, (size_t)(in * out) * sizeof(float));
    for (int r = 0; r < rows; r++) {
        const float *dr = d + (size_t)r * (size_t)out;

        for (int i = 0; i < in; i++) {
            float xi = x[(size_t)r * (size_t)in + (size_t)i];
            float *wi = wt + i * out;

            for (int j = 0; j < out; j++)
                wi[j] += dr[j] * xi;
        }
    }
    for (int j = 0; j < out; j++)
        for (int i = 0; i < in; i++)
            gw[j * in + i] = wt[i * out + j];
}

/* gw = delta^T x, layer l's weight gradient (out x in). */
static void weight_grad(const tbm_layout *L, int l, int rows, const float *x,
                        const float *delta, float *gw)
{
    int in = L->width[l], out = L->width[l + 1];

    if (out == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, rows, in, 1.0f, x, in, delta, 1,
                    0.0f, gw, 1);
    else if (in <= SMALL_IN && out <= SMALL_OUT)
        small_weight_grad(delta, x, rows, in, out, gw);
    else
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, rows,
                    1.0f, delta, out, x, in, 0.0f, gw, in);
}

/* g = delta W, the gradient reaching layer l's inputs (rows x in), added
 * into zeros with beta = 1 for the reason bias_rows gives. */
static void input_grad(const tbm_layout *L, const float *p, int l, int rows,
                       const float *delta, float *g)
{
    int in = L->width[l], out = L->width[l + 1];
    const float *w = p + L->w_off[l];

    memset(g, 0, (size_t)rows * (size_t)in * sizeof(float));
    if (out == 1)
        cblas_sger(CblasRowMajor, rows, in, 1.0f, delta, 1, w, 1, g, in);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out,
                    1.0f, delta, out, w, in, 1.0f, g, in);
}

/* From the last layer down: dW, db in the pass that forms each delta, and
 * the next delta through the activation's derivative. */
void tbm_backward(const tbm_layout *L, const float *p, int rows,
                  float *const *act, float *const *pre, float *delta,
                  float *tmp, float *grad)
{
    int last = L->n_layers - 1;

    column_sums(delta, rows, L->width[last + 1], grad + L->b_off[last]);

    for (int l = last; l >= 0; l--) {
        int in = L->width[l];
        float *t;

        weight_grad(L, l, rows, act[l], delta, grad + L->w_off[l]);
        if (l == 0)
            break;
        input_grad(L, p, l, rows, delta, tmp);
        activation_back(L->act, tmp, act[l], pre ? pre[l] : NULL, rows, in,
                        grad + L->b_off[l - 1]);

        t = delta;
        delta = tmp;
        tmp = t;
    }
}

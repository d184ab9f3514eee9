/* Two fused CPU kernels for the CNN (see fused.py for when each is used):
 *
 * 1. pool_relu: relu(max_pool2d(x, 2, 2)) and its gradient, bit-identical to torch's ops.
 * 2. conv_pool_relu: the first layer whole, relu(max_pool2d(conv2d(x, w, b, padding=1), 2, 2)) for one
 *    input channel, with the gradient of w and b.
 *
 * ---- 1. relu(max_pool2d(x, 2, 2)) and its gradient for channels_last float32 tensors, in one pass each.
 *
 * torch runs this as three kernels (max-pool with int64 indices, relu, and for the gradient a zero-fill,
 * a scatter and relu's mask); for the CNN's 6.4 MB conv1 output they are memory-bound. Here the
 * forward reads x once and writes the output plus a 1-byte window position; the backward writes every
 * input gradient once. Results are bit-identical to torch's: same max rule (a later element wins if
 * strictly greater or NaN), same relu mask (gradient kept where out > 0 or out is NaN).
 *
 * Layout [n, h, w, c] (channels_last), h and w even. Rows run in parallel on torch's OpenMP runtime.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

/* One output row: input rows x0 (2i) and x1 (2i+1), each [w, c]. */
static void forward_row(const float *restrict x0, const float *restrict x1, float *restrict out,
                        uint8_t *restrict arg, int64_t wo, int64_t c) {
    for (int64_t j = 0; j < wo; j++) {
        const float *p0 = x0 + 2 * j * c, *p1 = p0 + c, *p2 = x1 + 2 * j * c, *p3 = p2 + c;
        for (int64_t k = 0; k < c; k++) {
            float m = p0[k], v;
            uint8_t at = 0;
            v = p1[k]; if (v > m || isnan(v)) { m = v; at = 1; }
            v = p2[k]; if (v > m || isnan(v)) { m = v; at = 2; }
            v = p3[k]; if (v > m || isnan(v)) { m = v; at = 3; }
            out[j * c + k] = (m > 0.0f || isnan(m)) ? m : 0.0f;
            arg[j * c + k] = at;
        }
    }
}

/* One output row's gradient into input rows g0 (2i) and g1 (2i+1). Integer masks keep it branch-free
 * (vectorized) and exact: each input gradient is the output gradient or +0.0. */
static void backward_row(const int32_t *restrict gout, const float *restrict out, const uint8_t *restrict arg,
                         int32_t *restrict g0, int32_t *restrict g1, int64_t wo, int64_t c) {
    for (int64_t j = 0; j < wo; j++) {
        int32_t *q0 = g0 + 2 * j * c, *q1 = q0 + c, *q2 = g1 + 2 * j * c, *q3 = q2 + c;
        for (int64_t k = 0; k < c; k++) {
            const int64_t e = j * c + k;
            const int32_t g = gout[e] & -(int32_t)!(out[e] <= 0.0f);
            const int32_t at = arg[e];
            q0[k] = g & -(int32_t)(at == 0);
            q1[k] = g & -(int32_t)(at == 1);
            q2[k] = g & -(int32_t)(at == 2);
            q3[k] = g & -(int32_t)(at == 3);
        }
    }
}

void pool_relu_forward(const float *x, float *out, uint8_t *arg, int64_t n, int64_t h, int64_t w, int64_t c) {
    const int64_t ho = h / 2, wo = w / 2;
#pragma omp parallel for
    for (int64_t row = 0; row < n * ho; row++) {
        const float *x0 = x + (row / ho * h + 2 * (row % ho)) * w * c;
        forward_row(x0, x0 + w * c, out + row * wo * c, arg + row * wo * c, wo, c);
    }
}

void pool_relu_backward(const float *gout, const float *out, const uint8_t *arg, float *gin,
                        int64_t n, int64_t h, int64_t w, int64_t c) {
    const int64_t ho = h / 2, wo = w / 2;
#pragma omp parallel for
    for (int64_t row = 0; row < n * ho; row++) {
        int32_t *g0 = (int32_t *)gin + (row / ho * h + 2 * (row % ho)) * w * c;
        backward_row((const int32_t *)gout + row * wo * c, out + row * wo * c, arg + row * wo * c,
                     g0, g0 + w * c, wo, c);
    }
}


/* ---- 2. conv1 + max-pool + relu: the 6.4 MB conv output of a batch never exists. Each 2x2 window's
 * four conv values are computed from the 4x4 input patch under it, compared and dropped; the backward
 * needs only the window's max position: the weight gradient is a sum over windows of the gradient times
 * the max's own 3x3 input patch. Not bit-identical to oneDNN's convolution (another summation order:
 * bias first, then the taps in row order; within ~1e-6 relative, tested), deterministic (fixed order
 * everywhere; the per-sample sums are added in sample order whatever the thread count).
 *
 * x: [n, h, w] (the one channel); wt: [9, c], the weight transposed (tap-major); bias: [c];
 * out, arg: [n, h/2, w/2, c] as in 1. Channels go CB = 16 at a time in GCC vector types, so that a
 * block's weights and accumulators stay in registers. fused.py checks c % 16 == 0 and h, w <= 64. */
#define CB 16
typedef float vf __attribute__((vector_size(CB * 4)));
typedef int32_t vi __attribute__((vector_size(CB * 4)));

static void pad_image(const float *img, int64_t h, int64_t w, float *padded) {
    memset(padded, 0, sizeof(float) * (h + 2) * (w + 2));
    for (int64_t y = 0; y < h; y++)
        memcpy(padded + (y + 1) * (w + 2) + 1, img + y * w, sizeof(float) * w);
}

static vf load(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static vi load_u8(const uint8_t *p) { vi v; for (int k = 0; k < CB; k++) v[k] = p[k]; return v; }

static void conv_forward_sample(const float *restrict img, const float *restrict wt, const float *restrict bias,
                                float *restrict out, uint8_t *restrict arg, int64_t h, int64_t w, int64_t c) {
    const int64_t ho = h / 2, wo = w / 2, pw = w + 2;
    float padded[66 * 66];
    pad_image(img, h, w, padded);
    for (int64_t cb = 0; cb < c; cb += CB) {
        vf wl[9], bl = load(bias + cb);
        for (int t = 0; t < 9; t++)
            wl[t] = load(wt + t * c + cb);
        for (int64_t i = 0; i < ho; i++)
            for (int64_t j = 0; j < wo; j++) {
                vf v[4];
#pragma GCC unroll 4
                for (int p = 0; p < 4; p++) {
                    const float *q = padded + (2 * i + p / 2) * pw + 2 * j + p % 2;
                    vf acc = bl;
#pragma GCC unroll 9
                    for (int t = 0; t < 9; t++)
                        acc += wl[t] * q[(t / 3) * pw + t % 3];
                    v[p] = acc;
                }
                /* torch's rule: a later element wins if strictly greater, or NaN */
                vf m = v[0];
                vi at = {0};
                for (int p = 1; p < 4; p++) {
                    vi take = (v[p] > m) | (v[p] != v[p]);
                    m = (vf)(((vi)v[p] & take) | ((vi)m & ~take));
                    at = (p & take) | (at & ~take);
                }
                vi keep = (m > 0.0f) | (m != m);
                m = (vf)((vi)m & keep);
                memcpy(out + (i * wo + j) * c + cb, &m, sizeof m);
                for (int k = 0; k < CB; k++)
                    arg[(i * wo + j) * c + cb + k] = (uint8_t)at[k];
            }
    }
}

void conv_pool_relu_forward(const float *x, const float *wt, const float *bias, float *out, uint8_t *arg,
                            int64_t n, int64_t h, int64_t w, int64_t c) {
    const int64_t per_out = (h / 2) * (w / 2) * c;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < n; b++)
        conv_forward_sample(x + b * h * w, wt, bias, out + b * per_out, arg + b * per_out, h, w, c);
}

static void conv_backward_sample(const float *restrict img, const float *restrict gout, const float *restrict out,
                                 const uint8_t *restrict arg, float *restrict result, int64_t h, int64_t w, int64_t c) {
    const int64_t ho = h / 2, wo = w / 2, pw = w + 2;
    float padded[66 * 66];
    pad_image(img, h, w, padded);
    for (int64_t cb = 0; cb < c; cb += CB) {
        vf acc[10];
        for (int t = 0; t < 10; t++)
            acc[t] = (vf){0};
        for (int64_t i = 0; i < ho; i++)
            for (int64_t j = 0; j < wo; j++) {
                const int64_t at = (i * wo + j) * c + cb;
                const vf o = load(out + at);
                const vf g = (vf)((vi)load(gout + at) & ~(vi)(o <= 0.0f));  /* relu's mask */
                const vi a = load_u8(arg + at);
                acc[9] += g;
#pragma GCC unroll 4
                for (int p = 0; p < 4; p++) {
                    const vf gp = (vf)((vi)g & (a == p));  /* g where position p was the max, else +0.0 */
                    const float *q = padded + (2 * i + p / 2) * pw + 2 * j + p % 2;
#pragma GCC unroll 9
                    for (int t = 0; t < 9; t++)
                        acc[t] += gp * q[(t / 3) * pw + t % 3];
                }
            }
        for (int t = 0; t < 10; t++)
            for (int k = 0; k < CB; k++)
                result[t * c + cb + k] = acc[t][k];
    }
}

void conv_pool_relu_backward(const float *x, const float *gout, const float *out, const uint8_t *arg,
                             float *scratch, float *grad, int64_t n, int64_t h, int64_t w, int64_t c) {
    const int64_t per_out = (h / 2) * (w / 2) * c;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < n; b++)
        conv_backward_sample(x + b * h * w, gout + b * per_out, out + b * per_out, arg + b * per_out,
                             scratch + b * 10 * c, h, w, c);
    for (int64_t e = 0; e < 10 * c; e++) {
        float s = 0.0f;
        for (int64_t b = 0; b < n; b++)
            s += scratch[b * 10 * c + e];
        grad[e] = s;
    }
}

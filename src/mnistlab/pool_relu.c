/* relu(max_pool2d(x, 2, 2)) and its gradient for channels_last float32 tensors, in one pass each.
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

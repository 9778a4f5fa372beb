#include "kern/ops.h"

#include <math.h>

void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * r * w[i];
}

void rope_freqs(float *inv_freq, int head_dim, double theta) {
    /* mistral-inference: 1.0 / (theta ** (arange(0, dim, 2).float() / dim)), in fp32 */
    float base = (float)theta;
    for (int i = 0; i < head_dim / 2; i++) {
        float e = (float)(2 * i) / (float)head_dim;
        float p = (float)pow((double)base, (double)e);
        inv_freq[i] = 1.0f / p;
    }
}

/* Rotates pairs (x[first(i)], x[first(i) + step]) of every head. */
static void rotate(float *x, int n_heads, int head_dim, long pos, const float *inv_freq,
                   int interleaved) {
    int half = head_dim / 2, step = interleaved ? 1 : half;
    for (int i = 0; i < half; i++) {
        float angle = (float)pos * inv_freq[i]; /* fp32, as torch.outer(t, freqs) */
        float c = (float)cos((double)angle), s = (float)sin((double)angle);
        for (int h = 0; h < n_heads; h++) {
            float *p = x + (size_t)h * head_dim + (interleaved ? 2 * i : i);
            float a = p[0], b = p[step];
            p[0] = a * c - b * s;
            p[step] = a * s + b * c;
        }
    }
}

void rope(float *x, int n_heads, int head_dim, long pos, const float *inv_freq) {
    rotate(x, n_heads, head_dim, pos, inv_freq, 1);
}

void rope_half(float *x, int n_heads, int head_dim, long pos, const float *inv_freq) {
    rotate(x, n_heads, head_dim, pos, inv_freq, 0);
}

void softmax(float *x, int n) {
    float mx = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > mx) mx = x[i];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void silu_mul(float *out, const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++) out[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}

void attention(float *out, const float *q, const float *const *k, const float *const *v,
               int n, int off, int head_dim, float scale, float *scores) {
    for (int j = 0; j < n; j++) {
        const float *kj = k[j] + off;
        double s = 0;
        for (int d = 0; d < head_dim; d++) s += (double)q[d] * kj[d];
        scores[j] = (float)s * scale;
    }
    softmax(scores, n);
    for (int d = 0; d < head_dim; d++) out[d] = 0;
    for (int j = 0; j < n; j++) axpy(out, scores[j], v[j] + off, head_dim);
}

void attention_group(const Kern *kt, float *out, const float *q, int g, const void *const *k, const void *const *v,
                     DType kv, int n, int off, int head_dim, float scale) {
    kt->attn[kv == DT_F16](out, q, g, k, v, n, off, head_dim, scale);
}

void add(float *out, const float *x, int n) {
    for (int i = 0; i < n; i++) out[i] += x[i];
}

void axpy(float *out, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) out[i] += a * x[i];
}

int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

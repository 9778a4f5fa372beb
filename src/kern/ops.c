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

void attention_ex(const Kern *kt, float *out, const float *q, const float *const *k,
                  const float *const *v, int n, int off, int head_dim, float scale, float *scores) {
    if (kt->attn_scores[0]) {
        kt->attn_scores[0](scores, q, (const void *const *)k, n, off, head_dim);
        for (int j = 0; j < n; j++) scores[j] *= scale;
    } else {
        for (int j = 0; j < n; j++) scores[j] = kt->dot_f32(q, k[j] + off, head_dim) * scale;
    }
    softmax(scores, n);
    if (kt->attn_wsum[0]) {
        kt->attn_wsum[0](out, scores, (const void *const *)v, n, off, head_dim);
        return;
    }
    for (int d = 0; d < head_dim; d++) out[d] = 0;
    for (int j = 0; j < n; j++) kt->axpy_f32(out, scores[j], v[j] + off, head_dim);
}

static float dot_f16_c(const float *a, const uint16_t *h, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * f16_to_f32(h[i]);
    return s;
}
static void axpy_f16_c(float *out, float s, const uint16_t *h, int n) {
    for (int i = 0; i < n; i++) out[i] += s * f16_to_f32(h[i]);
}

void attention_kv(const Kern *kt, float *out, const float *q, const void *const *k, const void *const *v,
                  DType kv, int n, int off, int head_dim, float scale, float *scores) {
    if (kv == DT_F32) {
        attention_ex(kt, out, q, (const float *const *)k, (const float *const *)v, n, off, head_dim, scale, scores);
        return;
    }
    float (*dot)(const float *, const uint16_t *, int) = kt->dot_f16 ? kt->dot_f16 : dot_f16_c;
    void (*axpy16)(float *, float, const uint16_t *, int) = kt->axpy_f16 ? kt->axpy_f16 : axpy_f16_c;
    if (kt->attn_scores[1]) {
        kt->attn_scores[1](scores, q, k, n, off, head_dim);
        for (int j = 0; j < n; j++) scores[j] *= scale;
    } else {
        for (int j = 0; j < n; j++) scores[j] = dot(q, (const uint16_t *)k[j] + off, head_dim) * scale;
    }
    softmax(scores, n);
    if (kt->attn_wsum[1]) {
        kt->attn_wsum[1](out, scores, v, n, off, head_dim);
        return;
    }
    for (int d = 0; d < head_dim; d++) out[d] = 0;
    for (int j = 0; j < n; j++) axpy16(out, scores[j], (const uint16_t *)v[j] + off, head_dim);
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

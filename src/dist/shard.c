#include "dist/shard.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "dist/dist.h"

/* ---- layers and experts ------------------------------------------------------- */

int shard_layers(int *bounds, int n_stages, int n_layers, const char *spec) {
    if (n_stages < 1 || n_stages > n_layers)
        return err_set("%d pipeline stages for a model of %d layers: each stage needs at least "
                       "one layer", n_stages, n_layers);
    bounds[0] = 0;
    if (!spec) {
        for (int s = 0; s < n_stages; s++)
            bounds[s + 1] = bounds[s] + n_layers / n_stages + (s < n_layers % n_stages);
        return 0;
    }
    const char *p = spec;
    int s = 0;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > INT_MAX || (*end && *end != ','))
            return err_set("--layer-split \"%.60s\": expected layer counts (each >= 1) separated "
                           "by commas, one per process", spec);
        if (s == n_stages)
            return err_set("--layer-split \"%.60s\" has more than the %d stages (processes)", spec,
                           n_stages);
        if (v > n_layers - bounds[s])
            return err_set("--layer-split \"%.60s\" adds up to more than the model's %d layers",
                           spec, n_layers);
        bounds[s + 1] = bounds[s] + (int)v;
        s++;
        if (!*end) break;
        p = end + 1;
    }
    if (s != n_stages)
        return err_set("--layer-split \"%.60s\" gives %d stages for %d processes", spec, s, n_stages);
    if (bounds[s] != n_layers)
        return err_set("--layer-split \"%.60s\" adds up to %d layers, the model has %d", spec,
                       bounds[s], n_layers);
    return 0;
}

void shard_experts(int *lo, int *hi, int rank, int size, int n_experts) {
    int base = n_experts / size, extra = n_experts % size;
    *lo = rank * base + (rank < extra ? rank : extra);
    *hi = *lo + base + (rank < extra);
}

static void reduce(void *ud, float *x, size_t n) {
    /* MPI errors are fatal (they end the job), so this cannot fail here */
    CHECK(dist_group_allreduce_sum(ud, x, n) == 0);
}

int shard_expert_parallel(Context *ctx, DistGroup *g) {
    const Config *c = &ctx->model->cfg;
    int size = dist_group_size(g);
    if (!c->n_experts)
        return err_set("--expert-parallel: the model is dense (no experts to share out)");
    if (size > c->n_experts)
        return err_set("--expert-parallel: %d processes for %d experts: at most one process per "
                       "expert", size, c->n_experts);
    shard_experts(&ctx->expert_lo, &ctx->expert_hi, dist_group_rank(g), size, c->n_experts);
    ctx->moe_reduce = reduce;
    ctx->moe_reduce_ud = g;
    return 0;
}

int shard_count_stages(const char *spec) {
    int n = 1;
    for (const char *p = spec; *p; p++) n += *p == ',';
    return n;
}

/* ---- fingerprint ------------------------------------------------------------------ */

static void fnv(uint64_t *h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) *h = (*h ^ b[i]) * 0x100000001b3ULL;
}

static void hash_int(uint64_t *h, long long v) { fnv(h, &v, sizeof v); }

/* The model's mapped files, read with pread: touching the mapping itself
 * would make the sampled pages (and, with large page-cache folios, whole
 * tensors around them) resident in every rank, the very memory a rank
 * that does not compute with them must not hold. */
typedef struct {
    const unsigned char *base;
    size_t size;
    int fd; /* -1: read the memory itself */
} Region;

typedef struct {
    Region *r; /* owns [n] */
    int n;
} Regions;

static void regions_add(Regions *rs, const MapFile *map, const char *path) {
    rs->r = xrealloc(rs->r, (size_t)(rs->n + 1) * sizeof *rs->r);
    rs->r[rs->n++] = (Region){.base = map->data, .size = map->size, .fd = open(path, O_RDONLY)};
}

/* k bytes at p (a view into one of the mappings, or a heap copy). */
static void hash_bytes(uint64_t *h, const Regions *rs, const unsigned char *p, size_t k) {
    unsigned char buf[32];
    for (int i = 0; i < rs->n && k <= sizeof buf; i++) {
        const Region *r = &rs->r[i];
        if (r->fd < 0 || p < r->base || p + k > r->base + r->size) continue;
        if (pread(r->fd, buf, k, (off_t)(p - r->base)) == (ssize_t)k) {
            fnv(h, buf, k);
            return;
        }
    }
    fnv(h, p, k); /* not in a mapping (an aligned copy), or unreadable */
}

static void hash_mat(uint64_t *h, const Regions *rs, const char *name, const Mat *m) {
    fnv(h, name, strlen(name) + 1);
    hash_int(h, m->dtype), hash_int(h, m->rows), hash_int(h, m->cols);
    size_t bytes = (size_t)m->rows * dtype_bytes(m->dtype, (size_t)m->cols);
    const unsigned char *d = m->data;
    size_t k = bytes < 32 ? bytes : 32;
    hash_bytes(h, rs, d, k);
    hash_bytes(h, rs, d + (bytes - k) / 2, k);
    hash_bytes(h, rs, d + bytes - k, k);
}

static void hash_ffn(uint64_t *h, const Regions *rs, const char *prefix, const FFNWeights *f) {
    char name[128];
    snprintf(name, sizeof name, "%sw1", prefix), hash_mat(h, rs, name, &f->w1);
    snprintf(name, sizeof name, "%sw2", prefix), hash_mat(h, rs, name, &f->w2);
    snprintf(name, sizeof name, "%sw3", prefix), hash_mat(h, rs, name, &f->w3);
}

uint64_t shard_fingerprint(const Model *m) {
    const Config *c = &m->cfg;
    uint64_t h = 0xcbf29ce484222325ULL;
    Regions rs = {0};
    if (m->gguf.version > 0) regions_add(&rs, &m->gguf.map, m->gguf.path);
    for (int i = 0; i < m->ts.n_files; i++) regions_add(&rs, &m->ts.files[i].map, m->ts.files[i].path);
    long long ints[] = {c->dim, c->n_layers, c->head_dim, c->hidden_dim, c->n_heads,
                        c->n_kv_heads, c->n_vocab, c->n_experts, c->n_active, c->rope_half};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) hash_int(&h, ints[i]);
    fnv(&h, &c->norm_eps, sizeof c->norm_eps);
    fnv(&h, &c->rope_theta, sizeof c->rope_theta);
    for (int l = 0; l < c->n_layers; l++) hash_int(&h, c->window[l]);
    hash_mat(&h, &rs, "tok_embeddings", &m->w.tok_embeddings);
    hash_mat(&h, &rs, "output", &m->w.output);
    fnv(&h, m->w.norm, (size_t)c->dim * sizeof(float));
    char name[96];
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *lw = &m->w.layers[l];
        fnv(&h, lw->attention_norm, (size_t)c->dim * sizeof(float));
        fnv(&h, lw->ffn_norm, (size_t)c->dim * sizeof(float));
        snprintf(name, sizeof name, "layers.%d.wq", l), hash_mat(&h, &rs, name, &lw->wq);
        snprintf(name, sizeof name, "layers.%d.wk", l), hash_mat(&h, &rs, name, &lw->wk);
        snprintf(name, sizeof name, "layers.%d.wv", l), hash_mat(&h, &rs, name, &lw->wv);
        snprintf(name, sizeof name, "layers.%d.wo", l), hash_mat(&h, &rs, name, &lw->wo);
        if (!c->n_experts) {
            snprintf(name, sizeof name, "layers.%d.ffn.", l), hash_ffn(&h, &rs, name, &lw->ffn);
            continue;
        }
        snprintf(name, sizeof name, "layers.%d.gate", l), hash_mat(&h, &rs, name, &lw->gate);
        for (int e = 0; e < c->n_experts; e++) {
            snprintf(name, sizeof name, "layers.%d.experts.%d.", l, e);
            hash_ffn(&h, &rs, name, &lw->experts[e]);
        }
    }
    for (int i = 0; i < rs.n; i++)
        if (rs.r[i].fd >= 0) close(rs.r[i].fd);
    free(rs.r);
    return h;
}

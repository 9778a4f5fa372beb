/* imatrix — importance matrices: llama.cpp's GGUF and .dat files, and the
 * collector that fills one while a model runs (imatrix.h). */
#include "model/imatrix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "format/gguf.h"

/* A name longer than this in a .dat file is taken for a corrupt length. */
#define MAX_NAME 4096

void imatrix_free(Imatrix *im) {
    for (int i = 0; i < im->n; i++) free(im->e[i].name), free(im->e[i].sum2), free(im->e[i].count);
    free(im->e);
    for (int i = 0; i < im->n_datasets; i++) free(im->datasets[i]);
    free(im->datasets);
    memset(im, 0, sizeof *im);
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const ImatrixEntry *)a)->name, ((const ImatrixEntry *)b)->name);
}

const ImatrixEntry *imatrix_find(const Imatrix *im, const char *name) {
    ImatrixEntry key = {.name = (char *)name};
    return im->n ? bsearch(&key, im->e, (size_t)im->n, sizeof *im->e, by_name) : NULL;
}

static void add_dataset(Imatrix *im, const char *s, size_t len) {
    im->datasets = xrealloc(im->datasets, (size_t)(im->n_datasets + 1) * sizeof *im->datasets);
    char *d = xmalloc(len + 1);
    memcpy(d, s, len);
    d[len] = 0;
    im->datasets[im->n_datasets++] = d;
}

/* Sorts the entries; -1 with err set when a name is given twice. */
static int finish(Imatrix *im, const char *where) {
    qsort(im->e, (size_t)im->n, sizeof *im->e, by_name);
    for (int i = 1; i < im->n; i++)
        if (!strcmp(im->e[i].name, im->e[i - 1].name))
            return err_input("%s: %s is given twice", where, im->e[i].name);
    return 0;
}

static int check_values(const float *v, size_t n, const char *where, const char *name, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]) || v[i] < 0)
            return err_input("%s: %s: %s[%zu] is %g (must be finite and >= 0)", where, name, what, i, (double)v[i]);
    return 0;
}

/* ---- legacy .dat ---------------------------------------------------------- */

typedef struct {
    const unsigned char *p;
    size_t left;
} Cursor;

static int take(Cursor *c, void *out, size_t n) {
    if (c->left < n) return -1;
    memcpy(out, c->p, n);
    c->p += n, c->left -= n;
    return 0;
}

static int parse_dat(Imatrix *im, const void *buf, size_t len, const char *where) {
    Cursor c = {buf, len};
    int32_t n_entries;
    if (take(&c, &n_entries, 4)) return err_input("%s: not an importance matrix (%zu bytes)", where, len);
    if (n_entries < 1 || (size_t)n_entries > len / 12)
        return err_input("%s: not an importance matrix (GGUF or .dat): %d entries in %zu bytes", where, n_entries,
                         len);
    im->legacy = 1;
    im->e = xcalloc((size_t)n_entries, sizeof *im->e);
    for (int i = 0; i < n_entries; i++) {
        int32_t nlen, ncall, nval;
        if (take(&c, &nlen, 4) || nlen < 1 || nlen > MAX_NAME || (size_t)nlen > c.left)
            return err_input("%s: entry %d: bad or truncated name", where, i + 1);
        ImatrixEntry *e = &im->e[im->n++];
        e->name = xmalloc((size_t)nlen + 1);
        take(&c, e->name, (size_t)nlen);
        e->name[nlen] = 0;
        if (strlen(e->name) != (size_t)nlen) return err_input("%s: entry %d: a NUL inside the name", where, i + 1);
        if (take(&c, &ncall, 4) || take(&c, &nval, 4))
            return err_input("%s: %s: truncated after the name", where, e->name);
        if (nval < 1 || (size_t)nval > c.left / 4)
            return err_input("%s: %s: %d values, %zu bytes left", where, e->name, nval, c.left);
        e->cols = nval, e->n_mats = 1;
        e->sum2 = xmalloc((size_t)nval * sizeof(float));
        take(&c, e->sum2, (size_t)nval * 4);
        e->count = xmalloc(sizeof(float));
        e->count[0] = (float)ncall;
        if (check_values(e->sum2, (size_t)nval, where, e->name, "value")) return -1;
    }
    int32_t chunks, dlen;
    if (c.left) { /* newer files: the chunk count and the dataset */
        if (take(&c, &chunks, 4) || take(&c, &dlen, 4) || dlen < 0 || (size_t)dlen > c.left)
            return err_input("%s: truncated chunk count or dataset name after the entries", where);
        im->chunk_count = chunks > 0 ? chunks : 0;
        add_dataset(im, (const char *)c.p, (size_t)dlen);
        if (c.left != (size_t)dlen) return err_input("%s: %zu bytes after the dataset name", where, c.left - dlen);
    }
    return finish(im, where);
}

/* ---- GGUF ----------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && !strcmp(s + n - k, suffix);
}

static int parse_gguf(Imatrix *im, const void *buf, size_t len, const char *where) {
    GGUFFile f = {0};
    if (gguf_parse(&f, buf, len, where)) {
        gguf_close(&f);
        return -1;
    }
    int rc = 0;
    im->e = xcalloc((size_t)f.n_tensors + 1, sizeof *im->e);
    for (int i = 0; i < f.n_tensors && rc == 0; i++) {
        const Tensor *s2 = &f.t[i];
        if (!ends_with(s2->name, ".in_sum2")) {
            if (ends_with(s2->name, ".counts")) {
                char base[MAX_NAME];
                snprintf(base, sizeof base, "%.*s.in_sum2", (int)(strlen(s2->name) - 7), s2->name);
                if (!gguf_find_tensor(&f, base)) rc = err_input("%s: %s has no in_sum2 beside it", where, s2->name);
            }
            continue; /* in_sum (the mean activation) and others are not used */
        }
        size_t blen = strlen(s2->name) - 8;
        char cname[MAX_NAME];
        snprintf(cname, sizeof cname, "%.*s.counts", (int)blen, s2->name);
        const Tensor *ct = gguf_find_tensor(&f, cname);
        if (!ct) {
            rc = err_input("%s: %s has no .counts beside it", where, s2->name);
            break;
        }
        int64_t cols = tensor_ne(s2, 0), mats = tensor_ne(s2, 1);
        int64_t nc = tensor_ne(ct, 0) * tensor_ne(ct, 1) * tensor_ne(ct, 2) * tensor_ne(ct, 3);
        if (s2->file_type != 0 || ct->file_type != 0 || s2->ndim > 2 || ct->ndim > 2) {
            rc = err_input("%s: %s: in_sum2 and counts must be F32 with at most 2 dims", where, s2->name);
            break;
        }
        if (nc != mats || cols < 1 || cols > (1 << 24) || mats < 1 || mats > (1 << 16)) {
            rc = err_input("%s: %s: in_sum2 is [%lld, %lld] but counts has %lld values", where, s2->name,
                           (long long)cols, (long long)mats, (long long)nc);
            break;
        }
        ImatrixEntry *e = &im->e[im->n++];
        e->name = xmalloc(blen + 1);
        memcpy(e->name, s2->name, blen);
        e->name[blen] = 0;
        e->cols = (int)cols, e->n_mats = (int)mats;
        e->sum2 = xmalloc((size_t)(cols * mats) * sizeof(float));
        e->count = xmalloc((size_t)mats * sizeof(float));
        memcpy(e->sum2, s2->data, (size_t)(cols * mats) * sizeof(float));
        memcpy(e->count, ct->data, (size_t)mats * sizeof(float));
        rc = check_values(e->sum2, (size_t)(cols * mats), where, e->name, "in_sum2");
        if (rc == 0) rc = check_values(e->count, (size_t)mats, where, e->name, "counts");
    }
    if (rc == 0 && im->n == 0) rc = err_input("%s: a GGUF file without importance-matrix tensors (*.in_sum2)", where);
    const GGUFKV *ds = rc == 0 ? gguf_find_kv(&f, "imatrix.datasets") : NULL;
    if (ds && ds->v.type == GGUF_ARRAY && ds->v.elem_type == GGUF_STRING)
        for (uint64_t i = 0; i < ds->v.n; i++) {
            GGUFStr s = gguf_array_str(&ds->v, i);
            add_dataset(im, s.p, s.len);
        }
    uint32_t u;
    if (rc == 0 && gguf_get_u32(&f, "imatrix.chunk_count", &u) == 0) im->chunk_count = (int)(u > INT32_MAX ? INT32_MAX : u);
    if (rc == 0 && gguf_get_u32(&f, "imatrix.chunk_size", &u) == 0) im->chunk_size = (int)(u > INT32_MAX ? INT32_MAX : u);
    gguf_close(&f);
    return rc ? rc : finish(im, where);
}

int imatrix_parse(Imatrix *im, const void *buf, size_t len, const char *where) {
    memset(im, 0, sizeof *im);
    int rc = len >= 4 && !memcmp(buf, "GGUF", 4) ? parse_gguf(im, buf, len, where) : parse_dat(im, buf, len, where);
    if (rc) imatrix_free(im);
    return rc;
}

int imatrix_load(Imatrix *im, const char *path) {
    memset(im, 0, sizeof *im);
    size_t len;
    char *buf = read_file(path, &len);
    if (!buf) return -1;
    int rc = imatrix_parse(im, buf, len, path);
    free(buf);
    return rc;
}

int imatrix_weights(const Imatrix *im, const ImatrixEntry *e, int n_mats, int cols, float *out) {
    size_t n = (size_t)n_mats * (size_t)cols, have = (size_t)e->cols * (size_t)e->n_mats;
    if (have != n)
        return err_input("importance matrix: %s has %zu values, the tensor %d x %d columns", e->name, have, n_mats,
                         cols);
    if (im->legacy) { /* llama-quantize: values / ncall */
        float ncall = e->count[0];
        for (size_t i = 0; i < n; i++) out[i] = ncall > 0 ? e->sum2[i] / ncall : e->sum2[i];
        return 0;
    }
    for (int m = 0; m < e->n_mats; m++) /* in_sum2 / counts, 1 for a matrix that saw nothing */
        for (int i = 0; i < e->cols; i++) {
            size_t k = (size_t)m * (size_t)e->cols + (size_t)i;
            out[k] = e->count[m] > 0 ? e->sum2[k] / e->count[m] : 1;
        }
    return 0;
}

/* ---- writers -------------------------------------------------------------- */

int imatrix_write_gguf(const Imatrix *im, FILE *f) {
    GGUFWriter w;
    gguf_writer_init(&w);
    gguf_writer_add_string(&w, "general.type", "imatrix");
    gguf_writer_add_array_str(&w, "imatrix.datasets", (const char *const *)im->datasets, NULL,
                              (uint64_t)im->n_datasets);
    gguf_writer_add_u32(&w, "imatrix.chunk_count", (uint32_t)im->chunk_count);
    gguf_writer_add_u32(&w, "imatrix.chunk_size", (uint32_t)im->chunk_size);
    for (int i = 0; i < im->n; i++) {
        const ImatrixEntry *e = &im->e[i];
        char name[MAX_NAME + 16];
        int64_t d2[2] = {e->cols, e->n_mats}, dc[2] = {1, e->n_mats};
        snprintf(name, sizeof name, "%s.in_sum2", e->name);
        gguf_writer_add_tensor(&w, name, DT_F32, 2, d2, e->sum2);
        snprintf(name, sizeof name, "%s.counts", e->name);
        gguf_writer_add_tensor(&w, name, DT_F32, 2, dc, e->count);
    }
    int rc = gguf_writer_write(&w, f);
    gguf_writer_free(&w);
    return rc;
}

/* llama-imatrix's legacy writer: per entry ncall = ceil(max count /
 * chunk_size) and values (Σx² / count) · ncall (1 · ncall for a matrix that
 * saw nothing); entries that saw nothing at all are left out. */
int imatrix_write_dat(const Imatrix *im, FILE *f) {
    int32_t n = 0, cs = im->chunk_size > 0 ? im->chunk_size : 1;
    for (int i = 0; i < im->n; i++) {
        int any = 0;
        for (int m = 0; m < im->e[i].n_mats; m++) any |= im->e[i].count[m] > 0;
        n += any || im->legacy;
    }
    int ok = fwrite(&n, 4, 1, f) == 1;
    for (int i = 0; i < im->n && ok; i++) {
        const ImatrixEntry *e = &im->e[i];
        float max = 0;
        for (int m = 0; m < e->n_mats; m++) max = e->count[m] > max ? e->count[m] : max;
        if (max <= 0 && !im->legacy) continue;
        int32_t len = (int32_t)strlen(e->name), nval = e->cols * e->n_mats;
        double nc = im->legacy ? e->count[0] : ceil((double)max / cs); /* counts from a file may be huge */
        int32_t ncall = nc >= INT32_MAX ? INT32_MAX : (int32_t)nc;
        float *v = xmalloc((size_t)nval * sizeof(float));
        for (int m = 0; m < e->n_mats; m++)
            for (int k = 0; k < e->cols; k++) {
                size_t j = (size_t)m * (size_t)e->cols + (size_t)k;
                float c = e->count[m], s = e->sum2[j];
                v[j] = im->legacy ? s : c > 0 ? s / c * (float)ncall : (float)ncall;
            }
        ok = fwrite(&len, 4, 1, f) == 1 && fwrite(e->name, 1, (size_t)len, f) == (size_t)len &&
             fwrite(&ncall, 4, 1, f) == 1 && fwrite(&nval, 4, 1, f) == 1 &&
             fwrite(v, sizeof(float), (size_t)nval, f) == (size_t)nval;
        free(v);
    }
    int32_t chunks = im->chunk_count;
    const char *ds = im->n_datasets ? im->datasets[im->n_datasets - 1] : "";
    int32_t dlen = (int32_t)strlen(ds);
    ok = ok && fwrite(&chunks, 4, 1, f) == 1 && fwrite(&dlen, 4, 1, f) == 1 &&
         fwrite(ds, 1, (size_t)dlen, f) == (size_t)dlen;
    return ok ? 0 : err_io("writing the importance matrix failed");
}

/* ---- collecting ----------------------------------------------------------- */

struct ImatrixSlot {
    const Mat *w;
    int name, mat;
};

static void add_slot(ImatrixCollector *c, const Mat *w, int name, int mat) {
    c->slot = xrealloc(c->slot, (size_t)(c->n_slots + 1) * sizeof *c->slot);
    c->slot[c->n_slots++] = (struct ImatrixSlot){w, name, mat};
}

/* A tensor of `mats` matrices of `cols` columns called fmt (with layer l). */
static int add_name(ImatrixCollector *c, const char *fmt, int l, int mats, int cols) {
    char name[96];
    snprintf(name, sizeof name, fmt, l);
    int i = c->n_names++;
    c->names = xrealloc(c->names, (size_t)c->n_names * sizeof *c->names);
    c->mats = xrealloc(c->mats, (size_t)c->n_names * sizeof *c->mats);
    c->cols = xrealloc(c->cols, (size_t)c->n_names * sizeof *c->cols);
    c->sum2 = xrealloc(c->sum2, (size_t)c->n_names * sizeof *c->sum2);
    c->count = xrealloc(c->count, (size_t)c->n_names * sizeof *c->count);
    c->names[i] = xstrdup(name);
    c->mats[i] = mats, c->cols[i] = cols;
    c->sum2[i] = xcalloc((size_t)mats * (size_t)cols, sizeof(double));
    c->count[i] = xcalloc((size_t)mats, sizeof(int64_t));
    return i;
}

void imatrix_collector_init(ImatrixCollector *c, const Model *m, int process_output) {
    memset(c, 0, sizeof *c);
    c->m = m;
    const Config *cf = &m->cfg;
    for (int l = 0; l < cf->n_layers; l++) {
        const LayerWeights *lw = &m->w.layers[l];
        static const char *const attn[4] = {"blk.%d.attn_q.weight", "blk.%d.attn_k.weight", "blk.%d.attn_v.weight",
                                            "blk.%d.attn_output.weight"};
        const Mat *am[4] = {&lw->wq, &lw->wk, &lw->wv, &lw->wo};
        for (int k = 0; k < 4; k++) add_slot(c, am[k], add_name(c, attn[k], l, 1, am[k]->cols), 0);
        static const char *const dense[3] = {"blk.%d.ffn_gate.weight", "blk.%d.ffn_down.weight",
                                             "blk.%d.ffn_up.weight"};
        static const char *const exps[3] = {"blk.%d.ffn_gate_exps.weight", "blk.%d.ffn_down_exps.weight",
                                            "blk.%d.ffn_up_exps.weight"};
        if (cf->n_experts) {
            add_slot(c, &lw->gate, add_name(c, "blk.%d.ffn_gate_inp.weight", l, 1, lw->gate.cols), 0);
            const FFNWeights *f0 = &lw->experts[0];
            const Mat *fm[3] = {&f0->w1, &f0->w2, &f0->w3};
            for (int k = 0; k < 3; k++) {
                int id = add_name(c, exps[k], l, cf->n_experts, fm[k]->cols);
                for (int e = 0; e < cf->n_experts; e++) {
                    const FFNWeights *f = &lw->experts[e];
                    add_slot(c, k == 0 ? &f->w1 : k == 1 ? &f->w2 : &f->w3, id, e);
                }
            }
        } else {
            const Mat *fm[3] = {&lw->ffn.w1, &lw->ffn.w2, &lw->ffn.w3};
            for (int k = 0; k < 3; k++) add_slot(c, fm[k], add_name(c, dense[k], l, 1, fm[k]->cols), 0);
        }
    }
    if (process_output) add_slot(c, &m->w.output, add_name(c, "output.weight", 0, 1, m->w.output.cols), 0);
}

void imatrix_collector_free(ImatrixCollector *c) {
    for (int i = 0; i < c->n_names; i++) free(c->names[i]), free(c->sum2[i]), free(c->count[i]);
    free(c->names), free(c->mats), free(c->cols), free(c->sum2), free(c->count), free(c->slot);
    memset(c, 0, sizeof *c);
}

void imatrix_collector_attach(ImatrixCollector *c, Context *ctx) {
    ctx->mm.observe = imatrix_observe;
    ctx->mm.observe_ud = c;
}

void imatrix_observe(void *ud, const Mat *w, const float *x, int n) {
    ImatrixCollector *c = ud;
    for (int s = 0; s < c->n_slots; s++) {
        if (c->slot[s].w != w) continue;
        int id = c->slot[s].name, mat = c->slot[s].mat, cols = c->cols[id];
        double *sum = c->sum2[id] + (size_t)mat * (size_t)cols;
        for (int t = 0; t < n; t++) {
            const float *r = x + (size_t)t * (size_t)cols;
            for (int j = 0; j < cols; j++) sum[j] += (double)r[j] * r[j];
        }
        c->count[id][mat] += n;
        return;
    }
}

void imatrix_collector_result(const ImatrixCollector *c, Imatrix *im, const char *dataset, int chunk_count,
                              int chunk_size) {
    memset(im, 0, sizeof *im);
    im->e = xcalloc((size_t)c->n_names + 1, sizeof *im->e);
    for (int i = 0; i < c->n_names; i++) {
        ImatrixEntry *e = &im->e[im->n++];
        size_t n = (size_t)c->mats[i] * (size_t)c->cols[i];
        e->name = xstrdup(c->names[i]);
        e->cols = c->cols[i], e->n_mats = c->mats[i];
        e->sum2 = xmalloc(n * sizeof(float));
        e->count = xmalloc((size_t)c->mats[i] * sizeof(float));
        for (size_t k = 0; k < n; k++) e->sum2[k] = (float)c->sum2[i][k];
        for (int m = 0; m < c->mats[i]; m++) e->count[m] = (float)c->count[i][m];
    }
    qsort(im->e, (size_t)im->n, sizeof *im->e, by_name);
    if (dataset) add_dataset(im, dataset, strlen(dataset));
    im->chunk_count = chunk_count, im->chunk_size = chunk_size;
}

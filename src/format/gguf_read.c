/* gguf_read — the GGUF reader (format/gguf.h): every length, count and
 * offset checked against the file before use. */
#include "format/gguf.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf: GGUF data are little-endian; this reader maps them as they are"
#endif

/* ---- types ---------------------------------------------------------------- */

/* Every GGML type a GGUF file may hold, with its block (ggml.c's type
 * traits), so that the byte size of tensors the kernels do not read is still
 * checked. Numbers missing here (4, 5, 31-33, 36-38) were removed from ggml. */
static const struct {
    const char *name;
    int block, bytes;
} ggml_types[] = {
    [0] = {"f32", 1, 4},          [1] = {"f16", 1, 2},         [2] = {"q4_0", 32, 18},
    [3] = {"q4_1", 32, 20},       [6] = {"q5_0", 32, 22},      [7] = {"q5_1", 32, 24},
    [8] = {"q8_0", 32, 34},       [9] = {"q8_1", 32, 36},      [10] = {"q2_K", 256, 84},
    [11] = {"q3_K", 256, 110},    [12] = {"q4_K", 256, 144},   [13] = {"q5_K", 256, 176},
    [14] = {"q6_K", 256, 210},    [15] = {"q8_K", 256, 292},   [16] = {"iq2_xxs", 256, 66},
    [17] = {"iq2_xs", 256, 74},   [18] = {"iq3_xxs", 256, 98}, [19] = {"iq1_s", 256, 50},
    [20] = {"iq4_nl", 32, 18},    [21] = {"iq3_s", 256, 110},  [22] = {"iq2_s", 256, 82},
    [23] = {"iq4_xs", 256, 136},  [24] = {"i8", 1, 1},         [25] = {"i16", 1, 2},
    [26] = {"i32", 1, 4},         [27] = {"i64", 1, 8},        [28] = {"f64", 1, 8},
    [29] = {"iq1_m", 256, 56},    [30] = {"bf16", 1, 2},       [34] = {"tq1_0", 256, 54},
    [35] = {"tq2_0", 256, 66},
};
#define N_GGML_TYPES (sizeof ggml_types / sizeof ggml_types[0])

const char *gguf_ggml_type_name(uint32_t t, int *block, int *bytes) {
    if (t >= N_GGML_TYPES || !ggml_types[t].name) return NULL;
    if (block) *block = ggml_types[t].block;
    if (bytes) *bytes = ggml_types[t].bytes;
    return ggml_types[t].name;
}

/* bytes of a fixed-size value; 0 for string and array */
static const int scalar_size[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
static const char *const type_names[GGUF_TYPE_COUNT] = {"u8",  "i8",     "u16",   "i16", "u32",
                                                        "i32", "f32",    "bool",  "string",
                                                        "array", "u64",  "i64",   "f64"};

int gguf_type_size(GGUFType t) { return (unsigned)t < GGUF_TYPE_COUNT ? scalar_size[t] : 0; }

const char *gguf_type_name(GGUFType t) {
    return (unsigned)t < GGUF_TYPE_COUNT ? type_names[t] : "?";
}

static uint64_t le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* ---- reading -------------------------------------------------------------- */

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    const char *where;
} Reader;

/* `ctx` names what is being read in errors ("key \"general.name\""). */
static int rd_uint(Reader *r, int n, uint64_t *v, const char *ctx, const char *what) {
    *v = 0;
    if ((size_t)n > r->len - r->pos)
        return err_set("%s: %s: %s at offset %zu runs past the end of the file (%zu bytes; truncated?)",
                       r->where, ctx, what, r->pos, r->len);
    *v = le(r->p + r->pos, n);
    r->pos += (size_t)n;
    return 0;
}

static int rd_str(Reader *r, GGUFStr *s, const char *ctx, const char *what) {
    uint64_t n;
    if (rd_uint(r, 8, &n, ctx, what)) return -1;
    if (n > r->len - r->pos)
        return err_set("%s: %s: %s of %llu bytes at offset %zu runs past the end of the file (%zu bytes left)",
                       r->where, ctx, what, (unsigned long long)n, r->pos, r->len - r->pos);
    s->p = (const char *)r->p + r->pos;
    s->len = (size_t)n;
    r->pos += (size_t)n;
    return 0;
}

/* A NUL-terminated copy of a name (keys and tensor names may not hold NUL). */
static char *name_copy(Reader *r, GGUFStr s, const char *ctx) {
    char *c = tensor_name_copy(s.p, s.len);
    if (!c) err_set("%s: %s: the name holds a NUL byte", r->where, ctx);
    return c;
}

static int parse_value(Reader *r, uint32_t type, GGUFValue *v, int depth, const char *ctx) {
    if (type >= GGUF_TYPE_COUNT)
        return err_set("%s: %s: unknown value type %u", r->where, ctx, type);
    v->type = (GGUFType)type;
    if (type == GGUF_STRING) {
        GGUFStr s;
        if (rd_str(r, &s, ctx, "string")) return -1;
        v->data = (const unsigned char *)s.p;
        v->size = s.len;
        return 0;
    }
    if (type != GGUF_ARRAY) {
        size_t n = (size_t)scalar_size[type];
        if (n > r->len - r->pos)
            return err_set("%s: %s: %s value at offset %zu runs past the end of the file (%zu bytes)", r->where,
                           ctx, type_names[type], r->pos, r->len);
        v->data = r->p + r->pos;
        v->size = n;
        r->pos += n;
        return 0;
    }
    if (depth >= GGUF_MAX_DEPTH)
        return err_set("%s: %s: arrays nested more than %d deep", r->where, ctx, GGUF_MAX_DEPTH);
    uint64_t et, n;
    if (rd_uint(r, 4, &et, ctx, "array element type") || rd_uint(r, 8, &n, ctx, "array length")) return -1;
    if (et >= GGUF_TYPE_COUNT)
        return err_set("%s: %s: unknown array element type %llu", r->where, ctx, (unsigned long long)et);
    size_t start = r->pos, left = r->len - r->pos;
    v->elem_type = (GGUFType)et;
    v->data = r->p + start;
    /* the smallest element: an 8-byte string length, a 12-byte array header */
    size_t min = et == GGUF_STRING ? 8 : et == GGUF_ARRAY ? 12 : (size_t)scalar_size[et];
    if (n > left / min)
        return err_set("%s: %s: array of %llu %s elements cannot fit in the %zu bytes left", r->where, ctx,
                       (unsigned long long)n, type_names[et], left);
    v->n = n;
    if (et == GGUF_STRING) {
        v->str_off = xmalloc(((size_t)n + 1) * sizeof *v->str_off);
        for (uint64_t i = 0; i < n; i++) {
            v->str_off[i] = r->pos - start;
            GGUFStr s;
            if (rd_str(r, &s, ctx, "array string")) return -1;
        }
        v->str_off[n] = r->pos - start;
    } else if (et == GGUF_ARRAY) {
        v->sub = xcalloc((size_t)n ? (size_t)n : 1, sizeof *v->sub);
        for (uint64_t i = 0; i < n; i++)
            if (parse_value(r, GGUF_ARRAY, &v->sub[i], depth + 1, ctx)) return -1;
    } else {
        r->pos += (size_t)n * min;
    }
    v->size = r->pos - start;
    return 0;
}

static void free_value(GGUFValue *v) {
    free(v->str);
    free(v->str_off);
    if (v->sub)
        for (uint64_t i = 0; i < v->n; i++) free_value(&v->sub[i]);
    free(v->sub);
}

static int cmp_kv(const void *a, const void *b) {
    return strcmp((*(const GGUFKV *const *)a)->key, (*(const GGUFKV *const *)b)->key);
}

static int parse_kvs(GGUFFile *f, Reader *r, uint64_t n_kv) {
    char ctx[128];
    f->kv = xcalloc((size_t)n_kv + 1, sizeof *f->kv);
    f->n_kv = (int)n_kv;
    for (int i = 0; i < f->n_kv; i++) {
        GGUFKV *kv = &f->kv[i];
        GGUFStr key;
        uint64_t type;
        snprintf(ctx, sizeof ctx, "pair %d", i);
        if (rd_str(r, &key, ctx, "key") || !(kv->key = name_copy(r, key, ctx))) return -1;
        snprintf(ctx, sizeof ctx, "key \"%.80s\"", kv->key);
        if (rd_uint(r, 4, &type, ctx, "value type")) return -1;
        if (parse_value(r, (uint32_t)type, &kv->v, 0, ctx)) return -1;
        if (kv->v.type == GGUF_STRING) {
            kv->v.str = xmalloc(kv->v.size + 1);
            memcpy(kv->v.str, kv->v.data, kv->v.size);
            kv->v.str[kv->v.size] = 0;
        }
    }
    /* keys sorted for lookups; no key twice */
    const GGUFKV **order = xmalloc((size_t)f->n_kv * sizeof *order + 1);
    for (int i = 0; i < f->n_kv; i++) order[i] = &f->kv[i];
    qsort(order, (size_t)f->n_kv, sizeof *order, cmp_kv);
    f->kv_sorted = xmalloc((size_t)f->n_kv * sizeof *f->kv_sorted + 1);
    int rc = 0;
    for (int i = 0; i < f->n_kv; i++) {
        f->kv_sorted[i] = (int)(order[i] - f->kv);
        if (i > 0 && rc == 0 && strcmp(order[i - 1]->key, order[i]->key) == 0)
            rc = err_set("%s: key \"%.80s\" appears twice", r->where, order[i]->key);
    }
    free(order);
    if (rc) return -1;

    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    if (gguf_find_kv(f, "general.alignment")) {
        if (gguf_get_u32(f, "general.alignment", &f->alignment)) return -1;
        if (!tensor_alignment_ok(f->alignment))
            return err_set("%s: general.alignment %u is not a power of two", r->where, f->alignment);
    }
    return 0;
}

static int parse_tensor_info(GGUFFile *f, Reader *r, Tensor *t, int i) {
    char ctx[128];
    GGUFStr name;
    uint64_t nd, type;
    snprintf(ctx, sizeof ctx, "tensor %d", i);
    if (rd_str(r, &name, ctx, "name") || !(t->name = name_copy(r, name, ctx))) return -1;
    t->path = f->path;
    snprintf(ctx, sizeof ctx, "tensor \"%.80s\"", t->name);
    if (rd_uint(r, 4, &nd, ctx, "n_dims")) return -1;
    if (nd > GGUF_MAX_DIMS)
        return err_set("%s: %s: %llu dimensions (at most %d)", r->where, ctx, (unsigned long long)nd,
                       GGUF_MAX_DIMS);
    t->ndim = (int)nd;
    int64_t ne[GGUF_MAX_DIMS]; /* ggml order, 1 past n_dims */
    uint64_t elems = 1;
    for (int j = 0; j < GGUF_MAX_DIMS; j++) {
        uint64_t d = 1;
        if (j < t->ndim && rd_uint(r, 8, &d, ctx, "dimension")) return -1;
        if (d > INT64_MAX)
            return err_set("%s: %s: dimension %d is negative (%lld)", r->where, ctx, j, (long long)d);
        ne[j] = (int64_t)d;
        if (d && elems > (uint64_t)INT64_MAX / d)
            return err_set("%s: %s: the element count overflows 64 bits", r->where, ctx);
        elems *= d;
    }
    for (int j = 0; j < t->ndim; j++) t->shape[j] = ne[t->ndim - 1 - j];
    if (rd_uint(r, 4, &type, ctx, "ggml type")) return -1;
    int block, bytes;
    const char *tname = gguf_ggml_type_name((uint32_t)type, &block, &bytes);
    if (!tname) return err_set("%s: %s: unknown ggml type %llu", r->where, ctx, (unsigned long long)type);
    t->file_type = (int)type;
    t->dtype_name = tname;
    if (ne[0] % block)
        return err_set("%s: %s: row length %lld is not a multiple of %s's block of %d", r->where, ctx,
                       (long long)ne[0], tname, block);
    if (tensor_nbytes(ne, GGUF_MAX_DIMS, block, bytes, &t->nbytes))
        return err_set("%s: %s: byte size overflows", r->where, ctx);
    DType dt;
    t->dtype = dtype_from_ggml((uint32_t)type, &dt) == 0 ? (int)dt : -1;
    if (rd_uint(r, 8, &t->offset, ctx, "offset")) return -1;
    if (t->offset % f->alignment)
        return err_set("%s: %s: offset %llu is not a multiple of the alignment (%u)", r->where, ctx,
                       (unsigned long long)t->offset, f->alignment);
    return 0;
}

/* Places every tensor in the data section and checks the layout. */
static int place_tensors(GGUFFile *f, Reader *r) {
    size_t data_len = 0, pad = tensor_pad(r->pos, f->alignment);
    const unsigned char *base = r->p + r->len;
    if (size_add(r->pos, pad, &f->data_offset) == 0 && f->data_offset <= r->len) {
        data_len = r->len - f->data_offset;
        base = r->p + f->data_offset;
    }
    for (int i = 0; i < f->n_tensors; i++) {
        Tensor *t = &f->t[i];
        if (t->offset > data_len || t->nbytes > data_len - t->offset)
            return err_set("%s: tensor \"%.80s\": data [%llu, +%zu) run past the end of the file (%zu data "
                           "bytes; truncated?)", r->where, t->name, (unsigned long long)t->offset, t->nbytes,
                           data_len);
        t->data = base + t->offset;
    }
    return tensors_check(f->t, f->n_tensors, r->where, &f->by_name);
}

int gguf_parse(GGUFFile *f, const void *buf, size_t len, const char *where) {
    Reader r = {buf, len, 0, where};
    if (!f->path) f->path = xstrdup(where);
    if (len < 4 || memcmp(buf, "GGUF", 4) != 0) {
        const unsigned char *p = buf;
        if (len < 4) return err_set("%s: %zu bytes, too short for a GGUF file", where, len);
        return err_set("%s: not a GGUF file (magic %02x %02x %02x %02x, want \"GGUF\")", where, p[0], p[1], p[2],
                       p[3]);
    }
    r.pos = 4;
    uint64_t version, n_tensors, n_kv;
    if (rd_uint(&r, 4, &version, "header", "version")) return -1;
    if (version == 1) return err_set("%s: GGUF version 1 is not supported (only 2 and 3)", where);
    if ((version & 0xffff) == 0 && version)
        return err_set("%s: a big-endian GGUF file (version %llu read byte-swapped); only little-endian files are "
                       "supported", where, (unsigned long long)(version >> 24 | (version >> 8 & 0xff00)));
    if (version != 2 && version != 3)
        return err_set("%s: GGUF version %llu is not supported (only 2 and 3)", where, (unsigned long long)version);
    f->version = (int)version;
    if (rd_uint(&r, 8, &n_tensors, "header", "tensor count") || rd_uint(&r, 8, &n_kv, "header", "pair count"))
        return -1;
    /* a pair takes at least 13 bytes (key length, type, a 1-byte value), a
     * tensor info at least 24 (name length, n_dims, type, offset) */
    size_t left = len - r.pos;
    if (n_kv > left / 13 || n_kv > INT_MAX)
        return err_set("%s: %llu key/value pairs cannot fit in the %zu bytes after the header", where,
                       (unsigned long long)n_kv, left);
    if (n_tensors > left / 24 || n_tensors > INT_MAX)
        return err_set("%s: %llu tensors cannot fit in the %zu bytes after the header", where,
                       (unsigned long long)n_tensors, left);
    if (parse_kvs(f, &r, n_kv)) return -1;
    left = len - r.pos;
    if (n_tensors > left / 24)
        return err_set("%s: %llu tensor infos cannot fit in the %zu bytes after the metadata", where,
                       (unsigned long long)n_tensors, left);
    f->t = xcalloc((size_t)n_tensors + 1, sizeof *f->t);
    f->n_tensors = (int)n_tensors;
    for (int i = 0; i < f->n_tensors; i++)
        if (parse_tensor_info(f, &r, &f->t[i], i)) return -1;
    if (place_tensors(f, &r)) return -1;
    tensors_align(f->t, f->n_tensors);
    return 0;
}

int gguf_is_file(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    size_t n = strlen(path);
    if (n >= 5 && !strcmp(path + n - 5, ".gguf")) return 1;
    FILE *fp = fopen(path, "rb");
    char magic[4] = {0};
    size_t got = fp ? fread(magic, 1, 4, fp) : 0;
    if (fp) fclose(fp);
    return got == 4 && !memcmp(magic, "GGUF", 4);
}

int gguf_open(GGUFFile *f, const char *path) {
    memset(f, 0, sizeof *f);
    f->path = xstrdup(path);
    if (mapfile_open(&f->map, path)) return -1;
    return gguf_parse(f, f->map.data, f->map.size, path);
}

void gguf_close(GGUFFile *f) {
    for (int i = 0; i < f->n_kv && f->kv; i++) {
        free(f->kv[i].key);
        free_value(&f->kv[i].v);
    }
    tensors_free(f->t, f->n_tensors);
    free(f->kv);
    free(f->kv_sorted);
    free(f->by_name);
    free(f->path);
    mapfile_close(&f->map);
    memset(f, 0, sizeof *f);
}

/* ---- metadata lookups ----------------------------------------------------- */

const GGUFKV *gguf_find_kv(const GGUFFile *f, const char *key) {
    if (!f->kv_sorted) return NULL;
    int lo = 0, hi = f->n_kv - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(f->kv[f->kv_sorted[mid]].key, key);
        if (c == 0) return &f->kv[f->kv_sorted[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

static int lookup(const GGUFFile *f, const char *key, const GGUFKV **kv) {
    *kv = gguf_find_kv(f, key);
    if (!*kv) {
        err_set("%s: missing key \"%s\"", f->path, key);
        return 1;
    }
    return 0;
}

/* An integer scalar at p of type t as sign and magnitude; -1 if t is not an
 * integer type. */
static int decode_int(GGUFType t, const unsigned char *p, int *neg, uint64_t *mag) {
    static const int is_signed[GGUF_TYPE_COUNT] = {[GGUF_I8] = 1, [GGUF_I16] = 1, [GGUF_I32] = 1, [GGUF_I64] = 1};
    if (t == GGUF_F32 || t == GGUF_BOOL || t == GGUF_STRING || t == GGUF_ARRAY || t == GGUF_F64 ||
        (unsigned)t >= GGUF_TYPE_COUNT)
        return -1;
    int n = scalar_size[t];
    uint64_t u = le(p, n);
    *neg = 0;
    *mag = u;
    if (is_signed[t] && (u >> (8 * n - 1) & 1)) { /* two's complement: |v| = 2^(8n) - u */
        *neg = 1;
        *mag = n == 8 ? ~u + 1 : ((uint64_t)1 << 8 * n) - u;
    }
    return 0;
}

/* The integer at key, checked against [lo, hi]. */
static int get_int(const GGUFFile *f, const char *key, int64_t lo, uint64_t hi, const char *want, int *neg,
                   uint64_t *mag) {
    const GGUFKV *kv;
    if (lookup(f, key, &kv)) return 1;
    if (decode_int(kv->v.type, kv->v.data, neg, mag))
        return err_set("%s: key \"%s\" is a %s, not an integer (%s)", f->path, key, type_names[kv->v.type], want);
    uint64_t neg_limit = lo < 0 ? (uint64_t)(-(lo + 1)) + 1 : 0;
    if (*neg ? *mag > neg_limit : *mag > hi)
        return err_set("%s: key \"%s\": %s%llu does not fit in %s", f->path, key, *neg ? "-" : "",
                       (unsigned long long)*mag, want);
    return 0;
}

static int64_t signed_of(int neg, uint64_t mag) { return neg ? -(int64_t)(mag - 1) - 1 : (int64_t)mag; }

int gguf_get_u32(const GGUFFile *f, const char *key, uint32_t *out) {
    int neg;
    uint64_t m;
    int rc = get_int(f, key, 0, UINT32_MAX, "u32", &neg, &m);
    if (rc == 0) *out = (uint32_t)m;
    return rc;
}

int gguf_get_i32(const GGUFFile *f, const char *key, int32_t *out) {
    int neg;
    uint64_t m;
    int rc = get_int(f, key, INT32_MIN, INT32_MAX, "i32", &neg, &m);
    if (rc == 0) *out = (int32_t)signed_of(neg, m);
    return rc;
}

int gguf_get_u64(const GGUFFile *f, const char *key, uint64_t *out) {
    int neg;
    uint64_t m;
    int rc = get_int(f, key, 0, UINT64_MAX, "u64", &neg, &m);
    if (rc == 0) *out = m;
    return rc;
}

int gguf_get_i64(const GGUFFile *f, const char *key, int64_t *out) {
    int neg;
    uint64_t m;
    int rc = get_int(f, key, INT64_MIN, INT64_MAX, "i64", &neg, &m);
    if (rc == 0) *out = signed_of(neg, m);
    return rc;
}

/* A numeric scalar at p of type t as a double (f32, f64 exactly; integers
 * rounded past 2^53); -1 if not numeric. */
static int decode_num(GGUFType t, const unsigned char *p, double *out) {
    int neg;
    uint64_t m;
    if (t == GGUF_F32) {
        uint32_t u = (uint32_t)le(p, 4);
        float x;
        memcpy(&x, &u, 4);
        *out = x;
    } else if (t == GGUF_F64) {
        uint64_t u = le(p, 8);
        memcpy(out, &u, 8);
    } else if (decode_int(t, p, &neg, &m) == 0) {
        *out = neg ? -(double)m : (double)m;
    } else {
        return -1;
    }
    return 0;
}

int gguf_get_f32(const GGUFFile *f, const char *key, float *out) {
    const GGUFKV *kv;
    if (lookup(f, key, &kv)) return 1;
    double d;
    if (decode_num(kv->v.type, kv->v.data, &d))
        return err_set("%s: key \"%s\" is a %s, not a number", f->path, key, type_names[kv->v.type]);
    *out = (float)d;
    return 0;
}

int gguf_get_bool(const GGUFFile *f, const char *key, int *out) {
    const GGUFKV *kv;
    if (lookup(f, key, &kv)) return 1;
    if (kv->v.type != GGUF_BOOL)
        return err_set("%s: key \"%s\" is a %s, not a bool", f->path, key, type_names[kv->v.type]);
    *out = kv->v.data[0] != 0;
    return 0;
}

int gguf_get_string(const GGUFFile *f, const char *key, const char **out) {
    const GGUFKV *kv;
    if (lookup(f, key, &kv)) return 1;
    if (kv->v.type != GGUF_STRING)
        return err_set("%s: key \"%s\" is a %s, not a string", f->path, key, type_names[kv->v.type]);
    *out = kv->v.str;
    return 0;
}

int gguf_get_array(const GGUFFile *f, const char *key, GGUFType *elem_type, uint64_t *n, const void **data) {
    const GGUFKV *kv;
    if (lookup(f, key, &kv)) return 1;
    if (kv->v.type != GGUF_ARRAY)
        return err_set("%s: key \"%s\" is a %s, not an array", f->path, key, type_names[kv->v.type]);
    *elem_type = kv->v.elem_type;
    *n = kv->v.n;
    *data = kv->v.data;
    return 0;
}

GGUFStr gguf_array_str(const GGUFValue *a, uint64_t i) {
    CHECK(a->type == GGUF_ARRAY && a->elem_type == GGUF_STRING && i < a->n);
    const unsigned char *p = a->data + a->str_off[i];
    return (GGUFStr){(const char *)p + 8, a->str_off[i + 1] - a->str_off[i] - 8};
}

const GGUFValue *gguf_array_sub(const GGUFValue *a, uint64_t i) {
    CHECK(a->type == GGUF_ARRAY && a->elem_type == GGUF_ARRAY && i < a->n);
    return &a->sub[i];
}

int gguf_array_f32(const GGUFValue *a, float *out, const char *what) {
    if (a->type != GGUF_ARRAY || a->elem_type == GGUF_STRING || a->elem_type == GGUF_ARRAY ||
        a->elem_type == GGUF_BOOL)
        return err_set("%s: not an array of numbers", what);
    size_t es = (size_t)scalar_size[a->elem_type];
    for (uint64_t i = 0; i < a->n; i++) {
        double d;
        decode_num(a->elem_type, a->data + i * es, &d);
        out[i] = (float)d;
    }
    return 0;
}

int gguf_array_i32(const GGUFValue *a, int32_t *out, const char *what) {
    int neg;
    uint64_t m;
    static const unsigned char zero8[8];
    if (a->type != GGUF_ARRAY || decode_int(a->elem_type, zero8, &neg, &m))
        return err_set("%s: not an array of integers", what);
    size_t es = (size_t)scalar_size[a->elem_type];
    for (uint64_t i = 0; i < a->n; i++) {
        decode_int(a->elem_type, a->data + i * es, &neg, &m);
        if (neg ? m > (uint64_t)INT32_MAX + 1 : m > INT32_MAX)
            return err_set("%s: element %llu (%s%llu) does not fit in i32", what, (unsigned long long)i,
                           neg ? "-" : "", (unsigned long long)m);
        out[i] = (int32_t)signed_of(neg, m);
    }
    return 0;
}

/* ---- tensor lookups ------------------------------------------------------- */

const Tensor *gguf_find_tensor(const GGUFFile *f, const char *name) {
    return tensors_find(f->t, f->by_name, f->n_tensors, name);
}

const Tensor *gguf_get_tensor(const GGUFFile *f, const char *name) {
    const Tensor *t = gguf_find_tensor(f, name);
    if (!t) {
        err_set("%s: no tensor \"%s\"", f->path, name);
        return NULL;
    }
    if (t->dtype < 0) {
        err_set("%s: tensor \"%s\" has type %s (%u), which mistral.c does not read; supported: f32, f16, bf16, "
                "q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K", f->path, name,
                t->dtype_name, (unsigned)t->file_type);
        return NULL;
    }
    return t;
}

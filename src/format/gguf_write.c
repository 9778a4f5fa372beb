/* gguf_write — the GGUF writer (format/gguf.h): metadata and tensors
 * collected, then one version 3 file written in one go. */
#include "format/gguf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf: GGUF data are little-endian; this writer copies arrays as they are"
#endif

/* ---- writer --------------------------------------------------------------- */

void gguf_writer_init(GGUFWriter *w) {
    memset(w, 0, sizeof *w);
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
}

void gguf_writer_free(GGUFWriter *w) {
    bytebuf_free(&w->kv);
    for (int i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys);
    tensors_free(w->t, w->n_tensors);
    free(w->fill);
    free(w->fill_ud);
    memset(w, 0, sizeof *w);
}

static void put_le(ByteBuf *b, uint64_t v, int n) {
    unsigned char tmp[8];
    for (int i = 0; i < n; i++) tmp[i] = (unsigned char)(v >> 8 * i);
    bytebuf_push(b, tmp, (size_t)n);
}

static void put_str(ByteBuf *b, const char *s, size_t len) {
    put_le(b, len, 8);
    bytebuf_push(b, s, len);
}

static int writer_fail(GGUFWriter *w, const char *what, const char *name) {
    w->failed = 1;
    return err_set("gguf writer: %s \"%.80s\"", what, name ? name : "(null)");
}

/* Starts the pair `key` of type `type`: checks the key is new. */
static int add_key(GGUFWriter *w, const char *key, GGUFType type) {
    if (!key) return writer_fail(w, "a NULL key", NULL);
    for (int i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) return writer_fail(w, "key added twice:", key);
    w->keys = xrealloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *w->keys);
    w->keys[w->n_kv++] = xstrdup(key);
    put_str(&w->kv, key, strlen(key));
    put_le(&w->kv, (uint64_t)type, 4);
    return 0;
}

static int add_scalar(GGUFWriter *w, const char *key, GGUFType type, uint64_t bits) {
    if (key && strcmp(key, "general.alignment") == 0) {
        if (type != GGUF_U32 || !tensor_alignment_ok(bits))
            return writer_fail(w, "general.alignment must be a u32 power of two:", key);
        if (add_key(w, key, type)) return -1;
        w->alignment = (uint32_t)bits;
    } else if (add_key(w, key, type)) {
        return -1;
    }
    put_le(&w->kv, bits, gguf_type_size(type));
    return 0;
}

int gguf_writer_add_u8(GGUFWriter *w, const char *key, uint8_t v) { return add_scalar(w, key, GGUF_U8, v); }
int gguf_writer_add_i8(GGUFWriter *w, const char *key, int8_t v) { return add_scalar(w, key, GGUF_I8, (uint8_t)v); }
int gguf_writer_add_u16(GGUFWriter *w, const char *key, uint16_t v) { return add_scalar(w, key, GGUF_U16, v); }
int gguf_writer_add_i16(GGUFWriter *w, const char *key, int16_t v) {
    return add_scalar(w, key, GGUF_I16, (uint16_t)v);
}
int gguf_writer_add_u32(GGUFWriter *w, const char *key, uint32_t v) { return add_scalar(w, key, GGUF_U32, v); }
int gguf_writer_add_i32(GGUFWriter *w, const char *key, int32_t v) {
    return add_scalar(w, key, GGUF_I32, (uint32_t)v);
}
int gguf_writer_add_f32(GGUFWriter *w, const char *key, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return add_scalar(w, key, GGUF_F32, u);
}
int gguf_writer_add_bool(GGUFWriter *w, const char *key, int v) { return add_scalar(w, key, GGUF_BOOL, v != 0); }
int gguf_writer_add_u64(GGUFWriter *w, const char *key, uint64_t v) { return add_scalar(w, key, GGUF_U64, v); }
int gguf_writer_add_i64(GGUFWriter *w, const char *key, int64_t v) {
    return add_scalar(w, key, GGUF_I64, (uint64_t)v);
}
int gguf_writer_add_f64(GGUFWriter *w, const char *key, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    return add_scalar(w, key, GGUF_F64, u);
}

int gguf_writer_add_string(GGUFWriter *w, const char *key, const char *s) {
    if (!s) return writer_fail(w, "a NULL string for key", key);
    if (add_key(w, key, GGUF_STRING)) return -1;
    put_str(&w->kv, s, strlen(s));
    return 0;
}

int gguf_writer_add_array(GGUFWriter *w, const char *key, GGUFType elem_type, const void *data, uint64_t n) {
    size_t bytes;
    if ((unsigned)elem_type >= GGUF_TYPE_COUNT || elem_type == GGUF_STRING || elem_type == GGUF_ARRAY)
        return writer_fail(w, "array of strings or arrays given to gguf_writer_add_array for key", key);
    if (n > SIZE_MAX || size_mul((size_t)n, (size_t)gguf_type_size(elem_type), &bytes) || (bytes && !data))
        return writer_fail(w, "bad array for key", key);
    if (add_key(w, key, GGUF_ARRAY)) return -1;
    put_le(&w->kv, (uint64_t)elem_type, 4);
    put_le(&w->kv, n, 8);
    bytebuf_push(&w->kv, data, bytes); /* host order is little-endian */
    return 0;
}

int gguf_writer_add_array_str(GGUFWriter *w, const char *key, const char *const *s, const size_t *lens,
                              uint64_t n) {
    if (n && !s) return writer_fail(w, "bad string array for key", key);
    for (uint64_t i = 0; i < n; i++)
        if (!s[i]) return writer_fail(w, "a NULL string in the array of key", key);
    if (add_key(w, key, GGUF_ARRAY)) return -1;
    put_le(&w->kv, GGUF_STRING, 4);
    put_le(&w->kv, n, 8);
    for (uint64_t i = 0; i < n; i++) put_str(&w->kv, s[i], lens ? lens[i] : strlen(s[i]));
    return 0;
}

static int add_tensor(GGUFWriter *w, const char *name, DType dtype, int n_dims, const int64_t *dims,
                      const void *data, GGUFFill fill, void *ud) {
    if (!name) return writer_fail(w, "a NULL tensor name", NULL);
    for (int i = 0; i < w->n_tensors; i++)
        if (strcmp(w->t[i].name, name) == 0) return writer_fail(w, "tensor added twice:", name);
    if ((unsigned)dtype >= DT_COUNT || n_dims < 1 || n_dims > GGUF_MAX_DIMS || !dims)
        return writer_fail(w, "bad dtype or n_dims for tensor", name);
    const DTypeTraits *tr = dtype_traits(dtype);
    Tensor t = {.dtype = dtype, .dtype_name = tr->name, .file_type = tr->gguf_type, .ndim = n_dims, .data = data};
    for (int j = 0; j < n_dims; j++) {
        if (dims[j] < 0) return writer_fail(w, "a negative dimension in tensor", name);
        t.shape[n_dims - 1 - j] = dims[j];
    }
    if (tensor_nbytes(dims, n_dims, tr->block, tr->bytes, &t.nbytes))
        return writer_fail(w, "a byte size that overflows in tensor", name);
    if (dims[0] % tr->block) return writer_fail(w, "a row length not a multiple of the block in tensor", name);
    if (t.nbytes && !data && !fill) return writer_fail(w, "no data for tensor", name);
    t.name = xstrdup(name);
    w->t = xrealloc(w->t, (size_t)(w->n_tensors + 1) * sizeof *w->t);
    w->fill = xrealloc(w->fill, (size_t)(w->n_tensors + 1) * sizeof *w->fill);
    w->fill_ud = xrealloc(w->fill_ud, (size_t)(w->n_tensors + 1) * sizeof *w->fill_ud);
    w->fill[w->n_tensors] = fill, w->fill_ud[w->n_tensors] = ud;
    w->t[w->n_tensors++] = t;
    return 0;
}

int gguf_writer_add_tensor(GGUFWriter *w, const char *name, DType dtype, int n_dims, const int64_t *dims,
                           const void *data) {
    return add_tensor(w, name, dtype, n_dims, dims, data, NULL, NULL);
}

int gguf_writer_add_tensor_fill(GGUFWriter *w, const char *name, DType dtype, int n_dims,
                                const int64_t *dims, GGUFFill fill, void *ud) {
    if (!fill) return writer_fail(w, "no fill function for tensor", name);
    return add_tensor(w, name, dtype, n_dims, dims, NULL, fill, ud);
}

static int write_all(FILE *fp, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, fp) != n) return err_set("gguf writer: write failed: %s", strerror(errno));
    return 0;
}

int gguf_writer_write(GGUFWriter *w, FILE *fp) {
    if (w->failed) return err_set("gguf writer: an earlier add failed; nothing written");
    int auto_align = 1;
    for (int i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], "general.alignment") == 0) auto_align = 0;
    ByteBuf h = {0};
    bytebuf_push(&h, "GGUF", 4);
    put_le(&h, 3, 4);
    put_le(&h, (uint64_t)w->n_tensors, 8);
    put_le(&h, (uint64_t)w->n_kv + (uint64_t)auto_align, 8);
    if (auto_align) {
        const char *k = "general.alignment";
        put_str(&h, k, strlen(k));
        put_le(&h, GGUF_U32, 4);
        put_le(&h, w->alignment, 4);
    }
    bytebuf_push(&h, w->kv.p, w->kv.n);
    uint64_t offset = 0;
    for (int i = 0; i < w->n_tensors; i++) {
        const Tensor *t = &w->t[i];
        put_str(&h, t->name, strlen(t->name));
        put_le(&h, (uint64_t)t->ndim, 4);
        for (int j = 0; j < t->ndim; j++) put_le(&h, (uint64_t)tensor_ne(t, j), 8);
        put_le(&h, (uint64_t)t->file_type, 4);
        put_le(&h, offset, 8);
        offset += t->nbytes + tensor_pad(t->nbytes, w->alignment);
    }
    static const unsigned char zeros[256];
    int rc = write_all(fp, h.p, h.n);
    size_t pad = tensor_pad(h.n, w->alignment);
    void *buf = NULL; /* a filled tensor's bytes, one at a time */
    for (int i = -1; i < w->n_tensors && rc == 0; i++) {
        if (i >= 0) {
            const void *data = w->t[i].data;
            if (w->fill[i]) {
                free(buf);
                data = buf = malloc(w->t[i].nbytes ? w->t[i].nbytes : 1);
                if (!buf) rc = err_set("gguf writer: out of memory for tensor \"%.80s\"", w->t[i].name);
                else rc = w->fill[i](w->fill_ud[i], buf, w->t[i].nbytes);
            }
            if (rc == 0) rc = write_all(fp, data, w->t[i].nbytes);
            pad = tensor_pad(w->t[i].nbytes, w->alignment);
        }
        while (rc == 0 && pad) {
            size_t k = pad < sizeof zeros ? pad : sizeof zeros;
            rc = write_all(fp, zeros, k);
            pad -= k;
        }
    }
    free(buf);
    bytebuf_free(&h);
    if (rc == 0 && fflush(fp) != 0) rc = err_set("gguf writer: write failed: %s", strerror(errno));
    return rc;
}

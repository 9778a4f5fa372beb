/* fuzz_gguf — libFuzzer target: the GGUF reader on arbitrary bytes.
 * gguf_parse must accept or refuse with an error line, never read outside
 * the buffer, leak or crash. Built by `make fuzz`; run with
 * tests/fuzz/run.sh SECONDS fuzz_gguf (seeds: tests/fuzz/corpus/fuzz_gguf/).
 * An accepted file is walked as a loader would walk it: every getter on
 * every key, every array element (strings through the offset table, nested
 * arrays, numeric copies), every tensor's first and last byte, and the
 * dequantization of the first row of every tensor the kernels read; the
 * invariants are checked: unique names and keys, no two tensors sharing
 * bytes, shapes that match the byte sizes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "kern/dtype.h"
#include "format/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static void walk_value(const GGUFValue *v) {
    if (v->size) sink ^= v->data[0] ^ v->data[v->size - 1];
    if (v->type != GGUF_ARRAY) return;
    if (v->elem_type == GGUF_STRING) {
        for (uint64_t i = 0; i < v->n; i++) {
            GGUFStr s = gguf_array_str(v, i);
            if (s.len) sink ^= (unsigned char)s.p[0] ^ (unsigned char)s.p[s.len - 1];
        }
    } else if (v->elem_type == GGUF_ARRAY) {
        for (uint64_t i = 0; i < v->n; i++) walk_value(gguf_array_sub(v, i));
    } else if (v->n < 4096) {
        float *fo = xmalloc(v->n * sizeof *fo + 1);
        int32_t *io = xmalloc(v->n * sizeof *io + 1);
        gguf_array_f32(v, fo, "fuzz");
        gguf_array_i32(v, io, "fuzz");
        free(io);
        free(fo);
    }
}

static void check_accepted(const GGUFFile *f) {
    for (int i = 0; i < f->n_kv; i++) {
        const GGUFKV *kv = &f->kv[i];
        if (gguf_find_kv(f, kv->key) != kv) __builtin_trap(); /* unique and found */
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
        float f32;
        int b;
        const char *s;
        GGUFType et;
        uint64_t n;
        const void *view;
        gguf_get_u32(f, kv->key, &u32);
        gguf_get_i32(f, kv->key, &i32);
        gguf_get_u64(f, kv->key, &u64);
        gguf_get_i64(f, kv->key, &i64);
        gguf_get_f32(f, kv->key, &f32);
        gguf_get_bool(f, kv->key, &b);
        if (gguf_get_string(f, kv->key, &s) == 0) sink ^= (unsigned)strlen(s);
        gguf_get_array(f, kv->key, &et, &n, &view);
        walk_value(&kv->v);
    }
    if (f->alignment == 0 || (f->alignment & (f->alignment - 1))) __builtin_trap();
    for (int i = 0; i < f->n_tensors; i++) {
        const Tensor *t = &f->t[i];
        if (gguf_find_tensor(f, t->name) != t) __builtin_trap();
        if (t->ndim < 0 || t->ndim > GGUF_MAX_DIMS || t->offset % f->alignment) __builtin_trap();
        const unsigned char *p = t->data;
        if (t->nbytes) sink ^= p[0] ^ p[t->nbytes - 1];
        const Tensor *g = gguf_get_tensor(f, t->name);
        if ((g != NULL) != (t->dtype >= 0)) __builtin_trap();
        if (!g || t->nbytes == 0) continue;
        const DTypeTraits *tr = dtype_traits((DType)t->dtype);
        size_t n_el = 1;
        for (int j = 0; j < GGUF_MAX_DIMS; j++) n_el *= (size_t)tensor_ne(t, j);
        if (dtype_bytes((DType)t->dtype, n_el) != t->nbytes) __builtin_trap();
        size_t row = (size_t)tensor_ne(t, 0);
        if (row <= 4096) { /* first row, as the kernels read it */
            float *out = xmalloc(row * sizeof *out + 1);
            tr->to_float(out, t->data, row);
            free(out);
        }
    }
    if (f->n_tensors > 2000) return;
    for (int i = 0; i < f->n_tensors; i++)
        for (int j = i + 1; j < f->n_tensors; j++) {
            const Tensor *a = &f->t[i], *b = &f->t[j];
            if (!a->nbytes || !b->nbytes) continue;
            if (a->offset < b->offset + b->nbytes && b->offset < a->offset + a->nbytes) __builtin_trap();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    GGUFFile f;
    memset(&f, 0, sizeof f);
    err_set("%s", "");
    if (gguf_parse(&f, data, size, "fuzz.gguf") == 0) {
        check_accepted(&f);
    } else {
        const char *e = err_msg();
        if (e[0] == 0) __builtin_trap();       /* a refusal must say why */
        if (strchr(e, '\n')) __builtin_trap(); /* in one line */
    }
    gguf_close(&f);
    return 0;
}

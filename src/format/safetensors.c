#include "format/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Every dtype the format defines, with its element size, so that byte ranges
 * of tensors we never read are still checked. */
static const struct {
    const char *name;
    int size;
    int dtype;
} st_types[] = {
    {"F32", 4, DT_F32}, {"F16", 2, DT_F16}, {"BF16", 2, DT_BF16}, {"F64", 8, -1},
    {"I64", 8, -1},     {"U64", 8, -1},     {"I32", 4, -1},       {"U32", 4, -1},
    {"I16", 2, -1},     {"U16", 2, -1},     {"I8", 1, -1},        {"U8", 1, -1},
    {"BOOL", 1, -1},    {"F8_E4M3", 1, -1}, {"F8_E5M2", 1, -1},
};

/* A non-negative integer JSON number (exact in a double: < 2^53). */
static int get_u64(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d < 9007199254740992.0) || d != floor(d)) return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_entry(Tensor *t, const cJSON *e, const unsigned char *data, size_t data_len,
                       const char *where) {
    const char *name = t->name;
    if (!cJSON_IsObject(e)) return err_set("%s: tensor \"%s\": entry is not an object", where, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) return err_set("%s: tensor \"%s\": dtype is not a string", where, name);
    int size = 0;
    t->dtype = -1;
    t->file_type = -1;
    for (size_t i = 0; i < sizeof st_types / sizeof st_types[0]; i++)
        if (strcmp(dt->valuestring, st_types[i].name) == 0) {
            size = st_types[i].size;
            t->dtype = st_types[i].dtype;
            t->dtype_name = st_types[i].name;
        }
    if (!size)
        return err_set("%s: tensor \"%s\": unknown dtype \"%.20s\"", where, name, dt->valuestring);

    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > TENSOR_MAX_DIMS)
        return err_set("%s: tensor \"%s\": shape is not a list of at most %d sizes", where, name,
                       TENSOR_MAX_DIMS);
    t->ndim = cJSON_GetArraySize(shape);
    for (int i = 0; i < t->ndim; i++) {
        uint64_t d;
        if (get_u64(cJSON_GetArrayItem(shape, i), &d) || d > INT64_MAX)
            return err_set("%s: tensor \"%s\": bad shape entry", where, name);
        t->shape[i] = (int64_t)d;
    }
    size_t bytes;
    if (tensor_nbytes(t->shape, t->ndim, 1, size, &bytes))
        return err_set("%s: tensor \"%s\": shape too large", where, name);
    uint64_t b, en;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        get_u64(cJSON_GetArrayItem(offs, 0), &b) || get_u64(cJSON_GetArrayItem(offs, 1), &en))
        return err_set("%s: tensor \"%s\": data_offsets is not [begin, end]", where, name);
    if (en < b) return err_set("%s: tensor \"%s\": data_offsets end < begin", where, name);
    if (en > data_len)
        return err_set("%s: tensor \"%s\": data_offsets [%llu, %llu] past the end of the file "
                       "(%zu data bytes; truncated?)", where, name, (unsigned long long)b,
                       (unsigned long long)en, data_len);
    if (en - b != bytes)
        return err_set("%s: tensor \"%s\": %llu bytes for shape of %zu bytes (%s)", where, name,
                       (unsigned long long)(en - b), bytes, t->dtype_name);
    t->offset = b;
    t->data = data + b;
    t->nbytes = bytes;
    return 0;
}

static int parse_header(SafeTensors *st, const cJSON *root, const unsigned char *data,
                        size_t data_len, const char *where) {
    if (!cJSON_IsObject(root)) return err_set("%s: header is not a JSON object", where);
    int n = 0;
    for (const cJSON *e = root->child; e; e = e->next)
        if (strcmp(e->string, "__metadata__") != 0) n++;
    st->t = xcalloc((size_t)n + 1, sizeof(Tensor));
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        Tensor *t = &st->t[st->n++];
        t->name = xstrdup(e->string);
        t->path = st->path;
        if (parse_entry(t, e, data, data_len, where)) return -1;
    }
    return tensors_check(st->t, st->n, where, &st->by_name);
}

int st_parse(SafeTensors *st, const void *buf, size_t len, const char *where) {
    const unsigned char *p = buf;
    if (!st->path) st->path = xstrdup(where);
    if (len < 8) return err_set("%s: %zu bytes, too short for a safetensors file", where, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
    if (hlen > len - 8)
        return err_set("%s: header length %llu runs past the end of the file (%zu bytes)", where,
                       (unsigned long long)hlen, len);
    const char *end = NULL, *hdr = (const char *)p + 8;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!root) return err_set("%s: header is not valid JSON", where);
    while (end < hdr + hlen && (*end == ' ' || *end == '\0')) end++; /* padding */
    if (end != hdr + hlen) {
        cJSON_Delete(root);
        return err_set("%s: bytes after the JSON header", where);
    }
    int rc = parse_header(st, root, p + 8 + hlen, len - 8 - (size_t)hlen, where);
    cJSON_Delete(root);
    if (rc == 0) tensors_align(st->t, st->n);
    return rc;
}

int st_open(SafeTensors *st, const char *path) {
    memset(st, 0, sizeof *st);
    st->path = xstrdup(path);
    if (mapfile_open(&st->map, path)) return -1;
    return st_parse(st, st->map.data, st->map.size, path);
}

const Tensor *st_find(const SafeTensors *st, const char *name) {
    return tensors_find(st->t, st->by_name, st->n, name);
}

void st_close(SafeTensors *st) {
    tensors_free(st->t, st->n);
    free(st->by_name);
    free(st->path);
    mapfile_close(&st->map);
    memset(st, 0, sizeof *st);
}

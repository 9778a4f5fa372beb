#include "format/tensor.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

int tensor_nbytes(const int64_t *dims, int n, int block, int bytes, size_t *out) {
    size_t nb = (size_t)bytes;
    for (int j = 0; j < n; j++) {
        uint64_t d = j == 0 ? (uint64_t)(dims[0] / block) : (uint64_t)dims[j];
        if (d > SIZE_MAX || size_mul(nb, (size_t)d, &nb)) return -1;
    }
    *out = nb;
    return 0;
}

char *tensor_name_copy(const char *p, size_t len) {
    if (memchr(p, 0, len)) return NULL;
    char *c = xmalloc(len + 1);
    memcpy(c, p, len);
    c[len] = 0;
    return c;
}

static int cmp_offset(const void *a, const void *b) {
    uint64_t x = (*(const Tensor *const *)a)->offset, y = (*(const Tensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const Tensor *const *)a)->name, (*(const Tensor *const *)b)->name);
}

int tensors_check(const Tensor *t, int n, const char *where, int **by_name) {
    const Tensor **order = xmalloc((size_t)n * sizeof *order + 1);
    for (int i = 0; i < n; i++) order[i] = &t[i];
    /* No two tensors may share bytes: in offset order, each non-empty tensor
     * starts at or after the furthest end so far. */
    qsort(order, (size_t)n, sizeof *order, cmp_offset);
    int rc = 0;
    const Tensor *last = NULL;
    for (int i = 0; i < n && rc == 0; i++) {
        const Tensor *x = order[i];
        if (!x->nbytes) continue;
        if (last && x->offset < last->offset + last->nbytes)
            rc = err_set("%s: tensors \"%.80s\" and \"%.80s\" overlap", where, last->name, x->name);
        if (!last || x->offset + x->nbytes > last->offset + last->nbytes) last = x;
    }
    /* ... and no name may appear twice; the sorted order serves lookups */
    qsort(order, (size_t)n, sizeof *order, cmp_name);
    *by_name = xmalloc((size_t)n * sizeof **by_name + 1);
    for (int i = 0; i < n; i++) {
        (*by_name)[i] = (int)(order[i] - t);
        if (i > 0 && rc == 0 && strcmp(order[i - 1]->name, order[i]->name) == 0)
            rc = err_set("%s: tensor \"%.80s\" appears twice", where, order[i]->name);
    }
    free(order);
    return rc;
}

const Tensor *tensors_find(const Tensor *t, const int *by_name, int n, const char *name) {
    if (!by_name) return NULL;
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(t[by_name[mid]].name, name);
        if (c == 0) return &t[by_name[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

void tensors_align(Tensor *t, int n) {
    for (int i = 0; i < n; i++) {
        Tensor *x = &t[i];
        if (x->dtype < 0 || x->nbytes == 0) continue;
        const DTypeTraits *tr = dtype_traits((DType)x->dtype);
        uintptr_t need = tr->block == 1 ? (uintptr_t)tr->bytes : 2;
        if ((uintptr_t)x->data % need == 0) continue;
        x->copy = xmalloc(x->nbytes);
        memcpy(x->copy, x->data, x->nbytes);
        x->data = x->copy;
    }
}

void tensors_free(Tensor *t, int n) {
    for (int i = 0; i < n && t; i++) {
        free(t[i].name);
        free(t[i].copy);
    }
    free(t);
}

int tensor_slice(const Tensor *t, int64_t i, Tensor *out) {
    if (t->ndim < 1 || i < 0 || i >= t->shape[0]) return -1;
    size_t sub = t->nbytes / (size_t)t->shape[0];
    *out = *t;
    out->ndim = t->ndim - 1;
    memmove(out->shape, t->shape + 1, (size_t)out->ndim * sizeof out->shape[0]);
    out->shape[out->ndim] = 0;
    out->offset = t->offset + (uint64_t)i * sub;
    out->data = (const char *)t->data + (size_t)i * sub;
    out->nbytes = sub;
    out->copy = NULL; /* a view: the container owns t's copy */
    return 0;
}

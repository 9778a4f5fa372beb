#include "base/vec.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void intvec_push(IntVec *a, int x) {
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 16;
        a->v = xrealloc(a->v, (size_t)a->cap * sizeof(int));
    }
    a->v[a->n++] = x;
}

void intvec_free(IntVec *a) {
    free(a->v);
    memset(a, 0, sizeof *a);
}

void bytebuf_push(ByteBuf *b, const void *data, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
}

void bytebuf_putc(ByteBuf *b, char c) { bytebuf_push(b, &c, 1); }

void bytebuf_free(ByteBuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

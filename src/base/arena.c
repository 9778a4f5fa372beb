#include "base/arena.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void *arena_alloc(Arena *a, size_t n) {
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->p = xrealloc(a->p, (size_t)a->cap * sizeof *a->p);
    }
    return a->p[a->n++] = xmalloc(n);
}

char *arena_strndup(Arena *a, const char *s, size_t n) {
    char *d = arena_alloc(a, n + 1);
    if (n) memcpy(d, s, n);
    d[n] = 0;
    return d;
}

void arena_free(Arena *a) {
    for (int i = 0; i < a->n; i++) free(a->p[i]);
    free(a->p);
    memset(a, 0, sizeof *a);
}

/* arena — allocations freed together: a parsed JSON document, a chat
 * request and the strings they point at live and die as one. */
#ifndef BASE_ARENA_H
#define BASE_ARENA_H

#include <stddef.h>

typedef struct Arena {
    void **p; /* owns [n] blocks, each owned */
    int n, cap;
} Arena;

/* n bytes (uninitialized) that live until arena_free; never NULL. */
void *arena_alloc(Arena *a, size_t n);
/* s[0..n) copied and NUL-terminated (s may be NULL when n is 0). */
char *arena_strndup(Arena *a, const char *s, size_t n);
/* Frees every block; the arena is zeroed and may be used again. Accepts a
 * zeroed arena. */
void arena_free(Arena *a);

#endif

/* vec — growable arrays of ints and of bytes. */
#ifndef BASE_VEC_H
#define BASE_VEC_H

#include <stddef.h>

typedef struct {
    int *v; /* owns */
    int n, cap;
} IntVec;

typedef struct {
    char *p; /* owns; always NUL-terminated after a push */
    size_t n, cap;
} ByteBuf;

void intvec_push(IntVec *a, int x);
void intvec_free(IntVec *a);

void bytebuf_push(ByteBuf *b, const void *data, size_t n);
void bytebuf_putc(ByteBuf *b, char c);
void bytebuf_free(ByteBuf *b);

#endif

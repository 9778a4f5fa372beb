#include "base/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Thread_local char err_line[512];
static _Thread_local ErrKind err_last_kind;

void check_fail(const char *file, int line, const char *what) {
    fprintf(stderr, "mistral: internal error at %s:%d: CHECK(%s) failed\n", file, line, what);
    abort();
}

static void *oom(size_t n) {
    fprintf(stderr, "mistral: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    return p ? p : oom(n);
}

void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    return p ? p : oom(n * size);
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    return q ? q : oom(n);
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static int err_vset(ErrKind kind, const char *fmt, va_list ap) {
    vsnprintf(err_line, sizeof err_line, fmt, ap);
    /* names and strings from files may hold newlines: keep it one line */
    for (char *p = err_line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    err_last_kind = kind;
    return -1;
}

#define ERR_SET(kind)                      \
    do {                                   \
        va_list ap;                        \
        va_start(ap, fmt);                 \
        err_vset((kind), fmt, ap);         \
        va_end(ap);                        \
        return -1;                         \
    } while (0)

int err_set(const char *fmt, ...) { ERR_SET(ERR_OTHER); }
int err_io(const char *fmt, ...) { ERR_SET(ERR_IO); }
int err_nomem(const char *fmt, ...) { ERR_SET(ERR_NOMEM); }
int err_input(const char *fmt, ...) { ERR_SET(ERR_INPUT); }
int err_context_full(const char *fmt, ...) { ERR_SET(ERR_CONTEXT_FULL); }

const char *err_msg(void) { return err_line; }
ErrKind err_kind(void) { return err_last_kind; }

int size_mul(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

int size_add(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return -1;
    *out = a + b;
    return 0;
}

char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_io("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = xrealloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        err_io("%s: read error", path);
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int parse_file(const char *path, int (*parse)(void *obj, const char *text, size_t len, const char *where),
               void *obj) {
    size_t len;
    char *text = read_file(path, &len);
    if (!text) return -1;
    int rc = parse(obj, text, len, path);
    free(text);
    return rc;
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

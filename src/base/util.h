/* util — checks, allocation that never returns NULL, and the error line.
 *
 * Errors: library functions that fail on bad input or a failing environment
 * call err_set() (one line: what and where) and return -1 or NULL; the caller
 * reads err_msg(). Only app/ prints it and exits. Broken invariants are bugs,
 * not input errors: CHECK aborts with file:line. Out of memory aborts too. */
#ifndef BASE_UTIL_H
#define BASE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) check_fail(__FILE__, __LINE__, #cond);                \
    } while (0)

_Noreturn void check_fail(const char *file, int line, const char *what);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Sets the thread's error line (printf format) and returns -1. */
int err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same with a kind, raised where the condition is found, so that the
 * public API can say which without checking again (MistralStatus):
 *   err_io           a file cannot be opened or read (MISTRAL_ERR_IO);
 *   err_nomem        memory ran out for a buffer whose size the caller chose
 *                    (MISTRAL_ERR_MEMORY);
 *   err_input        bad input data: a token id outside the vocabulary
 *                    (MISTRAL_ERR_INPUT);
 *   err_context_full a sequence would pass the positions its cache was made
 *                    for (MISTRAL_ERR_CONTEXT_FULL). */
int err_io(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int err_nomem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int err_input(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int err_context_full(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last error line set on this thread ("" if none), and its kind. */
const char *err_msg(void);
typedef enum { ERR_OTHER, ERR_IO, ERR_NOMEM, ERR_INPUT, ERR_CONTEXT_FULL } ErrKind;
ErrKind err_kind(void);

/* a*b and a+b on sizes; return 0 and set *out, or -1 on overflow. */
int size_mul(size_t a, size_t b, size_t *out);
int size_add(size_t a, size_t b, size_t *out);

/* Reads a whole file into a NUL-terminated buffer the caller frees.
 * Returns NULL (with err set) on failure; *len gets the byte count. */
char *read_file(const char *path, size_t *len);

/* Reads the file at path and hands its bytes (NUL-terminated) to
 * parse(obj, text, len, path): the shape of every x_load(). Returns parse's
 * result, or -1 with err set when the file cannot be read. */
int parse_file(const char *path, int (*parse)(void *obj, const char *text, size_t len, const char *where),
               void *obj);

/* splitmix64 (Steele, Lea, Flood 2014): the next of a seeded sequence of
 * 64-bit numbers whose state is the caller's (sampling, synthetic weights,
 * drawn tool-call ids: reproducible from the seed, no global state). */
uint64_t splitmix64(uint64_t *state);

/* Seconds on a monotonic clock. */
double now_seconds(void);

#endif

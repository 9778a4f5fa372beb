/* harness — the few helpers every test program shares.
 *
 * A test program runs its cases, counts failed EXPECTs and exits non-zero
 * when any failed. Paths are relative to the repository root (make test runs
 * from there). */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <stdio.h>

#include "tok/tokenizer.h"

extern int test_failures;

#define EXPECT(cond, ...)                                                        \
    do {                                                                         \
        if (!(cond)) {                                                           \
            test_failures++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

/* EXPECT that prints only the first 40 failures (for checks in loops). */
extern int test_printed;
#define EXPECTQ(cond, ...)                                                      \
    do {                                                                        \
        if (!(cond)) {                                                          \
            test_failures++;                                                    \
            if (test_printed++ < 40) {                                          \
                fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
                fprintf(stderr, __VA_ARGS__);                                   \
                fputc('\n', stderr);                                            \
            }                                                                   \
        }                                                                       \
    } while (0)

/* Prints a summary line and returns the exit status for main(). */
int test_done(const char *name);

/* A fresh empty directory under $TMPDIR (removed by the caller's rm_rf). */
const char *test_tmpdir(void);
/* rm -rf path */
void test_rm_rf(const char *path);
/* Copies file src to dst; returns 0 on success. */
int test_copy_file(const char *src, const char *dst);
/* Writes len bytes to path; returns 0 on success. */
int test_write_file(const char *path, const void *data, size_t len);

/* Runs a shell command; captures stdout and stderr (NUL-terminated, caller
 * frees; either may be NULL to discard) and returns the exit status. */
int test_run(const char *cmd, char **out, char **err);

/* The mistral binary of this test's build folder (build/tests/unit/x ->
 * build/mistral), so that a sanitized build drives its own binary. */
void test_cli_path(char *out, size_t cap, const char *argv0);

/* A golden file's text field as bytes: U+FFFF stands for a NUL byte (JSON
 * strings cannot hold one). Caller frees; *len gets the byte count. */
struct cJSON;
char *test_json_text(const struct cJSON *s, size_t *len);

/* Loads <shared>/tokenizers/mistral/<name> into t: 1, or 0 with a SKIP line
 * when the file is absent (a file that does not load is a failed check).
 * Not in the kernels-only builds (TEST_NO_JSON). */
int test_load_tokenizer(Tokenizer *t, const char *shared, const char *name);

/* Where ../shared is, or NULL (with a message) when it is absent. */
const char *test_shared_dir(void);

#endif

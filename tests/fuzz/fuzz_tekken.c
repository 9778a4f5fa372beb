/* fuzz_tekken — libFuzzer target: tekken.json parsing on arbitrary bytes, and
 * the real tokenizer's round trip on arbitrary text.
 *
 * 1. tekken_parse must accept (and then the tables hold what encode and
 *    decode rely on, and a fixed text encodes to ids in range) or refuse with
 *    one error line; never crash or leak.
 * 2. With ../shared (MISTRAL_SHARED) present, tekken_240718.json is loaded
 *    once; an input that is valid UTF-8 must encode, and decode back to
 *    exactly its bytes. Invalid UTF-8 must be refused. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"
#include "tok/tekken.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Tekken real;
static int have_real;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *env = getenv("MISTRAL_SHARED");
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizers/mistral/tekken_240718.json",
             env && *env ? env : "../shared");
    if (tekken_load(&real, path) == 0) have_real = 1;
    else fprintf(stderr, "fuzz_tekken: %s; the round-trip half is skipped\n", err_msg());
    return 0;
}

static void check_parsed(const Tekken *t) {
    if (t->n_ranks < 256 || t->n_special < 0 || t->n_vocab != t->n_special + t->n_ranks ||
        !t->version || !t->impl)
        __builtin_trap();
    for (int i = 0; i < t->n_special; i++) /* names unique: the lookup finds i (a few) */
        if (!t->special[i] || !t->special[i][0] ||
            ((i < 64 || i == t->n_special - 1) && tekken_special_id(t, t->special[i]) != i))
            __builtin_trap();
    for (int i = 0; i < t->n_ranks; i++)
        if (t->tok_len[i] < 1 || (i < 256 && (t->tok_len[i] != 1 || t->tok[i][0] != i)))
            __builtin_trap();
    if (t->bos >= t->n_special || t->eos >= t->n_special || t->unk >= t->n_special) __builtin_trap();
    static const char text[] = "Hello, world! 12 \xc3\xa9t\xc3\xa9  \n\t\xf0\x9f\x98\x80 x";
    IntVec v = {0};
    ByteBuf b = {0};
    if (tekken_encode(t, text, sizeof text - 1, &v) == 0) { /* a match limit may refuse */
        for (int i = 0; i < v.n; i++)
            if (v.v[i] < t->n_special || v.v[i] >= t->n_vocab) __builtin_trap();
        if (tekken_decode(t, v.v, v.n, &b) != 0 || b.n > sizeof text - 1) __builtin_trap();
    }
    intvec_free(&v);
    bytebuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Tekken t;
    err_set("%s", "");
    if (tekken_parse(&t, (const char *)data, size, "fuzz/tekken.json") == 0) {
        check_parsed(&t);
        tekken_free(&t);
    } else if (err_msg()[0] == 0 || strchr(err_msg(), '\n') || t.impl || t.tok || t.special) {
        __builtin_trap();
    }
    if (!have_real) return 0;
    IntVec v = {0};
    ByteBuf b = {0};
    int valid = utf8_valid((const char *)data, size, NULL);
    int rc = tekken_encode(&real, (const char *)data, size, &v);
    if (rc != (valid ? 0 : -1)) __builtin_trap();
    if (valid) {
        for (int i = 0; i < v.n; i++)
            if (v.v[i] < real.n_special || v.v[i] >= real.n_vocab) __builtin_trap();
        if (tekken_decode(&real, v.v, v.n, &b) != 0 || b.n != size ||
            (size && memcmp(b.p, data, size) != 0))
            __builtin_trap();
    }
    intvec_free(&v);
    bytebuf_free(&b);
    return 0;
}

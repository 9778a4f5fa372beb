/* fuzz_spm — libFuzzer target for the SentencePiece tokenizer.
 *
 * (a) The input as a tokenizer.model: spm_parse must accept it or refuse it
 *     with one error line naming it, never read outside the buffer, leak or
 *     crash; an accepted model must encode and decode.
 * (b) The input as text, when it is valid UTF-8, encoded with Mistral's v1
 *     tokenizer (loaded once from $MISTRAL_SHARED or ../shared; this part is
 *     skipped when it is absent): every id is in the vocabulary and none is a
 *     control piece, and decoding gives the text back (v1 keeps whitespace as
 *     it is; only a U+2581 in the text comes back as a space).
 *
 * Build (from the repository root):
 *   clang -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -Iinclude -Isrc \
 *       -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_spm.c \
 *       $(ls src/base/[a-z]*.c) src/tok/spm.c -lcjson -lm
 * Seeds: tests/fuzz/corpus/fuzz_spm/ (a small hand-made model, texts). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"
#include "tok/spm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Spm v1;
static int v1_state; /* 0: not tried, 1: loaded, -1: absent */

static void as_model(const uint8_t *data, size_t size) {
    Spm s;
    err_set("%s", "");
    if (spm_parse(&s, data, size, "fuzz.model") < 0) {
        const char *e = err_msg();
        if (strncmp(e, "fuzz.model: ", 12) || strchr(e, '\n')) __builtin_trap();
        return;
    }
    static const char text[] = "  Hello [X] w\xc3\xb6rld\t\xe2\x98\x83 0x41 <s> abc ";
    IntVec v = {0};
    ByteBuf b = {0};
    if (spm_encode(&s, text, sizeof text - 1, &v) < 0) __builtin_trap();
    for (int i = 0; i < v.n; i++)
        if (v.v[i] < 0 || v.v[i] >= s.n) __builtin_trap();
    if (spm_decode(&s, v.v, v.n, &b) < 0) __builtin_trap();
    /* every id decodes */
    int ids[64];
    for (int i = 0; i < 64; i++) ids[i] = (int)((unsigned)i * 2654435761u % (unsigned)s.n);
    if (spm_decode_text(&s, ids, 64, &b) < 0) __builtin_trap();
    if (spm_piece_id(&s, s.piece[s.n - 1]) < 0) __builtin_trap();
    intvec_free(&v);
    bytebuf_free(&b);
    spm_free(&s);
}

static void as_text(const uint8_t *data, size_t size) {
    if (!v1_state) {
        const char *env = getenv("MISTRAL_SHARED");
        char path[512];
        snprintf(path, sizeof path, "%s/tokenizers/mistral/tokenizer.model.v1", env && *env ? env : "../shared");
        v1_state = spm_load(&v1, path) == 0 ? 1 : -1;
        if (v1_state < 0) fprintf(stderr, "fuzz_spm: %s; the text part is skipped\n", err_msg());
    }
    if (v1_state < 0 || !utf8_valid((const char *)data, size, NULL)) return;
    IntVec v = {0};
    ByteBuf b = {0};
    if (spm_encode(&v1, (const char *)data, size, &v) < 0) __builtin_trap();
    for (int i = 0; i < v.n; i++)
        if (v.v[i] < 0 || v.v[i] >= v1.n || v1.type[v.v[i]] == SPM_CONTROL) __builtin_trap();
    if (spm_decode(&v1, v.v, v.n, &b) < 0) __builtin_trap();
    int has_u2581 = 0;
    for (size_t i = 0; i + 3 <= size && !has_u2581; i++) has_u2581 = !memcmp(data + i, "\xe2\x96\x81", 3);
    if (!has_u2581 && (b.n != size || (size && memcmp(b.p, data, size)))) __builtin_trap();
    intvec_free(&v);
    bytebuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    as_model(data, size);
    as_text(data, size);
    return 0;
}

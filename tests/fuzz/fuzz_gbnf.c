/* fuzz_gbnf — libFuzzer target: GBNF grammar files into grammars.
 *
 * gbnf_compile must compile the bytes or refuse them with one "gbnf: line L
 * col C: ..." line (or grammar_finish's "grammar: ..."); a compiled grammar
 * must recognize its own random sentences (control tokens included: <name>
 * tokens resolve to ids by their length; sentences are kept short, the
 * Earley oracle being cubic on ambiguous grammars). Never crash, leak or recurse
 * without bound. Seeds: tests/fuzz/corpus/fuzz_gbnf. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"
#include "grammar/gbnf.h"
#include "grammar/grammar.h"
#include "grammar/sample.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int token(void *user, const char *text, size_t len) {
    (void)user, (void)text;
    return len < 6 ? -1 : (int)len; /* <abc> and longer: some id */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 16384) return 0;
    GbnfOptions opt = {.token = token};
    Grammar g;
    grammar_init(&g);
    if (gbnf_compile(&g, (const char *)data, size, &opt)) {
        if (strncmp(err_msg(), "gbnf: ", 6) && strncmp(err_msg(), "grammar: ", 9)) __builtin_trap();
    } else {
        uint64_t rng = size;
        for (int k = 0; k < 4; k++) {
            IntVec out = {0};
            if (grammar_sample(&g, &rng, 30, 300, &out) == 0 && grammar_recognize(&g, out.v, out.n) != GRAMMAR_MATCH)
                __builtin_trap();
            intvec_free(&out);
        }
    }
    grammar_free(&g);
    return 0;
}

/* fuzz_regex — libFuzzer target: regular expressions into grammars.
 *
 * The first byte picks the flags (REGEX_SEARCH, REGEX_JSON), the rest is the
 * pattern. regex_rule must compile it or refuse it with one "regex: offset
 * N: ..." line; what compiles and finishes must recognize its own random
 * sentences (grammar_sample), and the pattern's bytes as an input must get
 * an answer (sentences are kept short: the Earley oracle is cubic on
 * ambiguous grammars such as an unanchored pattern's). Never crash, leak
 * or recurse without bound.
 * Seeds: tests/fuzz/corpus/fuzz_regex. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"
#include "grammar/grammar.h"
#include "grammar/regex.h"
#include "grammar/sample.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    int flags = data[0] & (REGEX_SEARCH | REGEX_JSON);
    Grammar g;
    grammar_init(&g);
    int r = regex_rule(&g, "root", (const char *)data + 1, size - 1, flags);
    if (r < 0) {
        if (strncmp(err_msg(), "regex: ", 7)) __builtin_trap();
    } else {
        g.start = r;
        if (grammar_finish(&g) == 0) {
            uint64_t rng = size;
            for (int k = 0; k < 4; k++) {
                IntVec out = {0};
                if (grammar_sample(&g, &rng, 30, 300, &out) == 0 &&
                    grammar_recognize(&g, out.v, out.n) != GRAMMAR_MATCH)
                    __builtin_trap();
                intvec_free(&out);
            }
            grammar_recognize_bytes(&g, data + 1, size - 1 < 256 ? size - 1 : 256);
        }
    }
    grammar_free(&g);
    return 0;
}

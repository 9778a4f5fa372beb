/* fuzz_jsonschema — libFuzzer target: JSON Schemas into grammars.
 *
 * The bytes are a schema (strict and whitespace picked from its length).
 * jsonschema_compile must compile it or refuse it with one "json schema: ..."
 * line (or grammar_finish's "grammar: ..."); every random sentence of a
 * compiled schema must be JSON that cJSON reads whole, and be recognized.
 * (Sentences are kept short: the Earley oracle is cubic on ambiguous
 * grammars such as an unanchored pattern's.) Never crash, leak or recurse without bound.
 * Seeds: tests/fuzz/corpus/fuzz_jsonschema. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "grammar/grammar.h"
#include "grammar/jsonschema.h"
#include "grammar/sample.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 16384) return 0;
    JsonSchemaOptions opt = {.strict = (int)(size & 1), .whitespace = (size & 2) ? 3 : 0};
    Grammar g;
    grammar_init(&g);
    if (jsonschema_compile(&g, (const char *)data, size, &opt)) {
        if (strncmp(err_msg(), "json schema: ", 13) && strncmp(err_msg(), "grammar: ", 9)) __builtin_trap();
    } else {
        uint64_t rng = size;
        for (int k = 0; k < 4; k++) {
            IntVec out = {0};
            if (grammar_sample(&g, &rng, 40, 400, &out) == 0) {
                char *s = xmalloc((size_t)out.n + 1);
                for (int i = 0; i < out.n; i++) s[i] = (char)out.v[i];
                s[out.n] = 0;
                const char *end = NULL;
                cJSON *v = cJSON_ParseWithLengthOpts(s, (size_t)out.n, &end, 0);
                if (!v || end != s + out.n) __builtin_trap();
                if (grammar_recognize(&g, out.v, out.n) != GRAMMAR_MATCH) __builtin_trap();
                cJSON_Delete(v);
                free(s);
            }
            intvec_free(&out);
        }
    }
    grammar_free(&g);
    return 0;
}

/* grammar_check — which texts a constraint accepts, for
 * bench/schema_compare.sh: a JSON Schema compiled by mistral.c, or a GBNF
 * grammar (llama.cpp's converter's output: examples/json_schema_to_grammar.py),
 * each text decided by the Earley recognizer (grammar/grammar.h).
 *   build/bench/grammar_check schema|strict|gbnf FILE TEXT...
 * (strict: the schema in strict mode, as --json-strict compiles it)
 * Prints one line per text: "accepts TEXT" or "refuses TEXT"; a constraint
 * that does not compile is "error MESSAGE" and exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "grammar/gbnf.h"
#include "grammar/jsonschema.h"

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "schema") && strcmp(argv[1], "strict") && strcmp(argv[1], "gbnf"))) {
        fprintf(stderr, "usage: grammar_check schema|strict|gbnf FILE TEXT...\n");
        return 2;
    }
    size_t len;
    char *text = read_file(argv[2], &len);
    if (!text) {
        fprintf(stderr, "grammar_check: %s\n", err_msg());
        return 2;
    }
    Grammar g;
    grammar_init(&g);
    JsonSchemaOptions opt = {.strict = !strcmp(argv[1], "strict")};
    int rc = strcmp(argv[1], "gbnf") ? jsonschema_compile(&g, text, len, &opt) : gbnf_compile(&g, text, len, NULL);
    free(text);
    if (rc) {
        printf("error %s\n", err_msg());
        grammar_free(&g);
        return 1;
    }
    for (int i = 3; i < argc; i++)
        printf("%s %s\n", grammar_recognize_bytes(&g, argv[i], strlen(argv[i])) == GRAMMAR_MATCH ? "accepts" : "refuses",
               argv[i]);
    grammar_free(&g);
    return 0;
}

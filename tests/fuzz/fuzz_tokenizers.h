/* fuzz_tokenizers — the tokenizers the chat fuzz targets run with: the v3
 * SentencePiece model, the v7 one and tekken_240718.json from $MISTRAL_SHARED
 * (default ../shared)/tokenizers/mistral, each when present. Included by one
 * target each (the targets link nothing but the library). */
#ifndef FUZZ_TOKENIZERS_H
#define FUZZ_TOKENIZERS_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tok/tokenizer.h"
#include "tok/tokfile.h" /* tokenizer_load */

/* Loads what is there into toks[0..3); returns how many; `who` names the
 * target in the line for each one missing. */
static int fuzz_load_tokenizers(Tokenizer toks[3], const char *who) {
    static const char *const names[] = {"mistral_instruct_tokenizer_240323.model.v3",
                                        "mistral_instruct_tokenizer_241114.model.v7", "tekken_240718.json"};
    const char *env = getenv("MISTRAL_SHARED");
    int n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/tokenizers/mistral/%s", env && *env ? env : "../shared", names[i]);
        if (stat(path, &st) == 0 && tokenizer_load(&toks[n], path) == 0) n++;
        else fprintf(stderr, "%s: %s not loaded\n", who, path);
    }
    return n;
}

#endif

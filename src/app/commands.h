/* commands — the subcommands of the mistral CLI, and text streaming. */
#ifndef APP_COMMANDS_H
#define APP_COMMANDS_H

#include <stdio.h>

#include "app/cli.h"
#include "base/vec.h"

int cmd_logits(const Options *o);
int cmd_generate(const Options *o);
int cmd_chat(const Options *o);
int cmd_tokenize(const Options *o);
int cmd_detokenize(const Options *o);
int cmd_quantize(const Options *o);
int cmd_info(const Options *o);
int cmd_perplexity(const Options *o);
int cmd_synth(const Options *o);
int cmd_bench(const Options *o);

/* Streams the text of generated tokens: never splits a UTF-8 character,
 * stops at a stop text (not printed). */
typedef struct {
    const Tokenizer *tok;
    const char *stop; /* NULL: none */
    FILE *out;
    IntVec ids;       /* tokens so far */
    ByteBuf text;     /* their decoded bytes */
    size_t printed;   /* bytes of text already written */
} Stream;

void stream_init(Stream *s, const Tokenizer *tok, const char *stop, FILE *out);
/* Adds a token and prints what is certain; 1 when the stop text appeared. */
int stream_push(Stream *s, int token);
/* Prints the rest (invalid UTF-8 as U+FFFD) and frees. */
void stream_finish(Stream *s);

#endif

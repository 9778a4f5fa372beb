/* commands — the subcommands of the mistral CLI, and text streaming. */
#ifndef APP_COMMANDS_H
#define APP_COMMANDS_H

#include <stdio.h>

#include "app/cli.h"
#include "base/vec.h"
#include "gen/stream.h"

int cmd_logits(const Options *o);
int cmd_generate(const Options *o);
int cmd_chat(const Options *o);
int cmd_tokenize(const Options *o);
int cmd_detokenize(const Options *o);
int cmd_quantize(const Options *o);
int cmd_info(const Options *o);
int cmd_perplexity(const Options *o);
int cmd_imatrix(const Options *o);
int cmd_synth(const Options *o);
int cmd_bench(const Options *o);
int cmd_serve(const Options *o);

/* Prints a generated token's certain text to out (gen/stream.h); 1 when
 * a stop text appeared. Dies if the tokens cannot be decoded. */
int stream_print(Stream *s, int token, FILE *out);
/* Prints the rest and frees s. */
void stream_print_finish(Stream *s, FILE *out);

/* This process's resident bytes now and at their peak (VmRSS, VmHWM from
 * /proc/self/status; without /proc, 0 and getrusage's ru_maxrss). */
void process_rss(size_t *now, size_t *peak);

#endif

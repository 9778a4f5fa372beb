/* fim — Mistral's fill-in-the-middle API (POST /v1/fim/completions), as
 * @mistralai/mistralai's fim.complete / fim.stream and Codestral clients
 * speak it.
 *
 * Request: model, prompt (the code before the gap), suffix (after it),
 * max_tokens, temperature, top_p, stream, stop, random_seed, min_tokens (0
 * only). The prompt is mistral-common's encode_fim (InstructTokenizerV2 and
 * later, SentencePiece and Tekken alike):
 *   [BOS] [SUFFIX] infill(suffix) [PREFIX] encode(prompt)
 * where infill(s) is encode("\u263a" + s) without its first two tokens (the
 * dummy prefix and the smiley: no leading space before the suffix) and
 * nothing when the suffix is empty. A tokenizer without [SUFFIX]/[PREFIX]
 * (v1) is a 400. The reply is chat-shaped, as Mistral's: a
 * chat.completion (chunks when streamed) whose message is the middle. */
#ifndef SERVER_FIM_H
#define SERVER_FIM_H

#include "server/dialect.h"

extern const ApiDialect fim_dialect;

/* The FIM prompt of prompt and suffix (see above) into out. 0, or -1 with err. */
int fim_encode(const Tokenizer *tok, const char *prompt, size_t prompt_len, const char *suffix, size_t suffix_len,
               IntVec *out);

#endif

/* cmd_chat — an interactive chat: the history lives in the KV cache as
 * token ids and is never re-encoded; each turn adds the user's message in
 * the model's chat format and streams the reply until EOS.
 *
 * When the conversation outgrows the attention window, the rolling cache
 * simply keeps the last W positions of every layer: the model then sees the
 * most recent W tokens directly (and, through the layers below, a little
 * further back), as Mistral's sliding window does within one long text.
 * Layers without a window get one of --ctx tokens, so that a model with full
 * attention keeps working the same way instead of stopping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/cli.h"
#include "app/commands.h"
#include "base/utf8.h"
#include "base/util.h"
#include "gen/generate.h"
#include "tok/chat.h"

#define CHAT_DEFAULT_CTX 4096

typedef struct {
    Stream stream;
    int eos, last, stopped_at_eos;
} Turn;

static int on_token(void *ud, int req, int token) {
    Turn *t = ud;
    (void)req;
    t->last = token;
    if (token == t->eos) {
        t->stopped_at_eos = 1;
        return 1;
    }
    return stream_print(&t->stream, token, stdout);
}

int cmd_chat(const Options *o) {
    /* a rolling context: --ctx bounds every window, else layers without one
     * roll at CHAT_DEFAULT_CTX positions */
    cli_draft_check(o);
    Model m;
    ModelOptions mo = {.full_window = o->ctx ? (int)o->ctx : CHAT_DEFAULT_CTX, .max_window = (int)o->ctx};
    load_model_with(&m, o, mo);
    Tokenizer tok;
    load_tokenizer(&tok, o);
    int fmt = o->chat_format ? chat_format_from_name(o->chat_format) : chat_format_default(&tok);
    if (fmt < 0) usage_error(o->cmd, "unknown --chat-format \"%s\" (v1, v2, v3, v7, tekken)", o->chat_format);
    if (tok.eos < 0) die("%s: the tokenizer has no end-of-sequence token", tok.path);
    /* a constraint shapes each reply (not the user's turns) */
    ConstraintSpec spec;
    char *spec_text;
    const char *spec_file;
    cli_constraint(o, &spec, &spec_text, &spec_file);
    CliConstraint cc = {0};
    int guided = spec.kind != CONSTRAINT_NONE;
    if (guided) cli_constraint_compile(&cc, &spec, &tok, spec_file);

    /* the context: the widest window (every layer has one now) */
    long n_ctx = 0;
    for (int l = 0; l < m.cfg.n_layers; l++)
        if (m.cfg.window[l] > n_ctx) n_ctx = m.cfg.window[l];
    Context ctx;
    if (context_init(&ctx, &m, 1, n_ctx)) die("%s", err_msg());
    setup_context(&ctx, o, o->threads);
    prepare_model(&m, &ctx, o, NULL);
    CliDraft cd; /* one drafter for the whole conversation: it keeps the history */
    cli_draft_open(&cd, o, &ctx, &tok, n_ctx, mo);

    int interactive = isatty(STDIN_FILENO), first = 1, turns = 0;
    IntVec pending = {0}; /* sampled but not yet in the cache: the reply's end */
    char *line = NULL;
    size_t cap = 0;
    if (interactive) fprintf(stderr, "mistral chat: /reset starts over, /exit or Ctrl-D ends\n");
    for (;;) {
        if (interactive) fputs("> ", stdout), fflush(stdout);
        ssize_t got = getline(&line, &cap, stdin);
        if (got < 0) break;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        if (!strcmp(line, "/exit")) break;
        if (!strcmp(line, "/reset")) {
            kvcache_reset(&ctx.seqs[0]);
            if (cd.on) drafter_begin(&cd.d, 0, 0);
            pending.n = 0, first = 1;
            fprintf(stderr, "(conversation reset)\n");
            continue;
        }
        if (got == 0) continue;
        size_t bad;
        if (!utf8_valid(line, (size_t)got, &bad)) {
            fprintf(stderr, "mistral: the message is not valid UTF-8 (byte %zu); ignored\n", bad);
            continue;
        }
        IntVec ids = {0};
        for (int i = 0; i < pending.n; i++) intvec_push(&ids, pending.v[i]);
        if (chat_encode_turn(&tok, fmt, first ? o->system : NULL, line, first, &ids)) die("%s", err_msg());
        Turn t = {.eos = tok.eos, .last = -1};
        stream_init(&t.stream, &tok, NULL, 0);
        GenRequest req = {.prompt = ids.v, .n_prompt = ids.n, .max_new = (int)o->n_new, .append = 1,
                          .grammar = guided ? &cc.g : NULL};
        GenOptions go = {.chunk_size = (int)o->chunk_size,
                         .sampler = {.temperature = (float)o->temperature, .top_p = (float)o->top_p,
                                     .top_k = (int)o->top_k, .min_p = (float)o->min_p,
                                     .seed = o->seed + (unsigned long long)turns,
                                     .presence_penalty = (float)o->presence_penalty,
                                     .frequency_penalty = (float)o->frequency_penalty,
                                     .repeat_penalty = (float)o->repeat_penalty,
                                     .repeat_last_n = (int)o->repeat_last_n},
                         .eos = -1, .vocab = guided ? &cc.v : NULL, .drafter = cd.on ? &cd.d : NULL};
        if (generate(&ctx, &req, 1, &go, on_token, &t)) die("%s", err_msg());
        stream_print_finish(&t.stream, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        /* close the reply: its last token (unless it was EOS) and EOS */
        pending.n = 0;
        if (t.last >= 0 && !t.stopped_at_eos) intvec_push(&pending, t.last);
        intvec_push(&pending, tok.eos);
        intvec_free(&ids);
        first = 0, turns++;
    }
    free(line);
    intvec_free(&pending);
    if (cd.on) cli_draft_report(stderr, &cd.d.total);
    cli_draft_close(&cd);
    if (guided) cli_constraint_free(&cc);
    free(spec_text);
    context_free(&ctx);
    tokenizer_free(&tok);
    model_free(&m);
    return 0;
}

/* fim — Mistral's fill-in-the-middle API over the engine (fim.h). */
#include "server/fim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static const char *const fields[] = {"model", "prompt", "suffix", "max_tokens", "min_tokens", "temperature", "top_p",
                                     "stream", "stop", "random_seed", NULL};
static const char *const renames[][2] = {{"seed", "random_seed"}, {NULL, NULL}};

int fim_encode(const Tokenizer *tok, const char *prompt, size_t prompt_len, const char *suffix, size_t suffix_len,
               IntVec *out) {
    int suf = tokenizer_special(tok, "[SUFFIX]"), pre = tokenizer_special(tok, "[PREFIX]");
    if (suf < 0 || pre < 0) {
        err_set("this model's tokenizer has no [SUFFIX]/[PREFIX] tokens: no fill-in-the-middle");
        return -1;
    }
    IntVec s = {0}, p = {0};
    int rc = -1;
    if (suffix_len) {
        char *smiley = xmalloc(suffix_len + 4);
        memcpy(smiley, "\xe2\x98\xba", 3); /* U+263A */
        memcpy(smiley + 3, suffix, suffix_len);
        int bad = tokenizer_encode(tok, smiley, suffix_len + 3, 0, &s);
        free(smiley);
        if (bad) goto done;
    }
    if (tokenizer_encode(tok, prompt, prompt_len, 0, &p)) goto done;
    intvec_push(out, tok->bos);
    intvec_push(out, suf);
    for (int i = 2; i < s.n; i++) intvec_push(out, s.v[i]);
    intvec_push(out, pre);
    for (int i = 0; i < p.n; i++) intvec_push(out, p.v[i]);
    rc = 0;
done:
    intvec_free(&s), intvec_free(&p);
    return rc;
}

/* The request as a /v1/completions one whose prompt is the FIM ids. */
static int translate(ByteBuf *b, const Json *root, const ApiConfig *cfg, ApiError *e) {
    const Json *prompt = json_get(root, "prompt"), *suffix = json_get(root, "suffix"), *v;
    if (!prompt || prompt->type != JSON_STR) return api_error(e, 400, "prompt", "'prompt' must be a string");
    if (!json_is_null(suffix) && suffix->type != JSON_STR) return api_error(e, 400, "suffix", "'suffix' must be a string");
    v = json_get(root, "min_tokens");
    if (!json_is_null(v) && !(v->type == JSON_INT && !strcmp(v->s, "0")))
        return api_error(e, 400, "min_tokens", "'min_tokens' is not supported (only 0)");
    IntVec ids = {0};
    if (fim_encode(cfg->tok, prompt->s, prompt->len, suffix && suffix->type == JSON_STR ? suffix->s : "",
                   suffix && suffix->type == JSON_STR ? suffix->len : 0, &ids)) {
        intvec_free(&ids);
        return api_error(e, 400, "prompt", "%s", err_msg());
    }
    jw_open(b, NULL, '{');
    jw_open(b, "prompt", '[');
    for (int i = 0; i < ids.n; i++) {
        char n[16];
        jw_key(b, NULL);
        bytebuf_push(b, n, (size_t)snprintf(n, sizeof n, "%d", ids.v[i]));
    }
    jw_close(b, ']');
    intvec_free(&ids);
    static const char *const same[][2] = {{"max_tokens", "max_tokens"}, {"temperature", "temperature"}, {"top_p", "top_p"},
                                          {"stream", "stream"}, {"stop", "stop"}, {"random_seed", "seed"}, {NULL, NULL}};
    dialect_copy(b, root, same);
    jw_close(b, '}');
    bytebuf_push(b, "", 0);
    return 0;
}

static int parse(ApiRequest *q, const char *body, size_t len, const ApiConfig *cfg, ApiError *e) {
    memset(q, 0, sizeof *q);
    memset(e, 0, sizeof *e);
    Arena a = {0};
    Json root;
    ByteBuf b = {0};
    int rc = -1;
    if (!dialect_read(&root, &a, body, len, fields, e) && !translate(&b, &root, cfg, e))
        rc = dialect_parse(q, 0, &b, cfg, 0, renames, e);
    if (!rc) q->chat = 1; /* the reply is a chat message, as Mistral's */
    arena_free(&a);
    bytebuf_free(&b);
    return rc;
}

const ApiDialect fim_dialect = {.parse = parse, .event = api_response_event, .finish = api_response_finish,
                                .error_json = api_error_json};

/* openai — OpenAI's completion APIs: requests in, responses out (see openai.h). */
#include "server/openai.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/utf8.h"
#include "base/util.h"
#include "server/outputs.h"
#include "tok/chat.h"

int api_error(ApiError *e, int status, const char *param, const char *fmt, ...) {
    e->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    /* a message may quote the client's bytes (or be cut inside a character):
     * never echo invalid UTF-8, whichever dialect writes it */
    ByteBuf m = {0};
    utf8_replace_invalid(&m, e->message, strlen(e->message));
    if (m.n >= sizeof e->message) m.n = utf8_complete_prefix(m.p, sizeof e->message - 1);
    memcpy(e->message, m.p, m.n);
    e->message[m.n] = 0;
    bytebuf_free(&m);
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    e->type = status == 401 ? "authentication_error" : status >= 500 ? "server_error" : "invalid_request_error";
    return -1;
}

char *api_error_json(const ApiError *e) {
    cJSON *root = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(o, "message", e->message);
    cJSON_AddStringToObject(o, "type", e->type ? e->type : "invalid_request_error");
    if (e->param[0]) cJSON_AddStringToObject(o, "param", e->param);
    else cJSON_AddNullToObject(o, "param");
    if (e->code) cJSON_AddStringToObject(o, "code", e->code);
    else cJSON_AddNullToObject(o, "code");
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* ---- requests ---------------------------------------------------------------- */

/* A request body is parsed once, by base/json (Python's json.loads rules),
 * and every field is read from that one document: the chat encoding needs
 * those rules (mistral-common re-serializes tool-call arguments and tool
 * results with json.dumps(json.loads(s)); cJSON keeps integers as doubles,
 * a repeated key twice, refuses NaN), and a second parser of the same
 * bytes, with other rules, could read another request than the encoding
 * sees (a repeated "messages" or "max_tokens"). cJSON writes the responses. */

/* Fields each endpoint knows; anything else is refused by name. */
static const char *const chat_fields[] = {
    "model", "messages", "tools", "tool_choice", "parallel_tool_calls", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "top_k", "min_p", "seed", "stop", "n", "stream", "stream_options", "logprobs",
    "top_logprobs", "user", "response_format", "presence_penalty", "frequency_penalty", "logit_bias",
    "continue_final_message", "ignore_eos", "random_seed", "safe_prompt", "repeat_penalty", "repeat_last_n", NULL};
static const char *const completion_fields[] = {
    "model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop", "n", "stream",
    "stream_options", "logprobs", "user", "presence_penalty", "frequency_penalty", "logit_bias", "echo", "best_of",
    "suffix", "ignore_eos", "response_format", "repeat_penalty", "repeat_last_n", NULL};

static int known(const char *const *list, const Json *key) {
    for (; *list; list++)
        if (key->len == strlen(*list) && !memcmp(*list, key->s, key->len)) return 1;
    return 0;
}

int api_only_fields(const Json *o, const char *where, const char *const *names, ApiError *e) {
    for (int i = 0; i < o->n; i++) {
        if (known(names, &o->key[i])) continue;
        if (where) return api_error(e, 400, where, "unknown field '%s.%.40s'", where, o->key[i].s);
        return api_error(e, 400, o->key[i].s, "unknown field '%.40s'", o->key[i].s);
    }
    return 0;
}

/* A number's value (an integer's digits read as a double); 0 when v is no number. */
static int number(const Json *v, double *x) {
    if (!v || (v->type != JSON_INT && v->type != JSON_FLOAT)) return 0;
    *x = v->type == JSON_INT ? strtod(v->s, NULL) : v->num;
    return 1;
}

/* A number field: absent leaves *out; otherwise it must be a number in
 * [lo, hi] (and whole when integer). */
static int get_number(const Json *root, const char *key, double lo, double hi, int integer, double *out, ApiError *e) {
    const Json *v = json_get(root, key);
    double x;
    if (json_is_null(v)) return 0;
    if (!number(v, &x)) return api_error(e, 400, key, "'%s' must be a number", key);
    if (integer && x != floor(x)) return api_error(e, 400, key, "'%s' must be an integer", key);
    if (!(x >= lo && x <= hi)) return api_error(e, 400, key, "'%s' must be between %g and %g, got %g", key, lo, hi, x);
    *out = x;
    return 0;
}

static int get_bool(const Json *root, const char *key, int *out, ApiError *e) {
    const Json *v = json_get(root, key);
    if (json_is_null(v)) return 0;
    if (v->type != JSON_TRUE && v->type != JSON_FALSE) return api_error(e, 400, key, "'%s' must be true or false", key);
    *out = v->type == JSON_TRUE;
    return 0;
}

/* Values we take only at their neutral setting. */
static int check_unsupported(const Json *root, ApiError *e) {
    double x;
    const Json *v = json_get(root, "logit_bias");
    if (!json_is_null(v) && !(v->type == JSON_OBJ && v->n == 0))
        return api_error(e, 400, "logit_bias", "'logit_bias' is not supported");
    v = json_get(root, "echo");
    if (!json_is_null(v) && v->type != JSON_FALSE) return api_error(e, 400, "echo", "'echo' is not supported");
    v = json_get(root, "best_of");
    if (!json_is_null(v) && !(number(v, &x) && x == 1))
        return api_error(e, 400, "best_of", "'best_of' is not supported (only 1)");
    if (!json_is_null(json_get(root, "suffix"))) return api_error(e, 400, "suffix", "'suffix' is not supported");
    return 0;
}

/* OpenAI's presence_penalty and frequency_penalty; llama-server's
 * repeat_penalty and repeat_last_n (gen/sampler.h). */
static int parse_penalties(const Json *root, SamplerParams *sp, ApiError *e) {
    double pres = 0, freq = 0, rep = 1, last_n = 64;
    if (get_number(root, "presence_penalty", -2, 2, 0, &pres, e) ||
        get_number(root, "frequency_penalty", -2, 2, 0, &freq, e) ||
        get_number(root, "repeat_penalty", 0, 100, 0, &rep, e) ||
        get_number(root, "repeat_last_n", 0, 1 << 20, 1, &last_n, e))
        return -1;
    sp->presence_penalty = (float)pres, sp->frequency_penalty = (float)freq;
    sp->repeat_penalty = (float)rep, sp->repeat_last_n = (int)last_n;
    return 0;
}

/* One stop text (the engine's are C strings: one holding a NUL is refused). */
static int add_stop(EngineParams *p, const Json *s, ApiError *e) {
    if (s->type != JSON_STR) return api_error(e, 400, "stop", "'stop' must hold strings");
    if (memchr(s->s, 0, s->len)) return api_error(e, 400, "stop", "'stop' strings must not hold a NUL character");
    if (s->len > API_MAX_STOP_BYTES) /* the engine scans them at every token, for every client's step */
        return api_error(e, 400, "stop", "'stop' strings must be at most %d bytes long", API_MAX_STOP_BYTES);
    if (s->len) p->stops[p->n_stop++] = xstrdup(s->s);
    return 0;
}

static int parse_stop(const Json *root, EngineParams *p, ApiError *e) {
    const Json *v = json_get(root, "stop");
    if (json_is_null(v)) return 0;
    if (v->type == JSON_STR) return add_stop(p, v, e);
    if (v->type != JSON_ARR || v->n > ENGINE_MAX_STOPS)
        return api_error(e, 400, "stop", "'stop' must be a string or a list of at most %d strings", ENGINE_MAX_STOPS);
    for (int i = 0; i < v->n; i++)
        if (add_stop(p, &v->item[i], e)) return -1;
    return 0;
}

/* The prompt of /v1/completions: a string (BOS first, as `mistral generate
 * -p`), or token ids. */
static int parse_prompt(ApiRequest *q, const Json *root, const ApiConfig *cfg, ApiError *e) {
    const Json *v = json_get(root, "prompt");
    if (v && v->type == JSON_ARR && v->n == 1 && v->item[0].type == JSON_STR) v = &v->item[0];
    if (v && v->type == JSON_STR) {
        IntVec ids = {0};
        if (tokenizer_encode(cfg->tok, v->s, v->len, 1, &ids)) {
            intvec_free(&ids);
            return api_error(e, 400, "prompt", "'prompt': %s", err_msg());
        }
        q->prompt = ids.v, q->n_prompt = ids.n;
        return 0;
    }
    if (!v || v->type != JSON_ARR || !v->n)
        return api_error(e, 400, "prompt", "'prompt' must be a string or a list of token ids");
    q->prompt = xmalloc((size_t)v->n * sizeof(int));
    q->n_prompt = v->n;
    for (int i = 0; i < v->n; i++) {
        double x;
        if (v->item[i].type == JSON_STR)
            return api_error(e, 400, "prompt", "several prompts in one request are not supported (use n for several choices)");
        if (!number(&v->item[i], &x) || x != floor(x) || x < 0 || x >= cfg->tok->n_vocab)
            return api_error(e, 400, "prompt", "'prompt' holds something that is not a token id");
        q->prompt[i] = (int)x;
    }
    return 0;
}

/* Mistral's safe_prompt: "Toggling the safe prompt will prepend your
 * messages with the following system prompt" (docs.mistral.ai, Guardrailing). */
static const char safe_prompt[] = "Always assist with care, respect, and truth. Respond with utmost utility yet "
                                  "securely. Avoid harmful, unethical, prejudiced, or negative content. Ensure replies "
                                  "promote fairness and positivity.";

static int parse_messages(ApiRequest *q, const Json *root, Arena *a, const ApiConfig *cfg, ApiError *e) {
    if (cfg->chat_format < 0) return api_error(e, 400, "messages", "this model's tokenizer has no chat format");
    int safe = 0;
    if (get_bool(root, "safe_prompt", &safe, e)) return -1;
    ChatRequest cr;
    if (chat_parse_json(&cr, root, a, "request")) return api_error(e, 400, "messages", "%s", err_msg());
    if (safe) { /* a system message first */
        ChatMessage *m = arena_alloc(a, (size_t)(cr.n_msg + 1) * sizeof *m);
        m[0] = (ChatMessage){.role = CHAT_SYSTEM, .content = safe_prompt, .content_set = 1};
        memcpy(m + 1, cr.msg, (size_t)cr.n_msg * sizeof *m);
        cr.msg = m, cr.n_msg++;
    }
    IntVec ids = {0};
    int rc = chat_encode(cfg->tok, cfg->chat_format, &cr, &ids);
    chat_free(&cr);
    if (rc) {
        intvec_free(&ids);
        return api_error(e, 400, "messages", "%s", err_msg());
    }
    q->prompt = ids.v, q->n_prompt = ids.n;
    return 0;
}

int api_parse(ApiRequest *q, int chat, const char *body, size_t len, const ApiConfig *cfg, ApiError *e) {
    return api_parse_flags(q, chat, body, len, cfg, 0, e);
}

int api_parse_flags(ApiRequest *q, int chat, const char *body, size_t len, const ApiConfig *cfg, int flags,
                    ApiError *e) {
    memset(q, 0, sizeof *q);
    memset(e, 0, sizeof *e);
    q->chat = chat;
    q->p = (EngineParams){.n = 1, .top_logprobs = -1, .sp = {.temperature = cfg->temperature, .top_p = 1}};
    Arena a = {0}; /* the document, and the chat request's arrays */
    Json doc;
    const Json *root = &doc;
    int rc = -1;
    if (json_parse(&doc, &a, body, len, CHAT_MAX_DEPTH, NULL)) {
        api_error(e, 400, NULL, "the body is not valid JSON: %s", err_msg());
        goto done;
    }
    if (root->type != JSON_OBJ) {
        api_error(e, 400, NULL, "the body must be a JSON object");
        goto done;
    }
    if (api_only_fields(root, NULL, chat ? chat_fields : completion_fields, e) || check_unsupported(root, e))
        goto done;
    /* Mistral's clients call the seed random_seed */
    const char *seed_key = chat && json_is_null(json_get(root, "seed")) ? "random_seed" : "seed";
    double max_tokens = -1, temp = q->p.sp.temperature, top_p = 1, top_k = 0, min_p = 0, seed = -1, n = 1, lp = -1,
           top_lp = -1;
    int logprobs = 0, ignore_eos = 0;
    /* chat takes OpenAI's newer name too (which wins when both are given); errors name the one used */
    const char *max_name = chat && !json_is_null(json_get(root, "max_completion_tokens")) ? "max_completion_tokens"
                                                                                           : "max_tokens";
    if (get_number(root, "max_tokens", 1, 1e9, 1, &max_tokens, e) ||
        (chat && get_number(root, "max_completion_tokens", 1, 1e9, 1, &max_tokens, e)) ||
        get_number(root, "temperature", 0, 2, 0, &temp, e) || get_number(root, "top_p", 0, 1, 0, &top_p, e) ||
        get_number(root, "top_k", 0, 1e9, 1, &top_k, e) || get_number(root, "min_p", 0, 1, 0, &min_p, e) ||
        get_number(root, seed_key, -9.2e18, 9.2e18, 1, &seed, e) || get_number(root, "n", 1, 128, 1, &n, e) ||
        get_bool(root, "stream", &q->stream, e) || get_bool(root, "ignore_eos", &ignore_eos, e) ||
        parse_penalties(root, &q->p.sp, e))
        goto done;
    if (top_p == 0) top_p = 1e-9; /* the most likely token only */
    if (chat) {
        if (get_bool(root, "logprobs", &logprobs, e) || get_number(root, "top_logprobs", 0, ENGINE_MAX_TOP, 1, &top_lp, e))
            goto done;
        if (top_lp >= 0 && !logprobs) {
            api_error(e, 400, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
            goto done;
        }
        q->logprobs = logprobs;
        q->p.top_logprobs = logprobs ? (top_lp >= 0 ? (int)top_lp : 0) : -1;
    } else {
        if (get_number(root, "logprobs", 0, ENGINE_MAX_TOP, 1, &lp, e)) goto done;
        q->logprobs = lp >= 0;
        q->p.top_logprobs = lp >= 0 ? (int)lp : -1;
    }
    const Json *so = json_get(root, "stream_options");
    if (!json_is_null(so)) {
        if (so->type != JSON_OBJ || get_bool(so, "include_usage", &q->include_usage, e)) {
            if (!e->status) api_error(e, 400, "stream_options", "'stream_options' must be an object");
            goto done;
        }
        static const char *const so_fields[] = {"include_usage", NULL};
        if (api_only_fields(so, "stream_options", so_fields, e)) goto done;
        if (!q->stream) {
            api_error(e, 400, "stream_options", "'stream_options' is only allowed with 'stream': true");
            goto done;
        }
    }
    q->p.sp.temperature = (float)temp, q->p.sp.top_p = (float)top_p, q->p.sp.top_k = (int)top_k;
    q->p.sp.min_p = (float)min_p;
    const Json *sv = json_get(root, seed_key); /* an integer's digits read exactly (a double holds 53 bits) */
    q->p.sp.seed = sv && sv->type == JSON_INT ? (uint64_t)strtoll(sv->s, NULL, 10) : (uint64_t)(int64_t)seed;
    if (json_is_null(sv)) { /* no seed: a different draw each request */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        q->p.sp.seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^ (uint64_t)(size_t)q;
    }
    q->p.n = (int)n;
    q->p.ignore_eos = ignore_eos;
    if (parse_stop(root, &q->p, e)) goto done;
    if (chat ? parse_messages(q, root, &a, cfg, e) : parse_prompt(q, root, cfg, e)) goto done;
    if (api_parse_outputs(root, chat, cfg, &q->p.grammar, e)) goto done;
    q->max_asked = (int)max_tokens;
    if (flags & API_PARSE_COUNT) {
        rc = 0;
        goto done;
    }
    if (q->n_prompt >= cfg->n_ctx) {
        api_error(e, 400, chat ? "messages" : "prompt", "the prompt is %d tokens, the context %ld: it must leave room for at least one new token",
                  q->n_prompt, cfg->n_ctx);
        e->code = "context_length_exceeded";
        goto done;
    }
    long room = cfg->n_ctx - q->n_prompt + 1; /* the last new token is never fed */
    if (max_tokens > room && (flags & API_PARSE_CLAMP)) max_tokens = (double)room;
    if (max_tokens > room) {
        api_error(e, 400, max_name, "the prompt (%d tokens) and %s (%.0f) exceed the context of %ld tokens",
                  q->n_prompt, max_name, max_tokens, cfg->n_ctx);
        e->code = "context_length_exceeded";
        goto done;
    }
    q->p.max_new = max_tokens > 0 ? (int)max_tokens : (int)room;
    rc = 0;
done:
    arena_free(&a);
    if (rc) api_request_free(q);
    return rc;
}

void api_request_free(ApiRequest *q) {
    free(q->prompt);
    for (int i = 0; i < q->p.n_stop; i++) free(q->p.stops[i]);
    if (q->p.grammar) grammar_free(q->p.grammar), free(q->p.grammar);
    cJSON_Delete(q->echo);
    free(q->conv);
    q->prompt = NULL, q->p.n_stop = 0, q->p.grammar = NULL, q->echo = NULL, q->conv = NULL;
}

/* ---- responses --------------------------------------------------------------- */

/* A JSON string of text[0..n) that may hold NUL bytes (a <0x00> token):
 * cJSON's strings stop at the first NUL, so the literal is written here. */
cJSON *api_json_text(const char *text, size_t n) {
    ByteBuf b = {0};
    json_dump_str(&b, text ? text : "", n, 0);
    bytebuf_push(&b, "", 0);
    cJSON *raw = cJSON_CreateRaw(b.p);
    bytebuf_free(&b);
    return raw;
}

void api_response_init(ApiResponse *r, const ApiRequest *q, const ApiConfig *cfg, const char *model, int tool_calls_id) {
    memset(r, 0, sizeof *r);
    r->q = q, r->cfg = cfg, r->model = model, r->tool_calls_id = tool_calls_id;
    r->created = (long)time(NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(size_t)r;
    snprintf(r->id, sizeof r->id, "%s%016llx", q->chat ? "chatcmpl-" : "cmpl-", (unsigned long long)x);
    r->ch = xcalloc((size_t)q->p.n, sizeof *r->ch);
}

void api_response_free(ApiResponse *r) {
    for (int i = 0; r->ch && i < r->q->p.n; i++) {
        bytebuf_free(&r->ch[i].text);
        toolcalls_free(&r->ch[i].calls);
        cJSON_Delete(r->ch[i].logprobs);
        free(r->ch[i].ids);
    }
    free(r->ch);
    r->ch = NULL;
}

int api_response_completion_tokens(const ApiResponse *r) {
    int n = 0;
    for (int i = 0; i < r->q->p.n; i++) n += r->ch[i].n_ids;
    return n;
}

static const char *finish_name(const ApiChoice *c) {
    if (c->has_calls && c->calls.n_calls) return "tool_calls";
    switch (c->finish) {
    case FINISH_LENGTH: return "length";
    case FINISH_ERROR: return "error";
    default: return "stop";
    }
}

/* A token's piece as valid UTF-8 (NUL-terminated; may hold a NUL). */
static void token_text(const Tokenizer *tok, int id, ByteBuf *out) {
    ByteBuf raw = {0};
    tokenizer_piece(tok, id, &raw);
    utf8_replace_invalid(out, raw.p ? raw.p : "", raw.n);
    bytebuf_push(out, "", 0);
    bytebuf_free(&raw);
}

/* A token as text: its piece (valid UTF-8 for JSON) and its bytes. */
static cJSON *token_entry(const Tokenizer *tok, int id, float lp, int with_bytes) {
    ByteBuf raw = {0}, clean = {0};
    tokenizer_piece(tok, id, &raw);
    utf8_replace_invalid(&clean, raw.p ? raw.p : "", raw.n);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "token", api_json_text(clean.p, clean.n));
    cJSON_AddNumberToObject(o, "logprob", lp);
    if (with_bytes) {
        cJSON *b = cJSON_AddArrayToObject(o, "bytes");
        for (size_t i = 0; i < raw.n; i++) cJSON_AddItemToArray(b, cJSON_CreateNumber((unsigned char)raw.p[i]));
    }
    bytebuf_free(&raw), bytebuf_free(&clean);
    return o;
}

/* The event's log-probabilities in the chat shape: one {"token", "logprob",
 * "bytes", "top_logprobs"} entry. */
static cJSON *chat_logprob(const Tokenizer *tok, const EngineEvent *ev) {
    cJSON *o = token_entry(tok, ev->token, ev->logprob, 1), *top = cJSON_AddArrayToObject(o, "top_logprobs");
    for (int i = 0; i < ev->n_top; i++) cJSON_AddItemToArray(top, token_entry(tok, ev->top_id[i], ev->top_lp[i], 1));
    return o;
}

/* Completions' logprobs: {"tokens", "token_logprobs", "top_logprobs", "text_offset"} of events. */
static void completion_logprob(cJSON *lp, const Tokenizer *tok, const EngineEvent *ev, int offset) {
    ByteBuf piece = {0};
    token_text(tok, ev->token, &piece);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(lp, "tokens"), api_json_text(piece.p, piece.n));
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(lp, "token_logprobs"), cJSON_CreateNumber(ev->logprob));
    cJSON *top = cJSON_CreateObject();
    for (int i = 0; i < ev->n_top; i++) { /* keys are C strings: a NUL piece shows as "" */
        piece.n = 0;
        token_text(tok, ev->top_id[i], &piece);
        if (!cJSON_GetObjectItemCaseSensitive(top, piece.p)) cJSON_AddNumberToObject(top, piece.p, ev->top_lp[i]);
    }
    bytebuf_free(&piece);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(lp, "top_logprobs"), top);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(lp, "text_offset"), cJSON_CreateNumber(offset));
}

static cJSON *new_completion_logprobs(void) {
    cJSON *lp = cJSON_CreateObject();
    cJSON_AddArrayToObject(lp, "tokens"), cJSON_AddArrayToObject(lp, "token_logprobs");
    cJSON_AddArrayToObject(lp, "top_logprobs"), cJSON_AddArrayToObject(lp, "text_offset");
    return lp;
}

static cJSON *envelope(const ApiResponse *r, const char *object) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON_AddStringToObject(o, "object", object);
    cJSON_AddNumberToObject(o, "created", (double)r->created);
    cJSON_AddStringToObject(o, "model", r->model);
    return o;
}

static cJSON *usage(const ApiResponse *r) {
    cJSON *u = cJSON_CreateObject();
    int gen = api_response_completion_tokens(r);
    cJSON_AddNumberToObject(u, "prompt_tokens", r->q->n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", gen);
    cJSON_AddNumberToObject(u, "total_tokens", r->q->n_prompt + gen);
    cJSON *d = cJSON_AddObjectToObject(u, "prompt_tokens_details");
    cJSON_AddNumberToObject(d, "cached_tokens", r->cached);
    long drafted = 0, accepted = 0;
    int spec = 0;
    for (int i = 0; i < r->q->p.n; i++) spec |= r->ch[i].spec, drafted += r->ch[i].drafted, accepted += r->ch[i].accepted;
    if (spec) { /* speculation: OpenAI's predicted-output counts (drafted = accepted + rejected) */
        cJSON *g = cJSON_AddObjectToObject(u, "completion_tokens_details");
        cJSON_AddNumberToObject(g, "accepted_prediction_tokens", (double)accepted);
        cJSON_AddNumberToObject(g, "rejected_prediction_tokens", (double)(drafted - accepted));
    }
    return u;
}

static void sse(ByteBuf *out, cJSON *chunk) {
    char *s = cJSON_PrintUnformatted(chunk);
    bytebuf_push(out, "data: ", 6);
    bytebuf_push(out, s, strlen(s));
    bytebuf_push(out, "\n\n", 2);
    free(s);
    cJSON_Delete(chunk);
}

/* A streaming chunk of choice i: the chat delta (role / content / nothing)
 * or the completion text, its log-probabilities and finish reason. */
static cJSON *chunk(const ApiResponse *r, int i, const char *role, const char *text, size_t len, cJSON *logprobs,
                    const char *finish) {
    int chat = r->q->chat;
    cJSON *o = envelope(r, chat ? "chat.completion.chunk" : "text_completion");
    cJSON *chs = cJSON_AddArrayToObject(o, "choices"), *c = cJSON_CreateObject();
    cJSON_AddItemToArray(chs, c);
    cJSON_AddNumberToObject(c, "index", i);
    if (chat) {
        cJSON *d = cJSON_AddObjectToObject(c, "delta");
        if (role) cJSON_AddStringToObject(d, "role", role);
        if (text) cJSON_AddItemToObject(d, "content", api_json_text(text, len));
    } else {
        cJSON_AddItemToObject(c, "text", api_json_text(text, len));
    }
    if (logprobs) cJSON_AddItemToObject(c, "logprobs", logprobs);
    else cJSON_AddNullToObject(c, "logprobs");
    if (finish) cJSON_AddStringToObject(c, "finish_reason", finish);
    else cJSON_AddNullToObject(c, "finish_reason");
    return o;
}

/* OpenAI's tool_calls list (with "index" in a stream's delta). */
static cJSON *calls_json(const ToolCalls *tc, int indexed) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < tc->n_calls; i++) {
        cJSON *c = cJSON_CreateObject(), *f;
        if (indexed) cJSON_AddNumberToObject(c, "index", i);
        cJSON_AddStringToObject(c, "id", tc->calls[i].id);
        cJSON_AddStringToObject(c, "type", "function");
        f = cJSON_AddObjectToObject(c, "function");
        cJSON_AddStringToObject(f, "name", tc->calls[i].name);
        cJSON_AddStringToObject(f, "arguments", tc->calls[i].arguments);
        cJSON_AddItemToArray(arr, c);
    }
    return arr;
}

/* A chat choice's end: when it wrote [TOOL_CALLS], its ids read back as
 * content and calls (tok/toolcalls.h). */
static void read_calls(ApiResponse *r, int i) {
    ApiChoice *c = &r->ch[i];
    int seen = 0;
    for (int k = 0; k < c->n_ids && !seen; k++) seen = c->ids[k] == r->tool_calls_id;
    if (!seen || r->tool_calls_id < 0) return;
    if (toolcalls_parse(r->cfg->tok, r->cfg->chat_format, c->ids, c->n_ids, r->q->p.sp.seed + (uint64_t)i, &c->calls))
        return; /* only a caller's mistake fails: the reply stays as streamed */
    c->has_calls = 1;
}

/* A stream's chunks for the calls read back: the content it has not seen
 * yet (held back at [TOOL_CALLS], or all of a malformed call read back as
 * text), then the calls. */
static void calls_chunks(ApiResponse *r, int i, ByteBuf *out) {
    ApiChoice *c = &r->ch[i];
    if (c->calls.content_len > c->text.n)
        sse(out, chunk(r, i, NULL, c->calls.content + c->text.n, c->calls.content_len - c->text.n, NULL, NULL));
    if (c->calls.n_calls) {
        cJSON *o = chunk(r, i, NULL, NULL, 0, NULL, NULL);
        cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "choices"), 0),
                                                    "delta");
        cJSON_AddItemToObject(d, "tool_calls", calls_json(&c->calls, 1));
        sse(out, o);
    }
}

void api_response_event(ApiResponse *r, const EngineEvent *ev, int sse_out, ByteBuf *out) {
    ApiChoice *c = &r->ch[ev->choice];
    const Tokenizer *tok = r->cfg->tok;
    cJSON *lp = NULL;
    if (r->q->logprobs && ev->token >= 0) {
        if (r->q->chat) {
            lp = cJSON_CreateObject();
            cJSON *arr = cJSON_AddArrayToObject(lp, "content");
            cJSON_AddItemToArray(arr, chat_logprob(tok, ev));
        } else {
            lp = new_completion_logprobs();
            completion_logprob(lp, tok, ev, (int)c->text.n);
        }
    }
    if (!sse_out) {
        bytebuf_push(&c->text, ev->text ? ev->text : "", ev->len);
        if (lp) {
            if (!c->logprobs) c->logprobs = r->q->chat ? cJSON_CreateArray() : new_completion_logprobs();
            if (r->q->chat) {
                cJSON *arr = cJSON_GetObjectItemCaseSensitive(lp, "content");
                cJSON_AddItemToArray(c->logprobs, cJSON_DetachItemFromArray(arr, 0));
            } else {
                const char *keys[] = {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
                for (int k = 0; k < 4; k++)
                    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(c->logprobs, keys[k]),
                                         cJSON_DetachItemFromArray(cJSON_GetObjectItemCaseSensitive(lp, keys[k]), 0));
            }
            cJSON_Delete(lp);
        }
    } else {
        if (r->q->chat && !c->started) sse(out, chunk(r, ev->choice, "assistant", "", 0, NULL, NULL));
        c->started = 1;
        if (ev->len || lp) sse(out, chunk(r, ev->choice, NULL, ev->text ? ev->text : "", ev->len, lp, NULL));
        c->text.n += ev->len; /* completions' text offsets */
    }
    if (ev->finish != FINISH_NONE) {
        api_choice_end(r, ev);
        if (sse_out && c->has_calls) calls_chunks(r, ev->choice, out);
        if (sse_out) sse(out, chunk(r, ev->choice, NULL, r->q->chat ? NULL : "", 0, NULL, finish_name(c)));
    }
}

void api_choice_end(ApiResponse *r, const EngineEvent *ev) {
    ApiChoice *c = &r->ch[ev->choice];
    c->finish = ev->finish;
    c->ids = xmalloc((size_t)(ev->n_ids ? ev->n_ids : 1) * sizeof(int));
    if (ev->n_ids) memcpy(c->ids, ev->ids, (size_t)ev->n_ids * sizeof(int));
    c->n_ids = ev->n_ids;
    c->spec = ev->spec, c->drafted = ev->drafted, c->accepted = ev->accepted;
    if (r->q->chat) read_calls(r, ev->choice);
}

void api_response_finish(ApiResponse *r, int sse_out, ByteBuf *out) {
    if (sse_out) {
        if (r->q->include_usage) {
            cJSON *o = envelope(r, r->q->chat ? "chat.completion.chunk" : "text_completion");
            cJSON_AddArrayToObject(o, "choices");
            cJSON_AddItemToObject(o, "usage", usage(r));
            sse(out, o);
        }
        bytebuf_push(out, "data: [DONE]\n\n", 14);
        return;
    }
    cJSON *o = envelope(r, r->q->chat ? "chat.completion" : "text_completion");
    cJSON *chs = cJSON_AddArrayToObject(o, "choices");
    for (int i = 0; i < r->q->p.n; i++) {
        ApiChoice *c = &r->ch[i];
        cJSON *ch = cJSON_CreateObject();
        cJSON_AddItemToArray(chs, ch);
        cJSON_AddNumberToObject(ch, "index", i);
        bytebuf_push(&c->text, "", 0);
        if (r->q->chat) {
            cJSON *m = cJSON_AddObjectToObject(ch, "message");
            cJSON_AddStringToObject(m, "role", "assistant");
            if (c->has_calls && c->calls.n_calls && !c->calls.content_len) cJSON_AddNullToObject(m, "content");
            else if (c->has_calls) cJSON_AddItemToObject(m, "content", api_json_text(c->calls.content, c->calls.content_len));
            else cJSON_AddItemToObject(m, "content", api_json_text(c->text.p, c->text.n));
        } else {
            cJSON_AddItemToObject(ch, "text", api_json_text(c->text.p, c->text.n));
        }
        if (c->logprobs) {
            if (r->q->chat) {
                cJSON *lp = cJSON_AddObjectToObject(ch, "logprobs");
                cJSON_AddItemToObject(lp, "content", c->logprobs);
            } else {
                cJSON_AddItemToObject(ch, "logprobs", c->logprobs);
            }
            c->logprobs = NULL;
        } else {
            cJSON_AddNullToObject(ch, "logprobs");
        }
        if (c->has_calls && c->calls.n_calls) cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(ch, "message"),
                                                                    "tool_calls", calls_json(&c->calls, 0));
        cJSON_AddStringToObject(ch, "finish_reason", finish_name(c));
    }
    cJSON_AddItemToObject(o, "usage", usage(r));
    char *s = cJSON_PrintUnformatted(o);
    bytebuf_push(out, s, strlen(s));
    free(s);
    cJSON_Delete(o);
}

/* ---- the two APIs -------------------------------------------------------------- */

static int parse_chat(ApiRequest *q, const char *body, size_t len, const ApiConfig *cfg, ApiError *e) {
    return api_parse(q, 1, body, len, cfg, e);
}

static int parse_completion(ApiRequest *q, const char *body, size_t len, const ApiConfig *cfg, ApiError *e) {
    return api_parse(q, 0, body, len, cfg, e);
}

const ApiDialect openai_chat_dialect = {parse_chat, api_response_event, api_response_finish, api_error_json, NULL};
const ApiDialect openai_completions_dialect = {parse_completion, api_response_event, api_response_finish,
                                               api_error_json, NULL};

/* openai — OpenAI's chat and text completion API over the engine: request
 * bodies to engine requests (every field checked; a field we do not
 * support is a 400 that names it, never ignored), and engine events to
 * response bodies and server-sent-event chunks, in the shapes OpenAI's
 * clients read. */
#ifndef SERVER_OPENAI_H
#define SERVER_OPENAI_H

#include <stddef.h>

#include "base/json.h"
#include "base/vec.h"
#include "server/engine.h"
#include "tok/tokenizer.h"
#include "tok/toolcalls.h"

/* An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}. */
typedef struct {
    int status;         /* HTTP status */
    char message[400];
    char param[48];     /* "" for null */
    const char *type;   /* "invalid_request_error", ... */
    const char *code;   /* NULL for null */
} ApiError;

/* Fills e (printf message) and returns -1. */
int api_error(ApiError *e, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The error's JSON body (caller frees). */
char *api_error_json(const ApiError *e);

typedef struct {
    int chat;            /* a chat: /v1/chat/completions, or a dialect's (else /v1/completions) */
    int stream, include_usage;
    int logprobs;        /* chat: logprobs: true; completions: logprobs: k */
    EngineParams p;      /* sampling, choices, stops, top_logprobs */
    int *prompt;         /* owns [n_prompt]: the encoded prompt */
    int n_prompt;
    int max_asked;       /* API_PARSE_CLAMP: the max_tokens asked for (p.max_new may be less) */
    struct cJSON *echo;  /* owns: what a dialect's response repeats of its request; NULL for OpenAI's */
    char *conv;          /* owns: a dialect's conversation so far (responses.h); NULL for OpenAI's */
} ApiRequest;

typedef struct {
    const Tokenizer *tok;
    int chat_format;     /* CHAT_* for chat requests; -1: none known (chat is refused) */
    long n_ctx;
    float temperature;   /* the default when a request gives none */
    struct ResponseStore *responses; /* view: responses.h's stored responses; NULL: none kept */
} ApiConfig;

/* Bytes of one stop text (stop, stop_sequences) past which a request is a
 * 400: the engine checks every stop text after every token. */
#define API_MAX_STOP_BYTES 256

/* Parses a request body. Returns 0, or -1 with e filled (400). */
int api_parse(ApiRequest *q, int chat, const char *body, size_t len, const ApiConfig *cfg, ApiError *e);
/* api_parse with flags: API_PARSE_COUNT encodes the prompt only (no check
 * against the context); API_PARSE_CLAMP takes a max_tokens past the
 * context's room as the room (q->max_asked keeps what was asked). */
enum { API_PARSE_COUNT = 1, API_PARSE_CLAMP = 2 };
int api_parse_flags(ApiRequest *q, int chat, const char *body, size_t len, const ApiConfig *cfg, int flags,
                    ApiError *e);
/* 0 when every key of object o is one of names (NULL-terminated); else -1
 * with e filled: a 400 "unknown field 'where.key'" ('key' when where is
 * NULL) naming it. */
int api_only_fields(const Json *o, const char *where, const char *const *names, ApiError *e);
void api_request_free(ApiRequest *q);

/* One response being built from engine events. */
typedef struct {
    ByteBuf text;        /* non-streaming: the choice's text (streaming: its length sent) */
    void *logprobs;      /* cJSON array of the choice's token log-probabilities */
    Finish finish;
    int *ids, n_ids;     /* owns: the tokens it generated (at its end) */
    int started;         /* streaming: the role chunk went out (a dialect's own flags) */
    ToolCalls calls;     /* chat: what followed [TOOL_CALLS], read at the end */
    int has_calls;
    int spec;            /* the engine speculates: drafted and accepted tokens (at its end) */
    long drafted, accepted;
} ApiChoice;

typedef struct {
    const ApiRequest *q;
    const ApiConfig *cfg;
    const char *model;
    char id[48];
    long created;
    ApiChoice *ch;       /* owns [q->p.n] */
    int cached;          /* prompt tokens reused from a cache */
    int tool_calls_id;
    int seq;             /* a dialect's stream: events sent */
} ApiResponse;

void api_response_init(ApiResponse *r, const ApiRequest *q, const ApiConfig *cfg, const char *model, int tool_calls_id);
void api_response_free(ApiResponse *r);
/* Takes an event (a token, or a choice's end). With sse, appends the
 * stream's chunks for it to out ("data: {...}\n\n"). */
void api_response_event(ApiResponse *r, const EngineEvent *ev, int sse, ByteBuf *out);
/* The end: the whole response (non-streaming), or the stream's last chunks
 * (the usage chunk when asked for, then "data: [DONE]"). */
void api_response_finish(ApiResponse *r, int sse, ByteBuf *out);
/* A JSON string (cJSON raw item) of text[0..n), NUL bytes included. */
struct cJSON *api_json_text(const char *text, size_t n);
/* The choice's finish, when chat tool calls may follow: its calls read
 * back (ApiChoice.calls), without stream chunks. Dialects call this, then
 * render calls their way. */
void api_choice_end(ApiResponse *r, const EngineEvent *ev);
/* Generated tokens over every choice. */
int api_response_completion_tokens(const ApiResponse *r);

/* An API the HTTP side serves: a request body in, responses out. OpenAI's
 * chat and completions are two; anthropic.h, responses.h and fim.h hold the
 * others (dialect.h). */
typedef struct {
    /* Parses a request (into q, api_request_free'd by the caller). 0, or -1 with e. */
    int (*parse)(ApiRequest *q, const char *body, size_t len, const ApiConfig *cfg, ApiError *e);
    /* As api_response_event / api_response_finish. */
    void (*event)(ApiResponse *r, const EngineEvent *ev, int sse, ByteBuf *out);
    void (*finish)(ApiResponse *r, int sse, ByteBuf *out);
    /* An error's body (caller frees). */
    char *(*error_json)(const ApiError *e);
    const char *id_prefix; /* its responses' ids: the prefix of dialect_id; NULL: OpenAI's */
} ApiDialect;

extern const ApiDialect openai_chat_dialect, openai_completions_dialect;

#endif

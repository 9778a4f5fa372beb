/* server — `mistral serve`: an OpenAI-compatible HTTP server (libmicrohttpd,
 * a thread per connection) in front of the engine (engine.h).
 *
 *   POST /v1/chat/completions, /v1/completions   (openai.h; stream: true is SSE)
 *   POST /v1/messages, /v1/messages/count_tokens (anthropic.h), /v1/responses (responses.h),
 *        /v1/fim/completions (fim.h)
 *   GET  /v1/models, /health (503 while loading), /metrics (Prometheus), / (the chat page)
 *   POST /tokenize, /detokenize
 *
 * The HTTP threads parse, check and encode requests and wait on their
 * events; the one engine thread computes. /health and /v1/models (and the
 * page) need no key; everything else does when a key is set (Authorization:
 * Bearer KEY, or x-api-key: KEY). */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include <stddef.h>

#include "dist/pipeline.h"
#include "gen/draft.h"
#include "model/model.h"
#include "tok/tokenizer.h"

typedef struct {
    const char *host;      /* an IPv4 or IPv6 address; "127.0.0.1" */
    int port;
    int parallel;          /* slots */
    long ctx;              /* positions per slot */
    int batch_tokens;      /* tokens per step while sequences decode */
    int max_itl_ms;        /* > 0: prompt tokens per step from measured step times (engine.h) */
    int queue;             /* requests waiting for a slot before 429 */
    const char *api_key;   /* NULL: none */
    const char *chat_format; /* NULL: the tokenizer's */
    const char *name;      /* the model's id in /v1/models */
    float temperature;     /* when a request gives none */
    size_t max_body;       /* bytes of a request body before 413 */
    int max_conn_per_ip;   /* open connections per client address (past it: refused) */
    int http_timeout;      /* seconds a connection may idle while it sends its request, or
                              between requests (a reply being generated is never cut) */
    Drafter *drafter;      /* view: speculative decoding per slot (engine.h); NULL: none
                              (server_set_draft, before server_ready) */
    int draft_always;      /* 1: draft at every step (--draft-policy always) */
    const char *prompt_cache;  /* --prompt-cache DIR: slots' KV states on disk; NULL: none */
    size_t prompt_cache_size;  /* --prompt-cache-size: bytes of files, at most */
} ServerOptions;

typedef struct Server Server;

/* Starts listening (every request but /health answers 503 until
 * server_ready). NULL with err set when the address cannot be bound. */
Server *server_listen(const ServerOptions *o);
/* The port it listens on (the one the system chose for --port 0). */
int server_port(const Server *s);
/* Serves ctx's model with tok: starts the engine on ctx (its sequences are
 * the slots; prepared by the caller: kernel table, threads, KV type, the
 * model packed). plan: NULL, or the MPI ranks the steps go through (this is
 * rank 0). 0, or -1 with err set. */
int server_ready(Server *s, Context *ctx, const Tokenizer *tok, const PipelinePlan *plan);
/* Speculative decoding with d (a drafter over ctx's sequences, which the
 * caller keeps until server_close; NULL: none), from server_ready on. */
void server_set_draft(Server *s, Drafter *d, int always);
/* Stops accepting, ends running streams cleanly (a last chunk and [DONE]),
 * waits for the connections and frees. */
void server_close(Server *s);

#endif

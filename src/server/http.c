/* http — the server's HTTP side on libmicrohttpd (see server.h). */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <strings.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "server/anthropic.h"
#include "server/dialect.h"
#include "server/engine.h"
#include "server/fim.h"
#include "server/openai.h"
#include "server/responses.h"
#include "server/server.h"
#include "tok/chat.h"
#include "tok/toolcalls.h"

extern const char server_page[]; /* page.c: page.html, NUL-terminated */

/* Response statuses counted for /metrics. */
static const int counted[] = {200, 400, 401, 404, 405, 413, 429, 500, 503};
#define N_COUNTED (int)(sizeof counted / sizeof counted[0])

/* ---- latency histograms for /metrics ----------------------------------------------
 * Prometheus histograms, in seconds, measured here from the request's first
 * byte and its events' arrival (queue wait: from submission to the engine
 * giving it slots). Buckets are upper bounds; count[N_BUCKETS] is +Inf. */
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
#define N_BUCKETS (int)(sizeof buckets / sizeof buckets[0])

typedef struct {
    long count[N_BUCKETS + 1]; /* observations per bucket (not cumulative) */
    long n;
    double sum;
} Histogram;

enum { H_TTFT, H_ITL, H_QUEUE, H_DURATION, N_HIST };
static const struct {
    const char *name, *help;
} hist_info[N_HIST] = {
    {"mistral_time_to_first_token_seconds", "From a completion request's first byte to its first token."},
    {"mistral_inter_token_latency_seconds", "Between two tokens of a completion's first choice."},
    {"mistral_queue_wait_seconds", "From a completion's submission to the engine until it has its slots."},
    {"mistral_request_duration_seconds", "From a completion request's first byte to its end."},
};

static void hist_add(Histogram *h, double x) {
    int i = 0;
    while (i < N_BUCKETS && x > buckets[i]) i++;
    h->count[i]++, h->n++, h->sum += x;
}

/* A connection while it sends a request: MHD's timeout only counts idle
 * time, so a client trickling a header line every few seconds (slowloris)
 * would hold its connection forever. The watchdog thread shuts the socket
 * of one whose request (headers and body) is not in within http_timeout. */
typedef struct Watch {
    int fd;
    double deadline;     /* 0: disarmed (its reply is being generated) */
    struct Watch *prev, *next;
} Watch;

struct Server {
    ServerOptions o;
    struct MHD_Daemon *d;
    Engine engine;
    ApiConfig cfg;
    const Tokenizer *tok;
    int tool_calls_id;
    atomic_int ready;   /* the engine runs */
    atomic_int closing;
    atomic_int active;  /* requests between their first byte and their completion */
    pthread_mutex_t mu; /* the counters */
    pthread_mutex_t vocab_mu; /* building the vocabulary, once */
    Vocab vocab;        /* the tokenizer's, for grammars: built by the first request with one */
    int vocab_state;    /* 0 not yet, 1 built, -1 failed (vocab_err says why) */
    char vocab_err[256];
    long by_status[N_COUNTED];
    Histogram hist[N_HIST];
    char name[128];
    Watch watches;      /* the open connections' (a ring through this head); under mu */
    pthread_t watchdog;
    int have_watchdog;
};

/* One request's state, from its first byte to its completion. */
typedef struct {
    ByteBuf body;
    int too_big;          /* the body is over max_body: read, not kept; 413 */
    int refused;          /* no or a wrong key: the body is read, not kept; 401 */
    double t0;
    int status;
    char method[8], path[64];
    int fd;               /* the client's socket, to notice it leaving */
    const ApiDialect *d;  /* the API the request speaks (its errors' shape); NULL: OpenAI's */
    /* a completion */
    ApiRequest q;
    ApiResponse resp;
    EngineReq *req;       /* while the engine has it */
    int have_q, have_resp;
    ByteBuf out;          /* streaming: bytes not yet handed to MHD */
    size_t out_pos;
    int finished;         /* every choice ended: the last chunks are in out */
    int shutdown;         /* the server stopping cut a choice (FINISH_CANCELLED) */
    double t_submit, t_last; /* when the engine took it; its first choice's last token (0: none yet) */
} Conn;

/* *con_cls of a request whose path holds %00 (MHD cuts the decoded path there). */
static char bad_path_mark;

/* ---- replies ------------------------------------------------------------------ */

static enum MHD_Result reply(Server *s, struct MHD_Connection *mc, Conn *c, int status, const char *type, char *body) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    if (status == 429) MHD_add_response_header(r, "Retry-After", "1");
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    c->status = status;
    enum MHD_Result ok = MHD_queue_response(mc, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_json(Server *s, struct MHD_Connection *mc, Conn *c, int status, cJSON *o) {
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return reply(s, mc, c, status, "application/json", body);
}

static enum MHD_Result reply_error(Server *s, struct MHD_Connection *mc, Conn *c, const ApiError *e) {
    return reply(s, mc, c, e->status, "application/json", c->d ? c->d->error_json(e) : api_error_json(e));
}

static enum MHD_Result fail(Server *s, struct MHD_Connection *mc, Conn *c, int status, const char *param,
                            const char *msg) {
    ApiError e = {0};
    api_error(&e, status, param, "%s", msg);
    return reply_error(s, mc, c, &e);
}

/* 1 once the client closed its side (or the socket broke). */
static int client_gone(int fd) {
    if (fd < 0) return 0;
    char b;
    ssize_t k = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* ---- completions ---------------------------------------------------------------- */

/* Waits (in this connection's thread) for the next event of c's request
 * and hands it to the response. 1: an event, 0: the request is over, -1:
 * the client left. */
static void observe(Server *s, int h, double x) {
    pthread_mutex_lock(&s->mu);
    hist_add(&s->hist[h], x);
    pthread_mutex_unlock(&s->mu);
}

/* Waits (in this connection's thread) for the next event of c's request
 * and hands it to the response. 1: an event, 0: the request is over, -1:
 * the client left. A non-streaming reply writes nothing until its end, so
 * the socket is looked at after every event too: a client that left is
 * noticed within a step, and its request cancelled (its slots freed). */
static int pump(Server *s, Conn *c, int sse) {
    for (;;) {
        EngineEvent ev;
        int got = engine_next(&s->engine, c->req, &ev, 50);
        if (got == 1) {
            if (ev.token >= 0 && ev.choice == 0) {
                double t = now_seconds();
                observe(s, c->t_last ? H_ITL : H_TTFT, t - (c->t_last ? c->t_last : c->t0));
                c->t_last = t;
            }
            int cut = ev.finish == FINISH_CANCELLED && atomic_load(&s->closing);
            c->shutdown |= cut;
            /* OpenAI's shapes have no finish_reason for it: stream_shutdown's error chunk says it */
            if (!(cut && sse && c->d->event == api_response_event)) c->d->event(&c->resp, &ev, sse, &c->out);
            engine_event_free(&ev);
            if (!sse && client_gone(c->fd)) return -1;
            return 1;
        }
        if (got < 0) return 0;
        if (client_gone(c->fd)) return -1;
    }
}

/* The server stopped while c's stream ran: OpenAI's clients (openai-node,
 * openai-python) raise an APIError on a data chunk holding "error"; the
 * other dialects end their own streams with their error events. */
static void stream_shutdown(Conn *c) {
    ApiError e = {0};
    api_error(&e, 503, NULL, "the server is shutting down: the reply is incomplete");
    char *j = c->d->error_json(&e);
    bytebuf_push(&c->out, "data: ", 6);
    bytebuf_push(&c->out, j, strlen(j));
    bytebuf_push(&c->out, "\n\n", 2);
    free(j);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    Conn *c = ((void **)cls)[0];
    Server *s = ((void **)cls)[1];
    for (;;) {
        if (c->out_pos < c->out.n) {
            size_t n = c->out.n - c->out_pos < max ? c->out.n - c->out_pos : max;
            memcpy(buf, c->out.p + c->out_pos, n);
            c->out_pos += n;
            return (ssize_t)n;
        }
        c->out.n = c->out_pos = 0;
        if (c->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        int got = pump(s, c, 1);
        if (got < 0) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (got == 0) {
            c->resp.cached = engine_req_cached(&s->engine, c->req);
            if (c->shutdown && c->d->event == api_response_event) stream_shutdown(c);
            else c->d->finish(&c->resp, 1, &c->out);
            c->finished = 1;
        }
    }
}

static void stream_done(void *cls) { free(cls); }

/* The tokenizer's vocabulary as grammars see it (grammar/vocab.h): built
 * once, by the first request that needs it (55-260 ms), then read-only.
 * NULL with err set when the tokenizer cannot have one. */
static const Vocab *server_vocab(Server *s) {
    pthread_mutex_lock(&s->vocab_mu);
    if (s->vocab_state == 0) {
        s->vocab_state = vocab_init(&s->vocab, s->tok) ? -1 : 1;
        if (s->vocab_state < 0) snprintf(s->vocab_err, sizeof s->vocab_err, "%s", err_msg());
    }
    int ok = s->vocab_state > 0;
    pthread_mutex_unlock(&s->vocab_mu);
    if (!ok) err_set("structured outputs are not available with this tokenizer: %s", s->vocab_err);
    return ok ? &s->vocab : NULL;
}

static enum MHD_Result completion(Server *s, struct MHD_Connection *mc, Conn *c) {
    ApiError e;
    if (c->d->parse(&c->q, c->body.p ? c->body.p : "", c->body.n, &s->cfg, &e)) return reply_error(s, mc, c, &e);
    c->have_q = 1;
    if (c->q.p.grammar && !(c->q.p.vocab = server_vocab(s)))
        return fail(s, mc, c, 400, NULL, err_msg());
    EngineParams p = c->q.p; /* the stop texts stay the ApiRequest's: copy them for the engine */
    for (int i = 0; i < p.n_stop; i++) p.stops[i] = xstrdup(c->q.p.stops[i]);
    c->q.p.grammar = NULL; /* the engine's now */
    c->req = engine_req_new(c->q.prompt, c->q.n_prompt, &p);
    c->t_submit = now_seconds();
    int rc = engine_submit(&s->engine, c->req);
    if (rc) {
        engine_release(&s->engine, c->req); /* never queued: freed here */
        c->req = NULL;
        if (rc == -2) return fail(s, mc, c, 429, NULL, "too many requests are waiting: try again shortly");
        if (rc == -3) return fail(s, mc, c, 503, NULL, "the server is shutting down");
        return fail(s, mc, c, 400, NULL, err_msg());
    }
    api_response_init(&c->resp, &c->q, &s->cfg, s->name, s->tool_calls_id);
    if (c->d->id_prefix) dialect_id(c->resp.id, sizeof c->resp.id, c->d->id_prefix, &c->resp);
    c->have_resp = 1;
    /* the reply may take long to generate: http_timeout is for sending requests; this
     * one only closes a connection whose reader stalls (a full socket) that long */
    MHD_set_connection_option(mc, MHD_CONNECTION_OPTION_TIMEOUT, 600u);
    if (c->q.stream) {
        void **cls = xmalloc(2 * sizeof *cls);
        cls[0] = c, cls[1] = s;
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, cls, stream_done);
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        c->status = 200;
        enum MHD_Result ok = MHD_queue_response(mc, 200, r);
        MHD_destroy_response(r);
        return ok;
    }
    int got;
    while ((got = pump(s, c, 0)) == 1) {}
    if (got < 0) {
        c->status = 499; /* the client closed the request */
        return MHD_NO;
    }
    if (c->shutdown) return fail(s, mc, c, 503, NULL, "the server is shutting down: the request was not completed");
    c->resp.cached = engine_req_cached(&s->engine, c->req);
    ByteBuf body = {0};
    c->d->finish(&c->resp, 0, &body);
    return reply(s, mc, c, 200, "application/json", body.p);
}

/* ---- the other endpoints ------------------------------------------------------------ */

static enum MHD_Result models(Server *s, struct MHD_Connection *mc, Conn *c) {
    cJSON *o = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(o, "data"), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON_AddStringToObject(m, "id", s->name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)time(NULL));
    cJSON_AddStringToObject(m, "owned_by", "mistral.c");
    cJSON_AddItemToArray(data, m);
    return reply_json(s, mc, c, 200, o);
}

static enum MHD_Result tokenize(Server *s, struct MHD_Connection *mc, Conn *c) {
    static const char *const fields[] = {"content", "add_special", NULL};
    Arena a = {0};
    Json root;
    ApiError e = {0};
    if (dialect_read(&root, &a, c->body.p ? c->body.p : "", c->body.n, fields, &e)) { /* the one JSON reader */
        arena_free(&a);
        return reply_error(s, mc, c, &e);
    }
    const Json *text = json_get(&root, "content"), *special = json_get(&root, "add_special");
    if (!text || text->type != JSON_STR || (special && special->type != JSON_TRUE && special->type != JSON_FALSE)) {
        arena_free(&a);
        return fail(s, mc, c, 400, "content", "expected {\"content\": string, \"add_special\": bool}");
    }
    IntVec ids = {0}; /* the text's bytes as given, NULs included */
    int rc = tokenizer_encode(s->tok, text->s, text->len, special && special->type == JSON_TRUE, &ids);
    arena_free(&a);
    if (rc) {
        intvec_free(&ids);
        return fail(s, mc, c, 400, "content", err_msg());
    }
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "tokens");
    for (int i = 0; i < ids.n; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids.v[i]));
    intvec_free(&ids);
    return reply_json(s, mc, c, 200, o);
}

static enum MHD_Result detokenize(Server *s, struct MHD_Connection *mc, Conn *c) {
    static const char *const fields[] = {"tokens", NULL};
    Arena a = {0};
    Json root;
    ApiError e = {0};
    if (dialect_read(&root, &a, c->body.p ? c->body.p : "", c->body.n, fields, &e)) { /* the one JSON reader */
        arena_free(&a);
        return reply_error(s, mc, c, &e);
    }
    const Json *arr = json_get(&root, "tokens");
    IntVec ids = {0};
    int bad = !arr || arr->type != JSON_ARR;
    for (int i = 0; !bad && i < arr->n; i++) {
        const Json *t = &arr->item[i];
        long v = t->type == JSON_INT && t->len <= 9 ? strtol(t->s, NULL, 10) : -1;
        if (v < 0 || v >= s->tok->n_vocab) bad = 1;
        else intvec_push(&ids, (int)v);
    }
    arena_free(&a);
    ByteBuf text = {0};
    if (bad || tokenizer_decode_text(s->tok, ids.v, ids.n, &text)) {
        intvec_free(&ids), bytebuf_free(&text);
        return fail(s, mc, c, 400, "tokens", "expected {\"tokens\": [token ids of this model]}");
    }
    intvec_free(&ids);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "content", api_json_text(text.p, text.n));
    bytebuf_free(&text);
    return reply_json(s, mc, c, 200, o);
}

static enum MHD_Result count_tokens(Server *s, struct MHD_Connection *mc, Conn *c) {
    ApiError e;
    int n;
    if (anthropic_count_tokens(c->body.p ? c->body.p : "", c->body.n, &s->cfg, &n, &e)) return reply_error(s, mc, c, &e);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "input_tokens", n);
    return reply_json(s, mc, c, 200, o);
}

static enum MHD_Result metrics(Server *s, struct MHD_Connection *mc, Conn *c) {
    EngineStats st = engine_stats(&s->engine);
    ByteBuf b = {0};
    char line[256];
#define PUT(...) (snprintf(line, sizeof line, __VA_ARGS__), bytebuf_push(&b, line, strlen(line)))
    PUT("# HELP mistral_requests_total HTTP requests answered, by status.\n# TYPE mistral_requests_total counter\n");
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < N_COUNTED; i++) PUT("mistral_requests_total{status=\"%d\"} %ld\n", counted[i], s->by_status[i]);
    pthread_mutex_unlock(&s->mu);
    PUT("# TYPE mistral_prompt_tokens_total counter\nmistral_prompt_tokens_total %ld\n", st.prompt_tokens);
    PUT("# TYPE mistral_generated_tokens_total counter\nmistral_generated_tokens_total %ld\n", st.generated_tokens);
    PUT("# TYPE mistral_cached_prompt_tokens_total counter\nmistral_cached_prompt_tokens_total %ld\n", st.cached_tokens);
    PUT("# TYPE mistral_queue_depth gauge\nmistral_queue_depth %d\n", st.queue_depth);
    PUT("# TYPE mistral_busy_slots gauge\nmistral_busy_slots %d\n", st.busy_slots);
    PUT("# TYPE mistral_slots gauge\nmistral_slots %d\n", st.n_slots);
    PUT("# TYPE mistral_draft_tokens_total counter\nmistral_draft_tokens_total %ld\n", st.drafted);
    PUT("# TYPE mistral_draft_accepted_tokens_total counter\nmistral_draft_accepted_tokens_total %ld\n", st.accepted);
    PUT("# TYPE mistral_draft_steps_total counter\nmistral_draft_steps_total %ld\n", st.spec_steps);
    PUT("# TYPE mistral_forked_prompt_tokens_total counter\nmistral_forked_prompt_tokens_total %ld\n", st.forked_tokens);
    PUT("# TYPE mistral_decode_tokens_per_second gauge\nmistral_decode_tokens_per_second %.3f\n", st.decode_tps);
    PUT("# HELP mistral_prompt_cache_hits_total Prompts whose prefix was restored from a --prompt-cache file.\n"
        "# TYPE mistral_prompt_cache_hits_total counter\nmistral_prompt_cache_hits_total %ld\n", st.pc.hits);
    PUT("# HELP mistral_prompt_cache_misses_total Prompts no file gave more of than a slot held.\n"
        "# TYPE mistral_prompt_cache_misses_total counter\nmistral_prompt_cache_misses_total %ld\n", st.pc.misses);
    PUT("# TYPE mistral_prompt_cache_read_bytes_total counter\nmistral_prompt_cache_read_bytes_total %lld\n",
        st.pc.read_bytes);
    PUT("# TYPE mistral_prompt_cache_written_bytes_total counter\nmistral_prompt_cache_written_bytes_total %lld\n",
        st.pc.written_bytes);
    PUT("# TYPE mistral_prompt_cache_files gauge\nmistral_prompt_cache_files %d\n", st.pc.files);
    PUT("# TYPE mistral_prompt_cache_bytes gauge\nmistral_prompt_cache_bytes %lld\n", st.pc.bytes);
    Histogram h[N_HIST];
    pthread_mutex_lock(&s->mu);
    memcpy(h, s->hist, sizeof h);
    pthread_mutex_unlock(&s->mu);
    for (int k = 0; k < N_HIST; k++) {
        const char *n = hist_info[k].name;
        PUT("# HELP %s %s\n# TYPE %s histogram\n", n, hist_info[k].help, n);
        long cum = 0;
        for (int i = 0; i < N_BUCKETS; i++) {
            cum += h[k].count[i];
            PUT("%s_bucket{le=\"%g\"} %ld\n", n, buckets[i], cum);
        }
        PUT("%s_bucket{le=\"+Inf\"} %ld\n%s_sum %.6f\n%s_count %ld\n", n, h[k].n, n, h[k].sum, n, h[k].n);
    }
#undef PUT
    bytebuf_push(&b, "", 0);
    return reply(s, mc, c, 200, "text/plain; version=0.0.4", b.p);
}

/* ---- routing -------------------------------------------------------------------------- */

/* The key as OpenAI's clients send it (Authorization: Bearer KEY) or
 * Anthropic's (x-api-key: KEY). */
static int authorized(Server *s, struct MHD_Connection *mc) {
    if (!s->o.api_key) return 1;
    const char *h = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization");
    const char *x = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "x-api-key");
    if ((!h || strncmp(h, "Bearer ", 7)) && !x) return 0;
    const char *k = h && !strncmp(h, "Bearer ", 7) ? h + 7 : x, *want = s->o.api_key;
    size_t n = strlen(k), m = strlen(want);
    unsigned diff = (unsigned)(n != m);
    for (size_t i = 0; i < m; i++) diff |= (unsigned char)want[i] ^ (unsigned char)(i < n ? k[i] : 0);
    return diff == 0;
}

static const struct {
    const char *path;
    const ApiDialect *d;
} posts[] = {{"/v1/chat/completions", &openai_chat_dialect}, {"/chat/completions", &openai_chat_dialect},
             {"/v1/completions", &openai_completions_dialect}, {"/completions", &openai_completions_dialect},
             {"/v1/messages", &anthropic_dialect}, {"/v1/responses", &responses_dialect},
             {"/v1/fim/completions", &fim_dialect}, {"/v1/messages/count_tokens", &anthropic_dialect},
             {"/tokenize", NULL}, {"/detokenize", NULL}};
enum { N_POSTS = sizeof posts / sizeof posts[0], COUNT_TOKENS = 7, TOKENIZE = 8 };

/* url's index in posts, or -1. */
static int post_route(const char *url) {
    for (int i = 0; i < N_POSTS; i++)
        if (!strcmp(url, posts[i].path)) return i;
    return -1;
}

typedef struct {
    int content_length; /* Content-Length headers */
    int transfer_encoding, chunked;
} Framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    Framing *f = cls;
    if (!strcasecmp(key, "Content-Length")) f->content_length++;
    if (!strcasecmp(key, "Transfer-Encoding")) f->transfer_encoding++, f->chunked = value && !strcasecmp(value, "chunked");
    return MHD_YES;
}

/* Checks made once the headers are in, before any of the body is read:
 * how the body is framed (a request that two parsers could frame
 * differently is refused: request smuggling) and the path are answered at
 * once (400, and the connection closed, its body unread); a missing key or
 * a Content-Length over max_body mark the request, whose body is then read
 * but never kept (answered 401 or 413 at its end: a reply sent while the
 * client still writes would be lost to the reset of the close). 0: go on;
 * else the status replied. */
static int early_checks(Server *s, struct MHD_Connection *mc, Conn *c, const char *url, int bad_path) {
    Framing f = {0};
    MHD_get_connection_values(mc, MHD_HEADER_KIND, count_framing, &f);
    if (f.content_length > 1 || f.transfer_encoding > 1 || (f.content_length && f.transfer_encoding)) {
        fail(s, mc, c, 400, NULL, "one Content-Length or one Transfer-Encoding header, not several");
        return 400;
    }
    if (f.transfer_encoding && !f.chunked) {
        fail(s, mc, c, 400, NULL, "the only Transfer-Encoding taken is chunked");
        return 400;
    }
    if (bad_path) {
        fail(s, mc, c, 400, NULL, "a NUL character (%00) in the path");
        return 400;
    }
    int which = post_route(url);
    if (which >= 0) c->d = posts[which].d;
    c->refused = (which >= 0 || !strcmp(url, "/metrics")) && !authorized(s, mc);
    const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
    c->too_big = cl && strtoull(cl, NULL, 10) > s->o.max_body; /* MHD checked its digits */
    return 0;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the raw path, before MHD decodes it (and
 * cuts it at a %00). Its result is the request's first *con_cls. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc) {
    (void)cls, (void)mc;
    size_t n = strcspn(uri, "?");
    for (size_t i = 0; i + 2 < n; i++)
        if (uri[i] == '%' && uri[i + 1] == '0' && uri[i + 2] == '0') return &bad_path_mark;
    return NULL;
}

static enum MHD_Result route(Server *s, struct MHD_Connection *mc, Conn *c, const char *url, const char *method) {
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/health")) {
        if (!get) return fail(s, mc, c, 405, NULL, "use GET");
        if (!atomic_load(&s->ready)) return fail(s, mc, c, 503, NULL, "the model is loading");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        return reply_json(s, mc, c, 200, o);
    }
    if (!strcmp(url, "/")) {
        if (!get) return fail(s, mc, c, 405, NULL, "use GET");
        return reply(s, mc, c, 200, "text/html; charset=utf-8", xstrdup(server_page));
    }
    int which = post_route(url);
    if (which >= 0) c->d = posts[which].d;
    if (!atomic_load(&s->ready)) return fail(s, mc, c, 503, NULL, "the model is loading");
    if (!strcmp(url, "/v1/models") || !strcmp(url, "/models")) {
        if (!get) return fail(s, mc, c, 405, NULL, "use GET");
        return models(s, mc, c);
    }
    if (which < 0 && strcmp(url, "/metrics")) return fail(s, mc, c, 404, NULL, "no such endpoint");
    if (!authorized(s, mc))
        return fail(s, mc, c, 401, NULL, "a missing or wrong API key (Authorization: Bearer KEY, or x-api-key: KEY)");
    if (which < 0) return get ? metrics(s, mc, c) : fail(s, mc, c, 405, NULL, "use GET");
    if (!post) return fail(s, mc, c, 405, NULL, "use POST");
    if (c->too_big) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is larger than %zu bytes", s->o.max_body);
        return fail(s, mc, c, 413, NULL, msg);
    }
    if (which == COUNT_TOKENS) return count_tokens(s, mc, c);
    if (which < TOKENIZE) return completion(s, mc, c);
    return which == TOKENIZE ? tokenize(s, mc, c) : detokenize(s, mc, c);
}

static void watch_arm(Server *s, struct MHD_Connection *mc, int arm);

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    Server *s = cls;
    Conn *c = *con_cls;
    if (!c || (void *)c == &bad_path_mark) { /* the headers are in: the body follows */
        int bad_path = c != NULL;
        c = xcalloc(1, sizeof *c);
        atomic_fetch_add(&s->active, 1);
        c->t0 = now_seconds();
        c->fd = -1;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci) c->fd = ci->connect_fd;
        snprintf(c->method, sizeof c->method, "%s", method);
        snprintf(c->path, sizeof c->path, "%s", url);
        *con_cls = c;
        early_checks(s, mc, c, url, bad_path);
        return MHD_YES;
    }
    if (c->status) return MHD_YES; /* replied at the headers: the body is not read */
    if (*upload_size) {
        if (c->body.n + *upload_size > s->o.max_body) c->too_big = 1;
        else if (!c->refused && !c->too_big) bytebuf_push(&c->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    watch_arm(s, mc, 0); /* the request is in: its reply may take long */
    return route(s, mc, c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls, enum MHD_RequestTerminationCode why) {
    Server *s = cls;
    Conn *c = *con_cls;
    if (!c || (void *)c == &bad_path_mark) return;
    int gen = c->have_resp ? api_response_completion_tokens(&c->resp) : 0;
    double t_end = now_seconds();
    if (c->have_resp) {
        double admitted = engine_req_admitted(&s->engine, c->req);
        if (admitted > 0) observe(s, H_QUEUE, admitted - c->t_submit);
        observe(s, H_DURATION, t_end - c->t0);
        /* the connection may wait for its next request: the short timeout again */
        MHD_set_connection_option(mc, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)s->o.http_timeout);
    }
    watch_arm(s, mc, 1); /* the next request on this connection: within http_timeout */
    if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK && c->status == 200) c->status = 499;
    fprintf(stderr, "%s %s %d %d+%d tokens %.0f ms\n", c->method, c->path, c->status, c->have_q ? c->q.n_prompt : 0,
            gen, 1e3 * (t_end - c->t0));
    if (c->req) engine_release(&s->engine, c->req); /* cancels it if the client left early */
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < N_COUNTED; i++)
        if (counted[i] == c->status) s->by_status[i]++;
    pthread_mutex_unlock(&s->mu);
    if (c->have_resp) api_response_free(&c->resp);
    if (c->have_q) api_request_free(&c->q);
    bytebuf_free(&c->body), bytebuf_free(&c->out);
    free(c);
    *con_cls = NULL;
    atomic_fetch_sub(&s->active, 1);
}

/* ---- the watchdog ----------------------------------------------------------------------- */

static Watch *watch_of(struct MHD_Connection *mc) {
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* Arms (a request is to come within http_timeout) or disarms c's watch. */
static void watch_arm(Server *s, struct MHD_Connection *mc, int arm) {
    Watch *w = watch_of(mc);
    if (!w) return;
    pthread_mutex_lock(&s->mu);
    w->deadline = arm ? now_seconds() + s->o.http_timeout : 0;
    pthread_mutex_unlock(&s->mu);
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    Server *s = cls;
    Watch *w = *socket_context;
    pthread_mutex_lock(&s->mu);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        w = xcalloc(1, sizeof *w);
        w->fd = ci ? ci->connect_fd : -1;
        w->deadline = now_seconds() + s->o.http_timeout;
        w->next = s->watches.next, w->prev = &s->watches;
        w->next->prev = w, s->watches.next = w;
        *socket_context = w;
    } else if (w) { /* closed: MHD closes the socket after this returns */
        w->prev->next = w->next, w->next->prev = w->prev;
        free(w);
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&s->mu);
}

static void *watchdog(void *arg) {
    Server *s = arg;
    while (!atomic_load(&s->closing)) {
        nanosleep(&(struct timespec){0, 200000000}, NULL);
        double t = now_seconds();
        pthread_mutex_lock(&s->mu);
        for (Watch *w = s->watches.next; w != &s->watches; w = w->next)
            if (w->deadline > 0 && t > w->deadline && w->fd >= 0) {
                shutdown(w->fd, SHUT_RDWR); /* its thread sees the end, and MHD closes the connection */
                w->deadline = 0;
            }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* ---- life ----------------------------------------------------------------------------- */

Server *server_listen(const ServerOptions *o) {
    Server *s = xcalloc(1, sizeof *s);
    s->o = *o;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->vocab_mu, NULL);
    s->watches.next = s->watches.prev = &s->watches;
    struct sockaddr_in a4 = {0};
    struct sockaddr_in6 a6 = {0};
    const struct sockaddr *addr;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC;
    if (inet_pton(AF_INET, o->host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET, a4.sin_port = htons((uint16_t)o->port);
        addr = (const struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, o->host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6, a6.sin6_port = htons((uint16_t)o->port);
        addr = (const struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        free(s);
        err_set("serve: --host %.60s is not an IPv4 or IPv6 address", o->host);
        return NULL;
    }
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                            (unsigned)o->max_conn_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->http_timeout,
                            MHD_OPTION_END);
    if (!s->d) {
        pthread_mutex_destroy(&s->mu), pthread_mutex_destroy(&s->vocab_mu);
        free(s);
        err_set("serve: cannot listen on %.60s port %d (in use, or not an address of this machine)", o->host, o->port);
        return NULL;
    }
    s->have_watchdog = pthread_create(&s->watchdog, NULL, watchdog, s) == 0;
    return s;
}

int server_port(const Server *s) {
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? (int)i->port : s->o.port;
}

int server_ready(Server *s, Context *ctx, const Tokenizer *tok, const PipelinePlan *plan) {
    s->tok = tok;
    int fmt = s->o.chat_format ? chat_format_from_name(s->o.chat_format) : chat_format_default(tok);
    if (fmt < 0 && s->o.chat_format) return -1;
    s->tool_calls_id = fmt < 0 ? -1 : toolcalls_start_id(tok, fmt); /* -1: the format has no tool calls */
    s->cfg = (ApiConfig){.tok = tok, .chat_format = fmt, .n_ctx = s->o.ctx, .temperature = s->o.temperature,
                         .responses = responses_store_new()};
    snprintf(s->name, sizeof s->name, "%s", s->o.name ? s->o.name : "model");
    EngineOptions eo = {.batch_tokens = s->o.batch_tokens, .queue = s->o.queue, .tool_calls_id = s->tool_calls_id,
                        .plan = plan, .drafter = s->o.drafter, .draft_always = s->o.draft_always,
                        .prompt_cache = s->o.prompt_cache, .prompt_cache_size = s->o.prompt_cache_size};
    eo.max_itl_ms = s->o.max_itl_ms;
    if (engine_start(&s->engine, ctx, tok, &eo)) return -1;
    atomic_store(&s->ready, 1);
    return 0;
}

void server_set_draft(Server *s, Drafter *d, int always) { s->o.drafter = d, s->o.draft_always = always; }

void server_close(Server *s) {
    if (!s) return;
    atomic_store(&s->closing, 1);
    MHD_socket lsock = MHD_quiesce_daemon(s->d); /* no new connections */
    if (atomic_load(&s->ready)) engine_stop(&s->engine); /* running streams get their last chunks */
    /* ... and send them before the connections are shut (at most 10 s) */
    for (int i = 0; i < 1000 && atomic_load(&s->active) > 0; i++) nanosleep(&(struct timespec){0, 10000000}, NULL);
    if (s->have_watchdog) pthread_join(s->watchdog, NULL);
    MHD_stop_daemon(s->d);                          /* waits for the connections */
    if (lsock != MHD_INVALID_SOCKET) close(lsock);
    if (atomic_load(&s->ready)) engine_free(&s->engine);
    responses_store_free(s->cfg.responses);
    vocab_free(&s->vocab);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->vocab_mu);
    free(s);
}

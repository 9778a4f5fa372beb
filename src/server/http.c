/* http — the server's HTTP side on libmicrohttpd (see server.h). */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
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
#include "server/engine.h"
#include "server/openai.h"
#include "server/server.h"
#include "tok/chat.h"
#include "tok/toolcalls.h"

extern const char server_page[]; /* page.c: page.html, NUL-terminated */

/* Response statuses counted for /metrics. */
static const int counted[] = {200, 400, 401, 404, 405, 413, 429, 500, 503};
#define N_COUNTED (int)(sizeof counted / sizeof counted[0])

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
    char name[128];
};

/* One request's state, from its first byte to its completion. */
typedef struct {
    ByteBuf body;
    int too_big;
    double t0;
    int status;
    char method[8], path[64];
    int fd;               /* the client's socket, to notice it leaving */
    /* a completion */
    ApiRequest q;
    ApiResponse resp;
    EngineReq *req;       /* while the engine has it */
    int have_q, have_resp;
    ByteBuf out;          /* streaming: bytes not yet handed to MHD */
    size_t out_pos;
    int finished;         /* every choice ended: the last chunks are in out */
} Conn;

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
    return reply(s, mc, c, e->status, "application/json", api_error_json(e));
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
static int pump(Server *s, Conn *c, int sse) {
    for (;;) {
        EngineEvent ev;
        int got = engine_next(&s->engine, c->req, &ev, 250);
        if (got == 1) {
            api_response_event(&c->resp, &ev, sse, &c->out);
            engine_event_free(&ev);
            return 1;
        }
        if (got < 0) return 0;
        if (client_gone(c->fd)) return -1;
    }
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
            api_response_finish(&c->resp, 1, &c->out);
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

static enum MHD_Result completion(Server *s, struct MHD_Connection *mc, Conn *c, int chat) {
    ApiError e;
    if (api_parse(&c->q, chat, c->body.p ? c->body.p : "", c->body.n, &s->cfg, &e)) return reply_error(s, mc, c, &e);
    c->have_q = 1;
    if (c->q.p.grammar && !(c->q.p.vocab = server_vocab(s)))
        return fail(s, mc, c, 400, NULL, err_msg());
    EngineParams p = c->q.p; /* the stop texts stay the ApiRequest's: copy them for the engine */
    for (int i = 0; i < p.n_stop; i++) p.stops[i] = xstrdup(c->q.p.stops[i]);
    c->q.p.grammar = NULL; /* the engine's now */
    c->req = engine_req_new(c->q.prompt, c->q.n_prompt, &p);
    int rc = engine_submit(&s->engine, c->req);
    if (rc) {
        engine_release(&s->engine, c->req); /* never queued: freed here */
        c->req = NULL;
        if (rc == -2) return fail(s, mc, c, 429, NULL, "too many requests are waiting: try again shortly");
        if (rc == -3) return fail(s, mc, c, 503, NULL, "the server is shutting down");
        return fail(s, mc, c, 400, NULL, err_msg());
    }
    api_response_init(&c->resp, &c->q, &s->cfg, s->name, s->tool_calls_id);
    c->have_resp = 1;
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
    c->resp.cached = engine_req_cached(&s->engine, c->req);
    ByteBuf body = {0};
    api_response_finish(&c->resp, 0, &body);
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
    cJSON *in = cJSON_ParseWithLength(c->body.p ? c->body.p : "", c->body.n);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(in, "content");
    const cJSON *special = cJSON_GetObjectItemCaseSensitive(in, "add_special");
    if (!cJSON_IsString(text) || (special && !cJSON_IsBool(special))) {
        cJSON_Delete(in);
        return fail(s, mc, c, 400, "content", "expected {\"content\": string, \"add_special\": bool}");
    }
    IntVec ids = {0};
    if (tokenizer_encode(s->tok, text->valuestring, strlen(text->valuestring), cJSON_IsTrue(special), &ids)) {
        cJSON_Delete(in);
        intvec_free(&ids);
        return fail(s, mc, c, 400, "content", err_msg());
    }
    cJSON_Delete(in);
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "tokens");
    for (int i = 0; i < ids.n; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids.v[i]));
    intvec_free(&ids);
    return reply_json(s, mc, c, 200, o);
}

static enum MHD_Result detokenize(Server *s, struct MHD_Connection *mc, Conn *c) {
    cJSON *in = cJSON_ParseWithLength(c->body.p ? c->body.p : "", c->body.n);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(in, "tokens"), *t;
    IntVec ids = {0};
    int bad = !cJSON_IsArray(arr);
    cJSON_ArrayForEach(t, arr) {
        if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble >= s->tok->n_vocab ||
            t->valuedouble != (int)t->valuedouble) bad = 1;
        else intvec_push(&ids, (int)t->valuedouble);
    }
    cJSON_Delete(in);
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
    PUT("# TYPE mistral_decode_tokens_per_second gauge\nmistral_decode_tokens_per_second %.3f\n", st.decode_tps);
#undef PUT
    bytebuf_push(&b, "", 0);
    return reply(s, mc, c, 200, "text/plain; version=0.0.4", b.p);
}

/* ---- routing -------------------------------------------------------------------------- */

static int authorized(Server *s, struct MHD_Connection *mc) {
    if (!s->o.api_key) return 1;
    const char *h = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7)) return 0;
    const char *k = h + 7, *want = s->o.api_key;
    size_t n = strlen(k), m = strlen(want);
    unsigned diff = (unsigned)(n != m);
    for (size_t i = 0; i < m; i++) diff |= (unsigned char)want[i] ^ (unsigned char)(i < n ? k[i] : 0);
    return diff == 0;
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
    if (!atomic_load(&s->ready)) return fail(s, mc, c, 503, NULL, "the model is loading");
    if (!strcmp(url, "/v1/models") || !strcmp(url, "/models")) {
        if (!get) return fail(s, mc, c, 405, NULL, "use GET");
        return models(s, mc, c);
    }
    static const char *const posts[] = {"/v1/chat/completions", "/chat/completions", "/v1/completions",
                                        "/completions", "/tokenize", "/detokenize"};
    int which = -1;
    for (int i = 0; i < 6; i++)
        if (!strcmp(url, posts[i])) which = i;
    if (which < 0 && strcmp(url, "/metrics")) return fail(s, mc, c, 404, NULL, "no such endpoint");
    if (!authorized(s, mc)) return fail(s, mc, c, 401, NULL, "a missing or wrong API key (Authorization: Bearer KEY)");
    if (which < 0) return get ? metrics(s, mc, c) : fail(s, mc, c, 405, NULL, "use GET");
    if (!post) return fail(s, mc, c, 405, NULL, "use POST");
    if (c->too_big) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is larger than %zu bytes", s->o.max_body);
        return fail(s, mc, c, 413, NULL, msg);
    }
    if (which < 4) return completion(s, mc, c, which < 2);
    return which == 4 ? tokenize(s, mc, c) : detokenize(s, mc, c);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    Server *s = cls;
    Conn *c = *con_cls;
    if (!c) { /* the headers are in: the body follows */
        c = xcalloc(1, sizeof *c);
        atomic_fetch_add(&s->active, 1);
        c->t0 = now_seconds();
        c->fd = -1;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci) c->fd = ci->connect_fd;
        snprintf(c->method, sizeof c->method, "%s", method);
        snprintf(c->path, sizeof c->path, "%s", url);
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_size) {
        if (c->body.n + *upload_size > s->o.max_body) c->too_big = 1;
        else bytebuf_push(&c->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    return route(s, mc, c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls, enum MHD_RequestTerminationCode why) {
    Server *s = cls;
    Conn *c = *con_cls;
    if (!c) return;
    if (c->req) engine_release(&s->engine, c->req); /* cancels it if the client left early */
    int gen = c->have_resp ? api_response_completion_tokens(&c->resp) : 0;
    if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK && c->status == 200) c->status = 499;
    fprintf(stderr, "%s %s %d %d+%d tokens %.0f ms\n", c->method, c->path, c->status, c->have_q ? c->q.n_prompt : 0,
            gen, 1e3 * (now_seconds() - c->t0));
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

/* ---- life ----------------------------------------------------------------------------- */

Server *server_listen(const ServerOptions *o) {
    Server *s = xcalloc(1, sizeof *s);
    s->o = *o;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->vocab_mu, NULL);
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
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT, 512u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_END);
    if (!s->d) {
        pthread_mutex_destroy(&s->mu), pthread_mutex_destroy(&s->vocab_mu);
        free(s);
        err_set("serve: cannot listen on %.60s port %d (in use, or not an address of this machine)", o->host, o->port);
        return NULL;
    }
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
    s->cfg = (ApiConfig){.tok = tok, .chat_format = fmt, .n_ctx = s->o.ctx, .temperature = s->o.temperature};
    snprintf(s->name, sizeof s->name, "%s", s->o.name ? s->o.name : "model");
    EngineOptions eo = {.batch_tokens = s->o.batch_tokens, .queue = s->o.queue, .tool_calls_id = s->tool_calls_id,
                        .plan = plan, .drafter = s->o.drafter, .draft_always = s->o.draft_always};
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
    MHD_stop_daemon(s->d);                          /* waits for the connections */
    if (lsock != MHD_INVALID_SOCKET) close(lsock);
    if (atomic_load(&s->ready)) engine_free(&s->engine);
    vocab_free(&s->vocab);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->vocab_mu);
    free(s);
}

/* api — the public API (include/mistral.h) over the model, tok and gen
 * layers. Every argument is checked here, so that nothing a caller passes
 * reaches an internal CHECK; internal errors come back as the one-line
 * err_msg() and the status of the kind they were raised with (err_kind(),
 * set where the condition is found: fail()), or else the call site's. */
#include "mistral.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/pool.h"
#include "base/util.h"
#include "gen/generate.h"
#include "gen/stream.h"
#include "grammar/compile.h"
#include "grammar/vocab.h"
#include "model/model.h"
#include "model/prepare.h"
#include "tok/chat.h"
#include "tok/tokfile.h"
#include "tok/tokenizer.h"

struct MistralModel {
    Model model;
    Tokenizer tok;
    int has_tok;
    int chat_format;  /* CHAT_*, or -1 */
    const Kern *kern; /* view */
    int n_threads;    /* the contexts' default */
    /* the tokenizer's vocabulary for constraints: built by the first
     * constrained generation (under vocab_mu: the model is shared) */
    pthread_mutex_t vocab_mu;
    Vocab vocab;      /* owns, once have_vocab */
    int have_vocab;
};

struct MistralContext {
    Context ctx;
    MistralModel *m; /* view */
    long drafted, accepted; /* the last mistral_generate's speculation */
};

/* Sequences and threads a caller may ask for: beyond these an argument is
 * surely a mistake (and would make allocations the caller did not mean). */
#define API_MAX_SEQ 65536
#define API_MAX_THREADS 1024

/* A failure's status: the kind the error was raised with (util.h), or the
 * site's status for a plain err_set. */
static MistralStatus fail(MistralStatus site) {
    switch (err_kind()) {
    case ERR_IO: return MISTRAL_ERR_IO;
    case ERR_NOMEM: return MISTRAL_ERR_MEMORY;
    case ERR_INPUT: return MISTRAL_ERR_INPUT;
    case ERR_CONTEXT_FULL: return MISTRAL_ERR_CONTEXT_FULL;
    case ERR_OTHER: break;
    }
    return site;
}

static MistralStatus bad_arg(const char *fmt, const char *what) {
    err_set(fmt, what);
    return MISTRAL_ERR_ARGUMENT;
}

const char *mistral_error(void) { return err_msg(); }
const char *mistral_version(void) { return MISTRAL_VERSION; }

const char *mistral_status_name(int status) {
    static const char *names[] = {"MISTRAL_OK", "MISTRAL_ERR_ARGUMENT", "MISTRAL_ERR_IO", "MISTRAL_ERR_FORMAT",
                                  "MISTRAL_ERR_MEMORY", "MISTRAL_ERR_CONTEXT_FULL", "MISTRAL_ERR_INPUT",
                                  "MISTRAL_ERR_BUFFER", "MISTRAL_ERR_NO_TOKENIZER"};
    return status >= 0 && status < (int)(sizeof names / sizeof names[0]) ? names[status] : "unknown status";
}

/* ---- models ---------------------------------------------------------------- */

MistralModelParams mistral_model_default_params(void) {
    return (MistralModelParams){.n_threads = 0, .sliding_window = -1, .repack = 1};
}

/* The tokenizer p asks for (none is fine unless p names one). */
static MistralStatus open_tokenizer(MistralModel *m, const char *path, const MistralModelParams *p) {
    m->chat_format = -1;
    if (p->tokenizer && !*p->tokenizer) return MISTRAL_OK;
    char *file = p->tokenizer ? xstrdup(p->tokenizer) : tokenizer_find(path);
    if (!file) return MISTRAL_OK; /* a model without one: ids in and out */
    int rc = tokenizer_load(&m->tok, file);
    free(file);
    if (rc) return fail(MISTRAL_ERR_FORMAT);
    m->has_tok = 1;
    if (m->tok.n_vocab > m->model.cfg.n_vocab) {
        err_set("%s: the tokenizer has %d tokens, the model only %d", m->tok.path, m->tok.n_vocab,
                m->model.cfg.n_vocab);
        return MISTRAL_ERR_FORMAT;
    }
    m->chat_format = chat_format_default(&m->tok); /* -1: no chat format known */
    return MISTRAL_OK;
}

MistralStatus mistral_model_open(MistralModel **out, const char *path, const MistralModelParams *params) {
    if (!out) return bad_arg("%s: out is NULL", "mistral_model_open");
    *out = NULL;
    if (!path) return bad_arg("%s: path is NULL", "mistral_model_open");
    MistralModelParams p = params ? *params : mistral_model_default_params();
    if (p.n_threads < 0 || p.n_threads > API_MAX_THREADS)
        return bad_arg("%s: n_threads must be 0 (one per CPU) to 1024", "mistral_model_open");
    if (p.sliding_window < -1) return bad_arg("%s: sliding_window must be -1, 0 or a window", "mistral_model_open");
    if (p.repack != 0 && p.repack != 1) return bad_arg("%s: repack must be 0 or 1", "mistral_model_open");
    const Kern *kern = p.kernels ? kern_named(p.kernels) : kern_get();
    if (!kern) {
        err_set("kernels \"%.40s\": not built for or not supported by this CPU (generic, avx2, avx512, neon)",
                p.kernels);
        return MISTRAL_ERR_ARGUMENT;
    }
    MistralModel *m = calloc(1, sizeof *m);
    if (!m) return err_nomem("no memory for a model"), MISTRAL_ERR_MEMORY;
    m->kern = kern;
    pthread_mutex_init(&m->vocab_mu, NULL);
    m->n_threads = p.n_threads ? p.n_threads : pool_cpus();
    ModelOptions mo = {.sliding_window = p.sliding_window};
    if (model_load(&m->model, path, &mo)) {
        free(m);
        return fail(MISTRAL_ERR_FORMAT);
    }
    MistralStatus rc = open_tokenizer(m, path, &p);
    if (rc) {
        mistral_model_close(m);
        return rc;
    }
    /* the whole model, packed for the chosen table (or read in place) */
    Pool pool;
    int threaded = m->n_threads > 1 && pool_init(&pool, m->n_threads) == 0;
    ModelShare all = model_share_all(&m->model);
    all.pack = p.repack;
    all.mem_limit = p.mem_limit;
    int prep = model_prepare(&m->model, &all, kern, threaded ? &pool : NULL); /* only a mem_limit can fail */
    if (threaded) pool_free(&pool);
    if (prep) {
        rc = fail(MISTRAL_ERR_ARGUMENT);
        mistral_model_close(m);
        return rc;
    }
    *out = m;
    return MISTRAL_OK;
}

void mistral_model_close(MistralModel *m) {
    if (!m) return;
    vocab_free(&m->vocab);
    pthread_mutex_destroy(&m->vocab_mu);
    if (m->has_tok) tokenizer_free(&m->tok);
    model_free(&m->model);
    free(m);
}

static const char *chat_name(int format) {
    switch (format) {
    case CHAT_V1: return "v1";
    case CHAT_V2: return "v2";
    case CHAT_V3: return "v3";
    case CHAT_V7: return "v7";
    case CHAT_TEKKEN: return "tekken";
    default: return NULL;
    }
}

MistralStatus mistral_model_info(const MistralModel *m, MistralInfo *info) {
    if (!m || !info) return bad_arg("%s: a NULL argument", "mistral_model_info");
    const Config *c = &m->model.cfg;
    *info = (MistralInfo){.dim = c->dim, .n_layers = c->n_layers, .head_dim = c->head_dim,
                          .hidden_dim = c->hidden_dim, .n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads,
                          .n_vocab = c->n_vocab, .n_experts = c->n_experts, .n_active = c->n_active,
                          .rope_theta = c->rope_theta, .norm_eps = c->norm_eps,
                          .bos = m->has_tok ? m->tok.bos : -1, .eos = m->has_tok ? m->tok.eos : -1,
                          .has_tokenizer = m->has_tok, .chat_format = chat_name(m->chat_format),
                          .kernels = m->kern->name,
                          .kv_bytes_per_token = (size_t)2 * c->n_layers * c->n_kv_heads * c->head_dim * sizeof(float)};
    return MISTRAL_OK;
}

int mistral_model_window(const MistralModel *m, int layer) {
    if (!m) return -1;
    const Config *c = &m->model.cfg;
    return layer >= 0 && layer < c->n_layers ? c->window[layer] : -1;
}

/* ---- text ---------------------------------------------------------------------- */

static MistralStatus need_tokenizer(const MistralModel *m, const char *fn) {
    if (!m) return bad_arg("%s: model is NULL", fn);
    if (!m->has_tok) {
        err_set("%s: the model has no tokenizer (give MistralModelParams.tokenizer)", fn);
        return MISTRAL_ERR_NO_TOKENIZER;
    }
    return MISTRAL_OK;
}

/* ids to the caller's buffer: the count always, the ids when they fit. */
static MistralStatus give_ids(const IntVec *v, int *ids, int cap, int *n_out) {
    *n_out = v->n;
    if (v->n > cap) {
        err_set("%d ids do not fit a buffer of %d", v->n, cap);
        return MISTRAL_ERR_BUFFER;
    }
    if (v->n) memcpy(ids, v->v, (size_t)v->n * sizeof(int));
    return MISTRAL_OK;
}

MistralStatus mistral_tokenize(const MistralModel *m, const char *text, long len, int add_bos, int *ids,
                               int cap, int *n_out) {
    MistralStatus rc = need_tokenizer(m, "mistral_tokenize");
    if (rc) return rc;
    if (!text || !n_out || cap < 0 || (cap > 0 && !ids))
        return bad_arg("%s: text, n_out (and ids when cap > 0) must be given", "mistral_tokenize");
    size_t n = len < 0 ? strlen(text) : (size_t)len;
    IntVec v = {0};
    if (tokenizer_encode(&m->tok, text, n, add_bos, &v)) {
        intvec_free(&v);
        return fail(MISTRAL_ERR_INPUT);
    }
    rc = give_ids(&v, ids, cap, n_out);
    intvec_free(&v);
    return rc;
}

MistralStatus mistral_detokenize(const MistralModel *m, const int *ids, int n, char *text, size_t cap,
                                 size_t *n_out) {
    MistralStatus rc = need_tokenizer(m, "mistral_detokenize");
    if (rc) return rc;
    if (n < 0 || (n > 0 && !ids) || !n_out || (cap > 0 && !text))
        return bad_arg("%s: ids, n_out (and text when cap > 0) must be given", "mistral_detokenize");
    ByteBuf b = {0};
    if (tokenizer_decode_text(&m->tok, ids, n, &b)) { /* an id outside the vocabulary */
        bytebuf_free(&b);
        return fail(MISTRAL_ERR_INPUT);
    }
    *n_out = b.n;
    if (b.n + 1 > cap) {
        bytebuf_free(&b);
        err_set("%zu bytes of text do not fit a buffer of %zu", *n_out + 1, cap);
        return MISTRAL_ERR_BUFFER;
    }
    if (b.n) memcpy(text, b.p, b.n);
    text[b.n] = 0;
    bytebuf_free(&b);
    return MISTRAL_OK;
}

MistralStatus mistral_chat_encode(const MistralModel *m, const char *request_json, const char *format,
                                  int *ids, int cap, int *n_out) {
    MistralStatus rc = need_tokenizer(m, "mistral_chat_encode");
    if (rc) return rc;
    if (!request_json || !n_out || cap < 0 || (cap > 0 && !ids))
        return bad_arg("%s: request_json, n_out (and ids when cap > 0) must be given", "mistral_chat_encode");
    int fmt = format ? chat_format_from_name(format) : m->chat_format;
    if (fmt < 0) {
        if (!format) err_set("%s: no chat format is known for this tokenizer", m->tok.path);
        return MISTRAL_ERR_ARGUMENT;
    }
    ChatRequest r;
    if (chat_parse(&r, request_json, strlen(request_json), "chat request")) return MISTRAL_ERR_INPUT;
    IntVec v = {0};
    if (chat_encode(&m->tok, fmt, &r, &v)) rc = MISTRAL_ERR_INPUT;
    else rc = give_ids(&v, ids, cap, n_out);
    intvec_free(&v);
    chat_free(&r);
    return rc;
}

/* ---- contexts ---------------------------------------------------------------------- */

MistralContextParams mistral_context_default_params(void) {
    return (MistralContextParams){.n_seq = 1, .n_ctx = 4096, .n_threads = 0, .kv_type = MISTRAL_KV_F32};
}

MistralStatus mistral_context_new(MistralContext **out, MistralModel *m, const MistralContextParams *params) {
    if (!out) return bad_arg("%s: out is NULL", "mistral_context_new");
    *out = NULL;
    if (!m) return bad_arg("%s: model is NULL", "mistral_context_new");
    MistralContextParams p = params ? *params : mistral_context_default_params();
    if (p.n_seq < 1 || p.n_seq > API_MAX_SEQ) return bad_arg("%s: n_seq must be 1 to 65536", "mistral_context_new");
    if (p.n_ctx < 1) return bad_arg("%s: n_ctx must be at least 1", "mistral_context_new");
    if (p.n_threads < 0 || p.n_threads > API_MAX_THREADS)
        return bad_arg("%s: n_threads must be 0 (the model's) to 1024", "mistral_context_new");
    if (p.kv_type != MISTRAL_KV_F32 && p.kv_type != MISTRAL_KV_F16)
        return bad_arg("%s: kv_type must be MISTRAL_KV_F32 or MISTRAL_KV_F16", "mistral_context_new");
    if (p.fast_bf16 != 0 && p.fast_bf16 != 1) return bad_arg("%s: fast_bf16 must be 0 or 1", "mistral_context_new");
    MistralContext *c = calloc(1, sizeof *c);
    if (!c) return err_nomem("no memory for a context"), MISTRAL_ERR_MEMORY;
    c->m = m;
    if (context_init(&c->ctx, &m->model, p.n_seq, p.n_ctx)) {
        free(c);
        return fail(MISTRAL_ERR_ARGUMENT);
    }
    context_set_kern(&c->ctx, m->kern);
    context_set_fast(&c->ctx, p.fast_bf16);
    if ((p.kv_type == MISTRAL_KV_F16 && context_set_kv_type(&c->ctx, DT_F16)) ||
        context_set_threads(&c->ctx, p.n_threads ? p.n_threads : m->n_threads)) {
        mistral_context_free(c);
        return fail(MISTRAL_ERR_ARGUMENT);
    }
    *out = c;
    return MISTRAL_OK;
}

void mistral_context_free(MistralContext *c) {
    if (!c) return;
    context_free(&c->ctx);
    free(c);
}

static KVCache *seq_cache(const MistralContext *c, int seq) {
    return c && seq >= 0 && seq < c->ctx.n_seq ? &c->ctx.seqs[seq] : NULL;
}

long mistral_seq_pos(const MistralContext *c, int seq) {
    const KVCache *kv = seq_cache(c, seq);
    return kv ? kv->n_pos : -1;
}

MistralStatus mistral_seq_reset(MistralContext *c, int seq) {
    KVCache *kv = seq_cache(c, seq);
    if (!kv) return bad_arg("%s: no such sequence", "mistral_seq_reset");
    kvcache_reset(kv);
    return MISTRAL_OK;
}

MistralStatus mistral_seq_truncate(MistralContext *c, int seq, long n_pos) {
    KVCache *kv = seq_cache(c, seq);
    if (!kv) return bad_arg("%s: no such sequence", "mistral_seq_truncate");
    return kvcache_rewind(kv, n_pos) ? MISTRAL_ERR_ARGUMENT : MISTRAL_OK;
}

MistralStatus mistral_decode(MistralContext *c, int n, const int *tokens, const int *seq, const long *pos,
                             const unsigned char *want, float *logits) {
    if (!c || n < 1 || !tokens || !seq || !logits)
        return bad_arg("%s: ctx, n >= 1, tokens, seq and logits must be given", "mistral_decode");
    long *own = NULL;
    if (!pos) { /* each sequence continues where it stopped */
        if (!(own = malloc((size_t)n * sizeof *own))) return err_nomem("no memory for %d positions", n), MISTRAL_ERR_MEMORY;
        for (int i = 0; i < n; i++) {
            const KVCache *kv = seq_cache(c, seq[i]);
            own[i] = i > 0 && seq[i - 1] == seq[i] ? own[i - 1] + 1 : kv ? kv->n_pos : 0;
        }
        pos = own;
    }
    Batch b = {.n = n, .token = tokens, .seq = seq, .pos = pos, .want = want};
    MistralStatus rc = forward(&c->ctx, &b, logits) ? fail(MISTRAL_ERR_ARGUMENT) : MISTRAL_OK;
    free(own);
    return rc;
}

/* ---- generation ------------------------------------------------------------------- */

MistralGenParams mistral_gen_default_params(void) {
    return (MistralGenParams){.max_tokens = 128, .temperature = 0, .top_p = 1, .stop_at_eos = 1};
}

/* The public kinds are the internal ones, in the same order. */
_Static_assert((int)MISTRAL_CONSTRAINT_JSON_SCHEMA == (int)CONSTRAINT_JSON_SCHEMA &&
               (int)MISTRAL_CONSTRAINT_JSON_OBJECT == (int)CONSTRAINT_JSON_OBJECT &&
               (int)MISTRAL_CONSTRAINT_JSON == (int)CONSTRAINT_JSON_VALUE &&
               (int)MISTRAL_CONSTRAINT_GBNF == (int)CONSTRAINT_GBNF &&
               (int)MISTRAL_CONSTRAINT_REGEX == (int)CONSTRAINT_REGEX, "constraint kinds");

/* Compiles p's constraint (one that is not NONE) into g (the caller frees it,
 * also on failure). */
static MistralStatus compile_constraint(const MistralModel *m, const MistralGenParams *p, Grammar *g) {
    grammar_init(g);
    if (p->constraint < MISTRAL_CONSTRAINT_NONE || p->constraint > MISTRAL_CONSTRAINT_REGEX)
        return bad_arg("%s: unknown constraint kind", "mistral_generate");
    int needs_text = p->constraint == MISTRAL_CONSTRAINT_JSON_SCHEMA || p->constraint == MISTRAL_CONSTRAINT_GBNF ||
                     p->constraint == MISTRAL_CONSTRAINT_REGEX;
    if (needs_text && !p->constraint_text)
        return bad_arg("%s: constraint_text must be given for this constraint", "mistral_generate");
    MistralStatus rc = need_tokenizer(m, "mistral_generate: a constraint");
    if (rc) return rc;
    ConstraintSpec spec = {.kind = (ConstraintKind)p->constraint, .text = needs_text ? p->constraint_text : NULL,
                           .len = needs_text ? strlen(p->constraint_text) : 0, .strict = p->constraint_strict != 0};
    grammar_free(g);
    return grammar_compile(g, &spec, &m->tok) ? MISTRAL_ERR_INPUT : MISTRAL_OK;
}

MistralStatus mistral_constraint_check(const MistralModel *m, const MistralGenParams *p) {
    if (!m || !p) return bad_arg("%s: model and params must be given", "mistral_constraint_check");
    if (p->constraint == MISTRAL_CONSTRAINT_NONE) return MISTRAL_OK;
    Grammar g;
    MistralStatus rc = compile_constraint(m, p, &g);
    grammar_free(&g);
    return rc;
}

/* The model's vocabulary view, built once (the model is shared: a mutex). */
static const Vocab *model_vocab(MistralModel *m) {
    pthread_mutex_lock(&m->vocab_mu);
    if (!m->have_vocab) m->have_vocab = vocab_init(&m->vocab, &m->tok) == 0;
    pthread_mutex_unlock(&m->vocab_mu);
    return m->have_vocab ? &m->vocab : NULL;
}

typedef struct {
    MistralContext *c;
    const MistralGenParams *p;
    MistralTokenFn fn;
    void *ud;
    Stream *streams; /* owns [n] when the model has a tokenizer */
    int *n_new;      /* owns [n] */
    int eos;
    int failed;      /* a decode error: err set */
} GenCall;

/* The caller's callback with the token's certain text; a prompt's last
 * token (max_tokens, or EOS) also releases what was held back. */
static int on_token(void *ud, int seq, int token) {
    GenCall *g = ud;
    int at_eos = token == g->eos, last = at_eos || ++g->n_new[seq] >= g->p->max_tokens, stop = 0;
    ByteBuf d = {0};
    if (g->streams) {
        Stream *s = &g->streams[seq];
        if (!at_eos) stop = stream_push(s, token, &d);
        if (stop < 0 || ((last || stop) && stream_finish(s, &d))) g->failed = 1, stop = 1;
    }
    if (!g->failed && g->fn && g->fn(g->ud, seq, token, g->streams ? (d.p ? d.p : "") : NULL, d.n)) stop = 1;
    bytebuf_free(&d);
    return stop || at_eos;
}

/* Prompt i, checked before anything runs (a batch fails whole, not after
 * some prompts have started): its ids (ERR_INPUT) and room in its sequence
 * for it and max_tokens new tokens (ERR_CONTEXT_FULL). */
static int check_prompt(const MistralContext *c, int i, const int *prompt, int n, const MistralGenParams *p) {
    int V = c->ctx.model->cfg.n_vocab;
    if (!prompt || n < 1) return err_input("prompt %d is empty", i);
    const KVCache *kv = &c->ctx.seqs[i];
    long start = p->append ? kv->n_pos : 0;
    if ((long)n + p->max_tokens - 1 > kv->max_pos - start) /* the last new token is not fed */
        return err_context_full("prompt %d: %d tokens + %d new after %ld held do not fit the context of %ld positions",
                                i, n, p->max_tokens, start, kv->max_pos);
    for (int j = 0; j < n; j++)
        if (prompt[j] < 0 || prompt[j] >= V)
            return err_input("prompt %d: token id %d is outside the vocabulary (0..%d)", i, prompt[j], V - 1);
    return 0;
}

static MistralStatus check_gen(const MistralContext *c, int n_prompts, const int *const *prompts,
                               const int *n_prompt, const MistralGenParams *p) {
    if (!c || !prompts || !n_prompt || !p)
        return bad_arg("%s: ctx, prompts, n_prompt and params must be given", "mistral_generate");
    if (n_prompts < 1 || n_prompts > c->ctx.n_seq) {
        err_set("%d prompts for a context of %d sequences", n_prompts, c->ctx.n_seq);
        return MISTRAL_ERR_ARGUMENT;
    }
    if (p->max_tokens < 0 || p->chunk_size < 0 || p->n_stop < 0 || (p->n_stop > 0 && !p->stop))
        return bad_arg("%s: max_tokens, chunk_size and n_stop must be >= 0 (stop given with n_stop)",
                       "mistral_generate");
    for (int i = 0; i < p->n_stop; i++)
        if (!p->stop[i] || !*p->stop[i]) return bad_arg("%s: a stop text is NULL or empty", "mistral_generate");
    if (p->n_stop && !c->m->has_tok) return need_tokenizer(c->m, "mistral_generate: stop texts");
    for (int i = 0; i < n_prompts; i++)
        if (check_prompt(c, i, prompts[i], n_prompt[i], p)) return fail(MISTRAL_ERR_INPUT);
    return MISTRAL_OK;
}

/* The drafter p asks for (none: d->n_seq stays 0), with room for its
 * drafts in c's caches. */
static MistralStatus open_drafter(MistralContext *c, int n_prompts, const MistralGenParams *p, Drafter *d) {
    memset(d, 0, sizeof *d);
    if (p->draft && p->lookup) return bad_arg("%s: give draft or lookup, not both", "mistral_generate");
    if (p->lookup < 0 || p->lookup > 64)
        return err_set("mistral_generate: lookup %d is not in [0, 64]", p->lookup), MISTRAL_ERR_ARGUMENT;
    if (p->draft_max < 0 || p->draft_max > SCHED_DRAFT_MAX)
        return err_set("mistral_generate: draft_max %d is not in [0, %d]", p->draft_max, SCHED_DRAFT_MAX),
               MISTRAL_ERR_ARGUMENT;
    if (!p->draft && !p->lookup) return MISTRAL_OK;
    int k = p->draft_max ? p->draft_max : p->draft ? DRAFT_DEFAULT_MAX_MODEL : DRAFT_DEFAULT_MAX_LOOKUP;
    if (p->draft) {
        MistralContext *dc = p->draft;
        if (dc == c) return bad_arg("%s: a context cannot draft for itself", "mistral_generate");
        if (dc->ctx.n_seq < n_prompts)
            return err_set("mistral_generate: the draft context has %d sequences for %d prompts", dc->ctx.n_seq,
                           n_prompts),
                   MISTRAL_ERR_ARGUMENT;
        if (draft_check_vocab(&c->m->model, c->m->has_tok ? &c->m->tok : NULL, &dc->m->model,
                              c->m->has_tok && dc->m->has_tok ? &dc->m->tok : NULL))
            return fail(MISTRAL_ERR_ARGUMENT);
    }
    if (c->ctx.draft_room < k) {
        for (int s = 0; p->append && s < c->ctx.n_seq; s++)
            if (c->ctx.seqs[s].n_pos > 0)
                return bad_arg("%s: making room for drafts empties the context's sequences: not with append",
                               "mistral_generate");
        if (context_set_draft_room(&c->ctx, k)) return fail(MISTRAL_ERR_MEMORY);
    }
    int bad = p->draft ? drafter_init_model(d, &p->draft->ctx, k) : drafter_init_lookup(d, p->lookup, n_prompts, k);
    return bad ? fail(MISTRAL_ERR_ARGUMENT) : MISTRAL_OK;
}

MistralStatus mistral_spec_stats(const MistralContext *c, long *drafted, long *accepted) {
    if (!c || !drafted || !accepted) return bad_arg("%s: ctx, drafted and accepted must be given", "mistral_spec_stats");
    *drafted = c->drafted, *accepted = c->accepted;
    return MISTRAL_OK;
}

MistralStatus mistral_generate(MistralContext *c, int n_prompts, const int *const *prompts, const int *n_prompt,
                               const MistralGenParams *p, MistralTokenFn fn, void *ud) {
    MistralStatus rc = check_gen(c, n_prompts, prompts, n_prompt, p);
    if (rc) return rc;
    c->drafted = c->accepted = 0;
    MistralModel *m = c->m;
    Grammar gr;
    int guided = p->constraint != MISTRAL_CONSTRAINT_NONE;
    const Vocab *vocab = NULL;
    if (guided && (rc = compile_constraint(m, p, &gr))) {
        grammar_free(&gr);
        return rc;
    }
    if (guided && !(vocab = model_vocab(m))) {
        grammar_free(&gr);
        return fail(MISTRAL_ERR_FORMAT);
    }
    Drafter drafter;
    if ((rc = open_drafter(c, n_prompts, p, &drafter))) {
        if (guided) grammar_free(&gr);
        return rc;
    }
    GenRequest *reqs = calloc((size_t)n_prompts, sizeof *reqs);
    GenCall g = {.c = c, .p = p, .fn = fn, .ud = ud,
                 .eos = (p->stop_at_eos || guided) && m->has_tok ? m->tok.eos : -1,
                 .n_new = calloc((size_t)n_prompts, sizeof(int))};
    if (m->has_tok) g.streams = calloc((size_t)n_prompts, sizeof *g.streams);
    if (!reqs || !g.n_new || (m->has_tok && !g.streams)) {
        rc = MISTRAL_ERR_MEMORY;
        err_nomem("no memory for %d prompts", n_prompts);
        goto done;
    }
    for (int i = 0; i < n_prompts; i++) {
        reqs[i] = (GenRequest){.prompt = prompts[i], .n_prompt = n_prompt[i], .max_new = p->max_tokens,
                               .append = p->append, .grammar = guided ? &gr : NULL};
        if (g.streams) stream_init(&g.streams[i], &m->tok, p->stop, p->n_stop);
    }
    GenOptions go = {.chunk_size = p->chunk_size,
                     .sampler = {.temperature = p->temperature, .top_p = p->top_p, .top_k = p->top_k,
                                 .min_p = p->min_p, .seed = p->seed},
                     .eos = -1 /* on_token ends a prompt at EOS */, .vocab = vocab,
                     .drafter = drafter.n_seq ? &drafter : NULL};
    /* the draft context computes on this context's pool for the call: the
     * two take turns, and two pools' workers would spin against each other */
    Context *dctx = go.drafter && p->draft ? &p->draft->ctx : NULL;
    Pool *dpool = dctx ? dctx->mm.pool : NULL;
    if (dctx) dctx->mm.pool = c->ctx.mm.pool;
    if (generate(&c->ctx, reqs, n_prompts, &go, on_token, &g)) rc = fail(MISTRAL_ERR_ARGUMENT);
    else if (g.failed) rc = MISTRAL_ERR_INPUT;
    if (dctx) dctx->mm.pool = dpool; /* its own again (pool_view: whether it frees it, unchanged) */
    c->drafted = drafter.total.drafted, c->accepted = drafter.total.accepted;
done:
    drafter_free(&drafter);
    if (g.streams)
        for (int i = 0; i < n_prompts; i++) stream_free(&g.streams[i]);
    free(g.streams), free(g.n_new), free(reqs);
    if (guided) grammar_free(&gr);
    return rc;
}

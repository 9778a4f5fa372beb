#include "app/cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/pool.h"
#include "base/util.h"
#include "dist/dist.h"
#include "gen/sched.h"
#include "tok/tokfile.h"

#define MAX_PROMPT_TOKENS (1 << 24)

static int die_rank = -1, die_size;

void cli_set_rank(int rank, int size) { die_rank = rank, die_size = size; }

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    /* one write, so that the lines of several ranks do not interleave */
    char line[2048];
    int k = snprintf(line, sizeof line, "mistral: ");
    if (die_rank >= 0) k += snprintf(line + k, sizeof line - k, "rank %d of %d: ", die_rank, die_size);
    vsnprintf(line + k, sizeof line - k, fmt, ap);
    fprintf(stderr, "%s\n", line);
    va_end(ap);
    exit(1);
}

void usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mistral %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see: mistral %s --help)\n", cmd);
    va_end(ap);
    exit(2);
}

/* ---- options ----------------------------------------------------------------- */

enum { O_MODEL, O_TOKENIZER, O_TOKENS, O_TOKENS_FILE, O_PROMPT, O_PROMPT_FILE, O_IDS_LIST,
       O_CHAT, O_CHAT_FORMAT, O_SYSTEM, O_STOP, O_ALL, O_IDS, O_BOS, O_IGNORE_EOS, O_CHUNK,
       O_WINDOW, O_THREADS, O_CTX, O_N, O_TEMP, O_TOP_P, O_TOP_K, O_MIN_P, O_SEED, O_TYPE, O_JSON,
       O_SHAPE, O_REPS, O_PIPELINE, O_EXPERT_PARALLEL, O_LAYER_SPLIT, O_DIST_STATS, O_VERBOSE, O_KV_TYPE, O_FAST_BF16, O_DEPTH, O_SHARPEN,
       O_MEM_LIMIT, O_HOST, O_PORT, O_PARALLEL, O_BATCH_TOKENS, O_QUEUE, O_MAX_CONN_PER_IP, O_HTTP_TIMEOUT, O_API_KEY, O_API_KEY_FILE, O_ALIAS,
       O_PROMPT_CACHE, O_PROMPT_CACHE_SIZE,
       O_JSON_SCHEMA, O_GRAMMAR, O_REGEX, O_JSON_OBJECT, O_JSON_STRICT, O_DRAFT, O_LOOKUP, O_DRAFT_MAX, O_OUTPUT,
       O_PRESENCE, O_FREQUENCY, O_REPEAT_PENALTY, O_REPEAT_LAST_N,
       O_OUT_FORMAT, O_CHUNKS, O_SKIP_CHUNKS, O_PROCESS_OUTPUT, O_IMATRIX, O_KL_BASE,
       O_DRAFT_POLICY,
       O_MAX_ITL };

/* Which subcommands take which flag. */
static const struct {
    const char *flag, *alias;
    int value, id;
    const char *cmds;
} specs[] = {
    {"-m", "--model", 1, O_MODEL, " logits generate chat tokenize detokenize info perplexity bench serve imatrix "},
    {"--tokenizer", NULL, 1, O_TOKENIZER, " generate chat tokenize detokenize info perplexity synth serve imatrix "},
    {"--tokens", NULL, 1, O_TOKENS, " logits generate "},
    {"--tokens-file", NULL, 1, O_TOKENS_FILE, " generate "},
    {"-p", "--prompt", 1, O_PROMPT, " generate tokenize perplexity bench "},
    {"-f", "--file", 1, O_PROMPT_FILE, " generate tokenize perplexity bench imatrix "},
    {"--ids", NULL, 1, O_IDS_LIST, " detokenize "},
    {"--ids", NULL, 0, O_IDS, " generate "},
    {"--chat", NULL, 1, O_CHAT, " tokenize "},
    {"--chat-format", NULL, 1, O_CHAT_FORMAT, " tokenize chat serve "},
    {"--system", NULL, 1, O_SYSTEM, " chat "},
    {"--stop", NULL, 1, O_STOP, " generate "},
    {"--all", NULL, 0, O_ALL, " logits "},
    {"--bos", NULL, 0, O_BOS, " tokenize "},
    {"--ignore-eos", NULL, 0, O_IGNORE_EOS, " generate "},
    {"--chunk-size", NULL, 1, O_CHUNK, " logits generate chat perplexity bench imatrix "},
    {"--sliding-window", NULL, 1, O_WINDOW, " logits generate chat perplexity bench serve "},
    {"-t", "--threads", 1, O_THREADS, " logits generate chat quantize perplexity bench serve imatrix "},
    {"--ctx", NULL, 1, O_CTX, " chat perplexity serve imatrix "},
    {"-n", "--max-tokens", 1, O_N, " generate chat bench "},
    {"--temperature", "--temp", 1, O_TEMP, " generate chat serve "},
    {"--top-p", NULL, 1, O_TOP_P, " generate chat "},
    {"--top-k", NULL, 1, O_TOP_K, " generate chat "},
    {"--min-p", NULL, 1, O_MIN_P, " generate chat "},
    {"--presence-penalty", NULL, 1, O_PRESENCE, " generate chat "},
    {"--frequency-penalty", NULL, 1, O_FREQUENCY, " generate chat "},
    {"--repeat-penalty", NULL, 1, O_REPEAT_PENALTY, " generate chat "},
    {"--repeat-last-n", NULL, 1, O_REPEAT_LAST_N, " generate chat "},
    {"--seed", NULL, 1, O_SEED, " generate chat synth "},
    {"--type", NULL, 1, O_TYPE, " quantize synth "},
    {"--json", NULL, 0, O_JSON, " info bench "},
    {"--json", NULL, 0, O_JSON_OBJECT, " generate chat "},
    {"--json-schema", NULL, 1, O_JSON_SCHEMA, " generate chat "},
    {"--json-strict", NULL, 0, O_JSON_STRICT, " generate chat "},
    {"--grammar", NULL, 1, O_GRAMMAR, " generate chat "},
    {"--regex", NULL, 1, O_REGEX, " generate chat "},
    {"--shape", NULL, 1, O_SHAPE, " synth "},
    {"--sharpen", NULL, 1, O_SHARPEN, " synth "},
    {"-r", "--repetitions", 1, O_REPS, " bench "},
    {"--kv-type", NULL, 1, O_KV_TYPE, " logits generate chat perplexity bench serve imatrix "},
    {"--fast-bf16", NULL, 0, O_FAST_BF16, " logits generate chat perplexity bench serve "},
    {"-d", "--depth", 1, O_DEPTH, " bench "},
    {"--mem-limit", NULL, 1, O_MEM_LIMIT, " logits generate chat perplexity bench serve "},
    {"--pipeline", NULL, 0, O_PIPELINE, " generate serve "},
    {"--expert-parallel", NULL, 0, O_EXPERT_PARALLEL, " generate serve "},
    {"--layer-split", NULL, 1, O_LAYER_SPLIT, " generate serve "},
    {"--dist-stats", NULL, 0, O_DIST_STATS, " generate "},
    {"-v", "--verbose", 0, O_VERBOSE, " generate "},
    {"--host", NULL, 1, O_HOST, " serve "},
    {"--port", NULL, 1, O_PORT, " serve "},
    {"--parallel", "-np", 1, O_PARALLEL, " serve "},
    {"--batch-tokens", NULL, 1, O_BATCH_TOKENS, " serve "},
    {"--max-itl-ms", NULL, 1, O_MAX_ITL, " serve "},
    {"--queue", NULL, 1, O_QUEUE, " serve "},
    {"--max-conn-per-ip", NULL, 1, O_MAX_CONN_PER_IP, " serve "},
    {"--http-timeout", NULL, 1, O_HTTP_TIMEOUT, " serve "},
    {"--prompt-cache", NULL, 1, O_PROMPT_CACHE, " serve "},
    {"--prompt-cache-size", NULL, 1, O_PROMPT_CACHE_SIZE, " serve "},
    {"--api-key", NULL, 1, O_API_KEY, " serve "},
    {"--api-key-file", NULL, 1, O_API_KEY_FILE, " serve "},
    {"--alias", NULL, 1, O_ALIAS, " serve "},
    {"--draft", NULL, 1, O_DRAFT, " generate chat bench serve "},
    {"--lookup", NULL, 1, O_LOOKUP, " generate chat bench serve "},
    {"--draft-max", NULL, 1, O_DRAFT_MAX, " generate chat bench serve "},
    {"--draft-policy", NULL, 1, O_DRAFT_POLICY, " serve "},
    {"-o", "--output", 1, O_OUTPUT, " imatrix "},
    {"--output-format", NULL, 1, O_OUT_FORMAT, " imatrix "},
    {"--chunks", NULL, 1, O_CHUNKS, " imatrix "},
    {"--chunk", NULL, 1, O_SKIP_CHUNKS, " imatrix "},
    {"--process-output", NULL, 0, O_PROCESS_OUTPUT, " imatrix "},
    {"--imatrix", NULL, 1, O_IMATRIX, " quantize "},
    {"--kl-base", NULL, 1, O_KL_BASE, " perplexity "},
};

static long parse_long(const char *cmd, const char *flag, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        usage_error(cmd, "%s expects an integer in [%ld, %ld], got \"%.40s\"", flag, lo, hi, s);
    return v;
}

static double parse_double(const char *cmd, const char *flag, const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        usage_error(cmd, "%s expects a number, got \"%.40s\"", flag, s);
    return v;
}

/* A size in bytes: a number with an optional K, M, G or T (powers of 1024;
 * "8G", "1.5G", "512M", "300000000"). */
static size_t parse_size(const char *cmd, const char *flag, const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double unit = 1;
    if (end != s && *end) {
        const char *u = strchr("KMGT", toupper((unsigned char)*end));
        if (u && *end) unit = (double)(1ull << (10 * (u - "KMGT" + 1))), end++;
        if (u && (*end == 'B' || *end == 'b') && !end[1]) end++;
        if (u && (*end == 'i') && (end[1] == 'B' || end[1] == 'b') && !end[2]) end += 2;
    }
    if (end == s || *end || errno || !(v > 0) || v * unit > 0x1p62)
        usage_error(cmd, "%s expects a size such as 8G, 512M or a number of bytes, got \"%.40s\"", flag, s);
    return (size_t)(v * unit);
}

static void set(Options *o, int id, const char *flag, const char *v) {
    const char *c = o->cmd;
    switch (id) {
    case O_MODEL: o->model = v; break;
    case O_TOKENIZER: o->tokenizer = v; break;
    case O_TOKENS: o->tokens = v; break;
    case O_TOKENS_FILE: o->tokens_file = v; break;
    case O_PROMPT: o->prompt = v; break;
    case O_PROMPT_FILE: o->prompt_file = v; break;
    case O_IDS_LIST: o->ids_list = v; break;
    case O_CHAT: o->chat = v; break;
    case O_CHAT_FORMAT: o->chat_format = v; break;
    case O_SYSTEM: o->system = v; break;
    case O_STOP:
        if (!*v) usage_error(c, "%s", "--stop needs a non-empty text");
        o->stop = v;
        break;
    case O_ALL: o->all = 1; break;
    case O_IDS: o->ids = 1; break;
    case O_BOS: o->bos = 1; break;
    case O_IGNORE_EOS: o->ignore_eos = 1; break;
    case O_CHUNK: o->chunk_size = parse_long(c, flag, v, 1, INT_MAX); break;
    case O_WINDOW: o->sliding_window = parse_long(c, flag, v, 0, 1L << 30); break;
    case O_THREADS: o->threads = parse_long(c, flag, v, 1, 1024); break;
    case O_CTX: o->ctx = parse_long(c, flag, v, 1, 1L << 24); break;
    case O_N: o->n_new = parse_long(c, flag, v, 0, 1L << 24); break;
    case O_TEMP: o->temperature = parse_double(c, flag, v); break;
    case O_TOP_P: o->top_p = parse_double(c, flag, v); break;
    case O_TOP_K: o->top_k = parse_long(c, flag, v, 0, INT_MAX); break;
    case O_MIN_P: o->min_p = parse_double(c, flag, v); break;
    case O_PRESENCE: o->presence_penalty = parse_double(c, flag, v); break;
    case O_FREQUENCY: o->frequency_penalty = parse_double(c, flag, v); break;
    case O_REPEAT_PENALTY: o->repeat_penalty = parse_double(c, flag, v); break;
    case O_REPEAT_LAST_N: o->repeat_last_n = parse_long(c, flag, v, 0, 1L << 20); break;
    case O_SEED: o->seed = (unsigned long long)parse_long(c, flag, v, 0, LONG_MAX); break;
    case O_TYPE: o->type = v; break;
    case O_JSON: o->json = 1; break;
    case O_SHAPE: o->shape = v; break;
    case O_SHARPEN: o->sharpen = parse_double(c, flag, v); break;
    case O_REPS: o->reps = parse_long(c, flag, v, 1, 1000); break;
    case O_KV_TYPE:
        if (strcmp(v, "f32") && strcmp(v, "f16")) usage_error(c, "--kv-type expects f32 or f16, got \"%.40s\"", v);
        o->kv_type = v;
        break;
    case O_FAST_BF16: o->fast_bf16 = 1; break;
    case O_DEPTH: o->depth = parse_long(c, flag, v, 0, 1L << 24); break;
    case O_MEM_LIMIT: o->mem_limit = parse_size(c, flag, v); break;
    case O_PIPELINE: o->pipeline = 1; break;
    case O_EXPERT_PARALLEL: o->expert_parallel = 1; break;
    case O_LAYER_SPLIT: o->layer_split = v; break;
    case O_DIST_STATS: o->dist_stats = 1; break;
    case O_VERBOSE: o->verbose = 1; break;
    case O_HOST: o->host = v; break;
    case O_PORT: o->port = parse_long(c, flag, v, 0, 65535); break;
    case O_PARALLEL: o->parallel = parse_long(c, flag, v, 1, 4096); break;
    case O_BATCH_TOKENS: o->batch_tokens = parse_long(c, flag, v, 1, 1L << 20); break;
    case O_QUEUE: o->queue = parse_long(c, flag, v, 0, 1L << 20); break;
    case O_MAX_ITL: o->max_itl_ms = parse_long(c, flag, v, 0, 60000), o->max_itl_set = 1; break;
    case O_MAX_CONN_PER_IP: o->max_conn_per_ip = parse_long(c, flag, v, 1, 512); break;
    case O_HTTP_TIMEOUT: o->http_timeout = parse_long(c, flag, v, 1, 3600); break;
    case O_PROMPT_CACHE:
        if (!*v) usage_error(c, "%s", "--prompt-cache needs a directory");
        o->prompt_cache = v;
        break;
    case O_PROMPT_CACHE_SIZE: o->prompt_cache_size = parse_size(c, flag, v); break;
    case O_API_KEY: o->api_key = v; break;
    case O_API_KEY_FILE: o->api_key_file = v; break;
    case O_ALIAS: o->alias = v; break;
    case O_JSON_SCHEMA: o->json_schema = v; break;
    case O_GRAMMAR: o->grammar = v; break;
    case O_REGEX: o->regex = v; break;
    case O_JSON_OBJECT: o->json_object = 1; break;
    case O_JSON_STRICT: o->json_strict = 1; break;
    case O_DRAFT: o->draft = v; break;
    case O_LOOKUP: o->lookup = parse_long(c, flag, v, 1, 64); break;
    case O_DRAFT_MAX: o->draft_max = parse_long(c, flag, v, 1, SCHED_DRAFT_MAX); break;
    case O_OUTPUT: o->output = v; break;
    case O_OUT_FORMAT:
        if (strcmp(v, "gguf") && strcmp(v, "dat")) usage_error(c, "--output-format expects gguf or dat, got \"%.40s\"", v);
        o->out_format = v;
        break;
    case O_CHUNKS: o->chunks = parse_long(c, flag, v, 1, INT_MAX); break;
    case O_SKIP_CHUNKS: o->skip_chunks = parse_long(c, flag, v, 0, INT_MAX); break;
    case O_PROCESS_OUTPUT: o->process_output = 1; break;
    case O_IMATRIX: o->imatrix = v; break;
    case O_KL_BASE: o->kl_base = v; break;
    case O_DRAFT_POLICY:
        if (strcmp(v, "auto") && strcmp(v, "always")) usage_error(c, "--draft-policy is auto or always, got \"%.40s\"", v);
        o->draft_always = !strcmp(v, "always");
        break;
    }
}

/* Subcommands that take positional arguments (Options.args). */
static const char positional_cmds[] = " quantize info synth ";

void options_parse(Options *o, int argc, char **argv) {
    char key[40];
    snprintf(key, sizeof key, " %s ", o->cmd);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int found = 0;
        for (size_t s = 0; s < sizeof specs / sizeof specs[0] && !found; s++) {
            if (strcmp(a, specs[s].flag) && (!specs[s].alias || strcmp(a, specs[s].alias))) continue;
            if (!strstr(specs[s].cmds, key)) continue;
            found = 1;
            if (specs[s].value && i + 1 >= argc) usage_error(o->cmd, "%s needs a value", a);
            set(o, specs[s].id, a, specs[s].value ? argv[++i] : NULL);
        }
        if (!found && a[0] != '-' && strstr(positional_cmds, key)) {
            if (o->n_args == (int)(sizeof o->args / sizeof o->args[0]))
                usage_error(o->cmd, "too many arguments (\"%.60s\")", a);
            o->args[o->n_args++] = a;
            continue;
        }
        if (!found) usage_error(o->cmd, "unknown option \"%.60s\"", a);
    }
}

/* ---- inputs ------------------------------------------------------------------ */

int *parse_ids(const char *s, int *n, const char *where) {
    int cap = 16, k = 0;
    int *ids = xmalloc((size_t)cap * sizeof(int));
    const char *p = s;
    for (;;) {
        while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r') p++;
        if (!*p || *p == '\n') break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT_MAX || (*end && !strchr(", \t\r\n", *end)))
            die("%s: not a list of token ids: \"%.40s\"", where, p);
        if (k == MAX_PROMPT_TOKENS) die("%s: more than %d tokens", where, MAX_PROMPT_TOKENS);
        if (k == cap) ids = xrealloc(ids, (size_t)(cap *= 2) * sizeof(int));
        ids[k++] = (int)v;
        p = end;
    }
    if (k == 0) die("%s: no token ids", where);
    *n = k;
    return ids;
}

void check_vocab(const int *ids, int n, int n_vocab, const char *where) {
    for (int i = 0; i < n; i++)
        if (ids[i] >= n_vocab)
            die("%s: token id %d is outside the vocabulary (0..%d)", where, ids[i], n_vocab - 1);
}

void load_model_with(Model *m, const Options *o, ModelOptions mo) {
    if (!o->model) usage_error(o->cmd, "%s", "missing -m MODEL");
    mo.sliding_window = (int)o->sliding_window;
    if (model_load(m, o->model, &mo)) die("%s", err_msg());
}

void load_model(Model *m, const Options *o) { load_model_with(m, o, (ModelOptions){0}); }

void prepare_model(Model *m, const Context *ctx, const Options *o, const ModelShare *share) {
    ModelShare all = model_share_all(m);
    if (!share) share = &all;
    ModelShare s = *share;
    const char *rp = getenv("MISTRAL_REPACK"); /* a developer's override: 0 keeps the rows as loaded */
    if (rp && !strcmp(rp, "0")) s.pack = 0;
    const char *rd = getenv("MISTRAL_EXPERT_READS"); /* "buffered": through the page cache (measuring) */
    s.buffered = rd && !strcmp(rd, "buffered");
    const char *pr = getenv("MISTRAL_EXPERT_PREDICT"); /* "0": no reads ahead for predictions (measuring) */
    s.no_predict = pr && !strcmp(pr, "0");
    s.mem_limit = o->mem_limit;
    if (model_prepare(m, &s, ctx->mm.kern, ctx->mm.pool)) die("%s", err_msg());
}

const Kern *cli_kern(void) { return kern_select(getenv("MISTRAL_SIMD")); /* a developer's override */ }

void setup_context(Context *ctx, const Options *o, long threads) {
    context_set_kern(ctx, cli_kern());
    if (o->kv_type && !strcmp(o->kv_type, "f16") && context_set_kv_type(ctx, DT_F16)) die("%s", err_msg());
    context_set_fast(ctx, o->fast_bf16);
    if (context_set_threads(ctx, (int)threads)) die("%s", err_msg());
}

void load_tokenizer(Tokenizer *t, const Options *o) {
    if (o->tokenizer) {
        if (tokenizer_load(t, o->tokenizer)) die("%s", err_msg());
        return;
    }
    if (!o->model) usage_error(o->cmd, "%s", "give -m MODEL or --tokenizer FILE");
    char *path = tokenizer_find(o->model);
    if (!path) die("%s", err_msg());
    int rc = tokenizer_load(t, path);
    free(path);
    if (rc) die("%s", err_msg());
}

int cli_dist_join(const Options *o, DistOptions *d) {
    if (o->layer_split && !o->pipeline) usage_error(o->cmd, "%s", "--layer-split needs --pipeline");
    if (o->pipeline && o->expert_parallel && !o->layer_split)
        usage_error(o->cmd, "%s", "--pipeline with --expert-parallel needs --layer-split (one count "
                    "per stage; the processes are shared evenly among the stages)");
    const char *env = getenv("MISTRAL_DIST_TIMEOUT");
    *d = (DistOptions){.pipeline = o->pipeline, .expert_parallel = o->expert_parallel,
                       .layer_split = o->layer_split, .timeout = env ? atof(env) : 120};
    if (!dist_wanted(d)) return 0;
    if (dist_join(d)) die("%s", err_msg());
    cli_set_rank(dist_rank(), dist_size());
    return 1;
}

long cli_threads(const Options *o, int dist) {
    if (!dist || o->threads) return o->threads;
    long n = pool_cpus() / dist_local_size(); /* ranks on one machine share its cores */
    return n < 1 ? 1 : n;
}

void print_expert_stats(FILE *f, const char *what, const ExpertStats *s, double tokens, double disk_bw,
                        double tok_s) {
    double u = s->uses ? (double)s->uses : 1, per = (double)s->bytes_read / (tokens > 0 ? tokens : 1);
    double hit = s->reads < s->uses ? 1 - (double)s->reads / u : 0;
    fprintf(f, "expert cache [%s]: %llu uses, %.2f experts (%.3f GB) read per token: %.1f%% hit the cache; "
            "when needed %.1f%% were ready, %.1f%% being read ahead, %.1f%% not asked for yet",
            what, (unsigned long long)s->uses, (double)s->reads / (tokens > 0 ? tokens : 1), per / 1e9, 100 * hit,
            100 * s->hits / u, 100 * s->late / u, 100 * s->misses / u);
    if (s->routed)
        fprintf(f, "; prediction named %.1f%% of the routed experts (%.2f guesses per routed, %.0f%% of them read)",
                100.0 * s->predicted / s->routed, (double)s->guesses / s->routed,
                s->guesses ? 100.0 * s->guesses_read / s->guesses : 0.0);
    if (s->ahead) fprintf(f, "; %.1f%% of the reads ahead were used", 100.0 * s->ahead_used / s->ahead);
    if (s->cancelled) fprintf(f, "; %llu reads of missed predictions stopped", (unsigned long long)s->cancelled);
    if (s->reads) fprintf(f, "; reads ran at %.2f GB/s", s->bytes_read / (s->read_seconds > 0 ? s->read_seconds : 1e-9) / 1e9);
    fputc('\n', f);
    /* the disk's limit: the probe's rate, or what these reads got if more
     * (the probe reads idle experts; the cache's reads may find a better
     * queue depth), so the fraction cannot pass 100% */
    double seen = s->read_seconds > 0 ? s->bytes_read / s->read_seconds : 0;
    if (seen > disk_bw) disk_bw = seen;
    if (disk_bw > 0 && per > 0 && tok_s > 0)
        fprintf(f, "expert cache [%s]: the disk reads %.2f GB/s (%s): at %.3f GB per token it allows %.2f tok/s; "
                "%.2f tok/s is %.0f%% of that\n", what, disk_bw / 1e9, s->direct ? "O_DIRECT" : "buffered", per / 1e9,
                disk_bw / per, tok_s, 100 * tok_s * per / disk_bw);
}

/* ---- constraints ------------------------------------------------------------- */

void cli_constraint(const Options *o, ConstraintSpec *s, char **owned, const char **file) {
    *s = (ConstraintSpec){.kind = CONSTRAINT_NONE, .strict = o->json_strict};
    *owned = NULL, *file = NULL;
    if (!!o->json_schema + o->json_object + !!o->grammar + !!o->regex > 1)
        usage_error(o->cmd, "%s", "give at most one of --json-schema, --json, --grammar, --regex");
    if (o->json_strict && !o->json_schema && !o->json_object)
        usage_error(o->cmd, "%s", "--json-strict goes with --json-schema");
    if (o->json_schema) {
        s->kind = CONSTRAINT_JSON_SCHEMA;
        const char *p = o->json_schema + strspn(o->json_schema, " \t\r\n");
        if (*p == '{') s->text = o->json_schema, s->len = strlen(o->json_schema);
        else s->text = *owned = slurp(o->json_schema, &s->len), *file = o->json_schema;
    } else if (o->json_object) {
        s->kind = CONSTRAINT_JSON_OBJECT;
    } else if (o->grammar) {
        s->kind = CONSTRAINT_GBNF;
        s->text = *owned = slurp(o->grammar, &s->len), *file = o->grammar;
    } else if (o->regex) {
        s->kind = CONSTRAINT_REGEX;
        s->text = o->regex, s->len = strlen(o->regex);
    }
}

void cli_constraint_compile(CliConstraint *c, const ConstraintSpec *s, const Tokenizer *tok, const char *file) {
    memset(c, 0, sizeof *c);
    if (grammar_compile(&c->g, s, tok)) die("%s%s%s", file ? file : "", file ? ": " : "", err_msg());
    if (vocab_init(&c->v, tok)) die("%s", err_msg());
}

void cli_constraint_free(CliConstraint *c) {
    grammar_free(&c->g);
    vocab_free(&c->v);
}

char *slurp(const char *path, size_t *len) {
    char *s = read_file(path, len);
    if (!s) die("%s", err_msg());
    return s;
}

/* ---- speculative decoding ------------------------------------------------------ */

void cli_draft_check(const Options *o) {
    if (o->draft && o->lookup) usage_error(o->cmd, "%s", "give --draft or --lookup, not both");
    if ((o->draft_max || o->draft_always) && !o->draft && !o->lookup)
        usage_error(o->cmd, "%s", "--draft-max and --draft-policy go with --draft or --lookup");
}

void cli_draft_open(CliDraft *cd, const Options *o, Context *ctx, const Tokenizer *ttok, long n_ctx,
                    ModelOptions mo) {
    memset(cd, 0, sizeof *cd);
    cli_draft_check(o);
    if (!o->draft && !o->lookup) return;
    int K = (int)(o->draft_max ? o->draft_max : o->draft ? DRAFT_DEFAULT_MAX_MODEL : DRAFT_DEFAULT_MAX_LOOKUP);
    if (dist_rank() > 0) { /* rank 0 drafts; the stages need room to go back over rejected drafts */
        if (context_set_draft_room(ctx, K)) die("%s", err_msg());
        return;
    }
    cd->on = 1;
    if (o->lookup) {
        if (drafter_init_lookup(&cd->d, (int)o->lookup, ctx->n_seq, K)) die("--lookup: %s", err_msg());
    } else {
        mo.sliding_window = -1; /* the draft's own windows (bounded as the target's are) */
        if (model_load(&cd->m, o->draft, &mo)) die("--draft %s: %s", o->draft, err_msg());
        cd->have_model = 1;
        Tokenizer dt;
        int have_dt = 0;
        char *path = ttok ? tokenizer_find(o->draft) : NULL;
        if (path && tokenizer_load(&dt, path) == 0) have_dt = 1;
        free(path);
        int bad = draft_check_vocab(ctx->model, ttok, &cd->m, have_dt ? &dt : NULL);
        if (have_dt) tokenizer_free(&dt);
        if (bad) die("--draft %s: %s", o->draft, err_msg());
        if (context_init(&cd->ctx, &cd->m, ctx->n_seq, n_ctx)) die("--draft %s: %s", o->draft, err_msg());
        Options dopt = *o;
        dopt.mem_limit = 0; /* the limit is the target's */
        setup_context(&cd->ctx, &dopt, 1);
        context_share_threads(&cd->ctx, ctx); /* one pool: two would spin against each other */
        prepare_model(&cd->m, &cd->ctx, &dopt, NULL);
        if (drafter_init_model(&cd->d, &cd->ctx, K)) die("--draft %s: %s", o->draft, err_msg());
    }
    if (context_set_draft_room(ctx, K)) die("%s", err_msg());
}

void cli_draft_close(CliDraft *cd) {
    if (!cd->on) return;
    drafter_free(&cd->d);
    if (cd->have_model) context_free(&cd->ctx), model_free(&cd->m);
    memset(cd, 0, sizeof *cd);
}

void cli_draft_report(FILE *f, const DraftStats *s) {
    fprintf(f, "speculation: drafted %ld tokens, accepted %ld (%.1f%%) in %ld steps\n", s->drafted, s->accepted,
            s->drafted ? 100.0 * (double)s->accepted / (double)s->drafted : 0.0, s->steps);
}

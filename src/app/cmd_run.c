/* cmd_run — mistral logits and mistral generate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/cli.h"
#include "app/commands.h"
#include "base/pool.h"
#include "base/utf8.h"
#include "base/util.h"
#include "dist/dist.h"
#include "dist/launch.h"
#include "gen/generate.h"
#include "tok/tokfile.h"

/* ---- mistral logits ---------------------------------------------------------- */

static void print_row(const float *x, int n) {
    putchar('[');
    for (int i = 0; i < n; i++) printf(i ? ",%.9g" : "%.9g", x[i]);
    putchar(']');
}

int cmd_logits(const Options *o) {
    if (!o->tokens) usage_error(o->cmd, "%s", "missing --tokens");
    int n;
    int *ids = parse_ids(o->tokens, &n, "--tokens");
    Model m;
    load_model(&m, o);
    check_vocab(ids, n, m.cfg.n_vocab, "--tokens");
    Context ctx;
    if (context_init(&ctx, &m, 1, n)) die("%s", err_msg());
    setup_context(&ctx, o, o->threads);
    prepare_model(&m, &ctx, o, NULL);
    int chunk = o->chunk_size > 0 ? (int)o->chunk_size : GEN_DEFAULT_CHUNK, V = m.cfg.n_vocab;
    int *seqs = xcalloc((size_t)chunk, sizeof(int));
    long *pos = xmalloc((size_t)chunk * sizeof(long));
    unsigned char *want = xmalloc((size_t)chunk);
    float *logits = xmalloc((size_t)chunk * V * sizeof(float));
    fputs("{\"logits\": [", stdout);
    int rows = 0;
    for (int s = 0; s < n; s += chunk) {
        int k = n - s < chunk ? n - s : chunk, got = 0;
        for (int i = 0; i < k; i++) {
            pos[i] = s + i;
            want[i] = o->all || s + i == n - 1;
        }
        Batch b = {.n = k, .token = ids + s, .seq = seqs, .pos = pos, .want = want};
        if (forward(&ctx, &b, logits)) die("%s", err_msg());
        for (int i = 0; i < k; i++)
            if (want[i]) {
                if (rows++) putchar(',');
                print_row(logits + (size_t)got++ * V, V);
            }
    }
    fputs("]}\n", stdout);
    free(seqs), free(pos), free(want), free(logits), free(ids);
    context_free(&ctx);
    model_free(&m);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- text streaming ---------------------------------------------------------- */

/* Writes d to out and frees it; *last (may be NULL) gets the last byte
 * written, if any. */
static void print_delta(ByteBuf *d, FILE *out, int *last) {
    if (d->n) {
        fwrite(d->p, 1, d->n, out), fflush(out);
        if (last) *last = (unsigned char)d->p[d->n - 1];
    }
    bytebuf_free(d);
}

static int print_token(Stream *s, int token, FILE *out, int *last) {
    ByteBuf d = {0};
    int rc = stream_push(s, token, &d);
    if (rc < 0) die("%s", err_msg());
    print_delta(&d, out, last);
    return rc;
}

static void print_finish(Stream *s, FILE *out, int *last) {
    ByteBuf d = {0};
    if (stream_finish(s, &d)) die("%s", err_msg());
    print_delta(&d, out, last);
    stream_free(s);
}

int stream_print(Stream *s, int token, FILE *out) { return print_token(s, token, out, NULL); }

void stream_print_finish(Stream *s, FILE *out) { print_finish(s, out, NULL); }

/* 1 when descriptors a and b write to the same file, pipe or terminal. */
static int same_file(int a, int b) {
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* ---- mistral generate -------------------------------------------------------- */

typedef struct {
    const Options *o;
    int eos;
    IntVec *out; /* per request */
    Stream stream; /* streaming text of request 0 (single prompt) */
    int streaming;
    int last;       /* the last byte streamed to stdout ('\n' before any) */
    double t_first; /* when the first token came: the end of prefill */
    int n_gen;
    ExpertCache *experts; /* --verbose --mem-limit: its counters, split at the first token */
    ExpertStats es_pp;
} GenRun;

static int on_token(void *ud, int req, int token) {
    GenRun *g = ud;
    if (g->n_gen++ == 0) {
        g->t_first = now_seconds();
        if (g->experts) expcache_stats(g->experts, &g->es_pp), expcache_reset_stats(g->experts);
    }
    if (token == g->eos) return 1;
    intvec_push(&g->out[req], token);
    if (g->streaming) return print_token(&g->stream, token, stdout, &g->last);
    return 0;
}

/* Reads --tokens-file: one prompt of ids per line. */
static GenRequest *read_token_prompts(const char *path, int *n_req) {
    char *text = slurp(path, NULL);
    int n = 0, cap = 4, line = 0;
    GenRequest *reqs = xmalloc((size_t)cap * sizeof *reqs);
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        line++;
        if (strspn(p, " \t\r,") != strlen(p)) {
            char where[300];
            snprintf(where, sizeof where, "%s line %d", path, line);
            if (n == cap) reqs = xrealloc(reqs, (size_t)(cap *= 2) * sizeof *reqs);
            memset(&reqs[n], 0, sizeof reqs[n]);
            reqs[n].prompt = parse_ids(p, &reqs[n].n_prompt, where);
            n++;
        } else if (nl) {
            die("%s line %d: empty prompt", path, line);
        }
        if (!nl) break;
        p = nl + 1;
    }
    free(text);
    if (n == 0) die("%s: no prompts", path);
    *n_req = n;
    return reqs;
}

void process_rss(size_t *now, size_t *peak) {
    *now = *peak = 0;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "VmRSS: %ld", &kb) == 1) *now = (size_t)kb << 10;
        if (sscanf(line, "VmHWM: %ld", &kb) == 1) *peak = (size_t)kb << 10;
    }
    if (f) fclose(f);
    struct rusage ru;
    if (!*peak && getrusage(RUSAGE_SELF, &ru) == 0) *peak = (size_t)ru.ru_maxrss << 10; /* KiB on Linux */
}

/* --dist-stats: one line per rank on stderr. */
static void print_stats(const Context *ctx, const PipelinePlan *plan, double seconds, int n_gen) {
    int rank = dist_rank(), size = dist_size();
    size_t now, peak;
    process_rss(&now, &peak);
    DistStats st = dist_stats();
    char what[96] = "all layers";
    int k = 0, s = plan ? rank / plan->width : 0;
    if (plan) k = snprintf(what, sizeof what, "layers [%d, %d)", plan->bounds[s], plan->bounds[s + 1]);
    if (ctx->model->cfg.n_experts)
        snprintf(what + k, sizeof what - k, "%sexperts [%d, %d)", k ? ", " : "", ctx->expert_lo,
                 ctx->expert_hi);
    char host[64] = "?";
    gethostname(host, sizeof host - 1);
    fprintf(stderr, "dist: rank %d of %d on %s: %s: %.3f s, %.3f s in communication (%ld messages, "
            "%.2f MB sent); RSS %.1f MB, peak %.1f MB", rank, size, host, what, seconds, st.seconds,
            st.messages, st.bytes / 1e6, now / 1048576.0, peak / 1048576.0);
    if (rank == 0) fprintf(stderr, "; %d tokens, %.2f tok/s", n_gen, n_gen / (seconds > 0 ? seconds : 1e-9));
    fputc('\n', stderr);
}

/* --verbose with --mem-limit: the expert cache's counters for the prompts
 * (up to the first token) and for the generated tokens, on stderr; with
 * --pipeline or --expert-parallel each process reports its own cache. */
static void print_generate_cache(GenRun *g, const GenRequest *reqs, int n_req, double t0, double t1, int dist) {
    ExpertStats tg;
    expcache_stats(g->experts, &tg);
    int n_prompt = 0, n_gen = g->n_gen;
    for (int r = 0; reqs && r < n_req; r++) n_prompt += reqs[r].n_prompt;
    double tp = g->t_first - t0, tt = t1 - g->t_first;
    char pp[32] = "pp", gen[32] = "tg";
    if (dist) snprintf(pp, sizeof pp, "pp, rank %d", dist_rank()), snprintf(gen, sizeof gen, "tg, rank %d", dist_rank());
    if (n_prompt > 0) print_expert_stats(stderr, pp, &g->es_pp, n_prompt, 0, n_prompt / (tp > 0 ? tp : 1e-9));
    if (n_gen > 1) print_expert_stats(stderr, gen, &tg, n_gen - 1, 0, (n_gen - 1) / (tt > 0 ? tt : 1e-9));
}

/* --verbose: the peak resident memory on stderr, beside what the weights
 * (at most --mem-limit) and the KV cache take; the rest is the workspace,
 * the threads' stacks, the expert cache's read buffers and the program. */
static void print_memory(const Context *ctx, const ModelShare *share, const Options *o, int dist) {
    const Model *m = ctx->model;
    size_t now, peak, kv = 0;
    process_rss(&now, &peak);
    for (int i = 0; i < ctx->n_seq; i++) kv += ctx->seqs[i].bytes;
    ModelShare s = *share;
    s.mem_limit = o->mem_limit;
    double dense = (double)model_resident_bytes(m, &s, ctx->mm.kern), cache = 0;
    ExpertStats es;
    if (m->experts) expcache_stats(m->experts, &es), cache = (double)es.slots * (double)es.slot_bytes;
    char who[32] = "";
    if (dist) snprintf(who, sizeof who, " [rank %d]", dist_rank());
    fprintf(stderr, "memory%s: peak resident %.1f MB; weights %.1f MB", who, peak / 1e6, (dense + cache) / 1e6);
    if (m->experts)
        fprintf(stderr, " (--mem-limit %.1f MB: dense part %.1f MB, expert cache %d x %.1f MB)", o->mem_limit / 1e6,
                dense / 1e6, es.slots, es.slot_bytes / 1e6);
    fprintf(stderr, ", KV cache %.1f MB\n", kv / 1e6);
}

int cmd_generate(const Options *o) {
    int sources = !!o->tokens + !!o->tokens_file + !!o->prompt + !!o->prompt_file;
    if (sources != 1) usage_error(o->cmd, "%s", "give exactly one of -p, -f, --tokens, --tokens-file");
    cli_draft_check(o);
    ConstraintSpec spec;
    char *spec_text;
    const char *spec_file;
    cli_constraint(o, &spec, &spec_text, &spec_file);
    int guided = spec.kind != CONSTRAINT_NONE;
    if (o->repeat_penalty != 1 && (o->pipeline || o->expert_parallel)) /* its window holds the prompt */
        usage_error(o->cmd, "%s", "--repeat-penalty does not work with --pipeline or --expert-parallel yet");
    if (guided && (o->pipeline || o->expert_parallel)) /* the pipeline samples on its own */
        usage_error(o->cmd, "%s", "--json-schema, --json, --grammar and --regex do not work with --pipeline "
                    "or --expert-parallel yet");
    DistOptions dopt;
    int dist = cli_dist_join(o, &dopt);
    int root = dist_rank() == 0;
    int text_in = o->prompt || o->prompt_file;
    int need_tok = root && (text_in || !o->ids || guided);
    Model m;
    load_model(&m, o);
    GenOptions go = {.chunk_size = (int)o->chunk_size,
                     .sampler = {.temperature = (float)o->temperature, .top_p = (float)o->top_p,
                                 .top_k = (int)o->top_k, .min_p = (float)o->min_p, .seed = o->seed,
                                 .presence_penalty = (float)o->presence_penalty,
                                 .frequency_penalty = (float)o->frequency_penalty,
                                 .repeat_penalty = (float)o->repeat_penalty, .repeat_last_n = (int)o->repeat_last_n},
                     .eos = -1 /* on_token stops at EOS without printing it */};
    if (dist && dist_check_same(&m, &go.sampler)) die("%s", err_msg());
    Tokenizer tok;
    int have_tok = 0;
    if (need_tok) load_tokenizer(&tok, o), have_tok = 1;
    else if (root && !o->tokenizer) { /* --ids: the tokenizer only gives EOS; optional */
        char *path = tokenizer_find(o->model);
        if (path && tokenizer_load(&tok, path) == 0) have_tok = 1;
        free(path);
    }
    if (have_tok && tok.n_vocab > m.cfg.n_vocab)
        die("%s: tokenizer has %d tokens, the model only %d", tok.path, tok.n_vocab, m.cfg.n_vocab);
    CliConstraint cc = {0};
    if (guided) cli_constraint_compile(&cc, &spec, &tok, spec_file), go.vocab = &cc.v;
    const char *sync = getenv("MISTRAL_SYNC_MASKS"); /* a developer's override: 1 computes masks in line */
    go.sync_masks = sync && !strcmp(sync, "1");

    int n_req = 1;
    GenRequest *reqs = NULL;
    if (!root) {
        /* the requests come from rank 0 (dist_share_requests) */
    } else if (o->tokens_file) {
        reqs = read_token_prompts(o->tokens_file, &n_req);
    } else {
        reqs = xcalloc(1, sizeof *reqs);
        if (o->tokens) {
            reqs[0].prompt = parse_ids(o->tokens, &reqs[0].n_prompt, "--tokens");
        } else {
            size_t len;
            char *text = o->prompt ? xstrdup(o->prompt) : slurp(o->prompt_file, &len);
            if (o->prompt) len = strlen(text);
            IntVec ids = {0};
            if (tokenizer_encode(&tok, text, len, 1, &ids))
                die("%s: %s", o->prompt ? "-p" : o->prompt_file, err_msg());
            if (ids.n == 0) die("the prompt is empty and the tokenizer has no BOS");
            reqs[0].prompt = ids.v, reqs[0].n_prompt = ids.n;
            free(text);
        }
    }
    for (int r = 0; root && r < n_req; r++) {
        reqs[r].max_new = (int)o->n_new;
        reqs[r].grammar = guided ? &cc.g : NULL;
        check_vocab(reqs[r].prompt, reqs[r].n_prompt, m.cfg.n_vocab,
                    o->tokens_file ? o->tokens_file : "prompt");
    }
    /* a guided request's EOS comes only where its text is complete: it ends it */
    int eos = have_tok && (!o->ignore_eos || guided) ? tok.eos : -1;
    if (dist && dist_share_requests(&reqs, &n_req, &eos)) die("%s", err_msg());
    Context ctx;
    if (context_init(&ctx, &m, n_req, generate_context_size(reqs, n_req))) die("%s", err_msg());
    setup_context(&ctx, o, cli_threads(o, dist));
    DistRun run = {0};
    /* speculation with --expert-parallel alone: rank 0 drafts and sends each step through the ranks */
    int steps = o->draft || o->lookup;
    if (dist && (steps ? dist_plan_steps : dist_plan)(&run, &ctx, &dopt)) die("%s", err_msg());
    ModelShare share = dist ? dist_model_share(&run, &ctx) : model_share_all(&m); /* this rank's part */
    prepare_model(&m, &ctx, o, &share);
    CliDraft cd;
    long n_ctx = generate_context_size(reqs, n_req);
    cli_draft_open(&cd, o, &ctx, have_tok ? &tok : NULL, n_ctx + SCHED_DRAFT_MAX + 1, (ModelOptions){0});
    go.drafter = cd.on ? &cd.d : NULL;
    const char *stops[1] = {o->stop};
    GenRun g = {.o = o, .eos = eos, .out = xcalloc((size_t)n_req, sizeof(IntVec)), .last = '\n'};
    g.streaming = root && !o->ids && n_req == 1;
    if (g.streaming) stream_init(&g.stream, &tok, stops, o->stop ? 1 : 0);
    if (o->verbose && m.experts) g.experts = m.experts, expcache_reset_stats(m.experts);
    double t0 = now_seconds();
    int rc = dist ? dist_generate(&run, &ctx, reqs, n_req, &go, on_token, &g)
                  : generate(&ctx, reqs, n_req, &go, on_token, &g);
    if (rc) die("%s", err_msg());
    double t1 = now_seconds();
    for (int r = 0; r < n_req; r++) {
        if (!root) {
        } else if (g.streaming) { /* exactly the text; a newline only for a terminal's prompt */
            print_finish(&g.stream, stdout, &g.last);
            if (isatty(STDOUT_FILENO) && !dist) putchar('\n'), fflush(stdout), g.last = '\n'; /* mpirun's stdout is a pty */
        } else if (o->ids) {
            for (int i = 0; i < g.out[r].n; i++) printf(i ? " %d" : "%d", g.out[r].v[i]);
            putchar('\n');
        } else {
            Stream s;
            stream_init(&s, &tok, stops, o->stop ? 1 : 0);
            for (int i = 0; i < g.out[r].n && !stream_print(&s, g.out[r].v[i], stdout); i++) {}
            stream_print_finish(&s, stdout);
            putchar('\n');
        }
        intvec_free(&g.out[r]);
        free((void *)reqs[r].prompt);
    }
    /* the lines on stderr start on a line of their own where the text,
     * ending mid-line, went to the same place (2>&1 into a file or pipe) */
    if (g.streaming && g.last != '\n' && same_file(STDOUT_FILENO, STDERR_FILENO)) fputc('\n', stderr);
    if (root && !o->ids && n_req == 1 && g.n_gen > 0) {
        double tp = g.t_first - t0, tg = t1 - g.t_first;
        fprintf(stderr, "prompt: %d tokens, %.1f tok/s; generation: %d tokens, %.1f tok/s\n",
                reqs[0].n_prompt, reqs[0].n_prompt / (tp > 0 ? tp : 1e-9), g.n_gen,
                g.n_gen > 1 ? (g.n_gen - 1) / (tg > 0 ? tg : 1e-9) : 0.0);
    }
    if (cd.on && root) cli_draft_report(stderr, &cd.d.total);
    cli_draft_close(&cd);
    if (o->dist_stats) print_stats(&ctx, run.bounds ? &run.plan : NULL, t1 - t0, g.n_gen);
    if (g.experts && g.n_gen > 0) print_generate_cache(&g, reqs, n_req, t0, t1, dist);
    if (o->verbose) print_memory(&ctx, &share, o, dist);
    free(g.out), free(reqs);
    dist_run_free(&run);
    context_free(&ctx);
    if (guided) cli_constraint_free(&cc);
    free(spec_text);
    if (have_tok) tokenizer_free(&tok);
    model_free(&m);
    rc = fflush(stdout) == 0 ? 0 : 1;
    if (dist) dist_finalize();
    return rc;
}

/* cmd_serve — mistral serve: the OpenAI-compatible server (src/server/).
 * It listens first (GET /health answers 503 while the model loads), then
 * loads the model and serves until SIGINT or SIGTERM, when it stops
 * accepting, ends running streams cleanly and exits 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "app/cli.h"
#include "app/commands.h"
#include "base/pool.h"
#include "base/util.h"
#include "dist/dist.h"
#include "dist/launch.h"
#include "server/server.h"

#define SERVE_DEFAULT_PORT 8080
#define SERVE_DEFAULT_MAX_ITL_MS 150
#define SERVE_MAX_BODY (4u << 20)
#define SERVE_PROMPT_CACHE_SIZE ((size_t)4 << 30)

/* The model's name in /v1/models: --alias, else the path's last part. */
static void model_name(char *out, size_t cap, const Options *o) {
    if (o->alias) {
        snprintf(out, cap, "%s", o->alias);
        return;
    }
    size_t n = strlen(o->model);
    while (n > 1 && o->model[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && o->model[b - 1] != '/') b--;
    snprintf(out, cap, "%.*s", (int)(n - b), o->model + b);
}

/* The key of --api-key-file: its first line, without surrounding blanks. */
static char *read_key(const char *path) {
    char *s = slurp(path, NULL), *p = s;
    while (*p == ' ' || *p == '\t') p++;
    size_t n = strcspn(p, "\r\n");
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    if (!n) die("%s: no API key in the file", path);
    memmove(s, p, n);
    s[n] = 0;
    return s;
}

int cmd_serve(const Options *o) {
    if (!o->model) usage_error(o->cmd, "%s", "missing -m MODEL");
    if (o->api_key && o->api_key_file) usage_error(o->cmd, "%s", "give --api-key or --api-key-file, not both");
    cli_draft_check(o);
    /* the signals that stop the server go to sigwait below, in no other
     * thread: blocked before MPI_Init, so that MPI's own threads inherit
     * the mask too (else one of them takes a signal that comes before
     * sigwait, and its default action ends rank 0 there and then). The
     * other ranks stop when rank 0 tells them; a signal ends them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    DistOptions dopt;
    int dist = cli_dist_join(o, &dopt);
    int root = dist_rank() == 0;
    if (!root) pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
    char name[256], *key = o->api_key_file && root ? read_key(o->api_key_file) : NULL;
    model_name(name, sizeof name, o);
    ServerOptions so = {.host = o->host ? o->host : "127.0.0.1",
                        .port = o->port >= 0 ? (int)o->port : SERVE_DEFAULT_PORT,
                        .parallel = o->parallel ? (int)o->parallel : 4,
                        .ctx = o->ctx ? o->ctx : 4096,
                        .batch_tokens = o->batch_tokens ? (int)o->batch_tokens : 64,
                        .max_itl_ms = o->max_itl_set ? (int)o->max_itl_ms : SERVE_DEFAULT_MAX_ITL_MS,
                        .queue = o->queue >= 0 ? (int)o->queue : 64,
                        .api_key = key ? key : o->api_key,
                        .chat_format = o->chat_format,
                        .name = name,
                        .temperature = (float)o->temperature,
                        .max_body = SERVE_MAX_BODY,
                        .max_conn_per_ip = o->max_conn_per_ip ? (int)o->max_conn_per_ip : 64,
                        .http_timeout = o->http_timeout ? (int)o->http_timeout : 15};
    if (so.temperature < 0 || so.temperature > 2) usage_error(o->cmd, "%s", "--temperature must be 0 to 2");
    so.prompt_cache = o->prompt_cache;
    so.prompt_cache_size = o->prompt_cache_size ? o->prompt_cache_size : SERVE_PROMPT_CACHE_SIZE;
    if (o->prompt_cache_size && !o->prompt_cache) usage_error(o->cmd, "%s", "--prompt-cache-size needs --prompt-cache DIR");

    Server *s = NULL;
    if (root) {
        if (!(s = server_listen(&so))) die("%s", err_msg());
        fprintf(stderr, "mistral serve: listening on http://%s:%d (loading %s)\n", so.host, server_port(s), o->model);
    }
    Model m;
    load_model(&m, o);
    GenOptions go = {.sampler = {.temperature = 0, .top_p = 1}, .eos = -1}; /* the other ranks return logits */
    if (dist && dist_check_same(&m, &go.sampler)) die("%s", err_msg());
    Tokenizer tok;
    if (root) {
        load_tokenizer(&tok, o);
        if (tok.n_vocab > m.cfg.n_vocab)
            die("%s: tokenizer has %d tokens, the model only %d", tok.path, tok.n_vocab, m.cfg.n_vocab);
    }
    Context ctx;
    if (context_init(&ctx, &m, so.parallel, so.ctx)) die("%s", err_msg());
    setup_context(&ctx, o, cli_threads(o, dist));
    DistRun run = {0};
    if (dist && dist_plan_steps(&run, &ctx, &dopt)) die("%s", err_msg());
    ModelShare share = dist ? dist_model_share(&run, &ctx) : model_share_all(&m);
    prepare_model(&m, &ctx, o, &share);
    CliDraft cd = {0}; /* rank 0: one drafter sequence per slot; the other ranks: room for the drafts */
    cli_draft_open(&cd, o, &ctx, root ? &tok : NULL, so.ctx + SCHED_DRAFT_MAX + 1, (ModelOptions){0});
    int rc = 0;
    if (!root) { /* a stage, or a share of the experts, until rank 0 stops */
        if (pipeline_serve(&ctx, &run.plan, &go)) die("%s", err_msg());
    } else {
        server_set_draft(s, cd.on ? &cd.d : NULL, o->draft_always);
        if (server_ready(s, &ctx, &tok, dist ? &run.plan : NULL)) die("%s", err_msg());
        fprintf(stderr, "mistral serve: ready: %s, %d slots of %ld positions, %d tokens per step%s\n", name,
                so.parallel, so.ctx, so.batch_tokens, dist ? ", over MPI" : "");
        int sig = 0;
        sigwait(&stop, &sig);
        fprintf(stderr, "mistral serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        server_close(s);
        tokenizer_free(&tok);
    }
    cli_draft_close(&cd);
    dist_run_free(&run);
    context_free(&ctx);
    model_free(&m);
    free(key);
    if (dist) dist_finalize();
    return rc;
}

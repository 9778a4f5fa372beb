/* mistral — the command line (DESIGN.md §4).
 *
 *   mistral logits   -m MODEL --tokens 1,5,9 [--all] [--chunk-size C]
 *   mistral generate -m MODEL (--tokens 1,5,9 | --tokens-file F) [-n N] [--ids] ...
 *
 * Every failure is one line on stderr and exit status 1 (2 for usage). */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "gen/generate.h"
#include "model/model.h"

#define MAX_PROMPT_TOKENS (1 << 24)

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("mistral: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static _Noreturn void usage_error(const char *cmd, const char *fmt, const char *arg) {
    fprintf(stderr, "mistral %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see: mistral %s --help)\n", cmd);
    exit(2);
}

/* ---- options --------------------------------------------------------------- */

typedef struct {
    const char *cmd;
    const char *model;
    const char *tokens, *tokens_file, *prompt;
    int all, ids;
    long chunk_size, n_new, sliding_window, threads;
    double temperature, top_p, min_p;
    long top_k;
    unsigned long long seed;
} Options;

static long parse_long(const char *cmd, const char *flag, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s expects an integer in [%ld, %ld], got \"%%s\"", flag, lo, hi);
        usage_error(cmd, msg, s);
    }
    return v;
}

static double parse_double(const char *cmd, const char *flag, const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s expects a number, got \"%%s\"", flag);
        usage_error(cmd, msg, s);
    }
    return v;
}

static void parse_options(Options *o, int argc, char **argv, const char *allowed) {
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        /* flags without a value */
        if (!strcmp(a, "--all") && strstr(allowed, " all ")) { o->all = 1; continue; }
        if (!strcmp(a, "--ids") && strstr(allowed, " ids ")) { o->ids = 1; continue; }
        if (i + 1 >= argc) usage_error(o->cmd, "unknown option or missing value: %s", a);
        const char *v = argv[++i];
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--tokens")) o->tokens = v;
        else if (!strcmp(a, "--tokens-file") && strstr(allowed, " tokens-file ")) o->tokens_file = v;
        else if ((!strcmp(a, "-p") || !strcmp(a, "--prompt")) && strstr(allowed, " prompt ")) o->prompt = v;
        else if (!strcmp(a, "--chunk-size")) o->chunk_size = parse_long(o->cmd, a, v, 1, INT_MAX);
        else if (!strcmp(a, "--sliding-window")) o->sliding_window = parse_long(o->cmd, a, v, 0, 1L << 30);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) o->threads = parse_long(o->cmd, a, v, 1, 1024);
        else if (!strcmp(a, "-n") && strstr(allowed, " gen ")) o->n_new = parse_long(o->cmd, a, v, 0, 1L << 24);
        else if (!strcmp(a, "--temperature") && strstr(allowed, " gen ")) o->temperature = parse_double(o->cmd, a, v);
        else if (!strcmp(a, "--top-p") && strstr(allowed, " gen ")) o->top_p = parse_double(o->cmd, a, v);
        else if (!strcmp(a, "--min-p") && strstr(allowed, " gen ")) o->min_p = parse_double(o->cmd, a, v);
        else if (!strcmp(a, "--top-k") && strstr(allowed, " gen ")) o->top_k = parse_long(o->cmd, a, v, 0, INT_MAX);
        else if (!strcmp(a, "--seed") && strstr(allowed, " gen ")) o->seed = (unsigned long long)parse_long(o->cmd, a, v, 0, LONG_MAX);
        else usage_error(o->cmd, "unknown option: %s", a);
    }
    if (!o->model) usage_error(o->cmd, "%s", "missing -m MODEL");
}

/* "1,5,9" (commas and/or blanks) -> ids; dies on anything else. */
static int *parse_ids(const char *s, int *n, const char *where) {
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

static void check_vocab(const int *ids, int n, const Model *m, const char *where) {
    for (int i = 0; i < n; i++)
        if (ids[i] >= m->cfg.n_vocab)
            die("%s: token id %d is outside the vocabulary (0..%d)", where, ids[i],
                m->cfg.n_vocab - 1);
}

static void load_model(Model *m, const Options *o) {
    ModelOptions mo = {.sliding_window = (int)o->sliding_window};
    if (model_load(m, o->model, &mo)) die("%s", err_msg());
}

/* ---- mistral logits ---------------------------------------------------------- */

static const char *logits_help =
    "usage: mistral logits -m MODEL --tokens 1,5,9 [--all] [--chunk-size C] [--sliding-window N]\n"
    "\n"
    "Feeds the tokens to the model and prints {\"logits\": [[...]]} on stdout: the\n"
    "logits after the last token, or after every token with --all.\n"
    "\n"
    "  -m, --model MODEL     model directory (params.json + consolidated.safetensors)\n"
    "  --tokens IDS          prompt token ids, comma separated\n"
    "  --all                 print a row for every position\n"
    "  --chunk-size C        feed the prompt C tokens per forward call (same result)\n"
    "  --sliding-window N    override the model's attention window (0: full attention)\n"
    "  -t, --threads N       accepted; the reference kernels run on one thread\n";

static void print_row(const float *x, int n) {
    putchar('[');
    for (int i = 0; i < n; i++) printf(i ? ",%.9g" : "%.9g", x[i]);
    putchar(']');
}

static int cmd_logits(const Options *o) {
    if (!o->tokens) usage_error(o->cmd, "%s", "missing --tokens");
    int n;
    int *ids = parse_ids(o->tokens, &n, "--tokens");
    Model m;
    load_model(&m, o);
    check_vocab(ids, n, &m, "--tokens");
    Context ctx;
    if (context_init(&ctx, &m, 1, n)) die("%s", err_msg());
    int chunk = o->chunk_size > 0 ? (int)o->chunk_size : GEN_DEFAULT_CHUNK;
    int V = m.cfg.n_vocab;
    int *seqs = xcalloc((size_t)chunk, sizeof(int));
    long *pos = xmalloc((size_t)chunk * sizeof(long));
    unsigned char *want = xmalloc((size_t)chunk);
    float *logits = xmalloc((size_t)chunk * V * sizeof(float));
    fputs("{\"logits\": [", stdout);
    int rows = 0;
    for (int s = 0; s < n; s += chunk) {
        int k = n - s < chunk ? n - s : chunk;
        for (int i = 0; i < k; i++) {
            pos[i] = s + i;
            want[i] = o->all || s + i == n - 1;
        }
        Batch b = {.n = k, .token = ids + s, .seq = seqs, .pos = pos, .want = want};
        if (forward(&ctx, &b, logits)) die("%s", err_msg());
        int got = 0;
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

/* ---- mistral generate -------------------------------------------------------- */

static const char *generate_help =
    "usage: mistral generate -m MODEL (--tokens 1,5,9 | --tokens-file F) [-n N] [--ids]\n"
    "                        [--temperature T] [--top-p P] [--top-k K] [--min-p P] [--seed S]\n"
    "                        [--chunk-size C] [--sliding-window N]\n"
    "\n"
    "Generates N tokens after the prompt and prints their ids, space separated.\n"
    "With --tokens-file, every line of F is a prompt; all of them are generated\n"
    "together in one batch and each gets its own output line, the same as alone.\n"
    "\n"
    "  -m, --model MODEL     model directory (params.json + consolidated.safetensors)\n"
    "  --tokens IDS          prompt token ids, comma separated\n"
    "  --tokens-file F       one prompt per line (ids separated by commas or blanks)\n"
    "  -n N                  tokens to generate (default 16)\n"
    "  --ids                 print token ids (the only output until tokenizers land)\n"
    "  --temperature T       0 is greedy (default 0)\n"
    "  --top-p P, --top-k K, --min-p P   sampling filters (defaults 1, 0, 0: off)\n"
    "  --seed S              sampler seed (default 0); each prompt uses the same seed\n"
    "  --chunk-size C        prefill C prompt tokens per forward call (same result)\n"
    "  --sliding-window N    override the model's attention window (0: full attention)\n"
    "  -t, --threads N       accepted; the reference kernels run on one thread\n";

typedef struct {
    int **out; /* per request: generated ids */
    int *n_out;
} Collected;

static int collect(void *ud, int req, int token) {
    Collected *c = ud;
    c->out[req][c->n_out[req]++] = token;
    return 0;
}

static int cmd_generate(const Options *o) {
    if (!o->tokens == !o->tokens_file)
        usage_error(o->cmd, "%s", o->prompt ? "-p TEXT needs a tokenizer, which is not supported "
                                              "yet; give --tokens or --tokens-file"
                                            : "give exactly one of --tokens, --tokens-file");
    if (!o->ids)
        usage_error(o->cmd, "%s", "text output needs a tokenizer, which is not supported yet; "
                                  "pass --ids");
    int n_req = 0, cap = 4;
    GenRequest *reqs = xmalloc((size_t)cap * sizeof *reqs);
    char *text = NULL;
    if (o->tokens) {
        reqs[0].prompt = parse_ids(o->tokens, &reqs[0].n_prompt, "--tokens");
        n_req = 1;
    } else {
        text = read_file(o->tokens_file, NULL);
        if (!text) die("%s", err_msg());
        int line = 0;
        for (char *p = text; *p;) {
            char *nl = strchr(p, '\n');
            if (nl) *nl = 0;
            line++;
            if (*p && strspn(p, " \t\r") != strlen(p)) {
                char where[64];
                snprintf(where, sizeof where, "%s line %d", "--tokens-file", line);
                if (n_req == cap) reqs = xrealloc(reqs, (size_t)(cap *= 2) * sizeof *reqs);
                reqs[n_req].prompt = parse_ids(p, &reqs[n_req].n_prompt, where);
                n_req++;
            } else if (nl) {
                die("%s line %d: empty prompt", o->tokens_file, line);
            }
            if (!nl) break;
            p = nl + 1;
        }
        if (n_req == 0) die("%s: no prompts", o->tokens_file);
    }
    Model m;
    load_model(&m, o);
    for (int r = 0; r < n_req; r++) {
        reqs[r].max_new = (int)o->n_new;
        check_vocab(reqs[r].prompt, reqs[r].n_prompt, &m, o->tokens ? "--tokens" : o->tokens_file);
    }
    Context ctx;
    if (context_init(&ctx, &m, n_req, generate_context_size(reqs, n_req))) die("%s", err_msg());
    GenOptions go = {.chunk_size = (int)o->chunk_size,
                     .sampler = {.temperature = (float)o->temperature, .top_p = (float)o->top_p,
                                 .top_k = (int)o->top_k, .min_p = (float)o->min_p,
                                 .seed = o->seed},
                     .eos = -1};
    Collected col = {xmalloc((size_t)n_req * sizeof(int *)), xcalloc((size_t)n_req, sizeof(int))};
    for (int r = 0; r < n_req; r++) col.out[r] = xmalloc(((size_t)o->n_new + 1) * sizeof(int));
    if (generate(&ctx, reqs, n_req, &go, collect, &col)) die("%s", err_msg());
    for (int r = 0; r < n_req; r++) {
        for (int i = 0; i < col.n_out[r]; i++) printf(i ? " %d" : "%d", col.out[r][i]);
        putchar('\n');
        free(col.out[r]);
        free((void *)reqs[r].prompt);
    }
    free(col.out), free(col.n_out), free(reqs), free(text);
    context_free(&ctx);
    model_free(&m);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- main -------------------------------------------------------------------- */

static const char *main_help =
    "usage: mistral COMMAND [options]\n"
    "\n"
    "Mistral and Mixtral inference on CPUs.\n"
    "\n"
    "commands:\n"
    "  generate   generate tokens after one or many prompts\n"
    "  logits     print the logits of a prompt as JSON\n"
    "\n"
    "mistral COMMAND --help shows a command's options.\n";

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(main_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    Options o = {.cmd = argv[1], .sliding_window = -1, .n_new = 16, .top_p = 1.0};
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            if (!strcmp(o.cmd, "logits")) fputs(logits_help, stdout);
            else if (!strcmp(o.cmd, "generate")) fputs(generate_help, stdout);
            else break;
            return 0;
        }
    if (!strcmp(o.cmd, "logits")) {
        parse_options(&o, argc, argv, " all ");
        return cmd_logits(&o);
    }
    if (!strcmp(o.cmd, "generate")) {
        parse_options(&o, argc, argv, " ids tokens-file prompt gen ");
        return cmd_generate(&o);
    }
    fprintf(stderr, "mistral: unknown command \"%s\" (see: mistral --help)\n", o.cmd);
    return 2;
}

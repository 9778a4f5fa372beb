/* cli — what every subcommand shares: options, fatal errors, loading. */
#ifndef APP_CLI_H
#define APP_CLI_H

#include <stdio.h>

#include "dist/launch.h"
#include "gen/draft.h"
#include "grammar/compile.h"
#include "grammar/vocab.h"
#include "model/model.h"
#include "model/experts.h"
#include "model/prepare.h"
#include "tok/tokenizer.h"

typedef struct {
    const char *cmd;
    const char *model, *tokenizer;
    const char *tokens, *tokens_file, *prompt, *prompt_file, *ids_list;
    const char *chat, *chat_format, *system, *stop;
    const char *type;          /* quantize --type */
    const char *shape;         /* synth --shape */
    double sharpen;            /* synth --sharpen: 0 off */
    const char *output, *out_format; /* imatrix -o FILE, --output-format gguf|dat */
    long chunks, skip_chunks;  /* imatrix --chunks N (at most), --chunk N (skipped first) */
    int process_output;        /* imatrix --process-output: output.weight too */
    const char *imatrix;       /* quantize --imatrix FILE */
    const char *kl_base;       /* perplexity --kl-base MODEL: KL divergence against it */
    long reps;                 /* bench -r */
    long depth;                /* bench -d: positions in the cache before tg */
    const char *kv_type;       /* --kv-type f32|f16 (NULL: f32) */
    int fast_bf16;             /* --fast-bf16: BF16 weights meet bf16-rounded activations */
    size_t mem_limit;          /* --mem-limit: bytes for the weights (0: no limit) */
    const char *args[4];       /* positional arguments (commands that take them) */
    int n_args;
    int all, ids, bos, ignore_eos;
    int json;                  /* info --json */
    /* generate, chat: the output's constraint (at most one; cli_constraint) */
    const char *json_schema;   /* --json-schema FILE|JSON */
    const char *grammar;       /* --grammar FILE (GBNF) */
    const char *regex;         /* --regex RE */
    int json_object;           /* --json: any JSON object */
    int json_strict;           /* --json-strict: additionalProperties false unless given */
    int pipeline, expert_parallel, dist_stats; /* generate: distribution (src/dist) */
    int verbose;                               /* generate: the expert cache's report */
    const char *layer_split;   /* generate --layer-split */
    const char *host, *api_key, *api_key_file, *alias; /* serve */
    const char *prompt_cache;  /* serve --prompt-cache DIR */
    size_t prompt_cache_size;  /* serve --prompt-cache-size (0: the default) */
    long port, parallel, batch_tokens, queue;         /* serve */
    long max_conn_per_ip, http_timeout;               /* serve: 0 = the defaults */
    long max_itl_ms;           /* serve --max-itl-ms (with max_itl_set; else the default) */
    int max_itl_set;
    const char *draft;         /* --draft MODEL: speculative decoding with a draft model */
    long lookup;               /* --lookup N: speculative decoding by prompt lookup (0: off) */
    long draft_max;            /* --draft-max K (0: the drafter's default) */
    int draft_always;          /* serve --draft-policy always (else auto) */
    long chunk_size, n_new, sliding_window, threads, ctx;
    double temperature, top_p, min_p;
    double presence_penalty, frequency_penalty, repeat_penalty; /* generate, chat: penalties */
    long repeat_last_n;
    long top_k;
    unsigned long long seed;
} Options;

/* Prints "mistral: ..." and exits 1 (in a distributed run: "mistral: rank
 * R of N: ..."). */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "mistral CMD: ... (see: mistral CMD --help)" and exits 2. */
_Noreturn void usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Names this process's rank in die()'s messages (a distributed run). */
void cli_set_rank(int rank, int size);

/* Parses argv[2..] for subcommand o->cmd; dies on unknown or malformed flags. */
void options_parse(Options *o, int argc, char **argv);

/* "1,5,9" (commas and/or blanks) -> ids (caller frees); dies on anything else. */
int *parse_ids(const char *s, int *n, const char *where);
/* Dies unless every id is in [0, n_vocab). */
void check_vocab(const int *ids, int n, int n_vocab, const char *where);

void load_model(Model *m, const Options *o);
/* load_model with options of the command's own (-w still sets sliding_window). */
void load_model_with(Model *m, const Options *o, ModelOptions mo);
/* The tokenizer of --tokenizer, else of the model directory. */
void load_tokenizer(Tokenizer *t, const Options *o);
/* After context_init: the --kv-type, `threads` threads (0: one per CPU) and
 * the kernel table (MISTRAL_SIMD=generic|avx2|avx512|neon forces one). */
void setup_context(Context *ctx, const Options *o, long threads);
/* After setup_context, before the first forward: packs the share of m this
 * process runs (NULL: all of it) for ctx's table on ctx's threads
 * (MISTRAL_REPACK=0: leaves the rows as loaded) and, with --mem-limit,
 * opens the expert cache (MISTRAL_EXPERT_READS=buffered: its reads go
 * through the page cache). Dies on error. */
void prepare_model(Model *m, const Context *ctx, const Options *o, const ModelShare *share);
/* The kernel table: the CPU's best, or MISTRAL_SIMD's (a developer's override). */
const Kern *cli_kern(void);
/* --pipeline, --expert-parallel, --layer-split: checked (usage errors), d
 * filled, and the MPI job joined when they ask for one (dies when it cannot
 * be). Returns 1 in a distributed run. */
int cli_dist_join(const Options *o, DistOptions *d);
/* -t N, or in a distributed run without it this machine's cores shared
 * among its ranks. */
long cli_threads(const Options *o, int dist);
/* One line on f of an expert cache's counters over `tokens` tokens (what:
 * the phase, e.g. "tg"); disk_bw > 0: the disk's read bandwidth (B/s) and
 * the decode speed it allows at this miss rate. */
void print_expert_stats(FILE *f, const char *what, const ExpertStats *s, double tokens, double disk_bw,
                        double tok_s);
/* --json-schema, --json, --grammar, --regex (with --json-strict): the
 * constraint they ask for, s->kind CONSTRAINT_NONE when none; two of them
 * are a usage error. s->text is *owned (the caller frees it; NULL for none)
 * or a view of argv; *file the file it came from (NULL: inline).
 * --json-schema's value is inline JSON when it starts with '{' (after
 * blanks), else a file; dies when the file cannot be read. */
void cli_constraint(const Options *o, ConstraintSpec *s, char **owned, const char **file);
/* A Cli constraint ready for generate(): the grammar of s over tok and tok's
 * vocabulary view (built only here: it takes a while). */
typedef struct {
    Grammar g;
    Vocab v;
} CliConstraint;
/* Compiles s (not CONSTRAINT_NONE) for tok into c; dies with the compiler's
 * one line ("FILE: json schema: /properties/x: ...", file NULL: without
 * the file), before any token is made. */
void cli_constraint_compile(CliConstraint *c, const ConstraintSpec *s, const Tokenizer *tok, const char *file);
void cli_constraint_free(CliConstraint *c);

/* --draft MODEL or --lookup N (with --draft-max K): speculative decoding. */
typedef struct {
    int on;         /* a drafter was asked for */
    Drafter d;
    Model m;        /* --draft: the draft model */
    Context ctx;    /* --draft: its context */
    int have_model;
} CliDraft;
/* The speculation flags' usage errors (cli_draft_open checks them too). */
void cli_draft_check(const Options *o);
/* Sets up cd for target context ctx (its sequences; room for the drafts is
 * made in its caches): nothing (cd->on 0) without --draft or --lookup. The
 * draft model is loaded with mo (the target's rolling windows, for chat),
 * checked against the target's vocabulary (ttok: the target's tokenizer or
 * NULL; the draft's own is found beside it) and given a context of n_ctx
 * positions on ctx's threads. Dies with one line on error. */
void cli_draft_open(CliDraft *cd, const Options *o, Context *ctx, const Tokenizer *ttok, long n_ctx,
                    ModelOptions mo);
void cli_draft_close(CliDraft *cd);
/* "speculation: drafted D tokens, accepted A (R%) in S steps" on f. */
void cli_draft_report(FILE *f, const DraftStats *s);

/* The whole file, or dies. */
char *slurp(const char *path, size_t *len);

#endif

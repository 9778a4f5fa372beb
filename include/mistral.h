/* mistral.h — the public C API of mistral.c: Mistral and Mixtral inference
 * on CPUs, exactly as Mistral's reference computes it.
 *
 *   MistralModel *m;
 *   MistralModelParams mp = mistral_model_default_params();
 *   if (mistral_model_open(&m, "path/to/model", &mp) != MISTRAL_OK) {
 *       fprintf(stderr, "%s\n", mistral_error());
 *       return 1;
 *   }
 *   MistralContext *ctx;
 *   MistralContextParams cp = mistral_context_default_params();
 *   mistral_context_new(&ctx, m, &cp);
 *   int ids[256], n;
 *   mistral_tokenize(m, "Once upon a time", -1, 1, ids, 256, &n);
 *   const int *prompts[] = {ids};
 *   MistralGenParams gp = mistral_gen_default_params();
 *   gp.max_tokens = 32;
 *   mistral_generate(ctx, 1, prompts, &n, &gp, on_token, NULL);
 *   mistral_context_free(ctx);
 *   mistral_model_close(m);
 *
 * Errors: every function that can fail returns a MistralStatus (MISTRAL_OK
 * is 0; an enum, so an int to callers through an FFI) and leaves one line
 * saying what and where in mistral_error(), per thread. Nothing a caller or a file can cause (bad arguments, sizes, bad or
 * truncated files, memory running out for a caller-sized buffer) exits,
 * aborts or prints: the library reports it. Only broken internal invariants
 * (bugs) abort, with file:line.
 *
 * Threads: a model is read-only once opened and may be shared by contexts
 * on several threads; a context is used by one thread at a time, and runs
 * its own pool of n_threads worker threads for the matrix products and
 * attention. Results are bit-identical whatever the thread count, the batch
 * a token rides in, or the prompt's chunking.
 *
 * Only symbols starting with mistral_ (and types starting with Mistral)
 * are exported. */
#ifndef MISTRAL_H
#define MISTRAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MISTRAL_API __attribute__((visibility("default")))
#else
#define MISTRAL_API
#endif

#define MISTRAL_VERSION "0.6.0"

typedef enum {
    MISTRAL_OK = 0,
    MISTRAL_ERR_ARGUMENT = 1,     /* a bad argument: NULL, out of range, unknown name */
    MISTRAL_ERR_IO = 2,           /* a file could not be opened or read */
    MISTRAL_ERR_FORMAT = 3,       /* a model or tokenizer file is malformed or unsupported */
    MISTRAL_ERR_MEMORY = 4,       /* memory for a buffer of the caller's size ran out */
    MISTRAL_ERR_CONTEXT_FULL = 5, /* a sequence would pass the context it was made for */
    MISTRAL_ERR_INPUT = 6,        /* bad input: invalid UTF-8, a malformed chat request, a bad token id */
    MISTRAL_ERR_BUFFER = 7,       /* an output buffer is too small: *n_out says how large it must be */
    MISTRAL_ERR_NO_TOKENIZER = 8, /* the model has no tokenizer (give MistralModelParams.tokenizer) */
} MistralStatus;

typedef struct MistralModel MistralModel;
typedef struct MistralContext MistralContext;

/* The last error on this thread, one line ("" if none). */
MISTRAL_API const char *mistral_error(void);
/* The status's name ("MISTRAL_ERR_IO", ...). */
MISTRAL_API const char *mistral_status_name(int status);
/* The library's version, MISTRAL_VERSION. */
MISTRAL_API const char *mistral_version(void);

/* ---- models -------------------------------------------------------------- */

typedef struct {
    int n_threads;       /* threads that prepare the weights at open, and each context's
                            default; 0: one per online CPU */
    int sliding_window;  /* -1: the model's windows; 0: full attention; W > 0: W for every layer */
    int repack;          /* 1: weights repacked for the kernels at open (faster; memory of the
                            packed copy replaces the mapped pages); 0: read in place */
    const char *kernels; /* NULL: the best table for this CPU; or "generic", "avx2", "avx512",
                            "neon" (refused when the CPU lacks it) */
    const char *tokenizer; /* NULL: the one beside the model (or in the .gguf); or a path to
                              tokenizer.model[.vN] / tekken.json; "" for none */
    size_t mem_limit;    /* 0: every weight resident; > 0 (a mixture of experts): the bytes the
                            weights may hold — the dense part resident, the experts read from
                            the file into a cache of the rest as they are needed (the CLI's
                            --mem-limit; the same results). Too small for the dense part and
                            one expert: MISTRAL_ERR_ARGUMENT naming the minimum */
} MistralModelParams;

MISTRAL_API MistralModelParams mistral_model_default_params(void);

/* Opens a model: a directory (native params.json + consolidated.safetensors,
 * or Hugging Face's config.json + safetensors) or one llama.cpp .gguf file,
 * memory mapped and checked, and its tokenizer. *out is set on success
 * (NULL otherwise); the caller closes it. params may be NULL (defaults). */
MISTRAL_API MistralStatus mistral_model_open(MistralModel **out, const char *path,
                                             const MistralModelParams *params);
MISTRAL_API void mistral_model_close(MistralModel *m);

typedef struct {
    int dim, n_layers, head_dim, hidden_dim, n_heads, n_kv_heads, n_vocab;
    int n_experts, n_active; /* 0, 0 for a dense model */
    double rope_theta;
    float norm_eps;
    int bos, eos;            /* token ids; -1 without a tokenizer */
    int has_tokenizer;
    const char *chat_format; /* "v1", "v2", "v3", "v7", "tekken"; NULL without a tokenizer */
    const char *kernels;     /* the kernel table in use: "avx2", "avx512", ... */
    size_t kv_bytes_per_token; /* one sequence's KV cache per position, f32, over every layer */
} MistralInfo;

/* Fills *info (views stay valid while m is open). */
MISTRAL_API MistralStatus mistral_model_info(const MistralModel *m, MistralInfo *info);
/* Keys a query of `layer` sees (itself included); 0 = all; -1 for a bad layer. */
MISTRAL_API int mistral_model_window(const MistralModel *m, int layer);

/* ---- text ------------------------------------------------------------------ */

/* Encodes text[0..len) (len < 0: NUL-terminated) as the model's tokenizer
 * does (SentencePiece or Tekken), BOS first when add_bos. Writes up to cap
 * ids; *n_out gets the count, also when it exceeds cap
 * (MISTRAL_ERR_BUFFER: call again with a larger buffer). Invalid UTF-8 is
 * MISTRAL_ERR_INPUT. */
MISTRAL_API MistralStatus mistral_tokenize(const MistralModel *m, const char *text, long len, int add_bos,
                                           int *ids, int cap, int *n_out);
/* Decodes ids to text exactly as sentencepiece / mistral-common do (control
 * tokens as their text), NUL-terminated: *n_out gets the byte count without
 * the NUL, also when it exceeds cap - 1 (MISTRAL_ERR_BUFFER). */
MISTRAL_API MistralStatus mistral_detokenize(const MistralModel *m, const int *ids, int n, char *text,
                                             size_t cap, size_t *n_out);
/* Encodes an OpenAI-style chat request, {"messages": [...], "tools": [...]}
 * (the JSON of `mistral tokenize --chat`), as mistral-common does for the
 * model's chat format (format NULL) or "v1", "v2", "v3", "v7", "tekken":
 * ids as for mistral_tokenize. A malformed request is MISTRAL_ERR_INPUT. */
MISTRAL_API MistralStatus mistral_chat_encode(const MistralModel *m, const char *request_json,
                                              const char *format, int *ids, int cap, int *n_out);

/* ---- contexts: KV caches and the forward pass ----------------------------- */

typedef enum { MISTRAL_KV_F32 = 0, MISTRAL_KV_F16 = 1 } MistralKVType;

typedef struct {
    int n_seq;      /* sequences (KV caches); >= 1 */
    long n_ctx;     /* positions per sequence; layers with a window W keep only W of them
                       (a model whose layers all have windows runs past n_ctx) */
    int n_threads;  /* 0: the model's n_threads */
    int kv_type;    /* MISTRAL_KV_F32 (default, exact) or MISTRAL_KV_F16 (half the memory) */
    int fast_bf16;  /* 1: BF16 weights meet activations rounded to bf16 (each within 2^-8; the
                       same bits on every CPU; vdpbf16ps where the CPU has AVX512_BF16, half the
                       prefill's instructions): logits leave the exact path's but stay batch-,
                       chunk- and thread-invariant; 0 (default): exact fp32 products */
} MistralContextParams;

MISTRAL_API MistralContextParams mistral_context_default_params(void); /* 1 sequence, 4096 */

MISTRAL_API MistralStatus mistral_context_new(MistralContext **out, MistralModel *m,
                                              const MistralContextParams *params);
MISTRAL_API void mistral_context_free(MistralContext *ctx);

/* The next position of sequence seq (the tokens it holds); -1 for a bad seq. */
MISTRAL_API long mistral_seq_pos(const MistralContext *ctx, int seq);
/* Forgets everything sequence seq holds. */
MISTRAL_API MistralStatus mistral_seq_reset(MistralContext *ctx, int seq);
/* Keeps the first n_pos positions of seq (to regenerate or edit its end).
 * On a rolling cache the dropped positions' slots may already hold newer
 * keys: possible only while every layer still holds the keys position n_pos
 * needs; otherwise MISTRAL_ERR_ARGUMENT and nothing changes. */
MISTRAL_API MistralStatus mistral_seq_truncate(MistralContext *ctx, int seq, long n_pos);

/* One forward call over n tokens of several sequences: token i belongs to
 * sequence seq[i] at position pos[i] (pos NULL: each sequence continues
 * where it stopped); one sequence's tokens are contiguous and consecutive.
 * logits (n_want, n_vocab) receives a row for each token with want[i] != 0
 * (want NULL: every token), in batch order. */
MISTRAL_API MistralStatus mistral_decode(MistralContext *ctx, int n, const int *tokens, const int *seq,
                                         const long *pos, const unsigned char *want, float *logits);

/* ---- generation -------------------------------------------------------------- */

typedef struct {
    int max_tokens;    /* tokens to generate per prompt */
    float temperature; /* 0: greedy */
    float top_p;       /* 1: off */
    float min_p;       /* 0: off */
    int top_k;         /* 0: off */
    uint64_t seed;     /* the same seed gives the same tokens, alone or in a batch */
    int chunk_size;    /* prompt tokens per forward call; 0: 512; never changes results */
    int stop_at_eos;   /* 1: end a prompt at the tokenizer's EOS (not passed to the callback) */
    const char *const *stop; /* texts that end a prompt (not included in its text); or NULL */
    int n_stop;
    int append;        /* 1: continue each sequence's cache (a chat's next turn); 0: start over */
    /* Structured output (since 0.5): each prompt's new text is a sentence of
     * this constraint. Tokens are sampled only among those that keep the text
     * a prefix of the language, EOS only where it is complete, and a prompt
     * ends there (its callback then sees EOS, as if sampled; stop_at_eos is
     * implied). max_tokens still bounds it: too few tokens cut the text short. */
    int constraint;              /* a MistralConstraintKind; MISTRAL_CONSTRAINT_NONE (default) */
    const char *constraint_text; /* NUL-terminated: the JSON Schema, the GBNF grammar (root ::= ...)
                                    or the regular expression; unused for JSON_OBJECT and JSON */
    int constraint_strict;       /* JSON Schema: additionalProperties false where not given */
    /* Speculative decoding (since 0.6): a drafter guesses the next tokens and
     * the model checks them all in one forward call. The tokens are exactly
     * those without it (greedy and seeded, with constraints too); only the
     * number of forward calls changes. Give draft or lookup, not both. The
     * first speculative call on a context (or one with a larger draft_max)
     * makes room for the drafts in every sequence's cache, which empties
     * them: with append while a sequence holds tokens, MISTRAL_ERR_ARGUMENT. */
    MistralContext *draft;       /* a context of a draft model with the same vocabulary (size,
                                    pieces, BOS, EOS; else MISTRAL_ERR_ARGUMENT naming the first
                                    difference) and at least n_prompts sequences; its sequences
                                    are overwritten; not ctx itself; during the call it computes
                                    on ctx's threads (its own pool idles). NULL: none */
    int lookup;                  /* 1..64: prompt lookup with n-grams of up to this many tokens; 0: none */
    int draft_max;               /* the most tokens drafted per step, 1..32; 0: 8 with draft, 4 with lookup */
} MistralGenParams;

typedef enum {
    MISTRAL_CONSTRAINT_NONE = 0,
    MISTRAL_CONSTRAINT_JSON_SCHEMA = 1, /* JSON valid under a JSON Schema (keywords: README) */
    MISTRAL_CONSTRAINT_JSON_OBJECT = 2, /* any JSON object (OpenAI's response_format json_object) */
    MISTRAL_CONSTRAINT_JSON = 3,        /* any JSON value */
    MISTRAL_CONSTRAINT_GBNF = 4,        /* a grammar in llama.cpp's GBNF */
    MISTRAL_CONSTRAINT_REGEX = 5,       /* text the regular expression matches whole */
} MistralConstraintKind;

MISTRAL_API MistralGenParams mistral_gen_default_params(void); /* greedy, 128 tokens, stop at EOS */

/* Compiles params' constraint for m's tokenizer without generating: OK (also
 * for none), MISTRAL_ERR_INPUT with the compiler's one line in
 * mistral_error() ("json schema: /properties/tags: uniqueItems is not
 * supported", "gbnf: line 2 col 7: ...", "regex: offset 3: ..."),
 * MISTRAL_ERR_ARGUMENT for an unknown kind or a missing text,
 * MISTRAL_ERR_NO_TOKENIZER. mistral_generate checks the same way before any
 * token; the first constrained generation of a model also builds its
 * vocabulary's byte tries (tens to hundreds of ms, once). */
MISTRAL_API MistralStatus mistral_constraint_check(const MistralModel *m, const MistralGenParams *params);

/* What speculation did in ctx's last mistral_generate: drafted tokens the
 * model checked, and those it accepted (0 and 0 without speculation). */
MISTRAL_API MistralStatus mistral_spec_stats(const MistralContext *ctx, long *drafted, long *accepted);

/* Called with each new token of prompt `seq`: text is its certain new text
 * (UTF-8, never half a character, nothing that may still become a stop
 * text; may be empty; NULL without a tokenizer). Return nonzero to stop
 * that prompt. */
typedef int (*MistralTokenFn)(void *ud, int seq, int token, const char *text, size_t len);

/* Generates after each of n_prompts prompts, all in one batch: prompt i runs
 * in sequence i of ctx (n_prompts <= n_seq). Every prompt gets exactly the
 * tokens it would get alone. on_token may be NULL. */
MISTRAL_API MistralStatus mistral_generate(MistralContext *ctx, int n_prompts, const int *const *prompts,
                                           const int *n_prompt, const MistralGenParams *params,
                                           MistralTokenFn on_token, void *ud);

#ifdef __cplusplus
}
#endif

#endif

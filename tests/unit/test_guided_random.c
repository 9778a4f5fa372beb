/* test_guided_random — structured outputs' property test, the C side: over
 * random schemas (schemagen.h) and random logits, with every tokenizer in
 * ../shared (stories260K's and Mistral's four), what a guided sequence
 * decodes to is a sentence of its schema's grammar.
 *
 * Each schema is compiled with jsonschema_compile in one of four modes
 * (strict or not, compact or whitespace), then decoded several times under a
 * Guide: the logits are seeded random numbers, masked (guide_apply) and
 * picked (gen/sampler.h), as a model's would be. Some sequences lean toward
 * EOS and the closing tokens (bytes all of " ] }), more as they grow, so
 * that they finish within the token budget. Checks on each sequence: every
 * step allows a token and accepts the one sampled; a finished one (EOS
 * accepted) decodes (tokenizer_decode, what the user gets, equal to what a
 * Stream releases) to valid UTF-8 that grammar_recognize matches; an
 * unfinished one to a viable prefix.
 *
 *   test_guided_random [out.jsonl [schemas [seed]]]
 *
 * With a path it writes one JSON line per sequence, {"tokenizer", "schema_id",
 * "schema", "strict", "whitespace", "finished", "output", "ids"}, and one per
 * tokenizer, {"tokenizer", "summary": {...}}: tests/serve/property_test.mjs
 * runs it and validates every finished output with ajv, a real JSON Schema
 * validator. Tokenizers that are absent are skipped with a SKIP line (all
 * absent: nothing written). Seeded: the same lines every run; a longer hunt
 * gives more schemas per tokenizer (default N_SCHEMAS) or another seed. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/utf8.h"
#include "base/util.h"
#include "gen/guide.h"
#include "gen/sampler.h"
#include "gen/stream.h"
#include "grammar/jsonschema.h"
#include "grammar/vocab.h"
#include "harness.h"
#include "schemagen.h"
#include "tok/tokfile.h"

enum {
    N_SCHEMAS = 24, /* generated per tokenizer by default (some do not compile: empty intersections) */
    N_OUTPUTS = 4,  /* sequences per schema */
    BUDGET = 96,    /* tokens per sequence, EOS included */
};

typedef struct {
    int schemas, refused, outputs, finished;
} Counts;

/* closer[t]: token t's bytes are all of " ] } (it closes something). */
static unsigned char *closers(const Vocab *v) {
    unsigned char *c = xcalloc((size_t)v->n_vocab, 1);
    for (int t = 0; t < v->n_vocab; t++) {
        int n;
        const unsigned char *p = vocab_bytes(v, t, 0, &n);
        c[t] = p && n > 0;
        for (int i = 0; i < n && c[t]; i++) c[t] = p[i] == '"' || p[i] == ']' || p[i] == '}';
    }
    if (v->eos >= 0) c[v->eos] = 1;
    return c;
}

/* Random logits: Gumbel noise, the closers raised by lean. The argmax of
 * logits + Gumbel noise is a sample of softmax(logits) (the Gumbel-max
 * trick), so a greedy pick samples; a 16-bit table of the noise's quantiles
 * keeps a 131k vocabulary's step cheap (the sampler sorts the vocabulary). */
static float gumbel[1 << 16];

static void random_logits(float *logits, int n, uint64_t *rng, const unsigned char *closer, float lean) {
    if (gumbel[0] == 0)
        for (int k = 0; k < 1 << 16; k++) gumbel[k] = -logf(-logf(((float)k + 0.5f) / (float)(1 << 16)));
    for (int t = 0; t < n; t += 4) { /* four 16-bit draws per splitmix64 */
        uint64_t r = splitmix64(rng);
        for (int j = 0; j < 4 && t + j < n; j++, r >>= 16)
            logits[t + j] = gumbel[r & 0xFFFF] + (closer[t + j] ? lean : 0);
    }
}

/* One guided sequence: ids (EOS left out) and whether EOS ended it. */
static int generate(const Grammar *g, const Vocab *v, const unsigned char *closer, uint64_t *rng, float lean, IntVec *ids) {
    Guide gd;
    Sampler smp; /* greedy: the noise samples */
    if (guide_init(&gd, g, v)) {
        EXPECT(0, "%s", err_msg());
        return 0;
    }
    CHECK(!sampler_init(&smp, &(SamplerParams){.temperature = 0, .top_p = 1}, v->n_vocab));
    float *logits = xmalloc((size_t)v->n_vocab * sizeof *logits);
    int finished = 0;
    for (int step = 0; step < BUDGET && !finished; step++) {
        random_logits(logits, v->n_vocab, rng, closer, lean > 0 ? lean + 0.1f * (float)step : 0);
        int allowed = guide_apply(&gd, logits);
        EXPECTQ(allowed > 0, "no token allowed after %d tokens", ids->n);
        if (allowed <= 0) break;
        int t = sampler_sample(&smp, logits);
        if (guide_accept(&gd, t)) {
            EXPECTQ(0, "sampled token %d refused: %s", t, err_msg());
            break;
        }
        if (t == v->eos) finished = 1;
        else intvec_push(ids, t);
    }
    free(logits);
    sampler_free(&smp);
    guide_free(&gd);
    return finished;
}

/* The C-side checks of one sequence's text. */
static void check_text(const Grammar *g, const Tokenizer *tok, const IntVec *ids, const ByteBuf *text, int finished,
                       const char *label, const char *schema) {
    int got = grammar_recognize_bytes(g, text->p, text->n);
    if (!finished) {
        EXPECTQ(got != GRAMMAR_DEAD, "%s: %s: unfinished output '%.*s' is no viable prefix", label, schema, (int)text->n,
                text->p);
        return;
    }
    EXPECTQ(got == GRAMMAR_MATCH, "%s: %s: output '%.*s' is not a sentence (%d)", label, schema, (int)text->n, text->p, got);
    size_t bad;
    EXPECTQ(utf8_valid(text->p, text->n, &bad), "%s: %s: output '%.*s' is not UTF-8 at byte %zu", label, schema,
            (int)text->n, text->p, bad);
    EXPECTQ(!memchr(text->p, 0, text->n), "%s: %s: output has a NUL byte", label, schema);
    Stream st; /* what a streaming client gets */
    ByteBuf streamed = {0};
    stream_init(&st, tok, NULL, 0);
    for (int i = 0; i < ids->n; i++) stream_push(&st, ids->v[i], &streamed);
    stream_finish(&st, &streamed);
    EXPECTQ(streamed.n == text->n && !memcmp(streamed.p, text->p, text->n), "%s: %s: streamed '%.*s' != decoded '%.*s'",
            label, schema, (int)streamed.n, streamed.p, (int)text->n, text->p);
    stream_free(&st);
    bytebuf_free(&streamed);
}

static void write_output(FILE *out, const char *label, int id, const cJSON *schema, const JsonSchemaOptions *opt,
                         int finished, const ByteBuf *text, const IntVec *ids) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "tokenizer", label);
    cJSON_AddNumberToObject(o, "schema_id", id);
    cJSON_AddItemToObject(o, "schema", cJSON_Duplicate(schema, 1));
    cJSON_AddBoolToObject(o, "strict", opt->strict);
    cJSON_AddNumberToObject(o, "whitespace", opt->whitespace);
    cJSON_AddBoolToObject(o, "finished", finished);
    ByteBuf s = {0}; /* JSON holds UTF-8: an unfinished text may end inside a character */
    utf8_replace_invalid(&s, text->p, text->n);
    bytebuf_putc(&s, 0);
    cJSON_AddStringToObject(o, "output", s.p);
    cJSON_AddItemToObject(o, "ids", cJSON_CreateIntArray(ids->v, ids->n));
    char *line = cJSON_PrintUnformatted(o);
    fprintf(out, "%s\n", line);
    free(line);
    bytebuf_free(&s);
    cJSON_Delete(o);
}

static void run_tokenizer(const char *path, const char *label, int n_schemas, uint64_t seed, FILE *out) {
    Tokenizer tok = {0};
    Vocab v = {0};
    if (tokenizer_load(&tok, path) || vocab_init(&v, &tok)) {
        EXPECT(0, "%s: %s", path, err_msg());
        goto done;
    }
    unsigned char *closer = closers(&v);
    static const float leans[] = {0, 4, 8, 12};
    uint64_t rng = seed;
    Counts n = {0};
    for (int s = 0; s < n_schemas; s++) {
        cJSON *root = schemagen_root(&rng);
        char *text = cJSON_PrintUnformatted(root);
        JsonSchemaOptions opt = {.strict = s & 1, .whitespace = s & 2 ? 2 : 0};
        Grammar g;
        grammar_init(&g);
        if (jsonschema_compile(&g, text, strlen(text), &opt)) {
            EXPECTQ(schemagen_empty_error(err_msg()), "%s: %s", text, err_msg());
            n.refused++;
        } else {
            n.schemas++;
            for (int k = 0; k < N_OUTPUTS; k++) {
                IntVec ids = {0};
                ByteBuf dec = {0};
                int finished = generate(&g, &v, closer, &rng, leans[k % 4], &ids);
                EXPECT(!tokenizer_decode(&tok, ids.v, ids.n, &dec), "%s", err_msg());
                check_text(&g, &tok, &ids, &dec, finished, label, text);
                if (out) write_output(out, label, s, root, &opt, finished, &dec, &ids);
                n.outputs++, n.finished += finished;
                bytebuf_free(&dec);
                intvec_free(&ids);
            }
        }
        grammar_free(&g);
        free(text);
        cJSON_Delete(root);
    }
    free(closer);
    EXPECT(n.finished * 2 >= n.outputs, "%s: only %d of %d outputs finished", label, n.finished, n.outputs);
    fprintf(stderr, "  %-44s %d schemas (%d refused), %d outputs, %d finished\n", label, n.schemas, n.refused, n.outputs,
            n.finished);
    if (out)
        fprintf(out, "{\"tokenizer\":\"%s\",\"summary\":{\"schemas\":%d,\"refused\":%d,\"outputs\":%d,\"finished\":%d}}\n",
                label, n.schemas, n.refused, n.outputs, n.finished);
done:
    vocab_free(&v);
    tokenizer_free(&tok);
}

int main(int argc, char **argv) {
    const char *env = getenv("MISTRAL_SHARED");
    const char *shared = env && *env ? env : "../shared";
    static const char *files[] = {"models/stories260K/tokenizer.model", "tokenizers/mistral/tokenizer.model.v1",
                                  "tokenizers/mistral/mistral_instruct_tokenizer_240323.model.v3",
                                  "tokenizers/mistral/mistral_instruct_tokenizer_241114.model.v7",
                                  "tokenizers/mistral/tekken_240718.json"};
    int n_schemas = argc > 2 ? atoi(argv[2]) : N_SCHEMAS;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 20;
    FILE *out = NULL;
    if (argc > 1 && !(out = fopen(argv[1], "w"))) {
        fprintf(stderr, "test_guided_random: cannot write %s\n", argv[1]);
        return 1;
    }
    struct stat st;
    if (stat(shared, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found (set MISTRAL_SHARED to the shared folder)\n", shared);
        if (out) fclose(out);
        return test_done("guided_random");
    }
    int ran = 0;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", shared, files[i]);
        if (stat(path, &st) != 0) {
            fprintf(stderr, "SKIP: %s not found\n", path);
            continue;
        }
        const char *base = strrchr(files[i], '/') + 1;
        run_tokenizer(path, i == 0 ? "stories260K" : base, n_schemas, seed + i, out);
        ran++;
    }
    if (!ran) fprintf(stderr, "SKIP: no tokenizer under %s\n", shared);
    if (out && fclose(out)) EXPECT(0, "cannot write %s", argv[1]);
    return test_done("guided_random");
}

/* mask_bench — how long a token mask takes (grammar/constraint.h), per
 * tokenizer and grammar, along realistic outputs.
 *
 *   build/bench/mask_bench [shared-dir] [repeats] [wall]
 *
 * For each tokenizer (the 32k v3 and the 131k Tekken, then v1 and v7) and
 * each grammar (any JSON value; a schema-like object), JSON documents
 * (records with names in several scripts, numbers, arrays, nesting, pretty-
 * printed) are tokenized as a model would write them; each document is then
 * generated token by token under the constraint: a mask, then accept the
 * document's token. Printed: the vocabulary's build time, the grammar's
 * compile time, and the mask time's p50/p99/max over every token
 * - cold: a new Constraint per document (a request with a new grammar);
 * - warm: one Constraint reset between documents (the grammar seen before).
 * Times are the thread's CPU time (a preempted mask is not charged the wait)
 * unless `wall`. The machine's CPU comes from /proc/cpuinfo. MASK_SLOW_US=n
 * in the environment prints each mask slower than n µs with the walk's
 * statistics (trie nodes stepped, subtrees taken whole, states, hits).
 * Then JSONSchemaBench-like schemas (flat, enums, nested, arrays, $ref
 * recursion, patterns and formats) compiled by jsonschema_compile: the
 * compile time, and the mask times along two valid documents each, a new
 * Constraint per document. Results: bench/RESULTS.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/unit/grammars.h"
#include "base/util.h"
#include "grammar/constraint.h"
#include "grammar/jsonschema.h"
#include "tok/tokfile.h"

static uint64_t rng = 7;
static int rnd(int n) { return (int)(splitmix64(&rng) % (uint64_t)n); }

static const char *names[] = {"Ada Lovelace", "José Álvarez", "Zoë Ünal", "北京大学", "Москва Сити", "Ngozi Okafor",
                              "O'Brien & Sons", "Li \\\"Tiger\\\" Wei", "Émilie du Châtelet", "Αθήνα"};
static const char *words[] = {"alpha", "beta", "research", "café", "東京", "open-source", "ML", "données", "emoji 😀", "x"};
static const char *streets[] = {"221B Baker Street", "1600 Pennsylvania Ave NW", "Rue de Rivoli 75001",
                                "Unter den Linden 5", "銀座4丁目", "Calle Mayor, 3º izq."};
static const char *kinds[] = {"person", "company", "place"};

/* One record of the schema grammar's shape; indent: pretty-printed. */
static void record(ByteBuf *b, int indent) {
    char tmp[512];
    const char *nl = indent ? "\n    " : "", *nl2 = indent ? "\n        " : "", *end = indent ? "\n" : "";
    const char *sp = indent ? " " : "";
    snprintf(tmp, sizeof tmp, "{%s\"name\":%s\"%s\",%s\"age\":%s%d,%s\"tags\":%s[", nl, sp, names[rnd(10)], nl, sp,
             rnd(100), nl, sp);
    bytebuf_push(b, tmp, strlen(tmp));
    for (int i = 0, n = rnd(4); i < n; i++) {
        snprintf(tmp, sizeof tmp, "%s%s\"%s\"", i ? "," : "", i ? sp : "", words[rnd(10)]);
        bytebuf_push(b, tmp, strlen(tmp));
    }
    snprintf(tmp, sizeof tmp, "],%s\"kind\":%s\"%s\",%s\"address\":%s{%s\"street\":%s\"%s\",%s\"zip\":%s%d.%d", nl, sp,
             kinds[rnd(3)], nl, sp, nl2, sp, streets[rnd(6)], nl2, sp, 10000 + rnd(90000), rnd(100));
    bytebuf_push(b, tmp, strlen(tmp));
    if (rnd(2)) {
        snprintf(tmp, sizeof tmp, ",%s\"verified\":%s%s", nl2, sp, rnd(2) ? "true" : "false");
        bytebuf_push(b, tmp, strlen(tmp));
    }
    snprintf(tmp, sizeof tmp, "%s}%s}", nl, end);
    bytebuf_push(b, tmp, strlen(tmp));
}

/* A JSON value document: an object holding records, numbers, nesting. */
static void json_doc(ByteBuf *b) {
    bytebuf_push(b, "{\"results\": [", 13);
    for (int i = 0, n = 1 + rnd(3); i < n; i++) {
        if (i) bytebuf_push(b, ", ", 2);
        record(b, rnd(2));
    }
    char tmp[256];
    snprintf(tmp, sizeof tmp, "], \"total\": %d, \"scores\": [%d.%d, -%de-3, 0], \"meta\": {\"ok\": true, "
             "\"next\": null, \"matrix\": [[1, 2], [3, [4, {\"deep\": \"yes\"}]]]}}", rnd(1000), rnd(10), rnd(99), rnd(9));
    bytebuf_push(b, tmp, strlen(tmp));
}

/* This thread's CPU seconds: a preempted mask is not charged the time it
 * waited (the machine may be shared). */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double (*now)(void) = cpu_seconds;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double *v;
    int n, cap;
} Times;

static void times_push(Times *t, double x) {
    if (t->n == t->cap) t->cap = t->cap ? 2 * t->cap : 1024, t->v = xrealloc(t->v, (size_t)t->cap * sizeof *t->v);
    t->v[t->n++] = x;
}

static void report(const char *tok, const char *gram, const char *mode, Times *t, double setup_ms) {
    qsort(t->v, (size_t)t->n, sizeof *t->v, cmp_double);
    double sum = 0;
    for (int i = 0; i < t->n; i++) sum += t->v[i];
    printf("| %-7s | %-6s | %-4s | %6d | %8.1f | %8.1f | %8.1f | %8.1f | %8.1f |\n", tok, gram, mode, t->n,
           1e6 * t->v[t->n / 2], 1e6 * t->v[(int)(0.99 * (t->n - 1))], 1e6 * t->v[t->n - 1], 1e6 * sum / t->n,
           setup_ms);
    t->n = 0;
}

/* JSONSchemaBench-like schemas, each with two documents it accepts (compact,
 * properties in the schema's order). */
static const struct {
    const char *name, *schema, *docs[2];
} schemas[] = {
    {"flat", "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},\"name\":{\"type\":\"string\"},"
             "\"email\":{\"type\":\"string\",\"format\":\"email\"},\"active\":{\"type\":\"boolean\"},"
             "\"score\":{\"type\":\"number\"}},\"required\":[\"id\",\"name\"]}",
     {"{\"id\":1042,\"name\":\"José Álvarez\",\"email\":\"jose.alvarez@example.com\",\"active\":true,\"score\":87.25}",
      "{\"id\":7,\"name\":\"北京大学 research group\",\"score\":-0.5}"}},
    {"enums", "{\"type\":\"object\",\"properties\":{\"status\":{\"enum\":[\"pending\",\"active\",\"suspended\","
              "\"deleted\"]},\"level\":{\"enum\":[1,2,3]},\"color\":{\"enum\":[\"red\",\"green\",\"blue\",null]},"
              "\"kind\":{\"const\":\"user\"}},\"required\":[\"status\",\"kind\"],\"additionalProperties\":false}",
     {"{\"status\":\"suspended\",\"level\":2,\"color\":null,\"kind\":\"user\"}",
      "{\"status\":\"active\",\"color\":\"green\",\"kind\":\"user\"}"}},
    {"nested", "{\"type\":\"object\",\"properties\":{\"user\":{\"type\":\"object\",\"properties\":{\"name\":"
               "{\"type\":\"string\",\"maxLength\":40},\"address\":{\"type\":\"object\",\"properties\":{\"street\":"
               "{\"type\":\"string\"},\"city\":{\"type\":\"string\"},\"geo\":{\"type\":\"object\",\"properties\":"
               "{\"lat\":{\"type\":\"number\"},\"lon\":{\"type\":\"number\"}},\"required\":[\"lat\",\"lon\"]}},"
               "\"required\":[\"city\"]}},\"required\":[\"name\",\"address\"]},\"version\":{\"type\":\"integer\","
               "\"minimum\":1,\"maximum\":99}},\"required\":[\"user\"]}",
     {"{\"user\":{\"name\":\"Ada Lovelace\",\"address\":{\"street\":\"221B Baker Street\",\"city\":\"London\","
      "\"geo\":{\"lat\":51.5237,\"lon\":-0.1585}}},\"version\":3}",
      "{\"user\":{\"name\":\"Zoë Ünal\",\"address\":{\"city\":\"Москва\"}}}"}},
    {"arrays", "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
               "\"properties\":{\"sku\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":12},\"qty\":{\"type\":"
               "\"integer\",\"minimum\":1,\"maximum\":1000}},\"required\":[\"sku\",\"qty\"]},\"minItems\":1,"
               "\"maxItems\":20},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":5},"
               "\"point\":{\"type\":\"array\",\"prefixItems\":[{\"type\":\"number\"},{\"type\":\"number\"}]}},"
               "\"required\":[\"items\"]}",
     {"{\"items\":[{\"sku\":\"AB-1001\",\"qty\":2},{\"sku\":\"ZZ-9\",\"qty\":125},{\"sku\":\"café-42\",\"qty\":1}],"
      "\"tags\":[\"urgent\",\"gift\",\"東京\"],\"point\":[1.5,-2]}",
      "{\"items\":[{\"sku\":\"X12\",\"qty\":999}]}"}},
    {"$ref", "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"size\":"
             "{\"type\":\"integer\"},\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}},"
             "\"required\":[\"name\"]}},\"$ref\":\"#/$defs/node\"}",
     {"{\"name\":\"src\",\"children\":[{\"name\":\"grammar\",\"children\":[{\"name\":\"jsonschema.c\",\"size\":"
      "41230},{\"name\":\"regex.c\",\"size\":18811}]},{\"name\":\"gen\",\"children\":[{\"name\":\"guide.c\"}]}]}",
      "{\"name\":\"leaf\",\"size\":0}"}},
    {"pattern", "{\"type\":\"object\",\"properties\":{\"phone\":{\"type\":\"string\",\"pattern\":"
                "\"^\\\\+?[0-9]{1,3}-[0-9]{3}-[0-9]{4}$\"},\"zip\":{\"type\":\"string\",\"pattern\":"
                "\"^[0-9]{5}(-[0-9]{4})?$\"},\"date\":{\"type\":\"string\",\"format\":\"date\"},\"id\":{\"type\":"
                "\"string\",\"format\":\"uuid\"}},\"required\":[\"phone\",\"date\"]}",
     {"{\"phone\":\"+1-555-0100\",\"zip\":\"94103-1234\",\"date\":\"2024-02-29\","
      "\"id\":\"123e4567-e89b-12d3-a456-426614174000\"}",
      "{\"phone\":\"44-207-9460\",\"date\":\"1999-12-31\"}"}},
};

/* The schemas' section for one vocabulary: compile time and mask times. */
static int bench_schemas(const char *label, const Tokenizer *tok, const Vocab *v, int repeats, Times *t) {
    printf("\n| tokenizer | schema | tokens | p50 µs | p99 µs | max µs | mean µs | compile ms |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
    uint32_t *bits = xmalloc((size_t)(v->n_vocab + 31) / 32 * 4);
    for (size_t k = 0; k < sizeof schemas / sizeof *schemas; k++) {
        double compile = 0;
        int compiles = 0;
        for (int r = 0; r < repeats; r++)
            for (int d = 0; d < 2; d++) {
                Grammar g;
                Constraint c;
                double s0 = now_seconds();
                if (jsonschema_compile(&g, schemas[k].schema, strlen(schemas[k].schema), NULL) ||
                    constraint_init(&c, &g, v)) {
                    fprintf(stderr, "%s: %s\n", schemas[k].name, err_msg());
                    return -1;
                }
                compile += now_seconds() - s0, compiles++;
                IntVec ids = {0};
                tokenizer_encode(tok, schemas[k].docs[d], strlen(schemas[k].docs[d]), 0, &ids);
                for (int i = 0; i <= ids.n; i++) {
                    double s1 = now();
                    constraint_mask(&c, bits);
                    times_push(t, now() - s1);
                    int id = i < ids.n ? ids.v[i] : v->eos;
                    if (id < 0) break;
                    if (constraint_accept(&c, id)) {
                        fprintf(stderr, "%s %s doc %d token %d: %s\n", label, schemas[k].name, d, i, err_msg());
                        return -1;
                    }
                }
                intvec_free(&ids);
                constraint_free(&c);
                grammar_free(&g);
            }
        qsort(t->v, (size_t)t->n, sizeof *t->v, cmp_double);
        double sum = 0;
        for (int i = 0; i < t->n; i++) sum += t->v[i];
        printf("| %-7s | %-7s | %6d | %8.1f | %8.1f | %8.1f | %8.1f | %8.2f |\n", label, schemas[k].name, t->n,
               1e6 * t->v[t->n / 2], 1e6 * t->v[(int)(0.99 * (t->n - 1))], 1e6 * t->v[t->n - 1], 1e6 * sum / t->n,
               1e3 * compile / compiles);
        t->n = 0;
    }
    free(bits);
    return 0;
}

int main(int argc, char **argv) {
    const char *shared = argc > 1 ? argv[1] : "../shared";
    int repeats = argc > 2 ? atoi(argv[2]) : 1;
    if (argc > 3 && !strcmp(argv[3], "wall")) now = now_seconds;
    double slow_us = getenv("MASK_SLOW_US") ? atof(getenv("MASK_SLOW_US")) : 0;
    char cpu[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
                snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
                cpu[strcspn(cpu, "\n")] = 0;
                break;
            }
        fclose(f);
    }
    printf("CPU: %s; times: %s\n", cpu, now == cpu_seconds ? "thread CPU time" : "wall clock");
    static const struct {
        const char *file, *label;
    } toks[] = {{"mistral_instruct_tokenizer_240323.model.v3", "v3 32k"},
                {"tekken_240718.json", "tekken"},
                {"tokenizer.model.v1", "v1 32k"},
                {"mistral_instruct_tokenizer_241114.model.v7", "v7 32k"}};
    Times t = {0};
    for (size_t k = 0; k < sizeof toks / sizeof *toks; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/tokenizers/mistral/%s", shared, toks[k].file);
        Tokenizer tok = {0};
        if (tokenizer_load(&tok, path)) {
            fprintf(stderr, "skip %s: %s\n", path, err_msg());
            continue;
        }
        Vocab v;
        double t0 = now_seconds();
        if (vocab_init(&v, &tok)) {
            fprintf(stderr, "%s\n", err_msg());
            return 1;
        }
        printf("\n%s: vocabulary %d tokens, trie %d nodes, built in %.1f ms\n\n", toks[k].label, v.n_vocab,
               v.mid.n_nodes, 1e3 * (now_seconds() - t0));
        printf("| tokenizer | grammar | mode | tokens | p50 µs | p99 µs | max µs | mean µs | setup ms |\n");
        printf("|---|---|---|---:|---:|---:|---:|---:|---:|\n");
        for (int gk = 0; gk < 2; gk++) {
            /* the documents, as ids */
            IntVec docs[12];
            rng = 7;
            for (int d = 0; d < 12; d++) {
                ByteBuf text = {0};
                if (gk) record(&text, d % 2);
                else json_doc(&text);
                docs[d] = (IntVec){0};
                tokenizer_encode(&tok, text.p, text.n, 0, &docs[d]);
                bytebuf_free(&text);
            }
            uint32_t *bits = xmalloc((size_t)(v.n_vocab + 31) / 32 * 4);
            for (int warm = 0; warm < 2; warm++) {
                double setup = 0;
                int setups = 0;
                Grammar g;
                Constraint c;
                memset(&c, 0, sizeof c);
                for (int r = 0; r < repeats; r++)
                    for (int d = 0; d < 12; d++) {
                        if (!warm || (r == 0 && d == 0)) {
                            if (warm || r || d) constraint_free(&c), grammar_free(&g);
                            double s0 = now_seconds();
                            grammar_init(&g);
                            g.start = gk ? gr_schema(&g) : gr_json(&g);
                            if (grammar_finish(&g) || constraint_init(&c, &g, &v)) {
                                fprintf(stderr, "%s\n", err_msg());
                                return 1;
                            }
                            setup += now_seconds() - s0, setups++;
                        } else {
                            constraint_reset(&c);
                        }
                        for (int i = 0; i <= docs[d].n; i++) {
                            double s0 = now();
                            constraint_mask(&c, bits);
                            times_push(&t, now() - s0);
                            if (slow_us > 0 && now() - s0 > 1e-6 * slow_us)
                                fprintf(stderr, "%s %s %s: %.0f us, nodes %ld, skipped %ld, states %d, hits %ld, walks %ld\n",
                                        toks[k].label, gk ? "schema" : "json", warm ? "warm" : "cold", (now() - s0) * 1e6,
                                        c.stats.nodes, c.stats.skipped, c.m.n_states, c.stats.hits, c.stats.walks);
                            c.stats.nodes = c.stats.skipped = 0;
                            int id = i < docs[d].n ? docs[d].v[i] : v.eos;
                            if (id < 0) break;
                            if (constraint_accept(&c, id)) {
                                fprintf(stderr, "%s %s doc %d token %d: %s\n", toks[k].label, gk ? "schema" : "json", d,
                                        i, err_msg());
                                return 1;
                            }
                        }
                    }
                report(toks[k].label, gk ? "schema" : "json", warm ? "warm" : "cold", &t, 1e3 * setup / setups);
                constraint_free(&c);
                grammar_free(&g);
            }
            free(bits);
            for (int d = 0; d < 12; d++) intvec_free(&docs[d]);
        }
        if (bench_schemas(toks[k].label, &tok, &v, repeats, &t)) return 1;
        vocab_free(&v);
        tokenizer_free(&tok);
    }
    free(t.v);
    return 0;
}

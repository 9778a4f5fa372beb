/* fuzz_promptcache — libFuzzer target: prompt-cache files (server/
 * promptcache.h) on arbitrary bytes. The directory scan and the load must
 * accept or refuse a file, never read outside a buffer, write outside the
 * cache, leak or crash; a refused file is never restored.
 *
 * The first byte chooses how the rest becomes a file, so that the fuzzer
 * reaches past the checksums:
 *   bit 2 clear: the bytes as they are; bit 0 then stamps this model's
 *     magic, version and fingerprint into a header, bit 1 recomputes the
 *     three checksums over whatever the header's sizes say;
 *   bit 2 set: a well-formed file of this model (tiny MoE, window 8) built
 *     from the bytes (its token count, tokens and payload), then one byte
 *     at an offset the input names flipped when bit 3 is set.
 * The file's tokens (or the input's) are then looked up and restored. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "model/model.h"
#include "server/promptcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Model model;
static Context ctx;
static char dir[64], file[96];

static void setup(void) {
    if (dir[0]) return;
    CHECK(model_load(&model, "tests/data/tiny/moe_sw8_f32", NULL) == 0);
    CHECK(context_init(&ctx, &model, 1, 64) == 0);
    snprintf(dir, sizeof dir, "/tmp/fuzz-pcache-XXXXXX");
    CHECK(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/f.kvc", dir);
}

static void fix_sums(uint8_t *b, size_t n) {
    PCacheHeader h;
    if (n < sizeof h) return;
    memcpy(&h, b, sizeof h);
    size_t meta = 4 * ((size_t)h.n_tokens + (size_t)h.n_layers);
    if (h.n_tokens < (1u << 26) && h.n_layers < (1u << 16) && sizeof h + meta <= n) {
        h.token_sum = promptcache_checksum(PCACHE_SUM_SEED, b + sizeof h, meta);
        h.payload_sum = promptcache_checksum(PCACHE_SUM_SEED, b + sizeof h + meta, n - sizeof h - meta);
    }
    h.header_sum = 0;
    h.header_sum = promptcache_checksum(PCACHE_SUM_SEED, &h, sizeof h);
    memcpy(b, &h, sizeof h);
}

/* A well-formed file of this model from the input: N = 1 + in[0] % 40 tokens. */
static uint8_t *forge(const uint8_t *in, size_t n_in, size_t *n_out) {
    const Config *c = &model.cfg;
    int N = 1 + (n_in ? in[0] % 40 : 0);
    size_t row = dtype_bytes(ctx.kv_type, (size_t)c->head_dim), payload = 0;
    uint32_t first[64];
    CHECK(c->n_layers <= 64);
    for (int l = 0; l < c->n_layers; l++) {
        int w = c->window[l];
        first[l] = (uint32_t)(w > 0 && N - w + 1 > 0 ? N - w + 1 : 0);
        payload += 2 * (size_t)c->n_kv_heads * (size_t)(N - (int)first[l]) * row;
    }
    PCacheHeader h = {.version = PCACHE_VERSION, .n_tokens = (uint32_t)N, .fingerprint = promptcache_fingerprint(&ctx),
                      .n_layers = (uint32_t)c->n_layers, .n_kv_heads = (uint32_t)c->n_kv_heads,
                      .row_bytes = (uint32_t)row, .kv_type = (uint32_t)ctx.kv_type, .payload_bytes = payload};
    memcpy(h.magic, "MSTRLKVC", 8);
    size_t meta = 4 * ((size_t)N + (size_t)c->n_layers);
    *n_out = sizeof h + meta + payload;
    uint8_t *b = xcalloc(1, *n_out);
    memcpy(b, &h, sizeof h);
    for (int i = 0; i < N; i++) {
        int t = n_in > 1 + (size_t)i ? in[1 + i] % c->n_vocab : i;
        memcpy(b + sizeof h + 4 * (size_t)i, &t, 4);
    }
    memcpy(b + sizeof h + 4 * (size_t)N, first, 4 * (size_t)c->n_layers);
    for (size_t i = 0; i < payload; i++) b[sizeof h + meta + i] = n_in ? in[i % n_in] : 0;
    fix_sums(b, *n_out);
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    if (size < 1) return 0;
    int mode = data[0];
    size_t n;
    uint8_t *b;
    if (mode & 4) {
        b = forge(data + 1, size - 1, &n);
        if ((mode & 8) && size >= 4) b[((size_t)data[2] << 8 | data[3]) % n] ^= (uint8_t)(data[1] | 1);
    } else {
        n = size - 1;
        b = xmalloc(n ? n : 1);
        memcpy(b, data + 1, n);
        if ((mode & 1) && n >= sizeof(PCacheHeader)) {
            PCacheHeader h;
            memcpy(&h, b, sizeof h);
            memcpy(h.magic, "MSTRLKVC", 8);
            h.version = PCACHE_VERSION, h.fingerprint = promptcache_fingerprint(&ctx);
            memcpy(b, &h, sizeof h);
        }
        if (mode & 2) fix_sums(b, n);
    }
    FILE *f = fopen(file, "wb");
    CHECK(f && fwrite(b, 1, n, f) == n && fclose(f) == 0);
    PromptCache *pc = promptcache_open(dir, 1 << 20, &ctx);
    CHECK(pc);
    /* the file's own tokens as the prompt (plus one), else the input's bytes */
    int prompt[64], np = 0;
    PCacheHeader h;
    if (n >= sizeof h) {
        memcpy(&h, b, sizeof h);
        for (; np < 63 && (uint32_t)np < h.n_tokens && sizeof h + 4 * (size_t)(np + 1) <= n; np++)
            memcpy(&prompt[np], b + sizeof h + 4 * (size_t)np, 4);
    }
    prompt[np++] = 1;
    int entry, L = promptcache_find(pc, prompt, np - 1, &entry);
    KVCache *kv = &ctx.seqs[0];
    if (L > 0) {
        int rc = promptcache_load(pc, entry, prompt, L, kv);
        if (rc == 0 && kv->n_pos != L) abort();
        if (rc != 0 && kv->n_pos != 0) abort(); /* a refused file leaves nothing behind */
    }
    kvcache_reset(kv);
    promptcache_close(pc);
    unlink(file);
    free(b);
    return 0;
}

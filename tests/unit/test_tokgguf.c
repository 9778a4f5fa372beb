/* test_tokgguf — tokenizers through GGUF metadata: Mistral's SentencePiece
 * tokenizers (v1, v3, v7), stories260K's and Tekken written with
 * tokenizer_to_gguf and read back give the golden ids of every golden string
 * and the same text back; a .gguf model file is its own tokenizer. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "harness.h"
#include "tok/tokfile.h"
#include "tok/tokgguf.h"

/* cJSON strings end at a NUL, and the golden texts hold U+0000: "\u0000"
 * escapes are read as U+FFFF and turned back into NUL by json_text (as in
 * test_spm). */
static cJSON *json_read(const char *path) {
    size_t len;
    char *buf = read_file(path, &len);
    if (!buf) return NULL;
    for (size_t i = 0, in_str = 0; i < len; i++) {
        if (buf[i] == '"') in_str = !in_str;
        else if (in_str && buf[i] == '\\') {
            if (i + 5 < len && !memcmp(buf + i + 1, "u0000", 5)) memcpy(buf + i + 2, "FFFF", 4);
            i++;
        }
    }
    cJSON *j = cJSON_ParseWithLength(buf, len);
    free(buf);
    return j;
}

static void write_tok(const Tokenizer *t, const char *path) {
    GGUFWriter w;
    gguf_writer_init(&w);
    EXPECT(tokenizer_to_gguf(t, &w) == 0, "%s", err_msg());
    FILE *fp = fopen(path, "wb");
    CHECK(fp);
    EXPECT(gguf_writer_write(&w, fp) == 0, "%s", err_msg());
    fclose(fp);
    gguf_writer_free(&w);
}

static void check(const char *shared, const char *tmp, const char *golden, const char *file) {
    char src[512], gpath[512], out[600];
    snprintf(src, sizeof src, "%s/%s", shared, file);
    snprintf(gpath, sizeof gpath, "%s/tokenizers/golden/golden_tokenize_%s.json", shared, golden);
    snprintf(out, sizeof out, "%s/%s.gguf", tmp, golden);
    Tokenizer a, b;
    CHECK(tokenizer_load(&a, src) == 0);
    write_tok(&a, out);
    if (tokenizer_load(&b, out)) {
        EXPECT(0, "%s: %s", out, err_msg());
        tokenizer_free(&a);
        return;
    }
    EXPECT(a.kind == b.kind && a.n_vocab == b.n_vocab && a.bos == b.bos && a.eos == b.eos &&
               !strcmp(a.version, b.version),
           "%s: kind %d/%d vocab %d/%d bos %d/%d eos %d/%d version %s/%s", golden, a.kind, b.kind,
           a.n_vocab, b.n_vocab, a.bos, b.bos, a.eos, b.eos, a.version, b.version);
    cJSON *g = json_read(gpath);
    CHECK(g);
    int n = 0, ok = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(g, "cases")) {
        size_t len;
        char *text = test_json_text(cJSON_GetObjectItemCaseSensitive(c, "text"), &len);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(c, "ids");
        IntVec got = {0};
        ByteBuf dec = {0}, dec_a = {0};
        int same = tokenizer_encode(&b, text, len, 0, &got) == 0 && got.n == cJSON_GetArraySize(ids);
        for (int i = 0; same && i < got.n; i++) same = got.v[i] == cJSON_GetArrayItem(ids, i)->valueint;
        same = same && tokenizer_decode_text(&b, got.v, got.n, &dec) == 0 &&
               tokenizer_decode_text(&a, got.v, got.n, &dec_a) == 0 && dec.n == dec_a.n &&
               (dec.n == 0 || !memcmp(dec.p, dec_a.p, dec.n));
        EXPECTQ(same, "%s: case %d (\"%.40s\"): ids or text differ from the golden", golden, n, text);
        ok += same, n++;
        intvec_free(&got), bytebuf_free(&dec), bytebuf_free(&dec_a), free(text);
    }
    EXPECT(n > 0, "%s: no cases", gpath);
    fprintf(stderr, "test_tokgguf: %s through GGUF: %d/%d golden strings\n", golden, ok, n);
    cJSON_Delete(g);
    /* what llama.cpp reads */
    GGUFFile f = {0};
    CHECK(gguf_open(&f, out) == 0);
    const char *model;
    int add_bos = 0, add_eos = 1;
    EXPECT(gguf_get_string(&f, "tokenizer.ggml.model", &model) == 0 &&
               !strcmp(model, a.kind == TOK_TEKKEN ? "gpt2" : "llama") &&
               gguf_get_bool(&f, "tokenizer.ggml.add_bos_token", &add_bos) == 0 && add_bos &&
               gguf_get_bool(&f, "tokenizer.ggml.add_eos_token", &add_eos) == 0 && !add_eos,
           "%s: llama.cpp's keys", out);
    if (a.kind == TOK_TEKKEN) {
        const GGUFKV *m = gguf_find_kv(&f, "tokenizer.ggml.merges");
        EXPECT(m && m->v.n > 100000, "%s: merges", out);
        if (m) fprintf(stderr, "test_tokgguf: %s: %llu merges\n", golden, (unsigned long long)m->v.n);
    }
    gguf_close(&f);
    tokenizer_free(&a);
    tokenizer_free(&b);
}

int main(void) {
    const char *shared = test_shared_dir();
    if (!shared) return test_done("test_tokgguf");
    const char *tmp = test_tmpdir();
    check(shared, tmp, "mistral_v1", "tokenizers/mistral/tokenizer.model.v1");
    check(shared, tmp, "mistral_v3", "tokenizers/mistral/mistral_instruct_tokenizer_240323.model.v3");
    check(shared, tmp, "mistral_v7", "tokenizers/mistral/mistral_instruct_tokenizer_241114.model.v7");
    check(shared, tmp, "tok512_tinystories", "models/stories260K/tokenizer.model");
    check(shared, tmp, "tekken_240718", "tokenizers/mistral/tekken_240718.json");
    test_rm_rf(tmp);
    return test_done("test_tokgguf");
}

/* test_load — every malformed model is refused with one clear error line and
 * never a crash, through the library (model_load + err_msg) and through the
 * command line (exit status 1, nothing on stdout, one "mistral: " line on
 * stderr naming the file); valid but unusual checkpoints still load.
 *
 * The malformed models are built here from the valid tiny ones: the
 * safetensors header (8-byte little-endian length + JSON) is parsed, edited
 * and written back, or the bytes are cut. One table, cases[], lists them: a
 * name, the mutation that makes it from a copy of the valid model, the error
 * expected. The command-line binary is the
 * mistral next to this program's build folder (build/tests/unit/test_load ->
 * build/mistral), so that `make asan` drives the sanitized one.
 *
 * MISTRAL_TEST_VERBOSE=1 prints every refused case's error line. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "harness.h"
#include "model/model.h"

#define DENSE "tests/data/tiny/dense_sw8_f32"
#define MOE "tests/data/tiny/moe_sw8_f32"

static char root[256];       /* every case's directory lives under it */
static char cli[512];        /* the mistral binary */
static int verbose;          /* MISTRAL_TEST_VERBOSE=1: print every case's error line */

/* ---- a safetensors file taken apart ---------------------------------------- */

typedef struct {
    unsigned char *raw; /* the whole file */
    size_t len;
    size_t hlen;        /* header bytes */
    cJSON *hdr;         /* the header, parsed */
    unsigned char *data; /* view into raw: the tensor bytes */
    size_t dlen;
} StFile;

static void st_read(StFile *f, const char *path) {
    f->raw = (unsigned char *)read_file(path, &f->len);
    if (!f->raw || f->len < 8) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | f->raw[i];
    f->hlen = (size_t)n;
    f->hdr = cJSON_ParseWithLength((const char *)f->raw + 8, f->hlen);
    if (!f->hdr) {
        fprintf(stderr, "%s: bad header\n", path);
        exit(1);
    }
    f->data = f->raw + 8 + f->hlen;
    f->dlen = f->len - 8 - f->hlen;
}

static void st_free(StFile *f) {
    cJSON_Delete(f->hdr);
    free(f->raw);
    memset(f, 0, sizeof *f);
}

/* Writes [u64 len][header text][`pad` spaces + spaces to 8-align][data]. */
static void put_st_text(const char *dir, const char *text, size_t tlen, size_t pad,
                        const void *data, size_t dlen) {
    size_t h = tlen + pad;
    h += (8 - (8 + h) % 8) % 8;
    size_t len = 8 + h + dlen;
    unsigned char *buf = xmalloc(len);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, text, tlen);
    memset(buf + 8 + tlen, ' ', h - tlen);
    if (dlen) memcpy(buf + 8 + h, data, dlen);
    char path[600];
    snprintf(path, sizeof path, "%s/consolidated.safetensors", dir);
    if (test_write_file(path, buf, len)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    free(buf);
}

static void put_st(const char *dir, const cJSON *hdr, const void *data, size_t dlen) {
    char *text = cJSON_PrintUnformatted(hdr);
    put_st_text(dir, text, strlen(text), 0, data, dlen);
    free(text);
}

static void put_raw(const char *dir, const char *file, const void *bytes, size_t len) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (test_write_file(path, bytes, len)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static cJSON *entry(cJSON *hdr, const char *name) {
    cJSON *e = cJSON_GetObjectItemCaseSensitive(hdr, name);
    if (!e) {
        fprintf(stderr, "no tensor %s in the test model\n", name);
        exit(1);
    }
    return e;
}

static double offset(cJSON *hdr, const char *name, int which) {
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(entry(hdr, name), "data_offsets"),
                              which)->valuedouble;
}

static void set_key(cJSON *obj, const char *key, cJSON *v) {
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    else cJSON_AddItemToObject(obj, key, v);
}

static void set_offsets(cJSON *hdr, const char *name, double b, double e) {
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateNumber(b));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(e));
    set_key(entry(hdr, name), "data_offsets", a);
}

/* Sets a key of a tensor's entry to a JSON fragment. */
static void set_field(cJSON *hdr, const char *name, const char *key, const char *json) {
    cJSON *v = cJSON_Parse(json);
    if (!v) {
        fprintf(stderr, "bad JSON fragment %s\n", json);
        exit(1);
    }
    set_key(entry(hdr, name), key, v);
}

/* ---- case directories -------------------------------------------------------- */

/* root/name, created empty. */
static void case_dir(char *dir, size_t cap, const char *name) {
    snprintf(dir, cap, "%s/%s", root, name);
    if (mkdir(dir, 0755) != 0) {
        perror(dir);
        exit(1);
    }
}

static void copy_in(const char *dir, const char *src, const char *file) {
    char from[600], to[600];
    snprintf(from, sizeof from, "%s/%s", src, file);
    snprintf(to, sizeof to, "%s/%s", dir, file);
    if (test_copy_file(from, to)) {
        fprintf(stderr, "cannot copy %s to %s\n", from, to);
        exit(1);
    }
}

/* params.json of src with key set to the JSON text `value`, verbatim (NULL:
 * removed). A key "moe.X" edits the moe object. */
static void put_params(const char *dir, const char *src, const char *key, const char *value) {
    char path[600];
    snprintf(path, sizeof path, "%s/params.json", src);
    char *text = read_file(path, NULL);
    cJSON *p = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!p) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    cJSON *obj = p;
    if (key && !strncmp(key, "moe.", 4)) {
        obj = cJSON_GetObjectItemCaseSensitive(p, "moe");
        key += 4;
    }
    if (key) {
        if (!value) {
            cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        } else {
            set_key(obj, key, cJSON_CreateRaw(value)); /* written verbatim: 1e999 stays */
        }
    }
    char *out = cJSON_Print(p);
    put_raw(dir, "params.json", out, strlen(out));
    free(out);
    cJSON_Delete(p);
}

/* ---- the checks ---------------------------------------------------------------- */

/* stderr is exactly one line. */
static int one_line(const char *s) {
    size_t n = s ? strlen(s) : 0;
    return n > 1 && s[n - 1] == '\n' && strchr(s, '\n') == s + n - 1;
}

/* Runs the CLI; checks status, empty stdout, one stderr line starting with
 * `prefix` and containing `sub` (if given). */
static void expect_cli(const char *label, const char *args, int status, const char *prefix,
                       const char *sub) {
    size_t n = strlen(cli) + strlen(args) + 8;
    char *cmd = xmalloc(n);
    snprintf(cmd, n, "%s %s", cli, args);
    char *out = NULL, *err = NULL;
    int rc = test_run(cmd, &out, &err);
    EXPECT(rc == status, "%s: %s: exit status %d, expected %d; stderr: %s", label, cmd, rc, status,
           err ? err : "");
    EXPECT(out && out[0] == 0, "%s: output on stdout: %.200s", label, out ? out : "(unreadable)");
    EXPECT(one_line(err), "%s: stderr is not one line:\n%s", label, err ? err : "(unreadable)");
    EXPECT(err && !strncmp(err, prefix, strlen(prefix)), "%s: stderr does not start with \"%s\": %s",
           label, prefix, err ? err : "");
    EXPECT(!sub || (err && strstr(err, sub)), "%s: stderr does not name \"%s\": %s", label, sub,
           err ? err : "");
    free(out), free(err), free(cmd);
}

/* Both the library and the CLI refuse the model in `dir`: the error names
 * `file` (a file or directory name) and contains `what`. */
static void expect_fail(const char *dir, const char *file, const char *what) {
    const char *label = strrchr(dir, '/') + 1;
    Model m;
    int rc = model_load(&m, dir, NULL);
    const char *e = err_msg();
    if (verbose) fprintf(stderr, "%-28s %s\n", label, e);
    EXPECT(rc == -1, "%s: model_load accepted a malformed model", label);
    if (rc == 0) model_free(&m);
    EXPECT(rc != -1 || strstr(e, file), "%s: error does not name \"%s\": %s", label, file, e);
    EXPECT(rc != -1 || !what || strstr(e, what), "%s: error lacks \"%s\": %s", label, what, e);
    EXPECT(rc != -1 || (e[0] && !strchr(e, '\n')), "%s: error is empty or not one line: %s", label,
           e);
    char args[1200];
    snprintf(args, sizeof args, "logits -m '%s' --tokens 1", dir);
    expect_cli(label, args, 1, "mistral: ", file);
}

/* Like expect_fail, for the cases a lenient loader would accept or report on
 * several lines (text after the JSON, names holding newlines, duplicates and
 * overlaps hidden from a neighbour check); `bug` says which. */
static void expect_refused(const char *dir, const char *file, const char *what, const char *bug) {
    const char *label = strrchr(dir, '/') + 1;
    Model m;
    int rc = model_load(&m, dir, NULL);
    char *e = xstrdup(err_msg());
    if (rc == 0) model_free(&m);
    int lib_ok = rc == -1 && strstr(e, file) && (!what || strstr(e, what)) && !strchr(e, '\n');
    char args[1200], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "%s logits -m '%s' --tokens 1", cli, dir);
    int st = test_run(args, &out, &err);
    EXPECT(st == 0 || st == 1, "%s: CLI exit status %d (a crash?): %s", label, st, err ? err : "");
    int cli_ok = st == 1 && out && !out[0] && one_line(err) && !strncmp(err, "mistral: ", 9);
    EXPECT(lib_ok && cli_ok, "%s: %s\n    model_load: %d, \"%s\"\n    CLI: exit %d, stderr \"%s\"",
              label, bug, rc, rc ? e : "", st, err ? err : "");
    free(out), free(err), free(e);
}

/* Loads dir and computes the logits of every one of n tokens into out. */
static int logits_of(const char *dir, const int *tok, int n, float *out, Model *keep) {
    Model m;
    if (model_load(&m, dir, NULL)) return -1;
    Context ctx;
    int rc = context_init(&ctx, &m, 1, n);
    if (rc == 0) {
        int seq[32] = {0};
        long pos[32];
        for (int i = 0; i < n; i++) pos[i] = i;
        Batch b = {.n = n, .token = tok, .seq = seq, .pos = pos};
        rc = forward(&ctx, &b, out);
        context_free(&ctx);
    }
    if (keep && rc == 0) *keep = m;
    else model_free(&m);
    return rc;
}

static const int TOK[12] = {1, 5, 9, 200, 17, 255, 0, 42, 42, 3, 128, 7};
#define NTOK 12
#define VOCAB 256

/* ---- malformed models: the mutations ---------------------------------------- */

#define ST "consolidated.safetensors"
#define P "params.json"
#define WQ "layers.0.attention.wq.weight"
#define WK "layers.0.attention.wk.weight"

/* One malformed model: a copy of the valid model src, changed by `mutate`
 * (which reads the fields its comment names), that must be refused. */
typedef struct Case Case;
typedef void Mutation(const char *dir, const Case *c, const StFile *f); /* f: dir's safetensors */
struct Case {
    const char *name;    /* the case's directory */
    Mutation *mutate;
    const char *tensor;  /* the tensor changed; a refusal must name it */
    const char *key;     /* a key of its entry, or of params.json */
    const char *value;   /* JSON (or text) put there; NULL: the key removed */
    uint64_t n;          /* where cut cuts; the length header_len writes */
    const char *file;    /* the file the error names (NULL: consolidated.safetensors) */
    const char *what;    /* text the error contains (NULL: any) */
    const char *bug;     /* set: what a lenient loader does here (checked by expect_refused) */
    const char *src;     /* the valid model (NULL: DENSE) */
};

static cJSON *hdr_copy(const StFile *f) { return cJSON_Duplicate(f->hdr, 1); }

/* Writes h (then freed) with f's tensor bytes. */
static void put_hdr(const char *dir, cJSON *h, const StFile *f) {
    put_st(dir, h, f->data, f->dlen);
    cJSON_Delete(h);
}

/* cut (.n): the safetensors file cut short. */
enum { IN_LENGTH, IN_HEADER, IN_DATA, LAST_BYTE, ALL };
static void cut(const char *dir, const Case *c, const StFile *f) {
    const size_t keep[] = {[IN_LENGTH] = 5, [IN_HEADER] = 8 + f->hlen / 2,
                           [IN_DATA] = 8 + f->hlen + f->dlen / 2, [LAST_BYTE] = f->len - 1, [ALL] = 0};
    put_raw(dir, ST, f->raw, keep[c->n]);
}

/* The file with its header length field set to n. */
static void put_header_len(const char *dir, const StFile *f, uint64_t n) {
    unsigned char *b = xmalloc(f->len);
    memcpy(b, f->raw, f->len);
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)(n >> (8 * k));
    put_raw(dir, ST, b, f->len);
    free(b);
}

/* header_len (.n): the header's length field says n. */
static void header_len(const char *dir, const Case *c, const StFile *f) {
    put_header_len(dir, f, c->n);
}

/* header_len_past_end: the length field one byte more than the file holds. */
static void header_len_past_end(const char *dir, const Case *c, const StFile *f) {
    put_header_len(dir, f, (uint64_t)f->len - 7);
}

/* header_text (.value): the header is this text. */
static void header_text(const char *dir, const Case *c, const StFile *f) {
    put_st_text(dir, c->value, strlen(c->value), 0, f->data, f->dlen);
}

/* header_append (.value): text after the header's JSON (in place of its padding). */
static void header_append(const char *dir, const Case *c, const StFile *f) {
    size_t v = strlen(c->value), n = f->hlen;
    char *t = xmalloc(f->hlen + v);
    memcpy(t, f->raw + 8, f->hlen);
    while (n && t[n - 1] == ' ') n--;
    memcpy(t + n, c->value, v);
    put_st_text(dir, t, n + v, 0, f->data, f->dlen);
    free(t);
}

/* set_entry (.tensor, .key, .value): a key of a tensor's entry set. */
static void set_entry(const char *dir, const Case *c, const StFile *f) {
    cJSON *h = hdr_copy(f);
    set_field(h, c->tensor, c->key, c->value);
    put_hdr(dir, h, f);
}

/* offsets_past_end (.tensor): the tensor's 64 KiB lie after the end. */
static void offsets_past_end(const char *dir, const Case *c, const StFile *f) {
    cJSON *h = hdr_copy(f);
    set_offsets(h, c->tensor, (double)f->dlen, (double)f->dlen + 65536);
    put_hdr(dir, h, f);
}

/* set_tensor (.tensor, .value): the tensor's whole entry is this JSON (added
 * if absent). */
static void set_tensor(const char *dir, const Case *c, const StFile *f) {
    cJSON *h = hdr_copy(f);
    set_key(h, c->tensor, cJSON_Parse(c->value));
    put_hdr(dir, h, f);
}

/* drop_key (.tensor, .key): a key removed from the tensor's entry. */
static void drop_key(const char *dir, const Case *c, const StFile *f) {
    cJSON *h = hdr_copy(f);
    cJSON_DeleteItemFromObjectCaseSensitive(entry(h, c->tensor), c->key);
    put_hdr(dir, h, f);
}

/* drop_tensor (.tensor): the entry removed (its bytes stay, unreferenced). */
static void drop_tensor(const char *dir, const Case *c, const StFile *f) {
    cJSON *h = hdr_copy(f);
    cJSON_DeleteItemFromObjectCaseSensitive(h, c->tensor);
    put_hdr(dir, h, f);
}

/* duplicate (.tensor): the same name twice, the same bytes. */
static void duplicate(const char *dir, const Case *c, const StFile *f) {
    cJSON *h = hdr_copy(f);
    cJSON_AddItemToObject(h, c->tensor, cJSON_Duplicate(entry(h, c->tensor), 1));
    put_hdr(dir, h, f);
}

/* duplicate_disjoint (.tensor): the same name twice, the second copy's 256
 * bytes appended after the data: which one is the weight? */
static void duplicate_disjoint(const char *dir, const Case *c, const StFile *f) {
    unsigned char *data2 = xmalloc(f->dlen + 256);
    memcpy(data2, f->data, f->dlen);
    memset(data2 + f->dlen, 0, 256);
    cJSON *h = hdr_copy(f);
    cJSON *x = cJSON_Duplicate(entry(h, c->tensor), 1);
    cJSON_AddItemToObject(h, c->tensor, x);
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)f->dlen));
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)f->dlen + 256));
    cJSON_ReplaceItemInObjectCaseSensitive(x, "data_offsets", a);
    put_st(dir, h, data2, f->dlen + 256);
    cJSON_Delete(h);
    free(data2);
}

/* wk_in_wq: two tensors sharing bytes, wk starting 4 bytes into wq. */
static void wk_in_wq(const char *dir, const Case *c, const StFile *f) {
    cJSON *h = hdr_copy(f);
    double b = offset(h, WQ, 0) + 4;
    set_offsets(h, WK, b, b + 32 * 64 * 4);
    put_hdr(dir, h, f);
}

/* extra_overlapping: an unused extra tensor overlapping a used one. */
static void extra_overlapping(const char *dir, const Case *c, const StFile *f) {
    cJSON *h = hdr_copy(f);
    cJSON_AddItemToObject(h, "extra.weight", cJSON_Duplicate(entry(h, "norm.weight"), 1));
    set_offsets(h, "extra.weight", 100, 356);
    put_hdr(dir, h, f);
}

/* empty_between: wk overlapping wq, a zero-sized tensor placed between them
 * (hiding the overlap from a check of neighbours only). */
static void empty_between(const char *dir, const Case *c, const StFile *f) {
    cJSON *h = hdr_copy(f);
    double b = offset(h, WQ, 0);
    cJSON_AddItemToObject(h, "empty",
                          cJSON_Parse("{\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]}"));
    set_offsets(h, "empty", b + 8, b + 8);
    set_offsets(h, WK, b + 16, b + 16 + 32 * 64 * 4);
    put_hdr(dir, h, f);
}

/* set_param (.key, .value): params.json's key set ("moe.X": in the moe
 * object), or removed. */
static void set_param(const char *dir, const Case *c, const StFile *f) {
    put_params(dir, dir, c->key, c->value);
}

/* params_text (.value): params.json is this text. */
static void params_text(const char *dir, const Case *c, const StFile *f) {
    put_raw(dir, P, c->value, strlen(c->value));
}

/* params_append (.value): text after params.json's JSON object. */
static void params_append(const char *dir, const Case *c, const StFile *f) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, P);
    size_t n, v = strlen(c->value);
    char *t = read_file(path, &n);
    t = xrealloc(t, n + v);
    memcpy(t + n, c->value, v);
    put_raw(dir, P, t, n + v);
    free(t);
}

static void unlink_in(const char *dir, const char *file) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    unlink(path);
}

/* remove_file: .file removed. */
static void remove_file(const char *dir, const Case *c, const StFile *f) { unlink_in(dir, c->file); }

/* file_is_dir: .file is a directory. */
static void file_is_dir(const char *dir, const Case *c, const StFile *f) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, c->file);
    unlink(path);
    mkdir(path, 0755);
}

/* hf_config: no params.json but an (empty) config.json: read as the HF layout. */
static void hf_config(const char *dir, const Case *c, const StFile *f) {
    unlink_in(dir, P);
    put_raw(dir, "config.json", "{}", 2);
}

/* empty: nothing in the directory. */
static void empty(const char *dir, const Case *c, const StFile *f) {
    unlink_in(dir, P);
    unlink_in(dir, ST);
}

/* ---- malformed models: the cases -------------------------------------------- */

/* A case of params.json's key set to value (JSON text; NULL: the key removed),
 * refused with an error naming params.json. */
#define PARAM(name_, src_, key_, value_, what_) \
    {name_, set_param, .key = key_, .value = value_, .file = P, .what = what_, .src = src_}

static const Case cases[] = {
    /* The safetensors file cut short. */
    {"cut_in_data", cut, .n = IN_DATA, .what = "truncated"},
    {"cut_last_byte", cut, .n = LAST_BYTE, .what = "past the end"},
    {"cut_in_header", cut, .n = IN_HEADER, .what = "header length"},
    {"cut_in_length", cut, .n = IN_LENGTH, .what = "too short"},
    {"empty_file", cut, .n = ALL, .what = "too short"},
    /* Its header's length past the end (a little, a lot, all ones), or zero. */
    {"header_len_past_end0", header_len_past_end, .what = "header length"},
    {"header_len_past_end1", header_len, .n = 1ull << 40, .what = "header length"},
    {"header_len_past_end2", header_len, .n = UINT64_MAX, .what = "header length"},
    {"header_len_zero", header_len, .n = 0, .what = "not valid JSON"},
    /* Its header not a JSON object, or one without the tensors. */
    {"header_not_json", header_text, .value = "{\"tok_embeddings.weight\": {\"dtype\": ",
     .what = "not valid JSON"},
    {"header_binary", header_text, .value = "\x01\x02\xff\xfe", .what = "not valid JSON"},
    {"header_trailing_garbage", header_append, .value = "garbage", .what = "JSON",
     .bug = "text after the header's JSON object is ignored"},
    {"header_array", header_text, .value = "[1, 2, 3]", .what = "not a JSON object"},
    {"header_string", header_text, .value = "\"tensors\"", .what = "not a JSON object"},
    {"header_empty_object", header_text, .value = "{}",
     .what = "missing tensor \"tok_embeddings.weight\""},

    /* Entries that are wrong in themselves. */
    {"offsets_past_end", offsets_past_end, "tok_embeddings.weight", .what = "past the end"},
    {"offsets_end_lt_begin", set_entry, WQ, "data_offsets", "[81920, 65536]", .what = "end < begin"},
    {"offsets_negative", set_entry, WQ, "data_offsets", "[-16384, 0]", .what = "data_offsets"},
    {"offsets_fraction", set_entry, WQ, "data_offsets", "[65536.5, 81920.5]", .what = "data_offsets"},
    {"offsets_huge", set_entry, WQ, "data_offsets", "[1e300, 1e301]", .what = "data_offsets"},
    {"offsets_three", set_entry, WQ, "data_offsets", "[0, 1, 2]", .what = "data_offsets"},
    {"offsets_strings", set_entry, WQ, "data_offsets", "[\"0\", \"16384\"]", .what = "data_offsets"},
    {"offsets_short", set_entry, WQ, "data_offsets", "[65536, 81916]", .what = "bytes for shape"},
    {"offsets_long", set_entry, WQ, "data_offsets", "[65536, 81924]", .what = "bytes for shape"},
    {"shape_too_big_for_bytes", set_entry, WQ, "shape", "[64, 65]", .what = "bytes for shape"},
    {"shape_negative", set_entry, WQ, "shape", "[-64, -64]", .what = "shape"},
    {"shape_not_list", set_entry, WQ, "shape", "64", .what = "shape"},
    {"shape_overflow", set_entry, WQ, "shape", "[4294967296, 4294967296, 4294967296]",
     .what = "shape too large"},
    {"shape_nine_dims", set_entry, WQ, "shape", "[1,1,1,1,1,1,1,64,64]", .what = "shape"},
    {"dtype_unknown", set_entry, WQ, "dtype", "\"F7\"", .what = "unknown dtype \"F7\""},
    {"dtype_not_string", set_entry, WQ, "dtype", "32", .what = "dtype"},
    {"dtype_lowercase", set_entry, WQ, "dtype", "\"f32\"", .what = "unknown dtype"},
    {"dtype_i32", set_entry, WQ, "dtype", "\"I32\"", .what = "has dtype I32"},
    {"dtype_u8_norm", set_entry, "norm.weight", "dtype", "\"U8\"", .what = "bytes for shape"},
    {"shape_wrong", set_entry, WQ, "shape", "[32, 128]", .what = "has shape [32, 128], expected [64, 64]"},
    {"shape_transposed_wk", set_entry, "layers.2.attention.wk.weight", "shape", "[64, 32]",
     .what = "has shape [64, 32], expected [32, 64]"},
    {"shape_3d", set_entry, WQ, "shape", "[64, 64, 1]", .what = "has shape [64, 64, 1]"},
    {"shape_vector_as_matrix", set_entry, "norm.weight", "shape", "[1, 64]",
     .what = "has shape [1, 64], expected [64]"},
    {"entry_not_object", set_tensor, "norm.weight", .value = "3", .what = "norm.weight"},
    {"entry_no_offsets", drop_key, "norm.weight", "data_offsets", .what = "norm.weight"},
    /* A tensor name or dtype with a newline must not break the one-line error. */
    {"newline_in_name", set_tensor, "evil\nname",
     .value = "{\"dtype\": \"F7\", \"shape\": [], \"data_offsets\": [0, 0]}", .what = "unknown dtype",
     .bug = "a newline in a tensor name reaches the error line"},
    {"newline_in_dtype", set_entry, "norm.weight", "dtype", "\"F\\n7\"", .what = "unknown dtype",
     .bug = "a newline in a dtype reaches the error line"},

    /* Entries that are wrong together: shared bytes, one name twice. */
    {"overlap", wk_in_wq, WK, .what = "overlap"},
    {"overlap_extra", extra_overlapping, .what = "overlap"},
    {"duplicate_same_bytes", duplicate, "layers.1.ffn_norm.weight", .what = "layers.1.ffn_norm.weight"},
    {"duplicate_disjoint", duplicate_disjoint, "norm.weight", .what = "norm.weight",
     .bug = "duplicate tensor name with disjoint data is accepted"},
    {"overlap_behind_empty", empty_between, .what = "overlap",
     .bug = "two overlapping tensors are accepted when a zero-sized one lies between"},

    /* A tensor the model needs missing. */
    {"missing_tensor0", drop_tensor, "layers.1.attention.wk.weight",
     .what = "missing tensor \"layers.1.attention.wk.weight\""},
    {"missing_tensor1", drop_tensor, "tok_embeddings.weight",
     .what = "missing tensor \"tok_embeddings.weight\""},
    {"missing_tensor2", drop_tensor, "norm.weight", .what = "missing tensor \"norm.weight\""},
    {"missing_tensor3", drop_tensor, "layers.3.feed_forward.w2.weight",
     .what = "missing tensor \"layers.3.feed_forward.w2.weight\""},
    {"missing_tensor4", drop_tensor, "layers.0.attention_norm.weight",
     .what = "missing tensor \"layers.0.attention_norm.weight\""},

    /* A params.json that disagrees with the weights. */
    {"params_more_layers", set_param, .key = "n_layers", .value = "5",
     .what = "missing tensor \"layers.4.attention_norm.weight\""},
    {"params_other_dim", set_param, .key = "dim", .value = "32",
     .what = "tok_embeddings.weight\" has shape [256, 64], expected [256, 32]"},
    {"params_other_vocab", set_param, .key = "vocab_size", .value = "512", .what = "tok_embeddings.weight"},
    {"params_other_hidden", set_param, .key = "hidden_dim", .value = "128", .what = "feed_forward.w1.weight"},
    {"params_other_kv", set_param, .key = "n_kv_heads", .value = "4", .what = "attention.wk.weight"},
    {"params_moe_on_dense", set_param, .key = "moe",
     .value = "{\"num_experts\": 2, \"num_experts_per_tok\": 1}", .what = "feed_forward.gate.weight"},

    /* MoE: an expert's tensor missing, the gate misshapen or for more experts. */
    {"moe_missing_expert", drop_tensor, "layers.1.feed_forward.experts.3.w2.weight", .src = MOE,
     .what = "missing tensor \"layers.1.feed_forward.experts.3.w2.weight\""},
    {"moe_gate_shape", set_entry, "layers.0.feed_forward.gate.weight", "shape", "[64, 4]", .src = MOE,
     .what = "has shape [64, 4], expected [4, 64]"},
    {"moe_more_experts", set_param, .key = "moe.num_experts", .value = "5", .src = MOE,
     .what = "\"layers.0.feed_forward.gate.weight\" has shape [4, 64], expected [5, 64]"},

    /* params.json wrong in itself: a key missing (NULL) or out of range. */
    PARAM("missing_dim", DENSE, "dim", NULL, "missing \"dim\""),
    PARAM("missing_n_layers", DENSE, "n_layers", NULL, "missing \"n_layers\""),
    PARAM("missing_n_heads", DENSE, "n_heads", NULL, "missing \"n_heads\""),
    PARAM("missing_hidden_dim", DENSE, "hidden_dim", NULL, "missing \"hidden_dim\""),
    PARAM("missing_vocab_size", DENSE, "vocab_size", NULL, "missing \"vocab_size\""),
    PARAM("missing_norm_eps", DENSE, "norm_eps", NULL, "missing \"norm_eps\""),
    PARAM("null_dim", DENSE, "dim", "null", "missing \"dim\""),
    PARAM("dim_0", DENSE, "dim", "0", "\"dim\""),
    PARAM("dim_string", DENSE, "dim", "\"64\"", "\"dim\" is not a number"),
    PARAM("dim_huge", DENSE, "dim", "1e12", "\"dim\""),
    PARAM("dim_inf", DENSE, "dim", "1e999", "\"dim\""),
    PARAM("n_layers_negative", DENSE, "n_layers", "-4", "\"n_layers\""),
    PARAM("n_heads_0", DENSE, "n_heads", "0", "\"n_heads\""),
    PARAM("kv_not_divisor", DENSE, "n_kv_heads", "3", "not a multiple of n_kv_heads 3"),
    PARAM("kv_more_than_heads", DENSE, "n_kv_heads", "8", "n_kv_heads 8"),
    PARAM("kv_0", DENSE, "n_kv_heads", "0", "\"n_kv_heads\""),
    PARAM("head_dim_odd", DENSE, "head_dim", "15", "head_dim 15 is odd"),
    PARAM("head_dim_1", DENSE, "head_dim", "1", "\"head_dim\""),
    PARAM("head_dim_negative", DENSE, "head_dim", "-16", "\"head_dim\""),
    PARAM("hidden_dim_0", DENSE, "hidden_dim", "0", "\"hidden_dim\""),
    PARAM("vocab_fraction", DENSE, "vocab_size", "1.5", "\"vocab_size\" = 1.5"),
    PARAM("vocab_0", DENSE, "vocab_size", "0", "\"vocab_size\""),
    PARAM("norm_eps_0", DENSE, "norm_eps", "0", "\"norm_eps\""),
    PARAM("norm_eps_negative", DENSE, "norm_eps", "-1e-5", "\"norm_eps\""),
    PARAM("norm_eps_string", DENSE, "norm_eps", "\"1e-5\"", "\"norm_eps\""),
    {"norm_eps_underflow", set_param, .key = "norm_eps", .value = "1e-50", .file = P, .what = "norm_eps",
     .bug = "norm_eps 1e-50 is accepted and becomes 0.0f"}, /* > 0 as a double, 0 as a float */
    PARAM("rope_theta_0", DENSE, "rope_theta", "0", "\"rope_theta\""),
    PARAM("rope_theta_string", DENSE, "rope_theta", "\"1e4\"", "\"rope_theta\""),
    PARAM("sliding_window_0", DENSE, "sliding_window", "0", "\"sliding_window\""),
    PARAM("sliding_window_negative", DENSE, "sliding_window", "-3", "\"sliding_window\""),
    PARAM("sliding_window_string", DENSE, "sliding_window", "\"8\"", "\"sliding_window\""),
    PARAM("sliding_window_fraction", DENSE, "sliding_window", "7.5", "\"sliding_window\""),
    PARAM("sliding_window_bool", DENSE, "sliding_window", "true", "\"sliding_window\""),
    PARAM("sliding_window_object", DENSE, "sliding_window", "{}", "\"sliding_window\""),
    PARAM("sliding_window_list3", DENSE, "sliding_window", "[8, null, 8]", "list has 3 entries"),
    PARAM("sliding_window_list_empty", DENSE, "sliding_window", "[]", "list has 0 entries"),
    PARAM("sliding_window_list_bad", DENSE, "sliding_window", "[8, 0]", "\"sliding_window\""),
    PARAM("sliding_window_list_nested", DENSE, "sliding_window", "[[8], 8]", "\"sliding_window\""),
    PARAM("moe_not_object", DENSE, "moe", "[4, 2]", "\"moe\" is not an object"),
    PARAM("moe_top_k_too_big", MOE, "moe.num_experts_per_tok", "5", "num_experts_per_tok 5 > num_experts 4"),
    PARAM("moe_top_k_0", MOE, "moe.num_experts_per_tok", "0", "\"num_experts_per_tok\""),
    PARAM("moe_missing_experts", MOE, "moe.num_experts", NULL, "missing \"num_experts\""),
    PARAM("moe_experts_0", MOE, "moe.num_experts", "0", "\"num_experts\""),
    /* dim not a multiple of n_heads, and no head_dim to make up for it. */
    {"dim_not_multiple", params_text, .file = P, .what = "not a multiple of n_heads",
     .value = "{\"dim\": 66, \"n_layers\": 4, \"hidden_dim\": 160, \"n_heads\": 4, "
              "\"norm_eps\": 1e-5, \"vocab_size\": 256}"},

    /* params.json not a JSON object. */
    {"params_trailing_garbage", params_append, .value = "\n}garbage", .file = P, .what = "JSON",
     .bug = "text after the JSON object in params.json is ignored"},
    {"params_not_json0", params_text, .value = "", .file = P},
    {"params_not_json1", params_text, .value = "{", .file = P},
    {"params_not_json2", params_text, .value = "{\"dim\": 64,}", .file = P},
    {"params_not_json3", params_text, .value = "\xef\xbb\xbf{}x", .file = P},
    {"params_not_json4", params_text, .value = "[]", .file = P},
    {"params_not_json5", params_text, .value = "null", .file = P},
    {"params_not_json6", params_text, .value = "64", .file = P},
    {"params_not_json7", params_text, .value = "{\"dim\": 64} trailing", .file = P},

    /* A file missing, or a directory. */
    {"no_params", remove_file, .file = P, .what = "no params.json"},
    {"hf_layout", hf_config, .file = "config.json", .what = "hidden_size"},
    {"params_is_dir", file_is_dir, .file = P},
    {"no_weights", remove_file, .file = ST, .what = "no consolidated.safetensors"},
    {"weights_is_dir", file_is_dir, .file = ST},
    {"empty_dir", empty, .file = "empty_dir", .what = "no params.json"},
};

/* Every case: the library and the CLI refuse it (expect_fail), or say which
 * lenient loader's bug lets it through (expect_refused). */
static void malformed_cases(void) {
    StFile dense, moe;
    st_read(&dense, DENSE "/" ST);
    st_read(&moe, MOE "/" ST);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const Case *c = &cases[i];
        const char *src = c->src ? c->src : DENSE, *file = c->file ? c->file : ST;
        char d[512];
        case_dir(d, sizeof d, c->name);
        copy_in(d, src, P);
        copy_in(d, src, ST);
        c->mutate(d, c, strcmp(src, MOE) ? &dense : &moe);
        if (c->bug) {
            expect_refused(d, file, c->what, c->bug);
            continue;
        }
        expect_fail(d, file, c->what);
        if (c->tensor)
            EXPECT(strstr(err_msg(), c->tensor), "%s: error does not name %s: %s", c->name, c->tensor,
                   err_msg());
    }
    st_free(&dense);
    st_free(&moe);
}

/* What is refused outside a model directory: MODEL paths that are none, and
 * a config text. */
static void other_refusals(void) {
    char d[512];
    snprintf(d, sizeof d, "%s/does/not/exist", root);
    expect_fail(d, "does/not/exist", "no such");
    snprintf(d, sizeof d, "%s/empty_dir/params_file", root); /* empty_dir: a case above */
    put_raw(root, "empty_dir/params_file", "{}", 2);
    expect_fail(d, "params_file", "not a model directory");
    Model m;
    EXPECT(model_load(&m, DENSE "/" ST, NULL) == -1 && strstr(err_msg(), "not a model directory"),
           "a safetensors file as MODEL: %s", err_msg());

    /* "head_dim": null is "not given": dim / n_heads must then be exact. */
    const char *t = "{\"dim\": 66, \"n_layers\": 4, \"hidden_dim\": 160, \"n_heads\": 4, "
                    "\"head_dim\": null, \"norm_eps\": 1e-5, \"vocab_size\": 256}";
    Config cfg;
    int rc = config_parse(&cfg, t, strlen(t), "params.json");
    EXPECT(rc == -1 && strstr(err_msg(), "not a multiple of n_heads"),
           "head_dim null with dim 66, n_heads 4 accepted as head_dim %d", cfg.head_dim);
    if (rc == 0) config_free(&cfg);
}

/* Valid but unusual checkpoints: they load and compute what they should. */
static void unusual_cases(void) {
    char d[512];
    float *want = xmalloc((size_t)NTOK * VOCAB * sizeof(float));
    float *got = xmalloc((size_t)NTOK * VOCAB * sizeof(float));
    EXPECT(logits_of(DENSE, TOK, NTOK, want, NULL) == 0, "the valid model: %s", err_msg());
    Model m;

    struct {
        const char *name, *key, *value;
        int w0, w1; /* expected windows of layers 0 and 1 */
    } ok[] = {
        {"sw_null", "sliding_window", "null", 0, 0},
        {"sw_absent", "sliding_window", NULL, 0, 0},
        {"sw_list", "sliding_window", "[8, null]", 8, 0},
        {"sw_list_one", "sliding_window", "[5]", 5, 5},
        {"sw_list_four", "sliding_window", "[null, 3, 8, 8]", 0, 3},
        {"sw_huge", "sliding_window", "1073741824", 1 << 30, 1 << 30},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        case_dir(d, sizeof d, ok[i].name);
        put_params(d, DENSE, ok[i].key, ok[i].value);
        copy_in(d, DENSE, "consolidated.safetensors");
        int rc = model_load(&m, d, NULL);
        EXPECT(rc == 0, "%s: %s", ok[i].name, err_msg());
        if (rc) continue;
        EXPECT(m.cfg.window[0] == ok[i].w0 && m.cfg.window[1] == ok[i].w1,
               "%s: windows %d, %d; expected %d, %d", ok[i].name, m.cfg.window[0], m.cfg.window[1],
               ok[i].w0, ok[i].w1);
        model_free(&m);
    }
    {
        case_dir(d, sizeof d, "sw_list_check");
        put_params(d, DENSE, "sliding_window", "[8, null]");
        copy_in(d, DENSE, "consolidated.safetensors");
        if (model_load(&m, d, NULL) == 0) {
            EXPECT(m.cfg.window[2] == 8 && m.cfg.window[3] == 0, "[8, null] over 4 layers");
            model_free(&m);
        }
    }

    /* "_sliding_window", Mistral 7B v0.2's spelling. */
    case_dir(d, sizeof d, "underscore_sw");
    {
        put_params(d, DENSE, "sliding_window", NULL);
        char path[600];
        snprintf(path, sizeof path, "%s/params.json", d);
        char *text = read_file(path, NULL);
        cJSON *p = cJSON_Parse(text);
        cJSON_AddItemToObject(p, "_sliding_window", cJSON_CreateNumber(8));
        char *out = cJSON_Print(p);
        put_raw(d, "params.json", out, strlen(out));
        free(out), free(text), cJSON_Delete(p);
    }
    copy_in(d, DENSE, "consolidated.safetensors");
    EXPECT(logits_of(d, TOK, NTOK, got, NULL) == 0, "_sliding_window: %s", err_msg());
    EXPECT(!memcmp(got, want, (size_t)NTOK * VOCAB * sizeof(float)),
           "_sliding_window: logits differ from sliding_window's");

    /* rope_theta absent: 10000, the value the model has anyway. */
    case_dir(d, sizeof d, "no_rope_theta");
    put_params(d, DENSE, "rope_theta", NULL);
    copy_in(d, DENSE, "consolidated.safetensors");
    EXPECT(logits_of(d, TOK, NTOK, got, &m) == 0, "no rope_theta: %s", err_msg());
    if (m.inv_freq) {
        EXPECT(m.cfg.rope_theta == 10000.0, "rope_theta default %g", m.cfg.rope_theta);
        EXPECT(!memcmp(got, want, (size_t)NTOK * VOCAB * sizeof(float)), "no rope_theta: logits");
        model_free(&m);
    }

    /* head_dim absent: dim / n_heads = 16, as given. Unknown keys ignored. */
    case_dir(d, sizeof d, "no_head_dim");
    put_params(d, DENSE, "head_dim", NULL);
    copy_in(d, DENSE, "consolidated.safetensors");
    EXPECT(logits_of(d, TOK, NTOK, got, NULL) == 0, "no head_dim: %s", err_msg());
    case_dir(d, sizeof d, "extra_keys");
    put_params(d, DENSE, "quantization", "{\"bits\": 4}");
    copy_in(d, DENSE, "consolidated.safetensors");
    EXPECT(logits_of(d, TOK, NTOK, got, NULL) == 0, "unknown key: %s", err_msg());

    StFile f;
    st_read(&f, DENSE "/consolidated.safetensors");

    /* output.weight absent: tied embeddings. */
    case_dir(d, sizeof d, "tied_embeddings");
    copy_in(d, DENSE, "params.json");
    {
        cJSON *h = cJSON_Duplicate(f.hdr, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(h, "output.weight");
        put_st(d, h, f.data, f.dlen);
        cJSON_Delete(h);
    }
    EXPECT(logits_of(d, TOK, NTOK, got, &m) == 0, "tied embeddings: %s", err_msg());
    if (m.inv_freq) {
        EXPECT(m.w.output.data == m.w.tok_embeddings.data && m.w.output.rows == VOCAB &&
                   m.w.output.cols == 64, "tied embeddings: output is not tok_embeddings");
        model_free(&m);
    }

    /* Without __metadata__, with a bigger one, with extra tensors of types
     * the kernels do not read, and with an empty tensor. */
    case_dir(d, sizeof d, "extras");
    copy_in(d, DENSE, "params.json");
    {
        unsigned char *data2 = xmalloc(f.dlen + 64);
        memcpy(data2, f.data, f.dlen);
        memset(data2 + f.dlen, 0, 64);
        cJSON *h = cJSON_Duplicate(f.hdr, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(h, "__metadata__");
        char frag[200];
        snprintf(frag, sizeof frag, "{\"dtype\": \"I64\", \"shape\": [4], \"data_offsets\": [%zu, %zu]}",
                 f.dlen, f.dlen + 32);
        cJSON_AddItemToObject(h, "rope.freqs", cJSON_Parse(frag));
        snprintf(frag, sizeof frag, "{\"dtype\": \"BOOL\", \"shape\": [2, 16], \"data_offsets\": [%zu, %zu]}",
                 f.dlen + 32, f.dlen + 64);
        cJSON_AddItemToObject(h, "mask", cJSON_Parse(frag));
        cJSON_AddItemToObject(h, "nothing", cJSON_Parse("{\"dtype\": \"F16\", \"shape\": [0, 64], "
                                                        "\"data_offsets\": [0, 0]}"));
        put_st(d, h, data2, f.dlen + 64);
        cJSON_Delete(h);
        free(data2);
    }
    EXPECT(logits_of(d, TOK, NTOK, got, NULL) == 0, "extra tensors: %s", err_msg());
    EXPECT(!memcmp(got, want, (size_t)NTOK * VOCAB * sizeof(float)), "extra tensors: logits");

    /* The header padded with trailing spaces (still 8-aligned). */
    case_dir(d, sizeof d, "padded_header");
    copy_in(d, DENSE, "params.json");
    put_st_text(d, (const char *)f.raw + 8, f.hlen, 800, f.data, f.dlen);
    EXPECT(logits_of(d, TOK, NTOK, got, NULL) == 0, "padded header: %s", err_msg());
    EXPECT(!memcmp(got, want, (size_t)NTOK * VOCAB * sizeof(float)), "padded header: logits");

    /* Data misaligned by 2 bytes (header grown by 2): the loader copies. */
    case_dir(d, sizeof d, "misaligned");
    copy_in(d, DENSE, "params.json");
    {
        size_t h = f.hlen + 2, len = 8 + h + f.dlen;
        unsigned char *b = xmalloc(len);
        for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
        memcpy(b + 8, f.raw + 8, f.hlen);
        b[8 + f.hlen] = b[9 + f.hlen] = ' ';
        memcpy(b + 8 + h, f.data, f.dlen);
        put_raw(d, "consolidated.safetensors", b, len);
        free(b);
    }
    EXPECT(logits_of(d, TOK, NTOK, got, &m) == 0, "misaligned: %s", err_msg());
    if (m.inv_freq) {
        int copies = 0;
        const SafeTensors *st = &m.ts.files[0];
        for (int i = 0; i < st->n; i++) copies += st->t[i].copy != NULL;
        EXPECT(copies == st->n, "misaligned: %d of %d tensors copied", copies, st->n);
        EXPECT(!memcmp(got, want, (size_t)NTOK * VOCAB * sizeof(float)),
               "misaligned: logits differ from the aligned model's");
        model_free(&m);
    }
    {   /* and through the CLI: the same output as the original */
        char c1[1200], c2[1200], *o1 = NULL, *o2 = NULL;
        snprintf(c1, sizeof c1, "%s logits -m '%s' --tokens 1,5,9,200 --all", cli, d);
        snprintf(c2, sizeof c2, "%s logits -m %s --tokens 1,5,9,200 --all", cli, DENSE);
        int r1 = test_run(c1, &o1, NULL), r2 = test_run(c2, &o2, NULL);
        EXPECT(r1 == 0 && r2 == 0 && o1 && o2 && o1[0] && !strcmp(o1, o2),
               "misaligned: CLI output differs (exit %d, %d)", r1, r2);
        free(o1), free(o2);
    }

    /* Misaligned bf16 (2-byte elements, shifted by 1). */
    st_free(&f);
    st_read(&f, "tests/data/tiny/dense_sw8_bf16/consolidated.safetensors");
    case_dir(d, sizeof d, "misaligned_bf16");
    copy_in(d, "tests/data/tiny/dense_sw8_bf16", "params.json");
    {
        size_t h = f.hlen + 1, len = 8 + h + f.dlen;
        unsigned char *b = xmalloc(len);
        for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
        memcpy(b + 8, f.raw + 8, f.hlen);
        b[8 + f.hlen] = ' ';
        memcpy(b + 8 + h, f.data, f.dlen);
        put_raw(d, "consolidated.safetensors", b, len);
        free(b);
    }
    EXPECT(logits_of("tests/data/tiny/dense_sw8_bf16", TOK, NTOK, want, NULL) == 0, "bf16: %s",
           err_msg());
    EXPECT(logits_of(d, TOK, NTOK, got, NULL) == 0, "misaligned bf16: %s", err_msg());
    EXPECT(!memcmp(got, want, (size_t)NTOK * VOCAB * sizeof(float)), "misaligned bf16: logits");
    st_free(&f);
    free(want), free(got);
}

/* Bad command lines: non-zero, one line on stderr, nothing on stdout. */
static void cli_cases(void) {
    const char *M = DENSE;
    struct {
        const char *name, *fmt;
        int status;
        const char *prefix, *sub;
    } bad[] = {
        {"unknown option", "logits -m %s --tokens 1 --bogus x", 2, "mistral logits: ", "--bogus"},
        {"unknown flag last", "logits -m %s --tokens 1 --bogus", 2, "mistral logits: ", "--bogus"},
        {"-n on logits", "logits -m %s --tokens 1 -n 3", 2, "mistral logits: ", "-n"},
        {"-n abc", "generate -m %s --tokens 1 --ids -n abc", 2, "mistral generate: ", "abc"},
        {"-n -1", "generate -m %s --tokens 1 --ids -n -1", 2, "mistral generate: ", "-n"},
        {"-n huge", "generate -m %s --tokens 1 --ids -n 99999999999999999999", 2,
         "mistral generate: ", "-n"},
        {"--tokens 1,x", "logits -m %s --tokens 1,x", 1, "mistral: ", "--tokens"},
        {"--tokens empty", "logits -m %s --tokens ''", 1, "mistral: ", "--tokens"},
        {"--tokens -1", "logits -m %s --tokens 1,-1", 1, "mistral: ", "--tokens"},
        {"--tokens 2^31", "logits -m %s --tokens 2147483648", 1, "mistral: ", "--tokens"},
        {"--tokens 256", "logits -m %s --tokens 1,256", 1, "mistral: ", "outside the vocabulary"},
        {"generate --tokens 256", "generate -m %s --tokens 256 --ids", 1, "mistral: ", "vocabulary"},
        {"--chunk-size 0", "logits -m %s --tokens 1 --chunk-size 0", 2, "mistral logits: ",
         "--chunk-size"},
        {"--chunk-size x", "logits -m %s --tokens 1 --chunk-size x", 2, "mistral logits: ",
         "--chunk-size"},
        {"--sliding-window -1", "logits -m %s --tokens 1 --sliding-window -1", 2,
         "mistral logits: ", "--sliding-window"},
        {"--temperature nan", "generate -m %s --tokens 1 --ids --temperature nan", 2,
         "mistral generate: ", "--temperature"},
        {"missing --tokens", "logits -m %s", 2, "mistral logits: ", "--tokens"},
        {"missing value", "logits -m %s --tokens", 2, "mistral logits: ", "--tokens"},
        {"text output without a tokenizer", "generate -m %s --tokens 1", 1, "mistral: ", "no tokenizer"},
        {"--tokens-file missing", "generate -m %s --tokens-file /nonexistent/prompts --ids", 1,
         "mistral: ", "/nonexistent/prompts"},
        {"unknown command", "frobnicate -m %s", 2, "mistral: ", "frobnicate"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[400];
        snprintf(args, sizeof args, bad[i].fmt, M);
        expect_cli(bad[i].name, args, bad[i].status, bad[i].prefix, bad[i].sub);
    }
    expect_cli("missing -m", "logits --tokens 1", 2, "mistral logits: ", "-m");
    expect_cli("missing -m (generate)", "generate --tokens 1 --ids", 2, "mistral generate: ", "-m");
}

int main(int argc, char **argv) {
    (void)argc;
    verbose = getenv("MISTRAL_TEST_VERBOSE") && !strcmp(getenv("MISTRAL_TEST_VERBOSE"), "1");
    /* build/tests/unit/test_load -> build/mistral */
    test_cli_path(cli, sizeof cli, argv[0]);
    if (access(cli, X_OK) != 0) {
        fprintf(stderr, "test_load: %s not found (run from the repository root after make)\n", cli);
        return 1;
    }
    snprintf(root, sizeof root, "%s", test_tmpdir());

    malformed_cases();
    other_refusals();
    unusual_cases();
    cli_cases();

    test_rm_rf(root);
    return test_done("test_load");
}

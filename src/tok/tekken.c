/* tekken — tekken.json loading, regex splitting and byte-level BPE.
 *
 * Reference: mistral-common tokens/tokenizers/tekken.py (Tekkenizer: the
 * vocabulary cut to default_vocab_size - num_special ranks, the special
 * table padded with "<SPECIAL_%d>", decode ignoring special ids) and
 * tiktoken src/lib.rs (CoreBPE::encode_ordinary: a piece that is a whole
 * token maps to it directly, otherwise _byte_pair_merge repeatedly merges
 * the adjacent pair whose concatenation has the lowest rank, leftmost first).
 *
 * Layout of this file: base64 and the bytes -> rank hash; loading and
 * validation; the pieces' BPE (a heap instead of tiktoken's rescans, so a
 * 100 KB run of one character stays O(n log n)); encode and decode. */
#include "tok/tekken.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"

/* Bounds on what a file may ask for; real files have 1000 specials and
 * 131072 ids. They keep a tiny corrupt file from asking for gigabytes. */
#define MAX_SPECIAL (1 << 16)
#define MAX_VOCAB (1 << 24)

/* A hash table slot: the hash, the rank and the token's first 8 bytes, so
 * that a lookup of a short token reads one slot and nothing else (the
 * table is 4 MB; the arena is another cache miss away). */
typedef struct {
    uint32_t hash;
    uint32_t rank_len;      /* rank << 8 | min(length, 255); 0: an empty slot */
    unsigned char head[8];  /* the first min(length, 8) bytes */
} Slot;

typedef struct {
    pcre2_code *re;       /* owns: the config's pattern, UTF + UCP */
    int jit;              /* 1 when re is JIT-compiled */
    Slot *slot;           /* owns [mask + 1]: open addressing, linear probing */
    uint32_t mask;
    unsigned char *bytes; /* owns: every rank's bytes back to back; tok[i] view it */
} Impl;

/* ---- base64 and the bytes -> rank table ----------------------------------- */

static int b64_digit(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Strict RFC 4648 base64: the standard alphabet, length a multiple of 4,
 * '=' only as the last one or two characters, zero padding bits. Writes at
 * most 3*n/4 bytes to out; returns their count, or -1. */
static long b64_decode(const char *s, size_t n, unsigned char *out) {
    if (n % 4) return -1;
    long k = 0;
    for (size_t i = 0; i < n; i += 4) {
        int pad = 0, d[4];
        for (int j = 0; j < 4; j++) {
            unsigned char c = (unsigned char)s[i + j];
            if (c == '=' && i + 4 == n && j >= 2) {
                d[j] = 0, pad++;
                continue;
            }
            if (pad || (d[j] = b64_digit(c)) < 0) return -1; /* bad char, or data after '=' */
        }
        uint32_t v = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 | (uint32_t)d[2] << 6 | (uint32_t)d[3];
        if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff))) return -1;
        out[k++] = (unsigned char)(v >> 16);
        if (pad < 2) out[k++] = (unsigned char)(v >> 8);
        if (pad < 1) out[k++] = (unsigned char)v;
    }
    return k;
}

static uint32_t hash_bytes(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a multiplicative mix */
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    h *= 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32);
}

/* The rank whose bytes are p[0..n), or -1. */
static int32_t lookup(const Tekken *t, const unsigned char *p, size_t n) {
    const Impl *im = t->impl;
    uint32_t h = hash_bytes(p, n);
    for (uint32_t i = h & im->mask;; i = (i + 1) & im->mask) {
        const Slot *sl = &im->slot[i];
        uint32_t len = sl->rank_len & 0xff;
        int32_t r = (int32_t)(sl->rank_len >> 8);
        if (!len) return -1;
        if (sl->hash != h) continue;
        if (n <= 8 ? len == n && memcmp(sl->head, p, n) == 0
                   : (size_t)t->tok_len[r] == n && memcmp(t->tok[r], p, n) == 0)
            return r;
    }
}

/* Adds rank r; -1 (and *dup = the earlier rank) when its bytes are taken. */
static int insert(Tekken *t, int32_t r, int32_t *dup) {
    Impl *im = t->impl;
    const unsigned char *p = t->tok[r];
    size_t n = (size_t)t->tok_len[r];
    int32_t q = lookup(t, p, n);
    if (q >= 0) {
        *dup = q;
        return -1;
    }
    uint32_t h = hash_bytes(p, n), i = h & im->mask;
    while (im->slot[i].rank_len) i = (i + 1) & im->mask;
    Slot *sl = &im->slot[i];
    sl->hash = h;
    sl->rank_len = (uint32_t)r << 8 | (uint32_t)(n < 255 ? n : 255);
    memcpy(sl->head, p, n < 8 ? n : 8);
    return 0;
}

/* ---- loading --------------------------------------------------------------- */

/* mistral-common's table for files older than v11 without "special_tokens". */
static const char *const deprecated_special[] = {
    "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]",
    "[IMG_END]", "[PREFIX]", "[MIDDLE]", "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]",
    "[TOOL_CONTENT]",
};
#define N_DEPRECATED_SPECIAL ((int)(sizeof deprecated_special / sizeof *deprecated_special))

/* An integer-valued JSON number in [lo, hi]. */
static int get_int(const cJSON *v, const char *what, int lo, int hi, int *out, const char *where) {
    if (!v) return err_set("%s: missing %s", where, what);
    if (!cJSON_IsNumber(v)) return err_set("%s: %s is not a number", where, what);
    double d = v->valuedouble;
    if (d != floor(d) || d < lo || d > hi)
        return err_set("%s: %s = %g is not an integer in [%d, %d]", where, what, d, lo, hi);
    *out = (int)d;
    return 0;
}

static const char *get_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "vN" -> N, or -1. */
static int version_number(const char *v) {
    if (v[0] != 'v' || !v[1]) return -1;
    long n = 0;
    for (const char *p = v + 1; *p; p++) {
        if (*p < '0' || *p > '9' || n > 100000) return -1;
        n = 10 * n + (*p - '0');
    }
    return (int)n;
}

static int check_unique(const Tekken *t, const char *where);

static int parse_special(Tekken *t, const cJSON *list, const char *where) {
    int n_listed;
    t->special = xcalloc((size_t)t->n_special, sizeof(char *));
    if (!list) {
        /* mistral-common: only tokenizers up to v7 may leave the list out. */
        int v = version_number(t->version);
        if (v < 0 || v > 7)
            return err_set("%s: no \"special_tokens\" (required for version %s)", where, t->version);
        n_listed = N_DEPRECATED_SPECIAL;
        if (n_listed > t->n_special)
            return err_set("%s: default_num_special_tokens %d is below the %d default special tokens",
                           where, t->n_special, n_listed);
        for (int i = 0; i < n_listed; i++) t->special[i] = xstrdup(deprecated_special[i]);
    } else {
        if (!cJSON_IsArray(list)) return err_set("%s: \"special_tokens\" is not a list", where);
        n_listed = cJSON_GetArraySize(list);
        if (n_listed > t->n_special)
            return err_set("%s: %d special tokens listed but default_num_special_tokens is %d",
                           where, n_listed, t->n_special);
        int i = 0;
        for (const cJSON *e = list->child; e; e = e->next, i++) {
            char what[64];
            int rank;
            if (!cJSON_IsObject(e)) return err_set("%s: special_tokens[%d] is not an object", where, i);
            snprintf(what, sizeof what, "special_tokens[%d].rank", i);
            if (get_int(cJSON_GetObjectItemCaseSensitive(e, "rank"), what, 0, INT_MAX, &rank, where))
                return -1;
            if (rank != i) return err_set("%s: special_tokens[%d] has rank %d", where, i, rank);
            const char *s = get_str(e, "token_str");
            if (!s || !*s)
                return err_set("%s: special_tokens[%d].token_str is missing or empty", where, i);
            t->special[i] = xstrdup(s);
        }
    }
    for (int i = n_listed; i < t->n_special; i++) {
        char name[32];
        snprintf(name, sizeof name, "<SPECIAL_%d>", i);
        t->special[i] = xstrdup(name);
    }
    return check_unique(t, where);
}

/* Names are unique, listed and generated alike (mistral-common asserts it). */
static int check_unique(const Tekken *t, const char *where) {
    char **sorted = xmalloc((size_t)t->n_special * sizeof(char *) + 1);
    memcpy(sorted, t->special, (size_t)t->n_special * sizeof(char *));
    qsort(sorted, (size_t)t->n_special, sizeof(char *), cmp_str);
    int rc = 0;
    for (int i = 1; i < t->n_special && !rc; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            rc = err_set("%s: special token \"%.40s\" appears twice", where, sorted[i]);
    free(sorted);
    return rc;
}

/* The bytes -> rank table of t->tok[0..n_ranks). */
static int build_table(Tekken *t, const char *where) {
    Impl *im = t->impl;
    uint32_t cap = 1;
    while (cap < 2u * (uint32_t)t->n_ranks) cap *= 2;
    im->mask = cap - 1;
    im->slot = xcalloc(cap, sizeof(Slot));
    for (int i = 0; i < t->n_ranks; i++) {
        int32_t dup;
        if (insert(t, i, &dup))
            return err_set("%s: vocab[%d] has the same bytes as vocab[%d]", where, i, dup);
    }
    return 0;
}

/* The first n_ranks entries of "vocab": rank i at index i, the first 256 the
 * single bytes 0..255, no two with the same bytes. */
static int parse_vocab(Tekken *t, const cJSON *vocab, const char *where) {
    Impl *im = t->impl;
    t->tok = xcalloc((size_t)t->n_ranks, sizeof(unsigned char *));
    t->tok_len = xcalloc((size_t)t->n_ranks, sizeof(int));
    size_t *off = xmalloc((size_t)t->n_ranks * sizeof(size_t));
    size_t total = 0;
    int i = 0, rc = -1;
    const cJSON *e = vocab->child;
    for (; i < t->n_ranks; i++, e = e->next) { /* sizes first: one arena for all bytes */
        char what[64];
        int rank;
        if (!cJSON_IsObject(e)) {
            err_set("%s: vocab[%d] is not an object", where, i);
            goto done;
        }
        snprintf(what, sizeof what, "vocab[%d].rank", i);
        if (get_int(cJSON_GetObjectItemCaseSensitive(e, "rank"), what, 0, INT_MAX, &rank, where))
            goto done;
        if (rank != i) {
            err_set("%s: vocab[%d] has rank %d (ranks must be 0, 1, 2, ... in order)", where, i, rank);
            goto done;
        }
        const char *b = get_str(e, "token_bytes");
        if (!b) {
            err_set("%s: vocab[%d].token_bytes is missing or not a string", where, i);
            goto done;
        }
        off[i] = total;
        total += strlen(b) / 4 * 3;
    }
    im->bytes = xmalloc(total + 1);
    for (i = 0, e = vocab->child; i < t->n_ranks; i++, e = e->next) {
        const char *b = get_str(e, "token_bytes");
        long k = b64_decode(b, strlen(b), im->bytes + off[i]);
        if (k < 0) {
            err_set("%s: vocab[%d].token_bytes \"%.40s\" is not valid base64", where, i, b);
            goto done;
        }
        if (k == 0) {
            err_set("%s: vocab[%d].token_bytes is empty", where, i);
            goto done;
        }
        t->tok[i] = im->bytes + off[i];
        t->tok_len[i] = (int)k;
        if (i < 256 && (k != 1 || t->tok[i][0] != i)) {
            err_set("%s: vocab[%d] is not the single byte 0x%02x", where, i, i);
            goto done;
        }
    }
    rc = build_table(t, where);
done:
    free(off);
    return rc;
}

/* \s in PCRE2 with UCP also matches U+180E MONGOLIAN VOWEL SEPARATOR (in
 * PCRE2's \h list), which left Unicode's White_Space in 6.3; tiktoken's
 * fancy-regex (Rust regex) matches exactly White_Space. So \s and \S are
 * spelled out as White_Space and its complement before compiling. */
#define WHITE_SPACE                                                                   \
    "\\t-\\r\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}" \
    "\\x{202f}\\x{205f}\\x{3000}"
#define NOT_WHITE_SPACE                                                               \
    "\\x{0}-\\x{8}\\x{e}-\\x{1f}\\x{21}-\\x{84}\\x{86}-\\x{9f}\\x{a1}-\\x{167f}"     \
    "\\x{1681}-\\x{1fff}\\x{200b}-\\x{2027}\\x{202a}-\\x{202e}\\x{2030}-\\x{205e}"    \
    "\\x{2060}-\\x{2fff}\\x{3001}-\\x{10ffff}"

/* The length of a POSIX class "[:alpha:]" or "[:^alpha:]" at p, or 0. */
static size_t posix_class_len(const char *p) {
    size_t n = 2 + (p[2] == '^');
    while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z')) n++;
    return p[n] == ':' && p[n + 1] == ']' ? n + 2 : 0;
}

/* Copies pattern to out with every \s and \S spelled out: bare, as a class;
 * inside a class, as its ranges. Tracks escapes, \Q...\E and classes
 * (with a leading ']' or "^]" literal, and [:name:] inside). */
static void spell_out_space(ByteBuf *out, const char *pat) {
    int in_class = 0;
    for (const char *p = pat; *p; p++) {
        if (p[0] == '\\' && p[1] == 'Q') { /* quoted up to \E: verbatim */
            const char *e = strstr(p + 2, "\\E");
            size_t n = e ? (size_t)(e + 2 - p) : strlen(p);
            bytebuf_push(out, p, n);
            p += n - 1;
        } else if (p[0] == '\\' && (p[1] == 's' || p[1] == 'S')) {
            const char *set = p[1] == 's' ? WHITE_SPACE : NOT_WHITE_SPACE;
            if (!in_class) bytebuf_putc(out, '[');
            bytebuf_push(out, set, strlen(set));
            if (!in_class) bytebuf_putc(out, ']');
            p++;
        } else if (p[0] == '\\' && p[1]) { /* any other escape; \cX takes one more */
            size_t n = p[1] == 'c' && p[2] ? 3 : 2;
            bytebuf_push(out, p, n);
            p += n - 1;
        } else if (!in_class && p[0] == '[') {
            size_t n = 1 + (p[1] == '^');
            if (p[n] == ']') n++;
            bytebuf_push(out, p, n);
            p += n - 1;
            in_class = 1;
        } else if (in_class && p[0] == '[' && p[1] == ':' && posix_class_len(p)) {
            size_t n = posix_class_len(p);
            bytebuf_push(out, p, n);
            p += n - 1;
        } else {
            if (p[0] == ']') in_class = 0;
            bytebuf_putc(out, p[0]);
        }
    }
    bytebuf_push(out, "", 0); /* NUL-terminated even when empty */
}

static int compile_pattern(Tekken *t, const char *pattern, const char *where) {
    Impl *im = t->impl;
    int code;
    PCRE2_SIZE at;
    ByteBuf pat = {0};
    spell_out_space(&pat, pattern);
    im->re = pcre2_compile((PCRE2_SPTR)pat.p, pat.n, PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
    bytebuf_free(&pat);
    if (!im->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return err_set("%s: config.pattern does not compile: %s", where, (const char *)msg);
    }
    im->jit = pcre2_jit_compile(im->re, PCRE2_JIT_COMPLETE) == 0; /* else the interpreter */
    return 0;
}

static int parse(Tekken *t, const cJSON *root, const char *where) {
    if (!cJSON_IsObject(root)) return err_set("%s: not a JSON object", where);
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(root, "vocab");
    if (!cJSON_IsObject(cfg)) return err_set("%s: missing \"config\" object", where);
    if (!cJSON_IsArray(vocab)) return err_set("%s: missing \"vocab\" list", where);
    const char *pattern = get_str(cfg, "pattern"), *version = get_str(cfg, "version");
    if (!pattern || !*pattern) return err_set("%s: config.pattern is missing or empty", where);
    if (!version) return err_set("%s: config.version is missing", where);
    if (version_number(version) < 0)
        return err_set("%s: config.version \"%.20s\" is not v<number>", where, version);
    t->version = xstrdup(version);

    int n_entries = cJSON_GetArraySize(vocab), n_declared;
    if (get_int(cJSON_GetObjectItemCaseSensitive(cfg, "default_num_special_tokens"),
                "config.default_num_special_tokens", 0, MAX_SPECIAL, &t->n_special, where) ||
        get_int(cJSON_GetObjectItemCaseSensitive(cfg, "default_vocab_size"),
                "config.default_vocab_size", 1, MAX_VOCAB, &t->n_vocab, where))
        return -1;
    const cJSON *nv = cJSON_GetObjectItemCaseSensitive(cfg, "num_vocab_tokens");
    if (nv) {
        if (get_int(nv, "config.num_vocab_tokens", 0, INT_MAX, &n_declared, where)) return -1;
        if (n_declared != n_entries)
            return err_set("%s: config.num_vocab_tokens is %d but \"vocab\" has %d entries", where,
                           n_declared, n_entries);
    }
    t->n_ranks = t->n_vocab - t->n_special;
    if (t->n_ranks < 256)
        return err_set("%s: default_vocab_size %d leaves %d ranks after %d special tokens (need 256+)",
                       where, t->n_vocab, t->n_ranks, t->n_special);
    if (t->n_ranks > n_entries)
        return err_set("%s: default_vocab_size %d needs %d vocab entries, the file has %d", where,
                       t->n_vocab, t->n_ranks, n_entries);

    if (parse_special(t, cJSON_GetObjectItemCaseSensitive(root, "special_tokens"), where)) return -1;
    t->bos = tekken_special_id(t, "<s>");
    t->eos = tekken_special_id(t, "</s>");
    t->unk = tekken_special_id(t, "<unk>");
    if (parse_vocab(t, vocab, where)) return -1;
    return compile_pattern(t, pattern, where);
}

/* json[len] must be readable and NUL: cJSON 1.7.15 reads one byte past an
 * object that ends in a comma (cJSON issue #800). */
static int parse_text(Tekken *t, const char *json, size_t len, const char *where) {
    memset(t, 0, sizeof *t);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    size_t at = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
    if (!root) return err_set("%s: not valid JSON (near byte %zu)", where, at);
    while (at < len && strchr(" \t\r\n", json[at]) && json[at]) at++;
    if (at < len) {
        cJSON_Delete(root);
        return err_set("%s: not valid JSON (trailing bytes at byte %zu)", where, at);
    }
    t->impl = xcalloc(1, sizeof(Impl));
    int rc = parse(t, root, where);
    cJSON_Delete(root);
    if (rc) tekken_free(t);
    return rc;
}

int tekken_parse(Tekken *t, const char *json, size_t len, const char *where) {
    char *copy = xmalloc(len + 1);
    memcpy(copy, json, len);
    copy[len] = 0;
    int rc = parse_text(t, copy, len, where);
    free(copy);
    return rc;
}

static int parse_cb(void *t, const char *text, size_t len, const char *where) {
    return parse_text(t, text, len, where); /* text is NUL-terminated */
}

int tekken_load(Tekken *t, const char *path) {
    memset(t, 0, sizeof *t);
    return parse_file(path, parse_cb, t);
}

int tekken_init(Tekken *t, int n_special, const char *const *special, int n_ranks,
                const unsigned char *const *tok, const int *tok_len, const char *version,
                const char *where) {
    memset(t, 0, sizeof *t);
    if (n_special < 0 || n_special > MAX_SPECIAL || n_ranks < 256 || n_ranks > MAX_VOCAB - n_special)
        return err_set("%s: %d special tokens and %d ranks (need 256+ ranks, %d ids at most)", where,
                       n_special, n_ranks, MAX_VOCAB);
    t->impl = xcalloc(1, sizeof(Impl));
    Impl *im = t->impl;
    t->n_special = n_special, t->n_ranks = n_ranks, t->n_vocab = n_special + n_ranks;
    t->version = xstrdup(version ? version : "v7");
    t->special = xcalloc((size_t)n_special + 1, sizeof(char *));
    for (int i = 0; i < n_special; i++) t->special[i] = xstrdup(special[i]);
    size_t total = 0;
    for (int i = 0; i < n_ranks; i++) total += tok_len[i] > 0 ? (size_t)tok_len[i] : 0;
    im->bytes = xmalloc(total + 1);
    t->tok = xcalloc((size_t)n_ranks, sizeof(unsigned char *));
    t->tok_len = xcalloc((size_t)n_ranks, sizeof(int));
    int rc = check_unique(t, where);
    total = 0;
    for (int i = 0; i < n_ranks && !rc; i++) {
        if (tok_len[i] <= 0) {
            rc = err_set("%s: rank %d is empty", where, i);
            break;
        }
        t->tok[i] = im->bytes + total;
        t->tok_len[i] = tok_len[i];
        memcpy(im->bytes + total, tok[i], (size_t)tok_len[i]);
        total += (size_t)tok_len[i];
        if (i < 256 && (tok_len[i] != 1 || tok[i][0] != i))
            rc = err_set("%s: rank %d is not the single byte 0x%02x", where, i, i);
    }
    if (!rc) rc = build_table(t, where);
    if (!rc) rc = compile_pattern(t, TEKKEN_PATTERN, where);
    if (rc) {
        tekken_free(t);
        return -1;
    }
    t->bos = tekken_special_id(t, "<s>");
    t->eos = tekken_special_id(t, "</s>");
    t->unk = tekken_special_id(t, "<unk>");
    return 0;
}

int tekken_rank(const Tekken *t, const unsigned char *p, size_t n) { return lookup(t, p, n); }

void tekken_free(Tekken *t) {
    Impl *im = t->impl;
    if (im) {
        pcre2_code_free(im->re);
        free(im->slot);
        free(im->bytes);
        free(im);
    }
    if (t->special)
        for (int i = 0; i < t->n_special; i++) free(t->special[i]);
    free(t->special);
    free(t->tok);
    free(t->tok_len);
    free(t->version);
    memset(t, 0, sizeof *t);
}

/* ---- byte pair merge ------------------------------------------------------- */

/* A candidate merge: the pair of parts starting at byte `start`, covering
 * [start, pend). key = rank << 32 | start, so the smallest key is tiktoken's
 * choice: the lowest rank, leftmost among equals. An entry is stale once
 * either part has changed (then the pair no longer ends at pend). */
typedef struct {
    uint64_t key;
    uint32_t pend;
} Merge;

/* Scratch for one encode call, grown to the longest piece. */
typedef struct {
    uint32_t *end;  /* [n]: end of the part starting at i; 0 once merged away */
    uint32_t *prev; /* [n]: start of the part before the one at i */
    int32_t *rank;  /* [n]: rank of the part starting at i */
    Merge *heap;    /* [3n]: n - 1 first pairs, then at most 2 per merge */
    size_t cap, n_heap;
} Scratch;

static void scratch_grow(Scratch *s, size_t n) {
    if (n <= s->cap) return;
    s->cap = n;
    s->end = xrealloc(s->end, n * sizeof *s->end);
    s->prev = xrealloc(s->prev, n * sizeof *s->prev);
    s->rank = xrealloc(s->rank, n * sizeof *s->rank);
    s->heap = xrealloc(s->heap, 3 * n * sizeof *s->heap);
}

static void scratch_free(Scratch *s) {
    free(s->end), free(s->prev), free(s->rank), free(s->heap);
}

static void heap_push(Scratch *s, uint64_t key, uint32_t pend) {
    Merge *h = s->heap;
    size_t i = s->n_heap++;
    while (i > 0 && h[(i - 1) / 2].key > key) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = (Merge){key, pend};
}

static Merge heap_pop(Scratch *s) {
    Merge *h = s->heap, top = h[0], last = h[--s->n_heap];
    size_t i = 0, n = s->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1].key < h[c].key) c++;
        if (h[c].key >= last.key) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

/* Pushes the pair of parts at a and b = end[a] when their bytes are a token. */
static void push_pair(const Tekken *t, Scratch *s, const unsigned char *p, uint32_t a, uint32_t n) {
    uint32_t b = s->end[a];
    if (b >= n) return;
    int32_t r = lookup(t, p + a, s->end[b] - a);
    if (r >= 0) heap_push(s, (uint64_t)r << 32 | a, s->end[b]);
}

/* Appends the ids of one piece p[0..n) (n >= 2, not itself a token). */
static void bpe(const Tekken *t, Scratch *s, const unsigned char *p, uint32_t n, IntVec *out) {
    scratch_grow(s, n);
    s->n_heap = 0;
    for (uint32_t i = 0; i < n; i++) {
        s->end[i] = i + 1;
        s->prev[i] = i - 1;
        s->rank[i] = p[i]; /* rank b is the single byte b (checked at load) */
    }
    for (uint32_t i = 0; i + 1 < n; i++) push_pair(t, s, p, i, n);
    while (s->n_heap) {
        Merge m = heap_pop(s);
        uint32_t a = (uint32_t)m.key, b = s->end[a];
        if (b == 0 || b >= n || s->end[b] != m.pend) continue; /* stale */
        s->rank[a] = (int32_t)(m.key >> 32);
        s->end[a] = m.pend;
        s->end[b] = 0;
        if (m.pend < n) s->prev[m.pend] = a;
        if (a > 0) push_pair(t, s, p, s->prev[a], n);
        push_pair(t, s, p, a, n);
    }
    for (uint32_t i = 0; i < n; i = s->end[i]) intvec_push(out, s->rank[i] + t->n_special);
}

/* ---- encode and decode ----------------------------------------------------- */

/* The next match of the pattern at or after pos: 1 with [*s, *e), 0 for none,
 * -1 on a matching error. */
static int next_match(const Impl *im, pcre2_match_data *md, const char *text, size_t len,
                      size_t pos, size_t *s, size_t *e) {
    PCRE2_SPTR subj = (PCRE2_SPTR)text;
    /* The text was validated once; PCRE2's own check would rescan the rest
     * of it at every call. */
    int rc = im->jit ? pcre2_jit_match(im->re, subj, len, pos, 0, md, NULL)
                     : pcre2_match(im->re, subj, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* deep backtracking: the interpreter uses the heap */
        rc = pcre2_match(im->re, subj, len, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return err_set("tekken: regex failed at byte %zu: %s", pos, (const char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    *s = ov[0], *e = ov[1];
    return 1;
}

int tekken_encode(const Tekken *t, const char *text, size_t len, IntVec *out) {
    const Impl *im = t->impl;
    size_t bad;
    if (len > INT_MAX) return err_set("tekken: text of %zu bytes is too long", len);
    if (!utf8_valid(text, len, &bad))
        return err_set("tekken: text is not valid UTF-8 at byte %zu", bad);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(im->re, NULL);
    if (!md) return err_set("tekken: out of memory for the regex");
    Scratch s = {0};
    size_t pos = 0, a = 0, b = 0;
    int rc = 0, n0 = out->n;
    while (pos < len && (rc = next_match(im, md, text, len, pos, &a, &b)) > 0) {
        if (a == b) { /* an empty match (not with Tekken's pattern): step one character */
            pos = a + (size_t)utf8_seq_len((const unsigned char *)text + a, len - a);
            continue;
        }
        /* Text between matches is dropped, as tiktoken drops it. */
        const unsigned char *p = (const unsigned char *)text + a;
        int32_t r = lookup(t, p, b - a);
        if (r >= 0) intvec_push(out, r + t->n_special);
        else bpe(t, &s, p, (uint32_t)(b - a), out);
        pos = b;
    }
    scratch_free(&s);
    pcre2_match_data_free(md);
    if (rc < 0) out->n = n0;
    return rc < 0 ? -1 : 0;
}

int tekken_decode(const Tekken *t, const int *ids, int n, ByteBuf *out) {
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return err_set("tekken: id %d is outside the vocabulary [0, %d)", ids[i], t->n_vocab);
    for (int i = 0; i < n; i++) {
        int r = ids[i] - t->n_special;
        if (r >= 0) bytebuf_push(out, t->tok[r], (size_t)t->tok_len[r]);
    }
    return 0;
}

int tekken_special_id(const Tekken *t, const char *name) {
    if (!t->special) return -1;
    for (int i = 0; i < t->n_special; i++)
        if (t->special[i] && strcmp(t->special[i], name) == 0) return i;
    return -1;
}

/* spm — SentencePiece BPE tokenizers, encoding and decoding as sentencepiece
 * 0.1.97 does (Debian's python3-sentencepiece, which made the golden files).
 *
 * The reference, file by file (google/sentencepiece, tag v0.1.97, src/):
 *   model_interface.cc  InitializePieces: which pieces merge, the checks a
 *                       model must pass, PieceToId (reserved pieces first)
 *   normalizer.cc       Normalize: whitespace handling, the dummy prefix
 *   bpe_model.cc        SampleEncode: characters, then the best-scoring merge
 *                       first (ties: leftmost), unused pieces resegmented
 *   sentencepiece_processor.cc  PopulateSentencePieceText (byte fallback,
 *                       runs of unknowns merged) and Decode (ids -> text)
 * Models with Unicode normalization rules (a non-empty precompiled_charsmap:
 * nmt_nfkc and friends), whitespace as suffix, unescaped whitespace or a
 * model type other than BPE are refused: Mistral's and Llama's tokenizers
 * use none of them, and encoding them silently wrong would be worse. */
#include "tok/spm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"

#define SPACE "\xe2\x96\x81" /* U+2581, the escaped space, 3 bytes */
#define MAX_PIECES (1 << 28)
#define MAX_TEXT ((size_t)1 << 28) /* encode input bytes: indices stay in int */

/* ---- piece index (private) -------------------------------------------------- */

/* sentencepiece keeps two maps from spelling to id: pieces_ (NORMAL,
 * USER_DEFINED, UNUSED: the ones merges may produce) and reserved_id_map_
 * (CONTROL, UNKNOWN, BYTE). A spelling may sit in both; PieceToId looks in
 * the reserved one first. One key per distinct spelling holds both ids. */
typedef struct {
    uint32_t off, len; /* the spelling: Index.chars[off, off + len) */
    int normal;        /* id in pieces_, or -1 */
    int reserved;      /* id in reserved_id_map_, or -1 */
    float score;       /* score[normal]: at hand for the merge loop */
} Key;

typedef struct {
    Key *keys;            /* owns [n_keys] */
    int n_keys;
    char *chars;          /* owns: every key's spelling, one after another (near in cache) */
    size_t n_chars;
    uint32_t (*slot)[2];  /* owns [mask + 1]: {hash, key index + 1}, key 0 = empty */
    uint32_t mask;
    int unk;              /* the UNKNOWN piece: what unmatched text encodes to */
    int byte_id[256];     /* PieceToId("<0xXX>") when byte_fallback, else -1 */
    int *canon;           /* owns [n]: PieceToId(piece[i]), what decode sees */
    int *ud_len;          /* owns: the distinct lengths of user-defined pieces, longest first */
    int n_ud_len;
    unsigned char ud_first[32]; /* bitmap: first bytes of user-defined pieces */
    char *unk_surface;    /* owns: what decode prints for unk (default " ⁇ ") */
    size_t unk_surface_len;
    int split_words;      /* no mergeable piece holds "x▁" (x not ▁): see bpe() */
} Index;

static inline uint32_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

static Key *index_find(const Index *x, const char *s, size_t n) {
    uint32_t h = hash_bytes(s, n);
    for (uint32_t i = h & x->mask;; i = (i + 1) & x->mask) {
        uint32_t k = x->slot[i][1];
        if (!k) return NULL;
        Key *key = &x->keys[k - 1];
        if (x->slot[i][0] == h && key->len == n && !memcmp(x->chars + key->off, s, n)) return key;
    }
}

/* sentencepiece's PieceToId: reserved first, then normal, else unk. */
static int piece_to_id(const Index *x, const char *s, size_t n) {
    const Key *k = index_find(x, s, n);
    if (!k) return x->unk;
    return k->reserved >= 0 ? k->reserved : k->normal;
}

/* "<0xAB>" (upper-case hex, exactly) -> 0xAB, else -1: PieceToByte. */
static int piece_to_byte(const char *p) {
    static const char hex[] = "0123456789ABCDEF";
    if (strlen(p) != 6 || memcmp(p, "<0x", 3) || p[5] != '>') return -1;
    const char *hi = memchr(hex, p[3], 16), *lo = memchr(hex, p[4], 16);
    if (!p[3] || !p[4] || !hi || !lo) return -1;
    return (int)(hi - hex) * 16 + (int)(lo - hex);
}

static void index_free(Index *x) {
    if (!x) return;
    free(x->keys);
    free(x->chars);
    free(x->slot);
    free(x->canon);
    free(x->ud_len);
    free(x->unk_surface);
    free(x);
}

static void spm_reset(Spm *s) {
    for (int i = 0; s->piece && i < s->n; i++) free(s->piece[i]);
    free(s->piece);
    free(s->score);
    free(s->type);
    index_free(s->index);
    memset(s, 0, sizeof *s);
}

void spm_free(Spm *s) {
    if (s) spm_reset(s);
}

/* The key spelled p[0..len), added (with no ids) if new. */
static Key *index_add(Index *x, const char *p, size_t len) {
    Key *k = index_find(x, p, len);
    if (k) return k;
    uint32_t h = hash_bytes(p, len), j = h & x->mask;
    while (x->slot[j][1]) j = (j + 1) & x->mask;
    k = &x->keys[x->n_keys];
    *k = (Key){(uint32_t)x->n_chars, (uint32_t)len, -1, -1, 0};
    memcpy(x->chars + x->n_chars, p, len);
    x->n_chars += len;
    x->slot[j][0] = h;
    x->slot[j][1] = (uint32_t)++x->n_keys;
    return k;
}

/* Notes a user-defined piece's length and first byte, for user_match. */
static void user_add(Index *x, const char *p, size_t len) {
    int j = 0;
    while (j < x->n_ud_len && x->ud_len[j] > (int)len) j++;
    if (j == x->n_ud_len || x->ud_len[j] != (int)len) {
        x->ud_len = xrealloc(x->ud_len, (size_t)(x->n_ud_len + 1) * sizeof *x->ud_len);
        memmove(x->ud_len + j + 1, x->ud_len + j, (size_t)(x->n_ud_len - j) * sizeof *x->ud_len);
        x->ud_len[j] = (int)len;
        x->n_ud_len++;
    }
    x->ud_first[(unsigned char)p[0] >> 3] |= (unsigned char)(1u << (p[0] & 7));
}

/* 1 when no mergeable piece holds U+2581 right after another character. */
static int words_split(const Spm *s) {
    for (int i = 0; i < s->n; i++) {
        const char *p = s->piece[i];
        int t = s->type[i];
        if (t != SPM_NORMAL && t != SPM_USER_DEFINED && t != SPM_UNUSED) continue;
        for (const char *q = p; (q = strstr(q + 1, SPACE));)
            if (q < p + 3 || memcmp(q - 3, SPACE, 3)) return 0;
    }
    return 1;
}

/* Checks the pieces as InitializePieces does and builds the index. s holds
 * n, piece, score, type and opt; unk_surface (NULL: the default) is copied. */
static int spm_build(Spm *s, const char *where, const char *unk_surface, size_t unk_surface_len) {
    Index *x = xcalloc(1, sizeof *x);
    s->index = x;
    if (s->n < 1) return err_set("%s: the model has no pieces", where);
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)s->n) cap *= 2;
    x->mask = cap - 1;
    x->slot = xcalloc(cap, sizeof *x->slot);
    x->keys = xmalloc((size_t)s->n * sizeof *x->keys);
    size_t total = 0;
    for (int i = 0; i < s->n; i++) total += strlen(s->piece[i]);
    if (total > UINT32_MAX) return err_set("%s: the pieces are too long", where);
    x->chars = xmalloc(total + 1);
    x->canon = xmalloc((size_t)s->n * sizeof *x->canon);
    x->unk = -1;
    int found_byte[256] = {0};
    for (int i = 0; i < s->n; i++) {
        const char *p = s->piece[i];
        size_t len = strlen(p);
        int t = s->type[i];
        if (!len) return err_set("%s: piece %d is empty", where, i);
        if (t < SPM_NORMAL || t > SPM_BYTE) return err_set("%s: piece %d has type %d", where, i, t);
        Key *k = index_add(x, p, len);
        int normal = t == SPM_NORMAL || t == SPM_USER_DEFINED || t == SPM_UNUSED;
        int *id = normal ? &k->normal : &k->reserved;
        if (*id >= 0) return err_set("%s: piece %d (\"%.40s\") is already defined (piece %d)", where, i, p, *id);
        *id = i;
        if (normal) k->score = s->score[i];
        if (t == SPM_UNKNOWN) {
            if (x->unk >= 0) return err_set("%s: two unknown pieces (%d and %d)", where, x->unk, i);
            x->unk = i;
        }
        if (t == SPM_BYTE) {
            int b = piece_to_byte(p);
            if (!s->opt.byte_fallback)
                return err_set("%s: byte piece %d (\"%.40s\") but byte_fallback is off", where, i, p);
            if (b < 0) return err_set("%s: byte piece %d (\"%.40s\") is not <0xXX>", where, i, p);
            found_byte[b] = 1;
        }
        if (t == SPM_USER_DEFINED) user_add(x, p, len);
    }
    if (x->unk < 0) return err_set("%s: the model has no unknown piece (type UNKNOWN)", where);
    for (int b = 0; b < 256; b++) {
        if (s->opt.byte_fallback && !found_byte[b])
            return err_set("%s: byte_fallback is on but there is no byte piece <0x%02X>", where, b);
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        x->byte_id[b] = s->opt.byte_fallback ? piece_to_id(x, name, 6) : -1;
    }
    for (int i = 0; i < s->n; i++) x->canon[i] = piece_to_id(x, s->piece[i], strlen(s->piece[i]));
    x->split_words = words_split(s);
    if (!unk_surface) unk_surface = " \xe2\x81\x87 ", unk_surface_len = 5; /* " ⁇ " */
    x->unk_surface = xmalloc(unk_surface_len + 1);
    memcpy(x->unk_surface, unk_surface, unk_surface_len);
    x->unk_surface[unk_surface_len] = 0;
    x->unk_surface_len = unk_surface_len;
    return 0;
}

int spm_init(Spm *s, int n, const char *const *pieces, const float *scores, const int *types,
             const SpmOptions *opt) {
    memset(s, 0, sizeof *s);
    if (n < 0 || n > MAX_PIECES) return err_set("spm_init: %d pieces", n);
    s->n = n;
    s->opt = *opt;
    s->piece = xcalloc((size_t)n, sizeof *s->piece);
    s->score = xmalloc((size_t)n * sizeof *s->score);
    s->type = xmalloc((size_t)n);
    for (int i = 0; i < n; i++) {
        if (types[i] < SPM_NORMAL || types[i] > SPM_BYTE) {
            err_set("spm_init: piece %d has type %d", i, types[i]);
            spm_reset(s);
            return -1;
        }
        s->piece[i] = xstrdup(pieces[i] ? pieces[i] : "");
        s->score[i] = scores[i];
        s->type[i] = (unsigned char)types[i];
    }
    if (spm_build(s, "spm_init", NULL, 0) < 0) {
        spm_reset(s);
        return -1;
    }
    return 0;
}

/* ---- protobuf wire format --------------------------------------------------- */

typedef struct {
    const unsigned char *p, *end, *base; /* base: the file's first byte, for offsets */
} Pb;

typedef struct {
    uint32_t field;
    int wire;                   /* 0 varint, 1 fixed64, 2 bytes, 5 fixed32 */
    uint64_t u;                 /* the value of wire types 0, 1 and 5 */
    const unsigned char *data;  /* wire type 2: view of the payload */
    size_t len;
} PbField;

static int pb_varint(Pb *b, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (b->p >= b->end) return -1;
        unsigned c = *b->p++;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1; /* more than 10 bytes */
}

/* The next field of b: 1, 0 at the end, or -1 (err set) when malformed. */
static int pb_next(Pb *b, PbField *f, const char *where) {
    if (b->p >= b->end) return 0;
    size_t at = (size_t)(b->p - b->base);
    uint64_t tag;
    if (pb_varint(b, &tag) < 0) return err_set("%s: truncated protobuf tag at byte %zu", where, at);
    f->field = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    if (f->field == 0 || tag >> 32) return err_set("%s: bad protobuf field number at byte %zu", where, at);
    size_t left;
    switch (f->wire) {
    case 0:
        if (pb_varint(b, &f->u) < 0) return err_set("%s: truncated varint at byte %zu", where, at);
        return 1;
    case 1:
    case 5: {
        size_t k = f->wire == 1 ? 8 : 4;
        if ((size_t)(b->end - b->p) < k) return err_set("%s: truncated fixed-size field at byte %zu", where, at);
        f->u = 0;
        for (size_t i = k; i-- > 0;) f->u = f->u << 8 | b->p[i];
        b->p += k;
        return 1;
    }
    case 2:
        if (pb_varint(b, &f->u) < 0) return err_set("%s: truncated length at byte %zu", where, at);
        left = (size_t)(b->end - b->p);
        if (f->u > left)
            return err_set("%s: field %u at byte %zu is %llu bytes long, past the end", where, f->field, at,
                           (unsigned long long)f->u);
        f->data = b->p;
        f->len = (size_t)f->u;
        b->p += f->len;
        return 1;
    default:
        return err_set("%s: protobuf wire type %d (field %u at byte %zu) is not supported", where, f->wire,
                       f->field, at);
    }
}

static Pb pb_sub(const Pb *b, const PbField *f) { return (Pb){f->data, f->data + f->len, b->base}; }

typedef struct {
    const unsigned char *s;
    size_t len;
    int set;
} PbStr;

/* What ModelProto says beyond the pieces (proto2 defaults where absent). */
typedef struct {
    int has_trainer, model_type, ws_suffix, escape_ws;
    size_t charsmap_len, denorm_charsmap_len;
    PbStr unk_surface, special[4]; /* special: unk, bos, eos, pad piece names */
} ProtoRest;

static char *pb_strdup(const unsigned char *s, size_t n) {
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static int parse_piece(Spm *s, int *cap, Pb b, const char *where) {
    PbField f;
    int r, i = s->n;
    if (i == MAX_PIECES) return err_set("%s: more than %d pieces", where, MAX_PIECES);
    if (i == *cap) {
        *cap = *cap ? 2 * *cap : 1024;
        s->piece = xrealloc(s->piece, (size_t)*cap * sizeof *s->piece);
        s->score = xrealloc(s->score, (size_t)*cap * sizeof *s->score);
        s->type = xrealloc(s->type, (size_t)*cap);
    }
    s->piece[i] = NULL;
    s->score[i] = 0;
    s->type[i] = SPM_NORMAL;
    s->n++;
    while ((r = pb_next(&b, &f, where)) > 0) {
        if (f.field == 1 && f.wire == 2) {
            if (memchr(f.data, 0, f.len)) return err_set("%s: piece %d holds a NUL byte", where, i);
            free(s->piece[i]);
            s->piece[i] = pb_strdup(f.data, f.len);
        } else if (f.field == 2 && f.wire == 5) {
            uint32_t u = (uint32_t)f.u;
            memcpy(&s->score[i], &u, 4);
        } else if (f.field == 3 && f.wire == 0) {
            /* proto2: a value outside the enum is an unknown field, the type stays NORMAL */
            if (f.u >= SPM_NORMAL && f.u <= SPM_BYTE) s->type[i] = (unsigned char)f.u;
        }
    }
    if (!s->piece[i]) s->piece[i] = xstrdup("");
    return r;
}

static int parse_trainer(Spm *s, ProtoRest *rest, Pb b, const char *where) {
    PbField f;
    int r;
    rest->has_trainer = 1;
    while ((r = pb_next(&b, &f, where)) > 0) {
        if (f.wire == 0) {
            if (f.field == 3) {
                if (f.u >= 1 && f.u <= 4) rest->model_type = (int)f.u;
            } else if (f.field == 35) s->opt.byte_fallback = f.u != 0;
            else if (f.field == 25) s->opt.split_digits = f.u != 0;
            else if (f.field == 24) rest->ws_suffix = f.u != 0;
        } else if (f.wire == 2) {
            PbStr str = {f.data, f.len, 1};
            if (f.field == 44) rest->unk_surface = str;
            else if (f.field >= 45 && f.field <= 48) rest->special[f.field - 45] = str;
        }
    }
    return r;
}

static int parse_normalizer(Spm *s, ProtoRest *rest, Pb b, int denorm, const char *where) {
    PbField f;
    int r;
    while ((r = pb_next(&b, &f, where)) > 0) {
        if (f.field == 2 && f.wire == 2) *(denorm ? &rest->denorm_charsmap_len : &rest->charsmap_len) = f.len;
        if (denorm || f.wire != 0) continue;
        if (f.field == 3) s->opt.add_dummy_prefix = f.u != 0;
        else if (f.field == 4) s->opt.remove_extra_whitespaces = f.u != 0;
        else if (f.field == 5) rest->escape_ws = f.u != 0;
    }
    return r;
}

/* id of a special piece (trainer_spec.bos_piece ...) if it has the wanted
 * type, else -1: SentencePieceProcessor::bos_id() and friends. */
static int special_id(const Spm *s, const PbStr *name, const char *dflt, int want) {
    const char *p = dflt;
    size_t n = strlen(dflt);
    if (name->set && name->len) p = (const char *)name->s, n = name->len;
    int id = piece_to_id(s->index, p, n);
    return s->type[id] == want ? id : -1;
}

int spm_parse(Spm *s, const void *buf, size_t len, const char *where) {
    memset(s, 0, sizeof *s);
    s->opt = (SpmOptions){.add_dummy_prefix = 1, .remove_extra_whitespaces = 1};
    ProtoRest rest = {.model_type = 1, .escape_ws = 1};
    Pb b = {buf, (const unsigned char *)buf + len, buf};
    PbField f;
    int r, cap = 0;
    while ((r = pb_next(&b, &f, where)) > 0) {
        if (f.wire != 2) continue;
        Pb sub = pb_sub(&b, &f);
        if (f.field == 1) r = parse_piece(s, &cap, sub, where);
        if (f.field == 2) r = parse_trainer(s, &rest, sub, where);
        if (f.field == 3) r = parse_normalizer(s, &rest, sub, 0, where);
        if (f.field == 5) r = parse_normalizer(s, &rest, sub, 1, where);
        if (r < 0) break;
    }
    if (r < 0) goto fail;
    if (!s->n || !rest.has_trainer) {
        err_set("%s: no %s (cut short, or not a SentencePiece model)", where, s->n ? "trainer_spec" : "pieces");
        goto fail;
    }
    if (rest.model_type != 2) {
        static const char *names[] = {"?", "UNIGRAM", "BPE", "WORD", "CHAR"};
        err_set("%s: model type %s: only BPE is supported", where, names[rest.model_type]);
        goto fail;
    }
    if (rest.charsmap_len || rest.denorm_charsmap_len) {
        err_set("%s: the model has Unicode normalization rules (precompiled_charsmap), which are not supported",
                where);
        goto fail;
    }
    if (rest.ws_suffix || !rest.escape_ws) {
        err_set("%s: %s is not supported", where,
                rest.ws_suffix ? "treat_whitespace_as_suffix" : "escape_whitespaces = false");
        goto fail;
    }
    const char *unk_surface = rest.unk_surface.set ? (const char *)rest.unk_surface.s : NULL;
    if (spm_build(s, where, unk_surface, rest.unk_surface.len) < 0) goto fail;
    s->opt.unk = special_id(s, &rest.special[0], "<unk>", SPM_UNKNOWN);
    s->opt.bos = special_id(s, &rest.special[1], "<s>", SPM_CONTROL);
    s->opt.eos = special_id(s, &rest.special[2], "</s>", SPM_CONTROL);
    s->opt.pad = special_id(s, &rest.special[3], "<pad>", SPM_CONTROL);
    return 0;
fail:
    spm_reset(s);
    return -1;
}

static int parse_cb(void *s, const char *buf, size_t len, const char *where) {
    return spm_parse(s, buf, len, where);
}

int spm_load(Spm *s, const char *path) {
    memset(s, 0, sizeof *s);
    return parse_file(path, parse_cb, s);
}

int spm_piece_id(const Spm *s, const char *piece) {
    const Key *k = index_find(s->index, piece, strlen(piece));
    return !k ? -1 : k->reserved >= 0 ? k->reserved : k->normal;
}

/* ---- encoding --------------------------------------------------------------- */

/* Length of the longest user-defined piece that starts p[0..n), or 0:
 * PrefixMatcher::PrefixMatch. */
static size_t user_match(const Spm *s, const char *p, size_t n) {
    const Index *x = s->index;
    unsigned c = (unsigned char)p[0];
    if (!(x->ud_first[c >> 3] & (1u << (c & 7)))) return 0;
    for (int j = 0; j < x->n_ud_len; j++) {
        size_t len = (size_t)x->ud_len[j];
        if (len > n) continue;
        const Key *k = index_find(x, p, len);
        if (k && k->normal >= 0 && s->type[k->normal] == SPM_USER_DEFINED) return len;
    }
    return 0;
}

/* One unit of the text: a user-defined piece or one character (valid UTF-8). */
static size_t unit_len(const Spm *s, const char *p, size_t n, int *user) {
    size_t m = user_match(s, p, n);
    if (user) *user = m > 0;
    if (m) return m;
    int k = utf8_seq_len((const unsigned char *)p, n);
    return k ? (size_t)k : 1;
}

/* Normalizer::Normalize without a charsmap: drop leading spaces and collapse
 * runs of them (remove_extra_whitespaces), add the dummy-prefix space, spaces
 * become U+2581, drop trailing U+2581 (remove_extra_whitespaces again: even
 * ones that were in the text). out has room for 3 * len + 3 bytes. */
static size_t normalize(const Spm *s, const char *text, size_t len, char *out) {
    int rew = s->opt.remove_extra_whitespaces;
    size_t i = 0, o = 0;
    if (rew)
        while (i < len && unit_len(s, text + i, len - i, NULL) == 1 && text[i] == ' ') i++;
    if (i == len) return 0;
    if (s->opt.add_dummy_prefix) memcpy(out + o, SPACE, 3), o += 3;
    int prev_space = rew;
    while (i < len) {
        size_t u = unit_len(s, text + i, len - i, NULL);
        const char *p = text + i, *end = text + i + u;
        if (prev_space)
            while (p < end && *p == ' ') p++;
        if (p < end) {
            for (const char *q = p; q < end; q++) {
                if (*q == ' ') memcpy(out + o, SPACE, 3), o += 3;
                else out[o++] = *q;
            }
            prev_space = end[-1] == ' ';
        }
        i += u;
        if (!rew) prev_space = 0;
    }
    if (rew)
        while (o >= 3 && !memcmp(out + o - 3, SPACE, 3)) o -= 3;
    return o;
}

typedef struct {
    int prev, next; /* neighbours in the list, -1 at the ends */
    int start, len; /* bytes of the normalized text; len 0: merged away */
    int freeze;     /* a user-defined piece: never merged */
} Sym;

typedef struct {
    float score;
    int left, right, size;
} Pair;

/* Heap order of bpe_model.cc's agenda: higher score first, then leftmost. */
static int pair_before(const Pair *a, const Pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct {
    const Spm *s;
    const char *text; /* normalized */
    Sym *sym;
    Pair *heap;
    int n_heap, cap_heap;
    int *rev;         /* [n] or NULL: left length of the merge that made an unused piece (0: none) */
    int prev_unk;     /* the last piece emitted was unk (runs of them merge) */
} Bpe;

static void heap_push(Bpe *b, Pair p) {
    if (b->n_heap == b->cap_heap) {
        b->cap_heap = b->cap_heap ? 2 * b->cap_heap : 64;
        b->heap = xrealloc(b->heap, (size_t)b->cap_heap * sizeof *b->heap);
    }
    int i = b->n_heap++;
    while (i > 0 && pair_before(&p, &b->heap[(i - 1) / 2])) {
        b->heap[i] = b->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    b->heap[i] = p;
}

static Pair heap_pop(Bpe *b) {
    Pair top = b->heap[0], last = b->heap[--b->n_heap];
    int i = 0, n = b->n_heap;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_before(&b->heap[c + 1], &b->heap[c])) c++;
        if (!pair_before(&b->heap[c], &last)) break;
        b->heap[i] = b->heap[c];
        i = c;
    }
    if (n) b->heap[i] = last;
    return top;
}

/* MaybeAddNewSymbolPair: queue the merge of left and right if its spelling
 * is a NORMAL, USER_DEFINED or UNUSED piece. */
static void maybe_add_pair(Bpe *b, int left, int right) {
    if (left < 0 || right < 0 || b->sym[left].freeze || b->sym[right].freeze) return;
    int size = b->sym[left].len + b->sym[right].len;
    const Key *k = index_find(b->s->index, b->text + b->sym[left].start, (size_t)size);
    if (!k || k->normal < 0) return;
    heap_push(b, (Pair){k->score, left, right, size});
    if (b->s->type[k->normal] == SPM_UNUSED) {
        if (!b->rev) b->rev = xcalloc((size_t)b->s->n, sizeof *b->rev);
        b->rev[k->normal] = b->sym[left].len;
    }
}

/* PopulateSentencePieceText for one piece: unknowns become byte pieces
 * (byte_fallback) or merge with an unknown just before. */
static void emit(Bpe *b, const char *p, int len, int id, IntVec *out) {
    const Spm *s = b->s;
    const Index *x = s->index;
    int unk = s->type[id] == SPM_UNKNOWN;
    if (unk && s->opt.byte_fallback) {
        for (int i = 0; i < len; i++) intvec_push(out, x->byte_id[(unsigned char)p[i]]);
    } else if (!(unk && b->prev_unk)) {
        intvec_push(out, id);
    }
    b->prev_unk = unk;
}

/* resegment: an unused piece is split back into the two it was merged from. */
static void resegment(Bpe *b, const char *p, int len, IntVec *out) {
    const Index *x = b->s->index;
    int id = piece_to_id(x, p, (size_t)len);
    if (b->s->type[id] != SPM_UNUSED || !b->rev || !b->rev[id]) { /* a lone character, say */
        emit(b, p, len, id, out);
        return;
    }
    int left = b->rev[id];
    resegment(b, p, left, out);
    resegment(b, p + left, len - left, out);
}

/* Merges the symbols [a, b) (linked among themselves and to their
 * neighbours) until no pair makes a piece: bpe_model.cc's main loop. */
static void merge(Bpe *b, int first, int end) {
    for (int i = first + 1; i < end; i++) maybe_add_pair(b, i - 1, i);
    while (b->n_heap) {
        Pair top = heap_pop(b);
        Sym *l = &b->sym[top.left], *r = &b->sym[top.right];
        if (!l->len || !r->len || l->len + r->len != top.size) continue; /* stale */
        l->len += r->len;
        l->next = r->next;
        if (r->next >= 0) b->sym[r->next].prev = top.left;
        r->len = 0;
        maybe_add_pair(b, l->prev, top.left);
        maybe_add_pair(b, top.left, l->next);
    }
}

/* When no piece holds "x▁" (x not ▁), no merge crosses the start of a word
 * (a ▁ after something else): each word merges alone, in the same order as
 * in the whole text (the heap orders by score, then position), with a small
 * heap. Otherwise the whole text is one segment. */
static void bpe(const Spm *s, const char *text, int n, IntVec *out) {
    const Index *x = s->index;
    Bpe b = {.s = s, .text = text};
    b.sym = xmalloc((size_t)(n ? n : 1) * sizeof *b.sym);
    int n_sym = 0;
    for (int i = 0; i < n;) {
        int user;
        size_t m = unit_len(s, text + i, (size_t)(n - i), &user);
        b.sym[n_sym] = (Sym){n_sym - 1, i + (int)m < n ? n_sym + 1 : -1, i, (int)m, user};
        n_sym++;
        i += (int)m;
    }
    for (int first = 0, end; first < n_sym; first = end) {
        for (end = first + 1; end < n_sym && x->split_words; end++) {
            const Sym *l = &b.sym[end - 1], *r = &b.sym[end];
            int r_ws = r->len >= 3 && !memcmp(text + r->start, SPACE, 3);
            int l_ws = l->len >= 3 && !memcmp(text + l->start + l->len - 3, SPACE, 3);
            if (r_ws && !l_ws) break;
        }
        if (!x->split_words) end = n_sym;
        merge(&b, first, end);
        for (int i = first; i >= 0 && i < end; i = b.sym[i].next)
            resegment(&b, text + b.sym[i].start, b.sym[i].len, out);
    }
    free(b.sym);
    free(b.heap);
    free(b.rev);
}

int spm_encode(const Spm *s, const char *text, size_t len, IntVec *out) {
    size_t bad;
    if (!utf8_valid(text, len, &bad)) return err_set("spm_encode: the text is not valid UTF-8 (byte %zu)", bad);
    if (len > MAX_TEXT) return err_set("spm_encode: the text is too long (%zu bytes)", len);
    char *norm = xmalloc(3 * len + 3);
    size_t n = normalize(s, text, len, norm);
    bpe(s, norm, (int)n, out);
    free(norm);
    return 0;
}

/* ---- decoding --------------------------------------------------------------- */

/* A run of byte pieces, from out->p[from] on: as it is, or (`exact`) as
 * ProcessBytePieces shows it, each byte that does not start a valid
 * character replaced by U+FFFD. */
static void flush_bytes(ByteBuf *out, size_t from, int exact) {
    if (!exact || from == out->n) return;
    size_t n = out->n - from;
    unsigned char *run = xmalloc(n);
    memcpy(run, out->p + from, n);
    out->n = from;
    for (size_t i = 0; i < n;) {
        int k = utf8_seq_len(run + i, n - i);
        if (k) bytebuf_push(out, run + i, (size_t)k), i += (size_t)k;
        else bytebuf_push(out, "\xef\xbf\xbd", 3), i++;
    }
    free(run);
}

/* cont: the ids continue a text that already has some (no leading space to drop). */
static int decode(const Spm *s, const int *ids, int n, ByteBuf *out, int exact, int cont) {
    const Index *x = s->index;
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= s->n)
            return err_set("spm_decode: id %d is outside the vocabulary (0..%d)", ids[i], s->n - 1);
    size_t start = out->n, run = out->n; /* run: where the current byte run began */
    int strip = s->opt.add_dummy_prefix || s->opt.remove_extra_whitespaces;
    int bos_ws = !cont, bos_ws_seen = 0; /* may the next piece's leading U+2581 still go? */
    bytebuf_push(out, "", 0);
    for (int i = 0; i < n; i++) {
        int id = x->canon[ids[i]]; /* Decode looks each piece's spelling up again */
        int t = s->type[id];
        const char *p = s->piece[id];
        if (t == SPM_BYTE) {
            bytebuf_putc(out, (char)piece_to_byte(p));
            continue;
        }
        flush_bytes(out, run, exact);
        if (bos_ws_seen || out->n > start) bos_ws = 0;
        bos_ws_seen = 0;
        if (t == SPM_UNKNOWN) bytebuf_push(out, x->unk_surface, x->unk_surface_len);
        if (t != SPM_CONTROL && t != SPM_UNKNOWN) {
            if (bos_ws && strip && !strncmp(p, SPACE, 3)) {
                p += 3;
                bos_ws_seen = !s->opt.remove_extra_whitespaces;
            }
            for (const char *q; (q = strstr(p, SPACE)); p = q + 3) {
                bytebuf_push(out, p, (size_t)(q - p));
                bytebuf_putc(out, ' ');
            }
            bytebuf_push(out, p, strlen(p));
        }
        run = out->n;
    }
    flush_bytes(out, run, exact);
    return 0;
}

int spm_decode(const Spm *s, const int *ids, int n, ByteBuf *out) { return decode(s, ids, n, out, 0, 0); }

int spm_decode_more(const Spm *s, const int *ids, int n, ByteBuf *out) { return decode(s, ids, n, out, 0, 1); }

int spm_decode_text(const Spm *s, const int *ids, int n, ByteBuf *out) { return decode(s, ids, n, out, 1, 0); }

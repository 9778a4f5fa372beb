/* vocab — the tokens' byte forms and their tries (vocab.h). */
#include "grammar/vocab.h"

#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"

/* A subtree with fewer tokens than this gets no byte set: walking it costs
 * about what testing the set would. */
#define SET_MIN_TOKENS 4

/* ------------------------------------------------------------ the trie -- */

typedef struct {
    const unsigned char *p;
    uint32_t n;
    int id;
} Entry;

static int cmp_entry(const void *x, const void *y) {
    const Entry *a = x, *b = y;
    uint32_t n = a->n < b->n ? a->n : b->n;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    if (c) return c;
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    return a->id - b->id;
}

static uint32_t set_hash(const ByteSet *s) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < 8; i++) h = (h ^ s->w[i]) * 16777619u;
    return h;
}

/* utf8[i]: bottom-up over the decoder's 8 states (bit u: every string below
 * node i is valid UTF-8's start when read from state u). */
static void trie_utf8(VocabTrie *t) {
    uint8_t *ok = xmalloc((size_t)t->n_nodes);
    for (int i = t->n_nodes - 1; i >= 0; i--) {
        ok[i] = 0xFF;
        for (uint32_t c = (uint32_t)i + 1; c < t->next[i]; c = t->next[c])
            for (int u = 0; u < 8; u++) {
                int v = utf8_next(u, t->byte[c]);
                if (v < 0 || !(ok[c] >> v & 1)) ok[i] &= (uint8_t)~(1u << u);
            }
    }
    t->utf8 = xmalloc((size_t)t->n_nodes);
    for (int i = 0; i < t->n_nodes; i++) t->utf8[i] = ok[i] & 1;
    free(ok);
}

/* Gives every node with a big enough subtree the index of its subtree's
 * byte set (interned). full[] is scratch, one set per node. */
static void trie_sets(VocabTrie *t) {
    ByteSet *full = xcalloc((size_t)t->n_nodes, sizeof *full);
    for (int i = t->n_nodes - 1; i >= 0; i--)
        for (uint32_t c = (uint32_t)i + 1; c < t->next[i]; c = t->next[c]) {
            byteset_add(&full[i], t->byte[c]);
            for (int w = 0; w < 8; w++) full[i].w[w] |= full[c].w[w];
        }
    int cap = 1024, *hash = xcalloc((size_t)cap, sizeof *hash), n_cap = 0;
    t->set = xmalloc((size_t)t->n_nodes * sizeof *t->set);
    for (int i = 0; i < t->n_nodes; i++) {
        t->set[i] = -1;
        if (t->ord[t->next[i]] - t->ord[i] < SET_MIN_TOKENS) continue;
        if (2 * (t->n_sets + 1) > cap) { /* rehash at half full */
            free(hash);
            cap *= 2;
            hash = xcalloc((size_t)cap, sizeof *hash);
            for (int k = 0; k < t->n_sets; k++) {
                uint32_t h = set_hash(&t->sets[k]) & (uint32_t)(cap - 1);
                while (hash[h]) h = (h + 1) & (uint32_t)(cap - 1);
                hash[h] = k + 1;
            }
        }
        uint32_t h = set_hash(&full[i]) & (uint32_t)(cap - 1);
        for (; hash[h]; h = (h + 1) & (uint32_t)(cap - 1))
            if (!memcmp(&t->sets[hash[h] - 1], &full[i], sizeof full[i])) break;
        if (!hash[h]) {
            if (t->n_sets == n_cap) {
                n_cap = n_cap ? 2 * n_cap : 256;
                t->sets = xrealloc(t->sets, (size_t)n_cap * sizeof *t->sets);
            }
            t->sets[t->n_sets] = full[i];
            hash[h] = ++t->n_sets;
        }
        t->set[i] = hash[h] - 1;
    }
    free(hash);
    free(full);
}

/* Builds the trie of the tokens whose bytes are data[off[t] .. off[t + 1])
 * (control tokens left out). */
static int trie_build(VocabTrie *t, const Vocab *v, const uint32_t *off, const unsigned char *data) {
    Entry *e = xmalloc((size_t)v->n_vocab * sizeof *e);
    int n = 0;
    size_t total = 1;
    for (int id = 0; id < v->n_vocab; id++) {
        if (v->control[id]) continue;
        e[n++] = (Entry){data + off[id], off[id + 1] - off[id], id};
        if (off[id + 1] - off[id] > 60000) {
            free(e);
            return err_set("vocab: token %d is %u bytes long", id, off[id + 1] - off[id]);
        }
        total += off[id + 1] - off[id];
    }
    qsort(e, (size_t)n, sizeof *e, cmp_entry);
    /* at most one node per byte of every token, and the root */
    t->byte = xmalloc(total), t->depth = xmalloc(total * sizeof *t->depth);
    t->next = xmalloc(total * sizeof *t->next), t->ord = xmalloc((total + 1) * sizeof *t->ord);
    t->tokens = xmalloc(((size_t)n + 1) * sizeof *t->tokens);
    uint32_t *path = xmalloc((total + 1) * sizeof *path); /* path[d]: the node at depth d */
    int nodes = 1, depth = 0;
    t->byte[0] = 0, t->depth[0] = 0, t->ord[0] = 0;
    path[0] = 0;
    for (int k = 0; k < n; k++) {
        uint32_t lcp = 0;
        if (k) {
            const Entry *p = &e[k - 1];
            while (lcp < p->n && lcp < e[k].n && p->p[lcp] == e[k].p[lcp]) lcp++;
        }
        for (; depth > (int)lcp; depth--) t->next[path[depth]] = (uint32_t)nodes;
        for (; depth < (int)e[k].n; depth++) {
            t->byte[nodes] = e[k].p[depth];
            t->depth[nodes] = (uint16_t)(depth + 1);
            t->ord[nodes] = (uint32_t)k;
            path[depth + 1] = (uint32_t)nodes++;
        }
        t->tokens[k] = e[k].id;
        if (depth > t->max_depth) t->max_depth = depth;
    }
    for (; depth >= 0; depth--) t->next[path[depth]] = (uint32_t)nodes;
    t->n_nodes = nodes, t->n_tokens = n;
    t->ord[nodes] = (uint32_t)n;
    free(path);
    free(e);
    trie_sets(t);
    trie_utf8(t);
    return 0;
}

static void trie_free(VocabTrie *t) {
    free(t->byte), free(t->depth), free(t->next), free(t->ord);
    free(t->set), free(t->sets), free(t->tokens), free(t->utf8);
    memset(t, 0, sizeof *t);
}

/* --------------------------------------------------------- the vocabulary -- */

/* Decodes each token alone (decode_more: mid, else decode) into off/data. */
static int forms(const Tokenizer *tok, const unsigned char *control, int more, uint32_t **off_out,
                 unsigned char **data_out) {
    ByteBuf buf = {0};
    uint32_t *off = xmalloc(((size_t)tok->n_vocab + 1) * sizeof *off);
    for (int id = 0; id < tok->n_vocab; id++) {
        off[id] = (uint32_t)buf.n;
        if (control[id]) continue;
        int rc = more ? tokenizer_decode_more(tok, &id, 1, &buf) : tokenizer_decode(tok, &id, 1, &buf);
        if (rc || buf.n > UINT32_MAX / 2) {
            free(off);
            bytebuf_free(&buf);
            return err_set("vocab: token %d does not decode", id);
        }
    }
    off[tok->n_vocab] = (uint32_t)buf.n;
    bytebuf_push(&buf, "", 0);
    *off_out = off, *data_out = (unsigned char *)buf.p;
    return 0;
}

int vocab_init(Vocab *v, const Tokenizer *t) {
    memset(v, 0, sizeof *v);
    v->tok = t, v->n_vocab = t->n_vocab, v->eos = t->eos, v->probe = -1;
    if (t->n_vocab <= 0) return err_set("vocab: the tokenizer has no tokens");
    v->control = xcalloc((size_t)t->n_vocab, 1);
    for (int id = 0; id < t->n_vocab; id++)
        v->control[id] = t->kind == TOK_TEKKEN ? id < t->tek.n_special : t->spm.type[id] == SPM_CONTROL;
    if (forms(t, v->control, 1, &v->mid_off, &v->bytes)) goto fail;
    if (forms(t, v->control, 0, &v->start_off, &v->start_bytes)) goto fail;
    int differ = 0;
    for (int id = 0; id < t->n_vocab; id++) {
        uint32_t a = v->mid_off[id + 1] - v->mid_off[id], b = v->start_off[id + 1] - v->start_off[id];
        if (a == b && !memcmp(v->bytes + v->mid_off[id], v->start_bytes + v->start_off[id], a)) continue;
        differ = 1;
        if (v->probe < 0 && b > 0) v->probe = id;
    }
    if (!differ) {
        free(v->start_off), free(v->start_bytes);
        v->start_off = NULL, v->start_bytes = NULL;
    }
    if (trie_build(&v->mid, v, v->mid_off, v->bytes)) goto fail;
    if (differ && trie_build(&v->start, v, v->start_off, v->start_bytes)) goto fail;
    return 0;
fail:
    vocab_free(v);
    return -1;
}

void vocab_free(Vocab *v) {
    free(v->control), free(v->mid_off), free(v->bytes), free(v->start_off), free(v->start_bytes);
    trie_free(&v->mid), trie_free(&v->start);
    memset(v, 0, sizeof *v);
}

const unsigned char *vocab_bytes(const Vocab *v, int t, int start, int *n) {
    CHECK(t >= 0 && t < v->n_vocab);
    if (v->control[t]) return *n = 0, NULL;
    if (start && v->start_off) {
        *n = (int)(v->start_off[t + 1] - v->start_off[t]);
        return v->start_bytes + v->start_off[t];
    }
    *n = (int)(v->mid_off[t + 1] - v->mid_off[t]);
    return v->bytes + v->mid_off[t];
}

int vocab_strips(const Vocab *v, const int *ids, int n) {
    if (v->probe < 0) return 0;
    if (n == 0) return 1;
    /* decode ids ++ [probe]: the probe's start form shows that the space went */
    IntVec all = {0};
    for (int i = 0; i < n; i++) intvec_push(&all, ids[i]);
    intvec_push(&all, v->probe);
    ByteBuf out = {0};
    int rc = tokenizer_decode(v->tok, all.v, all.n, &out);
    int len, strips = 0;
    const unsigned char *s = vocab_bytes(v, v->probe, 1, &len);
    if (rc == 0) strips = out.n == (size_t)len && !memcmp(out.p, s, (size_t)len);
    intvec_free(&all);
    bytebuf_free(&out);
    return strips;
}

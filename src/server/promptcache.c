/* promptcache — KV states of prompt prefixes on disk (see promptcache.h). */
#include "server/promptcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "dist/shard.h"

#define PCACHE_MAGIC "MSTRLKVC" /* 8 bytes, no NUL */
#define PCACHE_EXT ".kvc"
#define PCACHE_MAX_TOKENS (1 << 26)
#define SUM_SEED PCACHE_SUM_SEED

_Static_assert(sizeof(int) == 4, "tokens are stored as int32");

/* One of this model's files, as the scan or a save found it. */
typedef struct {
    char *name;      /* owns: the file's name in the directory */
    int *tokens;     /* owns [n]: the tokens it holds */
    int n;
    long long bytes; /* the file's size */
    int64_t used;    /* ns since the epoch of its last save or load (the file's mtime): LRU */
} PCEntry;

struct PromptCache {
    char *dir;       /* owns */
    size_t limit;    /* bytes of files, at most */
    uint64_t fp;
    int n_layers, n_kv_heads;
    int *window;     /* owns [n_layers]: keys a token sees (0: all) */
    size_t row;      /* bytes of one head's key at one position */
    DType type;
    PCEntry *e;      /* owns [n] */
    int n, cap;
    PromptCacheStats st;
    unsigned tmp_seq;
    int warned_big;  /* said once that a state is over the limit */
};

/* ---- checksums and shapes --------------------------------------------------------- */

/* A 64-bit checksum of n bytes, continued from h: eight bytes a step, then
 * the tail byte by byte (FNV's prime). Catches torn and flipped bytes, not
 * an adversary: the directory is the operator's. */
uint64_t promptcache_checksum(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (; n >= 8; b += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    for (; n; b++, n--) h = (h ^ *b) * 0x100000001b3ULL;
    return h;
}

uint64_t promptcache_fingerprint(const Context *ctx) {
    const Model *m = ctx->model;
    uint64_t h = shard_fingerprint(m);
    long long v[] = {PCACHE_VERSION, ctx->kv_type, ctx->mm.fast};
    h = promptcache_checksum(h, v, sizeof v);
    /* packed layouts add in another order (model/prepare.h): which are packed */
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const LayerWeights *lw = &m->w.layers[l];
        const Mat *mats[] = {&lw->wq, &lw->wk, &lw->wv, &lw->wo, &lw->ffn.w1, &lw->ffn.w2, &lw->ffn.w3, &lw->gate};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
            unsigned char packed = mats[i]->packed != NULL;
            h = promptcache_checksum(h, &packed, 1);
        }
    }
    const char *k = ctx->mm.kern ? ctx->mm.kern->name : "";
    return promptcache_checksum(h, k, strlen(k) + 1);
}

/* The first position layer l keeps of a state of n tokens: what the token
 * at n still sees. */
static int first_kept(const PromptCache *pc, int l, int n) {
    int w = pc->window[l];
    return w > 0 && n - w + 1 > 0 ? n - w + 1 : 0;
}

/* Every layer keeps all n positions: the state restores any prefix. */
static int keeps_all(const PromptCache *pc, int n) {
    for (int l = 0; l < pc->n_layers; l++)
        if (first_kept(pc, l, n) > 0) return 0;
    return 1;
}

static uint64_t payload_bytes(const PromptCache *pc, int n) {
    uint64_t b = 0;
    for (int l = 0; l < pc->n_layers; l++)
        b += 2 * (uint64_t)pc->n_kv_heads * (uint64_t)(n - first_kept(pc, l, n)) * pc->row;
    return b;
}

static uint64_t file_bytes(const PromptCache *pc, int n) {
    return sizeof(PCacheHeader) + 4 * ((uint64_t)n + (uint64_t)pc->n_layers) + payload_bytes(pc, n);
}

/* The checksum of a file's tokens and layer table. */
static uint64_t token_sum(const PromptCache *pc, const int *tokens, int n, const uint32_t *first) {
    uint64_t h = promptcache_checksum(SUM_SEED, tokens, (size_t)n * sizeof(int));
    return promptcache_checksum(h, first, (size_t)pc->n_layers * sizeof(uint32_t));
}

static uint64_t header_sum(PCacheHeader h) {
    h.header_sum = 0;
    return promptcache_checksum(SUM_SEED, &h, sizeof h);
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static char *path_of(const PromptCache *pc, const char *name) {
    size_t k = strlen(pc->dir) + strlen(name) + 2;
    char *p = xmalloc(k);
    snprintf(p, k, "%s/%s", pc->dir, name);
    return p;
}

/* ---- the index ---------------------------------------------------------------------- */

static void note(const PromptCache *pc, const char *name, const char *why) {
    fprintf(stderr, "mistral serve: prompt cache: %s/%s: %s; ignored\n", pc->dir, name, why);
}

static void entry_add(PromptCache *pc, char *name, int *tokens, int n, long long bytes, int64_t used) {
    if (pc->n == pc->cap) pc->e = xrealloc(pc->e, (size_t)(pc->cap = pc->cap ? 2 * pc->cap : 16) * sizeof *pc->e);
    pc->e[pc->n++] = (PCEntry){.name = name, .tokens = tokens, .n = n, .bytes = bytes, .used = used};
    pc->st.files++, pc->st.bytes += bytes;
}

/* Forgets entry i (and removes its file when `unlink_it`). */
static void entry_drop(PromptCache *pc, int i, int unlink_it) {
    PCEntry *x = &pc->e[i];
    if (unlink_it) {
        char *p = path_of(pc, x->name);
        unlink(p);
        free(p);
    }
    pc->st.files--, pc->st.bytes -= x->bytes;
    free(x->name), free(x->tokens);
    pc->e[i] = pc->e[--pc->n];
}

static int entry_named(const PromptCache *pc, const char *name) {
    for (int i = 0; i < pc->n; i++)
        if (!strcmp(pc->e[i].name, name)) return i;
    return -1;
}

static void entry_touch(PromptCache *pc, int i) {
    char *p = path_of(pc, pc->e[i].name);
    utimensat(AT_FDCWD, p, NULL, 0); /* the order across restarts; a failure only loses that */
    free(p);
    pc->e[i].used = now_ns();
}

/* ---- reading a file ------------------------------------------------------------------ */

/* path opened for reading when it is a regular file (never blocking on a
 * FIFO put in the directory), its size in *size; NULL otherwise. */
static FILE *open_regular(const char *path, long long *size) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return NULL;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) close(fd);
    *size = (long long)st.st_size;
    return f;
}

/* Reads f's header, tokens and layer table (f is `size` bytes) and checks
 * them against this model. 0 (*tokens owns h->n_tokens ids), or -1 with
 * *why; *ours: the header is this model's (a failure after it is damage). */
static int read_head(const PromptCache *pc, FILE *f, long long size, PCacheHeader *h, int **tokens,
                     const char **why, int *ours) {
    *tokens = NULL, *ours = 0;
    if (fread(h, sizeof *h, 1, f) != 1) return *why = "shorter than a header", -1;
    if (memcmp(h->magic, PCACHE_MAGIC, 8)) return *why = "not a prompt-cache file", -1;
    if (h->version != PCACHE_VERSION) return *why = "another version of the format", -1;
    if (h->header_sum != header_sum(*h)) return *why = "header checksum mismatch", -1;
    if (h->fingerprint != pc->fp) return *why = "made by another model or with other settings", -1;
    *ours = 1;
    if (h->n_layers != (uint32_t)pc->n_layers || h->n_kv_heads != (uint32_t)pc->n_kv_heads ||
        h->row_bytes != pc->row || h->kv_type != (uint32_t)pc->type)
        return *why = "shapes differ from the model's", -1;
    if (h->n_tokens < 1 || h->n_tokens > PCACHE_MAX_TOKENS) return *why = "bad token count", -1;
    int n = (int)h->n_tokens;
    if (h->payload_bytes != payload_bytes(pc, n)) return *why = "payload size differs from the shapes'", -1;
    if ((uint64_t)size != file_bytes(pc, n)) return *why = "file size differs from its header's (truncated?)", -1;
    int *t = malloc((size_t)n * sizeof(int)); /* a file's size: may not fit */
    if (!t) return *why = "no memory for its tokens", -1;
    uint32_t *first = xmalloc((size_t)pc->n_layers * sizeof(uint32_t));
    int rc = -1;
    if (fread(t, sizeof(int), (size_t)n, f) != (size_t)n ||
        fread(first, sizeof(uint32_t), (size_t)pc->n_layers, f) != (size_t)pc->n_layers)
        *why = "short read";
    else if (token_sum(pc, t, n, first) != h->token_sum)
        *why = "token checksum mismatch";
    else {
        rc = 0;
        for (int l = 0; l < pc->n_layers && rc == 0; l++)
            if (first[l] != (uint32_t)first_kept(pc, l, n)) *why = "layer table differs from the windows'", rc = -1;
    }
    free(first);
    if (rc) free(t);
    else *tokens = t;
    return rc;
}

/* Stale temporary files: a save cut short by a crash (its process gone). */
static void drop_stale_tmp(const PromptCache *pc, const char *name) {
    long pid = strtol(name + 5, NULL, 10);
    if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) return;
    char *p = path_of(pc, name);
    unlink(p);
    free(p);
}

static void scan(PromptCache *pc, DIR *d) {
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        size_t k = strlen(nm);
        if (!strncmp(nm, ".tmp-", 5)) drop_stale_tmp(pc, nm);
        if (k <= 4 || strcmp(nm + k - 4, PCACHE_EXT) || nm[0] == '.') continue;
        char *p = path_of(pc, nm);
        long long size;
        struct stat st;
        FILE *f = open_regular(p, &size);
        if (!f || fstat(fileno(f), &st)) {
            if (f) fclose(f);
            note(pc, nm, "not a regular file, or cannot be read");
            free(p);
            continue;
        }
        PCacheHeader h;
        int *tokens, ours;
        const char *why;
        if (read_head(pc, f, size, &h, &tokens, &why, &ours) == 0) {
            entry_add(pc, xstrdup(nm), tokens, (int)h.n_tokens, size,
                      (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
        } else {
            note(pc, nm, why);
            if (ours) unlink(p); /* damaged: it would only be ignored again */
        }
        fclose(f);
        free(p);
    }
}

/* ---- the cache's life ------------------------------------------------------------------- */

PromptCache *promptcache_open(const char *dir, size_t limit, const Context *ctx) {
    if (mkdir(dir, 0755) && errno != EEXIST) return err_io("prompt cache %s: %s", dir, strerror(errno)), NULL;
    DIR *d = opendir(dir);
    if (!d) return err_io("prompt cache %s: %s", dir, strerror(errno)), NULL;
    if (access(dir, W_OK | X_OK)) {
        closedir(d);
        return err_io("prompt cache %s: not writable", dir), NULL;
    }
    const Config *c = &ctx->model->cfg;
    PromptCache *pc = xcalloc(1, sizeof *pc);
    pc->dir = xstrdup(dir);
    pc->limit = limit;
    pc->fp = promptcache_fingerprint(ctx);
    pc->n_layers = c->n_layers, pc->n_kv_heads = c->n_kv_heads;
    pc->type = ctx->kv_type;
    pc->row = dtype_bytes(ctx->kv_type, (size_t)c->head_dim);
    pc->window = xmalloc((size_t)c->n_layers * sizeof(int));
    for (int l = 0; l < c->n_layers; l++) pc->window[l] = c->window[l] > 0 ? c->window[l] : 0;
    scan(pc, d);
    closedir(d);
    return pc;
}

void promptcache_close(PromptCache *pc) {
    if (!pc) return;
    while (pc->n) entry_drop(pc, pc->n - 1, 0);
    free(pc->e), free(pc->window), free(pc->dir);
    free(pc);
}

PromptCacheStats promptcache_stats(const PromptCache *pc) { return pc->st; }

void promptcache_missed(PromptCache *pc) { pc->st.misses++; }

void promptcache_touch(PromptCache *pc, int entry) { entry_touch(pc, entry); }

/* ---- lookups and loads --------------------------------------------------------------------- */

int promptcache_find(const PromptCache *pc, const int *prompt, int max, int *entry) {
    int best = 0;
    *entry = -1;
    for (int i = 0; i < pc->n; i++) {
        const PCEntry *x = &pc->e[i];
        int c = 0, lim = x->n < max ? x->n : max;
        while (c < lim && x->tokens[c] == prompt[c]) c++;
        if (c < x->n && !keeps_all(pc, x->n)) continue; /* a rolling layer lacks the keys of an earlier end */
        if (c > best) best = c, *entry = i;
    }
    return best;
}

/* Reads the payload of f (a state of n tokens) into kv as positions [0, L)
 * and checks its checksum. 0, or -1 with *why. */
static int read_payload(const PromptCache *pc, FILE *f, const PCacheHeader *h, int L, KVCache *kv, const char **why) {
    int n = (int)h->n_tokens, most = 0;
    for (int l = 0; l < pc->n_layers; l++)
        if (n - first_kept(pc, l, n) > most) most = n - first_kept(pc, l, n);
    char *buf = malloc((size_t)most * pc->row); /* a file's size: may not fit */
    if (!buf) return *why = "no memory to read it", -1;
    uint64_t sum = SUM_SEED;
    int rc = 0;
    for (int l = 0; l < pc->n_layers && rc == 0; l++) {
        int fl = first_kept(pc, l, n), lo = first_kept(pc, l, L), held = n - fl;
        for (int side = 0; side < 2 && rc == 0; side++)
            for (int kh = 0; kh < pc->n_kv_heads; kh++) {
                if (fread(buf, pc->row, (size_t)held, f) != (size_t)held) {
                    *why = "short read", rc = -1;
                    break;
                }
                sum = promptcache_checksum(sum, buf, (size_t)held * pc->row);
                for (int p = lo; p < L; p++) {
                    long slot = p % kv->cap[l];
                    char *dst = side ? kvcache_v(kv, l, kh, slot) : kvcache_k(kv, l, kh, slot);
                    memcpy(dst, buf + (size_t)(p - fl) * pc->row, pc->row);
                }
            }
    }
    free(buf);
    if (rc == 0 && sum != h->payload_sum) *why = "payload checksum mismatch", rc = -1;
    return rc;
}

int promptcache_load(PromptCache *pc, int entry, const int *prompt, int L, KVCache *kv) {
    PCEntry *x = &pc->e[entry];
    kvcache_reset(kv);
    CHECK(kv->n_layers == pc->n_layers && kv->n_kv_heads == pc->n_kv_heads && kv->row == pc->row &&
          kv->type == pc->type); /* the engine's context is the one the cache was opened for */
    for (int l = 0; l < pc->n_layers; l++)
        if (L - first_kept(pc, l, L) > kv->cap[l] || L >= kv->max_pos) return -1; /* not the file's fault */
    char *p = path_of(pc, x->name);
    long long size = 0;
    FILE *f = open_regular(p, &size);
    PCacheHeader h;
    int *tokens = NULL, ours = 0, rc = -1;
    const char *why = "not a regular file, or cannot be read";
    if (f && read_head(pc, f, size, &h, &tokens, &why, &ours) == 0) {
        if ((int)h.n_tokens < L || memcmp(tokens, prompt, (size_t)L * sizeof(int)) ||
            ((int)h.n_tokens > L && !keeps_all(pc, (int)h.n_tokens)))
            why = "changed since the scan";
        else rc = read_payload(pc, f, &h, L, kv, &why);
    }
    if (f) fclose(f);
    free(tokens);
    free(p);
    if (rc) {
        kvcache_reset(kv);
        note(pc, x->name, why);
        entry_drop(pc, entry, ours); /* damaged: removed; another's now: left alone */
        return -1;
    }
    kv->n_pos = L;
    pc->st.hits++, pc->st.read_bytes += size;
    entry_touch(pc, entry);
    return 0;
}

/* ---- saving ------------------------------------------------------------------------------ */

/* Writes kv's state of tokens[0..n) to f: placeholder header, tokens,
 * layer table, payload, then the header with its sums. 0 or -1. */
static int write_state(const PromptCache *pc, FILE *f, const int *tokens, int n, const KVCache *kv) {
    PCacheHeader h = {.version = PCACHE_VERSION, .n_tokens = (uint32_t)n, .fingerprint = pc->fp,
                      .n_layers = (uint32_t)pc->n_layers, .n_kv_heads = (uint32_t)pc->n_kv_heads,
                      .row_bytes = (uint32_t)pc->row, .kv_type = (uint32_t)pc->type,
                      .payload_bytes = payload_bytes(pc, n)};
    memcpy(h.magic, PCACHE_MAGIC, 8);
    uint32_t *first = xmalloc((size_t)pc->n_layers * sizeof(uint32_t));
    for (int l = 0; l < pc->n_layers; l++) first[l] = (uint32_t)first_kept(pc, l, n);
    h.token_sum = token_sum(pc, tokens, n, first);
    int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(tokens, sizeof(int), (size_t)n, f) == (size_t)n &&
             fwrite(first, sizeof(uint32_t), (size_t)pc->n_layers, f) == (size_t)pc->n_layers;
    char *buf = xmalloc((size_t)n * pc->row);
    uint64_t sum = SUM_SEED;
    for (int l = 0; l < pc->n_layers && ok; l++) {
        int fl = (int)first[l], held = n - fl;
        for (int side = 0; side < 2 && ok; side++)
            for (int kh = 0; kh < pc->n_kv_heads && ok; kh++) {
                for (int p = fl; p < n; p++) {
                    long slot = p % kv->cap[l];
                    const char *src = side ? kvcache_v(kv, l, kh, slot) : kvcache_k(kv, l, kh, slot);
                    memcpy(buf + (size_t)(p - fl) * pc->row, src, pc->row);
                }
                sum = promptcache_checksum(sum, buf, (size_t)held * pc->row);
                ok = fwrite(buf, pc->row, (size_t)held, f) == (size_t)held;
            }
    }
    free(buf), free(first);
    h.payload_sum = sum;
    h.header_sum = header_sum(h);
    ok = ok && fseek(f, 0, SEEK_SET) == 0 && fwrite(&h, sizeof h, 1, f) == 1 && fflush(f) == 0;
    return ok ? 0 : -1;
}

/* Removes the least recently used files until `more` bytes fit the limit. */
static void make_room(PromptCache *pc, long long more) {
    while (pc->n && pc->st.bytes + more > (long long)pc->limit) {
        int lru = 0;
        for (int i = 1; i < pc->n; i++)
            if (pc->e[i].used < pc->e[lru].used) lru = i;
        entry_drop(pc, lru, 1);
    }
}

int promptcache_save(PromptCache *pc, const int *tokens, int n, const KVCache *kv) {
    int have;
    if (n < 1) return 0;
    if (promptcache_find(pc, tokens, n, &have) == n) { /* a file restores them already */
        entry_touch(pc, have);
        return 0;
    }
    CHECK(kvcache_can_rewind(kv, n) && n < PCACHE_MAX_TOKENS); /* the engine saves what its cache holds */
    long long bytes = (long long)file_bytes(pc, n);
    if (bytes > (long long)pc->limit) {
        if (!pc->warned_big) {
            pc->warned_big = 1;
            fprintf(stderr, "mistral serve: prompt cache: a state of %d tokens is %lld bytes, over "
                            "--prompt-cache-size (%zu): not saved (said once)\n", n, bytes, pc->limit);
        }
        return -1;
    }
    make_room(pc, bytes);
    char tmp[64], name[80];
    snprintf(tmp, sizeof tmp, ".tmp-%ld-%u", (long)getpid(), pc->tmp_seq++);
    char *tp = path_of(pc, tmp);
    FILE *f = fopen(tp, "wb");
    int rc = f ? write_state(pc, f, tokens, n, kv) : -1;
    int err = errno;
    if (f && fclose(f) && rc == 0) rc = -1, err = errno;
    /* the name: fingerprint, the tokens' checksum, their count */
    snprintf(name, sizeof name, "%016llx-%016llx-%d" PCACHE_EXT, (unsigned long long)pc->fp,
             (unsigned long long)promptcache_checksum(SUM_SEED, tokens, (size_t)n * sizeof(int)), n);
    char *np = path_of(pc, name);
    if (rc == 0 && rename(tp, np)) rc = -1, err = errno;
    if (rc) {
        unlink(tp);
        fprintf(stderr, "mistral serve: prompt cache: cannot write %s: %s; not saved\n", np, strerror(err));
    } else {
        int old = entry_named(pc, name); /* the same name: replaced by rename */
        if (old >= 0) entry_drop(pc, old, 0);
        int *t = xmalloc((size_t)n * sizeof(int));
        memcpy(t, tokens, (size_t)n * sizeof(int));
        entry_add(pc, xstrdup(name), t, n, bytes, now_ns());
        pc->st.written_bytes += bytes;
    }
    free(tp), free(np);
    return rc;
}

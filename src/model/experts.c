/* experts — the expert cache: slots, the I/O threads, the counters. */
#define _GNU_SOURCE /* O_DIRECT */
#include "model/experts.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/diskprobe.h"
#include "base/util.h"
#include "kern/matmul.h"
#include "model/model.h"

#define ALIGN 4096 /* O_DIRECT's offsets, lengths and buffers */

enum { EMPTY, LOADING, READY };

typedef struct {
    int file;      /* index into files */
    uint64_t off;  /* of the matrix's rows in the file */
    size_t bytes;
} Span;

typedef struct {
    int key;       /* l * n_experts + e, or -1 */
    int state;
    int pins;      /* forward calls computing with it */
    int wanted;    /* read ahead or named by will_use, and not used since */
    int ahead;     /* read ahead, and not used since (the counters) */
    int guess;     /* being read for a prediction */
    int prio;      /* of the read in flight */
    int next, started, done; /* its parts (w1, w2, w3): the next to start, started, done */
    int rc;        /* 0; 1: cancelled; -1: failed */
    double t_start;
    atomic_int cancel; /* that prediction missed: the read stops early */
    uint64_t used; /* clock at the last release (LRU) */
    FFNWeights w;  /* views into mem (or, packed, the model's rows as data) */
    unsigned char *mem;
} Slot;

/* How soon a read is needed: the queue holds them in this order, then in
 * the order asked. */
enum { PREDICTED, WILL_USE, WAITED };

typedef struct {
    int key;
    int prio;
} Request;

/* Threads reading experts: while one waits for the disk another packs, and
 * the disk sees more than one request at a time. */
#ifndef IO_THREADS
#define IO_THREADS 2
#endif

typedef struct {
    struct ExpertCache *c;
    pthread_t t;
    unsigned char *stage; /* its read buffer (ALIGN-aligned, stage_bytes) */
    char msg[512];        /* its last read error */
    size_t got;           /* bytes its current load has read */
} IoThread;

struct ExpertCache {
    const Model *m;
    const Kern *kern;
    ExpertCacheParams p;
    int n_experts, n_keys;
    const char **paths; /* views: the model's file names */
    int *fds, n_files;
    int direct;
    Span (*span)[3];      /* [n_keys] w1, w2, w3 in the file */
    size_t mat_off[4];    /* offsets of w1, w2, w3 in a slot; [3]: slot bytes */
    Slot *slot;
    int n_slots;
    int *where;           /* [n_keys]: slot or -1 */
    IoThread io[IO_THREADS];
    int n_io;             /* started */
    size_t stage_bytes;
    unsigned char *predicted; /* [n_keys]: predicted for its layer, not yet scored */
    unsigned char *marked;    /* [n_keys]: scratch for will_use */
    float *freq;              /* [n_keys]: running share of its layer's passes that used it */
    Request *queue;       /* reads to do, in order */
    int q_n, q_cap;
    pthread_mutex_t mu;
    pthread_cond_t cv_io;   /* the I/O threads' work arrived, or stop */
    pthread_cond_t cv_done; /* a read finished, a slot was released, or failure */
    int stop;
    int busy;               /* reads in flight, since busy_since (the counters) */
    double busy_since;
    /* What guessing is worth (running averages): the accuracy of
     * predictions, seconds a layer computes (its time between routings less
     * the time it waited for reads) and seconds one expert's read takes. */
    double accuracy, compute, read;
    double layer_start, waited;
    int failed;             /* a read failed: every acquire fails with msg */
    char msg[512];
    uint64_t clock;
    ExpertStats st;
};

/* ---- where the matrices are ------------------------------------------------ */

/* The file holding [p, p + n) and its offset there; -1 with err set when no
 * mapping of m holds it. */
static int locate(const Model *m, const void *p, size_t n, const char **path, uint64_t *off) {
    const unsigned char *q = p;
    const MapFile *maps[64];
    const char *names[64];
    int k = 0;
    if (m->gguf.version > 0) maps[k] = &m->gguf.map, names[k++] = m->gguf.path;
    for (int i = 0; i < m->ts.n_files && k < 64; i++) maps[k] = &m->ts.files[i].map, names[k++] = m->ts.files[i].path;
    for (int i = 0; i < k; i++)
        if (maps[i]->data && q >= maps[i]->data && q + n <= maps[i]->data + maps[i]->size) {
            *path = names[i];
            *off = (uint64_t)(q - maps[i]->data);
            return 0;
        }
    return err_set("expert cache: a tensor outside the model's files");
}

static size_t rows_bytes(const Mat *w) { return dtype_bytes(w->dtype, (size_t)w->cols) * (size_t)w->rows; }

/* Bytes of w in a slot. */
static size_t slot_mat_bytes(const Mat *w, const Kern *k, int pack) {
    size_t b = pack ? mat_packed_bytes(w, k) : 0;
    return b ? b : (rows_bytes(w) + 63) / 64 * 64;
}

static const Mat *expert_mat(const FFNWeights *f, int i) { return i == 0 ? &f->w1 : i == 1 ? &f->w2 : &f->w3; }

size_t expcache_expert_bytes(const Model *m, const Kern *k, int pack) {
    size_t most = 0;
    for (int l = 0; l < m->cfg.n_layers && m->cfg.n_experts; l++)
        for (int e = 0; e < m->cfg.n_experts; e++) {
            size_t b = 0;
            for (int i = 0; i < 3; i++) b += slot_mat_bytes(expert_mat(&m->w.layers[l].experts[e], i), k, pack);
            if (b > most) most = b;
        }
    return most;
}

static int file_index(ExpertCache *c, const char *path) {
    for (int i = 0; i < c->n_files; i++)
        if (c->paths[i] == path) return i;
    c->paths = xrealloc(c->paths, (size_t)(c->n_files + 1) * sizeof *c->paths);
    c->fds = xrealloc(c->fds, (size_t)(c->n_files + 1) * sizeof *c->fds);
    c->paths[c->n_files] = path;
    int fd = -1;
    if (!c->p.buffered) {
        fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
        if (fd < 0 && errno != EINVAL) return err_io("%s: %s", path, strerror(errno));
    }
    if (fd < 0) { /* the file system has no O_DIRECT (tmpfs): through the page cache */
        c->direct = 0;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return err_io("%s: %s", path, strerror(errno));
    }
    c->fds[c->n_files] = fd;
    return c->n_files++;
}

/* ---- reading ------------------------------------------------------------------- */

/* Reads longer than this are split, so that a cancelled read stops soon. */
#define PIECE ((size_t)8 << 20)

/* Reads span s into io's buffer for slot i; returns where its first byte
 * landed, or NULL: io->msg set (an error), or the slot's read cancelled. */
static const unsigned char *read_span(ExpertCache *c, IoThread *io, const Span *s, int i, int l, int e) {
    uint64_t a0 = c->direct ? s->off / ALIGN * ALIGN : s->off, end = s->off + s->bytes;
    uint64_t a1 = c->direct ? (end + ALIGN - 1) / ALIGN * ALIGN : end;
    size_t got = 0, need = (size_t)(end - a0), want = (size_t)(a1 - a0);
    io->msg[0] = 0;
    while (got < need) {
        if (atomic_load_explicit(&c->slot[i].cancel, memory_order_relaxed)) return NULL;
        size_t n = want - got < PIECE ? want - got : PIECE;
        ssize_t r = pread(c->fds[s->file], io->stage + got, n, (off_t)(a0 + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            snprintf(io->msg, sizeof io->msg,
                     "%s: expert %d of layer %d (%zu bytes at offset %llu) could not be read: %s", c->paths[s->file],
                     e, l, s->bytes, (unsigned long long)s->off,
                     r < 0 ? strerror(errno) : "the file is shorter than when the model was loaded");
            return NULL;
        }
        got += (size_t)r, io->got += (size_t)r;
    }
    if (!c->direct) posix_fadvise(c->fds[s->file], (off_t)a0, (off_t)need, POSIX_FADV_DONTNEED);
    return io->stage + (s->off - a0);
}

/* Reads part j (w1, w2, w3) of key into slot i (LOADING, unlocked). 0;
 * 1: cancelled; -1: an error (io->msg). */
static int load_part(ExpertCache *c, IoThread *io, int key, int i, int j) {
    int l = key / c->n_experts, e = key % c->n_experts;
    Slot *s = &c->slot[i];
    const Mat *src = expert_mat(&c->m->w.layers[l].experts[e], j);
    Mat *dst = j == 0 ? &s->w.w1 : j == 1 ? &s->w.w2 : &s->w.w3;
    io->got = 0;
    const unsigned char *rows = read_span(c, io, &c->span[key][j], i, l, e);
    if (!rows) return io->msg[0] ? -1 : 1;
    unsigned char *mem = s->mem + c->mat_off[j];
    *dst = *src;
    if (c->p.pack && mat_packed_bytes(src, c->kern)) {
        mat_pack_to(mem, src, rows, c->kern, NULL);
        dst->packed = mem, dst->packed_by = c->kern; /* data: the mapping, read only by another table */
    } else {
        memcpy(mem, rows, rows_bytes(src));
        dst->data = mem, dst->packed = NULL, dst->packed_by = NULL;
    }
    return 0;
}

/* A slot for key (locked): an empty one, else the one nobody computes with
 * whose next use is expected furthest away, in layers. A forward call
 * visits the layers in order, so an expert of layer m is next needed d
 * layers from key's layer l (d = m - l around the cycle, a whole pass for
 * l's own experts not in use), if this pass routes to it: with p the
 * fraction of recent passes that did, about d + n_layers·(1/p - 1) layers
 * away. A prefill pass uses every expert (p = 1): the experts of the
 * layers just behind go first (Belady's choice for a cyclic scan larger
 * than the cache, where LRU would evict each expert before its next use);
 * decode's routes are skewed: the experts it keeps choosing stay. A read
 * ahead never takes a slot wanted and not yet used; a waited one takes an
 * unwanted slot before a wanted one. -1: none now. */
static int victim(ExpertCache *c, int key, int urgent) {
    int best = -1, L = c->m->cfg.n_layers, l = key / c->n_experts;
    double best_away = 0;
    for (int i = 0; i < c->n_slots; i++) {
        const Slot *s = &c->slot[i];
        if (s->state == EMPTY) return i;
        if (s->state != READY || s->pins || (s->wanted && !urgent)) continue;
        int d = (s->key / c->n_experts - l + L) % L;
        double p = c->freq[s->key] > 0.01 ? c->freq[s->key] : 0.01;
        double away = (d ? d : L) + L * (1 / p - 1);
        if (best < 0 || c->slot[best].wanted > s->wanted ||
            (c->slot[best].wanted == s->wanted &&
             (away > best_away || (away == best_away && s->used < c->slot[best].used))))
            best = i, best_away = away;
    }
    return best;
}

/* The slot in flight with a part nobody reads yet, the most urgent first
 * (locked); -1: none. */
static int helpable(const ExpertCache *c) {
    int best = -1;
    for (int i = 0; i < c->n_slots; i++)
        if (c->slot[i].state == LOADING && c->slot[i].next < 3 && (best < 0 || c->slot[i].prio > c->slot[best].prio))
            best = i;
    return best;
}

/* Starts the queue's first read (locked): a slot for it, LOADING. The slot,
 * or -1 when nothing starts now (*wait: wait for a change first). */
static int start(ExpertCache *c, int *wait) {
    *wait = 0;
    Request r = c->queue[0];
    if (c->where[r.key] >= 0 || c->failed) { /* already there or in flight */
        memmove(c->queue, c->queue + 1, (size_t)--c->q_n * sizeof *c->queue);
        return -1;
    }
    if (r.prio == PREDICTED && c->busy) {
        /* a guess only takes a disk nothing else is using: it must not slow
         * the reads a forward call is sure to need */
        *wait = 1;
        return -1;
    }
    int i = victim(c, r.key, r.prio == WAITED);
    if (i < 0) {
        if (r.prio == WAITED) *wait = 1; /* every slot is pinned: wait for a release */
        else memmove(c->queue, c->queue + 1, (size_t)--c->q_n * sizeof *c->queue); /* no room ahead: drop */
        return -1;
    }
    memmove(c->queue, c->queue + 1, (size_t)--c->q_n * sizeof *c->queue);
    Slot *s = &c->slot[i];
    if (s->key >= 0) c->where[s->key] = -1;
    s->key = r.key, s->state = LOADING, s->wanted = 1, s->ahead = 0; /* wanted until acquired */
    s->guess = r.prio == PREDICTED, s->prio = r.prio;
    s->next = s->started = s->done = s->rc = 0;
    s->t_start = now_seconds();
    atomic_store(&s->cancel, 0);
    c->where[r.key] = i;
    pthread_cond_broadcast(&c->cv_io); /* its other parts are there to take */
    return i;
}

/* The readers: each takes a part of an expert in flight (so that two read
 * one expert's three matrices together), or starts the next read. */
static void *io_main(void *arg) {
    IoThread *io = arg;
    ExpertCache *c = io->c;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (c->stop) break;
        int i = helpable(c), wait = 0;
        if (c->q_n && (i < 0 || c->queue[0].prio > c->slot[i].prio)) {
            int k = start(c, &wait);
            if (k >= 0) i = k;
        }
        if (i < 0) {
            if (wait) pthread_cond_wait(&c->cv_done, &c->mu);
            else if (!c->q_n) pthread_cond_wait(&c->cv_io, &c->mu);
            continue;
        }
        Slot *s = &c->slot[i];
        int key = s->key, j = s->next++;
        s->started++;
        if (c->busy++ == 0) c->busy_since = now_seconds();
        pthread_mutex_unlock(&c->mu);
        int rc = load_part(c, io, key, i, j);
        pthread_mutex_lock(&c->mu);
        if (--c->busy == 0) c->st.read_seconds += now_seconds() - c->busy_since;
        c->st.bytes_read += io->got;
        if (rc < 0 && !c->failed) memcpy(c->msg, io->msg, sizeof c->msg), c->failed = 1;
        if (rc && s->rc >= 0) s->rc = rc;
        if (rc) s->next = 3; /* start no more of it */
        if (++s->done == s->started && s->next == 3) { /* the expert's last part */
            if (s->rc) {
                s->state = EMPTY, c->where[key] = -1, s->key = -1;
                c->st.cancelled += s->rc > 0;
            } else {
                s->state = READY, s->ahead = s->prio != WAITED, s->used = ++c->clock;
                double t = now_seconds() - s->t_start;
                c->read = c->read > 0 ? 0.9 * c->read + 0.1 * t : t;
                c->st.reads++;
                if (s->prio != WAITED) c->st.ahead++;
            }
        }
        pthread_cond_broadcast(&c->cv_done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Queues key (locked) unless it is resident, in flight or queued at least
 * as soon. */
static void request(ExpertCache *c, int key, int prio) {
    int at = -1;
    for (int i = 0; i < c->q_n; i++)
        if (c->queue[i].key == key) at = i;
    if (at >= 0) {
        if (c->queue[at].prio >= prio) return;
        memmove(c->queue + at, c->queue + at + 1, (size_t)(c->q_n - at - 1) * sizeof *c->queue);
        c->q_n--;
    } else if (c->where[key] >= 0) {
        return;
    }
    if (c->q_n == c->q_cap) c->queue = xrealloc(c->queue, (size_t)(c->q_cap = 2 * c->q_cap + 16) * sizeof *c->queue);
    int pos = 0;
    while (pos < c->q_n && c->queue[pos].prio >= prio) pos++;
    memmove(c->queue + pos + 1, c->queue + pos, (size_t)(c->q_n - pos) * sizeof *c->queue);
    c->queue[pos] = (Request){key, prio};
    c->q_n++;
    pthread_cond_broadcast(&c->cv_io);
    pthread_cond_broadcast(&c->cv_done); /* a reader may be holding back a guess */
}

/* ---- the interface ------------------------------------------------------------ */

/* expcache_open's work on a zeroed c with its lock made. */
static int setup(ExpertCache *c, const Model *m, const Kern *k, const ExpertCacheParams *p) {
    const Config *cfg = &m->cfg;
    size_t one = expcache_expert_bytes(m, k, p->pack);
    c->m = m, c->kern = k, c->p = *p;
    c->n_experts = cfg->n_experts, c->n_keys = cfg->n_layers * cfg->n_experts;
    c->direct = !p->buffered;
    c->accuracy = 0.8;
    long want = (long)(p->layer_hi - p->layer_lo) * (p->expert_hi - p->expert_lo);
    long fit = (long)(p->bytes / one);
    if (fit < 1)
        return err_set("the expert cache holds %.1f MB, less than one expert (%.1f MB)", p->bytes / 1e6, one / 1e6);
    c->n_slots = (int)(fit < want ? fit : want);
    c->span = xcalloc((size_t)c->n_keys, sizeof *c->span);
    c->where = xmalloc((size_t)c->n_keys * sizeof *c->where);
    for (int i = 0; i < c->n_keys; i++) c->where[i] = -1;
    c->predicted = xcalloc((size_t)c->n_keys, 1);
    c->marked = xcalloc((size_t)c->n_keys, 1);
    c->freq = xmalloc((size_t)c->n_keys * sizeof *c->freq);
    for (int i = 0; i < c->n_keys; i++) c->freq[i] = (float)cfg->n_active / (float)cfg->n_experts;
    size_t most = 0;
    for (int l = p->layer_lo; l < p->layer_hi; l++)
        for (int e = p->expert_lo; e < p->expert_hi; e++)
            for (int j = 0; j < 3; j++) {
                const Mat *w = expert_mat(&m->w.layers[l].experts[e], j);
                const char *path;
                Span *s = &c->span[l * c->n_experts + e][j];
                s->bytes = rows_bytes(w);
                if (locate(m, w->data, s->bytes, &path, &s->off)) return -1;
                if ((s->file = file_index(c, path)) < 0) return -1;
                if (s->bytes > most) most = s->bytes;
            }
    const FFNWeights *f0 = &m->w.layers[p->layer_lo].experts[p->expert_lo];
    for (int j = 0; j < 3; j++) c->mat_off[j + 1] = c->mat_off[j] + slot_mat_bytes(expert_mat(f0, j), k, p->pack);
    c->stage_bytes = (most + 2 * ALIGN) / ALIGN * ALIGN;
    c->slot = xcalloc((size_t)c->n_slots, sizeof *c->slot);
    for (int i = 0; i < c->n_slots; i++) {
        c->slot[i].key = -1;
        c->slot[i].mem = aligned_alloc(64, one);
        if (!c->slot[i].mem)
            return err_nomem("out of memory: expert cache slot %d of %d (%.1f MB each)", i + 1, c->n_slots, one / 1e6);
    }
    c->st.slots = c->n_slots, c->st.slot_bytes = one, c->st.direct = c->direct;
    for (; c->n_io < IO_THREADS; c->n_io++) {
        IoThread *io = &c->io[c->n_io];
        io->c = c;
        io->stage = aligned_alloc(ALIGN, c->stage_bytes);
        if (!io->stage) return err_nomem("out of memory: %.1f MB to read experts into", c->stage_bytes / 1e6);
        if (pthread_create(&io->t, NULL, io_main, io)) {
            free(io->stage);
            return err_set("expert cache: cannot start its I/O threads");
        }
    }
    return 0;
}

int expcache_open(ExpertCache **out, const Model *m, const Kern *k, const ExpertCacheParams *p) {
    *out = NULL;
    if (!m->cfg.n_experts) return err_set("--mem-limit: the model has no experts to stream");
    ExpertCache *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv_io, NULL);
    pthread_cond_init(&c->cv_done, NULL);
    if (setup(c, m, k, p)) {
        expcache_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

void expcache_close(ExpertCache *c) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_broadcast(&c->cv_io);
    pthread_cond_broadcast(&c->cv_done);
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < c->n_io; i++) pthread_join(c->io[i].t, NULL), free(c->io[i].stage);
    for (int i = 0; i < c->n_files; i++) close(c->fds[i]);
    for (int i = 0; c->slot && i < c->n_slots; i++) free(c->slot[i].mem);
    free(c->slot), free(c->span), free(c->where), free(c->predicted), free(c->marked), free(c->freq), free(c->queue);
    free(c->fds), free(c->paths);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv_io);
    pthread_cond_destroy(&c->cv_done);
    free(c);
}

void expcache_will_use(ExpertCache *c, int l, const int *experts, int n) {
    pthread_mutex_lock(&c->mu);
    unsigned char *pred = c->predicted + (size_t)l * c->n_experts, *used = c->marked + (size_t)l * c->n_experts;
    int had = 0;
    for (int e = 0; e < c->n_experts; e++) had |= pred[e];
    for (int i = 0; i < n; i++) used[experts[i]] = 1;
    c->st.needed += (uint64_t)n;
    if (had) { /* score the prediction made for l */
        int right = 0;
        for (int i = 0; i < n; i++) right += pred[experts[i]];
        c->st.routed += (uint64_t)n, c->st.predicted += (uint64_t)right;
        c->accuracy = 0.95 * c->accuracy + 0.05 * (n ? (double)right / n : 1);
    }
    double t = now_seconds(), dt = t - c->layer_start - c->waited;
    if (c->layer_start > 0 && dt >= 0 && t - c->layer_start < 1.0) /* not across a pause between calls */
        c->compute = c->compute > 0 ? 0.9 * c->compute + 0.1 * dt : dt;
    c->layer_start = t, c->waited = 0;
    for (int e = c->p.expert_lo; e < c->p.expert_hi; e++) {
        float *f = &c->freq[(size_t)l * c->n_experts + e];
        *f = 0.9f * *f + 0.1f * (float)used[e];
    }
    for (int e = 0; e < c->n_experts; e++) {
        /* a prediction for l that missed is wanted no more */
        int s = c->where[l * c->n_experts + e];
        if (s >= 0 && !used[e]) {
            c->slot[s].wanted = 0;
            if (c->slot[s].state == LOADING && c->slot[s].guess) atomic_store(&c->slot[s].cancel, 1);
        }
        pred[e] = 0;
    }
    for (int i = 0; i < c->q_n;) /* nor are its reads still queued */
        if (c->queue[i].prio == PREDICTED && c->queue[i].key / c->n_experts == l && !used[c->queue[i].key % c->n_experts])
            memmove(c->queue + i, c->queue + i + 1, (size_t)(--c->q_n - i) * sizeof *c->queue);
        else
            i++;
    for (int i = 0; i < n; i++) {
        int key = l * c->n_experts + experts[i], s = c->where[key];
        used[experts[i]] = 0;
        if (s >= 0) c->slot[s].wanted = 1;
        else request(c, key, i == 0 ? WAITED : WILL_USE); /* the first now, the rest while it computes */
    }
    pthread_mutex_unlock(&c->mu);
}

/* Whether reading a guess ahead pays (locked): a right one starts its read
 * up to a layer's compute earlier (it saves min(compute, read)); a wrong
 * one costs a read's disk time and an eviction. With a slow disk and a
 * cache that misses, decode is bound by the disk and guesses that miss
 * cost more than the right ones save; with a fast disk, or a prefill whose
 * layers compute long, they pay. Until both times are measured: guess. */
static int guess_pays(const ExpertCache *c) {
    if (c->read <= 0 || c->compute <= 0) return 1;
    double saved = c->compute < c->read ? c->compute : c->read;
    return c->accuracy * saved > (1 - c->accuracy) * c->read;
}

void expcache_predict(ExpertCache *c, int l, const int *experts, int n) {
    pthread_mutex_lock(&c->mu);
    c->st.guesses += (uint64_t)n;
    int read = !c->p.no_predict && guess_pays(c);
    c->st.guesses_read += read ? (uint64_t)n : 0;
    for (int i = 0; i < n; i++) {
        c->predicted[(size_t)l * c->n_experts + experts[i]] = 1; /* scored either way */
        int key = l * c->n_experts + experts[i], s = c->where[key];
        if (!read) continue;
        if (s >= 0) c->slot[s].wanted = 1;
        else request(c, key, PREDICTED);
    }
    pthread_mutex_unlock(&c->mu);
}

const FFNWeights *expcache_acquire(ExpertCache *c, int l, int e) {
    int key = l * c->n_experts + e, counted = 0;
    double t0 = 0;
    pthread_mutex_lock(&c->mu);
    c->st.uses++;
    for (;;) {
        if (c->failed || c->stop) {
            pthread_mutex_unlock(&c->mu);
            err_io("%s", c->failed ? c->msg : "expert cache: closed");
            return NULL;
        }
        int s = c->where[key];
        if (s >= 0 && c->slot[s].state == READY) {
            Slot *slot = &c->slot[s];
            if (!counted) c->st.hits++;
            c->st.ahead_used += slot->ahead;
            slot->pins++, slot->wanted = 0, slot->ahead = 0;
            if (counted) c->waited += now_seconds() - t0;
            pthread_mutex_unlock(&c->mu);
            return &slot->w;
        }
        if (!counted) {
            if (s >= 0) c->st.late++, counted = 2; /* being read ahead */
            else c->st.misses++, counted = 1;
            t0 = now_seconds();
        }
        if (s < 0) request(c, key, WAITED);
        pthread_cond_wait(&c->cv_done, &c->mu);
    }
}

void expcache_release(ExpertCache *c, int l, int e) {
    pthread_mutex_lock(&c->mu);
    int s = c->where[l * c->n_experts + e];
    if (s >= 0 && c->slot[s].pins > 0) {
        c->slot[s].pins--;
        c->slot[s].used = ++c->clock;
    }
    pthread_cond_broadcast(&c->cv_done);
    pthread_mutex_unlock(&c->mu);
}

void expcache_stats(ExpertCache *c, ExpertStats *s) {
    pthread_mutex_lock(&c->mu);
    *s = c->st;
    pthread_mutex_unlock(&c->mu);
}

void expstats_add(ExpertStats *a, const ExpertStats *b) {
    a->slots = b->slots, a->slot_bytes = b->slot_bytes, a->direct = b->direct;
    a->needed += b->needed, a->uses += b->uses, a->hits += b->hits, a->late += b->late, a->misses += b->misses;
    a->reads += b->reads, a->bytes_read += b->bytes_read, a->read_seconds += b->read_seconds;
    a->ahead += b->ahead, a->ahead_used += b->ahead_used, a->cancelled += b->cancelled;
    a->routed += b->routed, a->predicted += b->predicted, a->guesses += b->guesses;
    a->guesses_read += b->guesses_read;
}

void expcache_reset_stats(ExpertCache *c) {
    pthread_mutex_lock(&c->mu);
    ExpertStats keep = {.slots = c->st.slots, .slot_bytes = c->st.slot_bytes, .direct = c->st.direct};
    c->st = keep;
    pthread_mutex_unlock(&c->mu);
}

double expcache_read_bandwidth(ExpertCache *c, size_t bytes, size_t room) {
    /* whole experts' matrices, spread over the file (the share's experts
     * at strides of a seventh of all (layer, expert) keys, around the keys
     * four times), read as the I/O threads read them: IO_THREADS readers at
     * once, each on its own matrices, into buffers of their own (the
     * cache's may be in use) */
    if ((size_t)IO_THREADS * c->stage_bytes > room)
        return err_set("the disk probe needs %.1f MB for its read buffers; it has room for %.1f MB",
                       (double)IO_THREADS * (double)c->stage_bytes / 1e6, room / 1e6);
    int step = c->n_keys / 7 > 1 ? c->n_keys / 7 : 1, n = 0;
    DiskSpan *spans = xmalloc((size_t)c->n_keys * 4 * 3 * sizeof *spans);
    for (int i = 0; i < 4 * c->n_keys; i++) {
        int key = (int)((size_t)i * (size_t)step % (size_t)c->n_keys);
        for (int j = 0; j < 3; j++) {
            const Span *s = &c->span[key][j];
            if (s->bytes) spans[n++] = (DiskSpan){c->fds[s->file], s->off, s->bytes};
        }
    }
    DiskProbe p = {.spans = spans, .n_spans = n, .readers = IO_THREADS, .total = bytes, .align = ALIGN,
                   .drop = !c->direct, .buf_bytes = c->stage_bytes};
    double bw = diskprobe_run(&p);
    free(spans);
    return bw;
}

/* guide — a sequence's constraint applied to its logits (guide.h). */
#include "gen/guide.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

int guide_init(Guide *g, const Grammar *gr, const Vocab *v) {
    memset(g, 0, sizeof *g);
    if (constraint_init(&g->c, gr, v)) return -1;
    g->bits = xcalloc((size_t)g->c.words, sizeof *g->bits);
    return 0;
}

void guide_free(Guide *g) {
    constraint_free(&g->c);
    free(g->bits);
    memset(g, 0, sizeof *g);
}

void guide_prepare(Guide *g) {
    if (g->have) return;
    constraint_mask(&g->c, g->bits);
    g->have = 1;
}

int guide_apply(Guide *g, float *logits) {
    guide_prepare(g);
    int allowed = 0, n = g->c.v->n_vocab;
    for (int w = 0; w < g->c.words; w++) {
        uint32_t bits = g->bits[w];
        if (bits == 0xFFFFFFFFu) {
            allowed += 32;
            continue;
        }
        for (int b = 0; b < 32 && w * 32 + b < n; b++) {
            if ((bits >> b) & 1) allowed++;
            else logits[w * 32 + b] = -INFINITY;
        }
    }
    return allowed;
}

int guide_accept(Guide *g, int t) {
    if (constraint_accept(&g->c, t)) return -1;
    g->have = 0;
    return 0;
}

int guide_done(Guide *g) { return constraint_done(&g->c); }

/* ---- the worker thread ---------------------------------------------------- */

static void *worker_main(void *arg) {
    GuideWorker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && !(w->busy && w->n_jobs)) pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop) break;
        int n = w->n_jobs;
        pthread_mutex_unlock(&w->mu);
        for (int i = 0; i < n; i++)
            if (w->jobs[i]) guide_prepare(w->jobs[i]);
        pthread_mutex_lock(&w->mu);
        w->n_jobs = 0, w->busy = 0;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int guide_worker_init(GuideWorker *w) {
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w)) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        memset(w, 0, sizeof *w);
        return err_set("cannot start the constraint's mask thread");
    }
    w->started = 1;
    return 0;
}

void guide_worker_free(GuideWorker *w) {
    if (!w->started) return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->jobs);
    memset(w, 0, sizeof *w);
}

void guide_wait(GuideWorker *w) {
    if (!w || !w->started) return;
    pthread_mutex_lock(&w->mu);
    while (w->busy) pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void guide_prepare_async(GuideWorker *w, Guide *const *gs, int n) {
    if (!w || !w->started || n <= 0) return;
    guide_wait(w);
    pthread_mutex_lock(&w->mu);
    if (n > w->cap) {
        w->jobs = xrealloc(w->jobs, (size_t)n * sizeof *w->jobs);
        w->cap = n;
    }
    memcpy(w->jobs, gs, (size_t)n * sizeof *gs);
    w->n_jobs = n, w->busy = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

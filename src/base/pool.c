#include "base/pool.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

/* About 10-50 µs of spinning before sleeping: longer than the gap between two
 * matmuls of one forward call, much shorter than a user's think time. */
#define POOL_SPIN 20000

/* One step of a spin-wait; every 256th step yields the CPU, so that a
 * spinning thread does not hold a core that the thread it waits for needs
 * (more runnable threads than cores: other processes, or MPI ranks). */
static inline void cpu_relax(int step) {
    if ((step & 255) == 255) {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

typedef struct {
    Pool *p;
    int ith;
} Worker;

static Worker *workers_of(Pool *p);

static void *worker_main(void *ud) {
    Worker *w = ud;
    Pool *p = w->p;
    int ith = w->ith;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        for (int s = 0; g == seen && s < POOL_SPIN; s++) {
            cpu_relax(s);
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen)
                pthread_cond_wait(&p->cv_work, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) return NULL;
        p->fn(p->arg, ith, p->n);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int pool_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

/* The Worker records live right after the thread handles (one allocation). */
static Worker *workers_of(Pool *p) { return (Worker *)(p->threads + p->n); }

int pool_init(Pool *p, int n_threads) {
    memset(p, 0, sizeof *p);
    if (n_threads < 0) return err_set("pool: bad thread count %d", n_threads);
    if (n_threads == 0) n_threads = pool_cpus();
    p->n = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    atomic_init(&p->gen, 0), atomic_init(&p->pending, 0), atomic_init(&p->stop, 0);
    p->threads = xcalloc((size_t)n_threads, sizeof(pthread_t) + sizeof(Worker));
    p->n = n_threads;
    Worker *w = workers_of(p);
    for (int i = 1; i < n_threads; i++) {
        w[i - 1] = (Worker){p, i};
        if (pthread_create(&p->threads[i - 1], NULL, worker_main, &w[i - 1])) {
            p->n = i; /* pool_free joins the ones started */
            pool_free(p);
            return err_set("pool: cannot start thread %d of %d", i, n_threads);
        }
    }
    return 0;
}

void pool_free(Pool *p) {
    if (!p->threads) {
        memset(p, 0, sizeof *p);
        return;
    }
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->stop, 1, memory_order_release);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i - 1], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    memset(p, 0, sizeof *p);
}

int pool_threads(const Pool *p) { return p && p->n > 0 ? p->n : 1; }

void pool_run(Pool *p, PoolFn fn, void *arg) {
    if (!p || p->n <= 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn, p->arg = arg;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n);
    for (int s = 0; s < POOL_SPIN; s++) {
        if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0) return;
        cpu_relax(s);
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

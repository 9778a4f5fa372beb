/* pool — a persistent thread pool: n threads (the caller is thread 0) run
 * one function together and meet at a barrier; no thread is created per call.
 *
 * Idle workers spin briefly on a generation counter (with a pause
 * instruction), then sleep on a condition variable, so a pool between calls
 * does not burn a core. */
#ifndef BASE_POOL_H
#define BASE_POOL_H

#include <pthread.h>
#include <stdatomic.h>

typedef void (*PoolFn)(void *arg, int ith, int nth);

typedef struct {
    int n;              /* threads, the caller included */
    pthread_t *threads; /* owns [n - 1] workers */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    atomic_uint gen;    /* bumped once per pool_run */
    atomic_int pending; /* workers still running the current call */
    atomic_int stop;
    PoolFn fn; /* the current call, written before gen is bumped */
    void *arg;
} Pool;

/* Starts n_threads - 1 workers (n_threads >= 1; 0 = one per online CPU).
 * Returns 0, or -1 with err set when a thread cannot be created. */
int pool_init(Pool *p, int n_threads);
/* Joins the workers; accepts a zeroed or freed pool. */
void pool_free(Pool *p);
/* Runs fn(arg, ith, nth) on every thread, ith = 0 on the caller, and returns
 * when all are done. p == NULL runs fn(arg, 0, 1). Not reentrant: one
 * pool_run at a time per pool. */
void pool_run(Pool *p, PoolFn fn, void *arg);
/* Threads pool_run uses (1 for NULL). */
int pool_threads(const Pool *p);
/* Online CPUs (at least 1). */
int pool_cpus(void);

#endif

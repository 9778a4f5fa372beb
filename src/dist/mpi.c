/* dist over MPI (make MPI=1): point-to-point messages for the pipeline,
 * an all-reduce for expert parallelism, a gather for the start-up handshake;
 * every wait a polite MPI_Test loop (see dist.h). */
#include "dist/dist.h"

#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

struct DistReq {
    MPI_Request r;
};

static int g_rank, g_size = 1, g_local = 1, g_inited;
static DistStats g_stats;

int dist_has_mpi(void) { return 1; }
int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }
int dist_local_size(void) { return g_local; }
DistStats dist_stats(void) { return g_stats; }

/* ---- the start-up watchdog ---------------------------------------------------- */

/* The line the alarm writes, made beforehand: a signal handler may only
 * write(2) and _exit(2) (no stdio, which may hold a lock or allocate). */
static char g_alarm_line[192];
static size_t g_alarm_len;
static double g_timeout;

static void on_alarm(int sig) {
    (void)sig;
    (void)!write(STDERR_FILENO, g_alarm_line, g_alarm_len);
    _exit(1);
}

static void alarm_line(const char *rank) {
    int n = snprintf(g_alarm_line, sizeof g_alarm_line,
                     "mistral: rank %s: the other ranks did not all start within %.0f s "
                     "(MISTRAL_DIST_TIMEOUT); giving up\n", rank ? rank : "?", g_timeout);
    g_alarm_len = n < 0 ? 0 : (size_t)n < sizeof g_alarm_line ? (size_t)n : sizeof g_alarm_line - 1;
}

/* Arms (seconds > 0) or disarms the alarm. Before MPI_Init the rank is the
 * launcher's (OpenMPI's, PMIx's or Hydra's variable), where it says. */
static void watchdog(double seconds) {
    static const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
    const char *rank = NULL;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0] && !rank; i++) rank = getenv(vars[i]);
    g_timeout = seconds;
    alarm_line(rank);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = seconds > 0 ? on_alarm : SIG_DFL;
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds > 0 ? (unsigned)(seconds + 0.999) : 0);
}

/* The line with MPI's rank, the alarm paused while it changes. */
static void watchdog_rank(int r) {
    unsigned left = alarm(0);
    if (!left) return;
    char rank[16];
    snprintf(rank, sizeof rank, "%d", r);
    alarm_line(rank);
    alarm(left);
}

/* ---- polite waiting -------------------------------------------------------------- */

/* Tests r until it completes: a short burst of tests (a reply already on its
 * way costs no sleep), then sleeps doubling from 20 us to 500 us between
 * tests. MPI_Test also drives OpenMPI's progress engine. */
static void wait_politely(MPI_Request *r, MPI_Status *st) {
    int done = 0;
    long ns = 20000;
    for (int spin = 0;; spin++) {
        MPI_Test(r, &done, st);
        if (done) return;
        if (spin < 64) continue;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 500000) ns *= 2;
    }
}

/* The same for an incoming message not yet matched (its size unknown). */
static void probe_politely(int from, int tag, MPI_Message *msg, MPI_Status *st) {
    int found = 0;
    long ns = 20000;
    for (int spin = 0;; spin++) {
        MPI_Improbe(from, tag, MPI_COMM_WORLD, &found, msg, st);
        if (found) return;
        if (spin < 64) continue;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 500000) ns *= 2;
    }
}

/* ---- the job ---------------------------------------------------------------------- */

int dist_init(int *argc, char ***argv, double timeout_s) {
    watchdog(timeout_s);
    /* SERIALIZED, not FUNNELED: under `serve` the engine thread sends the
     * steps while the main thread waits for a signal and later finalizes;
     * the calls never overlap, but they come from two threads */
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return err_set("MPI_Init failed");
    g_inited = 1;
    if (provided < MPI_THREAD_SERIALIZED)
        return err_set("this MPI library gives thread level %d, below MPI_THREAD_SERIALIZED (%d)", provided,
                       MPI_THREAD_SERIALIZED);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    watchdog_rank(g_rank);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &g_local);
    MPI_Comm_free(&node);
    memset(&g_stats, 0, sizeof g_stats);
    return 0;
}

void dist_finalize(void) {
    if (!g_inited) return;
    MPI_Request r;
    MPI_Ibarrier(MPI_COMM_WORLD, &r);
    wait_politely(&r, MPI_STATUS_IGNORE);
    MPI_Finalize();
    g_inited = 0;
}

int dist_handshake(uint64_t fingerprint, const char *what) {
    unsigned long long mine = fingerprint, *all = xmalloc((size_t)g_size * sizeof *all);
    MPI_Request r;
    MPI_Iallgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all, 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD, &r);
    wait_politely(&r, MPI_STATUS_IGNORE);
    watchdog(0);
    int rc = 0;
    for (int i = 1; i < g_size && rc == 0; i++)
        if (all[i] != all[0])
            rc = err_set("%s: not the same on every rank: rank %d has %016llx, rank 0 %016llx "
                         "(every rank must load the same model with the same options)",
                         what, i, all[i], all[0]);
    free(all);
    return rc;
}

/* ---- messages --------------------------------------------------------------------- */

int dist_isend(int to, int tag, const void *buf, size_t bytes, DistReq **req) {
    if (bytes > (size_t)0x7fffffff) return err_set("a message of %zu bytes is too large", bytes);
    double t0 = now_seconds();
    *req = xmalloc(sizeof **req);
    MPI_Isend(buf, (int)bytes, MPI_BYTE, to, tag, MPI_COMM_WORLD, &(*req)->r);
    g_stats.messages++, g_stats.bytes += (double)bytes;
    g_stats.seconds += now_seconds() - t0;
    return 0;
}

int dist_wait(DistReq **req) {
    if (!*req) return 0;
    double t0 = now_seconds();
    wait_politely(&(*req)->r, MPI_STATUS_IGNORE);
    free(*req), *req = NULL;
    g_stats.seconds += now_seconds() - t0;
    return 0;
}

int dist_recv(int from, int tag, void **buf, size_t *cap, size_t *bytes) {
    double t0 = now_seconds();
    MPI_Message msg;
    MPI_Status st;
    probe_politely(from, tag, &msg, &st);
    int count;
    MPI_Get_count(&st, MPI_BYTE, &count);
    if ((size_t)count > *cap || !*buf) *buf = xrealloc(*buf, (size_t)count + 1), *cap = (size_t)count + 1;
    MPI_Request r;
    MPI_Imrecv(*buf, count, MPI_BYTE, &msg, &r);
    wait_politely(&r, MPI_STATUS_IGNORE);
    *bytes = (size_t)count;
    g_stats.seconds += now_seconds() - t0;
    return 0;
}

struct DistGroup {
    MPI_Comm comm;
    int rank, size;
};

DistGroup *dist_group_split(int color, int key) {
    DistGroup *g = xcalloc(1, sizeof *g);
    if (MPI_Comm_split(MPI_COMM_WORLD, color, key, &g->comm) != MPI_SUCCESS) {
        free(g);
        err_set("MPI_Comm_split failed");
        return NULL;
    }
    MPI_Comm_rank(g->comm, &g->rank);
    MPI_Comm_size(g->comm, &g->size);
    return g;
}

void dist_group_free(DistGroup *g) {
    if (!g) return;
    MPI_Comm_free(&g->comm);
    free(g);
}

int dist_group_rank(const DistGroup *g) { return g ? g->rank : g_rank; }
int dist_group_size(const DistGroup *g) { return g ? g->size : g_size; }

int dist_group_bcast(DistGroup *g, void *buf, size_t bytes, int root) {
    if (bytes > (size_t)0x7fffffff) return err_set("a broadcast of %zu bytes is too large", bytes);
    double t0 = now_seconds();
    MPI_Request r;
    MPI_Ibcast(buf, (int)bytes, MPI_BYTE, root, g ? g->comm : MPI_COMM_WORLD, &r);
    wait_politely(&r, MPI_STATUS_IGNORE);
    g_stats.seconds += now_seconds() - t0;
    return 0;
}

int dist_group_allreduce_sum(DistGroup *g, float *x, size_t n) {
    if (n > (size_t)0x7fffffff) return err_set("an all-reduce of %zu floats is too large", n);
    double t0 = now_seconds();
    MPI_Request r;
    MPI_Iallreduce(MPI_IN_PLACE, x, (int)n, MPI_FLOAT, MPI_SUM, g ? g->comm : MPI_COMM_WORLD, &r);
    wait_politely(&r, MPI_STATUS_IGNORE);
    g_stats.messages++, g_stats.bytes += (double)n * sizeof(float);
    g_stats.seconds += now_seconds() - t0;
    return 0;
}

int dist_bcast(void *buf, size_t bytes, int root) { return dist_group_bcast(NULL, buf, bytes, root); }

int dist_allreduce_sum(float *x, size_t n) { return dist_group_allreduce_sum(NULL, x, n); }

/* mpi_dist — the MPI distribution layer (src/dist/mpi.c) under mpirun -np 2
 * (tests/platform/mpi.sh runs it): messages of any size arrive intact, broadcast and
 * all-reduce, the start-up handshake, and a rank waiting for a slow
 * neighbour sleeps instead of spinning a core. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "dist/dist.h"
#include "harness.h"

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Messages of 0 bytes to 4 MB, rank 0 -> 1 -> 0, intact. */
static void check_messages(int rank) {
    size_t sizes[] = {0, 1, 1000, (size_t)4 << 20};
    void *buf = NULL;
    size_t cap = 0, got;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *mine = xmalloc(n + 1);
        for (size_t j = 0; j < n; j++) mine[j] = (unsigned char)(j * 31 + i);
        DistReq *r = NULL;
        if (rank == 0) {
            EXPECT(dist_isend(1, 7, mine, n, &r) == 0 && dist_wait(&r) == 0, "%s", err_msg());
            EXPECT(dist_recv(1, 8, &buf, &cap, &got) == 0, "%s", err_msg());
            EXPECT(got == n && (n == 0 || memcmp(buf, mine, n) == 0), "echo of %zu bytes: %zu", n, got);
        } else {
            EXPECT(dist_recv(0, 7, &buf, &cap, &got) == 0, "%s", err_msg());
            EXPECT(got == n, "%zu bytes, expected %zu", got, n);
            EXPECT(dist_isend(0, 8, buf, got, &r) == 0 && dist_wait(&r) == 0, "%s", err_msg());
        }
        free(mine);
    }
    free(buf);
}

static void check_collectives(int rank, int size) {
    int v[3] = {rank == 0 ? 42 : 0, rank == 0 ? -1 : 0, 7};
    EXPECT(dist_bcast(v, sizeof v, 0) == 0 && v[0] == 42 && v[1] == -1, "bcast");
    float x[5];
    for (int i = 0; i < 5; i++) x[i] = (float)(rank + 1) * (float)i;
    EXPECT(dist_allreduce_sum(x, 5) == 0, "%s", err_msg());
    float f = (float)(size * (size + 1) / 2);
    for (int i = 0; i < 5; i++) EXPECT(x[i] == f * (float)i, "allreduce[%d] = %g", i, x[i]);
}

/* Rank 0 says it is waiting, then rank 1 sleeps 1.5 s before it answers:
 * rank 0's CPU time while it waits must be a small fraction of the wait
 * (at least 1.5 s however late either rank gets there on a loaded machine). */
static void check_polite_wait(int rank) {
    void *buf = NULL;
    size_t cap = 0, got;
    int one = 1;
    DistReq *r = NULL;
    if (rank == 1) {
        EXPECT(dist_recv(0, 9, &buf, &cap, &got) == 0, "%s", err_msg());
        struct timespec ts = {1, 500000000};
        nanosleep(&ts, NULL);
        EXPECT(dist_isend(0, 10, &one, sizeof one, &r) == 0 && dist_wait(&r) == 0, "%s", err_msg());
    } else {
        double w0 = now_seconds(), c0 = cpu_seconds();
        EXPECT(dist_isend(1, 9, &one, sizeof one, &r) == 0 && dist_wait(&r) == 0, "%s", err_msg());
        EXPECT(dist_recv(1, 10, &buf, &cap, &got) == 0, "%s", err_msg());
        double wall = now_seconds() - w0, cpu = cpu_seconds() - c0;
        fprintf(stderr, "mpi_dist: waiting %.2f s for a message cost %.3f s of CPU (%.1f%%)\n",
                wall, cpu, 100 * cpu / wall);
        EXPECT(wall >= 1.5 && cpu < 0.1 * wall, "a %.2f s wait burnt %.2f s of CPU", wall, cpu);
    }
    free(buf);
}

/* mpi_dist --pingpong (a measurement, not a test; bench/RESULTS.md): the
 * round trip of a hidden state of 1, 4 and 512 tokens of a dim-2048 model
 * through dist_isend/dist_recv, polite waits included. */
static int pingpong(int rank) {
    size_t sizes[] = {2048 * 4, 4 * 2048 * 4, 512 * 2048 * 4};
    void *buf = NULL;
    size_t cap = 0, got;
    for (size_t i = 0; i < 3; i++) {
        unsigned char *msg = xcalloc(sizes[i], 1);
        int reps = sizes[i] > 100000 ? 50 : 1000;
        double t0 = 0;
        for (int k = -10; k < reps; k++) { /* 10 warm-up trips */
            if (k == 0) t0 = now_seconds();
            DistReq *r = NULL;
            if (rank == 0) {
                CHECK(dist_isend(1, 3, msg, sizes[i], &r) == 0 && dist_wait(&r) == 0);
                CHECK(dist_recv(1, 3, &buf, &cap, &got) == 0);
            } else {
                CHECK(dist_recv(0, 3, &buf, &cap, &got) == 0);
                CHECK(dist_isend(0, 3, buf, got, &r) == 0 && dist_wait(&r) == 0);
            }
        }
        double rt = (now_seconds() - t0) / reps;
        if (rank == 0)
            printf("pingpong: %8zu bytes: round trip %8.1f us, one way %8.1f us, %.2f GB/s\n",
                   sizes[i], rt * 1e6, rt * 5e5, 2 * sizes[i] / rt / 1e9);
        free(msg);
    }
    free(buf);
    dist_finalize();
    return 0;
}

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv, 30)) {
        fprintf(stderr, "mpi_dist: %s\n", err_msg());
        return 1;
    }
    int rank = dist_rank(), size = dist_size();
    if (argc > 1 && !strcmp(argv[1], "--pingpong") && size == 2) return pingpong(rank);
    EXPECT(dist_has_mpi() && size == 2, "run under mpirun -np 2 (size %d)", size);
    EXPECT(dist_handshake(0x1234, "the test value") == 0, "%s", err_msg());
    check_messages(rank);
    check_collectives(rank, size);
    check_polite_wait(rank);
    /* a value that differs: every rank gets the error, naming rank 1 */
    EXPECT(dist_handshake(0x1234 + (unsigned)rank, "the test value") != 0, "mismatch not seen");
    EXPECT(strstr(err_msg(), "rank 1 has") != NULL, "%s", err_msg());
    DistStats st = dist_stats();
    EXPECT(st.messages > 0 && st.bytes > 0, "stats: %ld messages", st.messages);
    dist_finalize();
    char name[32];
    snprintf(name, sizeof name, "mpi_dist (rank %d)", rank);
    return test_done(name);
}

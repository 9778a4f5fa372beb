/* dist without MPI (the default build): one process, rank 0 of 1. There is
 * nobody to talk to, so every message call fails with a line saying how to
 * get a build that can. */
#include "dist/dist.h"

#include <stdlib.h>

#include "base/util.h"

struct DistReq {
    int unused;
};

static int no_mpi(void) {
    return err_set("this mistral was built without MPI: build it with make MPI=1 (OpenMPI) and "
                   "run it under mpirun");
}

int dist_has_mpi(void) { return 0; }
int dist_init(int *argc, char ***argv, double timeout_s) { return 0; }
void dist_finalize(void) {}
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }
int dist_local_size(void) { return 1; }
int dist_handshake(uint64_t fingerprint, const char *what) { return 0; }
int dist_isend(int to, int tag, const void *buf, size_t bytes, DistReq **req) { return no_mpi(); }
int dist_wait(DistReq **req) { return *req ? no_mpi() : 0; }
int dist_recv(int from, int tag, void **buf, size_t *cap, size_t *bytes) { return no_mpi(); }
int dist_bcast(void *buf, size_t bytes, int root) { return root == 0 ? 0 : no_mpi(); }
int dist_allreduce_sum(float *x, size_t n) { return 0; }
struct DistGroup {
    int unused;
};

/* One rank: every group is that rank alone. */
DistGroup *dist_group_split(int color, int key) { return xcalloc(1, sizeof(DistGroup)); }
void dist_group_free(DistGroup *g) { free(g); }
int dist_group_rank(const DistGroup *g) { return 0; }
int dist_group_size(const DistGroup *g) { return 1; }
int dist_group_bcast(DistGroup *g, void *buf, size_t bytes, int root) { return root == 0 ? 0 : no_mpi(); }
int dist_group_allreduce_sum(DistGroup *g, float *x, size_t n) { return 0; }
DistStats dist_stats(void) { return (DistStats){0}; }

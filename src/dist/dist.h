/* dist — the processes of one distributed run and the messages between them.
 *
 * Two implementations, and the Makefile builds exactly one (like redis's
 * ae_epoll.c / ae_kqueue.c): mpi.c (make MPI=1: OpenMPI or any MPI-3
 * library) and local.c (one process, rank 0 of 1; every message call fails
 * with "built without MPI"). Nothing above this header knows which.
 *
 * Every wait is polite: a request is tested for a few microseconds, then
 * between tests the process sleeps (nanosleep, doubling from 20 us up to
 * 500 us), so a rank waiting for its neighbour costs a few percent of a core,
 * not all of it, while ranks share a machine. MPI's own errors end the job
 * (MPI_ERRORS_ARE_FATAL): a rank that dies ends every rank through mpirun.
 *
 * Start-up is guarded by a watchdog: dist_init arms a timer that ends the
 * process with a one-line message if the start-up (MPI_Init and the model
 * handshake, dist_handshake) has not finished within the timeout, so a rank
 * that never arrives cannot hang the others. */
#ifndef DIST_DIST_H
#define DIST_DIST_H

#include <stddef.h>
#include <stdint.h>

/* 1 when this build has MPI (make MPI=1), else 0. */
int dist_has_mpi(void);

/* Joins the job (MPI_Init) and arms the start-up watchdog: timeout_s
 * seconds until dist_handshake must have succeeded (<= 0: none). Returns 0,
 * or -1 with err set. */
int dist_init(int *argc, char ***argv, double timeout_s);
/* Leaves the job (MPI_Finalize) after every rank got here. */
void dist_finalize(void);
int dist_rank(void);
int dist_size(void);
/* Ranks on this machine (this one included): they share its cores. */
int dist_local_size(void);

/* Compares a fingerprint across every rank (a gather of one 64-bit value)
 * and disarms the start-up watchdog. Returns 0 when all equal, else -1 with
 * err naming the first rank that differs from rank 0; every rank gets the
 * same answer. */
int dist_handshake(uint64_t fingerprint, const char *what);

/* A message in flight; NULL once complete. */
typedef struct DistReq DistReq;

/* Starts sending bytes to rank `to`; buf must stay untouched until
 * dist_wait(req). Returns 0, or -1 with err set. */
int dist_isend(int to, int tag, const void *buf, size_t bytes, DistReq **req);
/* Waits (politely) until the message left; *req becomes NULL (a NULL *req
 * is already done). Returns 0, or -1 with err set. */
int dist_wait(DistReq **req);
/* Receives the next message from `from` with `tag`, whatever its size:
 * *buf is grown (xrealloc) to hold it, *cap is its capacity, *bytes the
 * message's size. Returns 0, or -1 with err set. */
int dist_recv(int from, int tag, void **buf, size_t *cap, size_t *bytes);
/* Root's bytes to every rank. */
int dist_bcast(void *buf, size_t bytes, int root);
/* x = the element-wise sum of every rank's x (the same on every rank). */
int dist_allreduce_sum(float *x, size_t n);

/* A subset of the ranks (MPI_Comm_split): every rank calls it (collective);
 * ranks with the same color form a group, numbered by key. NULL stands
 * for every rank in the group calls below. Returns NULL (err set) on error. */
typedef struct DistGroup DistGroup;
DistGroup *dist_group_split(int color, int key);
void dist_group_free(DistGroup *g);
int dist_group_rank(const DistGroup *g);
int dist_group_size(const DistGroup *g);
/* dist_bcast and dist_allreduce_sum within a group (root: its group rank). */
int dist_group_bcast(DistGroup *g, void *buf, size_t bytes, int root);
int dist_group_allreduce_sum(DistGroup *g, float *x, size_t n);

/* What this process spent in the calls above since dist_init: seconds
 * (waits included), messages and bytes sent. */
typedef struct {
    double seconds;
    long messages;
    double bytes;
} DistStats;
DistStats dist_stats(void);

#endif

/* diskprobe — the disk read bandwidth probe (see diskprobe.h). */
#define _GNU_SOURCE /* posix_fadvise */
#include "base/diskprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/util.h"

typedef struct {
    const DiskProbe *p;
    int first;          /* its first span; then every p->readers-th */
    size_t share;       /* bytes it reads at most (whole spans) */
    size_t done;
    unsigned char *buf; /* owns: p->buf_bytes, aligned to p->align */
} Reader;

static void *reader_main(void *arg) {
    Reader *r = arg;
    const DiskProbe *p = r->p;
    for (int i = r->first; i < p->n_spans && r->done < r->share; i += p->readers) {
        const DiskSpan *s = &p->spans[i];
        uint64_t a0 = s->off / p->align * p->align;
        uint64_t a1 = (s->off + s->bytes + p->align - 1) / p->align * p->align;
        size_t want = (size_t)(a1 - a0), got = 0;
        if (p->drop) posix_fadvise(s->fd, (off_t)a0, (off_t)want, POSIX_FADV_DONTNEED);
        while (got < want) {
            ssize_t n = pread(s->fd, r->buf + got, want - got, (off_t)(a0 + got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += (size_t)n;
        }
        r->done += got;
        if (p->drop) posix_fadvise(s->fd, (off_t)a0, (off_t)want, POSIX_FADV_DONTNEED);
    }
    return NULL;
}

/* The spans' largest extent once rounded to p->align. */
static size_t widest(const DiskProbe *p) {
    size_t most = 0;
    for (int i = 0; i < p->n_spans; i++) {
        const DiskSpan *s = &p->spans[i];
        uint64_t a0 = s->off / p->align * p->align, a1 = (s->off + s->bytes + p->align - 1) / p->align * p->align;
        if (a1 - a0 > most) most = (size_t)(a1 - a0);
    }
    return most;
}

double diskprobe_run(const DiskProbe *p) {
    CHECK(p->readers >= 1 && p->align >= 1);
    if (widest(p) > p->buf_bytes)
        return err_set("disk probe: a span of %zu bytes does not fit its %zu-byte buffer", widest(p), p->buf_bytes);
    Reader *r = xcalloc((size_t)p->readers, sizeof *r);
    pthread_t *t = xcalloc((size_t)p->readers, sizeof *t);
    size_t al = p->align < 64 ? 64 : p->align, buf = (p->buf_bytes + al - 1) / al * al; /* aligned_alloc: a multiple */
    int started = 0, ok = 1;
    for (int i = 0; i < p->readers; i++) {
        r[i] = (Reader){p, i, p->total / (size_t)p->readers, 0, aligned_alloc(al, buf)};
        if (!r[i].buf) ok = 0;
    }
    double t0 = now_seconds();
    for (; ok && started < p->readers; started++)
        if (pthread_create(&t[started], NULL, reader_main, &r[started])) break;
    if (started < p->readers) ok = 0;
    for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
    double dt = now_seconds() - t0;
    size_t done = 0;
    for (int i = 0; i < p->readers; i++) done += r[i].done, free(r[i].buf);
    free(r), free(t);
    if (!ok) return err_nomem("disk probe: no memory or threads for %d readers of %zu bytes each", p->readers, buf);
    if (!done || dt <= 0) return err_io("disk probe: nothing could be read");
    return (double)done / dt;
}

/* diskprobe — the read bandwidth a file gives large preads: what streaming
 * weights from disk (model/experts.c, --mem-limit) runs against. */
#ifndef BASE_DISKPROBE_H
#define BASE_DISKPROBE_H

#include <stddef.h>
#include <stdint.h>

/* A stretch of an open file. */
typedef struct {
    int fd;
    uint64_t off;   /* of its first byte */
    size_t bytes;
} DiskSpan;

typedef struct {
    const DiskSpan *spans; /* view [n_spans]: what to read, in this order */
    int n_spans;
    int readers;           /* threads reading at once (>= 1) */
    size_t total;          /* bytes to read in all: each reader stops after
                              its share, total / readers, at a span's end */
    size_t align;          /* a power of two: spans are read from their
                              offset rounded down to their end rounded up to
                              it (4096 for a file opened O_DIRECT; 1: none) */
    int drop;              /* 1: each span's pages leave the page cache before
                              and after its read (buffered reads then measure
                              the disk, not memory) */
    size_t buf_bytes;      /* each reader's buffer: at least the largest span
                              so rounded, plus one align */
} DiskProbe;

/* Bytes per second the reads of p got: reader r takes spans r, r + readers,
 * r + 2 readers, ... each whole, into a buffer of its own (the probe holds
 * readers × buf_bytes while it runs, nothing after). A read that fails or
 * comes up short ends its span there and counts what it got. Returns -1
 * with err set when a buffer or thread cannot be had, when a span does not
 * fit its buffer, or when nothing could be read. */
double diskprobe_run(const DiskProbe *p);

#endif

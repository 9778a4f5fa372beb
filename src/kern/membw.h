/* membw — the machine's memory read bandwidth, measured: the limit that
 * decoding (which reads every active weight once per token) runs against. */
#ifndef KERN_MEMBW_H
#define KERN_MEMBW_H

#include <stddef.h>

#include "base/pool.h"
#include "kern/kern.h"

/* GB/s of a read-only pass over a buffer of `bytes` with the table's widest
 * loads (Kern.read_lines), on the pool's threads (NULL: this thread), best
 * of `reps` passes. The buffer is written first, so no page is faulted in
 * while timed. */
double membw_read_gbs(const Kern *k, Pool *pool, size_t bytes, int reps);

/* The probe: the best of membw_read_gbs over buffers of 512 MiB, 1 GiB and
 * 2 GiB (all far past the last-level cache), 3 passes each, holding no more
 * than `room` bytes (SIZE_MAX: no bound; mistral bench --mem-limit gives
 * what the limit leaves): the sizes above room are left out, and when none
 * fits, one buffer of room (in whole MiB) is read if it is at least
 * membw_min_bytes(). Returns GB/s, or 0 when nothing was read (too little
 * room: skipped). *largest (may be NULL) gets the largest buffer read, 0
 * when skipped. */
double membw_probe(const Kern *k, Pool *pool, size_t room, size_t *largest);

/* The smallest buffer the probe reads: four times the last-level cache,
 * and at least 64 MiB, so that the passes read memory, not the cache. */
size_t membw_min_bytes(void);

/* The last-level cache in bytes (0 where unknown): a model whose bytes read
 * per token fit in it decodes from the cache, faster than memory allows. */
size_t membw_llc_bytes(void);

#endif

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
 * 2 GiB (all far past the last-level cache), 3 passes each. */
double membw_probe(const Kern *k, Pool *pool);

/* The last-level cache in bytes (0 where unknown): a model whose bytes read
 * per token fit in it decodes from the cache, faster than memory allows. */
size_t membw_llc_bytes(void);

#endif

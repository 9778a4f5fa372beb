/* membw — the machine's memory read bandwidth, measured: the limit that
 * decoding (which reads every active weight once per token) runs against. */
#ifndef BASE_MEMBW_H
#define BASE_MEMBW_H

#include <stddef.h>

#include "base/pool.h"

/* GB/s of a read-only pass over a buffer of `bytes` (1 GiB is a good size:
 * far past the caches), on the pool's threads (NULL: this thread), best of
 * `reps` passes. */
double membw_read_gbs(Pool *pool, size_t bytes, int reps);

#endif

/* mapfile — a read-only memory mapping of a whole file.
 * Weights are views into it; nothing is copied unless converted. */
#ifndef BASE_MAPFILE_H
#define BASE_MAPFILE_H

#include <stddef.h>

typedef struct {
    const unsigned char *data; /* view of the file's bytes (NULL when empty) */
    size_t size;               /* bytes */
} MapFile;

/* Maps `path`. Returns 0, or -1 with err set (missing, unreadable, a
 * directory). An empty file maps to data NULL, size 0. */
int mapfile_open(MapFile *f, const char *path);
/* Hints that [p, p + n), if it lies inside f, will not be read again: its
 * whole pages leave this process's resident memory (they stay in the page
 * cache and come back from the file if read after all). */
void mapfile_drop(const MapFile *f, const void *p, size_t n);
/* Unmaps; accepts a zeroed struct. */
void mapfile_close(MapFile *f);

#endif

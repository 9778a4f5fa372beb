/* safetensors — a zero-copy reader of the safetensors container.
 *
 *   [u64 little-endian N][N bytes of JSON header][tensor data]
 *   header: {"name": {"dtype": "F32", "shape": [r, c], "data_offsets": [b, e]},
 *            ..., "__metadata__": {...}}   offsets relative to the data start.
 *
 * Every entry is checked against the file before use: a known dtype, a shape
 * whose byte size equals e - b, offsets inside the file, no two tensors
 * overlapping, no name twice (format/tensor.h's checks). Tensor data are
 * views into the mapping; a tensor whose data are not aligned to its element
 * size is copied once (old writers did not pad the header). */
#ifndef FORMAT_SAFETENSORS_H
#define FORMAT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/mapfile.h"
#include "format/tensor.h"

typedef struct {
    MapFile map;
    char *path;   /* owns: for error messages */
    Tensor *t;    /* owns [n], in file order (file_type -1) */
    int n;
    int *by_name; /* owns [n]: indices of t by name, for lookups */
} SafeTensors;

/* Opens and validates `path`. Returns 0, or -1 with err set naming the file
 * and the problem. st is left closeable either way. */
int st_open(SafeTensors *st, const char *path);
/* Validates a file already in memory (buf must outlive st; used by the fuzz
 * target). `where` names it in errors. */
int st_parse(SafeTensors *st, const void *buf, size_t len, const char *where);
/* The tensor called name, or NULL. O(log n). */
const Tensor *st_find(const SafeTensors *st, const char *name);
/* Frees everything; accepts a zeroed struct. */
void st_close(SafeTensors *st);

#endif

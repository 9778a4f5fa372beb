/* tensor — the one tensor view of the file containers (safetensors, GGUF),
 * and the checks every container makes on its tensors, written once.
 *
 * A Tensor is what a container found and checked: its name, type, shape and
 * a view of its bytes. Every container fills the same fields; the model's
 * weight binder (model/weights.h) and the tools read them without knowing
 * which container a tensor came from.
 *
 * Shapes are row-major, as safetensors and NumPy write them: shape[ndim - 1]
 * is the row length (the fastest-varying index). GGUF writes its dims the
 * other way round (ggml's ne[0] is the row length): tensor_ne reads a shape
 * in that order.
 *
 * Dtypes: format includes kern/dtype.h for the DType enum and the storage
 * half of its traits (block, bytes per block, GGML type number). The traits
 * table stays the one table per dtype (no second table to keep in step), and
 * kern never includes format, so the edge points one way:
 * base <- kern/dtype.h <- format <- model, tok. */
#ifndef FORMAT_TENSOR_H
#define FORMAT_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "kern/dtype.h"

#define TENSOR_MAX_DIMS 8

typedef struct {
    char *name;             /* NUL-terminated; owned by the container */
    const char *path;       /* view: the file holding it (for errors) */
    int dtype;              /* a DType, or -1 for a type the kernels do not read */
    const char *dtype_name; /* view (static): the file's name for its type
                               ("F32", "I64", "q4_K") */
    int file_type;          /* the container's number for the type: the GGML
                               type in GGUF; -1 in safetensors (names only) */
    int ndim;               /* 0 (a scalar) .. TENSOR_MAX_DIMS */
    int64_t shape[TENSOR_MAX_DIMS]; /* row-major; entries past ndim are 0 */
    uint64_t offset;        /* of the data from the start of the container's data */
    const void *data;       /* view into the mapping (or into copy) */
    size_t nbytes;          /* checked: the shape's size in its type */
    void *copy;             /* owned by the container: an aligned copy when the
                               mapped bytes were not aligned for the type */
} Tensor;

/* ggml's ne[i]: the size along axis i counted from the row (ne[0] is the row
 * length); 1 past ndim. */
static inline int64_t tensor_ne(const Tensor *t, int i) {
    return i < t->ndim ? t->shape[t->ndim - 1 - i] : 1;
}

/* ---- building views (for the containers) --------------------------------- */

/* bytes × (dims[0] / block) × dims[1] × ... × dims[n-1], multiplied in that
 * order (each container passes its dims in the order it always checked
 * them: ggml order for GGUF, row-major for safetensors with block 1).
 * Every dim must be >= 0; dims[0] / block rounds down (the caller checks
 * that it is a multiple). 0 and *out, or -1 when a product overflows size_t. */
int tensor_nbytes(const int64_t *dims, int n, int block, int bytes, size_t *out);

/* A NUL-terminated copy of a name read from a file (a tensor's, a key's),
 * p[0..len); NULL (err not set) when it holds a NUL byte, which names may
 * not. */
char *tensor_name_copy(const char *p, size_t len);

/* The checks on a container's tensors t[0..n), each already inside the file
 * (offset + nbytes within the data): no two tensors share bytes, no name
 * appears twice. 0 with *by_name (allocated, owned by the caller) the indices
 * of t in name order, for tensors_find; or -1 with err set naming `where`
 * and the tensors (*by_name is then still set, to be freed). */
int tensors_check(const Tensor *t, int n, const char *where, int **by_name);

/* The tensor called name among t[0..n) through by_name (from tensors_check),
 * or NULL; O(log n). by_name NULL (an unchecked container): NULL. */
const Tensor *tensors_find(const Tensor *t, const int *by_name, int n, const char *name);

/* Copies, once, the data of every tensor of a readable type whose mapped
 * bytes are not aligned for it: its element size for the float types, 2 for
 * the quantized blocks (their f16 scales). Zero-copy otherwise. */
void tensors_align(Tensor *t, int n);

/* Frees the names and copies of t[0..n) and the array; accepts NULL and a
 * half-built array (zeroed past the built part). */
void tensors_free(Tensor *t, int n);

/* Sub-tensor i along the outermost axis (shape[0]) of t: ndim - 1 dims, a
 * view of its bytes, the same name and file. 0, or -1 when t has no axis or
 * i is outside it. */
int tensor_slice(const Tensor *t, int64_t i, Tensor *out);

/* ---- alignment ----------------------------------------------------------- */

/* The zero bytes after n bytes up to the next multiple of align (> 0). */
static inline size_t tensor_pad(size_t n, uint32_t align) { return (align - n % align) % align; }
/* 1 when a is a valid data alignment: a power of two (0 is not). */
static inline int tensor_alignment_ok(uint64_t a) { return a != 0 && (a & (a - 1)) == 0; }

#endif

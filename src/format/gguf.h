/* gguf — a zero-copy reader and a writer of llama.cpp's GGUF container,
 * versions 2 and 3, little-endian.
 *
 *   "GGUF"  u32 version  u64 n_tensors  u64 n_kv
 *   n_kv      × { string key, u32 value type, value }
 *   n_tensors × { string name, u32 n_dims (<= 4), u64 dims[n_dims],
 *                 u32 ggml type, u64 offset }
 *   zero padding to general.alignment (a u32, default 32), then the data
 *   section: tensor i's bytes start at data section + offset_i.
 *   string = u64 length + that many bytes (no NUL)
 *   array  = u32 element type, u64 count, the elements (arrays may nest)
 *
 * dims are in ggml order: dims[0] is the row length (the fastest-varying
 * index), so a matrix of `rows` rows of `cols` elements has dims {cols, rows}.
 * The Tensor views (format/tensor.h) hold them row-major, as every container
 * does: shape {rows, cols}; tensor_ne(t, i) gives dims[i] back.
 *
 * Every length, count and offset is checked against the file before it is
 * used or anything is allocated for it: a bad file is a one-line error, never
 * a crash or an allocation larger than a small multiple of the file. Checked
 * on open: magic, version, counts, string lengths, value types, arrays nested
 * at most GGUF_MAX_DEPTH deep, unique keys, general.alignment a power of two,
 * unique tensor names, n_dims <= 4, a known ggml type (one whose block size
 * is known, even if the kernels do not read it), a row length that is a
 * multiple of the block, no overflow of the element count or byte size,
 * offsets aligned, data inside the file, no two tensors sharing bytes.
 * A tensor of a type the kernels do not read is an error only when asked
 * for through gguf_get_tensor.
 *
 * Metadata values and tensor data are views into the mapping. Numeric values
 * in the file are not aligned: read them through the getters below. Tensor
 * data are aligned to the file's alignment (mapped files are page-aligned); a
 * tensor of a readable type whose data sit at an address not aligned for its
 * elements (possible only through gguf_parse on an odd buffer, or alignment
 * 1) is copied once. */
#ifndef FORMAT_GGUF_H
#define FORMAT_GGUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/mapfile.h"
#include "base/vec.h"
#include "format/tensor.h"

#define GGUF_MAX_DIMS 4
#define GGUF_MAX_DEPTH 8 /* arrays of arrays of ... */
#define GGUF_DEFAULT_ALIGNMENT 32

typedef enum {
    GGUF_U8 = 0,
    GGUF_I8 = 1,
    GGUF_U16 = 2,
    GGUF_I16 = 3,
    GGUF_U32 = 4,
    GGUF_I32 = 5,
    GGUF_F32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
    GGUF_U64 = 10,
    GGUF_I64 = 11,
    GGUF_F64 = 12,
    GGUF_TYPE_COUNT
} GGUFType;

/* A string in the file: a view, not NUL-terminated, may contain any byte. */
typedef struct {
    const char *p;
    size_t len;
} GGUFStr;

typedef struct GGUFValue {
    GGUFType type;
    const unsigned char *data; /* view: a scalar's bytes (little-endian), a
                                  string's bytes, an array's first element */
    size_t size;               /* bytes at data: the scalar's size, the string's
                                  length, the array's elements in total */
    char *str;                 /* owns: a string scalar NUL-terminated (cut at
                                  its first NUL byte, if any); else NULL */
    /* arrays */
    GGUFType elem_type;
    uint64_t n;             /* elements */
    size_t *str_off;        /* owns [n + 1]: string arrays: element i's length
                               prefix is at data + str_off[i] */
    struct GGUFValue *sub;  /* owns [n]: arrays of arrays */
} GGUFValue;

typedef struct {
    char *key; /* owns */
    GGUFValue v;
} GGUFKV;

typedef struct {
    MapFile map;
    char *path;          /* owns: for error messages */
    int version;         /* 2 or 3 */
    uint32_t alignment;  /* general.alignment, or 32 */
    size_t data_offset;  /* file offset of the data section */
    GGUFKV *kv;          /* owns [n_kv], in file order */
    int n_kv;
    Tensor *t;           /* owns [n_tensors], in file order (file_type: the
                            GGML type as written) */
    int n_tensors;
    int *kv_sorted;      /* owns [n_kv]: indices by key, for lookups */
    int *by_name;        /* owns [n_tensors]: indices of t by name */
} GGUFFile;

/* 1 when path is a regular file named *.gguf or starting with "GGUF" (how
 * a model path or a tokenizer path is told to be GGUF). */
int gguf_is_file(const char *path);
/* Maps and validates `path`. Returns 0, or -1 with err set naming the file
 * and the problem. f is left closeable either way. */
int gguf_open(GGUFFile *f, const char *path);
/* Validates a file already in memory (buf must outlive f; used by the fuzz
 * target and the tests). `where` names it in errors. f must be zeroed. */
int gguf_parse(GGUFFile *f, const void *buf, size_t len, const char *where);
/* Frees everything; accepts a zeroed or half-built struct. */
void gguf_close(GGUFFile *f);

/* ---- metadata ------------------------------------------------------------ */

/* The pair with this key, or NULL (err not set). O(log n_kv). */
const GGUFKV *gguf_find_kv(const GGUFFile *f, const char *key);

/* Typed getters. Each returns 0 and sets *out; 1 when the key is absent (out
 * untouched, err set to "missing key", so that `!= 0` reads as "required");
 * -1 when the value has another type or does not fit (err set).
 * Coercions: the integer getters take any integer type (u8..u64, i8..i64)
 * whose value fits the result; gguf_get_f32 takes f32, f64 (rounded to
 * nearest) and any integer type; gguf_get_bool takes only bool (any nonzero
 * byte is true); gguf_get_string takes only a string and gives the
 * NUL-terminated copy (owned by f, cut at a NUL byte inside). */
int gguf_get_u32(const GGUFFile *f, const char *key, uint32_t *out);
int gguf_get_i32(const GGUFFile *f, const char *key, int32_t *out);
int gguf_get_u64(const GGUFFile *f, const char *key, uint64_t *out);
int gguf_get_i64(const GGUFFile *f, const char *key, int64_t *out);
int gguf_get_f32(const GGUFFile *f, const char *key, float *out);
int gguf_get_bool(const GGUFFile *f, const char *key, int *out);
int gguf_get_string(const GGUFFile *f, const char *key, const char **out);

/* The array at key: 0 with its element type, count and a view of its first
 * element (packed little-endian, unaligned, for the fixed-size types); 1 when
 * absent, -1 when not an array (err set as above). */
int gguf_get_array(const GGUFFile *f, const char *key, GGUFType *elem_type, uint64_t *n,
                   const void **data);

/* Element i of a string array, O(1) (offsets are precomputed on open). i must
 * be < a->n and a an array of strings (CHECK). */
GGUFStr gguf_array_str(const GGUFValue *a, uint64_t i);
/* Element i of an array of arrays (CHECK as above). */
const GGUFValue *gguf_array_sub(const GGUFValue *a, uint64_t i);
/* Copies a numeric array into out[0..a->n), converting: gguf_array_f32 takes
 * any integer or float element type (f64 rounded), gguf_array_i32 any integer
 * type whose every element fits. Returns 0, or -1 with err set (`what` names
 * the array in the message). */
int gguf_array_f32(const GGUFValue *a, float *out, const char *what);
int gguf_array_i32(const GGUFValue *a, int32_t *out, const char *what);

/* Bytes of a fixed-size value of type t; 0 for string, array and an unknown
 * number. */
int gguf_type_size(GGUFType t);
/* "u32", "string", ... ("?" for an unknown number). */
const char *gguf_type_name(GGUFType t);

/* ---- tensors ------------------------------------------------------------- */

/* The tensor called name, or NULL (err not set), whatever its type. */
const Tensor *gguf_find_tensor(const GGUFFile *f, const char *name);
/* The tensor called name if the kernels read its type; NULL with err set
 * naming the file, the tensor and its type otherwise (or "no tensor"). */
const Tensor *gguf_get_tensor(const GGUFFile *f, const char *name);

/* ggml's name of GGML type number t ("q4_K", "iq2_xxs", ...), or NULL for a
 * number GGUF files cannot hold; *block and *bytes (either may be NULL) get
 * its block size and bytes per block. */
const char *gguf_ggml_type_name(uint32_t t, int *block, int *bytes);

/* ---- writer -------------------------------------------------------------- */

/* Collects metadata and tensors, then writes a version 3 file in one go:
 * the pairs in the order added (general.alignment = 32 first unless added),
 * tensors in the order added, each at an offset aligned to 32 bytes.
 *
 *   GGUFWriter w;
 *   gguf_writer_init(&w);
 *   gguf_writer_add_string(&w, "general.architecture", "llama");
 *   gguf_writer_add_tensor(&w, "token_embd.weight", DT_Q8_0, 2, dims, data);
 *   if (gguf_writer_write(&w, fp)) ... err_msg() ...
 *   gguf_writer_free(&w);
 *
 * The add functions return 0, or -1 with err set (a key or a tensor name
 * given twice, a row length that is not a multiple of the block, bad dims);
 * after a failed add, gguf_writer_write refuses too, so the caller may check
 * only that. Tensor data are views: they must stay valid until the write;
 * or they are made at write time by a fill function (add_tensor_fill), one
 * tensor at a time, so a file larger than memory can be written. */
typedef int (*GGUFFill)(void *ud, void *dst, size_t nbytes); /* 0, or -1 with err set */

typedef struct {
    ByteBuf kv;           /* owns: the encoded pairs */
    char **keys;          /* owns [n_kv] */
    int n_kv;
    Tensor *t;            /* owns [n_tensors]: name and shape; data are views */
    int n_tensors;
    GGUFFill *fill;       /* owns [n_tensors]: NULL where the data are a view */
    void **fill_ud;       /* owns [n_tensors] */
    uint32_t alignment;   /* 32, or general.alignment as added */
    int failed;           /* an add failed: write refuses */
} GGUFWriter;

void gguf_writer_init(GGUFWriter *w);
void gguf_writer_free(GGUFWriter *w);

int gguf_writer_add_u8(GGUFWriter *w, const char *key, uint8_t v);
int gguf_writer_add_i8(GGUFWriter *w, const char *key, int8_t v);
int gguf_writer_add_u16(GGUFWriter *w, const char *key, uint16_t v);
int gguf_writer_add_i16(GGUFWriter *w, const char *key, int16_t v);
int gguf_writer_add_u32(GGUFWriter *w, const char *key, uint32_t v);
int gguf_writer_add_i32(GGUFWriter *w, const char *key, int32_t v);
int gguf_writer_add_f32(GGUFWriter *w, const char *key, float v);
int gguf_writer_add_bool(GGUFWriter *w, const char *key, int v);
int gguf_writer_add_u64(GGUFWriter *w, const char *key, uint64_t v);
int gguf_writer_add_i64(GGUFWriter *w, const char *key, int64_t v);
int gguf_writer_add_f64(GGUFWriter *w, const char *key, double v);
int gguf_writer_add_string(GGUFWriter *w, const char *key, const char *s);
/* An array of n fixed-size elements (any type but string and array) from
 * data, host layout (e.g. a float[] for GGUF_F32; bool as one byte each). */
int gguf_writer_add_array(GGUFWriter *w, const char *key, GGUFType elem_type, const void *data,
                          uint64_t n);
/* An array of n strings; lens NULL means NUL-terminated, else string i is
 * the lens[i] bytes at s[i] (which may hold NULs). */
int gguf_writer_add_array_str(GGUFWriter *w, const char *key, const char *const *s,
                              const size_t *lens, uint64_t n);
/* A tensor of type dtype and n_dims (1..4) dims in ggml order (dims[0] the
 * row length, a multiple of dtype's block); data holds its
 * dtype_bytes(dtype, Π dims) bytes. */
int gguf_writer_add_tensor(GGUFWriter *w, const char *name, DType dtype, int n_dims,
                           const int64_t *dims, const void *data);
/* The same, with the data made by fill(ud, buffer, bytes) when the file is
 * written, in the order the tensors were added. */
int gguf_writer_add_tensor_fill(GGUFWriter *w, const char *name, DType dtype, int n_dims,
                                const int64_t *dims, GGUFFill fill, void *ud);
/* Writes the file to fp (at its current position, which should be 0 for
 * the alignment to hold in the file). Returns 0, or -1 with err set. */
int gguf_writer_write(GGUFWriter *w, FILE *fp);

#endif

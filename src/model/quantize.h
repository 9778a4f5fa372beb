/* quantize — a loaded model written as a llama.cpp GGUF file, its weights
 * converted to one of llama.cpp's file types.
 *
 * Works from the Model struct only (Mats of any dtype), so any layout
 * model_load reads can be the source. Each source row is converted to fp32
 * with its dtype's to_float and written with the target's quantize
 * (kern/dtype.h); a tensor whose target is its own dtype is copied as is.
 *
 * Which tensor gets which type follows llama.cpp's llama_tensor_get_type
 * (src/llama-quant.cpp) for the file types below; see quant_tensor_type.
 * Names are llama.cpp's (model/names.h); Mixtral's experts are stacked into
 * blk.N.ffn_{gate,down,up}_exps with dims [cols, rows, n_experts]. */
#ifndef MODEL_QUANTIZE_H
#define MODEL_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>

#include "format/gguf.h"
#include "kern/dtype.h"
#include "model/imatrix.h"
#include "model/model.h"

/* A file type: the name on the command line, llama.cpp's LLAMA_FTYPE number
 * (general.file_type) and the type most 2-D weights get. */
typedef struct {
    const char *name;
    int ftype;
    DType base;
} QuantScheme;

/* llama.cpp's LLAMA_FTYPE_* numbers of the schemes we write. */
enum {
    FTYPE_ALL_F32 = 0,
    FTYPE_F16 = 1,
    FTYPE_Q4_0 = 2,
    FTYPE_Q8_0 = 7,
    FTYPE_Q2_K = 10,
    FTYPE_Q3_K_S = 11,
    FTYPE_Q3_K_M = 12,
    FTYPE_Q3_K_L = 13,
    FTYPE_Q4_K_S = 14,
    FTYPE_Q4_K_M = 15,
    FTYPE_Q5_K_S = 16,
    FTYPE_Q5_K_M = 17,
    FTYPE_Q6_K = 18,
    FTYPE_IQ4_NL = 25,
    FTYPE_IQ4_XS = 30,
    FTYPE_BF16 = 32,
};

/* The scheme called name (case-insensitive: "q4_k_m", "Q8_0", ...), or NULL
 * with err set: one line listing the known names, or, for llama.cpp's types
 * that need an importance matrix (iq1_*, iq2_*, q2_k_s) or that we do not
 * write (iq3_*, tq1_0, tq2_0), saying so. */
const QuantScheme *quant_scheme_find(const char *name);
/* "f32, f16, bf16, q8_0, ..." */
const char *quant_scheme_names(void);

/* The type llama.cpp's quantizer gives a 2-D (or stacked 3-D) weight called
 * gguf_name ("blk.3.attn_v.weight") of layer `layer` (-1 for token_embd and
 * output), rows of row_len elements, in a model of n_layers layers,
 * n_experts experts (0: dense) and n_gqa = n_heads / n_kv_heads that has
 * (has_output) or lacks an output.weight
 * of its own. *fallback (may be NULL) is set to 1 when the chosen type had to
 * change because row_len is not a multiple of its block. 1-D tensors are not
 * asked: they are always F32. */
DType quant_tensor_type(const QuantScheme *s, const char *gguf_name, int layer, int n_layers,
                        int n_experts, int n_gqa, int64_t row_len, int has_output, int *fallback);
/* The same when the file is made with an importance matrix (has_imatrix 1),
 * where llama.cpp's rules differ: iq4_nl/iq4_xs keep the first eighth of
 * ffn_down at the base type, q4_0 puts it at q4_1. */
DType quant_tensor_type_imat(const QuantScheme *s, const char *gguf_name, int layer, int n_layers,
                             int n_experts, int n_gqa, int64_t row_len, int has_output, int has_imatrix,
                             int *fallback);

/* Adds llama.cpp's metadata for m (architecture "llama") to w: general.*,
 * llama.* hyperparameters, general.file_type of s. `name` is general.name. */
int quantize_add_metadata(GGUFWriter *w, const Model *m, const QuantScheme *s, const char *name);

/* Called after each tensor is converted: tensor i (0-based) of n, its name
 * and type, and the output bytes of tensors 0..i. */
typedef void (*QuantProgress)(void *ud, int i, int n, const char *name, DType type, size_t bytes);

/* What quantize_add_tensors made: the converted tensors' buffers (one copy of
 * the output, held until the write) and a summary. */
typedef struct {
    void **bufs;           /* owns [n_bufs] */
    int n_bufs;
    int n_tensors;
    int n_fallback;        /* tensors whose rows did not fit the chosen type's block */
    int n_imatrix;         /* tensors quantized with importance weights */
    int n_no_imatrix;      /* quantized tensors the importance matrix had no entry for */
    int n_type[DT_COUNT];  /* tensors written in each type */
    size_t bytes;          /* tensor data in total */
} Quantized;

/* Adds every tensor of m to w, converted per s: llama.cpp's names, stacked
 * experts, HF q/k rows put back in interleaved order. Tensors kept in their
 * own dtype are views of m, the others buffers owned by q: m and q must
 * outlive gguf_writer_write. Each matrix's rows are converted by n_threads
 * threads (the bytes do not depend on it). im (NULL: none) gives the
 * quantizers importance weights, per expert for stacked experts, as
 * llama-quantize --imatrix does (a tensor without an entry is quantized
 * without; an entry that names no tensor of m, or whose size is not the
 * tensor's, is an error). progress may be NULL. Returns 0, or -1 with err
 * set. q is zeroed first; free it with quantize_free either way. */
int quantize_add_tensors(Quantized *q, GGUFWriter *w, const Model *m, const QuantScheme *s, const Imatrix *im,
                         int n_threads, QuantProgress progress, void *ud);
void quantize_free(Quantized *q);

#endif

/* imatrix — importance matrices: collected while a model runs, read and
 * written in llama.cpp's two file formats, turned into the per-column weights
 * the quantizers take (kern/quant.h, quantize_row_*_imat).
 *
 * For every 2-D weight matrix a matmul meets (each expert of a stacked MoE
 * tensor on its own), the sum over the tokens it was applied to of the
 * squared input, per input column, and the number of those tokens (llama.cpp
 * tools/imatrix): column c of a weight that only meets small inputs matters
 * less, and its quantization error is weighted less.
 *
 * Files (names are llama.cpp's tensor names, blk.0.attn_q.weight, ...):
 *   GGUF (llama.cpp since mid 2025, our default): per matrix
 *     "<name>.in_sum2" F32 [cols, n_mats] and "<name>.counts" F32 [1, n_mats];
 *     keys general.type = "imatrix", imatrix.datasets (strings),
 *     imatrix.chunk_count, imatrix.chunk_size (u32).
 *   legacy .dat: i32 n_entries, then per entry i32 len, name, i32 ncall,
 *     i32 nval, f32 values[nval] (the mean square times ncall); then
 *     optionally i32 chunk_count, i32 len, the dataset's name.
 * A file starting with "GGUF" is read as GGUF, any other as .dat; every
 * length and count is checked against the file (a one-line error naming the
 * file and what is wrong).
 *
 * The quantizers' weights are what llama-quantize computes from each format:
 * GGUF: in_sum2 / counts per matrix (1 where a matrix saw no token); .dat:
 * values / ncall. */
#ifndef MODEL_IMATRIX_H
#define MODEL_IMATRIX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model/model.h"

typedef struct {
    char *name;    /* owns: llama.cpp's name of the weight ("blk.0.ffn_down_exps.weight") */
    int cols;      /* inputs per matrix; for a .dat entry: all values (n_mats unknown: 1) */
    int n_mats;    /* matrices (experts) in the tensor */
    float *sum2;   /* owns [n_mats * cols]: GGUF: Σ x²; .dat: the mean square times ncall */
    float *count;  /* owns [n_mats]: GGUF: tokens seen; .dat: ncall (the same for all) */
} ImatrixEntry;

typedef struct {
    ImatrixEntry *e; /* owns [n], sorted by name */
    int n;
    int legacy;      /* read from a .dat file */
    char **datasets; /* owns [n_datasets]: the texts it was collected on */
    int n_datasets;
    int chunk_count, chunk_size; /* chunks of chunk_size tokens (0: not known) */
} Imatrix;

/* Reads a GGUF or .dat importance matrix. Returns 0, or -1 with err set
 * ("FILE: ..."); im is left freeable either way. */
int imatrix_load(Imatrix *im, const char *path);
/* The same for a file already in memory (tests, fuzzing); `where` names it. */
int imatrix_parse(Imatrix *im, const void *buf, size_t len, const char *where);
void imatrix_free(Imatrix *im);

/* The entry called name, or NULL. */
const ImatrixEntry *imatrix_find(const Imatrix *im, const char *name);
/* out[0 .. n_mats*cols) = the quantizers' weights of entry e for a tensor of
 * n_mats matrices of `cols` columns, as llama-quantize computes them from
 * im's format. Returns 0, or -1 with err set when e's size does not match
 * the tensor's. */
int imatrix_weights(const Imatrix *im, const ImatrixEntry *e, int n_mats, int cols, float *out);

/* Writes im to f as GGUF (general.type "imatrix") or as .dat. Returns 0, or
 * -1 with err set. */
int imatrix_write_gguf(const Imatrix *im, FILE *f);
int imatrix_write_dat(const Imatrix *im, FILE *f);

/* ---- collecting ---------------------------------------------------------- */

/* The statistics of one model's matrices while it runs: install with
 * imatrix_collector_attach on the Context that runs the model, then every
 * matmul with one of its matrices adds its input rows (imatrix_observe).
 * Only the blk.* weights (and output.weight with process_output), as
 * llama-imatrix collects by default. A model whose experts stream from disk
 * (--mem-limit) is not supported: its matrices are copies. */
typedef struct {
    const Model *m;
    struct ImatrixSlot *slot; /* owns [n_slots]: each matrix the collector knows */
    int n_slots;
    char **names;             /* owns [n_names]: the tensors, in model order */
    int *mats;                /* owns [n_names]: matrices per tensor */
    double **sum2;            /* owns [n_names][mats * cols] */
    int64_t **count;          /* owns [n_names][mats] */
    int *cols;                /* owns [n_names] */
    int n_names;
} ImatrixCollector;

void imatrix_collector_init(ImatrixCollector *c, const Model *m, int process_output);
void imatrix_collector_free(ImatrixCollector *c);
/* ctx->mm.observe = imatrix_observe, with c. */
void imatrix_collector_attach(ImatrixCollector *c, Context *ctx);
/* The MatmulEnv observer: adds x's n rows to w's statistics (nothing for a
 * matrix it does not collect). */
void imatrix_observe(void *c, const Mat *w, const float *x, int n);
/* What was collected so far, as an Imatrix (every tensor of the model,
 * matrices that saw no token with count 0); dataset may be NULL. */
void imatrix_collector_result(const ImatrixCollector *c, Imatrix *im, const char *dataset, int chunk_count,
                              int chunk_size);

#endif

/* prepare — readies a loaded model for a kernel table, once, before any
 * context runs it: the matrices a process computes with are copied into the
 * table's packed layouts (KernPack, kern/matmul.h's mat_pack). Whoever owns
 * the model calls it with the share it runs (a pipeline stage its layers, an
 * expert-parallel rank its experts), so memory goes only to what runs. The
 * packed copy replaces the mapped rows in memory: their pages are dropped
 * from the process (they stay in the page cache). After it the model is
 * read-only: forward() never changes it, and contexts on several threads
 * may share it. */
#ifndef MODEL_PREPARE_H
#define MODEL_PREPARE_H

#include "base/pool.h"
#include "kern/kern.h"
#include "model/model.h"

/* The part of a model one process runs. */
typedef struct {
    int layer_lo, layer_hi;   /* layers [lo, hi) */
    int expert_lo, expert_hi; /* experts [lo, hi) of each MoE layer */
    int output;               /* 1: the output matrix too (the head) */
    int pack;                 /* 0: leave the rows as loaded (slower; results differ
                                 from packed ones in the order of fp32 additions) */
    size_t mem_limit;         /* > 0: the bytes the weights may hold (--mem-limit): the
                                 dense part resident, the experts streamed from the
                                 file into a cache of what is left (model/experts.h) */
    int buffered;             /* with mem_limit: read experts through the page cache */
    int no_predict;           /* with mem_limit: no reads ahead for predicted experts */
} ModelShare;

/* Every layer, expert and the output, packed. */
ModelShare model_share_all(const Model *m);

/* Packs share's matrices for table k (contexts that run them should use k:
 * matmul reads a matrix packed for another table from its rows), on pool's
 * threads (NULL: the caller's). Call before any context runs the model,
 * with no forward() in flight; calling again with another share packs what
 * is not packed yet. A matrix with no packed layout in k, or no memory for
 * the copy, keeps its rows. Returns 0, or -1 with err set when share is not
 * a part of m, or when mem_limit is set and cannot hold the dense part and
 * one expert (err names the minimum) or the model has no experts. */
int model_prepare(Model *m, const ModelShare *share, const Kern *k, Pool *pool);
/* Bytes the share's resident weights take once prepared (packed copies,
 * embeddings, norms; the experts too when they are resident). */
size_t model_resident_bytes(const Model *m, const ModelShare *share, const Kern *k);
/* Frees every packed copy and the expert cache (model_free calls it). */
void model_unpack(Model *m);

#endif

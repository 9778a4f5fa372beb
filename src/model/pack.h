/* pack — a model's matrices in the kernel table's packed layouts
 * (KernPack, kern/matmul.h's mat_pack), made the first time a context runs
 * a layer: so a pipeline stage packs only its own layers and an expert-
 * parallel rank only its own experts. The one change ever made to a loaded
 * model; serialized by a lock, so contexts on several threads may share the
 * model. The packed copy replaces the mapped rows in memory: their pages
 * are dropped from the process (they stay in the page cache). */
#ifndef MODEL_PACK_H
#define MODEL_PACK_H

#include "base/pool.h"
#include "model/model.h"

/* Packs layer l's matrices (experts [e_lo, e_hi) of a MoE layer), or the
 * output matrix when l == n_layers, for table k, packing on pool's threads. */
void model_pack_layer(const Model *m, int l, const Kern *k, Pool *pool, int e_lo, int e_hi);
/* Frees every packed copy (model_free calls it). */
void model_unpack(Model *m);

#endif

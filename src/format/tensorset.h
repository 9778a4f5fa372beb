/* tensorset — the tensors of a checkpoint that may span several safetensors
 * files (Hugging Face shards), found by name in the checkpoint's own naming. */
#ifndef FORMAT_TENSORSET_H
#define FORMAT_TENSORSET_H

#include "format/safetensors.h"

typedef struct {
    SafeTensors *files; /* owns [n_files] */
    int n_files;
    char *where;        /* owns: the checkpoint, for errors */
} TensorSet;

/* One file. 0 or -1 with err set. */
int tensorset_open_file(TensorSet *ts, const char *path);
/* Every shard named by a Hugging Face index (model.safetensors.index.json:
 * {"weight_map": {tensor: file}}); a tensor must live in the shard the index
 * names, and no tensor may be in two shards. 0 or -1 with err set. */
int tensorset_open_index(TensorSet *ts, const char *index_path);
/* The tensor called name in any file, or NULL (its path names its file). */
const Tensor *tensorset_find(const TensorSet *ts, const char *name);
void tensorset_close(TensorSet *ts);

#endif

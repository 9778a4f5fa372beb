/* fuzz_imatrix — libFuzzer target: the importance-matrix reader
 * (model/imatrix.h) on arbitrary bytes, GGUF and legacy .dat alike.
 * imatrix_parse must accept or refuse with one error line, never read
 * outside the buffer, leak or crash. An accepted file is used as quantize
 * uses it: every entry's weights derived for its own size and for a wrong
 * one (which must be refused), and written back in both formats. Seeds:
 * tests/fuzz/corpus/fuzz_imatrix/. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "model/imatrix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Imatrix im;
    if (imatrix_parse(&im, data, size, "fuzz")) {
        if (strchr(err_msg(), '\n')) abort(); /* one line */
        return 0;
    }
    for (int i = 0; i < im.n; i++) {
        const ImatrixEntry *e = &im.e[i];
        if (imatrix_find(&im, e->name) != e) abort();
        size_t n = (size_t)e->cols * (size_t)e->n_mats;
        float *w = xmalloc(n * sizeof(float));
        if (imatrix_weights(&im, e, e->n_mats, e->cols, w)) abort();
        if (imatrix_weights(&im, e, e->n_mats, e->cols + 1, w) == 0) abort();
        free(w);
    }
    FILE *f = tmpfile();
    if (f) {
        imatrix_write_gguf(&im, f);
        rewind(f);
        imatrix_write_dat(&im, f);
        fclose(f);
    }
    imatrix_free(&im);
    return 0;
}

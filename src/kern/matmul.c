#include "kern/matmul.h"

void matmul(float *out, const float *x, const Mat *w, int n) {
    const DTypeTraits *tr = dtype_traits(w->dtype);
    size_t rows = (size_t)w->rows, cols = (size_t)w->cols;
    for (size_t r = 0; r < rows; r++) {
        const void *row = mat_row(w, (int)r);
        for (size_t t = 0; t < (size_t)n; t++) out[t * rows + r] = tr->dot(row, x + t * cols, cols);
    }
}

void mat_get_row(float *out, const Mat *w, int r) {
    dtype_traits(w->dtype)->to_float(out, mat_row(w, r), (size_t)w->cols);
}

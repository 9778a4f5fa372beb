/* fuzz_safetensors — libFuzzer target: the safetensors header parser on
 * arbitrary bytes. st_parse must accept or refuse with an error line, never
 * read outside the buffer, leak or crash. Built by `make fuzz`; run by
 * tests/fuzz/run.sh.
 * An accepted file has no two tensors with one name and no two sharing
 * bytes; a refusal's error is a single line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "format/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const SafeTensors *st) {
    /* Every tensor's bytes lie inside the buffer (or its aligned copy) and
     * match its shape: touch both ends so that ASan checks. */
    volatile unsigned char sink = 0;
    for (int i = 0; i < st->n; i++) {
        const Tensor *t = &st->t[i];
        const unsigned char *p = t->data;
        if (t->nbytes) sink ^= p[0] ^ p[t->nbytes - 1];
        if (t->ndim < 0 || t->ndim > TENSOR_MAX_DIMS) __builtin_trap();
    }
    (void)sink;
    if (st->n > 2000) return;
    for (int i = 0; i < st->n; i++)
        for (int j = i + 1; j < st->n; j++) {
            const Tensor *a = &st->t[i], *b = &st->t[j];
            if (!strcmp(a->name, b->name)) __builtin_trap(); /* duplicate name */
            if (a->copy || b->copy || !a->nbytes || !b->nbytes) continue;
            const char *pa = a->data, *pb = b->data;
            if (pa < pb + b->nbytes && pb < pa + a->nbytes) __builtin_trap(); /* overlap */
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    SafeTensors st;
    memset(&st, 0, sizeof st);
    err_set("%s", "");
    if (st_parse(&st, data, size, "fuzz.safetensors") == 0) {
        check_accepted(&st);
    } else {
        const char *e = err_msg();
        if (e[0] == 0) __builtin_trap();                /* a refusal must say why */
        if (strchr(e, '\n')) __builtin_trap(); /* in one line */
    }
    st_close(&st);
    return 0;
}

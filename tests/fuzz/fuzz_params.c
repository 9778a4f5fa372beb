/* fuzz_params — libFuzzer target: params.json parsing and validation on
 * arbitrary bytes. config_parse must accept (with every value in range) or
 * refuse with an error line; never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Config c;
    err_set("%s", "");
    if (config_parse(&c, (const char *)data, size, "fuzz/params.json") == 0) {
        /* The invariants the rest of the engine relies on. */
        if (c.dim < 1 || c.n_layers < 1 || c.n_heads < 1 || c.n_kv_heads < 1 ||
            c.hidden_dim < 1 || c.n_vocab < 1 || c.head_dim < 2 || c.head_dim % 2 ||
            c.n_heads % c.n_kv_heads || !(c.rope_theta > 1) ||
            c.n_active > c.n_experts || (c.n_experts && c.n_active < 1) || !c.window)
            __builtin_trap();
        /* "norm_eps": 1e-50 must not become 0 as a float */
        if (!(c.norm_eps > 0)) __builtin_trap();
        for (int l = 0; l < c.n_layers; l++)
            if (c.window[l] < 0) __builtin_trap();
        config_free(&c);
    } else if (err_msg()[0] == 0) {
        __builtin_trap();
    }
    return 0;
}

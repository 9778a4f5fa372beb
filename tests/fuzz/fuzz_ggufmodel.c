/* fuzz_ggufmodel — libFuzzer target: a model and a tokenizer from arbitrary
 * GGUF bytes. Whatever gguf_parse accepts goes through ggufmodel_config, the
 * weight binding and tokenizer_from_gguf (then an encode and a decode): each
 * must load or refuse with an error line, never crash or leak. Built by
 * `make fuzz`; seeds: tests/fuzz/corpus/fuzz_gguf/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/ggufmodel.h"
#include "tok/tokgguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    GGUFFile f;
    memset(&f, 0, sizeof f);
    if (gguf_parse(&f, data, size, "fuzz") == 0) {
        Config c;
        if (ggufmodel_config(&c, &f) == 0) {
            Weights w;
            WeightSource src = weights_source_gguf(&f);
            weights_bind(&w, &c, &src);
            weights_free(&w, &c);
            config_free(&c);
        }
        Tokenizer t;
        if (tokenizer_from_gguf(&t, &f) == 0) {
            IntVec ids = {0};
            ByteBuf out = {0};
            if (tokenizer_encode(&t, "Hello, world! 123", 17, 1, &ids) == 0)
                tokenizer_decode_text(&t, ids.v, ids.n, &out);
            intvec_free(&ids);
            bytebuf_free(&out);
            tokenizer_free(&t);
        }
    }
    gguf_close(&f);
    return 0;
}

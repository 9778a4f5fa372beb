/* fuzz_json — libFuzzer target: base/json's parser and writer on arbitrary bytes.
 *
 * json_parse must accept or refuse with an error line; whatever it accepts,
 * json_dump writes (with and without JSON_ENSURE_ASCII) as JSON that parses
 * again and dumps to the same bytes: json.dumps(json.loads(s)) is a fixed
 * point, which mistral-common's tool-call round trips rely on. And the bytes
 * as a string: json_dump_str's output parses back to them (valid UTF-8).
 * Never crash or leak. Build as `make fuzz` does. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/json.h"
#include "base/utf8.h"
#include "base/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* dumps(loads(text)) == text for text = dumps(v). */
static void check_fixed_point(const Json *v, int flags) {
    ByteBuf b = {0}, b2 = {0};
    Arena a = {0};
    Json w;
    json_dump(&b, v, flags);
    if (json_parse(&w, &a, b.p, b.n, JSON_PY_MAX_DEPTH, NULL) != 0) __builtin_trap();
    json_dump(&b2, &w, flags);
    if (b.n != b2.n || memcmp(b.p, b2.p, b.n)) __builtin_trap();
    if (flags & JSON_ENSURE_ASCII)
        for (size_t i = 0; i < b.n; i++)
            if ((unsigned char)b.p[i] >= 0x7F) __builtin_trap();
    bytebuf_free(&b), bytebuf_free(&b2);
    arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    Arena a = {0};
    Json v;
    int fatal = -1;
    err_set("%s", "");
    if (json_parse(&v, &a, s, size, 64, &fatal) == 0) {
        if (fatal != 0) __builtin_trap();
        check_fixed_point(&v, 0);
        check_fixed_point(&v, JSON_ENSURE_ASCII);
    } else if (err_msg()[0] == 0 || (fatal != 0 && fatal != 1)) {
        __builtin_trap();
    }
    arena_free(&a);
    if (utf8_valid(s, size, NULL))
        for (int flags = 0; flags <= JSON_ENSURE_ASCII; flags++) {
            ByteBuf b = {0};
            Json w;
            json_dump_str(&b, s, size, flags);
            if (json_parse(&w, &a, b.p, b.n, 1, NULL) != 0 || w.type != JSON_STR || w.len != size ||
                memcmp(w.s, s, size))
                __builtin_trap();
            bytebuf_free(&b);
            arena_free(&a);
        }
    return 0;
}

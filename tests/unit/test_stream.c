/* test_stream — gen/stream.h: the released text is exactly the decoded
 * tokens (cut before the first stop text), however it is split, and never
 * shows half a UTF-8 character or the start of a stop text before it is
 * certain; tokenizer_decode_more continues a decode exactly. Random ids on
 * Mistral's real tokenizers (skipped where ../shared is absent). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/utf8.h"
#include "base/util.h"
#include "gen/stream.h"
#include "tok/tokfile.h"
#include "harness.h"

static unsigned long long rng = 88172645463325252ull;
static unsigned next(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

/* A random reply: mostly ids from a real text, some random ones (bytes,
 * controls, anything). */
static int random_ids(const Tokenizer *t, const IntVec *text, int *ids, int cap) {
    int n = 1 + (int)(next() % (unsigned)cap), at = text->n > n ? (int)(next() % (unsigned)(text->n - n)) : 0;
    for (int i = 0; i < n; i++)
        ids[i] = next() % 5 == 0 || text->n == 0 ? (int)(next() % (unsigned)t->n_vocab) : text->v[(at + i) % text->n];
    return n;
}

static void check_tokenizer(const char *path) {
    Tokenizer t;
    if (tokenizer_load(&t, path)) {
        EXPECT(0, "%s", err_msg());
        return;
    }
    const char *prose = "Once upon a time, there was a naïve café owner named Zoë 🙂 who said: \"3.14159!\"\n\tThe end.";
    IntVec text = {0};
    EXPECT(tokenizer_encode(&t, prose, strlen(prose), 0, &text) == 0, "%s", err_msg());
    int ids[96], cases = 0;
    for (int round = 0; round < 400; round++, cases++) {
        int n = random_ids(&t, &text, ids, 96);
        ByteBuf whole = {0}, want = {0}, more = {0};
        EXPECT(tokenizer_decode(&t, ids, n, &whole) == 0, "decode");
        /* decode_more continues wherever the text so far is non-empty */
        int k = (int)(next() % (unsigned)n);
        EXPECT(tokenizer_decode(&t, ids, k, &more) == 0, "decode");
        if (more.n) {
            EXPECT(tokenizer_decode_more(&t, ids + k, n - k, &more) == 0, "decode_more");
            EXPECTQ(more.n == whole.n && (!whole.n || !memcmp(more.p, whole.p, whole.n)), "%s: decode_more at %d of %d", path, k, n);
        }
        /* a stop text taken from the middle of the decoded bytes */
        char stop[8] = "";
        const char *stops[] = {stop};
        int n_stop = 0;
        if (whole.n > 8 && round % 2) {
            size_t at = next() % (whole.n - 4), len = 1 + next() % 3;
            memcpy(stop, whole.p + at, len), stop[len] = 0;
            n_stop = strlen(stop) > 0;
        }
        size_t cut = whole.n;
        if (n_stop) {
            for (size_t i = 0; i + strlen(stop) <= whole.n; i++)
                if (!memcmp(whole.p + i, stop, strlen(stop))) {
                    cut = i;
                    break;
                }
        }
        utf8_replace_invalid(&want, whole.p ? whole.p : "", cut);
        Stream s;
        stream_init(&s, &t, stops, n_stop);
        ByteBuf got = {0};
        int stopped = 0;
        for (int i = 0; i < n && !stopped; i++) {
            size_t before = got.n;
            stopped = stream_push(&s, ids[i], &got);
            EXPECTQ(stopped >= 0, "push");
            /* what is released is whole characters */
            EXPECTQ(utf8_valid(got.p ? got.p : "", got.n, NULL), "%s: released invalid UTF-8", path);
            (void)before;
        }
        EXPECTQ(stopped == (cut < whole.n), "%s: stopped %d, cut %zu of %zu (stop \"%s\")", path, stopped, cut, whole.n, stop);
        EXPECTQ(stream_finish(&s, &got) == 0, "finish");
        EXPECTQ(got.n == want.n && (!want.n || !memcmp(got.p, want.p, want.n)), "%s: streamed %zu bytes, want %zu (stop \"%s\")", path,
                got.n, want.n, stop);
        stream_free(&s);
        bytebuf_free(&whole), bytebuf_free(&want), bytebuf_free(&more), bytebuf_free(&got);
    }
    printf("test_stream: %s: %d random replies\n", path, cases);
    intvec_free(&text);
    tokenizer_free(&t);
}

int main(void) {
    const char *paths[] = {"../shared/models/stories260K/tokenizer.model", "../shared/tokenizers/mistral/tokenizer.model.v1",
                           "../shared/tokenizers/mistral/mistral_instruct_tokenizer_241114.model.v7",
                           "../shared/tokenizers/mistral/tekken_240718.json"};
    int any = 0;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], R_OK) == 0) check_tokenizer(paths[i]), any = 1;
    if (!any) printf("test_stream: ../shared absent: skipped\n");
    return test_done("test_stream");
}

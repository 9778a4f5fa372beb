/* stream — UTF-8-safe, stop-text-aware streaming of generated text. */
#include "gen/stream.h"

#include <string.h>

#include "base/utf8.h"

void stream_init(Stream *s, const Tokenizer *tok, const char *const *stops, int n_stop) {
    memset(s, 0, sizeof *s);
    s->tok = tok, s->stops = stops, s->n_stop = n_stop;
}

void stream_free(Stream *s) {
    intvec_free(&s->ids);
    bytebuf_free(&s->text);
    memset(s, 0, sizeof *s);
}

/* The earliest stop text in text[from..n): its offset, or n. */
static size_t find_stop(const Stream *s, size_t from) {
    size_t best = s->text.n;
    for (int i = 0; i < s->n_stop; i++) {
        size_t len = strlen(s->stops[i]);
        for (size_t at = from; len && at + len <= best; at++)
            if (!memcmp(s->text.p + at, s->stops[i], len)) {
                best = at;
                break;
            }
    }
    return best;
}

/* Bytes at the end of the text that are the start of some stop text. */
static size_t stop_prefix_tail(const Stream *s) {
    size_t hold = 0;
    for (int i = 0; i < s->n_stop; i++) {
        size_t len = strlen(s->stops[i]);
        for (size_t k = len ? len - 1 : 0; k > hold; k--)
            if (k <= s->text.n && !memcmp(s->text.p + s->text.n - k, s->stops[i], k)) {
                hold = k;
                break;
            }
    }
    return hold;
}

static void release(Stream *s, size_t end, ByteBuf *out) {
    if (end <= s->sent) return;
    utf8_replace_invalid(out, s->text.p + s->sent, end - s->sent);
    s->sent = end;
}

/* Releases what is now certain (everything when final). Once the text has
 * started, each push decodes only its own token (tokenizer_decode_more);
 * before that, the few ids so far are decoded whole (a leading space). */
static int flush(Stream *s, int final, ByteBuf *out) {
    if (s->stopped) return 1;
    if (s->text.n == 0) { /* the text has not started: the whole decode (leading space) */
        if (tokenizer_decode(s->tok, s->ids.v, s->ids.n, &s->text)) return -1;
    } else if (!final && tokenizer_decode_more(s->tok, s->ids.v + s->ids.n - 1, 1, &s->text)) {
        return -1;
    }
    size_t longest = 0;
    for (int i = 0; i < s->n_stop; i++)
        if (strlen(s->stops[i]) > longest) longest = strlen(s->stops[i]);
    /* a stop text can only newly end past what was released */
    size_t from = s->sent > longest ? s->sent - longest : 0, hit = find_stop(s, from);
    if (hit < s->text.n) {
        release(s, hit, out);
        s->stopped = 1;
        return 1;
    }
    size_t end = s->text.n;
    if (!final) {
        end -= stop_prefix_tail(s);
        end = utf8_complete_prefix(s->text.p ? s->text.p : "", end);
    }
    release(s, end, out);
    return 0;
}

int stream_push(Stream *s, int token, ByteBuf *out) {
    if (s->stopped) return 1;
    intvec_push(&s->ids, token);
    return flush(s, 0, out);
}

int stream_finish(Stream *s, ByteBuf *out) { return flush(s, 1, out) < 0 ? -1 : 0; }

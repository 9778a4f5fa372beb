/* utf8 — validating and measuring UTF-8. */
#ifndef BASE_UTF8_H
#define BASE_UTF8_H

#include <stddef.h>

#include "base/vec.h"

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 when the
 * bytes there are not one (overlong forms, surrogates, > U+10FFFF, truncated). */
int utf8_seq_len(const unsigned char *s, size_t avail);
/* 1 when s[0..n) is entirely valid UTF-8; otherwise 0 and *bad = the offset
 * of the first invalid byte (bad may be NULL). */
int utf8_valid(const char *s, size_t n, size_t *bad);
/* Length of the longest prefix of s[0..n) that does not end inside an
 * incomplete (but so far valid) sequence: what a stream may print now. */
size_t utf8_complete_prefix(const char *s, size_t n);

/* UTF-8's decoder (RFC 3629: no overlong forms, no surrogates, up to
 * U+10FFFF) as a DFA of 8 states, 0 a character boundary: the state after
 * byte b, or -1 where b cannot come. */
int utf8_next(int state, int b);

/* Writes code point cp (< 0x110000) as UTF-8 to out[0..4); returns the
 * byte count (1 to 4). */
int utf8_encode(unsigned cp, unsigned char *out);
/* Appends code point cp (< 0x110000) to out as UTF-8 (1 to 4 bytes). */
void utf8_put(ByteBuf *out, unsigned cp);

/* Appends s[0..n) to out with every maximal invalid subsequence replaced by
 * U+FFFD, as Python's bytes.decode("utf-8", "replace") does. */
void utf8_replace_invalid(ByteBuf *out, const char *s, size_t n);

#endif

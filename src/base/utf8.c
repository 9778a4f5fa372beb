#include "base/utf8.h"

int utf8_seq_len(const unsigned char *s, size_t avail) {
    if (avail == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int len;
    unsigned lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c == 0xe0) len = 3, lo = 0xa0;
    else if (c >= 0xe1 && c <= 0xec) len = 3;
    else if (c == 0xed) len = 3, hi = 0x9f; /* no surrogates */
    else if (c >= 0xee && c <= 0xef) len = 3;
    else if (c == 0xf0) len = 4, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3) len = 4;
    else if (c == 0xf4) len = 4, hi = 0x8f;
    else return 0;
    if (avail < (size_t)len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

int utf8_valid(const char *s, size_t n, size_t *bad) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        int k = utf8_seq_len(p + i, n - i);
        if (!k) {
            if (bad) *bad = i;
            return 0;
        }
        i += (size_t)k;
    }
    return 1;
}

size_t utf8_complete_prefix(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    /* look back at most 3 bytes for a lead byte whose sequence is cut off */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned c = p[n - back];
        if ((c & 0xc0) == 0x80) continue; /* continuation: keep looking */
        int need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        return need > (int)back ? n - back : n;
    }
    return n;
}

/* Bytes of the longest prefix of an ill-formed sequence at s that could
 * start a valid one (>= 1): Unicode's "maximal subpart", replaced as one. */
static size_t maximal_subpart(const unsigned char *s, size_t avail) {
    unsigned c = s[0];
    int len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c == 0xe0) len = 3, lo = 0xa0;
    else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) len = 3;
    else if (c == 0xed) len = 3, hi = 0x9f;
    else if (c == 0xf0) len = 4, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3) len = 4;
    else if (c == 0xf4) len = 4, hi = 0x8f;
    else return 1;
    size_t i = 1;
    if (i < avail && s[i] >= lo && s[i] <= hi) i++;
    else return 1;
    while (i < (size_t)len && i < avail && (s[i] & 0xc0) == 0x80) i++;
    return i;
}

int utf8_encode(unsigned cp, unsigned char *out) {
    if (cp < 0x80) return out[0] = (unsigned char)cp, 1;
    if (cp < 0x800) return out[0] = (unsigned char)(0xC0 | cp >> 6), out[1] = (unsigned char)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12), out[1] = (unsigned char)(0x80 | (cp >> 6 & 63));
        out[2] = (unsigned char)(0x80 | (cp & 63));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18), out[1] = (unsigned char)(0x80 | (cp >> 12 & 63));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 63)), out[3] = (unsigned char)(0x80 | (cp & 63));
    return 4;
}

void utf8_put(ByteBuf *out, unsigned cp) {
    unsigned char u[4];
    bytebuf_push(out, u, (size_t)utf8_encode(cp, u));
}

void utf8_replace_invalid(ByteBuf *out, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        int k = utf8_seq_len(p + i, n - i);
        if (k) {
            bytebuf_push(out, p + i, (size_t)k);
            i += (size_t)k;
        } else {
            bytebuf_push(out, "\xef\xbf\xbd", 3);
            i += maximal_subpart(p + i, n - i);
        }
    }
}

int utf8_next(int u, int b) {
    /* states: 0 boundary; 1, 2, 3 continuation bytes to come (80-BF); 4 after
     * E0 (A0-BF next), 5 after ED (80-9F), 6 after F0 (90-BF), 7 after F4 (80-8F) */
    switch (u) {
    case 0:
        if (b < 0x80) return 0;
        if (b >= 0xC2 && b <= 0xDF) return 1;
        if (b == 0xE0) return 4;
        if (b == 0xED) return 5;
        if (b >= 0xE1 && b <= 0xEF) return 2;
        if (b == 0xF0) return 6;
        if (b == 0xF4) return 7;
        if (b >= 0xF1 && b <= 0xF3) return 3;
        return -1;
    case 1: case 2: case 3: return b >= 0x80 && b <= 0xBF ? u - 1 : -1;
    case 4: return b >= 0xA0 && b <= 0xBF ? 1 : -1;
    case 5: return b >= 0x80 && b <= 0x9F ? 1 : -1;
    case 6: return b >= 0x90 && b <= 0xBF ? 2 : -1;
    case 7: return b >= 0x80 && b <= 0x8F ? 2 : -1;
    }
    return -1;
}

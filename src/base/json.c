/* json — Python's json.loads and json.dumps. The reference is CPython's
 * Lib/json/decoder.py and scanner.py (py_scanstring, py_make_scanner),
 * Lib/json/encoder.py (py_encode_basestring, py_encode_basestring_ascii) and
 * float.__repr__ (Python/pystrtod.c, repr mode 'r'). */
#include "base/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"

/* ------------------------------------------------------------ json.loads -- */

typedef struct {
    const char *s, *start, *end;
    Arena *a;
    int depth, max_depth;
    int fatal; /* an error Python raises as something other than JSONDecodeError */
} JParser;

#define PY_INT_MAX_DIGITS 4300 /* sys.int_info.default_max_str_digits */

static int jp_fail(JParser *p, const char *what) {
    return err_set("%s at byte %td", what, p->s - p->start);
}

static int jp_fatal(JParser *p, const char *what) {
    p->fatal = 1;
    return err_set("%s at byte %td", what, p->s - p->start);
}

static void jp_ws(JParser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static int jp_lit(JParser *p, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, lit, n)) return 0;
    p->s += n;
    return 1;
}

static int hex4(const char *s, const char *end) {
    if (end - s < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A string at p->s (the opening quote); strict, as json.loads: no raw
 * control characters. The input is valid UTF-8 (json_parse checked). */
static int jp_string(JParser *p, Json *v) {
    ByteBuf b = {0};
    bytebuf_push(&b, "", 0);
    p->s++;
    for (;;) {
        const char *run = p->s;
        while (p->s < p->end && *p->s != '"' && *p->s != '\\' && (unsigned char)*p->s >= 0x20) p->s++;
        bytebuf_push(&b, run, (size_t)(p->s - run));
        if (p->s >= p->end) goto unterminated;
        char c = *p->s;
        if (c == '"') break;
        if (c != '\\') {
            jp_fail(p, "invalid control character in a string");
            goto fail;
        }
        if (++p->s >= p->end) goto unterminated;
        const char *esc = "\"\\/bfnrt", *val = "\"\\/\b\f\n\r\t", *hit = strchr(esc, *p->s);
        if (*p->s && hit) {
            bytebuf_putc(&b, val[hit - esc]);
            p->s++;
            continue;
        }
        if (*p->s != 'u') {
            jp_fail(p, "invalid escape in a string");
            goto fail;
        }
        int cp = hex4(p->s + 1, p->end);
        if (cp < 0) {
            jp_fail(p, "invalid \\u escape");
            goto fail;
        }
        p->s += 5;
        if (cp >= 0xD800 && cp <= 0xDBFF && p->end - p->s >= 6 && p->s[0] == '\\' && p->s[1] == 'u') {
            int lo = hex4(p->s + 2, p->end);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p->s += 6;
            }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            /* json.loads accepts it, but no tokenizer can encode the result */
            jp_fatal(p, "a lone surrogate (\\u escape) cannot be encoded");
            goto fail;
        }
        utf8_put(&b, (unsigned)cp);
    }
    p->s++;
    v->type = JSON_STR;
    v->len = b.n;
    v->s = arena_strndup(p->a, b.p, b.n);
    bytebuf_free(&b);
    return 0;
unterminated:
    jp_fail(p, "unterminated string");
fail:
    bytebuf_free(&b);
    return -1;
}

static int is_digit(const JParser *p, const char *s) { return s < p->end && *s >= '0' && *s <= '9'; }

/* A number as Python's scanner reads it: -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?,
 * an int unless it has a fraction or an exponent. */
static int jp_number(JParser *p, Json *v) {
    const char *st = p->s;
    if (*p->s == '-') p->s++;
    if (!is_digit(p, p->s)) return jp_fail(p, "invalid value");
    if (*p->s == '0') p->s++;
    else
        while (is_digit(p, p->s)) p->s++;
    int is_float = 0;
    if (p->s < p->end && *p->s == '.' && is_digit(p, p->s + 1)) {
        p->s++;
        while (is_digit(p, p->s)) p->s++;
        is_float = 1;
    }
    if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
        const char *e = p->s + 1;
        if (e < p->end && (*e == '+' || *e == '-')) e++;
        if (is_digit(p, e)) {
            while (is_digit(p, e)) e++;
            p->s = e;
            is_float = 1;
        }
    }
    size_t n = (size_t)(p->s - st);
    if (is_float) {
        char *tmp = arena_strndup(p->a, st, n);
        v->type = JSON_FLOAT;
        v->num = strtod(tmp, NULL); /* correctly rounded, overflow to inf: as float() */
        return 0;
    }
    if (n - (*st == '-') > PY_INT_MAX_DIGITS) return jp_fatal(p, "an integer of more than 4300 digits");
    if (n == 2 && st[0] == '-' && st[1] == '0') st++, n--; /* int("-0") is 0 */
    v->type = JSON_INT;
    v->s = arena_strndup(p->a, st, n);
    v->len = n;
    return 0;
}

static int jp_value(JParser *p, Json *v);

/* An array or object at p->s; items gathered in a growing buffer first. */
static int jp_container(JParser *p, Json *v, int is_obj) {
    if (++p->depth > p->max_depth) return jp_fatal(p, "JSON nested too deeply");
    Json *item = NULL, *key = NULL;
    int n = 0, cap = 0;
    char close = is_obj ? '}' : ']';
    p->s++;
    jp_ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        goto done;
    }
    for (;;) {
        Json k = {0}, x = {0};
        jp_ws(p);
        if (is_obj) {
            if (p->s >= p->end || *p->s != '"') {
                jp_fail(p, "expected a property name in double quotes");
                goto fail;
            }
            if (jp_string(p, &k)) goto fail;
            jp_ws(p);
            if (p->s >= p->end || *p->s != ':') {
                jp_fail(p, "expected ':'");
                goto fail;
            }
            p->s++;
        }
        if (jp_value(p, &x)) goto fail;
        int at = n;
        if (is_obj) /* dict semantics: a repeated key keeps its place, takes the last value */
            for (int i = 0; i < n; i++)
                if (key[i].len == k.len && !memcmp(key[i].s, k.s, k.len)) at = i;
        if (at == n) {
            if (n == cap) {
                cap = cap ? 2 * cap : 8;
                item = xrealloc(item, (size_t)cap * sizeof *item);
                if (is_obj) key = xrealloc(key, (size_t)cap * sizeof *key);
            }
            n++;
        }
        item[at] = x;
        if (is_obj) key[at] = k;
        jp_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == close) {
            p->s++;
            break;
        }
        jp_fail(p, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        goto fail;
    }
done:
    v->type = is_obj ? JSON_OBJ : JSON_ARR;
    v->n = n;
    if (n) {
        v->item = memcpy(arena_alloc(p->a, (size_t)n * sizeof *item), item, (size_t)n * sizeof *item);
        if (is_obj) v->key = memcpy(arena_alloc(p->a, (size_t)n * sizeof *key), key, (size_t)n * sizeof *key);
    }
    free(item), free(key);
    p->depth--;
    return 0;
fail:
    free(item), free(key);
    return -1;
}

static int jp_value(JParser *p, Json *v) {
    jp_ws(p);
    if (p->s >= p->end) return jp_fail(p, "expected a value");
    memset(v, 0, sizeof *v);
    switch (*p->s) {
    case '{': return jp_container(p, v, 1);
    case '[': return jp_container(p, v, 0);
    case '"': return jp_string(p, v);
    }
    if (jp_lit(p, "null")) v->type = JSON_NULL;
    else if (jp_lit(p, "true")) v->type = JSON_TRUE;
    else if (jp_lit(p, "false")) v->type = JSON_FALSE;
    else if (jp_lit(p, "NaN")) v->type = JSON_FLOAT, v->num = NAN;
    else if (jp_lit(p, "Infinity")) v->type = JSON_FLOAT, v->num = INFINITY;
    else if (jp_lit(p, "-Infinity")) v->type = JSON_FLOAT, v->num = -INFINITY;
    else return jp_number(p, v);
    return 0;
}

int json_parse(Json *v, Arena *a, const char *s, size_t n, int max_depth, int *fatal) {
    JParser p = {s, s, s + n, a, 0, max_depth, 0};
    size_t bad;
    int rc;
    if (!utf8_valid(s, n, &bad)) { /* json.loads(bytes) raises UnicodeDecodeError */
        p.s = s + bad;
        rc = jp_fatal(&p, "not valid UTF-8");
    } else {
        rc = jp_value(&p, v);
        if (!rc) {
            jp_ws(&p);
            if (p.s != p.end) rc = jp_fail(&p, "extra data");
        }
    }
    if (fatal) *fatal = p.fatal;
    return rc;
}

const Json *json_get(const Json *o, const char *key) {
    if (!o || o->type != JSON_OBJ) return NULL;
    size_t n = strlen(key);
    for (int i = 0; i < o->n; i++)
        if (o->key[i].len == n && !memcmp(o->key[i].s, key, n)) return &o->item[i];
    return NULL;
}

int json_is_null(const Json *v) { return !v || v->type == JSON_NULL; }

/* ------------------------------------------------------------ json.dumps -- */

/* Hand-written rather than printf'd: "%.17g" is not repr (it writes 0.1 as
 * 0.10000000000000001, 1e15 as 1e+15 and 100.0 as 100). The shortest
 * "%.*e" that reads back gives repr's digits; the layout is repr's. */
void json_dump_float(ByteBuf *b, double x) {
    if (isnan(x)) return bytebuf_push(b, "NaN", 3);
    if (isinf(x)) return x > 0 ? bytebuf_push(b, "Infinity", 8) : bytebuf_push(b, "-Infinity", 9);
    if (x == 0) return signbit(x) ? bytebuf_push(b, "-0.0", 4) : bytebuf_push(b, "0.0", 3);
    char e[40], dig[24], out[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, x);
        if (strtod(e, NULL) == x) break;
    }
    const char *q = e;
    int o = 0, nd = 0;
    if (*q == '-') out[o++] = '-', q++;
    for (; *q != 'e'; q++)
        if (*q != '.') dig[nd++] = *q;
    while (nd > 1 && dig[nd - 1] == '0') nd--;
    int decpt = atoi(q + 1) + 1; /* x = 0.d1d2... * 10^decpt */
    if (decpt <= -4 || decpt > 16) {
        out[o++] = dig[0];
        if (nd > 1) out[o++] = '.', memcpy(out + o, dig + 1, (size_t)nd - 1), o += nd - 1;
        o += snprintf(out + o, sizeof out - (size_t)o, "e%c%02d", decpt - 1 < 0 ? '-' : '+', abs(decpt - 1));
    } else if (decpt <= 0) {
        out[o++] = '0', out[o++] = '.';
        for (int i = 0; i < -decpt; i++) out[o++] = '0';
        memcpy(out + o, dig, (size_t)nd), o += nd;
    } else {
        for (int i = 0; i < decpt; i++) out[o++] = i < nd ? dig[i] : '0';
        out[o++] = '.';
        if (decpt >= nd) out[o++] = '0';
        else memcpy(out + o, dig + decpt, (size_t)(nd - decpt)), o += nd - decpt;
    }
    bytebuf_push(b, out, (size_t)o);
}

/* The code point of the valid UTF-8 sequence s[0..k). */
static unsigned utf8_cp(const unsigned char *s, int k) {
    static const unsigned lead_mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    unsigned cp = s[0] & lead_mask[k];
    for (int i = 1; i < k; i++) cp = cp << 6 | (s[i] & 63);
    return cp;
}

/* \uXXXX for u <= 0xFFFF. */
static void put_u_escape(ByteBuf *b, unsigned u) {
    char e[12];
    snprintf(e, sizeof e, "\\u%04x", u);
    bytebuf_push(b, e, 6);
}

/* py_encode_basestring (ensure_ascii=False) escapes '"', '\\' and what is
 * below ' '; py_encode_basestring_ascii also everything above '~' (DEL
 * included), a code point past U+FFFF as its UTF-16 surrogate pair. */
void json_dump_str(ByteBuf *b, const char *s, size_t n, int flags) {
    const unsigned char *p = (const unsigned char *)s;
    bytebuf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (e) bytebuf_push(b, e, 2);
        else if (c < 0x20) put_u_escape(b, c);
        else if (c < 0x7F || !(flags & JSON_ENSURE_ASCII)) bytebuf_putc(b, (char)c);
        else {
            int k = utf8_seq_len(p + i, n - i);
            unsigned cp = k ? utf8_cp(p + i, k) : 0xFFFD;
            if (cp >= 0x10000) put_u_escape(b, 0xD800 + ((cp - 0x10000) >> 10)), cp = 0xDC00 + (cp & 0x3FF);
            put_u_escape(b, cp);
            if (k) i += (size_t)k - 1;
        }
    }
    bytebuf_putc(b, '"');
}

void json_dump(ByteBuf *b, const Json *v, int flags) {
    switch (v->type) {
    case JSON_NULL: return bytebuf_push(b, "null", 4);
    case JSON_TRUE: return bytebuf_push(b, "true", 4);
    case JSON_FALSE: return bytebuf_push(b, "false", 5);
    case JSON_INT: return bytebuf_push(b, v->s, v->len);
    case JSON_FLOAT: return json_dump_float(b, v->num);
    case JSON_STR: return json_dump_str(b, v->s, v->len, flags);
    case JSON_ARR:
    case JSON_OBJ:
        bytebuf_putc(b, v->type == JSON_ARR ? '[' : '{');
        for (int i = 0; i < v->n; i++) {
            if (i) bytebuf_push(b, ", ", 2);
            if (v->type == JSON_OBJ) json_dump_str(b, v->key[i].s, v->key[i].len, flags), bytebuf_push(b, ": ", 2);
            json_dump(b, &v->item[i], flags);
        }
        bytebuf_putc(b, v->type == JSON_ARR ? ']' : '}');
        return;
    }
}

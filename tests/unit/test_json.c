/* test_json — base/json against Python's json module.
 *
 * Every expected string below was printed by CPython 3 (json.dumps,
 * json.loads): floats as repr writes them, strings with ensure_ascii on and
 * off, dict semantics for repeated keys, and the errors json.loads raises
 * (JSONDecodeError, or something else: the "fatal" ones). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "harness.h"

/* ----------------------------------------------------------- the writer -- */

static void check_float(double x, const char *want) {
    ByteBuf b = {0};
    json_dump_float(&b, x);
    EXPECT(b.p && !strcmp(b.p, want), "%.17g: got %s, want %s", x, b.p ? b.p : "(nothing)", want);
    bytebuf_free(&b);
}

static void test_floats(void) {
    check_float(1e16, "1e+16"); /* repr switches to exponents at 1e16 ... */
    check_float(1e15, "1000000000000000.0");
    check_float(9007199254740993.0, "9007199254740992.0");
    check_float(1e22, "1e+22");
    check_float(1e-5, "1e-05"); /* ... and below 1e-4 */
    check_float(0.0001, "0.0001");
    check_float(1.23e-18, "1.23e-18");
    check_float(2.5e-7, "2.5e-07");
    check_float(0.1, "0.1");
    check_float(0.30000000000000004, "0.30000000000000004");
    check_float(1.0 / 3, "0.3333333333333333");
    check_float(100.0, "100.0");
    check_float(-123456789.125, "-123456789.125");
    check_float(0.0, "0.0");
    check_float(-0.0, "-0.0");
    check_float(1.7976931348623157e308, "1.7976931348623157e+308");
    check_float(5e-324, "5e-324");
    check_float(NAN, "NaN");
    check_float(INFINITY, "Infinity");
    check_float(-INFINITY, "-Infinity");
    /* any finite double: what is written reads back as the same double */
    uint64_t s = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 20000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double x;
        memcpy(&x, &s, sizeof x);
        if (!isfinite(x)) continue;
        ByteBuf b = {0};
        json_dump_float(&b, x);
        EXPECTQ(strtod(b.p, NULL) == x || (x == 0 && strtod(b.p, NULL) == 0), "%.17g written as %s", x, b.p);
        bytebuf_free(&b);
    }
}

static void check_str(const char *s, size_t n, int flags, const char *want) {
    ByteBuf b = {0};
    json_dump_str(&b, s, n, flags);
    EXPECT(b.p && !strcmp(b.p, want), "flags %d: got %s, want %s", flags, b.p ? b.p : "(nothing)", want);
    bytebuf_free(&b);
}

static void test_strings(void) {
    /* "é\n\x01😀/\"\\\x7f\x00\u2028" */
    static const char s[] = "\xc3\xa9\n\x01\xf0\x9f\x98\x80/\"\\\x7f\0\xe2\x80\xa8";
    size_t n = sizeof s - 1;
    /* ensure_ascii=False (what mistral-common uses): non-ASCII and DEL as they are */
    check_str(s, n, 0, "\"\xc3\xa9\\n\\u0001\xf0\x9f\x98\x80/\\\"\\\\\x7f\\u0000\xe2\x80\xa8\"");
    /* ensure_ascii=True: \uXXXX in lowercase hex, a surrogate pair past U+FFFF */
    check_str(s, n, JSON_ENSURE_ASCII, "\"\\u00e9\\n\\u0001\\ud83d\\ude00/\\\"\\\\\\u007f\\u0000\\u2028\"");
    check_str("\b\f\r\t\x1f", 5, JSON_ENSURE_ASCII, "\"\\b\\f\\r\\t\\u001f\"");
    check_str("", 0, 0, "\"\"");
    check_str("\xf4\x8f\xbf\xbf", 4, JSON_ENSURE_ASCII, "\"\\udbff\\udfff\""); /* U+10FFFF */
    /* bytes no Python string holds: U+FFFD when escaping, kept otherwise */
    check_str("a\xff" "b\xe2\x80", 5, JSON_ENSURE_ASCII, "\"a\\ufffdb\\ufffd\\ufffd\"");
    check_str("a\xff", 2, 0, "\"a\xff\"");
}

/* json.dumps(json.loads(in), ensure_ascii=...) */
static void check_redump(const char *in, int flags, const char *want) {
    Arena a = {0};
    Json v;
    int fatal = -1;
    int rc = json_parse(&v, &a, in, strlen(in), JSON_PY_MAX_DEPTH, &fatal);
    EXPECT(rc == 0 && fatal == 0, "%s: %s", in, err_msg());
    if (rc == 0) {
        ByteBuf b = {0};
        json_dump(&b, &v, flags);
        EXPECT(!strcmp(b.p, want), "%s: got %s, want %s", in, b.p, want);
        bytebuf_free(&b);
    }
    arena_free(&a);
}

static void test_values(void) {
    /* nested objects; a repeated key keeps its first place and takes its last value */
    check_redump("{\"b\": 1, \"a\": {\"z\": [1, 2.50, {\"y\": null}], \"x\": true}, \"b\": 3}", 0,
                 "{\"b\": 3, \"a\": {\"z\": [1, 2.5, {\"y\": null}], \"x\": true}}");
    /* compact in, ", " and ": " out; ints kept exact, "-0" is int 0, an exponent makes a float */
    check_redump("{\"k\":[-0,-0.0,1E5,12345678901234567890123,\"\\ud83d\\ude00\",{},[],false]}", 0,
                 "{\"k\": [0, -0.0, 100000.0, 12345678901234567890123, \"\xf0\x9f\x98\x80\", {}, [], false]}");
    check_redump("[\"\\ud83d\\ude00\", \"\xc3\xa9\"]", JSON_ENSURE_ASCII, "[\"\\ud83d\\ude00\", \"\\u00e9\"]");
    check_redump("{\"\xc3\xa9\": 1}", JSON_ENSURE_ASCII, "{\"\\u00e9\": 1}"); /* keys escaped too */
    check_redump(" [NaN, Infinity, -Infinity, 1e400] \r\n", 0, "[NaN, Infinity, -Infinity, Infinity]");
    check_redump("\"a\\u0000b\\/\"", 0, "\"a\\u0000b/\"");

    Arena a = {0};
    Json v;
    const char *doc = "{\"s\": \"a\\u0000b\", \"n\": null, \"i\": -42, \"s\": \"x\"}";
    EXPECT(json_parse(&v, &a, doc, strlen(doc), 8, NULL) == 0, "%s", err_msg());
    const Json *s = json_get(&v, "s"), *i = json_get(&v, "i");
    EXPECT(v.type == JSON_OBJ && v.n == 3, "three keys");
    EXPECT(s && s->type == JSON_STR && s->len == 1 && !strcmp(s->s, "x"), "last value of \"s\"");
    EXPECT(i && i->type == JSON_INT && i->len == 3 && !memcmp(i->s, "-42", 3), "int digits");
    EXPECT(json_is_null(json_get(&v, "n")) && json_is_null(json_get(&v, "missing")), "null and absent");
    EXPECT(!json_is_null(i) && !json_get(i, "s") && !json_get(NULL, "s"), "json_get on a non-object");
    arena_free(&a);
    arena_free(&a); /* freed twice: harmless */
}

/* ----------------------------------------------------------- the parser -- */

/* json.loads(in) fails; fatal: Python raises something else than
 * JSONDecodeError; msg: a part of the error line. */
static void check_bad(const char *in, size_t n, int max_depth, int want_fatal, const char *msg) {
    Arena a = {0};
    Json v;
    int fatal = -1;
    err_set("%s", "");
    EXPECT(json_parse(&v, &a, in, n, max_depth, &fatal) == -1, "%.40s: accepted", in);
    EXPECT(fatal == want_fatal, "%.40s: fatal %d, want %d", in, fatal, want_fatal);
    EXPECT(strstr(err_msg(), msg), "%.40s: error \"%s\", want \"%s\"", in, err_msg(), msg);
    arena_free(&a);
}

#define BAD(lit, fatal, msg) check_bad(lit, sizeof lit - 1, 8, fatal, msg)

static void test_errors(void) {
    BAD("", 0, "expected a value at byte 0");
    BAD("  ", 0, "expected a value at byte 2");
    BAD("[1,]", 0, "invalid value at byte 3");
    BAD("[1 2]", 0, "expected ',' or ']' at byte 3");
    BAD("{\"a\" 1}", 0, "expected ':' at byte 5");
    BAD("{'a': 1}", 0, "expected a property name in double quotes at byte 1");
    BAD("{\"a\": 1,}", 0, "expected a property name");
    BAD("{\"a\": 1 \"b\": 2}", 0, "expected ',' or '}'");
    BAD("\"abc", 0, "unterminated string");
    BAD("\"abc\\", 0, "unterminated string");
    BAD("\"a\x01\"", 0, "invalid control character in a string at byte 2");
    BAD("\"\\x\"", 0, "invalid escape in a string at byte 2");
    BAD("\"\\u12\"", 0, "invalid \\u escape");
    BAD("\"\\u12g4\"", 0, "invalid \\u escape");
    BAD("1 2", 0, "extra data at byte 2");
    BAD("01", 0, "extra data at byte 1");
    BAD("1.", 0, "extra data at byte 1");
    BAD("-", 0, "invalid value at byte 1");
    BAD("tru", 0, "invalid value at byte 0");
    BAD("nan", 0, "invalid value");
    BAD("// c\n1", 0, "invalid value");
    /* what Python raises as something else than JSONDecodeError */
    BAD("\"\\ud800\"", 1, "lone surrogate");
    BAD("\"\\udc00\\ud800\"", 1, "lone surrogate");
    BAD("[\"\\ud83d x\"]", 1, "lone surrogate");
    BAD("\"\xff\"", 1, "not valid UTF-8 at byte 1");
    BAD("\"\xed\xa0\x80\"", 1, "not valid UTF-8 at byte 1"); /* a surrogate in UTF-8 */
    BAD("[[[[[[[[[1]]]]]]]]]", 1, "nested too deeply");
    BAD("{\"a\": [{\"b\": [[[[[[1]]]]]]}]}", 1, "nested too deeply");

    Arena a = {0};
    Json v;
    EXPECT(json_parse(&v, &a, "[[[[[[[[1]]]]]]]]", 17, 8, NULL) == 0, "8 levels: %s", err_msg());
    /* Python's int limit: 4300 digits, the sign not counted */
    char big[4304];
    memset(big, '7', sizeof big);
    big[0] = '-';
    EXPECT(json_parse(&v, &a, big, 4301, 8, NULL) == 0 && v.type == JSON_INT && v.len == 4301, "4300 digits");
    EXPECT(json_parse(&v, &a, big + 1, 4300, 8, NULL) == 0, "4300 digits");
    arena_free(&a);
    check_bad(big, 4302, 8, 1, "an integer of more than 4300 digits");
    check_bad(big + 1, 4301, 8, 1, "an integer of more than 4300 digits");
}

int main(void) {
    test_floats();
    test_strings();
    test_values();
    test_errors();
    return test_done("test_json");
}

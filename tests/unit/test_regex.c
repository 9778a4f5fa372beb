/* test_regex — regular expressions compiled into grammars (grammar/regex.h):
 * each feature's accepted and rejected texts, JSON spelling, unanchored
 * search, the errors, and a differential check against PCRE2 (random texts
 * over a small alphabet must get the same answer; random sentences of the
 * grammar must match PCRE2's pattern). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "grammar/grammar.h"
#include "grammar/regex.h"
#include "grammar/sample.h"
#include "harness.h"

static int rec(const Grammar *g, const char *s) { return grammar_recognize_bytes(g, s, strlen(s)); }

/* pattern: every text of yes matches the whole pattern, none of no does. */
static void check(const char *re, const char *const *yes, const char *const *no) {
    Grammar g;
    grammar_init(&g);
    if (regex_compile(&g, re, strlen(re))) {
        EXPECT(0, "/%s/: %s", re, err_msg());
        grammar_free(&g);
        return;
    }
    for (; yes && *yes; yes++) EXPECT(rec(&g, *yes) == GRAMMAR_MATCH, "/%s/ should match '%s'", re, *yes);
    for (; no && *no; no++) EXPECT(rec(&g, *no) != GRAMMAR_MATCH, "/%s/ should not match '%s'", re, *no);
    grammar_free(&g);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_features(void) {
    check("abc", L("abc"), L("", "ab", "abcd", "xabc"));
    check("a|bc|", L("a", "bc", ""), L("b", "abc"));
    check("a*b+c?", L("b", "aabbb", "abc", "bc"), L("", "ac", "abcc"));
    check("(ab){2,3}", L("abab", "ababab"), L("ab", "abababab", "aba"));
    check("x{3}", L("xxx"), L("xx", "xxxx"));
    check("x{2,}", L("xx", "xxxxxxx"), L("x"));
    check("x{0,2}?y+?", L("y", "xxy"), L("xxxy"));
    check("(?:a|b)(?<n>c)", L("ac", "bc"), L("c", "abc"));
    check("[a-c0-2_]+", L("a0_", "cc2"), L("d", "3", ""));
    check("[^a-c]", L("d", "\xc3\xa9", "\n"), L("a", "b", "dd"));
    check("a|[]", L("a"), L("", "b"));
    check("[^]", L("a", "\n"), L(""));
    check(".", L("a", "\xe2\x82\xac", "\xf0\x9f\x98\x80"), L("\n", "\r", "\xe2\x80\xa8", ""));
    check("\\d\\w\\s", L("1a ", "9_\t", "0Z\xe3\x80\x80"), L("a1 ", "1a", "\xd9\xa1" "a "));
    check("\\D\\W\\S", L("a-x", "\xc3\xa9\xc3\xa9\xc3\xa9"), L("1-x", "aax", "a- "));
    check("[\\d.-]+", L("1.5-2"), L("a"));
    check("[\\w-z]", L("-", "a", "z"), L("+"));
    check("\\.\\*\\/\\\\\\-\\(", L(".*/\\-("), L("a*/\\-("));
    check("\\x41\\u00e9\\u{1F600}\\uD83D\\uDE00", L("A\xc3\xa9\xf0\x9f\x98\x80\xf0\x9f\x98\x80"), L("A"));
    check("\\n\\r\\t\\f\\v\\cJ", L("\n\r\t\f\v\n"), NULL);
    Grammar g; /* \0 is a NUL */
    grammar_init(&g);
    EXPECT(!regex_compile(&g, "a\\0", 3) && grammar_recognize_bytes(&g, "a", 2) == GRAMMAR_MATCH, "%s", err_msg());
    grammar_free(&g);
    check("a{,2}", L("a{,2}"), L("aa"));
    check("a{x}|}|]", L("a{x}", "}", "]"), L("a"));
    check("^ab$", L("ab"), L("", "abab"));
    check("\xc3\xa9+", L("\xc3\xa9\xc3\xa9"), L("\xc3\xa9\xa9"));
    check("[\\b]", L("\b"), L("b"));
}

static void test_search_and_json(void) {
    Grammar g;
    grammar_init(&g);
    g.start = regex_rule(&g, "root", "b+c", 3, REGEX_SEARCH);
    EXPECT(g.start >= 0 && !grammar_finish(&g), "%s", err_msg());
    EXPECT(rec(&g, "bc") == GRAMMAR_MATCH, "bc");
    EXPECT(rec(&g, "x\nabbcyy") == GRAMMAR_MATCH, "inside");
    EXPECT(rec(&g, "xbx") != GRAMMAR_MATCH, "no c");
    EXPECT(rec(&g, "xbx") == GRAMMAR_PREFIX, "but a prefix");
    grammar_free(&g);

    grammar_init(&g);
    g.start = regex_rule(&g, "root", "^a|b$", 5, REGEX_SEARCH);
    EXPECT(g.start >= 0 && !grammar_finish(&g), "%s", err_msg());
    EXPECT(rec(&g, "axx") == GRAMMAR_MATCH, "^a");
    EXPECT(rec(&g, "xxb") == GRAMMAR_MATCH, "b$");
    EXPECT(rec(&g, "xax") != GRAMMAR_MATCH, "a inside");
    EXPECT(rec(&g, "bx") != GRAMMAR_MATCH, "b not at the end");
    grammar_free(&g);

    /* JSON: the pattern's characters as JSON string content */
    const char *re = "^a\"\\\\/\\n[\\x00-\\x02]\xc3\xa9$";
    grammar_init(&g);
    g.start = regex_rule(&g, "root", re, strlen(re), REGEX_SEARCH | REGEX_JSON);
    EXPECT(g.start >= 0 && !grammar_finish(&g), "%s", err_msg());
    const char *yes[] = {"a\\\"\\\\/\\n\\u0001\xc3\xa9", "a\\\"\\\\\\/\\u000A\\u0000\xc3\xa9",
                         "a\\\"\\\\/\\u000a\\u0002\xc3\xa9"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) EXPECT(rec(&g, yes[i]) == GRAMMAR_MATCH, "'%s'", yes[i]);
    const char *no[] = {"a\"\\\\/\\n\\u0001\xc3\xa9", "a\\\"\\/\\n\\u0001\xc3\xa9", "a\\\"\\\\/\n\\u0001\xc3\xa9",
                        "a\\\"\\\\/\\n\x01\xc3\xa9", "a\\\"\\\\/\\n\\u0003\xc3\xa9"};
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) EXPECT(rec(&g, no[i]) != GRAMMAR_MATCH, "'%s'", no[i]);
    grammar_free(&g);
}

static void test_errors(void) {
    static const struct {
        const char *re, *msg;
    } bad[] = {
        {"(a)\\1", "offset 3: backreferences"},
        {"(?<x>a)\\k<x>", "offset 7: named backreferences"},
        {"a(?=b)", "offset 1: lookaround"},
        {"(?<!b)a", "offset 0: lookaround"},
        {"a\\bc", "offset 1: \\b"},
        {"a^b", "offset 1: anchor '^'"},
        {"a$b", "offset 1: anchor '$'"},
        {"(^a)", "offset 1: anchor '^'"},
        {"*a", "offset 0: nothing to repeat"},
        {"a**", "offset 2: nothing to repeat"},
        {"a{3}{2}", "offset 4: nothing to repeat"},
        {"(ab", "offset 0: unmatched '('"},
        {"ab)", "offset 2: unmatched ')'"},
        {"[z-a]", "offset 2: range out of order"},
        {"[ab", "offset 0: unterminated"},
        {"a{5,3}", "offset 1: {5,3}"},
        {"a{10001}", "repetition count past 10000"},
        {"\\p{L}", "Unicode property"},
        {"\\uD800", "lone surrogate"},
        {"\\xZZ", "bad \\x escape"},
        {"ab\\", "offset 2: pattern ends with a backslash"},
        {"a\xff", "offset 1: invalid UTF-8"},
        {"(?x)", "unknown group"},
        {"\\01", "octal"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        Grammar g;
        grammar_init(&g);
        int rc = regex_compile(&g, bad[i].re, strlen(bad[i].re));
        EXPECT(rc == -1 && strstr(err_msg(), bad[i].msg) && !strncmp(err_msg(), "regex: ", 7),
               "/%s/: got '%s', want '%s'", bad[i].re, rc ? err_msg() : "success", bad[i].msg);
        grammar_free(&g);
    }
    /* nesting past the bound is an error, not a deep recursion */
    char deep[1000];
    int k = 0;
    for (int i = 0; i < 300; i++) deep[k++] = '(';
    for (int i = 0; i < 300; i++) deep[k++] = ')';
    Grammar g;
    grammar_init(&g);
    EXPECT(regex_compile(&g, deep, (size_t)k) == -1 && strstr(err_msg(), "nested deeper"), "%s", err_msg());
    grammar_free(&g);
    grammar_init(&g); /* unrolled repetition is bounded too */
    const char *big = "(((a{0,10000}){0,10000}){0,10000}){0,10000}(b{0,10000}){0,10000}(c{0,10000}){0,10000}"
                      "(d{0,10000}){0,10000}(e{0,10000}){0,10000}(f{0,10000}){0,10000}(g{0,10000}){0,10000}"
                      "(h{0,10000}){0,10000}(i{0,10000}){0,10000}(j{0,10000}){0,10000}(k{0,10000}){0,10000}";
    EXPECT(regex_compile(&g, big, strlen(big)) == -1 && strstr(err_msg(), "pattern too large"), "%s", err_msg());
    grammar_free(&g);
}

/* ---- differential: the grammar against PCRE2 ---- */

/* PCRE2 for an ECMAScript pattern: \s and \S spelled as ECMAScript's
 * class (PCRE2 without UCP has only ASCII spaces, with UCP a different set). */
static pcre2_code *pcre(const char *re, int whole) {
    static const char space[] = "\\t-\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}"
                                "\\x{205f}\\x{3000}\\x{feff}";
    char buf[2048];
    size_t k = 0;
    k += (size_t)snprintf(buf + k, sizeof buf - k, "%s", whole ? "^(?:" : "");
    int in_class = 0; /* (\S inside a class is not used below) */
    for (const char *p = re; *p; p++) {
        if (p[0] == '\\' && (p[1] == 's' || p[1] == 'S')) {
            if (in_class) k += (size_t)snprintf(buf + k, sizeof buf - k, "%s", space);
            else k += (size_t)snprintf(buf + k, sizeof buf - k, "[%s%s]", p[1] == 'S' ? "^" : "", space);
            p++;
        } else if (p[0] == '\\') {
            buf[k++] = *p++, buf[k++] = *p;
        } else {
            in_class = *p == '[' ? 1 : *p == ']' ? 0 : in_class;
            buf[k++] = *p;
        }
        CHECK(k < sizeof buf - 200);
    }
    snprintf(buf + k, sizeof buf - k, "%s", whole ? ")$" : "");
    int code;
    PCRE2_SIZE at;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)buf, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &code, &at, NULL);
    CHECK(c);
    return c;
}

static int pcre_match(pcre2_code *c, const char *s, size_t n) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
    int rc = pcre2_match(c, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* Patterns whose meaning PCRE2 (UTF, no UCP) shares with ECMAScript on the
 * alphabet below (no line terminators but \n, no Unicode spaces). */
static const char *diff_patterns[] = {
    "a(b|c)*d", "(ab|a)(bc|c)?", "[a-c]{2,3}x?", "\\d+(\\.\\d{1,2})?", "(a|)+b", "[^ab\\n]*", ".*a.{2}",
    "(a?){3}b", "\\w+\\s\\W", "a{0}b|c", "(x(y(z)?)?)*", "[\\d-]+|[.]", "^(a|b)*$", "b{2,}|a{1,2}b?",
    "(?:\xc3\xa9|a)+\\S", "[^\\d\\s]+", "a*?b+?", "-?(0|[1-9]\\d*)",
};
static const char alphabet[][3] = {"a", "b", "c", "d", "x", "y", "z", "0", "1", ".", "-", " ", "\n", "_", "\xc3\xa9"};

static void test_differential(void) {
    uint64_t rng = 42;
    for (size_t p = 0; p < sizeof diff_patterns / sizeof *diff_patterns; p++) {
        const char *re = diff_patterns[p];
        for (int search = 0; search < 2; search++) {
            Grammar g;
            grammar_init(&g);
            g.start = regex_rule(&g, "root", re, strlen(re), search ? REGEX_SEARCH : 0);
            if (g.start < 0 || grammar_finish(&g)) {
                EXPECT(0, "/%s/: %s", re, err_msg());
                grammar_free(&g);
                continue;
            }
            pcre2_code *c = pcre(re, !search);
            for (int t = 0; t < 1500; t++) { /* random texts: the same answer */
                char s[64];
                size_t n = 0;
                int len = (int)(splitmix64(&rng) % 9);
                for (int i = 0; i < len; i++) {
                    const char *a = alphabet[splitmix64(&rng) % (sizeof alphabet / sizeof *alphabet)];
                    memcpy(s + n, a, strlen(a)), n += strlen(a);
                }
                int want = pcre_match(c, s, n), got = grammar_recognize_bytes(&g, s, n) == GRAMMAR_MATCH;
                EXPECTQ(got == want, "/%s/ search=%d on '%.*s': grammar %d, pcre2 %d", re, search, (int)n, s, got, want);
            }
            for (int t = 0; t < 200; t++) { /* random sentences: PCRE2 matches them */
                IntVec out = {0};
                if (grammar_sample(&g, &rng, 30, 200, &out) == 0) {
                    char s[256];
                    for (int i = 0; i < out.n; i++) s[i] = (char)out.v[i];
                    EXPECTQ(pcre_match(c, s, (size_t)out.n), "/%s/ search=%d: sentence '%.*s' does not match", re,
                            search, out.n, s);
                }
                intvec_free(&out);
            }
            pcre2_code_free(c);
            grammar_free(&g);
        }
    }
}

/* JSON spelling: sentences of "\"" rule "\"" parse as JSON strings whose
 * value matches the pattern. */
static void test_json_sentences(void) {
    static const char *pats[] = {"^(?:\\s|\\S){0,6}$", "a\"b", "^[^a-z]+$", "\\\\|/", "^.\\n.$", "^[\\x00-\\x1f\"\\\\/]+$"};
    uint64_t rng = 7;
    for (size_t p = 0; p < sizeof pats / sizeof *pats; p++) {
        Grammar g;
        grammar_init(&g);
        int r = regex_rule(&g, "pat", pats[p], strlen(pats[p]), REGEX_SEARCH | REGEX_JSON);
        int root = grammar_rule(&g, "root");
        Sym q = grammar_byte(&g, '"'), seq[] = {q, sym_rule(r), q};
        grammar_alt(&g, root, seq, 3);
        g.start = root;
        EXPECT(r >= 0 && !grammar_finish(&g), "%s", err_msg());
        pcre2_code *c = pcre(pats[p], 0);
        for (int t = 0; t < 300; t++) {
            IntVec out = {0};
            if (grammar_sample(&g, &rng, 40, 400, &out) == 0) {
                char s[512];
                for (int i = 0; i < out.n; i++) s[i] = (char)out.v[i];
                s[out.n] = 0;
                cJSON *j = cJSON_ParseWithLength(s, (size_t)out.n);
                EXPECTQ(j && cJSON_IsString(j), "'%.*s' is not a JSON string", out.n, s);
                if (j && cJSON_IsString(j) && !strstr(s, "\\u0000")) /* (cJSON strings end at a NUL) */
                    EXPECTQ(pcre_match(c, j->valuestring, strlen(j->valuestring)), "/%s/: '%.*s'", pats[p], out.n, s);
                cJSON_Delete(j);
            }
            intvec_free(&out);
        }
        pcre2_code_free(c);
        grammar_free(&g);
    }
}

int main(void) {
    test_features();
    test_search_and_json();
    test_errors();
    test_differential();
    test_json_sentences();
    return test_done("regex");
}

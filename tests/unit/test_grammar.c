/* test_grammar — the byte-level grammar (grammar/grammar.h): builders,
 * UTF-8 classes against every code point, repetition, empty rules, left
 * recursion, control tokens, unproductive rules, printing, and the Earley
 * oracle's three answers (match, viable prefix, dead). */
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"
#include "grammar/grammar.h"
#include "harness.h"

static int rec(const Grammar *g, const char *s) { return grammar_recognize_bytes(g, s, strlen(s)); }

static int finish_start(Grammar *g, int start) {
    g->start = start;
    return grammar_finish(g);
}

/* Every code point (a stride past the BMP's start, with the boundaries)
 * against a class and its negation. */
static void check_class(const uint32_t (*r)[2], int n) {
    for (int negate = 0; negate < 2; negate++) {
        Grammar g;
        grammar_init(&g);
        int c = grammar_utf8_class(&g, "c", r, n, negate);
        EXPECT(!finish_start(&g, c), "%s", err_msg());
        for (uint32_t cp = 0; cp <= 0x10FFFF; cp += cp < 0x3000 ? 1 : 97) {
            for (uint32_t q = cp; q <= cp + 1 && q <= 0x10FFFF; q++) {
                int in = 0;
                for (int i = 0; i < n; i++) {
                    uint32_t lo = r[i][0] < r[i][1] ? r[i][0] : r[i][1], hi = r[i][0] ^ r[i][1] ^ lo;
                    in |= q >= lo && q <= hi;
                }
                int want = (q >= 0xD800 && q <= 0xDFFF) ? 0 : in ^ negate;
                unsigned char b[4];
                int got = grammar_recognize_bytes(&g, b, (size_t)utf8_encode(q, b)) == GRAMMAR_MATCH;
                EXPECTQ(got == want, "U+%04X negate=%d: got %d want %d", q, negate, got, want);
            }
        }
        /* never an overlong form, a byte past F4, or a lone continuation */
        static const char *bad[] = {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xF0\x80\x80\x80", "\xF5\x80\x80\x80",
                                    "\x80", "\xED\xA0\x80"};
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
            EXPECT(rec(&g, bad[i]) != GRAMMAR_MATCH, "bad sequence %zu accepted", i);
        grammar_free(&g);
    }
}

static void test_utf8_classes(void) {
    static const uint32_t a[][2] = {{'a', 'z'}, {'0', '9'}};
    check_class(a, 2);
    static const uint32_t b[][2] = {{0x7F, 0x800}, {0xFFFF, 0x10000}, {0xD000, 0xE100}};
    check_class(b, 3);
    static const uint32_t c[][2] = {{'"', '"'}, {'\\', '\\'}, {0, 0x1F}}; /* JSON's string character, negated */
    check_class(c, 3);
    static const uint32_t d[][2] = {{0x10FFFF, 0x10000}, {0x1234, 0x1234}, {0x20AC, 0x20AC}};
    check_class(d, 3);
}

static void test_repeat_and_literals(void) {
    Grammar g;
    grammar_init(&g);
    SymVec ab = {0};
    grammar_literal(&g, &ab, "ab", 2);
    int x = grammar_rule(&g, "ab");
    grammar_alt(&g, x, ab.v, ab.n);
    symvec_free(&ab);
    int r = grammar_repeat(&g, "r", sym_rule(x), 2, 4);
    EXPECT(!finish_start(&g, r), "%s", err_msg());
    EXPECT(rec(&g, "ab") == GRAMMAR_PREFIX, "one of 2..4");
    EXPECT(rec(&g, "abab") == GRAMMAR_MATCH, "two");
    EXPECT(rec(&g, "ababab") == GRAMMAR_MATCH, "three");
    EXPECT(rec(&g, "aba") == GRAMMAR_PREFIX, "a prefix");
    EXPECT(rec(&g, "abababab") == GRAMMAR_MATCH, "four");
    EXPECT(rec(&g, "ababababa") == GRAMMAR_DEAD, "five");
    EXPECT(rec(&g, "abb") == GRAMMAR_DEAD, "abb");
    EXPECT(rec(&g, "") == GRAMMAR_PREFIX, "empty is a prefix");
    grammar_free(&g);

    grammar_init(&g);
    int star = grammar_repeat(&g, "s", grammar_byte(&g, 'x'), 0, -1);
    int plus = grammar_repeat(&g, "p", grammar_byte(&g, 'y'), 3, -1);
    int top = grammar_rule(&g, "root");
    Sym seq[] = {sym_rule(star), grammar_byte(&g, '-'), sym_rule(plus)};
    grammar_alt(&g, top, seq, 3);
    EXPECT(!finish_start(&g, top), "%s", err_msg());
    EXPECT(rec(&g, "-yyy") == GRAMMAR_MATCH, "x* empty");
    EXPECT(rec(&g, "xxxxxxxx-yyyyyyyyy") == GRAMMAR_MATCH, "long");
    EXPECT(rec(&g, "xx-yy") == GRAMMAR_PREFIX, "two y");
    EXPECT(rec(&g, "xx-yyyx") == GRAMMAR_DEAD, "x after y");
    grammar_free(&g);
}

static void test_empty_rules_and_left_recursion(void) {
    Grammar g;
    grammar_init(&g);
    int a = grammar_rule(&g, "a"), b = grammar_rule(&g, "b"), s = grammar_rule(&g, "root");
    grammar_alt(&g, a, NULL, 0);
    Sym x = grammar_byte(&g, 'x'), y = grammar_byte(&g, 'y');
    grammar_alt(&g, a, &x, 1);
    grammar_alt(&g, b, NULL, 0);
    grammar_alt(&g, b, &y, 1);
    Sym ab[] = {sym_rule(a), sym_rule(b), sym_rule(a)};
    grammar_alt(&g, s, ab, 3);
    EXPECT(!finish_start(&g, s), "%s", err_msg());
    EXPECT(g.nullable[s] && g.nullable[a], "nullable");
    const char *match[] = {"", "x", "y", "xy", "yx", "xyx", "xx"};
    for (size_t i = 0; i < sizeof match / sizeof *match; i++)
        EXPECT(rec(&g, match[i]) == GRAMMAR_MATCH, "'%s'", match[i]);
    EXPECT(rec(&g, "yy") == GRAMMAR_DEAD, "yy");
    EXPECT(rec(&g, "xxx") == GRAMMAR_DEAD, "xxx");
    grammar_free(&g);

    /* expr ::= expr "+" num | num ; num ::= [0-9]+ */
    grammar_init(&g);
    ByteSet digits = {{0}};
    byteset_add_range(&digits, '0', '9');
    int num = grammar_repeat(&g, "num", grammar_bytes(&g, &digits), 1, -1);
    int e = grammar_rule(&g, "expr");
    Sym plus[] = {sym_rule(e), grammar_byte(&g, '+'), sym_rule(num)};
    grammar_alt(&g, e, plus, 3);
    Sym one = sym_rule(num);
    grammar_alt(&g, e, &one, 1);
    EXPECT(!finish_start(&g, e), "%s", err_msg());
    EXPECT(rec(&g, "1+22+333") == GRAMMAR_MATCH, "sum");
    EXPECT(rec(&g, "1+22+") == GRAMMAR_PREFIX, "open sum");
    EXPECT(rec(&g, "1++") == GRAMMAR_DEAD, "1++");
    EXPECT(rec(&g, "+1") == GRAMMAR_DEAD, "+1");
    grammar_free(&g);
}

static void test_specials_and_unproductive(void) {
    Grammar g;
    grammar_init(&g);
    int s = grammar_rule(&g, "root");
    Sym seq[] = {sym_special(5), grammar_byte(&g, '{')};
    grammar_alt(&g, s, seq, 2);
    EXPECT(!finish_start(&g, s), "%s", err_msg());
    int ok[] = {GRAMMAR_SPECIAL + 5, '{'}, wrong[] = {GRAMMAR_SPECIAL + 6, '{'}, spelled[] = {'{'};
    EXPECT(grammar_recognize(&g, ok, 2) == GRAMMAR_MATCH, "special then {");
    EXPECT(grammar_recognize(&g, ok, 1) == GRAMMAR_PREFIX, "special alone");
    EXPECT(grammar_recognize(&g, wrong, 2) == GRAMMAR_DEAD, "another special");
    EXPECT(grammar_recognize(&g, spelled, 1) == GRAMMAR_DEAD, "no special");
    grammar_free(&g);

    grammar_init(&g); /* root ::= "a" | bad ; bad ::= bad "b" (never ends) */
    s = grammar_rule(&g, "root");
    int bad = grammar_rule(&g, "bad");
    Sym a = grammar_byte(&g, 'a'), bb[] = {sym_rule(bad), grammar_byte(&g, 'b')}, rb = sym_rule(bad);
    grammar_alt(&g, s, &a, 1);
    grammar_alt(&g, s, &rb, 1);
    grammar_alt(&g, bad, bb, 2);
    EXPECT(!finish_start(&g, s), "%s", err_msg());
    EXPECT(rec(&g, "a") == GRAMMAR_MATCH, "a");
    EXPECT(rec(&g, "") == GRAMMAR_PREFIX, "empty");
    EXPECT(rec(&g, "b") == GRAMMAR_DEAD, "b");
    grammar_free(&g);

    grammar_init(&g);
    bad = grammar_rule(&g, "loop");
    Sym self = sym_rule(bad);
    grammar_alt(&g, bad, &self, 1);
    EXPECT(finish_start(&g, bad) == -1 && strstr(err_msg(), "'loop' matches nothing"), "%s", err_msg());
    grammar_free(&g);
}

static void test_print(void) {
    Grammar g;
    grammar_init(&g);
    int item = grammar_rule(&g, "item"), root = grammar_rule(&g, "root");
    SymVec seq = {0};
    grammar_literal(&g, &seq, "say \"hi\"\n", 9);
    ByteSet s = {{0}};
    byteset_add_range(&s, 'a', 'c');
    byteset_add(&s, 0xFF);
    symvec_push(&seq, grammar_bytes(&g, &s));
    symvec_push(&seq, sym_special(7));
    grammar_alt(&g, item, seq.v, seq.n);
    grammar_alt(&g, item, NULL, 0);
    Sym r = sym_rule(item);
    grammar_alt(&g, root, &r, 1);
    EXPECT(!finish_start(&g, root), "%s", err_msg());
    ByteBuf out = {0};
    grammar_print(&g, &out);
    const char *want = "root ::= item\nitem ::= \"say \\\"hi\\\"\\n\" [a-c\\xFF] <[7]> | \"\"\n";
    EXPECT(!strcmp(out.p, want), "got\n%s", out.p);
    bytebuf_free(&out);
    symvec_free(&seq);
    EXPECT(grammar_bytes(&g, &s).arg == grammar_bytes(&g, &s).arg, "interned");
    grammar_free(&g);
}

int main(void) {
    test_utf8_classes();
    test_repeat_and_literals();
    test_empty_rules_and_left_recursion();
    test_specials_and_unproductive();
    test_print();
    return test_done("grammar");
}

/* test_gbnf — llama.cpp GBNF grammars compiled into grammars
 * (grammar/gbnf.h): grammars written in the syntax of llama.cpp's
 * grammars/ directory (JSON, arithmetic, list, chess, Japanese, a C
 * subset; our own text), each feature's accepted and rejected texts,
 * control tokens, errors with line:col, and grammar_print's output read
 * back as the same language. */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "grammar/gbnf.h"
#include "grammar/grammar.h"
#include "grammar/sample.h"
#include "harness.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static void check_opt(const char *gbnf, const GbnfOptions *opt, const char *const *yes, const char *const *no) {
    Grammar g;
    grammar_init(&g);
    if (gbnf_compile(&g, gbnf, strlen(gbnf), opt)) {
        EXPECT(0, "%s\n-> %s", gbnf, err_msg());
    } else {
        for (; yes && *yes; yes++)
            EXPECT(grammar_recognize_bytes(&g, *yes, strlen(*yes)) == GRAMMAR_MATCH, "should accept '%s' in\n%s", *yes, gbnf);
        for (; no && *no; no++)
            EXPECT(grammar_recognize_bytes(&g, *no, strlen(*no)) != GRAMMAR_MATCH, "should refuse '%s' in\n%s", *no, gbnf);
    }
    grammar_free(&g);
}

static void check(const char *gbnf, const char *const *yes, const char *const *no) { check_opt(gbnf, NULL, yes, no); }

static const char json_gbnf[] =
    "# JSON, the way llama.cpp's json.gbnf is written\n"
    "root   ::= object\n"
    "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
    "\n"
    "object ::=\n"
    "  \"{\" ws (\n"
    "            string \":\" ws value\n"
    "    (\",\" ws string \":\" ws value)*\n"
    "  )? \"}\" ws\n"
    "\n"
    "array  ::=\n"
    "  \"[\" ws (\n"
    "            value\n"
    "    (\",\" ws value)*\n"
    "  )? \"]\" ws\n"
    "\n"
    "string ::=\n"
    "  \"\\\"\" (\n"
    "    [^\"\\\\\\x7F\\x00-\\x1F] |\n"
    "    \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) # escapes\n"
    "  )* \"\\\"\" ws\n"
    "\n"
    "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws\n"
    "\n"
    "# optional space after a token\n"
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";

static const char arith_gbnf[] = "root  ::= (expr \"=\" ws term \"\\n\")+\n"
                                 "expr  ::= term ([-+*/] term)*\n"
                                 "term  ::= ident | num | \"(\" ws expr \")\" ws\n"
                                 "ident ::= [a-z] [a-z0-9_]* ws\n"
                                 "num   ::= [0-9]+ ws\n"
                                 "ws    ::= [ \\t\\n]*\n";

static const char chess_gbnf[] = "root ::= (\n"
                                 "    # the first move pair, then numbered ones\n"
                                 "    \"1. \" move \" \" move \"\\n\"\n"
                                 "\n"
                                 "    ([1-9] [0-9]? \". \" move \" \" move \"\\n\")+\n"
                                 ")\n"
                                 "move ::= (pawn | nonpawn | castle) [+#]?\n"
                                 "pawn ::= ([a-h] \"x\")? [a-h] [1-8] (\"=\" [NBKQR])?\n"
                                 "nonpawn ::= [NBKQR] [a-h]? [1-8]? \"x\"? [a-h] [1-8]\n"
                                 "castle ::= \"O-O\" \"-O\"?\n";

static const char japanese_gbnf[] = "root ::= jp-char+ ([ \\t\\n] jp-char+)*\n"
                                    "jp-char     ::= hiragana | katakana | punctuation | cjk\n"
                                    "hiragana    ::= [\xe3\x81\x81-\xe3\x82\x9f]\n"
                                    "katakana    ::= [\xe3\x82\xa1-\xe3\x83\xbf]\n"
                                    "punctuation ::= [\xe3\x80\x81-\xe3\x80\xbe]\n"
                                    "cjk         ::= [\xe4\xb8\x80-\xe9\xbf\xbf]\n";

static const char c_gbnf[] = "root ::= (declaration)*\n"
                             "declaration ::= dataType identifier \"(\" parameter? \")\" \"{\" statement* \"}\"\n"
                             "dataType  ::= \"int\" ws | \"float\" ws | \"char\" ws\n"
                             "identifier ::= [a-zA-Z_] [a-zA-Z_0-9]*\n"
                             "parameter ::= dataType identifier\n"
                             "statement ::=\n"
                             "    ( dataType identifier ws \"=\" ws expression \";\" ) |\n"
                             "    ( identifier ws \"=\" ws expression \";\" ) |\n"
                             "    ( \"return\" ws expression \";\" ) |\n"
                             "    ( \"while\" \"(\" condition \")\" \"{\" statement* \"}\" )\n"
                             "expression ::= term ((\"+\" | \"-\" | \"*\" | \"/\") term)*\n"
                             "term ::= identifier | number | \"(\" expression \")\"\n"
                             "condition ::= expression relationOperator expression\n"
                             "relationOperator ::= (\"<=\" | \"<\" | \"==\" | \"!=\" | \">=\" | \">\")\n"
                             "number ::= [0-9]+\n"
                             "ws ::= ([ \\t\\n]+)\n";

static void test_llama_grammars(void) {
    check(json_gbnf, L("{}", "{\"a\":1}", "{ \"a\": [1, 2.5e3, \"x\\n\\u00e9\", true, null, {}]}", "{\"k\":\"\xc3\xa9\"}"),
          L("[]", "{\"a\"}", "{\"a\":01}", "{\"a\":\"\x01\"}", "{,}"));
    check(arith_gbnf, L("1+2=3\n", "(a +b2) *c=x\n", "x=1\ny=z\n"), L("1+2\n", "=1\n", "1+=2\n"));
    check("root ::= item+\n\n# Excludes various line break characters\nitem ::= \"- \" [^\\r\\n\\x0b\\x0c\\x85\\u2028\\u2029]+ \"\\n\"\n",
          L("- a\n", "- one\n- two \xc3\xa9\n"), L("", "- \n", "- a\x0b\n", "- a\xe2\x80\xa8\n", "-a\n"));
    check(chess_gbnf, L("1. e4 e5\n2. Nf3 Nc6\n", "1. d4 d5\n2. c4 dxc4\n3. O-O-O Qxd1+\n"), L("1. e4 e5\n", "1. e9 e5\n2. a1 a2\n"));
    check(japanese_gbnf, L("\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf", "\xe6\x97\xa5\xe6\x9c\xac \xe3\x82\xab"),
          L("abc", "\xe3\x81\x93 ", ""));
    check(c_gbnf, L("", "int main(){int x = 1;return x;}", "float f(int a){while(a<10){a = a+1;}}"),
          L("int main(){x=1}", "main(){}"));
}

static int tokens(void *user, const char *text, size_t len) {
    (void)user;
    if (len == 7 && !memcmp(text, "<think>", 7)) return 10;
    if (len == 8 && !memcmp(text, "</think>", 8)) return 11;
    return -1;
}

static void test_features(void) {
    check("root ::= \"\\x41\\u00e9\\U0001F600\" [\\x30-\\x32] [\\u00e0-\\u00e9]", L("A\xc3\xa9\xf0\x9f\x98\x80" "1\xc3\xa8"),
          L("A\xc3\xa9\xf0\x9f\x98\x80" "3\xc3\xa8"));
    check("root ::= \"ab\"* \"c\"{2} \"d\"{1,} \"e\"{0,2} (\"f\" | \"g\"){1,2}", L("ccdf", "ababccdddeegf"), L("accdf", "cdf", "ccdeeef"));
    check("root ::= . . [^a]", L("ab\xc3\xa9", "\n\n\n"), L("aba", "ab"));
    check("root ::= x | \"\"\nx ::= \"x\" root", L("", "x", "xxx"), L("y"));
    check("root ::= \"\"* \"a\" \"\"{2} ()+", L("a"), L("", "aa")); /* repeated empties (a fuzz finding) */
    check("root::=\"a\"|\n  \"b\"   # alternatives may continue after |\n", L("a", "b"), L("ab"));
    check("root ::= \"a\"\r\nb ::= \"b\"\r\n", L("a"), L("b"));
    check("root ::= [\\]\\[\\\\\\-\\^]+ \"\\\"\"", L("]\\-^[\""), L("a\""));
    check("root ::= under_score\nunder_score ::= \"u\"", L("u"), NULL);
    GbnfOptions tok = {.token = tokens};
    Grammar g;
    grammar_init(&g);
    const char *t = "root ::= <think> [a-z]* </think> <[5]> \"ok\"";
    EXPECT(!gbnf_compile(&g, t, strlen(t), &tok), "%s", err_msg());
    int in[] = {GRAMMAR_SPECIAL + 10, 'h', 'm', GRAMMAR_SPECIAL + 11, GRAMMAR_SPECIAL + 5, 'o', 'k'};
    EXPECT(grammar_recognize(&g, in, 7) == GRAMMAR_MATCH, "tokens");
    EXPECT(grammar_recognize(&g, in, 3) == GRAMMAR_PREFIX, "prefix");
    int spelled[] = {'<', 't'};
    EXPECT(grammar_recognize(&g, spelled, 2) == GRAMMAR_DEAD, "a token is not its spelling");
    grammar_free(&g);
    /* prefix: embedded among other rules */
    grammar_init(&g);
    GbnfOptions pre = {.prefix = "g1-"};
    const char *two = "root ::= x\nx ::= \"x\"";
    int r = gbnf_rule(&g, two, strlen(two), &pre);
    EXPECT(r >= 0 && !strcmp(g.rules[r].name, "g1-root") && grammar_find(&g, "g1-x") >= 0, "prefix");
    grammar_free(&g);
}

static void check_error(const char *gbnf, const GbnfOptions *opt, const char *want) {
    Grammar g;
    grammar_init(&g);
    int rc = gbnf_compile(&g, gbnf, strlen(gbnf), opt);
    EXPECT(rc == -1 && strstr(err_msg(), want), "%s: got '%s', want '%s'", gbnf, rc ? err_msg() : "success", want);
    grammar_free(&g);
}

static void test_errors(void) {
    check_error("root ::= a b\na ::= \"a\"\n", NULL, "gbnf: line 1 col 12: undefined rule 'b'");
    check_error("item ::= \"a\"\n", NULL, "no 'root' rule");
    check_error("root ::= \"a\\q\"", NULL, "line 1 col 12: unknown escape '\\q'");
    check_error("root ::= (\"a\"\n  | \"b\"", NULL, "line 1 col 10: '(' without its ')'");
    check_error("root ::= \"a\" )", NULL, "line 1 col 14: unexpected ')'");
    check_error("root ::= \"abc", NULL, "line 1 col 10: unterminated literal");
    check_error("root ::= [abc", NULL, "unterminated character class");
    check_error("\n\nroot = \"a\"", NULL, "line 3 col 6: expected '::='");
    check_error("root ::= !<[3]>", NULL, "negated tokens");
    check_error("root ::= <think>", NULL, "needs a vocabulary");
    GbnfOptions tok = {.token = tokens};
    check_error("root ::= <nothink>", &tok, "<nothink> is not one control token");
    check_error("root ::= \"a\"\nroot ::= \"b\"", NULL, "line 2 col 1: rule 'root' is defined twice");
    check_error("root ::= * \"a\"", NULL, "'*' repeats nothing");
    check_error("root ::= \"a\"{3,1}", NULL, "maximum is below the minimum");
    check_error("root ::= \"a\"{100000}", NULL, "repetition count past");
    check_error("root ::= \"a\"{x}", NULL, "expected a number");
    check_error("root ::= \"\\x4\"", NULL, "\\x needs 2 hex digits");
    check_error("root ::= \"\\uD800\"", NULL, "is not a character");
    check_error("root ::= [z-a]", NULL, "range out of order");
    check_error("root ::= \"\xff\"", NULL, "invalid UTF-8");
    check_error("root ::= \"a\"\n  \"b\"", NULL, "line 2 col 3: expected a rule name");
    check_error("root ::= loop\nloop ::= loop \"x\"", NULL, "matches nothing");
    char deep[600];
    size_t n = (size_t)snprintf(deep, sizeof deep, "root ::= ");
    for (int i = 0; i < 200; i++) deep[n++] = '(';
    for (int i = 0; i < 200; i++) deep[n++] = ')';
    deep[n] = 0;
    check_error(deep, NULL, "nested deeper than 100");
}

/* grammar_print writes GBNF: read it back, the same sentences match. */
static void test_print_round_trip(void) {
    const char *src[] = {arith_gbnf, chess_gbnf, c_gbnf};
    uint64_t rng = 11;
    for (int s = 0; s < 3; s++) {
        Grammar a, b;
        grammar_init(&a), grammar_init(&b);
        EXPECT(!gbnf_compile(&a, src[s], strlen(src[s]), NULL), "%s", err_msg());
        ByteBuf out = {0};
        grammar_print(&a, &out);
        EXPECT(!gbnf_compile(&b, out.p, out.n, NULL), "printed grammar: %s\n%s", err_msg(), out.p);
        for (int t = 0; t < 200 && b.finished; t++) {
            IntVec v = {0};
            const Grammar *from = t & 1 ? &b : &a, *to = t & 1 ? &a : &b;
            if (!grammar_sample(from, &rng, 40, 2000, &v))
                EXPECTQ(grammar_recognize(to, v.v, v.n) == GRAMMAR_MATCH, "grammar %d: a sentence of one is not of the other", s);
            intvec_free(&v);
        }
        bytebuf_free(&out);
        grammar_free(&a), grammar_free(&b);
    }
}

int main(void) {
    test_llama_grammars();
    test_features();
    test_errors();
    test_print_round_trip();
    return test_done("gbnf");
}

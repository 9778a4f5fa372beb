/* test_constraint — the matcher against grammar_recognize, and token masks
 * against brute force (grammar/matcher.h, vocab.h, constraint.h).
 *
 * The matcher: random sentences of each grammar, some mutated, fed input by
 * input; after each, alive and complete must be grammar_recognize's answer
 * for the prefix; every memoized step must equal a fresh Earley step.
 * The masks: random walks over every tokenizer in ../shared (and
 * stories260K's): at each step the mask equals the brute-force mask (each
 * token's bytes stepped alone), a sample of tokens agrees with
 * grammar_recognize on the text they make, a random allowed token is taken,
 * and the text is the ids' decode as a stream gives it. */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "grammar/constraint.h"
#include "grammar/jsonschema.h"
#include "grammars.h"
#include "harness.h"
#include "tok/tokfile.h"

static uint64_t rng = 12345;
static int n_walks, n_ended, n_steps; /* per tokenizer, for its line */
static int rnd(int n) { return (int)(splitmix64(&rng) % (uint64_t)n); }

/* ------------------------------------------------------------ grammars -- */

enum { G_JSON, G_SCHEMA, G_EXPR, G_EMPTY, G_RIGHT, G_UTF8, G_TOOLS, G_BOUNDS, N_GRAMMARS };
static const char *gname[] = {"json", "schema", "expr (left recursion)", "empty rules", "right recursion",
                              "utf8 class", "tool calls", "json schema bounds"};

/* Fractional number bounds, a pattern with lengths, a strict oneOf. */
static const char bounds_schema[] =
    "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"number\",\"minimum\":-2.5,\"exclusiveMaximum\":7.25},"
    "\"s\":{\"type\":\"string\",\"pattern\":\"^[a-z\u00e9]+( [a-z]+)*$\",\"minLength\":3,\"maxLength\":12},"
    "\"k\":{\"oneOf\":[{\"const\":\"a\"},{\"type\":\"integer\",\"maximum\":0},{\"type\":\"number\",\"exclusiveMinimum\":0.5}]}},"
    "\"required\":[\"x\",\"s\",\"k\"]}";

/* Builds grammar k; tools are the control token ids a tool call uses. */
static int build(Grammar *g, int k, const int tools[2]) {
    grammar_init(g);
    int start = -1;
    if (k == G_JSON) start = gr_json(g);
    if (k == G_SCHEMA) start = gr_schema(g);
    if (k == G_EXPR) { /* expr ::= expr [+*] term | term ; term ::= [0-9]+ | "(" expr ")" | " " term */
        int expr = grammar_rule(g, "expr"), term = grammar_rule(g, "term");
        ByteSet op = {{0}};
        byteset_add(&op, '+'), byteset_add(&op, '*');
        Sym bin[] = {sym_rule(expr), grammar_bytes(g, &op), sym_rule(term)};
        grammar_alt(g, expr, bin, 3);
        Sym t = sym_rule(term);
        grammar_alt(g, expr, &t, 1);
        Sym num = sym_rule(grammar_repeat(g, "num", gr_range(g, '0', '9'), 1, -1));
        grammar_alt(g, term, &num, 1);
        Sym par[] = {grammar_byte(g, '('), sym_rule(expr), grammar_byte(g, ')')};
        grammar_alt(g, term, par, 3);
        Sym sp[] = {grammar_byte(g, ' '), sym_rule(term)};
        grammar_alt(g, term, sp, 2);
        start = expr;
    }
    if (k == G_EMPTY) { /* root ::= a b a "." c ; a ::= "" | "x" | a a ; b ::= "" | "yy" ; c ::= "" */
        int a = grammar_rule(g, "a"), b = grammar_rule(g, "b"), c = grammar_rule(g, "c");
        grammar_alt(g, a, NULL, 0);
        Sym x = grammar_byte(g, 'x'), aa[] = {sym_rule(a), sym_rule(a)};
        grammar_alt(g, a, &x, 1);
        grammar_alt(g, a, aa, 2);
        grammar_alt(g, b, NULL, 0);
        Sym yy[] = {grammar_byte(g, 'y'), grammar_byte(g, 'y')};
        grammar_alt(g, b, yy, 2);
        grammar_alt(g, c, NULL, 0);
        Sym root[] = {sym_rule(a), sym_rule(b), sym_rule(a), grammar_byte(g, '.'), sym_rule(c)};
        start = grammar_rule(g, "root");
        grammar_alt(g, start, root, 5);
    }
    if (k == G_RIGHT) { /* list ::= item list | "" ; item ::= "ab" | "a" | " " */
        int list = grammar_rule(g, "list"), item = grammar_rule(g, "item");
        Sym il[] = {sym_rule(item), sym_rule(list)};
        grammar_alt(g, list, il, 2);
        grammar_alt(g, list, NULL, 0);
        Sym ab[] = {grammar_byte(g, 'a'), grammar_byte(g, 'b')}, sp = grammar_byte(g, ' ');
        grammar_alt(g, item, ab, 2);
        grammar_alt(g, item, ab, 1);
        grammar_alt(g, item, &sp, 1);
        Sym root[] = {sym_rule(list), grammar_byte(g, '!')};
        start = grammar_rule(g, "root");
        grammar_alt(g, start, root, 2);
    }
    if (k == G_UTF8) { /* root ::= [α-ω А-я 一-龥 😀-🙏 ]{1,12} "." */
        static const uint32_t r[][2] = {{0x3B1, 0x3C9}, {0x410, 0x44F}, {0x4E00, 0x9FA5}, {0x1F600, 0x1F64F}, {' ', ' '}};
        int cls = grammar_utf8_class(g, "cls", r, 5, 0);
        Sym seq[] = {sym_rule(grammar_repeat(g, "text", sym_rule(cls), 1, 12)), grammar_byte(g, '.')};
        start = grammar_rule(g, "root");
        grammar_alt(g, start, seq, 2);
    }
    if (k == G_TOOLS) { /* root ::= [TOOL_CALLS] name [ARGS] object ; name ::= [a-z_]+ */
        JsonParts p = gr_json_parts(g);
        ByteSet nm = {{0}};
        byteset_add_range(&nm, 'a', 'z'), byteset_add(&nm, '_');
        Sym name = sym_rule(grammar_repeat(g, "name", grammar_bytes(g, &nm), 1, -1));
        Sym member[] = {p.string, p.ws, grammar_byte(g, ':'), p.ws, p.number};
        Sym mem = gr_seq(g, "member", member, 5);
        Sym more[] = {p.ws, grammar_byte(g, ','), p.ws, mem};
        Sym members[] = {mem, sym_rule(grammar_repeat(g, "more", gr_seq(g, "more1", more, 4), 0, -1))};
        Sym obj[] = {grammar_byte(g, '{'), p.ws, gr_opt(g, gr_seq(g, "members", members, 2)), p.ws, grammar_byte(g, '}')};
        Sym root[] = {sym_special(tools[0]), name, sym_special(tools[1]), gr_seq(g, "object", obj, 5)};
        start = grammar_rule(g, "root");
        grammar_alt(g, start, root, 4);
    }
    if (k == G_BOUNDS) {
        JsonSchemaOptions strict = {.strict = 1};
        start = jsonschema_rule(g, bounds_schema, strlen(bounds_schema), &strict);
    }
    g->start = start;
    int rc = grammar_finish(g);
    EXPECT(rc == 0, "%s: %s", gname[k], err_msg());
    return rc;
}

/* ------------------------------------------------- the matcher vs Earley -- */

/* The fewest inputs each rule derives (for ending random sentences). */
static int *min_len(const Grammar *g) {
    int *len = xmalloc((size_t)g->n_rules * sizeof *len);
    for (int r = 0; r < g->n_rules; r++) len[r] = 1 << 28;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int a = 0; a < g->n_alts; a++) {
            int n = 0;
            for (int i = 0; i < g->alts[a].n; i++) {
                Sym s = g->syms[g->alts[a].sym + i];
                n += s.kind == SYM_RULE ? len[s.arg] : 1;
            }
            if (n < len[g->alts[a].rule]) len[g->alts[a].rule] = n, changed = 1;
        }
    }
    return len;
}

/* Appends a random sentence of rule r (the shortest alternatives past depth 8). */
static void sentence(const Grammar *g, const int *len, int r, int depth, IntVec *out) {
    const IntVec *alts = &g->rules[r].alts;
    int pick = alts->v[rnd(alts->n)];
    if (depth > 6 || out->n > 100) { /* the shortest way out */
        int best = 1 << 30;
        for (int i = 0; i < alts->n; i++) {
            const Alt *a = &g->alts[alts->v[i]];
            int n = 0;
            for (int j = 0; j < a->n; j++) {
                Sym s = g->syms[a->sym + j];
                n += s.kind == SYM_RULE ? len[s.arg] : 1;
            }
            if (n < best) best = n, pick = alts->v[i];
        }
    }
    const Alt *a = &g->alts[pick];
    for (int j = 0; j < a->n; j++) {
        Sym s = g->syms[a->sym + j];
        if (s.kind == SYM_RULE) sentence(g, len, s.arg, depth + 1, out);
        else if (s.kind == SYM_SPECIAL) intvec_push(out, GRAMMAR_SPECIAL + s.arg);
        else {
            int b;
            do b = rnd(256);
            while (!byteset_has(&g->sets[s.arg], b));
            intvec_push(out, b);
        }
    }
}

static void check_matcher(int k) {
    static const int tools[2] = {5, 9};
    Grammar g;
    if (build(&g, k, tools)) return grammar_free(&g);
    Matcher m;
    EXPECT(!matcher_init(&m, &g), "%s", err_msg());
    int *len = min_len(&g);
    IntVec in = {0};
    for (int trial = 0; trial < 40; trial++) {
        in.n = 0;
        sentence(&g, len, g.start, 0, &in);
        int mutate = trial % 3; /* 0: as made; 1: a byte changed; 2: a byte inserted */
        if (mutate && in.n) {
            int at = rnd(in.n), b = rnd(5) ? "{}[]\",:0a. \\"[rnd(12)] : rnd(256);
            if (mutate == 1) in.v[at] = b;
            else intvec_push(&in, 0), memmove(in.v + at + 1, in.v + at, (size_t)(in.n - at - 1) * sizeof *in.v), in.v[at] = b;
        }
        matcher_reset(&m);
        EXPECTQ(matcher_complete(&m) == (grammar_recognize(&g, in.v, 0) == GRAMMAR_MATCH), "%s: empty", gname[k]);
        for (int i = 0; i < in.n; i++) {
            int alive = matcher_feed(&m, in.v[i]), want = grammar_recognize(&g, in.v, i + 1);
            EXPECTQ(alive == (want != GRAMMAR_DEAD), "%s trial %d: prefix %d alive %d want %d", gname[k], trial, i + 1,
                    alive, want);
            if (!alive) break;
            EXPECTQ(matcher_complete(&m) == (want == GRAMMAR_MATCH), "%s trial %d: prefix %d complete", gname[k], trial,
                    i + 1);
        }
        if (!mutate) EXPECTQ(matcher_complete(&m), "%s trial %d: a sentence not complete", gname[k], trial);
        /* undo to a mark, then the same again */
        int mark = m.stack.n / 2 > 0 ? m.stack.n / 2 : 1, s = matcher_state(&m), n = m.stack.n;
        matcher_undo(&m, mark);
        for (int i = mark - 1; i < n - 1; i++) matcher_feed(&m, in.v[i]);
        EXPECTQ(matcher_state(&m) == s, "%s: undo and redo", gname[k]);
    }
    /* the memo against fresh steps */
    int checked = 0;
    for (int s = 0; s < m.n_states; s++)
        for (int col = 0; m.states[s].row && col < m.width; col++) {
            int memo = m.states[s].row[col];
            if (memo == MATCHER_UNKNOWN) continue;
            EXPECTQ(matcher_step_uncached(&m, s, col) == memo, "%s: state %d col %d", gname[k], s, col);
            checked++;
        }
    EXPECT(checked > 0, "%s: no step memoized", gname[k]);
    Matcher copy;
    matcher_clone(&copy, &m);
    EXPECT(matcher_state(&copy) == matcher_state(&m) && copy.n_states == m.n_states, "clone");
    matcher_compact(&copy);
    EXPECT(copy.stack.n == m.stack.n && matcher_complete(&copy) == matcher_complete(&m), "compact");
    matcher_free(&copy);
    free(len);
    intvec_free(&in);
    matcher_free(&m);
    grammar_free(&g);
}

/* ----------------------------------------------------- masks vs brute force -- */

static int has(const uint32_t *bits, int t) { return bits[t >> 5] >> (t & 31) & 1; }

/* An allowed token that spells target[at..] on (EOS at its end), or -1. */
static int follow_target(const Vocab *v, const uint32_t *allowed, const IntVec *target, int at, int start) {
    if (at == target->n) return v->eos >= 0 && has(allowed, v->eos) ? v->eos : -1;
    int pick = -1, seen = 0;
    for (int t = 0; t < v->n_vocab; t++) {
        if (!has(allowed, t) || t == v->eos) continue;
        int n, ok;
        const unsigned char *p = vocab_bytes(v, t, start, &n);
        if (v->control[t]) ok = target->v[at] == GRAMMAR_SPECIAL + t;
        else {
            ok = n > 0 && n <= target->n - at;
            for (int i = 0; i < n && ok; i++) ok = target->v[at + i] == p[i];
        }
        if (ok && rnd(++seen) == 0) pick = t; /* one of them, uniformly */
    }
    return pick;
}

/* Random walks of grammar k over v: `steps` masks checked in all. */
static void check_walks(const Tokenizer *tok, const Vocab *v, int k, int steps, int sample) {
    int tools[2] = {tokenizer_special(tok, "[TOOL_CALLS]"), tokenizer_special(tok, "[ARGS]")};
    if (tools[0] < 0 || tools[1] < 0) tools[0] = tools[1] = tok->bos; /* no tool tokens: another control token */
    if (tools[0] < 0) return;
    Grammar g;
    if (build(&g, k, tools)) return grammar_free(&g);
    Constraint c;
    EXPECT(!constraint_init(&c, &g, v), "%s", err_msg());
    int words = (v->n_vocab + 31) / 32;
    uint32_t *fast = xmalloc((size_t)words * 4), *slow = xmalloc((size_t)words * 4);
    IntVec ids = {0}, in = {0}, probe = {0}, target = {0};
    int *len = min_len(&g);
    ByteBuf text = {0}, dec = {0};
    int done = 0, walks = 0, ended = 0;
    while (done < steps) {
        constraint_reset(&c);
        ids.n = in.n = target.n = 0;
        sentence(&g, len, g.start, 0, &target);
        int follow = 1, at = 0;
        text.n = 0;
        walks++;
        for (int step = 0; step < 400 && done < steps; step++, done++) {
            constraint_mask(&c, fast);
            constraint_mask_slow(&c, slow);
            int diff = -1, n_allowed = 0;
            for (int t = 0; t < v->n_vocab; t++) {
                if (has(fast, t) != has(slow, t) && diff < 0) diff = t;
                n_allowed += has(fast, t);
            }
            EXPECTQ(diff < 0, "%s %s step %d: token %d fast %d slow %d", tok->version, gname[k], step, diff,
                    diff < 0 ? 0 : has(fast, diff), diff < 0 ? 0 : has(slow, diff));
            /* a sample of tokens against grammar_recognize on the text they make */
            for (int j = 0; j < sample; j++) {
                int t = j % 2 ? rnd(v->n_vocab) : -1;
                if (t < 0) { /* half of them among the allowed */
                    if (!n_allowed) continue;
                    for (int want = rnd(n_allowed), u = 0;; u++)
                        if (has(fast, u) && want-- == 0) {
                            t = u;
                            break;
                        }
                }
                int want;
                if (t == v->eos) {
                    want = grammar_recognize(&g, in.v, in.n) == GRAMMAR_MATCH;
                } else {
                    probe.n = 0;
                    for (int i = 0; i < in.n; i++) intvec_push(&probe, in.v[i]);
                    int n;
                    const unsigned char *p = vocab_bytes(v, t, !c.started && c.strip, &n);
                    if (v->control[t]) intvec_push(&probe, GRAMMAR_SPECIAL + t);
                    for (int i = 0; i < n; i++) intvec_push(&probe, p[i]);
                    want = grammar_recognize(&g, probe.v, probe.n) != GRAMMAR_DEAD;
                }
                EXPECTQ(has(fast, t) == want, "%s %s step %d: token %d allowed %d, recognize says %d", tok->version,
                        gname[k], step, t, has(fast, t), want);
            }
            if (!n_allowed) {
                EXPECTQ(0, "%s %s step %d: nothing allowed", tok->version, gname[k], step);
                break;
            }
            int t = follow && rnd(6) ? follow_target(v, fast, &target, at, !c.started && c.strip) : -1;
            if (t < 0) follow = 0;
            if (t < 0 && v->eos >= 0 && has(fast, v->eos) && rnd(3) == 0) t = v->eos;
            for (int want = rnd(n_allowed), u = 0; t < 0; u++)
                if (has(fast, u) && want-- == 0) t = u;
            int n, start = !c.started && c.strip;
            const unsigned char *p = vocab_bytes(v, t, start, &n);
            EXPECTQ(!constraint_accept(&c, t), "%s %s: accept %d: %s", tok->version, gname[k], t, err_msg());
            if (t == v->eos) {
                EXPECTQ(grammar_recognize(&g, in.v, in.n) == GRAMMAR_MATCH, "%s %s: EOS not at a sentence",
                        tok->version, gname[k]);
                EXPECTQ(constraint_done(&c), "done after EOS");
                ended++;
                break;
            }
            if (follow) at += v->control[t] ? 1 : n;
            intvec_push(&ids, t);
            if (v->control[t]) intvec_push(&in, GRAMMAR_SPECIAL + t);
            for (int i = 0; i < n; i++) intvec_push(&in, p[i]), bytebuf_putc(&text, (char)p[i]);
            /* the text is what a stream of the ids shows */
            dec.n = 0;
            tokenizer_decode(tok, ids.v, ids.n, &dec);
            EXPECTQ(dec.n == text.n && !memcmp(dec.p ? dec.p : "", text.p ? text.p : "", text.n), "%s %s: text differs from decode",
                    tok->version, gname[k]);
            int want = grammar_recognize(&g, in.v, in.n);
            EXPECTQ(want != GRAMMAR_DEAD && constraint_complete(&c) == (want == GRAMMAR_MATCH),
                    "%s %s: after token %d", tok->version, gname[k], t);
        }
        /* a token that is not allowed is refused and changes nothing */
        constraint_mask(&c, fast);
        for (int t = 0; t < v->n_vocab; t++)
            if (!has(fast, t)) {
                int s = matcher_state(&c.m);
                EXPECTQ(constraint_accept(&c, t) == -1 && matcher_state(&c.m) == s, "refused token %d", t);
                break;
            }
    }
    n_walks += walks, n_ended += ended, n_steps += done;
    free(fast), free(slow);
    intvec_free(&ids), intvec_free(&in), intvec_free(&probe), intvec_free(&target);
    free(len);
    bytebuf_free(&text), bytebuf_free(&dec);
    constraint_free(&c);
    grammar_free(&g);
}

static void check_tokenizer(const char *path, const char *label, int steps) {
    Tokenizer tok = {0};
    if (tokenizer_load(&tok, path)) {
        EXPECT(0, "%s: %s", path, err_msg());
        return;
    }
    if (!tok.version[0]) snprintf(tok.version, sizeof tok.version, "%s", label);
    Vocab v;
    double t0 = now_seconds();
    EXPECT(!vocab_init(&v, &tok), "%s", err_msg());
    double t1 = now_seconds();
    /* every token's bytes are its decode */
    ByteBuf b = {0};
    for (int t = 0; t < v.n_vocab; t += 1 + v.n_vocab / 3000) {
        int n;
        const unsigned char *p = vocab_bytes(&v, t, 0, &n);
        b.n = 0;
        tokenizer_decode_more(&tok, &t, 1, &b);
        EXPECTQ(v.control[t] ? !p : (size_t)n == b.n && !memcmp(p, b.p, b.n), "%s: token %d's bytes", label, t);
    }
    bytebuf_free(&b);
    n_walks = n_ended = n_steps = 0;
    for (int k = 0; k < N_GRAMMARS; k++) check_walks(&tok, &v, k, k == G_RIGHT ? steps / 5 : steps, 8);
    fprintf(stderr, "  %-8s vocab %6d, trie %7d nodes (built in %.0f ms); %d masks checked, %d walks (%d to EOS), %.1f s\n",
            label, v.n_vocab, v.mid.n_nodes, 1e3 * (t1 - t0), n_steps, n_walks, n_ended, now_seconds() - t0);
    vocab_free(&v);
    tokenizer_free(&tok);
}

int main(void) {
    for (int k = 0; k < N_GRAMMARS; k++) check_matcher(k);
    const char *shared = test_shared_dir();
    if (shared) {
        static const struct {
            const char *file;
            int steps;
        } toks[] = {{"tokenizer.model.v1", 200},
                    {"mistral_instruct_tokenizer_240323.model.v3", 200},
                    {"mistral_instruct_tokenizer_241114.model.v7", 150},
                    {"tekken_240718.json", 60}};
        char path[512];
        snprintf(path, sizeof path, "%s/models/stories260K/tokenizer.model", shared);
        check_tokenizer(path, "stories", 300);
        for (size_t i = 0; i < sizeof toks / sizeof *toks; i++) {
            snprintf(path, sizeof path, "%s/tokenizers/mistral/%s", shared, toks[i].file);
            check_tokenizer(path, toks[i].file, toks[i].steps);
        }
    }
    return test_done("constraint");
}

/* jsonschema — JSON Schema into grammar rules (jsonschema.h).
 *
 * compile() reads one schema node: booleans, then the applicators (allOf,
 * $ref beside other keywords, anyOf beside other keywords) are merged into
 * one plain node (merge()), a bare $ref becomes the target's rule (made once,
 * compiled from a work list, so recursion is a recursive rule), a bare
 * anyOf/oneOf a rule of alternatives, and a plain node a rule per type. */
#include "grammar/jsonschema.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "grammar/charclass.h"
#include "grammar/jsontext.h"
#include "grammar/regex.h"
#include "grammar/schema.h"

typedef SchemaCtx Ctx;


int schema_fail(Ctx *c, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set("json schema: %s: %s", c->path.n ? c->path.p : "(root)", msg);
}

static size_t path_push(Ctx *c, const char *seg) {
    size_t n = c->path.n;
    bytebuf_putc(&c->path, '/');
    for (; *seg; seg++) {
        if (*seg == '~') bytebuf_push(&c->path, "~0", 2);
        else if (*seg == '/') bytebuf_push(&c->path, "~1", 2);
        else bytebuf_putc(&c->path, *seg);
    }
    return n;
}

static void path_pop(Ctx *c, size_t n) {
    c->path.n = n;
    if (c->path.p) c->path.p[n] = 0;
}

/* ------------------------------------------------------------- keywords -- */

static int in_list(const char *const *list, const char *s) {
    for (; *list; list++)
        if (!strcmp(*list, s)) return 1;
    return 0;
}

/* Keywords that constrain and are compiled; everything not here and not in
 * unsupported[] is an annotation or unknown, and ignored. */
static const char *const known[] = {"type", "properties", "required", "additionalProperties", "enum", "const", "anyOf",
                                    "oneOf", "allOf", "$ref", "items", "prefixItems", "additionalItems", "minItems",
                                    "maxItems", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
                                    "exclusiveMinimum", "exclusiveMaximum", NULL};
static const char *const unsupported[] = {
    "multipleOf", "uniqueItems", "patternProperties", "propertyNames", "dependentRequired", "dependencies",
    "dependentSchemas", "if", "then", "else", "not", "contains", "minContains", "maxContains", "minProperties",
    "maxProperties", "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef", NULL};

int schema_count(const cJSON *a) { return cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0; }

/* An unsupported keyword that constrains nothing here. */
static int trivial(Ctx *c, const cJSON *s, const cJSON *k) {
    const char *name = k->string;
    static const char *const maps[] = {"patternProperties", "dependentRequired", "dependentSchemas", "dependencies", NULL};
    if (in_list(maps, name) && cJSON_IsObject(k) && !k->child) return 1; /* {}: nothing */
    if (!strcmp(name, "uniqueItems")) return cJSON_IsFalse(k);
    if (!strcmp(name, "then") || !strcmp(name, "else")) return !cJSON_HasObjectItem(s, "if");
    if (!strcmp(name, "if")) return !cJSON_HasObjectItem(s, "then") && !cJSON_HasObjectItem(s, "else");
    if (!strcmp(name, "minProperties"))
        return cJSON_IsNumber(k) && k->valuedouble <= schema_count(cJSON_GetObjectItemCaseSensitive(s, "required"));
    if (!strcmp(name, "maxProperties")) {
        const cJSON *ap = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
        int closed = cJSON_IsFalse(ap) || (!ap && c->strict);
        return closed && cJSON_IsNumber(k) && k->valuedouble >= (props ? cJSON_GetArraySize(props) : 0) +
                                                                     schema_count(cJSON_GetObjectItemCaseSensitive(s, "required"));
    }
    return 0;
}

int schema_check_keywords(Ctx *c, const cJSON *s) {
    for (const cJSON *k = s->child; k; k = k->next)
        if (k->string && in_list(unsupported, k->string) && !trivial(c, s, k)) return schema_fail(c, "%s is not supported", k->string);
    return 0;
}

int schema_type_bits(Ctx *c, const cJSON *type) {
    if (!type) return T_ALL;
    static const struct {
        const char *name;
        int bits;
    } names[] = {{"null", T_NULL}, {"boolean", T_BOOL}, {"object", T_OBJ}, {"array", T_ARR},
                 {"string", T_STR}, {"integer", T_INT},  {"number", T_NUM | T_INT}};
    int mask = 0;
    const cJSON *one = type, *end = NULL;
    if (cJSON_IsArray(type)) one = type->child;
    else end = type->next; /* one item: stop after it */
    for (; one && one != end; one = one->next) {
        int found = 0;
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
            if (cJSON_IsString(one) && !strcmp(one->valuestring, names[i].name)) mask |= names[i].bits, found = 1;
        if (!found) return schema_fail(c, "type %s is unknown", cJSON_IsString(one) ? one->valuestring : "(not a string)");
        if (!cJSON_IsArray(type)) break;
    }
    return mask;
}

/* ------------------------------------------------------------------ refs -- */

/* The node a local $ref names ("#", "#/a/b~1c/0", percent-encoded). */
const cJSON *schema_resolve(Ctx *c, const char *ref) {
    if (ref[0] != '#' || (ref[1] && ref[1] != '/')) {
        schema_fail(c, "$ref '%s': only local references ('#' and '#/...') are supported", ref);
        return NULL;
    }
    const cJSON *n = c->root;
    for (const char *p = ref + 1; *p == '/';) {
        char seg[256];
        size_t k = 0;
        for (p++; *p && *p != '/'; p++) {
            char ch = *p;
            if (ch == '~' && (p[1] == '0' || p[1] == '1')) ch = p[1] == '0' ? '~' : '/', p++;
            else if (ch == '%' && p[1] && p[2] && strchr("0123456789abcdefABCDEF", p[1]) && strchr("0123456789abcdefABCDEF", p[2])) {
                char hex[3] = {p[1], p[2], 0};
                ch = (char)strtol(hex, NULL, 16), p += 2;
            }
            if (k + 1 >= sizeof seg) break;
            seg[k++] = ch;
        }
        seg[k] = 0;
        if (cJSON_IsArray(n)) {
            char *end;
            long i = strtol(seg, &end, 10);
            n = *seg && !*end && i >= 0 && i < INT_MAX ? cJSON_GetArrayItem(n, (int)i) : NULL;
        } else {
            n = cJSON_IsObject(n) ? cJSON_GetObjectItemCaseSensitive(n, seg) : NULL;
        }
        if (!n) {
            schema_fail(c, "$ref '%s' names nothing in the schema", ref);
            return NULL;
        }
    }
    return n;
}

static int ref_rule(Ctx *c, const cJSON *ref) {
    if (!cJSON_IsString(ref)) return schema_fail(c, "$ref must be a string");
    const cJSON *target = schema_resolve(c, ref->valuestring);
    if (!target) return -1;
    for (int i = 0; i < c->n_refs; i++)
        if (c->refs[i].node == target) return c->refs[i].rule;
    if (c->n_refs == c->cap_refs) {
        c->cap_refs = c->cap_refs ? 2 * c->cap_refs : 8;
        c->refs = xrealloc(c->refs, (size_t)c->cap_refs * sizeof *c->refs);
    }
    SchemaRef *r = &c->refs[c->n_refs++];
    r->node = target;
    r->rule = grammar_rule(c->g, "ref-%d", c->n_refs);
    r->path = xstrdup(ref->valuestring + 1);
    return r->rule;
}

/* --------------------------------------------------------------- helpers -- */

static const cJSON *get(const cJSON *s, const char *key) { return cJSON_GetObjectItemCaseSensitive(s, key); }

static int new_rule(Ctx *c, const char *what) { return grammar_rule(c->g, "%s-%d", what, ++c->t.count); }

static void alt1(Ctx *c, int rule, int sub) {
    Sym s = sym_rule(sub);
    grammar_alt(c->g, rule, &s, 1);
}

/* A non-negative integer keyword (minItems...): its value, def when absent,
 * -2 with err set when it is not one. */
static long count_kw(Ctx *c, const cJSON *s, const char *key, long def) {
    const cJSON *k = get(s, key);
    if (!k) return def;
    if (!cJSON_IsNumber(k) || k->valuedouble < 0 || k->valuedouble != floor(k->valuedouble) || k->valuedouble > 1e9)
        return schema_fail(c, "%s must be a non-negative integer", key), -2;
    return (long)k->valuedouble;
}

static int compile(Ctx *c, const cJSON *s);

/* compile() of a sub-schema at path key (and index i when i >= 0). */
static int compile_at(Ctx *c, const cJSON *s, const char *key, const char *key2, int i) {
    size_t n = path_push(c, key);
    if (key2) path_push(c, key2);
    if (i >= 0) {
        char seg[24];
        snprintf(seg, sizeof seg, "%d", i);
        path_push(c, seg);
    }
    int r = compile(c, s);
    path_pop(c, n);
    return r;
}

/* ------------------------------------------------------- enum and const -- */

int schema_value_type(const cJSON *v) {
    if (cJSON_IsNull(v)) return T_NULL;
    if (cJSON_IsBool(v)) return T_BOOL;
    if (cJSON_IsObject(v)) return T_OBJ;
    if (cJSON_IsArray(v)) return T_ARR;
    if (cJSON_IsString(v)) return T_STR;
    return v->valuedouble == floor(v->valuedouble) ? T_INT : T_NUM;
}

static int compile_enum(Ctx *c, const cJSON *s, int mask) {
    for (const cJSON *k = s->child; k; k = k->next)
        if (k->string && in_list(known, k->string) && strcmp(k->string, "type") && strcmp(k->string, "enum") &&
            strcmp(k->string, "const"))
            return schema_fail(c, "enum/const together with %s is not supported", k->string);
    const cJSON *e = get(s, "enum"), *k = get(s, "const");
    if (e && !cJSON_IsArray(e)) return schema_fail(c, "enum must be an array");
    int r = new_rule(c, "enum");
    ByteBuf b = {0};
    for (const cJSON *v = k ? k : e->child; v; v = k ? NULL : v->next) {
        if (!(schema_value_type(v) & mask)) continue;
        b.n = 0;
        if (jsontext_dump(&b, v)) {
            bytebuf_free(&b);
            return schema_fail(c, "%s: %s", k ? "const" : "enum", err_msg());
        }
        alt1(c, r, jsontext_literal(&c->t, b.p, b.n));
    }
    bytebuf_free(&b);
    return r;
}

/* --------------------------------------------------------------- objects -- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

typedef struct {
    int lo, hi;  /* names[lo..hi) share their first off bytes */
    size_t off;
    int rule;
} TrieNode;

/* "\"" key "\"" for every key whose value is none of names[0..n): a trie
 * walked breadth first (no recursion): at each node the key may end (when
 * the prefix is no name), go on with a child's character, or take another
 * character and then anything. */
static int key_except(Ctx *c, const char **names, int n) {
    Grammar *g = c->g;
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    CharSet all = {0};
    charset_add(&all, 0, CHARSET_MAX);
    int any = charset_rule(g, &c->t.cache, "keychar", &all, 1);
    int any_star = grammar_repeat(g, "keychars", sym_rule(any), 0, -1);
    charset_free(&all);
    TrieNode *q = xmalloc(sizeof *q);
    int nq = 1, cap = 1;
    q[0] = (TrieNode){0, n, 0, new_rule(c, "key")};
    int top = q[0].rule, rc = 0;
    for (int h = 0; h < nq && !rc; h++) {
        TrieNode t = q[h];
        int i = t.lo;
        if (i < t.hi && strlen(names[i]) == t.off) i++; /* a name ends here (the sort puts it first) */
        else grammar_alt(g, t.rule, NULL, 0);
        CharSet used = {0};
        while (i < t.hi) {
            uint32_t cp;
            int len = charclass_decode(names[i] + t.off, strlen(names[i] + t.off), &cp);
            if (!len) {
                rc = schema_fail(c, "property name '%s' is not valid UTF-8", names[i]);
                break;
            }
            int j = i + 1;
            while (j < t.hi && !strncmp(names[j] + t.off, names[i] + t.off, (size_t)len)) j++;
            CharSet one = {0};
            charset_add(&one, cp, cp);
            charset_add(&used, cp, cp);
            int ch = charset_rule(g, &c->t.cache, "keychar", &one, 1);
            charset_free(&one);
            if (nq == cap) q = xrealloc(q, (size_t)(cap *= 2) * sizeof *q);
            q[nq] = (TrieNode){i, j, t.off + (size_t)len, new_rule(c, "key")};
            Sym seq[] = {sym_rule(ch), sym_rule(q[nq].rule)};
            grammar_alt(g, t.rule, seq, 2);
            nq++;
            i = j;
        }
        charset_negate(&used);
        Sym other[] = {sym_rule(charset_rule(g, &c->t.cache, "keychar", &used, 1)), sym_rule(any_star)};
        grammar_alt(g, t.rule, other, 2);
        charset_free(&used);
    }
    free(q);
    return rc ? -1 : jsontext_quoted(&c->t, top);
}

typedef struct {
    const char *name;
    const cJSON *schema;
    int required;
} Prop;

/* kv ::= "\"name\"" ws ":" ws value ws (key: a rule, or -1 for the name) */
static void kv_seq(Ctx *c, SymVec *seq, const char *name, int key, int value) {
    if (key >= 0) {
        symvec_push(seq, sym_rule(key));
    } else {
        ByteBuf b = {0};
        jsontext_dump_string(&b, name);
        grammar_literal(c->g, seq, b.p, b.n);
        bytebuf_free(&b);
    }
    jsontext_ws(&c->t, seq);
    symvec_push(seq, grammar_byte(c->g, ':'));
    jsontext_ws(&c->t, seq);
    symvec_push(seq, sym_rule(value));
    jsontext_ws(&c->t, seq);
}

static int compile_object(Ctx *c, const cJSON *s) {
    Grammar *g = c->g;
    const cJSON *props = get(s, "properties"), *req = get(s, "required"), *ap = get(s, "additionalProperties");
    if (props && !cJSON_IsObject(props)) return schema_fail(c, "properties must be an object");
    if (req && !cJSON_IsArray(req)) return schema_fail(c, "required must be an array");
    for (const cJSON *r = req ? req->child : NULL; r; r = r->next)
        if (!cJSON_IsString(r)) return schema_fail(c, "required must list strings");
    int closed = ap ? cJSON_IsFalse(ap) : c->strict;
    int n = 0, rc = -1;
    Prop *p = xmalloc(((size_t)cJSON_GetArraySize(props) + (size_t)schema_count(req) + 1) * sizeof *p);
    const char **names = NULL;
    for (const cJSON *x = props ? props->child : NULL; x; x = x->next) {
        int dup = 0;
        for (int i = 0; i < n && !dup; i++) dup = !strcmp(p[i].name, x->string);
        if (!dup) p[n++] = (Prop){x->string, x, 0};
    }
    for (const cJSON *r = req ? req->child : NULL; r; r = r->next) {
        int i = 0;
        while (i < n && strcmp(p[i].name, r->valuestring)) i++;
        if (i == n) {
            if (closed) { /* it cannot appear: no object (an anyOf branch may be so) */
                rc = new_rule(c, "nothing");
                goto done;
            }
            p[n++] = (Prop){r->valuestring, ap, 0};
        }
        p[i].required = 1;
    }
    int *value = xmalloc(((size_t)n + 1) * sizeof *value);
    for (int i = 0; i < n; i++) {
        const cJSON *sch = p[i].schema ? p[i].schema : NULL;
        value[i] = sch ? compile_at(c, sch, sch == ap ? "additionalProperties" : "properties", sch == ap ? NULL : p[i].name, -1)
                       : jsontext_value(&c->t);
        if (value[i] < 0) {
            free(value);
            goto done;
        }
    }
    /* the rest after the declared ones: B (after a member) and A (first) */
    int tail_b = new_rule(c, "object-rest"), tail_a = new_rule(c, "object-rest");
    grammar_alt(g, tail_b, NULL, 0);
    grammar_alt(g, tail_a, NULL, 0);
    if (!closed) {
        int addl = ap && !cJSON_IsTrue(ap) ? compile_at(c, ap, "additionalProperties", NULL, -1) : jsontext_value(&c->t);
        names = xmalloc(((size_t)n + 1) * sizeof *names);
        for (int i = 0; i < n; i++) names[i] = p[i].name;
        int key = addl < 0 ? -1 : key_except(c, names, n);
        if (key < 0) {
            free(value);
            goto done;
        }
        int kv = new_rule(c, "object-extra");
        SymVec seq = {0};
        kv_seq(c, &seq, NULL, key, addl);
        grammar_alt(g, kv, seq.v, seq.n);
        seq.n = 0; /* tail_b ::= tail_b "," ws kv */
        symvec_push(&seq, sym_rule(tail_b)), symvec_push(&seq, grammar_byte(g, ','));
        jsontext_ws(&c->t, &seq), symvec_push(&seq, sym_rule(kv));
        grammar_alt(g, tail_b, seq.v, seq.n);
        Sym first[] = {sym_rule(kv), sym_rule(tail_b)};
        grammar_alt(g, tail_a, first, 2);
        symvec_free(&seq);
    }
    int b_next = tail_b, a_next = tail_a;
    for (int i = n - 1; i >= 0; i--) {
        int b = new_rule(c, "object-b"), a = new_rule(c, "object-a");
        SymVec seq = {0};
        symvec_push(&seq, grammar_byte(g, ',')), jsontext_ws(&c->t, &seq);
        kv_seq(c, &seq, p[i].name, -1, value[i]);
        symvec_push(&seq, sym_rule(b_next));
        grammar_alt(g, b, seq.v, seq.n);
        seq.n = 0;
        kv_seq(c, &seq, p[i].name, -1, value[i]);
        symvec_push(&seq, sym_rule(b_next));
        grammar_alt(g, a, seq.v, seq.n);
        symvec_free(&seq);
        if (!p[i].required) alt1(c, b, b_next), alt1(c, a, a_next);
        b_next = b, a_next = a;
    }
    free(value);
    rc = new_rule(c, "object");
    SymVec seq = {0};
    symvec_push(&seq, grammar_byte(g, '{')), jsontext_ws(&c->t, &seq);
    symvec_push(&seq, sym_rule(a_next)), symvec_push(&seq, grammar_byte(g, '}'));
    grammar_alt(g, rc, seq.v, seq.n);
    symvec_free(&seq);
done:
    free(p);
    free(names);
    return rc;
}

/* ---------------------------------------------------------------- arrays -- */

/* "," ws value ws, repeated min..max times (max -1: no bound) */
static int more_items(Ctx *c, int value, long min, long max) {
    int one = new_rule(c, "array-more");
    SymVec seq = {0};
    symvec_push(&seq, grammar_byte(c->g, ',')), jsontext_ws(&c->t, &seq);
    symvec_push(&seq, sym_rule(value)), jsontext_ws(&c->t, &seq);
    grammar_alt(c->g, one, seq.v, seq.n);
    symvec_free(&seq);
    char name[32];
    snprintf(name, sizeof name, "array-items-%d", ++c->t.count);
    return grammar_repeat(c->g, name, sym_rule(one), (int)min, (int)max);
}

static int compile_array(Ctx *c, const cJSON *s) {
    Grammar *g = c->g;
    const cJSON *items = get(s, "items"), *prefix = get(s, "prefixItems"), *rest = items;
    if (prefix && !cJSON_IsArray(prefix)) return schema_fail(c, "prefixItems must be an array");
    const char *pre_key = "prefixItems", *rest_key = "items";
    if (cJSON_IsArray(items)) { /* draft 4-7 tuples */
        if (prefix) return schema_fail(c, "items as an array beside prefixItems");
        prefix = items, rest = get(s, "additionalItems"), pre_key = "items", rest_key = "additionalItems";
    }
    long m = count_kw(c, s, "minItems", 0), M = count_kw(c, s, "maxItems", -1);
    if (m < -1 || M < -1) return -1;
    long k = schema_count(prefix);
    int rest_ok = !cJSON_IsFalse(rest);
    if (!rest_ok && (M < 0 || M > k)) M = k;
    if (M >= 0 && m > M) return schema_fail(c, "no array has minItems %ld and at most %ld items", m, M);
    if (m > JSONTEXT_MAX_REPEAT || (M >= 0 ? M - m : 0) > JSONTEXT_MAX_REPEAT)
        return schema_fail(c, "minItems/maxItems past %d are not supported", JSONTEXT_MAX_REPEAT);
    long k_eff = M >= 0 && M < k ? M : k;
    int rest_value = -1;
    if (rest_ok && (M < 0 || M > k_eff)) {
        rest_value = rest ? compile_at(c, rest, rest_key, NULL, -1) : jsontext_value(&c->t);
        if (rest_value < 0) return -1;
    }
    /* tail: what may follow the first j items, built from j = k_eff down */
    int tail = new_rule(c, "array-tail");
    if (rest_value >= 0) {
        long lo = m > k_eff ? m - k_eff : 0, hi = M < 0 ? -1 : M - k_eff;
        if (k_eff == 0) lo = lo > 0 ? lo - 1 : 0, hi = hi < 0 ? -1 : hi - 1; /* the first item is not in the tail */
        alt1(c, tail, more_items(c, rest_value, lo, hi));
    } else {
        grammar_alt(g, tail, NULL, 0);
    }
    SymVec seq = {0};
    for (long j = k_eff - 1; j >= 0; j--) {
        int value = compile_at(c, cJSON_GetArrayItem(prefix, (int)j), pre_key, NULL, (int)j);
        if (value < 0) return symvec_free(&seq), -1;
        int t = new_rule(c, "array-tail");
        seq.n = 0;
        if (j) symvec_push(&seq, grammar_byte(g, ',')), jsontext_ws(&c->t, &seq);
        symvec_push(&seq, sym_rule(value)), jsontext_ws(&c->t, &seq), symvec_push(&seq, sym_rule(tail));
        grammar_alt(g, t, seq.v, seq.n);
        if (j && j >= m) grammar_alt(g, t, NULL, 0); /* the array may end after j items */
        tail = t;
    }
    int r = new_rule(c, "array");
    seq.n = 0;
    symvec_push(&seq, grammar_byte(g, '[')), jsontext_ws(&c->t, &seq);
    if (m == 0) {
        symvec_push(&seq, grammar_byte(g, ']'));
        grammar_alt(g, r, seq.v, seq.n);
        seq.n--;
    }
    if (k_eff > 0) {
        symvec_push(&seq, sym_rule(tail));
    } else if (rest_value >= 0) {
        symvec_push(&seq, sym_rule(rest_value)), jsontext_ws(&c->t, &seq), symvec_push(&seq, sym_rule(tail));
    } else {
        return symvec_free(&seq), r; /* only [] */
    }
    symvec_push(&seq, grammar_byte(g, ']'));
    grammar_alt(g, r, seq.v, seq.n);
    symvec_free(&seq);
    return r;
}

/* ------------------------------------------------- strings and numbers -- */

static int compile_string(Ctx *c, const cJSON *s) {
    const cJSON *pat = get(s, "pattern"), *fmt = get(s, "format");
    long min = count_kw(c, s, "minLength", 0), max = count_kw(c, s, "maxLength", -1);
    if (min < -1 || max < -1) return -1;
    int lengths = min > 0 || max >= 0;
    if (pat && !cJSON_IsString(pat)) return schema_fail(c, "pattern must be a string");
    if (fmt && !cJSON_IsString(fmt)) return schema_fail(c, "format must be a string");
    if (fmt && (pat || lengths))
        return schema_fail(c, "format together with %s is not supported", pat ? "pattern" : "minLength/maxLength");
    if (max >= 0 && min > max) return schema_fail(c, "no string has minLength %ld and maxLength %ld", min, max);
    int r;
    if (pat) {
        char name[32];
        snprintf(name, sizeof name, "pattern-%d", ++c->t.count);
        r = regex_rule_len(c->g, name, pat->valuestring, strlen(pat->valuestring), REGEX_SEARCH | REGEX_JSON, min, max);
        if (r < 0) return schema_fail(c, "pattern%s: %s", lengths ? " with minLength/maxLength" : "", err_msg());
        return jsontext_quoted(&c->t, r);
    }
    if (fmt) r = jsontext_format(&c->t, fmt->valuestring);
    else r = jsontext_string_len(&c->t, min, max);
    return r < 0 ? schema_fail(c, "%s", err_msg()) : r;
}

/* One side's bound from the inclusive keyword and the exclusive one (a
 * number, or draft 4's boolean beside the inclusive one): the tighter. */
static int bound(Ctx *c, const cJSON *s, const char *incl, const char *excl, int lower, int *has, double *v, int *is_excl) {
    const cJSON *i = get(s, incl), *e = get(s, excl);
    *has = 0, *is_excl = 0;
    if (i && !cJSON_IsNumber(i)) return schema_fail(c, "%s must be a number", incl);
    if (e && !cJSON_IsNumber(e) && !cJSON_IsBool(e)) return schema_fail(c, "%s must be a number", excl);
    if (i) *has = 1, *v = i->valuedouble, *is_excl = cJSON_IsTrue(e);
    if (cJSON_IsNumber(e)) {
        double x = e->valuedouble;
        if (!*has || (lower ? x >= *v : x <= *v)) *has = 1, *v = x, *is_excl = 1;
    }
    return 0;
}

static int compile_number(Ctx *c, const cJSON *s, int integer) {
    JsonBounds b = {0};
    if (bound(c, s, "minimum", "exclusiveMinimum", 1, &b.has_lo, &b.lo, &b.lo_excl) ||
        bound(c, s, "maximum", "exclusiveMaximum", 0, &b.has_hi, &b.hi, &b.hi_excl))
        return -1;
    int r = integer ? jsontext_integer(&c->t, &b) : jsontext_number(&c->t, &b);
    return r < 0 ? schema_fail(c, "%s", err_msg()) : r;
}

/* ------------------------------------------------------------------ walk -- */

static int compile_plain(Ctx *c, const cJSON *s) {
    int mask = schema_type_bits(c, get(s, "type"));
    if (mask < 0) return -1;
    if (get(s, "enum") || get(s, "const")) return compile_enum(c, s, mask);
    int r = new_rule(c, "schema"), x;
    if (mask & T_OBJ) {
        if ((x = compile_object(c, s)) < 0) return -1;
        alt1(c, r, x);
    }
    if (mask & T_ARR) {
        if ((x = compile_array(c, s)) < 0) return -1;
        alt1(c, r, x);
    }
    if (mask & T_STR) {
        if ((x = compile_string(c, s)) < 0) return -1;
        alt1(c, r, x);
    }
    if (mask & (T_INT | T_NUM)) {
        if ((x = compile_number(c, s, !(mask & T_NUM))) < 0) return -1;
        alt1(c, r, x);
    }
    static const char *words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++)
        if (mask & (i < 2 ? T_BOOL : T_NULL)) alt1(c, r, jsontext_literal(&c->t, words[i], strlen(words[i])));
    return r;
}

static int compile_node(Ctx *c, const cJSON *s) {
    if (cJSON_IsTrue(s)) return jsontext_value(&c->t);
    if (cJSON_IsFalse(s)) return new_rule(c, "nothing"); /* no alternative */
    if (!cJSON_IsObject(s)) return schema_fail(c, "a schema must be an object or a boolean");
    if (schema_check_keywords(c, s)) return -1;
    const cJSON *ref = get(s, "$ref"), *any = get(s, "anyOf"), *one = get(s, "oneOf");
    int others = 0;
    for (const cJSON *k = s->child; k; k = k->next)
        others += k->string && in_list(known, k->string) && strcmp(k->string, "$ref") && strcmp(k->string, "anyOf") &&
                  strcmp(k->string, "oneOf");
    if (get(s, "allOf") || ((ref || any || one) && others) || (!!ref + !!any + !!one > 1)) {
        const cJSON *m = schema_merge(c, s);
        return m ? compile_node(c, m) : -1;
    }
    if (ref) return ref_rule(c, ref);
    if (any || one) {
        const cJSON *list = any ? any : one;
        if (!cJSON_IsArray(list) || !list->child) return schema_fail(c, "%s must be a non-empty array", any ? "anyOf" : "oneOf");
        if (one && schema_oneof_check(c, list, NULL)) return -1;
        int r = new_rule(c, "any-of"), i = 0;
        for (const cJSON *b = list->child; b; b = b->next, i++) {
            int x = compile_at(c, b, any ? "anyOf" : "oneOf", NULL, i);
            if (x < 0) return -1;
            alt1(c, r, x);
        }
        return r;
    }
    return compile_plain(c, s);
}

static int compile(Ctx *c, const cJSON *s) {
    if (c->depth >= JSONSCHEMA_MAX_DEPTH) return schema_fail(c, "schemas nested deeper than %d", JSONSCHEMA_MAX_DEPTH);
    if (c->g->n_rules - c->first_rule > JSONSCHEMA_MAX_RULES)
        return schema_fail(c, "schema too large (past %d grammar rules)", JSONSCHEMA_MAX_RULES);
    c->depth++;
    int r = compile_node(c, s);
    c->depth--;
    return r;
}

/* ------------------------------------------------------------------- API -- */

int jsonschema_rule(Grammar *g, const char *schema, size_t len, const JsonSchemaOptions *opt) {
    JsonSchemaOptions none = {0};
    if (!opt) opt = &none;
    if (opt->whitespace < 0 || opt->whitespace > 1024) return err_set("json schema: whitespace must be 0..1024");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(schema, len, &end, 0);
    if (!root) return err_set("json schema: not valid JSON (at byte %zu)", end ? (size_t)(end - schema) : (size_t)0);
    while (end && end < schema + len && strchr(" \t\r\n", *end) && *end) end++;
    if (end != schema + len) {
        cJSON_Delete(root);
        return err_set("json schema: not valid JSON (trailing text at byte %zu)", (size_t)(end - schema));
    }
    Ctx c = {.g = g, .strict = opt->strict, .root = root, .owned = cJSON_CreateArray(), .first_rule = g->n_rules};
    jsontext_init(&c.t, g, opt->whitespace);
    int r = compile(&c, root);
    for (int i = 0; r >= 0 && i < c.n_refs; i++) { /* the $ref targets (the list grows as they are compiled) */
        path_pop(&c, 0);
        bytebuf_push(&c.path, c.refs[i].path, strlen(c.refs[i].path));
        int x = compile(&c, c.refs[i].node);
        if (x < 0) r = -1;
        else alt1(&c, c.refs[i].rule, x);
    }
    for (int i = 0; i < c.n_refs; i++) free(c.refs[i].path);
    free(c.refs);
    bytebuf_free(&c.path);
    jsontext_free(&c.t);
    cJSON_Delete(c.owned);
    cJSON_Delete(root);
    return r;
}

int jsonschema_compile(Grammar *g, const char *schema, size_t len, const JsonSchemaOptions *opt) {
    int r = jsonschema_rule(g, schema, len, opt);
    if (r < 0) return -1;
    g->start = r;
    return grammar_finish(g);
}

int jsonschema_compile_any(Grammar *g, int what, const JsonSchemaOptions *opt) {
    JsonText t;
    if (opt && (opt->whitespace < 0 || opt->whitespace > 1024)) return err_set("json schema: whitespace must be 0..1024");
    jsontext_init(&t, g, opt ? opt->whitespace : 0);
    g->start = what == JSONSCHEMA_ANY_OBJECT ? jsontext_object(&t) : jsontext_value(&t);
    jsontext_free(&t);
    return grammar_finish(g);
}

/* schemamerge — allOf, and $ref or anyOf beside other keywords, merged
 * into one schema node (schema.h): types intersect, properties, required
 * and items combine keyword by keyword (a name's schemas as an allOf, to be
 * merged when it is compiled), bounds take the tighter, enums intersect,
 * pattern and format must agree, and an anyOf is distributed over the rest
 * (one group per level; the next level merges the next). Also oneOf's
 * disjointness check (schema_oneof_check), which reads branches through
 * their $refs and merges. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "grammar/schema.h"

typedef SchemaCtx Ctx;


/* A view of x to put into a made node (the node is owned by c->owned). */
static cJSON *view(const cJSON *x) {
    if (cJSON_IsObject(x)) return cJSON_CreateObjectReference(x->child);
    if (cJSON_IsArray(x)) return cJSON_CreateArrayReference(x->child);
    return cJSON_Duplicate(x, 1);
}

static cJSON *own(Ctx *c, cJSON *x) {
    cJSON_AddItemToArray(c->owned, x);
    return x;
}

/* {"allOf": list} (or the one schema itself). */
static cJSON *all_of(const cJSON *const *list, int n) {
    if (n == 1) return view(list[0]);
    cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "allOf");
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, view(list[i]));
    return o;
}

typedef struct {
    const cJSON **v;
    int n, cap;
} NodeVec;

static void nodevec_push(NodeVec *v, const cJSON *x) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 8;
        v->v = xrealloc(v->v, (size_t)v->cap * sizeof *v->v);
    }
    v->v[v->n++] = x;
}

static const cJSON *get(const cJSON *s, const char *key) { return cJSON_GetObjectItemCaseSensitive(s, key); }

/* Items of part at position i (prefixItems, or items as an array), or its
 * schema for the rest (items, or additionalItems after an items array). */
static const cJSON *prefix_of(const cJSON *p) {
    const cJSON *pre = get(p, "prefixItems");
    return pre ? pre : cJSON_IsArray(get(p, "items")) ? get(p, "items") : NULL;
}

static const cJSON *rest_of(const cJSON *p) {
    return cJSON_IsArray(get(p, "items")) ? get(p, "additionalItems")
           : get(p, "prefixItems") && get(p, "items") ? get(p, "items")
                                                       : get(p, "items");
}

/* The plain parts (no applicators) merged into one node, or NULL with err. */
static cJSON *merge_plain(Ctx *c, const NodeVec *parts) {
    cJSON *m = own(c, cJSON_CreateObject());
    NodeVec list = {0};
    /* type */
    int mask = T_ALL, typed = 0;
    for (int i = 0; i < parts->n; i++)
        if (get(parts->v[i], "type")) {
            int b = schema_type_bits(c, get(parts->v[i], "type"));
            if (b < 0) goto fail;
            mask &= b, typed = 1;
        }
    if (typed) {
        cJSON *ta = cJSON_AddArrayToObject(m, "type");
        static const char *const names[] = {"null", "boolean", "object", "array", "string"};
        for (int b = 0; b < 5; b++)
            if (mask & (1 << b)) cJSON_AddItemToArray(ta, cJSON_CreateString(names[b]));
        if (mask & (T_INT | T_NUM)) cJSON_AddItemToArray(ta, cJSON_CreateString(mask & T_NUM ? "number" : "integer"));
    }
    /* enum and const: the values every part allows */
    cJSON *inter = NULL; /* the intersection so far (NULL: no part has one) */
    for (int i = 0; i < parts->n; i++) {
        const cJSON *p = parts->v[i], *e = get(p, "enum"), *k = get(p, "const");
        cJSON *mine = cJSON_CreateArray();
        if (e && !cJSON_IsArray(e)) {
            cJSON_Delete(mine), cJSON_Delete(inter);
            schema_fail(c, "enum must be an array");
            goto fail;
        }
        for (const cJSON *x = e ? e->child : k; x; x = e ? x->next : NULL) /* enum, or [const], or both */
            if (!e || !k || cJSON_Compare(x, k, 1)) cJSON_AddItemToArray(mine, view(x));
        if (!e && !k) {
            cJSON_Delete(mine);
            continue;
        }
        if (!inter) {
            inter = mine;
            continue;
        }
        cJSON *keep = cJSON_CreateArray();
        for (const cJSON *x = inter->child; x; x = x->next) {
            int both = 0;
            for (const cJSON *y = mine->child; y && !both; y = y->next) both = cJSON_Compare(x, y, 1);
            if (both) cJSON_AddItemToArray(keep, view(x));
        }
        cJSON_Delete(mine), cJSON_Delete(inter);
        inter = keep;
    }
    if (inter) cJSON_AddItemToObject(m, "enum", inter);
    /* properties: a name's schema in each part is its own, or the part's
     * additionalProperties when it does not list the name */
    cJSON *props = NULL;
    for (int i = 0; i < parts->n; i++)
        for (const cJSON *p = get(parts->v[i], "properties") ? get(parts->v[i], "properties")->child : NULL; p; p = p->next) {
            if (!p->string || (props && get(props, p->string))) continue;
            list.n = 0;
            for (int j = 0; j < parts->n; j++) {
                const cJSON *own_p = get(get(parts->v[j], "properties"), p->string);
                const cJSON *ap = get(parts->v[j], "additionalProperties");
                if (own_p) nodevec_push(&list, own_p);
                else if (ap) nodevec_push(&list, ap);
            }
            if (!props) props = cJSON_AddObjectToObject(m, "properties");
            cJSON_AddItemToObject(props, p->string, all_of(list.v, list.n));
        }
    list.n = 0;
    for (int i = 0; i < parts->n; i++)
        if (get(parts->v[i], "additionalProperties")) nodevec_push(&list, get(parts->v[i], "additionalProperties"));
    if (list.n) cJSON_AddItemToObject(m, "additionalProperties", all_of(list.v, list.n));
    cJSON *req = NULL;
    for (int i = 0; i < parts->n; i++)
        for (const cJSON *r = get(parts->v[i], "required") ? get(parts->v[i], "required")->child : NULL; r; r = r->next) {
            if (!req) req = cJSON_AddArrayToObject(m, "required");
            int seen = 0;
            for (const cJSON *x = req->child; x && !seen; x = x->next) seen = cJSON_Compare(x, r, 1);
            if (!seen) cJSON_AddItemToArray(req, view(r));
        }
    /* arrays: position by position when a part has a prefix */
    int k_max = -1;
    for (int i = 0; i < parts->n; i++)
        if (prefix_of(parts->v[i]) && schema_count(prefix_of(parts->v[i])) > k_max) k_max = schema_count(prefix_of(parts->v[i]));
    if (k_max >= 0) {
        cJSON *pre = cJSON_AddArrayToObject(m, "prefixItems");
        for (int pos = 0; pos < k_max; pos++) {
            list.n = 0;
            for (int i = 0; i < parts->n; i++) {
                const cJSON *pp = prefix_of(parts->v[i]), *x = pos < schema_count(pp) ? cJSON_GetArrayItem(pp, pos) : rest_of(parts->v[i]);
                if (x) nodevec_push(&list, x);
            }
            cJSON_AddItemToArray(pre, list.n ? all_of(list.v, list.n) : cJSON_CreateTrue());
        }
    }
    list.n = 0;
    for (int i = 0; i < parts->n; i++)
        if (rest_of(parts->v[i])) nodevec_push(&list, rest_of(parts->v[i]));
    if (list.n) cJSON_AddItemToObject(m, "items", all_of(list.v, list.n));
    /* bounds: the tighter; pattern and format: the same or an error */
    static const struct {
        const char *key;
        int larger; /* 1: keep the largest, 0: the smallest */
    } bounds[] = {{"minLength", 1}, {"minItems", 1}, {"minimum", 1}, {"exclusiveMinimum", 1},
                  {"maxLength", 0}, {"maxItems", 0}, {"maximum", 0}, {"exclusiveMaximum", 0}};
    for (size_t b = 0; b < sizeof bounds / sizeof *bounds; b++) {
        const cJSON *best = NULL;
        for (int i = 0; i < parts->n; i++) {
            const cJSON *x = get(parts->v[i], bounds[b].key);
            if (!x) continue;
            if (!cJSON_IsNumber(x)) {
                schema_fail(c, "allOf: %s must be a number to be merged (draft 4 boolean exclusive bounds are not)", bounds[b].key);
                goto fail;
            }
            if (!best || (bounds[b].larger ? x->valuedouble > best->valuedouble : x->valuedouble < best->valuedouble)) best = x;
        }
        if (best) cJSON_AddItemToObject(m, bounds[b].key, view(best));
    }
    static const char *const same[] = {"pattern", "format"};
    for (int s = 0; s < 2; s++) {
        const cJSON *first = NULL;
        for (int i = 0; i < parts->n; i++) {
            const cJSON *x = get(parts->v[i], same[s]);
            if (x && first && !cJSON_Compare(x, first, 1)) {
                schema_fail(c, "allOf: two different %ss cannot be merged", same[s]);
                goto fail;
            }
            if (x) first = x;
        }
        if (first) cJSON_AddItemToObject(m, same[s], view(first));
    }
    free(list.v);
    return m;
fail:
    free(list.v);
    return NULL;
}

/* s with its applicators merged: a node without allOf or $ref, with at
 * most an anyOf whose branches are {"allOf": [...]} still to merge. NULL
 * with err set on error. */
const cJSON *schema_merge(Ctx *c, const cJSON *s) {
    NodeVec todo = {0}, plain = {0}, groups = {0};
    const cJSON *out = NULL;
    nodevec_push(&todo, s);
    for (int steps = 0; todo.n; steps++) {
        const cJSON *p = todo.v[--todo.n];
        if (steps > 1000) {
            schema_fail(c, "allOf/$ref: more than 1000 schemas to merge (a cycle?)");
            goto done;
        }
        if (cJSON_IsTrue(p)) continue;
        if (cJSON_IsFalse(p)) {
            out = own(c, cJSON_CreateFalse());
            goto done;
        }
        if (!cJSON_IsObject(p)) {
            schema_fail(c, "allOf: a schema must be an object or a boolean");
            goto done;
        }
        if (schema_check_keywords(c, p)) goto done;
        const cJSON *all = get(p, "allOf"), *ref = get(p, "$ref");
        if (all && (!cJSON_IsArray(all) || !all->child)) {
            schema_fail(c, "allOf must be a non-empty array");
            goto done;
        }
        /* a stack: pushed last, taken first, so that the parts (and their
         * properties) keep the order node, $ref target, allOf items */
        for (int i = schema_count(all) - 1; i >= 0; i--) nodevec_push(&todo, cJSON_GetArrayItem(all, i));
        if (ref) {
            const cJSON *target = cJSON_IsString(ref) ? schema_resolve(c, ref->valuestring) : NULL;
            if (!target) {
                if (!cJSON_IsString(ref)) schema_fail(c, "$ref must be a string");
                goto done;
            }
            nodevec_push(&todo, target);
        }
        for (int k = 0; k < 2; k++) {
            const cJSON *any = get(p, k ? "oneOf" : "anyOf");
            if (!any) continue;
            if (!cJSON_IsArray(any) || !any->child) {
                schema_fail(c, "%s must be a non-empty array", k ? "oneOf" : "anyOf");
                goto done;
            }
            if (k && schema_oneof_check(c, any, p)) goto done;
            nodevec_push(&groups, any);
        }
        nodevec_push(&plain, p);
    }
    cJSON *m = merge_plain(c, &plain);
    if (!m || !groups.n) {
        out = m;
        goto done;
    }
    /* distribute the first anyOf: anyOf [allOf [m, other groups..., branch]] */
    cJSON *o = own(c, cJSON_CreateObject()), *alts = cJSON_AddArrayToObject(o, "anyOf");
    for (const cJSON *b = groups.v[0]->child; b; b = b->next) {
        cJSON *br = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(br, "allOf");
        cJSON_AddItemToArray(list, view(m));
        for (int gi = 1; gi < groups.n; gi++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddItemToObject(x, "anyOf", view(groups.v[gi]));
            cJSON_AddItemToArray(list, x);
        }
        cJSON_AddItemToArray(list, view(b));
        cJSON_AddItemToArray(alts, br);
    }
    out = o;
done:
    free(todo.v), free(plain.v), free(groups.v);
    return out;
}


/* ---------------------------------------------------- oneOf: disjoint -- */

/* A branch seen through its bare $refs and merged applicators (NULL with
 * err set), at most 32 refs deep. */
static const cJSON *branch_node(Ctx *c, const cJSON *s) {
    for (int hops = 0; hops < 32; hops++) {
        if (!cJSON_IsObject(s)) return s;
        const cJSON *ref = get(s, "$ref");
        if (get(s, "allOf") || (ref && s->child->next)) return schema_merge(c, s);
        if (!ref) return s;
        if (!cJSON_IsString(ref)) return schema_fail(c, "$ref must be a string"), NULL;
        if (!(s = schema_resolve(c, ref->valuestring))) return NULL;
    }
    return s;
}

/* The types a node's values may have: "type" and the enum/const values'. */
static int node_types(Ctx *c, const cJSON *s) {
    if (cJSON_IsFalse(s)) return 0;
    if (!cJSON_IsObject(s)) return T_ALL;
    int t = schema_type_bits(c, get(s, "type"));
    const cJSON *e = get(s, "enum"), *k = get(s, "const");
    if (t >= 0 && (k || cJSON_IsArray(e))) {
        int vt = 0;
        for (const cJSON *v = k ? k : e->child; v; v = k ? NULL : v->next) vt |= schema_value_type(v);
        t &= vt;
    }
    return t;
}

/* Number bounds as an interval. */
typedef struct {
    int has_lo, lo_excl, has_hi, hi_excl;
    double lo, hi;
} Interval;

static Interval interval_of(const cJSON *s) {
    Interval v = {0};
    const cJSON *x;
    if (cJSON_IsNumber(x = get(s, "minimum"))) v.has_lo = 1, v.lo = x->valuedouble, v.lo_excl = cJSON_IsTrue(get(s, "exclusiveMinimum"));
    if (cJSON_IsNumber(x = get(s, "exclusiveMinimum")) && (!v.has_lo || x->valuedouble >= v.lo)) v.has_lo = 1, v.lo = x->valuedouble, v.lo_excl = 1;
    if (cJSON_IsNumber(x = get(s, "maximum"))) v.has_hi = 1, v.hi = x->valuedouble, v.hi_excl = cJSON_IsTrue(get(s, "exclusiveMaximum"));
    if (cJSON_IsNumber(x = get(s, "exclusiveMaximum")) && (!v.has_hi || x->valuedouble <= v.hi)) v.has_hi = 1, v.hi = x->valuedouble, v.hi_excl = 1;
    return v;
}

/* a lies wholly below b. */
static int below(const Interval *a, const Interval *b) {
    return a->has_hi && b->has_lo && (a->hi < b->lo || (a->hi == b->lo && (a->hi_excl || b->lo_excl)));
}

/* 1 when no JSON value is valid under both a and b, provably by: their
 * types; their enum/const values; for objects, a property both require
 * whose schemas are disjoint (a discriminator); for numbers, bounds. 0 when
 * not proven, -1 with err set. */
static int disjoint(Ctx *c, const cJSON *a, const cJSON *b, int mask, int depth) {
    if (depth > 8) return 0;
    if (!(a = branch_node(c, a)) || !(b = branch_node(c, b))) return -1;
    int ta = node_types(c, a), tb = node_types(c, b);
    if (ta < 0 || tb < 0) return -1;
    int common = ta & tb & mask;
    if (!common) return 1;
    if (!cJSON_IsObject(a) || !cJSON_IsObject(b)) return 0;
    if (get(a, "anyOf") || get(a, "oneOf") || get(b, "anyOf") || get(b, "oneOf")) return 0;
    const cJSON *ea = get(a, "const") ? get(a, "const") : get(a, "enum");
    const cJSON *eb = get(b, "const") ? get(b, "const") : get(b, "enum");
    if (ea && eb) { /* two value lists: no value in both */
        int ka = !!get(a, "const"), kb = !!get(b, "const");
        for (const cJSON *x = ka ? ea : ea->child; x; x = ka ? NULL : x->next)
            for (const cJSON *y = kb ? eb : eb->child; y; y = kb ? NULL : y->next)
                if ((schema_value_type(x) & tb) && (schema_value_type(y) & ta) && cJSON_Compare(x, y, 1)) return 0;
        return 1;
    }
    if (ea || eb) return 0;
    if (common & (T_STR | T_ARR | T_BOOL | T_NULL)) return 0;
    if (common & (T_INT | T_NUM)) {
        Interval ia = interval_of(a), ib = interval_of(b);
        if (!below(&ia, &ib) && !below(&ib, &ia)) return 0;
    }
    if (common & T_OBJ) { /* a discriminator */
        const cJSON *ra = get(a, "required"), *rb = get(b, "required");
        const cJSON *pa = get(a, "properties"), *pb = get(b, "properties");
        int found = 0;
        for (const cJSON *x = cJSON_IsArray(ra) ? ra->child : NULL; x && !found; x = x->next) {
            if (!cJSON_IsString(x)) continue;
            int both = 0;
            for (const cJSON *y = cJSON_IsArray(rb) ? rb->child : NULL; y && !both; y = y->next)
                both = cJSON_IsString(y) && !strcmp(x->valuestring, y->valuestring);
            const cJSON *sa = get(pa, x->valuestring), *sb = get(pb, x->valuestring);
            if (!both || !sa || !sb) continue;
            int d = disjoint(c, sa, sb, T_ALL, depth + 1);
            if (d < 0) return -1;
            found = d;
        }
        if (!found) return 0;
    }
    return 1;
}

int schema_oneof_check(Ctx *c, const cJSON *list, const cJSON *beside) {
    if (!c->strict) return 0;
    int mask = beside ? node_types(c, beside) : T_ALL;
    if (mask < 0) return -1;
    int i = 0;
    for (const cJSON *a = list->child; a; a = a->next, i++) {
        int j = i + 1;
        for (const cJSON *b = a->next; b; b = b->next, j++) {
            int d = disjoint(c, a, b, mask, 0);
            if (d < 0) return -1;
            if (!d)
                return schema_fail(c, "oneOf: branches %d and %d may both match a value, and strict mode enforces oneOf "
                                      "exactly (branches must differ in type, const/enum, a required property's "
                                      "const/enum or type, or number bounds; anyOf accepts them)", i, j);
        }
    }
    return 0;
}

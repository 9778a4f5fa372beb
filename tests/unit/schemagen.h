/* schemagen — random JSON Schemas for the property tests: test_jsonschema
 * (random sentences of their grammars, checked by a C validator) and
 * test_guided_random (random logits under a Guide, checked by ajv in
 * tests/serve/property_test.mjs). Header-only (static functions), as
 * grammars.h is.
 *
 * The schemas use the keywords grammar/jsonschema.h supports: types and
 * type arrays, integer and number bounds (fractional ones too), string
 * lengths, patterns (with lengths too) and formats, enum and const, objects (properties, required,
 * additionalProperties false or a schema), arrays (items, prefixItems,
 * minItems, maxItems), anyOf, oneOf, allOf of two objects, and $ref into
 * $defs. Some have empty intersections (the compiler refuses those). */
#ifndef TESTS_SCHEMAGEN_H
#define TESTS_SCHEMAGEN_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

static inline uint64_t schemagen_rnd(uint64_t *rng, uint64_t n) { return splitmix64(rng) % n; }

static inline cJSON *schemagen_value(uint64_t *rng, int depth) {
    static const char *strs[] = {"a", "", "q\"uote", "back\\slash", "new\nline", "\xc3\xa9t\xc3\xa9", "tab\t", "x/y"};
    switch (schemagen_rnd(rng, depth > 1 ? 5 : 7)) {
    case 0: return cJSON_CreateString(strs[schemagen_rnd(rng, 8)]);
    case 1: return cJSON_CreateNumber((double)schemagen_rnd(rng, 2001) - 1000);
    case 2: return cJSON_CreateNumber(((double)schemagen_rnd(rng, 2001) - 1000) / 8);
    case 3: return cJSON_CreateNull();
    case 4: return cJSON_CreateBool(schemagen_rnd(rng, 2));
    case 5: {
        cJSON *a = cJSON_CreateArray();
        for (int i = (int)schemagen_rnd(rng, 3); i > 0; i--) cJSON_AddItemToArray(a, schemagen_value(rng, depth + 1));
        return a;
    }
    default: {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, strs[schemagen_rnd(rng, 8)], schemagen_value(rng, depth + 1));
        return o;
    }
    }
}

static inline void schemagen_bounds(cJSON *s, uint64_t *rng) {
    static const char *kw[] = {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"};
    int lo = (int)schemagen_rnd(rng, 41) - 20, span = (int)schemagen_rnd(rng, 30) + 2;
    double q = schemagen_rnd(rng, 3) ? 1 : 0.125; /* a third with fractional bounds */
    if (schemagen_rnd(rng, 2)) cJSON_AddNumberToObject(s, kw[schemagen_rnd(rng, 2)], lo * q);
    if (schemagen_rnd(rng, 2)) cJSON_AddNumberToObject(s, kw[2 + schemagen_rnd(rng, 2)], (lo + span) * q);
}

static inline cJSON *schemagen_schema(uint64_t *rng, int depth, cJSON *defs) {
    static const char *patterns[] = {"^[a-z]{1,3}$", "\\d", "^(ab|c)+$", "x?y", "^[^\"\\\\]*$", "\xc3\xa9", "^\\w+@\\w+\\.com$", "^.\\n$"};
    static const char *formats[] = {"date-time", "date", "time", "email", "uuid", "ipv4", "ipv6"};
    static const char *names[] = {"a", "b", "name", "a\"q", "\xc3\xa9", "x/y", "id"};
    cJSON *s = cJSON_CreateObject();
    switch (schemagen_rnd(rng, depth > 2 ? 6 : 12)) {
    case 0:
        cJSON_AddStringToObject(s, "type", "string");
        switch (schemagen_rnd(rng, 3)) {
        case 0: {
            int min = (int)schemagen_rnd(rng, 4);
            if (schemagen_rnd(rng, 2)) cJSON_AddNumberToObject(s, "minLength", min);
            if (schemagen_rnd(rng, 2)) cJSON_AddNumberToObject(s, "maxLength", min + (int)schemagen_rnd(rng, 5));
            break;
        }
        case 1:
            cJSON_AddStringToObject(s, "pattern", patterns[schemagen_rnd(rng, 8)]);
            if (schemagen_rnd(rng, 2)) cJSON_AddNumberToObject(s, "minLength", (double)schemagen_rnd(rng, 3));
            if (schemagen_rnd(rng, 2)) cJSON_AddNumberToObject(s, "maxLength", 2 + (double)schemagen_rnd(rng, 4));
            break;
        default: cJSON_AddStringToObject(s, "format", formats[schemagen_rnd(rng, 7)]);
        }
        break;
    case 1: cJSON_AddStringToObject(s, "type", "integer"), schemagen_bounds(s, rng); break;
    case 2: cJSON_AddStringToObject(s, "type", "number"); if (schemagen_rnd(rng, 2)) schemagen_bounds(s, rng); break;
    case 3: {
        static const char *t[] = {"boolean", "number", "string", "integer"}; /* with "null": distinct, as the meta-schema wants */
        cJSON *ta = cJSON_AddArrayToObject(s, "type");
        cJSON_AddItemToArray(ta, cJSON_CreateString(t[schemagen_rnd(rng, 4)]));
        cJSON_AddItemToArray(ta, cJSON_CreateString("null"));
        break;
    }
    case 4: {
        cJSON *e = cJSON_AddArrayToObject(s, "enum");
        for (int i = 1 + (int)schemagen_rnd(rng, 4); i > 0; i--) cJSON_AddItemToArray(e, schemagen_value(rng, 0));
        break;
    }
    case 5:
        if (depth > 2) break; /* {}: any value */
        cJSON_AddItemToObject(s, "const", schemagen_value(rng, 0));
        break;
    case 6: {
        cJSON_AddStringToObject(s, "type", "object");
        cJSON *p = cJSON_AddObjectToObject(s, "properties"), *r = cJSON_AddArrayToObject(s, "required");
        for (int i = (int)schemagen_rnd(rng, 4); i > 0; i--) {
            const char *nm = names[schemagen_rnd(rng, 7)];
            if (cJSON_GetObjectItemCaseSensitive(p, nm)) continue;
            cJSON_AddItemToObject(p, nm, schemagen_schema(rng, depth + 1, defs));
            if (schemagen_rnd(rng, 2)) cJSON_AddItemToArray(r, cJSON_CreateString(nm));
        }
        int ap = (int)schemagen_rnd(rng, 4);
        if (ap == 1) cJSON_AddFalseToObject(s, "additionalProperties");
        if (ap == 2) cJSON_AddItemToObject(s, "additionalProperties", schemagen_schema(rng, depth + 1, defs));
        break;
    }
    case 7: {
        cJSON_AddStringToObject(s, "type", "array");
        if (schemagen_rnd(rng, 2)) {
            cJSON *pre = cJSON_AddArrayToObject(s, "prefixItems");
            for (int i = 1 + (int)schemagen_rnd(rng, 2); i > 0; i--) cJSON_AddItemToArray(pre, schemagen_schema(rng, depth + 1, defs));
            if (schemagen_rnd(rng, 2)) cJSON_AddFalseToObject(s, "items");
        } else {
            cJSON_AddItemToObject(s, "items", schemagen_schema(rng, depth + 1, defs));
        }
        int min = (int)schemagen_rnd(rng, 3);
        if (schemagen_rnd(rng, 2)) cJSON_AddNumberToObject(s, "minItems", min);
        if (schemagen_rnd(rng, 2)) cJSON_AddNumberToObject(s, "maxItems", min + (int)schemagen_rnd(rng, 3));
        break;
    }
    case 8: {
        cJSON *a = cJSON_AddArrayToObject(s, schemagen_rnd(rng, 2) ? "anyOf" : "oneOf");
        for (int i = 1 + (int)schemagen_rnd(rng, 3); i > 0; i--) cJSON_AddItemToArray(a, schemagen_schema(rng, depth + 1, defs));
        break;
    }
    case 9: {
        cJSON *a = cJSON_AddArrayToObject(s, "allOf"), *x = cJSON_CreateObject(), *y = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "type", "object");
        cJSON *p = cJSON_AddObjectToObject(x, "properties");
        cJSON_AddItemToObject(p, "a", schemagen_schema(rng, depth + 1, defs));
        cJSON *py = cJSON_AddObjectToObject(y, "properties");
        cJSON_AddItemToObject(py, "b", schemagen_schema(rng, depth + 1, defs));
        cJSON *r = cJSON_AddArrayToObject(y, "required");
        cJSON_AddItemToArray(r, cJSON_CreateString(schemagen_rnd(rng, 2) ? "a" : "b"));
        cJSON_AddItemToArray(a, x), cJSON_AddItemToArray(a, y);
        break;
    }
    case 10: {
        cJSON *target = schemagen_schema(rng, depth + 1, defs); /* first: it may add defs, and names are unique */
        char name[16];
        snprintf(name, sizeof name, "d%d", cJSON_GetArraySize(defs));
        cJSON_AddItemToObject(defs, name, target);
        char ref[32];
        snprintf(ref, sizeof ref, "#/$defs/%s", name);
        cJSON_AddStringToObject(s, "$ref", ref);
        break;
    }
    default: break; /* {} */
    }
    return s;
}

/* A schema with its $defs (the $ref targets it made), owned by the caller. */
static inline cJSON *schemagen_root(uint64_t *rng) {
    cJSON *defs = cJSON_CreateObject();
    cJSON *root = schemagen_schema(rng, 0, defs);
    if (defs->child) cJSON_AddItemToObject(root, "$defs", defs);
    else cJSON_Delete(defs);
    return root;
}

/* 1 when msg (jsonschema_compile's error) is one a generated schema may
 * rightly get: an empty intersection (allOf, a $ref beside keywords, strict
 * closing an object that requires a name it does not list), or (strict) a
 * oneOf whose branches may overlap. */
static inline int schemagen_empty_error(const char *msg) {
    return strstr(msg, "matches nothing") || strstr(msg, "no integer") || strstr(msg, "no number") ||
           strstr(msg, "two different") || strstr(msg, "no array has") || strstr(msg, "no string has") || strstr(msg, "may both match");
}

#endif

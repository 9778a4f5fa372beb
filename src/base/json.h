/* json — JSON read and written exactly as Python's json module does
 * (json.loads, and json.dumps with its default separators ", " and ": ").
 *
 * Why not cJSON, which the project links for the files it only reads
 * (safetensors headers, config.json, tekken.json): mistral-common feeds
 * json.dumps(json.loads(s)) to the tokenizer, so every byte of the result
 * picks tokens, and cJSON differs from Python exactly there. It keeps
 * integers as doubles (Python keeps 12345678901234567890 exact), keeps a
 * repeated key twice (a dict keeps the first place and the last value), refuses
 * NaN and Infinity (json.loads reads them), prints 1e15 as "1e+15" and 100.0
 * as "100" (repr: "1000000000000000.0", "100.0"), writes ",", ":" and never
 * \uXXXX for non-ASCII. So both directions are written here, to Python's
 * rules. The chat encoding reads with them, and so does everything that
 * reads a chat request (the server's request bodies: one parse, one set of
 * rules, server/openai.c).
 *
 * A parsed document lives in an Arena (base/arena.h): every node and string
 * is freed by arena_free. */
#ifndef BASE_JSON_H
#define BASE_JSON_H

#include <stddef.h>

#include "base/arena.h"
#include "base/vec.h"

typedef enum { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_INT, JSON_FLOAT, JSON_STR, JSON_ARR, JSON_OBJ } JsonType;

typedef struct Json {
    JsonType type;
    int n;             /* ARR, OBJ: items */
    size_t len;        /* STR, INT: bytes at s */
    const char *s;     /* view (arena) STR: UTF-8, NUL-terminated, may hold NUL;
                          INT: the decimal digits, '-' first when negative */
    double num;        /* FLOAT (NaN and +-Infinity included) */
    struct Json *item; /* view (arena) ARR, OBJ: [n] values */
    struct Json *key;  /* view (arena) OBJ: [n] STR keys, each once, in first-seen order */
} Json;

/* Python's default recursion limit leaves room for about this many levels
 * of json.loads; past it Python raises RecursionError. */
#define JSON_PY_MAX_DEPTH 900

/* json.loads(s[0..n)) into *v, every node allocated in a. Strict as Python:
 * no trailing commas, comments or raw control characters in strings; but
 * NaN, Infinity and -Infinity are read, an integer stays its digits
 * (JSON_INT, "-0" read as "0"), a repeated key keeps its first place and
 * takes its last value. Refuses invalid UTF-8, nesting deeper than max_depth,
 * integers of more than 4300 digits (Python's int limit) and \u escapes
 * that leave a lone surrogate (no UTF-8 text can hold one).
 * Returns 0, or -1 with one error line ("expected ':' at byte 12"); then
 * *fatal (when fatal is not NULL) is 1 when Python would raise something
 * else than json.JSONDecodeError (those last four cases), 0 otherwise. *v is
 * undefined on error; what was allocated stays in the arena. */
int json_parse(Json *v, Arena *a, const char *s, size_t n, int max_depth, int *fatal);

/* The value of key in object o (the last one given in the text); NULL when
 * o is NULL or not an object, or has no such key. */
const Json *json_get(const Json *o, const char *key);

/* 1 when v is NULL (absent) or JSON null: Python's `d.get(key) is None`. */
int json_is_null(const Json *v);

/* json.dumps flags. Default (0) is ensure_ascii=False: non-ASCII is written
 * as it is (what mistral-common uses). JSON_ENSURE_ASCII is Python's default:
 * every character outside ' '..'~' as \uXXXX (lowercase hex), a character
 * above U+FFFF as its surrogate pair. */
enum { JSON_ENSURE_ASCII = 1 };

/* Appends json.dumps(v) to b. */
void json_dump(ByteBuf *b, const Json *v, int flags);

/* Appends json.dumps(str) for the UTF-8 string s[0..n) (NULs allowed):
 * quotes, \" \\ \n \r \t \b \f, other control characters as \u00XX. With
 * JSON_ENSURE_ASCII a byte that is not valid UTF-8 is written as \ufffd
 * (Python strings cannot hold one); without it, as it is. */
void json_dump_str(ByteBuf *b, const char *s, size_t n, int flags);

/* Appends json.dumps(x) for a float: float.__repr__ (the shortest string
 * that reads back; exponent form when the decimal exponent is < -4 or >= 16,
 * as 1e-05 and 1e+16), and NaN, Infinity, -Infinity. */
void json_dump_float(ByteBuf *b, double x);

#endif

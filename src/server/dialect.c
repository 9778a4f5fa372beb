/* dialect — what Anthropic's and OpenAI's Responses APIs share (dialect.h). */
#include "server/dialect.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "tok/chat.h"

/* ---- writing the OpenAI request ----------------------------------------- */

static void sep(ByteBuf *b) {
    if (b->n && !strchr("{[:", b->p[b->n - 1])) bytebuf_putc(b, ',');
}

void jw_key(ByteBuf *b, const char *key) {
    sep(b);
    if (!key) return;
    json_dump_str(b, key, strlen(key), 0);
    bytebuf_putc(b, ':');
}

void jw_str(ByteBuf *b, const char *key, const char *s, size_t n) {
    jw_key(b, key);
    json_dump_str(b, s, n, 0);
}

void jw_json(ByteBuf *b, const char *key, const Json *v) {
    jw_key(b, key);
    json_dump(b, v, 0);
}

void jw_open(ByteBuf *b, const char *key, char bracket) {
    jw_key(b, key);
    bytebuf_putc(b, bracket);
}

void jw_close(ByteBuf *b, char bracket) { bytebuf_putc(b, bracket); }

int dialect_call_id(ByteBuf *b, const char *key, const Json *id) {
    if (!id || id->type != JSON_STR) return 0;
    if (!memchr(id->s, 0, id->len) && chat_call_id_ok(id->s)) {
        jw_str(b, key, id->s, id->len);
        return 1;
    }
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then 9 base-62 digits */
    for (size_t i = 0; i < id->len; i++) h = (h ^ (unsigned char)id->s[i]) * 0x100000001b3ull;
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char s[9];
    for (int i = 0; i < 9; i++) s[i] = digits[h % 62], h /= 62;
    jw_str(b, key, s, 9);
    return 1;
}

int dialect_is(const Json *v, const char *lit) {
    return v && v->type == JSON_STR && v->len == strlen(lit) && !memcmp(v->s, lit, v->len);
}

int dialect_text_block(ByteBuf *b, const Json *blk, const char *const *text_types, const char *const *extra,
                       const char *where, ApiError *e) {
    const Json *type = json_get(blk, "type"), *text = json_get(blk, "text");
    int ok = 0;
    for (const char *const *t = text_types; *t && !ok; t++) ok = dialect_is(type, *t);
    if (!ok) {
        if (blk->type == JSON_OBJ && type && type->type == JSON_STR)
            return api_error(e, 400, where, "'%s': content blocks of type \"%.40s\" are not supported here", where,
                             type->s);
        return api_error(e, 400, where, "'%s' must be a {\"type\": \"%s\", \"text\": ...} block", where, text_types[0]);
    }
    for (int k = 0; k < blk->n; k++) {
        const Json *key = &blk->key[k];
        int known = dialect_is(key, "type") || dialect_is(key, "text");
        for (const char *const *x = extra; x && *x && !known; x++) known = dialect_is(key, *x);
        if (!known) return api_error(e, 400, where, "unknown field '%s.%.40s'", where, key->s);
    }
    if (!text || text->type != JSON_STR) return api_error(e, 400, where, "'%s.text' must be a string", where);
    jw_open(b, NULL, '{');
    jw_str(b, "type", "text", 4);
    jw_str(b, "text", text->s, text->len);
    jw_close(b, '}');
    return 0;
}

int dialect_content(ByteBuf *b, const Json *v, const char *const *text_types, const char *const *extra,
                    const char *where, ApiError *e) {
    if (v && v->type == JSON_STR) {
        jw_key(b, NULL);
        json_dump_str(b, v->s, v->len, 0);
        return 0;
    }
    if (!v || v->type != JSON_ARR)
        return api_error(e, 400, where, "'%s' must be a string or a list of content blocks", where);
    jw_open(b, NULL, '[');
    for (int i = 0; i < v->n; i++) {
        char w[96];
        snprintf(w, sizeof w, "%s[%d]", where, i);
        if (dialect_text_block(b, &v->item[i], text_types, extra, w, e)) return -1;
    }
    jw_close(b, ']');
    return 0;
}

int dialect_read(Json *root, Arena *a, const char *body, size_t len, const char *const *fields, ApiError *e) {
    if (json_parse(root, a, body, len, CHAT_MAX_DEPTH, NULL))
        return api_error(e, 400, NULL, "the body is not valid JSON: %s", err_msg());
    if (root->type != JSON_OBJ) return api_error(e, 400, NULL, "the body must be a JSON object");
    return api_only_fields(root, NULL, fields, e);
}

void dialect_copy(ByteBuf *b, const Json *root, const char *const (*pairs)[2]) {
    for (; pairs[0][0]; pairs++) {
        const Json *v = json_get(root, pairs[0][0]);
        if (!json_is_null(v)) jw_json(b, pairs[0][1], v);
    }
}

int dialect_parse(ApiRequest *q, int chat, const ByteBuf *b, const ApiConfig *cfg, int flags,
                  const char *const (*renames)[2], ApiError *e) {
    if (!api_parse_flags(q, chat, b->p, b->n, cfg, flags, e)) return 0;
    for (; renames && renames[0][0]; renames++)
        if (!strcmp(e->param, renames[0][0])) {
            snprintf(e->param, sizeof e->param, "%s", renames[0][1]);
            break;
        }
    return -1;
}

/* ---- rendering ------------------------------------------------------------ */

void dialect_sse(ByteBuf *out, const char *name, cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    bytebuf_push(out, "event: ", 7);
    bytebuf_push(out, name, strlen(name));
    bytebuf_push(out, "\ndata: ", 7);
    bytebuf_push(out, s, strlen(s));
    bytebuf_push(out, "\n\n", 2);
    free(s);
    cJSON_Delete(o);
}

void dialect_id(char *out, size_t n, const char *prefix, const void *salt) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^ (uint64_t)(size_t)salt;
    uint64_t y = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
    snprintf(out, n, "%s%016llx%08x", prefix, (unsigned long long)x, (unsigned)(y >> 32));
}

const char *dialect_stop_text(const ApiResponse *r, const ApiChoice *c) {
    const EngineParams *p = &r->q->p;
    if (c->finish != FINISH_STOP || !p->n_stop || c->has_calls) return NULL;
    ByteBuf text = {0};
    const char *best = NULL;
    size_t at = SIZE_MAX;
    if (!tokenizer_decode_text(r->cfg->tok, c->ids, c->n_ids, &text)) {
        for (int i = 0; i < p->n_stop; i++) { /* the stream cut at the first stop text to appear */
            size_t m = strlen(p->stops[i]);
            for (size_t k = 0; k + m <= text.n && k < at; k++)
                if (!memcmp(text.p + k, p->stops[i], m)) {
                    at = k, best = p->stops[i];
                    break;
                }
        }
    }
    bytebuf_free(&text);
    return best;
}

void dialect_content_of(const ApiChoice *c, const char **text, size_t *len) {
    if (c->has_calls) *text = c->calls.content, *len = c->calls.content_len;
    else *text = c->text.p ? c->text.p : "", *len = c->text.n;
}

/* test_chat — chat requests against mistral-common's golden encodings.
 *
 * Golden data (third party, read in place, never copied): $MISTRAL_SHARED
 * (default ../shared)/tokenizers/chat/<sample>/{sample.json, text_vN.txt,
 * tokens_vN.json} from mistral-common's tests/data/samples (v1: no_tools
 * only), with the tokenizers in tokenizers/mistral/. Formats without golden
 * ids (v7, Tekken) are checked against layouts derived from the golden
 * text: each control token kept, each text segment re-encoded with the
 * tokenizer under test; tekken_crosscheck_p13t.json gives mistral-common's
 * own ids for the head of a Tekken [SYSTEM_PROMPT] sequence. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "harness.h"
#include "tok/chat.h"
#include "tok/tokfile.h"

static const char *shared;
static Tokenizer tok_v1, tok_v3, tok_v7, tok_tek;
static int have_v1, have_v3, have_v7, have_tek;

static const char *const samples[] = {"get_weather_full", "get_weather_no_history",
                                      "get_weather_no_system_prompt", "no_tools",
                                      "parallel_calls", "several_calls"};
#define N_SAMPLES (int)(sizeof samples / sizeof samples[0])

static char *shared_file(const char *fmt, const char *a, const char *b, size_t *len) {
    char path[512], rel[256];
    snprintf(rel, sizeof rel, fmt, a, b);
    snprintf(path, sizeof path, "%s/tokenizers/%s", shared, rel);
    struct stat st;
    if (stat(path, &st) != 0) return NULL;
    return read_file(path, len);
}

static int parse_sample(ChatRequest *r, const char *sample) {
    size_t len;
    char *json = shared_file("chat/%s/sample.json", sample, "", &len);
    if (!json) return -1;
    int rc = chat_parse(r, json, len, sample);
    EXPECT(rc == 0, "%s", err_msg());
    free(json);
    return rc;
}

/* tokens_vN.json -> ids; 0 when absent. */
static int golden_ids(const char *sample, const char *ver, IntVec *ids) {
    size_t len;
    char *json = shared_file("chat/%s/tokens_%s.json", sample, ver, &len);
    if (!json) return 0;
    cJSON *root = cJSON_ParseWithLength(json, len), *toks = cJSON_GetObjectItem(root, "tokens"), *x;
    cJSON_ArrayForEach(x, toks) intvec_push(ids, x->valueint);
    cJSON_Delete(root);
    free(json);
    return 1;
}

/* The ids as text_vN.txt shows them: SentencePiece pieces concatenated. */
static char *render_spm(const Tokenizer *t, const IntVec *ids) {
    ByteBuf b = {0};
    bytebuf_push(&b, "", 0);
    for (int i = 0; i < ids->n; i++) bytebuf_push(&b, t->spm.piece[ids->v[i]], strlen(t->spm.piece[ids->v[i]]));
    return b.p;
}

static const char *const controls[] = {"<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]",
                                       "[/AVAILABLE_TOOLS]", "[TOOL_CALLS]", "[TOOL_RESULTS]",
                                       "[/TOOL_RESULTS]", "[TOOL_CONTENT]", "[SYSTEM_PROMPT]",
                                       "[/SYSTEM_PROMPT]"};

/* Ids for a rendered SentencePiece text: control tokens as themselves, each
 * text segment between them (its leading "▁" is SentencePiece's dummy prefix)
 * encoded with t, "▁" read as a space and <0x0A> as a newline. */
static void ids_from_text(const Tokenizer *t, const char *text, IntVec *out) {
    ByteBuf seg = {0};
    const char *p = text;
    for (;;) {
        size_t k = 0, nc = sizeof controls / sizeof controls[0];
        while (k < nc && (!*p || strncmp(p, controls[k], strlen(controls[k])))) k++;
        if (!*p || k < nc) {
            if (seg.n) {
                const char *s = seg.p;
                size_t n = seg.n;
                if (n && s[0] == ' ') s++, n--;
                EXPECT(tokenizer_encode(t, s, n, 0, out) == 0, "%s", err_msg());
                seg.n = 0;
            }
            if (!*p) break;
            int id = !strcmp(controls[k], "<s>") ? t->bos : !strcmp(controls[k], "</s>") ? t->eos
                                                                                           : tokenizer_special(t, controls[k]);
            EXPECT(id >= 0, "no %s", controls[k]);
            intvec_push(out, id);
            p += strlen(controls[k]);
        } else if (!strncmp(p, "\xe2\x96\x81", 3)) {
            bytebuf_putc(&seg, ' '), p += 3;
        } else if (!strncmp(p, "<0x0A>", 6)) {
            bytebuf_putc(&seg, '\n'), p += 6;
        } else {
            bytebuf_putc(&seg, *p++);
        }
    }
    bytebuf_free(&seg);
}

static int same_ids(const IntVec *a, const IntVec *b, const char *what) {
    int i = 0;
    while (i < a->n && i < b->n && a->v[i] == b->v[i]) i++;
    int ok = a->n == b->n && i == a->n;
    EXPECT(ok, "%s: %d vs %d ids, first difference at %d (%d vs %d)", what, a->n, b->n, i, i < a->n ? a->v[i] : -1,
           i < b->n ? b->v[i] : -1);
    return ok;
}

/* Replaces the first occurrence of `from` in *s by `to` (must occur). */
static void replace(char **s, const char *from, const char *to) {
    char *at = strstr(*s, from);
    EXPECT(at, "expected text not found: %.60s", from);
    if (!at) return;
    size_t a = (size_t)(at - *s), nf = strlen(from), nt = strlen(to), n = strlen(*s);
    char *r = xmalloc(n - nf + nt + 1);
    memcpy(r, *s, a), memcpy(r + a, to, nt), memcpy(r + a + nt, at + nf, n - a - nf + 1);
    free(*s);
    *s = r;
}

/* --------------------------------------------------- golden v1, v2, v3 -- */

static void test_golden(void) {
    static const char *const vers[] = {"v1", "v2", "v3"};
    int checked = 0;
    for (int s = 0; s < N_SAMPLES; s++)
        for (int v = 0; v < 3; v++) {
            IntVec want = {0}, got = {0};
            const Tokenizer *t = v == 0 ? (have_v1 ? &tok_v1 : NULL) : (have_v3 ? &tok_v3 : NULL);
            if (!t || !golden_ids(samples[s], vers[v], &want)) {
                intvec_free(&want);
                continue;
            }
            ChatRequest r;
            char what[128];
            snprintf(what, sizeof what, "%s %s", samples[s], vers[v]);
            if (parse_sample(&r, samples[s]) == 0) {
                int rc = chat_encode(t, chat_format_from_name(vers[v]), &r, &got);
                EXPECT(rc == 0, "%s: %s", what, err_msg());
                if (same_ids(&got, &want, what)) checked++;
                size_t len;
                char *text = shared_file("chat/%s/text_%s.txt", samples[s], vers[v], &len);
                if (text && strstr(text, "\xe2\x96\x81")) { /* parallel_calls' text_v2 is spelled with spaces */
                    char *mine = render_spm(t, &got);
                    EXPECT(!strcmp(mine, text), "%s: text differs:\n%s\n%s", what, mine, text);
                    free(mine);
                }
                free(text);
                chat_free(&r);
            }
            intvec_free(&want), intvec_free(&got);
        }
    fprintf(stderr, "golden: %d sample/format pairs match mistral-common\n", checked);
}

/* ------------------------------------------------------- v7 and Tekken -- */

/* get_weather_full as V7 lays it out, from the golden v3 text: each system
 * message in place as [SYSTEM_PROMPT], no system prompt in the last user
 * message, tool results as [TOOL_RESULTS]id[TOOL_CONTENT]content (raw). */
static char *v7_text_of_full(void) {
    char *t = shared_file("chat/%s/text_%s.txt", "get_weather_full", "v3", NULL);
    if (!t) return NULL;
    const char *sys1 = "\xe2\x96\x81" "Don't\xe2\x96\x81make\xe2\x96\x81" "assumptions\xe2\x96\x81"
                       "about\xe2\x96\x81what\xe2\x96\x81values\xe2\x96\x81to\xe2\x96\x81plug\xe2\x96\x81"
                       "into\xe2\x96\x81" "functions.";
    const char *sys2 = "\xe2\x96\x81" "Ask\xe2\x96\x81" "for\xe2\x96\x81" "clarification\xe2\x96\x81"
                       "if\xe2\x96\x81" "a\xe2\x96\x81user\xe2\x96\x81request\xe2\x96\x81is\xe2\x96\x81"
                       "ambiguous.";
    char head[1024], in_user[1024];
    snprintf(head, sizeof head, "<s>[SYSTEM_PROMPT]%s[/SYSTEM_PROMPT][SYSTEM_PROMPT]%s[/SYSTEM_PROMPT][INST]", sys1,
             sys2);
    snprintf(in_user, sizeof in_user, "[INST]%s<0x0A><0x0A>%s<0x0A><0x0A>", sys1, sys2 + 3);
    replace(&t, in_user, "[INST]\xe2\x96\x81");
    replace(&t, "<s>[INST]", head);
    replace(&t, "[TOOL_RESULTS]\xe2\x96\x81{\"content\":\xe2\x96\x81" "22,\xe2\x96\x81\"call_id\":\xe2\x96\x81"
                "\"123456789\"}",
            "[TOOL_RESULTS]\xe2\x96\x81" "123456789[TOOL_CONTENT]\xe2\x96\x81" "22");
    char *last = strstr(t, "[TOOL_RESULTS]\xe2\x96\x81{\"content\":");
    EXPECT(last, "no last tool result");
    if (last)
        strcpy(last, "[TOOL_RESULTS]\xe2\x96\x81" "123456789[TOOL_CONTENT]\xe2\x96\x81{\"2024-05-22\":\"22\","
                     "\"2024-05-23\":\"23\",\"2024-05-24\":\"24\",\"2024-05-25\":\"25\",\"2024-05-26\":\"26\"}"
                     "[/TOOL_RESULTS]");
    return t;
}

static void check_layout(const Tokenizer *t, int format, const char *sample, const char *text, const char *what) {
    ChatRequest r;
    IntVec got = {0}, want = {0};
    if (!text || parse_sample(&r, sample)) return;
    EXPECT(chat_encode(t, format, &r, &got) == 0, "%s: %s", what, err_msg());
    ids_from_text(t, text, &want);
    same_ids(&got, &want, what);
    if (t->kind == TOK_SPM) {
        char *mine = render_spm(t, &got);
        EXPECT(!strcmp(mine, text), "%s: text differs:\n%s\n%s", what, mine, text);
        free(mine);
    }
    EXPECT(got.n && got.v[0] == t->bos, "%s: no BOS first", what);
    chat_free(&r);
    intvec_free(&got), intvec_free(&want);
}

static void test_v7_and_tekken(void) {
    char *v7 = v7_text_of_full();
    if (have_v7) check_layout(&tok_v7, CHAT_V7, "get_weather_full", v7, "get_weather_full v7 (SentencePiece)");
    if (have_tek) {
        EXPECT(chat_format_default(&tok_tek) == CHAT_V3, "tekken_240718 is a v3 tokenizer");
        check_layout(&tok_tek, CHAT_V7, "get_weather_full", v7, "get_weather_full v7 (Tekken)");
        for (int s = 0; s < N_SAMPLES; s++) { /* "tekken" = v3 here: the golden v3 text, re-encoded */
            char what[128];
            snprintf(what, sizeof what, "%s tekken (v3)", samples[s]);
            char *v3 = shared_file("chat/%s/text_%s.txt", samples[s], "v3", NULL);
            check_layout(&tok_tek, CHAT_TEKKEN, samples[s], v3, what);
            free(v3);
        }
    }
    free(v7);
    /* v7 on the samples: the same as v3 where they do not differ (no system, tools or tool results) */
    if (have_v7) {
        char *v3 = shared_file("chat/%s/text_%s.txt", "no_tools", "v3", NULL);
        check_layout(&tok_v7, CHAT_V7, "no_tools", v3, "no_tools v7");
        free(v3);
        for (int s = 0; s < N_SAMPLES; s++) {
            ChatRequest r;
            IntVec got = {0};
            if (parse_sample(&r, samples[s])) continue;
            EXPECT(chat_encode(&tok_v7, CHAT_V7, &r, &got) == 0, "%s v7: %s", samples[s], err_msg());
            EXPECT(got.n > 10 && got.v[0] == tok_v7.bos, "%s v7", samples[s]);
            chat_free(&r), intvec_free(&got);
        }
    }
}

/* mistral-common's own ids for the head of a Tekken sequence with system
 * prompts (a v13 configuration of the same vocabulary; v7 lays it out alike). */
static void test_tekken_crosscheck(void) {
    size_t len;
    char *json = have_tek ? shared_file("chat/%s%s", "tekken_crosscheck_p13t.json", "", &len) : NULL;
    if (!json) {
        fprintf(stderr, "SKIP: tekken crosscheck (no tekken tokenizer or tekken_crosscheck_p13t.json)\n");
        return;
    }
    cJSON *root = cJSON_ParseWithLength(json, len), *x;
    IntVec head = {0}, got = {0};
    cJSON_ArrayForEach(x, cJSON_GetObjectItem(cJSON_GetObjectItem(root, "full_sequence_head"), "ids"))
        intvec_push(&head, x->valueint);
    ChatRequest r;
    if (parse_sample(&r, "get_weather_full") == 0) {
        EXPECT(chat_encode(&tok_tek, CHAT_V7, &r, &got) == 0, "%s", err_msg());
        EXPECT(head.n > 2 && got.n > head.n && !memcmp(got.v, head.v, (size_t)head.n * sizeof(int)),
               "the Tekken v7 sequence does not begin with mistral-common's [1, 17, ..., 18]");
        /* every segment's ids appear, in order */
        int from = 0;
        cJSON *seg;
        cJSON_ArrayForEach(seg, cJSON_GetObjectItem(root, "segments")) {
            IntVec ids = {0};
            cJSON_ArrayForEach(x, cJSON_GetObjectItem(seg, "ids")) intvec_push(&ids, x->valueint);
            int at = -1;
            for (int i = from; at < 0 && i + ids.n <= got.n; i++)
                if (!memcmp(got.v + i, ids.v, (size_t)ids.n * sizeof(int))) at = i;
            EXPECT(at >= 0, "segment \"%s\" not found in order", cJSON_GetObjectItem(seg, "text")->valuestring);
            if (at >= 0) from = at + ids.n;
            intvec_free(&ids);
        }
        chat_free(&r);
    }
    intvec_free(&head), intvec_free(&got);
    cJSON_Delete(root);
    free(json);
}

/* Ids that mistral-common's own unit tests assert (tests/test_tokenize_v1.py,
 * _v2, _v3, test_tokenizer_v7.py), here through requests. */
static void check_ids(const Tokenizer *t, int format, const char *request, const int *want, int n, const char *what) {
    ChatRequest r;
    IntVec got = {0}, w = {0};
    for (int i = 0; i < n; i++) intvec_push(&w, want[i]);
    EXPECT(chat_parse(&r, request, strlen(request), what) == 0, "%s: %s", what, err_msg());
    EXPECT(chat_encode(t, format, &r, &got) == 0, "%s: %s", what, err_msg());
    same_ids(&got, &w, what);
    chat_free(&r);
    intvec_free(&got), intvec_free(&w);
}

#define IDS(...) (const int[]){__VA_ARGS__}, (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int))
#define MSG(role, text) "{\"role\": \"" role "\", \"content\": \"" text "\"}"

static void test_reference_ids(void) {
    const char *abcd = "{\"continue_final_message\": true, \"messages\": [" MSG("system", "SYSTEM") ", "
                       MSG("user", "a") ", " MSG("assistant", "b") ", " MSG("user", "c") ", "
                       MSG("assistant", "d") "]}";
    if (have_v1)
        check_ids(&tok_v1, CHAT_V1, "{\"messages\": [" MSG("system", "SYSTEM") ", " MSG("user", "a") "]}",
                  IDS(1, 733, 16289, 28793, 17121, 22526, 13, 13, 28708, 733, 28748, 16289, 28793), "v1 system");
    if (have_v3) {
        check_ids(&tok_v3, CHAT_V2, "{\"continue_final_message\": true, \"messages\": [" MSG("user", "a") ", "
                  MSG("assistant", "b") ", " MSG("user", "c") ", " MSG("assistant", "d") "]}",
                  IDS(1, 3, 1032, 4, 1055, 2, 3, 1045, 4, 1049), "v2 abcd");
        check_ids(&tok_v3, CHAT_V3, abcd, IDS(1, 3, 1032, 4, 1055, 2, 3, 17889, 23294, 781, 781, 29485, 4, 1049),
                  "v3 system + continue");
    }
    if (have_tek)
        check_ids(&tok_tek, CHAT_TEKKEN, abcd, IDS(1, 3, 1097, 4, 1098, 2, 3, 101289, 58343, 1267, 1099, 4, 1100),
                  "tekken v3 system + continue");
    if (have_v7)
        check_ids(&tok_v7, CHAT_V7, "{\"continue_final_message\": true, \"messages\": [" MSG("user", "a") ", "
                  MSG("assistant", "b") "]}", IDS(1, 3, 1032, 4, 1055), "v7 continue");
}

/* --------------------------------------------------------- chat turns -- */

/* turn 1 + reply + EOS + turn 2 == chat_encode([system], user, assistant, user). */
static void check_turns(const Tokenizer *t, int format, const char *system, const char *what) {
    const char *u1 = "What's the result of 5 + 5?", *a1 = "The result of 5 + 5 is 10.", *u2 = "Thanks";
    char json[1024];
    snprintf(json, sizeof json,
             "{\"messages\": [%s%s%s{\"role\": \"user\", \"content\": \"%s\"}, {\"role\": \"assistant\", "
             "\"content\": \"%s\"}, {\"role\": \"user\", \"content\": \"%s\"}]}",
             system ? "{\"role\": \"system\", \"content\": \"" : "", system ? system : "", system ? "\"}, " : "", u1,
             a1, u2);
    ChatRequest r;
    IntVec whole = {0}, turns = {0};
    EXPECT(chat_parse(&r, json, strlen(json), what) == 0, "%s", err_msg());
    EXPECT(chat_encode(t, format, &r, &whole) == 0, "%s: %s", what, err_msg());
    EXPECT(chat_encode_turn(t, format, system, u1, 1, &turns) == 0, "%s: %s", what, err_msg());
    EXPECT(tokenizer_encode(t, a1, strlen(a1), 0, &turns) == 0, "%s", err_msg());
    intvec_push(&turns, t->eos);
    EXPECT(chat_encode_turn(t, format, system, u2, 0, &turns) == 0, "%s: %s", what, err_msg());
    same_ids(&turns, &whole, what);
    chat_free(&r);
    intvec_free(&whole), intvec_free(&turns);
}

static void test_turns(void) {
    if (have_v1) {
        check_turns(&tok_v1, CHAT_V1, NULL, "turns v1");
        check_turns(&tok_v1, CHAT_V1, "Be brief.", "turns v1 + system");
    }
    if (have_v3) {
        check_turns(&tok_v3, CHAT_V2, NULL, "turns v2");
        check_turns(&tok_v3, CHAT_V3, NULL, "turns v3");
        /* v2/v3 with a system prompt: it goes in the FIRST user message */
        IntVec turn = {0}, want = {0};
        EXPECT(chat_encode_turn(&tok_v3, CHAT_V3, "Be brief.", "Hi", 1, &turn) == 0, "%s", err_msg());
        intvec_push(&want, tok_v3.bos);
        intvec_push(&want, tokenizer_special(&tok_v3, "[INST]"));
        tokenizer_encode(&tok_v3, "Be brief.\n\nHi", 13, 0, &want);
        intvec_push(&want, tokenizer_special(&tok_v3, "[/INST]"));
        same_ids(&turn, &want, "v3 first turn with a system prompt");
        intvec_free(&turn), intvec_free(&want);
    }
    if (have_v7) {
        check_turns(&tok_v7, CHAT_V7, NULL, "turns v7");
        check_turns(&tok_v7, CHAT_V7, "Be brief.", "turns v7 + system");
    }
    if (have_tek) {
        check_turns(&tok_tek, CHAT_TEKKEN, NULL, "turns tekken (v3)");
        check_turns(&tok_tek, CHAT_V7, "Be brief.", "turns tekken v7 + system");
    }
    const Tokenizer *any = have_v3 ? &tok_v3 : have_tek ? &tok_tek : NULL;
    if (any) {
        IntVec out = {0};
        intvec_push(&out, 42);
        EXPECT(chat_encode_turn(any, CHAT_V3, NULL, NULL, 1, &out) == -1 && out.n == 1, "NULL user text");
        EXPECT(chat_encode_turn(any, CHAT_V3, NULL, "\xff", 1, &out) == -1 && out.n == 1, "invalid UTF-8");
        intvec_free(&out);
    }
}

/* ------------------------------------------------ JSON re-serialization -- */

/* The decoded sequence holds `want` (tekken decodes byte-exact). */
static void check_dumps(const char *request, int format, const char *want) {
    ChatRequest r;
    IntVec ids = {0};
    ByteBuf text = {0};
    EXPECT(chat_parse(&r, request, strlen(request), "dumps") == 0, "%s", err_msg());
    EXPECT(chat_encode(&tok_tek, format, &r, &ids) == 0, "%s", err_msg());
    tokenizer_decode(&tok_tek, ids.v, ids.n, &text);
    EXPECT(text.p && strstr(text.p, want), "\n  want %s\n  in   %s", want, text.p ? text.p : "");
    chat_free(&r);
    intvec_free(&ids), bytebuf_free(&text);
}

static void test_dumps(void) {
    if (!have_tek) {
        fprintf(stderr, "SKIP: JSON re-serialization (no Tekken tokenizer)\n");
        return;
    }
    /* json.dumps(json.loads(args), ensure_ascii=False), as Python 3 prints it */
    const char *req =
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", \"tool_calls\": "
        "[{\"id\": \"abcdefghi\", \"function\": {\"name\": \"f\", \"arguments\": \"{\\\"b\\\": 1.0, \\\"a\\\": "
        "[1e16, 0.0001, 1e-05, -0.0, 12345678901234567890123, 1E5, 2.5e-7, 0.1, 1.7976931348623157e308, 5e-324, "
        "1e400, -0, 123.456e2, 1e15, 0.00012], \\\"b\\\": \\\"\\u00e9\\\\n\\\\u0001\\\\ud83d\\\\ude00/\\\", \\\"c\\\": NaN, "
        "\\\"d\\\": {}, \\\"e\\\": []}\"}}]}, {\"role\": \"tool\", \"tool_call_id\": \"abcdefghi\", \"content\": "
        "\" 22 \"}]}";
    check_dumps(req, CHAT_V3,
                "[{\"name\": \"f\", \"arguments\": {\"b\": \"\xc3\xa9\\n\\u0001\xf0\x9f\x98\x80/\", \"a\": [1e+16, "
                "0.0001, 1e-05, -0.0, 12345678901234567890123, 100000.0, 2.5e-07, 0.1, 1.7976931348623157e+308, "
                "5e-324, Infinity, 0, 12345.6, 1000000000000000.0, 0.00012], \"c\": NaN, \"d\": {}, \"e\": []}, \"id\": \"abcdefghi\"}]");
    check_dumps(req, CHAT_V3, "{\"content\": 22, \"call_id\": \"abcdefghi\"}");
    check_dumps(req, CHAT_V7, "abcdefghi 22 "); /* v7: the raw content */
    /* not JSON: a string; empty: {}; arguments as an object; no id: none written */
    req = "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", \"tool_calls\": "
          "[{\"function\": {\"name\": \"f\", \"arguments\": \"\"}}, {\"function\": {\"name\": \"g\", "
          "\"arguments\": {\"k\": [true, null]}}}]}, {\"role\": \"tool\", \"name\": \"f\", \"content\": \"not "
          "{json\"}, {\"role\": \"tool\", \"name\": \"g\", \"content\": \"\"}]}";
    check_dumps(req, CHAT_V2, "[{\"name\": \"f\", \"arguments\": {}}, {\"name\": \"g\", \"arguments\": {\"k\": "
                              "[true, null]}}]");
    /* v2: consecutive tool results are one list */
    check_dumps(req, CHAT_V2, "[{\"name\": \"f\", \"content\": \"not {json\"}, {\"name\": \"g\", \"content\": {}}]");
    /* tools: description and parameters default, key order kept */
    req = "{\"tools\": [{\"function\": {\"name\": \"t\", \"parameters\": {\"z\": 1, \"a\": 2.50}, \"strict\": "
          "true}}], \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}";
    check_dumps(req, CHAT_V3, "[{\"type\": \"function\", \"function\": {\"name\": \"t\", \"description\": \"\", "
                              "\"parameters\": {\"z\": 1, \"a\": 2.5}}}]x");
}

/* ------------------------------------------------------- bad requests -- */

static void expect_bad(const char *json, const char *msg_part) {
    ChatRequest r;
    int rc = chat_parse(&r, json, strlen(json), "req.json");
    EXPECT(rc == -1, "accepted: %s", json);
    EXPECT(strstr(err_msg(), msg_part), "error \"%s\" lacks \"%s\"", err_msg(), msg_part);
    EXPECT(r.msg == NULL && r.arena == NULL && r.n_msg == 0, "request not zeroed");
    chat_free(&r);
}

static void expect_bad_encode(const Tokenizer *t, int format, const char *json, const char *msg_part) {
    ChatRequest r;
    IntVec out = {0};
    EXPECT(chat_parse(&r, json, strlen(json), "req.json") == 0, "%s", err_msg());
    EXPECT(chat_encode(t, format, &r, &out) == -1 && out.n == 0, "encoded: %s", json);
    EXPECT(strstr(err_msg(), msg_part), "error \"%s\" lacks \"%s\"", err_msg(), msg_part);
    chat_free(&r);
    intvec_free(&out);
}

#define U "{\"role\": \"user\", \"content\": \"hi\"}"
#define A "{\"role\": \"assistant\", \"content\": \"hello\"}"
#define CALL(id) "{\"role\": \"assistant\", \"tool_calls\": [{\"id\": \"" id "\", \"function\": {\"name\": \"f\", \"arguments\": \"{}\"}}]}"
#define TOOL(id) "{\"role\": \"tool\", \"tool_call_id\": \"" id "\", \"content\": \"ok\"}"

static void test_bad_requests(void) {
    expect_bad("not json", "not JSON");
    expect_bad("", "not JSON");
    expect_bad("{\"messages\": [" U "]} x", "not JSON");
    expect_bad("{\"messages\": [" U ",]}", "not JSON");
    expect_bad("{\"messages\": [{\"role\": \"user\", \"content\": \"a\x01\"}]}", "control character");
    expect_bad("{\"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}]}", "surrogate");
    expect_bad("{\"messages\": [{\"role\": \"user\", \"content\": \"\xc3\x28\"}]}", "UTF-8");
    expect_bad("[]", "JSON object");
    expect_bad("{}", "\"messages\" must be a non-empty list");
    expect_bad("{\"messages\": []}", "non-empty list");
    expect_bad("{\"messages\": {}}", "non-empty list");
    expect_bad("{\"messages\": [1]}", "messages[0] must be an object");
    expect_bad("{\"messages\": [{\"content\": \"x\"}]}", "has no role");
    expect_bad("{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}", "unknown chat role \"wizard\"");
    expect_bad("{\"messages\": [{\"role\": 3, \"content\": \"x\"}]}", "role must be a string");
    expect_bad("{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", "content must be a string");
    expect_bad("{\"messages\": [{\"role\": \"user\"}]}", "needs a content");
    expect_bad("{\"messages\": [{\"role\": \"user\", \"content\": null}]}", "needs a content");
    expect_bad("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}", "not supported");
    expect_bad("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\"}]}]}", "text must be");
    expect_bad("{\"messages\": [{\"role\": \"user\", \"content\": \"a\\u0000b\"}]}", "NUL");
    expect_bad("{\"messages\": [" U ", {\"role\": \"assistant\", \"tool_calls\": {}}, " TOOL("abcdefghi") "]}",
               "tool_calls must be a list");
    expect_bad("{\"messages\": [" U ", {\"role\": \"assistant\", \"tool_calls\": [1]}]}", "needs a \"function\"");
    expect_bad("{\"messages\": [" U ", {\"role\": \"assistant\", \"tool_calls\": [{\"function\": {}}]}]}",
               "no function name");
    expect_bad("{\"messages\": [" U ", {\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": "
               "\"a.b\"}}]}, " TOOL("abcdefghi") "]}",
               "function name");
    expect_bad("{\"messages\": [" U ", {\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": "
               "\"f\", \"arguments\": 3}}]}, " TOOL("abcdefghi") "]}",
               "arguments must be");
    expect_bad("{\"messages\": [" U ", {\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": "
               "\"f\", \"arguments\": \"\\\"\\\\ud800\\\"\"}}]}, " TOOL("abcdefghi") "]}",
               "surrogate");
    expect_bad("{\"messages\": [" U "], \"tools\": {}}", "tools must be a list");
    expect_bad("{\"messages\": [" U "], \"tools\": [{\"type\": \"function\"}]}", "tools[0]: needs a \"function\"");
    expect_bad("{\"messages\": [" U "], \"tools\": [{\"function\": {\"name\": \"f\", \"parameters\": []}}]}",
               "parameters must be an object");
    expect_bad("{\"messages\": [" U "], \"continue_final_message\": 1}", "continue_final_message");
    expect_bad("{\"messages\": [" U "], \"reasoning_effort\": \"high\"}", "reasoning_effort");
    /* structure */
    expect_bad("{\"messages\": [" A "]}", "start with a user or system");
    expect_bad("{\"messages\": [" U ", " A "]}", "last message");
    expect_bad("{\"messages\": [" U ", " TOOL("abcdefghi") "]}", "unexpected role \"tool\" after role \"user\"");
    expect_bad("{\"messages\": [" U ", " A ", {\"role\": \"system\", \"content\": \"s\"}]}",
               "unexpected role \"system\" after role \"assistant\"");
    expect_bad("{\"messages\": [" U ", " CALL("abcdefghi") ", " U ", " A ", " U "]}", "number of function calls");
    expect_bad("{\"messages\": [" U ", {\"role\": \"assistant\", \"content\": \"a\", \"prefix\": true}, " U "]}",
               "prefix");
    char deep[2000];
    int n = 0;
    n += snprintf(deep + n, sizeof deep - (size_t)n, "{\"messages\": [" U "], \"x\": ");
    for (int i = 0; i < 300; i++) deep[n++] = '[';
    for (int i = 0; i < 300; i++) deep[n++] = ']';
    deep[n++] = '}', deep[n] = 0;
    expect_bad(deep, "nested too deeply");

    /* what the formats add */
    const Tokenizer *t = have_v3 ? &tok_v3 : have_tek ? &tok_tek : NULL;
    if (!t) return;
    expect_bad_encode(t, CHAT_V3, "{\"messages\": [" U ", " CALL("abc") ", " TOOL("abcdefghi") "]}",
                      "tool call id \"abc\"");
    expect_bad_encode(t, CHAT_V3, "{\"messages\": [" U ", " CALL("abcdefghi") ", {\"role\": \"tool\", "
                                  "\"content\": \"ok\"}]}",
                      "tool_call_id");
    expect_bad_encode(t, CHAT_V1, "{\"messages\": [" U ", " CALL("abcdefghi") ", " TOOL("abcdefghi") "]}",
                      "v2 or later");
    const char *both = "{\"messages\": [" U ", {\"role\": \"assistant\", \"content\": \"a\", \"tool_calls\": [{\"id\": "
                       "\"abcdefghi\", \"function\": {\"name\": \"f\", \"arguments\": \"{}\"}}]}, " TOOL("abcdefghi") "]}";
    expect_bad_encode(t, CHAT_V2, both, "not both");
    expect_bad_encode(t, CHAT_V3, "{\"messages\": [" U ", {\"role\": \"assistant\", \"content\": \"\", \"prefix\": "
                                  "true}]}",
                      "not both");
    expect_bad_encode(t, 5, "{\"messages\": [" U "]}", "unknown chat format");
    /* v7 takes content and tool calls together */
    const Tokenizer *t7 = have_v7 ? &tok_v7 : have_tek ? &tok_tek : NULL;
    if (t7) {
        ChatRequest r;
        IntVec out = {0};
        EXPECT(chat_parse(&r, both, strlen(both), "both") == 0, "%s", err_msg());
        EXPECT(chat_encode(t7, CHAT_V7, &r, &out) == 0, "%s", err_msg());
        chat_free(&r);
        intvec_free(&out);
    }
}

/* -------------------------------------------------- normalizer details -- */

static void check_same(const Tokenizer *t, int format, const char *a, const char *b, const char *what) {
    ChatRequest ra, rb;
    IntVec ia = {0}, ib = {0};
    EXPECT(chat_parse(&ra, a, strlen(a), what) == 0 && chat_parse(&rb, b, strlen(b), what) == 0, "%s: %s", what,
           err_msg());
    EXPECT(chat_encode(t, format, &ra, &ia) == 0 && chat_encode(t, format, &rb, &ib) == 0, "%s: %s", what,
           err_msg());
    same_ids(&ia, &ib, what);
    chat_free(&ra), chat_free(&rb);
    intvec_free(&ia), intvec_free(&ib);
}

static void test_normalizer(void) {
    const Tokenizer *t = have_v3 ? &tok_v3 : have_tek ? &tok_tek : NULL;
    if (!t) return;
    /* consecutive user messages and text chunks join with "\n\n"; empty ones vanish */
    check_same(t, CHAT_V3,
               "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"\"}, "
               "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"b\"}, {\"type\": \"text\", "
               "\"text\": \"c\"}]}]}",
               "{\"messages\": [{\"role\": \"user\", \"content\": \"a\\n\\nb\\n\\nc\"}]}", "user runs");
    /* v3: system prompts join and go to the last user message; a leading assistant gets an empty user first */
    check_same(t, CHAT_V3,
               "{\"messages\": [{\"role\": \"system\", \"content\": \"s1\"}, {\"role\": \"user\", \"content\": "
               "\"u1\"}, {\"role\": \"system\", \"content\": \"s2\"}, " A ", {\"role\": \"user\", \"content\": "
               "\"u2\"}]}",
               "{\"messages\": [{\"role\": \"user\", \"content\": \"u1\"}, " A ", {\"role\": \"user\", "
               "\"content\": \"s1\\n\\ns2\\n\\nu2\"}]}",
               "system prompts");
    /* v1-v3: a conversation that does not start with a user message gets an empty one first */
    check_same(t, CHAT_V3,
               "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, " A ", {\"role\": \"user\", "
               "\"content\": \"u\"}]}",
               "{\"messages\": [{\"role\": \"user\", \"content\": \"\"}, " A ", {\"role\": \"user\", "
               "\"content\": \"s\\n\\nu\"}]}",
               "leading assistant");
    /* assistant content: trailing spaces dropped (v2+) */
    check_same(t, CHAT_V3, "{\"messages\": [" U ", {\"role\": \"assistant\", \"content\": \"x  \"}, " U "]}",
               "{\"messages\": [" U ", {\"role\": \"assistant\", \"content\": \"x\"}, " U "]}", "rstrip");
    /* a system-only request: an empty user message carries the prompt */
    check_same(t, CHAT_V3, "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}]}",
               "{\"messages\": [{\"role\": \"user\", \"content\": \"s\\n\\n\"}]}", "system only");
    /* prefix: no EOS */
    ChatRequest r;
    IntVec out = {0};
    const char *pre = "{\"messages\": [" U ", {\"role\": \"assistant\", \"content\": \"Sure\", \"prefix\": true}]}";
    EXPECT(chat_parse(&r, pre, strlen(pre), "prefix") == 0, "%s", err_msg());
    EXPECT(chat_encode(t, CHAT_V3, &r, &out) == 0 && out.n && out.v[out.n - 1] != t->eos, "prefix: EOS written");
    chat_free(&r);
    intvec_free(&out);
    /* continue_final_message: the last assistant message without EOS */
    const char *cont = "{\"messages\": [" U ", " A "], \"continue_final_message\": true}";
    IntVec a = {0}, b = {0};
    EXPECT(chat_parse(&r, cont, strlen(cont), "continue") == 0, "%s", err_msg());
    EXPECT(chat_encode(t, CHAT_V3, &r, &a) == 0, "%s", err_msg());
    chat_free(&r);
    const char *ref = "{\"messages\": [" U ", {\"role\": \"assistant\", \"content\": \"hello\", \"prefix\": true}]}";
    EXPECT(chat_parse(&r, ref, strlen(ref), "prefix") == 0, "%s", err_msg());
    EXPECT(chat_encode(t, CHAT_V3, &r, &b) == 0, "%s", err_msg());
    same_ids(&a, &b, "continue_final_message == prefix");
    chat_free(&r);
    intvec_free(&a), intvec_free(&b);
}

static void test_formats(void) {
    EXPECT(chat_format_from_name("v1") == CHAT_V1 && chat_format_from_name("v2") == CHAT_V2 &&
               chat_format_from_name("v3") == CHAT_V3 && chat_format_from_name("v7") == CHAT_V7 &&
               chat_format_from_name("tekken") == CHAT_TEKKEN,
           "format names");
    EXPECT(chat_format_from_name("v4") == -1 && strstr(err_msg(), "unknown chat format"), "%s", err_msg());
    if (have_v1) EXPECT(chat_format_default(&tok_v1) == CHAT_V1, "v1 default");
    if (have_v3) EXPECT(chat_format_default(&tok_v3) == CHAT_V3, "v3 default");
    if (have_v7) EXPECT(chat_format_default(&tok_v7) == CHAT_V7, "v7 default");
    if (have_v3) {
        ChatRequest r;
        IntVec out = {0};
        EXPECT(chat_parse(&r, "{\"messages\": [" U "]}", strlen("{\"messages\": [" U "]}"), "x") == 0, "parse");
        EXPECT(chat_encode(&tok_v3, CHAT_TEKKEN, &r, &out) == -1 && strstr(err_msg(), "Tekken"), "%s", err_msg());
        if (have_v1)
            EXPECT(chat_encode(&tok_v1, CHAT_V3, &r, &out) == -1 && strstr(err_msg(), "[INST]"), "%s", err_msg());
        chat_free(&r);
        intvec_free(&out);
    }
    ChatRequest zero = {0};
    chat_free(&zero);
}

int main(void) {
    const char *env = getenv("MISTRAL_SHARED");
    shared = env && *env ? env : "../shared";
    char probe[512];
    struct stat st;
    snprintf(probe, sizeof probe, "%s/tokenizers/chat", shared);
    if (stat(probe, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found (set MISTRAL_SHARED to the shared folder); only the parser is tested\n",
                probe);
        test_bad_requests();
        test_formats();
        return test_done("test_chat");
    }
    have_v1 = test_load_tokenizer(&tok_v1, shared, "tokenizer.model.v1");
    have_v3 = test_load_tokenizer(&tok_v3, shared, "mistral_instruct_tokenizer_240323.model.v3");
    have_v7 = test_load_tokenizer(&tok_v7, shared, "mistral_instruct_tokenizer_241114.model.v7");
    have_tek = test_load_tokenizer(&tok_tek, shared, "tekken_240718.json");
    test_formats();
    test_golden();
    test_reference_ids();
    test_v7_and_tekken();
    test_tekken_crosscheck();
    test_turns();
    test_dumps();
    test_bad_requests();
    test_normalizer();
    if (have_v1) tokenizer_free(&tok_v1);
    if (have_v3) tokenizer_free(&tok_v3);
    if (have_v7) tokenizer_free(&tok_v7);
    if (have_tek) tokenizer_free(&tok_tek);
    return test_done("test_chat");
}

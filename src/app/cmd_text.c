/* cmd_text — mistral tokenize and mistral detokenize. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cli.h"
#include "app/commands.h"
#include "base/util.h"
#include "tok/chat.h"

int cmd_tokenize(const Options *o) {
    int sources = !!o->prompt + !!o->prompt_file + !!o->chat;
    if (sources != 1) usage_error(o->cmd, "%s", "give exactly one of -p TEXT, -f FILE, --chat REQUEST.json");
    Tokenizer tok;
    load_tokenizer(&tok, o);
    IntVec ids = {0};
    if (o->chat) {
        int fmt = o->chat_format ? chat_format_from_name(o->chat_format) : chat_format_default(&tok);
        if (fmt < 0) usage_error(o->cmd, "unknown --chat-format \"%s\" (v1, v2, v3, v7, tekken)", o->chat_format);
        size_t len;
        char *json = slurp(o->chat, &len);
        ChatRequest req;
        if (chat_parse(&req, json, len, o->chat) || chat_encode(&tok, fmt, &req, &ids))
            die("%s", err_msg());
        chat_free(&req);
        free(json);
    } else {
        size_t len;
        char *text = o->prompt ? xstrdup(o->prompt) : slurp(o->prompt_file, &len);
        if (o->prompt) len = strlen(text);
        if (tokenizer_encode(&tok, text, len, o->bos, &ids))
            die("%s: %s", o->prompt ? "-p" : o->prompt_file, err_msg());
        free(text);
    }
    for (int i = 0; i < ids.n; i++) printf(i ? " %d" : "%d", ids.v[i]);
    putchar('\n');
    intvec_free(&ids);
    tokenizer_free(&tok);
    return fflush(stdout) == 0 ? 0 : 1;
}

int cmd_detokenize(const Options *o) {
    if (!o->ids_list) usage_error(o->cmd, "%s", "missing --ids");
    Tokenizer tok;
    load_tokenizer(&tok, o);
    int n = 0;
    int *ids = NULL; /* an empty list decodes to nothing */
    if (strspn(o->ids_list, ", \t\r\n") != strlen(o->ids_list)) ids = parse_ids(o->ids_list, &n, "--ids");
    check_vocab(ids, n, tok.n_vocab, "--ids");
    ByteBuf text = {0};
    if (tokenizer_decode_text(&tok, ids, n, &text)) die("%s", err_msg());
    if (text.n) fwrite(text.p, 1, text.n, stdout);
    bytebuf_free(&text);
    free(ids);
    tokenizer_free(&tok);
    return fflush(stdout) == 0 ? 0 : 1;
}

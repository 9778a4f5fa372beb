/* cmd_quantize — mistral quantize SRC OUT.gguf --type TYPE [--imatrix FILE]:
 * a model in any layout model_load reads, written as a llama.cpp GGUF file
 * (model/quantize.h), with an importance matrix's weights (model/imatrix.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/cli.h"
#include "app/commands.h"
#include "base/util.h"
#include "model/quantize.h"
#include "tok/tokfile.h"
#include "tok/tokgguf.h"

/* Progress goes to stderr when it is a terminal or the model is this large. */
#define LARGE_PARAMS 50000000.0

typedef struct {
    int on, tty;
} Progress;

static void progress_cb(void *ud, int i, int n, const char *name, DType type, size_t bytes) {
    const Progress *p = ud;
    if (!p->on) return;
    fprintf(stderr, "%s[%*d/%d] %-28s %-5s %10.1f MB%s", p->tty ? "\r" : "", n >= 100 ? 3 : 2,
            i + 1, n, name, dtype_traits(type)->name, (double)bytes / 1e6, p->tty ? "" : "\n");
    if (p->tty && i + 1 == n) fputc('\n', stderr);
}

static double n_params(const Model *m) {
    const Config *c = &m->cfg;
    double per_layer = (double)c->dim * c->head_dim * (2.0 * c->n_heads + 2.0 * c->n_kv_heads) +
                       3.0 * c->dim * c->hidden_dim * (c->n_experts ? c->n_experts : 1);
    return 2.0 * c->n_vocab * c->dim + c->n_layers * per_layer;
}

/* general.name: the last component of the source path (of the working
 * directory for "."), without ".gguf". */
static char *model_name(const char *src) {
    char cwd[4096];
    if ((!strcmp(src, ".") || !strcmp(src, "./")) && getcwd(cwd, sizeof cwd)) src = cwd;
    char *s = xstrdup(src);
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/') s[--n] = 0;
    const char *slash = strrchr(s, '/');
    char *name = xstrdup(slash && slash[1] ? slash + 1 : s);
    free(s);
    n = strlen(name);
    if (n > 5 && !strcmp(name + n - 5, ".gguf")) name[n - 5] = 0;
    return name;
}

/* The source's tokenizer, loaded into t: a GGUF source's metadata, or the
 * tokenizer file of a source directory. 1 when there is one, 0 when there is
 * none; dies on one that does not load. */
static int source_tokenizer(Tokenizer *t, const char *src, const Model *m) {
    if (m->gguf.version > 0) {
        if (!gguf_find_kv(&m->gguf, "tokenizer.ggml.model")) return 0;
        if (tokenizer_from_gguf(t, &m->gguf)) die("%s", err_msg());
        return 1;
    }
    struct stat st;
    if (stat(src, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    char *path = tokenizer_find(src);
    if (!path) return 0;
    int rc = tokenizer_load(t, path);
    free(path);
    if (rc) die("%s", err_msg());
    return 1;
}

int cmd_quantize(const Options *o) {
    if (o->n_args != 2) usage_error(o->cmd, "%s", "expected SRC and OUT.gguf");
    if (!o->type) usage_error(o->cmd, "missing --type TYPE (%s)", quant_scheme_names());
    const QuantScheme *s = quant_scheme_find(o->type);
    if (!s) die("%s", err_msg());
    const char *src = o->args[0], *out = o->args[1];
    struct stat st_src, st_out;
    if (stat(src, &st_src) == 0 && stat(out, &st_out) == 0 && st_src.st_dev == st_out.st_dev &&
        st_src.st_ino == st_out.st_ino)
        die("%s: the output would overwrite the source", out);

    Imatrix im, *imp = NULL;
    if (o->imatrix) {
        if (imatrix_load(&im, o->imatrix)) die("%s", err_msg());
        imp = &im;
    }
    Model m;
    if (model_load(&m, src, NULL)) die("%s", err_msg());
    Tokenizer tok;
    int has_tok = source_tokenizer(&tok, src, &m);

    GGUFWriter w;
    gguf_writer_init(&w);
    char *name = model_name(src);
    quantize_add_metadata(&w, &m, s, name);
    free(name);
    if (imp) { /* what llama-quantize records of its importance matrix */
        gguf_writer_add_string(&w, "quantize.imatrix.file", o->imatrix);
        if (im.n_datasets) gguf_writer_add_string(&w, "quantize.imatrix.dataset", im.datasets[0]);
        gguf_writer_add_i32(&w, "quantize.imatrix.entries_count", im.n);
        gguf_writer_add_i32(&w, "quantize.imatrix.chunks_count", im.chunk_count);
    }
    if (has_tok && tokenizer_to_gguf(&tok, &w)) die("%s", err_msg());

    FILE *fp = fopen(out, "wb");
    if (!fp) die("%s: cannot write: %s", out, strerror(errno));
    struct stat st;
    int regular = fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode); /* not /dev/stdout */
    Progress p = {.tty = isatty(fileno(stderr))};
    p.on = p.tty || n_params(&m) >= LARGE_PARAMS;
    Quantized q;
    long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
    int n_threads = o->threads ? (int)o->threads : n_cpu > 0 ? (int)(n_cpu < 64 ? n_cpu : 64) : 1;
    int rc = quantize_add_tensors(&q, &w, &m, s, imp, n_threads, progress_cb, &p);
    if (rc == 0) {
        if (p.on) fprintf(stderr, "writing %s (%.1f MB)\n", out, (double)q.bytes / 1e6);
        rc = gguf_writer_write(&w, fp);
    }
    if (fclose(fp) && rc == 0) rc = err_set("%s: %s", out, strerror(errno));
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", err_msg());
        if (regular) unlink(out);
        die("%s%s%s", strstr(msg, out) ? "" : out, strstr(msg, out) ? "" : ": ", msg);
    }

    char types[256] = "";
    for (int t = 0; t < DT_COUNT; t++)
        if (q.n_type[t])
            snprintf(types + strlen(types), sizeof types - strlen(types), "%s%d %s",
                     types[0] ? ", " : "", q.n_type[t], dtype_traits((DType)t)->name);
    fprintf(stderr, "mistral quantize: wrote %s (%s): %d tensors (%s), %.1f MB", out, s->name,
            q.n_tensors, types, (double)q.bytes / 1e6);
    if (q.n_fallback)
        fprintf(stderr, "; %d with rows too short for the type's block fell back", q.n_fallback);
    if (imp) {
        fprintf(stderr, "; importance weights for %d", q.n_imatrix);
        if (q.n_no_imatrix) fprintf(stderr, " (%d quantized without: not in %s)", q.n_no_imatrix, o->imatrix);
    }
    fputs(has_tok ? "\n" : "; no tokenizer in the source: no vocabulary written\n", stderr);
    quantize_free(&q);
    gguf_writer_free(&w);
    if (imp) imatrix_free(imp);
    if (has_tok) tokenizer_free(&tok);
    model_free(&m);
    return 0;
}

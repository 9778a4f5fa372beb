/* cmd_imatrix — mistral imatrix -m MODEL -f TEXT: an importance matrix for
 * `mistral quantize --imatrix` (model/imatrix.h), computed as llama-imatrix
 * computes it, with the perplexity of the text on the way.
 *
 * The text is encoded (BOS first) and cut into chunks of --ctx tokens (512);
 * each chunk starts a fresh sequence with BOS in place of its first token and
 * runs through the model --chunk-size tokens per call, every matmul's input
 * rows added to the statistics of its weights. The second half of each
 * chunk's tokens is scored, as llama-imatrix scores them:
 *   PPL = exp(mean over those tokens of -log softmax(logits)[next token]). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cli.h"
#include "app/commands.h"
#include "base/util.h"
#include "model/imatrix.h"

#define IMATRIX_DEFAULT_CTX 512

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* -log p(target) under softmax(logits), in double. */
static double nll(const float *logits, int n, int target) {
    float mx = logits[0];
    for (int i = 1; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    return log(sum) - ((double)logits[target] - mx);
}

int cmd_imatrix(const Options *o) {
    if (!o->prompt_file) usage_error(o->cmd, "%s", "missing -f TEXT");
    const char *out = o->output ? o->output : "imatrix.gguf";
    int dat = o->out_format ? !strcmp(o->out_format, "dat") : ends_with(out, ".dat");
    Model m;
    load_model(&m, o);
    Tokenizer tok;
    load_tokenizer(&tok, o);
    size_t len;
    char *text = slurp(o->prompt_file, &len);
    IntVec ids = {0};
    if (tokenizer_encode(&tok, text, len, 1, &ids)) die("%s: %s", o->prompt_file, err_msg());
    free(text);
    check_vocab(ids.v, ids.n, m.cfg.n_vocab, o->prompt_file);
    int n_ctx = o->ctx ? (int)o->ctx : IMATRIX_DEFAULT_CTX;
    long skip = o->skip_chunks * (long)n_ctx;
    if (skip + 2L * n_ctx > ids.n)
        die("%s: %d tokens: at least %ld are needed for chunks of %d tokens%s", o->prompt_file, ids.n,
            skip + 2L * n_ctx, n_ctx, skip ? " after the skipped ones" : "");
    int n_chunk = (int)((ids.n - skip) / n_ctx);
    if (o->chunks > 0 && o->chunks < n_chunk) n_chunk = (int)o->chunks;
    const int *tokens = ids.v + skip;

    Context ctx;
    if (context_init(&ctx, &m, 1, n_ctx)) die("%s", err_msg());
    setup_context(&ctx, o, o->threads);
    prepare_model(&m, &ctx, o, NULL);
    ImatrixCollector col;
    imatrix_collector_init(&col, &m, o->process_output);
    imatrix_collector_attach(&col, &ctx);

    int V = m.cfg.n_vocab, batch = o->chunk_size > 0 ? (int)o->chunk_size : n_ctx;
    if (batch > n_ctx) batch = n_ctx;
    float *logits = xmalloc((size_t)n_ctx * V * sizeof(float));
    int *seq = xcalloc((size_t)batch, sizeof(int)), *chunk = xmalloc((size_t)n_ctx * sizeof(int));
    long *pos = xmalloc((size_t)batch * sizeof(long));
    double sum = 0, sum2 = 0, t0 = now_seconds();
    long scored = 0;
    fprintf(stderr, "mistral imatrix: %d chunks of %d tokens (%d tokens in %s)\n", n_chunk, n_ctx, ids.n,
            o->prompt_file);
    for (int c = 0; c < n_chunk; c++) {
        memcpy(chunk, tokens + (size_t)c * n_ctx, (size_t)n_ctx * sizeof(int));
        if (tok.bos >= 0) chunk[0] = tok.bos;
        kvcache_reset(&ctx.seqs[0]);
        for (int s = 0; s < n_ctx; s += batch) {
            int k = n_ctx - s < batch ? n_ctx - s : batch;
            for (int i = 0; i < k; i++) pos[i] = s + i;
            Batch b = {.n = k, .token = chunk + s, .seq = seq, .pos = pos};
            if (forward(&ctx, &b, logits + (size_t)s * V)) die("%s", err_msg());
        }
        for (int i = n_ctx / 2; i < n_ctx - 1; i++, scored++) { /* the next token is the text's, not BOS */
            double v = nll(logits + (size_t)i * V, V, tokens[(size_t)c * n_ctx + i + 1]);
            sum += v, sum2 += v * v;
        }
        if (c == 0) fprintf(stderr, "%.2f seconds per chunk\n", now_seconds() - t0);
        fprintf(stderr, "[%d]%.4f,", c + 1, exp(sum / scored));
    }
    fputc('\n', stderr);
    double mean = sum / scored, var = sum2 / scored - mean * mean;
    double ppl = exp(mean), err = var > 0 && scored > 1 ? sqrt(var / (scored - 1)) * ppl : 0;
    printf("perplexity: %.4f +/- %.5f over %ld tokens (%d chunks of %d)\n", ppl, err, scored, n_chunk, n_ctx);

    Imatrix im;
    imatrix_collector_result(&col, &im, o->prompt_file, n_chunk, n_ctx);
    FILE *f = fopen(out, "wb");
    if (!f) die("%s: cannot write", out);
    int rc = dat ? imatrix_write_dat(&im, f) : imatrix_write_gguf(&im, f);
    if (fclose(f) && rc == 0) rc = err_io("%s: write failed", out);
    if (rc) die("%s: %s", out, err_msg());
    int partial = 0;
    for (int i = 0; i < im.n; i++)
        for (int k = 0; k < im.e[i].n_mats; k++) partial += im.e[i].count[k] == 0;
    fprintf(stderr, "mistral imatrix: wrote %s (%s): %d tensors", out, dat ? "legacy .dat" : "GGUF", im.n);
    if (partial) fprintf(stderr, "; %d expert matrices saw no token (their weights are 1)", partial);
    fputc('\n', stderr);
    imatrix_free(&im);
    imatrix_collector_free(&col);
    free(logits), free(seq), free(chunk), free(pos);
    intvec_free(&ids);
    context_free(&ctx);
    tokenizer_free(&tok);
    model_free(&m);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* mistral — the command line (DESIGN.md §4): dispatch and help.
 * Every failure is one line on stderr and exit status 1 (2 for usage). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/cli.h"
#include "app/commands.h"

static const char *main_help =
    "usage: mistral COMMAND [options]\n"
    "\n"
    "Mistral and Mixtral inference on CPUs.\n"
    "\n"
    "commands:\n"
    "  generate     generate text or token ids after one or many prompts\n"
    "  chat         an interactive chat\n"
    "  logits       print the logits of a prompt as JSON\n"
    "  tokenize     text or a chat request -> token ids\n"
    "  detokenize   token ids -> text\n"
    "  info         what a model is: layout, sizes, windows, experts, tokenizer\n"
    "  quantize     write a model as a llama.cpp GGUF file (f32 ... q4_k_m)\n"
    "  perplexity   how well a model predicts a text\n"
    "  imatrix      an importance matrix for quantize --imatrix (llama.cpp's formats)\n"
    "  synth        write a random-weight model of a named shape (GGUF)\n"
    "  bench        prompt and generation tok/s, decode's share of bandwidth, prefill's of peak\n"
    "  serve        an OpenAI-compatible HTTP server with continuous batching\n"
    "\n"
    "mistral COMMAND --help shows a command's options.\n";

static const char *model_opts =
    "  -m, --model MODEL     model directory (native or Hugging Face) or .gguf file\n"
    "  --sliding-window N    override the model's attention window (0: full attention)\n"
    "  --chunk-size C        feed prompts C tokens per forward call (same result)\n"
    "  -t, --threads N       threads for the matrix products (default: one per CPU;\n"
    "                        the results do not depend on it)\n"
    "  --kv-type f32|f16     how the KV cache stores keys and values (default f32;\n"
    "                        f16 halves its memory and traffic, logits move ~1e-3)\n"
    "  --fast-bf16           BF16 weights meet activations rounded to bf16 (on CPUs\n"
    "                        with AVX512_BF16, vdpbf16ps: two products a lane); logits\n"
    "                        leave the exact path's but still do not depend on the\n"
    "                        batch, chunks or threads (default: exact fp32 products)\n"
    "  --mem-limit SIZE      a mixture larger than memory: the weights use at most SIZE\n"
    "                        (8G, 512M; K/M/G/T are powers of 1024): the dense part stays\n"
    "                        resident, the experts are read from the file into a cache of\n"
    "                        the rest, ahead of need (the same tokens as without it). The\n"
    "                        process holds more than SIZE: the KV cache (mistral info:\n"
    "                        bytes per token), activations for one forward call's tokens\n"
    "                        (--chunk-size), two read buffers of one expert matrix, the\n"
    "                        threads and the program; -v prints the peak (README)\n";

static const char *sampling_opts =
    "  --temperature T       0 is greedy (default 0)\n"
    "  --top-p P, --top-k K, --min-p P   sampling filters (defaults 1, 0, 0: off)\n"
    "  --seed S              sampler seed (default 0): the same seed, the same text\n"
    "  --presence-penalty P, --frequency-penalty F   OpenAI's penalties in [-2, 2]\n"
    "                        (default 0): logit -= P if the token was generated before,\n"
    "                        and F times the number of times it was\n"
    "  --repeat-penalty R    llama.cpp's (default 1: off): the logit of each token among\n"
    "                        the last N of prompt and output is divided by R (if > 0)\n"
    "                        or multiplied by R; --repeat-last-n N (default 64)\n"
    "structured output (at most one; the tokens are sampled only among those that keep\n"
    "the text a prefix of the language, and it ends where the text is complete):\n"
    "  --json-schema S       JSON valid under the JSON Schema S: a file, or inline JSON\n"
    "                        when S starts with '{' (keywords: README)\n"
    "  --json-strict         with --json-schema: additionalProperties false unless given\n"
    "  --json                any JSON object (response_format json_object)\n"
    "  --grammar FILE        a grammar in llama.cpp's GBNF (root ::= ...)\n"
    "  --regex RE            text the regular expression matches whole\n";

static const char *spec_opts =
    "speculative decoding (the same tokens as without it, greedy or seeded; README):\n"
    "  --draft MODEL         a smaller model with the same tokenizer drafts tokens that\n"
    "                        the model checks in one forward call\n"
    "  --lookup N            draft by prompt lookup: the tokens that followed the last\n"
    "                        occurrence of the text's final n-gram (n <= N, N in 1..64)\n"
    "  --draft-max K         the most tokens drafted per step (default 8 with --draft,\n"
    "                        4 with --lookup; at most 32); it adapts per sequence\n";

static const struct {
    const char *name;
    int (*run)(const Options *);
    const char *usage, *about, *opts;
    int model, sampling, spec;
} commands[] = {
    {"generate", cmd_generate,
     "mistral generate -m MODEL (-p TEXT | -f FILE | --tokens 1,5,9 | --tokens-file F) [-n N]\n"
     "                        [--ids] [--stop TEXT] [--ignore-eos] [sampling] [model options]\n"
     "                        [--json-schema S | --json | --grammar FILE | --regex RE]\n"
     "       mpirun -np N mistral generate ... [--pipeline [--layer-split A,B,..]] [--expert-parallel]",
     "Generates up to N tokens (default 256) after the prompt and streams the text,\n"
     "stopping at the end-of-sequence token or the stop text; prompt and generation\n"
     "speed go to stderr. --ids prints token ids instead. With --tokens-file, every\n"
     "line of F is a prompt of ids; all of them run in one batch and each gets its\n"
     "own output line, exactly the tokens it would get alone.\n",
     "  -p, --prompt TEXT     the prompt (BOS is added)\n"
     "  -f, --file FILE       the prompt, the file's exact bytes\n"
     "  --tokens IDS          the prompt as token ids, comma separated\n"
     "  --tokens-file F       one prompt of ids per line\n"
     "  -n N                  tokens to generate (default 256)\n"
     "  --ids                 print token ids, space separated\n"
     "  --stop TEXT           stop when the text appears (it is not printed)\n"
     "  --ignore-eos          keep going after the end-of-sequence token\n"
     "  --tokenizer FILE      tokenizer file (default: the model directory's)\n"
     "distribution (a build with make MPI=1, under mpirun -np N; the same ids as one process):\n"
     "  --pipeline            split the layers into N stages, one per process; the\n"
     "                        prompts of a batch run as micro-batches that overlap\n"
     "  --layer-split A,B,..  layers per stage (default: even)\n"
     "  --expert-parallel     each process computes 1/N of every MoE layer's experts;\n"
     "                        with --pipeline, the processes of each stage share its experts\n"
     "                        (--layer-split then gives the stages: N/stages processes each)\n"
     "  --dist-stats          each process prints its time, communication and memory\n"
     "  -v, --verbose         the peak resident memory, the weights' and the KV cache's\n"
     "                        share; with --mem-limit the expert cache's hits, reads,\n"
     "                        prediction accuracy and disk speed for prompt and generation\n",
     1, 1, 1},
    {"chat", cmd_chat, "mistral chat -m MODEL [--system TEXT] [-n N] [--ctx N] [sampling]\n"
     "                        [--json-schema S | --json | --grammar FILE | --regex RE]",
     "An interactive chat: type a message, get the reply. /reset starts over,\n"
     "/exit or Ctrl-D ends. The history stays in the KV cache as token ids; when it\n"
     "outgrows the attention window the model sees the most recent tokens. A\n"
     "structured-output option shapes every reply.\n",
     "  --system TEXT         system prompt\n"
     "  -n N                  longest reply in tokens (default 1024)\n"
     "  --ctx N               positions kept for layers without a window (default:\n"
     "                        the model's window, else 4096)\n"
     "  --chat-format F       v1, v2, v3, v7 or tekken (default: from the tokenizer)\n"
     "  --tokenizer FILE      tokenizer file (default: the model directory's)\n",
     1, 1, 1},
    {"logits", cmd_logits,
     "mistral logits -m MODEL --tokens 1,5,9 [--all] [model options]",
     "Feeds the tokens and prints {\"logits\": [[...]]} on stdout: the logits after\n"
     "the last token, or after every token with --all.\n",
     "  --tokens IDS          the prompt's token ids, comma separated\n"
     "  --all                 a row for every position\n",
     1, 0, 0},
    {"tokenize", cmd_tokenize,
     "mistral tokenize (-m MODEL | --tokenizer FILE) (-p TEXT | -f FILE | --chat REQUEST.json)\n"
     "                        [--bos] [--chat-format v1|v2|v3|v7|tekken]",
     "Prints the token ids of a text (space separated, one line), or of an\n"
     "OpenAI-style chat request {\"messages\": [...], \"tools\": [...]} encoded as the\n"
     "model sees it, ready for the assistant's reply.\n",
     "  -m, --model MODEL     take the tokenizer from this model directory\n"
     "  --tokenizer FILE      tokenizer.model[.vN] or tekken.json\n"
     "  -p TEXT, -f FILE      the text (a file's exact bytes)\n"
     "  --bos                 start with the BOS token\n"
     "  --chat REQUEST.json   encode a chat request\n"
     "  --chat-format F       v1, v2, v3, v7 or tekken (default: from the tokenizer)\n",
     0, 0, 0},
    {"detokenize", cmd_detokenize,
     "mistral detokenize (-m MODEL | --tokenizer FILE) --ids 1,2,3",
     "Writes the text of the token ids (no newline added).\n",
     "  -m, --model MODEL     take the tokenizer from this model directory\n"
     "  --tokenizer FILE      tokenizer.model[.vN] or tekken.json\n"
     "  --ids IDS             token ids, comma separated\n",
     0, 0, 0},
    {"info", cmd_info, "mistral info MODEL [--json] [--tokenizer FILE]",
     "Describes the model MODEL (a directory or a .gguf file): layout (native,\n"
     "Hugging Face, GGUF vN), hyperparameters, rope theta, attention windows per\n"
     "layer, experts, the tokenizer and its chat format, tensors and bytes by dtype,\n"
     "parameters, KV-cache bytes per token per sequence.\n",
     "  --json                print a JSON object instead of text\n"
     "  --tokenizer FILE      tokenizer file (default: the model's)\n",
     0, 0, 0},
    {"perplexity", cmd_perplexity,
     "mistral perplexity -m MODEL (-f FILE | -p TEXT) [--ctx N] [--kl-base MODEL0] [model options]",
     "Prints the model's perplexity on a text: the text is encoded (BOS first) and\n"
     "cut into windows of N tokens; each window starts afresh and every token\n"
     "after its first is scored by the logits of the tokens before it.\n",
     "  -f, --file FILE       the text (the file's exact bytes)\n"
     "  --ctx N               tokens per window (default 256)\n"
     "  --kl-base MODEL0      also run MODEL0 (e.g. the f32 model MODEL was quantized\n"
     "                        from) on the same windows: the mean KL divergence of\n"
     "                        MODEL's next-token distribution from MODEL0's, and how\n"
     "                        often their top tokens agree\n"
     "  --tokenizer FILE      tokenizer file (default: the model's)\n",
     1, 0, 0},
    {"imatrix", cmd_imatrix,
     "mistral imatrix -m MODEL -f TEXT [-o FILE] [--output-format gguf|dat] [--ctx 512] [--chunks N] [--chunk N]",
     "Computes an importance matrix as llama-imatrix does: the text (BOS first) is cut\n"
     "into chunks of --ctx tokens, each run from a fresh start with BOS first; for every\n"
     "weight matrix of the layers (each expert of a MoE layer on its own) the sum of the\n"
     "squared inputs per input column and the tokens it saw are kept. Prints the\n"
     "perplexity of each chunk's second half, as llama-imatrix does. The file is\n"
     "llama.cpp's GGUF imatrix (tensors NAME.in_sum2, NAME.counts) or, with\n"
     "--output-format dat or -o *.dat, its legacy .dat; llama-quantize reads both,\n"
     "and so does mistral quantize --imatrix.\n",
     "  -f, --file TEXT       the text (the file's exact bytes)\n"
     "  -o, --output FILE     the importance matrix (default imatrix.gguf)\n"
     "  --output-format F     gguf or dat (default: dat for -o *.dat, else gguf)\n"
     "  --ctx N               tokens per chunk (default 512, llama-imatrix's -c)\n"
     "  --chunks N            at most N chunks (default: all the text holds)\n"
     "  --chunk N             skip the first N chunks\n"
     "  --process-output      collect output.weight too (llama-imatrix's flag)\n"
     "  --tokenizer FILE      tokenizer file (default: the model's)\n",
     1, 0, 0},
    {"quantize", cmd_quantize, "mistral quantize SRC OUT.gguf --type TYPE [--imatrix FILE] [-t N]",
     "Writes the model SRC (any layout -m takes) as a GGUF file llama.cpp loads:\n"
     "llama.cpp's tensor names and metadata, SRC's tokenizer (its directory's file\n"
     "or a GGUF's metadata), weights converted to TYPE. Norms stay f32; the k-quant\n"
     "mixes keep some tensors at higher precision as llama-quantize does\n"
     "(output.weight q6_K, attn_v and ffn_down q6_K on some layers); rows too short\n"
     "for a type's block fall back (q4_K -> q5_0, q5_K -> q5_1, q6_K -> q8_0,\n"
     "q2_K/q3_K -> q4_0, iq4_xs -> iq4_nl, else f16). Types that need an importance\n"
     "matrix (iq1_*, iq2_*, q2_k_s) are refused.\n",
     "  --type TYPE           f32, f16, bf16, q8_0, q4_0, q4_k (llama.cpp's Q4_K_S; also\n"
     "                        q4_k_s), q5_k (Q5_K_S; also q5_k_s), q6_k, q4_k_m, q5_k_m,\n"
     "                        q2_k, q3_k_s, q3_k_m, q3_k_l, iq4_nl, iq4_xs\n"
     "                        (file types as llama-quantize makes them; case ignored)\n"
     "  --imatrix FILE        an importance matrix (mistral imatrix, llama-imatrix: GGUF\n"
     "                        or .dat): each matrix's quantization error is weighted by\n"
     "                        how large its inputs are, as llama-quantize --imatrix does\n"
     "  -t, --threads N       threads converting the rows (default: the CPUs, at most 64)\n",
     0, 0, 0},
    {"synth", cmd_synth, "mistral synth OUT.gguf --shape SHAPE --type TYPE [--seed S] [--tokenizer FILE]",
     "Writes a random-weight model of a named shape as a GGUF file (llama.cpp's names\n"
     "and metadata), to benchmark without weights; with --tokenizer the file carries\n"
     "that tokenizer (llama.cpp needs one to load it), else feed it token ids.\n"
     "Every matrix gets TYPE; norms and the MoE router stay f32. Tensors are written\n"
     "one at a time (8x7b at q4_0: 26 GB on disk, a few hundred MB in memory).\n",
     "  --shape SHAPE         tiny (dim 64), 1b (2048, 16 layers, ffn 7168), 7b (Mistral 7B),\n"
     "                        8x7b (Mixtral), moe-small (1024, 8 layers, 8 experts top-2),\n"
     "                        tiny-moe, tiny-k and tiny-k-moe (dim 256: rows that fit the\n"
     "                        k-quants' blocks)\n"
     "  --type TYPE           f32, f16, bf16, q8_0, q4_0, q4_k, q6_k (rows must fit the block)\n"
     "  --seed S              weight generator seed (default 0)\n"
     "  --tokenizer FILE      a tokenizer of the shape's vocabulary size (1b, 8x7b,\n"
     "                        moe-small: 32000, e.g. tokenizer.model.v1; 7b: 32768, v3)\n",
     0, 0, 0},
    {"bench", cmd_bench, "mistral bench -m MODEL [-p 512] [-n 128] [-d DEPTH] [-t N] [-r REPS] [--json]",
     "Measures prompt processing (pp: one prefill of P random token ids) and\n"
     "generation (tg: N single-token decode steps) in tok/s, mean and sd over REPS runs\n"
     "after one warm-up, like llama-bench; and the memory read bandwidth with the same\n"
     "threads, with the fraction of it decode reaches (weights read per token, active\n"
     "experts only, plus the keys and values attention reads, x tg tok/s / bandwidth);\n"
     "and the fp32 FMA and int8 dot peaks (one thread, all threads), with the fraction\n"
     "of the relevant one prefill reaches (FMA for float weights, int8 for quantized).\n"
     "With --mem-limit the probes use only what the limit leaves the expert cache\n"
     "(a probe that needs more is skipped and the output says so), and the disk's\n"
     "read bandwidth is measured too; the peak resident memory comes last.\n",
     "  -p N                  prompt tokens (default 512; 0 skips pp)\n"
     "  -n N                  generated tokens (default 128; 0 skips tg)\n"
     "  -d, --depth D         positions prefilled (untimed) before tg (default 0)\n"
     "  -r, --repetitions R   runs of each (default 3)\n"
     "  --json                one JSON object instead of the table\n"
     "  -f FILE               with --draft or --lookup: the prompt of the speculative\n"
     "                        runs (default: 64 random tokens repeating a phrase)\n",
     1, 0, 1},
    {"serve", cmd_serve,
     "mistral serve -m MODEL [--host 127.0.0.1] [--port 8080] [--parallel N] [--ctx N]\n"
     "                        [--batch-tokens B] [--max-itl-ms T] [--queue Q] [--api-key KEY | --api-key-file F] [model options]\n"
     "                        [--draft MODEL | --lookup N] [--draft-max K] [--draft-policy auto|always]\n"
     "                        [--prompt-cache DIR [--prompt-cache-size S]]\n"
     "       mpirun -np N mistral serve ... [--pipeline [--layer-split A,B,..]] [--expert-parallel]",
     "Serves the model over HTTP with OpenAI's API: POST /v1/chat/completions and\n"
     "/v1/completions (stream: true for server-sent events), GET /v1/models, /health\n"
     "(503 while loading), /metrics (Prometheus), POST /tokenize, /detokenize, and a\n"
     "chat page at /. One engine thread runs every request's next token and chunks of\n"
     "new prompts in each forward call (continuous batching); a request's tokens are\n"
     "the same alone or under load. SIGINT or SIGTERM ends it cleanly. One log line per\n"
     "request on stderr.\n",
     "  --host ADDR           the address to listen on (default 127.0.0.1)\n"
     "  --port P              the port (default 8080; 0: any free one, printed)\n"
     "  --parallel N          sequences run at once, each with its KV cache (default 4)\n"
     "  --ctx N               positions per sequence: prompt + reply (default 4096)\n"
     "  --batch-tokens B      tokens per forward call while sequences decode: their next\n"
     "                        tokens, then prompt tokens (default 64; at least B/4 of them\n"
     "                        prompt tokens); a prompt alone goes 512 tokens at a time\n"
     "  --max-itl-ms T        while sequences decode, give new prompts the tokens that keep\n"
     "                        a step (a stream's inter-token gap) under T ms by the measured\n"
     "                        step times: at least B W/(W + D) (W prompts waiting, D streams)\n"
     "                        and B/4, at most 512 (default 150; 0: the fixed budget B)\n"
     "  --queue Q             requests that may wait for a free sequence (default 64;\n"
     "                        beyond: 429)\n"
     "  --max-conn-per-ip N   open connections one client address may hold (default 64;\n"
     "                        512 in all)\n"
     "  --http-timeout S      seconds a connection may sit idle while sending its headers\n"
     "                        and body, or between requests (default 15; a reply being\n"
     "                        generated is never cut)\n"
     "  --prompt-cache DIR    slots' KV states of prompts saved in DIR (when a slot is reused\n"
     "                        for another prompt, and at shutdown) and restored for a prompt\n"
     "                        that starts with the same tokens, also after a restart\n"
     "  --prompt-cache-size S at most S bytes of files in DIR, least recently used removed\n"
     "                        first (default 4G; 8G, 512M or bytes)\n"
     "  --api-key KEY         require Authorization: Bearer KEY (not for /health, /v1/models)\n"
     "  --api-key-file F      the key is F's first line\n"
     "  --alias NAME          the model's id in /v1/models (default: the path's last part)\n"
     "  --temperature T       for requests that give none (default 0: greedy)\n"
     "  --chat-format F       v1, v2, v3, v7 or tekken (default: from the tokenizer)\n"
     "  --tokenizer FILE      tokenizer file (default: the model's)\n"
     "speculative decoding (the same tokens, fewer forward calls; per sequence):\n"
     "  --draft MODEL         a draft model with the same vocabulary\n"
     "  --lookup N            prompt lookup with n-grams of up to N tokens\n"
     "  --draft-max K         the most tokens drafted per step (default 8 / 4)\n"
     "  --draft-policy P      auto (default: draft while the measured step times say it\n"
     "                        raises the batch's tokens/s) or always\n"
     "distribution (make MPI=1, under mpirun -np N; rank 0 serves, SIGINT/SIGTERM to it ends all):\n"
     "  --pipeline [--layer-split A,B,..]   the layers in stages, one step in flight per stage\n"
     "  --expert-parallel     each process computes its share of every MoE layer's experts\n",
     1, 0, 0},
};

/* A model file is mapped: if it shrinks while in use (truncated, rewritten
 * in place), reading a page past its new end raises SIGBUS. One line and
 * exit 1 instead of a crash. (Experts under --mem-limit are read with pread,
 * which reports a short file as an error of its own.) */
static void on_sigbus(int sig) {
    static const char msg[] = "mistral: the model file shrank or changed while in use (a read of its mapping "
                              "failed)\n";
    (void)sig;
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) _exit(1);
    _exit(1);
}

int main(int argc, char **argv) {
    struct sigaction sa = {.sa_handler = on_sigbus};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(main_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
        if (strcmp(argv[1], commands[c].name)) continue;
        for (int i = 2; i < argc; i++)
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                printf("usage: %s\n\n%s\n%s", commands[c].usage, commands[c].about, commands[c].opts);
                if (commands[c].sampling) fputs(sampling_opts, stdout);
                if (commands[c].spec) fputs(spec_opts, stdout);
                if (commands[c].model) fputs(model_opts, stdout);
                return 0;
            }
        Options o = {.cmd = argv[1], .sliding_window = -1, .top_p = 1.0, .repeat_penalty = 1.0, .repeat_last_n = 64,
                     .port = -1, .queue = -1,
                     .n_new = !strcmp(argv[1], "chat") ? 1024 : !strcmp(argv[1], "bench") ? 128 : 256};
        options_parse(&o, argc, argv);
        return commands[c].run(&o);
    }
    fprintf(stderr, "mistral: unknown command \"%s\" (see: mistral --help)\n", argv[1]);
    return 2;
}

/* test_dist — the distribution layer's single-process parts: layer splits,
 * expert shares, the model fingerprint, the local (no MPI) implementation.
 * The runs across processes are tests/platform/mpi.sh's. */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "dist/dist.h"
#include "dist/shard.h"
#include "harness.h"

#define DATA "tests/data"

static void check_layers(void) {
    int b[8];
    EXPECT(shard_layers(b, 3, 32, NULL) == 0 && b[0] == 0 && b[1] == 11 && b[2] == 22 && b[3] == 32,
           "even split of 32 over 3: %d %d %d %d", b[0], b[1], b[2], b[3]);
    EXPECT(shard_layers(b, 3, 32, "10,12,10") == 0 && b[1] == 10 && b[2] == 22 && b[3] == 32, "10,12,10");
    EXPECT(shard_layers(b, 4, 4, NULL) == 0 && b[1] == 1 && b[4] == 4, "one layer each");
    EXPECT(shard_layers(b, 5, 4, NULL) != 0 && strstr(err_msg(), "at least one layer"), "%s", err_msg());
    EXPECT(shard_layers(b, 3, 32, "10,12") != 0 && strstr(err_msg(), "2 stages for 3"), "%s", err_msg());
    EXPECT(shard_layers(b, 3, 32, "10,12,11") != 0 && strstr(err_msg(), "more than"), "%s", err_msg());
    EXPECT(shard_layers(b, 3, 32, "10,12,9") != 0 && strstr(err_msg(), "adds up to 31"), "%s", err_msg());
    EXPECT(shard_layers(b, 2, 32, "32,0") != 0, "a stage of 0 layers");
    EXPECT(shard_layers(b, 2, 32, "16,16,") != 0, "a trailing comma");
    EXPECT(shard_layers(b, 2, 32, "16;16") != 0, "not a list");
    EXPECT(shard_layers(b, 2, 32, "-1,33") != 0, "negative");
    EXPECT(shard_layers(b, 2, 32, "99999999999999999999,1") != 0, "overflow");
    EXPECT(shard_count_stages("10,12,10") == 3 && shard_count_stages("32") == 1, "stage counts");
}

static void check_experts(void) {
    int lo, hi, covered = 0;
    for (int r = 0; r < 3; r++) {
        shard_experts(&lo, &hi, r, 3, 8); /* 3, 3, 2 */
        EXPECT(lo == covered && hi - lo == (r < 2 ? 3 : 2), "rank %d: [%d, %d)", r, lo, hi);
        covered = hi;
    }
    EXPECT(covered == 8, "every expert once");
}

static void check_fingerprint(void) {
    Model a, a2, b, c;
    CHECK(model_load(&a, DATA "/tiny/moe_sw8_f32", NULL) == 0);
    CHECK(model_load(&a2, DATA "/tiny/moe_sw8_f32", NULL) == 0);
    CHECK(model_load(&b, DATA "/tiny/moe_sw8_bf16", NULL) == 0);
    ModelOptions full = {.sliding_window = 0};
    CHECK(model_load(&c, DATA "/tiny/moe_sw8_f32", &full) == 0);
    EXPECT(shard_fingerprint(&a) == shard_fingerprint(&a2), "the same model, two fingerprints");
    EXPECT(shard_fingerprint(&a) != shard_fingerprint(&b), "f32 and bf16 alike");
    EXPECT(shard_fingerprint(&a) != shard_fingerprint(&c), "another window, the same fingerprint");
    /* one byte inside one expert's tensor: a view into the mapping, so copy it */
    const Mat *w = &a2.w.layers[1].experts[3].w2;
    size_t bytes = (size_t)w->rows * dtype_bytes(w->dtype, (size_t)w->cols);
    unsigned char *copy = xmalloc(bytes);
    memcpy(copy, w->data, bytes);
    copy[bytes - 1] ^= 1;
    const void *saved = w->data;
    a2.w.layers[1].experts[3].w2.data = copy;
    EXPECT(shard_fingerprint(&a) != shard_fingerprint(&a2), "a changed last byte goes unseen");
    a2.w.layers[1].experts[3].w2.data = saved;
    free(copy);

    /* expert parallelism on one process: all experts, no reduce hook needed */
    Context ctx;
    CHECK(context_init(&ctx, &a, 1, 8) == 0);
    EXPECT(shard_expert_parallel(&ctx, NULL) == 0 && ctx.expert_lo == 0 && ctx.expert_hi == 4, "one rank");
    context_free(&ctx);
    Model d;
    CHECK(model_load(&d, DATA "/tiny/dense_sw8_f32", NULL) == 0);
    CHECK(context_init(&ctx, &d, 1, 8) == 0);
    EXPECT(shard_expert_parallel(&ctx, NULL) != 0 && strstr(err_msg(), "dense"), "%s", err_msg());
    context_free(&ctx);
    model_free(&a), model_free(&a2), model_free(&b), model_free(&c), model_free(&d);
}

/* Without MPI: rank 0 of 1, and every message says how to get MPI. */
static void check_local(void) {
    if (dist_has_mpi()) return;
    EXPECT(dist_init(NULL, NULL, 1) == 0 && dist_rank() == 0 && dist_size() == 1, "rank 0 of 1");
    EXPECT(dist_handshake(42, "x") == 0, "a handshake with oneself");
    DistReq *r = NULL;
    int x = 1;
    EXPECT(dist_isend(1, 0, &x, sizeof x, &r) != 0 && strstr(err_msg(), "make MPI=1"), "%s", err_msg());
    float f = 2;
    EXPECT(dist_allreduce_sum(&f, 1) == 0 && f == 2, "a sum over one rank");
    dist_finalize();
}

int main(void) {
    check_layers();
    check_experts();
    check_fingerprint();
    check_local();
    return test_done("test_dist");
}

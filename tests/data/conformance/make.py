#!/usr/bin/python3
"""Makes the conformance checkpoints and their golden vectors: shapes the
reference's own golden files do not cover (head_dim != dim/n_heads, 6 and 8
experts, top-3 routing, one kv head and as many kv heads as heads, window 5,
per-layer windows, F16 and BF16 weights), 40-token greedy runs that wrap the
cache many times, chunk sizes 1, 4 and 7.

Weights come from ../shared/reference/make_tiny.py's generator; logits from
the independent PyTorch reference ../shared/reference/myref.py (which agrees
with mistral-inference within 5e-6 on the reference's own golden files).
The output layout is that of ../shared/testdata/golden, so tests/cli/check.py and
tests/unit/test_model.c read both alike.

Needs Debian's python3-torch and python3-numpy; the tests need only its
output, which is committed:
    /usr/bin/python3 tests/data/conformance/make.py [../shared/reference]
"""
import json
import os
import sys

import torch

REF = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../../shared/reference")
sys.path.insert(0, os.path.abspath(REF))
import make_tiny  # noqa: E402
import myref  # noqa: E402
import st_io  # noqa: E402

OUT = os.path.dirname(os.path.abspath(__file__))
BASE = dict(dim=48, n_layers=2, head_dim=16, hidden_dim=96, n_heads=4, n_kv_heads=2,
            norm_eps=1e-5, vocab_size=128, rope_theta=10000.0)

# name -> (seed, overrides, dtype)
CONFIGS = {
    # head_dim 24 != dim / n_heads = 12, window 5
    "hd24_sw5_f32": (11, dict(head_dim=24, sliding_window=5), "f32"),
    # 6 experts, top-3, one kv head, window 5
    "moe6_top3_kv1_sw5_f32": (12, dict(n_kv_heads=1, sliding_window=5,
                                       moe=dict(num_experts=6, num_experts_per_tok=3)), "f32"),
    # 8 experts, top-2, as many kv heads as heads, no window key at all
    "moe8_top2_mha_f32": (13, dict(n_kv_heads=4, rope_theta=1e6,
                                   moe=dict(num_experts=8, num_experts_per_tok=2)), "f32"),
    # per-layer windows [5, null] over 4 layers, bf16 weights
    "dense_swlist_bf16": (14, dict(n_layers=4, sliding_window=[5, None]), "bf16"),
    # f16 weights, window 5, 3 layers
    "dense_sw5_f16": (15, dict(n_layers=3, sliding_window=5), "f16"),
}
DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
PROMPT_LENS = [1, 7, 23]
MAX_TOKENS = 40
CHUNKS = [1, 4, 7]


class Ref(myref.MyRef):
    """myref with a per-layer window list (layer i uses list[i % len])."""

    def __init__(self, ckdir):
        with open(os.path.join(ckdir, "params.json")) as f:
            self.p = p = json.load(f)
        raw = st_io.load(os.path.join(ckdir, "consolidated.safetensors"))
        self.w = {k: v.to(torch.float32) for k, v in raw.items()}
        self.dt = torch.float32
        self.D, self.L, self.hd = p["dim"], p["n_layers"], p["head_dim"]
        self.H, self.KV = p["n_heads"], p["n_kv_heads"]
        self.eps = p["norm_eps"]
        self.theta = p["rope_theta"]
        self.moe = p.get("moe")
        sw = p.get("sliding_window")
        self.wins = sw if isinstance(sw, list) else [sw]
        self.W = None if any(w is None for w in self.wins) else max(self.wins)
        self.layer = 0

    def allowed(self, qpos, kpos):
        w = self.wins[(self.layer % self.L) % len(self.wins)]
        return kpos <= qpos and (w is None or qpos - kpos < w)

    def attend(self, q, kk, vv, qpos, kpos):
        out = super().attend(q, kk, vv, qpos, kpos)
        self.layer += 1
        return out

    def new_cache(self, max_len):
        # No rolling buffer here: every key is kept and the mask alone applies
        # the window, an oracle independent of the engine's cache.
        saved, self.W = self.W, None
        c = super().new_cache(max_len)
        self.W = saved
        return c


def rows(t):
    return [[round(float(x), 7) for x in r] for r in t]


def main():
    g = torch.Generator().manual_seed(99)
    os.makedirs(os.path.join(OUT, "tiny"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "golden"), exist_ok=True)
    for name, (seed, over, dt) in CONFIGS.items():
        p = dict(BASE)
        p.update(over)
        ck = os.path.join(OUT, "tiny", name)
        os.makedirs(ck, exist_ok=True)
        w = make_tiny.make_weights(p, seed)
        st_io.save({k: v.to(DTYPES[dt]) for k, v in w.items()},
                   os.path.join(ck, "consolidated.safetensors"))
        with open(os.path.join(ck, "params.json"), "w") as f:
            json.dump(p, f, indent=2)
        ref = Ref(ck)
        cases = []
        for P in PROMPT_LENS:
            prompt = [1] + torch.randint(2, p["vocab_size"], (P - 1,), generator=g).tolist()
            pre, toks, dec = ref.generate(prompt, MAX_TOKENS)
            case = {"prompt": prompt, "prefill_logits": rows(pre), "greedy_tokens": toks,
                    "decode_logits": rows(dec), "chunked": {}}
            for cs in CHUNKS:
                cpre, ctoks, _ = ref.generate(prompt, MAX_TOKENS, chunk_size=cs)
                case["chunked"][str(cs)] = {"prefill_logits_last": rows(cpre[-1:])[0],
                                            "greedy_tokens": ctoks}
            cases.append(case)
        gold = {"checkpoint": name, "params": p, "oracle": "shared/reference/myref.py (fp32)",
                "max_tokens": MAX_TOKENS, "cases": cases,
                "batched_generate_tokens": [c["greedy_tokens"] for c in cases]}
        with open(os.path.join(OUT, "golden", name + ".json"), "w") as f:
            json.dump(gold, f, separators=(",", ":"))
        print(name, [len(c["prompt"]) for c in cases], cases[-1]["greedy_tokens"][:10])


if __name__ == "__main__":
    main()

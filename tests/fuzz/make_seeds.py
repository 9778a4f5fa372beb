#!/usr/bin/env python3
"""Writes the fuzz seed corpora under tests/fuzz/corpus/ from the tiny models.

fuzz_safetensors: small valid files cut from the real checkpoints (a few
tensors kept, offsets renumbered), one unpadded (misaligned data), one with
the dtypes the kernels do not read and an empty tensor. fuzz_params: the
tiny models' params.json files. fuzz_gguf/k2_types.gguf: a tensor of each
type issue 21 added (q2_K, q3_K, iq4_nl, iq4_xs, tq1_0, tq2_0; random blocks
with sane fp16 scales); fuzz_ggufmodel/dense_iq4nl.gguf: dense_spm.gguf with
its matrices as iq4_nl. Run from the repository root; every seed stays under
64 KB."""
import json
import os
import random
import shutil
import struct

ROOT = "tests/data"
OUT = "tests/fuzz/corpus"


def read_st(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_st(path, tensors, meta, pad=True):
    """tensors: [(name, dtype, shape, bytes)]"""
    hdr, data = {}, b""
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, dtype, shape, b in tensors:
        hdr[name] = {"dtype": dtype, "shape": shape,
                     "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    text = json.dumps(hdr, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    blob = struct.pack("<Q", len(text)) + text + data
    assert len(blob) < 65536, path
    open(path, "wb").write(blob)


def cut(src, names):
    hdr, data = read_st(src)
    out = []
    for n in names:
        e = hdr[n]
        b, en = e["data_offsets"]
        out.append((n, e["dtype"], e["shape"], data[b:en]))
    return out, hdr.get("__metadata__")


def main():
    st = os.path.join(OUT, "fuzz_safetensors")
    pr = os.path.join(OUT, "fuzz_params")
    os.makedirs(st, exist_ok=True)
    os.makedirs(pr, exist_ok=True)
    small = ["norm.weight", "layers.0.attention_norm.weight", "layers.0.attention.wk.weight"]
    t, meta = cut(f"{ROOT}/tiny/dense_sw8_f32/consolidated.safetensors", small)
    write_st(f"{st}/dense_f32_3.safetensors", t, meta)
    write_st(f"{st}/dense_f32_unpadded.safetensors", t[:2], None, pad=False)
    t, meta = cut(f"{ROOT}/tiny/dense_sw8_bf16/consolidated.safetensors", small)
    write_st(f"{st}/dense_bf16_3.safetensors", t, meta)
    t, meta = cut(f"{ROOT}/tiny/moe_sw8_f32/consolidated.safetensors",
                  ["layers.0.feed_forward.gate.weight", "layers.1.ffn_norm.weight"])
    t += [("rope.freqs", "I64", [2], bytes(16)), ("mask", "BOOL", [3], b"\x01\x00\x01"),
          ("half", "F16", [2, 2], bytes(8)), ("empty", "F32", [0, 64], b"")]
    write_st(f"{st}/moe_mixed_dtypes.safetensors", t, meta)
    for name in ["dense_sw8_f32", "moe_sw8_f32", "moe_nowin_kv1_f32"]:
        shutil.copy(f"{ROOT}/tiny/{name}/params.json", f"{pr}/{name}.json")
    shutil.copy(f"{ROOT}/conformance/tiny/dense_swlist_bf16/params.json",
                f"{pr}/dense_swlist_bf16.json")


# ---- GGUF seeds ---------------------------------------------------------------

# type: (GGML number, elements per block, bytes per block, offsets of fp16 scales)
K2_TYPES = {"q2_K": (10, 256, 84, [80, 82]), "q3_K": (11, 256, 110, [108]),
            "iq4_nl": (20, 32, 18, [0]), "iq4_xs": (23, 256, 136, [0]),
            "tq1_0": (34, 256, 54, [52]), "tq2_0": (35, 256, 66, [64])}


def gguf_str(s):
    s = s.encode()
    return struct.pack("<Q", len(s)) + s


def random_blocks(rng, ty, n):
    """n elements of type ty: random bytes, each scale 2^-4 .. 2^-1 (fp16)."""
    _, blk, size, scales = K2_TYPES[ty]
    out = bytearray()
    for _ in range(n // blk):
        b = bytearray(rng.getrandbits(8) for _ in range(size))
        for o in scales:
            b[o:o + 2] = struct.pack("<H", 0x2c00 + rng.randrange(0x0c00))
        out += b
    return bytes(out)


def write_gguf(path, kv_raw, n_kv, tensors, align=32):
    """kv_raw: the key/value pairs as bytes; tensors: [(name, dims, type, bytes)]"""
    infos, data = b"", b""
    for name, dims, ty, b in tensors:
        data += bytes((-len(data)) % align)
        infos += gguf_str(name) + struct.pack("<I", len(dims)) + struct.pack("<%dQ" % len(dims), *dims)
        infos += struct.pack("<IQ", ty, len(data))
        data += b
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), n_kv) + kv_raw + infos
    blob = head + bytes((-len(head)) % align) + data
    assert len(blob) < 65536, path
    open(path, "wb").write(blob)


def read_gguf(path):
    """(kv bytes, n_kv, [(name, dims, type, offset)], data bytes) of a v3 file, alignment 32."""
    b = open(path, "rb").read()
    n_t, n_kv = struct.unpack_from("<QQ", b, 8)
    off = 24
    fixed = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def skip_str(o):
        return o + 8 + struct.unpack_from("<Q", b, o)[0]

    def skip_val(t, o):
        if t == 8:
            return skip_str(o)
        if t == 9:
            et, n = struct.unpack_from("<IQ", b, o)
            o += 12
            for _ in range(n):
                o = skip_val(et, o)
            return o
        return o + fixed[t]
    for _ in range(n_kv):
        o = skip_str(off)
        off = skip_val(struct.unpack_from("<I", b, o)[0], o + 4)
    kv_raw, tensors = b[24:off], []
    for _ in range(n_t):
        o = skip_str(off)
        name = b[off + 8:o].decode()
        nd = struct.unpack_from("<I", b, o)[0]
        dims = list(struct.unpack_from("<%dQ" % nd, b, o + 4))
        ty, toff = struct.unpack_from("<IQ", b, o + 4 + 8 * nd)
        tensors.append((name, dims, ty, toff))
        off = o + 4 + 8 * nd + 12
    return kv_raw, n_kv, tensors, b[off + (-off) % 32:]


def gguf_seeds():
    rng = random.Random(21)
    g = os.path.join(OUT, "fuzz_gguf")
    kv = gguf_str("general.architecture") + struct.pack("<I", 8) + gguf_str("llama")
    shapes = {"q2_K": [256, 2], "q3_K": [256, 1], "iq4_nl": [32, 3], "iq4_xs": [256, 1],
              "tq1_0": [256, 1], "tq2_0": [256, 2]}
    tensors = [("t." + ty, dims, K2_TYPES[ty][0], random_blocks(rng, ty, dims[0] * dims[1]))
               for ty, dims in shapes.items()]
    write_gguf(f"{g}/k2_types.gguf", kv, 1, tensors)
    m = os.path.join(OUT, "fuzz_ggufmodel")
    kv_raw, n_kv, infos, data = read_gguf(f"{m}/dense_spm.gguf")
    sizes = {0: 4, 1: 2, 30: 2, 8: 34 / 32, 2: 18 / 32, 3: 20 / 32, 6: 22 / 32, 7: 24 / 32}
    out = []
    for i, (name, dims, ty, toff) in enumerate(infos):
        n = dims[0] * (dims[1] if len(dims) > 1 else 1)
        if len(dims) == 2 and name != "token_embd.weight":
            out.append((name, dims, K2_TYPES["iq4_nl"][0], random_blocks(rng, "iq4_nl", n)))
        else:
            out.append((name, dims, ty, data[toff:toff + int(n * sizes[ty])]))
    write_gguf(f"{m}/dense_iq4nl.gguf", kv_raw, n_kv, out)


if __name__ == "__main__":
    main()
    gguf_seeds()

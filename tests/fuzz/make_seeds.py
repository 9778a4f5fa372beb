#!/usr/bin/env python3
"""Writes the fuzz seed corpora under tests/fuzz/corpus/ from the tiny models.

fuzz_safetensors: small valid files cut from the real checkpoints (a few
tensors kept, offsets renumbered), one unpadded (misaligned data), one with
the dtypes the kernels do not read and an empty tensor. fuzz_params: the
tiny models' params.json files. Run from the repository root; every seed
stays under 64 KB."""
import json
import os
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


if __name__ == "__main__":
    main()

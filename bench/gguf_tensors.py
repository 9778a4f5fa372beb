#!/usr/bin/env python3
"""gguf_tensors.py — what the benchmarks compare in GGUF files.

  gguf_tensors.py FILE                 one line per tensor: name, ggml type, dims, sha1 of its bytes
  gguf_tensors.py --diff A B           tensors whose type or bytes differ between A and B (exit 1 if any)
  gguf_tensors.py --imatrix A B        two importance matrices (GGUF or legacy .dat): the largest relative
                                       difference of the per-column weights llama-quantize derives
Standard library only; a reader written for the benchmarks (bench/quant_quality.sh)."""
import hashlib, struct, sys

FIXED = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}
# ggml type -> (block elements, bytes per block)
BLOCKS = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 10: (256, 84),
          11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 20: (32, 18), 23: (256, 136), 30: (1, 2)}
NAMES = {0: 'F32', 1: 'F16', 2: 'q4_0', 3: 'q4_1', 6: 'q5_0', 7: 'q5_1', 8: 'q8_0', 10: 'q2_K', 11: 'q3_K',
         12: 'q4_K', 13: 'q5_K', 14: 'q6_K', 20: 'iq4_nl', 23: 'iq4_xs', 30: 'BF16'}


class Reader:
    def __init__(self, buf):
        self.b, self.o = buf, 0

    def take(self, fmt):
        v = struct.unpack_from('<' + fmt, self.b, self.o)
        self.o += struct.calcsize('<' + fmt)
        return v[0]

    def string(self):
        n = self.take('Q')
        s = self.b[self.o:self.o + n].decode('utf-8', 'replace')
        self.o += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take('I'), self.take('Q')
            return [self.value(et) for _ in range(n)]
        return self.take(FIXED[t])


def read_gguf(path):
    buf = open(path, 'rb').read()
    r = Reader(buf)
    assert r.b[:4] == b'GGUF', path + ': not GGUF'
    r.o = 4
    version, n_t, n_kv = r.take('I'), r.take('Q'), r.take('Q')
    kv = {}
    for _ in range(n_kv):
        k = r.string()
        kv[k] = r.value(r.take('I'))
    infos = []
    for _ in range(n_t):
        name = r.string()
        nd = r.take('I')
        dims = [r.take('Q') for _ in range(nd)]
        infos.append((name, r.take('I'), dims, r.take('Q')))
    align = kv.get('general.alignment', 32)
    data = (r.o + align - 1) // align * align
    tensors = {}
    for name, t, dims, off in infos:
        n = 1
        for d in dims:
            n *= d
        blk, by = BLOCKS[t]
        tensors[name] = (t, dims, buf[data + off:data + off + n // blk * by])
    return kv, tensors


def imatrix_weights(path):
    """{name: [weights]} as llama-quantize derives them from the file."""
    buf = open(path, 'rb').read()
    out = {}
    if buf[:4] == b'GGUF':
        _, ts = read_gguf(path)
        for name, (t, dims, data) in ts.items():
            if not name.endswith('.in_sum2'):
                continue
            base = name[:-8]
            s = struct.unpack('<%df' % (len(data) // 4), data)
            c = struct.unpack('<%df' % (len(ts[base + '.counts'][2]) // 4), ts[base + '.counts'][2])
            cols = dims[0]
            out[base] = [s[i] / c[i // cols] if c[i // cols] > 0 else 1.0 for i in range(len(s))]
        return out
    r = Reader(buf)
    for _ in range(r.take('i')):
        name = r.b[r.o + 4:r.o + 4 + r.take('i')].decode()
        r.o += len(name)
        ncall, nval = r.take('i'), r.take('i')
        v = struct.unpack_from('<%df' % nval, buf, r.o)
        r.o += 4 * nval
        out[name] = [x / ncall if ncall > 0 else x for x in v]
    return out


def main(argv):
    if len(argv) == 3 and argv[0] == '--diff':
        _, a = read_gguf(argv[1])
        _, b = read_gguf(argv[2])
        bad = by_type = 0
        for name in sorted(set(a) | set(b)):
            if name not in a or name not in b:
                print('%-32s only in %s' % (name, argv[1] if name in a else argv[2]))
                bad += 1
                continue
            (ta, da, xa), (tb, db, xb) = a[name], b[name]
            if ta != tb or da != db or xa != xb:
                by_type += ta != tb or da != db
                nb = BLOCKS[ta][1] if ta == tb else 0
                blocks = sum(xa[i:i + nb] != xb[i:i + nb] for i in range(0, len(xa), nb)) if nb and len(xa) == len(xb) else -1
                print('%-32s %s %s vs %s %s: %d blocks differ' % (name, NAMES.get(ta, ta), da, NAMES.get(tb, tb), db, blocks))
                bad += 1
        print('%d of %d tensors differ (%d in type or shape, %d in bytes only)' % (bad, len(set(a) | set(b)), by_type,
                                                                               bad - by_type))
        return 1 if bad else 0
    if len(argv) == 3 and argv[0] == '--imatrix':
        a, b = imatrix_weights(argv[1]), imatrix_weights(argv[2])
        worst = 0.0
        for name in sorted(set(a) & set(b)):
            for x, y in zip(a[name], b[name]):
                worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-30))
        only = sorted(set(a) ^ set(b))
        print('%d entries in common, largest relative difference %.3g%s' % (len(set(a) & set(b)), worst,
              '; only in one: ' + ' '.join(only) if only else ''))
        return 0
    if len(argv) == 1:
        _, ts = read_gguf(argv[0])
        for name, (t, dims, data) in ts.items():
            print('%-32s %-6s %-16s %s' % (name, NAMES.get(t, t), 'x'.join(map(str, dims)), hashlib.sha1(data).hexdigest()))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

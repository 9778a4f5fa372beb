"""mistral — Python bindings for libmistral (mistral.c) through ctypes.

Standard library only. The shared library is found, in order, at
$MISTRAL_LIB, next to this file's ../build/ (a source tree) or ../../../lib/
(a `make install` prefix: PREFIX/share/mistral/python), or by the system's
loader (ctypes.util.find_library("mistral")).

    import mistral
    m = mistral.Model("path/to/model")            # a directory or a .gguf file
    ctx = mistral.Context(m, n_seq=2, n_ctx=2048)
    ids = m.tokenize("Once upon a time")
    for out in ctx.generate([ids], max_tokens=32, on_text=print):
        print(m.detokenize(out))

Errors raise mistral.Error with the library's one-line message and status.
"""

import ctypes
import ctypes.util
import json
import json as _json  # generate()'s json= keyword shadows the module there
import os

__all__ = ["Error", "Model", "Context", "KV_F32", "KV_F16", "library"]

KV_F32, KV_F16 = 0, 1


def _find_library():
    env = os.environ.get("MISTRAL_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for rel in ("../build/libmistral.so", "../../../lib/libmistral.so"):
        path = os.path.normpath(os.path.join(here, rel))
        if os.path.exists(path):
            return path
    found = ctypes.util.find_library("mistral")
    if found:
        return found
    raise OSError("libmistral.so not found: set MISTRAL_LIB, or build it with make")


class _ModelParams(ctypes.Structure):
    _fields_ = [("n_threads", ctypes.c_int), ("sliding_window", ctypes.c_int), ("repack", ctypes.c_int),
                ("kernels", ctypes.c_char_p), ("tokenizer", ctypes.c_char_p), ("mem_limit", ctypes.c_size_t)]


class _Info(ctypes.Structure):
    _fields_ = [("dim", ctypes.c_int), ("n_layers", ctypes.c_int), ("head_dim", ctypes.c_int),
                ("hidden_dim", ctypes.c_int), ("n_heads", ctypes.c_int), ("n_kv_heads", ctypes.c_int),
                ("n_vocab", ctypes.c_int), ("n_experts", ctypes.c_int), ("n_active", ctypes.c_int),
                ("rope_theta", ctypes.c_double), ("norm_eps", ctypes.c_float), ("bos", ctypes.c_int),
                ("eos", ctypes.c_int), ("has_tokenizer", ctypes.c_int), ("chat_format", ctypes.c_char_p),
                ("kernels", ctypes.c_char_p), ("kv_bytes_per_token", ctypes.c_size_t)]


class _ContextParams(ctypes.Structure):
    _fields_ = [("n_seq", ctypes.c_int), ("n_ctx", ctypes.c_long), ("n_threads", ctypes.c_int),
                ("kv_type", ctypes.c_int), ("fast_bf16", ctypes.c_int)]


class _GenParams(ctypes.Structure):
    _fields_ = [("max_tokens", ctypes.c_int), ("temperature", ctypes.c_float), ("top_p", ctypes.c_float),
                ("min_p", ctypes.c_float), ("top_k", ctypes.c_int), ("seed", ctypes.c_uint64),
                ("chunk_size", ctypes.c_int), ("stop_at_eos", ctypes.c_int),
                ("stop", ctypes.POINTER(ctypes.c_char_p)), ("n_stop", ctypes.c_int), ("append", ctypes.c_int),
                ("constraint", ctypes.c_int), ("constraint_text", ctypes.c_char_p),
                ("constraint_strict", ctypes.c_int), ("draft", ctypes.c_void_p), ("lookup", ctypes.c_int),
                ("draft_max", ctypes.c_int)]


# MistralConstraintKind
_CONSTRAINT_JSON_SCHEMA, _CONSTRAINT_JSON_OBJECT, _CONSTRAINT_JSON, _CONSTRAINT_GBNF, _CONSTRAINT_REGEX = 1, 2, 3, 4, 5


def _constraint(p, json_schema=None, json=False, grammar=None, regex=None, strict=False):
    """Fills p's constraint from the keyword arguments (at most one given)."""
    given = [k for k, v in (("json_schema", json_schema), ("json", json), ("grammar", grammar), ("regex", regex))
             if v is not None and v is not False]
    if len(given) > 1:
        raise ValueError("give at most one of json_schema, json, grammar, regex (got %s)" % ", ".join(given))
    if json_schema is not None:
        text = json_schema if isinstance(json_schema, str) else _json.dumps(json_schema)
        p.constraint, p.constraint_text = _CONSTRAINT_JSON_SCHEMA, text.encode("utf-8")
    elif json:
        p.constraint = _CONSTRAINT_JSON_OBJECT
    elif grammar is not None:
        p.constraint, p.constraint_text = _CONSTRAINT_GBNF, grammar.encode("utf-8")
    elif regex is not None:
        p.constraint, p.constraint_text = _CONSTRAINT_REGEX, regex.encode("utf-8")
    p.constraint_strict = int(bool(strict))


_ERR_BUFFER = 7  # MistralStatus MISTRAL_ERR_BUFFER: *n_out says the size needed

_TOKEN_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                             ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)

_lib = None


def library():
    """The loaded libmistral (ctypes.CDLL), its functions typed."""
    global _lib
    if _lib is not None:
        return _lib
    lib = ctypes.CDLL(_find_library())
    P, I, L, S = ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_size_t
    ST = ctypes.c_int  # MistralStatus: an enum, passed as an int
    IP = ctypes.POINTER(ctypes.c_int)
    sigs = {
        "mistral_error": (ctypes.c_char_p, []),
        "mistral_status_name": (ctypes.c_char_p, [I]),
        "mistral_version": (ctypes.c_char_p, []),
        "mistral_model_default_params": (_ModelParams, []),
        "mistral_model_open": (ST, [ctypes.POINTER(P), ctypes.c_char_p, ctypes.POINTER(_ModelParams)]),
        "mistral_model_close": (None, [P]),
        "mistral_model_info": (ST, [P, ctypes.POINTER(_Info)]),
        "mistral_model_window": (I, [P, I]),
        "mistral_tokenize": (ST, [P, ctypes.c_char_p, L, I, IP, I, IP]),
        "mistral_detokenize": (ST, [P, IP, I, ctypes.c_char_p, S, ctypes.POINTER(S)]),
        "mistral_chat_encode": (ST, [P, ctypes.c_char_p, ctypes.c_char_p, IP, I, IP]),
        "mistral_context_default_params": (_ContextParams, []),
        "mistral_context_new": (ST, [ctypes.POINTER(P), P, ctypes.POINTER(_ContextParams)]),
        "mistral_context_free": (None, [P]),
        "mistral_seq_pos": (L, [P, I]),
        "mistral_seq_reset": (ST, [P, I]),
        "mistral_seq_truncate": (ST, [P, I, L]),
        "mistral_decode": (ST, [P, I, IP, IP, ctypes.POINTER(L), ctypes.POINTER(ctypes.c_ubyte),
                                ctypes.POINTER(ctypes.c_float)]),
        "mistral_gen_default_params": (_GenParams, []),
        "mistral_generate": (ST, [P, I, ctypes.POINTER(IP), IP, ctypes.POINTER(_GenParams), _TOKEN_FN, P]),
        "mistral_constraint_check": (ST, [P, ctypes.POINTER(_GenParams)]),
        "mistral_spec_stats": (ST, [P, ctypes.POINTER(L), ctypes.POINTER(L)]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    _lib = lib
    return lib


class Error(Exception):
    """A libmistral failure: .status is the MistralStatus name, str() the message."""

    def __init__(self, status):
        lib = library()
        self.status = lib.mistral_status_name(status).decode()
        self.code = status
        super().__init__(lib.mistral_error().decode("utf-8", "replace"))


def _check(status):
    if status != 0:
        raise Error(status)


def _ints(seq):
    return (ctypes.c_int * max(len(seq), 1))(*seq)


def _grow(call):
    """Calls call(buf, cap, n_out) with a buffer grown to what it reports."""
    cap = 256
    while True:
        buf, n = (ctypes.c_int * cap)(), ctypes.c_int()
        status = call(buf, cap, ctypes.byref(n))
        if status == _ERR_BUFFER and n.value > cap:
            cap = n.value
            continue
        _check(status)
        return list(buf[: n.value])


class Model:
    """An opened model (and its tokenizer): read-only, shareable."""

    def __init__(self, path, n_threads=0, sliding_window=-1, repack=True, kernels=None, tokenizer=None,
                 mem_limit=0):
        lib = library()
        p = lib.mistral_model_default_params()
        p.n_threads, p.sliding_window, p.repack = n_threads, sliding_window, int(bool(repack))
        p.mem_limit = mem_limit  # bytes for the weights; experts streamed from disk (0: all resident)
        p.kernels = kernels.encode() if kernels else None
        p.tokenizer = tokenizer.encode() if tokenizer is not None else None
        self._h = ctypes.c_void_p()
        _check(lib.mistral_model_open(ctypes.byref(self._h), os.fsencode(path), ctypes.byref(p)))
        info = _Info()
        _check(lib.mistral_model_info(self._h, ctypes.byref(info)))
        self.info = {f: getattr(info, f) for f, _ in _Info._fields_}
        for key in ("chat_format", "kernels"):
            if self.info[key] is not None:
                self.info[key] = self.info[key].decode()

    def close(self):
        if self._h:
            library().mistral_model_close(self._h)
            self._h = ctypes.c_void_p()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def tokenize(self, text, bos=True):
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        return _grow(lambda buf, cap, n: library().mistral_tokenize(self._h, data, len(data), int(bos), buf, cap, n))

    def detokenize(self, ids):
        lib, arr = library(), _ints(ids)
        n = ctypes.c_size_t()
        cap = 4 * len(ids) + 64
        while True:
            buf = ctypes.create_string_buffer(cap)
            status = lib.mistral_detokenize(self._h, arr, len(ids), buf, cap, ctypes.byref(n))
            if status == _ERR_BUFFER and n.value + 1 > cap:
                cap = n.value + 1
                continue
            _check(status)
            return buf.raw[: n.value].decode("utf-8")

    def chat_encode(self, request, chat_format=None):
        """ids of an OpenAI-style request ({"messages": [...], "tools": [...]}: a dict or JSON text)."""
        data = (request if isinstance(request, str) else json.dumps(request)).encode("utf-8")
        fmt = chat_format.encode() if chat_format else None
        return _grow(lambda buf, cap, n: library().mistral_chat_encode(self._h, data, fmt, buf, cap, n))

    def window(self, layer):
        return library().mistral_model_window(self._h, layer)

    def check_constraint(self, json_schema=None, json=False, grammar=None, regex=None, strict=False):
        """Compiles a constraint (the keywords of Context.generate) without generating; raises
        mistral.Error (status MISTRAL_ERR_INPUT, the compiler's one line) when it is bad."""
        lib = library()
        p = lib.mistral_gen_default_params()
        _constraint(p, json_schema, json, grammar, regex, strict)
        _check(lib.mistral_constraint_check(self._h, ctypes.byref(p)))


class Context:
    """KV caches for n_seq sequences of a model, and its worker threads."""

    def __init__(self, model, n_seq=1, n_ctx=4096, n_threads=0, kv_type=KV_F32, fast_bf16=False):
        lib = library()
        p = lib.mistral_context_default_params()
        p.n_seq, p.n_ctx, p.n_threads, p.kv_type = n_seq, n_ctx, n_threads, kv_type
        p.fast_bf16 = 1 if fast_bf16 else 0
        self.model = model  # keeps the model open while the context lives
        self._h = ctypes.c_void_p()
        _check(lib.mistral_context_new(ctypes.byref(self._h), model._h, ctypes.byref(p)))
        self.n_seq = n_seq

    def close(self):
        if self._h:
            library().mistral_context_free(self._h)
            self._h = ctypes.c_void_p()

    def __del__(self):
        self.close()

    def pos(self, seq=0):
        return library().mistral_seq_pos(self._h, seq)

    def reset(self, seq=0):
        _check(library().mistral_seq_reset(self._h, seq))

    def truncate(self, seq, n_pos):
        _check(library().mistral_seq_truncate(self._h, seq, n_pos))

    def spec_stats(self):
        """(drafted, accepted) tokens of the last generate's speculation."""
        d, a = ctypes.c_long(), ctypes.c_long()
        _check(library().mistral_spec_stats(self._h, ctypes.byref(d), ctypes.byref(a)))
        return d.value, a.value

    def decode(self, tokens, seqs=None, want=None):
        """One forward call; returns the logits rows (lists of floats) of the wanted tokens.
        seqs: each token's sequence (default 0); want: each token's flag (default: all)."""
        n = len(tokens)
        seqs = seqs if seqs is not None else [0] * n
        flags = want if want is not None else [1] * n
        rows = sum(1 for w in flags if w)
        vocab = self.model.info["n_vocab"]
        out = (ctypes.c_float * (max(rows, 1) * vocab))()
        wbuf = (ctypes.c_ubyte * max(n, 1))(*[1 if w else 0 for w in flags])
        _check(library().mistral_decode(self._h, n, _ints(tokens), _ints(seqs), None, wbuf, out))
        return [list(out[r * vocab:(r + 1) * vocab]) for r in range(rows)]

    def generate(self, prompts, max_tokens=128, temperature=0.0, top_p=1.0, min_p=0.0, top_k=0, seed=0,
                 stop=None, stop_at_eos=True, append=False, chunk_size=0, on_token=None, on_text=None,
                 json_schema=None, json=False, grammar=None, regex=None, strict=False,
                 draft=None, lookup=0, draft_max=0):
        """Generates after each prompt (token ids, or text with BOS), all in one batch.
        Returns the new ids of each prompt (EOS not included). on_token(seq, token) and
        on_text(text) / on_text(seq, text) are called as tokens come; on_token may return True to
        stop that prompt.
        Structured output (at most one): json_schema (a dict or JSON text), json=True (any JSON
        object), grammar (GBNF text), regex; strict: additionalProperties false where a schema
        does not say. Each output is then a sentence of it (unless max_tokens cuts it short).
        Speculative decoding (the same ids, fewer forward calls): draft (a Context of a draft model
        with the same vocabulary) or lookup=N (prompt lookup), draft_max=K; self.spec_stats() then
        gives (drafted, accepted)."""
        lib = library()
        ids = [self.model.tokenize(p) if isinstance(p, str) else list(p) for p in prompts]
        arrays = [_ints(p) for p in ids]
        ptrs = (ctypes.POINTER(ctypes.c_int) * len(ids))(*[ctypes.cast(a, ctypes.POINTER(ctypes.c_int))
                                                           for a in arrays])
        p = lib.mistral_gen_default_params()
        p.max_tokens, p.temperature, p.top_p, p.min_p, p.top_k = max_tokens, temperature, top_p, min_p, top_k
        p.seed, p.chunk_size, p.stop_at_eos, p.append = seed, chunk_size, int(stop_at_eos), int(append)
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        stop_arr = (ctypes.c_char_p * max(len(stops), 1))(*[s.encode("utf-8") for s in stops])
        p.stop, p.n_stop = (stop_arr if stops else None), len(stops)
        _constraint(p, json_schema, json, grammar, regex, strict)
        p.draft, p.lookup, p.draft_max = (draft._h if draft is not None else None), lookup, draft_max
        guided = p.constraint != 0
        eos = self.model.info["eos"]
        out = [[] for _ in ids]
        failure = []

        def cb(_ud, seq, token, text, length):
            try:
                stop_now = False
                if not ((stop_at_eos or guided) and token == eos):
                    out[seq].append(token)
                if on_token is not None and on_token(seq, token):
                    stop_now = True
                if on_text is not None and text and length:
                    chunk = ctypes.string_at(text, length).decode("utf-8")
                    if len(ids) == 1:
                        on_text(chunk)
                    else:
                        on_text(seq, chunk)
                return 1 if stop_now else 0
            except BaseException as e:  # never unwind through C
                failure.append(e)
                return 1

        fn = _TOKEN_FN(cb)
        status = lib.mistral_generate(self._h, len(ids), ptrs, _ints([len(x) for x in ids]), ctypes.byref(p),
                                      fn, None)
        if failure:
            raise failure[0]
        _check(status)
        return out

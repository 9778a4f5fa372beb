#!/usr/bin/python3
"""Writes tests/data/spm_extra_cases.json: more expected encodings and
decodings for the SentencePiece tokenizers, from Debian's python3-sentencepiece
(the library that made ../shared/tokenizers/golden).

    apt-get install -y python3-sentencepiece
    /usr/bin/python3 tests/data/spm_extra_make.py [SHARED]   (default ../shared)

Only texts written here (plus short cuts of the public-domain corpora in
SHARED/corpora) and the ids and strings the library gives for them go into the
file; no part of a tokenizer. Format:
  {"generator", "texts": [...],
   "models": {NAME: {"file": path under SHARED,
                     "ids": [[...] per text],
                     "decoded": {"index": text sentencepiece decodes ids to, where not the text},
                     "decode_only": [{"ids": [...], "decoded": "..."}]}}}
"decoded" strings are sentencepiece's own (one U+FFFD per invalid byte)."""
import json
import random
import sys

import sentencepiece as spm

SHARED = sys.argv[1] if len(sys.argv) > 1 else "../shared"
MODELS = {
    "mistral_v1": "tokenizers/mistral/tokenizer.model.v1",
    "mistral_v3": "tokenizers/mistral/mistral_instruct_tokenizer_240323.model.v3",
    "mistral_v7": "tokenizers/mistral/mistral_instruct_tokenizer_241114.model.v7",
    "tok512_tinystories": "models/stories260K/tokenizer.model",
}

TEXTS = [
    # long runs of one character
    "a" * 1000, "a" * 17, "aaaa aaaa  aaaa", " " * 50, "\n" * 30, "!" * 200, "ab" * 300,
    "\u2581" * 20, "0" * 100, "=" * 64, "-" * 80, "." * 33, "\t" * 9, "é" * 50, "日" * 40,
    "😀" * 25, "ー" * 12,
    # whitespace oddities
    "\t\t x", " \r\n ", "a  b   c    d", "   lead", "trail   ", "  both  ", " ", "\t", "\r", "\r\n",
    "x\u00a0y", "x\u3000y", "x\u2003y", "x\u200by", "tab\t\tand  space\t end", "\n leading newline",
    "end with newline\n", " \n \n ", "a\u2581b", "\u2581a", "a\u2581", "\u2581 \u2581",
    # digits
    "1234567890", "3.141592653589793", "1,000,000", "-42", "+1 (555) 010-9999", "0x1F", "1e-10",
    "v1.2.3", "2024-11-14T12:00:00Z", "٣٤٥ ١٢", "１２３",
    # scripts and symbols
    "Hello, 世界! Привет, мир! مرحبا بالعالم! שלום עולם! नमस्ते दुनिया!",
    "Ελληνικά και English mixed", "ภาษาไทย", "ქართული", "Հայերեն", "ᚠᛇᚻ᛫ᛒᛦᚦ",
    "e\u0301 a\u0308 n\u0303", "ﬁ ① Ａ ㎞ ™ ½", "Ⅻ ℃ ℵ ∑ ∫ √ ∞ ≠ ≤", "🇫🇷🇯🇵", "👍🏻👍🏿", "❤️ ☺️ ✔︎",
    "𝕳𝖊𝖑𝖑𝖔", "𓀀𓀁", "\ufeffBOM at start", "\ufffd replacement", "\U0010fffd private",
    "a\u0000b", "\u0001\u0002\u0003\u001f\u007f", "\u0085 \u2028 \u2029",
    # code
    "def f(x):\n    return x * 2\n", "int main(void) { return 0; }\n",
    "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}", "<div class=\"x\">&amp;</div>",
    "SELECT * FROM t WHERE a = 'b';", "x => x ** 2 // comment", "#include <stdio.h>",
    "    indented four", "\t\tindented tabs", "{\"key\": [1, 2, 3], \"null\": null}",
    # user-defined pieces (v3, v7) and their near misses
    "[REFERENCE_DOC_0]", "[REFERENCE_DOC_19]x", "[REFERENCE_DOC_1", "[REFERENCE_DOC_100]",
    "[REFERENCE_DOC_10][REFERENCE_DOC_1]", "a[REF]b", " [REF] ", "[REF][/REF]", "[[REF]]",
    "[REF]" * 5, "x [REFERENCE_DOC_5] y", "  [REFERENCE_DOC_2]  ", "[reference_doc_0]",
    # control pieces spelled in text: never their control ids
    "[INST]", "[/INST]", "<s>", "</s>", "<unk>", "<pad>", "[TOOL_CALLS]", "[IMG]", "[IMG_BREAK]",
    "[SYSTEM_PROMPT]", "[control_12]", "[PREFIX]x[SUFFIX]y[MIDDLE]", "<0x41>", "<0x0A>",
    "<s>[INST] hi [/INST]</s>",
]


def corpus_cuts(rng):
    out = []
    for name in ["devils_dictionary.txt", "kjv_genesis_plain.txt"]:
        text = open(f"{SHARED}/corpora/{name}", encoding="utf-8").read()
        for _ in range(10):
            a = rng.randrange(len(text) - 400)
            out.append(text[a:a + rng.randrange(40, 400)])
    return out


def decode_only(sp, rng):
    n = sp.get_piece_size()
    special = [i for i in range(n) if sp.is_control(i) or sp.is_unknown(i)]
    byte = [i for i in range(n) if sp.is_byte(i)]
    spacey = [i for i in range(n) if sp.id_to_piece(i).startswith("\u2581")][:400]
    out = []
    for _ in range(60):
        ids = []
        for _ in range(rng.randrange(1, 10)):
            pool = rng.choice([special, byte, byte, spacey, spacey, range(n)])
            ids.append(rng.choice(pool))
        out.append(ids)
    sp_ = sp.piece_to_id("\u2581")
    out += [[sp_, sp_], [1, sp_, sp_], [2, sp_, spacey[5]], [0, sp_], [sp_, 0], [byte[0xE4], byte[0xBD]],
            [byte[0xE4], byte[0xBD], byte[0xA0], byte[0xE4]], [byte[0xC3], spacey[7]], [byte[0x80]] * 3,
            [byte[0xDA], 2, byte[0x99]], [byte[0xE4], 1, byte[0xBD], byte[0xA0]], [byte[0xDA], byte[0x99], 2]]
    return [{"ids": ids, "decoded": sp.decode(ids)} for ids in out]


def main():
    rng = random.Random(2025)
    texts = TEXTS + corpus_cuts(rng)
    doc = {"generator": "tests/data/spm_extra_make.py: python3-sentencepiece %s (Debian), "
                        "SentencePieceProcessor.encode(text) and .decode(ids), default options"
                        % spm.__version__,
           "texts": texts, "models": {}}
    for name, path in MODELS.items():
        sp = spm.SentencePieceProcessor(model_file=f"{SHARED}/{path}")
        ids = [sp.encode(t) for t in texts]
        dec = {str(i): sp.decode(x) for i, x in enumerate(ids) if sp.decode(x) != texts[i]}
        doc["models"][name] = {"file": path, "ids": ids, "decoded": dec,
                               "decode_only": decode_only(sp, random.Random(name))}
    with open("tests/data/spm_extra_cases.json", "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


main()

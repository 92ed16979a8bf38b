#!/usr/bin/python3
"""The LTX-2 Gemma tokenizer's golden: a tiny SentencePiece model laid out like Gemma's, and the
ids the reference's tokenize path gives for a set of prompts.

Gemma's tokenizer is a SentencePiece BPE model with byte fallback, digits split, whitespace kept
as it is (no dummy prefix, no normalisation), pad 0, eos 1, bos 2, unk 3. Gemma's own model
cannot be had here, so this trains one with those settings on a corpus written below (opsis's
own sentences), with Debian's sentencepiece (python3-sentencepiece 0.1.97).

The reference's rules (ltx_core/text_encoders/gemma/tokenizer.py, LTXGemmaTokenizer at
Lightricks/LTX-2 400fd31; read, not copied): the prompt is stripped (Python's str.strip), encoded
with the tokenizer's BOS in front and truncated to max_length, a BOS put in front if the first id
is not one (then cut to max_length again), and padded on the left to max_length with the pad id
(EOS when the tokenizer has no pad); the attention mask is 1 on tokens, 0 on pads. The reference
tokenizes with Hugging Face's tokenizer built from Gemma's tokenizer.json, the same model as
its SentencePiece file; here the SentencePiece library encodes.

  /usr/bin/python3 tests/parity/ltx2/make_tokenizer_golden.py    (Debian's python3; writes tests/parity/ltx2/tokenizer/)
"""
import json
import os
import random
import sentencepiece as spm

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizer")


def corpus_lines():
    rng = random.Random(7)
    subjects = ["a red ball", "the small dog", "Sam", "a yellow box", "two birds", "an old car", "the camera",
                "a green balloon", "Noor", "a cat", "waves", "the city lights", "a chef", "rain"]
    verbs = ["bounces", "rolls left", "flies over", "falls", "floats up", "waits", "walks toward", "spins",
             "pans across", "turns to", "glows above", "crashes into"]
    places = ["a sunny beach", "the forest at night", "a snowfield", "the desert", "a living room",
              "a neon street in Tokyo", "the meadow at golden hour", "a quiet kitchen"]
    extras = ["Slow pan left.", "Dolly in.", "Close-up.", "Wide shot, 35 mm.", "It says \"what a day\".",
              "Camera tilts up 30 degrees.", "4K, 24 fps.", "Café au lait, naïve façade, Ærø.",
              "雨の中の東京。", "¿Dónde está?", "Привет, мир.", "Emoji 🎥🌧️!", "Tabs\tand  double  spaces."]
    lines = []
    for _ in range(3000):
        line = f"{rng.choice(subjects).capitalize()} {rng.choice(verbs)} {rng.choice(places)}."
        if rng.random() < 0.6:
            line += " " + rng.choice(extras)
        if rng.random() < 0.2:
            line += f" Shot {rng.randint(1, 9999)} at {rng.randint(1, 60)} fps."
        lines.append(line)
    return lines


PROMPTS = [
    "A red ball bounces on a sunny beach while Sam says 'what a day'. Slow pan left.",
    "   leading and trailing spaces   ",
    "\t\nnewlines\n\tand tabs inside\n",
    "Numbers 1234567 and 3.14159 split into digits.",
    "Café au lait, naïve façade — ünïcödé.",
    "雨の中の東京、ネオンが光る。",
    "Emoji 🎥🌧️🐕 and a rare glyph ꙮ fall back to bytes.",
    "",
    "   ",
    "\u00a0non-breaking spaces\u3000and an ideographic one\u00a0",
    "A long prompt " + "that keeps going and going " * 6 + "until it is cut.",
    "<bos> written out is just text, as is <pad>.",
]
LENGTHS = [24, 8]


def mixed_prompts():
    """Sixty prompts of random pieces (words the model knows, stray ASCII, accents, CJK, emoji,
    runs of spaces, digits): the BPE merge order and byte fallback on inputs nobody chose."""
    rng = random.Random(11)
    words = ["ball", "bounces", "beach", "Sam", "camera", "pan", "left", "the", "a", "golden", "hour", "Tokyo", "rain"]
    pool = words + list("abcxyzQWE!?.,;:'\"()[]{}-_/\\@#$%^&*+=~`|<>") + \
        ["é", "ü", "ñ", "Æ", "ø", "東京", "雨", "ネオン", "Привет", "🎥", "🌧️", "🐕", "ꙮ", " ", "  ", "\t", "\n", "0", "42", "1999"]
    out = []
    for _ in range(60):
        pieces = [rng.choice(pool) for _ in range(rng.randint(1, 24))]
        joiner = rng.choice(["", " ", " "])
        out.append(joiner.join(pieces))
    return out


def python_strip(text):
    return text.strip()


def tokenize(sp, text, max_length, bos, pad):
    ids = [bos] + sp.encode(python_strip(text))  # Gemma 3's post-processor puts BOS in front
    ids = ids[:max_length]                       # truncation (right side, as HF defaults)
    if not ids or ids[0] != bos:
        ids = ([bos] + ids)[:max_length]
    mask = [1] * len(ids)
    pads = max_length - len(ids)
    return [pad] * pads + ids, [0] * pads + mask


def main():
    os.makedirs(HERE, exist_ok=True)
    corpus = os.path.join(HERE, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(corpus_lines()) + "\n")
    prefix = os.path.join(HERE, "tiny_gemma_like")
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=prefix, model_type="bpe", vocab_size=600, byte_fallback=True,
        split_digits=True, add_dummy_prefix=False, remove_extra_whitespaces=False,
        normalization_rule_name="identity", pad_id=0, eos_id=1, bos_id=2, unk_id=3,
        pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
        character_coverage=1.0, num_threads=1, shuffle_input_sentence=False, minloglevel=2)
    os.remove(corpus)
    os.remove(prefix + ".vocab")
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    bos, pad = sp.bos_id(), sp.pad_id() if sp.pad_id() >= 0 else sp.eos_id()
    cases = []
    for text in PROMPTS:
        for max_length in LENGTHS:
            ids, mask = tokenize(sp, text, max_length, bos, pad)
            cases.append({"prompt": text, "max_length": max_length, "ids": ids, "mask": mask,
                          "pieces": sp.encode(python_strip(text), out_type=str)})
    for text in mixed_prompts():
        ids, mask = tokenize(sp, text, 160, bos, pad)
        cases.append({"prompt": text, "max_length": 160, "ids": ids, "mask": mask,
                      "pieces": sp.encode(python_strip(text), out_type=str)})
    golden = {"model": "tiny_gemma_like.model", "bos": bos, "eos": sp.eos_id(), "pad": pad,
              "vocab_size": sp.get_piece_size(), "sentencepiece": spm.__version__, "cases": cases}
    with open(os.path.join(HERE, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {HERE}: vocab {sp.get_piece_size()}, {len(cases)} cases")


if __name__ == "__main__":
    main()

"""Trains a GPT-2 style byte-level BPE tokenizer and writes it as a Hugging Face tokenizer.json.

Text is split into pieces with (a `re`-compatible spelling of) the GPT-2 pre-tokenizer pattern,
each piece is mapped to bytes and then to GPT-2's printable byte alphabet, and merges are learnt
greedily by pair frequency with incremental pair counts. Special tokens never take part in
merges: documents are split on them first. Ties break on the pair itself, so the result is
deterministic for a given input.
"""

import argparse
import collections
import json
import re
import sys

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Added but not special: they must survive decoding so clients can parse tool calls.
MARKERS = ["<tool_call>", "</tool_call>"]

# The pattern written into tokenizer.json (the Rust/JS tokenizers understand \p{..}).
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
# The same split for Python's `re`: letters are [^\W\d_], digits \d, the rest neither.
PY_PATTERN = re.compile(
    r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"
)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte to printable character table."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def _word_counts(text: str) -> collections.Counter:
    byte_map = bytes_to_unicode()
    counts: collections.Counter = collections.Counter()
    splitter = re.compile("|".join(re.escape(s) for s in SPECIAL + MARKERS))
    for chunk in splitter.split(text):
        for piece in PY_PATTERN.findall(chunk):
            counts["".join(byte_map[b] for b in piece.encode("utf-8"))] += 1
    return counts


def train(text: str, vocab_size: int) -> tuple[list[str], list[tuple[str, str]]]:
    byte_map = bytes_to_unicode()
    alphabet = [byte_map[b] for b in range(256)]
    counts = _word_counts(text)
    words = [list(w) for w in counts]
    freqs = list(counts.values())
    pair_counts: collections.Counter = collections.Counter()
    where: dict[tuple[str, str], set[int]] = collections.defaultdict(set)
    for index, word in enumerate(words):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += freqs[index]
            where[pair].add(index)
    merges: list[tuple[str, str]] = []
    budget = vocab_size - len(alphabet) - len(SPECIAL) - len(MARKERS)
    while len(merges) < budget and pair_counts:
        best = max(pair_counts.items(), key=lambda item: (item[1], item[0]))[0]
        if pair_counts[best] < 2:
            break
        merges.append(best)
        merged = best[0] + best[1]
        for index in list(where[best]):
            word, freq = words[index], freqs[index]
            for pair in zip(word, word[1:]):
                pair_counts[pair] -= freq
                if pair_counts[pair] <= 0:
                    del pair_counts[pair]
            new_word, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == best[0] and word[i + 1] == best[1]:
                    new_word.append(merged)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            words[index] = new_word
            for pair in zip(new_word, new_word[1:]):
                pair_counts[pair] += freq
                where[pair].add(index)
        del where[best]
        pair_counts.pop(best, None)
    vocab = alphabet + [a + b for a, b in merges]
    return vocab, merges


def tokenizer_json(vocab: list[str], merges: list[tuple[str, str]]) -> dict:
    ids = {token: i for i, token in enumerate(vocab)}
    added = []
    for token in SPECIAL + MARKERS:
        ids[token] = len(ids)
        added.append({"id": ids[token], "content": token, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": token in SPECIAL})
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        # ByteLevel with use_regex applies exactly GPT2_PATTERN before the byte mapping.
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                    "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {token: i for token, i in ids.items() if token not in SPECIAL + MARKERS},
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }


class Encoder:
    """A plain Python encoder for the trained tokenizer (training only needs ids, fast enough)."""

    def __init__(self, tokenizer: dict):
        model = tokenizer["model"]
        self.vocab = dict(model["vocab"])
        for added in tokenizer["added_tokens"]:
            self.vocab[added["content"]] = added["id"]
        self.ranks = {tuple(m.split(" ")): i for i, m in enumerate(model["merges"])}
        self.byte_map = bytes_to_unicode()
        self.cache: dict[str, list[int]] = {}
        self.splitter = re.compile("(" + "|".join(re.escape(s) for s in SPECIAL + MARKERS) + ")")

    def _bpe(self, piece: str) -> list[int]:
        cached = self.cache.get(piece)
        if cached is not None:
            return cached
        word = list(piece)
        while len(word) > 1:
            ranked = [(self.ranks.get(pair, 1 << 30), i) for i, pair in enumerate(zip(word, word[1:]))]
            rank, i = min(ranked)
            if rank == 1 << 30:
                break
            word[i:i + 2] = [word[i] + word[i + 1]]
        ids = [self.vocab[token] for token in word]
        if len(self.cache) < 500000:
            self.cache[piece] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for chunk in self.splitter.split(text):
            if chunk in self.vocab and chunk in SPECIAL + MARKERS:
                ids.append(self.vocab[chunk])
                continue
            for piece in PY_PATTERN.findall(chunk):
                ids += self._bpe("".join(self.byte_map[b] for b in piece.encode("utf-8")))
        return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", nargs="+", required=True)
    parser.add_argument("--chars-per-input", type=int, default=4_000_000)
    parser.add_argument("--vocab-size", type=int, default=6144)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    parts = []
    for path in args.input:
        with open(path, encoding="utf-8") as handle:
            blocks = handle.read().split("\n\n")
        # An even stride over the whole file, so every source is represented.
        total = sum(len(b) for b in blocks)
        stride = max(1, round(total / args.chars_per_input))
        parts += blocks[::stride]
    text = "\n\n".join(parts)
    vocab, merges = train(text, args.vocab_size)
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(tokenizer_json(vocab, merges), out, ensure_ascii=False, indent=1)
    print(f"bpe: {len(vocab) + len(SPECIAL) + len(MARKERS)} tokens, {len(merges)} merges",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

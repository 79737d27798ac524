"""Encodes the prose corpus and the dialogues into token id arrays for training.

Prose becomes one stream (paragraphs keep their blank-line separators); dialogues become a
stream plus the offset where each dialogue starts, so training windows can begin at a system
prompt and see the whole tool list.
"""

import argparse
import json
import sys

import numpy as np

from bpe import Encoder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--dialogues", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--max-dialogue-chars", type=int, default=40_000_000)
    args = parser.parse_args()
    with open(args.tokenizer, encoding="utf-8") as handle:
        encoder = Encoder(json.load(handle))
    eot = encoder.vocab["<|endoftext|>"]

    with open(args.corpus, encoding="utf-8") as handle:
        prose = encoder.encode(handle.read())
    np.save(f"{args.out_dir}/prose.npy", np.asarray(prose, dtype=np.uint16))

    with open(args.dialogues, encoding="utf-8") as handle:
        documents = handle.read(args.max_dialogue_chars).split("<|endoftext|>")[:-1]
    chat: list[int] = []
    starts = []
    for document in documents:
        starts.append(len(chat))
        chat += encoder.encode(document) + [eot]
    np.save(f"{args.out_dir}/chat.npy", np.asarray(chat, dtype=np.uint16))
    np.save(f"{args.out_dir}/chat_starts.npy", np.asarray(starts, dtype=np.int64))
    print(f"prepare: {len(prose)} prose tokens, {len(chat)} dialogue tokens in "
          f"{len(starts)} dialogues", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

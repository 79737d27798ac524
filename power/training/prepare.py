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


def encode_documents(encoder: Encoder, path: str, max_chars: int, eot: int):
    """The documents of `path` (separated by <|endoftext|>) as one id stream, and where each
    starts."""
    with open(path, encoding="utf-8") as handle:
        documents = handle.read(max_chars).split("<|endoftext|>")[:-1]
    ids: list[int] = []
    starts = []
    for document in documents:
        starts.append(len(ids))
        ids += encoder.encode(document) + [eot]
    return ids, starts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--dialogues", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--max-dialogue-chars", type=int, default=40_000_000)
    parser.add_argument("--max-prose-chars", type=int, default=0,
                        help="encode a seeded sample of about N characters of the corpus (0: all)")
    parser.add_argument("--agent-dialogues",
                        help="agent_dialogues.ts output, encoded as a third stream (agent.npy)")
    args = parser.parse_args()
    with open(args.tokenizer, encoding="utf-8") as handle:
        encoder = Encoder(json.load(handle))
    eot = encoder.vocab["<|endoftext|>"]

    with open(args.corpus, encoding="utf-8") as handle:
        text = handle.read()
    if args.max_prose_chars and len(text) > args.max_prose_chars:
        # A seeded sample of whole paragraphs from every source, not the first sources only.
        paragraphs = text.split("\n\n")
        np.random.default_rng(0).shuffle(paragraphs)
        kept, size = [], 0
        for paragraph in paragraphs:
            if size >= args.max_prose_chars:
                break
            kept.append(paragraph)
            size += len(paragraph) + 2
        text = "\n\n".join(kept)
    prose = encoder.encode(text)
    np.save(f"{args.out_dir}/prose.npy", np.asarray(prose, dtype=np.uint16))

    chat, starts = encode_documents(encoder, args.dialogues, args.max_dialogue_chars, eot)
    np.save(f"{args.out_dir}/chat.npy", np.asarray(chat, dtype=np.uint16))
    np.save(f"{args.out_dir}/chat_starts.npy", np.asarray(starts, dtype=np.int64))
    print(f"prepare: {len(prose)} prose tokens, {len(chat)} dialogue tokens in "
          f"{len(starts)} dialogues", file=sys.stderr)
    if args.agent_dialogues:
        agent, agent_starts = encode_documents(encoder, args.agent_dialogues,
                                               args.max_dialogue_chars, eot)
        np.save(f"{args.out_dir}/agent.npy", np.asarray(agent, dtype=np.uint16))
        np.save(f"{args.out_dir}/agent_starts.npy", np.asarray(agent_starts, dtype=np.int64))
        print(f"prepare: {len(agent)} agent dialogue tokens in {len(agent_starts)} dialogues",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

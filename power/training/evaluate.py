"""Reports a checkpoint's loss and perplexity on fixed windows of prose and of dialogues.

The windows are drawn with their own seed from the same token streams training samples from,
so a few may have been seen; a run samples only a small share of the streams (the model card
states how much), so the figure is close to a held-out one.
"""

import argparse
import math
import sys

import numpy as np
import torch
from torch.nn import functional as F

from model import load_checkpoint


@torch.no_grad()
def mean_loss(model, stream, offsets, seq_len: int) -> float:
    losses = []
    for offset in offsets:
        window = torch.from_numpy(stream[offset:offset + seq_len + 1].astype(np.int64))[None]
        logits = model(window[:, :-1])
        losses.append(F.cross_entropy(logits[0], window[0, 1:]).item())
    return sum(losses) / len(losses)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--windows", type=int, default=24)
    parser.add_argument("--seq-len", type=int, default=384)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, state = load_checkpoint(args.checkpoint)
    rng = np.random.default_rng(99)
    prose = np.load(f"{args.data_dir}/prose.npy", mmap_mode="r")
    chat = np.load(f"{args.data_dir}/chat.npy", mmap_mode="r")
    starts = np.load(f"{args.data_dir}/chat_starts.npy")
    starts = starts[starts + args.seq_len + 1 <= len(chat)]
    prose_loss = mean_loss(model, prose, rng.integers(0, len(prose) - args.seq_len - 1,
                                                      args.windows), args.seq_len)
    chat_loss = mean_loss(model, chat, rng.choice(starts, args.windows), args.seq_len)
    seen = state["step"] * 8 * args.seq_len
    print(f"step {state['step']}: prose loss {prose_loss:.3f} (perplexity "
          f"{math.exp(prose_loss):.1f}), dialogue loss {chat_loss:.3f} (perplexity "
          f"{math.exp(chat_loss):.2f}); about {seen / 1e6:.2f}M training tokens of "
          f"{(len(prose) + len(chat)) / 1e6:.1f}M available; wall time "
          f"{state['elapsed'] / 60:.0f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())

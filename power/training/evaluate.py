"""Reports a checkpoint's loss and perplexity on fixed windows of prose and of dialogues.

The windows are drawn with their own seed from the same token streams training samples from,
so a few may have been seen; a run samples only a small share of the streams (the model card
states how much), so the figure is close to a held-out one.
"""

import argparse
import math
import os
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
    parser.add_argument("--long-windows", type=int, default=8,
                        help="agent windows for the long-context loss (0 skips it)")
    parser.add_argument("--long-seq-len", type=int, default=2048)
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
    step = state.get("step", 0)
    seen = step * 8 * args.seq_len
    print(f"step {step}: prose loss {prose_loss:.3f} (perplexity "
          f"{math.exp(prose_loss):.1f}), dialogue loss {chat_loss:.3f} (perplexity "
          f"{math.exp(chat_loss):.2f}); about {seen / 1e6:.2f}M training tokens of "
          f"{(len(prose) + len(chat)) / 1e6:.1f}M available; wall time "
          f"{state.get('elapsed', 0) / 60:.0f} min")
    if os.path.exists(f"{args.data_dir}/agent.npy") and args.long_windows:
        near, far = long_losses(model, args.data_dir, args.long_windows, args.long_seq_len)
        print(f"agent windows of {args.long_seq_len} tokens: loss {near:.3f} at positions "
              f"below 512, {far:.3f} at 512 and beyond")
    return 0


@torch.no_grad()
def long_losses(model, data_dir: str, windows: int, seq_len: int) -> tuple[float, float]:
    """Mean loss on agent-dialogue windows (several sessions each), split at position 512, the
    context the first training phase used: whether the model reads far positions as well."""
    agent = np.load(f"{data_dir}/agent.npy", mmap_mode="r")
    starts = np.load(f"{data_dir}/agent_starts.npy")
    starts = starts[starts + seq_len + 1 <= len(agent)]
    near, far = [], []
    for offset in np.random.default_rng(7).choice(starts, windows):
        window = torch.from_numpy(agent[offset:offset + seq_len + 1].astype(np.int64))[None]
        logits = model(window[:, :-1])
        losses = F.cross_entropy(logits[0], window[0, 1:], reduction="none")
        near.append(losses[:512].mean().item())
        far.append(losses[512:].mean().item())
    return sum(near) / len(near), sum(far) / len(far)


if __name__ == "__main__":
    sys.exit(main())

"""Trains the default model on CPU with checkpoints, so a stopped run resumes where it was.

Each batch mixes prose windows (random offsets in the prose stream) and dialogue windows (starting
at a dialogue's first token). The learning rate warms up, then follows a cosine to 10% over
--steps. Seeds fix the data order and the initial weights.
"""

import argparse
import dataclasses
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch.nn import functional as F

from model import Config, LlamaForCausalLM


def batches(args, rng: np.random.Generator):
    prose = np.load(f"{args.data_dir}/prose.npy", mmap_mode="r")
    chat = np.load(f"{args.data_dir}/chat.npy", mmap_mode="r")
    starts = np.load(f"{args.data_dir}/chat_starts.npy")
    starts = starts[starts + args.seq_len + 1 <= len(chat)]
    chat_rows = round(args.batch_size * args.chat_fraction)
    while True:
        rows = []
        for offset in rng.integers(0, len(prose) - args.seq_len - 1, args.batch_size - chat_rows):
            rows.append(prose[offset:offset + args.seq_len + 1])
        for offset in rng.choice(starts, chat_rows):
            rows.append(chat[offset:offset + args.seq_len + 1])
        block = torch.from_numpy(np.stack(rows).astype(np.int64))
        yield block[:, :-1], block[:, 1:]


def learning_rate(step: int, args) -> float:
    # --schedule-start lets a continued run warm up again and decay over its own steps.
    step -= args.schedule_start
    span = args.steps - args.schedule_start
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = min(1.0, (step - args.warmup) / max(1, span - args.warmup))
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=320)
    parser.add_argument("--chat-fraction", type=float, default=0.5)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--schedule-start", type=int, default=0,
                        help="step where the warmup and cosine begin (to continue a finished run)")
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--save-every", type=int, default=50)
    parser.add_argument("--config", default="{}", help="JSON overrides for model.Config")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = Config(**json.loads(args.config))
    model = LlamaForCausalLM(config)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    step, elapsed, history = 0, 0.0, []
    rng_state = None
    if os.path.exists(args.checkpoint):
        state = torch.load(args.checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed, history = state["step"], state["elapsed"], state["history"]
        rng_state = state["rng"]
        print(f"train: resumed at step {step}", file=sys.stderr)
    rng = np.random.default_rng(args.seed)
    if rng_state is not None:
        rng.bit_generator.state = rng_state
    params = sum(p.numel() for p in model.parameters())
    print(f"train: {params} parameters, config {dataclasses.asdict(config)}", file=sys.stderr)
    data = batches(args, rng)
    model.train()
    started = time.time() - elapsed
    window = []
    while step < args.steps:
        inputs, targets = next(data)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args)
        logits = model(inputs)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        window.append(loss.item())
        if step % 10 == 0:
            mean = sum(window) / len(window)
            history.append((step, mean))
            window = []
            rate = step * args.batch_size * args.seq_len / max(1e-9, time.time() - started)
            print(f"step {step} loss {mean:.3f} lr {learning_rate(step, args):.2e} "
                  f"{rate:.0f} tok/s elapsed {time.time() - started:.0f}s", flush=True)
        if step % args.save_every == 0 or step == args.steps:
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "step": step, "elapsed": time.time() - started, "history": history,
                     "rng": rng.bit_generator.state, "config": dataclasses.asdict(config)}
            torch.save(state, args.checkpoint + ".tmp")
            os.replace(args.checkpoint + ".tmp", args.checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())

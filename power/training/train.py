"""Trains the default model on CPU with checkpoints, so a stopped run resumes where it was.

Each batch mixes prose windows (random offsets in the prose stream) and dialogue windows (starting
at a dialogue's first token); with --agent-fraction, some dialogue windows come from the agent
dialogues (agent.npy from prepare.py --agent-dialogues) instead. --init starts from the weights of
another checkpoint (for instance one from_onnx.py made of the shipped model) with a fresh
optimizer. The learning rate warms up, then follows a cosine to 10% over
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


def batches(args, rng: np.random.Generator, seq_len: int, batch_size: int,
            chat_fraction: float, agent_fraction: float):
    prose = np.load(f"{args.data_dir}/prose.npy", mmap_mode="r")
    chat = np.load(f"{args.data_dir}/chat.npy", mmap_mode="r")
    starts = np.load(f"{args.data_dir}/chat_starts.npy")
    starts = starts[starts + seq_len + 1 <= len(chat)]
    agent_rows = round(batch_size * agent_fraction)
    chat_rows = round(batch_size * chat_fraction) - agent_rows
    if agent_rows:
        agent = np.load(f"{args.data_dir}/agent.npy", mmap_mode="r")
        agent_starts = np.load(f"{args.data_dir}/agent_starts.npy")
        agent_starts = agent_starts[agent_starts + seq_len + 1 <= len(agent)]
    while True:
        rows = []
        prose_rows = batch_size - chat_rows - agent_rows
        for offset in rng.integers(0, len(prose) - seq_len - 1, prose_rows):
            rows.append(prose[offset:offset + seq_len + 1])
        for offset in rng.choice(starts, chat_rows):
            rows.append(chat[offset:offset + seq_len + 1])
        if agent_rows:
            for offset in rng.choice(agent_starts, agent_rows):
                rows.append(agent[offset:offset + seq_len + 1])
        block = torch.from_numpy(np.stack(rows).astype(np.int64))
        yield block[:, :-1], block[:, 1:]


def shared_prefix(agent: np.ndarray, starts: np.ndarray) -> int:
    """Tokens every agent dialogue starts with: the agent's system prompt and tool schemas."""
    first = np.asarray(agent[starts[0]:starts[0] + 4096])
    length = len(first)
    for start in starts[1:200]:
        other = np.asarray(agent[start:start + length])
        differs = np.nonzero(other[:length] != first[:len(other)])[0]
        length = min(length, int(differs[0]) if len(differs) else len(other))
    return length


def agent_batches(args, rng: np.random.Generator, suffix_len: int, rows: int, masked: bool,
                  eot: int, assistant: list[int]):
    """Agent dialogue windows after their shared prefix, which the caller encodes once per step:
    every agent dialogue opens with the same system prompt and tool schemas, so computing them
    once instead of once per row makes these steps several times cheaper.
    `masked` ignores the targets past a dialogue's end (short windows); long windows run on
    through the following dialogues to train far positions."""
    agent = np.load(f"{args.data_dir}/agent.npy", mmap_mode="r")
    starts = np.load(f"{args.data_dir}/agent_starts.npy")
    prefix_len = shared_prefix(agent, starts)
    prefix = torch.from_numpy(np.asarray(agent[starts[0]:starts[0] + prefix_len], dtype=np.int64))
    starts = starts[starts + prefix_len + suffix_len + 1 <= len(agent)]
    while True:
        block = torch.from_numpy(np.stack([
            agent[offset + prefix_len:offset + prefix_len + suffix_len + 1]
            for offset in rng.choice(starts, rows)
        ]).astype(np.int64))
        inputs, targets = block[:, :-1], block[:, 1:].clone()
        keep = assistant_tokens(block, assistant)[:, 1:]
        if masked:
            keep &= (inputs == eot).cumsum(dim=1) == 0
        targets[~keep] = -100
        yield prefix, inputs, targets


def assistant_tokens(block: torch.Tensor, header: list[int]) -> torch.Tensor:
    """True on the assistant's own tokens (its calls and answers, through <|im_end|>), after each
    `header` (<|im_start|>assistant\n). The agent's prompts and tool results are context to read,
    not text to learn, and leaving them out of the loss skips most of the output head's work."""
    keep = torch.zeros_like(block, dtype=torch.bool)
    im_start, im_end = header[0], header[0] + 1
    for row, ids in enumerate(block.tolist()):
        j = 0
        while j < len(ids):
            if ids[j] == im_start and ids[j + 1:j + len(header)] == header[1:]:
                j += len(header)
                while j < len(ids):
                    keep[row, j] = True
                    if ids[j] == im_end:
                        break
                    j += 1
            j += 1
    return keep


def prefixed_loss(model, prefix, inputs, targets):
    # The prefix runs once (batch 1) with gradients: its keys must learn to step aside when
    # the answer is in the request (frozen, the model copied words from the tool schemas).
    _, past = model.hidden_states(prefix.unsqueeze(0))
    past = [(k.expand(len(inputs), -1, -1, -1), v.expand(len(inputs), -1, -1, -1))
            for k, v in past]
    hidden, _ = model.hidden_states(inputs, past=past)
    kept = targets != -100
    return F.cross_entropy(model.logits(hidden[kept]), targets[kept])


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
    parser.add_argument("--chat-fraction", type=float, default=0.5,
                        help="share of dialogue windows in a batch (agent ones included)")
    parser.add_argument("--agent-fraction", type=float, default=0.0,
                        help="share of a batch drawn from the agent dialogues")
    parser.add_argument("--long-seq-len", type=int, default=0,
                        help="every --long-every steps, train on agent windows this long instead")
    parser.add_argument("--long-every", type=int, default=4)
    parser.add_argument("--cycle", default="",
                        help="comma-separated step kinds repeated in turn: mixed (the batches "
                        "above), agent (--agent-rows agent windows of --agent-suffix-len tokens "
                        "after the shared prefix), long (one agent window to --long-seq-len)")
    parser.add_argument("--agent-rows", type=int, default=8)
    parser.add_argument("--assistant-header", default="[6140, 334, 10]",
                        help="token ids of <|im_start|>assistant\\n (JSON)")
    parser.add_argument("--agent-suffix-len", type=int, default=256)
    parser.add_argument("--init", help="checkpoint whose weights (and config) a new run starts from")
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
    overrides = json.loads(args.config)
    init = None
    if os.path.exists(args.checkpoint):
        # A checkpoint knows its own architecture; --config can still override fields.
        overrides = {**torch.load(args.checkpoint)["config"], **overrides}
    elif args.init:
        init = torch.load(args.init)
        overrides = {**init["config"], **overrides}
    config = Config(**overrides)
    model = LlamaForCausalLM(config)
    if init is not None:
        model.load_state_dict(init["model"])
        print(f"train: starting from the weights of {args.init}", file=sys.stderr)
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
    data = batches(args, rng, args.seq_len, args.batch_size, args.chat_fraction,
                   args.agent_fraction)
    # Long windows teach positions past the short ones: as many tokens as a short batch, each
    # row starting at an agent dialogue and running on through the next ones.
    long_rows = max(1, args.batch_size * args.seq_len // max(1, args.long_seq_len))
    long_data = batches(args, rng, args.long_seq_len, long_rows, 1.0, 1.0) \
        if args.long_seq_len else None
    cycle = [kind for kind in args.cycle.split(",") if kind]
    eot = config.vocab_size - 5  # <|endoftext|>, the first of the five special ids
    # <|im_start|>assistant\n in the shipped tokenizer: the turns the agent steps learn from.
    assistant = json.loads(args.assistant_header)
    if cycle:
        short_agent = agent_batches(args, rng, args.agent_suffix_len, args.agent_rows, True, eot,
                                    assistant)
        prefix_len = len(next(short_agent)[0])
        long_agent = agent_batches(args, rng, args.long_seq_len - prefix_len, 1, False, eot,
                                   assistant)
        print(f"train: cycle {cycle}, agent prefix {prefix_len} tokens", file=sys.stderr)
    model.train()
    started = time.time() - elapsed
    window = []
    seen = 0
    by_kind: dict[str, list[float]] = {}
    while step < args.steps:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args)
        kind = cycle[step % len(cycle)] if cycle else "mixed"
        if kind in ("agent", "long"):
            prefix, inputs, targets = next(short_agent if kind == "agent" else long_agent)
            loss = prefixed_loss(model, prefix, inputs, targets)
            seen += inputs.numel() + len(prefix)
        else:
            long_step = long_data is not None and step % args.long_every == args.long_every - 1
            inputs, targets = next(long_data if long_step else data)
            logits = model(inputs)
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))
            seen += inputs.numel()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        window.append(loss.item())
        by_kind.setdefault(kind, []).append(loss.item())
        if step % 10 == 0:
            mean = sum(window) / len(window)
            history.append((step, mean))
            window = []
            kinds = " ".join(f"{k} {sum(v) / len(v):.3f}" for k, v in sorted(by_kind.items()))
            by_kind = {}
            rate = seen / max(1e-9, time.time() - started - elapsed)
            print(f"step {step} loss {mean:.3f} ({kinds}) lr {learning_rate(step, args):.2e} "
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

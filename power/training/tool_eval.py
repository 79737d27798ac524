"""Measures how often a checkpoint calls the right tool with the right arguments.

Requests are drawn from the same generators as the training dialogues but with their own seed, so
each (tool list, request, arguments) combination is new to the model, though its phrasing
patterns are not. The model decodes greedily from the assistant turn; a call counts when the
`<tool_call>` JSON parses, names the requested tool and carries exactly the expected arguments.
"""

import argparse
import json
import random
import sys

import torch

from bpe import MARKERS, SPECIAL, Encoder
from dialogues import FIXED_TOOLS, _distractor_tools, render
from model import load_checkpoint


@torch.no_grad()
def greedy(model, ids: list[int], stop: set[int], limit: int) -> list[int]:
    hidden, past = model.hidden_states(torch.tensor([ids]))
    out: list[int] = []
    for _ in range(limit):
        token = int(model.logits(hidden[:, -1]).argmax())
        if token in stop:
            break
        out.append(token)
        hidden, past = model.hidden_states(torch.tensor([[token]]), past=past)
    return out


def decode(encoder: Encoder, ids: list[int]) -> str:
    inverse = {v: k for k, v in encoder.vocab.items()}
    byte_of = {c: b for b, c in encoder.byte_map.items()}
    data = bytearray()
    for token in ids:
        piece = inverse[token]
        # Added and special tokens are stored as their text; the rest as byte-mapped characters.
        data += piece.encode() if piece in SPECIAL + MARKERS else bytes(byte_of[c] for c in piece)
    return data.decode("utf-8", errors="replace")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--count", type=int, default=90)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, state = load_checkpoint(args.checkpoint)
    with open(args.tokenizer, encoding="utf-8") as handle:
        encoder = Encoder(json.load(handle))
    stop = {encoder.vocab["<|im_end|>"], encoder.vocab["<|endoftext|>"]}
    r = random.Random(args.seed)
    parsed = named = exact = 0
    per_tool: dict[str, list[int]] = {}
    for index in range(args.count):
        maker = FIXED_TOOLS[index % len(FIXED_TOOLS)]
        tool, ask, name, expected, _, _ = maker(r)
        tools = _distractor_tools(r, tool)
        prompt = render([{"role": "user", "content": ask}], tools) + "<|im_start|>assistant\n"
        text = decode(encoder, greedy(model, encoder.encode(prompt), stop, 96))
        call = None
        if "<tool_call>" in text and "</tool_call>" in text:
            body = text.split("<tool_call>", 1)[1].split("</tool_call>", 1)[0]
            try:
                call = json.loads(body)
            except json.JSONDecodeError:
                call = None
        tally = per_tool.setdefault(name, [0, 0])
        tally[1] += 1
        if isinstance(call, dict):
            parsed += 1
            if call.get("name") == name:
                named += 1
                tally[0] += 1
                if call.get("arguments") == expected:
                    exact += 1
    n = args.count
    print(f"step {state['step']}: {n} requests; tool call parses {parsed}/{n}, right tool "
          f"{named}/{n}, right tool and arguments {exact}/{n}")
    print("  right tool by tool: " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in per_tool.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

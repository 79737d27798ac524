"""Writes cases.json: texts with the ids the Python encoder gives them, and chats with the text
the Python renderer gives them. verify_tokenizer.ts checks the shipped tokenizer.json (under
@lenml/tokenizers) and chat template (under @huggingface/jinja) produce the same."""

import argparse
import json
import random
import sys

import dialogues
from bpe import Encoder

TEXTS = [
    "Hello, world! This is a test of the tokenizer.",
    "  leading spaces, tabs\tand\nnew lines\n\n",
    "Numbers 12345 and 3.14159, symbols #@$%^&*() and _under_scores_.",
    "Unicode: café, naïve, 東京, Ελληνικά, emoji 🙂 and a zero\u200bwidth space.",
    "It's what they'll do, we've seen it, I'm sure you'd agree.",
    '<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>',
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    "<|endoftext|>The end.",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.tokenizer, encoding="utf-8") as handle:
        encoder = Encoder(json.load(handle))
    r = random.Random(7)
    chats = []
    for _ in range(6):
        tool, ask, name, call_args, result, answer = r.choice(dialogues.FIXED_TOOLS)(r)
        messages = [{"role": "user", "content": ask},
                    {"role": "assistant", "content": "",
                     "tool_calls": [{"type": "function",
                                     "function": {"name": name, "arguments": call_args}}]},
                    {"role": "tool", "content": dialogues.to_json(result)},
                    {"role": "assistant", "content": answer}]
        flat = [dict(m, tool_calls=[c["function"] for c in m["tool_calls"]])
                if "tool_calls" in m else m for m in messages]
        chats.append({"messages": messages, "tools": [tool],
                      "rendered": dialogues.render(flat, [tool])})
    plain = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}]
    chats.append({"messages": plain, "tools": None,
                  "rendered": dialogues.render(plain) })
    cases = {"texts": [{"text": t, "ids": encoder.encode(t)} for t in TEXTS], "chats": chats}
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(cases, handle, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

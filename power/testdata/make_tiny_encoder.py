#!/usr/bin/python3
"""Exports a small random BERT-style encoder in the Hugging Face ONNX layout, for embeddings.

  config.json (model_type bert), tokenizer.json (WordPiece), tokenizer_config.json,
  1_Pooling/config.json (mean pooling) and onnx/model.onnx with inputs input_ids,
  attention_mask, token_type_ids and output last_hidden_state.

Usage: /usr/bin/python3 make_tiny_encoder.py OUT_DIR [--hidden 32] [--layers 2] [--seed 0]
"""
import argparse
import json
import math
import os

import torch
from torch import nn

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "hello", "world", "weather", "city",
         "paris", "london", "is", "sunny", "rain", "model", "text", "embed", "search"]
SUFFIXES = ["##s", "##ing", "##ed", "##er", "##ly"]


def build_vocab():
    vocab = list(SPECIALS)
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    chars += list(".,!?'\"-:;()[]{}")
    vocab += chars + ["##" + c for c in chars[:36]] + WORDS + SUFFIXES
    return {token: i for i, token in enumerate(vocab)}


class Layer(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.norm1 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, 4 * d)
        self.ff2 = nn.Linear(4 * d, d)
        self.norm2 = nn.LayerNorm(d)

    def forward(self, x, bias):
        b, s, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(hd) + bias
        attn = torch.matmul(torch.softmax(scores, -1), v).transpose(1, 2).reshape(b, s, d)
        x = self.norm1(x + self.out(attn))
        return self.norm2(x + self.ff2(torch.nn.functional.gelu(self.ff1(x))))


class TinyBert(nn.Module):
    def __init__(self, vocab, d, layers, heads, positions):
        super().__init__()
        self.word = nn.Embedding(vocab, d)
        self.position = nn.Embedding(positions, d)
        self.token_type = nn.Embedding(2, d)
        self.norm = nn.LayerNorm(d)
        self.layers = nn.ModuleList([Layer(d, heads) for _ in range(layers)])

    def forward(self, input_ids, attention_mask, token_type_ids):
        s = input_ids.shape[1]
        positions = torch.arange(s).unsqueeze(0)
        x = self.norm(self.word(input_ids) + self.position(positions) + self.token_type(token_type_ids))
        bias = (1.0 - attention_mask.view(-1, 1, 1, s).float()) * -1e9
        for layer in self.layers:
            x = layer(x, bias)
        return x


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--positions", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    vocab = build_vocab()
    model = TinyBert(len(vocab), args.hidden, args.layers, args.heads, args.positions).eval()
    os.makedirs(os.path.join(args.out, "onnx"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "1_Pooling"), exist_ok=True)
    ids = torch.randint(0, len(vocab), (1, 5))
    torch.onnx.export(
        model,
        (ids, torch.ones(1, 5, dtype=torch.int64), torch.zeros(1, 5, dtype=torch.int64)),
        os.path.join(args.out, "onnx", "model.onnx"),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={name: {0: "batch_size", 1: "sequence_length"} for name in
                      ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
        opset_version=14,
    )
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": len(vocab),
        "hidden_size": args.hidden,
        "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads,
        "intermediate_size": 4 * args.hidden,
        "max_position_embeddings": args.positions,
        "type_vocab_size": 2,
        "pad_token_id": 0,
    }
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for t in SPECIALS
        ],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [vocab["[CLS]"]], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [vocab["[SEP]"]], "tokens": ["[SEP]"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }
    files = {
        "config.json": config,
        "tokenizer.json": tokenizer,
        "tokenizer_config.json": {"tokenizer_class": "BertTokenizer", "do_lower_case": True,
                                  "model_max_length": args.positions, "cls_token": "[CLS]",
                                  "sep_token": "[SEP]", "pad_token": "[PAD]",
                                  "unk_token": "[UNK]", "mask_token": "[MASK]"},
        "1_Pooling/config.json": {"word_embedding_dimension": args.hidden,
                                  "pooling_mode_cls_token": False,
                                  "pooling_mode_mean_tokens": True},
    }
    for name, content in files.items():
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(content, f, indent=2)


if __name__ == "__main__":
    main()

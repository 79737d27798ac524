"""Turns an exported model directory back into a train.py checkpoint, so a shipped model can be
trained further without the checkpoint it was exported from.

The ONNX graph stores each linear layer's weight transposed under an anonymous initializer name;
the MatMul node that reads it carries the module path (`/layers.0/self_attn/q_proj/MatMul`), which
gives the state-dict key. `--max-positions` raises the context the new checkpoint declares (rotary
embeddings have no learned table, so only training on long windows is needed to use it).
"""

import argparse
import dataclasses
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch

from model import Config, LlamaForCausalLM


def state_dict_from_onnx(path: str) -> dict[str, torch.Tensor]:
    graph = onnx.load(path).graph
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    state = {}
    for name, array in arrays.items():
        if name.startswith("model."):
            state[name[len("model."):]] = torch.from_numpy(array.copy())
    for node in graph.node:
        if node.op_type != "MatMul" or not node.name.startswith("/layers."):
            continue
        weight = next((x for x in node.input if x in arrays and not x.startswith("model.")), None)
        if weight is None:
            continue
        # "/layers.0/self_attn/q_proj/MatMul" -> "layers.0.self_attn.q_proj.weight"
        key = ".".join(node.name.strip("/").split("/")[:-1]) + ".weight"
        state[key] = torch.from_numpy(np.ascontiguousarray(arrays[weight].T))
    return state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-positions", type=int, default=0)
    args = parser.parse_args()
    with open(f"{args.model_dir}/config.json", encoding="utf-8") as handle:
        hf = json.load(handle)
    config = Config(
        vocab_size=hf["vocab_size"], hidden_size=hf["hidden_size"],
        intermediate_size=hf["intermediate_size"], num_hidden_layers=hf["num_hidden_layers"],
        num_attention_heads=hf["num_attention_heads"],
        num_key_value_heads=hf["num_key_value_heads"],
        max_position_embeddings=max(args.max_positions, hf["max_position_embeddings"]),
        rms_norm_eps=hf["rms_norm_eps"], rope_theta=hf["rope_theta"])
    model = LlamaForCausalLM(config)
    state = state_dict_from_onnx(f"{args.model_dir}/onnx/model.onnx")
    missing = set(model.state_dict()) - set(state)
    extra = set(state) - set(model.state_dict())
    if missing or extra:
        print(f"from_onnx: missing {sorted(missing)}, unexpected {sorted(extra)}", file=sys.stderr)
        return 1
    model.load_state_dict(state)
    # A checkpoint without optimizer state: train.py starts a fresh AdamW from these weights.
    torch.save({"model": model.state_dict(), "config": dataclasses.asdict(config)}, args.out)
    print(f"from_onnx: {sum(p.numel() for p in model.parameters())} parameters -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

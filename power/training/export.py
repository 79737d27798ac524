"""Exports a training checkpoint as a Hugging Face ONNX model directory.

Writes config.json, generation_config.json, tokenizer.json, tokenizer_config.json (with the chat
template), special_tokens_map.json and onnx/model.onnx. The ONNX graph takes input_ids,
attention_mask, position_ids and past_key_values.{i}.key/value, and returns logits,
present.{i}.key/value and last_hidden_state (the final-norm hidden states, for embeddings).
It also writes reference.json: inputs and torch outputs that verify_onnx.ts compares against
onnxruntime's.
"""

import argparse
import json
import os
import shutil
import sys

import onnx
from onnx import numpy_helper
import torch

from model import Config, LlamaForCausalLM, load_checkpoint


class OnnxWrapper(torch.nn.Module):
    def __init__(self, model: LlamaForCausalLM):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *flat_past):
        past = [(flat_past[2 * i], flat_past[2 * i + 1]) for i in range(len(flat_past) // 2)]
        hidden, presents = self.model.hidden_states(input_ids, attention_mask, position_ids, past)
        outputs = [self.model.logits(hidden)]
        for key, value in presents:
            outputs += [key, value]
        return tuple(outputs + [hidden])


def _names(layers: int) -> tuple[list[str], list[str]]:
    past, present = [], []
    for i in range(layers):
        past += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        present += [f"present.{i}.key", f"present.{i}.value"]
    return past, present


def export_onnx(model: LlamaForCausalLM, path: str) -> None:
    config = model.config
    past_names, present_names = _names(config.num_hidden_layers)
    batch, seq, past_len = 2, 3, 4
    shape = (batch, config.num_key_value_heads, past_len, config.head_dim)
    past = [torch.randn(shape) for _ in past_names]
    args = (torch.randint(0, config.vocab_size, (batch, seq)),
            torch.ones(batch, past_len + seq, dtype=torch.long),
            torch.arange(past_len, past_len + seq).unsqueeze(0).repeat(batch, 1), *past)
    dynamic = {"input_ids": {0: "batch_size", 1: "sequence_length"},
               "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
               "position_ids": {0: "batch_size", 1: "sequence_length"},
               "logits": {0: "batch_size", 1: "sequence_length"},
               "last_hidden_state": {0: "batch_size", 1: "sequence_length"}}
    for name in past_names:
        dynamic[name] = {0: "batch_size", 2: "past_sequence_length"}
    for name in present_names:
        dynamic[name] = {0: "batch_size", 2: "total_sequence_length"}
    torch.onnx.export(
        OnnxWrapper(model), args, path, opset_version=17, do_constant_folding=True,
        input_names=["input_ids", "attention_mask", "position_ids", *past_names],
        output_names=["logits", *present_names, "last_hidden_state"], dynamic_axes=dynamic)
    _share_tied_embedding(path, model)
    onnx.checker.check_model(path, full_check=True)


def _share_tied_embedding(path: str, model: LlamaForCausalLM) -> None:
    """Constant folding stores the transposed embedding for the output head as a second copy;
    replace that copy with a Transpose of the embedding so the weights are stored once."""
    graph_model = onnx.load(path)
    graph = graph_model.graph
    weight = model.embed_tokens.weight.detach()
    embed_name = None
    transposed_name = None
    for init in graph.initializer:
        dims = tuple(init.dims)
        if dims == tuple(weight.shape) and torch.equal(
                torch.from_numpy(numpy_helper.to_array(init).copy()), weight):
            embed_name = init.name
        elif dims == tuple(weight.shape[::-1]):
            transposed_name = init.name
    if embed_name is None or transposed_name is None:
        return
    kept = [init for init in graph.initializer if init.name != transposed_name]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    node = onnx.helper.make_node("Transpose", [embed_name], [transposed_name], perm=[1, 0],
                                 name="tied_lm_head_transpose")
    graph.node.insert(0, node)
    onnx.save(graph_model, path)


def write_configs(config: Config, out_dir: str, tokenizer_path: str, template_path: str) -> None:
    with open(tokenizer_path, encoding="utf-8") as handle:
        tokenizer = json.load(handle)
    ids = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    eot, im_end = ids["<|endoftext|>"], ids["<|im_end|>"]
    shutil.copyfile(tokenizer_path, os.path.join(out_dir, "tokenizer.json"))
    with open(template_path, encoding="utf-8") as handle:
        template = handle.read().strip()
    hf_config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
        "head_dim": config.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": config.max_position_embeddings,
        "rms_norm_eps": config.rms_norm_eps,
        "rope_theta": config.rope_theta,
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "initializer_range": 0.02,
        "vocab_size": config.vocab_size,
        "bos_token_id": eot,
        "eos_token_id": [im_end, eot],
        "pad_token_id": eot,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "transformers_version": "4.46.0",
    }
    generation = {"bos_token_id": eot, "eos_token_id": [im_end, eot], "pad_token_id": eot,
                  "do_sample": True, "temperature": 0.7, "top_k": 40, "top_p": 0.9,
                  "repetition_penalty": 1.1, "transformers_version": "4.46.0"}
    added = {str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                              "single_word", "special")}
             for t in tokenizer["added_tokens"]}
    tokenizer_config = {
        "tokenizer_class": "Qwen2Tokenizer",
        "added_tokens_decoder": added,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "add_bos_token": False,
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,
        "errors": "replace",
        "model_max_length": config.max_position_embeddings,
        "split_special_tokens": False,
        "chat_template": template,
    }
    special_map = {"additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
                   "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
    for name, value in (("config.json", hf_config), ("generation_config.json", generation),
                        ("tokenizer_config.json", tokenizer_config),
                        ("special_tokens_map.json", special_map)):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=2, ensure_ascii=False)
            handle.write("\n")


@torch.no_grad()
def write_reference(model: LlamaForCausalLM, path: str) -> None:
    """Torch outputs for a prompt, then one cached step, for verify_onnx.ts to compare."""
    config = model.config
    prompt = [[(i * 37 + 11) % config.vocab_size for i in range(7)]]
    ids = torch.tensor(prompt)
    mask = torch.ones(1, 7, dtype=torch.long)
    hidden, presents = model.hidden_states(ids, mask, torch.arange(7).unsqueeze(0))
    logits = model.logits(hidden)
    next_id = int(logits[0, -1].argmax())
    step_hidden, _ = model.hidden_states(torch.tensor([[next_id]]), torch.ones(1, 8, dtype=torch.long),
                                         torch.tensor([[7]]), presents)
    step_logits = model.logits(step_hidden)
    full_hidden, _ = model.hidden_states(torch.tensor([prompt[0] + [next_id]]))
    reference = {
        "prompt": prompt[0],
        "prompt_logits_last": logits[0, -1].tolist(),
        "prompt_hidden_last": hidden[0, -1].tolist(),
        "next_id": next_id,
        "step_logits": step_logits[0, -1].tolist(),
        "uncached_step_logits": model.logits(full_hidden)[0, -1].tolist(),
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(reference, handle)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--template", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--reference", required=True)
    args = parser.parse_args()
    model, state = load_checkpoint(args.checkpoint)
    config = model.config
    os.makedirs(os.path.join(args.out_dir, "onnx"), exist_ok=True)
    export_onnx(model, os.path.join(args.out_dir, "onnx", "model.onnx"))
    write_configs(config, args.out_dir, args.tokenizer, args.template)
    write_reference(model, args.reference)
    size = os.path.getsize(os.path.join(args.out_dir, "onnx", "model.onnx"))
    print(f"export: step {state['step']}, onnx {size / 1e6:.1f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

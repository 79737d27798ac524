"""A Llama-architecture decoder in plain torch that computes what Hugging Face's LlamaForCausalLM
computes for the same config.json: RMSNorm, rotary embeddings in the rotate_half
convention, SwiGLU MLP, no biases, tied input and output embeddings.

The same module serves training (no cache) and ONNX export (explicit past key/values in, present
key/values out, plus the final-norm hidden states for embeddings).
"""

import dataclasses
import math

import torch
from torch import nn
from torch.nn import functional as F


@dataclasses.dataclass
class Config:
    vocab_size: int = 6144
    hidden_size: int = 256
    intermediate_size: int = 688
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 4
    max_position_embeddings: int = 512
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The model is float32 throughout, so HF's upcasts are identities and are left out
        # (onnxruntime's cast elimination mishandles the no-op Casts they export as).
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Rotary(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        dim = config.head_dim
        inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = position_ids.float().unsqueeze(-1) * self.inv_freq  # [batch, seq, dim/2]
        emb = torch.cat((freqs, freqs), dim=-1).unsqueeze(1)  # [batch, 1, seq, dim]
        return emb.cos(), emb.sin()


class Attention(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        hidden = config.hidden_size
        self.q_proj = nn.Linear(hidden, self.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, hidden, bias=False)

    def forward(self, x, cos, sin, bias, past_key=None, past_value=None):
        batch, seq, _ = x.shape
        q = self.q_proj(x).view(batch, seq, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_key is not None:
            k = torch.cat((past_key, k), dim=2)
            v = torch.cat((past_value, v), dim=2)
        present = (k, v)
        if self.kv_heads != self.heads:
            repeat = self.heads // self.kv_heads
            k = k.repeat_interleave(repeat, dim=1)
            v = v.repeat_interleave(repeat, dim=1)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim) + bias
        probs = F.softmax(scores, dim=-1)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(batch, seq, -1)
        return self.o_proj(out), present


class MLP(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = Attention(config)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x, cos, sin, bias, past_key=None, past_value=None):
        attn, present = self.self_attn(self.input_layernorm(x), cos, sin, bias, past_key,
                                       past_value)
        x = x + attn
        return x + self.mlp(self.post_attention_layernorm(x)), present


class LlamaForCausalLM(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(Layer(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary = Rotary(config)
        self.apply(self._init)
        # GPT-2 style scaling keeps the residual stream's variance flat with depth.
        for layer in self.layers:
            std = 0.02 / math.sqrt(2 * config.num_hidden_layers)
            nn.init.normal_(layer.self_attn.o_proj.weight, std=std)
            nn.init.normal_(layer.mlp.down_proj.weight, std=std)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def hidden_states(self, input_ids, attention_mask=None, position_ids=None, past=None):
        batch, seq = input_ids.shape
        past_len = past[0][0].shape[2] if past is not None else 0
        if position_ids is None:
            position_ids = torch.arange(past_len, past_len + seq).unsqueeze(0).expand(batch, seq)
        total = past_len + seq
        if attention_mask is None:
            attention_mask = torch.ones(batch, total, dtype=torch.long)
        query_pos = torch.arange(seq).unsqueeze(1) + past_len
        key_pos = torch.arange(total).unsqueeze(0)
        allowed = (key_pos <= query_pos).unsqueeze(0) & (attention_mask[:, None, :] > 0)
        # Tensors rather than Python scalars, which the ONNX exporter would type as double.
        zero = torch.zeros((), dtype=torch.float32)
        blocked = torch.full((), torch.finfo(torch.float32).min, dtype=torch.float32)
        bias = torch.where(allowed, zero, blocked).unsqueeze(1)
        cos, sin = self.rotary(position_ids)
        x = self.embed_tokens(input_ids)
        presents = []
        for index, layer in enumerate(self.layers):
            past_key, past_value = past[index] if past is not None else (None, None)
            x, present = layer(x, cos, sin, bias, past_key, past_value)
            presents.append(present)
        return self.norm(x), presents

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(hidden, self.embed_tokens.weight)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.hidden_states(input_ids)
        return self.logits(hidden)


def load_checkpoint(path: str) -> tuple[LlamaForCausalLM, dict]:
    """The model saved by train.py at `path`, in eval mode, and the checkpoint's state dict."""
    state = torch.load(path)
    model = LlamaForCausalLM(Config(**state["config"]))
    model.load_state_dict(state["model"])
    model.eval()
    return model, state

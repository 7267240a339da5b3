"""Tiny random models of every family neuron-attr supports, built in memory (no downloads), and
where each keeps the MLP down projection whose input is a neuron."""

from __future__ import annotations

from typing import Any

VOCAB = 512  # the tiny_llama fixture's tokenizer, saved beside exported checkpoints
_SHAPE = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=2,
              num_key_value_heads=1, max_position_embeddings=128, bos_token_id=1, eos_token_id=2, pad_token_id=0)  # fmt: skip


def _llama_like(config_name: str, model_name: str, **extra: Any) -> Any:
    import transformers

    config = getattr(transformers, config_name)(**_SHAPE, **extra)
    return getattr(transformers, model_name)(config)


def build(family: str) -> Any:
    """A tiny random model of ``family`` (GQA where the family has it; tied embeddings on Gemma
    and GPT-2), float32, eval mode."""
    import torch
    import transformers

    torch.manual_seed(0)
    if family == "gpt2":
        model = transformers.GPT2LMHeadModel(
            transformers.GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=2, n_inner=96, n_positions=128, bos_token_id=1, eos_token_id=2)
        )
    elif family == "gemma3":
        model = _llama_like("Gemma3TextConfig", "Gemma3ForCausalLM", head_dim=32, sliding_window=16)
    elif family in ("gemma", "gemma2"):
        name = {"gemma": "Gemma", "gemma2": "Gemma2"}[family]
        model = _llama_like(f"{name}Config", f"{name}ForCausalLM", head_dim=32)
    elif family == "qwen3":
        model = _llama_like("Qwen3Config", "Qwen3ForCausalLM", head_dim=32)
    else:
        name = {"llama": "Llama", "qwen2": "Qwen2", "mistral": "Mistral", "phi3": "Phi3"}[family]
        model = _llama_like(f"{name}Config", f"{name}ForCausalLM")
    return model.float().eval()


def down_projection(model: Any, family: str, layer: int) -> Any:
    """Where the family keeps block ``layer``'s MLP down projection, named here independently."""
    if family == "gpt2":
        return model.transformer.h[layer].mlp.c_proj
    return model.model.layers[layer].mlp.down_proj


FAMILIES = ["llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "gemma3", "phi3", "gpt2"]

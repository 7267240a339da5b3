"""Where a causal LM's blocks keep their projections, and how to silence some of their inputs.

Plugins that study or edit a model's units (MLP neurons, attention heads) need the same three things
on every Hugging Face family: the output projection of each block's attention (its input is the
heads' outputs side by side) and of its MLP (its input is the MLP's hidden activation, one
coordinate a neuron); a way to zero chosen input features, either for a forward pass (a hook) or
for good (the weights); and a checkpoint of the edited model that transformers and vLLM load as an
ordinary model. This module gives them once.

Two layouts of a projection exist: ``torch.nn.Linear`` (weight ``[out, in]``: an input feature is a
column) and GPT-2's ``Conv1D`` (weight ``[in, out]``: an input feature is a row). Zeroing an input
feature's weights equals zeroing the feature itself, because the bias does not depend on it.
torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmkit.errors import UsageError

# Where the list of blocks lives, and where a block keeps its two projections, on the families
# llmkit supports: Llama, Qwen2/3, Mistral, Gemma/2/3, Phi-3 (model.layers, o_proj, down_proj),
# GPT-2 (transformer.h, attn.c_proj, mlp.c_proj), GPT-NeoX (attention.dense, dense_4h_to_h).
_BLOCK_LISTS = ("model.layers", "transformer.h", "model.language_model.layers", "gpt_neox.layers")
_ATTENTION_OUTPUTS = ("self_attn.o_proj", "attn.c_proj", "attention.dense", "self_attn.dense")
_MLP_OUTPUTS = ("mlp.down_proj", "mlp.c_proj", "mlp.dense_4h_to_h", "mlp.fc2")


@dataclass(frozen=True)
class Block:
    """One decoder block: its index, its two output projections and its attention geometry."""

    index: int
    attention_output: Any
    mlp_output: Any
    num_heads: int
    num_kv_heads: int
    head_dim: int

    @property
    def mlp_width(self) -> int:
        """Neurons in this block's MLP: the input width of its down projection."""
        return input_width(self.mlp_output)


def transformer_blocks(model: Any) -> list[Block]:
    """The decoder blocks of a Hugging Face causal LM, in order. UsageError (exit 2) naming the
    model's class when its blocks or projections are not where any supported family keeps them."""
    layers = _first_attribute(model, _BLOCK_LISTS)
    if layers is None:
        raise UsageError(f"cannot find the decoder blocks of {type(model).__name__}: supported are "
                         "Llama, Qwen2/3, Mistral, Gemma/2/3, Phi-3, GPT-2 and GPT-NeoX layouts")
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    heads = _config_value(config, "num_attention_heads", "n_head")
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or _config_value(config, "hidden_size", "n_embd") // heads
    blocks = []
    for index, layer in enumerate(layers):
        attention = _first_attribute(layer, _ATTENTION_OUTPUTS)
        mlp = _first_attribute(layer, _MLP_OUTPUTS)
        if attention is None or mlp is None:
            raise UsageError(f"cannot find the attention and MLP output projections of block {index} "
                             f"of {type(model).__name__} ({type(layer).__name__})")
        blocks.append(Block(index, attention, mlp, heads, kv_heads, head_dim))
    return blocks


def input_width(projection: Any) -> int:
    """Input features of a Linear or Conv1D projection."""
    return int(projection.in_features) if _is_linear(projection) else int(projection.weight.shape[0])


def zero_input_features(projection: Any, features: Iterable[int]) -> None:
    """Set to zero, in place, the weights that read the given input features of ``projection``."""
    import torch

    index = torch.as_tensor(sorted(set(features)), dtype=torch.long, device=projection.weight.device)
    _check_features(projection, index)
    with torch.no_grad():
        if _is_linear(projection):
            projection.weight[:, index] = 0
        else:
            projection.weight[index, :] = 0


def mask_input_features(projection: Any, features: Iterable[int]) -> Any:
    """Zero the given input features of ``projection`` on every forward pass until the returned
    handle's ``remove()``. Multiplies by a 0/1 mask, so gradients still flow through the others."""
    import torch

    chosen = sorted(set(features))
    keep = torch.ones(input_width(projection), dtype=projection.weight.dtype, device=projection.weight.device)
    if chosen:
        index = torch.as_tensor(chosen, dtype=torch.long)
        _check_features(projection, index)
        keep[index] = 0

    def hook(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (args[0] * keep.to(args[0].dtype), *args[1:])

    return projection.register_forward_pre_hook(hook)


def head_features(block: Block, heads: Sequence[int]) -> list[int]:
    """Input features of the attention output projection that carry the given query heads."""
    for head in heads:
        if not 0 <= head < block.num_heads:
            raise UsageError(f"head {head} does not exist in block {block.index} ({block.num_heads} heads)")
    return [head * block.head_dim + offset for head in heads for offset in range(block.head_dim)]


def save_checkpoint(model: Any, tokenizer_source: str | os.PathLike[str], directory: str | os.PathLike[str]) -> Path:
    """Write ``model`` (safetensors and config) and the tokenizer found at ``tokenizer_source``
    to ``directory``, as a checkpoint transformers and vLLM load like any other."""
    from transformers import AutoTokenizer

    out = Path(directory).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out, safe_serialization=True)
        AutoTokenizer.from_pretrained(os.path.expanduser(str(tokenizer_source))).save_pretrained(out)
    except OSError as exc:
        raise UsageError(f"cannot write a checkpoint to {out}: {exc.strerror or exc}") from exc
    return out


def _first_attribute(root: Any, paths: Iterable[str]) -> Any:
    for path in paths:
        node: Any = root
        for name in path.split("."):
            node = getattr(node, name, None)
            if node is None:
                break
        if node is not None:
            return node
    return None


def _config_value(config: Any, *names: str) -> int:
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return int(value)
    raise UsageError(f"the model's config ({type(config).__name__}) has none of {', '.join(names)}")


def _is_linear(projection: Any) -> bool:
    import torch

    return isinstance(projection, torch.nn.Linear)


def _check_features(projection: Any, index: Any) -> None:
    width = input_width(projection)
    outside = [int(i) for i in index if not 0 <= int(i) < width]
    if outside:
        raise UsageError(f"input feature {outside[0]} is outside 0..{width - 1} of this projection")


"""The top-1 attention position of each decoding query, for every (layer, query head), without
attention matrices.

Wu et al. read the position off the full attention probabilities (``output_attentions=True``),
which forces eager attention and an O(length^2) matrix per head at prefill. Here the model keeps
its own attention (SDPA, flash): a wrapper registered in transformers' ``AttentionInterface``
runs the model's implementation unchanged and, for a query of one position (a decoding step),
also computes ``q . K^T`` for that one row, against the cache's keys as the attention sees them
(after rotary embedding): memory linear in the length. The argmax of the scores is the argmax of
the softmax (scaling, softcapping and the softmax itself are monotone), so no probabilities are
needed. GQA: query head ``h`` reads key head ``h // (heads / kv_heads)``, as ``repeat_kv`` lays
them out; the keys are never repeated.

Models that call the interface (``_supports_attention_backend``) are supported: Llama, Mistral,
Qwen2/3, Gemma, Phi-3, GPT-2 and most current transformers families.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

import llmkit

_PREFIX = "llmkit_ret_heads_top1_"
#: the capture being recorded by the current forward pass, if any
_active: list[Top1Capture] = []


def top1_positions(query: Any, key: Any, attention_mask: Any = None) -> Any:
    """Argmax over key positions of each query head's scores, for a query of length 1.

    ``query`` is (batch, heads, 1, dim), ``key`` (batch, kv_heads, length, dim); ``attention_mask``
    None, a boolean (True = may attend) or an additive float mask broadcastable to
    (batch, 1, 1, length). Returns (batch, heads) long. Memory: (batch, heads, length)."""
    import torch

    batch, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    grouped = query.reshape(batch, kv_heads, heads // kv_heads, dim)
    scores = torch.matmul(grouped, key.transpose(-1, -2))  # (batch, kv_heads, group, length)
    if attention_mask is not None:
        mask = attention_mask[..., -1:, -key.shape[2]:]
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask.to(scores.dtype)
    return scores.argmax(dim=-1).reshape(batch, heads)


class Top1Capture:
    """While armed, records each attention call's top-1 positions, in call order (= layer order).

    Use as a context manager around a model's decoding; ``arm()`` before a decoding forward pass,
    ``take()`` after it returns a (layers, heads) tensor for the first row of the batch."""

    def __init__(self, model: Any) -> None:
        if not getattr(model, "_supports_attention_backend", False):
            raise llmkit.UsageError(
                f"ret-heads cannot read the attention of {type(model).__name__}: its attention does not go through "
                "transformers' AttentionInterface (supported: Llama, Mistral, Qwen2/3, Gemma, Phi-3, GPT-2 and other current families)"
            )
        self.model = model
        self.original = model.config._attn_implementation or "sdpa"
        self.rows: list[Any] = []
        self.armed = False

    def __enter__(self) -> Self:
        name = _register(self.original)
        self.model.set_attn_implementation(name)
        _active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _active.remove(self)
        self.model.set_attn_implementation(self.original)

    def arm(self) -> None:
        self.rows = []
        self.armed = True

    def take(self) -> Any:
        import torch

        self.armed = False
        if not self.rows:
            raise llmkit.UsageError(
                f"{type(self.model).__name__} ran no attention through transformers' AttentionInterface; ret-heads cannot read it"
            )
        return torch.stack([row[0] for row in self.rows])


def _register(original: str) -> str:
    """Register (once) the capturing twin of attention implementation ``original``; its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import (
        ALL_MASK_ATTENTION_FUNCTIONS,
        AttentionMaskInterface,
    )
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    name = _PREFIX + original.replace("|", "_")
    if name in ALL_ATTENTION_FUNCTIONS:
        return name
    inner = ALL_ATTENTION_FUNCTIONS.get(original) or ALL_ATTENTION_FUNCTIONS["sdpa"]
    mask_name = original if original in ALL_MASK_ATTENTION_FUNCTIONS else "sdpa"

    def attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, *args: Any, **kwargs: Any) -> Any:
        capture = _active[-1] if _active else None
        if capture is not None and capture.armed and query.shape[2] == 1:
            capture.rows.append(top1_positions(query, key, attention_mask))
        return inner(module, query, key, value, attention_mask, *args, **kwargs)

    AttentionInterface.register(name, attention)
    AttentionMaskInterface.register(name, ALL_MASK_ATTENTION_FUNCTIONS[mask_name])
    return name


@contextmanager
def eager_attention(model: Any) -> Iterator[None]:
    """Run ``model`` with eager attention inside (the reference route: full probabilities)."""
    original = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(original)

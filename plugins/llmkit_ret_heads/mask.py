"""``mask``: a checkpoint with chosen heads silenced (RetMask's ablation).

Head ``h`` of a block writes input features ``[h*head_dim, (h+1)*head_dim)`` of the block's
attention output projection; zeroing those weights (``o_proj`` columns, GPT-2 ``c_proj`` rows)
removes the head's output at every position, prefill included, as RetMask does. The projection's
bias is shared by all heads and stays. Heads are query heads, so GQA models lose one query head,
not the key-value group.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import llmkit
import llmkit.backends


@dataclass
class HeadScores:
    model: str
    scores: dict[tuple[int, int], float]
    flagged: set[tuple[int, int]]  # heads the detect run called retrieval heads
    summary: dict[str, Any] | None


def read_heads(path: str) -> HeadScores:
    """The head records of one model from a ``detect`` output. A head needs integer ``layer`` and
    ``head`` (not 1.7, not "1") and a finite number ``score`` (not "nan"): anything else, or a head
    listed twice, is an InputError naming the line and the field."""
    models: set[str] = set()
    scores: dict[tuple[int, int], float] = {}
    flagged: set[tuple[int, int]] = set()
    summary = None
    for record, where in llmkit.read_jsonl(path, "--heads"):
        if record.get("type") == "summary":
            summary = record
            continue
        key = (_index(record, "layer", where), _index(record, "head", where))
        if key in scores:
            raise llmkit.InputError(f"head {key} is listed twice", where)
        scores[key] = _score(record, where)
        models.add(str(record.get("model")))
        if record.get("retrieval"):
            flagged.add(key)
    if not scores:
        raise llmkit.UsageError(f"--heads {path} holds no head records")
    if len(models) > 1:
        raise llmkit.UsageError(f"--heads {path} holds several models ({', '.join(sorted(models))}); give one model's records")
    return HeadScores(models.pop(), scores, flagged, summary)


def _index(record: llmkit.Record, name: str, where: str) -> int:
    value = record.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise llmkit.InputError(f"a head record needs a non-negative integer, got {value!r}", where, name)
    return value


def _score(record: llmkit.Record, where: str) -> float:
    value = record.get("score")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            score = float(value)
        except OverflowError:  # an integer beyond a double
            score = math.inf
        if math.isfinite(score):
            return score
    raise llmkit.InputError(f"a head record needs a finite number, got {value!r}", where, "score")


def choose_heads(heads: HeadScores, threshold: float | None, top_k: int | None, random_control: bool, seed: int) -> list[tuple[int, int]]:
    """The heads to mask: scores >= threshold, or the top k (ties by layer, head); with
    ``random_control`` as many heads drawn from the others, never one the detect run flagged."""
    if (threshold is None) == (top_k is None):
        raise llmkit.UsageError("give exactly one of --threshold and --top-k")
    ranked = sorted(heads.scores, key=lambda key: (-heads.scores[key], key))
    if threshold is not None:
        chosen = [key for key in ranked if heads.scores[key] >= threshold]
    else:
        if top_k is None or top_k < 1 or top_k > len(ranked):
            raise llmkit.UsageError(f"--top-k must be between 1 and {len(ranked)} (the heads in --heads)")
        chosen = ranked[:top_k]
    if not random_control:
        return sorted(chosen)
    pool = sorted(set(heads.scores) - set(chosen) - heads.flagged)
    if len(pool) < len(chosen):
        raise llmkit.UsageError(f"--random: only {len(pool)} non-retrieval heads to draw {len(chosen)} from")
    return sorted(random.Random(seed).sample(pool, len(chosen)))


def mask_heads(model: Any, heads: list[tuple[int, int]]) -> None:
    """Zero, in place, the output-projection weights that read the given (layer, head)s."""
    from llmkit.backends import head_features, transformer_blocks, zero_input_features

    blocks = transformer_blocks(model)
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        if not 0 <= layer < len(blocks):
            raise llmkit.UsageError(f"layer {layer} does not exist: the model has {len(blocks)} layers")
        by_layer.setdefault(layer, []).append(head)
    for layer, chosen in by_layer.items():
        block = blocks[layer]
        zero_input_features(block.attention_output, head_features(block, chosen))


def hook_heads(model: Any, heads: list[tuple[int, int]]) -> list[Any]:
    """The same silencing as :func:`mask_heads`, by forward hooks; returns the handles."""
    from llmkit.backends import head_features, mask_input_features, transformer_blocks

    blocks = transformer_blocks(model)
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(layer, []).append(head)
    return [mask_input_features(blocks[layer].attention_output, head_features(blocks[layer], chosen))
            for layer, chosen in by_layer.items()]


def write_masked(model_path: str, heads_path: str, out: llmkit.SideOutput, chosen: list[tuple[int, int]], how: dict[str, Any],
                 dtype: str, trust_remote_code: bool, source: HeadScores) -> Path:
    """Load ``model_path``, silence ``chosen``, and write the checkpoint with ``masked_heads.json``
    whole to ``out`` (a new folder claimed by the command)."""
    from llmkit.backends import save_checkpoint, transformer_blocks

    model = _model_to_mask(model_path, dtype, trust_remote_code).model
    blocks = transformer_blocks(model)
    expected = {(layer, head) for layer in range(len(blocks)) for head in range(blocks[0].num_heads)}
    if not set(source.scores) <= expected:
        raise llmkit.UsageError(f"--heads {heads_path} does not fit {model_path}: it names heads outside "
                                f"{len(blocks)} layers x {blocks[0].num_heads} heads (scores of another model?)")
    mask_heads(model, chosen)
    info = {"source_model": model_path, "heads_file": str(heads_path), "heads_model": source.model, **how,
            "count": len(chosen), "head_dim": blocks[0].head_dim, "heads": [list(key) for key in chosen],
            "detect_summary": source.summary}
    with out.replacing() as folder:
        save_checkpoint(model, model_path, folder)
        (folder / "masked_heads.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return out.target


def _model_to_mask(model_path: str, dtype: str, trust_remote_code: bool) -> llmkit.backends.LocalModel:
    """The model on the CPU; ``--dtype auto`` = the dtype its checkpoint is stored in, read from
    its config before the weights load (a masked twin is saved as its original was, where the
    core's ``auto`` loads float32 on a CPU)."""
    options = llmkit.ModelOptions(model=model_path, dtype=dtype, device="cpu", trust_remote_code=trust_remote_code)
    local = llmkit.backends.LocalModel(options)
    if dtype != "auto":
        return local
    return llmkit.backends.LocalModel(replace(options, dtype=_stored_dtype(local.config)))


def _stored_dtype(config: Any) -> str:
    """The checkpoint's dtype as its config names it; float32 when it names none or one of
    another kind (float8, say)."""
    stored = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    name = str(stored).removeprefix("torch.") if stored is not None else "float32"
    return name if name in ("float32", "float16", "bfloat16") else "float32"

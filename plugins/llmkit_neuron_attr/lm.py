"""The model under study: loaded once, its MLP down projections located, rows packed for
teacher-forced passes, and the log-probabilities of continuations read off the logits.

A neuron is one input feature of a block's MLP down projection (gated MLPs: ``act(gate(x)) *
up(x)``; GPT-2: the activation before ``c_proj``), found by the core's
:func:`llmkit.backends.transformer_blocks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit import BackendOptions, UsageError
from llmkit.backends import LocalModel
from llmkit_neuron_attr.records import TaskItem


@dataclass
class StudiedModel:
    """A causal LM with its tokenizer and the down projection of each block (one per layer)."""

    name: str
    model: Any
    tokenizer: Any
    projections: list[Any]
    width: int
    max_len: int | None

    @property
    def layers(self) -> int:
        return len(self.projections)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def shape_fields(self) -> dict[str, Any]:
        """The fields every output record carries, so results of models of different depth and
        width compare."""
        return {"model": self.name, "layers": self.layers, "width": self.width}


def check_backend(options: BackendOptions) -> None:
    """neuron-attr hooks transformers modules: no other backend can run it; and it needs --model."""
    if options.backend not in (None, "hf"):
        raise UsageError("neuron-attr runs the model through transformers (hooks, gradients): --backend must be hf")
    options.require_model()


def open_model(options: BackendOptions) -> StudiedModel:
    """Load the model and tokenizer once (the core's :class:`~llmkit.backends.LocalModel`, by the hf
    backend's rules); UsageError (exit 2) when its MLPs cannot be located."""
    check_backend(options)
    local = LocalModel(options)
    return studied(local.model, local.tokenizer, local.name, local.context_length)


def studied(model: Any, tokenizer: Any, name: str, max_model_len: int | None = None) -> StudiedModel:
    """Wrap an already loaded model (tests and benchmarks build theirs in memory)."""
    from llmkit.backends import transformer_blocks

    blocks = transformer_blocks(model)
    widths = {block.mlp_width for block in blocks}
    if len(widths) != 1:
        raise UsageError(f"{type(model).__name__} has MLPs of different widths {sorted(widths)}; neuron-attr needs one width")
    for parameter in model.parameters():  # gradients are taken w.r.t. activations only
        parameter.requires_grad_(False)
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    config_max = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    return StudiedModel(name, model, tokenizer, [b.mlp_output for b in blocks], widths.pop(), max_model_len or config_max)


@dataclass
class Packed:
    """Rows (prompt + one continuation each), right-padded: a real token never sees padding, and
    its positions are those of the unpadded row. ``starts[r]`` is where row r's continuation
    begins, ``lengths[r]`` the row's real length."""

    input_ids: Any
    attention_mask: Any
    starts: list[int]
    lengths: list[int]

    def score_mask(self) -> Any:
        """[rows, width - 1]: 1 where a shifted logit predicts a continuation token."""
        import torch

        width = self.input_ids.shape[1]
        positions = torch.arange(width - 1, device=self.input_ids.device)
        starts = torch.tensor(self.starts, device=positions.device).unsqueeze(1)
        ends = torch.tensor(self.lengths, device=positions.device).unsqueeze(1)
        return ((positions >= starts - 1) & (positions < ends - 1)).to(torch.float32)

    def input_positions(self) -> Any:
        """[rows, width]: 1 at the positions the continuation's log-probability depends on (every
        real token but the last, whose output predicts nothing scored)."""
        import torch

        width = self.input_ids.shape[1]
        positions = torch.arange(width, device=self.input_ids.device)
        ends = torch.tensor(self.lengths, device=positions.device).unsqueeze(1)
        return (positions < ends - 1).to(torch.float32)


def pack(rows: list[tuple[list[int], list[int]]], pad_id: int, device: Any) -> Packed:
    """Pack ``(prompt_ids, continuation_ids)`` rows for one forward pass."""
    import torch

    width = max(len(p) + len(c) for p, c in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (prompt, continuation) in enumerate(rows):
        n = len(prompt) + len(continuation)
        ids[r, :n] = torch.tensor(prompt + continuation)
        mask[r, :n] = 1
    return Packed(ids.to(device), mask.to(device), [len(p) for p, _ in rows], [len(p) + len(c) for p, c in rows])


def pad_id(tokenizer: Any) -> int:
    return int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)


def continuation_scores(logits: Any, packed: Packed) -> tuple[Any, Any]:
    """Per row: the summed log-probability of its continuation, and whether the greedy token
    equals the continuation's token at every one of its positions (teacher forced, which is the
    same as greedy decoding reproducing the continuation token for token)."""
    import torch

    wide = logits[:, :-1]
    logp = torch.log_softmax(wide.float() if wide.dtype in (torch.float16, torch.bfloat16) else wide, dim=-1)
    targets = packed.input_ids[:, 1:]
    chosen = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    mask = packed.score_mask()
    summed = (chosen * mask).sum(-1)
    hits = (logp.argmax(-1) == targets).float()
    greedy = ((1 - hits) * mask).sum(-1) == 0
    return summed, greedy


def answer_rows(items: list[TaskItem]) -> list[tuple[list[int], list[int]]]:
    """One row per item: its prompt and its correct continuation."""
    return [(item.prompt_ids, item.answer_ids) for item in items]

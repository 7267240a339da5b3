"""Neuron attribution scores for a batch of rows (a prompt and its correct continuation each).

The objective is f = the summed log-probability of the continuation's tokens. Every method
returns one score per row, layer and neuron (``[rows, layers, width]``), summed over the
positions the objective depends on (every real token but the last): suppression zeroes a
neuron at every position, so the attribution that predicts it covers every position too.

- ``act-grad``: a * df/da, one forward and one backward pass for the whole batch. Rows do not
  interact in a forward pass, so the gradient of the summed objective w.r.t. a row's
  activations is that row's own gradient.
- ``ig``: integrated gradients from a zero baseline, per layer (as Dai et al.'s knowledge
  neurons): the path scales layer l's activations by alpha at every position, the other layers
  run as they are, so the attributions of layer l sum to f(x) - f(layer l silenced). The
  alphas are the midpoints (k - 1/2)/m of m steps (a Riemann midpoint sum, more accurate than
  the right endpoints k/m of the knowledge-neurons code at the same m); the m steps of every row
  run as one batch, one forward and one backward per layer.
- ``activation``: the mean |a| over the same positions (no gradient).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from llmkit_neuron_attr.lm import Packed, StudiedModel, continuation_scores


@contextmanager
def pre_hooks(projections: list[Any], make: Callable[[int], Callable[..., Any]]) -> Iterator[None]:
    """Forward pre-hooks ``make(layer)`` on the given down projections, removed on exit."""
    handles = [projection.register_forward_pre_hook(make(layer)) for layer, projection in enumerate(projections)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _wide(tensor: Any) -> Any:
    """float32 for half-precision tensors (sums over positions), the tensor's own dtype otherwise."""
    import torch

    return tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor


def _forward(sm: StudiedModel, packed: Packed) -> Any:
    return sm.model(input_ids=packed.input_ids, attention_mask=packed.attention_mask, use_cache=False).logits


def act_grad(sm: StudiedModel, packed: Packed) -> Any:
    """[rows, layers, width]: sum over positions of a * d f / d a."""
    import torch

    captured: list[Any] = [None] * sm.layers

    def make(layer: int) -> Callable[..., Any]:
        def hook(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
            x = args[0]
            if x.requires_grad:
                x.retain_grad()
            else:  # the first block: nothing upstream needs a gradient (weights are frozen)
                x = x.detach().requires_grad_()
            captured[layer] = x
            return (x, *args[1:])

        return hook

    with torch.enable_grad(), pre_hooks(sm.projections, make):
        objective, _ = continuation_scores(_forward(sm, packed), packed)
        objective.sum().backward()
    positions = packed.input_positions().unsqueeze(-1)
    scores = [(_wide(x.detach()) * _wide(x.grad) * positions).sum(1) for x in captured]
    return torch.stack(scores, dim=1)


def mean_activation(sm: StudiedModel, packed: Packed) -> Any:
    """[rows, layers, width]: mean |a| over the positions the objective depends on."""
    import torch

    positions = packed.input_positions()
    counts = positions.sum(1).clamp(min=1).view(-1, 1)
    scores: list[Any] = [None] * sm.layers

    def make(layer: int) -> Callable[..., Any]:
        def hook(module: Any, args: tuple[Any, ...]) -> None:
            scores[layer] = (_wide(args[0]).abs() * positions.unsqueeze(-1)).sum(1) / counts

        return hook

    with torch.inference_mode(), pre_hooks(sm.projections, make):
        _forward(sm, packed)
    return torch.stack(scores, dim=1)


def integrated_gradients(sm: StudiedModel, packed: Packed, steps: int) -> Any:
    """[rows, layers, width]: per-layer integrated gradients from a zero baseline."""
    import torch

    rows, width = packed.input_ids.shape
    device = packed.input_ids.device
    alphas = ((torch.arange(steps, device=device, dtype=torch.float32) + 0.5) / steps).repeat(rows)
    expanded = Packed(
        packed.input_ids.repeat_interleave(steps, 0),
        packed.attention_mask.repeat_interleave(steps, 0),
        [s for s in packed.starts for _ in range(steps)],
        [n for n in packed.lengths for _ in range(steps)],
    )
    positions = packed.input_positions().unsqueeze(-1)
    result: Any = None
    for layer, projection in enumerate(sm.projections):
        held: dict[str, Any] = {}

        def hook(module: Any, args: tuple[Any, ...], held: dict[str, Any] = held) -> tuple[Any, ...]:
            # the blocks before this one run as they are, so this input is the row's own
            # activation; the scaled copy is a leaf, so backward stops here
            natural = args[0].detach()
            scaled = (natural * alphas.to(natural.dtype).view(-1, 1, 1)).requires_grad_()
            held["natural"], held["scaled"] = natural, scaled
            return (scaled, *args[1:])

        handle = projection.register_forward_pre_hook(hook)
        try:
            with torch.enable_grad():
                objective, _ = continuation_scores(_forward(sm, expanded), expanded)
                objective.sum().backward()
        finally:
            handle.remove()
        natural = _wide(held["natural"]).view(rows, steps, width, sm.width)[:, 0]
        mean_grad = _wide(held["scaled"].grad).view(rows, steps, width, sm.width).mean(1)
        if result is None:
            result = torch.zeros((rows, sm.layers, sm.width), device=device, dtype=natural.dtype)
        result[:, layer] = (natural * mean_grad * positions).sum(1)
    return result


def attribute(method: str, sm: StudiedModel, packed: Packed, steps: int = 20) -> Any:
    """Scores of one batch by ``method`` (one of ``options.METHODS``)."""
    if method == "act-grad":
        return act_grad(sm, packed)
    if method == "ig":
        return integrated_gradients(sm, packed, steps)
    if method == "activation":
        return mean_activation(sm, packed)
    raise ValueError(f"unknown method {method!r}")


class RunningScores:
    """Per-neuron sums over examples, ``[layers, width]`` in float64: the memory of a scoring run
    does not grow with the number of examples."""

    def __init__(self, layers: int, width: int, absolute: bool) -> None:
        import torch

        self.sums = torch.zeros((layers, width), dtype=torch.float64)
        self.absolute = absolute
        self.count = 0

    def add(self, scores: Any) -> None:
        """Add a batch's ``[rows, layers, width]`` scores (|score| per example with ``absolute``)."""
        batch = scores.abs() if self.absolute else scores
        self.sums += batch.double().sum(0).cpu()
        self.count += int(scores.shape[0])

    def mean(self) -> Any:
        return self.sums / max(self.count, 1)

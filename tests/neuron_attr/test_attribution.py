"""The attribution formulas against independent per-example computations.

The reference multiplies each down projection's input by a gate vector g (ones, or alpha for IG)
and asks autograd for df/dg, one example at a time with no padding: df/dg_i = sum over positions
of a_i * df/da_i, which is what act-grad and each IG step are, computed another way.
"""

from __future__ import annotations

import pytest

from llmkit_neuron_attr.attribution import RunningScores, act_grad, integrated_gradients, mean_activation
from llmkit_neuron_attr.lm import pack, studied

ROWS = [([1, 17, 42, 99, 7], [250, 31]), ([1, 5, 6], [77]), ([1, 300, 301, 302, 303, 304, 305], [12, 13, 14])]


@pytest.fixture(scope="module")
def model():
    import torch

    from tests.neuron_attr.families import build

    torch.manual_seed(0)
    built = build("llama").double()
    for parameter in built.parameters():  # larger weights: a clearer signal than the init's
        parameter.data.mul_(3.0)
    return studied(built, None, "tiny")


def _objective(sm, prompt, answer, gates):
    """The answer's summed log-probability with the down-projection inputs multiplied by ``gates``."""
    import torch

    handles = [
        projection.register_forward_pre_hook(lambda module, args, g=gate: (args[0] * g, *args[1:]))
        for projection, gate in zip(sm.projections, gates, strict=True)
        if gate is not None
    ]
    try:
        ids = torch.tensor([prompt + answer])
        logp = torch.log_softmax(sm.model(input_ids=ids).logits[0, :-1], dim=-1)
        positions = range(len(prompt) - 1, len(prompt) + len(answer) - 1)
        return sum(logp[p, ids[0, p + 1]] for p in positions)
    finally:
        for handle in handles:
            handle.remove()


def _gate(sm, value):
    import torch

    return torch.full((sm.width,), value, dtype=torch.float64, requires_grad=True)


def test_act_grad_equals_per_example_autograd(model):
    import torch

    batched = act_grad(model, pack(ROWS, 0, "cpu"))
    for row, (prompt, answer) in enumerate(ROWS):
        gates = [_gate(model, 1.0) for _ in range(model.layers)]
        with torch.enable_grad():
            grads = torch.autograd.grad(_objective(model, prompt, answer, gates), gates)
        torch.testing.assert_close(batched[row], torch.stack(grads), rtol=1e-7, atol=1e-10)


@pytest.mark.slow  # a backward pass per step of the path, against a loop (140 s under load)
def test_integrated_gradients_equals_a_per_step_loop_and_is_complete(model):
    import torch

    steps = 64
    batched = integrated_gradients(model, pack(ROWS[:2], 0, "cpu"), steps)
    for row, (prompt, answer) in enumerate(ROWS[:2]):
        for layer in range(model.layers):
            total = torch.zeros(model.width, dtype=torch.float64)
            for k in range(steps):  # the straightforward loop: one pass per step, midpoint alphas
                gates = [None] * model.layers
                gates[layer] = _gate(model, (k + 0.5) / steps)
                with torch.enable_grad():
                    (grad,) = torch.autograd.grad(_objective(model, prompt, answer, gates), [gates[layer]])
                total += grad / steps
            torch.testing.assert_close(batched[row, layer], total, rtol=1e-6, atol=1e-9)
            # completeness: the attributions of the layer sum to f(x) - f(layer silenced)
            with torch.no_grad():
                silenced = [None] * model.layers
                silenced[layer] = torch.zeros(model.width, dtype=torch.float64)
                difference = _objective(model, prompt, answer, [None] * model.layers) - _objective(model, prompt, answer, silenced)
            assert abs(difference) > 1e-2  # a change worth checking
            assert float(batched[row, layer].sum()) == pytest.approx(float(difference), rel=0.02)


def test_mean_activation_and_running_sums(model):
    import torch

    scores = mean_activation(model, pack(ROWS, 0, "cpu"))
    prompt, answer = ROWS[2]
    captured = []
    handle = model.projections[1].register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    with torch.no_grad():
        model.model(input_ids=torch.tensor([prompt + answer]))
    handle.remove()
    expected = captured[0][0, :-1].abs().mean(0)  # every position but the last
    torch.testing.assert_close(scores[2, 1], expected.to(scores.dtype))
    running = RunningScores(model.layers, model.width, absolute=True)
    running.add(scores[:2] * -1)
    running.add(scores[2:] * -1)
    torch.testing.assert_close(running.mean(), scores.abs().mean(0).double())
    assert running.count == 3

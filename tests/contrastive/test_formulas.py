"""The scoring formulas and the sampler on hand-made distributions."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from llmkit_contrastive.formulas import (  # noqa: E402
    Contrast,
    contrastive_scores,
    difference_scores,
    obrien_scores,
    plausible_mask,
    sample_next,
)


def _logits(probs):
    return torch.tensor([probs], dtype=torch.float64).log()


def test_difference_drops_implausible_tokens_and_contrasts_the_rest():
    expert = _logits([0.5, 0.3, 0.004, 0.196])  # token 2 is under 0.01 * 0.5
    amateur = _logits([0.6, 0.1, 0.2, 0.1])
    scores = difference_scores(expert, amateur, beta=1.0, alpha=0.01)[0]
    assert scores[2] == -math.inf
    expected = [math.log(0.5 / 0.6), math.log(0.3 / 0.1), math.log(0.196 / 0.1)]
    assert scores[[0, 1, 3]].tolist() == pytest.approx(expected, rel=1e-6)
    assert int(scores.argmax()) == 1  # the expert's second choice, which the amateur disfavours


def test_difference_beta_scales_the_amateur_and_alpha_moves_the_cut():
    expert = _logits([0.5, 0.3, 0.004, 0.196])
    amateur = _logits([0.6, 0.1, 0.2, 0.1])
    scores = difference_scores(expert, amateur, beta=0.5, alpha=0.5)[0]
    # cut at 0.25: only tokens 0 and 1 survive
    assert torch.isinf(scores[[2, 3]]).all()
    assert scores[0].item() == pytest.approx(math.log(0.5) - 0.5 * math.log(0.6))
    assert scores[1].item() == pytest.approx(math.log(0.3) - 0.5 * math.log(0.1))
    # the expert's logits may be unnormalised: log-softmax makes the shift irrelevant
    shifted = difference_scores(expert + 7.0, amateur - 3.0, beta=0.5, alpha=0.5)[0]
    assert shifted[:2].tolist() == pytest.approx(scores[:2].tolist(), rel=1e-6)


def test_obrien_works_on_raw_logits_with_the_rule_in_logit_space():
    expert = torch.tensor([[2.0, 1.0, -1.0]])
    amateur = torch.tensor([[2.5, 0.0, -5.0]])
    unmasked = (1 + 1.0) * expert - 1.0 * amateur  # [1.5, 2.0, 3.0]: token 2 would win
    scores = obrien_scores(expert, amateur, beta=1.0, alpha=math.exp(-2.0))[0]
    assert scores[2] == -math.inf  # logit -1 < 2 + log(alpha) = 0
    assert scores[:2].tolist() == pytest.approx(unmasked[0, :2].tolist())
    assert int(scores.argmax()) == 1
    assert contrastive_scores(expert, amateur, Contrast(1.0, math.exp(-2.0), "obrien")).equal(scores[None])


def test_the_plausible_set_is_the_same_on_logits_and_on_log_probs():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 100, generator=gen) * 3
    for alpha in (0.001, 0.1, 0.9, 1.0):
        on_logits = plausible_mask(logits, alpha)
        on_probs = logits.softmax(-1) >= alpha * logits.softmax(-1).max(-1, keepdim=True).values
        assert on_logits.equal(on_probs)
        assert on_logits.any(-1).all()  # the expert's top token always stays
    assert plausible_mask(logits, 0.0).all()


def test_sampler_greedy_top_k_top_p_and_temperature():
    scores = torch.tensor([[0.5, 0.3, 0.2, 0.0]]).log()  # last token impossible (-inf)
    assert sample_next(scores, temperature=0).item() == 0
    gen = torch.Generator().manual_seed(1)
    draws = [sample_next(scores, temperature=1.0, top_k=1, generator=gen).item() for _ in range(50)]
    assert set(draws) == {0}
    many = scores.expand(4000, 4)
    drawn = sample_next(many, temperature=1.0, top_p=0.6, generator=gen)
    # top-p 0.6 keeps 0.5 and 0.3, renormalised to 5/8 and 3/8
    assert set(drawn.tolist()) == {0, 1}
    assert (drawn == 0).float().mean().item() == pytest.approx(5 / 8, abs=0.03)
    drawn = sample_next(many, temperature=1.0, generator=gen)
    assert 3 not in drawn.tolist()
    assert (drawn == 2).float().mean().item() == pytest.approx(0.2, abs=0.03)
    hot = sample_next(many, temperature=2.0, generator=gen)  # p ∝ sqrt(p)
    expected = math.sqrt(0.2) / (math.sqrt(0.5) + math.sqrt(0.3) + math.sqrt(0.2))
    assert (hot == 2).float().mean().item() == pytest.approx(expected, abs=0.03)

"""Min-K%++ statistics from transformers, against a naive per-position float64 computation."""

from __future__ import annotations

import math

import pytest

from llmkit import BackendOptions
from llmkit_mia.distributions import DistributionScorer


def test_position_stats_match_a_naive_computation(tiny_llama):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    texts = ["The cat sat on the mat.", "A much longer sentence, so that the batch needs right padding here."]
    scorer = DistributionScorer(BackendOptions(model=str(tiny_llama), device="cpu"), batch_size=2)
    scorer.open()
    got = scorer.stats(texts)
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float64)
    for text, stats in zip(texts, got):
        ids = tok(text)["input_ids"]
        assert ids[0] == tok.bos_token_id and len(stats.logprobs) == len(ids) - 1
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        for t in range(1, len(ids)):
            probs = torch.softmax(logits[t - 1], -1).tolist()
            logs = [math.log(p) for p in probs]
            mu = sum(p * lg for p, lg in zip(probs, logs))
            sigma = math.sqrt(sum(p * (lg - mu) ** 2 for p, lg in zip(probs, logs)))
            assert stats.logprobs[t - 1] == pytest.approx(logs[ids[t]], abs=1e-4)
            assert stats.means[t - 1] == pytest.approx(mu, abs=1e-4)
            assert stats.stds[t - 1] == pytest.approx(sigma, abs=1e-4)


def test_too_long_text_is_flagged(tiny_llama):
    scorer = DistributionScorer(BackendOptions(model=str(tiny_llama), device="cpu", max_model_len=4))
    scorer.open()
    assert [s.error for s in scorer.stats(["a b c d e f g h", "a"])] == ["too_long", None]

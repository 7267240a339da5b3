"""ROUGE-N recall, the SaMIA split and scores, and the likelihood scores against hand-computed values."""

from __future__ import annotations

import math
import zlib

import pytest

from llmkit_mia import likelihood, samia
from llmkit_mia.rouge import rouge_n_recall


def test_rouge1_recall_clips_repeated_words():
    reference = "the cat sat on the mat".split()
    # "the" twice in the reference; the candidate has it three times but only two count.
    assert rouge_n_recall("the the the cat".split(), reference, 1) == pytest.approx(3 / 6)
    assert rouge_n_recall("mat on sat cat the the".split(), reference, 1) == pytest.approx(1.0)
    assert rouge_n_recall("dog".split(), reference, 1) == 0.0


def test_rouge_is_case_and_punctuation_sensitive_like_samia_code():
    assert rouge_n_recall(["Seoul,"], ["Seoul"], 1) == 0.0
    assert rouge_n_recall(["seoul"], ["Seoul"], 1) == 0.0


def test_rouge2_divides_by_reference_bigrams():
    reference = "a b c a b".split()  # bigrams: ab, bc, ca, ab -> 4
    candidate = "a b x a b c".split()  # ab x2, bx, xa, bc -> matches ab(2) + bc(1) = 3
    assert rouge_n_recall(candidate, reference, 2) == pytest.approx(3 / 4)


def test_rouge_empty_sides_score_zero():
    assert rouge_n_recall([], ["a"], 1) == 0.0
    assert rouge_n_recall(["a"], ["a"], 2) == 0.0  # a one-word reference has no bigram


def test_split_floor_of_ratio_and_whitespace_normalised():
    split = samia.split_text("one  two\tthree\nfour five", 0.5)
    assert split.prefix == "one two"  # floor(0.5 x 5) = 2 words
    assert split.reference == ["three", "four", "five"]
    assert samia.split_text("one two three", 0.7).prefix == "one two"  # floor(2.1)


@pytest.mark.parametrize("text, ratio", [("single", 0.5), ("", 0.5), ("   ", 0.5), ("a b", 0.4), ("a b c", 0.2)])
def test_split_rejects_too_short(text, ratio):
    assert samia.split_text(text, ratio) is None


def test_split_needs_a_reference_of_n_words():
    assert samia.split_text("a b c d", 0.5, ngram=2).reference == ["c", "d"]
    assert samia.split_text("a b c d", 0.5, ngram=3) is None


def test_samia_scores_by_hand():
    reference = "the cat sat".split()
    continuations = [" the cat sat", " a dog sat", " nothing"]
    assert samia.samia_score(continuations, reference) == pytest.approx((1 + 1 / 3 + 0) / 3)
    sizes = [len(zlib.compress(t.encode())) for t in ("the cat sat", "a dog sat", "nothing")]
    expected = (1 * sizes[0] + (1 / 3) * sizes[1] + 0 * sizes[2]) / 3
    assert samia.samia_zlib_score(continuations, reference) == pytest.approx(expected)


def test_token_budget_rule():
    assert samia.token_budget(10) == 32  # 2 x 10 = 20 -> 32
    assert samia.token_budget(16) == 32
    assert samia.token_budget(17) == 48
    assert samia.count_reference_tokens(["abc", "def"], None) == math.ceil(len(" abc def") / 3)


LOGPROBS = [-0.5, -3.0, -1.0, -0.1, -2.0, -4.0, -0.2, -0.3, -0.4, -1.5]


def test_loss_and_zlib_by_hand():
    mean = sum(LOGPROBS) / 10
    assert likelihood.loss_score(LOGPROBS) == pytest.approx(mean)
    text = "some text some text some text"
    assert likelihood.zlib_score(LOGPROBS, text) == pytest.approx(mean / len(zlib.compress(text.encode())))


def test_mink_counts_max_1_int_k_t():
    assert likelihood.mink_score(LOGPROBS, 0.2) == pytest.approx((-4.0 + -3.0) / 2)  # int(0.2 x 10) = 2
    assert likelihood.mink_score(LOGPROBS[:4], 0.2) == pytest.approx(-3.0)  # int(0.8) = 0 -> 1 token
    assert likelihood.mink_score(LOGPROBS, 1.0) == pytest.approx(sum(LOGPROBS) / 10)


def test_minkpp_by_hand_against_a_full_distribution():
    # Two positions over a 3-token vocabulary; the observed tokens are 0 and 2.
    dists = [[0.7, 0.2, 0.1], [0.5, 0.25, 0.25]]
    observed = [0, 2]
    logprobs, means, stds, expected = [], [], [], []
    for dist, token in zip(dists, observed):
        logs = [math.log(p) for p in dist]
        mu = sum(p * lg for p, lg in zip(dist, logs))
        sigma = math.sqrt(sum(p * (lg - mu) ** 2 for p, lg in zip(dist, logs)))
        logprobs.append(logs[token]), means.append(mu), stds.append(sigma)
        expected.append((logs[token] - mu) / sigma)
    assert likelihood.minkpp_values(logprobs, means, stds) == pytest.approx(expected)
    assert likelihood.minkpp_score(logprobs, means, stds, 0.5) == pytest.approx(min(expected))
    assert likelihood.finite(float("nan")) is None

"""The MinHash signatures estimate Jaccard similarity; the LSH shape suits the threshold."""

from __future__ import annotations

import random

from llmkit_instruct_data.minhash import SHINGLE, MinHasher, lsh_shape


def exact_jaccard(a: str, b: str) -> float:
    x = {a[i : i + SHINGLE] for i in range(len(a) - SHINGLE + 1)}
    y = {b[i : i + SHINGLE] for i in range(len(b) - SHINGLE + 1)}
    return len(x & y) / len(x | y)


def test_signature_agreement_estimates_jaccard():
    rng = random.Random(0)
    words = ["the", "a", "of", "rain", "kyoto", "plan", "food", "river", "code", "python", "list", "sort", "write", "explain", "why", "how", "train"]
    hasher = MinHasher(num_perm=256)
    errors = []
    for _ in range(40):
        a = [rng.choice(words) for _ in range(40)]
        b = list(a)
        for _ in range(rng.randint(0, 20)):  # edits of varying size: similarities from 1 down to ~0.2
            b[rng.randrange(len(b))] = rng.choice(words)
        a_text, b_text = " ".join(a), " ".join(b)
        estimate = float((hasher.signature(a_text) == hasher.signature(b_text)).mean())
        errors.append(abs(estimate - exact_jaccard(a_text, b_text)))
    # the standard error of a 256-permutation estimate is at most 0.5 / 16 = 0.031
    assert sum(errors) / len(errors) < 0.035 and max(errors) < 0.12


def test_shingles_cover_japanese_and_short_texts():
    hasher = MinHasher(num_perm=16)
    assert len(hasher.shingle_hashes("日本語の文章です")) == len("日本語の文章です") - SHINGLE + 1
    assert len(hasher.shingle_hashes("hi")) == 1 and len(hasher.shingle_hashes("")) == 1
    assert (hasher.signature("hi") == hasher.signature("hi")).all() and not (hasher.signature("hi") == hasher.signature("ho")).all()


def test_lsh_shape_puts_the_s_curve_at_the_threshold():
    for threshold in (0.5, 0.8, 0.9):
        bands, rows = lsh_shape(threshold, 128)
        assert bands * rows <= 128
        def candidate(j, rows=rows, bands=bands):
            return 1 - (1 - j**rows) ** bands

        assert candidate(threshold - 0.2) < 0.2 and candidate(min(threshold + 0.1, 1.0)) > 0.7


def test_lsh_shape_tries_every_shape_as_datasketch_does():
    # datasketch's MinHashLSH searches every (bands, rows) with bands * rows <= num_perm, not only
    # rows = num_perm // bands; an independent search (midpoint rule, finer grid) must agree
    import numpy as np

    step = 1 / 20000
    grid = np.arange(step / 2, 1, step)
    for threshold in (0.5, 0.7, 0.8, 0.9):
        def error(bands, rows, threshold=threshold):
            hit = 1 - (1 - grid**rows) ** bands
            return (hit * (grid < threshold)).sum() * step + ((1 - hit) * (grid >= threshold)).sum() * step

        shapes = [(b, r) for b in range(1, 129) for r in range(1, 128 // b + 1)]
        assert lsh_shape(threshold, 128) == min(shapes, key=lambda shape: error(*shape))
    assert lsh_shape(0.8, 128) == (9, 13)

"""`--formula li` follows the order of Li et al.'s warpers, and `--compat official` their greedy search.

The official rule (XiangLi1999/ContrastiveDecoding, ``transformers/src/transformers/
generation_logits_process.py``: ``TopKLogitsWarper``, then ``EntrPLogitsWarper`` (the relative-top
cut, which returns the log-softmax of what it keeps, so the next warper sees the plausible set
renormalised), then ``TopPLogitsWarper``, then the temperature; their greedy search runs no
warper): written here in float64 lists, token by token, as ``naive_li`` of test_li, plus the order
llmkit had before (top-p on the whole top-k set, then the cut) to show the two really differ.
"""

from __future__ import annotations

import itertools
import math

import pytest

from .test_li import naive_li


def old_order(ze, za, *, beta, alpha, temperature, amateur_temperature, top_k, top_p):
    """llmkit before: top-p over the top-k set (not renormalised over the plausible set), then the cut."""
    lpe = _log_softmax(ze)
    lpa = _log_softmax([x / amateur_temperature for x in za])
    order = sorted(range(len(ze)), key=lambda t: -lpe[t])
    candidates = order[:top_k] if 0 < top_k < len(ze) else order
    total = sum(math.exp(lpe[t]) for t in candidates)
    kept, mass = [], 0.0
    for t in candidates:
        if mass >= top_p:
            break
        kept.append(t)
        mass += math.exp(lpe[t]) / total
    best = max(lpe)
    kept = [t for t in kept if lpe[t] >= math.log(alpha) + best]
    score = {t: lpe[t] / temperature - beta * lpa[t] for t in kept}
    top = max(score.values())
    z = sum(math.exp(v - top) for v in score.values())
    return {t: math.exp(v - top) / z for t, v in score.items()}


def _log_softmax(xs):
    top = max(xs)
    norm = math.log(sum(math.exp(x - top) for x in xs)) + top
    return [x - norm for x in xs]


def _distribution(scores_row):
    import torch

    probs = torch.softmax(scores_row.double(), dim=-1)
    return {int(t): float(probs[t]) for t in torch.nonzero(probs > 0).flatten()}


def _logits(seed, rows=6, vocab=40):
    import torch

    gen = torch.Generator().manual_seed(seed)
    return torch.randn(rows, vocab, generator=gen) * 2.5, torch.randn(rows, vocab, generator=gen) * 2.5


GRID = list(itertools.product([0.05, 0.2], [0.5, 0.8], [0, 10], [0.7, 1.0]))  # alpha, top_p, top_k, T


def test_sampling_follows_the_official_filter_order_where_the_old_order_differs():
    from llmkit_contrastive.contrast import Contrast
    from llmkit_contrastive.li import li_scores

    expert, amateur = _logits(11)
    differ = 0
    for alpha, top_p, top_k, temperature in GRID:
        contrast = Contrast(1.0, alpha, "li", 0.5)
        scores = li_scores(expert, amateur, contrast, temperature=temperature, top_k=top_k, top_p=top_p)
        for row in range(expert.shape[0]):
            args = dict(beta=1.0, alpha=alpha, temperature=temperature, amateur_temperature=0.5, top_k=top_k, top_p=top_p)
            want = naive_li(expert[row].tolist(), amateur[row].tolist(), **args)
            got = _distribution(scores[row])
            assert set(got) == set(want)
            assert all(got[t] == pytest.approx(p, abs=1e-6) for t, p in want.items())
            before = old_order(expert[row].tolist(), amateur[row].tolist(), **args)
            differ += set(before) != set(want)
    assert differ >= 5  # the order matters on these rows (else the test would prove nothing)


def test_greedy_official_takes_no_plausibility_cut_and_the_default_does():
    import torch

    from llmkit_contrastive.contrast import Contrast
    from llmkit_contrastive.li import li_next

    expert, amateur = _logits(5, rows=64)
    lpe, lpa = torch.log_softmax(expert.double(), -1), torch.log_softmax(amateur.double() / 0.5, -1)
    contrast_scores = lpe - lpa
    unconstrained = contrast_scores.argmax(-1)
    plausible = contrast_scores.masked_fill(lpe < math.log(0.1) + lpe.max(-1, keepdim=True).values, -math.inf).argmax(-1)
    official = li_next(expert, amateur, Contrast(1.0, 0.1, "li", 0.5, compat="official"), temperature=0.0)
    default = li_next(expert, amateur, Contrast(1.0, 0.1, "li", 0.5), temperature=0.0)
    assert official.tolist() == unconstrained.tolist()
    assert default.tolist() == plausible.tolist()
    assert (official != default).sum() >= 5  # rows where the two rules pick different tokens


def test_compat_official_changes_nothing_when_sampling():
    from llmkit_contrastive.contrast import Contrast
    from llmkit_contrastive.li import li_scores

    expert, amateur = _logits(2)
    a = li_scores(expert, amateur, Contrast(1.0, 0.1, "li", 0.5, compat="official"), temperature=0.8, top_p=0.9)
    b = li_scores(expert, amateur, Contrast(1.0, 0.1, "li", 0.5), temperature=0.8, top_p=0.9)
    assert a.equal(b)


def test_bad_compat_is_a_usage_error():
    from llmkit import UsageError
    from llmkit_contrastive.settings import GenSettings

    with pytest.raises(UsageError, match="--compat"):
        GenSettings(compat="paper")
    assert GenSettings(compat="official").contrast.compat == "official"


def test_the_vllm_pair_folder_carries_compat(tiny_llama, tiny_llama_twin, tmp_path):
    """The one-engine vLLM pair reads its settings from the folder's config (pair_model.py)."""
    import json

    from llmkit_contrastive.contrast import Contrast
    from llmkit_contrastive.vllm_pair import write_pair_dir

    folder = write_pair_dir(tmp_path / "pair", str(tiny_llama), str(tiny_llama_twin), Contrast(formula="li", compat="official"), 512)
    settings = json.loads((folder / "config.json").read_text())["llmkit_contrastive"]
    assert (settings["formula"], settings["compat"]) == ("li", "official")

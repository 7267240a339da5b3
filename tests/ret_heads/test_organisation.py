"""The organisation figures against independent computations, and the ROUGE-1 trial filter."""

from __future__ import annotations

import math

import pytest
from llmkit_ret_heads.organisation import gini, layer_entropy, summarise, top_share
from llmkit_ret_heads.rouge import rouge1_recall


def _gini_by_pairs(values):
    # the mean absolute difference over all ordered pairs, divided by twice the mean
    n = len(values)
    mean = sum(values) / n
    return sum(abs(a - b) for a in values for b in values) / (2 * n * n * mean)


@pytest.mark.parametrize("values", [[1, 1, 1, 1], [0, 0, 0, 5], [0.9, 0.1, 0.0, 0.3, 0.05, 0.0], [2, 7, 1, 8, 2, 8]])
def test_gini_matches_the_pairwise_definition(values):
    assert gini(values) == pytest.approx(_gini_by_pairs(values))


def test_gini_of_one_head_holding_everything_is_n_minus_1_over_n():
    assert gini([0.0] * 99 + [1.0]) == pytest.approx(0.99)
    assert gini([0.0, 0.0]) is None


def test_top5pct_share():
    values = [1.0] * 2 + [0.0] * 38  # 40 heads: top 5% = 2 heads hold everything
    assert top_share(values) == pytest.approx(1.0)
    assert top_share([1.0] * 40) == pytest.approx(2 / 40)
    assert top_share([3.0, 1.0]) == pytest.approx(0.75)  # at least one head


def test_layer_entropy():
    bits, norm = layer_entropy([1.0, 1.0, 1.0, 1.0])
    assert bits == pytest.approx(2.0) and norm == pytest.approx(1.0)
    bits, norm = layer_entropy([0.0, 3.0, 0.0, 0.0])
    assert bits == pytest.approx(0.0) and norm == pytest.approx(0.0)
    bits, _ = layer_entropy([1.0, 3.0])
    assert bits == pytest.approx(-(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75)))


def test_summary_record():
    heads = [{"layer": layer, "head": head, "score": score}
             for layer, row in enumerate([[0.9, 0.0], [0.05, 0.2]]) for head, score in enumerate(row)]
    summary = summarise("m", heads, 0.1)
    assert summary["type"] == "summary" and summary["layers"] == 2 and summary["heads"] == 4
    assert summary["retrieval_heads"] == 2 and summary["retrieval_share"] == 0.5
    assert summary["top_heads"][:2] == [[0, 0, 0.9], [1, 1, 0.2]]
    first = 0.9 / 1.15  # layer 0 holds 0.9 of the 1.15 total
    assert summary["layer_entropy_bits"] == pytest.approx(-(first * math.log2(first) + (1 - first) * math.log2(1 - first)))


def test_rouge1_recall():
    assert rouge1_recall("It is a spoonful of smoked plum jam.", "a spoonful of smoked plum jam") == 1.0
    assert rouge1_recall("smoked jam", "a spoonful of smoked plum jam") == pytest.approx(2 / 6)
    assert rouge1_recall("the the", "the cat the") == pytest.approx(2 / 3)  # clipped counts
    assert rouge1_recall("anything", "") == 0.0


def test_summary_command_recomputes_models_side_by_side(tmp_path):
    import json

    from llmkit.testing import run_command

    paths = []
    for name, scores in (("concentrated", [1.0, 0.0, 0.0, 0.0]), ("spread", [0.25, 0.25, 0.25, 0.25])):
        rows = [{"type": "head", "model": name, "layer": i // 2, "head": i % 2, "score": s} for i, s in enumerate(scores)]
        rows.append({"type": "summary", "model": name, "threshold": 0.2, "trials_run": 7, "trials_counted": 5})
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"model": "spread", "layer": "x"}\n')
        paths += ["-i", str(path)]
    run = run_command(["ret-heads", "summary", *paths, "--rejects", str(tmp_path / "rejects.jsonl")])
    out, err = run.stdout.decode(), run.stderr
    assert run.status == 0
    summaries = {r["model"]: r for r in map(json.loads, out.splitlines())}
    assert summaries["concentrated"]["retrieval_heads"] == 1 and summaries["spread"]["retrieval_heads"] == 4  # stored 0.2
    assert summaries["concentrated"]["gini"] == pytest.approx(0.75) and summaries["spread"]["gini"] == pytest.approx(0.0)
    assert summaries["concentrated"]["trials_counted"] == 5
    assert "concentrated" in err and "spread" in err  # the table, one column per model
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [r["reject"]["reason"] for r in rejects] == ["missing_field", "missing_field"]

"""`mia eval`: metrics against sklearn and hand-made curves; label and class errors exit 65."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llmkit_mia import metrics
from llmkit_mia.evaluate import parse_label
from llmkit.testing import run_command, write_jsonl


@pytest.mark.parametrize("seed", range(5))
def test_auc_equals_sklearn_on_random_scores_with_ties(seed):
    from sklearn.metrics import roc_auc_score, roc_curve

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.normal(size=200) + 0.5 * labels, 1)  # rounding makes ties
    roc = metrics.roc_curve(scores.tolist(), labels.tolist())
    assert metrics.auc(roc) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    for target in (0.01, 0.05, 0.2):
        assert metrics.tpr_at_fpr(roc, target) == pytest.approx(tpr[fpr <= target].max())
    thresholds = np.r_[np.inf, np.unique(scores)]
    naive = max(np.mean((scores >= t) == labels) for t in thresholds)
    assert metrics.best_accuracy(roc) == pytest.approx(naive)


def test_curve_points_by_hand():
    # members 0.9, 0.6; non-members 0.7, 0.1
    roc = metrics.roc_curve([0.9, 0.7, 0.6, 0.1], [1, 0, 1, 0])
    assert roc.fpr.tolist() == [0, 0, 0.5, 0.5, 1.0]
    assert roc.tpr.tolist() == [0, 0.5, 0.5, 1.0, 1.0]
    assert metrics.auc(roc) == pytest.approx(0.75)
    assert metrics.tpr_at_fpr(roc, 0.01) == 0.5
    assert metrics.best_accuracy(roc) == 0.75


@pytest.mark.parametrize("value, label", [(1, 1), (0, 0), (True, 1), (False, 0), ("true", 1), ("0", 0), (1.0, 1)])
def test_labels_accepted(value, label):
    assert parse_label(value) == label


@pytest.mark.parametrize("value", [2, -1, "yes", None, 0.5, [1]])
def test_labels_refused(value):
    assert parse_label(value) is None


def _run(argv):
    run = run_command(argv)
    return run.status, run.stdout.decode(), run.stderr


def test_eval_cli_outputs_one_record_per_method_and_a_table(tmp_path):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 60).tolist()
    labels[:2] = [0, 1]
    records = [
        {"id": i, "label": bool(y), "mia": {"samia": float(rng.normal() + y), "loss": float(rng.normal())}}
        for i, y in enumerate(labels)
    ]
    records.append({"id": "x", "label": 1, "mia": {"samia": None, "loss": 0.0}})  # a null score is left out
    path = write_jsonl(tmp_path / "scored.jsonl", records)
    code, out, err = _run(["mia", "eval", "-i", str(path)])
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["method"] for r in rows] == ["samia", "loss"]
    samia_row = rows[0]
    assert samia_row["n"] == 60 and samia_row["members"] == sum(labels)
    expected = roc_auc_score(labels, [r["mia"]["samia"] for r in records[:60]])
    assert samia_row["auc"] == pytest.approx(expected)
    assert rows[1]["n"] == 61
    assert "TPR@1%FPR" in err and "samia" in err


def test_eval_bad_label_exits_65_naming_the_line(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [
        {"label": 1, "mia": {"samia": 0.5}},
        {"label": 0, "mia": {"samia": 0.1}},
        {"label": "maybe", "mia": {"samia": 0.3}},
    ])
    code, _out, err = _run(["mia", "eval", "-i", str(path)])
    assert code == 65
    assert f"{path}:3" in err and "'maybe'" in err and "label" in err


def test_eval_missing_label_exits_65(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"mia": {"samia": 0.5}}])
    code, _out, err = _run(["mia", "eval", "-i", str(path)])
    assert code == 65 and f"{path}:1" in err


def test_eval_single_class_is_a_clear_error(tmp_path):
    path = write_jsonl(tmp_path / "one.jsonl", [{"label": 1, "mia": {"samia": 0.5}}, {"label": 1, "mia": {"samia": 0.2}}])
    code, out, err = _run(["mia", "eval", "-i", str(path)])
    assert code == 65 and out == ""
    assert "both classes" in err and "members (label 1)" in err


def test_eval_record_without_scores_is_rejected_not_counted(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        {"label": 1, "mia": {"loss": 0.5}}, {"label": 0, "mia": {"loss": 0.1}}, {"label": 0, "text": "unscored"},
    ])
    rejects = tmp_path / "rejects.jsonl"
    code, out, _err = _run(["mia", "eval", "-i", str(path), "--rejects", str(rejects)])
    assert code == 0
    assert json.loads(out)["n"] == 2 and json.loads(out)["auc"] == 1.0
    assert json.loads(rejects.read_text())["reject"]["reason"] == "missing_field"

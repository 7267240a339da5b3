"""docre evaluate: the official DocRED evaluation's numbers, by hand and on real dev sets.

The reference below is written from the official script's semantics (thunlp/DocRED
code/evaluation.py, with ATLOP/DREEAM's sort-and-deduplicate of the submission), independently of
the plugin's code: a sort, a pass that drops neighbours with the same key, then the counts.
"""

from __future__ import annotations

import json
import random

import pytest

from tests.docre.helpers import docre, read_jsonl, write_jsonl
from llmkit_docre.official import Prediction, gold_from_records, official_scores, train_facts


def reference(submission, truth, train=None):
    std, tot_evidences, vertex = {}, 0, {}
    for doc in truth:
        vertex[doc["title"]] = doc["vertexSet"]
        for lab in doc["labels"]:
            std[(doc["title"], lab["r"], lab["h"], lab["t"])] = set(lab["evidence"])
            tot_evidences += len(lab["evidence"])
    facts = set()
    for doc in train or []:
        for lab in doc["labels"]:
            for n1 in doc["vertexSet"][lab["h"]]:
                for n2 in doc["vertexSet"][lab["t"]]:
                    facts.add((n1["name"], n2["name"], lab["r"]))
    tmp = sorted(submission, key=lambda x: (x["title"], x["h_idx"], x["t_idx"], x["r"]))
    answers = [x for i, x in enumerate(tmp) if i == 0 or (x["title"], x["h_idx"], x["t_idx"], x["r"]) != (tmp[i - 1]["title"], tmp[i - 1]["h_idx"], tmp[i - 1]["t_idx"], tmp[i - 1]["r"])]
    correct = correct_evi = pred_evi = in_train = 0
    for x in answers:
        if x["title"] not in vertex:
            continue
        evi = set(x.get("evidence", []))
        pred_evi += len(evi)
        key = (x["title"], x["r"], x["h_idx"], x["t_idx"])
        if key in std:
            correct += 1
            correct_evi += len(std[key] & evi)
            vs = vertex[x["title"]]
            if any((n1["name"], n2["name"], x["r"]) in facts for n1 in vs[x["h_idx"]] for n2 in vs[x["t_idx"]]):
                in_train += 1
    f1 = lambda p, r: 0 if p + r == 0 else 2 * p * r / (p + r)  # noqa: E731
    p, r = correct / len(answers), correct / len(std)
    ep = correct_evi / pred_evi if pred_evi else 0
    er = correct_evi / tot_evidences
    ign_p = (correct - in_train) / (len(answers) - in_train)
    return {"f1": f1(p, r), "ign_f1": f1(ign_p, r), "evi_f1": f1(ep, er), "precision": p, "recall": r}


def _ours(submission, truth, train=None):
    preds = [Prediction(x["title"], x["h_idx"], x["t_idx"], x["r"], frozenset(x.get("evidence", []))) for x in submission]
    return official_scores(preds, gold_from_records(truth), train_facts(train) if train is not None else None)


def _doc(title, labels, names=("A", "B", "C")):
    return {
        "title": title,
        "sents": [["x"] * 3 for _ in range(4)],
        "vertexSet": [[{"name": n, "sent_id": 0, "pos": [i, i + 1]}] for i, n in enumerate(names)],
        "labels": [{"h": h, "t": t, "r": r, "evidence": ev} for h, t, r, ev in labels],
    }


def _triple(title, h, t, r, evidence=()):
    return {"title": title, "h_idx": h, "t_idx": t, "r": r, "evidence": list(evidence)}


def test_hand_case_duplicates_train_fact_and_partial_evidence():
    gold = [_doc("d1", [(0, 1, "P1", [0, 1]), (1, 2, "P2", [2]), (0, 2, "P3", [])])]
    train = [_doc("tr", [(0, 1, "P1", [0])], names=("A", "B", "Z"))]  # the fact (A, B, P1) was seen in train
    submission = [
        _triple("d1", 0, 1, "P1", [0, 3]),  # correct, evidence 1 of 2 right, seen in train
        _triple("d1", 0, 1, "P1", [0, 1]),  # a duplicate: the first one counts
        _triple("d1", 1, 2, "P2", [2]),  # correct, evidence right
        _triple("d1", 2, 0, "P2", [1]),  # wrong
        _triple("other", 0, 1, "P1", [0]),  # a title the gold lacks: counts as predicted, no evidence
    ]
    scores = _ours(submission, gold, train)
    # 4 answers after dedup, 2 correct of 3 gold; 1 correct seen in train
    p, r = 2 / 4, 2 / 3
    assert scores.f1 == pytest.approx(2 * p * r / (p + r))
    ign_p = (2 - 1) / (4 - 1)
    assert scores.ign_f1 == pytest.approx(2 * ign_p * r / (ign_p + r))
    # evidence: predicted 2 + 1 + 1 = 4 (the unknown title's not counted), matched 1 + 1 = 2, gold 3
    ep, er = 2 / 4, 2 / 3
    assert scores.evi_f1 == pytest.approx(2 * ep * er / (ep + er))
    assert (scores.predicted, scores.correct, scores.correct_in_train, scores.predicted_evidence) == (4, 2, 1, 4)
    ref = reference(submission, gold, train)
    assert (scores.f1, scores.ign_f1, scores.evi_f1) == pytest.approx((ref["f1"], ref["ign_f1"], ref["evi_f1"]))


def test_empty_predictions_score_zero_and_no_train_means_no_ign():
    gold = [_doc("d1", [(0, 1, "P1", [0])])]
    scores = _ours([], gold)
    assert (scores.f1, scores.evi_f1, scores.ign_f1) == (0.0, 0.0, None)


def _derived(truth, kind, seed=0):
    rng = random.Random(seed)
    relations = sorted({lab["r"] for doc in truth for lab in doc["labels"]})
    submission = []
    for doc in truth:
        for i, lab in enumerate(doc["labels"]):
            if kind == "half" and i % 2:
                continue
            r = rng.choice(relations) if kind == "shuffled" and rng.random() < 0.5 else lab["r"]
            evidence = lab["evidence"] if kind != "half" else lab["evidence"][:1] + [0]
            submission.append(_triple(doc["title"], lab["h"], lab["t"], r, evidence))
    rng.shuffle(submission)
    return submission


@pytest.mark.parametrize("name", ["jacred_dev", "redocred_dev"])
@pytest.mark.parametrize("kind", ["all", "half", "shuffled"])
def test_real_dev_sets_match_the_reference(shared_data, name, kind):
    docre = shared_data / "docre"
    truth = json.loads((docre / f"{name}.json").read_text(encoding="utf-8"))
    other = json.loads((docre / f"{name.replace('dev', 'test')}.json").read_text(encoding="utf-8"))
    submission = _derived(truth, kind)
    ref = reference(submission, truth, other)  # the test split stands in for a training file
    scores = _ours(submission, truth, other)
    assert scores.f1 == pytest.approx(ref["f1"], abs=1e-12)
    assert scores.ign_f1 == pytest.approx(ref["ign_f1"], abs=1e-12)
    assert scores.evi_f1 == pytest.approx(ref["evi_f1"], abs=1e-12)
    if kind == "all":
        assert scores.f1 == 1.0 and scores.evi_f1 == pytest.approx(1.0 if name == "jacred_dev" else ref["evi_f1"])
    assert scores.correct_in_train > 0  # names and relations recur across splits: the Ign path is exercised


def test_cli_reads_documents_and_official_triples_alike(tmp_path, shared_data):
    truth_path = shared_data / "docre" / "jacred_dev.json"
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    submission = _derived(truth, "shuffled", seed=3)
    flat = write_jsonl(tmp_path / "flat.jsonl", submission)
    by_title: dict[str, list] = {}
    for x in submission:
        by_title.setdefault(x["title"], []).append({"h": x["h_idx"], "t": x["t_idx"], "r": x["r"], "evidence": x["evidence"]})
    docs = write_jsonl(tmp_path / "docs.jsonl", [{"title": t, "predicted_labels": v} for t, v in by_title.items()])
    ref = reference(submission, truth)
    for path in (flat, docs):
        out = tmp_path / f"{path.stem}.out.jsonl"
        assert docre("evaluate", "-i", path, "--gold", truth_path, "-o", out, "-q") == 0
        records = read_jsonl(out)
        total = records[-1]
        assert total["scope"] == "total" and total["ign_f1"] is None
        assert (total["f1"], total["evi_f1"]) == pytest.approx((ref["f1"], ref["evi_f1"]), abs=1e-12)
        per = {r["relation"]: r for r in records[:-1]}
        assert sum(r["correct"] for r in per.values()) == total["correct"]
        assert sum(r["gold"] for r in per.values()) == total["gold"] == 6157


def test_bad_prediction_is_rejected_and_bad_gold_stops(tmp_path, capsys):
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps([_doc("d1", [(0, 1, "P1", [0])])]))
    preds = write_jsonl(tmp_path / "p.jsonl", [{"title": "d1", "predicted_labels": [{"h": "zero", "t": 1, "r": "P1"}]}])
    rejects = tmp_path / "rej.jsonl"
    assert docre("evaluate", "-i", preds, "--gold", gold, "--rejects", rejects, "-q", "-o", tmp_path / "o.jsonl") == 0
    assert read_jsonl(rejects)[0]["reject"]["reason"] == "bad_prediction"
    bad_gold = tmp_path / "bad.json"
    bad_gold.write_text(json.dumps([_doc("d1", [(0, 7, "P1", [0])])]))
    capsys.readouterr()
    assert docre("evaluate", "-i", preds, "--gold", bad_gold, "-q", "-o", tmp_path / "o2.jsonl") == 65
    assert "unknown_entity" in capsys.readouterr().err

"""`docre edit-steps`: hand-counted cases, and JacRED dev against itself, nothing and a shuffle."""

from __future__ import annotations

import copy
import json
import random

import pytest
from llmkit_docre.edit_steps import count_edits, triple_evidence

from tests.docre.helpers import docre, read_jsonl, write_jsonl


def doc(title, labels, entities=4, **fields):
    vertex = [[{"name": f"e{i}", "sent_id": 0, "pos": [i, i + 1], "type": "X"}] for i in range(entities)]
    return {"title": title, "sents": [["a", "b", "c", "d", "e"], ["f"]], "vertexSet": vertex, "labels": labels, **fields}


def lab(h, t, r, evidence=()):
    return {"h": h, "t": t, "r": r, "evidence": list(evidence)}


GOLD = [
    doc("A", [lab(0, 1, "P1", [0]), lab(0, 1, "P2", [0, 1]), lab(2, 3, "P1", [1])]),
    doc("B", [lab(1, 0, "P3", [0])]),
]
# A: one right with other evidence, one wrong relation on the right pair, one pair missed,
#    one recommended twice (counts once), an NA that states nothing; B: empty.
CANDIDATES = [
    doc("A", GOLD[0]["labels"], recommended_labels=[
        {"h": 0, "t": 1, "r": "P1", "score": 3.0, "evidence": [1]},
        {"h": 0, "t": 1, "r": "P1", "score": 2.0, "evidence": []},
        {"h": 0, "t": 1, "r": "P9", "score": 1.0, "evidence": [0]},
        {"h": 1, "t": 2, "r": "Na", "score": 0.5},
    ], distant=[{"h": 0, "t": 1, "r": "P1"}, {"h": 2, "t": 3, "r": "P4"}, {"h": 3, "t": 2, "r": "P4"}]),
    doc("B", GOLD[1]["labels"], recommended_labels=[], distant=[{"h": 1, "t": 0, "r": "P3"}]),
]


def test_hand_counted_edits(tmp_path):
    gold = write_jsonl(tmp_path / "gold.jsonl", GOLD)
    cands = write_jsonl(tmp_path / "c.jsonl", CANDIDATES)
    out = tmp_path / "out.jsonl"
    assert docre("edit-steps", "-i", cands, "--gold", gold, "--evidence", "-o", out, "-q") == 0
    a, b, totals = read_jsonl(out)
    # A: gold {(0,1,P1),(0,1,P2),(2,3,P1)}, recommended {(0,1,P1),(0,1,P9)}
    assert a == {"title": "A", "edit_steps": {"recommended_labels": {
        "documents": 1, "gold": 3, "recommended": 2, "correct": 1, "additions": 2, "deletions": 1, "steps": 3,
        # (0,1,P1): gold [0] vs [1] -> +1 -1; added (0,1,P2) needs 2, (2,3,P1) needs 1
        "evidence_additions": 4, "evidence_deletions": 1,
    }}}
    assert b["edit_steps"]["recommended_labels"]["additions"] == 1
    assert b["edit_steps"]["recommended_labels"]["steps"] == 1
    assert totals["totals"]["recommended_labels"]["steps"] == 4
    assert totals["totals"]["recommended_labels"]["documents"] == 2
    assert totals["totals"]["gold_documents_not_seen"] == 0


def test_two_fields_side_by_side_with_the_reduction(tmp_path):
    gold = write_jsonl(tmp_path / "gold.jsonl", GOLD)
    cands = write_jsonl(tmp_path / "c.jsonl", CANDIDATES)
    out = tmp_path / "out.jsonl"
    assert docre("edit-steps", "-i", cands, "--gold", gold, "--field", "distant", "--field", "recommended_labels", "-o", out, "-q") == 0
    *docs, totals = read_jsonl(out)
    # distant on A: right (0,1,P1); wrong (2,3,P4), (3,2,P4); missed (0,1,P2), (2,3,P1) -> 4 steps; B: 0
    assert docs[0]["edit_steps"]["distant"]["steps"] == 4
    assert docs[1]["edit_steps"]["distant"]["steps"] == 0
    assert "evidence_additions" not in docs[0]["edit_steps"]["distant"]
    reduction = totals["totals"]["reduction"]
    assert reduction == {"baseline": "distant", "documents": 2, "recommended_labels": round(1 - 4 / 4, 6)}


def test_two_inputs_side_by_side(tmp_path):
    gold = write_jsonl(tmp_path / "gold.jsonl", GOLD)
    first = write_jsonl(tmp_path / "kb.jsonl", [dict(d, recommended_labels=d["distant"]) for d in CANDIDATES])
    second = write_jsonl(tmp_path / "model.jsonl", CANDIDATES)
    out = tmp_path / "out.jsonl"
    assert docre("edit-steps", "-i", first, "-i", second, "--gold", gold, "-o", out, "-q") == 0
    totals = read_jsonl(out)[-1]["totals"]
    assert totals["kb.jsonl"]["steps"] == 4
    assert totals["model.jsonl"]["steps"] == 4
    assert totals["reduction"]["model.jsonl"] == 0.0


def test_documents_that_cannot_be_matched_are_rejected(tmp_path):
    gold = write_jsonl(tmp_path / "gold.jsonl", GOLD)
    stranger = doc("Z", [], recommended_labels=[])
    fewer = doc("A", [], entities=3, recommended_labels=[])
    bad = doc("B", [], recommended_labels=[{"h": "x", "t": 1, "r": "P1"}])
    missing = doc("B", [])
    cands = write_jsonl(tmp_path / "c.jsonl", [stranger, fewer, bad, missing])
    rejects = tmp_path / "rejects.jsonl"
    out = tmp_path / "out.jsonl"
    assert docre("edit-steps", "-i", cands, "--gold", gold, "-o", out, "--rejects", rejects, "-q") == 0
    assert [r["reject"]["reason"] for r in read_jsonl(rejects)] == ["no_gold", "entities_differ", "bad_labels", "missing_field"]
    assert read_jsonl(out)[-1]["totals"]["gold_documents_not_seen"] == 2


def test_sets_by_an_independent_count():
    rec = triple_evidence([lab(0, 1, "P1", [0]), lab(0, 1, "P1", [2]), lab(1, 0, "P2")])
    gold = triple_evidence([lab(0, 1, "P1", [0, 1])])
    assert rec == {(0, 1, "P1"): {0, 2}, (1, 0, "P2"): set()}
    edits = count_edits(rec, gold)
    assert (edits.additions, edits.deletions, edits.evidence_additions, edits.evidence_deletions) == (0, 1, 1, 1)


@pytest.fixture(scope="module")
def jacred(shared_data):
    return json.loads((shared_data / "docre" / "jacred_dev.json").read_text())


def gold_triples(document):
    return {(x["h"], x["t"], x["r"]) for x in document["labels"]}


def test_jacred_dev_against_itself_nothing_and_a_shuffle(tmp_path, jacred):
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps(jacred, ensure_ascii=False))
    rng = random.Random(7)
    same = [dict(d, recommended_labels=d["labels"]) for d in jacred]
    empty = [dict(d, recommended_labels=[]) for d in jacred]
    shuffled = copy.deepcopy(same)
    rng.shuffle(shuffled)  # documents in another order, labels in another order: still no edit
    for d in shuffled:
        rng.shuffle(d["recommended_labels"])
    # and each document given the labels of the next one (those whose entities it has)
    swapped = []
    for i, d in enumerate(jacred):
        entities = len(d["vertexSet"])
        given = [x for x in jacred[(i + 1) % len(jacred)]["labels"] if x["h"] < entities and x["t"] < entities]
        swapped.append(dict(d, recommended_labels=given))
    results = {}
    for name, records in [("same", same), ("empty", empty), ("shuffled", shuffled), ("swapped", swapped)]:
        out = tmp_path / f"{name}.jsonl"
        assert docre("edit-steps", "-i", write_jsonl(tmp_path / f"{name}.in.jsonl", records), "--gold", gold, "-o", out, "-q") == 0
        results[name] = read_jsonl(out)
    total_gold = sum(len(gold_triples(d)) for d in jacred)
    assert total_gold == 6157  # the dev triples counted in the notes
    assert results["same"][-1]["totals"]["recommended_labels"]["steps"] == 0
    assert results["shuffled"][-1]["totals"]["recommended_labels"]["steps"] == 0
    assert results["empty"][-1]["totals"]["recommended_labels"] == {
        "documents": 300, "gold": total_gold, "recommended": 0, "correct": 0, "additions": total_gold, "deletions": 0, "steps": total_gold,
    }
    def expected(i):  # symmetric difference of the two triple sets, counted here by hand
        given = {(x["h"], x["t"], x["r"]) for x in swapped[i]["recommended_labels"]}
        return len(given ^ gold_triples(jacred[i]))

    expected_steps = sum(expected(i) for i in range(len(jacred)))
    assert results["swapped"][-1]["totals"]["recommended_labels"]["steps"] == expected_steps
    assert expected_steps > 0
    per_doc = {r["title"]: r["edit_steps"]["recommended_labels"]["steps"] for r in results["swapped"][:-1]}
    for i, d in enumerate(jacred):
        assert per_doc[d["title"]] == expected(i)


def test_a_gold_file_without_labels_or_keys_stops_the_run(tmp_path):
    # an unannotated gold file (a test split) would make every recommendation a deletion
    cands = write_jsonl(tmp_path / "c.jsonl", [doc("A", [], recommended_labels=[])])
    unlabelled = {k: v for k, v in GOLD[0].items() if k != "labels"}
    assert docre("edit-steps", "-i", cands, "--gold", write_jsonl(tmp_path / "g1.jsonl", [unlabelled]), "-q") == 65
    listed_title = dict(GOLD[0], title=["A"])
    assert docre("edit-steps", "-i", cands, "--gold", write_jsonl(tmp_path / "g2.jsonl", [listed_title]), "-q") == 65

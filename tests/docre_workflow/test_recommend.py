"""`docre recommend`: distant (knowledge-base) recommendations and recommendations from predictions."""

from __future__ import annotations

from llmkit_docre.recommend import normalize_name, select

from tests.docre.helpers import docre, read_jsonl, write_jsonl


def document(title="Doc"):
    sents = [["Kyoto", "University", "is", "in", "Kyoto", "."], ["片岡", "一則", "studied", "at", "KYOTO", "UNIVERSITY", "."]]
    return {
        "title": title,
        "sents": sents,
        "vertexSet": [
            [{"name": "Kyoto University", "sent_id": 0, "pos": [0, 2], "type": "ORG"},
             {"name": "KYOTO UNIVERSITY", "sent_id": 1, "pos": [4, 6], "type": "ORG"}],
            [{"name": "Kyoto", "sent_id": 0, "pos": [4, 5], "type": "LOC"}],
            [{"name": "片岡 一則", "sent_id": 1, "pos": [0, 2], "type": "PER"}],
        ],
        "labels": [{"h": 0, "t": 1, "r": "P131", "evidence": [0]}],
        "note": "kept",
    }


KB = [
    {"head": "kyoto university", "relation": "P131", "tail": "Kyoto"},
    {"head": "Kyoto University", "relation": "P159", "tail": "Kyoto"},
    {"head": "片岡一則", "relation": "P69", "tail": "Kyoto University"},  # written without the space
    {"head": "Kyoto", "relation": "P17", "tail": "Japan"},  # Japan is no entity here
    {"head": "Kyoto", "relation": "Na", "tail": "Kyoto University"},  # states nothing
]


def test_distant_recommendations_match_names_of_any_mention(tmp_path):
    kb = write_jsonl(tmp_path / "kb.jsonl", KB)
    docs = write_jsonl(tmp_path / "docs.jsonl", [document()])
    out = tmp_path / "out.jsonl"
    assert docre("recommend", "--source", "distant", "--kb", kb, "-i", docs, "-o", out, "-q") == 0
    [rec] = read_jsonl(out)
    assert rec["labels"] == document()["labels"] and rec["note"] == "kept"  # the document unchanged
    assert [(x["h"], x["t"], x["r"]) for x in rec["recommended_labels"]] == [(0, 1, "P131"), (0, 1, "P159"), (2, 0, "P69")]
    assert all(x["score"] == 1.0 and x["evidence"] == [] for x in rec["recommended_labels"])
    assert rec["recommended_by"]["source"] == "distant"
    # --top-k 1 keeps one relation per pair
    assert docre("recommend", "--source", "distant", "--kb", kb, "-i", docs, "-o", out, "-q", "--top-k", "1") == 0
    assert [(x["h"], x["t"]) for x in read_jsonl(out)[0]["recommended_labels"]] == [(0, 1), (2, 0)]


def test_a_distant_supervision_file_of_documents_is_a_knowledge_base(tmp_path):
    other = document("Other")
    other["labels"] = [{"h": 2, "t": 0, "r": "P69", "evidence": []}]
    kb = write_jsonl(tmp_path / "distant.jsonl", [other])
    docs = write_jsonl(tmp_path / "docs.jsonl", [document()])
    out = tmp_path / "out.jsonl"
    assert docre("recommend", "--source", "distant", "--kb", kb, "-i", docs, "-o", out, "-q") == 0
    assert [(x["h"], x["t"], x["r"]) for x in read_jsonl(out)[0]["recommended_labels"]] == [(2, 0, "P69")]


def test_recommendations_from_predictions_then_edit_steps(tmp_path):
    predicted = [
        {"h": 0, "t": 1, "r": "P131", "score": 2.5, "evidence": [0]},
        {"h": 0, "t": 1, "r": "P159", "score": 0.5, "evidence": [0]},
        {"h": 0, "t": 1, "r": "P17", "score": 1.5, "evidence": []},
        {"h": 2, "t": 0, "r": "P69", "score": -0.2, "evidence": [1]},
    ]
    docs = write_jsonl(tmp_path / "docs.jsonl", [dict(document(), predicted_labels=predicted)])
    out = tmp_path / "out.jsonl"
    args = ["recommend", "--source", "predictions", "-i", docs, "-o", out, "-q"]
    assert docre(*args, "--top-k", "2", "--min-score", "0") == 0
    [rec] = read_jsonl(out)
    assert [(x["r"], x["score"]) for x in rec["recommended_labels"]] == [("P131", 2.5), ("P17", 1.5)]
    gold = write_jsonl(tmp_path / "gold.jsonl", [document()])
    steps = tmp_path / "steps.jsonl"
    assert docre("edit-steps", "-i", out, "--gold", gold, "-o", steps, "-q") == 0
    assert read_jsonl(steps)[-1]["totals"]["recommended_labels"]["steps"] == 1  # P17 deleted


def test_bad_input_is_rejected_with_its_reason(tmp_path):
    no_predictions = document()
    bad_predictions = dict(document(), predicted_labels=[{"h": 7, "t": 0, "r": "P1"}])
    broken = document()
    broken["vertexSet"][0][0]["sent_id"] = 9
    docs = write_jsonl(tmp_path / "docs.jsonl", [no_predictions, bad_predictions, broken])
    rejects = tmp_path / "rejects.jsonl"
    assert docre("recommend", "--source", "predictions", "-i", docs, "-o", tmp_path / "o.jsonl", "--rejects", rejects, "-q") == 0
    assert [r["reject"]["reason"] for r in read_jsonl(rejects)] == ["missing_field", "bad_labels", "mention_out_of_range"]
    assert docre("recommend", "--source", "distant", "-i", docs, "-q") == 2  # no --kb
    assert docre("recommend", "-i", docs, "-q") == 2  # no --model
    assert docre("recommend", "--source", "other", "-i", docs, "-q") == 2


def test_names_and_selection():
    assert normalize_name("Ｋｙｏｔｏ  University") == normalize_name("kyoto university") == "kyotouniversity"
    triples = [{"h": 0, "t": 1, "r": "B", "score": 1.0}, {"h": 0, "t": 1, "r": "A", "score": 1.0}, {"h": 0, "t": 1, "r": "C"}]
    assert [x["r"] for x in select(triples, 4, None)] == ["A", "B", "C"]
    assert [x["r"] for x in select(triples, 4, 0.0)] == ["A", "B"]


def test_two_sources_in_one_record_keep_their_provenance(tmp_path):
    # recommend | recommend --field kb_labels, then edit-steps with both fields: the second run
    # must not overwrite what the first one says about its recommendations
    predicted = [{"h": 0, "t": 1, "r": "P131", "score": 2.5, "evidence": [0]}]
    docs = write_jsonl(tmp_path / "docs.jsonl", [dict(document(), predicted_labels=predicted)])
    kb = write_jsonl(tmp_path / "kb.jsonl", KB)
    first, both = tmp_path / "first.jsonl", tmp_path / "both.jsonl"
    assert docre("recommend", "--source", "predictions", "-i", docs, "-o", first, "-q") == 0
    assert docre("recommend", "--source", "distant", "--kb", kb, "--field", "kb_labels", "-i", first, "-o", both, "-q") == 0
    [rec] = read_jsonl(both)
    assert rec["recommended_by"]["source"] == "predictions"
    assert rec["kb_labels_by"]["source"] == "distant" and rec["kb_labels_by"]["kb"] == str(kb)
    # an input field of that name that is not a provenance record is the input's own
    clash = write_jsonl(tmp_path / "clash.jsonl", [dict(document(), predicted_labels=predicted, recommended_by="Ann")])
    rejects = tmp_path / "rejects.jsonl"
    assert docre("recommend", "--source", "predictions", "-i", clash, "-o", tmp_path / "o.jsonl", "--rejects", rejects, "-q") == 0
    assert [r["reject"]["reason"] for r in read_jsonl(rejects)] == ["field_exists"]


def test_a_malformed_knowledge_base_stops_the_run(tmp_path):
    other = document("Other")
    other["labels"] = ["P69"]
    kb = write_jsonl(tmp_path / "distant.jsonl", [other])
    docs = write_jsonl(tmp_path / "docs.jsonl", [document()])
    assert docre("recommend", "--source", "distant", "--kb", kb, "-i", docs, "-q") == 65


def test_evidence_that_is_not_a_list_of_sentence_ids_is_rejected_naming_the_item(tmp_path):
    as_text = dict(document(), predicted_labels=[{"h": 0, "t": 1, "r": "P131", "score": 1.0, "evidence": "0,1"}])
    as_bools = dict(document(), predicted_labels=[{"h": 0, "t": 1, "r": "P131", "evidence": [True]}])
    fine = dict(document(), predicted_labels=[{"h": 0, "t": 1, "r": "P131", "score": 1.0, "evidence": [0, 1]}])
    out, rejects = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    docs = write_jsonl(tmp_path / "d.jsonl", [as_text, as_bools, fine])
    assert docre("recommend", "--source", "predictions", "-i", docs, "-o", out, "--rejects", rejects, "-q") == 0
    rejected = read_jsonl(rejects)
    assert [r["reject"]["reason"] for r in rejected] == ["bad_labels", "bad_labels"]
    assert rejected[0]["reject"]["detail"] == "predicted_labels: item 0: 'evidence' must be a list of sentence ids, got '0,1'"
    assert [r["source"] for r in (x["reject"] for x in rejected)] == [f"{docs}:1", f"{docs}:2"]
    [written] = read_jsonl(out)
    assert written["recommended_labels"][0]["evidence"] == [0, 1]


def test_a_triple_listed_twice_is_one_recommendation_with_its_best_score():
    triples = [
        {"h": 0, "t": 1, "r": "A", "score": 1.5, "evidence": [1]},
        {"h": 0, "t": 1, "r": "A", "score": 2.0, "evidence": [0]},
        {"h": 0, "t": 1, "r": "B", "score": 1.0},
        {"h": 0, "t": 1, "r": "C", "score": 0.1},
    ]
    chosen = select(triples, 2, None)  # A's second listing takes no top-k place from B
    assert [(x["r"], x["score"], x["evidence"]) for x in chosen] == [("A", 2.0, [0]), ("B", 1.0, [])]

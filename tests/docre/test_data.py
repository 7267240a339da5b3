"""docre data: relation inventories, documents (JSON array and JSONL), validation rejects."""

from __future__ import annotations

import json

import pytest

from llmkit import InputError, Reject, UsageError
from llmkit_docre.data import Document, load_documents, load_relations, parse_document, read_documents


def _doc(**change):
    doc = {
        "title": "t",
        "sents": [["Ada", "was", "born", "in", "London", "."], ["She", "wrote", "."]],
        "vertexSet": [
            [{"name": "Ada", "sent_id": 0, "pos": [0, 1], "type": "PER"}, {"name": "She", "sent_id": 1, "pos": [0, 1], "type": "PER"}],
            [{"name": "London", "sent_id": 0, "pos": [4, 5], "type": "LOC"}],
        ],
        "labels": [{"h": 0, "t": 1, "r": "P19", "evidence": [0]}],
    }
    doc.update(change)
    return doc


@pytest.fixture
def relations(tmp_path):
    path = tmp_path / "rel2id.json"
    path.write_text(json.dumps({"Na": 0, "P19": 1, "P20": 2}))
    return load_relations(path)


def test_rel2id_and_rel_info_inventories(tmp_path):
    rel2id = tmp_path / "rel2id.json"
    rel2id.write_text(json.dumps({"P20": 2, "Na": 0, "P19": 1}))
    inv = load_relations(rel2id)
    assert inv.names == ("Na", "P19", "P20") and inv.num_classes == 3 and len(inv) == 2
    info = tmp_path / "rel_info.json"
    info.write_text(json.dumps({"P6": "head of government", "P17": "country"}))
    inv = load_relations(info)
    assert inv.names == ("Na", "P6", "P17") and inv.id("P17") == 2 and inv.descriptions["P6"] == "head of government"


@pytest.mark.parametrize("content", ['{"P1": 1, "Na": 0, "P2": 1}', '{"P1": 0, "Na": 1}', "[1, 2]", "not json", '{"a": 1, "b": "x"}'])
def test_bad_relation_file_is_a_usage_error(tmp_path, content):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(UsageError):
        load_relations(path)


def test_jacred_and_real_inventories(shared_data):
    docre = shared_data / "docre"
    assert load_relations(docre / "jacred_rel2id.json").num_classes == 36
    info = load_relations(docre / "jacred_rel_info.json")
    assert len(info) == 35 and info.na == "Na"
    assert set(info.names) == set(load_relations(docre / "jacred_rel2id.json").names)


def test_valid_document(relations):
    doc = parse_document(_doc(), relations)
    assert isinstance(doc, Document)
    assert [len(e) for e in doc.entities] == [2, 1] and doc.facts[0].relation == 1 and doc.facts[0].evidence == (0,)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sents": "Ada"}, "bad_document"),
        ({"vertexSet": [[]]}, "bad_document"),
        ({"vertexSet": [[{"name": "x", "sent_id": 2, "pos": [0, 1]}], [{"name": "y", "sent_id": 0, "pos": [0, 1]}]]}, "mention_out_of_range"),
        ({"vertexSet": [[{"name": "x", "sent_id": 1, "pos": [2, 4]}], [{"name": "y", "sent_id": 0, "pos": [0, 1]}]]}, "mention_out_of_range"),
        ({"vertexSet": [[{"name": "x", "sent_id": 1, "pos": [3, 3]}], [{"name": "y", "sent_id": 0, "pos": [0, 1]}]]}, "mention_out_of_range"),
        ({"labels": [{"h": 0, "t": 5, "r": "P19", "evidence": []}]}, "unknown_entity"),
        ({"labels": [{"h": 1, "t": 1, "r": "P19", "evidence": []}]}, "unknown_entity"),
        ({"labels": [{"h": 0, "t": 1, "r": "P999", "evidence": []}]}, "unknown_relation"),
        ({"labels": [{"h": 0, "t": 1, "r": "P19", "evidence": [2]}]}, "evidence_out_of_range"),
    ],
)
def test_bad_documents_are_rejected_with_their_reason(relations, change, reason):
    result = parse_document(_doc(**change), relations)
    assert isinstance(result, Reject) and result.reason == reason, result


def test_empty_span_at_a_token_is_kept_and_labels_optional_for_prediction(relations):
    empty = _doc(vertexSet=[[{"name": "x", "sent_id": 1, "pos": [2, 2]}], [{"name": "y", "sent_id": 0, "pos": [0, 1]}]])
    assert isinstance(parse_document(empty, relations), Document)
    unknown = _doc(labels=[{"h": 0, "t": 1, "r": "P999", "evidence": []}])
    assert isinstance(parse_document(unknown, relations, labels=False), Document)


def test_json_array_and_jsonl_read_alike_and_japanese_unchanged(tmp_path, relations):
    docs = [_doc(title="東京"), _doc(title="二")]
    docs[0]["sents"][0][0] = "アンソニー世界を駆ける"
    array = tmp_path / "a.json"
    array.write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
    lines = tmp_path / "a.jsonl"
    lines.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in docs) + "\n", encoding="utf-8")
    from_array = [r for _s, r in read_documents(array)]
    from_lines = [r for _s, r in read_documents(lines)]
    assert from_array == from_lines == docs
    parsed, rejects = load_documents(lines, relations)
    assert not rejects and parsed[0].sents[0][0] == "アンソニー世界を駆ける" and parsed[0].title == "東京"


def test_a_line_that_is_not_an_object_names_its_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_doc()) + "\n[1]\n")
    with pytest.raises(InputError, match=r"bad.jsonl:2"):
        list(read_documents(path))


def test_real_files_load_without_rejects(shared_data):
    docre = shared_data / "docre"
    jacred = load_relations(docre / "jacred_rel2id.json")
    docs, rejects = load_documents(docre / "jacred_dev.json", jacred)
    assert len(docs) == 300 and not rejects
    assert sum(len(d.facts) for d in docs) == 6157
    raw = json.loads((docre / "jacred_dev.json").read_text(encoding="utf-8"))
    assert [d.sents for d in docs] == [r["sents"] for r in raw]  # characters intact

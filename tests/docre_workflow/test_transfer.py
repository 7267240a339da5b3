"""`docre transfer` with scripted translations: spans from markers, retries, rejects, batching."""

from __future__ import annotations

import copy
import json
import re

import pytest
from llmkit_docre.data import parse_document, relations_from_names
from llmkit_docre.transfer import TransferConfig, TransferStep

import llmkit
from tests.docre_workflow.fixtures import (
    CAPITAL_JA,
    CAPITAL_ZH,
    capital_doc,
    drop_tag,
    translator,
)


def run(backend, records, **config):
    step = TransferStep(llmkit.BackendOptions(model="scripted"), TransferConfig(**{"target_lang": "ja", **config}), backend=backend)
    step.open()
    try:
        return step.process(copy.deepcopy(records))
    finally:
        step.close()


def assert_valid(doc):
    names = sorted({lab["r"] for lab in doc.get("labels", [])})
    parsed = parse_document(doc, relations_from_names(names))
    assert not isinstance(parsed, llmkit.Reject), parsed


def spans(doc, joiner=""):
    """(entity, mention) -> (joined tokens of the span, name, sentence)."""
    return {
        (e, m): (joiner.join(doc["sents"][x["sent_id"]][x["pos"][0]:x["pos"][1]]), x["name"], x["sent_id"])
        for e, entity in enumerate(doc["vertexSet"]) for m, x in enumerate(entity)
    }


def test_japanese_spans_come_from_the_markers_and_labels_stay():
    source = capital_doc()
    [doc] = run(translator(CAPITAL_JA), [source])
    assert_valid(doc)
    assert doc["title"] == "東京"
    assert doc["labels"] == source["labels"]  # evidence and entity ids as they were
    assert doc["id"] == "doc-1"
    got = spans(doc)
    assert got == {
        (0, 0): ("東京都", "東京都", 0),  # the outer of two nested mentions
        (1, 0): ("東京", "東京", 0),  # the inner one
        (1, 1): ("東京", "東京", 1),  # one entity twice in one sentence: two spans
        (1, 2): ("東京", "東京", 1),
        (2, 0): ("日本", "日本", 0),
        (2, 1): ("日本", "日本", 1),
        (3, 0): ("日本航空", "日本航空", 1),  # adjacent to 日本 (entity 2)
    }
    first, second = doc["vertexSet"][1][1]["pos"], doc["vertexSet"][1][2]["pos"]
    assert first != second
    assert "global_pos" not in doc["vertexSet"][3][0]  # a source position means nothing here
    assert doc["vertexSet"][3][0]["type"] == "ORG"
    stats = doc["transfer"]
    assert stats["source_title"] == "Tokyo"
    assert stats["model"] == "scripted"
    assert stats["mentions"] == 7
    assert stats["units"] == 2
    assert stats["units_retried"] == 0
    assert stats["tokenizer"] == "fugashi"


def test_chinese_is_cut_into_characters_and_english_into_words():
    [zh] = run(translator(CAPITAL_ZH), [capital_doc()], target_lang="zh")
    assert_valid(zh)
    assert zh["sents"][0][:4] == ["东", "京", "都", "是"]
    assert {k: v[0] for k, v in spans(zh).items()} == {
        (0, 0): "东京都", (1, 0): "东京", (1, 1): "东京", (1, 2): "东京", (2, 0): "日本", (2, 1): "日本", (3, 0): "日本航空",
    }
    # English to English, answered with the marked source itself: every span comes back
    [en] = run(translator({}), [capital_doc()], target_lang="en")
    assert_valid(en)
    assert en["sents"] == capital_doc()["sents"]
    assert [[m["pos"] for m in e] for e in en["vertexSet"]] == [[m["pos"] for m in e] for e in capital_doc()["vertexSet"]]
    assert {k: v[0] for k, v in spans(en, " ").items()} == {k: v[1] for k, v in spans(capital_doc(), " ").items()}


def test_a_lost_marker_is_retried_then_rejected_naming_entity_and_sentence():
    bad = dict(CAPITAL_JA)
    second = "<m1>Japan</m1> <m2>Japan Airlines</m2> flies from <m3>Tokyo</m3> and <m4>Tokyo</m4> again."
    bad[second] = drop_tag(CAPITAL_JA[second], "</m3>")
    backend = translator(bad)
    [out] = run(backend, [capital_doc()])
    assert isinstance(out, llmkit.Reject)
    assert out.reason == "mention_lost"
    assert "sentence 1 after 2 attempts" in out.detail
    assert "entity 1 mention 1 in sentence 1 (<m3>)" in out.detail
    assert backend.calls == 2  # the first attempt for all units, then the one wrong unit again
    retried = [p for p in backend.prompts if "could not be used" in p[-1]["content"]]
    assert len(retried) == 1
    assert "<m3> (closing tag missing)" in retried[0][-1]["content"]
    # no retry at all with --retries 0
    backend = translator(bad)
    [out] = run(backend, [capital_doc()], retries=0)
    assert isinstance(out, llmkit.Reject) and "after 1 attempts" in out.detail
    assert backend.calls == 1


def test_a_retry_that_fixes_the_markers_is_written_and_counted():
    second = "<m1>Japan</m1> <m2>Japan Airlines</m2> flies from <m3>Tokyo</m3> and <m4>Tokyo</m4> again."

    state = {"seen": 0}

    def flaky(text):
        if text == second:
            state["seen"] += 1
            if state["seen"] == 1:
                return CAPITAL_JA[second].replace("<m2>", "<m2><m2>")
        return CAPITAL_JA.get(text, text)

    [doc] = run(translator(flaky), [capital_doc()])
    assert_valid(doc)
    assert doc["transfer"]["units_retried"] == 1
    assert doc["transfer"]["marker_problems_first_attempt"] == {"duplicated": 1}
    assert spans(doc)[(3, 0)][0] == "日本航空"


@pytest.mark.parametrize(
    "answer",
    [
        "<m1>日本</m1>の<m2>日本航空</m2>は<m3>東京</m3>から、また<m3>東京</m3>から飛ぶ。",  # renumbered
        "<m1>日本</m1>の<m2>日本航空</m2>は<m3>東京</m3>から、また<m4></m4>東京から飛ぶ。",  # emptied
        "<m1>日本</m1>の<m2>日本航空</m2>は<m3>東京</m3>から、また<m4>東京</M4>から飛ぶ。",  # mangled
        "<m1>日本</m1>の<m2>日本航空</m2>は<m3>東京</m3>から、また東京から飛ぶ。",  # dropped
    ],
)
def test_nothing_is_guessed(answer):
    second = "<m1>Japan</m1> <m2>Japan Airlines</m2> flies from <m3>Tokyo</m3> and <m4>Tokyo</m4> again."
    [out] = run(translator({**CAPITAL_JA, second: answer}), [capital_doc()])
    assert isinstance(out, llmkit.Reject) and out.reason == "mention_lost", out


def test_whole_batch_goes_to_the_backend_in_one_call():
    docs = []
    for i in range(5):
        doc = capital_doc()
        doc["id"] = f"doc-{i}"
        docs.append(doc)
    backend = translator(CAPITAL_JA)
    out = run(backend, docs)
    assert backend.calls == 1
    assert len(backend.prompts) == 5 * 3  # two sentences and a title per document
    assert [d["id"] for d in out] == [f"doc-{i}" for i in range(5)]


def shift(line, by):
    """The line with every marker number moved by ``by``."""
    return re.sub(r"(</?m)(\d+)>", lambda m: f"{m.group(1)}{int(m.group(2)) + by}>", line)


def test_document_unit_keeps_sentence_ids_through_sentence_tags():
    def answer(text):
        if text == "Tokyo":
            return "東京"
        first, second = text.split("\n")
        assert first.startswith("<s1>") and second.startswith("<s2>")
        # the second sentence's markers continue the numbering at <m4>
        return f"<s1>{CAPITAL_JA[first[4:-5]]}</s1>\n<s2>{shift(CAPITAL_JA[shift(second[4:-5], -3)], 3)}</s2>"

    backend = translator(answer)
    [doc] = run(backend, [capital_doc()], unit="document")
    assert_valid(doc)
    assert len(backend.prompts) == 2  # the document and its title
    sentence_mode = run(translator(CAPITAL_JA), [capital_doc()])[0]
    assert doc["sents"] == sentence_mode["sents"]
    assert doc["vertexSet"] == sentence_mode["vertexSet"]
    assert doc["labels"] == capital_doc()["labels"]
    assert doc["transfer"]["unit"] == "document"


def test_bad_input_and_an_existing_transfer_field_are_rejected():
    broken = capital_doc()
    broken["vertexSet"][0][0]["pos"] = [5, 50]
    clash = capital_doc()
    clash["transfer"] = "mine"
    out = run(translator(CAPITAL_JA), [broken, clash])
    assert [o.reason for o in out] == ["mention_out_of_range", "field_exists"]


def test_backend_errors_reject_the_document(tmp_path):
    from llmkit.testing import ScriptedBackend

    backend = ScriptedBackend(lambda prompt: "x", max_model_len=10)
    [out] = run(backend, [capital_doc()])
    assert isinstance(out, llmkit.Reject) and out.reason == "too_long"


def test_the_prompt_can_be_replaced(tmp_path):
    mine = tmp_path / "p.txt"
    mine.write_text("From {source_lang} to {target_lang}, markers kept, with no notes or explanations.\n\n{text}\n")
    backend = translator(CAPITAL_JA)
    [doc] = run(backend, [capital_doc()], prompt=str(mine))
    assert_valid(doc)
    assert backend.prompts[0][-1]["content"].startswith("From English to Japanese")
    wrong = tmp_path / "q.txt"
    wrong.write_text("{text} {language}")
    with pytest.raises(llmkit.UsageError):
        TransferStep(llmkit.BackendOptions(model="x"), TransferConfig("ja", prompt=str(wrong)))


def test_real_redocred_documents_round_trip_through_an_echoing_translator(shared_data):
    """English to English, each answer the marked source itself: every written document is valid
    and every mention keeps its text (spacing around punctuation aside)."""
    docs = json.loads((shared_data / "docre" / "redocred_dev.json").read_text())[:20]
    out = run(translator({}), docs, target_lang="en")
    for source, doc in zip(docs, out, strict=True):
        assert isinstance(doc, dict), doc
        assert_valid(doc)
        for e, entity in enumerate(source["vertexSet"]):
            for m, mention in enumerate(entity):
                tokens = source["sents"][mention["sent_id"]][mention["pos"][0]:mention["pos"][1]]
                assert doc["vertexSet"][e][m]["name"].replace(" ", "") == "".join(tokens)
                assert doc["vertexSet"][e][m]["sent_id"] == mention["sent_id"]


def test_jacred_documents_tokenized_with_fugashi_join_to_their_names(shared_data):
    """A JacRED document 'transferred' into Japanese (answered with its own marked text): fugashi
    cut at the markers gives spans whose tokens join to each mention's name."""
    docs = json.loads((shared_data / "docre" / "jacred_dev.json").read_text())[:10]
    out = run(translator({}), docs, source_lang="ja", target_lang="ja")
    for source, doc in zip(docs, out, strict=True):
        assert isinstance(doc, dict), doc
        assert_valid(doc)
        assert doc["labels"] == source["labels"]
        for (e, m), (joined, name, sent) in spans(doc).items():
            assert joined == name.replace(" ", "")
            assert sent == source["vertexSet"][e][m]["sent_id"]
            original = source["sents"][sent][source["vertexSet"][e][m]["pos"][0]:source["vertexSet"][e][m]["pos"][1]]
            assert joined == "".join(original)


def test_sudachi_tokenizer_gives_the_same_spans():
    pytest.importorskip("sudachipy", reason="SudachiPy is optional (pip install sudachipy sudachidict-core)")
    [doc] = run(translator(CAPITAL_JA), [capital_doc()], tokenizer="sudachi")
    assert_valid(doc)
    assert {k: v[0] for k, v in spans(doc).items()}[(3, 0)] == "日本航空"


def test_an_answer_cut_by_the_token_limit_is_retried_then_rejected_truncated():
    from llmkit import Completion
    from llmkit.testing import ScriptedBackend

    first = "<m1><m2>Tokyo</m2> Metropolis</m1> is the capital of <m3>Japan</m3>."

    def answer(prompt):
        text = prompt[-1]["content"]
        if text.endswith(first + "\n"):
            return Completion(CAPITAL_JA[first][:-3], [1], "length")  # tags all there, the end cut off
        return CAPITAL_JA.get(text.split("explanations.\n\n", 1)[1].rstrip("\n"), "")

    backend = ScriptedBackend(answer)
    [out] = run(backend, [capital_doc()])
    assert isinstance(out, llmkit.Reject) and out.reason == "truncated"
    assert "sentence 0" in out.detail
    assert backend.calls == 2


def test_an_empty_answer_is_retried_then_rejected_no_answer():
    first = "<m1><m2>Tokyo</m2> Metropolis</m1> is the capital of <m3>Japan</m3>."
    backend = translator({**CAPITAL_JA, first: "  "})
    [out] = run(backend, [capital_doc()])
    assert isinstance(out, llmkit.Reject) and out.reason == "no_answer"
    assert out.detail == "sentence 0 after 2 attempts: blank: the answer is empty"
    assert backend.calls == 2


def test_empty_span_mentions_are_carried_across_without_a_marker(shared_data):
    """JacRED's empty-span mentions (pos [k, k]) used to go out as '<mN></mN>', which no answer can
    keep, so their documents were always rejected. They now travel without a marker, stay empty,
    and keep their entity, sentence and name."""
    docs = [d for split in ("dev", "test") for d in json.loads((shared_data / "docre" / f"jacred_{split}.json").read_text())]
    empty = [d for d in docs if any(m["pos"][0] == m["pos"][1] for e in d["vertexSet"] for m in e)]
    assert len(empty) == 3  # one in dev, two in test
    prompts: list[str] = []

    def echo(text: str) -> str:
        prompts.append(text)
        return text

    out = run(translator(echo), empty, source_lang="ja", target_lang="ja")
    assert not any(re.search(r"<m(\d+)></m\1>", p) for p in prompts)
    for source, doc in zip(empty, out, strict=True):
        assert isinstance(doc, dict), doc
        assert_valid(doc)
        carried = [
            (e, m) for e, entity in enumerate(source["vertexSet"]) for m, x in enumerate(entity) if x["pos"][0] == x["pos"][1]
        ]
        assert doc["transfer"]["empty_mentions_carried"] == len(carried) >= 1
        for e, m in carried:
            before, after = source["vertexSet"][e][m], doc["vertexSet"][e][m]
            assert after["pos"][0] == after["pos"][1]
            assert (after["sent_id"], after["name"]) == (before["sent_id"], before["name"])
            # the same relative place of the re-tokenized sentence
            source_len, target_len = len(source["sents"][before["sent_id"]]), len(doc["sents"][after["sent_id"]])
            assert after["pos"][0] == round(before["pos"][0] * target_len / source_len)

"""`docre transfer` end to end through the hf backend on tiny models (CLI, files, rejects)."""

from __future__ import annotations

import pytest
from llmkit_docre.transfer import TransferConfig, TransferStep

import llmkit
from llmkit.testing import ScriptedBackend
from tests.docre.helpers import docre, read_jsonl, write_jsonl
from tests.teach import teach

DOC = {
    "title": "",
    "sents": [["Tokyo", "is", "in", "Japan", "."]],
    "vertexSet": [
        [{"name": "Tokyo", "sent_id": 0, "pos": [0, 1], "type": "LOC"}],
        [{"name": "Japan", "sent_id": 0, "pos": [3, 4], "type": "LOC"}],
    ],
    "labels": [{"h": 0, "t": 1, "r": "P17", "evidence": [0]}],
}
NO_MENTIONS = {"title": "", "sents": [["Nothing", "happens", "."]], "vertexSet": [], "labels": []}
ANSWER = "<m1>東京</m1>は<m2>日本</m2>にある。"
#: a short prompt keeps the taught sequence short (teaching time grows with its length)
SHORT_PROMPT = "{source_lang} to {target_lang}, tags kept:\n{text}\n"


@pytest.fixture(scope="module")
def short_prompt(tmp_path_factory):
    path = tmp_path_factory.mktemp("prompt") / "short.txt"
    path.write_text(SHORT_PROMPT, encoding="utf-8")
    return path


def transfer_prompt(doc, prompt) -> str:
    """The exact prompt text the step sends for the document's one sentence."""
    backend = ScriptedBackend(lambda prompt: "")
    config = TransferConfig("ja", retries=0, prompt=prompt)
    step = TransferStep(llmkit.BackendOptions(model="x"), config, backend=backend)
    step.open()
    step.process([doc])
    return backend.prompts[0][-1]["content"]


@pytest.fixture(scope="module")
def translator_model(tiny_llama, tmp_path_factory, short_prompt):
    """A tiny model taught to answer the transfer prompt of DOC with its Japanese translation."""
    return teach(tiny_llama, [transfer_prompt(DOC, short_prompt)], ANSWER, tmp_path_factory.mktemp("ja_translator"))


@pytest.mark.slow  # teaches a tiny model to translate (translator_model)
def test_taught_model_through_hf_gives_spans_from_markers(translator_model, short_prompt, tmp_path):
    docs = write_jsonl(tmp_path / "in.jsonl", [DOC])
    out = tmp_path / "out.jsonl"
    status = docre("transfer", "-i", docs, "-o", out, "--target-lang", "ja", "--model", translator_model,
                   "--backend", "hf", "--max-tokens", "48", "--prompt", short_prompt, "-q")
    assert status == 0
    [doc] = read_jsonl(out)
    assert doc["sents"] == [["東京", "は", "日本", "に", "ある", "。"]]
    assert [[m["pos"] for m in e] for e in doc["vertexSet"]] == [[[0, 1]], [[2, 3]]]
    assert [e[0]["name"] for e in doc["vertexSet"]] == ["東京", "日本"]
    assert doc["labels"] == DOC["labels"]
    assert doc["transfer"]["model"] == str(translator_model)


@pytest.mark.slow  # generates with a model through the command
def test_random_model_through_hf_loses_markers_and_nothing_is_guessed(tiny_llama, tmp_path):
    docs = write_jsonl(tmp_path / "in.jsonl", [DOC, NO_MENTIONS])
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    status = docre("transfer", "-i", docs, "-o", out, "--rejects", rejects, "--target-lang", "ja", "--model", tiny_llama,
                   "--backend", "hf", "--max-tokens", "8", "-q")
    assert status == 0
    assert read_jsonl(out) == []
    first, second = read_jsonl(rejects)
    # noise keeps no tag (or is cut at 8 tokens); a sentence with no mention is still cut short
    assert first["reject"]["reason"] in ("mention_lost", "truncated")
    assert second["reject"]["reason"] == "truncated"
    assert first["sents"] == DOC["sents"]  # the original record, as it came


def test_missing_model_and_bad_options_are_usage_errors(tmp_path):
    docs = write_jsonl(tmp_path / "in.jsonl", [DOC])
    assert docre("transfer", "-i", docs, "--target-lang", "ja", "-q") == 2
    assert docre("transfer", "-i", docs, "--target-lang", "ja", "--model", "x", "--unit", "page", "-q") == 2
    assert docre("transfer", "-i", docs, "--target-lang", "ja", "--model", "x", "--tokenizer", "nope", "-q") == 2

"""`llmkit tiny-model --arch bert|deberta`: the offline encoders docre trains on, from the CLI."""

from __future__ import annotations

import json

import pytest

from llmkit.cli import run
from tests.docre.helpers import read_jsonl

pytest.importorskip("torch")

pytestmark = pytest.mark.slow  # imports transformers, builds and loads two encoders


@pytest.mark.parametrize(("arch", "model_type"), [("deberta", "deberta-v2"), ("bert", "bert")])
def test_tiny_model_builds_an_encoder_knowing_every_word_of_the_corpus(tmp_path, arch, model_type):
    from llmkit_docre.checkpoint import load_encoder
    from llmkit_docre.synthetic import write_corpus

    corpus = write_corpus(tmp_path / "data", train=6, dev=2, seed=1)
    folder = tmp_path / arch
    status = run(["tiny-model", str(folder), "--arch", arch, "--hidden-size", "32", "--heads", "4", "--words-from", str(corpus["train"])])
    assert status == 0
    assert json.loads((folder / "config.json").read_text())["model_type"] == model_type
    encoder, tokenizer = load_encoder(str(folder))  # what `docre train --encoder` does
    words = [w for doc in read_jsonl(corpus["train"]) for sent in doc["sents"] for w in sent]
    ids = tokenizer(words, is_split_into_words=True, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(words) and tokenizer.unk_token_id not in ids
    out = encoder(**tokenizer("Alice met Bob .", return_tensors="pt"), output_attentions=True)
    assert len(out.attentions) == 2  # eager attention: the attentions docre pools are returned


def test_words_from_is_refused_for_a_causal_lm(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("alpha beta\n")
    assert run(["tiny-model", str(tmp_path / "lm"), "--words-from", str(words)]) == 2
    assert not (tmp_path / "lm").exists()

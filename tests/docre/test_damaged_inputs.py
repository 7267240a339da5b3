"""docre on damaged model folders, bad options and unusable dev sets: a named file and a documented
exit status, never a traceback; options refused before any document or encoder loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.docre.helpers import build_tiny_encoder, docre, read_jsonl, write_jsonl

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.slow  # builds an encoder and a model, runs predict


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    from llmkit_docre.checkpoint import ModelSettings, load_encoder, save
    from llmkit_docre.data import load_relations
    from llmkit_docre.model import DocREModel
    from llmkit_docre.synthetic import write_corpus

    root = tmp_path_factory.mktemp("docre_damaged")
    paths = write_corpus(root / "data", train=4, dev=3, seed=0)
    paths["encoder"] = build_tiny_encoder(root / "encoder", hidden=32, layers=2, dropout=0.0, arch="deberta")
    encoder, tokenizer = load_encoder(str(paths["encoder"]))
    relations = load_relations(paths["relations"])
    torch.manual_seed(0)
    model = DocREModel(encoder, tokenizer, relations.num_classes, 64, 16, layers=2)
    settings = ModelSettings(relations=relations.to_json(), emb_size=64, block_size=16, layers=2, encoder=str(paths["encoder"]))
    save(root / "model", model, tokenizer, settings)
    paths["model"] = root / "model"
    return paths


def _copy(model: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(model, to)
    return to


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _set_settings(path: Path, **changes: object) -> None:
    settings = json.loads(path.read_text())
    path.write_text(json.dumps({**settings, **changes}))


DAMAGES = {
    "settings_not_json": ("docre.json", lambda m: (m / "docre.json").write_text("{not json")),
    "settings_unknown_key": ("docre.json", lambda m: _set_settings(m / "docre.json", surprise=1)),
    "settings_bad_shape": ("docre.json", lambda m: _set_settings(m / "docre.json", emb_size=60)),
    "settings_bad_relations": ("docre.json", lambda m: _set_settings(m / "docre.json", relations={"Na": 0, "P1": 5})),
    "head_missing": ("head.pt", lambda m: (m / "head.pt").unlink()),
    "head_truncated": ("head.pt", lambda m: _truncate(m / "head.pt")),
    "encoder_truncated": ("encoder", lambda m: _truncate(m / "encoder" / "model.safetensors")),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_model_folder_is_bad_input_naming_the_file(tiny, tmp_path, capsys, damage):
    named, spoil = DAMAGES[damage]
    model = _copy(tiny["model"], tmp_path / "model")
    spoil(model)
    inputs = write_jsonl(tmp_path / "in.jsonl", read_jsonl(tiny["dev"])[:1])
    assert docre("predict", "--model", model, "-i", inputs, "-o", tmp_path / "out.jsonl", "-q") == 65
    err = capsys.readouterr().err
    assert str(model / named) in err and "Traceback" not in err


@pytest.mark.parametrize("content", ["{broken", json.dumps({"threshold": "high"}), '{"threshold": Infinity}', "[]"])
def test_a_damaged_isf_threshold_file_is_bad_input_before_the_model_loads(tiny, tmp_path, capsys, monkeypatch, content):
    import llmkit_docre.predictor as predictor

    model = _copy(tiny["model"], tmp_path / "model")
    (model / "isf_threshold.json").write_text(content)
    monkeypatch.setattr(predictor.Predictor, "__init__", _never)
    inputs = write_jsonl(tmp_path / "in.jsonl", read_jsonl(tiny["dev"])[:1])
    assert docre("predict", "--model", model, "--isf", "-i", inputs, "-o", tmp_path / "out.jsonl", "-q") == 65
    err = capsys.readouterr().err
    assert str(model / "isf_threshold.json") in err and "Traceback" not in err


def _never(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("the model was loaded before the options and side files were checked")


def test_isf_runs_the_model_once_over_each_document_and_fuses_that_pass(tiny):
    """Under --isf the first pass is the one fusion uses: each input document goes through the
    model once (the pseudo-documents of its evidence are the only other passes)."""
    from llmkit_docre.predict import PredictStep

    records = read_jsonl(tiny["dev"])
    step = PredictStep(str(tiny["model"]), "cpu", evi_threshold=0.0, isf=True, isf_threshold=-100.0)
    step.open()
    forward = step.predictor.model.forward
    seen: list[object] = []

    def counting(features):
        seen.extend(f.document.record for f in features)
        return forward(features)

    step.predictor.model.forward = counting
    outcomes = step.process(records)
    assert all(isinstance(o, dict) for o in outcomes)
    originals = [sum(r is record for r in seen) for record in records]
    assert originals == [1] * len(records)
    assert len(seen) > len(records)  # evidence threshold 0: every pair has pseudo-documents


def test_isf_tune_without_a_usable_dev_document_saves_nothing(tiny, tmp_path, capsys):
    model = _copy(tiny["model"], tmp_path / "model")
    broken = [dict(d, vertexSet=[[{"name": "x", "sent_id": 99, "pos": [0, 1]}]]) for d in read_jsonl(tiny["dev"])]
    assert docre("isf-tune", "--model", model, "--dev", write_jsonl(tmp_path / "broken.jsonl", broken)) == 65
    no_labels = [dict(d, labels=[]) for d in read_jsonl(tiny["dev"])]
    assert docre("isf-tune", "--model", model, "--dev", write_jsonl(tmp_path / "nolabels.jsonl", no_labels)) == 65
    assert not (model / "isf_threshold.json").exists()
    assert "Traceback" not in capsys.readouterr().err


def test_isf_tune_saves_strict_json(tiny, tmp_path):
    model = _copy(tiny["model"], tmp_path / "model")
    assert docre("isf-tune", "--model", model, "--dev", tiny["dev"]) == 0
    saved = json.loads((model / "isf_threshold.json").read_text(), parse_constant=_no_constant)
    assert isinstance(saved["threshold"], float)


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


def test_isf_tune_writes_through_a_link_and_never_over_the_dev_file(tiny, tmp_path, capsys):
    model = _copy(tiny["model"], tmp_path / "model")
    elsewhere = tmp_path / "thresholds.json"
    elsewhere.write_text("{}")
    (model / "isf_threshold.json").symlink_to(elsewhere)
    assert docre("isf-tune", "--model", model, "--dev", tiny["dev"]) == 0
    assert (model / "isf_threshold.json").is_symlink()
    assert isinstance(json.loads(elsewhere.read_text())["threshold"], float)
    dev_copy = write_jsonl(tmp_path / "dev.jsonl", read_jsonl(tiny["dev"]))
    (model / "isf_threshold.json").unlink()
    (model / "isf_threshold.json").symlink_to(dev_copy)
    before = dev_copy.read_bytes()
    assert docre("isf-tune", "--model", model, "--dev", dev_copy) == 2
    assert dev_copy.read_bytes() == before and "is the input" in capsys.readouterr().err

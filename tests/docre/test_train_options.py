"""docre train and self-train: every option checked before a document or an encoder loads (exit 2
naming the option), and a model that names its encoder by an absolute path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.docre.helpers import build_tiny_encoder, docre


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    from llmkit_docre.synthetic import write_corpus

    return write_corpus(tmp_path_factory.mktemp("docre_options") / "data", train=4, dev=2, seed=0)


def _never(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("loaded before the options were checked")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--lr", "-1"], "--lr"),
        (["--added-lr", "-0.5"], "--added-lr"),
        (["--max-grad-norm", "0"], "--max-grad-norm"),
        (["--emb-size", "60", "--block-size", "16"], "--emb-size"),
        (["--evi-threshold", "1.5"], "--evi-threshold"),
    ],
)
def test_bad_training_options_are_usage_errors_naming_the_option(corpus, tmp_path, capsys, monkeypatch, args, named):
    import llmkit_docre.data as data

    monkeypatch.setattr(data, "load_documents", _never)
    common = ["--encoder", tmp_path / "encoder", "--train", corpus["train"], "--relations", corpus["relations"], "-o", tmp_path / "m"]
    assert docre("train", *common, *args, "-q") == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


def test_an_output_that_is_a_file_is_refused_before_anything_loads(corpus, tmp_path, capsys, monkeypatch):
    import llmkit_docre.data as data

    monkeypatch.setattr(data, "load_documents", _never)
    taken = tmp_path / "taken.txt"
    taken.write_text("keep me\n")
    common = ["--encoder", tmp_path / "encoder", "--train", corpus["train"], "--relations", corpus["relations"]]
    assert docre("train", *common, "-o", taken, "-q") == 2
    assert taken.read_text() == "keep me\n"
    assert str(taken) in capsys.readouterr().err


def test_self_train_phase_rates_are_checked_first(corpus, tmp_path, capsys):
    common = ["--teacher", tmp_path / "teacher", "--distant", corpus["train"], "--train", corpus["train"],
              "--relations", corpus["relations"], "-o", tmp_path / "student"]
    assert docre("self-train", *common, "--distant-lr", "-1", "-q") == 2
    assert "--distant-lr" in capsys.readouterr().err
    assert docre("self-train", *common, "--finetune-max-grad-norm", "0", "-q") == 2
    assert "--finetune-max-grad-norm" in capsys.readouterr().err


@pytest.mark.slow  # builds an encoder
def test_layers_beyond_the_encoder_are_refused_before_its_weights_load(corpus, tmp_path, capsys, monkeypatch):
    import llmkit_docre.train as train

    encoder = build_tiny_encoder(tmp_path / "encoder", hidden=32, layers=2, dropout=0.0, arch="deberta")
    monkeypatch.setattr(train, "load_encoder", _never)
    common = ["--encoder", encoder, "--train", corpus["train"], "--relations", corpus["relations"], "-o", tmp_path / "m"]
    assert docre("train", *common, "--layers", "99", "--emb-size", "64", "--block-size", "16", "-q") == 2
    assert "--layers 99" in capsys.readouterr().err


@pytest.mark.slow  # trains one epoch
def test_a_relative_encoder_is_stored_as_an_absolute_path(corpus, tmp_path, monkeypatch):
    build_tiny_encoder(tmp_path / "work" / "enc", hidden=32, layers=2, dropout=0.0, arch="deberta")
    monkeypatch.chdir(tmp_path / "work")
    status = docre(
        "train", "--encoder", "enc", "--train", corpus["train"], "--relations", corpus["relations"], "-o", "model",
        "--emb-size", "64", "--block-size", "16", "--layers", "2", "--epochs", "1", "-q",
    )
    assert status == 0
    stored = json.loads((tmp_path / "work" / "model" / "docre.json").read_text())["encoder"]
    assert os.path.isabs(stored) and Path(stored) == (tmp_path / "work" / "enc").resolve()


def test_a_model_folder_that_cannot_be_made_is_exit_74_before_anything_loads(corpus, tmp_path, capsys, monkeypatch):
    import llmkit_docre.data as data

    monkeypatch.setattr(data, "load_documents", _never)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    common = ["--encoder", tmp_path / "encoder", "--train", corpus["train"], "--relations", corpus["relations"]]
    assert docre("train", *common, "-o", blocker / "model", "-q") == 74
    err = capsys.readouterr().err
    assert str(blocker / "model") in err and "Traceback" not in err


def test_the_student_folder_cannot_be_the_teacher(corpus, tmp_path, capsys, monkeypatch):
    import llmkit_docre.data as data

    monkeypatch.setattr(data, "load_documents", _never)
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "docre.json").write_text(json.dumps({"relations": {"Na": 0, "P1": 1}}))
    common = ["--teacher", teacher, "--distant", corpus["train"], "--train", corpus["train"], "--relations", corpus["relations"]]
    assert docre("self-train", *common, "-o", teacher, "--resume", "-q") == 2
    assert "is the input" in capsys.readouterr().err
    assert sorted(p.name for p in teacher.iterdir()) == ["docre.json"]


@pytest.mark.parametrize(("device", "status"), [("banana", 2), ("cuda:7", 69)])
def test_a_device_torch_cannot_use_is_refused_before_anything_loads(corpus, tmp_path, capsys, monkeypatch, device, status):
    import llmkit_docre.data as data

    monkeypatch.setattr(data, "load_documents", _never)
    common = ["--encoder", tmp_path / "encoder", "--train", corpus["train"], "--relations", corpus["relations"], "-o", tmp_path / "m"]
    assert docre("train", *common, "--device", device, "-q") == status
    err = capsys.readouterr().err
    assert f"--device {device}" in err.replace("'", "") and "Traceback" not in err

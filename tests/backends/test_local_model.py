"""The core's in-process model: ModelOptions (one option set) and LocalModel (loaded on first use, once)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

import llmkit
from llmkit import BackendOptions, BackendUnavailable, ModelOptions, UsageError
from llmkit.backends import LocalModel


@pytest.mark.parametrize(("why", "message"), [("", "--model is required"), ("by neuron-attr", "--model is required by neuron-attr")])
def test_without_model_it_is_the_usage_error_at_construction(why, message):
    with pytest.raises(UsageError) as caught:
        LocalModel(ModelOptions(), why)
    assert str(caught.value) == message


def test_nothing_loads_at_construction_and_the_first_use_loads(tmp_path):
    local = LocalModel(ModelOptions(model=str(tmp_path / "missing")))
    assert not local.loaded
    with pytest.raises(BackendUnavailable):
        local.model  # noqa: B018 (the first use loads)


def test_building_one_imports_no_engine():
    code = ("import sys, llmkit, llmkit.backends\n"
            "llmkit.backends.LocalModel(llmkit.ModelOptions(model='m'))\n"
            "print(sorted(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_it_loads_once_with_the_options_and_pickles_without_its_weights(tiny_llama, monkeypatch):
    import torch

    import llmkit.backends.hf as hf

    loads = []
    real = hf.load_causal_lm
    monkeypatch.setattr(hf, "load_causal_lm", lambda path, options: loads.append(path) or real(path, options))
    local = LocalModel(ModelOptions(model=str(tiny_llama), dtype="bfloat16", device="cpu"))
    unloaded = pickle.loads(pickle.dumps(local))
    assert not unloaded.loaded and unloaded.name == str(tiny_llama)
    assert local.tokenizer is not None and not local.loaded and loads == []  # the tokenizer alone
    first = local.model
    assert local.model is first and local.device == torch.device("cpu")
    assert first.dtype == torch.bfloat16 and not first.training
    assert loads == [str(tiny_llama)]
    again = pickle.loads(pickle.dumps(local))  # a loaded one travels as its options only
    assert not again.loaded and again.options == local.options
    local.close()
    assert not local.loaded


def test_context_length_is_the_override_else_the_config(tiny_llama):
    from transformers import AutoConfig

    config_max = AutoConfig.from_pretrained(tiny_llama).max_position_embeddings
    assert LocalModel(ModelOptions(model=str(tiny_llama))).context_length == config_max
    assert LocalModel(ModelOptions(model=str(tiny_llama), max_model_len=7)).context_length == 7


def test_backend_options_are_model_options_and_the_set_offers_only_the_model():
    assert issubclass(BackendOptions, ModelOptions)
    with pytest.raises(UsageError, match="unknown --dtype"):
        ModelOptions(dtype="int3")
    app = typer.Typer()

    @app.command()
    @llmkit.option_set(ModelOptions)
    def show(options: ModelOptions, top_k: Annotated[int, typer.Option()] = 5) -> None:
        print(options, top_k)

    result = CliRunner().invoke(app, ["--model", "m", "--device", "cpu", "--max-model-len", "9", "--trust-remote-code", "--top-k", "3"])
    assert result.exit_code == 0, result.output
    expected = ModelOptions(model="m", device="cpu", max_model_len=9, trust_remote_code=True)
    assert result.output.strip() == f"{expected} 3"  # --top-k is the command's own: no sampling option clashes


def test_check_model_spares_the_openai_backend_only():
    BackendOptions(backend="openai").check_model()
    with pytest.raises(UsageError, match="^--model is required$"):
        BackendOptions(backend="hf").check_model()


def test_the_missing_model_error_is_written_once_in_the_tree():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    places = [f"{path.relative_to(root)}:{number}" for folder in ("llmkit", "plugins") for path in sorted((root / folder).rglob("*.py"))
              for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "model is required" in line]
    assert len(places) == 1 and places[0].startswith("llmkit/backends/options.py:"), places


def test_config_is_read_once_without_the_weights(tiny_llama, monkeypatch):
    import json

    import llmkit.backends.hf as hf

    monkeypatch.setattr(hf, "load_causal_lm", lambda path, options: pytest.fail("the weights were loaded"))
    local = LocalModel(ModelOptions(model=str(tiny_llama)))
    stored = json.loads((tiny_llama / "config.json").read_text())
    config = local.config
    assert config.max_position_embeddings == stored["max_position_embeddings"]
    assert config.hidden_size == stored["hidden_size"] and not local.loaded
    assert local.config is config  # once


def test_config_refuses_a_missing_folder_and_own_code_by_the_loaders_rules(tiny_llama, tmp_path):
    import shutil

    with pytest.raises(BackendUnavailable, match="does not exist"):
        LocalModel(ModelOptions(model=str(tmp_path / "missing"))).config  # noqa: B018
    own = tmp_path / "own_code"
    shutil.copytree(tiny_llama, own)
    settings = (own / "config.json").read_text().replace("{", '{"auto_map": {"AutoConfig": "x.Config"},', 1)
    (own / "config.json").write_text(settings)
    with pytest.raises(UsageError, match="trust-remote-code"):
        LocalModel(ModelOptions(model=str(own))).config  # noqa: B018
    (own / "config.json").write_text('{"model_type": "no-such-architecture"}')
    with pytest.raises(BackendUnavailable, match="cannot read the config"):
        LocalModel(ModelOptions(model=str(own), trust_remote_code=True)).config  # noqa: B018

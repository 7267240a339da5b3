"""The core's layers: ``import llmkit`` loads no engine code, backends load on first use, the
contract imports no executor, the cluster options are their own set, and what only the
generation path needs is off the ``Step`` base (declared, never guessed from overrides)."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import llmkit
from llmkit import BackendOptions, GenerationStep, IOOptions, Step, WholeInputOptions
from llmkit.contract import ClusterOptions, Executor
from llmkit.step import PlansBatchSize, SplitStep, planned_batch_size

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ("llmkit.backends.hf", "llmkit.backends.vllm", "llmkit.backends.openai", "llmkit.backends.surgery",
          "torch", "transformers", "vllm")


def loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(m for m in {ENGINE!r} if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_import_llmkit_loads_no_engine_code():
    assert loaded_after("import llmkit, llmkit.backends") == []


def test_a_backend_name_loads_its_module_on_first_use():
    assert loaded_after("import llmkit.backends as b\nb.save_checkpoint") == ["llmkit.backends.surgery"]
    assert "llmkit.backends.hf" in loaded_after("from llmkit.backends import load_causal_lm")


def test_every_lazy_name_is_the_modules_own_and_unknown_names_fail():
    import llmkit.backends as backends
    from llmkit.backends import hf, surgery, vllm

    for name in ("load_causal_lm", "eos_token_ids", "Block", "transformer_blocks", "vllm_open", "vllm_engine_args"):
        assert getattr(backends, name) is next(getattr(m, name) for m in (hf, surgery, vllm) if hasattr(m, name))
    assert set(backends.__all__) <= set(dir(backends))
    with pytest.raises(AttributeError, match="no_such_name"):
        backends.no_such_name  # noqa: B018


def test_the_contract_imports_no_executor():
    tree = ast.parse((ROOT / "llmkit" / "contract.py").read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {n for n in names if n and n.startswith("llmkit.executors")}
    assert llmkit.run_step.__module__ == "llmkit.executors.run"


def test_the_cluster_options_are_their_own_set():
    io_fields = {f.name for f in dataclasses.fields(IOOptions)}
    cluster = {"executor", "ray_address", "replicas", "cpus_per_replica", "gpus_per_replica", "stall_timeout"}
    assert not cluster & io_fields
    assert {f.name for f in dataclasses.fields(ClusterOptions)} == cluster
    assert IOOptions().cluster == ClusterOptions() and IOOptions().cluster is not IOOptions().cluster


@pytest.mark.parametrize("decorator", [llmkit.io_options, llmkit.whole_input_options])
def test_every_command_that_runs_a_step_offers_the_cluster_options(decorator):
    seen: list[IOOptions] = []
    app = typer.Typer()

    @app.command()
    @decorator
    def cmd(io: IOOptions) -> None:
        seen.append(io)

    result = CliRunner().invoke(app, ["--replicas", "3", "--gpus-per-replica", "0.5", "--executor", "ray", "-o", "x"])
    assert result.exit_code == 0, result.output
    assert seen[0].cluster == ClusterOptions(executor=Executor.ray, replicas=3, gpus_per_replica=0.5)
    assert seen[0].output == "x" and isinstance(seen[0], WholeInputOptions) is (decorator is llmkit.whole_input_options)


class Plain(Step):
    def process(self, records: list[dict]) -> list[Any]:
        return records


def test_the_generation_members_are_off_the_step_base():
    for member in ("overlaps", "begin", "complete", "planned_batch_size"):
        assert not hasattr(Step, member), member
    assert not isinstance(Plain(), SplitStep) and not isinstance(Plain(), PlansBatchSize)
    assert planned_batch_size(Plain()) == Plain.batch_size
    step = _Echo(BackendOptions(model="m"))
    assert isinstance(step, SplitStep) and isinstance(step, PlansBatchSize)


class _Echo(GenerationStep):
    name = "echo"

    def prompt(self, record: dict, text: str) -> str:
        return text


def test_a_generation_step_that_replaces_a_switched_method_must_declare_the_switch():
    with pytest.raises(TypeError, match="defines process\\(\\): declare overlaps"):
        class OwnProcess(_Echo):
            def process(self, records: list[dict]) -> list[Any]:
                return records

    with pytest.raises(TypeError, match="defines sampling_for\\(\\): declare sampling_per_batch"):
        class OwnSampling(_Echo):
            def sampling_for(self, records: list[dict]) -> Any:
                return self.params

    class Declared(_Echo):
        overlaps = False

        def process(self, records: list[dict]) -> list[Any]:
            return [{**r, "own": True} for r in records]

    class Inherits(Declared):  # declared by a base below GenerationStep: enough
        def process(self, records: list[dict]) -> list[Any]:
            return [{**r, "inherited": True} for r in records]

    step = Inherits(BackendOptions(model="m"))
    assert step.complete(step.begin([{"id": 1}])) == [{"id": 1, "inherited": True}]

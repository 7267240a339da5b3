"""Batch sizes: the contract reads a step's batch size after ``open()`` and again before each
batch, so a step can size its batches by the backend it opened, even one opened on the first
batch; ``--batch-size`` wins over both."""

from __future__ import annotations

from llmkit import IOOptions, Step, run_step
from llmkit.backends import Backend
from tests.core.helpers import read_jsonl, write_jsonl


class SizedInOpen(Step):
    """Takes the batch size it is told in ``open()`` (as a generation step takes its backend's)."""

    name = "sized-in-open"
    batch_size = 4

    def __init__(self, size_after_open: int) -> None:
        self.size_after_open = size_after_open
        self.seen: list[int] = []

    def open(self) -> None:
        self.batch_size = self.size_after_open

    def process(self, records):
        self.seen.append(len(records))
        return [{**r, "batch": len(self.seen)} for r in records]


def _run(tmp_path, step, **options):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": i} for i in range(25)])
    out = tmp_path / "out.jsonl"
    run_step(step, IOOptions(inputs=[str(source)], output=str(out), quiet=True, **options))
    return read_jsonl(out)


def test_the_batch_size_set_in_open_is_the_one_fed(tmp_path):
    step = SizedInOpen(10)
    written = _run(tmp_path, step)
    assert step.seen == [10, 10, 5]  # not the class default of 4
    assert [r["id"] for r in written] == list(range(25))


class SizedAfterFirstBatch(SizedInOpen):
    """Opens its backend on the first batch (lazily), and only then knows the size it wants."""

    def open(self) -> None:
        pass

    def process(self, records):
        self.batch_size = self.size_after_open
        return super().process(records)


def test_a_size_changed_by_a_batch_applies_to_the_next_ones(tmp_path):
    step = SizedAfterFirstBatch(10)
    written = _run(tmp_path, step)
    assert step.seen == [4, 10, 10, 1]
    assert [r["id"] for r in written] == list(range(25))


def test_batch_size_option_wins_over_the_step(tmp_path):
    for step in (SizedInOpen(10), SizedAfterFirstBatch(10)):
        _run(tmp_path, step, batch_size=7)
        assert step.seen == [7, 7, 7, 4]


def test_a_backend_keeps_the_step_default_unless_it_knows_better():
    class Plain(Backend):
        def generate(self, prompts, params):
            return []

    assert Plain().preferred_batch_size(32) == 32
    assert Plain().preferred_batch_size(1) == 1


class WantsTen(Backend):
    """Answers every prompt; asks for batches of 10 (as a vllm engine asks for more)."""

    name = "wants-ten"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate(self, prompts, params):
        from llmkit import Completion
        from llmkit.backends import GenerationResult

        self.calls.append(len(prompts))
        return [GenerationResult(completions=[Completion("ok", [1], "stop")]) for _ in prompts]

    def preferred_batch_size(self, step_default: int) -> int:
        return max(step_default, 10)


def test_a_generation_step_takes_its_backends_size_once_the_backend_is_open(tmp_path):
    from llmkit import BackendOptions, GenerationStep

    class Answer(GenerationStep):
        name = "answer"
        batch_size = 4

        def prompt(self, record, text):
            return f"record {record['id']}"

        def accept(self, record, completions):
            return {**record, "answer": completions[0].text}

    backend = WantsTen()
    step = Answer(BackendOptions(model="m"), backend)
    written = _run(tmp_path, step)
    assert backend.calls == [4, 10, 10, 1]  # the first batch opens the backend (lazily)
    assert [r["answer"] for r in written] == ["ok"] * 25


def test_planned_batch_size_is_known_before_the_backend_opens(monkeypatch):
    """For an executor that cuts the input before any replica opens the step (Ray): a step on
    vllm plans 4x the engine's max_num_seqs (vLLM's usual 256, or the engine arguments'), without
    importing vLLM; on hf the step's own default; an open backend is asked itself."""
    import subprocess
    import sys

    from llmkit import BackendOptions, GenerationStep
    from llmkit.testing import ScriptedBackend

    class Ask(GenerationStep):
        name = "ask"
        batch_size = 32

    monkeypatch.delenv("LLMKIT_VLLM_ENGINE_ARGS", raising=False)
    assert Ask(BackendOptions(model="m", backend="vllm")).planned_batch_size() == 1024
    assert Ask(BackendOptions(model="m", backend="hf")).planned_batch_size() == 32
    monkeypatch.setenv("LLMKIT_VLLM_ENGINE_ARGS", '{"max_num_seqs": 50}')
    assert Ask(BackendOptions(model="m", backend="vllm")).planned_batch_size() == 200
    assert Ask(BackendOptions(model="m"), ScriptedBackend(lambda p: "x")).planned_batch_size() == 32
    code = (
        "import sys; from llmkit import BackendOptions, GenerationStep\n"
        "class Ask(GenerationStep): batch_size = 32\n"
        "print(Ask(BackendOptions(model='m', backend='vllm')).planned_batch_size(), 'vllm' in sys.modules)"
    )
    monkeypatch.delenv("LLMKIT_VLLM_ENGINE_ARGS")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1024", "False"]

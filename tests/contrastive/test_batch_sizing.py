"""contrastive-gen feeds the backend the batch the backend asks for (a vllm engine: several
times the sequences it runs at once), not its own default, unless --batch-size is given."""

from __future__ import annotations

from llmkit import BackendOptions, IOOptions, run_step
from llmkit.backends import Backend, Completion, GenerationResult
from tests.core.helpers import read_jsonl, write_jsonl


class WantsBig(Backend):
    """A backend with no tokenizer (prompts go as chat messages) that prefers batches of 50."""

    name = "wants-big"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate(self, prompts, params):
        self.calls.append(len(prompts))
        return [GenerationResult(completions=[Completion("ok", [1], "stop")]) for _ in prompts]

    def preferred_batch_size(self, step_default: int) -> int:
        return max(step_default, 50)


def _run(tmp_path, monkeypatch, **options):
    import llmkit_contrastive.step as step_module

    backend = WantsBig()
    monkeypatch.setattr(step_module, "open_backend", lambda options: backend)
    step = step_module.ContrastiveGenStep(step_module.GenSettings(expert="m"), BackendOptions(temperature=0))
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "instruction": f"say {i}"} for i in range(120)])
    out = tmp_path / "out.jsonl"
    run_step(step, IOOptions(inputs=[str(source)], output=str(out), quiet=True, **options))
    assert [r["id"] for r in read_jsonl(out)] == list(range(120))
    return step, backend


def test_the_backends_batch_size_replaces_the_steps_default(tmp_path, monkeypatch):
    step, backend = _run(tmp_path, monkeypatch)
    assert step.batch_size == 50 and type(step).batch_size == 32
    assert backend.calls == [50, 50, 20]


def test_batch_size_option_still_wins(tmp_path, monkeypatch):
    _, backend = _run(tmp_path, monkeypatch, batch_size=16)
    assert backend.calls == [16] * 7 + [8]

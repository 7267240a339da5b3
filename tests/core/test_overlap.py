"""The local executor begins the next batch of an overlapping step before it completes this one
(the engine of a generation step gets the next prompts while llmkit writes), and nothing else
changes: outputs in input order, at most two batches begun, a bad line still ends the run after
the records before it are written, and steps that do not overlap are called as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from llmkit import BackendOptions, GenerationStep, InputError, IOOptions, Reject, Step, run_step
from llmkit.backends import GenerationResult, Prompt, SamplingParams
from llmkit.testing import ScriptedBackend
from tests.core.helpers import read_jsonl


class Recorder(Step):
    """Notes every begin and complete, with how many batches are begun and not completed."""

    name = "recorder"
    batch_size = 3

    def __init__(self, overlaps: bool) -> None:
        self.overlaps = overlaps  # type: ignore[misc]
        self.calls: list[tuple[str, int]] = []
        self.open_batches = 0
        self.most_open = 0

    def begin(self, records: list[dict[str, Any]]) -> Any:
        self.calls.append(("begin", records[0]["id"]))
        self.open_batches += 1
        self.most_open = max(self.most_open, self.open_batches)
        return records

    def complete(self, begun: Any) -> list[Any]:
        self.calls.append(("complete", begun[0]["id"]))
        self.open_batches -= 1
        return [{**r, "seen": True} if r["id"] % 4 else Reject("fourth") for r in begun]


def run(tmp_path: Path, step: Step, lines: bytes, batch_size: int | None = None) -> tuple[list[dict], list[dict]]:
    source = tmp_path / "in.jsonl"
    source.write_bytes(lines)
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    run_step(step, IOOptions(inputs=[str(source)], output=str(out), rejects=str(rejects), quiet=True, batch_size=batch_size))
    return read_jsonl(out), read_jsonl(rejects)


def records(count: int) -> bytes:
    return b"".join(b'{"id": %d}\n' % i for i in range(count))


def test_overlapping_step_begins_the_next_batch_first(tmp_path):
    step = Recorder(overlaps=True)
    kept, rejected = run(tmp_path, step, records(10))
    assert step.calls == [
        ("begin", 0), ("begin", 3), ("complete", 0), ("begin", 6), ("complete", 3),
        ("begin", 9), ("complete", 6), ("complete", 9),
    ]
    assert step.most_open == 2
    assert [r["id"] for r in kept] == [i for i in range(10) if i % 4]
    assert [r["id"] for r in rejected] == [0, 4, 8]


def test_other_steps_complete_each_batch_before_the_next(tmp_path):
    step = Recorder(overlaps=False)
    kept, _ = run(tmp_path, step, records(7))
    assert step.calls == [("begin", 0), ("complete", 0), ("begin", 3), ("complete", 3), ("begin", 6), ("complete", 6)]
    assert step.most_open == 1
    assert [r["id"] for r in kept] == [1, 2, 3, 5, 6]


def test_bad_line_after_begun_batches_writes_them_then_fails(tmp_path):
    step = Recorder(overlaps=True)
    with pytest.raises(InputError) as caught:
        run(tmp_path, step, records(5) + b"not json\n" + records(3))
    assert caught.value.source.endswith("in.jsonl:6")
    # the batch before the bad line and the bad line's own batch (ids 3, 4) are both written
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == [1, 2, 3]
    assert step.open_batches == 0


class Echo(GenerationStep):
    name = "echo"

    def __init__(self, backend: Any) -> None:
        super().__init__(BackendOptions(model="scripted"), backend, field="text", writes=("answer",))

    def prompt(self, record: dict, text: str) -> Prompt:
        return text

    def accept(self, record: dict, completions: list) -> dict:
        return {**record, "answer": completions[0].text}


class Several(Echo):
    name = "several"
    overlaps = False

    def process(self, records: list[dict]) -> list[Any]:  # its own: two calls per batch, say
        return [{**r, "answer": "own"} for r in records]


class TicketBackend(ScriptedBackend):
    """Says when a batch is submitted and when collected."""

    def __init__(self) -> None:
        super().__init__(lambda prompt: f"re: {prompt}")
        self.events: list[tuple[str, list[Prompt]]] = []

    def submit(self, prompts: Any, params: SamplingParams) -> Any:
        self.events.append(("submit", list(prompts)))
        return super().submit(prompts, params)

    def collect(self, ticket: Any) -> list[GenerationResult]:
        self.events.append(("collect", list(ticket[0])))
        return super().collect(ticket)


def test_generation_step_submits_the_next_batch_before_collecting(tmp_path):
    backend = TicketBackend()
    step = Echo(backend)
    assert step.overlaps
    kept, _ = run(tmp_path, step, b"".join(b'{"id": %d, "text": "t%d"}\n' % (i, i) for i in range(5)), batch_size=2)
    assert [r["answer"] for r in kept] == [f"re: t{i}" for i in range(5)]
    assert [kind for kind, _ in backend.events] == ["submit", "submit", "collect", "submit", "collect", "collect"]
    assert [prompts for kind, prompts in backend.events if kind == "collect"] == [["t0", "t1"], ["t2", "t3"], ["t4"]]


def test_generation_step_with_its_own_process_does_not_overlap(tmp_path):
    step = Several(TicketBackend())
    assert not step.overlaps
    kept, _ = run(tmp_path, step, b'{"id": 1, "text": "a"}\n')
    assert kept == [{"id": 1, "text": "a", "answer": "own"}]


class Streaming(TicketBackend):
    starts_on_submit = True


def test_a_backend_that_starts_on_submit_gets_the_batch_in_chunks_as_prompts_are_made(tmp_path):
    from llmkit.backends.base import SUBMIT_CHUNK

    backend = Streaming()
    count = 2 * SUBMIT_CHUNK + 5
    kept, _ = run(tmp_path, Echo(backend), b"".join(b'{"id": %d, "text": "t%d"}\n' % (i, i) for i in range(count)))
    assert [r["answer"] for r in kept] == [f"re: t{i}" for i in range(count)]
    assert [(kind, len(prompts)) for kind, prompts in backend.events] == [
        ("submit", SUBMIT_CHUNK), ("submit", SUBMIT_CHUNK), ("submit", 5),
        ("collect", SUBMIT_CHUNK), ("collect", SUBMIT_CHUNK), ("collect", 5),
    ]


class PerBatchBudget(Echo):
    name = "budget"
    sampling_per_batch = True

    def sampling_for(self, records: list[dict]) -> SamplingParams:
        return SamplingParams(max_tokens=len(records))


def test_one_submission_per_batch_when_the_sampling_depends_on_its_records(tmp_path):
    from llmkit.backends.base import SUBMIT_CHUNK

    backend = Streaming()
    count = SUBMIT_CHUNK + 3
    run(tmp_path, PerBatchBudget(backend), b"".join(b'{"id": %d, "text": "t"}\n' % i for i in range(count)))
    assert [(kind, len(prompts)) for kind, prompts in backend.events] == [("submit", count), ("collect", count)]


def test_a_batch_without_a_prompt_opens_no_model(tmp_path):
    step = Echo(None)  # --model "scripted" would fail to load: it must not be asked
    kept, rejected = run(tmp_path, step, b'{"id": 1}\n{"id": 2}\n')
    assert kept == [] and [r["reject"]["reason"] for r in rejected] == ["missing_field", "missing_field"]
    assert not step.model.opened


class ThreeEach(Echo):
    name = "three"

    def prompts(self, record: dict, text: str) -> list[Prompt]:
        return [f"{text}/{k}" for k in range(3)]

    def accept_results(self, record: dict, results: list) -> dict:
        return {**record, "answers": [r.completions[0].text for r in results]}


def test_several_prompts_per_record_in_chunks_each_record_gets_its_own(tmp_path):
    backend = Streaming()
    kept, _ = run(tmp_path, ThreeEach(backend), b"".join(b'{"id": %d, "text": "t%d"}\n' % (i, i) for i in range(30)))
    assert [r["answers"] for r in kept] == [[f"re: t{i}/{k}" for k in range(3)] for i in range(30)]
    assert len([kind for kind, _ in backend.events if kind == "submit"]) == 2  # 66 prompts, then 24


class SomeAskNothing(ThreeEach):
    name = "some-ask-nothing"

    def prompts(self, record: dict, text: str) -> list[Prompt]:
        return [] if record["id"] % 2 else [f"{text}/{k}" for k in range(3)]

    def accept_results(self, record: dict, results: list) -> Any:
        return Reject("no_answer") if not results else super().accept_results(record, results)


@pytest.mark.parametrize("count", [1, 3, 50])
def test_records_that_ask_no_prompt_get_their_outcome_too(tmp_path, count):
    kept, rejected = run(tmp_path, SomeAskNothing(Streaming()), b"".join(b'{"id": %d, "text": "t%d"}\n' % (i, i) for i in range(count)))
    assert [r["id"] for r in kept] == list(range(0, count, 2))
    assert [r["answers"] for r in kept] == [[f"re: t{i}/{k}" for k in range(3)] for i in range(0, count, 2)]
    assert [r["id"] for r in rejected] == list(range(1, count, 2))


def test_a_batch_where_no_record_asks_a_prompt(tmp_path):
    kept, rejected = run(tmp_path, SomeAskNothing(Streaming()), b'{"id": 1, "text": "a"}\n{"id": 3, "text": "b"}\n')
    assert kept == [] and [r["reject"]["reason"] for r in rejected] == ["no_answer", "no_answer"]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5])
def test_rejects_stay_in_input_order_with_bad_lines_read_ahead(tmp_path, batch_size):
    """Bad lines (--on-error skip) of the batch read ahead are written after the rejects of the
    batch before it: the rejects file is the same as without overlap, line for line."""
    lines = b"".join((b'{"id": %d}\n' % i) if i % 3 else b"bad %d\n" % i for i in range(1, 16))  # ends on a bad line
    files = {}
    for overlaps in (False, True):
        source, out, rejects = tmp_path / "in.jsonl", tmp_path / f"out{overlaps}.jsonl", tmp_path / f"rej{overlaps}.jsonl"
        source.write_bytes(lines)
        run_step(Recorder(overlaps), IOOptions(inputs=[str(source)], output=str(out), rejects=str(rejects), quiet=True,
                                               on_error="skip", batch_size=batch_size))  # fmt: skip
        files[overlaps] = (out.read_bytes(), rejects.read_bytes())
    assert files[True] == files[False]
    reasons = [orjson.loads(line)["reject"]["reason"] for line in files[True][1].splitlines()]
    assert "invalid_line" in reasons and "fourth" in reasons

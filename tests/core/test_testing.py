"""llmkit.testing: the scripted backend's script, and run_records against the core's own run."""

from __future__ import annotations

import pytest

from llmkit import Completion, IOOptions, LateReject, Reject, SamplingParams, Step, run_step
from llmkit.step import StepContractError
from llmkit.testing import ScriptedBackend, failure, run_records
from tests.core.helpers import read_jsonl, write_jsonl


def test_scripted_answers_carry_finish_reasons_errors_and_n():
    backend = ScriptedBackend(["a", Completion("cut", [7], "length"), failure("too_long", "big"), "b", "c"])
    first = backend.generate(["p1", "p2", "p3"], SamplingParams())
    assert [r.completions[0].text for r in first[:2]] == ["a", "cut"]
    assert first[0].completions[0].finish_reason == "stop" and first[0].completions[0].token_ids == list(b"a")
    assert first[1].completions[0].finish_reason == "length" and first[1].completions[0].token_ids == [7]
    assert first[2].error == "too_long" and first[2].detail == "big" and first[2].completions == []
    second = backend.generate(["p4"], SamplingParams(n=2))
    assert [c.text for c in second[0].completions] == ["b", "c"]
    assert backend.prompts == ["p1", "p2", "p3", "p4"] and backend.calls == 2 and backend.params[1].n == 2


def test_scripted_default_finish_reason_and_context_length():
    backend = ScriptedBackend(lambda prompt: prompt.upper(), max_model_len=3, finish_reason="length")
    short, long = backend.generate(["abc", "abcd"], SamplingParams())
    assert short.completions[0].text == "ABC" and short.completions[0].finish_reason == "length"
    assert long.error == "too_long" and backend.max_model_len == 3


class Thresholds(Step):
    """Keeps even numbers, rejects odd ones, and at the end drops the largest kept and adds a total."""

    name = "thresholds"
    batch_size = 2

    def __init__(self):
        self.kept = []
        self.opened = self.closed = False

    def open(self):
        self.opened = True

    def process(self, records):
        out = []
        for record in records:
            if record["n"] % 2:
                out.append(Reject("odd", str(record["n"])))
            else:
                self.kept.append(record)
                out.append({**record, "even": True})
        return out

    def finish(self):
        yield {"total": sum(r["n"] for r in self.kept)}
        yield LateReject(max(self.kept, key=lambda r: r["n"]), Reject("largest"))

    def close(self):
        self.closed = True


def test_run_records_gives_what_the_core_writes(tmp_path):
    records = [{"id": i, "n": i} for i in range(5)]
    step = Thresholds()
    result = run_records(step, records)
    assert step.opened and step.closed
    path = write_jsonl(tmp_path / "in.jsonl", records)
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    run_step(Thresholds(), IOOptions(inputs=[str(path)], output=str(out), rejects=str(rejects), quiet=True))
    assert result.outputs == read_jsonl(out)
    assert [(r, j.reason) for r, j in result.rejects] == [({k: v for k, v in r.items() if k != "reject"}, r["reject"]["reason"]) for r in read_jsonl(rejects)]
    assert result.reasons == ["odd", "odd", "largest"]


def test_run_records_checks_outcomes_and_closes_the_step():
    class Loses(Thresholds):
        def process(self, records):
            return [None for _ in records]

    step = Loses()
    with pytest.raises(StepContractError, match="step 'thresholds' returned None"):
        run_records(step, [{"n": 1}])
    assert step.closed

"""Reject.source: a step that knows where a record came from better than the line it was read
from (a second pass over its own spill file) names that FILE:LINE in --rejects."""

from __future__ import annotations

import json

import llmkit


class _SecondPass(llmkit.RecordStep):
    name = "second"

    def process_record(self, record: llmkit.Record) -> llmkit.Outcome:
        origin = record.pop("origin")
        return llmkit.Reject("identical", source=origin) if record["drop"] else record


def test_a_reject_names_the_source_its_step_gives(tmp_path):
    spill = tmp_path / "spill.jsonl"
    spill.write_text('{"id": 1, "drop": true, "origin": "in.jsonl:7"}\n{"id": 2, "drop": true, "origin": null}\n'
                     '{"id": 3, "drop": false, "origin": "in.jsonl:9"}\n')
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    llmkit.run_step(_SecondPass(), llmkit.IOOptions(inputs=[str(spill)], output=str(out), rejects=str(rejects), quiet=True))
    sources = [json.loads(line)["reject"]["source"] for line in rejects.read_text().splitlines()]
    assert sources == ["in.jsonl:7", f"{spill}:2"]  # none given: the line it was read from
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [3]

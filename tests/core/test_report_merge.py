"""llmkit report merge and show: shard reports add up to the unsharded run's report; reports
of different jobs are refused with the reason."""

from __future__ import annotations

import json

from dataclasses import dataclass

import pytest

from llmkit.cli import run
from llmkit.testing import run_command
from tests.core import demo_plugin
from tests.core.test_report import line_counts, validate

LINES = [json.dumps({"id": i, "text": f"t{i}"}) if i % 7 else json.dumps({"id": i}) for i in range(40)]
LINES[13] = "not json"
LINES[29] = "[1, 2]"
INPUT = "\n".join(LINES) + "\n"


def demo(tmp_path, *args):
    return run_command(["demo", "-i", "in.jsonl", "--on-error", "skip", *args], workdir=tmp_path,
                       plugins=demo_plugin.plugins())


@dataclass
class Merged:
    status: int
    stderr: str


@pytest.fixture
def merge(capsys, monkeypatch):
    """``llmkit report merge ARGS`` in a folder (not run_command: its -o is one JSON document, not JSONL)."""

    def run_merge(folder, *args):
        monkeypatch.chdir(folder)
        capsys.readouterr()
        status = run(["report", "merge", *args], plugins=[])
        return Merged(status, capsys.readouterr().err)

    return run_merge


@pytest.fixture
def job(tmp_path):
    (tmp_path / "in.jsonl").write_text(INPUT)
    return tmp_path


def test_shard_reports_add_up_to_the_unsharded_run(job, merge):
    whole = demo(job, "-o", "all.jsonl", "--report", "all.json")
    assert whole.status == 0
    for k in (1, 2, 3):
        assert demo(job, "--shard", f"{k}/3", "-o", f"part{k}.jsonl", "--report", f"part{k}.json").status == 0
    merged = merge(job, "part1.json", "part2.json", "part3.json", "-o", "total.json")
    assert merged.status == 0, merged.stderr
    total = json.loads((job / "total.json").read_text())
    validate(total)
    unsharded = json.loads((job / "all.json").read_text())
    missing = sum(1 for line in LINES if line.startswith("{") and '"text"' not in line)
    assert total["counts"] == unsharded["counts"]
    assert line_counts(total) == whole.summary
    assert total["counts"]["rejected_by_stage"] == {"upper": {"missing_field": missing}, "input": {"invalid_line": 2}}
    assert total["counts"]["rejected_by_reason"] == {"missing_field": missing, "invalid_line": 2}
    for field in ("lines_read", "records_taken", "bad_lines", "other_shards", "shard"):
        assert total["inputs"][field] == unsharded["inputs"][field], field
    assert [m["shard"] for m in total["merged_from"]] == ["1/3", "2/3", "3/3"]
    assert total["exit_status"] == 0 and total["outcome"] == "done"
    assert "--shard" not in total["options"] and total["options"]["--field"] == "text"


def test_two_of_three_shards_leave_the_third_untaken(job, merge):
    for k in (1, 2, 3):
        demo(job, "--shard", f"{k}/3", "-o", f"part{k}.jsonl", "--report", f"part{k}.json")
    parts = [json.loads((job / f"part{k}.json").read_text()) for k in (1, 2, 3)]
    assert merge(job, "part1.json", "part3.json", "-o", "two.json").status == 0
    two = json.loads((job / "two.json").read_text())
    assert two["inputs"]["other_shards"] == parts[1]["counts"]["in"] + parts[1]["counts"]["skipped_resume"]
    assert two["counts"]["in"] == parts[0]["counts"]["in"] + parts[2]["counts"]["in"]
    assert two["inputs"]["shard"] == "1,3/3"


def test_interrupted_then_resumed_runs_add_up(job, merge):
    first = demo(job, "-o", "out.jsonl", "--rejects", "rej.jsonl", "--limit", "15", "--report", "run1.json")
    second = demo(job, "-o", "out.jsonl", "--rejects", "rej.jsonl", "--resume", "--report", "run2.json")
    assert first.status == second.status == 0
    assert merge(job, "run1.json", "run2.json", "-o", "total.json").status == 0
    total = json.loads((job / "total.json").read_text())
    assert total["counts"]["in"] == 40 and total["counts"]["in"] == first.summary["in"] + second.summary["in"]
    assert total["counts"]["out"] == len((job / "out.jsonl").read_text().splitlines())
    assert total["inputs"]["lines_read"] == len(LINES) and total["inputs"]["other_shards"] == 0
    assert merge(job, "run2.json", "-o", "second.json").status == 0  # the earlier run's part: done, not another shard's
    assert json.loads((job / "second.json").read_text())["inputs"]["other_shards"] == 0


def test_runs_over_different_inputs_add_up(job, merge):
    (job / "day2.jsonl").write_text(INPUT + INPUT)  # another night's file, twice as long
    demo(job, "-o", "a.jsonl", "--report", "a.json")
    run_command(["demo", "-i", "day2.jsonl", "--on-error", "skip", "-o", "b.jsonl", "--report", "b.json"],
                workdir=job, plugins=demo_plugin.plugins())
    assert merge(job, "a.json", "b.json", "-o", "total.json").status == 0
    total = json.loads((job / "total.json").read_text())
    assert total["inputs"]["lines_read"] == 3 * len(LINES)
    assert [p["path"] for p in total["inputs"]["paths"]] == ["in.jsonl", "day2.jsonl"]


def test_mismatched_reports_are_refused_with_the_reason(job, merge):
    demo(job, "-o", "a.jsonl", "--report", "a.json")
    demo(job, "-o", "b.jsonl", "--field", "other", "--report", "b.json")
    refused = merge(job, "a.json", "b.json", "-o", "total.json")
    assert refused.status == 2
    assert "b.json is not a run of the same job as a.json: option --field is 'other', not 'text'" in refused.stderr
    assert not (job / "total.json").exists()


def test_reports_of_different_commands_or_models_are_refused(job, merge):
    demo(job, "-o", "a.jsonl", "--report", "a.json")
    report = json.loads((job / "a.json").read_text())
    (job / "other.json").write_text(json.dumps({**report, "command": "rewrite-code"}))
    refused = merge(job, "a.json", "other.json")
    assert refused.status == 2 and "command 'rewrite-code', not 'demo'" in refused.stderr
    model = {"name": "m", "local": True, "files_sha256": {}, "sha256": "a" * 64, "revision": None, "backend": "hf",
             "engine_args": {}}
    (job / "m1.json").write_text(json.dumps({**report, "model": model}))
    (job / "m2.json").write_text(json.dumps({**report, "model": {**model, "sha256": "b" * 64}}))
    refused = merge(job, "m1.json", "m2.json")
    assert refused.status == 2 and "model sha256" in refused.stderr


def test_merge_refuses_bad_reports_and_its_own_inputs(job, merge):
    demo(job, "-o", "a.jsonl", "--report", "a.json")
    (job / "junk.json").write_text("{not json")
    bad = merge(job, "a.json", "junk.json")
    assert bad.status == 65 and "junk.json" in bad.stderr
    assert merge(job, "a.json", "missing.json").status == 2
    over = merge(job, "a.json", "a.json", "-o", "a.json")
    assert over.status == 2 and "is the input" in over.stderr


def test_show_prints_the_tables(job, capsys):
    demo(job, "-o", "a.jsonl", "--report", "a.json")
    capsys.readouterr()
    assert run(["report", "show", str(job / "a.json")], plugins=[]) == 0
    text = capsys.readouterr().out
    assert "Rejected by reason" in text and "missing_field" in text and "invalid_line" in text
    assert "done (exit 0)" in text


def test_report_commands_write_no_report_of_their_own(job, merge, monkeypatch):
    demo(job, "-o", "a.jsonl", "--report", "a.json")
    monkeypatch.setenv("LLMKIT_REPORT", str(job / "a.json"))  # a pipeline that exports it
    assert merge(job, "a.json", "-o", "total.json").status == 0
    assert json.loads((job / "a.json").read_text())["command"] == "demo"

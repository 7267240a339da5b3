"""llmkit.testing.run_command runs the CLI as a user would; run_records names each record's source."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

import llmkit
from llmkit.summary import Summary
from llmkit.testing import parse_summary, read_records, run_command, run_records, write_jsonl
from tests.core.demo_plugin import plugins as demo_plugins


def demo(*args, **kwargs):
    return run_command(["demo", *args], plugins=demo_plugins(), **kwargs)


def test_files_outputs_rejects_and_summary():
    run = demo(
        "-i", "in.jsonl", "-o", "result.jsonl", "--rejects", "bad.jsonl",
        files={"in.jsonl": [{"text": "a"}, {"text": 3}, {"text": "b"}]},
    )  # fmt: skip
    assert run.status == 0, run.stderr
    assert run.outputs == [{"text": "a", "upper": "A"}, {"text": "b", "upper": "B"}]
    assert run.outputs == read_records(run.path("result.jsonl")) and run.stdout == b""
    assert [r["reject"]["source"] for r in run.rejects] == ["in.jsonl:2"]
    assert run.rejects[0]["text"] == 3
    assert run.summary is not None
    assert run.summary["in"] == 3 and run.summary["out"] == 2 and run.summary["rejected"] == 1
    assert run.summary["rejected_by_reason"] == {run.rejects[0]["reject"]["reason"]: 1}


def test_stdin_as_records_text_or_bytes_and_stdout_outputs():
    records = [{"text": "x"}, {"text": "y"}]
    for given in (records, '{"text": "x"}\n{"text": "y"}\n', b'{"text": "x"}\n{"text": "y"}'):
        run = demo(stdin=given)
        assert run.status == 0, run.stderr
        assert run.outputs == [{"text": "x", "upper": "X"}, {"text": "y", "upper": "Y"}]
        assert run.rejects == [] and run.summary is not None and run.summary["out"] == 2


def test_bad_line_of_stdin_is_named_and_exits_65():
    run = demo(stdin=b'{"text": "ok"}\nnot json\n')
    assert run.status == 65
    assert "<stdin>:2" in run.stderr and "Traceback" not in run.stderr


def test_usage_error_exits_2_without_reading_anything():
    run = demo("--no-such-option", stdin=[{"text": "a"}])
    assert run.status == 2 and run.outputs == [] and run.summary is None
    assert "no-such-option" in run.stderr


def test_quiet_run_has_no_summary_and_workdir_is_the_run_folder(tmp_path):
    write_jsonl(tmp_path / "given.jsonl", [{"text": "q"}])
    run = demo("-q", "-i", "given.jsonl", workdir=tmp_path)
    assert run.status == 0 and run.summary is None and run.workdir == tmp_path
    assert run.outputs == [{"text": "q", "upper": "Q"}]


def test_streams_and_folder_are_restored(capfd):
    import os

    folder = os.getcwd()
    before = (sys.stdin, sys.stdout, sys.stderr)
    run = demo(stdin=[{"text": "a"}])
    assert run.status == 0
    assert (sys.stdin, sys.stdout, sys.stderr) == before and os.getcwd() == folder
    print("after the run")
    captured = capfd.readouterr()
    assert captured.out == "after the run\n"  # the run's output went to the run, not to the test
    assert captured.err == run.stderr and "llmkit: in 1" in run.stderr  # echoed for a failure's report
    quiet = demo(stdin=[{"text": "a"}], echo_stderr=False)
    assert capfd.readouterr().err == "" and "llmkit: in 1" in quiet.stderr


def test_parse_summary_reads_back_every_field_of_the_line():
    summary = Summary(read=9, written=4, invalid=1, skipped=2, other_shards=3)
    summary.rejected = Counter({"too_long": 2, "empty": 1, "invalid_line": 1})
    expected = {key: value for key, value in summary.as_dict().items() if key != "seconds"}
    assert parse_summary("noise\n" + summary.line() + "\n") == expected
    assert parse_summary(Summary(read=1, written=1).line()) == {
        "in": 1, "out": 1, "rejected": 0, "rejected_by_reason": {},
        "invalid_lines": 0, "skipped_resume": 0, "other_shards": 0,
    }  # fmt: skip
    assert parse_summary("llmkit: error: bad input\n") is None


def test_the_summary_orders_tied_reasons_by_name_whatever_order_they_came_in():
    # shards (Ray replicas) report their rejects in any order: the line must not depend on it
    lines = set()
    for order in (["syntax", "syntax", "missing_field", "invalid_line"], ["invalid_line", "syntax", "missing_field", "syntax"]):
        summary = Summary(read=4)
        for reason in order:
            summary.count_reject(reason, stage="input")
        lines.add(summary.line())
        assert list(summary.as_dict()["rejected_by_reason"]) == ["syntax", "invalid_line", "missing_field"]
        assert list(summary.stages()["input"]) == ["syntax", "invalid_line", "missing_field"]
    assert len(lines) == 1


def test_plugins_only_in_process():
    with pytest.raises(ValueError, match="this process"):
        run_command(["demo"], plugins=demo_plugins(), separate_process=True)


def test_separate_process_sees_what_this_process_sees():
    args = ["utf8-eval", "check", "--field", "text", "--encoding", "text", "--rejects", "bad.jsonl"]
    files = {"bad.jsonl": b""}
    stdin = [{"text": "fine"}, {"text": 5}]
    here = run_command(args, stdin=stdin, files=files)
    child = run_command(args, stdin=stdin, files=files, separate_process=True)
    assert here.status == child.status == 0, (here.stderr, child.stderr)
    assert here.outputs == child.outputs and here.rejects == child.rejects and here.summary == child.summary
    assert [r["reject"]["source"] for r in child.rejects] == ["<stdin>:2"]


class Sources(llmkit.Step):
    name = "sources"
    batch_size = 2

    def process(self, records):
        return [{**record, "source": llmkit.source_of(record)} for record in records]


def test_run_records_sets_source_of_per_record_across_batches():
    run = run_records(Sources(), [{"n": n} for n in range(5)])
    assert [r["source"] for r in run.outputs] == [f"<records>:{n}" for n in range(1, 6)]
    named = run_records(Sources(), [{"n": 0}, {"n": 1}, {"n": 2}], batch_size=1, source="data.jsonl")
    assert [r["source"] for r in named.outputs] == ["data.jsonl:1", "data.jsonl:2", "data.jsonl:3"]
    assert llmkit.source_of({"n": 0}) is None  # nothing is left set after the run


def test_an_output_folder_is_left_to_the_test(tmp_path):
    (tmp_path / "parts").mkdir()
    run = demo("-o", "parts", stdin=[{"text": "a"}], workdir=tmp_path)
    assert run.status != 0 and run.outputs == [] and run.path("parts").is_dir()


def test_read_records_keeps_big_integers_and_names_a_bad_line(tmp_path):
    beyond_a_double = 10**400
    path = write_jsonl(tmp_path / "a.jsonl", f'{{"n": 123456789012345678901234567890}}\n\n{{"n": {beyond_a_double}}}\nnot json\n')
    with pytest.raises(ValueError, match=r"a.jsonl:4: not JSON"):
        read_records(path)
    assert read_records(path.read_bytes().rsplit(b"not", 1)[0]) == [{"n": 123456789012345678901234567890}, {"n": beyond_a_double}]
    assert read_records(tmp_path / "absent.jsonl") == []


def test_a_working_folder_of_its_own_is_removed_only_when_the_run_left_it_empty(tmp_path):
    empty = demo(stdin=[{"text": "a"}])
    assert empty.status == 0 and not empty.workdir.exists()
    kept = demo("-i", "in.jsonl", files={"in.jsonl": [{"text": "a"}]})
    assert kept.path("in.jsonl").is_file()
    given = demo(stdin=[{"text": "a"}], workdir=tmp_path / "mine")
    assert given.workdir.is_dir()  # a folder the test named is the test's


def test_outputs_are_read_only_when_asked_for():
    # refused before anything is written: the file keeps text that is not JSONL
    run = demo("-o", "same.txt", "--rejects", "same.txt", stdin=[{"text": "a"}], files={"same.txt": "free text\n"})
    assert run.status == 2 and run.path("same.txt").read_text() == "free text\n"
    with pytest.raises(ValueError, match=r"same.txt:1: not JSON"):
        assert run.outputs is None  # never reached: reading the file fails

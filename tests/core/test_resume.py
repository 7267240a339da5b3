"""--resume after SIGTERM and SIGKILL: the completed output equals an uninterrupted run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.core.helpers import DEMO, read_jsonl, run_demo, write_jsonl

COUNT = 3000


def start_slow(path, out, *extra):
    # 100 records a batch, 0.05 s a batch: about 1.5 s for the whole input
    return subprocess.Popen(
        [sys.executable, str(DEMO), "demo", "-i", str(path), "-o", str(out), "--resume", "--sleep", "0.05", "-q", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_lines(out, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= at_least:
            return
        time.sleep(0.01)
    raise AssertionError("the run produced no output in time")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
@pytest.mark.parametrize("with_ids", [True, False])
def test_interrupted_run_resumes_to_the_uninterrupted_output(tmp_path, sig, with_ids):
    data = [({"id": i} if with_ids else {}) | {"text": f"record {i}"} for i in range(COUNT)]
    path = write_jsonl(tmp_path / "in.jsonl", data)
    reference = tmp_path / "reference.jsonl"
    assert run_demo("-i", str(path), "-o", str(reference), "--resume", "-q").returncode == 0

    out = tmp_path / "out.jsonl"
    process = start_slow(path, out)
    wait_for_lines(out, 500)
    process.send_signal(sig)
    status = process.wait(timeout=30)
    assert status == (130 if sig == signal.SIGTERM else -signal.SIGKILL)
    partial = out.read_bytes().count(b"\n")
    assert 0 < partial < COUNT

    result = run_demo("-i", str(path), "-o", str(out), "--resume")
    assert result.returncode == 0
    assert out.read_bytes() == reference.read_bytes()
    assert f"skipped (already done) {partial}".encode() in result.stderr


def test_a_torn_last_line_is_cut_before_appending(tmp_path):
    data = [{"id": i, "text": f"r{i}"} for i in range(10)]
    path = write_jsonl(tmp_path / "in.jsonl", data)
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"id":0,"text":"r0","upper":"R0"}\n{"id":1,"text":"r1","upp')  # killed mid-write
    result = run_demo("-i", str(path), "-o", str(out), "--resume")
    assert result.returncode == 0
    records = read_jsonl(out)
    assert [r["id"] for r in records] == list(range(10))


def test_rejected_records_are_not_retried_when_rejects_are_kept(tmp_path):
    data = [{"id": 1, "text": "a"}, {"id": 2}, {"id": 3, "text": "c"}]
    path = write_jsonl(tmp_path / "in.jsonl", data)
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    assert run_demo("-i", str(path), "-o", str(out), "--rejects", str(rejects), "--resume").returncode == 0
    again = run_demo("-i", str(path), "-o", str(out), "--rejects", str(rejects), "--resume")
    assert b"in 0, out 0, rejected 0, skipped (already done) 3" in again.stderr  # in: taken by this run
    assert len(read_jsonl(out)) == 2 and len(read_jsonl(rejects)) == 1


def test_resume_reads_rejects_that_hold_escaped_surrogates(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": 1, "text": "a"}\n{"id": 2, "text": "\\udc00"}\n')
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    assert run_demo("-i", str(path), "-o", str(out), "--rejects", str(rejects), "--resume").returncode == 0
    again = run_demo("-i", str(path), "-o", str(out), "--rejects", str(rejects), "--resume")
    assert again.returncode == 0 and b"skipped (already done) 2" in again.stderr


def test_bad_lines_already_in_the_rejects_are_not_rejected_again(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": 1, "text": "a"}\nnot json\n{"id": 3, "text": "c"}\n[1]\n{"id": 4, "text": "d"}\n')
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    args = ("-i", str(path), "-o", str(out), "--rejects", str(rejects), "--resume", "--on-error", "skip")
    first = run_demo(*args)
    assert first.returncode == 0, first.stderr
    assert b"in 5, out 3, rejected 2 (invalid_line 2)" in first.stderr
    for _ in range(2):
        again = run_demo(*args)
        assert again.returncode == 0, again.stderr
        assert b"in 0, out 0, rejected 0, skipped (already done) 5" in again.stderr
    assert sorted(r["raw"] for r in read_jsonl(rejects)) == ["[1]", "not json"]
    assert len(read_jsonl(out)) == 3


@pytest.mark.parametrize("tail", [b"", b'{"id": 9, "te', b"x" * 300])
def test_resume_scan_reads_in_blocks_and_cuts_the_torn_tail(tmp_path, tail):
    """Blocks and the backward search for the last newline, at sizes far below the lines':
    the same lines as reading the whole file, and the file cut after its last newline."""
    from llmkit.io import _cut_torn_tail, _line_blocks

    whole = b"".join(b'{"id": %d, "text": "%s"}\n' % (i, b"y" * (i * 7 % 50)) for i in range(40)) + b"\n"
    path = tmp_path / "out.jsonl"
    path.write_bytes(whole + tail)
    with open(path, "r+b") as handle:
        end = _cut_torn_tail(handle, step=5)
        blocks = list(_line_blocks(handle, end, block=13))
    assert end == len(whole) and path.read_bytes() == whole
    assert [line for block in blocks for line in block] == whole.splitlines()
    never_ended = tmp_path / "torn.jsonl"
    never_ended.write_bytes(b'{"id": 1')
    with open(never_ended, "r+b") as handle:
        assert _cut_torn_tail(handle, step=3) == 0
    assert never_ended.read_bytes() == b""


def test_a_record_without_id_among_records_with_ids_is_refused_under_resume(tmp_path):
    """Record 2 has no id, so its id would be its position, 1: the id record 1 holds. Taking it
    for done (and never writing it) would lose it; mixed inputs are refused under --resume."""
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": "a"}, {"text": "b=2"}])
    out = tmp_path / "out.jsonl"
    first = run_demo("-i", str(path), "-o", str(out), "--resume", "--limit", "1")
    assert first.returncode == 0, first.stderr
    again = run_demo("-i", str(path), "-o", str(out), "--resume")
    assert again.returncode == 65, again.stderr
    assert f"{path}:2:".encode() in again.stderr and b"'id'" in again.stderr
    assert [r["id"] for r in read_jsonl(out)] == [1]  # nothing taken for done in silence


def test_the_first_record_without_id_then_ids_is_refused_too(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}, {"id": 0, "text": "b"}])
    result = run_demo("-i", str(path), "-o", str(tmp_path / "out.jsonl"), "--resume")
    assert result.returncode == 65 and f"{path}:2:".encode() in result.stderr
    assert [r["text"] for r in read_jsonl(tmp_path / "out.jsonl")] == ["a"]  # the records before it are written


def test_mixed_ids_are_fine_without_resume(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": "a"}, {"text": "b"}])
    result = run_demo("-i", str(path))
    assert result.returncode == 0 and [r.get("id") for r in read_jsonl(result.stdout)] == [1, None]


def test_a_bad_line_is_known_by_its_file_however_the_file_is_named(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": 1, "text": "a"}\nnot json\n{"id": 3, "text": "c"}\n')
    (tmp_path / "link.jsonl").symlink_to(path)
    for name in ("in.jsonl", "./in.jsonl", str(path), "link.jsonl"):
        result = subprocess.run(
            [sys.executable, str(DEMO), "demo", "-i", name, "-o", "out.jsonl", "--rejects", "rejects.jsonl",
             "--resume", "--on-error", "skip"],
            capture_output=True, cwd=tmp_path, timeout=60,
        )
        assert result.returncode == 0, result.stderr
    assert [r["raw"] for r in read_jsonl(tmp_path / "rejects.jsonl")] == ["not json"]
    assert b"skipped (already done) 3" in result.stderr

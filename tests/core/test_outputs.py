"""Outputs are never the input, never each other, and never written by two runs at once; a write
that fails is exit 74 with the records already written kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.core.helpers import DEMO, read_jsonl, run_demo, write_jsonl

RECORDS = [{"id": i, "text": f"record {i}"} for i in range(300)]


def _input(tmp_path):
    return write_jsonl(tmp_path / "in.jsonl", RECORDS)


@pytest.mark.parametrize("how", ["output", "rejects", "symlink", "hardlink", "dot-slash"])
def test_an_output_that_is_the_input_is_refused_before_anything_is_written(tmp_path, how):
    path = _input(tmp_path)
    before = path.read_bytes()
    target = path
    if how == "symlink":
        target = tmp_path / "link.jsonl"
        target.symlink_to(path)
    elif how == "hardlink":
        target = tmp_path / "hard.jsonl"
        os.link(path, target)
    elif how == "dot-slash":
        target = f"./{path.name}"
    flag = "--rejects" if how == "rejects" else "-o"
    result = subprocess.run(
        [sys.executable, str(DEMO), "demo", "-i", path.name, flag, str(target)],
        capture_output=True, cwd=tmp_path, timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert b"is the input" in result.stderr and b"Traceback" not in result.stderr
    assert path.read_bytes() == before


def test_stdin_that_is_the_output_is_refused(tmp_path):
    path = _input(tmp_path)
    before = path.read_bytes()
    with open(path, "rb") as stdin:
        result = subprocess.run([sys.executable, str(DEMO), "demo", "-o", str(path)], stdin=stdin,
                                capture_output=True, timeout=60)
    assert result.returncode == 2 and b"is the input" in result.stderr
    assert path.read_bytes() == before


def test_stdout_redirected_onto_the_input_is_refused(tmp_path):
    path = _input(tmp_path)
    with open(path, "ab") as stdout:  # `>> in.jsonl`: the shell did not truncate it
        result = subprocess.run([sys.executable, str(DEMO), "demo", "-i", str(path)], stdout=stdout,
                                stderr=subprocess.PIPE, timeout=60)
    assert result.returncode == 2 and b"is the input" in result.stderr
    assert read_jsonl(path) == RECORDS


@pytest.mark.parametrize("exists", [False, True])
def test_output_and_rejects_on_one_file_are_refused(tmp_path, exists):
    path = _input(tmp_path)
    out = tmp_path / "out.jsonl"
    if exists:
        out.write_bytes(b'{"id": -1}\n')
    (tmp_path / "alias.jsonl").symlink_to(out)
    result = run_demo("-i", str(path), "-o", str(out), "--rejects", str(tmp_path / "alias.jsonl"))
    assert result.returncode == 2 and b"same file" in result.stderr
    assert out.exists() == exists  # nothing was created
    if exists:
        assert out.read_bytes() == b'{"id": -1}\n'


def test_dev_null_may_take_both_outputs(tmp_path):
    path = _input(tmp_path)
    result = run_demo("-i", str(path), "-o", os.devnull, "--rejects", os.devnull)
    assert result.returncode == 0, result.stderr


def test_a_second_run_on_a_locked_output_exits_75_naming_the_holder(tmp_path):
    path = _input(tmp_path)
    out = tmp_path / "out.jsonl"
    first = subprocess.Popen(
        [sys.executable, str(DEMO), "demo", "-i", str(path), "-o", str(out), "--resume", "--sleep", "5", "-q"],
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_lines(out, 100)
        second = run_demo("-i", str(path), "-o", str(out), "--resume")
        assert second.returncode == 75, second.stderr
        assert f"process {first.pid}".encode() in second.stderr
        rejects_clash = run_demo("-i", str(path), "-o", str(tmp_path / "other.jsonl"), "--rejects", str(out))
        assert rejects_clash.returncode == 75
        assert not (tmp_path / "other.jsonl").exists() or (tmp_path / "other.jsonl").read_bytes() == b""
    finally:
        first.kill()
        first.wait(timeout=30)
    # a killed run releases its lock with its process: --resume completes the output
    finished = run_demo("-i", str(path), "-o", str(out), "--resume", "-q")
    assert finished.returncode == 0, finished.stderr
    assert sorted(r["id"] for r in read_jsonl(out)) == list(range(len(RECORDS)))


def test_a_run_does_not_truncate_an_output_another_run_holds(tmp_path):
    path = _input(tmp_path)
    out = tmp_path / "out.jsonl"
    first = subprocess.Popen(
        [sys.executable, str(DEMO), "demo", "-i", str(path), "-o", str(out), "--sleep", "5", "-q"],
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_lines(out, 100)
        written = out.read_bytes()
        second = run_demo("-i", str(path), "-o", str(out))  # no --resume: it would start the file anew
        assert second.returncode == 75
        assert out.read_bytes().startswith(written)
    finally:
        first.kill()
        first.wait(timeout=30)


def _wait_for_lines(path, at_least, timeout=60.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= at_least:
            return
        time.sleep(0.02)
    raise AssertionError("no output in time")


def test_a_full_disk_is_exit_74_naming_the_output(tmp_path):
    path = _input(tmp_path)
    result = run_demo("-i", str(path), "-o", "/dev/full")
    assert result.returncode == 74, result.stderr
    assert b"/dev/full" in result.stderr and b"No space left on device" in result.stderr
    assert b"Traceback" not in result.stderr


def test_stdout_on_a_full_disk_is_exit_74(tmp_path):
    path = _input(tmp_path)
    with open("/dev/full", "wb") as full:
        result = subprocess.run([sys.executable, str(DEMO), "demo", "-i", str(path)], stdout=full,
                                stderr=subprocess.PIPE, timeout=60)
    assert result.returncode == 74, result.stderr
    assert b"standard output" in result.stderr and b"No space left on device" in result.stderr
    assert b"Traceback" not in result.stderr and b"Exception ignored" not in result.stderr


def test_after_a_write_error_resume_completes_the_output(tmp_path):
    """A file-size limit (the kernel answers EFBIG, as it answers ENOSPC on a full disk) stops
    the run in the middle of a batch; once the limit is gone, --resume finishes the file."""
    import resource

    path = _input(tmp_path)
    reference = tmp_path / "reference.jsonl"
    assert run_demo("-i", str(path), "-o", str(reference), "--resume", "-q").returncode == 0
    out = tmp_path / "out.jsonl"
    limit = reference.stat().st_size // 2 + 7  # inside a line of the second half

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [sys.executable, str(DEMO), "demo", "-i", str(path), "-o", str(out), "--resume", "--batch-size", "40"]
    failed = subprocess.run(command, capture_output=True, preexec_fn=small_files, timeout=60)
    assert failed.returncode == 74, failed.stderr
    assert b"File too large" in failed.stderr and str(out).encode() in failed.stderr
    assert 0 < out.stat().st_size <= limit
    resumed = subprocess.run(command, capture_output=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize(("flag", "where", "reason"), [
    ("-o", "missing/out.jsonl", b"No such file or directory"),
    ("-o", "in.jsonl/out.jsonl", b"Not a directory"),
    ("-o", ".", b"Is a directory"),
    ("--rejects", "missing/rejects.jsonl", b"No such file or directory"),
])
def test_an_output_that_cannot_be_opened_is_exit_74_naming_the_option(tmp_path, flag, where, reason):
    """As any other file a command writes: 74 (an output that cannot be written), naming the
    option and the path, before a record is read; the other output is left as it was."""
    _input(tmp_path)
    other = tmp_path / "other.jsonl"
    other.write_bytes(b'{"kept": 1}\n')
    other_flag = "--rejects" if flag == "-o" else "-o"
    result = subprocess.run([sys.executable, str(DEMO), "demo", "-i", "in.jsonl", flag, where, other_flag, other.name],
                            capture_output=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 74, result.stderr
    assert f"{flag} {where} cannot be written".encode() in result.stderr and reason in result.stderr
    assert b"Traceback" not in result.stderr
    assert other.read_bytes() == b'{"kept": 1}\n'

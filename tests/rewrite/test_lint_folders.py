"""Lint folders left by a process that died are removed by the next lint stage that opens; a
live process's folder, another user's and one named otherwise are left alone."""

from __future__ import annotations

import os
import subprocess
import sys

from llmkit_rewrite_code import lint_folders
from llmkit_rewrite_code.lint_folders import PREFIX, make_folder, start_time, sweep


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_start_time_is_the_kernels():
    """/proc/PID/stat's 22nd field, read after the command name (which may hold spaces)."""
    fields = open(f"/proc/{os.getpid()}/stat").read().split()
    assert start_time(os.getpid()) == int(fields[21])  # this interpreter's name holds no space
    assert start_time(_dead_pid()) is None


def test_sweep_removes_only_dead_processes_folders(tmp_path):
    me, started = os.getpid(), start_time(os.getpid())
    dead = tmp_path / f"{PREFIX}{_dead_pid()}-12345-abc"
    reused = tmp_path / f"{PREFIX}{me}-{started + 1}-abc"  # this id, but another process's start
    alive = tmp_path / f"{PREFIX}{me}-{started}-abc"
    alive_no_clock = tmp_path / f"{PREFIX}{me}-0-abc"
    old_style = tmp_path / f"{PREFIX}x1y2z3"  # named before folders carried their process
    for folder in (dead, reused, alive, alive_no_clock, old_style):
        (folder / "worker").mkdir(parents=True)
        (folder / "worker" / "snippet.py").write_text("x = 1\n")
    assert sorted(sweep(str(tmp_path))) == sorted([dead, reused])
    assert not dead.exists() and not reused.exists()
    assert alive.exists() and alive_no_clock.exists() and old_style.exists()


def test_another_users_folder_is_left(tmp_path, monkeypatch):
    dead = tmp_path / f"{PREFIX}{_dead_pid()}-12345-abc"
    dead.mkdir()
    monkeypatch.setattr(lint_folders.os, "getuid", lambda: os.stat(dead).st_uid + 1)
    assert sweep(str(tmp_path)) == [] and dead.exists()


def test_a_new_folder_names_its_process_and_sweeps_first(tmp_path, monkeypatch):
    monkeypatch.setattr(lint_folders.tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / f"{PREFIX}{_dead_pid()}-12345-abc"
    dead.mkdir()
    made = make_folder()
    assert not dead.exists()
    assert os.path.basename(made).startswith(f"{PREFIX}{os.getpid()}-{start_time(os.getpid())}-")
    assert sweep(str(tmp_path)) == []  # its own process runs

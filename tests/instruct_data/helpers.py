"""Running instruct-data as a user would, and reading JSONL back."""

from __future__ import annotations

import subprocess

from llmkit.testing import read_records as read_jsonl
from llmkit.testing import run_command, write_jsonl

__all__ = ["llmkit", "ok", "read_jsonl", "write_jsonl"]


def llmkit(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """``llmkit ARGS`` as a user runs it (llmkit.testing.run_command, in this process), in the
    shape of a finished child process: returncode, and stdout and stderr as bytes."""
    run = run_command(args, stdin=stdin)
    return subprocess.CompletedProcess(["llmkit", *args], run.status, run.stdout, run.stderr.encode())


def ok(*args: str, stdin: bytes | None = None) -> bytes:
    done = llmkit(*args, stdin=stdin)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return done.stdout

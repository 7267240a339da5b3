"""Running instruct-data as a user would, and reading JSONL back."""

from __future__ import annotations

import subprocess
import sys

from llmkit.testing import read_records as read_jsonl
from llmkit.testing import write_jsonl

__all__ = ["llmkit", "ok", "read_jsonl", "write_jsonl"]


def llmkit(*args: str, stdin: bytes | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "llmkit", *args], input=stdin, capture_output=True, timeout=timeout, check=False)
    return done


def ok(*args: str, stdin: bytes | None = None) -> bytes:
    done = llmkit(*args, stdin=stdin)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return done.stdout

"""Running instruct-data as a user would, and reading JSONL back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def read_jsonl(data: Path | bytes) -> list[dict]:
    raw = data if isinstance(data, bytes) else Path(data).read_bytes() if Path(data).exists() else b""
    return [orjson.loads(line) for line in raw.splitlines() if line.strip()]


def llmkit(*args: str, stdin: bytes | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "llmkit", *args], input=stdin, capture_output=True, timeout=timeout, check=False)
    return done


def ok(*args: str, stdin: bytes | None = None) -> bytes:
    done = llmkit(*args, stdin=stdin)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return done.stdout

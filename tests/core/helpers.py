"""Run the CLI with the demo plugin in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

DEMO = Path(__file__).with_name("demo_plugin.py")


def run_demo(*args: str, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DEMO), "demo", *args], input=stdin, capture_output=True, timeout=timeout
    )


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def read_jsonl(path: Path | bytes) -> list[dict]:
    data = path if isinstance(path, bytes) else Path(path).read_bytes()
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]

"""Run the CLI with the demo plugin in a subprocess, as a user would; JSONL from llmkit.testing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from llmkit.testing import read_records as read_jsonl
from llmkit.testing import write_jsonl

__all__ = ["DEMO", "read_jsonl", "run_demo", "write_jsonl"]

DEMO = Path(__file__).with_name("demo_plugin.py")


def run_demo(*args: str, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``llmkit demo ARGS`` in a process of its own (signals, exits), the demo plugin installed.

    What needs no process of its own runs faster in-process: ``llmkit.testing.run_command(["demo",
    ...], plugins=demo_plugin.plugins())``."""
    return subprocess.run(
        [sys.executable, str(DEMO), "demo", *args], input=stdin, capture_output=True, timeout=timeout
    )

"""docs/cli.md is what the code's `--help` prints, whatever the terminal that regenerates it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_cli_reference_is_what_the_code_prints():
    # A narrow, colour-forcing terminal and a plugin allowlist must change nothing: the page is
    # drawn at a fixed width, without colour, with this repository's plugins.
    env = {**os.environ, "COLUMNS": "40", "FORCE_COLOR": "1", "TERM": "xterm-256color", "LLMKIT_PLUGINS": "mia"}
    done = subprocess.run([sys.executable, "scripts/cli_docs.py", "--check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]


def test_every_command_has_its_section():
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for title in ("## llmkit\n", "## llmkit tiny-model\n", "## llmkit mia score\n", "## llmkit docre edit-steps\n"):
        assert title in page
    assert "<bool>" not in page and "\x1b[" not in page  # flags bare, no colour codes

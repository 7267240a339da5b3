"""The reference the lint stage must match: one ``pylint`` process per snippet (SwallowCode's
approach), and the comment penalty computed here, independently of the plugin."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tempfile
import tokenize

DISABLED = "E0401,C0114,C0301,C0103,C0116,C0411,R0903,W0511,C0412"
FLAGS = [f"--rcfile={os.devnull}", "--persistent=n", "--load-plugins=", "--jobs=1", f"--disable={DISABLED}"]
_RATED = re.compile(r"Your code has been rated at (-?[0-9.]+)/10")


def pylint_subprocess_score(code: str) -> float | None:
    """pylint's printed rating of ``code`` (a file alone in a fresh folder), None when none."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "llmkit_snippet.py")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(code)
        done = subprocess.run([sys.executable, "-m", "pylint", *FLAGS, path], capture_output=True, text=True, cwd=folder)
    match = _RATED.search(done.stdout)
    return float(match.group(1)) if match else None


def reference_penalised(code: str, raw: float) -> float:
    tokens = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return raw
    if not tokens:
        return raw
    comments = sum(1 for token in tokens if token.type == tokenize.COMMENT)
    return raw * (1 - comments / len(tokens))


def stdlib_sample(count: int, seed: int = 0, max_bytes: int = 20_000) -> list[str]:
    """``count`` real stdlib modules (top-level .py files), a fixed pseudo-random sample."""
    import random

    folder = os.path.dirname(os.__file__)
    names = sorted(n for n in os.listdir(folder) if n.endswith(".py"))
    paths = [os.path.join(folder, n) for n in names if os.path.getsize(os.path.join(folder, n)) <= max_bytes]
    random.Random(seed).shuffle(paths)
    return [open(p, encoding="utf-8").read() for p in paths[:count]]

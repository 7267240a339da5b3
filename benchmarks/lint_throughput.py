"""Lint-stage throughput: llmkit's in-process pylint pool vs one `pylint` process per snippet.

Both score the same real Python files (from the standard library of the running interpreter)
with the same flags (SwallowCode's disabled messages, no rcfile, no plugins) and the same
parallelism: llmkit with W worker processes, the reference with W `pylint` subprocesses at a
time. Prints snippets/s for each, the ratio at each W, and the largest score difference.

    python benchmarks/lint_throughput.py [--files 200] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))

from llmkit_rewrite_code.lint import LintStep  # noqa: E402
from llmkit_rewrite_code.lint_worker import PYLINT_FLAGS, comment_ratio, penalised_score  # noqa: E402

_RATED = re.compile(r"Your code has been rated at (-?[0-9.]+)/10")


def stdlib_files(count: int, seed: int = 0, max_bytes: int = 60_000) -> list[str]:
    root = Path(os.__file__).parent
    paths = [p for p in sorted(root.rglob("*.py"))
             if "site-packages" not in p.parts and "test" not in p.parts and "tests" not in p.parts
             and "idlelib" not in p.parts and 200 <= p.stat().st_size <= max_bytes]
    random.Random(seed).shuffle(paths)
    codes = []
    for path in paths:
        try:
            code = path.read_text(encoding="utf-8")
            compile(code, str(path), "exec", dont_inherit=True)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        codes.append(code)
        if len(codes) == count:
            break
    return codes


def reference_score(code: str) -> float | None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "llmkit_snippet.py")
        Path(path).write_text(code, encoding="utf-8")
        out = subprocess.run([sys.executable, "-m", "pylint", *PYLINT_FLAGS, path],
                             capture_output=True, text=True, cwd=folder).stdout
    match = _RATED.search(out)
    return float(match.group(1)) if match else None


def run_llmkit(codes: list[str], workers: int) -> tuple[float, list[float | None]]:
    step = LintStep("text", threshold=-1.0, workers=workers)
    start = time.perf_counter()
    step.open()  # worker start-up counts: it is part of a real run
    outcomes = step.process([{"text": code} for code in codes])
    seconds = time.perf_counter() - start
    step.close()
    return seconds, [o["lint_raw_score"] if isinstance(o, dict) else None for o in outcomes]


def run_reference(codes: list[str], workers: int) -> tuple[float, list[float | None]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        scores = list(pool.map(reference_score, codes))
    return time.perf_counter() - start, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    codes = stdlib_files(args.files)
    print(f"{len(codes)} stdlib files, {sum(map(len, codes)) / 1e6:.2f} MB, pylint flags: {' '.join(PYLINT_FLAGS)}")
    worst_raw = worst_penalised = 0.0
    for workers in [int(w) for w in args.workers.split(",")]:
        ours_s, ours = run_llmkit(codes, workers)
        ref_s, ref = run_reference(codes, workers)
        for code, a, b in zip(codes, ours, ref, strict=True):
            if (a is None) != (b is None):
                worst_raw = worst_penalised = float("inf")
            elif a is not None:
                ratio = comment_ratio(code)
                worst_raw = max(worst_raw, abs(a - b))
                worst_penalised = max(worst_penalised, abs(penalised_score(a, ratio) - penalised_score(b, ratio)))
        print(f"workers={workers}: llmkit {len(codes) / ours_s:7.2f} snippets/s | "
              f"pylint subprocess {len(codes) / ref_s:6.2f} snippets/s | ratio {ref_s / ours_s:5.1f}x")
    print(f"largest score difference: raw {worst_raw:.4f}, penalised {worst_penalised:.4f}")


if __name__ == "__main__":
    main()

"""Lint-stage throughput: llmkit's in-process pylint pool vs one `pylint` process per snippet.

Both score the same real Python files with the same flags (SwallowCode's disabled messages, no
rcfile, no plugins) and the same parallelism: llmkit with W worker processes (each forks one
child per snippet from a warm pylint), the reference with W `pylint` subprocesses at a time,
each on the snippet alone in a fresh temporary folder. llmkit's time includes starting and
warming its workers. Prints snippets/s for each, the ratio at each W (median over --repeats
runs), and the largest score difference (raw and penalised) over all runs.

Files: the running interpreter's standard library, ``*.py`` under ``os.__file__``'s folder,
excluding ``site-packages``, test folders (``test``, ``tests``, ``idle_test``) and ``idlelib``,
of 1 000 to 30 000 bytes, that decode as UTF-8 and compile; sorted by path, then ``--files``
of them taken at evenly spaced positions of that list (deterministic, spread over the whole
library rather than the first packages alphabetically).

    python benchmarks/lint_throughput.py [--files 200] [--workers 1,2] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
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
_SKIPPED_PARTS = {"site-packages", "test", "tests", "idle_test", "idlelib"}


def stdlib_files(count: int, min_bytes: int = 1_000, max_bytes: int = 30_000) -> list[tuple[str, str]]:
    """``count`` (relative path, source) pairs chosen as the module docstring says."""
    root = Path(os.__file__).parent
    candidates = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if _SKIPPED_PARTS & set(relative.parts) or not min_bytes <= path.stat().st_size <= max_bytes:
            continue
        try:
            code = path.read_text(encoding="utf-8")
            compile(code, str(path), "exec", dont_inherit=True)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        candidates.append((str(relative), code))
    if len(candidates) <= count:
        return candidates
    return [candidates[i * len(candidates) // count] for i in range(count)]


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
    step.open()  # worker start-up and warm-up count: they are part of a real run
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
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    files = stdlib_files(args.files)
    names, codes = [name for name, _ in files], [code for _, code in files]
    print(f"{len(codes)} stdlib files, {sum(map(len, codes)) / 1e6:.2f} MB, pylint flags: {' '.join(PYLINT_FLAGS)}",
          flush=True)
    worst_raw = worst_penalised = 0.0
    differing: set[str] = set()
    for workers in [int(w) for w in args.workers.split(",")]:
        ours_rates, ref_rates, ratios = [], [], []
        for _ in range(args.repeats):
            ours_s, ours = run_llmkit(codes, workers)
            ref_s, ref = run_reference(codes, workers)
            for name, code, a, b in zip(names, codes, ours, ref, strict=True):
                if (a is None) != (b is None):
                    worst_raw = worst_penalised = float("inf")
                    differing.add(name)
                elif a is not None:
                    ratio = comment_ratio(code)
                    worst_raw = max(worst_raw, abs(a - b))
                    worst_penalised = max(worst_penalised, abs(penalised_score(a, ratio) - penalised_score(b, ratio)))
                    if abs(a - b) > 0.01:
                        differing.add(name)
            ours_rates.append(len(codes) / ours_s)
            ref_rates.append(len(codes) / ref_s)
            ratios.append(ref_s / ours_s)
            print(f"  workers={workers}: llmkit {ours_rates[-1]:7.2f} snippets/s | pylint subprocess "
                  f"{ref_rates[-1]:6.2f} snippets/s | ratio {ratios[-1]:5.1f}x", flush=True)
        print(f"workers={workers} (median of {args.repeats}): llmkit {statistics.median(ours_rates):7.2f} snippets/s | "
              f"pylint subprocess {statistics.median(ref_rates):6.2f} snippets/s | "
              f"ratio {statistics.median(ratios):5.1f}x", flush=True)
    print(f"largest score difference: raw {worst_raw:.4f}, penalised {worst_penalised:.4f}"
          + (f"; files differing by more than 0.01: {', '.join(sorted(differing))}" if differing else ""))


if __name__ == "__main__":
    main()

"""Throughput of the JSONL contract with a no-op step, next to a plain-Python baseline.

Writes N small records (about 200 bytes each) to a temp file, then in this one process:
- baseline: the json module, line by line (json.loads, json.dumps, write);
- llmkit: the same file through ``llmkit.run_step`` with a step that returns its records.
Prints records/s of each and the ratio (target: llmkit >= 3x), and the peak memory of llmkit
runs over N/4 and N records, each in a fresh child process (memory must not grow with input).

    python benchmarks/io_throughput.py [--records 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import statistics
import string
import tempfile
import time
from pathlib import Path

from llmkit import IOOptions, Step, run_step


class NoOp(Step):
    name = "noop"
    batch_size = 1024

    def process(self, records):
        return records


def make_input(path: Path, count: int) -> None:
    rng = random.Random(0)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(500)]
    with open(path, "w") as handle:
        for i in range(count):
            text = " ".join(rng.choices(words, k=18))[:120]
            record = {"id": i, "text": text, "score": round(rng.random(), 4), "tags": ["a", "b"], "ok": True}
            handle.write(json.dumps(record) + "\n")


def baseline(src: Path, dst: Path) -> None:
    with open(src) as reader, open(dst, "w") as writer:
        for line in reader:
            writer.write(json.dumps(json.loads(line)) + "\n")


def llmkit_run(src: Path, dst: Path) -> None:
    run_step(NoOp(), IOOptions(inputs=[str(src)], output=str(dst), quiet=True))


def _peak_child(src: str, dst: str, queue) -> None:
    llmkit_run(Path(src), Path(dst))
    queue.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def peak_mib(src: Path, dst: Path) -> float:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_peak_child, args=(str(src), str(dst), queue))
    child.start()
    peak = queue.get()
    child.join()
    return peak


def timed(func, *args) -> float:
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, small, dst = Path(tmp, "in.jsonl"), Path(tmp, "small.jsonl"), Path(tmp, "out.jsonl")
        make_input(src, args.records)
        make_input(small, args.records // 4)
        size_mb = os.path.getsize(src) / 1e6
        print(f"{args.records:,} records, {size_mb:.0f} MB ({size_mb * 1e6 / args.records:.0f} bytes/record)")
        base_times, kit_times = [], []
        for _ in range(args.repeats):
            base_times.append(timed(baseline, src, dst))
            kit_times.append(timed(llmkit_run, src, dst))
        base = args.records / statistics.median(base_times)
        kit = args.records / statistics.median(kit_times)
        print(f"baseline (json, line by line): {base:12,.0f} records/s  (median of {args.repeats})")
        print(f"llmkit contract, no-op step:   {kit:12,.0f} records/s  (median of {args.repeats})")
        print(f"ratio llmkit / baseline:       {kit / base:12.2f}x  (target >= 3x)")
        quarter, full = peak_mib(small, dst), peak_mib(src, dst)
        print(f"peak RSS, llmkit over {args.records // 4:,} records: {quarter:.0f} MiB; over {args.records:,}: {full:.0f} MiB")


if __name__ == "__main__":
    main()

"""The Ray executor's overhead: rewrite-code's syntax and lint stages, local against Ray, on the
same CPUs.

Input: ``--snippets`` small Python programs (one in five does not compile, one in four fails the
lint threshold), written once to a temporary JSONL. Runs, each through :func:`llmkit.run_step`
in this process (the Ray driver included):

- local: the contract's own loop, the lint pool with ``--cpus`` workers;
- ray, 1 replica: one actor holding the step, its lint pool with ``--cpus`` workers;
- ray, N replicas: ``--cpus`` actors of one CPU each, each with one lint worker.

Ray runs on a local Ray started for the run with ``--cpus`` CPUs (``RAY_ADDRESS`` unset), so both
executors have the same CPUs. Prints records/s of each (median over ``--repeats``) and the ratios
ray/local and N/1 replicas. Ray binds to the machine's network address; to keep it on loopback run
it in a network namespace::

    unshare -n sh -c 'ip link set lo up && python benchmarks/ray_executor.py --snippets 2000'
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))

from llmkit import BackendOptions, IOOptions, run_step  # noqa: E402
from llmkit.contract import ClusterOptions, Executor  # noqa: E402
from llmkit_rewrite_code.pipeline import build_pipeline  # noqa: E402

GOOD = '"""Module {n}."""\n\n\ndef add_{n}(first, second):\n    """Add two numbers and {n}."""\n    return first + second + {n}\n'


def write_input(path: Path, count: int) -> None:
    with open(path, "wb") as handle:
        for n in range(count):
            code = "def f(:\n    pass\n" if n % 5 == 0 else "import os\nx=1\n" if n % 4 == 0 else GOOD.format(n=n)
            handle.write(orjson.dumps({"id": n, "text": code}) + b"\n")


def one_run(data: Path, out: Path, workers: int, executor: Executor, replicas: int, cpus: float) -> float:
    step = build_pipeline("syntax,lint", "text", BackendOptions(), workers=workers)
    cluster = ClusterOptions(executor=executor, replicas=replicas, cpus_per_replica=cpus)
    options = IOOptions(inputs=[str(data)], output=str(out), quiet=True, batch_size=32, cluster=cluster)
    started = time.perf_counter()
    summary = run_step(step, options)
    seconds = time.perf_counter() - started
    return summary.read / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snippets", type=int, default=2000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("RAY_ADDRESS", None)
    import ray

    work = Path(tempfile.mkdtemp(prefix="ray_bench"))
    data = work / "in.jsonl"
    write_input(data, args.snippets)
    plans = {
        "local": (args.cpus, Executor.local, 1, 1.0, work / "local.jsonl"),
        "ray, 1 replica": (args.cpus, Executor.ray, 1, float(args.cpus), work / "ray1"),
        f"ray, {args.cpus} replicas": (1, Executor.ray, args.cpus, 1.0, work / "rayN"),
    }
    rates: dict[str, list[float]] = {name: [] for name in plans}
    ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR")  # every run uses it
    try:
        for _ in range(args.repeats):
            for name, (workers, executor, replicas, cpus, out) in plans.items():
                rates[name].append(one_run(data, out, workers, executor, replicas, cpus))
                print(f"{name}: {rates[name][-1]:.1f} records/s", file=sys.stderr)
    finally:
        ray.shutdown()
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"{args.snippets} snippets, syntax+lint, {args.cpus} CPUs, median of {args.repeats}")
    for name, value in median.items():
        print(f"  {name:>16}: {value:8.1f} records/s")
    many = f"ray, {args.cpus} replicas"
    print(f"  ray (best) / local: {max(median['ray, 1 replica'], median[many]) / median['local']:.2f}x")
    print(f"  {args.cpus} replicas / 1 replica: {median[many] / median['ray, 1 replica']:.2f}x")


if __name__ == "__main__":
    main()

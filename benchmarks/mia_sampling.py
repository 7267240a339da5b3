"""SaMIA's sampling: one request with n samples per text against n separate one-sample requests.

Both variants run in this process, on the same backend, prompts (the prefixes of WikiMIA texts,
or made-up ones when ../shared/data is absent) and sampling settings (temperature 1.0, top-k 50,
a fixed max_tokens), alternating over several repeats. Prints samples/s and new tokens/s of each
and the ratio of the medians. The baseline sends the n requests per text in the same batch (the
kindest baseline: the engine still batches them), so the ratio measures what sharing one prompt
across n samples saves.

    python benchmarks/mia_sampling.py [--backend vllm hf] [--model PATH] [--texts 64]
        [--words 32] [--num-samples 10] [--max-tokens 32] [--repeats 3]

Without --model a tiny random Llama is built in a temporary folder (it may stop at EOS early, so
tokens/s is printed beside samples/s).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))
WIKIMIA = Path(__file__).resolve().parents[2] / "shared" / "data" / "wikimia"


def prefixes(count: int, words: int) -> list[str]:
    from llmkit_mia.samia import split_text

    path = WIKIMIA / f"wikimia_{words}.jsonl"
    if path.is_file():
        texts = [json.loads(line)["input"] for line in path.read_text().splitlines()]
    else:
        rng = random.Random(0)
        vocab = "river stone market winter garden council engine harbour festival library orbit".split()
        texts = [" ".join(rng.choice(vocab) for _ in range(words)) for _ in range(count)]
    return [split_text(t, 0.5).prefix for t in texts[:count]]  # type: ignore[union-attr]


def timed(backend, prompts: list[str], params) -> tuple[float, int, int]:
    start = time.perf_counter()
    results = backend.generate(prompts, params)
    seconds = time.perf_counter() - start
    completions = [c for r in results for c in r.completions]
    return seconds, len(completions), sum(len(c.token_ids) for c in completions)


def bench(name: str, model: str, prompts: list[str], args: argparse.Namespace) -> float:
    import llmkit
    import llmkit.backends
    from llmkit import SamplingParams

    options = llmkit.BackendOptions(model=model, backend=name, max_model_len=512)
    backend = llmkit.backends.open_backend(options)
    n = args.num_samples
    one_request = SamplingParams(temperature=1.0, top_k=50, max_tokens=args.max_tokens, n=n)
    separate = SamplingParams(temperature=1.0, top_k=50, max_tokens=args.max_tokens, n=1)
    repeated = [p for p in prompts for _ in range(n)]
    timed(backend, prompts[:4], one_request)  # warm-up
    rates: dict[str, list[tuple[float, float]]] = {"n": [], "separate": []}
    for _ in range(args.repeats):
        for label, batch, params in (("n", prompts, one_request), ("separate", repeated, separate)):
            seconds, samples, tokens = timed(backend, batch, params)
            rates[label].append((samples / seconds, tokens / seconds))
    backend.close()
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in rates.items()}
    print(f"[{name}] {len(prompts)} prefixes of {args.words}-word texts x {n} samples, max_tokens {args.max_tokens}, {args.repeats} repeats (medians)")
    print(f"  one request, n={n}:       {med['n'][0]:9.1f} samples/s  {med['n'][1]:9.1f} tokens/s")
    print(f"  {n} requests, n=1 each:  {med['separate'][0]:9.1f} samples/s  {med['separate'][1]:9.1f} tokens/s")
    ratio = med["n"][0] / med["separate"][0]
    print(f"  ratio (samples/s):        {ratio:9.2f}x")
    print("  per repeat n/separate:", ", ".join(f"{a[0] / b[0]:.2f}" for a, b in zip(rates["n"], rates["separate"])))
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["vllm"], choices=["vllm", "hf"])
    parser.add_argument("--model")
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--words", type=int, default=32, choices=[32, 64, 128, 256], help="WikiMIA text length")
    parser.add_argument("--num-samples", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    prompts = prefixes(args.texts, args.words)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from llmkit.tiny_model import TinyModelSpec, build_tiny_model

            model = str(build_tiny_model(Path(tmp) / "tiny", TinyModelSpec(arch="llama", seed=0)))
        for name in args.backend:
            bench(name, model, prompts, args)


if __name__ == "__main__":  # vLLM starts workers with spawn
    main()

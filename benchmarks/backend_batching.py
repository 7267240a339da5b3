"""Does batching pay off? Tokens/s of each backend with a batch of prompts next to one at a time.

For each backend that can run here (hf always; vllm and openai when vLLM is importable), on a
tiny model (built offline unless --model is given), in this one run: the same N prompts are
generated one request at a time, then as one batch (openai: N requests in flight, which the
server batches). Greedy, --max-tokens new tokens each; generated tokens are counted from the
results. Prints the median tokens/s of each mode over --repeats runs and their ratio (target:
well above 1 on every backend).

    python benchmarks/backend_batching.py [--backends hf,vllm,openai] [--prompts 32] [--eager]

With --max-model-len below the prompt length plus --max-tokens, each prompt's budget is what the
context leaves it, so prompts of different lengths get different budgets (the subcommands' large
--max-tokens defaults on a short-context model): e.g. --max-tokens 8192 --max-model-len 64.

The openai backend is measured against a vLLM server this script starts on 127.0.0.1, unless
--base-url points to one that serves the same --model.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

TOPICS = ["the sea", "a cat", "old maps", "rain", "a library", "bread", "the moon", "trains"]


def make_prompts(count: int) -> list[str]:
    return [f"Write a few words about {TOPICS[i % len(TOPICS)]}, number {i}:" for i in range(count)]


def generated_tokens(results) -> int:
    return sum(len(c.token_ids) for r in results for c in r.completions)


def measure(generate: Callable, prompts: list[str], params, repeats: int) -> tuple[float, float]:
    """(median tokens/s one prompt per call, median tokens/s whole batch per call)."""
    generate(prompts[:2], params)  # warm-up: first-call allocations, compiled kernels
    single, batched = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        tokens = sum(generated_tokens(generate([prompt], params)) for prompt in prompts)
        single.append(tokens / (time.perf_counter() - started))
        started = time.perf_counter()
        tokens = generated_tokens(generate(prompts, params))
        batched.append(tokens / (time.perf_counter() - started))
    return statistics.median(single), statistics.median(batched)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: Path, eager: bool, max_model_len: int | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
               "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32"]  # fmt: skip
    if eager:
        command.append("--enforce-eager")
    if max_model_len:
        command += ["--max-model-len", str(max_model_len)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    import httpx

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(1)
    process.kill()
    raise SystemExit("the vLLM server did not start")


def open_backend(name: str, model: Path, args: argparse.Namespace):
    from llmkit.backends import BackendOptions

    if name == "hf":
        from llmkit.backends.hf import HFBackend

        return HFBackend(BackendOptions(model=str(model), dtype="float32", max_model_len=args.max_model_len)), None
    if name == "vllm":
        from llmkit.backends.vllm import VLLMBackend

        engine = {"enforce_eager": True} if args.eager else {}
        options = BackendOptions(model=str(model), dtype="float32", max_model_len=args.max_model_len)
        return VLLMBackend(options, engine), None
    from llmkit.backends.openai import OpenAIBackend

    server, url = (None, args.base_url) if args.base_url else start_server(model, args.eager, args.max_model_len)
    options = BackendOptions(base_url=url, model=str(model), concurrency=args.prompts)
    return OpenAIBackend(options), server


def available(name: str) -> bool:
    if name == "hf":
        return True
    try:
        import vllm  # noqa: F401
    except Exception:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="hf,vllm,openai")
    parser.add_argument("--model", type=Path, help="model folder (default: a tiny Llama built here)")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--max-model-len", type=int, help="context to use (default: the model's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--eager", action="store_true", help="vllm/openai: skip torch.compile (faster start)")
    parser.add_argument("--base-url", help="openai: an already running server of --model")
    args = parser.parse_args()

    from llmkit.backends import SamplingParams

    model = args.model
    if model is None:
        from llmkit.tiny_model import build_tiny_model

        model = build_tiny_model(Path(tempfile.mkdtemp(prefix="llmkit-bench-")) / "tiny_llama")
    prompts = make_prompts(args.prompts)
    params = SamplingParams(temperature=0, max_tokens=args.max_tokens)
    rows = []
    for name in args.backends.split(","):
        if not available(name):
            print(f"{name}: skipped (vLLM is not importable)", file=sys.stderr)
            continue
        backend, server = open_backend(name, model, args)
        try:
            single, batched = measure(backend.generate, prompts, params, args.repeats)
        finally:
            backend.close()
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
        rows.append({"backend": name, "one_at_a_time_tok_s": round(single, 1),
                     "batched_tok_s": round(batched, 1), "ratio": round(batched / single, 2)})  # fmt: skip
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)

    context = f", context {args.max_model_len}" if args.max_model_len else ""
    print(f"{len(prompts)} prompts x {args.max_tokens} new tokens{context}, greedy, median of {args.repeats} runs")
    print(f"{'backend':8} {'one at a time':>15} {'batched':>12} {'ratio':>7}")
    for row in rows:
        print(f"{row['backend']:8} {row['one_at_a_time_tok_s']:>11.1f} t/s {row['batched_tok_s']:>8.1f} t/s "
              f"{row['ratio']:>6.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()

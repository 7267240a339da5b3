"""Peak memory of one ``ret-heads detect`` trial at 1K, 2K and 4K tokens, against the eager route.

ours:  prefill with the model's SDPA attention, decode with the top-1 read from q . K^T of the one
       decoding query (llmkit_ret_heads.capture): memory linear in the length.
eager: what Wu et al.'s code falls back to without flash-attn (and what transformers does with
       ``output_attentions=True``): eager attention, full probabilities, the top-1 read from them;
       the prefill materialises a heads x length x length matrix per layer.

Each (route, length) runs in a fresh subprocess, so ``ru_maxrss`` (the process's peak resident
memory) belongs to that trial alone: the figure is the peak minus the resident memory once the
model is loaded and a short warm-up trial has run. On CUDA the figure is
``torch.cuda.max_memory_allocated`` over the trial instead. Medians of ``--repeats`` runs.

    python benchmarks/ret_heads.py [--lengths 1024,2048,4096] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins"))

SPEC = {"layers": 4, "hidden_size": 256, "heads": 8, "max_position": 8192}
NEEDLE = {"context": "The password to the old observatory is copper heron seventeen.",
          "question": "What is the password to the old observatory?", "answer": "copper heron seventeen"}


def _rss_mib() -> float:
    # resident memory now (Linux): the peak so far is ru_maxrss, in KiB
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def _eager_trial(model, trial, max_tokens: int) -> None:
    """The anchor's route: eager attention with probabilities; top-1 from them at each step."""
    import torch

    ids = torch.tensor([trial.ids])
    with torch.inference_mode():
        model.set_attn_implementation("eager")
        cache = model(input_ids=ids[:, :-1], use_cache=True).past_key_values
        token = ids[:, -1:]
        for _ in range(max_tokens):
            out = model(input_ids=token, past_key_values=cache, use_cache=True, output_attentions=True)
            _top1 = torch.stack([layer[0, :, -1].argmax(-1) for layer in out.attentions])
            token = out.logits[:, -1:].argmax(-1)


def one(model_dir: str, route: str, length: int, max_tokens: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import llmkit
    import llmkit.backends
    from llmkit_ret_heads.capture import Top1Capture
    from llmkit_ret_heads.decode import run_trial
    from llmkit_ret_heads.haystack import Needle, TrialBuilder, default_haystack

    torch.set_num_threads(1)
    cuda = torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to("cuda" if cuda else "cpu").eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    template = llmkit.load_prompt("llmkit_ret_heads", "detect", required={"context", "question"})
    builder = TrialBuilder(tokenizer, default_haystack(), template, chat=False, longest=length)
    needle = Needle(**NEEDLE)
    warm, trial = builder.build(0, needle, 128, 0.5), builder.build(0, needle, length, 0.5)
    eos = llmkit.backends.eos_token_ids(model, tokenizer)

    def run(t) -> None:
        if route == "eager":
            _eager_trial(model, t, max_tokens)
        else:
            with Top1Capture(model) as capture:
                run_trial(model, tokenizer, capture, t, eos, max_tokens)

    run(warm)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_mib()
    started = time.perf_counter()
    run(trial)
    seconds = time.perf_counter() - started
    if cuda:
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    return {"route": route, "length": len(trial.ids), "peak_mib": max(peak, 0.0), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="1024,2048,4096")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--one", nargs=3, metavar=("MODEL", "ROUTE", "LENGTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], int(args.one[2]), args.max_tokens)))
        return

    from llmkit.tiny_model import TinyModelSpec, build_tiny_model

    lengths = [int(x) for x in args.lengths.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        model = str(build_tiny_model(Path(scratch) / "model", TinyModelSpec(arch="llama", **SPEC)))
        results: dict[tuple[str, int], list[dict]] = {}
        for _ in range(args.repeats):
            for route in ("ours", "eager"):
                for length in lengths:
                    done = subprocess.run([sys.executable, __file__, "--one", model, route, str(length),
                                           "--max-tokens", str(args.max_tokens)], capture_output=True, text=True, check=True)
                    results.setdefault((route, length), []).append(json.loads(done.stdout.splitlines()[-1]))
    print(f"tiny Llama {SPEC}, one trial, {args.max_tokens} decoding steps; medians of {args.repeats} runs")
    print(f"{'length':>7} {'ours MiB':>9} {'eager MiB':>10} {'eager/ours':>10} {'ours s':>7} {'eager s':>8}")
    peaks = {}
    for length in lengths:
        ours = statistics.median(r["peak_mib"] for r in results[("ours", length)])
        eager = statistics.median(r["peak_mib"] for r in results[("eager", length)])
        seconds = [statistics.median(r["seconds"] for r in results[(route, length)]) for route in ("ours", "eager")]
        peaks[length] = (ours, eager)
        print(f"{length:>7} {ours:>9.1f} {eager:>10.1f} {eager / max(ours, 1e-9):>10.1f} {seconds[0]:>7.2f} {seconds[1]:>8.2f}")
    print("growth of the peak when the length doubles (linear = 2, quadratic = 4):")
    for short, long in zip(lengths, lengths[1:]):
        ours = peaks[long][0] / max(peaks[short][0], 1e-9)
        eager = peaks[long][1] / max(peaks[short][1], 1e-9)
        print(f"  {short} -> {long}: ours x{ours:.2f}, eager x{eager:.2f}")


if __name__ == "__main__":
    main()

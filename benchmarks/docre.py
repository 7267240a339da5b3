"""DREEAM's memory claim and docre's throughput, on the CPU with a tiny encoder.

On a synthetic templated corpus and a tiny random DeBERTa-v2 (both built here):

- training documents/s and peak memory of a training step with the evidence loss
  (--evi-lambda 0.1) and of the same model without it (0, i.e. ATLOP): the evidence loss reuses
  the attention the model already computes, so DREEAM claims about the same memory (target: a
  ratio <= 1.1);
- predict documents/s (the model's forward pass plus decoding of triples and evidence).

Each measurement runs in a fresh process: peak memory is how far the process's peak resident set
grows during its first training pass over what it held once set up (on CUDA:
torch.cuda.max_memory_allocated above the memory allocated before); docs/s is timed on a second
pass. Medians over --repeats processes per setting, the two settings interleaved.

    python benchmarks/docre.py [--docs 64] [--repeats 5] [--hidden 64] [--layers 3] [--device cpu]
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


def rss_now() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def train_pass(trainer, features, options) -> None:
    from llmkit_docre.train import batch_loss

    model = trainer.model
    model.train()
    for start in range(0, len(features), options.batch_size):
        batch = features[start : start + options.batch_size]
        loss, _ = batch_loss(model(batch), batch, options, trainer.relations.num_classes)
        loss.backward()
        model.zero_grad(set_to_none=True)


def child(args: argparse.Namespace) -> None:
    """One measurement in a fresh process: the growth of peak memory during the first training
    pass over what the process held once set up, then docs/s of a second pass."""
    import torch

    from llmkit_docre.data import load_documents, load_relations
    from llmkit_docre.train import Trainer, TrainOptions

    work = Path(args.work)
    relations = load_relations(work / "data" / "rel2id.json")
    documents, _ = load_documents(work / "data" / "train.jsonl", relations)
    options = TrainOptions(evi_lambda=args.evi_lambda, emb_size=64, block_size=16, device=args.device, quiet=True)
    torch.manual_seed(0)
    trainer = Trainer(str(work / "encoder"), relations, work / "unused", options)
    features = [trainer.featurize(d) for d in documents]
    cuda = args.device.startswith("cuda")
    before = torch.cuda.memory_allocated() if cuda else rss_now()
    train_pass(trainer, features, options)
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    train_pass(trainer, features, options)
    rate = len(features) / (time.perf_counter() - start)
    predict_rate = 0.0
    if args.evi_lambda > 0:
        from llmkit_docre.infer import predict_features

        start = time.perf_counter()
        predict_features(trainer.model, features, relations, batch_size=16)
        predict_rate = len(features) / (time.perf_counter() - start)
    print(json.dumps({"growth": peak - before, "rate": rate, "predict": predict_rate}))


def measure(args: argparse.Namespace, work: Path, evi_lambda: float) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", "--work", str(work), "--evi-lambda", str(evi_lambda), "--device", args.device]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--evi-lambda", type=float, default=0.1, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        child(args)
        return
    from llmkit_docre.synthetic import build_tiny_encoder, write_corpus

    work = Path(tempfile.mkdtemp(prefix="docre_bench_"))
    write_corpus(work / "data", train=args.docs, dev=1, seed=1)
    build_tiny_encoder(work / "encoder", hidden=args.hidden, layers=args.layers, arch="deberta")
    runs: dict[str, list[dict[str, float]]] = {"evidence": [], "no evidence": []}
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        runs["evidence"].append(measure(args, work, 0.1))
        runs["no evidence"].append(measure(args, work, 0.0))
    print(f"{args.docs} synthetic documents, tiny DeBERTa-v2 (hidden {args.hidden}, {args.layers} layers), {args.device}, "
          f"median of {args.repeats} fresh processes each")
    median = {name: {key: statistics.median(r[key] for r in rows) for key in ("growth", "rate")} for name, rows in runs.items()}
    for name, values in median.items():
        print(f"train {name:12s}: {values['rate']:8.1f} docs/s, peak memory growth in the first pass {values['growth'] / 2**20:8.1f} MiB")
    ratio = median["evidence"]["growth"] / median["no evidence"]["growth"]
    print(f"memory ratio evidence / no evidence: {ratio:.3f} (target <= 1.1); "
          f"speed ratio {median['evidence']['rate'] / median['no evidence']['rate']:.3f}")
    print(f"predict: {statistics.median(r['predict'] for r in runs['evidence']):.1f} docs/s")


if __name__ == "__main__":
    main()

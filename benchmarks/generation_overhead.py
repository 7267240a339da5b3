"""What llmkit's generation path costs on top of bare vLLM (`llmkit contrastive-gen`, plain mode).

Two comparisons, on a tiny model built here (vLLM's CPU build works; head_dim 32), the same N
chat prompts (token ids with one BOS, the expert's chat template), greedy, --max-tokens new
tokens, and identical texts on both sides (checked):

1. In one process, on one engine (its start excluded): the step fed records as the contract
   feeds them (`run_step` reading a JSONL file and writing one) against one `LLM.generate` call
   on the prompts' token ids. Runs alternate, --repeats times; prints the median seconds of each
   and the median of the runs' ratios (target <= 1.05x). llmkit runs at --batch-size (default:
   the step's on vllm, 4x the engine's max_num_seqs); with more prompts than a batch, the batches
   overlap (the next one is in the engine while llmkit writes this one): --no-overlap also runs
   llmkit with each batch generated and written before the next is read, as before the overlap;
   --old-batch B also runs llmkit at --batch-size B. Also printed: each side's engine idle time
   per run (bare: outside `LLM.generate`; llmkit: time the engine held no request of the run),
   and llmkit's own work on the same records with the engine replaced by canned answers.
2. Whole processes, as a user would compare them (engine start included on both sides):
   `llmkit contrastive-gen` against a script that calls `LLM.generate` once on all the token
   ids and writes the texts, alternating, --process-repeats times (0 skips this part).

    python benchmarks/generation_overhead.py [--prompts 384] [--max-tokens 64] [--repeats 5]
        [--batch-size B] [--no-overlap] [--old-batch 32] [--process-repeats 3]

Many batches: --prompts 2048 --batch-size 256 --no-overlap --process-repeats 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))

SUBJECTS = ["the sea", "a cat", "old maps", "rain", "a library", "bread", "the moon", "trains", "a bridge"]

#: The bare side of the whole-process comparison: what a user would write around vLLM.
BARE_SCRIPT = '''
import json, sys
from vllm import LLM, SamplingParams

def main():
    engine_args, ids_path, out_path, max_tokens = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    prompts = [{"prompt_token_ids": json.loads(line)["prompt_ids"]} for line in open(ids_path)]
    llm = LLM(**engine_args)
    outputs = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=max_tokens), use_tqdm=False)
    with open(out_path, "w") as out:
        for i, output in enumerate(outputs):
            out.write(json.dumps({"id": i, "response": output.outputs[0].text}) + "\\n")

if __name__ == "__main__":
    main()
'''


def instructions(count: int) -> list[str]:
    return [f"Write a few words about {SUBJECTS[i % len(SUBJECTS)]}, note {i}." for i in range(count)]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def read_responses(path: Path) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [row["response"] for row in sorted(rows, key=lambda row: row["id"])]


def opened(step: Any, overlap: bool = True) -> Any:
    """The opened step as the contract sees it, minus open and close: one engine serves every
    run, so its start is left out of the timings. Its batch size is the one ``open()`` set.
    ``overlap=False`` runs it as before the overlap: each batch generated and written before
    the next one is read."""
    from llmkit import Step

    class Opened(Step):
        name = step.name
        batch_size = step.batch_size
        overlaps = overlap and step.overlaps

        def process(self, records: list[dict[str, Any]]) -> list[Any]:
            return step.process(records)

        def begin(self, records: list[dict[str, Any]]) -> Any:
            return step.begin(records) if self.overlaps else records

        def complete(self, begun: Any) -> list[Any]:
            return step.complete(begun) if self.overlaps else step.process(begun)

    return Opened()


def track_idle(backend: Any) -> tuple[list[float], Callable[[], None], Callable[[], None]]:
    """Seconds a run left the engine with no request (from its start to its first request,
    between a batch's last answer and the next request, from the last answer to its end): a
    cell, and the functions to call when a run starts and when it ends. Less sensitive to a
    loaded machine than the ratio of two wall times."""
    requests, idle, since = backend._pending, [0.0], [0.0]
    add, wait = requests.add, requests.wait

    def close_gap() -> None:
        if since[0]:
            idle[0] += time.perf_counter() - since[0]
            since[0] = 0.0

    def added(*args: Any) -> Any:
        close_gap()
        return add(*args)

    def waited(*args: Any) -> Any:
        outputs = wait(*args)
        if not requests.llm.llm_engine.has_unfinished_requests():
            since[0] = time.perf_counter()
        return outputs

    def start() -> None:
        idle[0], since[0] = 0.0, time.perf_counter()

    requests.add, requests.wait = added, waited
    return idle, start, close_gap


def in_process(model: str, work: Path, texts: list[str], args: argparse.Namespace) -> None:
    from llmkit_contrastive.chat import prompt_ids
    from llmkit_contrastive.step import ContrastiveGenStep, GenSettings
    from vllm import SamplingParams as VSamplingParams
    from vllm.inputs import TokensPrompt

    from llmkit import BackendOptions, IOOptions, run_step

    options = BackendOptions(model=model, backend="vllm", temperature=0, max_tokens=args.max_tokens)
    step = ContrastiveGenStep(GenSettings(expert=model), options)
    started = time.perf_counter()
    step.open()
    print(f"engine start: {time.perf_counter() - started:.1f} s (left out below); "
          f"contrastive-gen's batch on vllm: {step.batch_size}", flush=True)  # fmt: skip
    try:
        tokenizer = step.tokenizer
        ids = [prompt_ids(tokenizer, [{"role": "user", "content": text}]) for text in texts]
        assert all(row.count(tokenizer.bos_token_id) == 1 and row[0] == tokenizer.bos_token_id for row in ids)
        source = work / "in.jsonl"
        write_jsonl(source, [{"id": i, "instruction": text} for i, text in enumerate(texts)])
        llm: Any = step.backend._llm  # type: ignore[attr-defined]  # the same engine, called as a user calls vLLM
        inside = track_generate(llm)
        sampling = VSamplingParams(temperature=0, max_tokens=args.max_tokens)
        requests = [TokensPrompt(prompt_token_ids=row) for row in ids]

        def bare() -> list[str]:
            return [o.outputs[0].text for o in llm.generate(requests, sampling, use_tqdm=False)]

        def llmkit_run(batch_size: int | None, overlap: bool = True) -> Callable[[], list[str]]:
            def run() -> list[str]:
                out = work / f"out-{time.monotonic_ns()}.jsonl"
                options = IOOptions(inputs=[str(source)], output=str(out), quiet=True, batch_size=batch_size)
                run_step(opened(step, overlap), options)
                texts_out = read_responses(out)
                out.unlink()
                return texts_out

            return run

        sides: dict[str, Callable[[], list[str]]] = {"bare vLLM": bare, "llmkit": llmkit_run(args.batch_size)}
        if args.no_overlap:
            sides["llmkit, batches not overlapped"] = llmkit_run(args.batch_size, overlap=False)
        if args.old_batch:
            sides[f"llmkit --batch-size {args.old_batch}"] = llmkit_run(args.old_batch)
        expected = bare()  # warm-up, and the reference texts
        seconds: dict[str, list[float]] = {name: [] for name in sides}
        idle: dict[str, list[float]] = {name: [] for name in sides}
        engine_idle, run_starts, run_ends = track_idle(step.backend)
        for _ in range(args.repeats):
            for name, run in sides.items():
                llm.reset_prefix_cache()  # every run computes its prompts
                inside[0] = 0.0
                run_starts()
                started = time.perf_counter()
                got = run()
                seconds[name].append(time.perf_counter() - started)
                run_ends()
                # bare: the engine has work only inside LLM.generate; llmkit: see track_idle
                idle[name].append(seconds[name][-1] - inside[0] if name == "bare vLLM" else engine_idle[0])
                if got != expected:
                    raise SystemExit(f"{name}: texts differ from bare vLLM's")
        batches = -(-len(texts) // (args.batch_size or step.batch_size))
        report(f"in one process, one engine: {len(texts)} prompts x {args.max_tokens} new tokens, greedy, "
               f"llmkit in {batches} batch(es), median of {args.repeats} runs", seconds)  # fmt: skip
        bare_median = statistics.median(seconds["bare vLLM"])
        for name, runs in idle.items():
            waited = statistics.median(runs)
            print(f"  {name:30s} engine idle {waited:6.3f} s per run ({100 * waited / bare_median:4.1f}% of bare vLLM's time)")
        if args.profile:
            profile(sides["llmkit"], args.profile)
    finally:
        step.close()


def own_work(model: str, work: Path, texts: list[str], args: argparse.Namespace) -> None:
    """llmkit's own work on the same records with the engine replaced by canned answers: what the
    engine waits for when it is fed one batch at a time. Median seconds per run, and each part's
    share in a profile of one run."""
    import cProfile
    import pstats

    from llmkit_contrastive.step import ContrastiveGenStep, GenSettings
    from transformers import AutoTokenizer

    from llmkit import BackendOptions, Completion, IOOptions, run_step
    from llmkit.backends import Backend, GenerationResult

    tokenizer = AutoTokenizer.from_pretrained(model)
    answer = tokenizer.decode(list(range(5, 5 + args.max_tokens)))  # as long as a real answer

    class Canned(Backend):
        name = "canned"
        _tokenizer = tokenizer

        def generate(self, prompts: Any, params: Any) -> list[GenerationResult]:
            return [GenerationResult(completions=[Completion(answer, [0] * args.max_tokens, "length")]) for _ in prompts]

    source = work / "own-in.jsonl"
    write_jsonl(source, [{"id": i, "instruction": text} for i, text in enumerate(texts)])

    def run() -> None:
        step = ContrastiveGenStep(GenSettings(expert=model), BackendOptions(model=model, temperature=0, max_tokens=args.max_tokens))
        step.backend = Canned()
        out = work / "own-out.jsonl"
        run_step(step, IOOptions(inputs=[str(source)], output=str(out), quiet=True))
        out.unlink()

    seconds = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    profiler = cProfile.Profile()
    profiler.runcall(run)
    stats: Any = pstats.Stats(profiler)
    total = max(entry[3] for entry in stats.stats.values())
    parts = {"prompt": 0.0, "accept": 0.0}  # rendering and tokenising; the output record (repetition check)
    for (path, _, function), entry in stats.stats.items():
        if path.endswith("llmkit_contrastive/step.py") and function in parts:
            parts[function] += entry[3]
    shares = ", ".join(f"{name} {100 * part / total:.0f}%" for name, part in parts.items())
    print(f"llmkit's own work, engine replaced by canned answers: {statistics.median(seconds):.3f} s per run "
          f"(median of {args.repeats}); profile: {shares}, the rest reading and writing", flush=True)  # fmt: skip


def track_generate(llm: Any) -> list[float]:
    """Seconds spent inside ``llm.generate`` since the caller last set the returned cell to 0."""
    inside = [0.0]
    generate = llm.generate

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return generate(*args, **kwargs)
        finally:
            inside[0] += time.perf_counter() - started

    llm.generate = timed
    return inside


def profile(run: Callable[[], list[str]], top: int) -> None:
    """Where one llmkit run spends its time in this process (the engine's own process, where the
    model runs, is not profiled: time llmkit waits for it shows as vLLM's ``generate``)."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(run)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
    print("profile of one llmkit run (this process; cumulative seconds):")
    print("\n".join(line for line in text.getvalue().splitlines() if line.strip())[:20000], flush=True)


def report(title: str, seconds: dict[str, list[float]]) -> None:
    print(title)
    bare = seconds["bare vLLM"]
    for name, runs in seconds.items():
        ratio = statistics.median(s / b for s, b in zip(runs, bare))
        shown = " ".join(f"{s:.2f}" for s in runs)
        print(f"  {name:30s} {statistics.median(runs):8.2f} s   ratio {ratio:5.3f}x   (runs: {shown})")
    print("  target: llmkit <= 1.05x bare vLLM", flush=True)


def whole_process(model: str, work: Path, texts: list[str], args: argparse.Namespace) -> None:
    from llmkit_contrastive.chat import prompt_ids
    from transformers import AutoTokenizer

    from llmkit import BackendOptions
    from llmkit.backends import vllm_engine_args

    tokenizer = AutoTokenizer.from_pretrained(model)
    source, ids_file, bare_script = work / "p-in.jsonl", work / "p-ids.jsonl", work / "bare.py"
    write_jsonl(source, [{"id": i, "instruction": text} for i, text in enumerate(texts)])
    write_jsonl(ids_file, [{"prompt_ids": prompt_ids(tokenizer, [{"role": "user", "content": t}])} for t in texts])
    bare_script.write_text(BARE_SCRIPT, encoding="utf-8")
    engine_args = json.dumps(vllm_engine_args(BackendOptions(model=model)))  # llmkit's engine, for both
    commands = {
        "bare vLLM": [sys.executable, str(bare_script), engine_args, str(ids_file), str(work / "p-bare.jsonl"), str(args.max_tokens)],
        "llmkit": [
            sys.executable, "-m", "llmkit", "contrastive-gen", "--model", model, "--backend", "vllm",
            "--temperature", "0", "--max-tokens", str(args.max_tokens), "-q",
            "-i", str(source), "-o", str(work / "p-llmkit.jsonl"),
        ],
    }  # fmt: skip
    outputs = {"bare vLLM": work / "p-bare.jsonl", "llmkit": work / "p-llmkit.jsonl"}
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.process_repeats):
        for name, command in commands.items():
            outputs[name].unlink(missing_ok=True)
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds[name].append(time.perf_counter() - started)
        if read_responses(outputs["llmkit"]) != read_responses(outputs["bare vLLM"]):
            raise SystemExit("whole processes: llmkit's texts differ from bare vLLM's")
    report(f"whole processes (engine start included): median of {args.process_repeats} runs", seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: a tiny Llama built here)")
    parser.add_argument("--hidden", type=int, default=64, help="hidden size of the built model (head_dim 32)")
    parser.add_argument("--layers", type=int, default=2, help="layers of the built model")
    parser.add_argument("--prompts", type=int, default=384)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, help="llmkit's --batch-size (default: the step's on vllm)")
    parser.add_argument("--no-overlap", action="store_true", help="also run llmkit with batches not overlapped")
    parser.add_argument("--old-batch", type=int, default=0, help="also run llmkit at this --batch-size (0: no)")
    parser.add_argument("--process-repeats", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile one llmkit run; print its top N calls")
    args = parser.parse_args()
    texts = instructions(args.prompts)
    with tempfile.TemporaryDirectory(prefix="llmkit-overhead-") as tmp:
        work = Path(tmp)
        model = args.model
        if model is None:
            from llmkit.tiny_model import TinyModelSpec, build_tiny_model

            spec = TinyModelSpec(hidden_size=args.hidden, layers=args.layers, heads=args.hidden // 32)
            model = str(build_tiny_model(work / "tiny", spec))
        if args.repeats:
            own_work(model, work, texts, args)
            in_process(model, work, texts, args)
        if args.process_repeats:
            whole_process(model, work, texts, args)


if __name__ == "__main__":
    main()

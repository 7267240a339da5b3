"""Speed and memory of ``instruct-data prepare``, next to a plain-Python set-of-strings baseline.

Writes N synthetic LMSYS-style conversation records (first user turn of 20-400 characters; 10%
exact duplicates, a third of them respaced or full-width; 1% with a NAME_1 marker; 2% filled-in
templates) to a temp file, then in this one process, each timed ``--repeats`` times (medians):

- baseline: the json module line by line, the same first-turn extraction and NFKC/whitespace
  normalisation, a Python ``set`` of the normal forms, flagged records dropped;
- contract: the same file through ``llmkit.run_step`` with a no-op step (the JSONL bound);
- prepare, exact dedup only (``--template-min 0``), and prepare with the default template rule;
- where the step's time goes: each stage of the step alone over the parsed records.

Then the peak memory of each run in a fresh child process over N/4 and N records, and the
memory of the index itself per million distinct instructions (digests and ids, against the set of
normal forms the baseline keeps).

    python benchmarks/instruct_prepare.py [--records 1000000] [--repeats 3] [--near]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import statistics
import string
import sys
import tempfile
import time
import tracemalloc
import unicodedata
from pathlib import Path

import orjson
from llmkit_instruct_data.normalize import digest, first_user_turn, normal_form
from llmkit_instruct_data.prepare import PrepareSettings, PrepareStep
from llmkit_instruct_data.templates import TemplateCounter

from llmkit import IOOptions, Step, run_step

TEMPLATE = "Give me an introduction over 200 words for {}, a chemical company in {}"


class NoOp(Step):
    name = "noop"
    batch_size = 1024

    def process(self, records):
        return records


def make_input(path: Path, count: int) -> None:
    rng = random.Random(0)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(3000)]
    seen: list[str] = []
    with open(path, "wb") as handle:
        for _ in range(count):
            roll = rng.random()
            if roll < 0.10 and seen:
                text = rng.choice(seen)
                if roll < 0.02:
                    text = "  " + text.replace(" ", "\n ", 1)
                elif roll < 0.035:
                    text = text.translate(_FULL_WIDTH)
            elif roll < 0.12:
                text = TEMPLATE.format(" ".join(rng.choices(words, k=2)).title(), rng.choice(words).title())
            else:
                text = " ".join(rng.choices(words, k=rng.randint(4, 70)))[:400]
                if roll < 0.13:
                    text = f"Write a letter to NAME_1 about {text}"
                if len(seen) < 50_000:
                    seen.append(text)
            # ids like LMSYS's (32 random hex digits): zero-padded numbers would hold 20-digit runs,
            # which the contract's big-integer check re-parses exactly, line by line (5x slower)
            record = {"conversation_id": f"{rng.getrandbits(128):032x}", "model": "vicuna-13b", "turn": 1, "language": "English",
                      "conversation": [{"role": "user", "content": text}, {"role": "assistant", "content": "An answer."}]}
            handle.write(orjson.dumps(record) + b"\n")


_FULL_WIDTH = {ord(c): ord(c) + 0xFEE0 for c in string.ascii_letters}


def baseline(src: Path, dst: Path) -> None:
    """What one would write by hand: json, a set of normalised strings."""
    seen: set[str] = set()
    with open(src) as reader, open(dst, "w") as writer:
        for line in reader:
            record = json.loads(line)
            text = next(t["content"] for t in record["conversation"] if t["role"] == "user")
            normal = " ".join(unicodedata.normalize("NFKC", text).split())
            if not normal or normal in seen or "NAME_" in text:
                seen.add(normal)
                continue
            seen.add(normal)
            record["instruction"] = text
            writer.write(json.dumps(record) + "\n")


def settings(templates: bool) -> PrepareSettings:
    return PrepareSettings(id_field="conversation_id", template_min=20 if templates else 0)


def contract(src: Path, dst: Path) -> None:
    run_step(NoOp(), IOOptions(inputs=[str(src)], output=str(dst), quiet=True))


def prepare(src: Path, dst: Path, templates: bool = False, near: float | None = None) -> None:
    chosen = PrepareSettings(id_field="conversation_id", template_min=20 if templates else 0, near_duplicates=near)
    run_step(PrepareStep(chosen), IOOptions(inputs=[str(src)], output=str(dst), quiet=True, id_field="conversation_id"))


def timed(func, *args) -> float:
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


def where_time_goes(src: Path) -> dict[str, float]:
    """Seconds per million records of each stage of the step, alone, over parsed records."""
    records = [orjson.loads(line) for line in src.read_bytes().splitlines()]
    n = len(records)
    stages: dict[str, float] = {}
    start = time.perf_counter()
    texts = [first_user_turn(r, "instruction") for r in records]
    stages["first user turn"] = time.perf_counter() - start
    start = time.perf_counter()
    normals = [normal_form(t) for t in texts]
    stages["NFKC + whitespace"] = time.perf_counter() - start
    start = time.perf_counter()
    keys = [digest(t) for t in normals]
    stages["64-bit hash"] = time.perf_counter() - start
    start = time.perf_counter()
    index: dict[int, object] = {}
    for key, record in zip(keys, records):
        index.setdefault(key, record["conversation_id"])
    stages["index lookup"] = time.perf_counter() - start
    counter = TemplateCounter()
    start = time.perf_counter()
    for normal in normals:
        found = counter.key(normal)
        if found is not None:
            counter.add(found[0])
    stages["template rule"] = time.perf_counter() - start
    step = PrepareStep(settings(True))
    step.open()
    start = time.perf_counter()
    for begin in range(0, n, 1024):
        step.process(records[begin : begin + 1024])
    stages["whole step (with flags, output dicts)"] = time.perf_counter() - start
    return {name: seconds * 1e6 / n for name, seconds in stages.items()}


def index_bytes_per_million(count: int, near: bool = False) -> tuple[float, float]:
    """MiB per million distinct instructions: our index (digest -> id) and the baseline's set."""
    rng = random.Random(1)
    texts = [" ".join("".join(rng.choices(string.ascii_lowercase, k=6)) for _ in range(rng.randint(4, 40)))
             for _ in range(count)]
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(count)]  # ids exist in the records anyway; kept alive by the index
    tracemalloc.start()
    index = {digest(t): ident for t, ident in zip(texts, ids)}
    ours = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    tracemalloc.start()
    strings = {t.encode().decode() for t in texts}  # new strings, as the baseline's normal forms are
    theirs = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del index, strings
    scale = 1e6 / count / 2**20
    if near:
        from llmkit_instruct_data.minhash import NearDuplicateIndex

        sample = texts[: min(count, 100_000)]
        lsh = NearDuplicateIndex(0.8)
        tracemalloc.start()
        for text, ident in zip(sample, ids):
            lsh.add(lsh.band_keys(text), ident)
        near_bytes = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        print(f"  --near-duplicates 0.8 adds {near_bytes * 1e6 / len(sample) / 2**20:.0f} MiB per million "
              f"({lsh.bands} bands of {lsh.rows} rows)")
    mean_chars = sum(map(len, texts)) / count
    print(f"  (synthetic distinct instructions of {mean_chars:.0f} characters on average)")
    return ours * scale, theirs * scale


def _peak_child(name: str, src: str, dst: str, queue) -> None:
    {"baseline": baseline, "prepare": prepare, "contract": contract}[name](Path(src), Path(dst))
    queue.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def peak_mib(name: str, src: Path, dst: Path) -> float:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_peak_child, args=(name, str(src), str(dst), queue))
    child.start()
    peak = queue.get()
    child.join()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--near", action="store_true", help="also time --near-duplicates 0.8 (over N/10 records)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, small, dst = Path(tmp, "in.jsonl"), Path(tmp, "small.jsonl"), Path(tmp, "out.jsonl")
        make_input(src, args.records)
        make_input(small, args.records // 4)
        size_mb = os.path.getsize(src) / 1e6
        print(f"{args.records:,} records, {size_mb:.0f} MB ({size_mb * 1e6 / args.records:.0f} bytes/record)")
        runs = {
            "baseline (json, set of strings)": lambda: baseline(src, dst),
            "contract, no-op step": lambda: contract(src, dst),
            "prepare, exact dedup": lambda: prepare(src, dst),
            "prepare, exact + templates": lambda: prepare(src, dst, True),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                times[name].append(timed(run))
        rate = {name: args.records / statistics.median(values) for name, values in times.items()}
        for name, value in rate.items():
            print(f"{name:34s} {value:12,.0f} records/s  (median of {args.repeats})")
        base = rate["baseline (json, set of strings)"]
        print(f"ratio prepare (exact) / baseline:  {rate['prepare, exact dedup'] / base:12.2f}x")
        print(f"ratio prepare (exact) / contract:  {rate['prepare, exact dedup'] / rate['contract, no-op step']:12.2f}  "
              "(the share of the JSONL bound reached)")
        print(f"exact dedup target >= 100,000 records/s: {'met' if rate['prepare, exact dedup'] >= 1e5 else 'NOT met'}")
        if args.near:
            near_src = Path(tmp, "near.jsonl")
            make_input(near_src, args.records // 10)
            seconds = timed(prepare, near_src, dst, False, 0.8)
            print(f"prepare --near-duplicates 0.8:      {args.records // 10 / seconds:12,.0f} records/s  (one run, N/10)")
        print("where the step's time goes (microseconds per record, each stage alone):")
        for name, micros in where_time_goes(src).items():
            print(f"  {name:40s} {micros:6.2f}")
        contract_us = 1e6 / rate["contract, no-op step"]
        print(f"  {'the contract (parse, write) for comparison':40s} {contract_us:6.2f}")
        for name in ("baseline", "prepare"):
            quarter, full = peak_mib(name, small, dst), peak_mib(name, src, dst)
            print(f"peak RSS {name:8s} over {args.records // 4:,}: {quarter:6.0f} MiB; over {args.records:,}: {full:6.0f} MiB")
        ours, theirs = index_bytes_per_million(min(args.records, 1_000_000), args.near)
        print(f"index memory per million distinct instructions: digests + ids {ours:.0f} MiB; set of strings {theirs:.0f} MiB")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

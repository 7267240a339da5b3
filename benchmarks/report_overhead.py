"""What asking for a run report (--report) costs a run: the generation template's own work on N
records, the engine replaced by canned answers (so llmkit's share is all there is to measure),
with the report's recorder taking notes against without it. Runs alternate, --repeats times, in
one process; prints the median seconds of each and the ratio of the medians, then the time to
write the report itself.

    python benchmarks/report_overhead.py [--records 51200] [--repeats 6]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import orjson

import llmkit
from llmkit import report
from llmkit.testing import ScriptedBackend


class Canned(llmkit.GenerationStep):
    name = "canned"
    overlaps = True
    sampling_per_batch = False
    batch_size = 512

    def __init__(self) -> None:
        super().__init__(llmkit.BackendOptions(model="canned"), ScriptedBackend(lambda prompt: "a canned answer of some words"),
                         field="text", writes=("answer",))

    def prompt(self, record, text):
        return text

    def accept(self, record, completions):
        return {**record, "answer": completions[0].text}


def one_run(data: Path, out: Path, reported: Path | None) -> float:
    recorder = report.start(["bench"], {})
    if reported is not None:
        report.begin_command("bench", {"--input": [str(data)], "--output": str(out)}, str(reported))
    options = llmkit.IOOptions(inputs=[str(data)], output=str(out), quiet=True)
    started = time.perf_counter()
    llmkit.run_step(Canned(), options)
    seconds = time.perf_counter() - started
    report.finish(recorder, 0, None)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=51200)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data, out, reported = Path(folder, "in.jsonl"), Path(folder, "out.jsonl"), Path(folder, "run.json")
        data.write_bytes(b"".join(orjson.dumps({"id": i, "text": f"record number {i}"}) + b"\n" for i in range(args.records)))
        one_run(data, out, None)  # warm: imports, caches
        without, with_report = [], []
        for _ in range(args.repeats):
            without.append(one_run(data, out, None))
            with_report.append(one_run(data, out, reported))
        plain, noted = statistics.median(without), statistics.median(with_report)
        print(f"{args.records} records, {args.repeats} alternating runs each (median seconds)")
        print(f"  without --report: {plain:.3f} s   with --report: {noted:.3f} s   ratio {noted / plain:.3f}x")
        recorder = report.start(["bench"], {})
        report.begin_command("bench", {"--input": [str(data)]}, str(reported))
        started = time.perf_counter()
        report.finish(recorder, 0, None)
        print(f"  writing a report: {1000 * (time.perf_counter() - started):.1f} ms")


if __name__ == "__main__":
    main()

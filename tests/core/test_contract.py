"""The contract's guarantees: order, fields kept, shards, limit, stdout only data, closed pipes."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from llmkit import IOOptions, LateReject, Reject, Step, run_step, source_of
from tests.core.helpers import DEMO, read_jsonl, run_demo, write_jsonl


def records(count: int) -> list[dict]:
    return [{"id": f"r{i}", "text": f"t{i}", "n": i, "nested": {"k": [i, i + 1], "flag": i % 2 == 0}} for i in range(count)]


def test_fields_pass_through_in_input_order_with_small_batches(tmp_path):
    data = records(1000)
    path = write_jsonl(tmp_path / "in.jsonl", data)
    result = run_demo("-i", str(path), "--batch-size", "7")
    assert result.returncode == 0
    assert read_jsonl(result.stdout) == [{**r, "upper": r["text"].upper()} for r in data]
    assert result.stderr.startswith(b"llmkit: in 1000, out 1000")


def test_stdout_carries_data_only(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", records(3))
    result = run_demo("-i", str(path))
    for line in result.stdout.splitlines():
        assert isinstance(orjson.loads(line), dict)
    quiet = run_demo("-i", str(path), "-q")
    assert quiet.stderr == b"" and quiet.stdout == result.stdout


@pytest.mark.parametrize("shards", [2, 3, 5])
def test_shards_are_disjoint_and_cover_the_input(tmp_path, shards):
    data = records(500) + [{"text": f"no id {i}"} for i in range(100)]
    path = write_jsonl(tmp_path / "in.jsonl", data)
    parts = []
    for k in range(1, shards + 1):
        result = run_demo("-i", str(path), "--shard", f"{k}/{shards}", "-q")
        assert result.returncode == 0
        parts.append([orjson.dumps(r) for r in read_jsonl(result.stdout)])
    union = [line for part in parts for line in part]
    assert len(union) == len(set(union)) == len(data)
    assert all(len(part) > 0 for part in parts)
    expected = {orjson.dumps({**r, "upper": r["text"].upper()}) for r in data}
    assert set(union) == expected


def test_limit_counts_records_after_sharding(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", records(100))
    result = run_demo("-i", str(path), "--limit", "10", "--batch-size", "3")
    assert [r["id"] for r in read_jsonl(result.stdout)] == [f"r{i}" for i in range(10)]


def test_closed_pipe_ends_quietly_with_status_0(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", records(200_000))
    process = subprocess.Popen(
        [sys.executable, str(DEMO), "demo", "-i", str(path), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    first = process.stdout.readline()
    process.stdout.close()
    status = process.wait(timeout=60)
    stderr = process.stderr.read()
    assert orjson.loads(first)["id"] == "r0"
    assert status == 0, stderr
    assert b"Traceback" not in stderr and b"Error" not in stderr


class Collect(Step):
    """An aggregate: consumes everything, writes one record at the end."""

    name = "collect"
    aggregate = True

    def __init__(self):
        self.total = 0

    def process(self, batch):
        self.total += sum(r["n"] for r in batch)
        return [Reject("odd") if r["n"] % 2 else None for r in batch]

    def finish(self):
        yield {"type": "total", "total": self.total}


def test_aggregate_steps_write_their_results_at_the_end(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", records(10))
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    summary = run_step(Collect(), IOOptions(inputs=[str(path)], output=str(out), rejects=str(rejects), quiet=True))
    assert read_jsonl(out) == [{"type": "total", "total": 45}]
    assert [r["n"] for r in read_jsonl(rejects)] == [1, 3, 5, 7, 9]
    assert summary.read == 10 and summary.written == 1 and summary.rejected == {"odd": 5}


class Threshold(Step):
    """An aggregate that learns only at the end which records it drops (those below the mean)."""

    name = "threshold"
    aggregate = True

    def __init__(self):
        self.seen = []

    def process(self, batch):
        self.seen.extend((r, source_of(r)) for r in batch)
        return [None] * len(batch)

    def finish(self):
        mean = sum(r["n"] for r, _ in self.seen) / len(self.seen)
        yield {"type": "mean", "mean": mean}
        for record, source in self.seen:
            if record["n"] < mean:
                yield LateReject(record, Reject("below_mean", f"{record['n']} < {mean}"), source)


def test_an_aggregate_rejects_records_late_from_finish(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", records(6))
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    options = IOOptions(inputs=[str(path)], output=str(out), rejects=str(rejects), batch_size=4, quiet=True)
    summary = run_step(Threshold(), options)
    assert read_jsonl(out) == [{"type": "mean", "mean": 2.5}]
    late = read_jsonl(rejects)
    assert [r["n"] for r in late] == [0, 1, 2] and late[0]["id"] == records(6)[0]["id"]
    assert late[2]["reject"] == {"stage": "threshold", "reason": "below_mean", "detail": "2 < 2.5", "source": f"{path}:3"}
    assert summary.read == 6 and summary.written == 1 and summary.rejected == {"below_mean": 3}


def test_parquet_and_saved_dataset_inputs_stream_in_order(tmp_path):
    datasets = pytest.importorskip("datasets")
    data = records(250)
    table = datasets.Dataset.from_list(data)
    table.to_parquet(str(tmp_path / "in.parquet"))
    table.save_to_disk(str(tmp_path / "saved"))
    for source in (tmp_path / "in.parquet", tmp_path / "saved"):
        result = run_demo("-i", str(source), "--batch-size", "64", "-q")
        assert result.returncode == 0, result.stderr
        assert [r["id"] for r in read_jsonl(result.stdout)] == [r["id"] for r in data]
        assert read_jsonl(result.stdout)[5]["nested"] == {"k": [5, 6], "flag": False}


@pytest.mark.parametrize("extra", [{"shard": "1/2"}, {"resume": True}])
def test_aggregates_refuse_shard_and_resume(tmp_path, extra):
    from llmkit import UsageError

    class Total(Collect):
        aggregate = True

    path = write_jsonl(tmp_path / "in.jsonl", records(4))
    with pytest.raises(UsageError, match="--shard and --resume do not apply"):
        run_step(Total(), IOOptions(inputs=[str(path)], output=str(tmp_path / "o.jsonl"), quiet=True, **extra))


def summary_counts(stderr: bytes) -> dict[str, int]:
    """The summary line's counters by name: {"in": 10, "out": 10, "rejected": 0, ...}."""
    import re

    line = next(line for line in stderr.decode().splitlines() if line.startswith("llmkit: in "))
    return {name: int(count) for name, count in re.findall(r"([a-z][a-z ()]*?) (\d+)(?=[ ,])", line[len("llmkit: "):])}


def test_summary_in_counts_what_the_limit_took(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", records(300))
    result = run_demo("-i", str(path), "--limit", "10")
    assert result.returncode == 0
    assert result.stderr.startswith(b"llmkit: in 10, out 10, rejected 0, ")


def test_summary_counts_of_shards_add_up_to_the_input(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", records(1000))
    counts = []
    for k in (1, 2):
        result = run_demo("-i", str(path), "--shard", f"{k}/2")
        assert result.returncode == 0
        count = summary_counts(result.stderr)
        assert count["in"] == count["out"] == len(read_jsonl(result.stdout))
        assert count["in"] + count["left to other shards"] == 1000
        counts.append(count["in"])
    assert sum(counts) == 1000


def test_bad_lines_belong_to_one_shard(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records(50)) + b"not json 1\nnot json 2\n[3]\n")
    rejected = []
    for k in (1, 2):
        result = run_demo("-i", str(path), "--shard", f"{k}/2", "--on-error", "skip")
        count = summary_counts(result.stderr)
        assert count["in"] == count["out"] + count["rejected"]
        rejected.append(count["rejected"])
    assert sum(rejected) == 3


@pytest.mark.parametrize(
    "args, status, error",
    [(["--fail", "backend"], 69, b"llmkit: error: demo server"), (["--batch-size", "2"], 65, b"llmkit: error: ")],
)
def test_a_run_that_stops_on_an_error_still_prints_its_summary_first(tmp_path, args, status, error):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": 1, "text": "a"}\n{"id": 2, "text": "b"}\n{"id": 3, "te\n')
    result = run_demo("-i", str(path), *args)
    assert result.returncode == status, result.stderr
    summary = result.stderr.index(b"llmkit: in ")
    assert summary < result.stderr.index(error)
    if status == 65:
        assert result.stderr.startswith(b"llmkit: in 2, out 2, rejected 0, invalid lines 1")
    assert b"Traceback" not in result.stderr
    assert run_demo("-i", str(path), *args, "-q").stderr.count(b"llmkit:") == 1  # -q: the error only


def test_an_interrupted_run_prints_its_summary(tmp_path):
    import signal
    import time

    path = write_jsonl(tmp_path / "in.jsonl", records(3000))
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [sys.executable, str(DEMO), "demo", "-i", str(path), "-o", str(out), "--sleep", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (out.exists() and out.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 130
    stderr = process.stderr.read()
    written = len(read_jsonl(out))
    count = summary_counts(stderr)
    assert count["out"] == written and count["in"] == written + count["rejected"]


def test_shards_split_records_that_orjson_cannot_write(tmp_path):
    # a lone surrogate and a big integer, neither with an id: the shard key falls back to the json module
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "a\\ud800"}\n{"text": "b", "n": 123456789012345678901234567890}\n{"text": "c"}\n')
    seen = []
    for k in (1, 2):
        result = run_demo("-i", str(path), "--shard", f"{k}/2")
        assert result.returncode == 0, result.stderr
        count = summary_counts(result.stderr)
        seen.append(count["in"])
    assert sum(seen) == 3

"""The contract's guarantees: order, fields kept, shards, limit, stdout only data, closed pipes."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from llmkit import IOOptions, Reject, Step, run_step
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

"""Every field passes through intact: integers beyond 64 bits, binary columns, odd numbers."""

from __future__ import annotations

import base64
import json

import pytest

from tests.core.helpers import run_demo

BIG = 123456789012345678901234567890
BELOW_INT64 = -9223372036854775809  # 19 digits, still beyond what orjson keeps as an int


def exact(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def test_integers_beyond_64_bits_keep_every_digit(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        b'{"id": 1, "text": "a", "n": 18446744073709551615}\n'
        + f'{{"id": 2, "text": "b", "big": {BIG}, "nested": {{"k": [{BELOW_INT64}, 1.5]}}}}\n'.encode()
        + b'{"id": 3, "text": "c", "digits": "12345678901234567890123"}\n'
    )
    result = run_demo("-i", str(path))
    assert result.returncode == 0, result.stderr
    records = exact(result.stdout)
    assert records[0]["n"] == 18446744073709551615
    assert records[1]["big"] == BIG and type(records[1]["big"]) is int
    assert records[1]["nested"] == {"k": [BELOW_INT64, 1.5]}
    assert records[2]["digits"] == "12345678901234567890123"


def test_big_integers_survive_the_line_by_line_path_shards_and_resume(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        f'{{"id": {BIG}, "text": "a"}}\nnot json\n{{"id": {BIG + 1}, "text": "b", "v": {-BIG}}}\n'.encode()
    )
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    first = run_demo("-i", str(path), "-o", str(out), "--rejects", str(rejects), "--on-error", "skip", "--resume")
    assert first.returncode == 0, first.stderr
    assert [(r["id"], r.get("v")) for r in exact(out.read_bytes())] == [(BIG, None), (BIG + 1, -BIG)]
    again = run_demo("-i", str(path), "-o", str(out), "--rejects", str(rejects), "--on-error", "skip", "--resume")
    assert again.returncode == 0, again.stderr
    assert len(exact(out.read_bytes())) == 2  # the big ids were recognised: no duplicate
    shards = [run_demo("-i", str(path), "--shard", f"{k}/2", "--on-error", "skip", "-q") for k in (1, 2)]
    assert all(s.returncode == 0 for s in shards), [s.stderr for s in shards]
    assert sorted(r["id"] for s in shards for r in exact(s.stdout)) == [BIG, BIG + 1]


def test_the_big_integer_scan_is_exact_about_lengths():
    from llmkit.io import may_hold_big_int

    assert may_hold_big_int([b'{"n": 1}\n'] * 100 + [b'{"n": 12345678901234567890}\n'])
    assert may_hold_big_int([b'{"n": -1234567890123456789}'])
    assert not may_hold_big_int([b'{"n": 1234567890123456789, "m": -123456789012345678}\n'] * 100)


def test_a_binary_column_is_written_as_base64(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    blobs = [b"\x00\xff\xfe binary", b"", None]
    table = pa.table({"id": [1, 2, 3], "text": ["a", "b", "c"], "blob": pa.array(blobs, type=pa.binary()),
                      "parts": pa.array([[b"x"], [], [b"\x80"]], type=pa.list_(pa.binary()))})
    source = tmp_path / "in.parquet"
    pq.write_table(table, source)
    result = run_demo("-i", str(source), "--shard", "1/1")
    assert result.returncode == 0, result.stderr
    records = exact(result.stdout)
    assert [r["blob"] for r in records] == [base64.b64encode(b).decode("ascii") if b is not None else None for b in blobs]
    assert [r["parts"] for r in records] == [["eA=="], [], ["gA=="]]
    assert records[0]["upper"] == "A"


def test_a_saved_dataset_with_a_binary_column_is_written_as_base64(tmp_path):
    datasets = pytest.importorskip("datasets")
    table = datasets.Dataset.from_dict({"id": [1, 2], "text": ["a", "b"], "blob": [b"\x01\x02", b"\xff"]})
    table.save_to_disk(str(tmp_path / "saved"))
    result = run_demo("-i", str(tmp_path / "saved"), "-q")
    assert result.returncode == 0, result.stderr
    assert [r["blob"] for r in exact(result.stdout)] == ["AQI=", "/w=="]


def test_integers_beyond_a_double_keep_every_digit(tmp_path):
    """309 digits: orjson refuses the line ("infinity when parsed as double"); the contract reads
    it exactly instead, through the line-by-line path, in shards and on resume too."""
    huge = 7 * 10**308 + 12345
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        b'{"id": 1, "text": "a"}\n'
        + f'{{"id": 2, "text": "b", "huge": {huge}, "neg": [{-huge}]}}\n'.encode()
        + f'{{"id": {huge}, "text": "c"}}\n'.encode()
    )
    result = run_demo("-i", str(path))
    assert result.returncode == 0, result.stderr
    records = exact(result.stdout)
    assert [r["id"] for r in records] == [1, 2, huge]
    assert records[1]["huge"] == huge and records[1]["neg"] == [-huge]
    out = tmp_path / "out.jsonl"
    assert run_demo("-i", str(path), "-o", str(out), "--resume", "--limit", "2").returncode == 0
    again = run_demo("-i", str(path), "-o", str(out), "--resume")
    assert again.returncode == 0 and [r["id"] for r in exact(out.read_bytes())] == [1, 2, huge]
    shards = [run_demo("-i", str(path), "--shard", f"{k}/3", "-q") for k in (1, 2, 3)]
    assert sorted(r["id"] for s in shards for r in exact(s.stdout)) == [1, 2, huge]


def test_an_integer_past_pythons_digit_limit_is_a_bad_line_that_says_so(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": 1, "n": ' + b"9" * 5000 + b"}\n")
    result = run_demo("-i", str(path))
    assert result.returncode == 65
    assert f"{path}:1: an integer of more than 4300 digits".encode() in result.stderr

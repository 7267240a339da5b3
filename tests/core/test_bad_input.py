"""Bad input: every mistake gets a clear message and the contract's exit status, no traceback."""

from __future__ import annotations

import gzip

import orjson
import pytest

from tests.core.helpers import read_jsonl, run_demo, write_jsonl


def lines_file(tmp_path, *lines: bytes):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_invalid_json_on_line_3_stops_with_65_and_names_the_line(tmp_path):
    path = lines_file(tmp_path, b'{"id": 1, "text": "a"}', b'{"id": 2, "text": "b"}', b'{"id": 3, "te', b'{"id": 4, "text": "d"}')
    result = run_demo("-i", str(path))
    assert result.returncode == 65
    assert f"{path}:3:".encode() in result.stderr
    assert b"Traceback" not in result.stderr
    # the records before the bad line are written, nothing after it
    assert [r["id"] for r in read_jsonl(result.stdout)] == [1, 2]


def test_skip_mode_sends_the_line_to_rejects_and_counts_it(tmp_path):
    path = lines_file(tmp_path, b'{"id": 1, "text": "a"}', b"", b"not json", b'{"id": 4, "text": "d"}')
    rejects = tmp_path / "rejects.jsonl"
    result = run_demo("-i", str(path), "--on-error", "skip", "--rejects", str(rejects))
    assert result.returncode == 0
    assert [r["id"] for r in read_jsonl(result.stdout)] == [1, 4]
    [reject] = read_jsonl(rejects)
    assert reject["raw"] == "not json"
    assert reject["reject"]["reason"] == "invalid_line"
    assert reject["reject"]["source"] == f"{path}:3"
    assert b"invalid lines 1" in result.stderr


@pytest.mark.parametrize("line, kind", [(b"[1, 2]", b"an array"), (b"42", b"a number"), (b'"text"', b"a string")])
def test_a_json_value_that_is_not_an_object_is_bad_input(tmp_path, line, kind):
    path = lines_file(tmp_path, b'{"id": 1, "text": "a"}', line)
    result = run_demo("-i", str(path))
    assert result.returncode == 65
    assert f"{path}:2:".encode() in result.stderr and kind in result.stderr


def test_empty_file_is_an_empty_run(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    result = run_demo("-i", str(path))
    assert result.returncode == 0 and result.stdout == b""
    assert b"in 0, out 0" in result.stderr


def test_utf8_bom_is_ignored(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": 1, "text": "\xc3\xa9t\xc3\xa9"}\n')
    result = run_demo("-i", str(path))
    assert result.returncode == 0
    assert read_jsonl(result.stdout) == [{"id": 1, "text": "été", "upper": "ÉTÉ"}]


def test_a_line_of_several_megabytes_passes_whole(tmp_path):
    big = "x" * (5 * 1024 * 1024)
    path = write_jsonl(tmp_path / "big.jsonl", [{"id": 1, "text": big}, {"id": 2, "text": "b"}])
    result = run_demo("-i", str(path))
    assert result.returncode == 0
    records = read_jsonl(result.stdout)
    assert records[0]["upper"] == big.upper() and records[1]["upper"] == "B"


def test_gzip_input_and_several_inputs_in_order(tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "text": "a"}])
    second = tmp_path / "b.jsonl.gz"
    second.write_bytes(gzip.compress(b'{"id": 2, "text": "b"}\n'))
    result = run_demo("-i", str(first), "-i", str(second), "-i", "-", stdin=b'{"id": 3, "text": "c"}\n')
    assert result.returncode == 0
    assert [r["upper"] for r in read_jsonl(result.stdout)] == ["A", "B", "C"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--shard", "3/2"], b"1 <= K <= N"),
        (["--shard", "0/2"], b"1 <= K <= N"),
        (["--shard", "half"], b"K/N"),
        (["--limit", "-1"], b"--limit"),
        (["--on-error", "ignore"], b"--on-error"),
        (["--resume"], b"--resume needs --output"),
        (["--batch-size", "0"], b"--batch-size"),
        (["--no-such-option"], b"No such option"),
    ],
)
def test_bad_option_values_exit_2_without_traceback(tmp_path, args, message):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": "a"}])
    result = run_demo("-i", str(path), *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert b"Traceback" not in result.stderr


def test_missing_input_file_is_a_usage_error(tmp_path):
    result = run_demo("-i", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2
    assert b"nope.jsonl" in result.stderr and b"Traceback" not in result.stderr


def test_missing_field_goes_to_rejects_with_source_and_all_fields(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": "a"}, {"id": 2, "body": "x", "meta": {"k": [1]}}])
    rejects = tmp_path / "rejects.jsonl"
    result = run_demo("-i", str(path), "--rejects", str(rejects))
    assert result.returncode == 0
    [reject] = read_jsonl(rejects)
    assert reject["meta"] == {"k": [1]} and reject["body"] == "x"
    assert reject["reject"] == {"stage": "upper", "reason": "missing_field", "detail": "no field 'text'", "source": f"{path}:2"}
    assert b"rejected 1 (missing_field 1)" in result.stderr


@pytest.mark.parametrize("fail, status, message", [("backend", 69, b"is down"), ("bug", 70, b"internal error")])
def test_backend_and_internal_errors_have_their_statuses(tmp_path, fail, status, message):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": "a"}])
    result = run_demo("-i", str(path), "--fail", fail)
    assert result.returncode == status
    assert message in result.stderr


def test_a_lone_surrogate_is_rejected_alone_and_kept_whole(tmp_path):
    path = lines_file(tmp_path, b'{"id": 1, "text": "a"}', b'{"id": 2, "text": "x\\ud800y", "k": [1]}', b'{"id": 3, "text": "c"}')
    rejects = tmp_path / "rejects.jsonl"
    result = run_demo("-i", str(path), "--rejects", str(rejects))
    assert result.returncode == 0, result.stderr
    assert [r["id"] for r in read_jsonl(result.stdout)] == [1, 3]
    import json

    [reject] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert reject["text"] == "x\ud800y" and reject["k"] == [1]  # the data survives, escaped
    assert reject["reject"]["reason"] == "invalid_unicode" and reject["reject"]["source"] == f"{path}:2"
    assert b"invalid_unicode 1" in result.stderr


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_invalid_json_like_any_bad_line(tmp_path, constant):
    # the json module accepts them, orjson and the JSON grammar do not: a bad line, not a unicode problem
    bad = b'{"id": 2, "text": "b", "score": ' + constant + b"}"
    path = lines_file(tmp_path, b'{"id": 1, "text": "a"}', bad, b'{"id": 3, "text": "c"}')
    result = run_demo("-i", str(path))
    assert result.returncode == 65, result.stderr
    assert f"{path}:2: invalid JSON".encode() in result.stderr
    assert [r["id"] for r in read_jsonl(result.stdout)] == [1]

    rejects = tmp_path / "rejects.jsonl"
    skipped = run_demo("-i", str(path), "--on-error", "skip", "--rejects", str(rejects))
    assert skipped.returncode == 0
    assert [r["id"] for r in read_jsonl(skipped.stdout)] == [1, 3]
    [reject] = read_jsonl(rejects)
    assert reject["raw"] == f'{{"id": 2, "text": "b", "score": {constant.decode()}}}'
    assert reject["reject"]["reason"] == "invalid_line" and reject["reject"]["source"] == f"{path}:2"
    assert reject["reject"]["detail"].startswith("invalid JSON")


def test_a_lone_surrogate_next_to_nan_is_still_an_invalid_line(tmp_path):
    path = lines_file(tmp_path, b'{"id": 1, "text": "\\udc00", "score": NaN}')
    result = run_demo("-i", str(path))
    assert result.returncode == 65 and f"{path}:1: invalid JSON".encode() in result.stderr


def test_a_truncated_gzip_keeps_the_lines_before_the_cut_and_names_the_line(tmp_path):
    data = [{"id": i, "text": f"line {i} " + "word " * (i % 7)} for i in range(3000)]
    whole = gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in data))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    result = run_demo("-i", str(path), "--batch-size", "1000")
    assert result.returncode == 65, result.stderr
    kept = read_jsonl(result.stdout)
    assert 0 < len(kept) < len(data)
    assert len(kept) % 1000 != 0  # the cut fell inside a batch: its first lines are kept too
    assert kept == [{**r, "upper": r["text"].upper()} for r in data[: len(kept)]]
    assert f"{path}:{len(kept) + 1}: cannot read".encode() in result.stderr
    assert b"Traceback" not in result.stderr


def test_corrupt_gzip_data_is_bad_input_not_a_crash(tmp_path):
    whole = bytearray(gzip.compress(b"".join(b'{"id": %d, "text": "t"}\n' % i for i in range(2000))))
    for i in range(len(whole) // 2, len(whole) // 2 + 40):
        whole[i] ^= 0x5A
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(bytes(whole))
    result = run_demo("-i", str(path))
    assert result.returncode == 65, result.stderr
    assert b"cannot read" in result.stderr and b"Traceback" not in result.stderr


def test_a_line_of_invalid_utf8_is_kept_byte_for_byte_in_the_rejects(tmp_path):
    import base64

    bad = b'{"id": 2, "text": "caf\xe9 \xff\xfe"}\r'  # Latin-1 bytes, and a CR kept as it was
    path = lines_file(tmp_path, b'{"id": 1, "text": "a"}', bad, b'{"id": 3, "text": "c"}')
    stopped = run_demo("-i", str(path))
    assert stopped.returncode == 65
    assert f"{path}:2: invalid UTF-8 at byte {bad.index(0xE9)}".encode() in stopped.stderr

    rejects = tmp_path / "rejects.jsonl"
    skipped = run_demo("-i", str(path), "--on-error", "skip", "--rejects", str(rejects))
    assert skipped.returncode == 0, skipped.stderr
    [reject] = read_jsonl(rejects)
    assert base64.b64decode(reject["raw_base64"]) == bad  # the original line, recoverable
    assert reject["raw"] == bad.decode("utf-8", "replace").rstrip("\r")  # readable
    assert reject["reject"]["detail"] == f"invalid UTF-8 at byte {bad.index(0xE9)}"


def test_a_bad_line_of_valid_utf8_has_no_base64_copy(tmp_path):
    path = lines_file(tmp_path, b'{"id": 1, "text": "\xc3\xa9t\xc3\xa9"', b'{"id": 3, "text": "c"}')
    rejects = tmp_path / "rejects.jsonl"
    assert run_demo("-i", str(path), "--on-error", "skip", "--rejects", str(rejects)).returncode == 0
    [reject] = read_jsonl(rejects)
    assert reject["raw"] == '{"id": 1, "text": "\u00e9t\u00e9"' and "raw_base64" not in reject

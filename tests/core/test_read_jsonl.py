"""llmkit.read_jsonl: the side files subcommands read besides their input."""

from __future__ import annotations

import gzip

import pytest

from llmkit import InputError, UsageError, read_jsonl


def test_records_with_their_lines_gz_and_exact_big_integers(tmp_path):
    big = 2**70 + 1  # a float cannot hold it
    text = f'{{"a": 1}}\n\n{{"id": {big}, "name": "東京"}}\n'.encode()
    plain, packed = tmp_path / "s.jsonl", tmp_path / "s.jsonl.gz"
    plain.write_bytes(text)
    packed.write_bytes(gzip.compress(text))
    for path in (plain, packed):
        got = list(read_jsonl(str(path)))
        assert got == [({"a": 1}, f"{path}:1"), ({"id": big, "name": "東京"}, f"{path}:3")]
        assert type(got[1][0]["id"]) is int


@pytest.mark.parametrize(("line", "message"), [(b"{oops", "invalid JSON"), (b"[1, 2]", "expected a JSON object")])
def test_a_bad_line_is_an_input_error_naming_it(tmp_path, line, message):
    path = tmp_path / "heads.jsonl"
    path.write_bytes(b'{"ok": true}\n' + line + b"\n")
    with pytest.raises(InputError, match=message) as info:
        list(read_jsonl(str(path), "--heads"))
    assert info.value.source == f"{path}:2"


def test_a_missing_file_names_the_option(tmp_path):
    with pytest.raises(UsageError, match=r"cannot read --heads .*nope\.jsonl"):
        list(read_jsonl(str(tmp_path / "nope.jsonl"), "--heads"))


def test_a_truncated_gz_is_an_input_error(tmp_path):
    path = tmp_path / "s.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n' * 1000)[:-20])
    with pytest.raises(InputError, match="cannot read past"):
        list(read_jsonl(str(path)))

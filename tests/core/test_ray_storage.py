"""The Ray executor's file-system layer (llmkit/executors/storage.py) without a cluster: listing
``file://`` inputs, reading them with the right ``FILE:LINE``, writing parts and reading them
back for ``--resume``. pyarrow comes with the ``ray`` extra; without it these skip (never in CI)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import orjson
import pytest

from llmkit.errors import InputError, LlmkitError, UsageError
from llmkit.io import Done, LineBatch, RecordBatch, dump_lines
from tests.conftest import IN_CI

if not IN_CI:
    pytest.importorskip("pyarrow")

from llmkit.executors.storage import (  # noqa: E402
    Place,
    input_places,
    list_parts,
    place_of,
    prepare_folder,
    read_place_batches,
    remove_parts,
    scan_parts,
    write_part,
)

SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".gz", ".parquet")


def jsonl(records: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def uri(path: Path) -> str:
    return "file://" + str(path)


def shown(places: list[Place]) -> list[str]:
    return [p.shown for p in places]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "a.jsonl").write_bytes(jsonl([{"id": 1}]))
    (tmp_path / "data" / "sub" / "b.jsonl.gz").write_bytes(gzip.compress(jsonl([{"id": 2}])))
    (tmp_path / "data" / "sub" / "c.parquet").write_bytes(b"PAR1")
    (tmp_path / "data" / "notes.txt").write_text("not an input")
    return tmp_path / "data"


def test_folder_lists_input_files_recursively_sorted_with_their_uris(tree):
    found = input_places(uri(tree), SUFFIXES)
    assert shown(found) == [uri(tree / "a.jsonl"), uri(tree / "sub" / "b.jsonl.gz"), uri(tree / "sub" / "c.parquet")]
    assert [p.path for p in found] == [str(tree / "a.jsonl"), str(tree / "sub" / "b.jsonl.gz"), str(tree / "sub" / "c.parquet")]


def test_glob_matches_like_glob_glob(tree):
    assert shown(input_places(uri(tree) + "/*.jsonl", SUFFIXES)) == [uri(tree / "a.jsonl")]
    assert shown(input_places(uri(tree) + "/*/*.gz", SUFFIXES)) == [uri(tree / "sub" / "b.jsonl.gz")]
    recursive = shown(input_places(uri(tree) + "/**/*.*", SUFFIXES))
    assert recursive == [uri(tree / name) for name in ("a.jsonl", "notes.txt", "sub/b.jsonl.gz", "sub/c.parquet")]
    assert shown(input_places(uri(tree) + "/[ab].jsonl", SUFFIXES)) == [uri(tree / "a.jsonl")]


def test_a_file_is_itself(tree):
    assert shown(input_places(uri(tree / "sub" / "b.jsonl.gz"), SUFFIXES)) == [uri(tree / "sub" / "b.jsonl.gz")]


@pytest.mark.parametrize("suffix", ["/*.parquet", "/nothing", ""])
def test_no_match_is_exit_2(tree, tmp_path, suffix):
    target = uri(tree) + suffix if suffix else uri(tmp_path / "empty")
    if not suffix:
        (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError) as caught:
        input_places(target, SUFFIXES)
    assert caught.value.exit_code == 2
    assert target in str(caught.value)


def test_a_folder_saved_by_datasets_is_refused(tmp_path):
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "dataset_info.json").write_text("{}")
    (saved / "data-00000-of-00001.arrow").write_bytes(b"")
    with pytest.raises(UsageError, match="saved by datasets") as caught:
        input_places(uri(saved), SUFFIXES)
    assert caught.value.exit_code == 2


def test_an_unknown_scheme_is_exit_2():
    with pytest.raises(UsageError, match="nosuch://bucket/x") as caught:
        input_places("nosuch://bucket/x", SUFFIXES)
    assert caught.value.exit_code == 2


def lines_of(batches) -> list[tuple[str, bytes]]:
    found = []
    for batch in batches:
        assert isinstance(batch, LineBatch)
        found.extend((f"{batch.source}:{batch.first_line + i}", line) for i, line in enumerate(batch.lines))
    return found


def test_jsonl_and_gzip_read_through_the_uri_with_file_line(tmp_path):
    records = [{"id": n} for n in range(5)]
    (tmp_path / "plain.jsonl").write_bytes(jsonl(records))
    (tmp_path / "packed.data").write_bytes(gzip.compress(jsonl(records)))  # gzip known by its bytes, not its name
    for name in ("plain.jsonl", "packed.data"):
        [place] = input_places(uri(tmp_path / name), SUFFIXES)
        got = lines_of(read_place_batches(place, 2))
        assert got == [(f"{uri(tmp_path / name)}:{n + 1}", orjson.dumps(r) + b"\n") for n, r in enumerate(records)]


def test_truncated_gzip_names_the_line_it_stopped_at(tmp_path):
    packed = gzip.compress(jsonl([{"id": n, "pad": "x" * 50} for n in range(200)]))
    (tmp_path / "cut.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    [place] = input_places(uri(tmp_path / "cut.jsonl.gz"), SUFFIXES)
    batches = list(read_place_batches(place, 1000))
    error = batches[-1].error
    assert isinstance(error, InputError)
    read = sum(len(b.lines) for b in batches)
    assert 0 < read < 200
    assert error.source == f"{uri(tmp_path / 'cut.jsonl.gz')}:{read + 1}"


def test_parquet_read_through_the_uri_in_row_batches(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": n, "text": f"t{n}"} for n in range(5)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "t.parquet")
    [place] = input_places(uri(tmp_path / "t.parquet"), SUFFIXES)
    batches = list(read_place_batches(place, 2))
    assert all(isinstance(b, RecordBatch) and b.source == uri(tmp_path / "t.parquet") for b in batches)
    assert [b.first_line for b in batches] == [1, 3, 5]
    assert [r for b in batches for r in b.records] == rows  # type: ignore[union-attr]


def test_a_damaged_parquet_is_exit_65_naming_the_uri(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    [place] = input_places(uri(tmp_path / "bad.parquet"), SUFFIXES)
    with pytest.raises(InputError) as caught:
        list(read_place_batches(place, 2))
    assert caught.value.exit_code == 65 and caught.value.source == uri(tmp_path / "bad.parquet")


def test_parts_written_whole_and_read_back_for_resume(tmp_path):
    folder = place_of(uri(tmp_path / "out" / "deeper"), "-o")
    prepare_folder(folder, "-o")
    write_part(folder, "part-00000-000000000001-run.jsonl", jsonl([{"id": 1}, {"id": "two"}]))
    rejected = {"raw": "{not json", "reject": {"reason": "invalid_line", "source": "file:///in/x.jsonl:3"}}
    write_part(folder, "part-00000-000000000003-run.jsonl", dump_lines([{"id": 10**20}, rejected]))
    (tmp_path / "out" / "deeper" / "notes.txt").write_text("kept")
    names = sorted(os.listdir(tmp_path / "out" / "deeper"))
    assert names == ["notes.txt", "part-00000-000000000001-run.jsonl", "part-00000-000000000003-run.jsonl"]  # no temporary left
    assert shown(list_parts(folder)) == [uri(tmp_path / "out" / "deeper" / n) for n in names[1:]]
    done = Done()
    scan_parts(folder, "id", done)
    assert done.ids == {1, "two", 10**20}  # a big id read exactly
    assert done.lines == {"file:///in/x.jsonl:3"}  # a URI source is kept as it is
    (tmp_path / "out" / "deeper" / ".part-x.jsonl.1-ab.tmp").write_text("left by a killed run")
    remove_parts(folder)
    assert os.listdir(tmp_path / "out" / "deeper") == ["notes.txt"]


def test_a_bad_part_names_its_uri_and_line(tmp_path):
    folder = place_of(uri(tmp_path), "-o")
    write_part(folder, "part-1.jsonl", b'{"id": 1}\n{oops\n')
    with pytest.raises(InputError) as caught:
        scan_parts(folder, "id", Done())
    assert caught.value.source == uri(tmp_path / "part-1.jsonl") + ":2"


def test_an_output_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="is a file"):
        prepare_folder(place_of(uri(tmp_path / "file"), "-o"), "-o")


def test_a_plain_path_is_a_local_place(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = place_of("out", "-o")
    assert folder.local and folder.path == str(tmp_path / "out") and folder.shown == "out"
    prepare_folder(folder, "-o")
    write_part(folder, "part-1.jsonl", b'{"id": 1}\n')
    assert shown(list_parts(folder)) == [os.path.join("out", "part-1.jsonl")]
    with pytest.raises(LlmkitError):
        write_part(place_of("missing/folder", "-o"), "part-1.jsonl", b"")


def test_without_an_id_under_resume_the_message_says_why_under_ray(tmp_path):
    """Under Ray every record needs an id under --resume (a position is not known across parts):
    the first record without one, even the first of its batch, is exit 65 saying so."""
    from llmkit.contract import IOOptions, Run, parse_batch
    from llmkit.step import Step

    options = IOOptions(output=str(tmp_path / "out"), resume=True)
    why = "with --executor ray --resume (a position is not known across parts)"
    lines = LineBatch("file:///in.jsonl", 7, [b'{"id": 1}\n', b'{"text": "no id"}\n'])
    table = RecordBatch("file:///t.parquet", 1, [{"text": "no id"}, {"id": 1}])
    for raw, where in ((lines, "file:///in.jsonl:8"), (table, "file:///t.parquet:1")):
        _, error = parse_batch(Run(options, Step(), None, ids_required=why), raw)
        assert error is not None and error.exit_code == 65 and error.source == where
        assert str(error).startswith(f"{where}: this record has no 'id': {why}, every record needs its own 'id'")
    # without the requirement (a local run), a batch of records without ids is fine
    batch, error = parse_batch(Run(options, Step(), None), RecordBatch("t", 1, [{"text": "a"}, {"text": "b"}]))
    assert error is None and len(batch.records) == 2

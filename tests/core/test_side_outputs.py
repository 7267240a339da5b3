"""Side outputs (llmkit.SideOutputs): the contract's output rules for every other file a run writes."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

import llmkit
from llmkit.errors import OutputError, TemporaryFailure, UsageError
from llmkit.io import LineWriter


def _io(tmp_path: Path, **given: object) -> llmkit.IOOptions:
    source = tmp_path / "in.jsonl"
    if not source.exists():
        source.write_text('{"id": 1}\n')
    return llmkit.IOOptions(inputs=[str(source)], **given)  # type: ignore[arg-type]


def test_the_input_under_any_name_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    io = _io(tmp_path)
    source = tmp_path / "in.jsonl"
    (tmp_path / "link.jsonl").symlink_to(source)
    os.link(source, tmp_path / "hard.jsonl")
    for name in ("in.jsonl", "link.jsonl", "hard.jsonl", "./in.jsonl"):
        with pytest.raises(UsageError, match=r"--shared .* is the input .*in\.jsonl"), llmkit.SideOutputs(io) as side:
            side.file("--shared", str(tmp_path / name))
    assert source.read_text() == '{"id": 1}\n'


def test_a_dataset_folder_given_as_input_is_refused_as_a_folder_output(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "dataset_info.json").write_text("{}")
    io = llmkit.IOOptions(inputs=[str(folder)])
    with pytest.raises(UsageError, match="is the input"), llmkit.SideOutputs(io) as side:
        side.folder("--plot", str(folder), new=False)


def test_outputs_must_differ_from_each_other_and_from_o_and_rejects(tmp_path: Path) -> None:
    io = _io(tmp_path, output=str(tmp_path / "out.jsonl"), rejects=str(tmp_path / "rej.jsonl"))
    for taken, label in (("out.jsonl", "-o/--output"), ("rej.jsonl", "--rejects")):
        with pytest.raises(UsageError, match=f"--shared .* and {label} .* are the same file"), llmkit.SideOutputs(io) as side:
            side.file("--shared", str(tmp_path / taken))
    with pytest.raises(UsageError, match=r"--specific .* and --shared .* are the same file"), llmkit.SideOutputs(io) as side:
        side.file("--shared", str(tmp_path / "a.jsonl"))
        side.file("--specific", str(tmp_path / "a.jsonl"))
    assert not (tmp_path / "a.jsonl").exists()  # made by the first claim, removed with the failure
    assert not (tmp_path / "out.jsonl").exists()


def test_a_file_locked_by_another_run_is_exit_75_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "shared.jsonl"
    target.write_text("old\n")
    with open(target, "ab") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(TemporaryFailure, match="being written by process") as caught, llmkit.SideOutputs(_io(tmp_path)) as side:
            side.file("--shared", str(target))
    assert caught.value.exit_code == 75
    assert target.read_text() == "old\n"


def test_the_claim_holds_the_lock_for_the_run_and_the_core_writer_may_append(tmp_path: Path) -> None:
    target = tmp_path / "spill.jsonl"
    with llmkit.SideOutputs(_io(tmp_path)) as side:
        side.file("--spill", str(target))
        with open(target, "ab") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        writer = LineWriter(str(target))  # the same process: not refused
        writer.write_records([{"id": 1}])
        writer.close()
    with open(target, "ab") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released with the claim
    assert target.read_text() == '{"id":1}\n'


def test_written_whole_through_a_link_and_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with llmkit.SideOutputs(_io(tmp_path)) as side:
        out = side.file("--shared", str(link))
        assert out is not None
        with pytest.raises(RuntimeError), out.replacing() as path:
            path.write_text("half")
            raise RuntimeError("the writer failed")
        assert real.read_text() == "old\n"
        out.write_records([{"n": 2**70}])
    assert link.is_symlink() and real.read_text() == '{"n": 1180591620717411303424}\n'  # exact, as -o writes it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "link.jsonl", "real.jsonl"]  # no temporary left


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "scores.bin"
    target.write_bytes(b"x")
    target.chmod(0o640)
    with llmkit.SideOutputs(_io(tmp_path)) as side:
        out = side.file("--scores", str(target))
        assert out is not None
        out.write_bytes(b"new")
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o640


def test_unwritable_paths_are_exit_74_naming_option_and_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    cases = [
        ("file", str(tmp_path / "missing" / "x.safetensors"), "--scores"),
        ("file", str(tmp_path), "--scores"),
        ("folder", str(tmp_path / "file"), "--export"),
    ]
    for kind, path, option in cases:
        with pytest.raises(OutputError) as caught, llmkit.SideOutputs(_io(tmp_path)) as side:
            getattr(side, kind)(option, path)
        assert caught.value.exit_code == 74
        assert f"{option} {path}" in str(caught.value)


def test_a_device_is_written_to_as_it_is(tmp_path: Path) -> None:
    with llmkit.SideOutputs(_io(tmp_path)) as side:
        out = side.file("--shared", os.devnull)
        assert out is not None and out.kind == "device"
        out.write_records([{"a": 1}])
    assert Path(os.devnull).is_char_device()


def test_standard_output_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot be standard output"), llmkit.SideOutputs(_io(tmp_path)) as side:
        side.file("--shared", "-")


def test_a_new_folder_is_written_whole_and_a_failed_run_leaves_none(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "ckpt"
    with pytest.raises(RuntimeError), llmkit.SideOutputs(_io(tmp_path)) as side:
        out = side.folder("--export", str(target))
        assert target.is_dir()  # claimed (made and locked) before the run
        raise RuntimeError("the run failed")
    assert not target.exists()
    with llmkit.SideOutputs(_io(tmp_path)) as side:
        out = side.folder("--export", str(target))
        assert out is not None
        with out.replacing() as folder:
            (folder / "config.json").write_text("{}")
            assert not (target / "config.json").exists()  # not there until complete
    assert (target / "config.json").read_text() == "{}"
    with pytest.raises(UsageError, match="exists and is not empty"), llmkit.SideOutputs(_io(tmp_path)) as side:
        side.folder("--export", str(target))


def test_a_folder_of_figures_takes_files_one_by_one(tmp_path: Path) -> None:
    folder = tmp_path / "figs"
    folder.mkdir()
    (folder / "other.png").write_bytes(b"kept")
    with llmkit.SideOutputs(_io(tmp_path)) as side:
        out = side.folder("--plot", str(folder), new=False)
        assert out is not None
        out.write_bytes(b"png", "layers.png")
    assert (folder / "layers.png").read_bytes() == b"png" and (folder / "other.png").read_bytes() == b"kept"


def test_a_refused_claim_of_the_contract_outputs_leaves_no_file(tmp_path: Path) -> None:
    io = _io(tmp_path, output=str(tmp_path / "new.jsonl"), rejects=str(tmp_path / "in.jsonl"))
    with pytest.raises(UsageError, match="--rejects .* is the input"):
        llmkit.SideOutputs(io, lock_outputs=True)
    assert not (tmp_path / "new.jsonl").exists()


def test_locking_outputs_finds_a_locked_o_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("kept\n")
    io = _io(tmp_path, output=str(out))
    with open(out, "ab") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(TemporaryFailure), llmkit.SideOutputs(io, lock_outputs=True):
            pass
    assert out.read_text() == "kept\n"
